/*  =========================================================================
    ed_wallet.c - the wallet routes: balance, entries, transfers, admin
    credits and the ledger summary

    The wallet actor decides everything about money (funds, limits, the
    two-phase move); here: the checks only the edge can make (the payee
    exists, is not the payer; amounts of at least 1 rupiah), the
    Idempotency-Key's scope, and the entries' pages, which may come from
    the wallet and from the page actors that archive its older entries.
    =========================================================================
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ed_wallet.h"
#include "ed_server.h"
#include "ed_acct.h"
#include "ed_cover.h"
#include "ed_mp.h"
#include "actors/ac_types.h"
#include "actors/ac_codec.h"
#include "actors/ac_ledger.h"
#include "runtime/rt_error.h"
#include "runtime/rt_log.h"

/*  API.md: limit 1..100, default 20. */
#define PAGE_DEFAULT 20
#define PAGE_MAX 100

/*  A reply that is JSON as the actor wrote it, or the problem of its
    status. ok: the status that means success. */
static void
s_forward (ed_req_t *req, int rc, rt_reply_t *rep, int ok, const char *what)
{
    if (rc) {
        ed_reply_rt_error (req, rc);
        return;
    }
    char detail[256] = "";
    if (rep->status != ok)
        ed_mp_field (rep->body, rep->body_len, "detail", NULL, detail, sizeof detail);
    const char *d = detail[0] ? detail : NULL;
    switch (rep->status == ok ? 0 : rep->status) {
        case 0: {
            size_t n = 0;
            char *text = ed_mp_to_text (rep->body, rep->body_len, &n);
            if (!text) {
                ed_reply_problem (req, ED_P_INTERNAL, what);
                break;
            }
            if (rep->replayed)
                ed_reply_header (req, "Idempotency-Replayed", "true");
            ed_reply_bytes (req, ok, "application/json", text, n);
            free (text);
            break;
        }
        case 402: ed_reply_problem (req, ED_P_INSUFFICIENT_FUNDS, d); break;
        case 404: ed_reply_problem (req, ED_P_NOT_FOUND, d); break;
        case 422: ed_reply_problem (req, ED_P_VALIDATION, d); break;
        case 503: ed_reply_problem (req, ED_P_UNAVAILABLE, d); break;
        default: ed_reply_problem (req, ED_P_INTERNAL, what); break;
    }
    rt_reply_free (rep);
}

/*  body.amount.amount, at least 1 (the schema allows 0 for prices). */
static bool
s_amount (ed_req_t *req, int64_t *amount)
{
    *amount = json_integer_value (json_object_get (json_object_get (ed_req_body (req), "amount"),
                                                   "amount"));
    if (*amount >= 1)
        return true;
    ed_reply_invalid_field (req, "amount.amount", "must be at least 1");
    return false;
}

/*  Does user id exist? Answers the request itself when it cannot tell
    (503 and the like) or when it does not (404 or, for a field, 422). */
static bool
s_user_exists (ed_req_t *req, const char *id, const char *field)
{
    int rc = ed_acct_user_visible (req, id);
    if (rc < 0) {
        ed_reply_rt_error (req, rc);
        return false;
    }
    if (rc)
        return true;
    if (field)
        ed_reply_invalid_field (req, field, "no such user");
    else
        ed_reply_problem (req, ED_P_NOT_FOUND, "no such user");
    return false;
}

void
ed_wallet_get (ed_req_t *req)
{
    rt_reply_t rep;
    const char *me = ed_req_user (req);
    int rc = ed_acct_read (req, AC_TYPE_WALLET, me, WALLET_GET, NULL, 0, &rep);
    s_forward (req, rc, &rep, 200, "unexpected answer from the wallet");
}

/*  Ask an entries query of the wallet (page < 0) or of one of its pages;
    append the items to out, *last = their lowest seq, *archived = the
    wallet's (unchanged for pages). 0 or an rt_err_t; 404 of a page is
    RT_EUNAVAILABLE (its entries must be there: the wallet said so). */
