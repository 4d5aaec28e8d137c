/*  =========================================================================
    rt_internal.h - structures shared by the runtime's own files only

    Threads and who owns what:
      - a worker thread owns its actors, their mailboxes, its ready queue,
        its overlay of not-yet-durable keys and its LMDB reader; nobody
        else touches them;
      - other threads reach a worker only through its inbox (mutex);
      - the committer thread runs commit callbacks, which release a turn's
        outputs into inboxes and futures;
      - a future is reference-counted: the asker and the runtime each hold
        one reference.
    =========================================================================
*/
#ifndef RT_INTERNAL_H_INCLUDED
#define RT_INTERNAL_H_INCLUDED

#include <pthread.h>
#include <stdatomic.h>
#include "rt_runtime.h"
#include "rt_error.h"
#include "store/st_store.h"
#include "store/st_commit.h"
#include "store/st_keys.h"
#include "rt_envelope.h"
#include "rt_placement.h"
#include "rt_transport.h"

typedef struct rt_future rt_future_t;
typedef struct rt_worker rt_worker_t;
typedef struct rt_actor rt_actor_t;
typedef struct rt_timer rt_timer_t;
typedef struct rt_pump rt_pump_t;
typedef struct rt_kv rt_kv_t;
typedef struct rt_owner rt_owner_t;
typedef struct rt_handoff rt_handoff_t;
typedef struct rt_services rt_services_t;

/* ---- messages in memory ------------------------------------------------ */

enum {
    RT_MF_IDEM     = 1 << 0,    /* carries scope, key, fingerprint */
    RT_MF_SRC      = 1 << 1,    /* delivered from an outbox */
    RT_MF_REMINDER = 1 << 2,    /* fired by a reminder; rkey set */
    RT_MF_KILL     = 1 << 3,    /* control: kill the addressed actor */
    RT_MF_ASKED    = 1 << 4,    /* an actor asked: reply to from/corr_id */
    RT_MF_FENCE    = 1 << 5,    /* control: drop the actors of some shards */
    RT_MF_RECEIPT  = 1 << 6,    /* a receipt for the outbox entry (src_shard,
                                   src_seq) of the addressed actor; local only */
};

/*  One allocation: the struct, then the body and the optional parts. */
typedef struct rt_imsg {
    struct rt_imsg *next;
    rt_addr_t    to;
    rt_addr_t    from;          /* from.type 0: from outside */
    uint64_t     hash;          /* rt_hash(to) */
    uint16_t     type;
    uint16_t     flags;
    int32_t      status;        /* replies */
    uint64_t     corr_id;
    rt_future_t *future;        /* outside ask: the reply goes here */
    int64_t      deadline_ms;   /* unix ms; 0 = none. Past it, not run */
    int64_t      wait_until_ms; /* in the waiting room (a shard moving): until */
    uint32_t     src_shard;     /* RT_MF_SRC */
    uint64_t     src_seq, src_low;
    uint8_t      fingerprint[RT_FINGERPRINT_BYTES];
    char        *idem_scope;    /* NUL-terminated, in tail */
    char        *idem_key;
    uint8_t     *rkey;          /* RT_MF_REMINDER: the 'R' key */
    size_t       rklen;
    char        *traceparent;   /* or NULL */
    uint8_t     *body;
    size_t       body_len;
    uint8_t      tail[];
} rt_imsg_t;

/*  Allocate a message with room for body and the optional parts (sizes 0
    when absent); copies body. NULL on allocation failure. */
rt_imsg_t *rt_imsg_new (const rt_addr_t *to, uint16_t type, const void *body,
                        size_t body_len, size_t scope_len, size_t key_len,
                        size_t rklen, bool trace);
void rt_imsg_free (rt_imsg_t **p);

/*  A message as an envelope for the wire (malloc'd *out): every field the
    receiving runtime needs (idempotency, outbox id, actor ask, deadline,
    trace, kill), stamped with epoch. 0 or an rt_err_t. */
int rt_imsg_encode (const rt_imsg_t *m, uint64_t epoch, uint8_t **out, size_t *out_len);

/*  The message a decoded envelope describes (no future), or NULL when its
    address is invalid or memory is short. */
