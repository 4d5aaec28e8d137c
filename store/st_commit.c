/*  =========================================================================
    st_commit.c - records and the group-commit thread
    =========================================================================
*/
#define _GNU_SOURCE             /* pthread_setname_np */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/uio.h>

#include "st_commit.h"
#include "st_keys.h"
#include "st_ops.h"
#include "runtime/rt_error.h"
#include "runtime/rt_limits.h"
#include "runtime/rt_time.h"

#define ST_VALUE_MAX (RT_STATE_MAX_BYTES + RT_BODY_MAX_BYTES + 4096)

struct st_record {
    uint8_t *buf;
    size_t   len, cap;
    size_t   ops;
    /* set by submit */
    st_record_t *next;
    st_done_fn  *done;
    void        *arg;
    uint64_t     seq;
};

struct st_committer {
    st_store_t     *store;
    pthread_t       thread;
    pthread_mutex_t lock;
    pthread_cond_t  not_empty;
    pthread_cond_t  not_full;
    pthread_cond_t  durable_cv;
    st_record_t    *head, *tail;
    uint32_t        depth;
    uint32_t        queue_max;
    uint32_t        batch_max;
    struct iovec   *iov;        /* batch_max entries: one batch's buffers */
    uint64_t        next_seq;
    uint64_t        durable;    /* atomic reads without the lock */
    int             failed;     /* sticky: first batch error (atomic) */
    bool            stopping;
    void          (*after_batch) (void *arg);
    void           *after_arg;
    st_commit_stats_t stats;
};

/* ---- records ----------------------------------------------------------- */

st_record_t *
st_record_new (void)
{
    return calloc (1, sizeof (st_record_t));
}

void
st_record_destroy (st_record_t **p)
{
    if (!p || !*p)
        return;
    free ((*p)->buf);
    free (*p);
    *p = NULL;
}

bool
st_record_empty (const st_record_t *self)
{
    return self->ops == 0;
}

size_t
st_record_ops (const st_record_t *self)
{
    return self->ops;
}

static int
s_append (st_record_t *self, uint8_t op, const void *k, size_t klen,
          const void *v, size_t vlen)
{
    if (klen > ST_KEY_MAX + 8 || vlen > ST_VALUE_MAX)
        return RT_ETOOBIG;
    size_t need = self->len + ST_OP_HEADER + klen + vlen;
    if (need > self->cap) {
        size_t cap = self->cap ? self->cap : 256;
        while (cap < need)
            cap *= 2;
        uint8_t *buf = realloc (self->buf, cap);
        if (!buf)
            return RT_ENOMEM;
        self->buf = buf;
        self->cap = cap;
    }
    uint8_t *p = self->buf + self->len;
    p[0] = op;
    st_put_u16 (p + 1, (uint16_t) klen);
    st_put_u32 (p + 3, (uint32_t) vlen);
    memcpy (p + ST_OP_HEADER, k, klen);
    if (vlen)
        memcpy (p + ST_OP_HEADER + klen, v, vlen);
    self->len = need;
    self->ops++;
    return 0;
}

int
st_record_put (st_record_t *self, const void *key, size_t klen,
               const void *val, size_t vlen)
{
    return s_append (self, ST_OP_PUT, key, klen, val, vlen);
}

int
st_record_put_max (st_record_t *self, const void *key, size_t klen, uint64_t value)
{
    uint8_t v[8];
    st_put_u64 (v, value);
    return s_append (self, ST_OP_PUT_MAX, key, klen, v, 8);
}

int
st_record_del (st_record_t *self, const void *key, size_t klen)
{
    return s_append (self, ST_OP_DEL, key, klen, NULL, 0);
}

int
st_record_del_if (st_record_t *self, const void *key, size_t klen,
                  uint32_t offset, const void *expect, size_t len)
{
    uint8_t v[4 + 64];
    if (len > sizeof v - 4)
        return RT_ETOOBIG;
    st_put_u32 (v, offset);
    memcpy (v + 4, expect, len);
    return s_append (self, ST_OP_DEL_IF, key, klen, v, 4 + len);
}

int
st_record_del_range (st_record_t *self, const void *lo, size_t lolen,
                     const void *hi, size_t hilen)
{
    return s_append (self, ST_OP_DEL_RANGE, lo, lolen, hi, hilen);
}

/*  Reminder ops carry key = [shard:2][who][name] (the 'r' key minus its
    kind byte), val = [due:8][payload]. */
static int
s_remind_key (uint8_t *k, size_t *klen, uint32_t shard, const void *who,
              size_t wholen, const char *name, size_t namelen)
{
    if (namelen == 0 || namelen > RT_REMINDER_NAME_MAX || wholen > 3 + RT_KEY_MAX)
        return RT_EINVAL;
    st_put_u16 (k, (uint16_t) shard);
    memcpy (k + 2, who, wholen);
    memcpy (k + 2 + wholen, name, namelen);
    *klen = 2 + wholen + namelen;
    return 0;
}

