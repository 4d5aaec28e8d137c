/*  =========================================================================
    ed_search.c - GET /v1/listings: one question to every node, one page

    Every node answers for the shards it serves (actors/ac_search.c): its
    best `limit + 1` after the cursor, and how far it got if its work
    budget ran out (its frontier). This merges: the answers must cover
    every shard exactly once (else a node is down or a shard is moving:
    503, retry), the page is the first `limit` in order that lie before
    the nearest frontier, and the cursor is the position of the page's
    last item (or that frontier).

    The cursor is opaque: base64url of [1][sort][snapshot ms:8][query
    hash:8][position]. The snapshot is the time the first page was asked:
    later pages leave out listings changed after it, so a listing edited
    while someone pages (and moved in the order) is not shown twice; one
    that was not changed is never skipped. The query hash ties a cursor to
    its filters (another query's cursor is 400).
    =========================================================================
*/
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "ed_search.h"
#include "ed_server.h"
#include "ed_mp.h"
#include "ed_json.h"
#include "ed_cover.h"
#include "actors/ac_types.h"
#include "actors/ac_codec.h"
#include "actors/ac_search.h"
#include "actors/ac_words.h"
#include "runtime/rt_error.h"

/*  API.md: limit 1..100, default 20. */
#define PAGE_DEFAULT 20
#define PAGE_MAX 100
/*  q: at most this many characters (AC_SEARCH_WORDS_MAX words are used). */
#define Q_MAX 200

typedef struct {
    char     sort;                  /* n a d */
    char     category[16], condition[8], status[16];
    char     city[808], province[808];     /* lower-cased: up to 1.5 times the bytes */
    char     seller[32];
    char     q[Q_MAX * 4 + 1];
    bool     has_min, has_max;
    int64_t  min, max;
    long     limit;
    uint8_t  hash[8];               /* of everything above but limit */
    int64_t  snapshot;
    uint8_t  after[AC_POS_MAX];
    size_t   afterlen;
    uint8_t  words[AC_SEARCH_WORDS_MAX * (AC_WORD_MAX + 1)];
    size_t   wlen, nwords;
} search_t;

static const char *const s_params[] = {
    "category", "city", "province", "min_price", "max_price", "q", "seller_id", "condition",
    "sort", "limit", "cursor", "status", NULL,
};

/*  400 naming the parameter; returns false. */
static bool
s_bad (ed_req_t *req, const char *param, const char *why)
{
    char d[160];
    snprintf (d, sizeof d, "query parameter %s: %s", param, why);
    ed_reply_problem (req, ED_P_MALFORMED, d);
    return false;
}

/*  Every parameter is one we know (a typo must not silently widen a
    search). */
static bool
s_known (ed_req_t *req)
{
    const char *qs = ed_req_query_string (req);
    while (qs && *qs) {
        size_t n = strcspn (qs, "=&");
        bool ok = false;
        for (const char *const *p = s_params; *p && !ok; p++)
            ok = strlen (*p) == n && !strncmp (*p, qs, n);
        if (!ok && n) {
            char name[40];
            snprintf (name, sizeof name, "%.*s", (int) (n < 32 ? n : 32), qs);
            return s_bad (req, name, "unknown");
        }
        qs += strcspn (qs, "&");
        qs += *qs == '&';
    }
    return true;
}

static bool
s_money (ed_req_t *req, const char *name, bool *has, int64_t *out)
{
    char buf[32];
    if (!ed_req_query (req, name, buf, sizeof buf))
        return true;
    char *end;
    long long v = strtoll (buf, &end, 10);
    if (!*buf || *end || v < 0 || v > AC_MONEY_MAX)
        return s_bad (req, name, "must be a whole number of rupiah, 0 to 10^13");
    *has = true;
    *out = v;
    return true;
}

static void
s_word (const char *w, size_t len, void *arg)
{
    search_t *s = arg;
    for (size_t at = 0, i = 0; i < s->nwords; i++, at += 1 + s->words[at])
        if (s->words[at] == len && !memcmp (s->words + at + 1, w, len))
            return;                 /* once is enough */
    if (s->nwords == AC_SEARCH_WORDS_MAX) {
        s->nwords++;                /* too many: refused by the caller */
        return;
    }
    s->words[s->wlen] = (uint8_t) len;
    memcpy (s->words + s->wlen + 1, w, len);
    s->wlen += 1 + len;
    s->nwords++;
}

