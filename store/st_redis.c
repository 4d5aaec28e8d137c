/*  st_redis.c - the optional Redis client: a bounded connection pool with a
    circuit breaker, a few typed commands, and one subscription thread */
#define _GNU_SOURCE             /* pthread_setname_np */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "st_redis.h"
#include "runtime/rt_limits.h"
#include "runtime/rt_log.h"

typedef struct {
    char host[256];
    int  port, db;
    char user[128], pass[256];
} url_t;

enum { STATE_UNKNOWN, STATE_UP, STATE_DOWN };

struct st_redis {
    url_t url;
    pthread_mutex_t lock;
    pthread_cond_t  freed;
    redisContext *conn[RT_REDIS_POOL_MAX];
    bool busy[RT_REDIS_POOL_MAX];
    _Atomic int64_t  retry_at_ms;
    _Atomic int      state;
    _Atomic uint64_t commands, errors, fallbacks;
    /*  the subscription */
    pthread_t sub;
    bool sub_started;
    _Atomic bool stop;                  /* the subscription's */
    char channel[128];
    st_redis_connect_fn *on_connect;
    st_redis_message_fn *on_message;
    void *arg;
};

static const char s_count_lua[] =
    "local n = redis.call('INCR', KEYS[1]) "
    "local t = redis.call('PTTL', KEYS[1]) "
    "if t < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) t = tonumber(ARGV[1]) end "
    "return {n, t}";

static const char s_peek_lua[] =
    "local n = redis.call('GET', KEYS[1]) "
    "if not n then return {0, 0} end "
    "return {tonumber(n), redis.call('PTTL', KEYS[1])}";

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- url ------------------------------------------------------------------- */

static int
s_number (const char *s, size_t n, long max, int *out)
{
    if (n == 0 || n > 5)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = (int) v;
    return 0;
}

static int
s_copy (char *out, size_t size, const char *s, size_t n)
{
    if (n >= size)
        return -1;
    memcpy (out, s, n);
    out[n] = 0;
    return 0;
}

static int
s_parse (const char *url, url_t *u, char *err, size_t errlen)
{
    memset (u, 0, sizeof *u);
    u->port = 6379;
    const char *p = url;
    if (strncmp (p, "redis://", 8)) {
        snprintf (err, errlen, "redis.url must start with redis://");
        return -1;
    }
    p += 8;
    const char *slash = strchr (p, '/');
    const char *end = slash ? slash : p + strlen (p);
    const char *at = memchr (p, '@', (size_t) (end - p));
    if (at) {
        const char *colon = memchr (p, ':', (size_t) (at - p));
        if (!colon || s_copy (u->user, sizeof u->user, p, (size_t) (colon - p))
            || s_copy (u->pass, sizeof u->pass, colon + 1, (size_t) (at - colon - 1))) {
            snprintf (err, errlen, "redis.url: credentials must be [user]:password@");
            return -1;
        }
        p = at + 1;
    }
    const char *colon = memchr (p, ':', (size_t) (end - p));
    const char *host_end = colon ? colon : end;
    if (host_end == p || s_copy (u->host, sizeof u->host, p, (size_t) (host_end - p))) {
        snprintf (err, errlen, "redis.url: missing or too long host");
        return -1;
    }
    if (colon && (s_number (colon + 1, (size_t) (end - colon - 1), 65535, &u->port)
                  || u->port == 0)) {
        snprintf (err, errlen, "redis.url: port must be 1..65535");
        return -1;
    }
    if (slash && slash[1] && s_number (slash + 1, strlen (slash + 1), 15, &u->db)) {
        snprintf (err, errlen, "redis.url: database must be 0..15");
        return -1;
    }
    return 0;
}

int
st_redis_parse_url (const char *url, char *err, size_t errlen)
{
    url_t u;
    return s_parse (url, &u, err, errlen);
}

/* ---- health ------------------------------------------------------------------ */

