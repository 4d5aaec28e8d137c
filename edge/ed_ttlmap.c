/*  ed_ttlmap.c - bounded expiring map: chained hash + write-order list */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "ed_ttlmap.h"

typedef struct entry {
    struct entry *next;                 /* hash chain */
    struct entry *newer, *older;        /* write order */
    int64_t a, b, expires_ms;
    char key[ED_TTLMAP_KEY_MAX];
} entry_t;

struct ed_ttlmap {
    pthread_mutex_t lock;
    entry_t **buckets;
    size_t nbuckets, count, max;
    entry_t *newest, *oldest;
};

static size_t
s_hash (const ed_ttlmap_t *m, const char *s)
{
    size_t h = 5381;
    while (*s)
        h = h * 33 + (unsigned char) *s++;
    return h % m->nbuckets;
}

ed_ttlmap_t *
ed_ttlmap_new (size_t max)
{
    ed_ttlmap_t *m = calloc (1, sizeof *m);
    if (!m)
        return NULL;
    m->max = max;
    m->nbuckets = max / 4 + 16;
    m->buckets = calloc (m->nbuckets, sizeof *m->buckets);
    if (!m->buckets) {
        free (m);
        return NULL;
    }
    pthread_mutex_init (&m->lock, NULL);
    return m;
}

static void
s_unlink_age (ed_ttlmap_t *m, entry_t *e)
{
    if (e->newer) e->newer->older = e->older; else m->newest = e->older;
    if (e->older) e->older->newer = e->newer; else m->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void
s_remove (ed_ttlmap_t *m, entry_t *e)
{
    entry_t **pp = &m->buckets[s_hash (m, e->key)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp)
        *pp = e->next;
    s_unlink_age (m, e);
    m->count--;
    free (e);
}

static entry_t *
s_find (ed_ttlmap_t *m, const char *key)
{
    for (entry_t *e = m->buckets[s_hash (m, key)]; e; e = e->next)
        if (!strcmp (e->key, key))
            return e;
    return NULL;
}

void
ed_ttlmap_destroy (ed_ttlmap_t **p)
{
    if (!p || !*p)
        return;
    ed_ttlmap_t *m = *p;
    while (m->oldest)
        s_remove (m, m->oldest);
    free (m->buckets);
    pthread_mutex_destroy (&m->lock);
    free (m);
    *p = NULL;
}

bool
ed_ttlmap_get (ed_ttlmap_t *m, const char *key, int64_t now_ms, int64_t *a, int64_t *b)
{
    pthread_mutex_lock (&m->lock);
    entry_t *e = s_find (m, key);
    bool found = e && e->expires_ms > now_ms;
    if (found) {
        if (a) *a = e->a;
        if (b) *b = e->b;
    }
    pthread_mutex_unlock (&m->lock);
    return found;
}

bool
ed_ttlmap_put (ed_ttlmap_t *m, const char *key, int64_t a, int64_t b, int64_t expires_ms)
{
    if (strlen (key) >= ED_TTLMAP_KEY_MAX)
        return false;
    pthread_mutex_lock (&m->lock);
    entry_t *e = s_find (m, key);
    if (e)
        s_unlink_age (m, e);
    else {
        /*  Make room from the old end: the least recently written go. */
        while (m->count >= m->max && m->oldest)
            s_remove (m, m->oldest);
        e = calloc (1, sizeof *e);
        if (!e) {
            pthread_mutex_unlock (&m->lock);
            return false;
        }
        strcpy (e->key, key);
        size_t h = s_hash (m, key);
        e->next = m->buckets[h];
        m->buckets[h] = e;
        m->count++;
    }
    e->a = a;
    e->b = b;
    e->expires_ms = expires_ms;
    e->older = m->newest;
    if (m->newest)
        m->newest->newer = e;
    m->newest = e;
    if (!m->oldest)
        m->oldest = e;
    pthread_mutex_unlock (&m->lock);
    return true;
}

void
ed_ttlmap_del (ed_ttlmap_t *m, const char *key)
{
    pthread_mutex_lock (&m->lock);
    entry_t *e = s_find (m, key);
    if (e)
        s_remove (m, e);
    pthread_mutex_unlock (&m->lock);
}
