/*  ed_sessions.h - login (API.md §Users and sessions) */
#ifndef ED_SESSIONS_H_INCLUDED
#define ED_SESSIONS_H_INCLUDED
#include "ed_req.h"
#include "ed_schemas.h"

ed_handler_fn ed_sessions_create;   /* POST /v1/sessions */
ed_handler_fn ed_sessions_refresh;  /* POST /v1/sessions/refresh */
ed_handler_fn ed_sessions_list;     /* GET /v1/sessions */
ed_handler_fn ed_sessions_revoke;   /* DELETE /v1/sessions/{id} */

/*  The auth step's check of a token's session with its user actor (for
    tokens older than the node, ed_revoked_unsure, and on ED_AUTH_ACTIVE
    routes): 200 it exists (remembered; the account's status copied to
    status), 401 it is gone (now in the revoked set), 503 the user actor
    did not answer. */
int ed_sessions_check (ed_req_t *req, char status[16]);

/*  Refuse session sid's access tokens on every node from now until the
    last one it could have been issued expires (logout, reuse, ban, a
    session dropped to make room). */
void ed_sessions_end (ed_req_t *req, const char *sid);

#endif