static void
s_ok (st_redis_t *self)
{
    atomic_store (&self->retry_at_ms, 0);
    if (atomic_exchange (&self->state, STATE_UP) != STATE_UP)
        rt_log ("info", "redis.up", "\"host\":\"%s\",\"port\":%d", self->url.host, self->url.port);
}

static void
s_fail (st_redis_t *self, const char *why)
{
    atomic_fetch_add (&self->errors, 1);
    atomic_store (&self->retry_at_ms, s_now_ms () + RT_REDIS_RETRY_MS);
    if (atomic_exchange (&self->state, STATE_DOWN) != STATE_DOWN) {
        char esc[160];
        rt_log ("warn", "redis.down", "\"reason\":\"%s\",\"fallback\":\"node-local\"",
                rt_log_escape (why, esc, sizeof esc));
    }
}

/*  A connected, authenticated context on the configured database, or NULL
    with the reason in why. */
static redisContext *
s_connect (st_redis_t *self, char *why, size_t whylen)
{
    struct timeval tv = { RT_REDIS_TIMEOUT_MS / 1000, (RT_REDIS_TIMEOUT_MS % 1000) * 1000 };
    redisContext *c = redisConnectWithTimeout (self->url.host, self->url.port, tv);
    if (!c || c->err) {
        snprintf (why, whylen, "connect: %s", c ? c->errstr : "out of memory");
        redisFree (c);
        return NULL;
    }
    redisSetTimeout (c, tv);
    redisReply *r = NULL;
    if (self->url.pass[0])
        r = self->url.user[0]
            ? redisCommand (c, "AUTH %s %s", self->url.user, self->url.pass)
            : redisCommand (c, "AUTH %s", self->url.pass);
    if (self->url.pass[0] && (!r || r->type == REDIS_REPLY_ERROR)) {
        snprintf (why, whylen, "auth: %s", r ? r->str : c->errstr);
        freeReplyObject (r);
        redisFree (c);
        return NULL;
    }
    freeReplyObject (r);
    r = self->url.db ? redisCommand (c, "SELECT %d", self->url.db) : NULL;
    if (self->url.db && (!r || r->type == REDIS_REPLY_ERROR)) {
        snprintf (why, whylen, "select: %s", r ? r->str : c->errstr);
        freeReplyObject (r);
        redisFree (c);
        return NULL;
    }
    freeReplyObject (r);
    return c;
}

/* ---- the pool -------------------------------------------------------------- */

st_redis_t *
st_redis_new (const char *url, char *err, size_t errlen)
{
    st_redis_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "redis: out of memory");
        return NULL;
    }
    if (s_parse (url, &self->url, err, errlen)) {
        free (self);
        return NULL;
    }
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->freed, NULL);
    return self;
}

void
st_redis_destroy (st_redis_t **p)
{
    if (!p || !*p)
        return;
    st_redis_t *self = *p;
    st_redis_unsubscribe (self);
    for (unsigned i = 0; i < RT_REDIS_POOL_MAX; i++)
        redisFree (self->conn[i]);
    pthread_cond_destroy (&self->freed);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *p = NULL;
}

/*  A pool slot, or -1 while the breaker is open or none frees up in time. */
static int
s_acquire (st_redis_t *self)
{
    int64_t now = s_now_ms ();
    if (now < atomic_load (&self->retry_at_ms))
        return -1;
    struct timespec until;
    clock_gettime (CLOCK_REALTIME, &until);
    until.tv_nsec += (long) RT_REDIS_TIMEOUT_MS * 1000000;
    until.tv_sec += until.tv_nsec / 1000000000;
    until.tv_nsec %= 1000000000;
    pthread_mutex_lock (&self->lock);
    int slot = -1;
    while (slot < 0) {
        for (unsigned i = 0; i < RT_REDIS_POOL_MAX && slot < 0; i++)
            if (!self->busy[i])
                slot = (int) i;
        if (slot < 0 && pthread_cond_timedwait (&self->freed, &self->lock, &until) == ETIMEDOUT)
            break;
    }
    if (slot >= 0)
        self->busy[slot] = true;
    pthread_mutex_unlock (&self->lock);
    return slot;
}

