/*  =========================================================================
    rt_ctx.c - one turn: one message through its actor's handler

    Before the handler: a message from an outbox that this shard already
    processed is dropped (dedup mark), and a message whose idempotency key
    was seen is answered from the stored record without running anything.

    After the handler, everything the turn did becomes one st_record_t —
    state, idempotency record, dedup mark, outbox entries, reminder changes
    — and everything it says (replies, tells) waits in an outputs bundle
    until that record is durable. A turn with nothing to write releases its
    outputs at once, unless an earlier turn of the same actor is still in
    flight: then an empty record keeps it in order behind that one.
    =========================================================================
*/
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "rt_internal.h"
#include "rt_envelope.h"
#include "rt_index.h"

typedef struct {
    uint32_t shard;
    uint64_t seq;
    uint8_t *env;
    size_t   len;
} rt_sent_t;

/*  What a turn says, released once its record is durable. */
typedef struct {
    rt_runtime_t *rt;
    rt_imsg_t    *outs;             /* tells, asks, replies to actors */
    rt_future_t  *future;           /* the outside asker, if any */
    int           status;
    bool          replayed;
    int           err;
    uint8_t      *body;
    size_t        len;
    bool          ack;              /* tell the sender's pump: processed */
    uint32_t      ack_shard;
    uint64_t      ack_seq;
    uint8_t      *receipt;          /* rt_ctx_receipt: [type:2][body], in the ack */
    size_t        rlen;
    bool          gone;             /* a receipt's turn deleted this outbox entry */
    uint32_t      gone_shard;
    uint64_t      gone_seq;
    uint8_t      *rkey;             /* fired reminder that was handled */
    size_t        rklen;
    uint32_t      remind_shard;
    int64_t       remind_min_due;   /* earliest reminder this turn set */
    rt_sent_t     sent[RT_TURN_EFFECTS_MAX];
    unsigned      nsent;
} rt_outputs_t;

struct rt_ctx {
    rt_worker_t  *w;
    rt_runtime_t *rt;
    rt_actor_t   *actor;
    rt_imsg_t    *msg;
    rt_addr_t     self;
    uint32_t      shard;
    int64_t       now_ms;
    void         *old_state;
    bool          changed, aborted, replied, reply_store;
    int           effect_err;       /* first failing rt_ctx_* call */
    unsigned      effects;
    st_record_t  *rec;
    rt_imsg_t    *outs_head, *outs_tail;
    rt_outputs_t  out;
    rt_reply_t   *query;            /* rt_ctx_query: no turn, answer only */
    void         *query_state;      /* ... on this state (rt_read frees it) */
};

/* ---- releasing outputs ------------------------------------------------------ */

/*  A write from outside (an edge's ask or tell, this node's or another's)
    while this node's disk cannot give its store the space it takes
    ahead: refused, so that what is left carries the turns under way
    (store/st_space.c). Deliveries, reminders, replies, kills and reads
    go on. */
static bool
s_refused_for_space (rt_runtime_t *rt, const rt_imsg_t *msg)
{
    if (msg->from.type || msg->type == RT_MSG_REPLY
        || (msg->flags & (RT_MF_SRC | RT_MF_REMINDER | RT_MF_KILL | RT_MF_FENCE | RT_MF_RECEIPT)))
        return false;
    const rt_type_def_t *def = rt->types[msg->to.type];
    if (def && msg->type < RT_MSG_TYPES_MAX && (def->reads & (1ull << msg->type)))
        return false;
    if (!rt->store || !st_store_space_low (rt->store))
        return false;
    atomic_fetch_add (&rt->refused_nospace, 1);
    return true;
}

int
rt_deliver (rt_runtime_t *rt, rt_imsg_t *msg)
{
    uint32_t shard = (uint32_t) (msg->hash % rt->opts.shards);
    uint32_t st = RT_SH_STATE (rt_owner_word (rt->owner, shard));
    if (st != RT_SH_OWNED && (msg->flags & RT_MF_RECEIPT)) {
        /*  A receipt is for the entry in this node's copy of the shard;
            the shard's next owner redelivers the entry and hears the
            receipt again. */
        rt_imsg_free (&msg);
        return 0;
    }
    switch (st) {
        case RT_SH_OWNED:
            break;
        case RT_SH_OUT:
        case RT_SH_IN:
            return rt_wait_push (rt->owner, shard, msg, false);
        default: {
            rt_placement_t *p = rt->placement;
            if (p && rt->transport)
                return rt_transport_forward (rt->transport, rt_placement_owner (p, shard), msg);
            rt_imsg_fail (rt, msg, RT_EUNAVAILABLE);
            return RT_EUNAVAILABLE;
        }
    }
    if (s_refused_for_space (rt, msg)) {
        rt_imsg_fail (rt, msg, RT_ENOSPACE);
        return RT_ENOSPACE;
    }
    rt_worker_t *w = rt_worker_for (rt, msg->hash);
    if (w == rt_worker_current ())
        return rt_worker_deliver_local (w, msg);
    int rc = rt_worker_push (w, msg);
    if (rc)
        rt_imsg_fail (rt, msg, rc);
    return rc;
}

