/*  ed_throttle.c - failed-login throttling (fixed windows, one mutex) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ed_throttle.h"

#define BUCKETS 16384

typedef struct entry {
    struct entry *next;
    int64_t window_start_ms;
    uint32_t failures;
    char key[272];              /* "a:" + email (254) or "ip:" + address */
} entry_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static entry_t *s_buckets[BUCKETS];
static size_t s_count;

static size_t
s_hash (const char *s)
{
    size_t h = 5381;
    while (*s)
        h = h * 33 + (unsigned char) *s++;
    return h % BUCKETS;
}

static entry_t *
s_find (const char *key)
{
    for (entry_t *e = s_buckets[s_hash (key)]; e; e = e->next)
        if (!strcmp (e->key, key))
            return e;
    return NULL;
}

/*  Forget windows that are over (all of them if that is not enough). */
static void
s_sweep (int64_t now_ms, bool all)
{
    for (size_t b = 0; b < BUCKETS; b++) {
        for (entry_t **pp = &s_buckets[b]; *pp;) {
            entry_t *e = *pp;
            if (all || now_ms - e->window_start_ms >= ED_THROTTLE_WINDOW_MS) {
                *pp = e->next;
                free (e);
                s_count--;
            }
            else
                pp = &e->next;
        }
    }
}

static int64_t
s_wait_s (const entry_t *e, uint32_t max, int64_t now_ms)
{
    if (!e || e->failures < max || now_ms - e->window_start_ms >= ED_THROTTLE_WINDOW_MS)
        return 0;
    return (e->window_start_ms + ED_THROTTLE_WINDOW_MS - now_ms + 999) / 1000;
}

static void
s_key (char *out, size_t size, const char *prefix, const char *v)
{
    int n = snprintf (out, size, "%s%s", prefix, v ? v : "");
    (void) n;                   /* truncation only merges very long keys */
}

int64_t
ed_throttle_check (const char *account, const char *address, int64_t now_ms)
{
    char ka[272], kb[272];
    s_key (ka, sizeof ka, "a:", account);
    s_key (kb, sizeof kb, "ip:", address);
    pthread_mutex_lock (&s_lock);
    int64_t a = s_wait_s (s_find (ka), ED_THROTTLE_ACCOUNT_MAX, now_ms);
    int64_t b = s_wait_s (s_find (kb), ED_THROTTLE_ADDRESS_MAX, now_ms);
    pthread_mutex_unlock (&s_lock);
    return a > b ? a : b;
}

static void
s_fail_key (const char *key, int64_t now_ms)
{
    entry_t *e = s_find (key);
    if (e && now_ms - e->window_start_ms >= ED_THROTTLE_WINDOW_MS) {
        e->window_start_ms = now_ms;
        e->failures = 0;
    }
    if (!e) {
        if (s_count >= ED_THROTTLE_KEYS_MAX) {
            s_sweep (now_ms, false);
            if (s_count >= ED_THROTTLE_KEYS_MAX)
                s_sweep (now_ms, true);
        }
        e = calloc (1, sizeof *e);
        if (!e)
            return;
        snprintf (e->key, sizeof e->key, "%s", key);
        e->window_start_ms = now_ms;
        size_t h = s_hash (key);
        e->next = s_buckets[h];
        s_buckets[h] = e;
        s_count++;
    }
    e->failures++;
}

void
ed_throttle_fail (const char *account, const char *address, int64_t now_ms)
{
    char ka[272], kb[272];
    s_key (ka, sizeof ka, "a:", account);
    s_key (kb, sizeof kb, "ip:", address);
    pthread_mutex_lock (&s_lock);
    s_fail_key (ka, now_ms);
    s_fail_key (kb, now_ms);
    pthread_mutex_unlock (&s_lock);
}

void
ed_throttle_ok (const char *account)
{
    char ka[272];
    s_key (ka, sizeof ka, "a:", account);
    pthread_mutex_lock (&s_lock);
    entry_t *e = s_find (ka);
    if (e)
        e->failures = 0;
    pthread_mutex_unlock (&s_lock);
}