static void
s_release (st_redis_t *self, int slot)
{
    pthread_mutex_lock (&self->lock);
    self->busy[slot] = false;
    pthread_cond_signal (&self->freed);
    pthread_mutex_unlock (&self->lock);
}

/*  One command; its reply, or NULL (counted as a fallback) when Redis is
    unavailable or answered an error. */
static redisReply *
s_call_len (st_redis_t *self, int argc, const char **argv, const size_t *argvlen)
{
    int slot = s_acquire (self);
    if (slot < 0) {
        atomic_fetch_add (&self->fallbacks, 1);
        return NULL;
    }
    char why[256] = "";
    redisContext **c = &self->conn[slot];
    redisReply *r = NULL;
    /*  A pooled connection may have been closed since (Redis restarted,
        idle timeout): one more try on a fresh one before calling it down. */
    for (int attempt = 0, reused = *c != NULL; !r && attempt <= reused; attempt++) {
        if (!*c)
            *c = s_connect (self, why, sizeof why);
        if (!*c)
            break;
        r = redisCommandArgv (*c, argc, argv, argvlen);
        if (!r) {
            snprintf (why, sizeof why, "%s", (*c)->errstr[0] ? (*c)->errstr : "no reply");
            redisFree (*c);     /* a context that failed is not reusable */
            *c = NULL;
        }
    }
    s_release (self, slot);
    if (r && r->type == REDIS_REPLY_ERROR) {
        snprintf (why, sizeof why, "%s", r->str);
        freeReplyObject (r);
        r = NULL;
    }
    if (!r) {
        s_fail (self, why);
        atomic_fetch_add (&self->fallbacks, 1);
        return NULL;
    }
    s_ok (self);
    atomic_fetch_add (&self->commands, 1);
    return r;
}

static redisReply *
s_call (st_redis_t *self, int argc, const char **argv)
{
    return s_call_len (self, argc, argv, NULL);
}

/* ---- typed commands ---------------------------------------------------------- */

