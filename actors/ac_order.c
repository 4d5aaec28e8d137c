/*  =========================================================================
    ac_order.c - one order of one listing: the saga that moves the
    listing, the buyer's escrow and the seller's money

    Every step is a durable message to another actor and a durable answer
    (AC_MSG_RESULT) back, so a crash anywhere resumes where it stopped and
    nothing happens twice. Statuses (API.md §Orders):

      creating ----- listing reserved ----> (wallet)  holding -> paid
         |                                  (partner) paying -> awaiting_payment
         |                                  (cod)     awaiting_delivery
         +-- refused (sold, own listing...) -> failed (never shown: 404)
      paying -- the payment actor has it --> awaiting_payment
             (shown only then, so its payment_id can be read at once)
      holding -- funds short --> failed, listing released
      awaiting_payment -- settled --> holding -> paid
                       -- expired/failed or unpaid at the deadline --> cancelled
      paid -- ship (seller) --> shipped -- confirm (buyer) or auto --> completed
      paid | awaiting_* -- cancel (buyer or seller) --> cancelled
      awaiting_delivery -- cod-collected (seller) --> completed
      completed -- refund (seller, admin) --> refunding -> refunded
                                               (or back to completed, refund_failed)

    Completion captures the escrow (buyer -> seller minus fee -> "fees") and
    sells the listing; cancellation releases both. Any other transition is
    409. Who may do what is checked here, from {caller, role}.
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
    bool    exists;
    char    id[32], listing[32], buyer[32], seller[32], payment[32];
    char    method[8], partner[16], pmethod[16];
    char    status[20], reason[24];
    int64_t amount, fee_bps, fee, created_ms, updated_ms, pay_timeout_ms, auto_complete_ms;
    int64_t tries;              /* the step being tried again (hold, refund) */
} order_t;

/*  A settled partner payment credits the buyer's wallet and tells the
    order, by two outboxes: the order's hold may reach the wallet before
    the money does. It is tried again, once a second, this many times. */
#define HOLD_TRIES_MAX 30
#define HOLD_RETRY_MS 1000
/*  Likewise a refund asked right after completion may reach the seller's
    wallet before the sale's credit does: tried again, every 300 ms, this
    many times, before it is refused as insufficient funds. */
#define REFUND_TRIES_MAX 5
#define REFUND_RETRY_MS 300

static const char *const s_methods[] = { "wallet", "partner", "cod", NULL };

static bool
s_is (const order_t *o, const char *status)
{
    return !strcmp (o->status, status);
}

static void *
s_new (const rt_addr_t *addr)
{
    (void) addr;
    return calloc (1, sizeof (order_t));
}

static void s_free (void *state) { free (state); }

static bool
s_take_all (ac_map_t *m, order_t *o, bool state)
{
    bool ok = ac_map_take (m, "id", o->id, sizeof o->id, NULL, false)
              && ac_map_take (m, "listing_id", o->listing, sizeof o->listing, NULL, false)
              && ac_map_take (m, "buyer_id", o->buyer, sizeof o->buyer, NULL, false)
              && ac_map_take (m, "payment_method", o->method, sizeof o->method, NULL, false)
              && ac_map_take (m, "partner", o->partner, sizeof o->partner, NULL, true)
              && ac_map_take (m, "method", o->pmethod, sizeof o->pmethod, NULL, true)
              && ac_map_int (m, "fee_bps", &o->fee_bps) && o->fee_bps >= 0 && o->fee_bps <= 10000
              && ac_map_int (m, "created_ms", &o->created_ms)
              && ac_map_int (m, "pay_timeout_ms", &o->pay_timeout_ms);
    if (ok && state)
        ok = ac_map_take (m, "seller_id", o->seller, sizeof o->seller, NULL, true)
             && ac_map_take (m, "payment_id", o->payment, sizeof o->payment, NULL, true)
             && ac_map_take (m, "status", o->status, sizeof o->status, NULL, false)
             && ac_map_take (m, "reason", o->reason, sizeof o->reason, NULL, true)
             && ac_map_int (m, "amount", &o->amount) && ac_map_int (m, "fee", &o->fee)
             && ac_map_int (m, "updated_ms", &o->updated_ms)
             && ac_map_int (m, "auto_complete_ms", &o->auto_complete_ms)
             && ac_map_int (m, "tries", &o->tries);
    return ok && ac_oneof (o->method, s_methods);
}

