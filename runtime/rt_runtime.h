/*  =========================================================================
    rt_runtime.h - the actor runtime of one node

    Owns the worker threads (actors pinned to workers by hash), the store
    and its committer, the reminder timer and the outbox pump. Outside code
    (the edge, tests, benches) talks to actors with rt_tell and rt_ask.
    =========================================================================
*/
#ifndef RT_RUNTIME_H_INCLUDED
#define RT_RUNTIME_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "rt_actor.h"
#include "rt_limits.h"
#include "rt_hist.h"
#include "rt_config.h"

typedef struct rt_runtime rt_runtime_t;

typedef struct {
    const char *data_dir;           /* the node's directory (created) */
    const char *node_id;
    uint32_t    shards;             /* cluster.shards */
    uint32_t    workers;            /* 0 = one per core */
    uint32_t    mailbox_max;        /* 0 = RT_MAILBOX_DEFAULT */
    uint32_t    worker_inbox_max;   /* 0 = RT_WORKER_INBOX_DEFAULT */
    uint32_t    max_resident;       /* 0 = RT_RESIDENT_DEFAULT */
    uint32_t    passivate_idle_ms;  /* 0 = RT_PASSIVATE_IDLE_S_DEFAULT s */
    uint32_t    idem_retention_s;   /* 0 = RT_IDEM_RETENTION_S_DEFAULT */
    uint32_t    map_size_mb;        /* 0 = 64 */
    uint32_t    reserve_mb;         /* 0 = RT_STORE_RESERVE_MB_DEFAULT */
    bool        nometasync;         /* storage.sync = "nometasync" */
    bool        nosync;             /* no fsync at all: benches of the CPU path only */
    uint32_t    commit_batch_max;   /* 0 = RT_COMMIT_BATCH_MAX; 1 = sync per turn */
    /*  The cluster (cluster.toml [[node]]): with two or more nodes, shards
        are placed by rendezvous hashing and messages for other nodes' shards
        go over the transport (rt_transport.h). */
    const rt_node_conf_t *nodes;    /* copied; NULL or 1 node: single node */
    size_t      nnodes;
    uint32_t    self_node;          /* this node's index in nodes */
    uint64_t    epoch;
    const char *keys_dir;           /* CURVE certificates */
    bool        no_curve;           /* tests of the refusal only */
    uint32_t    peer_down_ms;       /* 0 = RT_PEER_DOWN_MS_DEFAULT */
    uint32_t    kill_actors_per_min;/* [debug]: random resident actors killed
                                       as a crash would, across the workers */
} rt_options_t;

/*  Create the runtime: open the store (err gets a one-line reason on
    failure), but start no thread. Register types, then rt_start. */
rt_runtime_t *rt_runtime_new (const rt_options_t *opts, char *err, size_t errlen);

/*  Register an actor type under id (1..RT_TYPES_MAX-1). The def must
    outlive the runtime. Before rt_start only. */
int rt_register (rt_runtime_t *self, uint16_t id, const rt_type_def_t *def);

/*  Start workers, committer, timer and pump; pending reminders and outbox
    entries from before a restart are picked up. */
int rt_start (rt_runtime_t *self);

/*  Stop taking messages, let every submitted commit finish, stop all
    threads, close the store; no-op on NULL; sets *p to NULL. */
void rt_runtime_destroy (rt_runtime_t **p);

/* ---- talking to actors from outside --------------------------------- */

typedef struct {
    uint16_t    to_type;
    const char *to_key;
    size_t      to_key_len;
    uint16_t    msg_type;
    const void *body;
    size_t      body_len;
    /*  Idempotency: all three or none. scope = principal + route. */
    const char *idem_scope;
    const char *idem_key;
    const uint8_t *fingerprint;     /* RT_FINGERPRINT_BYTES */
    const char *traceparent;        /* optional */
} rt_request_t;

typedef struct {
    int      err;           /* 0, or RT_ETIMEOUT, RT_EOVERLOADED, ... */
    int      status;        /* the handler's status when err == 0 */
    bool     replayed;      /* answered from an idempotency record */
    uint8_t *body;          /* malloc'd; rt_reply_free */
    size_t   body_len;
} rt_reply_t;

