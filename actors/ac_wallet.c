/*  =========================================================================
    ac_wallet.c - a user's wallet: balance, holds, and its ledger entries

    Every movement is an entry here and the opposite one elsewhere, and
    money between two actors moves in two phases carried by the outbox:

      WALLET_TRANSFER (source)  debits now (entry transfer_out), counts the
                                amount in_transit, sends WALLET_CREDIT
      WALLET_CREDIT (target)    credits (entry transfer_in) and answers
                                AC_MSG_POSTED, or AC_MSG_VOIDED if it cannot,
                                as the credit's receipt (rt_ctx_receipt)
      AC_MSG_POSTED (source)    the amount is no longer in transit
      AC_MSG_VOIDED (source)    it comes back (entry transfer_void)

    Each step is one turn, committed with the message it sends, so a
    crash at any moment leaves the money debited-and-in-transit or
    credited, never created, lost or doubled: the outbox delivers every
    step exactly once, after recovery too. At rest (nothing in transit)
    the wallets and system accounts sum to zero.

    Debit first, credit second: a wallet never pays out money that has
    not left another one, so no reader, however its reads interleave with
    transfers, sees more money than there is.

    The available amount is balance - held; held is escrow for orders.
    =========================================================================
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ac_types.h"
#include "ac_ledger.h"
#include "runtime/rt_error.h"
#include "runtime/rt_log.h"

/*  Money tied to a movement: an outgoing credit not confirmed yet
    (pending), or an order's escrow (holds). */
typedef struct {
    char    ref[32];
    int64_t amount;
} tied_t;

typedef struct {
    tied_t *at;
    size_t  n;
} ties_t;

#define TIED_PACKED (32 + 8)

typedef struct {
    bool       exists;
    int64_t    balance, held, in_transit;
    int64_t    seq;             /* entries so far: 1..seq */
    int64_t    archived;        /* 1..archived are in pages */
    int64_t    sending;         /* the page on its way to its actor, or -1 */
    uint8_t   *recent;          /* packed entries archived+1 .. seq */
    size_t     nrecent;
    ties_t     pending;         /* sum: in_transit */
    ties_t     holds;           /* sum: held */
} wallet_t;

/* ---- ties ------------------------------------------------------------------ */

static int
s_ties_find (const ties_t *t, const char *ref)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp (t->at[i].ref, ref))
            return (int) i;
    return -1;
}

static int
s_ties_add (ties_t *t, const char *ref, int64_t amount)
{
    tied_t *a = realloc (t->at, (t->n + 1) * sizeof *a);
    if (!a)
        return RT_ENOMEM;
    t->at = a;
    snprintf (a[t->n].ref, sizeof a->ref, "%s", ref);
    a[t->n++].amount = amount;
    return 0;
}

/*  Remove ref; its amount into *amount. False when it is not there. */
static bool
s_ties_take (ties_t *t, const char *ref, int64_t *amount)
{
    int i = ref && strlen (ref) < 32 ? s_ties_find (t, ref) : -1;
    if (i < 0)
        return false;
    *amount = t->at[i].amount;
    t->at[i] = t->at[--t->n];
    return true;
}

static bool
s_ties_decode (ties_t *t, const uint8_t *p, size_t len)
{
    if (!p || len % TIED_PACKED)
        return false;
    t->n = len / TIED_PACKED;
    t->at = calloc (t->n ? t->n : 1, sizeof *t->at);
    if (!t->at)
        return false;
    for (size_t i = 0; i < t->n; i++) {
        memcpy (t->at[i].ref, p + i * TIED_PACKED, 31);
        t->at[i].amount = ac_get64 (p + i * TIED_PACKED + 32);
    }
    return true;
}

