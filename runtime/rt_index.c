/*  =========================================================================
    rt_index.c - secondary index entries, kept in step with actor state

    A type with an `index` hook says which entries its state stands for.
    Around each turn that changes the state the runtime asks the hook
    twice, before and after, and writes the difference (deletes, puts) into
    the turn's record: an index is never ahead of or behind the state it
    describes, whatever crashes. Entries live in the shard's key range
    under kind 'X', so they move with the shard on handoff.

    Sets are small (a listing has a few hundred entries at most), so a set
    is one buffer of entries plus an array of offsets, sorted once.
    =========================================================================
*/
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "rt_internal.h"
#include "rt_index.h"

struct rt_index_set {
    uint8_t *buf;               /* [klen:2][vlen:2][key][val]... */
    size_t   len, cap;
    size_t  *at;                /* offsets, sorted by key after s_sort */
    size_t   n, atcap;
    int      err;               /* first failure while collecting */
};

static const uint8_t *s_key (const rt_index_set_t *s, size_t i, size_t *klen)
{
    const uint8_t *p = s->buf + s->at[i];
    *klen = st_get_u16 (p);
    return p + 4;
}

static const uint8_t *s_val (const rt_index_set_t *s, size_t i, size_t *vlen)
{
    const uint8_t *p = s->buf + s->at[i];
    *vlen = st_get_u16 (p + 2);
    return p + 4 + st_get_u16 (p);
}

static void
s_emit (void *sink, const void *key, size_t klen, const void *val, size_t vlen)
{
    rt_index_set_t *s = sink;
    if (s->err)
        return;
    if (!klen || klen > RT_INDEX_KEY_MAX || vlen > RT_INDEX_VAL_MAX
        || s->n >= RT_INDEX_ENTRIES_MAX) {
        s->err = RT_ETOOBIG;
        return;
    }
    size_t need = 4 + klen + vlen;
    if (s->len + need > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        while (cap < s->len + need)
            cap *= 2;
        uint8_t *b = realloc (s->buf, cap);
        if (!b) {
            s->err = RT_ENOMEM;
            return;
        }
        s->buf = b;
        s->cap = cap;
    }
    if (s->n == s->atcap) {
        size_t cap = s->atcap ? s->atcap * 2 : 64;
        size_t *a = realloc (s->at, cap * sizeof *a);
        if (!a) {
            s->err = RT_ENOMEM;
            return;
        }
        s->at = a;
        s->atcap = cap;
    }
    uint8_t *p = s->buf + s->len;
    st_put_u16 (p, (uint16_t) klen);
    st_put_u16 (p + 2, (uint16_t) vlen);
    memcpy (p + 4, key, klen);
    if (vlen)
        memcpy (p + 4 + klen, val, vlen);
    s->at[s->n++] = s->len;
    s->len += need;
}