static void *
s_decode (const rt_addr_t *addr, uint16_t version, const uint8_t *buf, size_t len)
{
    (void) addr;
    ac_map_t *m = version == 1 ? ac_map_decode (buf, len) : NULL;
    order_t *o = m ? calloc (1, sizeof *o) : NULL;
    if (o && !s_take_all (m, o, true)) {
        free (o);
        o = NULL;
    }
    ac_map_destroy (&m);
    if (o)
        o->exists = true;
    return o;
}

static void
s_opt (ac_enc_t *e, const char *key, const char *v)
{
    ac_enc_str (e, key, v[0] ? v : NULL);
}

static int
s_encode (const void *state, rt_buf_t *out)
{
    const order_t *o = state;
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 18);
    ac_enc_str (&e, "id", o->id);
    ac_enc_str (&e, "listing_id", o->listing);
    ac_enc_str (&e, "buyer_id", o->buyer);
    s_opt (&e, "seller_id", o->seller);
    s_opt (&e, "payment_id", o->payment);
    ac_enc_str (&e, "payment_method", o->method);
    s_opt (&e, "partner", o->partner);
    s_opt (&e, "method", o->pmethod);
    ac_enc_str (&e, "status", o->status);
    s_opt (&e, "reason", o->reason);
    ac_enc_int (&e, "amount", o->amount);
    ac_enc_int (&e, "fee_bps", o->fee_bps);
    ac_enc_int (&e, "fee", o->fee);
    ac_enc_int (&e, "created_ms", o->created_ms);
    ac_enc_int (&e, "updated_ms", o->updated_ms);
    ac_enc_int (&e, "pay_timeout_ms", o->pay_timeout_ms);
    ac_enc_int (&e, "auto_complete_ms", o->auto_complete_ms);
    ac_enc_int (&e, "tries", o->tries);
    int rc = ac_enc_to_buf (&e, out);
    ac_enc_free (&e);
    return rc;
}

/* ---- the view ------------------------------------------------------------- */

/*  Decided: shown to its parties. Undecided or failed orders are not orders. */
static bool
s_visible (const order_t *o)
{
    return o->exists && !s_is (o, "creating") && !s_is (o, "failed") && !s_is (o, "paying")
           && !(s_is (o, "holding") && !o->payment[0]);
}

/*  The status API.md shows: the saga's inner steps look like where they
    come from. */
static const char *
s_shown (const order_t *o)
{
    if (s_is (o, "holding"))
        return "awaiting_payment";      /* a partner payment settled, escrow being taken */
    if (s_is (o, "refunding"))
        return "completed";
    return o->status;
}

static void
s_render (ac_enc_t *e, const order_t *o)
{
    char created[32], updated[32];
    ac_time_rfc3339 (o->created_ms, created);
    ac_time_rfc3339 (o->updated_ms, updated);
    ac_enc_map (e, 9 + (o->payment[0] != 0));
    ac_enc_str (e, "id", o->id);
    ac_enc_str (e, "listing_id", o->listing);
    ac_enc_str (e, "buyer_id", o->buyer);
    ac_enc_str (e, "seller_id", o->seller);
    ac_enc_key (e, "amount");
    ac_enc_map (e, 2);
    ac_enc_int (e, "amount", o->amount);
    ac_enc_str (e, "currency", AC_CURRENCY);
    ac_enc_str (e, "payment_method", o->method);
    ac_enc_str (e, "status", s_shown (o));
    if (o->payment[0])
        ac_enc_str (e, "payment_id", o->payment);
    ac_enc_str (e, "created_at", created);
    ac_enc_str (e, "updated_at", updated);
}

/*  Answer with the order (200), or, while its saga is deciding, 202. */
static void
s_reply (rt_ctx_t *ctx, int status, const order_t *o)
{
    ac_enc_t e;
    ac_enc_init (&e);
    if (!s_visible (o) && !s_is (o, "failed")) {
        ac_enc_map (&e, 1);
        ac_enc_str (&e, "id", o->id);
        ac_enc_reply (ctx, 202, &e);
        return;
    }
    if (s_is (o, "failed")) {
        ac_enc_map (&e, 2);
        ac_enc_str (&e, "id", o->id);
        ac_enc_str (&e, "reason", o->reason);
        ac_enc_reply (ctx, 409, &e);
        return;
    }
    s_render (&e, o);
    ac_enc_reply (ctx, status, &e);
}