/*  An actor's ask gets an answer message; the status of a failure is the
    HTTP-ish 503 the edge would give, the error in the body. */
static void
s_answer_actor (rt_runtime_t *rt, const rt_imsg_t *req, int status,
                const void *body, size_t len)
{
    rt_imsg_t *r = rt_imsg_new (&req->from, RT_MSG_REPLY, body, len, 0, 0, 0, false);
    if (!r)
        return;
    r->from = req->to;
    r->status = status;
    r->corr_id = req->corr_id;
    rt_deliver (rt, r);
}

void
rt_imsg_fail (rt_runtime_t *rt, rt_imsg_t *msg, int err)
{
    if (msg->future)
        rt_future_complete (msg->future, err, 0, false, NULL, 0);
    else if ((msg->flags & RT_MF_ASKED) && !atomic_load (&rt->stopping)) {
        /*  (While stopping, the asker's worker may already be gone.) */
        const char *why = rt_strerror (err);
        s_answer_actor (rt, msg, 503, why, strlen (why));
    }
    rt_imsg_free (&msg);
}

static void
s_release (rt_outputs_t *o, int err)
{
    rt_runtime_t *rt = o->rt;
    if (o->future) {
        if (err)
            rt_future_complete (o->future, err, 0, false, NULL, 0);
        else
            rt_future_complete (o->future, o->err, o->status, o->replayed, o->body, o->len);
        rt_future_release (&o->future);
    }
    for (rt_imsg_t *m = o->outs, *next; m; m = next) {
        next = m->next;
        if (err)
            rt_imsg_free (&m);
        else
            rt_deliver (rt, m);
    }
    o->outs = NULL;
    if (!err) {
        if (o->ack)
            rt_src_ack (rt, o->ack_shard, o->ack_seq, o->receipt, o->rlen);
        if (o->gone)
            rt_pump_gone (rt->pump, o->gone_shard, o->gone_seq);
        if (o->rkey)
            rt_timer_done (rt->timer, o->rkey, o->rklen);
        if (o->remind_min_due)
            rt_timer_scheduled (rt->timer, o->remind_shard, o->remind_min_due);
        for (unsigned i = 0; i < o->nsent; i++)
            rt_pump_sent (rt->pump, o->sent[i].shard, o->sent[i].seq,
                          o->sent[i].env, o->sent[i].len);
    }
    for (unsigned i = 0; i < o->nsent; i++)
        free (o->sent[i].env);
    o->nsent = 0;
    free (o->body);
    o->body = NULL;
    free (o->rkey);
    o->rkey = NULL;
    free (o->receipt);
    o->receipt = NULL;
    o->rlen = 0;
}

static void
s_commit_done (void *arg, uint64_t seq, int err)
{
    (void) seq;
    rt_outputs_t *o = arg;
    s_release (o, err);
    free (o);
}

/* ---- keys ---------------------------------------------------------------------- */

static void
s_idem_key (st_key_t *k, uint32_t shard, const rt_addr_t *self, const rt_imsg_t *m)
{
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init (&st);
    crypto_hash_sha256_update (&st, (const uint8_t *) m->idem_scope, strlen (m->idem_scope) + 1);
    crypto_hash_sha256_update (&st, (const uint8_t *) m->idem_key, strlen (m->idem_key));
    crypto_hash_sha256_final (&st, digest);
    st_key_begin (k, shard, ST_KIND_IDEM);
    st_key_actor (k, self->type, self->key, self->len);
    st_key_bytes (k, digest, sizeof digest);
}

/*  Dedup marks are per receiving actor: messages from one sender shard
    reach one actor in outbox order (one pump, one worker inbox, FIFO), so
    a low-water mark carried by a later message can safely prune that
    actor's older marks. Per-shard marks could be pruned by a message to
    another actor that overtook the marked one. */
static void
s_dedup_key (st_key_t *k, uint32_t shard, const rt_addr_t *self, uint32_t src_shard,
             uint64_t seq)
{
    st_key_begin (k, shard, ST_KIND_DEDUP);
    st_key_actor (k, self->type, self->key, self->len);
    st_key_u32 (k, src_shard);
    st_key_u64 (k, seq);
}

/*  Look a key up in the worker's overlay of in-flight writes, then in
    LMDB. Returns 0 found (copied into *val, caller frees), 1 absent, or an
    error. */
