/*  ed_revoked.c - sessions revoked recently (chained hash set, mutex) */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ed_revoked.h"

#define BUCKETS 16384

typedef struct entry {
    struct entry *next;         /* hash chain */
    struct entry *newer;        /* age list, for eviction from the old end */
    int64_t until_ms;
    char sid[40];
} entry_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static entry_t *s_buckets[BUCKETS];
static entry_t *s_newest, *s_oldest;
static size_t s_count;

static size_t
s_hash (const char *s)
{
    size_t h = 5381;
    while (*s)
        h = h * 33 + (unsigned char) *s++;
    return h % BUCKETS;
}

static void
s_unlink (entry_t *e)
{
    entry_t **pp = &s_buckets[s_hash (e->sid)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp)
        *pp = e->next;
    s_count--;
}

/*  Drop the oldest entries beyond the bound, and expired ones at the old
    end (entries are added with nearly the same lifetime, so the old end
    expires first). */
static void
s_prune (int64_t now_ms)
{
    while (s_oldest && (s_count > ED_REVOKED_MAX || s_oldest->until_ms <= now_ms)) {
        entry_t *victim = s_oldest;
        s_oldest = victim->newer;
        if (!s_oldest)
            s_newest = NULL;
        s_unlink (victim);
        free (victim);
    }
}

void
ed_revoked_add (const char *sid, int64_t until_ms)
{
    entry_t *e = calloc (1, sizeof *e);
    if (!e || strlen (sid) >= sizeof e->sid) {
        free (e);
        return;
    }
    strcpy (e->sid, sid);
    e->until_ms = until_ms;
    pthread_mutex_lock (&s_lock);
    size_t h = s_hash (sid);
    e->next = s_buckets[h];
    s_buckets[h] = e;
    e->newer = NULL;
    if (s_newest)
        s_newest->newer = e;
    s_newest = e;
    if (!s_oldest)
        s_oldest = e;
    s_count++;
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    s_prune ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    pthread_mutex_unlock (&s_lock);
}

bool
ed_revoked_has (const char *sid, int64_t now_ms)
{
    bool found = false;
    pthread_mutex_lock (&s_lock);
    if (s_count) {
        for (entry_t *e = s_buckets[s_hash (sid)]; e && !found; e = e->next)
            found = e->until_ms > now_ms && !strcmp (e->sid, sid);
    }
    pthread_mutex_unlock (&s_lock);
    return found;
}
