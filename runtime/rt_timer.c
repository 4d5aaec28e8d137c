/*  =========================================================================
    rt_timer.c - durable reminders, and expiry of idempotency records

    Reminders live in LMDB per shard, ordered by due time ('R' keys). The
    timer keeps only each shard's earliest due time in memory; when it
    passes, it scans that shard's due entries (at most RT_REMINDER_SCAN_MAX
    per scan) and sends each to its actor as a message. The actor's turn
    deletes the entry in its own commit, so a reminder's effect happens
    with its deletion; one that was sent but not handled (actor killed,
    node crashed) fires again after RT_REMINDER_REFIRE_MS. After a restart
    the per-shard earliest times are read again, so nothing is missed.
    =========================================================================
*/
#include <stdlib.h>
#include <string.h>
#include "rt_internal.h"
#include "rt_bg.h"

struct rt_timer {
    rt_runtime_t   *rt;
    rt_bg_t         bg;             /* bg.lock guards next_due, inflight */
    int64_t        *next_due;       /* per shard; INT64_MAX = none */
    rt_kv_t        *inflight;       /* fired rkeys -> fire time (as seq) */
    st_reader_t    *reader;
    int64_t         next_sweep_ms;
};

typedef struct {
    rt_timer_t *self;
    int64_t now;
    rt_imsg_t *fire;                /* collected, sent after the scan */
    int64_t next;                   /* earliest due not fired */
    size_t skipped;
} scan_t;

/*  [shard:2][R][due:8][type:2][klen:1][key][name] */
static int
s_collect (void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    scan_t *sc = arg;
    const uint8_t *k = key;
    if (klen < 3 + 8 + 3 || vlen < 2)
        return 0;
    int64_t due = (int64_t) st_get_u64 (k + 3);
    if (due > sc->now) {
        sc->next = due;
        return 1;
    }
    size_t alen = k[13];
    rt_addr_t to;
    if (klen < 14 + alen || rt_addr_set (&to, st_get_u16 (k + 11), (const char *) k + 14, alen))
        return 0;               /* not ours to interpret; leave it */
    uint64_t fired_at;
    size_t dummy;
    pthread_mutex_lock (&sc->self->bg.lock);
    bool busy = rt_kv_get (sc->self->inflight, key, klen, &dummy, &fired_at)
                && (int64_t) fired_at + RT_REMINDER_REFIRE_MS > sc->now;
    if (!busy)
        rt_kv_put (sc->self->inflight, key, klen, "", 0, (uint64_t) sc->now);
    pthread_mutex_unlock (&sc->self->bg.lock);
    if (busy) {
        sc->skipped++;
        return 0;
    }
    const uint8_t *v = val;
    rt_imsg_t *m = rt_imsg_new (&to, st_get_u16 (v), v + 2, vlen - 2, 0, 0, klen, false);
    if (!m)
        return 0;
    m->flags |= RT_MF_REMINDER;
    memcpy (m->rkey, key, klen);
    m->next = sc->fire;
    sc->fire = m;
    return 0;
}

static void
s_fire_shard (rt_timer_t *self, uint32_t shard, int64_t now)
{
    scan_t sc = { .self = self, .now = now, .next = INT64_MAX };
    st_key_t lo, hi;
    st_key_begin (&lo, shard, ST_KIND_REMINDER);
    st_key_begin (&hi, shard, ST_KIND_REMINDER + 1);
    int visited = 0;
    if (st_reader_begin (self->reader) == 0) {
        visited = st_reader_scan (self->reader, lo.b, lo.len, hi.b, hi.len,
                                  RT_REMINDER_SCAN_MAX, s_collect, &sc);
        st_reader_end (self->reader);
    }
    int64_t next = sc.next;
    if (visited >= (int) RT_REMINDER_SCAN_MAX && next == INT64_MAX)
        next = now;                     /* more due: scan again at once */
    if (sc.skipped && next > now + 1000)
        next = now + 1000;              /* look at in-flight ones again */
    pthread_mutex_lock (&self->bg.lock);
    /*  A reminder set meanwhile may have lowered it: keep the lower. */
    if (self->next_due[shard] <= now || next < self->next_due[shard])
        self->next_due[shard] = next;
    pthread_mutex_unlock (&self->bg.lock);
    while (sc.fire) {
        rt_imsg_t *m = sc.fire;
        sc.fire = m->next;
        atomic_fetch_add (&self->rt->reminders_fired, 1);
        rt_deliver (self->rt, m);
    }
}