static bool
s_text (ed_req_t *req, const char *name, char *out, size_t size, size_t max_chars)
{
    char buf[Q_MAX * 4 + 8];
    if (!ed_req_query (req, name, buf, sizeof buf))
        return true;            /* absent */
    if (!buf[0] || ed_utf8_len (buf) > max_chars || strlen (buf) >= size)
        return s_bad (req, name, "empty, too long, or not UTF-8");
    snprintf (out, size, "%s", buf);
    return true;
}

static bool
s_parse (ed_req_t *req, search_t *s)
{
    char buf[64], raw[404];
    memset (s, 0, sizeof *s);
    if (!s_known (req))
        return false;
    s->sort = 'n';
    if (ed_req_query (req, "sort", buf, sizeof buf)) {
        s->sort = !strcmp (buf, "newest") ? 'n' : !strcmp (buf, "price_asc") ? 'a'
                : !strcmp (buf, "price_desc") ? 'd' : 0;
        if (!s->sort)
            return s_bad (req, "sort", "newest, price_asc or price_desc");
    }
    s->limit = PAGE_DEFAULT;
    if (ed_req_query (req, "limit", buf, sizeof buf)) {
        char *end;
        s->limit = strtol (buf, &end, 10);
        if (!*buf || *end || s->limit < 1 || s->limit > PAGE_MAX)
            return s_bad (req, "limit", "1 to 100");
    }
    if (ed_req_query (req, "category", s->category, sizeof s->category)
        && !ac_category_code (s->category))
        return s_bad (req, "category", "not a category");
    if (ed_req_query (req, "condition", s->condition, sizeof s->condition)
        && !ac_condition_code (s->condition))
        return s_bad (req, "condition", "new or used");
    if (!s_money (req, "min_price", &s->has_min, &s->min)
        || !s_money (req, "max_price", &s->has_max, &s->max))
        return false;
    if (s->has_min && s->has_max && s->min > s->max)
        return s_bad (req, "min_price", "is above max_price");
    raw[0] = 0;
    if (!s_text (req, "city", raw, sizeof raw, 100))
        return false;
    if (raw[0])
        ac_lower (raw, s->city);
    raw[0] = 0;
    if (!s_text (req, "province", raw, sizeof raw, 100))
        return false;
    if (raw[0])
        ac_lower (raw, s->province);
    if (!s_text (req, "q", s->q, sizeof s->q, Q_MAX))
        return false;
    ac_words (s->q, s_word, s);
    if (s->nwords > AC_SEARCH_WORDS_MAX)
        return s_bad (req, "q", "at most 8 words");
    if (s->q[0] && !s->nwords)
        return s_bad (req, "q", "has no words");
    if (ed_req_query (req, "seller_id", s->seller, sizeof s->seller)) {
        if (!strcmp (s->seller, "me")) {
            if (!ed_req_user (req)) {
                ed_reply_problem (req, ED_P_UNAUTHORIZED, "seller_id=me needs a token");
                return false;
            }
            snprintf (s->seller, sizeof s->seller, "%s", ed_req_user (req));
        }
        else if (!ed_id_valid ("usr_", s->seller))
            return s_bad (req, "seller_id", "not a user id");
    }
    if (ed_req_query (req, "status", s->status, sizeof s->status)) {
        if (!ac_status_code (s->status))
            return s_bad (req, "status", "active, reserved, sold or expired");
        /*  Only sellers see their listings that are not active. */
        const char *me = ed_req_user (req);
        if (strcmp (s->status, "active") && (!me || strcmp (me, s->seller))) {
            ed_reply_problem (req, ED_P_FORBIDDEN, "status is for seller_id=me");
            return false;
        }
    }
    crypto_generichash_state h;
    crypto_generichash_init (&h, NULL, 0, sizeof s->hash);
    crypto_generichash_update (&h, (const uint8_t *) s, offsetof (search_t, limit));
    crypto_generichash_final (&h, s->hash, sizeof s->hash);
    return true;
}

