/*  =========================================================================
    ed_revoked.h - sessions revoked recently, refused at the auth step

    An access token lives access_ttl_s; a session revoked before its tokens
    expire must stop them at once. Every node keeps each revoked session id
    until the last token it could have issued has expired, and checks it on
    every authenticated request, in memory.

    With [redis], a revocation is also written to Redis (SET with that
    expiry) and published; every node's subscription adds published ids to
    its map, and after each (re)connect reads the whole set back, so a node
    that restarted or lost Redis for a while catches up. Without Redis (or
    while it is down) the other nodes of the cluster hear of it through the
    runtime's broadcast (rt_broadcast), at once, if they are up. See
    docs/auth.md.
    =========================================================================
*/
#ifndef ED_REVOKED_H_INCLUDED
#define ED_REVOKED_H_INCLUDED
#include <stdbool.h>
#include <stdint.h>
#include "store/st_redis.h"
#include "runtime/rt_runtime.h"

/*  Revoked sessions remembered per node; beyond it the oldest entries go
    first (their tokens are the nearest to expiry). */
#define ED_REVOKED_MAX 100000

typedef struct ed_revoked ed_revoked_t;

/*  redis is borrowed and may be NULL; it must outlive the set, as must rt,
    whose cluster broadcast carries revocations to every other node. */
ed_revoked_t *ed_revoked_new (st_redis_t *redis, rt_runtime_t *rt);
void ed_revoked_destroy (ed_revoked_t **p);

/*  Refuse the session's tokens until until_ms (wall clock). */
void ed_revoked_add (ed_revoked_t *self, const char *sid, int64_t until_ms);
bool ed_revoked_has (ed_revoked_t *self, const char *sid, int64_t now_ms);

/*  A token issued (iat_s) before this set was made may belong to a
    session revoked while the node was not running: the node-local set
    died with the process, and Redis may have lost its copy too. Likewise
    a token older than the last time this node lost or regained a peer
    (rt_cluster_changed_ms): a revocation broadcast then may not have
    reached it. True when the session must be checked with its user actor
    first; false once ed_revoked_live has recorded, since then, that it
    still exists. One query per such session per start or partition. */
bool ed_revoked_unsure (ed_revoked_t *self, const char *sid, int64_t iat_s, int64_t now_ms);
void ed_revoked_live (ed_revoked_t *self, const char *sid, int64_t until_ms);

#endif
