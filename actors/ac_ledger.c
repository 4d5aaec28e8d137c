/*  =========================================================================
    ac_ledger.c - ledger entries, the page actor that archives them, and
    the summary service that adds every account up

    An entry's id is not stored: it is made from the wallet, the entry's
    seq and its time (ac_ulid), so it is the same on every read and two
    entries never share one.
    =========================================================================
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "ac_types.h"
#include "ac_ledger.h"
#include "runtime/rt_error.h"
#include "runtime/rt_log.h"

static const char *const s_kinds[AC_ENTRY_KINDS] = {
    [AC_ENTRY_ADMIN_CREDIT] = "admin_credit",
    [AC_ENTRY_TRANSFER_OUT] = "transfer_out",
    [AC_ENTRY_TRANSFER_IN] = "transfer_in",
    [AC_ENTRY_TRANSFER_VOID] = "transfer_void",
    [AC_ENTRY_TOPUP] = "topup",
    [AC_ENTRY_ORDER_PAYMENT] = "order_payment",
    [AC_ENTRY_ORDER_SALE] = "order_sale",
    [AC_ENTRY_REFUND_OUT] = "refund_out",
    [AC_ENTRY_REFUND_IN] = "refund_in",
    [AC_ENTRY_FEE_REFUND] = "fee_refund",
};

const char *const ac_accounts[] = {
    "adjustments", "fees", "cod", "partner:midtrans", "partner:xendit", NULL,
};

void
ac_put64 (uint8_t *p, int64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t) ((uint64_t) v >> (56 - 8 * i));
}

int64_t
ac_get64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t) v;
}

void
ac_entry_pack (const ac_entry_t *en, uint8_t out[AC_ENTRY_PACKED])
{
    memset (out, 0, AC_ENTRY_PACKED);
    ac_put64 (out, en->seq);
    ac_put64 (out + 8, en->amount);
    ac_put64 (out + 16, en->balance_after);
    ac_put64 (out + 24, en->created_ms);
    out[32] = en->kind;
    memcpy (out + 33, en->ref, strnlen (en->ref, 30));
}

bool
ac_entry_unpack (const uint8_t in[AC_ENTRY_PACKED], ac_entry_t *en)
{
    en->seq = ac_get64 (in);
    en->amount = ac_get64 (in + 8);
    en->balance_after = ac_get64 (in + 16);
    en->created_ms = ac_get64 (in + 24);
    en->kind = in[32];
    memcpy (en->ref, in + 33, 31);
    en->ref[31] = 0;
    return en->kind > 0 && en->kind < AC_ENTRY_KINDS && en->seq > 0;
}

void
ac_entry_render (ac_enc_t *e, const char *user, const ac_entry_t *en)
{
    /*  80 bits from (wallet, seq): unique per entry, stable across reads. */
    char seed[48], id[32], at[32];
    uint8_t rnd[10];
    int n = snprintf (seed, sizeof seed, "%s/%lld", user, (long long) en->seq);
    crypto_generichash (rnd, sizeof rnd, (const uint8_t *) seed, (size_t) n, NULL, 0);
    ac_ulid ("ent_", (uint64_t) en->created_ms, rnd, id);
    ac_time_rfc3339 (en->created_ms, at);
    ac_enc_map (e, 6);
    ac_enc_str (e, "id", id);
    ac_enc_str (e, "kind", s_kinds[en->kind]);
    ac_enc_int (e, "amount", en->amount);
    ac_enc_int (e, "balance_after", en->balance_after);
    ac_enc_str (e, "ref", en->ref);
    ac_enc_str (e, "created_at", at);
}

void
ac_entries_render (ac_enc_t *e, const char *user, const uint8_t *packed, size_t n,
                   int64_t before, size_t limit)
{
    /*  Ascending seq: the newest below `before` are the last ones. */
    size_t end = n;
    while (end > 0 && ac_get64 (packed + (end - 1) * AC_ENTRY_PACKED) >= before)
        end--;
    size_t count = end < limit ? end : limit;
    int64_t last = 0;
    ac_enc_key (e, "items");
    msgpack_pack_array (&e->pk, count);
    for (size_t i = 0; i < count; i++) {
        ac_entry_t en;
        ac_entry_unpack (packed + (end - 1 - i) * AC_ENTRY_PACKED, &en);
        ac_entry_render (e, user, &en);
        last = en.seq;
    }
    ac_enc_int (e, "last", last);
}

