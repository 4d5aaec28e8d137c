/*  =========================================================================
    ac_account.c - one part of a system account (adjustments, fees, cod,
    partner:<name>)

    The other side of movements that enter or leave the wallets: an admin
    credit is +amount in a wallet and -amount here, so all accounts
    together sum to zero. A system account is AC_ACCOUNT_SHARDS actors
    (key "<name>#<k>", the movement's ref picks k), never one hot spot. It
    keeps a balance and a count, not entries: its postings are the
    wallets' entries seen from the other side, each with the same ref.
    Postings arrive only from outboxes (exactly once), never from outside.
    =========================================================================
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ac_types.h"
#include "ac_ledger.h"
#include "runtime/rt_log.h"

typedef struct {
    int64_t balance, posts;
} account_t;

static void *
s_new (const rt_addr_t *addr)
{
    (void) addr;
    return calloc (1, sizeof (account_t));
}

static void s_free (void *state) { free (state); }

static void *
s_decode (const rt_addr_t *addr, uint16_t version, const uint8_t *buf, size_t len)
{
    (void) addr;
    ac_map_t *m = version == 1 ? ac_map_decode (buf, len) : NULL;
    account_t *a = m ? calloc (1, sizeof *a) : NULL;
    if (a && !(ac_map_int (m, "balance", &a->balance) && ac_map_int (m, "posts", &a->posts))) {
        free (a);
        a = NULL;
    }
    ac_map_destroy (&m);
    return a;
}

static int
s_encode (const void *state, rt_buf_t *out)
{
    const account_t *a = state;
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 2);
    ac_enc_int (&e, "balance", a->balance);
    ac_enc_int (&e, "posts", a->posts);
    int rc = ac_enc_to_buf (&e, out);
    ac_enc_free (&e);
    return rc;
}

static void
s_post (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    account_t *a = state;
    if (!msg->from)
        return;                 /* never from outside */
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    int64_t amount = 0, next = 0;
    bool ok = m && ac_map_int (m, "amount", &amount) && amount >= -AC_MONEY_MAX
              && amount <= AC_MONEY_MAX && !__builtin_add_overflow (a->balance, amount, &next)
              && next >= -AC_BALANCE_MAX && next <= AC_BALANCE_MAX;
    ac_map_destroy (&m);
    if (!ok) {
        /*  Past AC_BALANCE_MAX: more than 10^5 postings of the largest
            amount on one part. Logged, never silently wrapped. */
        const rt_addr_t *self = rt_ctx_self (ctx);
        rt_log ("error", "ledger.account_refused", "\"account\":\"%.*s\",\"amount\":%lld",
                (int) self->len, self->key, (long long) amount);
        return;
    }
    a->balance = next;
    a->posts++;
    rt_ctx_changed (ctx);
}

static void
s_get (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    (void) msg;
    const account_t *a = state;
    const rt_addr_t *self = rt_ctx_self (ctx);
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 3);
    ac_enc_strn (&e, "name", self->key, self->len);
    ac_enc_int (&e, "balance", a->balance);
    ac_enc_int (&e, "posts", a->posts);
    ac_enc_reply (ctx, 200, &e);
}

static void
s_index (const rt_addr_t *addr, const void *state, rt_index_emit_fn *emit, void *sink)
{
    const account_t *a = state;
    if (!a->posts)
        return;
    uint8_t k[2 + RT_KEY_MAX], v[8];
    k[0] = 'L';
    k[1] = 'a';
    memcpy (k + 2, addr->key, addr->len);
    ac_put64 (v, a->balance);
    emit (sink, k, 2 + addr->len, v, sizeof v);
}

const rt_type_def_t ac_account_type = {
    .name = "account",
    .state_version = 1,
    .state_new = s_new,
    .state_decode = s_decode,
    .state_encode = s_encode,
    .state_free = s_free,
    .handlers = { [ACCOUNT_POST] = s_post, [ACCOUNT_GET] = s_get },
    .reads = 1ull << ACCOUNT_GET,
    .index = s_index,
};
