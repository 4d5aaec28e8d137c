/*  =========================================================================
    ed_payments.c - top-ups, payments, and the partners' callbacks

    A top-up goes through the user's wallet, the anchor of its
    Idempotency-Key (a retry gets the first payment back), then creates
    the payment directly so the instructions are in the answer.

    Callbacks carry no bearer token: their authenticity is the partner's
    signature (Midtrans: SHA-512 of order_id, status_code, gross_amount and
    the server key) or shared token (Xendit: x-callback-token), compared in
    constant time. A bad one is 401 and reaches no actor. A good one
    becomes a PAYMENT_EVENT; the payment actor makes duplicates and
    out-of-order deliveries harmless.
    =========================================================================
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "ed_payments.h"
#include "ed_server.h"
#include "ed_acct.h"
#include "ed_mp.h"
#include "actors/ac_types.h"
#include "actors/ac_codec.h"
#include "runtime/rt_log.h"

/*  The payment's answer as JSON, or the problem of its status. */
static void
s_answer (ed_req_t *req, int rc, rt_reply_t *rep, int ok)
{
    if (rc) {
        ed_reply_rt_error (req, rc);
        return;
    }
    char detail[200] = "";
    ed_mp_field (rep->body, rep->body_len, "detail", NULL, detail, sizeof detail);
    size_t n = 0;
    char *text = rep->status == 200 || rep->status == 201
                 ? ed_mp_to_text (rep->body, rep->body_len, &n) : NULL;
    bool replayed = rep->replayed;
    int status = rep->status;
    rt_reply_free (rep);
    if (text) {
        if (replayed)
            ed_reply_header (req, "Idempotency-Replayed", "true");
        ed_reply_bytes (req, ok, "application/json", text, n);
        free (text);
        return;
    }
    const char *d = detail[0] ? detail : NULL;
    switch (status) {
        case 404: ed_reply_problem (req, ED_P_NOT_FOUND, d); break;
        case 422: ed_reply_problem (req, ED_P_VALIDATION, d); break;
        case 503: ed_reply_problem (req, ED_P_UNAVAILABLE, d); break;
        default: ed_reply_problem (req, ED_P_INTERNAL, "unexpected answer from the payment"); break;
    }
}

/*  A PAYMENT_CREATE body. */
void
ed_payments_enc_create (ac_enc_t *e, ed_req_t *req, const char *id, const char *kind,
                        const char *order, int64_t amount, const char *partner,
                        const char *method)
{
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    int64_t now = rt_now_ms ();
    ac_enc_init (e);
    ac_enc_map (e, 9);
    ac_enc_str (e, "id", id);
    ac_enc_str (e, "user_id", ed_req_user (req));
    ac_enc_str (e, "kind", kind);
    ac_enc_str (e, "order_id", order);
    ac_enc_int (e, "amount", amount);
    ac_enc_str (e, "partner", partner);
    ac_enc_str (e, "method", method);
    ac_enc_int (e, "created_ms", now);
    ac_enc_int (e, "expires_ms", now + (int64_t) o->payment_expiry_s * 1000);
}

void
ed_payments_topup (ed_req_t *req)
{
    json_t *body = ed_req_body (req);
    int64_t amount = json_integer_value (json_object_get (json_object_get (body, "amount"),
                                                          "amount"));
    if (amount < 1) {
        ed_reply_invalid_field (req, "amount.amount", "must be at least 1");
        return;
    }
    char id[32];
    ed_id_new ("pay_", id);
    ac_enc_t e;
    ed_payments_enc_create (&e, req, id, "topup", NULL, amount,
                            json_string_value (json_object_get (body, "partner")),
                            json_string_value (json_object_get (body, "method")));
    char scope[64];
    snprintf (scope, sizeof scope, "%s POST /v1/wallet/topups", ed_req_user (req));
    char first[32];
    bool replayed = false;
    int status = ed_acct_anchor (req, AC_TYPE_WALLET, ed_req_user (req), WALLET_TOPUP_NEW,
                                 e.sb.data, e.sb.size, scope, "payment_id", first, &replayed);
    if (status != 200) {
        ac_enc_free (&e);
        ed_acct_anchor_failed (req, status);
        return;
    }
    rt_reply_t rep;
    int rc;
    if (strcmp (first, id)) {       /* a retry: the first payment, as it is now */
        ac_enc_free (&e);
        ed_acct_enc_caller (&e, req, 0);
        rc = ed_acct_ask (req, AC_TYPE_PAYMENT, first, PAYMENT_GET, e.sb.data, e.sb.size, NULL,
                          &rep);
    }
    else
        rc = ed_acct_ask (req, AC_TYPE_PAYMENT, id, PAYMENT_CREATE, e.sb.data, e.sb.size, NULL,
                          &rep);
    ac_enc_free (&e);
    if (!rc)
        rep.replayed = replayed;
    s_answer (req, rc, &rep, 201);
}

void
ed_payments_get (ed_req_t *req)
{
    const char *id = ed_req_capture (req, "id");
    if (!ed_id_valid ("pay_", id)) {
        ed_reply_problem (req, ED_P_NOT_FOUND, NULL);
        return;
    }
    ac_enc_t e;
    ed_acct_enc_caller (&e, req, 0);
    rt_reply_t rep;
    int rc = ed_acct_read (req, AC_TYPE_PAYMENT, id, PAYMENT_GET, e.sb.data, e.sb.size, &rep);
    ac_enc_free (&e);
    s_answer (req, rc, &rep, 200);
}

/* ---- callbacks ------------------------------------------------------------- */