static int
s_lookup (rt_worker_t *w, const st_key_t *k, uint8_t **val, size_t *vlen, uint64_t *seq)
{
    const uint8_t *v = rt_kv_get (rt_worker_overlay (w), k->b, k->len, vlen, seq);
    if (v) {
        *val = malloc (*vlen ? *vlen : 1);
        if (!*val)
            return RT_ENOMEM;
        memcpy (*val, v, *vlen);
        return 0;
    }
    *seq = 0;
    st_reader_t *r = rt_worker_reader (w);
    int rc = st_reader_begin (r);
    if (rc)
        return rc;
    const void *p;
    rc = st_reader_get (r, k->b, k->len, &p, vlen);
    if (rc == 0) {
        *val = malloc (*vlen ? *vlen : 1);
        if (*val)
            memcpy (*val, p, *vlen);
        else
            rc = RT_ENOMEM;
    }
    st_reader_end (r);
    return rc;
}

/*  Idempotency record value:
        [fingerprint:32][done:1][status:4][expires_ms:8][body]            */
#define IDEM_HDR (RT_FINGERPRINT_BYTES + 1 + 4 + 8)

/* ---- the context API ----------------------------------------------------- */

const rt_addr_t *rt_ctx_self (rt_ctx_t *ctx) { return &ctx->self; }
uint32_t rt_ctx_shard (rt_ctx_t *ctx) { return ctx->shard; }
int64_t rt_ctx_now_ms (rt_ctx_t *ctx) { return ctx->now_ms; }
static int s_effect (rt_ctx_t *ctx, int rc);

/*  A query may only answer: every other call fails it. */
#define S_NOT_IN_QUERY(ctx, ret) \
    do { if ((ctx)->query) { s_effect ((ctx), RT_EINVAL); return ret; } } while (0)

void rt_ctx_changed (rt_ctx_t *ctx) { S_NOT_IN_QUERY (ctx, ); ctx->changed = true; }
void rt_ctx_abort (rt_ctx_t *ctx) { S_NOT_IN_QUERY (ctx, ); ctx->aborted = true; }

void
rt_ctx_set_state (rt_ctx_t *ctx, void *state)
{
    if (ctx->query) {
        /*  Not kept: free a replacement now (the caller's state is freed
            by rt_read). */
        const rt_type_def_t *def = ctx->rt->types[ctx->self.type];
        if (state && state != ctx->query_state && def->state_free)
            def->state_free (state);
        s_effect (ctx, RT_EINVAL);
        return;
    }
    void *cur = rt_actor_state (ctx->actor);
    if (state == cur)
        return;
    if (!ctx->old_state)
        ctx->old_state = cur;       /* freed after the turn */
    else if (cur != ctx->old_state) {
        const rt_type_def_t *def = ctx->rt->types[ctx->self.type];
        if (def->state_free)
            def->state_free (cur);
    }
    rt_actor_set_state (ctx->actor, state);
    ctx->changed = true;
}

static st_record_t *
s_rec (rt_ctx_t *ctx)
{
    if (!ctx->rec)
        ctx->rec = st_record_new ();
    return ctx->rec;
}

static int
s_effect (rt_ctx_t *ctx, int rc)
{
    if (rc && !ctx->effect_err)
        ctx->effect_err = rc;
    return rc;
}

static int
s_answer (rt_ctx_t *ctx, int status, const void *body, size_t len, bool store)
{
    if (ctx->replied || len > RT_BODY_MAX_BYTES)
        return RT_EINVAL;
    ctx->replied = true;
    ctx->reply_store = store;
    if (ctx->query) {
        ctx->query->status = status;
        if (len && !(ctx->query->body = malloc (len)))
            return s_effect (ctx, RT_ENOMEM);
        if (len)
            memcpy (ctx->query->body, body, len);
        ctx->query->body_len = len;
        return 0;
    }
    rt_imsg_t *m = ctx->msg;
    if (ctx->out.future || (m->flags & RT_MF_IDEM)) {
        ctx->out.status = status;
        ctx->out.len = len;
        if (len) {
            ctx->out.body = malloc (len);
            if (!ctx->out.body)
                return s_effect (ctx, RT_ENOMEM);
            memcpy (ctx->out.body, body, len);
        }
    }
    if (m->flags & RT_MF_ASKED) {
        rt_imsg_t *r = rt_imsg_new (&m->from, RT_MSG_REPLY, body, len, 0, 0, 0, false);
        if (!r)
            return s_effect (ctx, RT_ENOMEM);
        r->from = ctx->self;
        r->status = status;
        r->corr_id = m->corr_id;
        r->next = NULL;
        if (ctx->outs_tail) ctx->outs_tail->next = r; else ctx->outs_head = r;
        ctx->outs_tail = r;
    }
    return 0;
}

int
rt_ctx_reply (rt_ctx_t *ctx, int status, const void *body, size_t len)
{
    return s_answer (ctx, status, body, len, true);
}

int
rt_ctx_reject (rt_ctx_t *ctx, int status, const void *body, size_t len)
{
    return s_answer (ctx, status, body, len, false);
}