/* ---- idempotency expiry --------------------------------------------------- */

typedef struct {
    st_record_t *rec;
    uint32_t shard;
    size_t n;
} sweep_t;

/*  E key: [shard][E][expires:8][type][klen][key][digest]; its I key is
    [shard][I][type][klen][key][digest]. The I record goes only if it
    still carries this expiry when the sweep commits: the key may have
    been used again since, even after this snapshot, and that newer
    record must stay. */
static int
s_expire (void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void) val;
    (void) vlen;
    sweep_t *sw = arg;
    const uint8_t *k = key;
    if (klen < 3 + 8 + 1)
        return 0;
    st_key_t ik;
    st_key_begin (&ik, sw->shard, ST_KIND_IDEM);
    st_key_bytes (&ik, k + 11, klen - 11);
    st_record_del_if (sw->rec, ik.b, ik.len, RT_FINGERPRINT_BYTES + 5, k + 3, 8);
    st_record_del (sw->rec, key, klen);
    sw->n++;
    return sw->n >= RT_IDEM_SWEEP_MAX;
}

/*  At least twice per retention period, so a record outlives its expiry
    by at most half of it (a short retention would otherwise keep records
    for many times its length). */
static int64_t
s_sweep_interval_ms (rt_timer_t *self)
{
    int64_t half = (int64_t) self->rt->opts.idem_retention_s * 500;
    return half < RT_IDEM_SWEEP_INTERVAL_MS ? half : RT_IDEM_SWEEP_INTERVAL_MS;
}

static void
s_sweep_idem (rt_timer_t *self, int64_t now)
{
    sweep_t sw = { .rec = st_record_new () };
    if (!sw.rec)
        return;
    if (st_reader_begin (self->reader) == 0) {
        for (uint32_t s = 0; s < self->rt->opts.shards && sw.n < RT_IDEM_SWEEP_MAX; s++) {
            st_key_t lo, hi;
            sw.shard = s;
            st_key_begin (&lo, s, ST_KIND_IDEM_EXP);
            st_key_begin (&hi, s, ST_KIND_IDEM_EXP);
            st_key_u64 (&hi, (uint64_t) now);
            st_reader_scan (self->reader, lo.b, lo.len, hi.b, hi.len,
                            RT_IDEM_SWEEP_MAX - sw.n, s_expire, &sw);
        }
        st_reader_end (self->reader);
    }
    if (st_record_empty (sw.rec))
        st_record_destroy (&sw.rec);
    else
        st_committer_submit (self->rt->committer, &sw.rec, NULL, NULL);
}

/* ---- the thread -------------------------------------------------------- */

static void *
s_timer_main (void *arg)
{
    rt_timer_t *self = arg;
    uint32_t shards = self->rt->opts.shards;
    pthread_mutex_lock (&self->bg.lock);
    while (!self->bg.stop) {
        int64_t now = rt_now_ms ();
        int64_t min = INT64_MAX;
        for (uint32_t s = 0; s < shards; s++) {
            if (self->next_due[s] <= now) {
                pthread_mutex_unlock (&self->bg.lock);
                s_fire_shard (self, s, now);
                pthread_mutex_lock (&self->bg.lock);
            }
            if (self->next_due[s] < min)
                min = self->next_due[s];
        }
        if (now >= self->next_sweep_ms) {
            pthread_mutex_unlock (&self->bg.lock);
            s_sweep_idem (self, now);
            pthread_mutex_lock (&self->bg.lock);
            self->next_sweep_ms = now + s_sweep_interval_ms (self);
        }
        /*  In-flight marks older than the refire time are stale. */
        rt_kv_prune (self->inflight, (uint64_t) (now - RT_REMINDER_REFIRE_MS));
        int64_t wait_ms = min == INT64_MAX ? 1000 : min - rt_now_ms ();
        rt_bg_wait (&self->bg, wait_ms > 1000 ? 1000 : wait_ms);
    }
    pthread_mutex_unlock (&self->bg.lock);
    return NULL;
}

