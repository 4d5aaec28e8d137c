/*  ed_throttle.c - failed-login throttling: fixed windows counted in Redis
    when it answers, else in a bounded expiring map (value a = failures in
    the window, b = the window's start; an entry expires with its window) */
#include <stdio.h>
#include <stdlib.h>
#include "ed_throttle.h"
#include "ed_ttlmap.h"

struct ed_throttle {
    ed_ttlmap_t *map;
    st_redis_t  *redis;
};

typedef struct {
    char account[ED_TTLMAP_KEY_MAX + 16], address[ED_TTLMAP_KEY_MAX + 16];
} keys_t;

/*  The same names locally and in Redis; truncation only merges very long
    keys. */
static void
s_keys (keys_t *k, const char *account, const char *address)
{
    snprintf (k->account, sizeof k->account, "pasar:tf:a:%s", account ? account : "");
    snprintf (k->address, sizeof k->address, "pasar:tf:ip:%s", address ? address : "");
    k->account[ED_TTLMAP_KEY_MAX - 1] = k->address[ED_TTLMAP_KEY_MAX - 1] = 0;
}

ed_throttle_t *
ed_throttle_new (st_redis_t *redis)
{
    ed_throttle_t *self = calloc (1, sizeof *self);
    if (!self || !(self->map = ed_ttlmap_new (ED_THROTTLE_KEYS_MAX))) {
        free (self);
        return NULL;
    }
    self->redis = redis;
    return self;
}

void
ed_throttle_destroy (ed_throttle_t **p)
{
    if (!p || !*p)
        return;
    ed_ttlmap_destroy (&(*p)->map);
    free (*p);
    *p = NULL;
}

static int64_t
s_wait_s (int64_t failures, int64_t max, int64_t left_ms)
{
    return failures < max ? 0 : (left_ms + 999) / 1000;
}

static int64_t
s_local_wait_s (ed_throttle_t *self, const char *key, int64_t max, int64_t now_ms)
{
    int64_t failures = 0, start = 0;
    if (!ed_ttlmap_get (self->map, key, now_ms, &failures, &start))
        return 0;
    return s_wait_s (failures, max, start + ED_THROTTLE_WINDOW_MS - now_ms);
}

int64_t
ed_throttle_check (ed_throttle_t *self, const char *account, const char *address, int64_t now_ms)
{
    keys_t k;
    s_keys (&k, account, address);
    int64_t a = 0, b = 0;
    if (self->redis) {
        int64_t na, ta, nb, tb;
        int ra = st_redis_peek (self->redis, k.account, &na, &ta);
        int rb = ra == ST_REDIS_DOWN ? ST_REDIS_DOWN
                                     : st_redis_peek (self->redis, k.address, &nb, &tb);
        if (rb != ST_REDIS_DOWN) {
            a = ra == ST_REDIS_OK ? s_wait_s (na, ED_THROTTLE_ACCOUNT_MAX, ta) : 0;
            b = rb == ST_REDIS_OK ? s_wait_s (nb, ED_THROTTLE_ADDRESS_MAX, tb) : 0;
            return a > b ? a : b;
        }
    }
    a = s_local_wait_s (self, k.account, ED_THROTTLE_ACCOUNT_MAX, now_ms);
    b = s_local_wait_s (self, k.address, ED_THROTTLE_ADDRESS_MAX, now_ms);
    return a > b ? a : b;
}

static int64_t
s_local_fail (ed_throttle_t *self, const char *key, int64_t now_ms)
{
    int64_t failures = 0, start = now_ms;
    if (!ed_ttlmap_get (self->map, key, now_ms, &failures, &start)) {
        failures = 0;
        start = now_ms;
    }
    ed_ttlmap_put (self->map, key, failures + 1, start, start + ED_THROTTLE_WINDOW_MS);
    return failures + 1;
}

static int64_t
s_fail (ed_throttle_t *self, const char *key, int64_t now_ms)
{
    int64_t n;
    if (self->redis
        && st_redis_count (self->redis, key, ED_THROTTLE_WINDOW_MS, &n, NULL) == ST_REDIS_OK)
        return n;
    return s_local_fail (self, key, now_ms);
}

bool
ed_throttle_fail (ed_throttle_t *self, const char *account, const char *address, int64_t now_ms)
{
    keys_t k;
    s_keys (&k, account, address);
    /*  Each count is atomic in Redis; locally the get-then-put may count
        concurrent failures one short, which only delays a throttle by an
        attempt. Exactly one failure makes the count equal the limit. */
    bool reached = s_fail (self, k.account, now_ms) == ED_THROTTLE_ACCOUNT_MAX;
    s_fail (self, k.address, now_ms);
    return reached;
}

void
ed_throttle_ok (ed_throttle_t *self, const char *account)
{
    keys_t k;
    s_keys (&k, account, NULL);
    ed_ttlmap_del (self->map, k.account);
    if (self->redis)
        st_redis_del (self->redis, k.account);
}
