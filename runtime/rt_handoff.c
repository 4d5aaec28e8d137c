/*  =========================================================================
    rt_handoff.c - moving shards between nodes after a membership change

    One thread per node does both ends.

    Sending a shard (state OUT, rt_owner.c): messages for it already wait
    in the waiting room. Up to RT_HANDOFF_GROUP such shards are fenced
    together: every worker drops their actors (whose queued messages join
    the waiting room, first in line) and the thread waits until every
    commit submitted so far is durable, so the store holds all the shard
    will ever have here. Then each shard's key range (state, idempotency
    records and their expiry, outbox, reminders, dedup marks, per-shard
    meta: everything under its 2-byte prefix) goes to the new owner in
    chunks of RT_HANDOFF_CHUNK_BYTES, at most RT_HANDOFF_WINDOW chunks
    unacknowledged. Each chunk is read from a fresh snapshot from where the
    last one stopped, so no read transaction is held across the network.

    Receiving (state IN): the first chunk's commit clears whatever the
    range held and marks the copy unfinished; the last chunk's commit
    clears the mark and sets the shard in the node's ownership set: one
    transaction, so the shard is either fully here and owned, or not.
    Once that is durable the receiver serves it (its outbox and reminders
    taken up, the waiting messages let through) and answers "done".

    Back on the sender "done" makes the shard REMOTE: the waiting messages
    are forwarded to the new owner, and the range is deleted here. A
    receiver that already owns the shard answers "done" at once (a retry
    after a lost answer), one that does not expect it refuses; a chunk not
    answered within RT_HANDOFF_ACK_TIMEOUT_MS, or a receiver seen down,
    starts that shard over a second later. Ownership is never doubled: the
    sender gave it up on disk before the first chunk, the receiver takes
    it only with the last.

    Frames (rt_transport carries them between the same CURVE sockets):
      'X' [shard:4][attempt:4][chunk:4][flags:1] then entries
          [klen:2][vlen:4][key][value]...      flags: 1 first, 2 last
      'Y' [shard:4][attempt:4][chunk:4][status:1]
          status: 0 committed, 1 done (the shard is the receiver's),
                  2 refused (not expected there), 3 failed (store error)
    =========================================================================
*/
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "rt_internal.h"
#include "rt_bg.h"
#include "rt_log.h"
#include "rt_time.h"

enum { X_FIRST = 1, X_LAST = 2 };
enum { Y_COMMITTED = 0, Y_DONE = 1, Y_REFUSED = 2, Y_FAILED = 3 };
enum { EV_FRAME, EV_COMMITTED };

typedef struct ev {
    struct ev *next;
    rt_handoff_t *to;               /* EV_COMMITTED: whose thread */
    int        kind;
    uint32_t   peer;
    /*  EV_COMMITTED */
    uint32_t   shard, attempt, chunk;
    bool       last;
    int        err;
    size_t     len;
    uint8_t    data[];
} ev_t;

/*  One shard being sent (thread only). */
typedef struct {
    bool     active;
    bool     sent_last;
    uint32_t shard, dest, attempt, chunk, unacked;
    st_key_t next;                  /* first key of the next chunk */
    uint64_t bytes;
    int64_t  t0_ms, last_ack_ms;
} out_t;

struct rt_handoff {
    rt_runtime_t *rt;
    rt_bg_t       bg;               /* bg.lock guards the event queue */
    ev_t         *ev_head, *ev_tail;
    bool          kicked;
    /*  the thread's own */
    st_reader_t  *reader;
    out_t         group[RT_HANDOFF_GROUP];
    uint32_t      inflight;
    uint32_t      next_attempt;
    int64_t      *not_before;       /* per shard: retry after (ms) */
    uint32_t     *in_attempt, *in_next;     /* per shard, receiving */
    bool         *in_last;          /* a last chunk is committing */
    int64_t      *in_t0;
    int64_t       next_sweep, next_awaiting_log;
    uint8_t      *map;              /* scratch bitmap */
    /*  figures */
    atomic_uint_fast64_t moved_out, moved_in, bytes_out, bytes_in, ns_out, ns_in, restarts;
};

