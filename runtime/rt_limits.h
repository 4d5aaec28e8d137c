/*  =========================================================================
    rt_limits.h - every bound pasar enforces, in one place, each with its reason

    A queue, buffer, count or retry that is not listed here is a bug: nothing
    in the runtime may grow without a named ceiling. Values are compile-time
    defaults; the ones an operator may tune are also keys of cluster.toml
    (docs/config.md), and the header gives the range config validation accepts.
    =========================================================================
*/
#ifndef RT_LIMITS_H_INCLUDED
#define RT_LIMITS_H_INCLUDED

/* ---- Addresses ------------------------------------------------------- */

/*  Actor key length. Ids are a 4-byte prefix plus a 26-char ULID; emails
    (the email-claim actor) are capped by RFC 5321 at 254 but we hash long
    ones, so 64 bytes holds every key with room, and keeps an address small
    enough to live inline in every message. */
#define RT_KEY_MAX              64

/*  Registered actor types. The wire carries the type as a small integer;
    a fixed table keeps dispatch an array index. */
#define RT_TYPES_MAX            64

/*  Message types per actor type: handler tables are arrays indexed by it. */
#define RT_MSG_TYPES_MAX        64

/* ---- Messages -------------------------------------------------------- */

/*  One message body. HTTP bodies are capped at 64 KiB by default (API.md)
    and a rendered reply (a page of 100 listings) stays well under 1 MiB;
    anything larger is a bug or an attack, and a bounded body keeps one
    message from starving a worker or the commit batch. */
#define RT_BODY_MAX_BYTES       (1u << 20)

/*  One encoded envelope: the body plus headers (addresses, idempotency
    key, fingerprint, traceparent) which together stay under 1 KiB. */
#define RT_ENVELOPE_MAX_BYTES   (RT_BODY_MAX_BYTES + 4096)

/*  Fields in an envelope map. The schema has 16; a few spare slots let a
    newer peer add fields an older one skips, without letting a hostile
    peer make us walk a million keys. */
#define RT_ENVELOPE_FIELDS_MAX  32

/*  Nesting inside an envelope: map -> address array -> scalar. */
#define RT_ENVELOPE_DEPTH_MAX   3

/*  Idempotency-Key: API.md allows 1..255 printable ASCII. */
#define RT_IDEM_KEY_MAX         255

/*  Idempotency scope (the principal, e.g. "usr_..." plus route template). */
#define RT_IDEM_SCOPE_MAX       192

/*  Request fingerprint: SHA-256 of method, path and canonical body. */
#define RT_FINGERPRINT_BYTES    32

/*  W3C traceparent is exactly 55 characters in version 00. */
#define RT_TRACEPARENT_LEN      55

/* ---- Queues ---------------------------------------------------------- */

/*  Messages waiting in one worker's inbox (from other threads). Bounded so
    a flood turns into `overloaded` refusals at the door instead of memory
    growth; 64 Ki messages is ~50 ms of work at our measured turn rate.
    cluster.toml: runtime.worker_inbox_max (1024..16777216). */
#define RT_WORKER_INBOX_DEFAULT (64u * 1024)

/*  Messages waiting for one actor. One actor handles one message at a
    time, so a deep mailbox only adds latency for everyone queued behind it;
    1024 is seconds of backlog for a hot entity, and a full mailbox answers
    `overloaded` (HTTP 503 + Retry-After) rather than growing.
    cluster.toml: runtime.mailbox_max (16..1048576). */
#define RT_MAILBOX_DEFAULT      1024u

/*  Commit records queued for the committer thread. When full, workers stop
    taking new messages until the disk catches up: back-pressure from fsync
    reaches the edge as full inboxes, never as unbounded memory. */
#define RT_COMMIT_QUEUE_MAX     (16u * 1024)

/*  Records per LMDB write transaction. Group commit amortises one fsync
    over the batch; past a few thousand records the transaction's dirty
    pages dominate and latency grows with no throughput gain. */