static rt_imsg_t *
s_out_msg (rt_ctx_t *ctx, uint16_t type, const char *key, size_t klen,
           uint16_t msg_type, const void *body, size_t len)
{
    S_NOT_IN_QUERY (ctx, NULL);
    rt_addr_t to;
    if (ctx->effects >= RT_TURN_EFFECTS_MAX || len > RT_BODY_MAX_BYTES
        || msg_type >= RT_MSG_TYPES_MAX || rt_addr_set (&to, type, key, klen)) {
        s_effect (ctx, RT_EINVAL);
        return NULL;
    }
    rt_imsg_t *m = rt_imsg_new (&to, msg_type, body, len, 0, 0, 0, false);
    if (!m) {
        s_effect (ctx, RT_ENOMEM);
        return NULL;
    }
    ctx->effects++;
    m->from = ctx->self;
    m->next = NULL;
    if (ctx->outs_tail) ctx->outs_tail->next = m; else ctx->outs_head = m;
    ctx->outs_tail = m;
    return m;
}

int
rt_ctx_tell (rt_ctx_t *ctx, uint16_t type, const char *key, size_t klen,
             uint16_t msg_type, const void *body, size_t len)
{
    return s_out_msg (ctx, type, key, klen, msg_type, body, len) ? 0 : ctx->effect_err;
}

uint64_t
rt_ctx_ask (rt_ctx_t *ctx, uint16_t type, const char *key, size_t klen,
            uint16_t msg_type, const void *body, size_t len)
{
    rt_imsg_t *m = s_out_msg (ctx, type, key, klen, msg_type, body, len);
    if (!m)
        return 0;
    m->flags |= RT_MF_ASKED;
    m->corr_id = atomic_fetch_add (&ctx->rt->next_corr, 1) + 1;
    return m->corr_id;
}

int
rt_ctx_send (rt_ctx_t *ctx, uint16_t type, const char *key, size_t klen,
             uint16_t msg_type, const void *body, size_t len)
{
    S_NOT_IN_QUERY (ctx, RT_EINVAL);
    if (ctx->out.nsent >= RT_TURN_EFFECTS_MAX || ctx->effects >= RT_TURN_EFFECTS_MAX)
        return s_effect (ctx, RT_ETOOBIG);
    rt_addr_t to;
    if (rt_addr_set (&to, type, key, klen) || msg_type >= RT_MSG_TYPES_MAX)
        return s_effect (ctx, RT_EINVAL);
    uint64_t seq = rt_pump_next_seq (ctx->rt->pump, ctx->shard);
    rt_envelope_t env = {
        .to_type = type, .to_key = { (const uint8_t *) key, klen },
        .msg_type = msg_type,
        .from_type = ctx->self.type,
        .from_key = { (const uint8_t *) ctx->self.key, ctx->self.len },
        .has_src = true, .src_shard = ctx->shard, .src_seq = seq, .src_low = seq,
        .body = { body, len },
    };
    if (ctx->msg->traceparent)
        env.traceparent = (rt_slice_t) { (const uint8_t *) ctx->msg->traceparent,
                                         RT_TRACEPARENT_LEN };
    uint8_t *buf;
    size_t buflen;
    int rc = rt_envelope_encode (&env, &buf, &buflen);
    if (rc)
        return s_effect (ctx, rc);
    st_key_t k;
    st_key_begin (&k, ctx->shard, ST_KIND_OUTBOX);
    st_key_u64 (&k, seq);
    /*  No high-water mark here: the entry itself records the number
        until the pump deletes it, and the deletion raises the shard's
        mark ("oseq", rt_pump.c) in the same record. */
    rc = st_record_put (s_rec (ctx), k.b, k.len, buf, buflen);
    if (rc) {
        free (buf);
        return s_effect (ctx, rc);
    }
    ctx->out.sent[ctx->out.nsent++] = (rt_sent_t) { ctx->shard, seq, buf, buflen };
    ctx->effects++;
    return 0;
}

/*  [msg_type:2][body], malloc'd: how a reminder's and a receipt's message
    is kept. NULL when memory is short. */
static uint8_t *
s_typed_body (uint16_t msg_type, const void *body, size_t len)
{
    uint8_t *p = malloc (2 + len);
    if (!p)
        return NULL;
    st_put_u16 (p, msg_type);
    if (len)
        memcpy (p + 2, body, len);
    return p;
}

int
rt_ctx_receipt (rt_ctx_t *ctx, uint16_t msg_type, const void *body, size_t len)
{
    S_NOT_IN_QUERY (ctx, RT_EINVAL);
    if (!(ctx->msg->flags & RT_MF_SRC) || ctx->out.receipt || msg_type >= RT_MSG_TYPES_MAX
        || len > RT_RECEIPT_MAX_BYTES - 2)
        return RT_EINVAL;
    uint8_t *r = s_typed_body (msg_type, body, len);
    if (!r)
        return s_effect (ctx, RT_ENOMEM);
    ctx->out.receipt = r;
    ctx->out.rlen = 2 + len;
    return 0;
}

