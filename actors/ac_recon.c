/*  =========================================================================
    ac_recon.c - one reconciliation of a partner's settlement report with
    the payments: its progress while the job runs, then its result

    The job (edge/ed_recon.c) streams the report on the node that took it
    and sends RECON_UPDATE here every second and at the end, so any node
    answers GET /v1/admin/reconciliations/{id}. A job whose node died
    stops updating: after AC_RECON_STALE_MS it shows as failed.
    =========================================================================
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ac_types.h"
#include "ac_ledger.h"

/*  No update for this long while running: the job is gone. */
#define AC_RECON_STALE_MS 60000

enum { L_MISMATCH, L_MISSING_LEDGER, L_MISSING_REPORT, LISTS };
static const char *const s_lists[LISTS] = {
    "amount_mismatch", "missing_in_ledger", "missing_in_report",
};
static const char *const s_counts[] = {
    "rows", "matched", "bad_rows", "amount_mismatch_count", "missing_in_ledger_count",
    "missing_in_report_count", NULL,
};
#define COUNTS 6

typedef struct {
    bool     exists;
    char     status[8];             /* running | done */
    int64_t  counts[COUNTS];
    int64_t  created_ms, updated_ms;
    uint8_t *list[LISTS];
    size_t   len[LISTS];
} recon_t;

static void *
s_new (const rt_addr_t *addr)
{
    (void) addr;
    return calloc (1, sizeof (recon_t));
}

static void
s_free (void *state)
{
    recon_t *r = state;
    for (int i = 0; r && i < LISTS; i++)
        free (r->list[i]);
    free (r);
}

/*  Every field from m (an update, or a state). */
static bool
s_take (recon_t *r, ac_map_t *m)
{
    const char *st = ac_map_str (m, "status");
    if (!st || (strcmp (st, "running") && strcmp (st, "done")))
        return false;
    strcpy (r->status, st);
    for (int i = 0; i < COUNTS; i++)
        if (!ac_map_int (m, s_counts[i], &r->counts[i]) || r->counts[i] < 0)
            return false;
    for (int i = 0; i < LISTS; i++) {
        size_t len = 0;
        const uint8_t *b = ac_map_bin (m, s_lists[i], &len);
        if (!b || len % AC_RECON_ITEM || len > AC_RECON_LIST_MAX * AC_RECON_ITEM)
            return false;
        uint8_t *c = malloc (len ? len : 1);
        if (!c)
            return false;
        memcpy (c, b, len);
        free (r->list[i]);
        r->list[i] = c;
        r->len[i] = len;
    }
    return true;
}

static void *
s_decode (const rt_addr_t *addr, uint16_t version, const uint8_t *buf, size_t len)
{
    (void) addr;
    ac_map_t *m = version == 1 ? ac_map_decode (buf, len) : NULL;
    recon_t *r = m ? calloc (1, sizeof *r) : NULL;
    bool ok = r && s_take (r, m) && ac_map_int (m, "created_ms", &r->created_ms)
              && ac_map_int (m, "updated_ms", &r->updated_ms);
    ac_map_destroy (&m);
    if (!ok) {
        s_free (r);
        return NULL;
    }
    r->exists = true;
    return r;
}

static int
s_encode (const void *state, rt_buf_t *out)
{
    const recon_t *r = state;
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 3 + COUNTS + LISTS);
    ac_enc_str (&e, "status", r->status);
    for (int i = 0; i < COUNTS; i++)
        ac_enc_int (&e, s_counts[i], r->counts[i]);
    for (int i = 0; i < LISTS; i++)
        ac_enc_bin (&e, s_lists[i], r->list[i] ? (const void *) r->list[i] : "", r->len[i]);
    ac_enc_int (&e, "created_ms", r->created_ms);
    ac_enc_int (&e, "updated_ms", r->updated_ms);
    int rc = ac_enc_to_buf (&e, out);
    ac_enc_free (&e);
    return rc;
}

static void
s_update (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    recon_t *r = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    recon_t *n = calloc (1, sizeof *n);
    bool ok = m && n && !(r->exists && !strcmp (r->status, "done")) && s_take (n, m);
    ac_map_destroy (&m);
    if (!ok) {
        s_free (n);
        rt_ctx_reject (ctx, r->exists && !strcmp (r->status, "done") ? 409 : 422, NULL, 0);
        return;
    }
    n->exists = true;
    n->updated_ms = rt_ctx_now_ms (ctx);
    n->created_ms = r->exists ? r->created_ms : n->updated_ms;
    rt_ctx_set_state (ctx, n);
    rt_ctx_changed (ctx);
    rt_ctx_reply (ctx, 204, NULL, 0);
}

static void
s_get (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    (void) msg;
    const recon_t *r = state;
    if (!r->exists) {
        rt_ctx_reject (ctx, 404, NULL, 0);
        return;
    }
    const rt_addr_t *self = rt_ctx_self (ctx);
    bool stale = !strcmp (r->status, "running")
                 && rt_ctx_now_ms (ctx) - r->updated_ms > AC_RECON_STALE_MS;
    char created[32], updated[32];
    ac_time_rfc3339 (r->created_ms, created);
    ac_time_rfc3339 (r->updated_ms, updated);
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 4 + COUNTS + LISTS);
    ac_enc_strn (&e, "id", self->key, self->len);
    ac_enc_str (&e, "status", stale ? "failed" : r->status);
    for (int i = 0; i < COUNTS; i++)
        ac_enc_int (&e, s_counts[i], r->counts[i]);
    for (int i = 0; i < LISTS; i++) {
        ac_enc_key (&e, s_lists[i]);
        size_t n = r->len[i] / AC_RECON_ITEM;
        msgpack_pack_array (&e.pk, n);
        for (size_t k = 0; k < n; k++) {
            const uint8_t *it = r->list[i] + k * AC_RECON_ITEM;
            char id[33];
            memcpy (id, it, 32);
            id[32] = 0;
            int64_t rep = ac_get64 (it + 32), led = ac_get64 (it + 40);
            ac_enc_map (&e, 1 + (rep >= 0) + (led >= 0));
            ac_enc_str (&e, "payment_id", id);
            if (rep >= 0)
                ac_enc_int (&e, "report_amount", rep);
            if (led >= 0)
                ac_enc_int (&e, "ledger_amount", led);
        }
    }
    ac_enc_str (&e, "created_at", created);
    ac_enc_str (&e, "updated_at", updated);
    ac_enc_reply (ctx, 200, &e);
}

const rt_type_def_t ac_recon_type = {
    .name = "reconciliation",
    .state_version = 1,
    .state_new = s_new,
    .state_decode = s_decode,
    .state_encode = s_encode,
    .state_free = s_free,
    .handlers = { [RECON_UPDATE] = s_update, [RECON_GET] = s_get },
    .reads = 1ull << RECON_GET,
};
