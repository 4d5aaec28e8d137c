/*  =========================================================================
    ac_search.c - a node's answer to a listing search (AC_SVC_SEARCH)

    The question (a flat msgpack map, built by edge/ed_search.c):
        sort       "n" newest | "a" price ascending | "d" price descending
        after      bin: the position to continue after (absent: the start)
        limit      1..AC_PAGE_MAX + 1
        snapshot   ms: listings changed after it are left out (0: none)
        seller     26 characters of a seller's id; status: 1..3 (seller only)
        category, condition   codes; city, province   lower-cased
        min, max   price bounds; words   bin: [len:1][word]... (lower-cased)
    The answer: {covered: bin (the shards this answer stands for),
    frontier: bin (absent when every shard finished its range), items: bin
    of [pos len:1][pos][listing len:4][listing msgpack]}, the items in the
    order asked, at most limit, none past the frontier.
    =========================================================================
*/
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "ac_types.h"
#include "ac_codec.h"
#include "ac_listing.h"
#include "ac_search.h"
#include "ac_words.h"
#include "runtime/rt_error.h"

static const char *const s_categories[] = {
    "cars", "motorcycles", "property", "electronics", "fashion", "hobbies", "jobs",
    "services", "other", NULL,
};
/*  Codes are stored in the index: new ones go at the end. */
static const char *const s_statuses[] = { "active", "sold", "expired", "reserved", NULL };
static const char *const s_conditions[] = { "new", "used", NULL };

static uint8_t
s_code (const char *v, const char *const *set)
{
    for (uint8_t i = 0; v && set[i]; i++)
        if (!strcmp (v, set[i]))
            return (uint8_t) (i + 1);
    return 0;
}

uint8_t ac_category_code (const char *c) { return s_code (c, s_categories); }
uint8_t ac_status_code (const char *s) { return s_code (s, s_statuses); }
uint8_t ac_condition_code (const char *c) { return s_code (c, s_conditions); }

static void
s_put64 (uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t) (v >> (56 - 8 * i));
}

static uint64_t
s_get64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

size_t
ac_summary_pack (const ac_summary_t *s, uint8_t *out, size_t max)
{
    size_t cl = strlen (s->city), pl = strlen (s->province);
    size_t n = 3 + 8 + 8 + AC_ID_LEN + 2 + cl + 2 + pl;
    if (n > max)
        return 0;
    uint8_t *p = out;
    *p++ = s->status;
    *p++ = s->category;
    *p++ = s->condition;
    s_put64 (p, (uint64_t) s->price);
    s_put64 (p + 8, (uint64_t) s->updated_ms);
    p += 16;
    memcpy (p, s->seller, AC_ID_LEN);
    p += AC_ID_LEN;
    *p++ = (uint8_t) (cl >> 8);
    *p++ = (uint8_t) cl;
    memcpy (p, s->city, cl);
    p += cl;
    *p++ = (uint8_t) (pl >> 8);
    *p++ = (uint8_t) pl;
    memcpy (p, s->province, pl);
    return n;
}

bool
ac_summary_unpack (const uint8_t *in, size_t len, ac_summary_t *s)
{
    size_t fixed = 3 + 8 + 8 + AC_ID_LEN;
    if (len < fixed + 4)
        return false;
    s->status = in[0];
    s->category = in[1];
    s->condition = in[2];
    s->price = (int64_t) s_get64 (in + 3);
    s->updated_ms = (int64_t) s_get64 (in + 11);
    memcpy (s->seller, in + 19, AC_ID_LEN);
    s->seller[AC_ID_LEN] = 0;
    size_t at = fixed;
    size_t cl = (size_t) in[at] << 8 | in[at + 1];
    if (cl >= sizeof s->city || at + 2 + cl + 2 > len)
        return false;
    memcpy (s->city, in + at + 2, cl);
    s->city[cl] = 0;
    at += 2 + cl;
    size_t pl = (size_t) in[at] << 8 | in[at + 1];
    if (pl >= sizeof s->province || at + 2 + pl != len)
        return false;
    memcpy (s->province, in + at + 2, pl);
    s->province[pl] = 0;
    return true;
}

