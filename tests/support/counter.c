/*  counter.c - the test actor type (never linked into bin/pasar) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "counter.h"
#include "runtime/rt_error.h"

typedef struct { long long value; } counter_t;

void (*counter_on_ping_done) (void);

static void *
s_new (const rt_addr_t *addr)
{
    (void) addr;
    return calloc (1, sizeof (counter_t));
}

static void *
s_decode (const rt_addr_t *addr, uint16_t version, const uint8_t *buf, size_t len)
{
    (void) addr;
    if (version != 1 || len != sizeof (long long))
        return NULL;
    counter_t *c = malloc (sizeof *c);
    if (c)
        memcpy (&c->value, buf, sizeof c->value);
    return c;
}

static int
s_encode (const void *state, rt_buf_t *out)
{
    const counter_t *c = state;
    return rt_buf_append (out, &c->value, sizeof c->value);
}

static void
s_reply_value (rt_ctx_t *ctx, long long v)
{
    char buf[32];
    int n = snprintf (buf, sizeof buf, "%lld", v);
    rt_ctx_reply (ctx, 200, buf, (size_t) n);
}

static long long
s_body_num (const rt_msg_t *m)
{
    char buf[32] = { 0 };
    memcpy (buf, m->body, m->body_len < 31 ? m->body_len : 31);
    return atoll (buf);
}

static void
s_inc (rt_ctx_t *ctx, void *state, const rt_msg_t *m)
{
    counter_t *c = state;
    c->value += m->body_len ? s_body_num (m) : 1;
    rt_ctx_changed (ctx);
    s_reply_value (ctx, c->value);
}

static void
s_get (rt_ctx_t *ctx, void *state, const rt_msg_t *m)
{
    (void) m;
    s_reply_value (ctx, ((counter_t *) state)->value);
}

static void
s_send_inc (rt_ctx_t *ctx, void *state, const rt_msg_t *m)
{
    (void) state;
    int rc = rt_ctx_send (ctx, COUNTER_TYPE, (const char *) m->body, m->body_len, CTR_INC, "1", 1);
    rt_ctx_reply (ctx, rc ? 500 : 202, NULL, 0);
}

static void
s_send_receipted (rt_ctx_t *ctx, void *state, const rt_msg_t *m)
{
    (void) state;
    int rc = rt_ctx_send (ctx, COUNTER_TYPE, (const char *) m->body, m->body_len,
                          CTR_INC_RECEIPTED, NULL, 0);
    rt_ctx_reply (ctx, rc ? 500 : 202, NULL, 0);
}

static void
s_inc_receipted (rt_ctx_t *ctx, void *state, const rt_msg_t *m)
{
    (void) m;
    counter_t *c = state;
    if (rt_ctx_receipt (ctx, CTR_RECEIPT, "r", 1)) {
        rt_ctx_reject (ctx, 400, NULL, 0);
        return;
    }
    c->value += 1;
    rt_ctx_changed (ctx);
}

static void
s_receipt (rt_ctx_t *ctx, void *state, const rt_msg_t *m)
{
    counter_t *c = state;
    if (!m->from || m->body_len != 1 || m->body[0] != 'r')
        return;
    c->value += 1;
    rt_ctx_changed (ctx);
}

static void
s_remind (rt_ctx_t *ctx, void *state, const rt_msg_t *m)
{
    (void) state;
    char buf[128] = { 0 }, name[65] = { 0 };
    long long delay = 0;
    memcpy (buf, m->body, m->body_len < 127 ? m->body_len : 127);
    if (sscanf (buf, "%64s %lld", name, &delay) != 2) {
        rt_ctx_reject (ctx, 422, NULL, 0);
        return;
    }
    int rc = rt_ctx_remind (ctx, name, rt_ctx_now_ms (ctx) + delay, CTR_TICK, NULL, 0);
    rt_ctx_reply (ctx, rc ? 500 : 202, NULL, 0);
}

static void
s_tick (rt_ctx_t *ctx, void *state, const rt_msg_t *m)
{
    (void) m;
    counter_t *c = state;
    c->value += 100;
    rt_ctx_changed (ctx);
}

static void
s_abort (rt_ctx_t *ctx, void *state, const rt_msg_t *m)
{
    (void) m;
    counter_t *c = state;
    c->value += 1000;           /* must not survive the abort */
    rt_ctx_changed (ctx);
    rt_ctx_abort (ctx);
}

static void
s_slow (rt_ctx_t *ctx, void *state, const rt_msg_t *m)
{
    (void) state;
    usleep ((useconds_t) s_body_num (m) * 1000);
    rt_ctx_reply (ctx, 200, NULL, 0);
}