/* ---- from other threads -------------------------------------------------- */

static void
s_post (rt_handoff_t *self, ev_t *e)
{
    e->next = NULL;
    pthread_mutex_lock (&self->bg.lock);
    if (self->ev_tail)
        self->ev_tail->next = e;
    else
        self->ev_head = e;
    self->ev_tail = e;
    pthread_cond_signal (&self->bg.cv);
    pthread_mutex_unlock (&self->bg.lock);
}

void
rt_handoff_frame (rt_handoff_t *self, uint32_t peer, const uint8_t *d, size_t len)
{
    ev_t *e = malloc (sizeof *e + len);
    if (!e)
        return;                 /* lost: the sender times out and retries */
    *e = (ev_t) { .kind = EV_FRAME, .peer = peer, .len = len };
    memcpy (e->data, d, len);
    s_post (self, e);
}

void
rt_handoff_kick (rt_handoff_t *self)
{
    pthread_mutex_lock (&self->bg.lock);
    self->kicked = true;
    pthread_cond_signal (&self->bg.cv);
    pthread_mutex_unlock (&self->bg.lock);
}

/* ---- wire helpers ------------------------------------------------------------- */

static void
s_reply (rt_handoff_t *self, uint32_t peer, uint32_t shard, uint32_t attempt, uint32_t chunk,
         uint8_t status)
{
    uint8_t y[14] = { 'Y' };
    st_put_u32 (y + 1, shard);
    st_put_u32 (y + 5, attempt);
    st_put_u32 (y + 9, chunk);
    y[13] = status;
    if (self->rt->transport)
        rt_transport_send (self->rt->transport, peer, y, sizeof y);
}

/* ---- receiving ------------------------------------------------------------------ */

static void
s_committed (void *arg, uint64_t seq, int err)
{
    (void) seq;
    ev_t *e = arg;
    e->err = err;
    s_post (e->to, e);
}

/*  An 'X' chunk: check it belongs where it says, then commit it. */
static void
s_on_chunk (rt_handoff_t *self, uint32_t peer, const uint8_t *d, size_t len)
{
    if (len < 14)
        return;
    uint32_t shard = st_get_u32 (d + 1), attempt = st_get_u32 (d + 5), chunk = st_get_u32 (d + 9);
    uint8_t flags = d[13];
    rt_runtime_t *rt = self->rt;
    if (shard >= rt->opts.shards)
        return;
    uint32_t st = RT_SH_STATE (rt_owner_word (rt->owner, shard));
    if (st == RT_SH_OWNED) {
        s_reply (self, peer, shard, attempt, chunk, Y_DONE);
        return;
    }
    bool first = flags & X_FIRST;
    /*  While a last chunk commits, a new attempt's first chunk must not
        clear the range under it: refused, the sender retries and then
        hears "done". */
    if (st != RT_SH_IN || self->in_last[shard]
        || (!first && (attempt != self->in_attempt[shard] || chunk != self->in_next[shard]))) {
        s_reply (self, peer, shard, attempt, chunk, Y_REFUSED);
        return;
    }
    st_record_t *rec = st_record_new ();
    int rc = rec ? 0 : RT_ENOMEM;
    uint8_t lo[2], hi[2];
    st_put_u16 (lo, (uint16_t) shard);
    st_put_u16 (hi, (uint16_t) (shard + 1));
    st_key_t mark;
    rt_owner_partial_key (&mark, shard);
    if (!rc && first) {
        self->in_attempt[shard] = attempt;
        self->in_t0[shard] = rt_now_ms ();
        rc = st_record_del_range (rec, lo, 2, hi, 2);
        if (!rc)
            rc = st_record_put (rec, mark.b, mark.len, "", 0);
    }
    /*  Every entry must lie in the shard's own range: a peer can move a
        shard, never write outside it. */
    size_t off = 14, bytes = 0;
    while (!rc && off < len) {
        if (len - off < 6) {
            rc = RT_EMALFORMED;
            break;
        }
        size_t klen = st_get_u16 (d + off), vlen = st_get_u32 (d + off + 2);
        const uint8_t *k = d + off + 6;
        if (klen < 3 || klen > ST_KEY_MAX || len - off - 6 < klen + vlen || memcmp (k, lo, 2)) {
            rc = RT_EMALFORMED;
            break;
        }
        rc = st_record_put (rec, k, klen, k + klen, vlen);
        off += 6 + klen + vlen;
        bytes += 6 + klen + vlen;
    }
    bool last = flags & X_LAST;
    if (!rc && last)
        rc = st_record_del (rec, mark.b, mark.len);
    ev_t *e = rc ? NULL : malloc (sizeof *e);
    if (!e) {
        st_record_destroy (&rec);
        rt_log ("warn", "handoff.chunk_refused", "\"shard\":%u,\"error\":\"%s\"", shard,
                rt_strerror (rc ? rc : RT_ENOMEM));
        s_reply (self, peer, shard, attempt, chunk, Y_FAILED);
        return;
    }
    *e = (ev_t) { .to = self, .kind = EV_COMMITTED, .peer = peer, .shard = shard,
                  .attempt = attempt, .chunk = chunk, .last = last, .len = bytes };
    self->in_next[shard] = chunk + 1;
    atomic_fetch_add (&self->bytes_in, bytes);
    self->in_last[shard] = last;
    if (last)
        rt_owner_submit (rt->owner, &rec, &shard, 1, true, s_committed, e);
    else
        st_committer_submit (rt->committer, &rec, s_committed, e);
}

