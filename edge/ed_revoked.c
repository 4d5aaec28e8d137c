/*  ed_revoked.c - the revoked-session set: a bounded expiring map, mirrored
    through Redis when configured */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ed_revoked.h"
#include "ed_ttlmap.h"
#include "runtime/rt_runtime.h"

#define S_PREFIX  "pasar:revoked:"
#define S_CHANNEL "pasar:revoked"

struct ed_revoked {
    rt_runtime_t *rt;
    ed_ttlmap_t *map;
    ed_ttlmap_t *live;          /* sessions of older tokens, checked */
    int64_t      start_ms;
    st_redis_t  *redis;
};

static void
s_put (const char *sid, int64_t until_ms, void *arg)
{
    ed_revoked_t *self = arg;
    if (until_ms > rt_now_ms ())
        ed_ttlmap_put (self->map, sid, 1, 0, until_ms);
}

/*  A published revocation: "<session id> <until ms>". */
static void
s_message (const char *msg, size_t len, void *arg)
{
    char sid[ED_TTLMAP_KEY_MAX];
    long long until;
    (void) len;
    if (sscanf (msg, "%64s %lld", sid, &until) == 2)
        s_put (sid, until, arg);
}

/*  From another node: "rv <session id> <until ms>". */
static void
s_broadcast_in (const void *data, size_t len, void *arg)
{
    char msg[ED_TTLMAP_KEY_MAX + 40];
    if (len < 3 || len >= sizeof msg || memcmp (data, "rv ", 3))
        return;
    memcpy (msg, data, len);
    msg[len] = 0;
    s_message (msg + 3, len - 3, arg);
}

/*  After each (re)subscribe: read back what was revoked meanwhile. */
static void
s_catch_up (void *arg)
{
    ed_revoked_t *self = arg;
    st_redis_scan (self->redis, S_PREFIX, s_put, self);
}

ed_revoked_t *
ed_revoked_new (st_redis_t *redis, rt_runtime_t *rt)
{
    ed_revoked_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->map = ed_ttlmap_new (ED_REVOKED_MAX);
    self->live = ed_ttlmap_new (ED_REVOKED_MAX);
    self->start_ms = rt_now_ms ();
    self->redis = redis;
    self->rt = rt;
    if (!self->map || !self->live
        || (redis && st_redis_subscribe (redis, S_CHANNEL, s_catch_up, s_message, self))) {
        ed_revoked_destroy (&self);
        return NULL;
    }
    /*  Read the set once before serving (bounded by Redis's timeout; the
        subscription reads it again once it is connected). */
    if (redis)
        s_catch_up (self);
    if (rt)
        rt_on_broadcast (rt, s_broadcast_in, self);
    return self;
}

void
ed_revoked_destroy (ed_revoked_t **p)
{
    if (!p || !*p)
        return;
    ed_revoked_t *self = *p;
    if (self->rt)
        rt_on_broadcast (self->rt, NULL, NULL);     /* no delivery still running */
    st_redis_unsubscribe (self->redis);
    ed_ttlmap_destroy (&self->map);
    ed_ttlmap_destroy (&self->live);
    free (self);
    *p = NULL;
}

void
ed_revoked_add (ed_revoked_t *self, const char *sid, int64_t until_ms)
{
    ed_ttlmap_put (self->map, sid, 1, 0, until_ms);
    char key[ED_TTLMAP_KEY_MAX + 32], msg[ED_TTLMAP_KEY_MAX + 40];
    int n = snprintf (msg, sizeof msg, "rv %s %lld", sid, (long long) until_ms);
    if (self->rt && n > 0 && (size_t) n < sizeof msg)
        rt_broadcast (self->rt, msg, (size_t) n);
    if (!self->redis)
        return;
    snprintf (key, sizeof key, S_PREFIX "%s", sid);
    /*  Stored before published: a node that misses the message finds the
        key on its next catch-up. Redis down: this node still refuses the
        session (the map above); other nodes learn of it at the cluster
        level (docs/auth.md). */
    if (st_redis_set (self->redis, key, until_ms, until_ms - rt_now_ms ()) == ST_REDIS_OK)
        st_redis_publish (self->redis, S_CHANNEL, msg + 3);
}

bool
ed_revoked_has (ed_revoked_t *self, const char *sid, int64_t now_ms)
{
    return ed_ttlmap_get (self->map, sid, now_ms, NULL, NULL);
}

/*  Since when this node may have missed revocations: its start, or the last
    time it lost or regained a peer (a broadcast then may not have reached
    everyone: a partition, a frozen process). */
static int64_t
s_horizon (ed_revoked_t *self)
{
    int64_t changed = self->rt ? rt_cluster_changed_ms (self->rt) : 0;
    return changed > self->start_ms ? changed : self->start_ms;
}

bool
ed_revoked_unsure (ed_revoked_t *self, const char *sid, int64_t iat_s, int64_t now_ms)
{
    int64_t horizon = s_horizon (self), checked_ms = 0;
    if (iat_s * 1000 >= horizon)
        return false;
    return !ed_ttlmap_get (self->live, sid, now_ms, &checked_ms, NULL) || checked_ms < horizon;
}

void
ed_revoked_live (ed_revoked_t *self, const char *sid, int64_t until_ms)
{
    ed_ttlmap_put (self->live, sid, rt_now_ms (), 0, until_ms);
}