#define RT_COMMIT_BATCH_MAX     4096u

/*  Bytes of records per batch (one write-ahead log frame): past it the
    batch is cut even below RT_COMMIT_BATCH_MAX, so a frame stays a size
    that replay maps and applies in one go; one bigger record still forms
    a batch of its own. */
#define RT_COMMIT_BATCH_BYTES   (32u << 20)

/*  How often the store's thread looks whether a base copy is due (and,
    with storage.sync = "nometasync", syncs the log: the most a power
    failure can take in that mode). */
#define RT_STORE_TICK_MS        1000u

/*  Log bytes after which a base copy of data.mdb is taken (st_base.h)
    and the log before it deleted: bounds the log on disk and the replay
    after a power failure (~10 s at the replay rates measured here). At
    full load on this machine that is a copy every ~40 s. */
#define RT_WAL_BASE_BYTES       (2048ull << 20)

/*  Log lines (rt_log.h) waiting for the log thread to write them. A
    write to the log file can block for tens of milliseconds (its inode
    lock, the kernel throttling writers under writeback; BENCHMARKS.md);
    a request thread only copies its line in here. ~4,000 access-log
    lines: over a second of them at the loads measured here. A line that
    finds it full is dropped and counted, never waited for. */
#define RT_LOG_QUEUE_BYTES      (1u << 20)

/*  The log thread writes what is queued this often, or as soon as this
    much is: a line reaches the file within RT_LOG_FLUSH_MS, and a busy
    node wakes the thread ~50 times a second, not once per request. */
#define RT_LOG_FLUSH_MS         20u
#define RT_LOG_WAKE_BYTES       (64u << 10)

/*  A log segment is zero-filled to this size before frames go into it
    (by a thread of its own, while the one before it fills): a frame then
    overwrites blocks the file already has, so its fdatasync writes the
    data alone, without an ext4 journal commit for the file's new size.
    Measured on this disk, 9 KB writes each followed by fdatasync:
    326-482 -> 162-178 µs; under the transfer load the committer's mean
    fdatasync 0.69 -> 0.63 ms (BENCHMARKS.md). The zeros cost one
    sequential write of each segment ahead of its use. */
#define RT_WAL_SEGMENT_BYTES    (64ull << 20)

/*  The first segment after a start is not zero-filled (a node that
    writes little never pays for it); once it holds this much, the next
    one is prepared. */
#define RT_WAL_SPARE_AFTER_BYTES (1ull << 20)

/*  A spare segment that could not be made (disk full) is tried again
    after this; frames meanwhile go on in the current segment. */
#define RT_WAL_SPARE_RETRY_MS   (5u * 1000)

/*  On a nearly full disk, LMDB's file (as long as the map, but holes
    until written) is allocated this far ahead of its last page, so a
    full disk is an error before a batch, not a SIGBUS inside one
    (st_space.c). Extended when less than half of it is left.
    cluster.toml: storage.reserve_mb. */
#define RT_STORE_RESERVE_MB_DEFAULT 64u
#define RT_STORE_RESERVE_MB_MAX     65536u

/*  "Nearly full": less than this many reservations' worth free. Above
    it nothing is allocated ahead (a hole's block at the page fault cannot
    fail yet, and ext4 splits an unwritten extent for every scattered page
    written into one: BENCHMARKS.md). Checked per batch (fstatvfs). */
#define RT_STORE_ROOMY_RESERVES     4u

/*  A batch may take new pages up to twice its ops' bytes plus this many
    per turn (a B-tree path copied for each of a few ops); it is refused
    before it is logged if the disk cannot give that much. */
#define RT_STORE_PAGES_PER_TURN 32u

/*  While the disk cannot extend the reservation (or give the log its
    next segment), outside writes are refused (503) and the allocation is
    tried again this often, so writes resume soon after space is freed. */
#define RT_STORE_RESERVE_RETRY_MS 1000u

/*  A base copy is also taken this long after the last one if anything
    was logged since, so a quiet node's log stays short too. */
