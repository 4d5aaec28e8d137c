/*  =========================================================================
    ed_orders.c - the order routes

    An order is a saga in its actor (ac_order.c): reserving the listing and
    taking the escrow are messages between actors, not a blocked thread.
    The edge places it through the buyer's wallet (the anchor of the
    Idempotency-Key: a retry finds the same order), then waits a bounded
    time for the saga to decide, reading the order's committed state: 201
    with the order, or what stopped it (funds: 422 insufficient-funds; the
    listing taken: 409). A decision later than the deadline is a 503; the
    retry with the same key finds the order as it is then.
    =========================================================================
*/
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ed_orders.h"
#include "ed_server.h"
#include "ed_acct.h"
#include "ed_cover.h"
#include "ed_mp.h"
#include "actors/ac_types.h"
#include "actors/ac_codec.h"
#include "runtime/rt_error.h"

#define PAGE_DEFAULT 20

/*  Read the order until its saga has decided (not 202), within the
    request's deadline. 0 with *rep filled, or an rt_err_t. */
static int
s_wait (ed_req_t *req, const char *id, rt_reply_t *rep)
{
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    int64_t deadline = rt_now_ms () + o->ask_timeout_ms;
    long sleep_us = 500;
    ac_enc_t e;
    ed_acct_enc_caller (&e, req, 1);
    ac_enc_int (&e, "poll", 1);
    int rc;
    while (true) {
        rc = ed_acct_read (req, AC_TYPE_ORDER, id, ORDER_GET, e.sb.data, e.sb.size, rep);
        if (rc || rep->status != 202 || rt_now_ms () >= deadline)
            break;
        rt_reply_free (rep);
        struct timespec ts = { 0, sleep_us * 1000 };
        nanosleep (&ts, NULL);
        if (sleep_us < 20000)
            sleep_us *= 2;
    }
    ac_enc_free (&e);
    return rc;
}

/*  The order's answer: the order (ok_status), or its problem. */
static void
s_answer (ed_req_t *req, int rc, rt_reply_t *rep, int ok_status, bool replayed)
{
    if (rc) {
        ed_reply_rt_error (req, rc);
        return;
    }
    char detail[200] = "", reason[32] = "";
    ed_mp_field (rep->body, rep->body_len, "detail", NULL, detail, sizeof detail);
    ed_mp_field (rep->body, rep->body_len, "reason", NULL, reason, sizeof reason);
    int status = rep->status;
    size_t n = 0;
    char *text = status == 200 ? ed_mp_to_text (rep->body, rep->body_len, &n) : NULL;
    /*  An order's writes move its listing (reserved, active again, sold)
        by messages, not through the listing routes: the cached copy goes
        (ed_cache.h; its tombstone keeps a read in flight from putting the
        old one back). Reads of the order leave the cache alone. */
    char listing[40];
    if (text && strcmp (ed_req_route (req)->method, "GET")
        && ed_mp_field (rep->body, rep->body_len, "listing_id", NULL, listing, sizeof listing))
        ed_cache_invalidate (ed_server_cache (ed_req_server (req)), listing);
    rt_reply_free (rep);
    const char *d = detail[0] ? detail : NULL;
    if (text) {
        if (replayed)
            ed_reply_header (req, "Idempotency-Replayed", "true");
        ed_reply_bytes (req, ok_status, "application/json", text, n);
        free (text);
        return;
    }
    switch (status) {
        case 202:
            ed_reply_problem (req, ED_P_UNAVAILABLE,
                              "the order is still being decided: retry with the same Idempotency-Key");
            break;
        case 402: ed_reply_problem (req, ED_P_INSUFFICIENT_FUNDS, "the seller's available "
                                    "balance does not cover the refund"); break;
        case 403: ed_reply_problem (req, ED_P_FORBIDDEN, d); break;
        case 404: ed_reply_problem (req, ED_P_NOT_FOUND, d); break;
        case 409:
            if (!strcmp (reason, "insufficient_funds"))
                ed_reply_problem (req, ED_P_INSUFFICIENT_FUNDS,
                                  "the wallet's available balance does not cover the price");
            else if (!strcmp (reason, "own_listing"))
                ed_reply_invalid_field (req, "listing_id", "is the buyer's own listing");
            else if (!strcmp (reason, "not_found"))
                ed_reply_invalid_field (req, "listing_id", "no such listing");
            else if (!strcmp (reason, "free_listing"))
                ed_reply_invalid_field (req, "payment_method",
                                        "a free listing is not paid through a partner");
            else if (!strcmp (reason, "payment_refused"))
                ed_reply_invalid_field (req, "method", "the partner payment could not be made");
            else if (reason[0])
                ed_reply_problem (req, ED_P_CONFLICT, "the listing is not available");
            else
                ed_reply_problem (req, ED_P_CONFLICT, d);
            break;
        case 422: ed_reply_problem (req, ED_P_VALIDATION, d); break;
        default: ed_reply_problem (req, ED_P_INTERNAL, "unexpected answer from the order"); break;
    }
}