/*  A chunk is durable here. The last one: the shard is ours. */
static void
s_on_committed (rt_handoff_t *self, ev_t *e)
{
    rt_runtime_t *rt = self->rt;
    if (e->last)
        self->in_last[e->shard] = false;
    if (e->err) {
        s_reply (self, e->peer, e->shard, e->attempt, e->chunk, Y_FAILED);
        return;
    }
    if (!e->last) {
        s_reply (self, e->peer, e->shard, e->attempt, e->chunk, Y_COMMITTED);
        return;
    }
    rt_pump_adopt_shard (rt->pump, e->shard);
    rt_timer_adopt_shard (rt->timer, e->shard);
    rt_owner_set (rt->owner, e->shard, RT_SH_OWNED);
    rt_wait_flush (rt->owner, e->shard);
    int64_t ms = rt_now_ms () - self->in_t0[e->shard];
    atomic_fetch_add (&self->moved_in, 1);
    atomic_fetch_add (&self->ns_in, (uint64_t) (ms > 0 ? ms : 0) * 1000000u);
    rt_log ("info", "handoff.in", "\"shard\":%u,\"from\":\"%s\",\"chunks\":%u,\"ms\":%lld",
            e->shard, rt->nodes[e->peer].id, e->chunk + 1, (long long) ms);
    s_reply (self, e->peer, e->shard, e->attempt, e->chunk, Y_DONE);
}

/* ---- sending ---------------------------------------------------------------------- */

/*  Every worker drops the group's actors; then every commit so far lands. */
static int
s_fence (rt_handoff_t *self, const out_t *g, size_t n)
{
    rt_runtime_t *rt = self->rt;
    memset (self->map, 0, (rt->opts.shards + 7) / 8);
    for (size_t i = 0; i < n; i++)
        self->map[g[i].shard >> 3] |= (uint8_t) (1u << (g[i].shard & 7));
    rt_fence_t f = { .map = self->map, .remaining = rt->nworkers };
    pthread_mutex_init (&f.lock, NULL);
    pthread_cond_init (&f.cv, NULL);
    for (uint32_t w = 0; w < rt->nworkers; w++)
        rt_worker_fence (rt->workers[w], &f);
    pthread_mutex_lock (&f.lock);
    while (f.remaining)
        pthread_cond_wait (&f.cv, &f.lock);
    pthread_mutex_unlock (&f.lock);
    pthread_mutex_destroy (&f.lock);
    pthread_cond_destroy (&f.cv);
    uint64_t seq = st_committer_submitted (rt->committer);
    if (!st_committer_wait (rt->committer, seq, -1))
        return RT_ESTOPPED;
    /*  Only now: the last turns' commit callbacks have added their outbox
        entries, and those go with the shard too. */
    for (size_t i = 0; i < n; i++)
        rt_pump_drop_shard (rt->pump, g[i].shard);
    return 0;
}

