/*  ed_presence.h - presence (API.md §Users and sessions) */
#ifndef ED_PRESENCE_H_INCLUDED
#define ED_PRESENCE_H_INCLUDED
#include "ed_req.h"

/*  Online: a heartbeat within this long (API.md: 60 s). */
#define ED_PRESENCE_ONLINE_MS   60000
/*  How long a last-seen time is remembered, and for how many users per
    node (node-local stand-in; shared presence comes with [redis]). */
#define ED_PRESENCE_KEEP_MS     (7LL * 24 * 3600 * 1000)
#define ED_PRESENCE_USERS_MAX   1000000

ed_handler_fn ed_presence_heartbeat;    /* POST /v1/presence/heartbeat */
ed_handler_fn ed_presence_get;          /* GET /v1/users/{id}/presence */

#endif
