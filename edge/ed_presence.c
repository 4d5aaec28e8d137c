/*  ed_presence.c - heartbeats and presence reads

    Presence is soft state: a heartbeat every few tens of seconds per user
    would be a durable write each if it went to the user actor, for
    something worthless a minute later. Each node keeps the last-seen times
    it received in a bounded expiring map; with [redis] they also go to
    Redis, where every node reads them, and a read takes the later of the
    two (a heartbeat taken while Redis was down still counts). The
    WebSocket edge will mark its open connections the same way. */
#include <stdio.h>
#include <stdlib.h>
#include "ed_presence.h"
#include "ed_server.h"
#include "ed_acct.h"
#include "ed_ttlmap.h"
#include "actors/ac_types.h"

struct ed_presence {
    ed_ttlmap_t *seen;
    st_redis_t  *redis;
};

ed_presence_t *
ed_presence_new (st_redis_t *redis)
{
    ed_presence_t *self = calloc (1, sizeof *self);
    if (!self || !(self->seen = ed_ttlmap_new (ED_PRESENCE_USERS_MAX))) {
        free (self);
        return NULL;
    }
    self->redis = redis;
    return self;
}

void
ed_presence_destroy (ed_presence_t **p)
{
    if (!p || !*p)
        return;
    ed_ttlmap_destroy (&(*p)->seen);
    free (*p);
    *p = NULL;
}

void
ed_presence_heartbeat (ed_req_t *req)
{
    ed_presence_t *self = ed_server_presence (ed_req_server (req));
    const char *user = ed_req_user (req);
    int64_t now = rt_now_ms ();
    ed_ttlmap_put (self->seen, user, now, 0, now + ED_PRESENCE_KEEP_MS);
    char key[96];
    if (self->redis && snprintf (key, sizeof key, "pasar:seen:%s", user) < (int) sizeof key)
        st_redis_set (self->redis, key, now, ED_PRESENCE_KEEP_MS);
    ed_reply_bytes (req, 204, "application/json", "", 0);
}

void
ed_presence_get (ed_req_t *req)
{
    ed_presence_t *self = ed_server_presence (ed_req_server (req));
    const char *id = ed_req_capture (req, "id");
    int64_t now = rt_now_ms (), seen = 0, shared = 0;
    bool known = ed_ttlmap_get (self->seen, id, now, &seen, NULL);
    char key[96];
    if (self->redis && snprintf (key, sizeof key, "pasar:seen:%s", id) < (int) sizeof key) {
        if (st_redis_get (self->redis, key, &shared) == ST_REDIS_OK && shared > seen) {
            seen = shared;
            known = true;
        }
    }
    /*  Never seen: maybe no such user (API.md: 404), asked only then,
        so heartbeating users cost no read. */
    int visible = known ? 1 : ed_acct_user_visible (req, id);
    if (visible <= 0) {
        if (visible < 0)
            ed_reply_rt_error (req, visible);
        else
            ed_reply_problem (req, ED_P_NOT_FOUND, "no such user");
        return;
    }
    char at[32];
    if (known)
        ac_time_rfc3339 (seen, at);
    bool online = known && now - seen < ED_PRESENCE_ONLINE_MS;
    ed_reply_json (req, 200, json_pack ("{s:s, s:s?}", "status", online ? "online" : "offline",
                                        "last_seen_at", known ? at : NULL));
}