static void
s_ties_encode (ac_enc_t *e, const char *key, const ties_t *t)
{
    uint8_t *p = calloc (t->n ? t->n : 1, TIED_PACKED);
    for (size_t i = 0; p && i < t->n; i++) {
        memcpy (p + i * TIED_PACKED, t->at[i].ref, strnlen (t->at[i].ref, 31));
        ac_put64 (p + i * TIED_PACKED + 32, t->at[i].amount);
    }
    ac_enc_bin (e, key, p ? (const void *) p : "", p ? t->n * TIED_PACKED : 0);
    free (p);
}

static void *
s_new (const rt_addr_t *addr)
{
    (void) addr;
    wallet_t *w = calloc (1, sizeof *w);
    if (w)
        w->sending = -1;
    return w;
}

static void
s_free (void *state)
{
    wallet_t *w = state;
    if (!w)
        return;
    free (w->recent);
    free (w->pending.at);
    free (w->holds.at);
    free (w);
}

static void *
s_decode (const rt_addr_t *addr, uint16_t version, const uint8_t *buf, size_t len)
{
    ac_map_t *m = version == 1 ? ac_map_decode (buf, len) : NULL;
    wallet_t *w = m ? s_new (addr) : NULL;
    size_t rl = 0, pl = 0, hl = 0;
    const uint8_t *r = m ? ac_map_bin (m, "recent", &rl) : NULL;
    const uint8_t *p = m ? ac_map_bin (m, "pending", &pl) : NULL;
    const uint8_t *h = m ? ac_map_bin (m, "holds", &hl) : NULL;
    bool ok = w && r && rl % AC_ENTRY_PACKED == 0
              && ac_map_int (m, "balance", &w->balance) && ac_map_int (m, "held", &w->held)
              && ac_map_int (m, "in_transit", &w->in_transit) && ac_map_int (m, "seq", &w->seq)
              && ac_map_int (m, "archived", &w->archived)
              && ac_map_int (m, "sending", &w->sending)
              && (int64_t) (rl / AC_ENTRY_PACKED) == w->seq - w->archived
              && s_ties_decode (&w->pending, p, pl) && s_ties_decode (&w->holds, h, hl);
    if (ok) {
        w->nrecent = rl / AC_ENTRY_PACKED;
        w->recent = malloc (rl ? rl : 1);
        ok = w->recent != NULL;
    }
    if (ok) {
        memcpy (w->recent, r, rl);
        w->exists = true;
    }
    ac_map_destroy (&m);
    if (!ok) {
        s_free (w);
        return NULL;
    }
    return w;
}

static int
s_encode (const void *state, rt_buf_t *out)
{
    const wallet_t *w = state;
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 9);
    ac_enc_int (&e, "balance", w->balance);
    ac_enc_int (&e, "held", w->held);
    ac_enc_int (&e, "in_transit", w->in_transit);
    ac_enc_int (&e, "seq", w->seq);
    ac_enc_int (&e, "archived", w->archived);
    ac_enc_int (&e, "sending", w->sending);
    ac_enc_bin (&e, "recent", w->recent ? (const void *) w->recent : "",
                w->nrecent * AC_ENTRY_PACKED);
    s_ties_encode (&e, "pending", &w->pending);
    s_ties_encode (&e, "holds", &w->holds);
    int rc = ac_enc_to_buf (&e, out);
    ac_enc_free (&e);
    return rc;
}

/* ---- helpers ------------------------------------------------------------- */

static void
s_money (ac_enc_t *e, const char *key, int64_t amount)
{
    ac_enc_key (e, key);
    ac_enc_map (e, 2);
    ac_enc_int (e, "amount", amount);
    ac_enc_str (e, "currency", AC_CURRENCY);
}

/*  Send the oldest AC_LEDGER_PAGE recent entries to their page actor,
    when there are enough and no page is on its way already. */