/* ---- the question --------------------------------------------------------- */

typedef struct {
    char     sort;                  /* 'n', 'a', 'd' */
    uint8_t  after[AC_POS_MAX];
    size_t   afterlen;              /* 0: from the start */
    size_t   limit;
    int64_t  snapshot;
    char     seller[AC_ID_LEN + 1];
    uint8_t  status, category, condition;
    const char *city, *province;
    bool     has_min, has_max;
    int64_t  min, max;
    char     words[AC_SEARCH_WORDS_MAX][AC_WORD_MAX + 1];
    size_t   wlen[AC_SEARCH_WORDS_MAX];
    size_t   nwords;
    size_t   driver_word;           /* the longest: likely the rarest */
    bool     verify;                /* a word longer than its index key */
} query_t;

static bool
s_parse (ac_map_t *m, query_t *q)
{
    memset (q, 0, sizeof *q);
    const char *sort = ac_map_str (m, "sort");
    int64_t v;
    if (!sort || strlen (sort) != 1 || !strchr ("nad", sort[0]))
        return false;
    q->sort = sort[0];
    size_t alen = 0;
    const uint8_t *after = ac_map_bin (m, "after", &alen);
    if (after) {
        if (alen != (q->sort == 'n' ? AC_ID_LEN : 8 + AC_ID_LEN))
            return false;
        memcpy (q->after, after, alen);
        q->afterlen = alen;
    }
    if (!ac_map_int (m, "limit", &v) || v < 1 || v > 1000)
        return false;
    q->limit = (size_t) v;
    if (ac_map_int (m, "snapshot", &v))
        q->snapshot = v;
    const char *seller = ac_map_str (m, "seller");
    if (seller && strlen (seller) != AC_ID_LEN)
        return false;
    if (seller)
        strcpy (q->seller, seller);
    if (ac_map_int (m, "status", &v))
        q->status = (uint8_t) v;
    if (ac_map_int (m, "category", &v))
        q->category = (uint8_t) v;
    if (ac_map_int (m, "condition", &v))
        q->condition = (uint8_t) v;
    q->city = ac_map_str (m, "city");
    q->province = ac_map_str (m, "province");
    q->has_min = ac_map_int (m, "min", &q->min);
    q->has_max = ac_map_int (m, "max", &q->max);
    size_t wl = 0;
    const uint8_t *w = ac_map_bin (m, "words", &wl);
    for (size_t at = 0; w && at < wl;) {
        size_t n = w[at];
        if (!n || n > AC_WORD_MAX || at + 1 + n > wl || q->nwords == AC_SEARCH_WORDS_MAX)
            return false;
        memcpy (q->words[q->nwords], w + at + 1, n);
        q->wlen[q->nwords] = n;
        if (n > q->wlen[q->driver_word])
            q->driver_word = q->nwords;
        q->verify |= n > AC_WORD_INDEX_MAX;
        q->nwords++;
        at += 1 + n;
    }
    return true;
}

/*  The range the search walks: its prefix (before the order byte). */
static size_t
s_driver (const query_t *q, uint8_t *p)
{
    if (q->seller[0]) {
        p[0] = 's';
        memcpy (p + 1, q->seller, AC_ID_LEN);
        return 1 + AC_ID_LEN;
    }
    if (q->nwords) {
        const char *w = q->words[q->driver_word];
        size_t n = ac_word_index_len (w, q->wlen[q->driver_word]);
        p[0] = 'w';
        p[1] = (uint8_t) n;
        memcpy (p + 2, w, n);
        return 2 + n;
    }
    if (q->category) {
        p[0] = 'c';
        p[1] = q->category;
        return 2;
    }
    p[0] = 'a';
    return 1;
}