int
st_record_remind_set (st_record_t *self, uint32_t shard, const void *who,
                      size_t wholen, const char *name, size_t namelen,
                      uint64_t due_ms, const void *payload, size_t plen)
{
    uint8_t k[ST_KEY_MAX];
    size_t klen;
    int rc = s_remind_key (k, &klen, shard, who, wholen, name, namelen);
    if (rc)
        return rc;
    if (plen > RT_BODY_MAX_BYTES)
        return RT_ETOOBIG;
    uint8_t *v = malloc (8 + plen);
    if (!v)
        return RT_ENOMEM;
    st_put_u64 (v, due_ms);
    if (plen)
        memcpy (v + 8, payload, plen);
    rc = s_append (self, ST_OP_REMIND_SET, k, klen, v, 8 + plen);
    free (v);
    return rc;
}

int
st_record_remind_cancel (st_record_t *self, uint32_t shard, const void *who,
                         size_t wholen, const char *name, size_t namelen)
{
    uint8_t k[ST_KEY_MAX];
    size_t klen;
    int rc = s_remind_key (k, &klen, shard, who, wholen, name, namelen);
    return rc ? rc : s_append (self, ST_OP_REMIND_CANCEL, k, klen, NULL, 0);
}

int
st_record_remind_fired (st_record_t *self, const void *rkey, size_t rklen)
{
    if (rklen < 3 + 8 + 3)
        return RT_EINVAL;
    return s_append (self, ST_OP_REMIND_FIRED, rkey, rklen, NULL, 0);
}

/* ---- the committer thread ---------------------------------------------- */

static uint64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/*  The batch's op buffers, in order, as one write of the store: applied,
    logged and synced, committed (st_store_write). */
static int
s_commit_batch (st_committer_t *self, st_record_t *batch, size_t *ops)
{
    int n = 0;
    *ops = 0;
    for (st_record_t *r = batch; r; r = r->next) {
        if (!r->ops)
            continue;
        self->iov[n++] = (struct iovec) { r->buf, r->len };
        *ops += r->ops;
    }
    return n ? st_store_write (self->store, self->iov, n) : 0;
}

static void *
s_committer_main (void *arg)
{
    st_committer_t *self = arg;
    for (;;) {
        pthread_mutex_lock (&self->lock);
        while (!self->head && !self->stopping)
            pthread_cond_wait (&self->not_empty, &self->lock);
        if (!self->head) {
            pthread_mutex_unlock (&self->lock);
            break;
        }
        /*  Take up to batch_max records: everything that queued while the
            previous fsync ran is one transaction now. */
        st_record_t *batch = self->head, *last = batch;
        uint32_t n = 1;
        size_t bytes = batch->len;
        while (last->next && n < self->batch_max && bytes < RT_COMMIT_BATCH_BYTES) {
            last = last->next;
            bytes += last->len;
            n++;
        }
        self->head = last->next;
        if (!self->head)
            self->tail = NULL;
        last->next = NULL;
        self->depth -= n;
        pthread_cond_broadcast (&self->not_full);
        pthread_mutex_unlock (&self->lock);

        uint64_t t0 = s_now_ns ();
        size_t ops = 0;
        int err = __atomic_load_n (&self->failed, __ATOMIC_ACQUIRE);
        if (!err)
            err = s_commit_batch (self, batch, &ops);
        if (err)
            __atomic_store_n (&self->failed, err, __ATOMIC_RELEASE);
        uint64_t dt = s_now_ns () - t0;

        pthread_mutex_lock (&self->lock);
        self->stats.batches++;
        self->stats.records += n;
        self->stats.ops += ops;
        self->stats.commit_ns_total += dt;
        rt_hist_add (&self->stats.batch_records, n);
        rt_hist_add (&self->stats.commit_us, dt / 1000);
        if (dt > self->stats.commit_ns_max)
            self->stats.commit_ns_max = dt;
        if (err)
            self->stats.failed_batches++;
        else
            __atomic_store_n (&self->durable, last->seq, __ATOMIC_RELEASE);
        pthread_cond_broadcast (&self->durable_cv);
        pthread_mutex_unlock (&self->lock);

        /*  Callbacks run in submission order, after the lock is dropped:
            they hand replies to other threads' queues. */
        while (batch) {
            st_record_t *next = batch->next;
            if (batch->done)
                batch->done (batch->arg, batch->seq, err);
            st_record_destroy (&batch);
            batch = next;
        }
        if (self->after_batch)
            self->after_batch (self->after_arg);
    }
    return NULL;
}

void
st_committer_after_batch (st_committer_t *self, void (*fn) (void *arg), void *arg)
{
    self->after_batch = fn;
    self->after_arg = arg;
}