/* ---- steps --------------------------------------------------------------- */

static void
s_set (rt_ctx_t *ctx, order_t *o, const char *status)
{
    snprintf (o->status, sizeof o->status, "%s", status);
    o->updated_ms = rt_ctx_now_ms (ctx);
    rt_ctx_changed (ctx);
}

/*  A durable step: msg to (type, key). One body for every step: wallets
    read ref, to, amount and fee; the listing reads order_id and sold. */
static void
s_step (rt_ctx_t *ctx, const order_t *o, uint16_t type, const char *key, uint16_t msg,
        const char *to, int64_t amount, int64_t fee, bool sold)
{
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 6);
    ac_enc_str (&e, "ref", o->id);
    ac_enc_str (&e, "order_id", o->id);
    ac_enc_str (&e, "to", to);
    ac_enc_int (&e, "amount", amount);
    ac_enc_int (&e, "fee", fee);
    ac_enc_int (&e, "sold", sold);
    if (rt_ctx_send (ctx, type, key, strlen (key), msg, e.sb.data, e.sb.size))
        rt_ctx_abort (ctx);
    ac_enc_free (&e);
}

static void
s_hold (rt_ctx_t *ctx, order_t *o)
{
    rt_ctx_cancel_reminder (ctx, "unpaid");     /* paid: the deadline no longer applies */
    s_set (ctx, o, "holding");
    s_step (ctx, o, AC_TYPE_WALLET, o->buyer, WALLET_HOLD, NULL, o->amount, 0, false);
}

static void
s_release_listing (rt_ctx_t *ctx, const order_t *o, bool sold)
{
    s_step (ctx, o, AC_TYPE_LISTING, o->listing, LISTING_RELEASE, NULL, 0, 0, sold);
}

/*  The order ends without a sale: escrow and listing released. */
static void
s_cancel_now (rt_ctx_t *ctx, order_t *o, bool held)
{
    if (held && o->amount > 0)
        s_step (ctx, o, AC_TYPE_WALLET, o->buyer, WALLET_RELEASE, NULL, 0, 0, false);
    s_release_listing (ctx, o, false);
    rt_ctx_cancel_reminder (ctx, "unpaid");
    s_set (ctx, o, "cancelled");
}

static void
s_complete_now (rt_ctx_t *ctx, order_t *o)
{
    if (!strcmp (o->method, "cod")) {
        /*  The buyer paid the seller in cash; the seller owes the fee:
            "cod" holds that debt against "fees". */
        if (o->fee > 0 && (ac_post_account (ctx, "fees", o->id, o->fee)
                           || ac_post_account (ctx, "cod", o->id, -o->fee)))
            rt_ctx_abort (ctx);
    }
    else if (o->amount > 0)
        s_step (ctx, o, AC_TYPE_WALLET, o->buyer, WALLET_CAPTURE, o->seller, o->amount, o->fee,
                false);
    s_release_listing (ctx, o, true);
    rt_ctx_cancel_reminder (ctx, "complete");
    s_set (ctx, o, "completed");
}

/*  A new payment id for the order's partner payment: derived from the
    order, so a re-run of the step makes the same one. */
static void
s_payment_id (const order_t *o, char out[32])
{
    uint8_t rnd[10];
    crypto_generichash (rnd, sizeof rnd, (const uint8_t *) o->id, strlen (o->id), NULL, 0);
    ac_ulid ("pay_", (uint64_t) o->created_ms, rnd, out);
}

