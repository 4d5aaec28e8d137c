/*  ed_throttle.c - failed-login throttling, on a bounded expiring map:
    value a = failures in the window, b = the window's start; an entry
    expires with its window. */
#include <pthread.h>
#include <stdio.h>
#include "ed_throttle.h"
#include "ed_ttlmap.h"

static ed_ttlmap_t *s_map;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void
s_init (void)
{
    s_map = ed_ttlmap_new (ED_THROTTLE_KEYS_MAX);
}

static void
s_key (char *out, size_t size, const char *prefix, const char *v)
{
    int n = snprintf (out, size, "%s%s", prefix, v ? v : "");
    (void) n;                   /* truncation only merges very long keys */
}

static int64_t
s_wait_s (const char *key, int64_t max, int64_t now_ms)
{
    int64_t failures = 0, start = 0;
    if (!ed_ttlmap_get (s_map, key, now_ms, &failures, &start) || failures < max)
        return 0;
    return (start + ED_THROTTLE_WINDOW_MS - now_ms + 999) / 1000;
}

int64_t
ed_throttle_check (const char *account, const char *address, int64_t now_ms)
{
    pthread_once (&s_once, s_init);
    if (!s_map)
        return 0;
    char ka[ED_TTLMAP_KEY_MAX], kb[ED_TTLMAP_KEY_MAX];
    s_key (ka, sizeof ka, "a:", account);
    s_key (kb, sizeof kb, "ip:", address);
    int64_t a = s_wait_s (ka, ED_THROTTLE_ACCOUNT_MAX, now_ms);
    int64_t b = s_wait_s (kb, ED_THROTTLE_ADDRESS_MAX, now_ms);
    return a > b ? a : b;
}

static int64_t
s_fail_key (const char *key, int64_t now_ms)
{
    int64_t failures = 0, start = now_ms;
    if (!ed_ttlmap_get (s_map, key, now_ms, &failures, &start)) {
        failures = 0;
        start = now_ms;
    }
    ed_ttlmap_put (s_map, key, failures + 1, start, start + ED_THROTTLE_WINDOW_MS);
    return failures + 1;
}

bool
ed_throttle_fail (const char *account, const char *address, int64_t now_ms)
{
    pthread_once (&s_once, s_init);
    if (!s_map)
        return false;
    char ka[ED_TTLMAP_KEY_MAX], kb[ED_TTLMAP_KEY_MAX];
    s_key (ka, sizeof ka, "a:", account);
    s_key (kb, sizeof kb, "ip:", address);
    /*  Not atomic across the two calls: concurrent failures may be counted
        one short, which only delays a throttle by an attempt. */
    bool reached = s_fail_key (ka, now_ms) == ED_THROTTLE_ACCOUNT_MAX;
    s_fail_key (kb, now_ms);
    return reached;
}

void
ed_throttle_ok (const char *account)
{
    pthread_once (&s_once, s_init);
    char ka[ED_TTLMAP_KEY_MAX];
    s_key (ka, sizeof ka, "a:", account);
    if (s_map)
        ed_ttlmap_del (s_map, ka);
}