static bool
s_int (const redisReply *r, int64_t *out)
{
    if (r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        return true;
    }
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 20)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll (r->str, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

int
st_redis_set (st_redis_t *self, const char *key, int64_t value, int64_t ttl_ms)
{
    if (ttl_ms <= 0)
        return ST_REDIS_OK;     /* already expired: nothing to keep */
    char v[24], t[24];
    snprintf (v, sizeof v, "%lld", (long long) value);
    snprintf (t, sizeof t, "%lld", (long long) ttl_ms);
    const char *argv[] = { "SET", key, v, "PX", t };
    redisReply *r = s_call (self, 5, argv);
    freeReplyObject (r);
    return r ? ST_REDIS_OK : ST_REDIS_DOWN;
}

int
st_redis_get (st_redis_t *self, const char *key, int64_t *value)
{
    const char *argv[] = { "GET", key };
    redisReply *r = s_call (self, 2, argv);
    if (!r)
        return ST_REDIS_DOWN;
    int rc = s_int (r, value) ? ST_REDIS_OK : ST_REDIS_MISSING;
    freeReplyObject (r);
    return rc;
}

int
st_redis_get_bytes (st_redis_t *self, const char *key, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    const char *argv[] = { "GET", key };
    redisReply *r = s_call (self, 2, argv);
    if (!r)
        return ST_REDIS_DOWN;
    int rc = ST_REDIS_MISSING;
    if (r->type == REDIS_REPLY_STRING && (*out = malloc (r->len + 1))) {
        memcpy (*out, r->str, r->len);
        (*out)[r->len] = 0;
        *len = r->len;
        rc = ST_REDIS_OK;
    }
    freeReplyObject (r);
    return rc;
}

int
st_redis_set_bytes (st_redis_t *self, const char *key, const void *val, size_t len,
                    int64_t ttl_ms, bool only_new)
{
    if (ttl_ms <= 0)
        return ST_REDIS_OK;
    char t[24];
    snprintf (t, sizeof t, "%lld", (long long) ttl_ms);
    const char *argv[] = { "SET", key, val, "PX", t, "NX" };
    size_t lens[] = { 3, strlen (key), len, 2, strlen (t), 2 };
    redisReply *r = s_call_len (self, only_new ? 6 : 5, argv, lens);
    if (!r)
        return ST_REDIS_DOWN;
    int rc = r->type == REDIS_REPLY_NIL ? ST_REDIS_MISSING : ST_REDIS_OK;
    freeReplyObject (r);
    return rc;
}

int
st_redis_del (st_redis_t *self, const char *key)
{
    const char *argv[] = { "DEL", key };
    redisReply *r = s_call (self, 2, argv);
    freeReplyObject (r);
    return r ? ST_REDIS_OK : ST_REDIS_DOWN;
}

/*  A {count, ttl} pair from one of the scripts. */
static int
s_pair (redisReply *r, int64_t *count, int64_t *ttl_ms)
{
    if (!r)
        return ST_REDIS_DOWN;
    int64_t n = 0, t = 0;
    bool ok = r->type == REDIS_REPLY_ARRAY && r->elements == 2
              && s_int (r->element[0], &n) && s_int (r->element[1], &t);
    freeReplyObject (r);
    if (count) *count = n;
    if (ttl_ms) *ttl_ms = t > 0 ? t : 0;
    return ok && n > 0 ? ST_REDIS_OK : ST_REDIS_MISSING;
}

int
st_redis_count (st_redis_t *self, const char *key, int64_t window_ms, int64_t *count,
                int64_t *ttl_ms)
{
    char w[24];
    snprintf (w, sizeof w, "%lld", (long long) window_ms);
    const char *argv[] = { "EVAL", s_count_lua, "1", key, w };
    return s_pair (s_call (self, 5, argv), count, ttl_ms);
}

int
st_redis_peek (st_redis_t *self, const char *key, int64_t *count, int64_t *ttl_ms)
{
    const char *argv[] = { "EVAL", s_peek_lua, "1", key };
    return s_pair (s_call (self, 4, argv), count, ttl_ms);
}

int
st_redis_publish (st_redis_t *self, const char *channel, const char *message)
{
    const char *argv[] = { "PUBLISH", channel, message };
    redisReply *r = s_call (self, 3, argv);
    freeReplyObject (r);
    return r ? ST_REDIS_OK : ST_REDIS_DOWN;
}

/*  Values of one SCAN batch's keys, through MGET. */
static int
s_scan_values (st_redis_t *self, redisReply *keys, size_t plen, st_redis_scan_fn *fn, void *arg)
{
    if (keys->elements == 0)
        return 0;
    const char **argv = calloc (keys->elements + 1, sizeof *argv);
    if (!argv)
        return -1;
    argv[0] = "MGET";
    for (size_t i = 0; i < keys->elements; i++)
        argv[i + 1] = keys->element[i]->str;
    redisReply *vals = s_call (self, (int) keys->elements + 1, argv);
    free (argv);
    if (!vals)
        return -1;
    for (size_t i = 0; vals->type == REDIS_REPLY_ARRAY && i < vals->elements
                       && i < keys->elements; i++) {
        int64_t v;
        if (s_int (vals->element[i], &v) && strlen (keys->element[i]->str) >= plen)
            fn (keys->element[i]->str + plen, v, arg);
    }
    freeReplyObject (vals);
    return 0;
}

int
st_redis_scan (st_redis_t *self, const char *prefix, st_redis_scan_fn *fn, void *arg)
{
    char match[256], cursor[24] = "0";
    snprintf (match, sizeof match, "%s*", prefix);
    size_t seen = 0, plen = strlen (prefix);
    do {
        const char *argv[] = { "SCAN", cursor, "MATCH", match, "COUNT", "1000" };
        redisReply *r = s_call (self, 6, argv);
        if (!r)
            return ST_REDIS_DOWN;
        bool ok = r->type == REDIS_REPLY_ARRAY && r->elements == 2
                  && r->element[0]->type == REDIS_REPLY_STRING
                  && r->element[1]->type == REDIS_REPLY_ARRAY;
        if (ok) {
            snprintf (cursor, sizeof cursor, "%s", r->element[0]->str);
            seen += r->element[1]->elements;
            ok = s_scan_values (self, r->element[1], plen, fn, arg) == 0;
        }
        freeReplyObject (r);
        if (!ok)
            return ST_REDIS_DOWN;
    } while (strcmp (cursor, "0") && seen < RT_REDIS_SCAN_MAX);
    return ST_REDIS_OK;
}

/* ---- the subscription -------------------------------------------------------- */

static void
s_sleep_ms (int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000 };
    nanosleep (&ts, NULL);
}