/*  The ORDER_CREATE body. */
static void
s_enc_create (ac_enc_t *e, ed_req_t *req, const char *id)
{
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    json_t *b = ed_req_body (req);
    ac_enc_init (e);
    ac_enc_map (e, 9);
    ac_enc_str (e, "id", id);
    ac_enc_str (e, "listing_id", json_string_value (json_object_get (b, "listing_id")));
    ac_enc_str (e, "buyer_id", ed_req_user (req));
    ac_enc_str (e, "payment_method", json_string_value (json_object_get (b, "payment_method")));
    ac_enc_str (e, "partner", json_string_value (json_object_get (b, "partner")));
    ac_enc_str (e, "method", json_string_value (json_object_get (b, "method")));
    ac_enc_int (e, "fee_bps", o->fee_bps);
    ac_enc_int (e, "created_ms", rt_now_ms ());
    ac_enc_int (e, "pay_timeout_ms", (int64_t) o->order_payment_timeout_s * 1000);
}

void
ed_orders_create (ed_req_t *req)
{
    json_t *b = ed_req_body (req);
    const char *method = json_string_value (json_object_get (b, "payment_method"));
    bool partner = !strcmp (method, "partner");
    bool has = json_object_get (b, "partner") || json_object_get (b, "method");
    if (partner && !(json_object_get (b, "partner") && json_object_get (b, "method"))) {
        ed_reply_invalid_field (req, "partner", "partner and method are required with payment_method partner");
        return;
    }
    if (!partner && has) {
        ed_reply_invalid_field (req, "partner", "only with payment_method partner");
        return;
    }
    const char *listing = json_string_value (json_object_get (b, "listing_id"));
    if (!ed_id_valid ("lst_", listing)) {
        ed_reply_invalid_field (req, "listing_id", "no such listing");
        return;
    }
    char id[32], first[32];
    ed_id_new ("ord_", id);
    ac_enc_t e;
    s_enc_create (&e, req, id);
    char scope[64];
    snprintf (scope, sizeof scope, "%s POST /v1/orders", ed_req_user (req));
    bool replayed = false;
    int status = ed_acct_anchor (req, AC_TYPE_WALLET, ed_req_user (req), WALLET_ORDER_NEW,
                                 e.sb.data, e.sb.size, scope, "order_id", first, &replayed);
    if (status != 200) {
        ac_enc_free (&e);
        ed_acct_anchor_failed (req, status);
        return;
    }
    rt_reply_t rep;
    if (strcmp (first, id)) {
        ac_enc_free (&e);
        s_enc_create (&e, req, first);
    }
    int rc = ed_acct_ask (req, AC_TYPE_ORDER, first, ORDER_CREATE, e.sb.data, e.sb.size, NULL,
                          &rep);
    ac_enc_free (&e);
    if (!rc) {
        rt_reply_free (&rep);
        rc = s_wait (req, first, &rep);
    }
    s_answer (req, rc, &rep, 201, replayed);
}

static const char *
s_order_id (ed_req_t *req)
{
    const char *id = ed_req_capture (req, "id");
    if (ed_id_valid ("ord_", id))
        return id;
    ed_reply_problem (req, ED_P_NOT_FOUND, NULL);
    return NULL;
}

void
ed_orders_get (ed_req_t *req)
{
    const char *id = s_order_id (req);
    if (!id)
        return;
    ac_enc_t e;
    ed_acct_enc_caller (&e, req, 0);
    rt_reply_t rep;
    int rc = ed_acct_read (req, AC_TYPE_ORDER, id, ORDER_GET, e.sb.data, e.sb.size, &rep);
    ac_enc_free (&e);
    if (!rc && rep.status != 200 && rep.status != 404) {
        rep.status = 404;       /* undecided or failed: not an order to show */
    }
    s_answer (req, rc, &rep, 200, false);
}

/*  ship, confirm, cod-collected, cancel: one ask, the order decides (and
    keeps an Idempotency-Key's answer). */
static void
s_action (ed_req_t *req, uint16_t msg, const char *action)
{
    const char *id = s_order_id (req);
    if (!id)
        return;
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    ac_enc_t e;
    ed_acct_enc_caller (&e, req, msg == ORDER_SHIP);
    if (msg == ORDER_SHIP)
        ac_enc_int (&e, "auto_complete_ms", (int64_t) o->order_auto_complete_s * 1000);
    char scope[96];
    snprintf (scope, sizeof scope, "%s POST /v1/orders/{id}/%s", ed_req_user (req), action);
    rt_reply_t rep;
    int rc = ed_acct_ask (req, AC_TYPE_ORDER, id, msg, e.sb.data, e.sb.size, scope, &rep);
    ac_enc_free (&e);
    s_answer (req, rc, &rep, 200, !rc && rep.replayed);
}