#define RT_BASE_INTERVAL_MS     (10u * 60 * 1000)

/*  After a failed base copy (disk full, I/O error) the next try waits
    this long: each try rotates the log and rewrites the whole copy. */
#define RT_BASE_RETRY_MS        (60u * 1000)

/*  Pause instructions an idle worker spins (~40 µs) before sleeping on its
    inbox, when the machine has cores to spare (more than workers + 2):
    a futex wake costs more than the next message's wait under load. */
#define RT_WORKER_SPIN          2000
/*  The spin (~8 µs) where cores are short: enough to catch a reply or the
    next message of a conversation between workers (no spin at all cost
    a futex wake each: ~50 µs per outside ask and 37 k msg/s between two
    workers, against 1.3 µs and 1.76 M with this), short enough that
    idle spinning does not take the CPU the edge needs (transfers/s
    were no lower, BENCHMARKS.md). */
#define RT_WORKER_SPIN_SHORT    400

/*  Turns a worker runs for one actor before moving on to the next ready
    actor, so a hot actor cannot starve its worker's other actors. */
#define RT_TURNS_PER_ACTIVATION 64u

/* ---- Actors ---------------------------------------------------------- */

/*  Resident (activated) actors per node before the least recently used
    idle ones are passivated. 2 M at well under 1 KiB each is < 2 GiB.
    cluster.toml: runtime.max_resident_actors (1000..100000000). */
#define RT_RESIDENT_DEFAULT     (2u * 1000 * 1000)

/*  Idle time after which an actor is passivated.
    cluster.toml: runtime.passivate_idle_s (1..86400). */
#define RT_PASSIVATE_IDLE_S_DEFAULT 300u

/*  Encoded state of one actor. State is loaded whole on activation; an
    entity that needs more (a conversation's messages) keeps the bulk in
    its own keyed records, not in the state blob. */
#define RT_STATE_MAX_BYTES      (256u * 1024)

/*  Secondary index entries (rt_type_def_t.index) of one actor: a listing
    has 2 per word of its title and description plus a few, and 5,000
    characters hold at most 2,500 words. Keys stay far below LMDB's 511
    bytes with the shard prefix; values are small summaries. */
#define RT_INDEX_ENTRIES_MAX    8192u
#define RT_INDEX_KEY_MAX        160u
#define RT_INDEX_VAL_MAX        2048u

/*  Node services (rt_service.c): ids per runtime, and questions from
    peers waiting for the service thread. A search fans out to every node
    once per page and a page costs a node ~1-3 ms: 256 waiting is about
    half a second of work, well inside an ask's deadline; more is refused
    (RT_EOVERLOADED: 503 with Retry-After) at once. (64 refused ~4 % of
    searches with 64 clients on 3 nodes sharing 2 cores.) */
#define RT_SERVICES_MAX         16u
#define RT_SERVICE_QUEUE_MAX    256u

/*  Outgoing messages, replies and reminder changes from one turn. A turn
    is a small step of a state machine; a handler that wants more is looping
    where it should be sending itself a message. */
#define RT_TURN_EFFECTS_MAX     64u

/* ---- Asks ------------------------------------------------------------ */

/*  Longest deadline an outside caller may give an ask. The edge uses 5 s
    by default; 60 s bounds a slow admin operation. */
#define RT_ASK_DEADLINE_MAX_MS  60000

/* ---- Reminders ------------------------------------------------------- */

/*  Reminders fired by one scan of one shard. Bounds the work of the timer
    thread per tick, so a backlog after a long outage drains in steps. */
#define RT_REMINDER_SCAN_MAX    1024u

/*  Reminder name length (e.g. "expire", "timeout:ord_..."). */
#define RT_REMINDER_NAME_MAX    64

/* ---- Idempotency ----------------------------------------------------- */

/*  How long an idempotency record is kept (API.md: 24 h).
    cluster.toml: idempotency.retention_s (60..604800). */