/*  Constant time in the secret: equal lengths compared with sodium_memcmp;
    an empty configured secret matches nothing. */
static bool
s_secret_eq (const char *given, const char *want)
{
    size_t gl = given ? strlen (given) : 0, wl = strlen (want);
    if (!wl || gl != wl)
        return false;
    return sodium_memcmp (given, want, wl) == 0;
}

/*  Deliver an authenticated event; answer 200 {"status"} quickly. */
static void
s_event (ed_req_t *req, const char *payment, const char *partner, const char *status,
         int64_t amount, const char *partner_ref)
{
    if (!ed_id_valid ("pay_", payment)) {
        ed_reply_problem (req, ED_P_NOT_FOUND, "no such payment");
        return;
    }
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 4);
    ac_enc_str (&e, "partner", partner);
    ac_enc_str (&e, "status", status);
    ac_enc_int (&e, "amount", amount);
    ac_enc_str (&e, "partner_ref", partner_ref);
    rt_reply_t rep;
    int rc = ed_acct_ask (req, AC_TYPE_PAYMENT, payment, PAYMENT_EVENT, e.sb.data, e.sb.size,
                          NULL, &rep);
    ac_enc_free (&e);
    if (!rc && rep.status == 422)
        rt_log ("warn", "payment.callback_refused", "\"payment\":\"%s\",\"partner\":\"%s\"",
                payment, partner);
    s_answer (req, rc, &rep, 200);
}

/*  "150000.00" (Midtrans' gross_amount) as whole rupiah; -1 for a
    fraction or anything else (which then cannot match an amount). */
static int64_t
s_gross (const char *s)
{
    int64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9' && v <= AC_MONEY_MAX; p++)
        v = v * 10 + (*p - '0');
    if (p == s || v > AC_MONEY_MAX)
        return -1;
    if (*p == '.') {
        for (p++; *p == '0'; p++)
            ;
    }
    return *p ? -1 : v;
}

void
ed_payments_midtrans (ed_req_t *req)
{
    json_t *b = ed_req_body (req);
    const char *order = json_string_value (json_object_get (b, "order_id"));
    const char *code = json_string_value (json_object_get (b, "status_code"));
    const char *gross = json_string_value (json_object_get (b, "gross_amount"));
    const char *sig = json_string_value (json_object_get (b, "signature_key"));
    const char *ts = json_string_value (json_object_get (b, "transaction_status"));
    const char *key = ed_server_options (ed_req_server (req))->midtrans_server_key;
    /*  signature_key = hex SHA-512 (order_id + status_code + gross_amount + server key). */
    crypto_hash_sha512_state st;
    uint8_t h[crypto_hash_sha512_BYTES];
    char hex[2 * crypto_hash_sha512_BYTES + 1];
    crypto_hash_sha512_init (&st);
    crypto_hash_sha512_update (&st, (const uint8_t *) order, strlen (order));
    crypto_hash_sha512_update (&st, (const uint8_t *) code, strlen (code));
    crypto_hash_sha512_update (&st, (const uint8_t *) gross, strlen (gross));
    crypto_hash_sha512_update (&st, (const uint8_t *) key, strlen (key));
    crypto_hash_sha512_final (&st, h);
    sodium_bin2hex (hex, sizeof hex, h, sizeof h);
    if (!key[0] || !s_secret_eq (sig, hex)) {
        ed_reply_problem (req, ED_P_UNAUTHORIZED, "bad signature_key");
        return;
    }
    const char *status = !strcmp (ts, "settlement") || !strcmp (ts, "capture") ? "settled"
                       : !strcmp (ts, "expire") ? "expired"
                       : !strcmp (ts, "cancel") || !strcmp (ts, "deny") || !strcmp (ts, "failure")
                         ? "failed" : "pending";
    /*  The signature covers status_code, not transaction_status: each
        outcome must come with its own code (200 success, 201 pending, 202
        denied, expired or cancelled), or a signed "pending" could be
        replayed as a settlement. */
    const char *want = !strcmp (status, "settled") ? "200" : !strcmp (status, "pending") ? "201"
                     : "202";
    if (strcmp (code, want)) {
        ed_reply_problem (req, ED_P_UNAUTHORIZED, "transaction_status does not match the "
                          "signed status_code");
        return;
    }
    s_event (req, order, "midtrans", status, s_gross (gross),
             json_string_value (json_object_get (b, "transaction_id")));
}

void
ed_payments_xendit (ed_req_t *req)
{
    const char *token = ed_server_options (ed_req_server (req))->xendit_callback_token;
    if (!s_secret_eq (ed_req_header (req, "x-callback-token"), token)) {
        ed_reply_problem (req, ED_P_UNAUTHORIZED, "bad x-callback-token");
        return;
    }
    json_t *b = ed_req_body (req);
    const char *st = json_string_value (json_object_get (b, "status"));
    json_t *a = json_object_get (b, "amount");
    /*  A number; written as 150000 or 150000.0. Anything else matches no amount. */
    double d = json_is_number (a) ? json_number_value (a) : -1;
    int64_t amount = d >= 0 && d <= (double) AC_MONEY_MAX && d == (double) (int64_t) d
                     ? (int64_t) d : -1;
    const char *status = !strcmp (st, "PAID") || !strcmp (st, "SETTLED") ? "settled"
                       : !strcmp (st, "EXPIRED") ? "expired"
                       : !strcmp (st, "FAILED") ? "failed" : "pending";
    s_event (req, json_string_value (json_object_get (b, "external_id")), "xendit", status, amount,
             json_string_value (json_object_get (b, "id")));
}