static int
s_cmp_keys (const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp (a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static int
s_cmp_at (const void *x, const void *y, void *arg)
{
    const rt_index_set_t *s = arg;
    const uint8_t *a = s->buf + *(const size_t *) x, *b = s->buf + *(const size_t *) y;
    return s_cmp_keys (a + 4, st_get_u16 (a), b + 4, st_get_u16 (b));
}

rt_index_set_t *
rt_index_collect (const rt_type_def_t *def, const rt_addr_t *addr, const void *state)
{
    rt_index_set_t *s = calloc (1, sizeof *s);
    if (!s)
        return NULL;
    if (state)
        def->index (addr, state, s_emit, s);
    if (s->err) {
        rt_index_set_destroy (&s);
        return NULL;
    }
    if (s->n > 1)
        qsort_r (s->at, s->n, sizeof *s->at, s_cmp_at, s);
    /*  A key emitted twice is one entry (the last value written wins in
        the store too). */
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        size_t al = 0, bl = 0;
        const uint8_t *a = w ? s_key (s, w - 1, &al) : NULL, *b = s_key (s, i, &bl);
        if (a && !s_cmp_keys (a, al, b, bl))
            w--;
        s->at[w++] = s->at[i];
    }
    s->n = w;
    return s;
}

void
rt_index_set_destroy (rt_index_set_t **p)
{
    if (!p || !*p)
        return;
    free ((*p)->buf);
    free ((*p)->at);
    free (*p);
    *p = NULL;
}

size_t
rt_index_set_size (const rt_index_set_t *s)
{
    return s ? s->n : 0;
}

static void
s_full_key (st_key_t *k, uint32_t shard, const uint8_t *key, size_t klen)
{
    st_key_begin (k, shard, ST_KIND_INDEX);
    st_key_bytes (k, key, klen);
}

int
rt_index_write (st_record_t *rec, uint32_t shard, const rt_index_set_t *before,
                const rt_index_set_t *after)
{
    size_t i = 0, j = 0, nb = rt_index_set_size (before), na = rt_index_set_size (after);
    int rc = 0;
    while (!rc && (i < nb || j < na)) {
        size_t bl = 0, al = 0, bvl = 0, avl = 0;
        const uint8_t *bk = i < nb ? s_key (before, i, &bl) : NULL;
        const uint8_t *ak = j < na ? s_key (after, j, &al) : NULL;
        int c = !bk ? 1 : !ak ? -1 : s_cmp_keys (bk, bl, ak, al);
        st_key_t k;
        if (c < 0) {                /* gone */
            s_full_key (&k, shard, bk, bl);
            rc = st_record_del (rec, k.b, k.len);
            i++;
            continue;
        }
        const uint8_t *av = s_val (after, j, &avl);
        if (c == 0) {               /* kept: rewritten only if its value moved */
            const uint8_t *bv = s_val (before, i, &bvl);
            i++;
            j++;
            if (bvl == avl && !memcmp (bv, av, avl))
                continue;
        }
        else
            j++;
        s_full_key (&k, shard, ak, al);
        rc = st_record_put (rec, k.b, k.len, av, avl);
    }
    return rc;
}

/* ---- rebuilding (bin/pasar reindex) ------------------------------------------ */

typedef struct {
    rt_runtime_t *rt;
    st_record_t  *rec;
    uint32_t      shard;
    uint64_t      states, entries;
    int           err;
} rebuild_t;

static int
s_rebuild_one (void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    rebuild_t *b = arg;
    const uint8_t *k = key, *v = val;
    if (klen < 6 || klen != 6 + (size_t) k[5] || vlen < 2)
        return 0;                       /* not a state key: not ours to judge */
    rt_addr_t a;
    uint16_t type = st_get_u16 (k + 3);
    const rt_type_def_t *def = type < RT_TYPES_MAX ? b->rt->types[type] : NULL;
    if (!def || !def->index || rt_addr_set (&a, type, (const char *) k + 6, k[5]))
        return 0;
    uint16_t version = st_get_u16 (v);
    void *state = version <= def->state_version
                  ? def->state_decode (&a, version, v + 2, vlen - 2) : NULL;
    if (!state) {
        b->err = RT_ECORRUPT;
        return 1;
    }
    rt_index_set_t *set = rt_index_collect (def, &a, state);
    if (def->state_free)
        def->state_free (state);
    if (!set) {
        b->err = RT_ETOOBIG;
        return 1;
    }
    b->states++;
    b->entries += rt_index_set_size (set);
    b->err = rt_index_write (b->rec, b->shard, NULL, set);
    rt_index_set_destroy (&set);
    return b->err != 0;
}

int
rt_reindex (rt_runtime_t *rt, uint64_t *states, uint64_t *entries)
{
    *states = *entries = 0;
    if (atomic_load (&rt->started))
        return RT_EINVAL;               /* offline only: turns would race it */
    st_commit_options_t co = { .queue_max = RT_COMMIT_QUEUE_MAX };
    st_committer_t *c = st_committer_new (rt->store, &co);
    st_reader_t *r = c ? st_reader_new (rt->store) : NULL;
    int rc = r ? 0 : RT_ENOMEM;
    uint64_t last = 0;
    for (uint32_t shard = 0; !rc && shard < rt->opts.shards; shard++) {
        /*  Per shard: drop its index, then every state's entries, in one
            record submitted after the snapshot is closed (a submit may
            wait for the committer, which may wait to grow the map until
            no snapshot is open). */
        rebuild_t b = { .rt = rt, .rec = st_record_new (), .shard = shard };
        st_key_t lo, hi;
        st_key_begin (&lo, shard, ST_KIND_INDEX);
        st_key_begin (&hi, shard, ST_KIND_INDEX + 1);
        rc = b.rec ? st_record_del_range (b.rec, lo.b, lo.len, hi.b, hi.len) : RT_ENOMEM;
        st_key_begin (&lo, shard, ST_KIND_STATE);
        st_key_begin (&hi, shard, ST_KIND_STATE + 1);
        if (!rc && !(rc = st_reader_begin (r))) {
            int n = st_reader_scan (r, lo.b, lo.len, hi.b, hi.len, SIZE_MAX, s_rebuild_one, &b);
            st_reader_end (r);
            rc = b.err ? b.err : n < 0 ? n : 0;
        }
        if (!rc && (last = st_committer_submit (c, &b.rec, NULL, NULL)) == 0)
            rc = RT_ESTORE;
        st_record_destroy (&b.rec);
        *states += b.states;
        *entries += b.entries;
    }
    if (!rc && last && !st_committer_wait (c, last, -1))
        rc = RT_ESTORE;
    if (!rc && c)
        rc = st_committer_failed (c);
    st_reader_destroy (&r);
    st_committer_destroy (&c);
    return rc;
}