static void
s_archive (rt_ctx_t *ctx, wallet_t *w)
{
    if (w->sending >= 0 || w->nrecent < AC_WALLET_RECENT_ARCHIVE)
        return;
    const rt_addr_t *self = rt_ctx_self (ctx);
    int64_t page = w->archived / AC_LEDGER_PAGE;
    char key[RT_KEY_MAX];
    int kl = snprintf (key, sizeof key, "%.*s/%lld", (int) self->len, self->key, (long long) page);
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 3);
    ac_enc_strn (&e, "owner", self->key, self->len);
    ac_enc_int (&e, "page", page);
    ac_enc_bin (&e, "entries", w->recent, AC_LEDGER_PAGE * AC_ENTRY_PACKED);
    if (kl > 0 && kl < (int) sizeof key
        && !rt_ctx_send (ctx, AC_TYPE_LEDGER_PAGE, key, (size_t) kl, LEDGER_PAGE_PUT, e.sb.data,
                         e.sb.size))
        w->sending = page;
    ac_enc_free (&e);
}

/*  Append an entry for a movement already applied to the balance. */
static int
s_entry (rt_ctx_t *ctx, wallet_t *w, uint8_t kind, int64_t amount, const char *ref,
         ac_entry_t *out)
{
    uint8_t *r = realloc (w->recent, (w->nrecent + 1) * AC_ENTRY_PACKED);
    if (!r)
        return RT_ENOMEM;
    w->recent = r;
    ac_entry_t en = { .seq = w->seq + 1, .amount = amount, .balance_after = w->balance,
                      .created_ms = rt_ctx_now_ms (ctx), .kind = kind };
    snprintf (en.ref, sizeof en.ref, "%s", ref);
    ac_entry_pack (&en, w->recent + w->nrecent * AC_ENTRY_PACKED);
    w->nrecent++;
    w->seq++;
    w->exists = true;
    if (out)
        *out = en;
    rt_ctx_changed (ctx);
    s_archive (ctx, w);
    return 0;
}

/*  {ref} of a message, or false. */
static bool
s_ref (const rt_msg_t *msg, char ref[32])
{
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const char *r = m ? ac_map_str (m, "ref") : NULL;
    bool ok = r && strlen (r) < 32;
    if (ok)
        strcpy (ref, r);
    ac_map_destroy (&m);
    return ok;
}

/*  The second phase of money leaving this wallet (already debited): count
    it in transit and send the credit, answered by AC_MSG_POSTED/VOIDED. */
static int
s_send_credit (rt_ctx_t *ctx, wallet_t *w, const char *ref, const char *to, int64_t amount,
               uint8_t kind)
{
    int rc = s_ties_add (&w->pending, ref, amount);
    if (rc)
        return rc;
    w->in_transit += amount;
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 4);
    ac_enc_str (&e, "ref", ref);
    ac_enc_int (&e, "amount", amount);
    ac_enc_int (&e, "kind", kind);
    ac_enc_int (&e, "post", 1);
    rc = rt_ctx_send (ctx, AC_TYPE_WALLET, to, strlen (to), WALLET_CREDIT, e.sb.data, e.sb.size);
    ac_enc_free (&e);
    return rc;
}

/* ---- reads --------------------------------------------------------------- */

static void
s_get (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    (void) msg;
    const wallet_t *w = state;
    const rt_addr_t *self = rt_ctx_self (ctx);
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 4);
    ac_enc_strn (&e, "user_id", self->key, self->len);
    s_money (&e, "balance", w->balance);
    s_money (&e, "held", w->held);
    s_money (&e, "available", w->balance - w->held);
    ac_enc_reply (ctx, 200, &e);
}