static void
s_who (rt_ctx_t *ctx, uint8_t *who, size_t *wholen)
{
    st_put_u16 (who, ctx->self.type);
    who[2] = ctx->self.len;
    memcpy (who + 3, ctx->self.key, ctx->self.len);
    *wholen = 3 + ctx->self.len;
}

int
rt_ctx_remind (rt_ctx_t *ctx, const char *name, int64_t due_ms, uint16_t msg_type,
               const void *body, size_t len)
{
    S_NOT_IN_QUERY (ctx, RT_EINVAL);
    size_t namelen = name ? strlen (name) : 0;
    if (namelen == 0 || namelen > RT_REMINDER_NAME_MAX || due_ms < 0
        || msg_type >= RT_MSG_TYPES_MAX || len > RT_BODY_MAX_BYTES
        || ctx->effects >= RT_TURN_EFFECTS_MAX)
        return s_effect (ctx, RT_EINVAL);
    uint8_t who[3 + RT_KEY_MAX];
    size_t wholen;
    s_who (ctx, who, &wholen);
    uint8_t *payload = s_typed_body (msg_type, body, len);
    if (!payload)
        return s_effect (ctx, RT_ENOMEM);
    int rc = st_record_remind_set (s_rec (ctx), ctx->shard, who, wholen, name, namelen,
                                   (uint64_t) due_ms, payload, 2 + len);
    free (payload);
    if (rc)
        return s_effect (ctx, rc);
    ctx->effects++;
    ctx->out.remind_shard = ctx->shard;
    if (!ctx->out.remind_min_due || due_ms < ctx->out.remind_min_due)
        ctx->out.remind_min_due = due_ms ? due_ms : 1;
    return 0;
}

int
rt_ctx_cancel_reminder (rt_ctx_t *ctx, const char *name)
{
    S_NOT_IN_QUERY (ctx, RT_EINVAL);
    size_t namelen = name ? strlen (name) : 0;
    uint8_t who[3 + RT_KEY_MAX];
    size_t wholen;
    s_who (ctx, who, &wholen);
    return s_effect (ctx, st_record_remind_cancel (s_rec (ctx), ctx->shard, who, wholen,
                                                   name, namelen));
}

/* ---- the turn ------------------------------------------------------------- */

/*  A known idempotency key: answer from the record. Returns true when the
    message was answered (and must not run). */
static bool
s_idem_check (rt_ctx_t *ctx, const st_key_t *ik)
{
    uint8_t *v = NULL;
    size_t vlen = 0;
    uint64_t seq = 0;
    int rc = s_lookup (ctx->w, ik, &v, &vlen, &seq);
    if (rc == 1)
        return false;
    rt_imsg_t *m = ctx->msg;
    if (rc || vlen < IDEM_HDR) {
        ctx->out.err = rc ? rc : RT_ECORRUPT;
    }
    else if ((int64_t) st_get_u64 (v + RT_FINGERPRINT_BYTES + 5) < ctx->now_ms) {
        free (v);
        return false;           /* expired: the sweeper has not got to it yet */
    }
    else if (sodium_memcmp (v, m->fingerprint, RT_FINGERPRINT_BYTES) != 0)
        ctx->out.err = RT_EIDEM_REUSED;
    else if (!v[RT_FINGERPRINT_BYTES])
        ctx->out.err = RT_EIDEM_INFLIGHT;
    else {
        ctx->out.status = (int) st_get_u32 (v + RT_FINGERPRINT_BYTES + 1);
        ctx->out.replayed = true;
        ctx->out.len = vlen - IDEM_HDR;
        if (ctx->out.len) {
            ctx->out.body = malloc (ctx->out.len);
            if (ctx->out.body)
                memcpy (ctx->out.body, v + IDEM_HDR, ctx->out.len);
            else
                ctx->out.err = RT_ENOMEM, ctx->out.len = 0;
        }
        atomic_fetch_add (&ctx->rt->idem_replays, 1);
    }
    free (v);
    /*  The stored answer may belong to a turn whose commit is in flight:
        the empty-record path below orders this reply behind it. */
    ctx->replied = true;
    return true;
}

/*  The idempotency record's bytes for this turn's answer (malloc'd). */
static uint8_t *
s_idem_value (rt_ctx_t *ctx, size_t *vlen, int64_t *expires)
{
    *vlen = IDEM_HDR + ctx->out.len;
    uint8_t *v = malloc (*vlen);
    if (!v)
        return NULL;
    *expires = ctx->now_ms + (int64_t) ctx->rt->opts.idem_retention_s * 1000;
    memcpy (v, ctx->msg->fingerprint, RT_FINGERPRINT_BYTES);
    v[RT_FINGERPRINT_BYTES] = ctx->replied;
    st_put_u32 (v + RT_FINGERPRINT_BYTES + 1, (uint32_t) ctx->out.status);
    st_put_u64 (v + RT_FINGERPRINT_BYTES + 5, (uint64_t) *expires);
    if (ctx->out.len)
        memcpy (v + IDEM_HDR, ctx->out.body, ctx->out.len);
    return v;
}