/* ---- one shard's walk ----------------------------------------------------- */

typedef struct {
    uint8_t  pos[AC_POS_MAX];
    uint8_t *mp;                    /* the rendered listing */
    size_t   mplen;
} item_t;

typedef struct {
    rt_scan_t     *scan;
    const query_t *q;
    uint32_t       shard;
    size_t         prefix;          /* entry key bytes before the position */
    size_t         poslen;
    item_t        *items;           /* this node's, growing */
    size_t         n, cap, found;   /* found: this shard's */
    size_t         budget;
    bool           cut;             /* budget spent before the range ended */
    uint8_t        last[AC_POS_MAX];
    int            err;
} walk_t;

typedef struct { const query_t *q; bool all[AC_SEARCH_WORDS_MAX]; } wcheck_t;

static void
s_wcheck (const char *w, size_t len, void *arg)
{
    wcheck_t *c = arg;
    for (size_t i = 0; i < c->q->nwords; i++)
        if (len == c->q->wlen[i] && !memcmp (w, c->q->words[i], len))
            c->all[i] = true;
}

/*  The listing's state, rendered into it (NULL mp: not a match after
    all: a long word's index key matched, the word did not). */
static int
s_render (rt_scan_t *scan, const query_t *q, item_t *it, size_t poslen)
{
    char id[4 + AC_ID_LEN + 1] = "lst_";
    memcpy (id + 4, it->pos + poslen - AC_ID_LEN, AC_ID_LEN);
    void *st = NULL;
    int rc = rt_scan_state (scan, AC_TYPE_LISTING, id, 4 + AC_ID_LEN, &st);
    if (rc)
        return rc;
    const listing_t *l = st;
    bool ok = true;
    if (q->verify) {
        wcheck_t c = { .q = q };
        ac_words (ac_listing_title (l), s_wcheck, &c);
        ac_words (ac_listing_description (l), s_wcheck, &c);
        for (size_t i = 0; i < q->nwords; i++)
            ok = ok && c.all[i];
    }
    if (ok) {
        ac_enc_t e;
        ac_enc_init (&e);
        ac_listing_render (&e, l);
        it->mp = malloc (e.sb.size);
        it->mplen = e.sb.size;
        if (it->mp)
            memcpy (it->mp, e.sb.data, e.sb.size);
        else
            rc = RT_ENOMEM;
        ac_enc_free (&e);
    }
    ac_listing_type.state_free (st);
    return rc;
}

/*  A candidate that passed the summary and the word entries. Rendered
    later, only if it makes the node's answer; at once when a word of q
    is longer than its index key (the text must confirm the match before
    it counts). */
static int
s_take (walk_t *w, const uint8_t *pos)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        item_t *it = realloc (w->items, cap * sizeof *it);
        if (!it)
            return RT_ENOMEM;
        w->items = it;
        w->cap = cap;
    }
    item_t *it = &w->items[w->n];
    memset (it, 0, sizeof *it);
    memcpy (it->pos, pos, w->poslen);
    if (w->q->verify) {
        int rc = s_render (w->scan, w->q, it, w->poslen);
        if (rc || !it->mp)
            return rc;
    }
    w->n++;
    w->found++;
    return 0;
}