void ed_orders_ship (ed_req_t *req) { s_action (req, ORDER_SHIP, "ship"); }
void ed_orders_confirm (ed_req_t *req) { s_action (req, ORDER_CONFIRM, "confirm"); }
void ed_orders_cod_collected (ed_req_t *req) { s_action (req, ORDER_COD_COLLECTED, "cod-collected"); }
void ed_orders_cancel (ed_req_t *req) { s_action (req, ORDER_CANCEL, "cancel"); }

void
ed_orders_refund (ed_req_t *req)
{
    const char *id = s_order_id (req);
    if (!id)
        return;
    ac_enc_t e;
    ed_acct_enc_caller (&e, req, 0);
    char scope[80];
    snprintf (scope, sizeof scope, "%s POST /v1/orders/{id}/refund", ed_req_user (req));
    rt_reply_t rep;
    int rc = ed_acct_ask (req, AC_TYPE_ORDER, id, ORDER_REFUND, e.sb.data, e.sb.size, scope, &rep);
    ac_enc_free (&e);
    bool replayed = !rc && rep.replayed;
    if (!rc && rep.status == 202) {
        rt_reply_free (&rep);
        rc = s_wait (req, id, &rep);
    }
    s_answer (req, rc, &rep, 200, replayed);
}

/* ---- GET /v1/orders?role= ---------------------------------------------------------- */

static int
s_newest_first (const void *a, const void *b)
{
    const char *x = json_string_value (json_object_get (*(json_t *const *) a, "id"));
    const char *y = json_string_value (json_object_get (*(json_t *const *) b, "id"));
    return -strcmp (x ? x : "", y ? y : "");
}

void
ed_orders_list (ed_req_t *req)
{
    char role[16] = "buyer", buf[64];
    long limit = PAGE_DEFAULT;
    char before[32] = "";
    if (ed_req_query (req, "role", role, sizeof role) && strcmp (role, "buyer")
        && strcmp (role, "seller")) {
        ed_reply_problem (req, ED_P_MALFORMED, "role must be buyer or seller");
        return;
    }
    if (ed_req_query (req, "limit", buf, sizeof buf)) {
        char *end;
        limit = strtol (buf, &end, 10);
        if (!*buf || *end || limit < 1 || limit > AC_ORDERS_PAGE_MAX) {
            ed_reply_problem (req, ED_P_MALFORMED, "limit must be 1..100");
            return;
        }
    }
    if (ed_req_query (req, "cursor", buf, sizeof buf)) {
        if (!ed_id_valid ("ord_", buf)) {
            ed_reply_problem (req, ED_P_MALFORMED, "not a cursor of this list");
            return;
        }
        strcpy (before, buf);
    }
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 4);
    ac_enc_str (&e, "user", ed_req_user (req));
    ac_enc_str (&e, "role", role);
    ac_enc_str (&e, "before", before);
    ac_enc_int (&e, "limit", limit);
    rt_reply_t replies[RT_NODES_MAX];
    size_t nodes = 0;
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    int rc = rt_call_all (ed_req_runtime (req), AC_SVC_ORDERS, e.sb.data, e.sb.size,
                          (int) o->ask_timeout_ms, replies, RT_NODES_MAX, &nodes);
    ac_enc_free (&e);
    ed_cover_t cover = { 0 };
    json_t *all = json_array ();
    for (size_t i = 0; !rc && i < nodes; i++) {
        ac_map_t *m = replies[i].err || replies[i].status != 200
                      ? NULL : ac_map_decode (replies[i].body, replies[i].body_len);
        size_t cl = 0, il = 0;
        const uint8_t *cov = m ? ac_map_bin (m, "covered", &cl) : NULL;
        const uint8_t *raw = m ? ac_map_bin (m, "items", &il) : NULL;
        json_t *items = raw ? ed_mp_to_json (raw, il) : NULL;
        if (cov && json_is_array (items) && ed_cover_add (&cover, cov, cl))
            json_array_extend (all, items);
        json_decref (items);
        ac_map_destroy (&m);
    }
    for (size_t i = 0; i < nodes; i++)
        rt_reply_free (&replies[i]);
    if (rc) {
        json_decref (all);
        ed_reply_rt_error (req, rc);
        return;
    }
    if (!ed_cover_whole (&cover, rt_shard_count (ed_req_runtime (req)))) {
        json_decref (all);
        ed_reply_problem (req, ED_P_UNAVAILABLE, "some orders are not reachable right now");
        return;
    }
    size_t n = json_array_size (all);
    json_t **v = calloc (n ? n : 1, sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        v[i] = json_array_get (all, i);
    if (v && n > 1)
        qsort (v, n, sizeof *v, s_newest_first);
    json_t *items = json_array ();
    for (size_t i = 0; v && i < n && i < (size_t) limit; i++)
        json_array_append (items, v[i]);
    const char *next = v && n > (size_t) limit
                       ? json_string_value (json_object_get (v[limit - 1], "id")) : NULL;
    json_t *out = json_pack ("{s:o, s:s?}", "items", items, "next_cursor", next);
    free (v);
    json_decref (all);
    ed_reply_json (req, 200, out);
}