rt_imsg_t *rt_imsg_from_envelope (const rt_envelope_t *env);

/*  Address hash: FNV-1a 64 over [type:2 big-endian][key]. Stable on disk
    (shards) and used for worker pinning. */
uint64_t rt_hash (uint16_t type, const char *key, size_t len);

/* ---- futures ------------------------------------------------------------ */

rt_future_t *rt_future_new (void);          /* two references */
/*  A future nobody waits on: the first completion calls fn (on the
    completing thread; the reply's body is valid during the call only).
    One reference, the runtime's. For asks that came over the network. */
typedef void (rt_future_fn) (void *arg, const rt_reply_t *reply);
rt_future_t *rt_future_new_cb (rt_future_fn *fn, void *arg);
void rt_future_complete (rt_future_t *f, int err, int status, bool replayed,
                         const void *body, size_t len);
/*  Wait up to timeout_ms; copies the reply out (body ownership moves).
    Returns false on timeout. */
bool rt_future_wait (rt_future_t *f, int timeout_ms, rt_reply_t *out);
void rt_future_release (rt_future_t **p);

/* ---- per-worker map of keys written by turns not yet durable ---------- */

/*  Keys (idempotency records, dedup marks) that a worker wrote in a turn
    whose commit is still in flight. Lookups check it before LMDB so a
    duplicate arriving in that window is still recognised. Entries whose
    seq is durable are dropped lazily. */
rt_kv_t *rt_kv_new (void);
void rt_kv_destroy (rt_kv_t **p);
int rt_kv_put (rt_kv_t *self, const void *k, size_t klen, const void *v,
               size_t vlen, uint64_t seq);
/*  Returns the value (and its seq) or NULL. */
const uint8_t *rt_kv_get (rt_kv_t *self, const void *k, size_t klen,
                          size_t *vlen, uint64_t *seq);
/*  Remove one key, if present. */
void rt_kv_del (rt_kv_t *self, const void *k, size_t klen);
/*  Drop entries with seq <= durable; returns how many remain. */
size_t rt_kv_prune (rt_kv_t *self, uint64_t durable);

/* ---- the runtime -------------------------------------------------------- */

typedef struct {
    atomic_uint_fast64_t activations, passivations, kills;
} rt_type_counters_t;

struct rt_runtime {
    rt_options_t        opts;
    char                node_id[32];
    const rt_type_def_t *types[RT_TYPES_MAX];
    rt_type_counters_t  type_counters[RT_TYPES_MAX];
    st_store_t         *store;
    st_committer_t     *committer;
    rt_worker_t       **workers;
    uint32_t            nworkers;
    rt_timer_t         *timer;
    rt_pump_t          *pump;
    atomic_bool         started;
    atomic_bool         stopping;
    atomic_uint_fast64_t next_corr;
    atomic_uint_fast64_t refused, idem_replays, reminders_fired, expired;
    atomic_uint_fast64_t refused_nospace;   /* outside writes, disk full */
    atomic_uint_fast64_t turns;
    /*  rt_read's snapshot readers: a stack of free ones, made on demand
        up to RT_READERS_MAX. */
    pthread_mutex_t     rd_lock;
    st_reader_t        *rd_free[RT_READERS_MAX];
    unsigned            rd_nfree, rd_made;
    atomic_uint_fast64_t reads, reads_asked;
    /*  the cluster: NULL placement = one node. nodes only grows (a node
        leaving keeps its index, with weight 0), so an index means the same
        node for the life of the process; a reload swaps placement and
        keeps the tables it replaced until destroy (a thread may still be
        looking at one). */
    rt_node_conf_t      nodes[RT_NODES_MAX];
    rt_placement_t *_Atomic placement;
    rt_placement_t     *old_placements[RT_RELOADS_MAX];
    unsigned            nold_placements;
    rt_transport_t     *transport;
    rt_services_t      *services;
    rt_owner_t         *owner;
    rt_handoff_t       *handoff;
    atomic_bool         leaving;        /* not in cluster.toml any more */
    /*  set while the transport runs (by the edge), so under a lock that a
        delivery holds: after rt_on_broadcast (NULL) returns, no call is
        still running */
    pthread_mutex_t     bc_lock;
    rt_on_broadcast_fn *on_broadcast;
    void               *on_broadcast_arg;
};

