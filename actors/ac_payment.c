/*  =========================================================================
    ac_payment.c - a payment through a partner (Midtrans, Xendit): a top-up
    of the user's wallet, or an order's payment

    Created by PAYMENT_CREATE, which the user's wallet sends durably (the
    anchor of the top-up's Idempotency-Key) and the edge also sends
    directly so the user reads the instructions at once: create is
    idempotent. Status only moves forward: pending -> settled | expired |
    failed. The partner's callbacks (PAYMENT_EVENT, already authenticated
    by the edge) may come twice, late or out of order; the state decides.

    Settlement, once: the wallet is credited (entry "topup", with post) and
    the partner's system account debited, both through the outbox in the
    settling turn. An amount that differs from the payment's is refused
    (422) and flagged for review; nothing is credited.
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

typedef struct {
    bool    exists, flagged, refused;
    char    id[32], user[32], order[32], partner[16], method[16], kind[8], status[8];
    char    partner_ref[72];
    int64_t amount, created_ms, expires_ms, settled_ms;
} payment_t;

static const char *const s_partners[] = { "midtrans", "xendit", NULL };
static const char *const s_methods[] = { "va_bca", "va_bni", "va_mandiri", "ewallet_ovo",
                                         "ewallet_dana", "qris", NULL };
static const char *const s_kinds[] = { "topup", "order", NULL };
static const char *const s_statuses[] = { "pending", "settled", "expired", "failed", NULL };

static void *
s_new (const rt_addr_t *addr)
{
    (void) addr;
    return calloc (1, sizeof (payment_t));
}

static void s_free (void *state) { free (state); }

/*  The fields a create carries (and a state holds). */
static bool
s_take_create (ac_map_t *m, payment_t *p)
{
    return ac_map_take (m, "id", p->id, sizeof p->id, NULL, false)
           && ac_map_take (m, "user_id", p->user, sizeof p->user, NULL, false)
           && ac_map_take (m, "order_id", p->order, sizeof p->order, NULL, true)
           && ac_map_take (m, "kind", p->kind, sizeof p->kind, s_kinds, false)
           && ac_map_take (m, "partner", p->partner, sizeof p->partner, s_partners, false)
           && ac_map_take (m, "method", p->method, sizeof p->method, s_methods, false)
           && ac_map_int (m, "amount", &p->amount) && p->amount >= 1 && p->amount <= AC_MONEY_MAX
           && ac_map_int (m, "created_ms", &p->created_ms)
           && ac_map_int (m, "expires_ms", &p->expires_ms) && p->expires_ms > p->created_ms;
}

static void *
s_decode (const rt_addr_t *addr, uint16_t version, const uint8_t *buf, size_t len)
{
    (void) addr;
    ac_map_t *m = version == 1 ? ac_map_decode (buf, len) : NULL;
    payment_t *p = m ? calloc (1, sizeof *p) : NULL;
    int64_t flagged = 0, refused = 0;
    bool ok = p && s_take_create (m, p)
              && ac_map_take (m, "status", p->status, sizeof p->status, s_statuses, false)
              && ac_map_take (m, "partner_ref", p->partner_ref, sizeof p->partner_ref, NULL, true)
              && ac_map_int (m, "settled_ms", &p->settled_ms)
              && ac_map_int (m, "flagged", &flagged) && ac_map_int (m, "refused", &refused);
    ac_map_destroy (&m);
    if (!ok) {
        free (p);
        return NULL;
    }
    p->exists = true;
    p->flagged = flagged;
    p->refused = refused;
    return p;
}