static void
s_entries (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    const wallet_t *w = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    int64_t before = 0, limit = 0;
    bool ok = m && ac_map_int (m, "before", &before) && ac_map_int (m, "limit", &limit)
              && before >= 0 && limit > 0 && limit <= 1000;
    ac_map_destroy (&m);
    if (!ok) {
        rt_ctx_reject (ctx, 422, NULL, 0);
        return;
    }
    char user[RT_KEY_MAX + 1];
    const rt_addr_t *self = rt_ctx_self (ctx);
    snprintf (user, sizeof user, "%.*s", (int) self->len, self->key);
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 3);
    ac_entries_render (&e, user, w->recent, w->nrecent, before > 0 ? before : INT64_MAX,
                       (size_t) limit);
    ac_enc_int (&e, "archived", w->archived);
    ac_enc_reply (ctx, 200, &e);
}

/* ---- movements --------------------------------------------------------------- */

/*  A new debit, unless the wallet is backed up (pages or confirmations
    not coming back): 503, the client retries. */
static bool
s_room (rt_ctx_t *ctx, const wallet_t *w)
{
    if (w->nrecent < AC_WALLET_RECENT_MAX && w->pending.n < AC_WALLET_PENDING_MAX)
        return true;
    ac_refuse (ctx, 503, "the wallet is catching up: retry shortly");
    return false;
}

static void
s_transfer (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    wallet_t *w = state;
    const rt_addr_t *self = rt_ctx_self (ctx);
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const char *ref = m ? ac_map_str (m, "transfer_id") : NULL;
    const char *to = m ? ac_map_str (m, "to") : NULL;
    const char *note = m ? ac_map_str (m, "note") : NULL;
    int64_t amount = 0, created = 0;
    bool ok = ref && to && strlen (ref) < 32 && strlen (to) < 32 && *to
              && !(strlen (to) == self->len && !memcmp (to, self->key, self->len))
              && (!note || strlen (note) <= AC_NOTE_MAX) && ac_map_int (m, "amount", &amount)
              && amount >= 1 && amount <= AC_MONEY_MAX && ac_map_int (m, "created_ms", &created);
    if (!ok) {
        ac_map_destroy (&m);
        rt_ctx_reject (ctx, 422, NULL, 0);
        return;
    }
    if (!s_room (ctx, w)) {
        ac_map_destroy (&m);
        return;
    }
    if (w->balance - w->held < amount) {
        ac_map_destroy (&m);
        /*  402 between actor and edge: the edge answers 422 insufficient-funds. */
        ac_refuse (ctx, 402, "the wallet's available balance does not cover the amount");
        return;
    }
    w->balance -= amount;
    int rc = s_entry (ctx, w, AC_ENTRY_TRANSFER_OUT, -amount, ref, NULL);
    if (!rc)
        rc = s_send_credit (ctx, w, ref, to, amount, AC_ENTRY_TRANSFER_IN);
    if (rc) {
        ac_map_destroy (&m);
        rt_ctx_abort (ctx);     /* the debit is not kept without its credit */
        return;
    }
    char at[32];
    ac_time_rfc3339 (created, at);
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 7);
    ac_enc_str (&e, "id", ref);
    ac_enc_str (&e, "status", "completed");
    ac_enc_strn (&e, "from_user_id", self->key, self->len);
    ac_enc_str (&e, "to_user_id", to);
    s_money (&e, "amount", amount);
    ac_enc_str (&e, "note", note);
    ac_enc_str (&e, "created_at", at);
    ac_map_destroy (&m);
    ac_enc_reply (ctx, 201, &e);
}

/*  Answer a two-phase credit's sender: POST (landed) or VOID. A receipt,
    not a message of its own: the sender's turn that settles the transfer
    also deletes the credit from its outbox, so the answer costs no outbox
    entry, delivery or dedup mark of its own. */
static void
s_answer (rt_ctx_t *ctx, uint16_t msg_type, const char *ref)
{
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 1);
    ac_enc_str (&e, "ref", ref);
    if (rt_ctx_receipt (ctx, msg_type, e.sb.data, e.sb.size))
        rt_ctx_abort (ctx);     /* redelivered: the credit is tried again whole */
    ac_enc_free (&e);
}

