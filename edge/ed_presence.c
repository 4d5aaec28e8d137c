/*  ed_presence.c - heartbeats and presence reads

    Presence is soft state: a heartbeat every few tens of seconds per user
    would be a durable write each if it went to the user actor, for
    something worthless a minute later. It lives in a bounded expiring map
    (the node-local stand-in for Redis). The WebSocket edge will mark its
    open connections the same way. */
#include <pthread.h>
#include <string.h>
#include "ed_presence.h"
#include "ed_ttlmap.h"
#include "actors/ac_types.h"

static ed_ttlmap_t *s_seen;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void
s_init (void)
{
    s_seen = ed_ttlmap_new (ED_PRESENCE_USERS_MAX);
}

void
ed_presence_heartbeat (ed_req_t *req)
{
    pthread_once (&s_once, s_init);
    int64_t now = rt_now_ms ();
    if (s_seen)
        ed_ttlmap_put (s_seen, ed_req_user (req), now, 0, now + ED_PRESENCE_KEEP_MS);
    ed_reply_bytes (req, 204, "application/json", "", 0);
}

void
ed_presence_get (ed_req_t *req)
{
    pthread_once (&s_once, s_init);
    const char *id = ed_req_capture (req, "id");
    int64_t now = rt_now_ms (), seen = 0;
    bool known = s_seen && ed_ttlmap_get (s_seen, id, now, &seen, NULL);
    char at[32];
    if (known)
        ac_time_rfc3339 (seen, at);
    bool online = known && now - seen < ED_PRESENCE_ONLINE_MS;
    ed_reply_json (req, 200, json_pack ("{s:s, s:s?}", "status", online ? "online" : "offline",
                                        "last_seen_at", known ? at : NULL));
}
