/*  ed_presence.h - presence (API.md §Users and sessions) */
#ifndef ED_PRESENCE_H_INCLUDED
#define ED_PRESENCE_H_INCLUDED
#include "ed_req.h"
#include "store/st_redis.h"

/*  Online: a heartbeat within this long (API.md: 60 s). */
#define ED_PRESENCE_ONLINE_MS   60000
/*  How long a last-seen time is remembered, and for how many users per
    node in the node-local map. */
#define ED_PRESENCE_KEEP_MS     (7LL * 24 * 3600 * 1000)
#define ED_PRESENCE_USERS_MAX   1000000

typedef struct ed_presence ed_presence_t;

/*  redis is borrowed and may be NULL. */
ed_presence_t *ed_presence_new (st_redis_t *redis);
void ed_presence_destroy (ed_presence_t **p);

ed_handler_fn ed_presence_heartbeat;    /* POST /v1/presence/heartbeat */
ed_handler_fn ed_presence_get;          /* GET /v1/users/{id}/presence */

#endif