/*  Form a group from the OUT shards whose new owner is up and that are
    not backing off. */
static void
s_start_group (rt_handoff_t *self, int64_t now)
{
    rt_runtime_t *rt = self->rt;
    rt_placement_t *p = rt->placement;
    if (!p || !rt->transport)
        return;
    size_t n = 0;
    for (uint32_t s = 0; s < rt->opts.shards && n < RT_HANDOFF_GROUP; s++) {
        if (RT_SH_STATE (rt_owner_word (rt->owner, s)) != RT_SH_OUT || self->not_before[s] > now)
            continue;
        uint32_t dest = rt_placement_owner (p, s);
        if (dest == rt->opts.self_node || !rt_transport_up (rt->transport, dest))
            continue;
        out_t *o = &self->group[n++];
        *o = (out_t) { .active = true, .shard = s, .dest = dest,
                       .attempt = ++self->next_attempt, .t0_ms = now, .last_ack_ms = now };
        st_key_begin (&o->next, s, 0);
        o->next.len = 2;
    }
    if (!n)
        return;
    if (s_fence (self, self->group, n)) {
        for (size_t i = 0; i < n; i++)
            self->group[i].active = false;
    }
}

typedef struct {
    uint8_t  *buf;
    size_t    len, cap;
    st_key_t *next;
    bool      full;
    bool      nomem;
} chunk_t;

static int
s_add (void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    chunk_t *c = arg;
    size_t need = 6 + klen + vlen;
    if (c->len > 14 && c->len + need > RT_HANDOFF_CHUNK_BYTES) {
        memcpy (c->next->b, key, klen);     /* starts the next chunk */
        c->next->len = klen;
        c->full = true;
        return 1;
    }
    if (c->len + need > c->cap) {
        size_t cap = c->len + need > RT_HANDOFF_CHUNK_BYTES ? c->len + need
                                                            : RT_HANDOFF_CHUNK_BYTES;
        uint8_t *b = realloc (c->buf, cap);
        if (!b) {
            c->nomem = true;
            return 1;
        }
        c->buf = b;
        c->cap = cap;
    }
    st_put_u16 (c->buf + c->len, (uint16_t) klen);
    st_put_u32 (c->buf + c->len + 2, (uint32_t) vlen);
    memcpy (c->buf + c->len + 6, key, klen);
    memcpy (c->buf + c->len + 6 + klen, val, vlen);
    c->len += need;
    return 0;
}

/*  Read and send o's next chunk. */
static int
s_send_chunk (rt_handoff_t *self, out_t *o)
{
    chunk_t c = { .next = &o->next };
    c.cap = RT_HANDOFF_CHUNK_BYTES;
    if (!(c.buf = malloc (c.cap)))
        return RT_ENOMEM;
    c.len = 14;
    uint8_t hi[2];
    st_put_u16 (hi, (uint16_t) (o->shard + 1));
    int rc = st_reader_begin (self->reader);
    if (!rc) {
        st_key_t from = o->next;
        int visited = st_reader_scan (self->reader, from.b, from.len, hi, 2, SIZE_MAX, s_add, &c);
        st_reader_end (self->reader);
        rc = visited < 0 ? visited : c.nomem ? RT_ENOMEM : 0;
    }
    if (!rc) {
        c.buf[0] = 'X';
        st_put_u32 (c.buf + 1, o->shard);
        st_put_u32 (c.buf + 5, o->attempt);
        st_put_u32 (c.buf + 9, o->chunk);
        c.buf[13] = (uint8_t) ((o->chunk == 0 ? X_FIRST : 0) | (c.full ? 0 : X_LAST));
        rc = rt_transport_send (self->rt->transport, o->dest, c.buf, c.len);
    }
    if (!rc) {
        o->chunk++;
        o->unacked++;
        o->sent_last = !c.full;
        o->bytes += c.len - 14;
        self->inflight++;
        atomic_fetch_add (&self->bytes_out, c.len - 14);
    }
    free (c.buf);
    return rc;
}