static int
s_put_idem (rt_ctx_t *ctx, const st_key_t *ik, const uint8_t *v, size_t vlen,
            int64_t expires)
{
    int rc = st_record_put (ctx->rec, ik->b, ik->len, v, vlen);
    if (rc)
        return rc;
    /*  Expiry index: [shard][E][expires][rest of the I key]. */
    st_key_t ek;
    st_key_begin (&ek, ctx->shard, ST_KIND_IDEM_EXP);
    st_key_u64 (&ek, (uint64_t) expires);
    st_key_bytes (&ek, ik->b + 3, ik->len - 3);
    return st_record_put (ctx->rec, ek.b, ek.len, "", 0);
}

/*  Give up the turn: nothing it did is kept or sent, the asker gets 500
    with err, and the actor is dropped as in a crash (its in-memory state
    may be half-changed). */
static void
s_abort (rt_ctx_t *ctx, const rt_type_def_t *def, rt_imsg_t *msg, int err)
{
    st_record_destroy (&ctx->rec);
    for (rt_imsg_t *m = ctx->outs_head, *next; m; m = next) {
        next = m->next;
        rt_imsg_free (&m);
    }
    for (unsigned i = 0; i < ctx->out.nsent; i++)
        free (ctx->out.sent[i].env);
    ctx->out.nsent = 0;
    ctx->out.remind_min_due = 0;
    ctx->out.ack = false;
    ctx->out.gone = false;
    free (ctx->out.receipt);
    ctx->out.receipt = NULL;
    ctx->out.rlen = 0;
    free (ctx->out.rkey);
    ctx->out.rkey = NULL;
    free (ctx->out.body);
    ctx->out.body = NULL;
    ctx->out.len = 0;
    ctx->out.status = 500;
    ctx->out.err = err;
    s_release (&ctx->out, 0);
    if (ctx->old_state && def->state_free)
        def->state_free (ctx->old_state);
    rt_imsg_free (&msg);
    rt_worker_kill_actor (ctx->w, ctx->actor);
}

/*  The index entries the new state stands for replace the old ones. The
    state's "exists" is the type's business: its hook emits nothing for
    one that does not. */
static void
s_index (rt_ctx_t *ctx, const rt_type_def_t *def, const rt_index_set_t *before)
{
    rt_index_set_t *after = rt_index_collect (def, &ctx->self, rt_actor_state (ctx->actor));
    int rc = after ? rt_index_write (s_rec (ctx), ctx->shard, before, after) : RT_ETOOBIG;
    rt_index_set_destroy (&after);
    s_effect (ctx, rc);
}