static int
s_encode (const void *state, rt_buf_t *out)
{
    const payment_t *p = state;
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 14);
    ac_enc_str (&e, "id", p->id);
    ac_enc_str (&e, "user_id", p->user);
    ac_enc_str (&e, "order_id", p->order[0] ? p->order : NULL);
    ac_enc_str (&e, "kind", p->kind);
    ac_enc_str (&e, "partner", p->partner);
    ac_enc_str (&e, "method", p->method);
    ac_enc_int (&e, "amount", p->amount);
    ac_enc_int (&e, "created_ms", p->created_ms);
    ac_enc_int (&e, "expires_ms", p->expires_ms);
    ac_enc_str (&e, "status", p->status);
    ac_enc_str (&e, "partner_ref", p->partner_ref[0] ? p->partner_ref : NULL);
    ac_enc_int (&e, "settled_ms", p->settled_ms);
    ac_enc_int (&e, "flagged", p->flagged);
    ac_enc_int (&e, "refused", p->refused);
    int rc = ac_enc_to_buf (&e, out);
    ac_enc_free (&e);
    return rc;
}

/* ---- the instructions a partner would give --------------------------------- */

/*  Digits derived from the payment id: the same instructions on every read. */
static void
s_digits (const char *id, const char *salt, char *out, size_t n)
{
    uint8_t h[32];
    crypto_generichash_state st;
    crypto_generichash_init (&st, NULL, 0, sizeof h);
    crypto_generichash_update (&st, (const uint8_t *) salt, strlen (salt));
    crypto_generichash_update (&st, (const uint8_t *) id, strlen (id));
    crypto_generichash_final (&st, h, sizeof h);
    for (size_t i = 0; i < n; i++)
        out[i] = (char) ('0' + h[i % sizeof h] % 10);
    out[n] = 0;
}

/*  CRC-16/CCITT-FALSE, the checksum EMVCo QR codes (QRIS) end with. */
static unsigned
s_crc16 (const char *s)
{
    unsigned crc = 0xFFFF;
    for (; *s; s++) {
        crc ^= (unsigned) (unsigned char) *s << 8;
        for (int b = 0; b < 8; b++)
            crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
        crc &= 0xFFFF;
    }
    return crc;
}

static void
s_instructions (ac_enc_t *e, const payment_t *p)
{
    char expires[32], v[200];
    ac_time_rfc3339 (p->expires_ms, expires);
    ac_enc_key (e, "instructions");
    ac_enc_map (e, 2);
    if (!strncmp (p->method, "va_", 3)) {
        /*  Each bank's VA numbers start with the partner's company code. */
        const char *prefix = !strcmp (p->method, "va_bca") ? "70012"
                           : !strcmp (p->method, "va_bni") ? "8808" : "89608";
        char d[16];
        s_digits (p->id, p->method, d, 11);
        snprintf (v, sizeof v, "%s%s", prefix, d);
        ac_enc_str (e, "va_number", v);
    }
    else if (!strcmp (p->method, "qris")) {
        char amount[24], body[160];
        int al = snprintf (amount, sizeof amount, "%lld", (long long) p->amount);
        char ref[16];
        s_digits (p->id, "qris", ref, 12);
        snprintf (body, sizeof body,
                  "00020101021226300016ID.CO.%s.WWW0112%s5204599953033605402%02d%s"
                  "5802ID5912PASAR MARKET6007JAKARTA6304",
                  !strcmp (p->partner, "midtrans") ? "MIDTR" : "XENDI", ref, al, amount);
        snprintf (v, sizeof v, "%s%04X", body, s_crc16 (body));
        ac_enc_str (e, "qr_string", v);
    }
    else {
        snprintf (v, sizeof v, !strcmp (p->partner, "midtrans")
                  ? "https://app.midtrans.com/snap/v4/redirection/%s"
                  : "https://checkout.xendit.co/web/%s", p->id);
        ac_enc_str (e, "redirect_url", v);
    }
    ac_enc_str (e, "expires_at", expires);
}

static void
s_reply (rt_ctx_t *ctx, int status, const payment_t *p)
{
    char created[32];
    ac_time_rfc3339 (p->created_ms, created);
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 9 + (p->order[0] != 0));
    ac_enc_str (&e, "id", p->id);
    ac_enc_str (&e, "kind", p->kind);
    ac_enc_str (&e, "status", p->status);
    ac_enc_key (&e, "amount");
    ac_enc_map (&e, 2);
    ac_enc_int (&e, "amount", p->amount);
    ac_enc_str (&e, "currency", AC_CURRENCY);
    ac_enc_str (&e, "partner", p->partner);
    ac_enc_str (&e, "method", p->method);
    s_instructions (&e, p);
    ac_enc_str (&e, "user_id", p->user);
    ac_enc_str (&e, "created_at", created);
    if (p->order[0])
        ac_enc_str (&e, "order_id", p->order);
    ac_enc_reply (ctx, status, &e);
}

