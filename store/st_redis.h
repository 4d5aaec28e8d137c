/*  =========================================================================
    st_redis.h - the optional Redis client (hiredis): shared soft state

    Redis holds what every node should see but nobody should wait for:
    login-failure counters, the revoked-session set, presence. It is never
    the system of record, so it is never allowed to fail a request: every
    call answers ST_REDIS_DOWN at once when Redis cannot be reached (or
    answers too slowly), and the caller falls back to its node-local
    stand-in. After a failure the client stops trying for
    RT_REDIS_RETRY_MS, so an outage costs one timeout, not one per request;
    the transitions are logged ("redis.down" warn, "redis.up" info) and
    counted (st_redis_stats, rendered in /metrics).

    Thread-safe: calls borrow one of a bounded pool of connections.
    One subscription per client runs on its own thread and survives
    reconnects; its on_connect callback runs after every (re)subscribe, so
    the caller can catch up on what it missed while disconnected.
    =========================================================================
*/
#ifndef ST_REDIS_H_INCLUDED
#define ST_REDIS_H_INCLUDED
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct st_redis st_redis_t;

/*  Call results: found/done, not found, Redis unavailable. */
#define ST_REDIS_OK       1
#define ST_REDIS_MISSING  0
#define ST_REDIS_DOWN    (-1)

/*  Check a redis.url: "redis://[[user]:password@]host[:port][/db]".
    0, or -1 with the reason in err. */
int st_redis_parse_url (const char *url, char *err, size_t errlen);

/*  A client for url (checked as above). Connects lazily: Redis need not be
    up when the node starts. NULL with the reason in err on a bad url. */
st_redis_t *st_redis_new (const char *url, char *err, size_t errlen);

/*  Unsubscribe, close every connection; no-op on NULL. */
void st_redis_destroy (st_redis_t **p);

/*  SET key value PX ttl_ms (ttl_ms > 0). */
int st_redis_set (st_redis_t *self, const char *key, int64_t value, int64_t ttl_ms);

/*  GET key as an integer into *value. */
int st_redis_get (st_redis_t *self, const char *key, int64_t *value);

int st_redis_del (st_redis_t *self, const char *key);
/*  A string value (malloc'd, NUL-terminated, *len bytes). */
int st_redis_get_bytes (st_redis_t *self, const char *key, char **out, size_t *len);
/*  SET key val PX ttl_ms, with only_new NX: ST_REDIS_MISSING when the key
    existed (nothing set). */
int st_redis_set_bytes (st_redis_t *self, const char *key, const void *val, size_t len,
                        int64_t ttl_ms, bool only_new);

/*  Count one event in a fixed window: INCR key, starting a window of
    window_ms when the key is new (atomic, one script). *count is the count
    after this one, *ttl_ms what is left of the window. */
int st_redis_count (st_redis_t *self, const char *key, int64_t window_ms,
                    int64_t *count, int64_t *ttl_ms);

/*  The count and window left of a key st_redis_count keeps, without
    counting; ST_REDIS_MISSING when no window is open. */
int st_redis_peek (st_redis_t *self, const char *key, int64_t *count, int64_t *ttl_ms);

int st_redis_publish (st_redis_t *self, const char *channel, const char *message);

/*  Every key that starts with prefix (at most RT_REDIS_SCAN_MAX), with its
    integer value: fn (key without the prefix, value, arg). */
typedef void (st_redis_scan_fn) (const char *suffix, int64_t value, void *arg);
int st_redis_scan (st_redis_t *self, const char *prefix, st_redis_scan_fn *fn, void *arg);

/*  Subscribe to one channel on a thread of its own (once per client).
    on_connect runs on that thread after each successful SUBSCRIBE;
    on_message for each message, with the payload NUL-terminated. */
typedef void (st_redis_connect_fn) (void *arg);
typedef void (st_redis_message_fn) (const char *message, size_t len, void *arg);
int st_redis_subscribe (st_redis_t *self, const char *channel, st_redis_connect_fn *on_connect,
                        st_redis_message_fn *on_message, void *arg);

/*  Stop the subscription thread (its callbacks have all returned when
    this does); no-op without one. */
void st_redis_unsubscribe (st_redis_t *self);

typedef struct {
    bool     up;            /* the last call reached Redis */
    uint64_t commands;      /* calls answered by Redis */
    uint64_t errors;        /* connection failures, timeouts, error replies */
    uint64_t fallbacks;     /* calls answered ST_REDIS_DOWN */
} st_redis_stats_t;

void st_redis_stats (st_redis_t *self, st_redis_stats_t *out);

#endif