static void
s_ping (rt_ctx_t *ctx, void *state, const rt_msg_t *m)
{
    (void) state;
    char buf[96] = { 0 }, peer[65] = { 0 };
    long long n = 0;
    memcpy (buf, m->body, m->body_len < 95 ? m->body_len : 95);
    if (sscanf (buf, "%64s %lld", peer, &n) != 2)
        return;
    if (n <= 0) {
        if (counter_on_ping_done)
            counter_on_ping_done ();
        return;
    }
    char out[96];
    const rt_addr_t *self = rt_ctx_self (ctx);
    int len = snprintf (out, sizeof out, "%.*s %lld", self->len, self->key, n - 1);
    rt_ctx_tell (ctx, COUNTER_TYPE, peer, strlen (peer), CTR_PING, out, (size_t) len);
}

static void
s_ask_get (rt_ctx_t *ctx, void *state, const rt_msg_t *m)
{
    (void) state;
    uint64_t corr = rt_ctx_ask (ctx, COUNTER_TYPE, (const char *) m->body, m->body_len,
                                CTR_GET, NULL, 0);
    rt_ctx_reply (ctx, corr ? 202 : 500, NULL, 0);
}

/*  The answer to an rt_ctx_ask arrives as a message of its own. */
static void
s_reply (rt_ctx_t *ctx, void *state, const rt_msg_t *m)
{
    counter_t *c = state;
    if (m->status != 200 || !m->from || m->corr_id == 0)
        return;
    c->value += s_body_num (m);
    rt_ctx_changed (ctx);
}

static void
s_noop (rt_ctx_t *ctx, void *state, const rt_msg_t *m)
{
    (void) ctx;
    (void) state;
    (void) m;
}

/*  Index: ['v'][value + 2^63, big-endian][key] for every non-zero
    counter, so tests can scan counters in value order. */
static void
s_index (const rt_addr_t *addr, const void *state, rt_index_emit_fn *emit, void *sink)
{
    const counter_t *c = state;
    if (!c->value)
        return;
    uint8_t k[1 + 8 + RT_KEY_MAX];
    uint64_t v = (uint64_t) c->value ^ (1ull << 63);
    k[0] = 'v';
    for (int i = 0; i < 8; i++)
        k[1 + i] = (uint8_t) (v >> (56 - 8 * i));
    memcpy (k + 9, addr->key, addr->len);
    emit (sink, k, 9 + addr->len, addr->key, addr->len);
}

const rt_type_def_t counter_type = {
    .name = "counter",
    .state_version = 1,
    .state_new = s_new,
    .state_decode = s_decode,
    .state_encode = s_encode,
    .state_free = free,
    .handlers = {
        [CTR_INC] = s_inc, [CTR_GET] = s_get, [CTR_SEND_INC] = s_send_inc,
        [CTR_REMIND] = s_remind, [CTR_TICK] = s_tick, [CTR_ABORT] = s_abort,
        [CTR_SLOW] = s_slow, [CTR_PING] = s_ping, [CTR_NOOP] = s_noop,
        [CTR_ASK_GET] = s_ask_get, [RT_MSG_REPLY] = s_reply, [CTR_BAD_QUERY] = s_inc,
        [CTR_SEND_RECEIPTED] = s_send_receipted, [CTR_INC_RECEIPTED] = s_inc_receipted,
        [CTR_RECEIPT] = s_receipt,
    },
    .reads = 1ull << CTR_GET | 1ull << CTR_NOOP | 1ull << CTR_BAD_QUERY,
    .index = s_index,
};

static int
s_call (rt_runtime_t *rt, const char *key, int msg, const char *body, long long *value,
        int timeout_ms, bool read)
{
    rt_request_t req = {
        .to_type = COUNTER_TYPE, .to_key = key, .to_key_len = strlen (key),
        .msg_type = (uint16_t) msg, .body = body, .body_len = body ? strlen (body) : 0,
    };
    rt_reply_t rep;
    int rc = read ? rt_read (rt, &req, timeout_ms, &rep) : rt_ask (rt, &req, timeout_ms, &rep);
    if (rc == 0 && value && rep.body_len) {
        char buf[32] = { 0 };
        memcpy (buf, rep.body, rep.body_len < 31 ? rep.body_len : 31);
        *value = atoll (buf);
    }
    int status = rc ? rc : rep.status;
    rt_reply_free (&rep);
    return status;
}

int
counter_ask (rt_runtime_t *rt, const char *key, int msg, const char *body,
             long long *value, int timeout_ms)
{
    return s_call (rt, key, msg, body, value, timeout_ms, false);
}

int
counter_read (rt_runtime_t *rt, const char *key, int msg, long long *value)
{
    return s_call (rt, key, msg, NULL, value, 5000, true);
}