/* ---- turns ------------------------------------------------------------- */

/*  An order's payment tells the order it exists (ok) or cannot (a body
    the order should never have sent): the order shows its payment_id
    only once GET /v1/payments/{id} can find it. */
static void
s_created_result (rt_ctx_t *ctx, const rt_msg_t *msg, const char *order, bool ok)
{
    if (!msg->from || msg->from->type != AC_TYPE_ORDER || !order || !order[0])
        return;
    if (ac_answer_result (ctx, AC_MSG_RESULT, order, AC_OP_PAYMENT, ok))
        rt_ctx_abort (ctx);
}

static void
s_create (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    payment_t *p = state;
    if (p->exists) {
        s_created_result (ctx, msg, p->order, true);
        s_reply (ctx, 200, p);      /* a retry, or the wallet's copy after the edge's */
        return;
    }
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    payment_t *n = calloc (1, sizeof *n);
    const rt_addr_t *self = rt_ctx_self (ctx);
    bool ok = m && n && s_take_create (m, n) && strlen (n->id) == self->len
              && !memcmp (n->id, self->key, self->len)
              && (strcmp (n->kind, "order") || n->order[0]);
    ac_map_destroy (&m);
    if (!ok) {
        if (n && msg->from && msg->from->type == AC_TYPE_ORDER) {
            char order[32];
            snprintf (order, sizeof order, "%.*s", (int) msg->from->len, msg->from->key);
            s_created_result (ctx, msg, order, false);
        }
        free (n);
        rt_ctx_reject (ctx, 422, NULL, 0);
        return;
    }
    n->exists = true;
    strcpy (n->status, "pending");
    rt_ctx_set_state (ctx, n);
    rt_ctx_changed (ctx);
    if (rt_ctx_remind (ctx, "expire", n->expires_ms, PAYMENT_EXPIRE, NULL, 0)) {
        rt_ctx_abort (ctx);
        return;
    }
    s_created_result (ctx, msg, n->order, true);
    s_reply (ctx, 201, n);
}

static void
s_get (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    const payment_t *p = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const char *caller = m ? ac_map_str (m, "caller") : NULL;
    const char *role = m ? ac_map_str (m, "role") : NULL;
    bool visible = p->exists && caller
                   && (!strcmp (caller, p->user) || (role && !strcmp (role, "admin")));
    ac_map_destroy (&m);
    if (!visible)
        rt_ctx_reject (ctx, 404, NULL, 0);      /* someone else's: not there for them */
    else
        s_reply (ctx, 200, p);
}

/*  Tell whoever waits on this payment (an order) how it ended. */
static int
s_tell_order (rt_ctx_t *ctx, const payment_t *p)
{
    if (!p->order[0])
        return 0;
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 2);
    ac_enc_str (&e, "payment_id", p->id);
    ac_enc_str (&e, "status", p->status);
    int rc = rt_ctx_send (ctx, AC_TYPE_ORDER, p->order, strlen (p->order), ORDER_PAYMENT,
                          e.sb.data, e.sb.size);
    ac_enc_free (&e);
    return rc;
}

static int
s_flag (rt_ctx_t *ctx, const payment_t *p, const char *kind, const char *detail)
{
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 3);
    ac_enc_str (&e, "kind", kind);
    ac_enc_str (&e, "user_id", p->user);
    ac_enc_str (&e, "detail", detail);
    int rc = rt_ctx_send (ctx, AC_TYPE_FLAGS, "review", 6, FLAGS_ADD, e.sb.data, e.sb.size);
    ac_enc_free (&e);
    return rc;
}