static bool
s_cursor_in (ed_req_t *req, search_t *s)
{
    char c[128];
    if (!ed_req_query (req, "cursor", c, sizeof c)) {
        s->snapshot = 0;            /* the first page sees everything */
        return true;
    }
    uint8_t b[1 + 1 + 8 + 8 + AC_POS_MAX];
    size_t n = 0;
    size_t poslen = s->sort == 'n' ? AC_ID_LEN : 8 + AC_ID_LEN;
    if (sodium_base642bin (b, sizeof b, c, strlen (c), NULL, &n, NULL,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING)
        || n != 18 + poslen || b[0] != 1 || b[1] != (uint8_t) s->sort)
        return s_bad (req, "cursor", "not a cursor of this sort");
    if (memcmp (b + 10, s->hash, 8))
        return s_bad (req, "cursor", "belongs to another query");
    int64_t snap = 0;
    for (int i = 0; i < 8; i++)
        snap = (snap << 8) | b[2 + i];
    s->snapshot = snap;
    memcpy (s->after, b + 18, poslen);
    s->afterlen = poslen;
    return true;
}

static char *
s_cursor_out (const search_t *s, int64_t snapshot, const uint8_t *pos, size_t poslen)
{
    uint8_t b[18 + AC_POS_MAX];
    b[0] = 1;
    b[1] = (uint8_t) s->sort;
    for (int i = 0; i < 8; i++)
        b[2 + i] = (uint8_t) ((uint64_t) snapshot >> (56 - 8 * i));
    memcpy (b + 10, s->hash, 8);
    memcpy (b + 18, pos, poslen);
    size_t cap = sodium_base64_ENCODED_LEN (18 + poslen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc (cap);
    if (out)
        sodium_bin2base64 (out, cap, b, 18 + poslen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

/*  The question every node gets. */
static void
s_question (ac_enc_t *e, const search_t *s, int64_t snapshot)
{
    size_t n = 2 + (s->afterlen > 0) + (snapshot > 0) + (s->seller[0] != 0)
               + (s->status[0] != 0) + (s->category[0] != 0) + (s->condition[0] != 0)
               + (s->city[0] != 0) + (s->province[0] != 0) + s->has_min + s->has_max
               + (s->nwords > 0);
    ac_enc_init (e);
    ac_enc_map (e, n);
    char sort[2] = { s->sort, 0 };
    ac_enc_str (e, "sort", sort);
    ac_enc_int (e, "limit", s->limit + 1);
    if (s->afterlen)
        ac_enc_bin (e, "after", s->after, s->afterlen);
    if (snapshot)
        ac_enc_int (e, "snapshot", snapshot);
    if (s->seller[0])
        ac_enc_str (e, "seller", s->seller + 4);
    if (s->status[0])
        ac_enc_int (e, "status", ac_status_code (s->status));
    if (s->category[0])
        ac_enc_int (e, "category", ac_category_code (s->category));
    if (s->condition[0])
        ac_enc_int (e, "condition", ac_condition_code (s->condition));
    if (s->city[0])
        ac_enc_str (e, "city", s->city);
    if (s->province[0])
        ac_enc_str (e, "province", s->province);
    if (s->has_min)
        ac_enc_int (e, "min", s->min);
    if (s->has_max)
        ac_enc_int (e, "max", s->max);
    if (s->nwords)
        ac_enc_bin (e, "words", s->words, s->wlen);
}

typedef struct {
    const uint8_t *pos;
    const uint8_t *mp;
    size_t         mplen;
} hit_t;

static int
s_order (char sort, const uint8_t *a, const uint8_t *b, size_t len)
{
    int c = memcmp (a, b, len);
    return sort == 'a' ? c : -c;
}

static int
s_cmp_hits (const void *x, const void *y, void *arg)
{
    const search_t *s = arg;
    return s_order (s->sort, ((const hit_t *) x)->pos, ((const hit_t *) y)->pos,
                    s->sort == 'n' ? AC_ID_LEN : 8 + AC_ID_LEN);
}

void
ed_search_listings (ed_req_t *req)
{
    search_t *s = malloc (sizeof *s);
    if (!s) {
        ed_reply_problem (req, ED_P_UNAVAILABLE, "out of memory");
        return;
    }
    if (!s_parse (req, s) || !s_cursor_in (req, s)) {
        free (s);
        return;
    }
    /*  The first page takes the snapshot time, later ones carry it, and
        leave out what changed after it. One millisecond back: every node
        reads the first page in a later millisecond than that, so a change
        made after a node's read is always "after" (in the same
        millisecond it was not, and a listing that moved could come twice;
        seen once in test_search). */
    int64_t snapshot = s->snapshot ? s->snapshot : rt_now_ms () - 1;
    ac_enc_t e;
    s_question (&e, s, s->snapshot);
    rt_reply_t replies[RT_NODES_MAX];
    size_t nodes = 0;
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    int rc = rt_call_all (ed_req_runtime (req), AC_SVC_SEARCH, e.sb.data, e.sb.size,
                          (int) o->ask_timeout_ms, replies, RT_NODES_MAX, &nodes);
    ac_enc_free (&e);
    size_t poslen = s->sort == 'n' ? AC_ID_LEN : 8 + AC_ID_LEN;
    ed_cover_t cover = { 0 };
    bool cut = false;
    uint8_t frontier[AC_POS_MAX];
    hit_t *hits = NULL;
    size_t nhits = 0, cap = 0;
    ac_map_t *maps[RT_NODES_MAX] = { 0 };
    for (size_t i = 0; !rc && i < nodes; i++) {
        if (replies[i].err || replies[i].status != 200)
            continue;               /* its shards stay uncovered: 503 below */
        ac_map_t *m = maps[i] = ac_map_decode (replies[i].body, replies[i].body_len);
        size_t cl = 0, il = 0, fl = 0;
        const uint8_t *cov = m ? ac_map_bin (m, "covered", &cl) : NULL;
        const uint8_t *items = m ? ac_map_bin (m, "items", &il) : NULL;
        const uint8_t *fr = m ? ac_map_bin (m, "frontier", &fl) : NULL;
        if (!cov || !items || (fr && fl != poslen) || !ed_cover_add (&cover, cov, cl))
            continue;
        if (fr && (!cut || s_order (s->sort, fr, frontier, poslen) < 0)) {
            memcpy (frontier, fr, poslen);
            cut = true;
        }
        for (size_t at = 0; at + 1 + poslen + 4 <= il;) {
            if (items[at] != poslen)
                break;
            size_t ml = 0;
            for (int k = 0; k < 4; k++)
                ml = ml << 8 | items[at + 1 + poslen + k];
            if (at + 1 + poslen + 4 + ml > il)
                break;
            if (nhits == cap) {
                cap = cap ? cap * 2 : 64;
                hit_t *h = realloc (hits, cap * sizeof *h);
                if (!h) {
                    rc = RT_ENOMEM;
                    break;
                }
                hits = h;
            }
            hits[nhits++] = (hit_t) { items + at + 1, items + at + 1 + poslen + 4, ml };
            at += 1 + poslen + 4 + ml;
        }
    }
    json_t *out = NULL;
    if (!rc && ed_cover_whole (&cover, rt_shard_count (ed_req_runtime (req)))) {
        if (nhits > 1)
            qsort_r (hits, nhits, sizeof *hits, s_cmp_hits, s);
        size_t keep = 0;
        while (keep < nhits && !(cut && s_order (s->sort, hits[keep].pos, frontier, poslen) > 0))
            keep++;
        /*  More than a page: resume after its last item. A page cut short
            by a frontier: everything up to it has been looked at, resume
            after it. */
        const uint8_t *next = keep > (size_t) s->limit ? hits[s->limit - 1].pos
                            : cut ? frontier : NULL;
        if (keep > (size_t) s->limit)
            keep = (size_t) s->limit;
        json_t *items = json_array ();
        for (size_t i = 0; items && i < keep; i++) {
            json_t *l = ed_mp_to_json (hits[i].mp, hits[i].mplen);
            if (!l || json_array_append_new (items, l))
                rc = RT_ENOMEM;
        }
        char *cursor = next ? s_cursor_out (s, snapshot, next, poslen) : NULL;
        out = json_pack ("{s:o, s:s?}", "items", items, "next_cursor", cursor);
        free (cursor);
    }
    for (size_t i = 0; i < nodes; i++) {
        ac_map_destroy (&maps[i]);
        rt_reply_free (&replies[i]);
    }
    free (hits);
    free (s);
    if (rc) {
        json_decref (out);
        ed_reply_rt_error (req, rc);
    }
    else if (!out) {
        /*  A node down, or a shard between owners: its listings cannot be
            left out silently. */
        ed_reply_header (req, "Retry-After", "1");
        ed_reply_problem (req, ED_P_UNAVAILABLE, "some listings are not reachable right now");
    }
    else
        ed_reply_json (req, 200, out);
}