#define RT_IDEM_RETENTION_S_DEFAULT (24u * 3600)

/*  Stored reply of an idempotency record: the rendered response body. */
#define RT_IDEM_REPLY_MAX_BYTES RT_BODY_MAX_BYTES

/*  Expired idempotency records deleted per sweep, so expiry never turns
    into one giant write transaction. */
#define RT_IDEM_SWEEP_MAX       4096u

/* ---- Outbox ---------------------------------------------------------- */

/*  Outbox messages of one shard in flight (sent, not yet acknowledged).
    Receivers keep a dedup entry per in-flight message, so this also bounds
    the dedup state a sender shard can cause at each receiving shard. */
#define RT_OUTBOX_WINDOW        1024u

/*  Delivery attempts before an outbox message is parked (kept, counted in
    /metrics, retried only on restart): a receiver that refuses 1000 times
    over ~10 minutes of backoff is broken, and retrying forever hides it. */
#define RT_OUTBOX_RETRIES_MAX   1000u

/*  An outbox message not acknowledged after this long is sent again,
    with the wait doubling up to the max. The first wait covers a full
    mailbox plus a group commit; the max keeps a dead receiver from being
    hammered while still noticing within seconds when it is back. */
#define RT_OUTBOX_ACK_TIMEOUT_MS 200
#define RT_OUTBOX_BACKOFF_MAX_MS 5000

/*  A receipt (rt_ctx_receipt): the receiver's verdict on an outbox
    message, [msg type:2][body]. It is kept in the receiver's dedup mark
    until the sender has handled it, and travels in every acknowledgement
    of that message, so it is a verdict ("posted", with the reference it
    settles), not a payload. */
#define RT_RECEIPT_MAX_BYTES    256u

/*  A fired reminder not handled within this long (its actor was killed,
    or its node crashed before the commit) fires again. */
#define RT_REMINDER_REFIRE_MS   30000

/*  How often expired idempotency records are swept. */
#define RT_IDEM_SWEEP_INTERVAL_MS 10000

/* ---- Store ----------------------------------------------------------- */

/*  Shards per cluster. Fixed at cluster creation: 2-byte shard prefixes in
    every LMDB key. cluster.toml: cluster.shards (1..65535). */
#define RT_SHARDS_DEFAULT       256u
#define RT_SHARDS_MAX           65535u

/*  LMDB map size grows by doubling on MDB_MAP_FULL up to this ceiling
    (per node). cluster.toml: storage.map_size_mb is the starting size. */
#define RT_MAP_SIZE_MAX_MB      (1024u * 1024)

/*  Readers: one per worker plus the timer, pump and admin threads, plus
    RT_READERS_MAX for rt_read, plus the base copy's snapshot. */
#define RT_LMDB_READERS_MAX     126u

/*  Snapshot readers rt_read may hold at once (callers on edge threads);
    past it a read waits in the actor's mailbox as an ask instead.
    RT_WORKERS_MAX + 3 + this stays under RT_LMDB_READERS_MAX. */
#define RT_READERS_MAX          48u

/*  HTTP threads per node (civetweb: one thread per connection for as
    long as it is kept alive). A client past this many busy keep-alive
    connections waits for a thread, and so do the probes and /metrics:
    the default leaves room beside the 64 connections the benchmarks
    use. Idle threads cost a stack mapping, not CPU; readers of the store
    are pooled (RT_READERS_MAX), not per thread. cluster.toml:
    http.threads. */
#define RT_HTTP_THREADS_DEFAULT 128u
#define RT_HTTP_THREADS_MAX     4096u

/* ---- Cluster transport ------------------------------------------------ */

/*  Frames queued from any thread to the transport thread, and per peer
    socket: past either the send fails at once with RT_EOVERLOADED rather
    than blocking a worker or an edge thread. */
#define RT_TRANSPORT_QUEUE_MAX  65536
#define RT_PEER_QUEUE_MAX       65536