static bool
s_filters (walk_t *w, const char *id26)
{
    const query_t *q = w->q;
    uint8_t mk[1 + AC_ID_LEN] = { 'm' };
    memcpy (mk + 1, id26, AC_ID_LEN);
    const void *v;
    size_t vlen;
    ac_summary_t s;
    if (rt_scan_get (w->scan, w->shard, mk, sizeof mk, &v, &vlen) || !ac_summary_unpack (v, vlen, &s))
        return false;
    if (s.status != (q->status ? q->status : 1)
        || (q->category && s.category != q->category)
        || (q->condition && s.condition != q->condition)
        || (q->city && strcmp (s.city, q->city))
        || (q->province && strcmp (s.province, q->province))
        || (q->has_min && s.price < q->min) || (q->has_max && s.price > q->max)
        || (q->snapshot && s.updated_ms > q->snapshot))
        return false;
    /*  The other words: each has its own entry for this listing. */
    for (size_t i = 0; i < q->nwords; i++) {
        if (i == q->driver_word && !q->seller[0])
            continue;
        uint8_t k[2 + AC_WORD_INDEX_MAX + 1 + AC_ID_LEN];
        size_t n = ac_word_index_len (q->words[i], q->wlen[i]);
        k[0] = 'w';
        k[1] = (uint8_t) n;
        memcpy (k + 2, q->words[i], n);
        k[2 + n] = 'n';
        memcpy (k + 3 + n, id26, AC_ID_LEN);
        if (rt_scan_get (w->scan, w->shard, k, 3 + n + AC_ID_LEN, &v, &vlen))
            return false;
    }
    return true;
}

static int
s_visit (void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void) val;
    (void) vlen;
    walk_t *w = arg;
    if (klen != w->prefix + w->poslen)
        return 0;                   /* not of this range's shape: skip */
    const uint8_t *pos = (const uint8_t *) key + w->prefix;
    memcpy (w->last, pos, w->poslen);
    w->budget--;
    const char *id26 = (const char *) pos + w->poslen - AC_ID_LEN;
    if (s_filters (w, id26) && (w->err = s_take (w, pos)))
        return 1;
    if (w->found >= w->q->limit)
        return 1;
    if (!w->budget) {
        w->cut = true;
        return 1;
    }
    return 0;
}

/*  Position order of the question's sort: negative when a comes first. */
static int
s_order (const query_t *q, const uint8_t *a, const uint8_t *b, size_t len)
{
    int c = memcmp (a, b, len);
    return q->sort == 'a' ? c : -c;
}