/*  The worker that owns an address. */
static inline rt_worker_t *
rt_worker_for (rt_runtime_t *rt, uint64_t hash)
{
    return rt->workers[(hash >> 33) % rt->nworkers];
}

/*  Hand msg to its actor's worker (taken). Returns 0, or an rt_err_t after
    failing the message (future completed with the error, asker told). */
int rt_deliver (rt_runtime_t *rt, rt_imsg_t *msg);

/*  Fail a message that will not run: complete its future, answer an
    asking actor, drop a tell. Frees msg. */
void rt_imsg_fail (rt_runtime_t *rt, rt_imsg_t *msg, int err);


/* ---- the cluster (rt_cluster.c) -------------------------------------------- */

/*  Whether this node owns the shard of an address hash (always, alone). */
bool rt_is_local (rt_runtime_t *rt, uint64_t hash);

/*  An outbox entry of (shard, seq) was delivered: tell its pump, here or on
    the node that owns the shard, with the receiver's receipt
    ([msg type:2][body], rlen 0 for none). */
void rt_src_ack (rt_runtime_t *rt, uint32_t shard, uint64_t seq, const uint8_t *receipt,
                 size_t rlen);
/*  A peer said so (transport thread). */
void rt_src_acked (rt_runtime_t *rt, uint32_t shard, uint64_t seq, const uint8_t *receipt,
                   size_t rlen);

/*  Create the placement (rt_runtime_new) and the transport (rt_start). */
int rt_cluster_init (rt_runtime_t *rt, char *err, size_t errlen);
int rt_cluster_start (rt_runtime_t *rt);
void rt_cluster_destroy (rt_runtime_t *rt);
rt_broadcast_fn rt_cluster_broadcast_in;

/* ---- shard ownership and the waiting room (rt_owner.c) ---------------------- */

enum { RT_SH_REMOTE = 0, RT_SH_OWNED = 1, RT_SH_OUT = 2, RT_SH_IN = 3 };
#define RT_SH_STATE(word) ((word) & 3u)

int rt_owner_new (rt_runtime_t *rt, rt_owner_t **out, char *err, size_t errlen);
void rt_owner_destroy (rt_owner_t **p);
/*  With the committer running: write what rt_owner_new corrected (the
    ownership set, unfinished incoming copies dropped). */
int rt_owner_start (rt_owner_t *self);

/*  The shard's word: RT_SH_STATE (word), and a generation that changes on
    every transition. Any thread. */
uint32_t rt_owner_word (rt_owner_t *self, uint32_t shard);
void rt_owner_set (rt_owner_t *self, uint32_t shard, int state);
uint32_t rt_owner_count (rt_owner_t *self, int state);
/*  Bitmap of the shards this node holds the data of (OWNED or OUT). */
void rt_owner_claims (rt_owner_t *self, uint8_t *map);
/*  True until the store first owned something (a new store). */
bool rt_owner_fresh (rt_owner_t *self);
/*  A new store, every peer heard: take the IN shards no peer holds. */
int rt_owner_claim_free (rt_owner_t *self, const uint8_t *taken);
/*  Set (own) or clear the shards in the ownership set and submit *rec
    (taken) with the new set in it, in the order of these calls. Returns
    the commit's sequence, 0 when it could not be submitted. */
uint64_t rt_owner_submit (rt_owner_t *self, st_record_t **rec, const uint32_t *shards,
                          size_t n, bool own, st_done_fn *done, void *arg);
/*  After a new placement: owned shards placed elsewhere go OUT (written
    before this returns), shards placed here that are not owned wait IN.
    *moving = OUT + IN after it. */
int rt_owner_reload (rt_owner_t *self, uint32_t *moving);
/*  Delete shard's whole key range (after it left, or an unfinished copy). */
int rt_owner_wipe (rt_owner_t *self, uint32_t shard, bool wait);
/*  The meta key marking an incoming copy unfinished. */
void rt_owner_partial_key (st_key_t *k, uint32_t shard);