static void
s_deliver (st_redis_t *self, redisReply *r)
{
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3
        && r->element[0]->type == REDIS_REPLY_STRING && !strcmp (r->element[0]->str, "message")
        && r->element[2]->type == REDIS_REPLY_STRING
        && r->element[2]->len < RT_REDIS_MESSAGE_MAX)
        self->on_message (r->element[2]->str, r->element[2]->len, self->arg);
}

/*  Read messages until the connection fails or the client stops. Polls so
    that destroy is noticed within a fifth of a second. */
static void
s_listen (st_redis_t *self, redisContext *c)
{
    while (!atomic_load (&self->stop)) {
        struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
        int n = poll (&pfd, 1, 200);
        if (n == 0 || (n < 0 && errno == EINTR))
            continue;
        if (n < 0 || redisBufferRead (c) != REDIS_OK) {
            s_fail (self, c->errstr[0] ? c->errstr : "subscription lost");
            return;
        }
        void *reply = NULL;
        while (redisGetReplyFromReader (c, &reply) == REDIS_OK && reply) {
            s_deliver (self, reply);
            freeReplyObject (reply);
            reply = NULL;
        }
        if (c->err) {
            s_fail (self, c->errstr);
            return;
        }
    }
}

static void *
s_subscriber (void *arg)
{
    st_redis_t *self = arg;
    while (!atomic_load (&self->stop)) {
        char why[256] = "";
        redisContext *c = s_connect (self, why, sizeof why);
        redisReply *r = c ? redisCommand (c, "SUBSCRIBE %s", self->channel) : NULL;
        if (c && !r)
            snprintf (why, sizeof why, "subscribe: %s", c->errstr);
        if (r && r->type == REDIS_REPLY_ARRAY) {
            freeReplyObject (r);
            s_ok (self);
            if (self->on_connect)
                self->on_connect (self->arg);
            s_listen (self, c);
        }
        else {
            freeReplyObject (r);
            s_fail (self, why[0] ? why : "subscribe refused");
        }
        redisFree (c);
        for (int t = 0; t < RT_REDIS_RETRY_MS && !atomic_load (&self->stop); t += 100)
            s_sleep_ms (100);
    }
    return NULL;
}

int
st_redis_subscribe (st_redis_t *self, const char *channel, st_redis_connect_fn *on_connect,
                    st_redis_message_fn *on_message, void *arg)
{
    if (self->sub_started || strlen (channel) >= sizeof self->channel)
        return -1;
    snprintf (self->channel, sizeof self->channel, "%s", channel);
    self->on_connect = on_connect;
    self->on_message = on_message;
    self->arg = arg;
    atomic_store (&self->stop, false);
    if (pthread_create (&self->sub, NULL, s_subscriber, self))
        return -1;
    pthread_setname_np (self->sub, "pasar-redis-sub");
    self->sub_started = true;
    return 0;
}

void
st_redis_unsubscribe (st_redis_t *self)
{
    if (!self || !self->sub_started)
        return;
    atomic_store (&self->stop, true);
    pthread_join (self->sub, NULL);
    self->sub_started = false;
}

void
st_redis_stats (st_redis_t *self, st_redis_stats_t *out)
{
    out->up = atomic_load (&self->state) == STATE_UP;
    out->commands = atomic_load (&self->commands);
    out->errors = atomic_load (&self->errors);
    out->fallbacks = atomic_load (&self->fallbacks);
}