void
ac_account_key (const char *name, const char *ref, char out[RT_KEY_MAX])
{
    uint8_t h[4];
    crypto_generichash (h, sizeof h, (const uint8_t *) ref, strlen (ref), NULL, 0);
    uint32_t k = ((uint32_t) h[0] << 8 | h[1]) % AC_ACCOUNT_SHARDS;
    snprintf (out, RT_KEY_MAX, "%s#%u", name, k);
}

int
ac_post_account (rt_ctx_t *ctx, const char *name, const char *ref, int64_t amount)
{
    char key[RT_KEY_MAX];
    ac_account_key (name, ref, key);
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 2);
    ac_enc_str (&e, "ref", ref);
    ac_enc_int (&e, "amount", amount);
    int rc = rt_ctx_send (ctx, AC_TYPE_ACCOUNT, key, strlen (key), ACCOUNT_POST, e.sb.data,
                          e.sb.size);
    ac_enc_free (&e);
    return rc;
}

/* ---- the page actor: AC_LEDGER_PAGE entries of one wallet, written once ---- */

typedef struct {
    bool     exists;
    char     owner[32];
    int64_t  page;
    uint8_t *entries;
    size_t   len;
} page_t;

static void *
s_page_new (const rt_addr_t *addr)
{
    (void) addr;
    return calloc (1, sizeof (page_t));
}

static void
s_page_free (void *state)
{
    page_t *p = state;
    if (p)
        free (p->entries);
    free (p);
}

/*  The entries bin must be whole entries of this page, in order. */
static bool
s_page_take (page_t *p, ac_map_t *m)
{
    size_t len = 0;
    const uint8_t *b = ac_map_bin (m, "entries", &len);
    const char *owner = ac_map_str (m, "owner");
    if (!b || !owner || strlen (owner) >= sizeof p->owner || !ac_map_int (m, "page", &p->page)
        || p->page < 0 || len != AC_LEDGER_PAGE * AC_ENTRY_PACKED)
        return false;
    for (size_t i = 0; i < AC_LEDGER_PAGE; i++)
        if (ac_get64 (b + i * AC_ENTRY_PACKED) != p->page * AC_LEDGER_PAGE + (int64_t) i + 1)
            return false;
    p->entries = malloc (len);
    if (!p->entries)
        return false;
    memcpy (p->entries, b, len);
    p->len = len;
    strcpy (p->owner, owner);
    return true;
}

static void *
s_page_decode (const rt_addr_t *addr, uint16_t version, const uint8_t *buf, size_t len)
{
    (void) addr;
    ac_map_t *m = version == 1 ? ac_map_decode (buf, len) : NULL;
    page_t *p = m ? calloc (1, sizeof *p) : NULL;
    if (p && !s_page_take (p, m)) {
        s_page_free (p);
        p = NULL;
    }
    ac_map_destroy (&m);
    if (p)
        p->exists = true;
    return p;
}

static int
s_page_encode (const void *state, rt_buf_t *out)
{
    const page_t *p = state;
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 3);
    ac_enc_str (&e, "owner", p->owner);
    ac_enc_int (&e, "page", p->page);
    ac_enc_bin (&e, "entries", p->entries, p->len);
    int rc = ac_enc_to_buf (&e, out);
    ac_enc_free (&e);
    return rc;
}

static void
s_page_put (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    page_t *p = state;
    if (!msg->from || msg->from->type != AC_TYPE_WALLET)
        return;                 /* only a wallet's outbox writes pages */
    int64_t page = -1;
    if (!p->exists) {
        ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
        page_t *n = m ? calloc (1, sizeof *n) : NULL;
        if (!n || !s_page_take (n, m)) {
            ac_map_destroy (&m);
            s_page_free (n);
            rt_log ("error", "ledger.page_refused", "\"bytes\":%zu", msg->body_len);
            rt_ctx_abort (ctx);     /* redelivered: the wallet waits for this page */
            return;
        }
        ac_map_destroy (&m);
        n->exists = true;
        rt_ctx_set_state (ctx, n);
        rt_ctx_changed (ctx);
        p = n;
    }
    page = p->page;
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 1);
    ac_enc_int (&e, "page", page);
    if (rt_ctx_send (ctx, AC_TYPE_WALLET, msg->from->key, msg->from->len, WALLET_PAGE_STORED,
                     e.sb.data, e.sb.size))
        rt_ctx_abort (ctx);
    ac_enc_free (&e);
}