static void
s_start_payment (rt_ctx_t *ctx, order_t *o)
{
    s_payment_id (o, o->payment);
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 9);
    ac_enc_str (&e, "id", o->payment);
    ac_enc_str (&e, "user_id", o->buyer);
    ac_enc_str (&e, "kind", "order");
    ac_enc_str (&e, "order_id", o->id);
    ac_enc_int (&e, "amount", o->amount);
    ac_enc_str (&e, "partner", o->partner);
    ac_enc_str (&e, "method", o->pmethod);
    ac_enc_int (&e, "created_ms", rt_ctx_now_ms (ctx));
    ac_enc_int (&e, "expires_ms", o->created_ms + o->pay_timeout_ms);
    if (rt_ctx_send (ctx, AC_TYPE_PAYMENT, o->payment, strlen (o->payment), PAYMENT_CREATE,
                     e.sb.data, e.sb.size))
        rt_ctx_abort (ctx);
    ac_enc_free (&e);
    if (rt_ctx_remind (ctx, "unpaid", o->created_ms + o->pay_timeout_ms, ORDER_TIMEOUT, NULL, 0))
        rt_ctx_abort (ctx);
    s_set (ctx, o, "paying");
}

/* ---- turns ------------------------------------------------------------- */

static void
s_create (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    order_t *o = state;
    if (o->exists) {
        s_reply (ctx, 200, o);
        return;
    }
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    order_t *n = calloc (1, sizeof *n);
    const rt_addr_t *self = rt_ctx_self (ctx);
    bool ok = m && n && s_take_all (m, n, false) && strlen (n->id) == self->len
              && !memcmp (n->id, self->key, self->len) && n->pay_timeout_ms > 0
              && (strcmp (n->method, "partner") || (n->partner[0] && n->pmethod[0]));
    ac_map_destroy (&m);
    if (!ok) {
        free (n);
        rt_ctx_reject (ctx, 422, NULL, 0);
        return;
    }
    n->exists = true;
    rt_ctx_set_state (ctx, n);
    s_set (ctx, n, "creating");
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 2);
    ac_enc_str (&e, "order_id", n->id);
    ac_enc_str (&e, "buyer_id", n->buyer);
    if (rt_ctx_send (ctx, AC_TYPE_LISTING, n->listing, strlen (n->listing), LISTING_RESERVE,
                     e.sb.data, e.sb.size))
        rt_ctx_abort (ctx);
    ac_enc_free (&e);
    s_reply (ctx, 202, n);
}

/*  The seller gives back what they got: the price less the fee (the fee
    comes back from "fees"), or, cash on delivery, the whole price. */
static int64_t
s_refund_amount (const order_t *o)
{
    return strcmp (o->method, "cod") ? o->amount - o->fee : o->amount;
}

static void
s_ask_refund (rt_ctx_t *ctx, const order_t *o)
{
    s_step (ctx, o, AC_TYPE_WALLET, o->seller, WALLET_REFUND, o->buyer, s_refund_amount (o), 0,
            false);
}

/*  The seller's part is back with the buyer: the fee comes back from
    "fees" (to the buyer, or off the seller's cod debt). */
static void
s_refunded (rt_ctx_t *ctx, order_t *o)
{
    if (o->fee > 0 && strcmp (o->method, "cod")) {
        ac_enc_t e;
        ac_enc_init (&e);
        ac_enc_map (&e, 3);
        ac_enc_str (&e, "ref", o->id);
        ac_enc_int (&e, "amount", o->fee);
        ac_enc_int (&e, "kind", AC_ENTRY_FEE_REFUND);
        if (rt_ctx_send (ctx, AC_TYPE_WALLET, o->buyer, strlen (o->buyer), WALLET_CREDIT,
                         e.sb.data, e.sb.size))
            rt_ctx_abort (ctx);
        ac_enc_free (&e);
    }
    bool cod = !strcmp (o->method, "cod");
    if (o->fee > 0 && (ac_post_account (ctx, "fees", o->id, -o->fee)
                       || (cod && ac_post_account (ctx, "cod", o->id, o->fee))))
        rt_ctx_abort (ctx);
    o->reason[0] = 0;
    s_set (ctx, o, "refunded");
}