static void
s_abort (rt_handoff_t *self, out_t *o, const char *why, int64_t now)
{
    self->inflight -= o->unacked;
    o->active = false;
    self->not_before[o->shard] = now + 1000;
    atomic_fetch_add (&self->restarts, 1);
    rt_log ("warn", "handoff.retry", "\"shard\":%u,\"to\":\"%s\",\"why\":\"%s\"", o->shard,
            self->rt->nodes[o->dest].id, why);
}

static void
s_finished (rt_handoff_t *self, out_t *o, int64_t now)
{
    rt_runtime_t *rt = self->rt;
    self->inflight -= o->unacked;
    o->active = false;
    rt_owner_set (rt->owner, o->shard, RT_SH_REMOTE);
    rt_wait_flush (rt->owner, o->shard);
    rt_owner_wipe (rt->owner, o->shard, false);
    atomic_fetch_add (&self->moved_out, 1);
    atomic_fetch_add (&self->ns_out, (uint64_t) (now - o->t0_ms) * 1000000u);
    rt_log ("info", "handoff.out", "\"shard\":%u,\"to\":\"%s\",\"bytes\":%llu,\"ms\":%lld",
            o->shard, rt->nodes[o->dest].id, (unsigned long long) o->bytes,
            (long long) (now - o->t0_ms));
}

static void
s_on_answer (rt_handoff_t *self, const uint8_t *d, size_t len, int64_t now)
{
    if (len < 14)
        return;
    uint32_t shard = st_get_u32 (d + 1), attempt = st_get_u32 (d + 5);
    for (size_t i = 0; i < RT_HANDOFF_GROUP; i++) {
        out_t *o = &self->group[i];
        if (!o->active || o->shard != shard || o->attempt != attempt)
            continue;
        switch (d[13]) {
            case Y_COMMITTED:
                if (o->unacked) {
                    o->unacked--;
                    self->inflight--;
                }
                o->last_ack_ms = now;
                break;
            case Y_DONE: s_finished (self, o, now); break;
            case Y_REFUSED: s_abort (self, o, "refused by the receiver", now); break;
            default: s_abort (self, o, "the receiver could not commit", now); break;
        }
        return;
    }
}

/*  Send what the window allows; give up on silent or down receivers. */
static void
s_send (rt_handoff_t *self, int64_t now)
{
    bool any = false;
    for (size_t i = 0; i < RT_HANDOFF_GROUP; i++) {
        out_t *o = &self->group[i];
        if (!o->active)
            continue;
        any = true;
        if (!rt_transport_up (self->rt->transport, o->dest))
            s_abort (self, o, "receiver down", now);
        else if (o->unacked && now - o->last_ack_ms > RT_HANDOFF_ACK_TIMEOUT_MS)
            s_abort (self, o, "no answer", now);
    }
    if (!any)
        s_start_group (self, now);
    for (size_t i = 0; i < RT_HANDOFF_GROUP && self->inflight < RT_HANDOFF_WINDOW; i++) {
        out_t *o = &self->group[i];
        while (o->active && !o->sent_last && self->inflight < RT_HANDOFF_WINDOW) {
            if (!o->unacked)
                o->last_ack_ms = now;
            if (s_send_chunk (self, o)) {
                s_abort (self, o, "cannot read or send", now);
                break;
            }
        }
    }
}

/* ---- a new store's first shards --------------------------------------------------- */

static void
s_maybe_claim (rt_handoff_t *self)
{
    rt_runtime_t *rt = self->rt;
    if (!rt->transport || !rt_owner_fresh (rt->owner))
        return;
    if (rt_transport_claims (rt->transport, self->map, (rt->opts.shards + 7) / 8))
        rt_owner_claim_free (rt->owner, self->map);
}

/* ---- the thread --------------------------------------------------------------------- */