static void
s_credit (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    wallet_t *w = state;
    if (!msg->from)
        return;                 /* only actors' outboxes move money in */
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const char *r = m ? ac_map_str (m, "ref") : NULL;
    char ref[32] = "";
    int64_t amount = 0, kind = 0, post = 0;
    bool ok = r && strlen (r) < sizeof ref && ac_map_int (m, "amount", &amount) && amount >= 1
              && amount <= AC_MONEY_MAX && ac_map_int (m, "kind", &kind) && kind > 0
              && kind < AC_ENTRY_KINDS;
    if (ok)
        strcpy (ref, r);
    if (m)
        ac_map_int (m, "post", &post);
    ac_map_destroy (&m);
    if (!ok) {
        rt_log ("error", "ledger.credit_refused", "\"bytes\":%zu", msg->body_len);
        return;
    }
    if (w->balance > AC_BALANCE_MAX - amount) {
        rt_log ("warn", "ledger.credit_overflow", "\"ref\":\"%s\"", ref);
        if (post)
            s_answer (ctx, AC_MSG_VOIDED, ref);
        return;
    }
    w->balance += amount;
    if (s_entry (ctx, w, (uint8_t) kind, amount, ref, NULL)) {
        rt_ctx_abort (ctx);
        return;
    }
    if (post)
        s_answer (ctx, AC_MSG_POSTED, ref);
}

/*  The answer to a credit this wallet sent: POSTED (it landed: no longer
    in transit) or VOIDED (it did not: the amount comes back). */
static void
s_settle (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    wallet_t *w = state;
    char ref[32];
    int64_t amount;
    if (!msg->from || !s_ref (msg, ref) || !s_ties_take (&w->pending, ref, &amount))
        return;                 /* answered already */
    w->in_transit -= amount;
    rt_ctx_changed (ctx);
    if (msg->type != AC_MSG_VOIDED)
        return;
    w->balance += amount;       /* it left this wallet: there is room for it */
    if (s_entry (ctx, w, AC_ENTRY_TRANSFER_VOID, amount, ref, NULL))
        rt_ctx_abort (ctx);
}

static void
s_admin_credit (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    wallet_t *w = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const char *r = m ? ac_map_str (m, "ref") : NULL;
    char ref[32] = "";
    int64_t amount = 0;
    bool ok = r && strlen (r) < sizeof ref && ac_map_int (m, "amount", &amount) && amount >= 1
              && amount <= AC_MONEY_MAX;
    if (ok)
        strcpy (ref, r);
    ac_map_destroy (&m);
    if (!ok) {
        rt_ctx_reject (ctx, 422, NULL, 0);
        return;
    }
    if (w->balance > AC_BALANCE_MAX - amount) {
        ac_refuse (ctx, 422, "the wallet's balance would exceed its limit");
        return;
    }
    if (!s_room (ctx, w))
        return;
    w->balance += amount;
    ac_entry_t en;
    int rc = s_entry (ctx, w, AC_ENTRY_ADMIN_CREDIT, amount, ref, &en);
    if (!rc)
        rc = ac_post_account (ctx, "adjustments", ref, -amount);
    if (rc) {
        rt_ctx_abort (ctx);
        return;
    }
    char user[RT_KEY_MAX + 1];
    const rt_addr_t *self = rt_ctx_self (ctx);
    snprintf (user, sizeof user, "%.*s", (int) self->len, self->key);
    ac_enc_t e;
    ac_enc_init (&e);
    ac_entry_render (&e, user, &en);
    ac_enc_reply (ctx, 201, &e);
}

static void
s_page_stored (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    wallet_t *w = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    int64_t page = -1;
    if (m)
        ac_map_int (m, "page", &page);
    ac_map_destroy (&m);
    if (!msg->from || page < 0 || page != w->sending || w->nrecent < AC_LEDGER_PAGE)
        return;                 /* a retry of one handled already */
    memmove (w->recent, w->recent + AC_LEDGER_PAGE * AC_ENTRY_PACKED,
             (w->nrecent - AC_LEDGER_PAGE) * AC_ENTRY_PACKED);
    w->nrecent -= AC_LEDGER_PAGE;
    w->archived += AC_LEDGER_PAGE;
    w->sending = -1;
    rt_ctx_changed (ctx);
    s_archive (ctx, w);
}

