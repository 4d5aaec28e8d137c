/*  =========================================================================
    rt_msg.c - messages, addresses, futures and buffers
    =========================================================================
*/
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "rt_internal.h"
#include "rt_time.h"

int64_t
rt_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t
rt_hash (uint16_t type, const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const uint64_t prime = 0x100000001b3ull;
    h = (h ^ (type >> 8)) * prime;
    h = (h ^ (type & 0xff)) * prime;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t) key[i]) * prime;
    /*  FNV's low bits mix poorly for short keys; fold the high half in so
        both the shard (low bits) and the worker (high bits) spread. */
    return h ^ (h >> 29) ^ (h << 17);
}

uint32_t
rt_shard_of (uint16_t type, const char *key, size_t len, uint32_t shards)
{
    return (uint32_t) (rt_hash (type, key, len) % shards);
}

int
rt_addr_set (rt_addr_t *addr, uint16_t type, const char *key, size_t len)
{
    if (type == 0 || type >= RT_TYPES_MAX || len == 0 || len > RT_KEY_MAX || !key)
        return RT_EINVAL;
    addr->type = type;
    addr->len = (uint8_t) len;
    memcpy (addr->key, key, len);
    return 0;
}

int
rt_buf_append (rt_buf_t *self, const void *p, size_t n)
{
    if (self->len + n > self->cap) {
        size_t cap = self->cap ? self->cap : 64;
        while (cap < self->len + n)
            cap *= 2;
        uint8_t *d = realloc (self->data, cap);
        if (!d)
            return RT_ENOMEM;
        self->data = d;
        self->cap = cap;
    }
    memcpy (self->data + self->len, p, n);
    self->len += n;
    return 0;
}

void
rt_buf_free (rt_buf_t *self)
{
    free (self->data);
    self->data = NULL;
    self->len = self->cap = 0;
}

rt_imsg_t *
rt_imsg_new (const rt_addr_t *to, uint16_t type, const void *body, size_t body_len,
             size_t scope_len, size_t key_len, size_t rklen, bool trace)
{
    size_t extra = body_len + rklen;
    if (scope_len || key_len)
        extra += scope_len + 1 + key_len + 1;
    if (trace)
        extra += RT_TRACEPARENT_LEN + 1;
    rt_imsg_t *m = malloc (sizeof *m + extra);
    if (!m)
        return NULL;
    /*  Zero the fixed part only: the tail is filled by the caller. */
    memset (m, 0, sizeof *m);
    m->to = *to;
    m->hash = rt_hash (to->type, to->key, to->len);
    m->type = type;
    uint8_t *p = m->tail;
    m->body = p;
    m->body_len = body_len;
    if (body_len)
        memcpy (p, body, body_len);
    p += body_len;
    if (scope_len || key_len) {
        m->idem_scope = (char *) p;
        p += scope_len + 1;
        m->idem_key = (char *) p;
        p += key_len + 1;
    }
    if (rklen) {
        m->rkey = p;
        m->rklen = rklen;
        p += rklen;
    }
    if (trace)
        m->traceparent = (char *) p;
    return m;
}

/*  Envelope flags (field 11): the message flags that travel. */
#define S_WIRE_FLAGS (RT_MF_ASKED | RT_MF_KILL)

int
rt_imsg_encode (const rt_imsg_t *m, uint64_t epoch, uint8_t **out, size_t *out_len)
{
    rt_envelope_t env = {
        .to_type = m->to.type, .to_key = { (const uint8_t *) m->to.key, m->to.len },
        .msg_type = m->type, .corr_id = m->corr_id,
        .from_type = m->from.type, .from_key = { (const uint8_t *) m->from.key, m->from.len },
        .epoch = epoch, .deadline_ms = m->deadline_ms,
        .body = { m->body, m->body_len }, .flags = m->flags & S_WIRE_FLAGS,
    };
    if (m->flags & RT_MF_SRC) {
        env.has_src = true;
        env.src_shard = m->src_shard;
        env.src_seq = m->src_seq;
        env.src_low = m->src_low;
    }
    if (m->flags & RT_MF_IDEM) {
        env.has_idem = true;
        env.idem_scope = (rt_slice_t) { (const uint8_t *) m->idem_scope, strlen (m->idem_scope) };
        env.idem_key = (rt_slice_t) { (const uint8_t *) m->idem_key, strlen (m->idem_key) };
        env.fingerprint = (rt_slice_t) { m->fingerprint, RT_FINGERPRINT_BYTES };
    }
    if (m->traceparent)
        env.traceparent = (rt_slice_t) { (const uint8_t *) m->traceparent, RT_TRACEPARENT_LEN };
    return rt_envelope_encode (&env, out, out_len);
}