/*  Fire and forget. Returns 0, RT_EOVERLOADED, RT_EINVAL, RT_ENOTYPE. */
int rt_tell (rt_runtime_t *self, const rt_request_t *req);

/*  Send and wait up to timeout_ms for the answer (at most once: a timeout
    says nothing about whether the effect happened; retry with the same
    idempotency key). Returns reply->err. */
int rt_ask (rt_runtime_t *self, const rt_request_t *req, int timeout_ms,
            rt_reply_t *reply);

void rt_reply_free (rt_reply_t *reply);

/*  A query (a message type in the actor type's `reads`) answered on the
    calling thread from the actor's committed state: an LMDB snapshot,
    decoded, the handler run without a turn. No hand-off to the actor's
    worker and back, so no wait behind its mailbox and no context switches.
    The snapshot holds every write whose reply has been released (replies
    leave only after their commit), so a client reads its own writes; it
    does not hold turns still committing, which nobody has been told of.
    Without a free snapshot reader (RT_READERS_MAX in use), or for a shard
    another node owns, it is an ordinary rt_ask. Returns reply->err; RT_EINVAL also for a message type
    that is not a query, or a handler that tried to change anything. */
int rt_read (rt_runtime_t *self, const rt_request_t *req, int timeout_ms, rt_reply_t *reply);

/*  One index entry of the actor (type, key): the value its type's index
    hook emitted under ikey, from a committed snapshot like rt_read's, with
    no state decoded and no handler run. For the checks an edge makes on
    every request (is this session live, does this user exist), where
    decoding the whole state was most of the cost. Returns 0 (the value,
    up to cap bytes, in val; its length in *vlen), RT_INDEX_ABSENT, or
    RT_INDEX_ELSEWHERE when this node cannot read the actor's shard now
    (another node serves it, it is moving, no reader is free): then
    rt_read. Absent is what the store holds, and an index written by an
    older binary may lack entries: callers treat it as "read the state". */
#define RT_INDEX_ABSENT    1
#define RT_INDEX_ELSEWHERE 2
int rt_index_read (rt_runtime_t *self, uint16_t type, const char *key, size_t klen,
                   const void *ikey, size_t iklen, void *val, size_t cap, size_t *vlen);

/*  Wall-clock now, unix milliseconds. */
int64_t rt_now_ms (void);

/*  Drop the actor from memory and its mailbox as a crash would (waiting
    asks get RT_EKILLED). Its next message reloads committed state. */
int rt_kill (rt_runtime_t *self, uint16_t type, const char *key, size_t len);

/*  The id a type was registered under, by its name; 0 when none. */
uint16_t rt_type_id (rt_runtime_t *self, const char *name);

/*  0 while the runtime can make progress; otherwise the error that
    stopped its store (a failed commit: the node must restart, see
    st_commit.h). */
int rt_failed (rt_runtime_t *self);

/* ---- placement and introspection -------------------------------------- */

/*  shard = fnv1a64(type, key) mod shards: stable across versions, because
    every LMDB key is prefixed by it. */
uint32_t rt_shard_of (uint16_t type, const char *key, size_t len, uint32_t shards);
/*  cluster.shards */
uint32_t rt_shard_count (rt_runtime_t *self);

