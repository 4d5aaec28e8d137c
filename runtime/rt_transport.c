/*  =========================================================================
    rt_transport.c - the transport thread: ROUTER in, a DEALER per peer out,
    CURVE everywhere, heartbeats, remote asks
    =========================================================================
*/
#define _GNU_SOURCE             /* pthread_setname_np */
#include <czmq.h>
#include <stdatomic.h>
#include "rt_internal.h"
#include "rt_log.h"
#include "rt_transport.h"

typedef struct {
    uint64_t     corr;          /* 0: free */
    rt_future_t *future;
    uint32_t     peer;
    int64_t      deadline_ms;
} pending_t;

struct rt_transport {
    rt_runtime_t   *rt;
    zactor_t       *actor;
    pthread_mutex_t send_lock;          /* the actor pipe, from any thread */
    rt_node_conf_t  nodes[RT_NODES_MAX];
    _Atomic uint32_t n;                 /* grows on reload, never shrinks */
    uint32_t        self;
    uint64_t        epoch;
    char            keys_dir[512];
    bool            curve;
    uint32_t        down_ms;
    int64_t         start_ms;
    char            err[1400];          /* why the thread could not start */
    _Atomic int64_t last_seen[RT_NODES_MAX];
    /*  whether the peer's last heartbeat said it hears us: our DEALER to
        it is connected, so what we send now arrives */
    atomic_bool     hears_us[RT_NODES_MAX];
    _Atomic int64_t changed_ms;         /* wall clock of the last peer
                                           up/down, or of waking from a freeze */
    int64_t         last_tick;
    int64_t         next_sweep;         /* of the pending asks (RT_REMOTE_SWEEP_MS) */
    atomic_bool     up[RT_NODES_MAX];
    atomic_uint_fast64_t next_corr;
    rt_broadcast_fn *on_broadcast;
    void           *broadcast_arg;
    /*  what each peer last said it holds (heartbeats), under claims_lock */
    pthread_mutex_t claims_lock;
    uint8_t        *claims[RT_NODES_MAX];
    bool            claims_heard[RT_NODES_MAX];
    uint32_t        map_len;
    /*  a reload waiting for the thread to connect to new peers */
    pthread_mutex_t reload_lock;
    pthread_cond_t  reload_cv;
    uint64_t        reloads_done;
    /*  the transport thread's own */
    zsock_t        *router;
    zsock_t        *dealer[RT_NODES_MAX];
    zactor_t       *auth;
    zcert_t        *cert;
    pending_t      *pending;            /* RT_REMOTE_ASKS_MAX slots */
    /*  Frames and bytes per peer, kind and direction (0 out, 1 in):
        written by this thread only, read by rt_transport_traffic. */
    _Atomic uint64_t frames[RT_NODES_MAX][RT_TK_COUNT][2];
    _Atomic uint64_t bytes[RT_NODES_MAX][RT_TK_COUNT][2];
    uint8_t        *beat;               /* the heartbeat frame */
    atomic_uint     npending;           /* written here; read by rt_transport_pending */
};

/*  What rides in a pipe frame ahead of the wire frame: the peer, and for
    an ask the future to register. peer RELOAD_PEER: a new node table. */
#define RELOAD_PEER UINT32_MAX
typedef struct {
    uint32_t     peer;
    rt_future_t *future;
    int64_t      deadline_ms;
} pipe_head_t;

static int64_t
s_mono_ms (void)
{
    return zclock_mono ();
}

static void
s_put64 (uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t) v;
}

static uint64_t
s_get64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void
s_put32 (uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t) v;
}

