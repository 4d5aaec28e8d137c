/*  =========================================================================
    rt_read.c - queries answered from committed state on the caller's
    thread, and the state loading they share with activation
    =========================================================================
*/
#include <stdlib.h>
#include <string.h>
#include "rt_internal.h"

int
rt_state_load (const rt_type_def_t *def, st_reader_t *reader, const rt_addr_t *addr,
               uint32_t shard, void **state)
{
    st_key_t k;
    st_key_begin (&k, shard, ST_KIND_STATE);
    st_key_actor (&k, addr->type, addr->key, addr->len);
    *state = NULL;
    const void *val;
    size_t vlen;
    int rc = st_reader_get (reader, k.b, k.len, &val, &vlen);
    if (rc == 0) {
        const uint8_t *v = val;
        uint16_t version = vlen >= 2 ? st_get_u16 (v) : 0;
        if (vlen >= 2 && version <= def->state_version)
            *state = def->state_decode (addr, version, v + 2, vlen - 2);
        return *state ? 0 : RT_ECORRUPT;
    }
    if (rc == 1) {
        *state = def->state_new (addr);
        return *state ? 0 : RT_ENOMEM;
    }
    return rc;
}

/* ---- the reader pool ------------------------------------------------------- */

st_reader_t *
rt_reader_take (rt_runtime_t *rt)
{
    pthread_mutex_lock (&rt->rd_lock);
    st_reader_t *r = NULL;
    if (rt->rd_nfree)
        r = rt->rd_free[--rt->rd_nfree];
    else if (rt->rd_made < RT_READERS_MAX) {
        rt->rd_made++;
        pthread_mutex_unlock (&rt->rd_lock);
        r = st_reader_new (rt->store);
        if (r)
            return r;
        pthread_mutex_lock (&rt->rd_lock);
        rt->rd_made--;
    }
    pthread_mutex_unlock (&rt->rd_lock);
    return r;
}

void
rt_reader_give (rt_runtime_t *rt, st_reader_t *r)
{
    pthread_mutex_lock (&rt->rd_lock);
    rt->rd_free[rt->rd_nfree++] = r;
    pthread_mutex_unlock (&rt->rd_lock);
}

void
rt_read_destroy (rt_runtime_t *rt)
{
    while (rt->rd_nfree)
        st_reader_destroy (&rt->rd_free[--rt->rd_nfree]);
    rt->rd_made = 0;
}

/* ---- rt_read ------------------------------------------------------------------ */

/*  The query from a snapshot, if this node can: RT_READ_ELSEWHERE when the
    shard is not served here (or moved during the read) or no reader is
    free, so the caller asks instead. */
#define RT_READ_ELSEWHERE 1

/*  A snapshot reader for the shard of to, if this node serves it now and
    one is free. *word is the shard's owner word: the shard did not move
    while the snapshot was read if it is still the same after (a move
    changes the word before the data goes). */
static st_reader_t *
s_reader_for (rt_runtime_t *self, const rt_addr_t *to, uint32_t *shard, uint32_t *word)
{
    *shard = (uint32_t) (rt_hash (to->type, to->key, to->len) % self->opts.shards);
    *word = rt_owner_word (self->owner, *shard);
    return RT_SH_STATE (*word) == RT_SH_OWNED ? rt_reader_take (self) : NULL;
}

static int
s_snapshot_query (rt_runtime_t *self, const rt_type_def_t *def, const rt_addr_t *to,
                  const rt_msg_t *msg, rt_reply_t *reply)
{
    uint32_t shard, word;
    st_reader_t *reader = s_reader_for (self, to, &shard, &word);
    if (!reader)
        return RT_READ_ELSEWHERE;
    void *state = NULL;
    int rc = st_reader_begin (reader);
    if (!rc) {
        rc = rt_state_load (def, reader, to, shard, &state);
        /*  The snapshot is copied out by the decoder: end it before the
            handler runs, so a slow handler never holds back map growth. */
        st_reader_end (reader);
    }
    rt_reader_give (self, reader);
    /*  The shard moved meanwhile: ask whoever has it now. */
    if (rt_owner_word (self->owner, shard) != word) {
        if (state && def->state_free)
            def->state_free (state);
        return RT_READ_ELSEWHERE;
    }
    if (!rc)
        rc = rt_ctx_query (self, def, state, to, shard, msg, reply);
    if (state && def->state_free)
        def->state_free (state);
    atomic_fetch_add_explicit (&self->reads, 1, memory_order_relaxed);
    return rc;
}