/*  How a step went: the listing's reserve, the wallet's hold or refund. */
static void
s_result (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    order_t *o = state;
    ac_map_t *m = msg->from ? ac_map_decode (msg->body, msg->body_len) : NULL;
    int64_t op = 0, ok = 0, amount = 0;
    const char *seller = m ? ac_map_str (m, "seller_id") : NULL;
    const char *reason = m ? ac_map_str (m, "reason") : NULL;
    if (m) {
        ac_map_int (m, "op", &op);
        ac_map_int (m, "ok", &ok);
        ac_map_int (m, "amount", &amount);
    }
    if (!o->exists) {
        ac_map_destroy (&m);
        return;
    }
    if (op == AC_OP_RESERVE && s_is (o, "creating")) {
        bool sane = seller && strlen (seller) < sizeof o->seller && amount >= 0
                    && amount <= AC_MONEY_MAX;
        /*  A free listing has nothing to pay through a partner. */
        bool payable = amount > 0 || strcmp (o->method, "partner");
        if (!ok || !sane || !payable) {
            snprintf (o->reason, sizeof o->reason, "%s",
                      !ok && reason ? reason : !payable ? "free_listing" : "not_available");
            if (ok)
                s_release_listing (ctx, o, false);  /* it was reserved for us */
            s_set (ctx, o, "failed");
        }
        else {
            strcpy (o->seller, seller);
            o->amount = amount;
            o->fee = amount * o->fee_bps / 10000;   /* amount <= 10^13: no overflow */
            if (!strcmp (o->method, "wallet") && amount == 0)
                s_set (ctx, o, "paid");             /* free: nothing to hold */
            else if (!strcmp (o->method, "wallet"))
                s_hold (ctx, o);
            else if (!strcmp (o->method, "partner"))
                s_start_payment (ctx, o);
            else
                s_set (ctx, o, "awaiting_delivery");
        }
    }
    else if (op == AC_OP_PAYMENT && s_is (o, "paying")) {
        if (ok)
            s_set (ctx, o, "awaiting_payment");
        else {
            strcpy (o->reason, "payment_refused");
            rt_ctx_cancel_reminder (ctx, "unpaid");
            s_release_listing (ctx, o, false);
            s_set (ctx, o, "failed");
        }
    }
    else if (op == AC_OP_HOLD && ok && !s_is (o, "holding") && !s_is (o, "paid")
             && !s_is (o, "shipped")) {
        /*  A hold that landed after the order moved on (cancelled while
            holding, or a repeated hold): give it back. */
        s_step (ctx, o, AC_TYPE_WALLET, o->buyer, WALLET_RELEASE, NULL, 0, 0, false);
    }
    else if (op == AC_OP_HOLD && s_is (o, "holding")) {
        if (ok) {
            rt_ctx_cancel_reminder (ctx, "unpaid");
            s_set (ctx, o, "paid");
        }
        else if (o->payment[0] && o->tries < HOLD_TRIES_MAX) {
            o->tries++;
            rt_ctx_changed (ctx);
            if (rt_ctx_remind (ctx, "hold", rt_ctx_now_ms (ctx) + HOLD_RETRY_MS, ORDER_TIMEOUT,
                               NULL, 0))
                rt_ctx_abort (ctx);
        }
        else if (o->payment[0]) {
            s_cancel_now (ctx, o, false);       /* paid by partner, spent meanwhile */
        }
        else {
            strcpy (o->reason, "insufficient_funds");
            s_release_listing (ctx, o, false);
            s_set (ctx, o, "failed");
        }
    }
    else if (op == AC_OP_RESERVE && ok && s_is (o, "failed")) {
        s_release_listing (ctx, o, false);      /* late answer of a retried reserve */
    }
    else if (op == AC_OP_REFUND && s_is (o, "refunding")) {
        if (ok)
            s_refunded (ctx, o);
        else if (o->tries < REFUND_TRIES_MAX) {
            o->tries++;
            rt_ctx_changed (ctx);
            if (rt_ctx_remind (ctx, "refund", rt_ctx_now_ms (ctx) + REFUND_RETRY_MS,
                               ORDER_TIMEOUT, NULL, 0))
                rt_ctx_abort (ctx);
        }
        else {
            strcpy (o->reason, "refund_failed");
            s_set (ctx, o, "completed");
        }
    }
    ac_map_destroy (&m);
}

static void
s_payment (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    order_t *o = state;
    ac_map_t *m = msg->from ? ac_map_decode (msg->body, msg->body_len) : NULL;
    const char *status = m ? ac_map_str (m, "status") : NULL;
    /*  "paying": the payment's news may overtake its answer to the create. */
    if (o->exists && status && (s_is (o, "awaiting_payment") || s_is (o, "paying"))) {
        if (!strcmp (status, "settled"))
            s_hold (ctx, o);            /* the top-up is in the wallet: escrow it */
        else if (!strcmp (status, "expired") || !strcmp (status, "failed"))
            s_cancel_now (ctx, o, false);
    }
    ac_map_destroy (&m);
}