/*  Money in: the wallet (with post) and the partner's account, in this turn. */
static int
s_settle (rt_ctx_t *ctx, payment_t *p)
{
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 4);
    ac_enc_str (&e, "ref", p->id);
    ac_enc_int (&e, "amount", p->amount);
    ac_enc_int (&e, "kind", AC_ENTRY_TOPUP);
    ac_enc_int (&e, "post", 1);
    int rc = rt_ctx_send (ctx, AC_TYPE_WALLET, p->user, strlen (p->user), WALLET_CREDIT,
                          e.sb.data, e.sb.size);
    ac_enc_free (&e);
    char account[32];
    snprintf (account, sizeof account, "partner:%s", p->partner);
    return rc ? rc : ac_post_account (ctx, account, p->id, -p->amount);
}

static void
s_answer (rt_ctx_t *ctx, int status, const char *detail, const payment_t *p)
{
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, detail ? 2 : 1);
    ac_enc_str (&e, "status", p->status);
    if (detail)
        ac_enc_str (&e, "detail", detail);
    ac_enc_reply (ctx, status, &e);
}

static void
s_event (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    payment_t *p = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const char *partner = m ? ac_map_str (m, "partner") : NULL;
    const char *status = m ? ac_map_str (m, "status") : NULL;
    const char *ref = m ? ac_map_str (m, "partner_ref") : NULL;
    int64_t amount = -1;
    bool ok = partner && status && ac_oneof (status, s_statuses) && ac_map_int (m, "amount", &amount);
    if (!p->exists || !ok) {
        ac_map_destroy (&m);
        rt_ctx_reject (ctx, p->exists ? 422 : 404, NULL, 0);
        return;
    }
    if (strcmp (partner, p->partner)) {
        ac_map_destroy (&m);
        ac_refuse (ctx, 422, "the payment is not with this partner");
        return;
    }
    /*  Forward only: a terminal status stays; "pending" changes nothing. */
    if (strcmp (p->status, "pending") || !strcmp (status, "pending")) {
        ac_map_destroy (&m);
        s_answer (ctx, 200, NULL, p);
        return;
    }
    if (!strcmp (status, "settled") && amount != p->amount) {
        char detail[128];
        snprintf (detail, sizeof detail, "%s paid %lld for %s of %lld", p->partner,
                  (long long) amount, p->id, (long long) p->amount);
        ac_map_destroy (&m);
        if (!p->flagged) {
            p->flagged = true;
            rt_ctx_changed (ctx);
            if (s_flag (ctx, p, "payment_amount_mismatch", detail)) {
                rt_ctx_abort (ctx);
                return;
            }
        }
        ac_refuse (ctx, 422, "the amount paid differs from the payment's");
        return;
    }
    snprintf (p->status, sizeof p->status, "%s", status);
    if (ref && strlen (ref) < sizeof p->partner_ref)
        strcpy (p->partner_ref, ref);
    ac_map_destroy (&m);
    p->settled_ms = rt_ctx_now_ms (ctx);
    rt_ctx_changed (ctx);
    rt_ctx_cancel_reminder (ctx, "expire");
    if ((!strcmp (p->status, "settled") && s_settle (ctx, p)) || s_tell_order (ctx, p)) {
        rt_ctx_abort (ctx);
        return;
    }
    s_answer (ctx, 200, NULL, p);
}

/*  The reminder: unpaid at expires_ms. It may fire late or twice. */
static void
s_expire (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    (void) msg;
    payment_t *p = state;
    if (!p->exists || strcmp (p->status, "pending") || rt_ctx_now_ms (ctx) < p->expires_ms)
        return;
    strcpy (p->status, "expired");
    rt_ctx_changed (ctx);
    if (s_tell_order (ctx, p))
        rt_ctx_abort (ctx);
}

static void
s_posted (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    (void) ctx, (void) state, (void) msg;     /* the wallet has the money: nothing to do */
}

/*  The wallet could not take the money (its balance limit): the partner's
    account is given it back, and the payment flagged for a person. */