/*  Park msg (taken) until its shard's move ends: rt_wait_flush delivers
    it then; past RT_HANDOFF_WAIT_MS or its deadline rt_wait_sweep fails it
    with RT_EUNAVAILABLE. chain: msg is a list (an actor's mailbox at a
    fence) that goes ahead of what waits. Delivers at once if the shard is
    no longer moving. */
int rt_wait_push (rt_owner_t *self, uint32_t shard, rt_imsg_t *msg, bool chain);
void rt_wait_flush (rt_owner_t *self, uint32_t shard);
void rt_wait_sweep (rt_owner_t *self, int64_t now);
/*  Fail everything still waiting (shutdown, before the transport goes). */
void rt_wait_fail_all (rt_owner_t *self);
void rt_owner_stats (rt_owner_t *self, rt_stats_t *acc);

/* ---- handoff (rt_handoff.c) ------------------------------------------------------ */

rt_handoff_t *rt_handoff_new (rt_runtime_t *rt);
int rt_handoff_start (rt_handoff_t *self);
void rt_handoff_stop (rt_handoff_t *self);
void rt_handoff_destroy (rt_handoff_t **p);
/*  An 'X' or 'Y' frame from peer (transport thread; copied). */
void rt_handoff_frame (rt_handoff_t *self, uint32_t peer, const uint8_t *d, size_t len);
/*  Shards went OUT: look now rather than at the next tick. */
void rt_handoff_kick (rt_handoff_t *self);
void rt_handoff_stats (rt_handoff_t *self, rt_stats_t *acc);

/*  What a worker does for a fence: drop the actors of the shards in map
    (their mailboxes to the waiting room), then count remaining down. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t  cv;
    uint32_t        remaining;
    const uint8_t  *map;
} rt_fence_t;
void rt_worker_fence (rt_worker_t *w, rt_fence_t *f);

/* ---- reads (rt_read.c, rt_ctx.c) ---------------------------------------- */

/*  The actor's committed state through reader (open): decoded, or new when
    it has none. 0, RT_ECORRUPT (undecodable), RT_ENOMEM or a store error. */
int rt_state_load (const rt_type_def_t *def, st_reader_t *reader, const rt_addr_t *addr,
                   uint32_t shard, void **state);

/*  Run a query handler against state without a turn: its answer goes to
    reply (status and a malloc'd body). RT_EINVAL when it tried an effect
    or gave no answer. */
int rt_ctx_query (rt_runtime_t *rt, const rt_type_def_t *def, void *state,
                  const rt_addr_t *addr, uint32_t shard, const rt_msg_t *msg,
                  rt_reply_t *reply);

/*  An ask from another node that is a query (its type's reads) of a shard
    served here: answered from a snapshot on the calling thread (the
    transport's), without the hand-off to the actor's worker and back.
    False when it must go to the actor after all (not a query, not served
    here, no reader free); reply is then untouched. */
bool rt_read_msg (rt_runtime_t *self, const rt_imsg_t *m, rt_reply_t *reply);
/*  A snapshot reader from the pool (NULL when RT_READERS_MAX are out),
    and back. */
st_reader_t *rt_reader_take (rt_runtime_t *rt);
/*  Node services (rt_service.c). enqueue: a peer's question for the
    service thread; the future (taken) gets the answer. */
rt_services_t *rt_services_new (rt_runtime_t *rt);
int rt_services_start (rt_services_t *self);
void rt_services_stop (rt_services_t *self);
void rt_services_destroy (rt_services_t **p);
void rt_services_enqueue (rt_services_t *self, uint16_t id, const void *body, size_t len,
                          rt_future_t *future);
void rt_reader_give (rt_runtime_t *rt, st_reader_t *r);

/*  Free the snapshot readers (at destroy, once no caller is inside). */
void rt_read_destroy (rt_runtime_t *rt);

/* ---- workers (rt_worker.c) ---------------------------------------------- */

rt_worker_t *rt_worker_new (rt_runtime_t *rt, uint32_t index);
int rt_worker_start (rt_worker_t *self);
void rt_worker_stop (rt_worker_t *self);
void rt_worker_destroy (rt_worker_t **p);
/*  Queue msg in the worker's inbox (any thread). RT_EOVERLOADED when full;
    msg is then still the caller's. */
