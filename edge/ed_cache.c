/*  ed_cache.c - the Redis read-through cache of listings' JSON */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ed_cache.h"
#include "runtime/rt_runtime.h"

/*  Invalidations Redis did not take (it was down), retried on this
    node's next Redis call that works; meanwhile this node serves those
    listings from their actors. */
#define PENDING_MAX 1024

struct ed_cache {
    st_redis_t *redis;
    pthread_mutex_t lock;
    char        (*pending)[40];
    size_t      npending;
    atomic_uint_fast64_t hits, misses, fills, invalidations;
};

ed_cache_t *
ed_cache_new (st_redis_t *redis)
{
    ed_cache_t *self = calloc (1, sizeof *self);
    if (self && !(self->pending = calloc (PENDING_MAX, sizeof *self->pending))) {
        free (self);
        return NULL;
    }
    if (self) {
        self->redis = redis;
        pthread_mutex_init (&self->lock, NULL);
    }
    return self;
}

void
ed_cache_destroy (ed_cache_t **p)
{
    if (p && *p) {
        pthread_mutex_destroy (&(*p)->lock);
        free ((*p)->pending);
        free (*p);
        *p = NULL;
    }
}

bool
ed_cache_enabled (const ed_cache_t *self)
{
    return self && self->redis;
}

static void
s_key (char *out, size_t size, const char *id)
{
    snprintf (out, size, "pasar:lst:%s", id);
}

static bool
s_tombstone (ed_cache_t *self, const char *id)
{
    char key[96];
    s_key (key, sizeof key, id);
    return st_redis_set_bytes (self->redis, key, "-", 1, ED_CACHE_TOMBSTONE_MS, false)
           != ST_REDIS_DOWN;
}

/*  Is id waiting for its invalidation? With Redis answering again, send
    the ones waiting first. */
static bool
s_pending (ed_cache_t *self, const char *id)
{
    pthread_mutex_lock (&self->lock);
    bool found = false;
    while (self->npending && s_tombstone (self, self->pending[self->npending - 1]))
        self->npending--;
    for (size_t i = 0; i < self->npending && !found; i++)
        found = !strcmp (self->pending[i], id);
    pthread_mutex_unlock (&self->lock);
    return found;
}

/*  An entry: "<version> <expires ms> <a|o>\n<json>"; a tombstone: "-". */
bool
ed_cache_get (ed_cache_t *self, const char *id, char **json, size_t *len, int64_t *version)
{
    *json = NULL;
    if (!self || !self->redis) {
        if (self)
            atomic_fetch_add (&self->misses, 1);
        return false;
    }
    char key[96], *v = NULL;
    size_t vlen = 0;
    s_key (key, sizeof key, id);
    bool hit = false;
    if (!s_pending (self, id) && st_redis_get_bytes (self->redis, key, &v, &vlen) == ST_REDIS_OK) {
        long long ver = 0, exp = 0;
        char st = 0;
        int at = 0;
        char *nl = memchr (v, '\n', vlen);
        hit = nl && sscanf (v, "%lld %lld %c%n", &ver, &exp, &st, &at) == 3 && v + at == nl
              && !(st == 'a' && rt_now_ms () >= exp);
        if (hit) {
            *len = vlen - (size_t) (nl + 1 - v);
            *json = malloc (*len + 1);
            hit = *json != NULL;
            if (hit) {
                memcpy (*json, nl + 1, *len);
                (*json)[*len] = 0;
                *version = ver;
            }
        }
    }
    free (v);
    atomic_fetch_add (hit ? &self->hits : &self->misses, 1);
    return hit;
}

void
ed_cache_fill (ed_cache_t *self, const char *id, const char *json, size_t len, int64_t version,
               int64_t expires_ms, bool active)
{
    if (!self || !self->redis || s_pending (self, id))
        return;
    char key[96], head[64];
    s_key (key, sizeof key, id);
    int h = snprintf (head, sizeof head, "%lld %lld %c\n", (long long) version,
                      (long long) expires_ms, active ? 'a' : 'o');
    char *v = malloc ((size_t) h + len);
    if (!v)
        return;
    memcpy (v, head, (size_t) h);
    memcpy (v + h, json, len);
    /*  NX: a tombstone (a write just happened) or a newer fill wins. */
    if (st_redis_set_bytes (self->redis, key, v, (size_t) h + len, ED_CACHE_TTL_MS, true)
        == ST_REDIS_OK)
        atomic_fetch_add (&self->fills, 1);
    free (v);
}

void
ed_cache_invalidate (ed_cache_t *self, const char *id)
{
    if (!self || !self->redis)
        return;
    atomic_fetch_add (&self->invalidations, 1);
    if (s_tombstone (self, id))
        return;
    pthread_mutex_lock (&self->lock);
    if (self->npending < PENDING_MAX)
        snprintf (self->pending[self->npending++], sizeof self->pending[0], "%s", id);
    pthread_mutex_unlock (&self->lock);
}

void
ed_cache_stats (ed_cache_t *self, ed_cache_stats_t *out)
{
    memset (out, 0, sizeof *out);
    if (!self)
        return;
    out->hits = atomic_load (&self->hits);
    out->misses = atomic_load (&self->misses);
    out->fills = atomic_load (&self->fills);
    out->invalidations = atomic_load (&self->invalidations);
}