/*  The anchor of a top-up's or an order's Idempotency-Key: recorded here,
    so a retry gets the first one's id back; the entity itself is created
    by the message sent here (and by the edge directly: create is
    idempotent). who: the body's field that must name this wallet's user. */
static void
s_anchor (rt_ctx_t *ctx, const rt_msg_t *msg, const char *who, uint16_t type, uint16_t create,
          const char *answer)
{
    const rt_addr_t *self = rt_ctx_self (ctx);
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const char *id = m ? ac_map_str (m, "id") : NULL;
    const char *user = m ? ac_map_str (m, who) : NULL;
    char eid[32] = "";
    bool ok = id && user && strlen (id) < sizeof eid && strlen (user) == self->len
              && !memcmp (user, self->key, self->len);
    if (ok)
        strcpy (eid, id);
    ac_map_destroy (&m);
    if (!ok) {
        rt_ctx_reject (ctx, 422, NULL, 0);
        return;
    }
    if (rt_ctx_send (ctx, type, eid, strlen (eid), create, msg->body, msg->body_len)) {
        rt_ctx_abort (ctx);
        return;
    }
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 1);
    ac_enc_str (&e, answer, eid);
    ac_enc_reply (ctx, 200, &e);
}

static void
s_topup_new (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    (void) state;
    s_anchor (ctx, msg, "user_id", AC_TYPE_PAYMENT, PAYMENT_CREATE, "payment_id");
}

static void
s_order_new (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    (void) state;
    s_anchor (ctx, msg, "buyer_id", AC_TYPE_ORDER, ORDER_CREATE, "order_id");
}

/* ---- an order's escrow ------------------------------------------------------- */

/*  {ref, amount?, to?, fee?} of an order's message; false when malformed. */
static bool
s_order_args (const rt_msg_t *msg, char ref[32], int64_t *amount, char to[32], int64_t *fee)
{
    if (!msg->from || !s_ref (msg, ref))
        return false;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const char *t = m ? ac_map_str (m, "to") : NULL;
    *amount = *fee = 0;
    to[0] = 0;
    if (m) {
        ac_map_int (m, "amount", amount);
        ac_map_int (m, "fee", fee);
    }
    if (t && strlen (t) < 32)
        strcpy (to, t);
    ac_map_destroy (&m);
    return *amount >= 0 && *amount <= AC_MONEY_MAX && *fee >= 0 && *fee <= *amount;
}

static void
s_hold (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    wallet_t *w = state;
    char ref[32], to[32];
    int64_t amount, fee;
    if (!s_order_args (msg, ref, &amount, to, &fee))
        return;
    bool ok = s_ties_find (&w->holds, ref) >= 0;        /* held already: a retry */
    if (!ok && amount >= 1 && w->balance - w->held >= amount
        && w->holds.n < AC_WALLET_HOLDS_MAX) {
        if (s_ties_add (&w->holds, ref, amount)) {
            rt_ctx_abort (ctx);
            return;
        }
        w->held += amount;
        w->exists = true;
        rt_ctx_changed (ctx);
        ok = true;
    }
    if (ac_answer_result (ctx, AC_MSG_RESULT, ref, AC_OP_HOLD, ok))
        rt_ctx_abort (ctx);
}

static void
s_release (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    wallet_t *w = state;
    char ref[32], to[32];
    int64_t amount, fee, held;
    if (!s_order_args (msg, ref, &amount, to, &fee) || !s_ties_take (&w->holds, ref, &held))
        return;                 /* released or captured already */
    w->held -= held;
    rt_ctx_changed (ctx);
}

