/*  =========================================================================
    rt_scan.c - reading the index and states of every shard this node
    serves, from one snapshot (node queries: search)

    A scan takes the shards that are OWNED here when it opens, reads only
    those, and at close reports the ones still OWNED at the same
    generation: a shard that moved meanwhile is left out of the answer, so
    the asker (who adds up what every node covered) sees the gap and never
    a shard twice or half.
    =========================================================================
*/
#include <stdlib.h>
#include <string.h>
#include "rt_internal.h"

struct rt_scan {
    rt_runtime_t *rt;
    st_reader_t  *reader;
    uint32_t      shards;
    uint32_t     *words;        /* owner word per shard at open; 0 = not ours */
};

rt_scan_t *
rt_scan_open (rt_runtime_t *rt)
{
    rt_scan_t *s = calloc (1, sizeof *s);
    if (!s)
        return NULL;
    s->rt = rt;
    s->shards = rt->opts.shards;
    s->words = calloc (s->shards, sizeof *s->words);
    /*  Owner words before the snapshot begins: a shard OWNED now has its
        data committed already, so the snapshot holds it; one that changes
        hands after this differs at close. */
    for (uint32_t i = 0; s->words && i < s->shards; i++) {
        uint32_t w = rt_owner_word (rt->owner, i);
        s->words[i] = RT_SH_STATE (w) == RT_SH_OWNED ? w : 0;
    }
    s->reader = s->words ? rt_reader_take (rt) : NULL;
    if (!s->reader || st_reader_begin (s->reader)) {
        if (s->reader)
            rt_reader_give (rt, s->reader);
        free (s->words);
        free (s);
        return NULL;
    }
    return s;
}

uint32_t rt_scan_shards (const rt_scan_t *s) { return s->shards; }
bool rt_scan_owned (const rt_scan_t *s, uint32_t shard) { return shard < s->shards && s->words[shard]; }

typedef struct {
    rt_scan_fn *fn;
    void       *arg;
} hop_t;

static int
s_hop (void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    hop_t *h = arg;
    return h->fn (h->arg, (const uint8_t *) key + 3, klen - 3, val, vlen);
}

int
rt_scan_index (rt_scan_t *s, uint32_t shard, const void *lo, size_t lolen, const void *hi,
               size_t hilen, bool reverse, size_t max, rt_scan_fn *fn, void *arg)
{
    if (!rt_scan_owned (s, shard) || lolen > RT_INDEX_KEY_MAX || hilen > RT_INDEX_KEY_MAX)
        return RT_EINVAL;
    st_key_t l, h;
    st_key_begin (&l, shard, ST_KIND_INDEX);
    st_key_bytes (&l, lo, lolen);
    st_key_begin (&h, shard, ST_KIND_INDEX);
    if (hilen)
        st_key_bytes (&h, hi, hilen);
    else
        h.b[2] = ST_KIND_INDEX + 1;     /* the end of the shard's index */
    hop_t hop = { fn, arg };
    return (reverse ? st_reader_scan_rev : st_reader_scan) (s->reader, l.b, l.len, h.b, h.len,
                                                           max, s_hop, &hop);
}

int
rt_scan_get (rt_scan_t *s, uint32_t shard, const void *key, size_t klen, const void **val,
             size_t *vlen)
{
    if (!rt_scan_owned (s, shard) || klen > RT_INDEX_KEY_MAX)
        return RT_EINVAL;
    st_key_t k;
    st_key_begin (&k, shard, ST_KIND_INDEX);
    st_key_bytes (&k, key, klen);
    return st_reader_get (s->reader, k.b, k.len, val, vlen);
}

int
rt_scan_state (rt_scan_t *s, uint16_t type, const char *key, size_t klen, void **state)
{
    *state = NULL;
    rt_addr_t a;
    if (rt_addr_set (&a, type, key, klen) || !s->rt->types[type])
        return RT_EINVAL;
    uint32_t shard = rt_shard_of (type, key, klen, s->shards);
    if (!rt_scan_owned (s, shard))
        return RT_ENOTOWNER;
    return rt_state_load (s->rt->types[type], s->reader, &a, shard, state);
}

void
rt_scan_close (rt_scan_t **p, uint8_t *covered)
{
    rt_scan_t *s = p ? *p : NULL;
    if (!s)
        return;
    st_reader_end (s->reader);
    rt_reader_give (s->rt, s->reader);
    if (covered) {
        memset (covered, 0, (s->shards + 7) / 8);
        for (uint32_t i = 0; i < s->shards; i++)
            if (s->words[i] && rt_owner_word (s->rt->owner, i) == s->words[i])
                covered[i / 8] |= (uint8_t) (1u << (i % 8));
    }
    free (s->words);
    free (s);
    *p = NULL;
}