/*  {caller, role} of an edge request, and whether the caller is one of
    the parties the action allows. Answers 404 for strangers. */
static bool
s_party (rt_ctx_t *ctx, const order_t *o, const rt_msg_t *msg, bool buyer, bool seller,
         bool admin, ac_map_t **mp)
{
    ac_map_t *m = *mp = ac_map_decode (msg->body, msg->body_len);
    const char *caller = m ? ac_map_str (m, "caller") : NULL;
    const char *role = m ? ac_map_str (m, "role") : NULL;
    bool is_admin = role && !strcmp (role, "admin");
    bool is_buyer = caller && !strcmp (caller, o->buyer);
    bool is_seller = caller && !strcmp (caller, o->seller);
    if (!s_visible (o) || !(is_buyer || is_seller || is_admin)) {
        rt_ctx_reject (ctx, 404, NULL, 0);
        return false;
    }
    if ((buyer && is_buyer) || (seller && is_seller) || (admin && is_admin))
        return true;
    ac_refuse (ctx, 403, "not for this party of the order");
    return false;
}

/*  body {caller, role, poll?}. With poll (the edge waiting for a saga it
    started), an undecided order or refund is 202, a failed one 409
    {reason}, a refund the seller could not cover 402. */
static void
s_get (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    order_t *o = state;
    ac_map_t *m = NULL;
    if (!s_visible (o)) {
        /*  Only its buyer, right after creating, asks of those. */
        m = ac_map_decode (msg->body, msg->body_len);
        const char *caller = m ? ac_map_str (m, "caller") : NULL;
        if (o->exists && caller && !strcmp (caller, o->buyer))
            s_reply (ctx, 200, o);
        else
            rt_ctx_reject (ctx, 404, NULL, 0);
        ac_map_destroy (&m);
        return;
    }
    if (s_party (ctx, o, msg, true, true, true, &m)) {
        int64_t poll = 0;
        ac_map_int (m, "poll", &poll);
        if (poll && s_is (o, "refunding"))
            rt_ctx_reject (ctx, 202, NULL, 0);
        else if (poll && s_is (o, "completed") && !strcmp (o->reason, "refund_failed"))
            rt_ctx_reject (ctx, 402, NULL, 0);
        else
            s_reply (ctx, 200, o);
    }
    ac_map_destroy (&m);
}

static void
s_conflict (rt_ctx_t *ctx, const order_t *o, const char *what)
{
    char detail[96];
    snprintf (detail, sizeof detail, "an order that is %s cannot be %s", s_shown (o), what);
    ac_refuse (ctx, 409, detail);
}

static void
s_ship (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    order_t *o = state;
    ac_map_t *m = NULL;
    if (s_party (ctx, o, msg, false, true, false, &m)) {
        int64_t after = 0;
        if (!s_is (o, "paid"))
            s_conflict (ctx, o, "shipped");
        else if (!ac_map_int (m, "auto_complete_ms", &after) || after <= 0)
            rt_ctx_reject (ctx, 422, NULL, 0);
        else {
            o->auto_complete_ms = rt_ctx_now_ms (ctx) + after;
            if (rt_ctx_remind (ctx, "complete", o->auto_complete_ms, ORDER_TIMEOUT, NULL, 0)) {
                rt_ctx_abort (ctx);
                ac_map_destroy (&m);
                return;
            }
            s_set (ctx, o, "shipped");
            s_reply (ctx, 200, o);
        }
    }
    ac_map_destroy (&m);
}

static void
s_confirm (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    order_t *o = state;
    ac_map_t *m = NULL;
    if (s_party (ctx, o, msg, true, false, false, &m)) {
        if (!s_is (o, "shipped"))
            s_conflict (ctx, o, "confirmed");
        else {
            s_complete_now (ctx, o);
            s_reply (ctx, 200, o);
        }
    }
    ac_map_destroy (&m);
}

