/*  ed_admin.h - admin routes and the flags they review */
#ifndef ED_ADMIN_H_INCLUDED
#define ED_ADMIN_H_INCLUDED
#include "ed_req.h"

/*  Record a flag for review (kind e.g. "login_throttled"). Fire and forget:
    a signal for a human, not part of the request's effect. */
void ed_admin_flag (ed_req_t *req, const char *kind, const char *user_id, const char *detail);

ed_handler_fn ed_admin_flags;           /* GET /v1/admin/flags */
ed_handler_fn ed_admin_user_status;     /* POST /v1/admin/users/{id}/status */

/*  POST /v1/admin/actors/{type}/{key}/kill: drop the actor's memory and
    mailbox as a crash would, wherever it lives ([debug] chaos only). */
ed_handler_fn ed_admin_kill_actor;

#endif
