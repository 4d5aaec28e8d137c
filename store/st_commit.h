/*  =========================================================================
    st_commit.h - records and the committer thread (group commit)

    A record is everything one actor turn makes durable: state puts,
    idempotency records, outbox entries, dedup marks, reminder changes.
    Workers build records and submit them; the committer thread takes all
    that are queued (up to RT_COMMIT_BATCH_MAX), applies them in one LMDB
    write transaction, commits (one fsync for the whole batch), and only
    then calls each record's done callback, in submission order. That
    callback is where the runtime releases the turn's replies and messages:
    nothing a turn says is seen before what it did is on disk.

    Sequence numbers are assigned at submit, in order; st_committer_durable
    is the highest sequence whose record is on disk (all earlier ones are
    too). A failed batch fails every record in it (done gets an error), and
    the committer stays failed: every later record fails too. Actors may
    have run further turns on the state the failed batch did not keep, and
    a later commit of theirs would make effects durable that callers were
    told had failed; the only safe way on is a restart from what is on disk
    (fail-stop). st_committer_failed tells the node to do that.
    =========================================================================
*/
#ifndef ST_COMMIT_H_INCLUDED
#define ST_COMMIT_H_INCLUDED

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "st_store.h"
#include "runtime/rt_hist.h"

typedef struct st_record st_record_t;
typedef struct st_committer st_committer_t;

/*  Called on the committer thread once the record is durable (err 0) or
    failed (err an rt_err_t). Must not block for long: it delays the next
    batch. */
typedef void (st_done_fn) (void *arg, uint64_t seq, int err);

/* ---- records ---------------------------------------------------------- */

st_record_t *st_record_new (void);
void st_record_destroy (st_record_t **p);
bool st_record_empty (const st_record_t *self);
size_t st_record_ops (const st_record_t *self);

/*  Each op copies its arguments. Returns 0, RT_ETOOBIG (key over
    ST_KEY_MAX, value over RT_STATE_MAX_BYTES + 4 KiB) or RT_ENOMEM. */
int st_record_put (st_record_t *self, const void *key, size_t klen,
                   const void *val, size_t vlen);
int st_record_del (st_record_t *self, const void *key, size_t klen);
/*  Store value (8 bytes, big-endian) unless the key already holds a
    larger one: for high-water marks that records of several workers
    raise, and may commit out of order. */
int st_record_put_max (st_record_t *self, const void *key, size_t klen, uint64_t value);
/*  Delete key only if, when the record commits, its value holds the len
    bytes of expect at offset (absent or different: kept). For deletions
    decided on a snapshot that a later commit may have overtaken. */
int st_record_del_if (st_record_t *self, const void *key, size_t klen,
                      uint32_t offset, const void *expect, size_t len);
/*  Delete every key in [lo, hi). */
int st_record_del_range (st_record_t *self, const void *lo, size_t lolen,
                         const void *hi, size_t hilen);

/*  Reminders of one actor, named: setting a name again moves it (the old
    due entry is removed in the same transaction), cancelling an unknown
    name is a no-op. who = [type:2][klen:1][key] (st_key_actor's part). */
int st_record_remind_set (st_record_t *self, uint32_t shard,
                          const void *who, size_t wholen,
                          const char *name, size_t namelen, uint64_t due_ms,
                          const void *payload, size_t plen);
int st_record_remind_cancel (st_record_t *self, uint32_t shard,
                             const void *who, size_t wholen,
                             const char *name, size_t namelen);
/*  A fired reminder (its 'R' key as scanned) was handled: delete it, and
    its by-name entry unless that now points at a newer due time. */
int st_record_remind_fired (st_record_t *self, const void *rkey, size_t rklen);

/* ---- committer ------------------------------------------------------- */

typedef struct {
    uint32_t queue_max;         /* records waiting; submit blocks beyond */
    uint32_t batch_max;         /* records per transaction; 1 = no group commit */
} st_commit_options_t;

typedef struct {
    uint64_t batches;
    uint64_t records;
    uint64_t ops;
    uint64_t failed_batches;
    uint64_t map_grows;
    uint64_t commit_ns_total;   /* time in apply + commit (fsync) */
    uint64_t commit_ns_max;
    uint32_t queue_depth;
    rt_hist_t batch_records;    /* records per batch */
    rt_hist_t commit_us;        /* apply + commit (fsync) per batch, µs */
} st_commit_stats_t;

st_committer_t *st_committer_new (st_store_t *store, const st_commit_options_t *opts);

/*  Drain every submitted record, stop the thread, free; no-op on NULL. */
void st_committer_destroy (st_committer_t **p);

/*  Queue *rec (taken: *rec is set to NULL) with its done callback. Blocks
    while the queue is full (back-pressure from the disk). Returns the
    record's sequence number (>= 1), or 0 if the committer is stopping (the
    record is then destroyed and done is called with RT_ESTOPPED). */
uint64_t st_committer_submit (st_committer_t *self, st_record_t **rec,
                              st_done_fn *done, void *arg);

/*  fn (arg) runs on the committer thread after each batch's done
    callbacks. For wake-ups those callbacks can defer: one per batch
    instead of one per record, each of which preempted the committer (a
    transfer's outbox entry woke the pump once per record). Set before the
    first submit. */
void st_committer_after_batch (st_committer_t *self, void (*fn) (void *arg), void *arg);

/*  True on the committer thread, i.e. inside a done callback. */
bool st_committer_is_current (st_committer_t *self);

/*  Highest sequence number that is durable. */
uint64_t st_committer_durable (st_committer_t *self);

/*  Highest sequence number handed out. */
uint64_t st_committer_submitted (st_committer_t *self);

/*  Block until st_committer_durable >= seq, the committer failed, or
    timeout_ms passed (-1 = forever). Returns true when durable. Done
    callbacks of the batch may still be running when it returns. */
bool st_committer_wait (st_committer_t *self, uint64_t seq, int timeout_ms);

void st_committer_stats (st_committer_t *self, st_commit_stats_t *out);

/*  0 while healthy; the error of the first failed batch after that. */
int st_committer_failed (st_committer_t *self);

#endif