static void
s_cod_collected (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    order_t *o = state;
    ac_map_t *m = NULL;
    if (s_party (ctx, o, msg, false, true, false, &m)) {
        if (!s_is (o, "awaiting_delivery"))
            s_conflict (ctx, o, "collected cash on delivery");
        else {
            s_complete_now (ctx, o);
            s_reply (ctx, 200, o);
        }
    }
    ac_map_destroy (&m);
}

static void
s_cancel (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    order_t *o = state;
    ac_map_t *m = NULL;
    if (s_party (ctx, o, msg, true, true, false, &m)) {
        if (s_is (o, "paid"))
            s_cancel_now (ctx, o, true);
        else if (s_is (o, "awaiting_payment") || s_is (o, "awaiting_delivery")
                 || s_is (o, "holding"))
            s_cancel_now (ctx, o, false);       /* a hold landing later is given back */
        else {
            s_conflict (ctx, o, "cancelled");
            ac_map_destroy (&m);
            return;
        }
        s_reply (ctx, 200, o);
    }
    ac_map_destroy (&m);
}

static void
s_refund (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    order_t *o = state;
    ac_map_t *m = NULL;
    if (s_party (ctx, o, msg, false, true, true, &m)) {
        if (!s_is (o, "completed"))
            s_conflict (ctx, o, "refunded");
        else {
            if (s_refund_amount (o) <= 0) {
                s_refunded (ctx, o);            /* nothing is with the seller */
                s_reply (ctx, 200, o);
                ac_map_destroy (&m);
                return;
            }
            o->tries = 0;
            s_set (ctx, o, "refunding");
            s_ask_refund (ctx, o);
            ac_enc_t e;
            ac_enc_init (&e);
            ac_enc_map (&e, 1);
            ac_enc_str (&e, "id", o->id);
            ac_enc_reply (ctx, 202, &e);
        }
    }
    ac_map_destroy (&m);
}

/*  "unpaid" (awaiting_payment too long) and "complete" (shipped long
    enough). Either may fire late or twice: the state decides. */
static void
s_timeout (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    (void) msg;
    order_t *o = state;
    int64_t now = rt_ctx_now_ms (ctx);
    if ((s_is (o, "awaiting_payment") || s_is (o, "paying"))
        && now >= o->created_ms + o->pay_timeout_ms)
        s_cancel_now (ctx, o, false);
    else if (s_is (o, "holding") && o->payment[0])
        s_hold (ctx, o);
    else if (s_is (o, "refunding"))
        s_ask_refund (ctx, o);
    else if (s_is (o, "shipped") && o->auto_complete_ms && now >= o->auto_complete_ms)
        s_complete_now (ctx, o);
}

/*  'O' 'b' BUYER ORDER and 'O' 's' SELLER ORDER -> nothing: the orders of
    a user, newest first (ids are time-ordered). */
static void
s_index (const rt_addr_t *addr, const void *state, rt_index_emit_fn *emit, void *sink)
{
    const order_t *o = state;
    if (!s_visible (o) || addr->len != 30)
        return;
    uint8_t k[2 + 30 + 30];
    k[0] = 'O';
    k[1] = 'b';
    memcpy (k + 2, o->buyer, 30);
    memcpy (k + 32, addr->key, 30);
    emit (sink, k, sizeof k, NULL, 0);
    k[1] = 's';
    memcpy (k + 2, o->seller, 30);
    emit (sink, k, sizeof k, NULL, 0);
}

const rt_type_def_t ac_order_type = {
    .name = "order",
    .state_version = 1,
    .state_new = s_new,
    .state_decode = s_decode,
    .state_encode = s_encode,
    .state_free = s_free,
    .handlers = { [ORDER_PAYMENT] = s_payment, [ORDER_CREATE] = s_create, [ORDER_GET] = s_get,
                  [ORDER_SHIP] = s_ship, [ORDER_CONFIRM] = s_confirm,
                  [ORDER_COD_COLLECTED] = s_cod_collected, [ORDER_CANCEL] = s_cancel,
                  [ORDER_REFUND] = s_refund, [ORDER_TIMEOUT] = s_timeout,
                  [AC_MSG_RESULT] = s_result },
    .reads = 1ull << ORDER_GET,
    .index = s_index,
};

/* ---- a user's orders, on every node (AC_SVC_ORDERS) ----------------------------- */