static int
s_keycmp (const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp (a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

static int
s_cmp_items (const void *x, const void *y, void *arg)
{
    const query_t *q = arg;
    return s_order (q, ((const item_t *) x)->pos, ((const item_t *) y)->pos,
                    q->sort == 'n' ? AC_ID_LEN : 8 + AC_ID_LEN);
}

static int
s_service (rt_runtime_t *rt, void *arg, const void *body, size_t len, rt_reply_t *reply)
{
    (void) arg;
    ac_map_t *m = ac_map_decode (body, len);
    query_t *q = malloc (sizeof *q);
    bool ok = m && q && s_parse (m, q);
    if (!ok) {
        ac_map_destroy (&m);
        free (q);
        return RT_EINVAL;
    }
    rt_scan_t *scan = rt_scan_open (rt);
    if (!scan) {
        ac_map_destroy (&m);
        free (q);
        return RT_EOVERLOADED;
    }
    uint8_t pre[2 + AC_ID_LEN + AC_WORD_INDEX_MAX];
    size_t plen = s_driver (q, pre);
    size_t poslen = q->sort == 'n' ? AC_ID_LEN : 8 + AC_ID_LEN;
    walk_t w = { .scan = scan, .q = q, .prefix = plen + 1, .poslen = poslen };
    uint8_t frontier[AC_POS_MAX];
    bool cut = false;
    for (uint32_t sh = 0; sh < rt_scan_shards (scan) && !w.err; sh++) {
        if (!rt_scan_owned (scan, sh))
            continue;
        /*  [lo, hi) of this order, narrowed by the price and the cursor. */
        uint8_t lo[RT_INDEX_KEY_MAX], hi[RT_INDEX_KEY_MAX], c[RT_INDEX_KEY_MAX];
        uint8_t order = q->sort == 'n' ? 'n' : 'p';
        memcpy (lo, pre, plen);
        memcpy (hi, pre, plen);
        memcpy (c, pre, plen);
        lo[plen] = c[plen] = order;
        hi[plen] = (uint8_t) (order + 1);
        size_t lol = plen + 1, hil = plen + 1;
        if (order == 'p' && q->has_min) {
            s_put64 (lo + lol, (uint64_t) q->min);
            lol += 8;
        }
        if (order == 'p' && q->has_max && q->max < INT64_MAX) {
            hi[plen] = order;
            s_put64 (hi + hil, (uint64_t) q->max + 1);
            hil += 8;
        }
        if (q->afterlen) {
            memcpy (c + plen + 1, q->after, poslen);
            size_t cl = plen + 1 + poslen;
            if (q->sort == 'a') {       /* strictly after: the position + a zero byte */
                c[cl++] = 0;
                if (s_keycmp (c, cl, lo, lol) > 0) {
                    memcpy (lo, c, cl);
                    lol = cl;
                }
            }
            else if (s_keycmp (c, cl, hi, hil) < 0) {   /* strictly before, going down */
                memcpy (hi, c, cl);
                hil = cl;
            }
        }
        w.shard = sh;
        w.found = 0;
        w.budget = AC_SEARCH_SHARD_BUDGET;
        w.cut = false;
        int n = rt_scan_index (scan, sh, lo, lol, hi, hil, q->sort != 'a', SIZE_MAX, s_visit, &w);
        if (n < 0 && !w.err)
            w.err = n;
        if (w.cut && (!cut || s_order (q, w.last, frontier, poslen) < 0)) {
            memcpy (frontier, w.last, poslen);
            cut = true;
        }
    }
    uint8_t covered[RT_SHARDS_MAX / 8 + 1];
    uint32_t shards = rt_scan_shards (scan);
    int rc = w.err;
    if (!rc) {
        if (w.n > 1)
            qsort_r (w.items, w.n, sizeof *w.items, s_cmp_items, (void *) q);
        /*  Nothing past the frontier (a shard stopped there: what lies
            beyond it elsewhere comes on the next page), at most limit. */
        size_t keep = 0;
        while (keep < w.n && keep < q->limit
               && !(cut && s_order (q, w.items[keep].pos, frontier, poslen) > 0))
            keep++;
        for (size_t i = 0; i < keep && !rc; i++)
            if (!w.items[i].mp)
                rc = s_render (scan, q, &w.items[i], poslen);
        /*  Closed after the last read: covered says which shards were
            ours the whole time. */
        rt_scan_close (&scan, covered);
        rt_buf_t items = { 0 };
        for (size_t i = 0; i < keep && !rc; i++) {
            uint8_t h[1 + AC_POS_MAX + 4];
            h[0] = (uint8_t) poslen;
            memcpy (h + 1, w.items[i].pos, poslen);
            for (int b = 0; b < 4; b++)
                h[1 + poslen + b] = (uint8_t) (w.items[i].mplen >> (24 - 8 * b));
            rc = rt_buf_append (&items, h, 1 + poslen + 4);
            if (!rc)
                rc = rt_buf_append (&items, w.items[i].mp, w.items[i].mplen);
        }
        ac_enc_t e;
        ac_enc_init (&e);
        ac_enc_map (&e, cut ? 3 : 2);
        ac_enc_bin (&e, "covered", covered, (shards + 7) / 8);
        ac_enc_bin (&e, "items", items.data ? (const void *) items.data : "", items.len);
        if (cut)
            ac_enc_bin (&e, "frontier", frontier, poslen);
        rt_buf_free (&items);
        rc = ac_enc_to_reply (&e, reply);
    }
    rt_scan_close (&scan, NULL);        /* on the error path */
    for (size_t i = 0; i < w.n; i++)
        free (w.items[i].mp);
    free (w.items);
    ac_map_destroy (&m);
    free (q);
    return rc;
}

int
ac_search_register (rt_runtime_t *rt)
{
    return rt_service_register (rt, AC_SVC_SEARCH, s_service, NULL);
}