static int
s_entries_from (ed_req_t *req, int64_t page, int64_t before, size_t limit, json_t *out,
                int64_t *last, int64_t *archived)
{
    const char *me = ed_req_user (req);
    char key[RT_KEY_MAX];
    if (page >= 0)
        snprintf (key, sizeof key, "%s/%lld", me, (long long) page);
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 2);
    ac_enc_int (&e, "before", before);
    ac_enc_int (&e, "limit", (int64_t) limit);
    rt_reply_t rep;
    int rc = page < 0
             ? ed_acct_read (req, AC_TYPE_WALLET, me, WALLET_ENTRIES, e.sb.data, e.sb.size, &rep)
             : ed_acct_read (req, AC_TYPE_LEDGER_PAGE, key, LEDGER_PAGE_ENTRIES, e.sb.data,
                             e.sb.size, &rep);
    ac_enc_free (&e);
    if (rc)
        return rc;
    json_t *j = rep.status == 200 ? ed_mp_to_json (rep.body, rep.body_len) : NULL;
    rt_reply_free (&rep);
    json_t *items = json_object_get (j, "items");
    if (!json_is_array (items)) {
        json_decref (j);
        return RT_EUNAVAILABLE;
    }
    json_array_extend (out, items);
    *last = json_integer_value (json_object_get (j, "last"));
    if (page < 0)
        *archived = json_integer_value (json_object_get (j, "archived"));
    json_decref (j);
    return 0;
}

void
ed_wallet_entries (ed_req_t *req)
{
    char buf[32];
    long limit = PAGE_DEFAULT;
    int64_t before = 0;
    char *end;
    if (ed_req_query (req, "limit", buf, sizeof buf)) {
        limit = strtol (buf, &end, 10);
        if (!*buf || *end || limit < 1 || limit > PAGE_MAX) {
            ed_reply_problem (req, ED_P_MALFORMED, "limit must be 1..100");
            return;
        }
    }
    /*  The cursor: "e" and the seq of the last entry given (opaque to
        clients; entries are numbered without gaps, so it is exact). */
    if (ed_req_query (req, "cursor", buf, sizeof buf)) {
        before = buf[0] == 'e' ? strtoll (buf + 1, &end, 10) : 0;
        if (buf[0] != 'e' || !buf[1] || *end || before < 2) {
            ed_reply_problem (req, ED_P_MALFORMED, "not a cursor of this list");
            return;
        }
    }
    json_t *items = json_array ();
    int64_t last = 0, archived = 0;
    int rc = s_entries_from (req, -1, before, (size_t) limit, items, &last, &archived);
    /*  Older entries are in pages; the next one wanted is seq `next`.
        The wallet may hold none at all (it has just stored a whole page):
        then the newest wanted is the newest archived. */
    int64_t next = last ? last - 1 : before ? before - 1 : archived;
    if (!last && next > archived)
        next = archived;
    while (!rc && (long) json_array_size (items) < limit && next >= 1 && next <= archived) {
        int64_t page = (next - 1) / AC_LEDGER_PAGE, got = 0;
        size_t want = (size_t) limit - json_array_size (items);
        rc = s_entries_from (req, page, next + 1, want, items, &got, &archived);
        if (!rc && !got)
            rc = RT_EUNAVAILABLE;       /* a page without the entries it must hold */
        last = got;
        next = got - 1;
    }
    if (rc) {
        json_decref (items);
        ed_reply_rt_error (req, rc);
        return;
    }
    char cursor[32];
    snprintf (cursor, sizeof cursor, "e%lld", (long long) last);
    bool more = (long) json_array_size (items) == limit && last > 1;
    ed_reply_json (req, 200, json_pack ("{s:o, s:s?}", "items", items, "next_cursor",
                                        more ? cursor : NULL));
}

void
ed_wallet_transfer (ed_req_t *req)
{
    json_t *body = ed_req_body (req);
    const char *to = json_string_value (json_object_get (body, "to_user_id"));
    const char *me = ed_req_user (req);
    int64_t amount;
    if (!s_amount (req, &amount))
        return;
    if (!strcmp (to, me)) {
        ed_reply_invalid_field (req, "to_user_id", "cannot be the payer");
        return;
    }
    if (!s_user_exists (req, to, "to_user_id"))
        return;
    char id[32];
    ed_id_new ("trf_", id);
    const char *note = json_string_value (json_object_get (body, "note"));
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 5);
    ac_enc_str (&e, "transfer_id", id);
    ac_enc_str (&e, "to", to);
    ac_enc_int (&e, "amount", amount);
    ac_enc_str (&e, "note", note);
    ac_enc_int (&e, "created_ms", rt_now_ms ());
    char scope[64];
    snprintf (scope, sizeof scope, "%s POST /v1/wallet/transfers", me);
    rt_reply_t rep;
    int rc = ed_acct_ask (req, AC_TYPE_WALLET, me, WALLET_TRANSFER, e.sb.data, e.sb.size, scope,
                          &rep);
    ac_enc_free (&e);
    s_forward (req, rc, &rep, 201, "unexpected answer from the wallet");
}