/*  The hold is paid: out of this wallet, the seller's share on its way,
    the platform's fee to "fees". The hold guarantees the money is here. */
static void
s_capture (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    wallet_t *w = state;
    char ref[32], to[32];
    int64_t amount, fee, held;
    if (!s_order_args (msg, ref, &amount, to, &fee) || !to[0])
        return;
    if (!s_ties_take (&w->holds, ref, &held))
        return;                 /* captured (or released) already */
    if (held != amount) {
        rt_log ("error", "ledger.capture_mismatch", "\"ref\":\"%s\"", ref);
        rt_ctx_abort (ctx);     /* never pay other than what was held */
        return;
    }
    w->held -= amount;
    w->balance -= amount;
    int rc = s_entry (ctx, w, AC_ENTRY_ORDER_PAYMENT, -amount, ref, NULL);
    if (!rc && amount - fee > 0)
        rc = s_send_credit (ctx, w, ref, to, amount - fee, AC_ENTRY_ORDER_SALE);
    if (!rc && fee > 0)
        rc = ac_post_account (ctx, "fees", ref, fee);
    if (rc)
        rt_ctx_abort (ctx);
}

/*  A seller's refund: a transfer the order asked for, if it is covered. */
static void
s_refund (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    wallet_t *w = state;
    char ref[32], to[32];
    int64_t amount, fee;
    if (!s_order_args (msg, ref, &amount, to, &fee) || !to[0])
        return;
    bool ok = amount >= 1 && w->balance - w->held >= amount
              && w->pending.n < AC_WALLET_PENDING_MAX && w->nrecent < AC_WALLET_RECENT_MAX;
    int rc = 0;
    if (ok) {
        w->balance -= amount;
        rc = s_entry (ctx, w, AC_ENTRY_REFUND_OUT, -amount, ref, NULL);
        if (!rc)
            rc = s_send_credit (ctx, w, ref, to, amount, AC_ENTRY_REFUND_IN);
    }
    if (!rc)
        rc = ac_answer_result (ctx, AC_MSG_RESULT, ref, AC_OP_REFUND, ok);
    if (rc)
        rt_ctx_abort (ctx);
}

static void
s_index (const rt_addr_t *addr, const void *state, rt_index_emit_fn *emit, void *sink)
{
    const wallet_t *w = state;
    if (!w->exists)
        return;
    uint8_t k[2 + RT_KEY_MAX], v[24];
    k[0] = 'L';
    k[1] = 'w';
    memcpy (k + 2, addr->key, addr->len);
    ac_put64 (v, w->balance);
    ac_put64 (v + 8, w->held);
    ac_put64 (v + 16, w->in_transit);
    emit (sink, k, 2 + addr->len, v, sizeof v);
}

const rt_type_def_t ac_wallet_type = {
    .name = "wallet",
    .state_version = 1,
    .state_new = s_new,
    .state_decode = s_decode,
    .state_encode = s_encode,
    .state_free = s_free,
    .handlers = { [WALLET_GET] = s_get, [WALLET_ENTRIES] = s_entries,
                  [WALLET_TRANSFER] = s_transfer, [WALLET_CREDIT] = s_credit,
                  [AC_MSG_POSTED] = s_settle, [AC_MSG_VOIDED] = s_settle,
                  [WALLET_ADMIN_CREDIT] = s_admin_credit, [WALLET_PAGE_STORED] = s_page_stored,
                  [WALLET_TOPUP_NEW] = s_topup_new, [WALLET_ORDER_NEW] = s_order_new,
                  [WALLET_HOLD] = s_hold, [WALLET_RELEASE] = s_release,
                  [WALLET_CAPTURE] = s_capture, [WALLET_REFUND] = s_refund },
    .reads = 1ull << WALLET_GET | 1ull << WALLET_ENTRIES,
    .index = s_index,
};