static void
s_page_entries (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    page_t *p = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    int64_t before = 0, limit = 0;
    bool ok = m && ac_map_int (m, "before", &before) && ac_map_int (m, "limit", &limit)
              && limit > 0 && limit <= 1000;
    ac_map_destroy (&m);
    if (!ok || !p->exists) {
        rt_ctx_reject (ctx, ok ? 404 : 422, NULL, 0);
        return;
    }
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 2);
    ac_entries_render (&e, p->owner, p->entries, p->len / AC_ENTRY_PACKED,
                       before > 0 ? before : INT64_MAX, (size_t) limit);
    ac_enc_reply (ctx, 200, &e);
}

const rt_type_def_t ac_ledger_page_type = {
    .name = "ledger_page",
    .state_version = 1,
    .state_new = s_page_new,
    .state_decode = s_page_decode,
    .state_encode = s_page_encode,
    .state_free = s_page_free,
    .handlers = { [LEDGER_PAGE_PUT] = s_page_put, [LEDGER_PAGE_ENTRIES] = s_page_entries },
    .reads = 1ull << LEDGER_PAGE_ENTRIES,
};

/* ---- the summary: every wallet and account of this node's shards ------------ */

typedef struct {
    int64_t wallets, balance, held, in_transit;
    int64_t accounts[16];
    int     err;
} sum_t;

static bool
s_add (int64_t *acc, int64_t v)
{
    return !__builtin_add_overflow (*acc, v, acc);
}

static int
s_visit (void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    sum_t *s = arg;
    const uint8_t *k = key, *v = val;
    if (klen >= 3 && k[1] == 'w' && vlen == 24) {
        s->wallets++;
        if (!s_add (&s->balance, ac_get64 (v)) || !s_add (&s->held, ac_get64 (v + 8))
            || !s_add (&s->in_transit, ac_get64 (v + 16)))
            s->err = RT_ETOOBIG;
    }
    else if (klen >= 3 && k[1] == 'a' && vlen == 8) {
        const char *hash = memchr (k + 2, '#', klen - 2);
        size_t nl = hash ? (size_t) (hash - (const char *) (k + 2)) : 0;
        for (size_t i = 0; ac_accounts[i]; i++)
            if (strlen (ac_accounts[i]) == nl && !memcmp (ac_accounts[i], k + 2, nl)
                && !s_add (&s->accounts[i], ac_get64 (v)))
                s->err = RT_ETOOBIG;
    }
    return s->err;
}

static int
s_summary (rt_runtime_t *rt, void *arg, const void *body, size_t len, rt_reply_t *reply)
{
    (void) arg, (void) body, (void) len;
    rt_scan_t *scan = rt_scan_open (rt);
    if (!scan)
        return RT_EOVERLOADED;
    sum_t s = { 0 };
    for (uint32_t sh = 0; sh < rt_scan_shards (scan) && !s.err; sh++) {
        if (!rt_scan_owned (scan, sh))
            continue;
        int n = rt_scan_index (scan, sh, "L", 1, "M", 1, false, SIZE_MAX, s_visit, &s);
        if (n < 0 && !s.err)
            s.err = n;
    }
    uint8_t covered[RT_SHARDS_MAX / 8 + 1];
    uint32_t shards = rt_scan_shards (scan);
    rt_scan_close (&scan, covered);
    if (s.err)
        return s.err;
    size_t naccounts = 0;
    while (ac_accounts[naccounts])
        naccounts++;
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 5 + naccounts);
    ac_enc_bin (&e, "covered", covered, (shards + 7) / 8);
    ac_enc_int (&e, "wallets", s.wallets);
    ac_enc_int (&e, "balance", s.balance);
    ac_enc_int (&e, "held", s.held);
    ac_enc_int (&e, "in_transit", s.in_transit);
    for (size_t i = 0; i < naccounts; i++)
        ac_enc_int (&e, ac_accounts[i], s.accounts[i]);
    return ac_enc_to_reply (&e, reply);
}

int
ac_ledger_register (rt_runtime_t *rt)
{
    return rt_service_register (rt, AC_SVC_LEDGER, s_summary, NULL);
}