int rt_worker_push (rt_worker_t *self, rt_imsg_t *msg);
/*  The calling thread's worker, or NULL. */
rt_worker_t *rt_worker_current (void);
/*  Deliver straight into a mailbox: only on the worker's own thread. */
int rt_worker_deliver_local (rt_worker_t *self, rt_imsg_t *msg);
void rt_worker_stats (rt_worker_t *self, rt_stats_t *acc);

/* ---- the turn (rt_ctx.c) ------------------------------------------------- */

struct rt_ctx;
/*  Run one message through its actor (worker thread). Takes msg. */
void rt_turn_run (rt_worker_t *w, rt_actor_t *actor, rt_imsg_t *msg, bool *alive);

/*  Worker-side helpers the turn uses. */
void *rt_actor_state (rt_actor_t *a);
void rt_actor_set_state (rt_actor_t *a, void *state);
const rt_addr_t *rt_actor_addr_of (rt_actor_t *a, rt_addr_t *buf);
uint64_t rt_actor_pending_seq (rt_actor_t *a);
void rt_actor_set_pending_seq (rt_actor_t *a, uint64_t seq);
void rt_worker_kill_actor (rt_worker_t *w, rt_actor_t *a);
rt_runtime_t *rt_worker_runtime (rt_worker_t *w);
st_reader_t *rt_worker_reader (rt_worker_t *w);
rt_kv_t *rt_worker_overlay (rt_worker_t *w);

/* ---- reminders (rt_timer.c) and outbox (rt_pump.c) --------------------- */

rt_timer_t *rt_timer_new (rt_runtime_t *rt);
int rt_timer_start (rt_timer_t *self);
/*  Join the thread; the structure stays usable by commit callbacks. */
void rt_timer_stop (rt_timer_t *self);
void rt_timer_destroy (rt_timer_t **p);
/*  A reminder of shard was set for due_ms (committed): wake if earlier. */
void rt_timer_scheduled (rt_timer_t *self, uint32_t shard, int64_t due_ms);
/*  The fired reminder rkey was handled and its deletion is durable. */
void rt_timer_done (rt_timer_t *self, const uint8_t *rkey, size_t rklen);

rt_pump_t *rt_pump_new (rt_runtime_t *rt);
int rt_pump_start (rt_pump_t *self);
/*  Join the thread; the structure stays usable by commit callbacks. */
void rt_pump_stop (rt_pump_t *self);
void rt_pump_destroy (rt_pump_t **p);
/*  The key of shard's outbox high-water mark ("oseq"): raised to the
    highest seq deleted, in the deleting record (rt_pump.c). */
void rt_pump_mark_key (st_key_t *k, uint32_t shard);
/*  Next outbox sequence number of shard (>= 1). */
uint64_t rt_pump_next_seq (rt_pump_t *self, uint32_t shard);
/*  Lowest outbox seq of shard not yet acknowledged and deleted. */
uint64_t rt_pump_low (rt_pump_t *self, uint32_t shard);
/*  The entry (shard, seq) holding envelope is durable: deliver it. */
void rt_pump_sent (rt_pump_t *self, uint32_t shard, uint64_t seq,
                   const uint8_t *env, size_t len);
/*  The receiver has durably processed (shard, seq). Without a receipt the
    pump deletes the entry; with one it hands the receipt to the sender
    actor, whose turn deletes it. */
void rt_pump_ack (rt_pump_t *self, uint32_t shard, uint64_t seq, const uint8_t *receipt,
                  size_t rlen);
/*  The committer's after-batch hook: the wake-up its callbacks deferred. */
void rt_pump_after_batch (void *arg);
/*  A receipt's turn deleted (shard, seq) durably: forget the entry. */
void rt_pump_gone (rt_pump_t *self, uint32_t shard, uint64_t seq);
void rt_pump_stats (rt_pump_t *self, rt_stats_t *acc);
/*  A shard left (forget its entries: its range is going) or arrived
    (deliver what its outbox holds, number on from its highest). */
void rt_pump_drop_shard (rt_pump_t *self, uint32_t shard);
void rt_pump_adopt_shard (rt_pump_t *self, uint32_t shard);
/*  A shard arrived: its earliest reminder from the store. */
void rt_timer_adopt_shard (rt_timer_t *self, uint32_t shard);

#endif