rt_imsg_t *
rt_imsg_from_envelope (const rt_envelope_t *env)
{
    rt_addr_t to;
    if (rt_addr_set (&to, env->to_type, (const char *) env->to_key.ptr, env->to_key.len))
        return NULL;
    bool trace = env->traceparent.len == RT_TRACEPARENT_LEN;
    size_t slen = env->has_idem ? env->idem_scope.len : 0;
    size_t klen = env->has_idem ? env->idem_key.len : 0;
    rt_imsg_t *m = rt_imsg_new (&to, env->msg_type, env->body.ptr, env->body.len, slen, klen,
                                0, trace);
    if (!m)
        return NULL;
    if (env->from_type
        && rt_addr_set (&m->from, env->from_type, (const char *) env->from_key.ptr,
                        env->from_key.len)) {
        rt_imsg_free (&m);
        return NULL;
    }
    m->corr_id = env->corr_id;
    m->deadline_ms = env->deadline_ms;
    m->flags = (uint16_t) (env->flags & S_WIRE_FLAGS);
    if (env->has_src) {
        m->flags |= RT_MF_SRC;
        m->src_shard = env->src_shard;
        m->src_seq = env->src_seq;
        m->src_low = env->src_low;
    }
    if (env->has_idem) {
        m->flags |= RT_MF_IDEM;
        memcpy (m->idem_scope, env->idem_scope.ptr, slen);
        m->idem_scope[slen] = 0;
        memcpy (m->idem_key, env->idem_key.ptr, klen);
        m->idem_key[klen] = 0;
        memcpy (m->fingerprint, env->fingerprint.ptr, RT_FINGERPRINT_BYTES);
    }
    if (trace) {
        memcpy (m->traceparent, env->traceparent.ptr, RT_TRACEPARENT_LEN);
        m->traceparent[RT_TRACEPARENT_LEN] = 0;
    }
    return m;
}

void
rt_imsg_free (rt_imsg_t **p)
{
    if (!p || !*p)
        return;
    if ((*p)->future)
        rt_future_release (&(*p)->future);
    free (*p);
    *p = NULL;
}

/* ---- futures ------------------------------------------------------------ */

struct rt_future {
    pthread_mutex_t lock;
    pthread_cond_t  cv;
    atomic_int      refs;
    bool            done;
    rt_reply_t      reply;
    rt_future_fn   *on_done;        /* or NULL: a waiter takes the reply */
    void           *arg;
};

rt_future_t *
rt_future_new (void)
{
    rt_future_t *f = calloc (1, sizeof *f);
    if (!f)
        return NULL;
    pthread_mutex_init (&f->lock, NULL);
    pthread_cond_init (&f->cv, NULL);
    atomic_init (&f->refs, 2);
    return f;
}

rt_future_t *
rt_future_new_cb (rt_future_fn *fn, void *arg)
{
    rt_future_t *f = rt_future_new ();
    if (f) {
        f->on_done = fn;
        f->arg = arg;
        atomic_store (&f->refs, 1);     /* only the runtime's */
    }
    return f;
}

void
rt_future_complete (rt_future_t *f, int err, int status, bool replayed,
                    const void *body, size_t len)
{
    if (f->on_done) {
        pthread_mutex_lock (&f->lock);
        bool first = !f->done;
        f->done = true;
        pthread_mutex_unlock (&f->lock);
        if (first) {
            rt_reply_t r = { .err = err, .status = status, .replayed = replayed,
                             .body = (uint8_t *) body, .body_len = len };
            f->on_done (f->arg, &r);
        }
        return;
    }
    uint8_t *copy = NULL;
    if (len) {
        copy = malloc (len);
        if (copy)
            memcpy (copy, body, len);
        else
            err = RT_ENOMEM, len = 0;
    }
    pthread_mutex_lock (&f->lock);
    if (f->done) {                  /* first answer wins */
        pthread_mutex_unlock (&f->lock);
        free (copy);
        return;
    }
    f->done = true;
    f->reply = (rt_reply_t) { .err = err, .status = status, .replayed = replayed,
                              .body = copy, .body_len = len };
    pthread_mutex_unlock (&f->lock);
    /*  Signalled after unlocking, so the waiter does not wake only to
        block on the lock still held here. f stays valid: the completer
        holds a reference. */
    pthread_cond_signal (&f->cv);
}

bool
rt_future_wait (rt_future_t *f, int timeout_ms, rt_reply_t *out)
{
    struct timespec deadline = rt_deadline_in (timeout_ms);
    pthread_mutex_lock (&f->lock);
    int rc = 0;
    while (!f->done && rc == 0)
        rc = pthread_cond_timedwait (&f->cv, &f->lock, &deadline);
    bool done = f->done;
    if (done) {
        *out = f->reply;
        f->reply.body = NULL;
    }
    else {
        /*  Mark it answered so a late reply is dropped, not leaked. */
        f->done = true;
    }
    pthread_mutex_unlock (&f->lock);
    return done;
}

void
rt_future_release (rt_future_t **p)
{
    if (!p || !*p)
        return;
    rt_future_t *f = *p;
    *p = NULL;
    if (atomic_fetch_sub (&f->refs, 1) == 1) {
        /*  A remote asker still gets an answer (and its callback's state
            is freed) when its message is dropped unanswered. */
        if (f->on_done && !f->done)
            rt_future_complete (f, RT_ESTOPPED, 0, false, NULL, 0);
        free (f->reply.body);
        pthread_mutex_destroy (&f->lock);
        pthread_cond_destroy (&f->cv);
        free (f);
    }
}

void
rt_reply_free (rt_reply_t *reply)
{
    if (!reply)
        return;
    free (reply->body);
    reply->body = NULL;
    reply->body_len = 0;
}