static bool
s_busy (rt_handoff_t *self)
{
    for (size_t i = 0; i < RT_HANDOFF_GROUP; i++)
        if (self->group[i].active)
            return true;
    return false;
}

static void *
s_main (void *arg)
{
    rt_handoff_t *self = arg;
    pthread_mutex_lock (&self->bg.lock);
    while (!self->bg.stop) {
        ev_t *e = self->ev_head;
        self->ev_head = self->ev_tail = NULL;
        self->kicked = false;
        pthread_mutex_unlock (&self->bg.lock);
        int64_t now = rt_now_ms ();
        while (e) {
            ev_t *next = e->next;
            if (e->kind == EV_COMMITTED)
                s_on_committed (self, e);
            else if (e->len && e->data[0] == 'X')
                s_on_chunk (self, e->peer, e->data, e->len);
            else if (e->len && e->data[0] == 'Y')
                s_on_answer (self, e->data, e->len, now);
            free (e);
            e = next;
        }
        s_send (self, now);
        if (now >= self->next_sweep) {
            rt_wait_sweep (self->rt->owner, now);
            s_maybe_claim (self);
            self->next_sweep = now + 100;
        }
        if (now >= self->next_awaiting_log) {
            uint32_t in = rt_owner_count (self->rt->owner, RT_SH_IN);
            if (in && !rt_owner_fresh (self->rt->owner))
                rt_log ("info", "handoff.awaiting", "\"shards\":%u", in);
            self->next_awaiting_log = now + 10000;
        }
        pthread_mutex_lock (&self->bg.lock);
        if (!self->ev_head && !self->kicked && !self->bg.stop)
            rt_bg_wait (&self->bg, s_busy (self) ? 20 : 100);
    }
    pthread_mutex_unlock (&self->bg.lock);
    return NULL;
}

rt_handoff_t *
rt_handoff_new (rt_runtime_t *rt)
{
    rt_handoff_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    uint32_t n = rt->opts.shards;
    self->rt = rt;
    rt_bg_init (&self->bg);
    self->reader = st_reader_new (rt->store);
    self->not_before = calloc (n, sizeof *self->not_before);
    self->in_attempt = calloc (n, sizeof *self->in_attempt);
    self->in_next = calloc (n, sizeof *self->in_next);
    self->in_last = calloc (n, sizeof *self->in_last);
    self->in_t0 = calloc (n, sizeof *self->in_t0);
    self->map = calloc ((n + 7) / 8, 1);
    if (!self->reader || !self->not_before || !self->in_attempt || !self->in_next || !self->in_last
        || !self->in_t0 || !self->map) {
        rt_handoff_destroy (&self);
        return NULL;
    }
    return self;
}

int
rt_handoff_start (rt_handoff_t *self)
{
    return rt_bg_start (&self->bg, s_main, self, "pasar-handoff");
}

void
rt_handoff_stop (rt_handoff_t *self)
{
    rt_bg_stop (&self->bg);
}

void
rt_handoff_destroy (rt_handoff_t **p)
{
    if (!p || !*p)
        return;
    rt_handoff_t *self = *p;
    rt_bg_fini (&self->bg);
    for (ev_t *e = self->ev_head, *next; e; e = next) {
        next = e->next;
        free (e);
    }
    st_reader_destroy (&self->reader);
    free (self->not_before);
    free (self->in_attempt);
    free (self->in_next);
    free (self->in_last);
    free (self->in_t0);
    free (self->map);
    free (self);
    *p = NULL;
}

void
rt_handoff_stats (rt_handoff_t *self, rt_stats_t *acc)
{
    acc->handoff_shards_out += atomic_load (&self->moved_out);
    acc->handoff_shards_in += atomic_load (&self->moved_in);
    acc->handoff_bytes_out += atomic_load (&self->bytes_out);
    acc->handoff_bytes_in += atomic_load (&self->bytes_in);
    acc->handoff_ns_out += atomic_load (&self->ns_out);
    acc->handoff_ns_in += atomic_load (&self->ns_in);
    acc->handoff_restarts += atomic_load (&self->restarts);
}
