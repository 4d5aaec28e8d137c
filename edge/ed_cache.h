/*  =========================================================================
    ed_cache.h - the Redis read-through cache of listings' JSON

    GET /v1/listings/{id} first asks Redis for the rendered listing; on a
    miss it reads the actor and fills the cache (SET NX, ED_CACHE_TTL_MS).
    Every successful write (PATCH, DELETE, renew) replaces the entry with
    a tombstone once the actor has answered (so after its commit) that
    lives ED_CACHE_TOMBSTONE_MS: a reader that fetched the old version
    just before the write cannot put it back (its SET NX fails), and the
    next reader on any node gets the new version from the actor. An entry
    of an active listing past its expires_at is a miss (the expiry
    reminder changes the actor, not the cache). Without Redis, or with
    Redis down, every call is a miss and nothing fails; an invalidation
    Redis could not take is retried by this node at its next Redis call
    that works (up to 1,024 waiting), and until then this node does not
    serve that listing from the cache. Another node may serve its old copy
    in that window, at most ED_CACHE_TTL_MS.
    =========================================================================
*/
#ifndef ED_CACHE_H_INCLUDED
#define ED_CACHE_H_INCLUDED
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store/st_redis.h"

/*  How long a cached listing is served without asking its actor: bounds
    how stale a copy can be if an invalidation was lost (Redis unreachable
    at that instant). */
#define ED_CACHE_TTL_MS         60000
/*  Longer than a read can be in flight across a write (the edge's ask
    timeout: 5 s by default), so no reader puts an old copy back. */
#define ED_CACHE_TOMBSTONE_MS   10000

typedef struct ed_cache ed_cache_t;

/*  redis borrowed; NULL: a cache that always misses. */
ed_cache_t *ed_cache_new (st_redis_t *redis);
void ed_cache_destroy (ed_cache_t **p);

/*  Is there a Redis behind it? */
bool ed_cache_enabled (const ed_cache_t *self);

/*  The cached JSON of listing id (malloc'd) and its version; false on a
    miss. */
bool ed_cache_get (ed_cache_t *self, const char *id, char **json, size_t *len, int64_t *version);
/*  After a miss: keep what the actor answered. */
void ed_cache_fill (ed_cache_t *self, const char *id, const char *json, size_t len,
                    int64_t version, int64_t expires_ms, bool active);
/*  After a write the actor acknowledged. */
void ed_cache_invalidate (ed_cache_t *self, const char *id);

typedef struct {
    uint64_t hits, misses, fills, invalidations;
} ed_cache_stats_t;
void ed_cache_stats (ed_cache_t *self, ed_cache_stats_t *out);

#endif