static uint32_t
s_get32 (const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/*  The kind of a wire frame, by its first byte. */
static int
s_kind (uint8_t c)
{
    switch (c) {
        case 'M': return RT_TK_MESSAGE;
        case 'R': return RT_TK_ANSWER;
        case 'Q': return RT_TK_QUERY;
        case 'A': return RT_TK_ACK;
        case 'B': return RT_TK_BROADCAST;
        case 'X':
        case 'Y': return RT_TK_HANDOFF;
        case 'H': return RT_TK_HEARTBEAT;
        default:  return RT_TK_OTHER;
    }
}

/*  A frame sent to (dir 0) or taken from (dir 1) peer: counted on the
    transport thread, the only writer, so a relaxed add is enough. */
static void
s_count (rt_transport_t *self, uint32_t peer, int dir, const uint8_t *d, size_t len)
{
    int k = s_kind (d[0]);
    atomic_fetch_add_explicit (&self->frames[peer][k][dir], 1, memory_order_relaxed);
    atomic_fetch_add_explicit (&self->bytes[peer][k][dir], len, memory_order_relaxed);
}

/* ---- from any thread: frames to the transport thread ------------------------ */

/*  Hand [head][wire] to the transport thread without blocking. */
static int
s_post (rt_transport_t *self, const pipe_head_t *head, const uint8_t *wire, size_t len)
{
    zframe_t *f = zframe_new (NULL, sizeof *head + len);
    if (!f)
        return RT_ENOMEM;
    memcpy (zframe_data (f), head, sizeof *head);
    memcpy (zframe_data (f) + sizeof *head, wire, len);
    pthread_mutex_lock (&self->send_lock);
    int rc = zframe_send (&f, zactor_sock (self->actor), ZFRAME_DONTWAIT);
    pthread_mutex_unlock (&self->send_lock);
    if (rc) {
        zframe_destroy (&f);
        return RT_EOVERLOADED;
    }
    return 0;
}

int
rt_transport_forward (rt_transport_t *self, uint32_t node, rt_imsg_t *msg)
{
    if (node >= self->n || node == self->self || !atomic_load (&self->up[node])) {
        rt_imsg_fail (self->rt, msg, RT_EUNAVAILABLE);
        return RT_EUNAVAILABLE;
    }
    uint8_t *env = NULL;
    size_t len = 0;
    int rc = rt_imsg_encode (msg, self->epoch, &env, &len);
    uint8_t *wire = rc ? NULL : malloc (1 + 8 + len);
    if (!wire) {
        free (env);
        rc = rc ? rc : RT_ENOMEM;
        rt_imsg_fail (self->rt, msg, rc);
        return rc;
    }
    pipe_head_t head = { .peer = node, .future = msg->future,
                         .deadline_ms = msg->deadline_ms };
    uint64_t corr = msg->future ? atomic_fetch_add (&self->next_corr, 1) : 0;
    wire[0] = 'M';
    s_put64 (wire + 1, corr);
    memcpy (wire + 9, env, len);
    free (env);
    rc = s_post (self, &head, wire, 9 + len);
    free (wire);
    if (rc) {
        rt_imsg_fail (self->rt, msg, rc);
        return rc;
    }
    msg->future = NULL;         /* the transport thread holds it now */
    rt_imsg_free (&msg);
    return 0;
}

void
rt_transport_call (rt_transport_t *self, uint32_t node, uint16_t service, const void *body,
                   size_t len, rt_future_t *future, int64_t deadline_ms)
{
    int rc = node >= self->n || node == self->self || !atomic_load (&self->up[node])
             ? RT_EUNAVAILABLE : 0;
    uint8_t *wire = rc ? NULL : malloc (1 + 8 + 2 + len);
    if (!rc && !wire)
        rc = RT_ENOMEM;
    if (!rc) {
        wire[0] = 'Q';
        s_put64 (wire + 1, atomic_fetch_add (&self->next_corr, 1));
        st_put_u16 (wire + 9, service);
        if (len)
            memcpy (wire + 11, body, len);
        pipe_head_t head = { .peer = node, .future = future, .deadline_ms = deadline_ms };
        rc = s_post (self, &head, wire, 11 + len);
        free (wire);
        if (!rc)
            return;             /* the transport thread holds the future now */
    }
    rt_future_complete (future, rc, 0, false, NULL, 0);
    rt_future_release (&future);
}

uint32_t
rt_transport_nodes (rt_transport_t *self)
{
    return atomic_load (&self->n);
}

int
rt_transport_send (rt_transport_t *self, uint32_t node, const void *data, size_t len)
{
    if (node >= self->n || node == self->self || !atomic_load (&self->up[node]))
        return RT_EUNAVAILABLE;
    pipe_head_t head = { .peer = node };
    return s_post (self, &head, data, len);
}

bool
rt_transport_claims (rt_transport_t *self, uint8_t *map, size_t len)
{
    memset (map, 0, len);
    bool all = true;
    pthread_mutex_lock (&self->claims_lock);
    for (uint32_t p = 0; p < self->n; p++) {
        if (p == self->self)
            continue;
        if (!self->claims_heard[p] || !atomic_load (&self->up[p]) || !self->claims[p]) {
            all = false;
            continue;
        }
        for (size_t i = 0; i < len && i < self->map_len; i++)
            map[i] |= self->claims[p][i];
    }
    pthread_mutex_unlock (&self->claims_lock);
    return all;
}

uint32_t
rt_transport_peer_shards (rt_transport_t *self, uint32_t node)
{
    uint32_t n = 0;
    pthread_mutex_lock (&self->claims_lock);
    if (node < self->n && self->claims[node])
        for (uint32_t i = 0; i < self->map_len; i++)
            n += (uint32_t) __builtin_popcount (self->claims[node][i]);
    pthread_mutex_unlock (&self->claims_lock);
    return n;
}

void
rt_transport_traffic (rt_transport_t *self, uint32_t node, rt_traffic_t out[RT_TK_COUNT])
{
    memset (out, 0, RT_TK_COUNT * sizeof *out);
    if (node >= RT_NODES_MAX)
        return;
    for (int k = 0; k < RT_TK_COUNT; k++)
        out[k] = (rt_traffic_t) {
            .frames_out = atomic_load_explicit (&self->frames[node][k][0], memory_order_relaxed),
            .bytes_out = atomic_load_explicit (&self->bytes[node][k][0], memory_order_relaxed),
            .frames_in = atomic_load_explicit (&self->frames[node][k][1], memory_order_relaxed),
            .bytes_in = atomic_load_explicit (&self->bytes[node][k][1], memory_order_relaxed),
        };
}

int
rt_transport_reload (rt_transport_t *self, const rt_node_conf_t *nodes, size_t n,
                     uint64_t epoch)
{
    if (n < self->n || n > RT_NODES_MAX)
        return RT_EINVAL;
    size_t len = sizeof epoch + n * sizeof *nodes;
    uint8_t *buf = malloc (len);
    if (!buf)
        return RT_ENOMEM;
    memcpy (buf, &epoch, sizeof epoch);
    memcpy (buf + sizeof epoch, nodes, n * sizeof *nodes);
    pthread_mutex_lock (&self->reload_lock);
    uint64_t want = self->reloads_done + 1;
    pthread_mutex_unlock (&self->reload_lock);
    pipe_head_t head = { .peer = RELOAD_PEER };
    int rc = s_post (self, &head, buf, len);
    free (buf);
    if (rc)
        return rc;
    pthread_mutex_lock (&self->reload_lock);
    while (self->reloads_done < want)
        pthread_cond_wait (&self->reload_cv, &self->reload_lock);
    pthread_mutex_unlock (&self->reload_lock);
    return self->err[0] ? RT_ECONFIG : 0;
}

/*  'A' [shard:4][seq:8][receipt]: a receipt of at least its type, or none. */
void
rt_transport_ack (rt_transport_t *self, uint32_t node, uint32_t shard, uint64_t seq,
                  const uint8_t *receipt, size_t rlen)
{
    uint8_t wire[13 + RT_RECEIPT_MAX_BYTES] = { 'A' };
    if (rlen > RT_RECEIPT_MAX_BYTES)
        return;                                 /* never stored that way */
    s_put32 (wire + 1, shard);
    s_put64 (wire + 5, seq);
    if (rlen)
        memcpy (wire + 13, receipt, rlen);
    pipe_head_t head = { .peer = node };
    s_post (self, &head, wire, 13 + rlen);      /* lost: the sender retries */
}

int
rt_transport_broadcast (rt_transport_t *self, const void *data, size_t len)
{
    uint8_t *wire = malloc (1 + len);
    if (!wire)
        return RT_ENOMEM;
    wire[0] = 'B';
    memcpy (wire + 1, data, len);
    int rc = 0;
    for (uint32_t p = 0; p < self->n; p++) {
        pipe_head_t head = { .peer = p };
        if (p != self->self && atomic_load (&self->up[p]))
            rc = s_post (self, &head, wire, 1 + len) ? RT_EOVERLOADED : rc;
    }
    free (wire);
    return rc;
}

void
rt_transport_on_broadcast (rt_transport_t *self, rt_broadcast_fn *fn, void *arg)
{
    self->broadcast_arg = arg;
    self->on_broadcast = fn;
}

bool
rt_transport_up (rt_transport_t *self, uint32_t node)
{
    return node == self->self || (node < self->n && atomic_load (&self->up[node]));
}

int64_t
rt_transport_changed_ms (rt_transport_t *self)
{
    return atomic_load (&self->changed_ms);
}

uint32_t
rt_transport_pending (rt_transport_t *self)
{
    return atomic_load_explicit (&self->npending, memory_order_relaxed);
}

bool
rt_transport_settled (rt_transport_t *self)
{
    bool waited = s_mono_ms () - self->start_ms >= self->down_ms;
    for (uint32_t p = 0; p < self->n; p++)
        if (p != self->self && !atomic_load (&self->up[p]) && !waited)
            return false;
    return true;
}

/* ---- remote asks: the answer goes back to the asking node ------------------- */

typedef struct {
    rt_transport_t *t;
    uint32_t        peer;
    uint64_t        corr;
} answer_to_t;

static void
s_answer (void *arg, const rt_reply_t *r)
{
    answer_to_t *a = arg;
    size_t len = 1 + 8 + 4 + 4 + 1 + r->body_len;
    uint8_t *wire = malloc (len);
    if (wire) {
        wire[0] = 'R';
        s_put64 (wire + 1, a->corr);
        s_put32 (wire + 9, (uint32_t) r->err);
        s_put32 (wire + 13, (uint32_t) r->status);
        wire[17] = r->replayed;
        if (r->body_len)
            memcpy (wire + 18, r->body, r->body_len);
        pipe_head_t head = { .peer = a->peer };
        s_post (a->t, &head, wire, len);        /* lost: the asker times out */
        free (wire);
    }
    free (a);
}

/* ---- the transport thread ------------------------------------------------------ */

static pending_t *
s_slot (rt_transport_t *self, uint64_t corr)
{
    return &self->pending[corr & (RT_REMOTE_ASKS_MAX - 1)];
}

static void
s_fail_pending (rt_transport_t *self, pending_t *p, int err)
{
    rt_future_complete (p->future, err, 0, false, NULL, 0);
    rt_future_release (&p->future);
    p->corr = 0;
    self->npending--;
}

/*  A frame from another thread: register an ask, then send on the peer's
    DEALER (never blocking: a full or unconnected peer fails the ask). */
static int s_dealer (rt_transport_t *self, uint32_t p);

/*  A new node table: weights of known nodes updated, new ones connected
    to. Indices never change, so nothing in flight is misdirected. */
static void
s_reload (rt_transport_t *self, const uint8_t *buf, size_t len)
{
    uint64_t epoch;
    memcpy (&epoch, buf, sizeof epoch);
    size_t n = (len - sizeof epoch) / sizeof (rt_node_conf_t);
    const rt_node_conf_t *nodes = (const rt_node_conf_t *) (buf + sizeof epoch);
    uint32_t old = self->n;
    for (uint32_t p = 0; p < n; p++)
        self->nodes[p] = nodes[p];
    self->epoch = epoch;
    for (uint32_t p = old; p < n; p++) {
        if (s_dealer (self, p)) {
            char esc[1500];
            rt_log ("error", "transport.reload_failed", "\"error\":\"%s\"",
                    rt_log_escape (self->err, esc, sizeof esc));
            break;
        }
        atomic_store (&self->n, p + 1);
    }
    pthread_mutex_lock (&self->reload_lock);
    self->reloads_done++;
    pthread_cond_broadcast (&self->reload_cv);
    pthread_mutex_unlock (&self->reload_lock);
}

static void
s_from_pipe (rt_transport_t *self, zframe_t *f)
{
    pipe_head_t head;
    memcpy (&head, zframe_data (f), sizeof head);
    const uint8_t *wire = zframe_data (f) + sizeof head;
    size_t len = zframe_size (f) - sizeof head;
    if (head.peer == RELOAD_PEER) {
        s_reload (self, wire, len);
        return;
    }
    if (head.peer >= self->n || !self->dealer[head.peer]) {
        if (head.future) {
            rt_future_complete (head.future, RT_EUNAVAILABLE, 0, false, NULL, 0);
            rt_future_release (&head.future);
        }
        return;
    }
    pending_t *slot = NULL;
    if (head.future) {
        uint64_t corr = s_get64 (wire + 1);
        slot = s_slot (self, corr);
        if (slot->corr) {               /* RT_REMOTE_ASKS_MAX in flight */
            rt_future_complete (head.future, RT_EOVERLOADED, 0, false, NULL, 0);
            rt_future_release (&head.future);
            return;
        }
        *slot = (pending_t) { corr, head.future, head.peer,
                              head.deadline_ms ? head.deadline_ms
                                               : rt_now_ms () + RT_ASK_DEADLINE_MAX_MS };
        self->npending++;
    }
    zframe_t *out = zframe_new (wire, len);
    if (!out || zframe_send (&out, self->dealer[head.peer], ZFRAME_DONTWAIT)) {
        zframe_destroy (&out);
        if (slot)
            s_fail_pending (self, slot, RT_EUNAVAILABLE);
    }
    else
        s_count (self, head.peer, 0, wire, len);
}

static void
s_on_message (rt_transport_t *self, uint32_t peer, const uint8_t *d, size_t len)
{
    if (len < 9)
        return;
    uint64_t corr = s_get64 (d + 1);
    rt_envelope_t env;
    int err = rt_envelope_decode (d + 9, len - 9, &env);
    rt_imsg_t *m = err ? NULL : rt_imsg_from_envelope (&env);
    if (!err && !m)
        err = RT_EMALFORMED;
    /*  Fencing: only a node that holds the shard (or is about to, or is
        handing it on) takes its messages; a sender with an older or newer
        view than ours hears RT_ENOTOWNER (503, retry) rather than have a
        shard served where its data is not. */
    if (m && RT_SH_STATE (rt_owner_word (self->rt->owner,
                                         (uint32_t) (m->hash % self->rt->opts.shards)))
             == RT_SH_REMOTE)
        err = RT_ENOTOWNER;
    answer_to_t *a = corr && !err ? malloc (sizeof *a) : NULL;
    if (corr && !err && !(a && (m->future = rt_future_new_cb (s_answer, a))))
        err = RT_ENOMEM;
    if (err) {
        free (a);
        rt_imsg_free (&m);
        if (corr) {
            answer_to_t *e = malloc (sizeof *e);
            if (e) {
                *e = (answer_to_t) { self, peer, corr };
                rt_reply_t r = { .err = err };
                s_answer (e, &r);
            }
        }
        return;
    }
    if (a)
        *a = (answer_to_t) { self, peer, corr };
    /*  A query is answered here from a snapshot: two thread hand-offs
        fewer than a turn on the actor's worker. */
    rt_reply_t r;
    if (corr && rt_read_msg (self->rt, m, &r)) {
        rt_future_complete (m->future, r.err, r.status, false, r.body, r.body_len);
        rt_reply_free (&r);
        rt_imsg_free (&m);
        return;
    }
    rt_deliver (self->rt, m);
}

/*  'Q' [corr:8][service:2][body]: for the service thread; its answer
    goes back as 'R' like an ask's. */
static void
s_on_query (rt_transport_t *self, uint32_t peer, const uint8_t *d, size_t len)
{
    if (len < 11)
        return;
    answer_to_t *a = malloc (sizeof *a);
    rt_future_t *f = a ? rt_future_new_cb (s_answer, a) : NULL;
    if (!f) {
        free (a);
        return;                 /* the asker times out */
    }
    *a = (answer_to_t) { self, peer, s_get64 (d + 1) };
    rt_services_enqueue (self->rt->services, st_get_u16 (d + 9), d + 11, len - 11, f);
}

static void
s_on_answer (rt_transport_t *self, const uint8_t *d, size_t len)
{
    if (len < 18)
        return;
    uint64_t corr = s_get64 (d + 1);
    pending_t *p = s_slot (self, corr);
    if (p->corr != corr)
        return;                         /* timed out and swept already */
    rt_future_complete (p->future, (int32_t) s_get32 (d + 9), (int32_t) s_get32 (d + 13),
                        d[17] != 0, d + 18, len - 18);
    rt_future_release (&p->future);
    p->corr = 0;
    self->npending--;
}

/*  'H' [epoch:8][map_len:4][claims][hears you:1]: being heard is most of
    the point; the claims tell a new node which shards already have an
    owner, and "hears you" that our frames get through to it. */
static void
s_on_heartbeat (rt_transport_t *self, uint32_t peer, const uint8_t *d, size_t len)
{
    if (len < 14 || s_get32 (d + 9) != self->map_len || len - 14 != self->map_len)
        return;
    atomic_store (&self->hears_us[peer], d[len - 1] != 0);
    pthread_mutex_lock (&self->claims_lock);
    if (!self->claims[peer])
        self->claims[peer] = malloc (self->map_len);
    if (self->claims[peer]) {
        memcpy (self->claims[peer], d + 13, self->map_len);
        self->claims_heard[peer] = true;
    }
    pthread_mutex_unlock (&self->claims_lock);
}

static void
s_set_up (rt_transport_t *self, uint32_t p, bool up)
{
    atomic_store (&self->up[p], up);
    atomic_store (&self->changed_ms, rt_now_ms ());
    rt_log (up ? "info" : "warn", up ? "peer.up" : "peer.down", "\"peer\":\"%s\"",
            self->nodes[p].id);
}

static void
s_from_peer (rt_transport_t *self, zmsg_t *msg)
{
    zframe_t *id = zmsg_first (msg), *data = zmsg_next (msg);
    uint32_t peer = self->n;
    for (uint32_t p = 0; id && p < self->n; p++)
        if (p != self->self && zframe_streq (id, self->nodes[p].id))
            peer = p;
    if (peer == self->n || !data || zframe_size (data) == 0)
        return;                         /* not one of ours (CURVE let it in: a
                                           known key with an unknown id) */
    atomic_store (&self->last_seen[peer], s_mono_ms ());
    const uint8_t *d = zframe_data (data);
    size_t len = zframe_size (data);
    s_count (self, peer, 1, d, len);
    switch (d[0]) {
        case 'M': s_on_message (self, peer, d, len); break;
        case 'R': s_on_answer (self, d, len); break;
        case 'Q': s_on_query (self, peer, d, len); break;
        case 'A':
            if (len == 13 || (len >= 13 + 2 && len <= 13 + RT_RECEIPT_MAX_BYTES))
                rt_src_acked (self->rt, s_get32 (d + 1), s_get64 (d + 5), d + 13, len - 13);
            break;
        case 'B':
            if (self->on_broadcast)
                self->on_broadcast (d + 1, len - 1, self->broadcast_arg);
            break;
        case 'X':
        case 'Y':
            if (self->rt->handoff)
                rt_handoff_frame (self->rt->handoff, peer, d, len);
            break;
        case 'H':
            s_on_heartbeat (self, peer, d, len);
            /*  Up the moment both ways work, not at the next tick. */
            if (!atomic_load (&self->up[peer]) && atomic_load (&self->hears_us[peer]))
                s_set_up (self, peer, true);
            break;
        default: break;
    }
}

/*  Heartbeats out; peers' up/down from what we heard; asks past their
    deadline or waiting on a peer now down are failed. */
static void
s_tick (rt_transport_t *self, int64_t *next_beat)
{
    int64_t now = s_mono_ms ();
    /*  This thread wakes every few tens of ms; a longer gap means the whole
        process was stopped (SIGSTOP, a VM pause): peers may have given up
        on us and missed our news, and we theirs. */
    if (self->last_tick && now - self->last_tick > self->down_ms) {
        atomic_store (&self->changed_ms, rt_now_ms ());
        rt_log ("warn", "transport.frozen", "\"ms\":%lld", (long long) (now - self->last_tick));
    }
    self->last_tick = now;
    if (now >= *next_beat && self->beat) {
        uint8_t *hb = self->beat;
        hb[0] = 'H';
        s_put64 (hb + 1, self->epoch);
        s_put32 (hb + 9, self->map_len);
        rt_owner_claims (self->rt->owner, hb + 13);
        for (uint32_t p = 0; p < self->n; p++) {
            int64_t seen = atomic_load (&self->last_seen[p]);
            hb[13 + self->map_len] = seen && now - seen < self->down_ms;
            zframe_t *f = p == self->self || !self->dealer[p] ? NULL
                        : zframe_new (hb, 14 + self->map_len);
            if (!f)
                continue;
            if (zframe_send (&f, self->dealer[p], ZFRAME_DONTWAIT))
                zframe_destroy (&f);
            else
                s_count (self, p, 0, hb, 14 + self->map_len);
        }
        *next_beat = now + RT_HEARTBEAT_MS;
    }
    bool went_down[RT_NODES_MAX] = { false }, any_down = false;
    for (uint32_t p = 0; p < self->n; p++) {
        if (p == self->self)
            continue;
        int64_t seen = atomic_load (&self->last_seen[p]);
        bool up = seen && now - seen < self->down_ms && atomic_load (&self->hears_us[p]);
        if (up != atomic_load (&self->up[p])) {
            went_down[p] = !up;
            any_down = any_down || !up;
            s_set_up (self, p, up);
        }
    }
    if (!self->npending || (!any_down && now < self->next_sweep))
        return;
    self->next_sweep = now + RT_REMOTE_SWEEP_MS;
    int64_t wall = rt_now_ms ();
    for (uint32_t i = 0; i < RT_REMOTE_ASKS_MAX; i++) {
        pending_t *p = &self->pending[i];
        if (p->corr && went_down[p->peer])
            s_fail_pending (self, p, RT_EUNAVAILABLE);
        else if (p->corr && wall > p->deadline_ms)
            s_fail_pending (self, p, RT_ETIMEOUT);
    }
}

/*  CURVE: this node's certificate on every socket; the ROUTER accepts only
    the public keys in keys_dir (zauth); each DEALER checks its peer's. */
static int
s_sockets (rt_transport_t *self)
{
    const rt_node_conf_t *me = &self->nodes[self->self];
    if (self->curve) {
        /*  zcert_load reads <path> (public) and <path>_secret. */
        char path[600];
        snprintf (path, sizeof path, "%s/%s.key", self->keys_dir, me->id);
        self->cert = zcert_load (path);
        if (!self->cert || !strcmp (zcert_secret_txt (self->cert),
                                    "0000000000000000000000000000000000000000")) {
            snprintf (self->err, sizeof self->err, "transport: no certificate %s/%s.key_secret "
                      "(run bin/pasar keys)", self->keys_dir, me->id);
            return -1;
        }
        self->auth = zactor_new (zauth, NULL);
        if (!self->auth || zstr_sendx (self->auth, "CURVE", self->keys_dir, NULL)
            || zsock_wait (self->auth)) {
            snprintf (self->err, sizeof self->err, "transport: cannot start zauth");
            return -1;
        }
    }
    self->router = zsock_new (ZMQ_ROUTER);
    if (!self->router) {
        snprintf (self->err, sizeof self->err, "transport: cannot make a socket");
        return -1;
    }
    zsock_set_linger (self->router, 0);
    zsock_set_rcvhwm (self->router, RT_PEER_QUEUE_MAX);
    zsock_set_sndhwm (self->router, RT_PEER_QUEUE_MAX);
    if (self->curve) {
        zcert_apply (self->cert, self->router);
        zsock_set_curve_server (self->router, 1);
        zsock_set_zap_domain (self->router, "pasar");
    }
    if (zsock_bind (self->router, "%s", me->bind) < 0) {
        snprintf (self->err, sizeof self->err, "transport: cannot bind %s (%s)", me->bind,
                  zmq_strerror (zmq_errno ()));
        return -1;
    }
    for (uint32_t p = 0; p < self->n; p++)
        if (p != self->self && s_dealer (self, p))
            return -1;
    return 0;
}

/*  The DEALER this node sends to peer p with. */
static int
s_dealer (rt_transport_t *self, uint32_t p)
{
    const rt_node_conf_t *me = &self->nodes[self->self];
    zsock_t *d = self->dealer[p] = zsock_new (ZMQ_DEALER);
    if (!d) {
        snprintf (self->err, sizeof self->err, "transport: cannot make a socket");
        return -1;
    }
    zsock_set_identity (d, me->id);
    zsock_set_linger (d, 0);
    zsock_set_sndhwm (d, RT_PEER_QUEUE_MAX);
    zsock_set_immediate (d, 1);     /* no queueing for a peer not connected */
    zsock_set_reconnect_ivl (d, 100);
    zsock_set_reconnect_ivl_max (d, 1000);
    if (self->curve) {
        char path[600];
        snprintf (path, sizeof path, "%s/%s.key", self->keys_dir, self->nodes[p].id);
        zcert_t *peer = zcert_load (path);
        if (!peer) {
            snprintf (self->err, sizeof self->err, "transport: no certificate %s/%s.key "
                      "(run bin/pasar keys after adding a node)", self->keys_dir,
                      self->nodes[p].id);
            return -1;
        }
        zcert_apply (self->cert, d);
        zsock_set_curve_serverkey (d, zcert_public_txt (peer));
        zcert_destroy (&peer);
    }
    if (zsock_connect (d, "%s", self->nodes[p].bind) < 0) {
        snprintf (self->err, sizeof self->err, "transport: cannot connect to %s",
                  self->nodes[p].bind);
        return -1;
    }
    return 0;
}

static void
s_cleanup (rt_transport_t *self)
{
    for (uint32_t i = 0; self->pending && i < RT_REMOTE_ASKS_MAX; i++)
        if (self->pending[i].corr)
            s_fail_pending (self, &self->pending[i], RT_ESTOPPED);
    for (uint32_t p = 0; p < self->n; p++)
        zsock_destroy (&self->dealer[p]);
    zsock_destroy (&self->router);
    zactor_destroy (&self->auth);
    zcert_destroy (&self->cert);
}

static void
s_actor (zsock_t *pipe, void *arg)
{
    rt_transport_t *self = arg;
    pthread_setname_np (pthread_self (), "pasar-transport");
    /*  zactor_new waits for this one signal; self->err tells it how the
        start went (written before the signal, so it sees it). */
    if (s_sockets (self)) {
        s_cleanup (self);
        zsock_signal (pipe, 0);
        return;
    }
    zsock_signal (pipe, 0);
    /*  Reads drain what is queued after each wake-up, never wait. */
    zsock_set_rcvtimeo (pipe, 0);
    zsock_set_rcvtimeo (self->router, 0);
    zpoller_t *poller = zpoller_new (pipe, self->router, NULL);
    int64_t next_beat = 0;
    bool stop = false;
    while (!stop) {
        void *which = zpoller_wait (poller, RT_HEARTBEAT_MS / 2);
        if (which == pipe) {
            /*  Drain what is queued; "$TERM" (zactor_destroy) ends it. */
            for (int i = 0; i < 1024; i++) {
                zframe_t *f = zframe_recv (pipe);
                if (!f)
                    break;
                if (zframe_streq (f, "$TERM"))
                    stop = true;
                else if (zframe_size (f) > sizeof (pipe_head_t))
                    s_from_pipe (self, f);
                zframe_destroy (&f);
            }
        }
        else if (which == self->router) {
            for (int i = 0; i < 1024; i++) {
                zmsg_t *m = zmsg_recv (self->router);
                if (!m)
                    break;
                s_from_peer (self, m);
                zmsg_destroy (&m);
            }
        }
        else if (zpoller_terminated (poller))
            stop = true;
        s_tick (self, &next_beat);
    }
    zpoller_destroy (&poller);
    s_cleanup (self);
}

rt_transport_t *
rt_transport_new (rt_runtime_t *rt, const rt_transport_options_t *o, char *err, size_t errlen)
{
    if (o->nnodes < 2 || o->nnodes > RT_NODES_MAX || o->self >= o->nnodes) {
        snprintf (err, errlen, "transport: needs 2..%u nodes and this node among them",
                  RT_NODES_MAX);
        return NULL;
    }
    rt_transport_t *self = calloc (1, sizeof *self);
    if (!self || !(self->pending = calloc (RT_REMOTE_ASKS_MAX, sizeof *self->pending))) {
        free (self);
        snprintf (err, errlen, "transport: out of memory");
        return NULL;
    }
    self->rt = rt;
    self->map_len = (rt->opts.shards + 7) / 8;
    self->beat = malloc (14 + self->map_len);
    atomic_init (&self->n, (uint32_t) o->nnodes);
    memcpy (self->nodes, o->nodes, o->nnodes * sizeof *o->nodes);
    self->self = o->self;
    self->epoch = o->epoch;
    snprintf (self->keys_dir, sizeof self->keys_dir, "%s", o->keys_dir ? o->keys_dir : "keys");
    self->curve = o->curve;
    self->down_ms = o->peer_down_ms ? o->peer_down_ms : RT_PEER_DOWN_MS_DEFAULT;
    self->start_ms = s_mono_ms ();
    atomic_init (&self->next_corr, 1);
    pthread_mutex_init (&self->send_lock, NULL);
    pthread_mutex_init (&self->claims_lock, NULL);
    pthread_mutex_init (&self->reload_lock, NULL);
    pthread_cond_init (&self->reload_cv, NULL);
    zsys_set_pipehwm (RT_TRANSPORT_QUEUE_MAX);
    zsys_handler_set (NULL);            /* the node owns its signals */
    self->actor = zactor_new (s_actor, self);
    if (!self->actor || self->err[0]) {
        snprintf (err, errlen, "%s", self->err[0] ? self->err : "transport: cannot start");
        rt_transport_destroy (&self);
        return NULL;
    }
    return self;
}

void
rt_transport_destroy (rt_transport_t **p)
{
    if (!p || !*p)
        return;
    rt_transport_t *self = *p;
    zactor_destroy (&self->actor);
    pthread_mutex_destroy (&self->send_lock);
    pthread_mutex_destroy (&self->claims_lock);
    pthread_mutex_destroy (&self->reload_lock);
    pthread_cond_destroy (&self->reload_cv);
    for (uint32_t p = 0; p < RT_NODES_MAX; p++)
        free (self->claims[p]);
    free (self->beat);
    free (self->pending);
    free (self);
    *p = NULL;
}