void
ed_wallet_admin_credit (ed_req_t *req)
{
    const char *user = ed_req_capture (req, "user_id");
    int64_t amount;
    if (!s_user_exists (req, user, NULL) || !s_amount (req, &amount))
        return;
    char ref[32];
    ed_id_new ("trf_", ref);
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 3);
    ac_enc_str (&e, "ref", ref);
    ac_enc_int (&e, "amount", amount);
    ac_enc_str (&e, "reason", json_string_value (json_object_get (ed_req_body (req), "reason")));
    char scope[96];
    snprintf (scope, sizeof scope, "%s POST /v1/admin/wallets/{user_id}/credits",
              ed_req_user (req));
    rt_reply_t rep;
    int rc = ed_acct_ask (req, AC_TYPE_WALLET, user, WALLET_ADMIN_CREDIT, e.sb.data, e.sb.size,
                          scope, &rep);
    ac_enc_free (&e);
    if (!rc && rep.status == 201 && !rep.replayed) {
        /*  The audit trail of money made by hand: who, for whom, why. */
        char why[700];
        rt_log ("info", "ledger.admin_credit",
                "\"admin\":\"%s\",\"user\":\"%s\",\"amount\":%lld,\"ref\":\"%s\",\"reason\":\"%s\"",
                ed_req_user (req), user, (long long) amount, ref,
                rt_log_escape (json_string_value (json_object_get (ed_req_body (req), "reason")),
                               why, sizeof why));
    }
    s_forward (req, rc, &rep, 201, "unexpected answer from the wallet");
}

void
ed_wallet_summary (ed_req_t *req)
{
    rt_reply_t replies[RT_NODES_MAX];
    size_t nodes = 0;
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    int rc = rt_call_all (ed_req_runtime (req), AC_SVC_LEDGER, NULL, 0, (int) o->ask_timeout_ms,
                          replies, RT_NODES_MAX, &nodes);
    ed_cover_t cover = { 0 };
    int64_t wallets = 0, balance = 0, held = 0, transit = 0, accounts[16] = { 0 };
    bool overflow = false;
    for (size_t i = 0; !rc && i < nodes; i++) {
        ac_map_t *m = replies[i].err || replies[i].status != 200
                      ? NULL : ac_map_decode (replies[i].body, replies[i].body_len);
        size_t cl = 0;
        const uint8_t *cov = m ? ac_map_bin (m, "covered", &cl) : NULL;
        int64_t w = 0, b = 0, h = 0, t = 0;
        if (cov && ac_map_int (m, "wallets", &w) && ac_map_int (m, "balance", &b)
            && ac_map_int (m, "held", &h) && ac_map_int (m, "in_transit", &t)
            && ed_cover_add (&cover, cov, cl)) {
            overflow |= __builtin_add_overflow (wallets, w, &wallets)
                        | __builtin_add_overflow (balance, b, &balance)
                        | __builtin_add_overflow (held, h, &held)
                        | __builtin_add_overflow (transit, t, &transit);
            for (size_t a = 0; ac_accounts[a]; a++) {
                int64_t v = 0;
                ac_map_int (m, ac_accounts[a], &v);
                overflow |= __builtin_add_overflow (accounts[a], v, &accounts[a]);
            }
        }
        ac_map_destroy (&m);
    }
    for (size_t i = 0; i < nodes; i++)
        rt_reply_free (&replies[i]);
    if (rc) {
        ed_reply_rt_error (req, rc);
        return;
    }
    if (!ed_cover_whole (&cover, rt_shard_count (ed_req_runtime (req)))) {
        ed_reply_problem (req, ED_P_UNAVAILABLE, "some wallets are not reachable right now");
        return;
    }
    int64_t total = 0;
    overflow |= __builtin_add_overflow (balance, transit, &total);
    json_t *sys = json_object ();
    for (size_t a = 0; ac_accounts[a]; a++) {
        json_object_set_new (sys, ac_accounts[a], json_integer (accounts[a]));
        overflow |= __builtin_add_overflow (total, accounts[a], &total);
    }
    if (overflow) {
        json_decref (sys);
        ed_reply_problem (req, ED_P_INTERNAL, "the totals do not fit 64 bits");
        return;
    }
    ed_reply_json (req, 200, json_pack ("{s:I, s:I, s:I, s:I, s:o, s:I}",
                                        "wallets_balance_total", (json_int_t) balance,
                                        "wallets_held_total", (json_int_t) held,
                                        "in_transit_total", (json_int_t) transit,
                                        "wallets", (json_int_t) wallets,
                                        "system_accounts", sys, "total", (json_int_t) total));
}