bool
st_committer_is_current (st_committer_t *self)
{
    return pthread_equal (self->thread, pthread_self ());
}

st_committer_t *
st_committer_new (st_store_t *store, const st_commit_options_t *opts)
{
    st_committer_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->queue_max = opts && opts->queue_max ? opts->queue_max : RT_COMMIT_QUEUE_MAX;
    self->batch_max = opts && opts->batch_max ? opts->batch_max : RT_COMMIT_BATCH_MAX;
    self->next_seq = 1;
    self->iov = calloc (self->batch_max, sizeof *self->iov);
    if (!self->iov) {
        free (self);
        return NULL;
    }
    /*  Batch sizes up to RT_COMMIT_BATCH_MAX; commit times from a page-cache
        write (~100 µs) to a stalled disk (1 s). */
    static const uint64_t records[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096 };
    static const uint64_t us[] = { 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000,
                                   100000, 250000, 1000000 };
    rt_hist_init (&self->stats.batch_records, records, sizeof records / sizeof *records);
    rt_hist_init (&self->stats.commit_us, us, sizeof us / sizeof *us);
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->not_empty, NULL);
    pthread_cond_init (&self->not_full, NULL);
    pthread_cond_init (&self->durable_cv, NULL);
    if (pthread_create (&self->thread, NULL, s_committer_main, self)) {
        free (self->iov);
        free (self);
        return NULL;
    }
    pthread_setname_np (self->thread, "pasar-commit");
    return self;
}

void
st_committer_destroy (st_committer_t **p)
{
    if (!p || !*p)
        return;
    st_committer_t *self = *p;
    pthread_mutex_lock (&self->lock);
    self->stopping = true;
    pthread_cond_broadcast (&self->not_empty);
    pthread_cond_broadcast (&self->not_full);
    pthread_mutex_unlock (&self->lock);
    pthread_join (self->thread, NULL);
    pthread_mutex_destroy (&self->lock);
    pthread_cond_destroy (&self->not_empty);
    pthread_cond_destroy (&self->not_full);
    pthread_cond_destroy (&self->durable_cv);
    free (self->iov);
    free (self);
    *p = NULL;
}

uint64_t
st_committer_submit (st_committer_t *self, st_record_t **rec, st_done_fn *done, void *arg)
{
    st_record_t *r = *rec;
    *rec = NULL;
    r->done = done;
    r->arg = arg;
    r->next = NULL;
    pthread_mutex_lock (&self->lock);
    while (self->depth >= self->queue_max && !self->stopping)
        pthread_cond_wait (&self->not_full, &self->lock);
    if (self->stopping) {
        pthread_mutex_unlock (&self->lock);
        if (done)
            done (arg, 0, RT_ESTOPPED);
        st_record_destroy (&r);
        return 0;
    }
    r->seq = self->next_seq++;
    if (self->tail)
        self->tail->next = r;
    else
        self->head = r;
    self->tail = r;
    self->depth++;
    uint64_t seq = r->seq;
    pthread_mutex_unlock (&self->lock);
    pthread_cond_signal (&self->not_empty);   /* after unlocking: the committer does not wake to wait on the lock */
    return seq;
}

uint64_t
st_committer_durable (st_committer_t *self)
{
    return __atomic_load_n (&self->durable, __ATOMIC_ACQUIRE);
}

uint64_t
st_committer_submitted (st_committer_t *self)
{
    pthread_mutex_lock (&self->lock);
    uint64_t seq = self->next_seq - 1;
    pthread_mutex_unlock (&self->lock);
    return seq;
}

bool
st_committer_wait (st_committer_t *self, uint64_t seq, int timeout_ms)
{
    if (st_committer_durable (self) >= seq)
        return true;
    struct timespec deadline = rt_deadline_in (timeout_ms >= 0 ? timeout_ms : 0);
    pthread_mutex_lock (&self->lock);
    int rc = 0;
    while (self->durable < seq && !self->failed && rc == 0) {
        if (timeout_ms < 0)
            pthread_cond_wait (&self->durable_cv, &self->lock);
        else
            rc = pthread_cond_timedwait (&self->durable_cv, &self->lock, &deadline);
    }
    bool ok = self->durable >= seq;
    pthread_mutex_unlock (&self->lock);
    return ok;
}

int
st_committer_failed (st_committer_t *self)
{
    return __atomic_load_n (&self->failed, __ATOMIC_ACQUIRE);
}

void
st_committer_stats (st_committer_t *self, st_commit_stats_t *out)
{
    pthread_mutex_lock (&self->lock);
    *out = self->stats;
    st_store_stats_t ss;
    st_store_stats (self->store, &ss);
    out->map_grows = ss.map_grows;
    out->queue_depth = self->depth;
    pthread_mutex_unlock (&self->lock);
}