static void
s_voided (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    (void) msg;
    payment_t *p = state;
    if (!p->exists || p->refused)
        return;
    p->refused = true;
    rt_ctx_changed (ctx);
    char account[32];
    snprintf (account, sizeof account, "partner:%s", p->partner);
    if (ac_post_account (ctx, account, p->id, p->amount)
        || s_flag (ctx, p, "payment_credit_refused",
                   "the wallet's balance limit refused a settlement"))
        rt_ctx_abort (ctx);
}

/*  'P' PARTNER_CODE PAYMENT_ID -> [status code][amount:8][settled_ms:8]:
    reconciliation walks a partner's payments (AC_SVC_PAYMENTS). */
static void
s_index (const rt_addr_t *addr, const void *state, rt_index_emit_fn *emit, void *sink)
{
    const payment_t *p = state;
    if (!p->exists)
        return;
    uint8_t k[2 + RT_KEY_MAX], v[17];
    k[0] = 'P';
    k[1] = (uint8_t) (!strcmp (p->partner, "midtrans") ? 'm' : 'x');
    memcpy (k + 2, addr->key, addr->len);
    v[0] = (uint8_t) p->status[0];
    ac_put64 (v + 1, p->amount);
    ac_put64 (v + 9, p->settled_ms);
    emit (sink, k, 2 + addr->len, v, sizeof v);
}

const rt_type_def_t ac_payment_type = {
    .name = "payment",
    .state_version = 1,
    .state_new = s_new,
    .state_decode = s_decode,
    .state_encode = s_encode,
    .state_free = s_free,
    .handlers = { [PAYMENT_CREATE] = s_create, [PAYMENT_GET] = s_get,
                  [PAYMENT_EVENT] = s_event, [PAYMENT_EXPIRE] = s_expire,
                  [AC_MSG_POSTED] = s_posted, [AC_MSG_VOIDED] = s_voided },
    .reads = 1ull << PAYMENT_GET,
    .index = s_index,
};

/* ---- a partner's settled payments, on every node (AC_SVC_PAYMENTS) --------------- */

#define ITEM (32 + 8 + 8)

typedef struct {
    uint8_t *items;             /* [id:32][amount:8][settled:8] */
    size_t   n, cap, shard_n, limit;
} walk_t;

static int
s_visit (void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    walk_t *w = arg;
    const uint8_t *v = val;
    if (w->shard_n >= w->limit)
        return 1;
    if (klen < 3 || klen - 2 > 31 || vlen != 17 || v[0] != 's')
        return 0;                       /* only settled ones */
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        uint8_t *b = realloc (w->items, cap * ITEM);
        if (!b)
            return RT_ENOMEM;
        w->items = b;
        w->cap = cap;
    }
    uint8_t *it = w->items + w->n * ITEM;
    memset (it, 0, ITEM);
    memcpy (it, (const uint8_t *) key + 2, klen - 2);
    memcpy (it + 32, v + 1, 16);
    w->n++;
    w->shard_n++;
    return 0;
}

static int
s_by_id (const void *a, const void *b)
{
    return memcmp (a, b, 32);
}