typedef struct {
    char    ids[2 * (AC_ORDERS_PAGE_MAX + 1)][31];     /* kept + one shard's */
    size_t  n, limit;
} found_t;

static int
s_found (void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void) val, (void) vlen;
    found_t *f = arg;
    if (klen != 62 || f->n > f->limit || f->n >= 2 * (AC_ORDERS_PAGE_MAX + 1))
        return 1;
    memcpy (f->ids[f->n], (const uint8_t *) key + 32, 30);
    f->ids[f->n++][30] = 0;
    return 0;
}

static int
s_desc (const void *a, const void *b)
{
    return -strcmp (a, b);
}

/*  body {user, role: "buyer"|"seller", before: order id or "", limit}:
    {covered, items: array of orders} — this node's newest limit + 1
    before the cursor. */
static int
s_orders_service (rt_runtime_t *rt, void *arg, const void *body, size_t len, rt_reply_t *reply)
{
    (void) arg;
    ac_map_t *m = ac_map_decode (body, len);
    const char *user = m ? ac_map_str (m, "user") : NULL;
    const char *role = m ? ac_map_str (m, "role") : NULL;
    const char *before = m ? ac_map_str (m, "before") : NULL;
    int64_t limit = 0;
    if (!user || strlen (user) != 30 || !role || !before || strlen (before) > 30
        || !ac_map_int (m, "limit", &limit) || limit < 1 || limit > AC_ORDERS_PAGE_MAX) {
        ac_map_destroy (&m);
        return RT_EINVAL;
    }
    found_t *f = calloc (1, sizeof *f);
    rt_scan_t *scan = f ? rt_scan_open (rt) : NULL;
    if (!scan) {
        free (f);
        ac_map_destroy (&m);
        return f ? RT_EOVERLOADED : RT_ENOMEM;
    }
    uint8_t lo[32], hi[62];
    lo[0] = hi[0] = 'O';
    lo[1] = hi[1] = !strcmp (role, "seller") ? 's' : 'b';
    memcpy (lo + 2, user, 30);
    memcpy (hi + 2, user, 30);
    size_t hil = 32;
    if (before[0]) {
        memcpy (hi + 32, before, strlen (before));
        hil += strlen (before);
    }
    else
        hi[31]++;                   /* past every order of this user */
    /*  Each shard's newest limit + 1 are appended after the newest limit + 1
        kept so far, which are then kept again. */
    int rc = 0;
    f->limit = (size_t) limit;
    for (uint32_t sh = 0; sh < rt_scan_shards (scan) && !rc; sh++) {
        if (!rt_scan_owned (scan, sh))
            continue;
        size_t kept = f->n;
        f->limit = kept + (size_t) limit;
        int n = rt_scan_index (scan, sh, lo, sizeof lo, hi, hil, true, (size_t) limit + 1,
                               s_found, f);
        if (n < 0)
            rc = n;
        if (f->n > 1)
            qsort (f->ids, f->n, sizeof f->ids[0], s_desc);
        if (f->n > (size_t) limit + 1)
            f->n = (size_t) limit + 1;
    }
    /*  items: a bin holding the msgpack array of orders (the reply map
        stays flat for ac_map readers). */
    ac_enc_t items;
    ac_enc_init (&items);
    msgpack_pack_array (&items.pk, f->n);
    for (size_t i = 0; i < f->n && !rc; i++) {
        void *st = NULL;
        rc = rt_scan_state (scan, AC_TYPE_ORDER, f->ids[i], 30, &st);
        if (!rc)
            s_render (&items, st);
        s_free (st);
    }
    uint8_t covered[RT_SHARDS_MAX / 8 + 1];
    uint32_t shards = rt_scan_shards (scan);
    rt_scan_close (&scan, covered);
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 2);
    ac_enc_bin (&e, "items", items.sb.data, items.sb.size);
    ac_enc_bin (&e, "covered", covered, (shards + 7) / 8);
    ac_enc_free (&items);
    if (!rc)
        rc = ac_enc_to_reply (&e, reply);
    else
        ac_enc_free (&e);
    ac_map_destroy (&m);
    free (f);
    return rc;
}

int
ac_orders_register (rt_runtime_t *rt)
{
    return rt_service_register (rt, AC_SVC_ORDERS, s_orders_service, NULL);
}