static int
s_first_due (void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void) val;
    (void) vlen;
    if (klen >= 11)
        *(int64_t *) arg = (int64_t) st_get_u64 ((const uint8_t *) key + 3);
    return 1;
}

rt_timer_t *
rt_timer_new (rt_runtime_t *rt)
{
    rt_timer_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->rt = rt;
    self->next_due = malloc (rt->opts.shards * sizeof *self->next_due);
    self->inflight = rt_kv_new ();
    self->reader = st_reader_new (rt->store);
    rt_bg_init (&self->bg);
    if (!self->next_due || !self->inflight || !self->reader) {
        rt_timer_destroy (&self);
        return NULL;
    }
    /*  Each shard's earliest reminder, from disk: this is what makes
        reminders survive a restart. */
    st_reader_begin (self->reader);
    for (uint32_t s = 0; s < rt->opts.shards; s++) {
        st_key_t lo, hi;
        st_key_begin (&lo, s, ST_KIND_REMINDER);
        st_key_begin (&hi, s, ST_KIND_REMINDER + 1);
        self->next_due[s] = INT64_MAX;
        st_reader_scan (self->reader, lo.b, lo.len, hi.b, hi.len, 1, s_first_due,
                        &self->next_due[s]);
    }
    st_reader_end (self->reader);
    self->next_sweep_ms = rt_now_ms () + 1000;
    return self;
}

int
rt_timer_start (rt_timer_t *self)
{
    return rt_bg_start (&self->bg, s_timer_main, self, "pasar-timer");
}

void
rt_timer_stop (rt_timer_t *self)
{
    rt_bg_stop (&self->bg);
}

void
rt_timer_destroy (rt_timer_t **p)
{
    if (!p || !*p)
        return;
    rt_timer_t *self = *p;
    rt_bg_fini (&self->bg);
    free (self->next_due);
    rt_kv_destroy (&self->inflight);
    st_reader_destroy (&self->reader);
    free (self);
    *p = NULL;
}

void
rt_timer_scheduled (rt_timer_t *self, uint32_t shard, int64_t due_ms)
{
    pthread_mutex_lock (&self->bg.lock);
    if (shard < self->rt->opts.shards && due_ms < self->next_due[shard]) {
        self->next_due[shard] = due_ms;
        pthread_cond_signal (&self->bg.cv);
    }
    pthread_mutex_unlock (&self->bg.lock);
}

void
rt_timer_adopt_shard (rt_timer_t *self, uint32_t shard)
{
    st_reader_t *r = st_reader_new (self->rt->store);
    int64_t due = INT64_MAX;
    if (r && st_reader_begin (r) == 0) {
        st_key_t lo, hi;
        st_key_begin (&lo, shard, ST_KIND_REMINDER);
        st_key_begin (&hi, shard, ST_KIND_REMINDER + 1);
        st_reader_scan (r, lo.b, lo.len, hi.b, hi.len, 1, s_first_due, &due);
        st_reader_end (r);
    }
    st_reader_destroy (&r);
    if (due != INT64_MAX)
        rt_timer_scheduled (self, shard, due);
}

void
rt_timer_done (rt_timer_t *self, const uint8_t *rkey, size_t rklen)
{
    pthread_mutex_lock (&self->bg.lock);
    rt_kv_del (self->inflight, rkey, rklen);
    pthread_mutex_unlock (&self->bg.lock);
}
