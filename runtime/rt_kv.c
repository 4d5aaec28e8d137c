/*  =========================================================================
    rt_kv.c - a worker's overlay of keys written by not-yet-durable turns

    Chained hash map keyed by LMDB key bytes. It holds only what is in
    flight to the disk (one group-commit window, normally a few hundred
    entries), so it stays small; rt_kv_prune empties it as commits land.
    =========================================================================
*/
#include <stdlib.h>
#include <string.h>
#include "rt_internal.h"

typedef struct kv_entry {
    struct kv_entry *next;
    uint64_t seq;
    uint64_t hash;
    uint16_t klen;
    uint32_t vlen;
    uint8_t  data[];            /* key, then value */
} kv_entry_t;

struct rt_kv {
    kv_entry_t **buckets;
    size_t nbuckets, count;
};

static uint64_t
s_hash (const uint8_t *k, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 0x100000001b3ull;
    return h ^ (h >> 32);
}

rt_kv_t *
rt_kv_new (void)
{
    rt_kv_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->nbuckets = 256;
    self->buckets = calloc (self->nbuckets, sizeof *self->buckets);
    if (!self->buckets) {
        free (self);
        return NULL;
    }
    return self;
}

void
rt_kv_destroy (rt_kv_t **p)
{
    if (!p || !*p)
        return;
    rt_kv_t *self = *p;
    rt_kv_prune (self, UINT64_MAX);
    free (self->buckets);
    free (self);
    *p = NULL;
}

static void
s_grow (rt_kv_t *self)
{
    size_t n = self->nbuckets * 2;
    kv_entry_t **b = calloc (n, sizeof *b);
    if (!b)
        return;                 /* longer chains, still correct */
    for (size_t i = 0; i < self->nbuckets; i++) {
        for (kv_entry_t *e = self->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free (self->buckets);
    self->buckets = b;
    self->nbuckets = n;
}

int
rt_kv_put (rt_kv_t *self, const void *k, size_t klen, const void *v, size_t vlen,
           uint64_t seq)
{
    uint64_t h = s_hash (k, klen);
    kv_entry_t **slot = &self->buckets[h & (self->nbuckets - 1)];
    /*  A newer write of the same key replaces the older one. */
    for (kv_entry_t **pp = slot; *pp; pp = &(*pp)->next) {
        kv_entry_t *e = *pp;
        if (e->hash == h && e->klen == klen && !memcmp (e->data, k, klen)) {
            *pp = e->next;
            free (e);
            self->count--;
            break;
        }
    }
    kv_entry_t *e = malloc (sizeof *e + klen + vlen);
    if (!e)
        return RT_ENOMEM;
    e->seq = seq;
    e->hash = h;
    e->klen = (uint16_t) klen;
    e->vlen = (uint32_t) vlen;
    memcpy (e->data, k, klen);
    if (vlen)
        memcpy (e->data + klen, v, vlen);
    e->next = *slot;
    *slot = e;
    if (++self->count > self->nbuckets)
        s_grow (self);
    return 0;
}

const uint8_t *
rt_kv_get (rt_kv_t *self, const void *k, size_t klen, size_t *vlen, uint64_t *seq)
{
    uint64_t h = s_hash (k, klen);
    for (kv_entry_t *e = self->buckets[h & (self->nbuckets - 1)]; e; e = e->next) {
        if (e->hash == h && e->klen == klen && !memcmp (e->data, k, klen)) {
            *vlen = e->vlen;
            if (seq)
                *seq = e->seq;
            return e->data + klen;
        }
    }
    return NULL;
}

void
rt_kv_del (rt_kv_t *self, const void *k, size_t klen)
{
    uint64_t h = s_hash (k, klen);
    for (kv_entry_t **pp = &self->buckets[h & (self->nbuckets - 1)]; *pp; pp = &(*pp)->next) {
        kv_entry_t *e = *pp;
        if (e->hash == h && e->klen == klen && !memcmp (e->data, k, klen)) {
            *pp = e->next;
            free (e);
            self->count--;
            return;
        }
    }
}

size_t
rt_kv_prune (rt_kv_t *self, uint64_t durable)
{
    if (self->count == 0)
        return 0;
    for (size_t i = 0; i < self->nbuckets; i++) {
        for (kv_entry_t **pp = &self->buckets[i]; *pp;) {
            kv_entry_t *e = *pp;
            if (e->seq <= durable) {
                *pp = e->next;
                free (e);
                self->count--;
            }
            else
                pp = &e->next;
        }
    }
    return self->count;
}