typedef struct {
    uint64_t activations, passivations, kills, turns;
    uint64_t refused_overloaded;
    uint64_t refused_nospace;       /* outside writes refused: disk full (RT_ENOSPACE) */
    uint64_t expired;               /* asks dropped: deadline passed while queued */
    uint64_t reads, reads_asked;    /* rt_read: from a snapshot; as asks (no reader) */
    uint64_t resident;
    uint64_t mailbox_depth;         /* messages waiting, all actors */
    uint64_t idem_replays;
    uint64_t reminders_fired;
    uint64_t outbox_pending, outbox_delivered, outbox_redelivered;
    uint64_t commit_batches, commit_records, commit_ns_total, commit_ns_max;
    rt_hist_t commit_batch_records, commit_us;     /* per batch */
    uint64_t map_size_bytes;
    /*  The write-ahead log and base copies (store/st_store.h). */
    uint64_t log_frames, log_bytes, log_segments, log_spares_used, log_frames_unprepared;
    uint64_t space_reserved, space_low;                 /* st_space.c */
    uint64_t base_copies, base_failures, base_us_last, base_bytes;
    uint64_t replayed_frames, restored;
    /*  shards and their moves (rt_reload) */
    uint64_t shards_owned, shards_moving_out, shards_moving_in;
    uint64_t handoff_shards_out, handoff_shards_in;  /* moves completed */
    uint64_t handoff_bytes_out, handoff_bytes_in;
    uint64_t handoff_ns_out, handoff_ns_in;          /* summed per shard */
    uint64_t handoff_restarts;                       /* a move started over */
    uint64_t handoff_waiting;       /* messages waiting for a move to end */
    uint64_t handoff_waited, handoff_wait_expired;   /* ever; gave up (503) */
    uint64_t remote_asks_pending;   /* asks to other nodes not yet answered or swept */
} rt_stats_t;

void rt_stats (rt_runtime_t *self, rt_stats_t *out);

/* ---- the cluster ------------------------------------------------------------ */

typedef struct {
    char     id[32];
    char     http[128];
    bool     up;                    /* this node: always */
    bool     self;
    bool     leaving;               /* not in cluster.toml: handing off */
    uint32_t shards_owned;          /* holds the data of (peers: as heard) */
    uint32_t shards_moving;         /* this node only: OUT + IN */
} rt_node_view_t;

typedef struct {
    uint64_t       epoch;
    uint32_t       shards;
    size_t         nnodes;
    rt_node_view_t nodes[RT_NODES_MAX];
    uint32_t       handoffs_in_progress;
} rt_cluster_view_t;

void rt_cluster_view (rt_runtime_t *self, rt_cluster_view_t *out);

/*  What crossed to and from one peer, by the kind of frame: how many
    messages a workload sends between nodes, and to which of them. */
typedef enum {
    RT_TK_MESSAGE,                  /* actor messages (tells, asks, outbox) */
    RT_TK_ANSWER,                   /* answers to asks and node questions */
    RT_TK_QUERY,                    /* node services' questions (search) */
    RT_TK_ACK,                      /* outbox deliveries acknowledged */
    RT_TK_BROADCAST,                /* revocations and the like */
    RT_TK_HANDOFF,                  /* shard data moving */
    RT_TK_HEARTBEAT,
    RT_TK_OTHER,                    /* unknown to this binary */
    RT_TK_COUNT
} rt_traffic_kind_t;

typedef struct {
    uint64_t frames_out, bytes_out, frames_in, bytes_in;
} rt_traffic_t;

/*  The kind's name in metrics ("message", "answer", ...). */
const char *rt_traffic_kind_name (int kind);

/*  Since this node started, with node (an index of rt_cluster_view's
    nodes); all zero for this node itself or without a cluster. */
void rt_cluster_traffic (rt_runtime_t *self, size_t node, rt_traffic_t out[RT_TK_COUNT]);

/*  A new membership (cluster.toml re-read on SIGHUP): nodes and epoch.
    Applied when the epoch is higher than the running one and the shard
    count and this node's addresses are unchanged, and no shard is still
    moving from the last change; nodes added are connected to, nodes
    removed stay connected (weight 0) until they have handed off. Shards
    whose owner changes move one by one (rt_handoff.c): no pause of the
    others. This node missing from nodes means it is leaving: it hands
    every shard off, then rt_drained says so. 0, or an rt_err_t with the
    reason in err (nothing changed). */
int rt_reload (rt_runtime_t *self, const rt_node_conf_t *nodes, size_t n, uint64_t epoch,
               char *err, size_t errlen);

/*  This node left cluster.toml and holds no shard any more: it may exit. */
bool rt_drained (rt_runtime_t *self);

/*  Every peer knows whether it is up, or has waited long enough to tell:
    /readyz. True on a single node. */
bool rt_cluster_settled (rt_runtime_t *self);

