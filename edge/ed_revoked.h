/*  =========================================================================
    ed_revoked.h - sessions revoked recently, refused at the auth step

    An access token lives access_ttl_s; a session revoked before its tokens
    expire must stop them at once. The edge keeps each revoked session id
    until the last token it could have issued has expired, and checks it on
    every authenticated request. Node-local (see docs/auth.md for what the
    cluster and a restart need).
*/
#ifndef ED_REVOKED_H_INCLUDED
#define ED_REVOKED_H_INCLUDED
#include <stdbool.h>
#include <stdint.h>

/*  Revoked sessions remembered per node; beyond it the oldest entries go
    first (their tokens are the nearest to expiry). */
#define ED_REVOKED_MAX 100000

void ed_revoked_add (const char *sid, int64_t until_ms);
bool ed_revoked_has (const char *sid, int64_t now_ms);

#endif