static int
s_payments_service (rt_runtime_t *rt, void *arg, const void *body, size_t len, rt_reply_t *reply)
{
    (void) arg;
    ac_map_t *m = ac_map_decode (body, len);
    const char *partner = m ? ac_map_str (m, "partner") : NULL;
    const char *after = m ? ac_map_str (m, "after") : NULL;
    int64_t limit = 0;
    if (!partner || strlen (partner) != 1 || !after || strlen (after) > 31
        || !ac_map_int (m, "limit", &limit) || limit < 1 || limit > AC_PAYMENTS_PAGE_MAX) {
        ac_map_destroy (&m);
        return RT_EINVAL;
    }
    uint8_t lo[2 + 32 + 1], hi[2] = { 'P', (uint8_t) (partner[0] + 1) };
    size_t lol = 2;
    lo[0] = 'P';
    lo[1] = (uint8_t) partner[0];
    if (after[0]) {                     /* strictly after: the id and a zero byte */
        memcpy (lo + 2, after, strlen (after));
        lol += strlen (after);
        lo[lol++] = 0;
    }
    ac_map_destroy (&m);
    rt_scan_t *scan = rt_scan_open (rt);
    if (!scan)
        return RT_EOVERLOADED;
    walk_t w = { .limit = (size_t) limit };
    int rc = 0;
    for (uint32_t sh = 0; sh < rt_scan_shards (scan) && !rc; sh++) {
        if (!rt_scan_owned (scan, sh))
            continue;
        w.shard_n = 0;
        int n = rt_scan_index (scan, sh, lo, lol, hi, sizeof hi, false, SIZE_MAX, s_visit, &w);
        if (n < 0)
            rc = n;
        if (w.n > 1)
            qsort (w.items, w.n, ITEM, s_by_id);
        if (w.n > w.limit)
            w.n = w.limit;              /* the smallest limit so far */
    }
    uint8_t covered[RT_SHARDS_MAX / 8 + 1];
    uint32_t shards = rt_scan_shards (scan);
    rt_scan_close (&scan, covered);
    if (!rc) {
        ac_enc_t e;
        ac_enc_init (&e);
        ac_enc_map (&e, 2);
        ac_enc_bin (&e, "covered", covered, (shards + 7) / 8);
        ac_enc_bin (&e, "items", w.items ? (const void *) w.items : "", w.n * ITEM);
        rc = ac_enc_to_reply (&e, reply);
    }
    free (w.items);
    return rc;
}

static int
s_lookup_service (rt_runtime_t *rt, void *arg, const void *body, size_t len, rt_reply_t *reply)
{
    (void) arg;
    ac_map_t *m = ac_map_decode (body, len);
    size_t il = 0;
    const uint8_t *ids = m ? ac_map_bin (m, "ids", &il) : NULL;
    if (!ids || il % 32 || il / 32 > AC_LOOKUP_MAX) {
        ac_map_destroy (&m);
        return RT_EINVAL;
    }
    rt_scan_t *scan = rt_scan_open (rt);
    uint8_t *out = scan ? malloc (il / 32 * AC_LOOKUP_ITEM + 1) : NULL;
    if (!out) {
        rt_scan_close (&scan, NULL);
        ac_map_destroy (&m);
        return scan ? RT_ENOMEM : RT_EOVERLOADED;
    }
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < il / 32 && !rc; i++) {
        const char *id = (const char *) ids + i * 32;
        size_t kl = strnlen (id, 32);
        if (kl == 0 || kl > 31)
            continue;
        uint32_t shard = rt_shard_of (AC_TYPE_PAYMENT, id, kl, rt_scan_shards (scan));
        if (!rt_scan_owned (scan, shard))
            continue;                   /* another node's */
        void *st = NULL;
        rc = rt_scan_state (scan, AC_TYPE_PAYMENT, id, kl, &st);
        const payment_t *p = st;
        uint8_t *it = out + n++ * AC_LOOKUP_ITEM;
        memset (it, 0, AC_LOOKUP_ITEM);
        memcpy (it, id, kl);
        if (!rc && p && p->exists) {
            it[32] = (uint8_t) p->status[0];
            it[33] = (uint8_t) p->partner[0];
            ac_put64 (it + 34, p->amount);
        }
        s_free (st);
    }
    uint8_t covered[RT_SHARDS_MAX / 8 + 1];
    uint32_t shards = rt_scan_shards (scan);
    rt_scan_close (&scan, covered);
    ac_map_destroy (&m);
    if (!rc) {
        ac_enc_t e;
        ac_enc_init (&e);
        ac_enc_map (&e, 2);
        ac_enc_bin (&e, "covered", covered, (shards + 7) / 8);
        ac_enc_bin (&e, "items", out, n * AC_LOOKUP_ITEM);
        rc = ac_enc_to_reply (&e, reply);
    }
    free (out);
    return rc;
}

int
ac_payments_register (rt_runtime_t *rt)
{
    int rc = rt_service_register (rt, AC_SVC_PAYMENTS, s_payments_service, NULL);
    return rc ? rc : rt_service_register (rt, AC_SVC_PAYMENT_LOOKUP, s_lookup_service, NULL);
}