/*  Asks waiting for a peer's answer (a power of two: slots by corr id).
    Beyond it new remote asks are refused (RT_EOVERLOADED). */
#define RT_REMOTE_ASKS_MAX      65536u

/*  How often the transport thread looks through those slots for asks past
    their deadline. The asker waits with its own deadline, so the look
    only frees slots (and answers a late asker); looking after every
    wake-up cost 13 % of a 3-node cluster's CPU (65536 slots, thousands of
    wake-ups a second). A peer going down still fails its asks at once. */
#define RT_REMOTE_SWEEP_MS      100

/*  Heartbeat period; a peer silent for cluster.peer_down_ms (default
    below) is down: its shards answer 503 at once. */
#define RT_HEARTBEAT_MS         250
#define RT_PEER_DOWN_MS_DEFAULT 2000u

/* ---- Shard handoff ---------------------------------------------------- */

/*  Bytes of shard data in one handoff chunk (one ZeroMQ frame, one commit
    on the receiver). Big enough that a typical shard (a few MB at a
    million entities over 256 shards) goes in a handful of frames, small
    enough that one chunk's commit never holds the receiver's committer
    for long. A single entry larger than this travels alone. */
#define RT_HANDOFF_CHUNK_BYTES  (256u * 1024)

/*  Chunks sent and not yet committed by the receiver, over all the shards
    one node is handing off: the bytes in flight are at most this times
    RT_HANDOFF_CHUNK_BYTES (16 MB). */
#define RT_HANDOFF_WINDOW       64u

/*  Shards fenced together (one pass over each worker's actors, one wait
    for the committer): they stream one after another, each finishing on
    its own. Fewer would mean more fence passes; more, a longer wait for
    the last shard of the group. */
#define RT_HANDOFF_GROUP        16u

/*  A receiver that has not answered a chunk for this long is taken as
    gone: the shard's handoff starts over (from its first chunk) later. */
#define RT_HANDOFF_ACK_TIMEOUT_MS 5000

/*  Messages for shards on the move wait in a waiting room until the move
    ends; past this many (all shards together) new ones are refused with
    RT_EUNAVAILABLE (503 + Retry-After), and no message waits longer than
    RT_HANDOFF_WAIT_MS (nor past its own deadline). A move that takes
    longer is the exception the 503 covers. */
#define RT_HANDOFF_WAITING_MAX  65536u
#define RT_HANDOFF_WAIT_MS      2000

/*  Membership reloads one process takes (each keeps the placement table
    it replaced, a few hundred bytes, until the process ends); past it the
    node must be restarted to take another. */
#define RT_RELOADS_MAX          256u

/* ---- Redis (optional, soft state) ------------------------------------ */

/*  Connections per node: calls borrow one, so this bounds both Redis's
    client count and the calls in flight; a caller that finds none free
    within the timeout falls back to node-local state. */
#define RT_REDIS_POOL_MAX       16u

/*  Connect and per-command timeout. Redis answers in well under a
    millisecond on a healthy network; past this it is treated as down
    rather than let a request wait on a cache. */
#define RT_REDIS_TIMEOUT_MS     250

/*  After a failure, calls go node-local at once for this long before the
    next attempt: an outage costs one timeout, not one per request. */
#define RT_REDIS_RETRY_MS       1000

/*  Keys one scan returns (a catch-up read of the revoked-session set);
    matches the node-local map it fills. */
#define RT_REDIS_SCAN_MAX       100000u

/*  Bytes of one published message read by the subscriber. */
#define RT_REDIS_MESSAGE_MAX    512u

/* ---- Config ---------------------------------------------------------- */

/*  Nodes in one cluster.toml. Rendezvous placement is O(nodes) per shard. */
#define RT_NODES_MAX            64u

/*  Worker threads per node. cluster.toml: runtime.workers (0 = cores). */
#define RT_WORKERS_MAX          64u

/*  cluster.toml file size: config, not data. */
#define RT_CONFIG_MAX_BYTES     (1u << 20)

#endif