/*  Wall-clock ms of the last change in which peers this node could reach
    (or of it waking from a freeze): broadcasts sent before it may not have
    reached everyone. 0 on a single node, or if it never happened. */
int64_t rt_cluster_changed_ms (rt_runtime_t *self);

/*  Soft state every node should hear of at once (a revoked session): sent
    to each peer that is up, at most once; no-op on a single node. fn runs
    on the transport thread for each payload a peer broadcast. */
int rt_broadcast (rt_runtime_t *self, const void *data, size_t len);
typedef void (rt_on_broadcast_fn) (const void *data, size_t len, void *arg);
void rt_on_broadcast (rt_runtime_t *self, rt_on_broadcast_fn *fn, void *arg);

/* ---- node services and scans (search) --------------------------------------- */

/*  A node's own answer to a question about its share of the data (the
    shards it serves): fills reply->status/body (malloc'd); returns 0 or
    an rt_err_t. Runs on the asking thread for this node, on the service
    thread for a peer's question. */
typedef int (rt_service_fn) (rt_runtime_t *rt, void *arg, const void *body, size_t len,
                             rt_reply_t *reply);

/*  Before rt_start; id 1..RT_SERVICES_MAX-1. */
int rt_service_register (rt_runtime_t *rt, uint16_t id, rt_service_fn *fn, void *arg);

/*  Ask service id of every node (this one included; nodes leaving too,
    while they hold shards), in parallel, within timeout_ms. replies[i] is
    node i's answer (err RT_EUNAVAILABLE for a node down, RT_ETIMEOUT...);
    *n the number of nodes (<= max). Free each with rt_reply_free. */
int rt_call_all (rt_runtime_t *rt, uint16_t id, const void *body, size_t len, int timeout_ms,
                 rt_reply_t *replies, size_t max, size_t *n);

/*  A snapshot of what this node serves: the shards OWNED here when it
    opens. For services. NULL when no snapshot reader is free. */
typedef struct rt_scan rt_scan_t;
rt_scan_t *rt_scan_open (rt_runtime_t *rt);
uint32_t rt_scan_shards (const rt_scan_t *s);
bool rt_scan_owned (const rt_scan_t *s, uint32_t shard);
/*  fn for each index entry of shard with lo <= key < hi (hi empty: to the
    end), ascending or (reverse) descending, at most max; fn returns
    non-zero to stop. Keys are the type's own (rt_type_def_t.index).
    Returns the number visited, or an rt_err_t (negative). */
typedef int (rt_scan_fn) (void *arg, const void *key, size_t klen, const void *val, size_t vlen);
int rt_scan_index (rt_scan_t *s, uint32_t shard, const void *lo, size_t lolen, const void *hi,
                   size_t hilen, bool reverse, size_t max, rt_scan_fn *fn, void *arg);
/*  One index entry: 0 (val points into the snapshot), 1 absent, or an error. */
int rt_scan_get (rt_scan_t *s, uint32_t shard, const void *key, size_t klen, const void **val,
                 size_t *vlen);
/*  An actor's committed state, decoded (free with its type's state_free;
    a new state when it has none); RT_ENOTOWNER when its shard is not
    in this scan. */
int rt_scan_state (rt_scan_t *s, uint16_t type, const char *key, size_t klen, void **state);
/*  End the snapshot; covered (shards/8 bytes, may be NULL) gets the shards
    that were served here for the whole scan: the answer stands for
    exactly those. */
void rt_scan_close (rt_scan_t **s, uint8_t *covered);

/*  Rebuild every shard's secondary index from the states in the store
    (types registered, runtime not started: offline, `bin/pasar reindex`).
    Counts states indexed and entries written. 0 or an rt_err_t. */
int rt_reindex (rt_runtime_t *rt, uint64_t *states, uint64_t *entries);

/*  Per-type counters for /metrics. */
typedef struct {
    const char *name;
    uint64_t activations, passivations, kills;
} rt_type_stats_t;
size_t rt_type_stats (rt_runtime_t *self, rt_type_stats_t *out, size_t max);

#endif