void
rt_turn_run (rt_worker_t *w, rt_actor_t *actor, rt_imsg_t *msg, bool *alive)
{
    rt_runtime_t *rt = rt_worker_runtime (w);
    rt_ctx_t ctx = { .w = w, .rt = rt, .actor = actor, .msg = msg };
    ctx.out.rt = rt;
    ctx.self = msg->to;
    ctx.shard = (uint32_t) (msg->hash % rt->opts.shards);
    ctx.now_ms = rt_now_ms ();
    ctx.out.future = msg->future;
    msg->future = NULL;
    *alive = true;
    const rt_type_def_t *def = rt->types[ctx.self.type];

    st_key_t ik, dk;
    bool handled = false, mark_dedup = false;
    rt_index_set_t *before = NULL;
    if (msg->deadline_ms && ctx.now_ms > msg->deadline_ms) {
        /*  The asker has given up: running it now only adds load to an
            actor that is already behind (load shedding, at most once). */
        if (ctx.out.future) {
            rt_future_complete (ctx.out.future, RT_ETIMEOUT, 0, false, NULL, 0);
            rt_future_release (&ctx.out.future);
        }
        atomic_fetch_add (&rt->expired, 1);
        rt_imsg_free (&msg);
        return;
    }
    if (msg->flags & RT_MF_SRC) {
        s_dedup_key (&dk, ctx.shard, &ctx.self, msg->src_shard, msg->src_seq);
        uint8_t *v = NULL;
        size_t vlen;
        uint64_t seq;
        int rc = s_lookup (w, &dk, &v, &vlen, &seq);
        if (rc == 0) {
            /*  Seen. Acknowledge only once the mark is durable; if it is
                still in flight the sender's retry will find it there. The
                mark holds the receipt the first turn gave, if any: the
                sender has not handled it yet, or its entry would be gone
                and the message would not come again. */
            if (seq == 0)
                rt_src_ack (rt, msg->src_shard, msg->src_seq, v,
                            vlen <= RT_RECEIPT_MAX_BYTES ? vlen : 0);
            handled = true;
        }
        else
            mark_dedup = true;
        free (v);
    }
    /*  A receipt runs only while the outbox entry it answers exists: a
        second one (the message was redelivered before the first receipt's
        turn committed) finds it gone, or going in a commit still in
        flight (the overlay), and does nothing. */
    st_key_t ok;
    bool ok_live = false;
    if (!handled && (msg->flags & RT_MF_RECEIPT)) {
        st_key_begin (&ok, ctx.shard, ST_KIND_OUTBOX);
        st_key_u64 (&ok, msg->src_seq);
        uint8_t *v = NULL;
        size_t vlen;
        uint64_t seq;
        int rc = msg->src_shard == ctx.shard ? s_lookup (w, &ok, &v, &vlen, &seq) : 1;
        free (v);
        handled = rc != 0 || seq != 0;
        ok_live = !handled;
    }
    /*  A reminder runs only while its entry exists: one fired twice (its
        first message delayed past the refire time, or fired by the old and
        the new owner of a shard that moved) finds it gone, or going in a
        commit still in flight (the overlay), and does nothing. */
    st_key_t rk;
    bool rk_live = false;
    if (!handled && (msg->flags & RT_MF_REMINDER) && msg->rklen <= ST_KEY_MAX) {
        memcpy (rk.b, msg->rkey, msg->rklen);
        rk.len = msg->rklen;
        uint8_t *v = NULL;
        size_t vlen;
        uint64_t seq;
        int rc = s_lookup (w, &rk, &v, &vlen, &seq);
        free (v);
        handled = rc != 0 || seq != 0;
        rk_live = !handled;
    }
    if (!handled && (msg->flags & RT_MF_IDEM)) {
        s_idem_key (&ik, ctx.shard, &ctx.self, msg);
        handled = s_idem_check (&ctx, &ik);
    }
    if (!handled) {
        rt_handler_fn *fn = msg->type < RT_MSG_TYPES_MAX ? def->handlers[msg->type] : NULL;
        if (!fn) {
            ctx.out.err = RT_ENOHANDLER;
            ctx.replied = true;
            if (msg->flags & RT_MF_ASKED)
                s_answer_actor (rt, msg, 501, "no handler", 10);
        }
        else {
            /*  What the index holds for this actor now, to write only the
                difference after the turn. Queries (rt_read) never get
                here, so this costs writes only. */
            if (def->index && !(before = rt_index_collect (def, &ctx.self,
                                                            rt_actor_state (actor))))
                s_effect (&ctx, RT_ENOMEM);
            rt_msg_t view = {
                .type = msg->type, .body = msg->body, .body_len = msg->body_len,
                .status = msg->status, .corr_id = msg->corr_id,
                .from = msg->from.type ? &msg->from : NULL,
                .is_reminder = (msg->flags & RT_MF_REMINDER) != 0,
                .traceparent = msg->traceparent,
            };
            fn (&ctx, rt_actor_state (actor), &view);
        }
    }

    if (!ctx.aborted && !ctx.effect_err && ctx.changed && before)
        s_index (&ctx, def, before);
    rt_index_set_destroy (&before);
    if (ctx.aborted || ctx.effect_err) {
        s_abort (&ctx, def, msg, ctx.effect_err);
        *alive = false;
        return;
    }
    if (ctx.out.future && !ctx.replied)
        ctx.out.status = 204;       /* a handler that says nothing: No Content */

    int rc = 0;
    if (ctx.changed) {
        rt_buf_t buf = { 0 };
        uint8_t ver[2];
        st_put_u16 (ver, def->state_version);
        rc = rt_buf_append (&buf, ver, 2);
        if (!rc)
            rc = def->state_encode (rt_actor_state (actor), &buf);
        if (!rc && buf.len > RT_STATE_MAX_BYTES + 2)
            rc = RT_ETOOBIG;
        if (!rc) {
            st_key_t sk;
            st_key_begin (&sk, ctx.shard, ST_KIND_STATE);
            st_key_actor (&sk, ctx.self.type, ctx.self.key, ctx.self.len);
            rc = st_record_put (s_rec (&ctx), sk.b, sk.len, buf.data, buf.len);
        }
        rt_buf_free (&buf);
    }
    bool store_idem = !handled && (msg->flags & RT_MF_IDEM) && ctx.reply_store;
    uint8_t *iv = NULL;
    size_t ivlen = 0;
    if (!rc && store_idem) {
        int64_t expires;
        s_rec (&ctx);
        iv = s_idem_value (&ctx, &ivlen, &expires);
        rc = iv ? s_put_idem (&ctx, &ik, iv, ivlen, expires) : RT_ENOMEM;
    }
    if (!rc && mark_dedup && !handled) {
        st_key_t lo, hi;
        s_rec (&ctx);
        const uint8_t *mark = ctx.out.receipt ? ctx.out.receipt : (const uint8_t *) "";
        rc = st_record_put (ctx.rec, dk.b, dk.len, mark, ctx.out.rlen);
        /*  Marks below the sender's low-water mark can never be needed
            again: those messages are acknowledged and gone from its
            outbox. Dropping them keeps dedup state bounded. */
        s_dedup_key (&lo, ctx.shard, &ctx.self, msg->src_shard, 0);
        s_dedup_key (&hi, ctx.shard, &ctx.self, msg->src_shard, msg->src_low);
        if (!rc && msg->src_low > 0)
            rc = st_record_del_range (ctx.rec, lo.b, lo.len, hi.b, hi.len);
        ctx.out.ack = true;
        ctx.out.ack_shard = msg->src_shard;
        ctx.out.ack_seq = msg->src_seq;
    }
    if (!rc && ok_live) {
        /*  The entry goes with the turn that handled its receipt, and the
            shard's high-water mark rises past it, as when the pump
            deletes one (rt_pump.c). */
        st_key_t mk;
        rt_pump_mark_key (&mk, ctx.shard);
        rc = st_record_del (s_rec (&ctx), ok.b, ok.len);
        if (!rc)
            rc = st_record_put_max (ctx.rec, mk.b, mk.len, msg->src_seq);
        ctx.out.gone = true;
        ctx.out.gone_shard = ctx.shard;
        ctx.out.gone_seq = msg->src_seq;
    }
    if (!rc && (msg->flags & RT_MF_REMINDER) && !handled) {
        rc = st_record_remind_fired (s_rec (&ctx), msg->rkey, msg->rklen);
        ctx.out.rkey = malloc (msg->rklen);
        if (ctx.out.rkey) {
            memcpy (ctx.out.rkey, msg->rkey, msg->rklen);
            ctx.out.rklen = msg->rklen;
        }
    }
    if (rc) {
        /*  Could not even build the record (encode failure, over a
            limit): the same as an aborted turn. */
        free (iv);
        s_abort (&ctx, def, msg, rc);
        *alive = false;
        return;
    }
    if (ctx.old_state && def->state_free)
        def->state_free (ctx.old_state);
    ctx.out.outs = ctx.outs_head;

    uint64_t durable = st_committer_durable (rt->committer);
    bool must_wait = ctx.rec || rt_actor_pending_seq (actor) > durable;
    if (!must_wait) {
        free (iv);
        s_release (&ctx.out, 0);
        rt_imsg_free (&msg);
        return;
    }
    rt_outputs_t *o = malloc (sizeof *o);
    if (!o) {
        /*  Cannot queue the outputs: fail them, and drop the actor so its
            in-memory state does not run ahead of what we tell anyone. */
        free (iv);
        st_record_destroy (&ctx.rec);
        s_release (&ctx.out, RT_ENOMEM);
        rt_imsg_free (&msg);
        rt_worker_kill_actor (w, actor);
        *alive = false;
        return;
    }
    *o = ctx.out;
    /*  After submit, o belongs to the committer thread (it may already be
        released and freed): use only what this thread kept. */
    st_record_t *rec = ctx.rec ? ctx.rec : st_record_new ();
    uint64_t seq = st_committer_submit (rt->committer, &rec, s_commit_done, o);
    if (seq) {
        rt_actor_set_pending_seq (actor, seq);
        /*  Duplicates arriving before the commit lands find these. */
        rt_kv_t *ov = rt_worker_overlay (w);
        if (iv)
            rt_kv_put (ov, ik.b, ik.len, iv, ivlen, seq);
        if (mark_dedup && !handled)
            rt_kv_put (ov, dk.b, dk.len, "", 0, seq);
        if (ok_live)
            rt_kv_put (ov, ok.b, ok.len, "", 0, seq);      /* going */
        if (rk_live)
            rt_kv_put (ov, rk.b, rk.len, "", 0, seq);      /* going */
    }
    free (iv);
    rt_imsg_free (&msg);
}

int
rt_ctx_query (rt_runtime_t *rt, const rt_type_def_t *def, void *state, const rt_addr_t *addr,
              uint32_t shard, const rt_msg_t *msg, rt_reply_t *reply)
{
    rt_ctx_t ctx = { .rt = rt, .self = *addr, .shard = shard, .now_ms = rt_now_ms (),
                     .query = reply, .query_state = state };
    rt_handler_fn *h = def->handlers[msg->type];
    if (h)
        h (&ctx, state, msg);
    if (!ctx.effect_err && ctx.replied)
        return 0;
    free (reply->body);
    reply->body = NULL;
    reply->body_len = 0;
    reply->status = 0;
    return ctx.effect_err ? ctx.effect_err : RT_EINVAL;
}