int
rt_index_read (rt_runtime_t *self, uint16_t type, const char *key, size_t klen,
               const void *ikey, size_t iklen, void *val, size_t cap, size_t *vlen)
{
    rt_addr_t to;
    if (!atomic_load (&self->started) || atomic_load (&self->stopping))
        return RT_ESTOPPED;
    if (rt_addr_set (&to, type, key, klen) || !iklen || iklen > RT_INDEX_KEY_MAX)
        return RT_EINVAL;
    uint32_t shard, word;
    st_reader_t *reader = s_reader_for (self, &to, &shard, &word);
    if (!reader)
        return RT_INDEX_ELSEWHERE;
    st_key_t k;
    st_key_begin (&k, shard, ST_KIND_INDEX);
    st_key_bytes (&k, ikey, iklen);
    int rc = st_reader_begin (reader);
    if (!rc) {
        const void *v;
        rc = st_reader_get (reader, k.b, k.len, &v, vlen);
        if (rc == 0)
            memcpy (val, v, *vlen < cap ? *vlen : cap);
        else if (rc == 1)
            rc = RT_INDEX_ABSENT;
        st_reader_end (reader);
    }
    rt_reader_give (self, reader);
    if (rt_owner_word (self->owner, shard) != word)     /* moved meanwhile */
        return RT_INDEX_ELSEWHERE;
    if (!rc)
        atomic_fetch_add_explicit (&self->reads, 1, memory_order_relaxed);
    return rc;
}

int
rt_read (rt_runtime_t *self, const rt_request_t *req, int timeout_ms, rt_reply_t *reply)
{
    memset (reply, 0, sizeof *reply);
    rt_addr_t to;
    if (!atomic_load (&self->started) || atomic_load (&self->stopping))
        return reply->err = RT_ESTOPPED;
    if (rt_addr_set (&to, req->to_type, req->to_key, req->to_key_len))
        return reply->err = RT_EINVAL;
    const rt_type_def_t *def = self->types[to.type];
    if (!def)
        return reply->err = RT_ENOTYPE;
    if (req->msg_type >= RT_MSG_TYPES_MAX || !(def->reads & (1ull << req->msg_type))
        || req->idem_key || req->body_len > RT_BODY_MAX_BYTES)
        return reply->err = RT_EINVAL;
    bool trace = req->traceparent && strlen (req->traceparent) == RT_TRACEPARENT_LEN;
    rt_msg_t msg = { .type = req->msg_type, .body = req->body, .body_len = req->body_len,
                     .traceparent = trace ? req->traceparent : NULL };
    int rc = s_snapshot_query (self, def, &to, &msg, reply);
    if (rc == RT_READ_ELSEWHERE) {
        atomic_fetch_add_explicit (&self->reads_asked, 1, memory_order_relaxed);
        return rt_ask (self, req, timeout_ms, reply);
    }
    return reply->err = rc;
}

bool
rt_read_msg (rt_runtime_t *self, const rt_imsg_t *m, rt_reply_t *reply)
{
    memset (reply, 0, sizeof *reply);
    const rt_type_def_t *def = m->to.type < RT_TYPES_MAX ? self->types[m->to.type] : NULL;
    if (!def || m->type >= RT_MSG_TYPES_MAX || !(def->reads & (1ull << m->type))
        || (m->flags & (RT_MF_IDEM | RT_MF_SRC | RT_MF_REMINDER | RT_MF_KILL | RT_MF_ASKED))
        || !m->future || atomic_load (&self->stopping))
        return false;
    rt_msg_t msg = { .type = m->type, .body = m->body, .body_len = m->body_len,
                     .traceparent = m->traceparent };
    int rc = s_snapshot_query (self, def, &m->to, &msg, reply);
    if (rc == RT_READ_ELSEWHERE)
        return false;
    reply->err = rc;
    return true;
}
