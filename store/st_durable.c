/*  =========================================================================
    st_durable.c - the logged write path, replay and base copies

    Why LMDB may be written without syncing it (docs/storage.md):
    - A batch is answered only after its log frame is fdatasynced; the
      frame holds exactly the ops applied, so replaying it redoes the batch.
    - The frame's number is committed in the same LMDB transaction as its
      ops, so a data.mdb that is whole says exactly which frames it lacks.
    - A killed process leaves every commit in the page cache: data.mdb is
      whole on restart. Only a power failure or a kernel crash can leave it
      torn; the boot marker (st_base.h) detects that case and the store
      restarts from the base copy, whose frames the log still holds.
    - Open replays before the node serves; a crash during replay is
      recovered the same way, since replay writes nothing but frames.
    Why not sync LMDB instead: its copy-on-write B-tree rewrites every page
    a transaction touches, ~400 random pages for a batch of turns here; a
    synced commit pays for each, the log pays for one sequential append,
    and the page cache folds the rewrites of hot pages together.
    =========================================================================
*/
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "st_store_int.h"
#include "st_base.h"
#include "st_ops.h"
#include "runtime/rt_error.h"
#include "runtime/rt_limits.h"
#include "runtime/rt_time.h"

static int
s_rt_error (int rc)
{
    return rc == RT_EMALFORMED || rc == RT_EMAPFULL || rc == RT_ENOMEM ? rc : RT_ESTORE;
}

/* ---- writing ------------------------------------------------------------ */

/*  Apply bufs and the frame number in one transaction and commit it; log
    them first unless logged (a replay, or a retry after growth).
    MDB_MAP_FULL: grow and go again. Called with write_lock held; drops it
    while the map grows. */
static int
s_apply (st_store_t *self, const struct iovec *bufs, int n, uint64_t lsn, bool logged)
{
    for (;;) {
        /*  Blocks for every page the batch may take, before it touches
            one: a hole written on a full disk is a SIGBUS. */
        int rc = st_space_reserve (self, bufs, n);
        if (rc) {
            if (logged)
                st_wal_fail (self->wal);    /* as below: a logged frame LMDB lacks */
            return rc;
        }
        MDB_txn *txn = NULL;
        rc = mdb_txn_begin (self->env, NULL, 0, &txn);
        if (rc)
            txn = NULL;
        for (int i = 0; !rc && i < n; i++)
            rc = st_ops_apply (txn, self->dbi, bufs[i].iov_base, bufs[i].iov_len);
        if (!rc && !logged) {
            /*  Logged only once the ops applied cleanly: a batch that
                cannot be applied never reaches the log. */
            rc = st_wal_append (self->wal, bufs, n, &lsn);
            if (!rc && self->sync_log)
                rc = st_wal_sync (self->wal);
            if (rc) {
                mdb_txn_abort (txn);
                return RT_ESTORE;
            }
            logged = true;
            size_t bytes = 0;
            for (int i = 0; i < n; i++)
                bytes += bufs[i].iov_len;
            self->base_pending += bytes;
            pthread_mutex_lock (&self->cv_lock);
            self->stats.log_frames++;
            self->stats.log_bytes += bytes;
            pthread_mutex_unlock (&self->cv_lock);
        }
        if (!rc)
            rc = st_lsn_put (txn, self->dbi, lsn);
        if (!rc)
            rc = mdb_txn_commit (txn);
        else if (txn)
            mdb_txn_abort (txn);
        if (!rc) {
            __atomic_store_n (&self->applied, lsn, __ATOMIC_RELEASE);
            return 0;
        }
        if (rc == MDB_MAP_FULL) {
            pthread_mutex_unlock (&self->write_lock);
            rc = st_store_grow (self);
            pthread_mutex_lock (&self->write_lock);
        }
        else
            rc = s_rt_error (rc);
        /*  A frame in the log that LMDB does not hold: nothing more may be
            logged after it (a later wal_lsn would skip it on replay), and
            the batch's fate is settled by the restart, not here. */
        if (rc && logged) {
            st_wal_fail (self->wal);
            return RT_ESTORE;
        }
        if (rc)
            return rc;
        pthread_mutex_lock (&self->cv_lock);
        self->stats.map_grows++;
        pthread_mutex_unlock (&self->cv_lock);
    }
}

int
st_store_write (st_store_t *self, const struct iovec *bufs, int n)
{
    pthread_mutex_lock (&self->write_lock);
    int rc = s_apply (self, bufs, n, 0, false);
    bool due = !rc && self->base_pending >= RT_WAL_BASE_BYTES;
    pthread_mutex_unlock (&self->write_lock);
    if (due) {
        pthread_mutex_lock (&self->cv_lock);
        self->wanted = true;
        pthread_cond_signal (&self->cv);
        pthread_mutex_unlock (&self->cv_lock);
    }
    return rc;
}

/* ---- base copies ------------------------------------------------------- */

/*  The map has less than half its size free: a copy pins its snapshot,
    so LMDB reuses no page freed meanwhile, and a growth during the copy
    would have to wait for it (and block readers). */
static bool
s_tight (st_store_t *self)
{
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info (self->env, &info);
    mdb_env_stat (self->env, &st);
    return (uint64_t) (info.me_last_pgno + 1) * st.ms_psize > info.me_mapsize / 2;
}

/*  New segment first, so every older one is covered by the copy (which
    starts after it) and can go once the copy is on disk. Writes go on
    during the copy; the map is grown before it if it is tight. One copy
    at a time (base_lock). */
static int
s_base (st_store_t *self)
{
    pthread_mutex_lock (&self->base_lock);
    uint64_t t0 = rt_mono_us ();
    pthread_mutex_lock (&self->write_lock);
    int rc = 0;
    if (s_tight (self) && self->map_size < self->map_size_max && !(rc = st_store_grow (self))) {
        pthread_mutex_lock (&self->cv_lock);
        self->stats.map_grows++;
        pthread_mutex_unlock (&self->cv_lock);
    }
    if (!rc)
        rc = st_wal_rotate (self->wal);
    uint64_t pending = self->base_pending;
    pthread_mutex_unlock (&self->write_lock);
    uint64_t lsn = 0, bytes = 0;
    if (!rc) {
        pthread_rwlock_rdlock (&self->resize_lock);
        rc = st_base_take (self->env, self->dir, &lsn, &bytes);
        pthread_rwlock_unlock (&self->resize_lock);
    }
    pthread_mutex_lock (&self->cv_lock);
    if (rc) {
        self->stats.base_failures++;
        self->base_failed_ms = rt_mono_us () / 1000;
    }
    else {
        self->stats.base_copies++;
        self->stats.base_us_last = rt_mono_us () - t0;
        self->stats.base_bytes = bytes;
        self->base_lsn = lsn;
        self->base_ms = t0 / 1000;
    }
    pthread_mutex_unlock (&self->cv_lock);
    if (!rc) {
        pthread_mutex_lock (&self->write_lock);
        self->base_pending = self->base_pending >= pending ? self->base_pending - pending : 0;
        pthread_mutex_unlock (&self->write_lock);
        st_wal_trim (self->wal, lsn);
    }
    pthread_mutex_unlock (&self->base_lock);
    return rc;
}

int
st_store_base (st_store_t *self)
{
    return s_base (self);
}

/*  Every RT_STORE_TICK_MS: sync the log if batches do not (nometasync);
    take a base copy when RT_WAL_BASE_BYTES of log or RT_BASE_INTERVAL_MS
    have gone by with frames since the last one. */
static void *
s_main (void *arg)
{
    st_store_t *self = arg;
    pthread_mutex_lock (&self->cv_lock);
    while (!self->stopping) {
        if (!self->wanted) {
            struct timespec ts;
            clock_gettime (CLOCK_REALTIME, &ts);
            ts.tv_sec += RT_STORE_TICK_MS / 1000;
            ts.tv_nsec += (long) (RT_STORE_TICK_MS % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait (&self->cv, &self->cv_lock, &ts);
        }
        self->wanted = false;
        if (self->stopping)
            break;
        uint64_t now = rt_mono_us () / 1000;
        uint64_t since = now - self->base_ms;
        uint64_t base_lsn = self->base_lsn;
        /*  After a failed copy, wait RT_BASE_RETRY_MS before the next. */
        bool backoff = self->base_failed_ms && now - self->base_failed_ms < RT_BASE_RETRY_MS;
        pthread_mutex_unlock (&self->cv_lock);
        pthread_mutex_lock (&self->write_lock);
        if (!self->sync_log && !self->no_sync)
            st_wal_sync (self->wal);
        bool due = !backoff && (self->base_pending >= RT_WAL_BASE_BYTES
                                || (since >= RT_BASE_INTERVAL_MS && self->applied > base_lsn));
        pthread_mutex_unlock (&self->write_lock);
        if (due)
            s_base (self);              /* a failure is counted; tried again later */
        pthread_mutex_lock (&self->cv_lock);
    }
    pthread_mutex_unlock (&self->cv_lock);
    return NULL;
}

/* ---- open and close --------------------------------------------------- */

static int
s_replay_one (void *arg, uint64_t lsn, const uint8_t *payload, size_t len)
{
    st_store_t *self = arg;
    struct iovec v = { (void *) payload, len };
    int rc = s_apply (self, &v, 1, lsn, true);
    if (!rc) {
        self->stats.replayed_frames++;
        self->base_pending += len;
    }
    return rc;
}

static int
s_lmdb_lsn (st_store_t *self, uint64_t *lsn)
{
    MDB_txn *txn;
    if (mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn))
        return RT_ESTORE;
    *lsn = st_lsn_get (txn, self->dbi);
    mdb_txn_abort (txn);
    return 0;
}

int
st_durable_open (st_store_t *self, char *err, size_t errlen)
{
    pthread_mutex_init (&self->write_lock, NULL);
    pthread_mutex_init (&self->base_lock, NULL);
    pthread_mutex_init (&self->cv_lock, NULL);
    pthread_cond_init (&self->cv, NULL);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/wal", self->dir);
    int rc = st_wal_open (path, &self->wal, err, errlen);
    if (rc)
        return rc;
    /*  The first base copy comes before anything is written unsynced, so
        a store that may need one always has one. */
    uint64_t bytes;
    if (!st_base_exists (self->dir)
        && (rc = st_base_take (self->env, self->dir, &self->base_lsn, &bytes))) {
        snprintf (err, errlen, "store: cannot write the base copy in %s: %s", self->dir,
                  strerror (errno));
        return rc;
    }
    self->base_ms = rt_mono_us () / 1000;
    /*  From here on data.mdb is written unsynced: a power failure must
        find this run recorded as unclean. */
    if ((rc = st_boot_mark (self->dir, ST_BOOT_RUNNING))) {
        snprintf (err, errlen, "store: cannot write %s/boot: %s", self->dir, strerror (errno));
        return rc;
    }
    if (mdb_env_set_flags (self->env, MDB_NOSYNC, 1)) {
        snprintf (err, errlen, "store: cannot switch LMDB to MDB_NOSYNC");
        return RT_ESTORE;
    }
    if (s_lmdb_lsn (self, &self->applied)) {
        snprintf (err, errlen, "store: cannot read the log position from %s/data.mdb", self->dir);
        return RT_ESTORE;
    }
    /*  A restored base is only as good as the log after it. */
    if (self->restored && st_wal_segments (self->wal) == 0) {
        snprintf (err, errlen, "store: %s was restored from its base copy but wal/ is "
                  "empty: the writes after the base are missing", self->dir);
        return RT_ECORRUPT;
    }
    uint64_t last = 0;
    pthread_mutex_lock (&self->write_lock);
    rc = st_wal_replay (self->wal, self->applied, s_replay_one, self, &last, err, errlen);
    pthread_mutex_unlock (&self->write_lock);
    if (rc) {
        if (!err[0])
            snprintf (err, errlen, "store: replaying %s/wal failed: %s", self->dir,
                      rt_strerror (rc));
        return rc;
    }
    self->stats.restored = self->restored;
    if ((rc = st_wal_start (self->wal, last + 1))) {
        snprintf (err, errlen, "store: cannot start a log segment in %s/wal: %s",
                  self->dir, strerror (errno));
        return rc;
    }
    if (pthread_create (&self->thread, NULL, s_main, self)) {
        snprintf (err, errlen, "store: cannot start the base copy thread");
        return RT_ENOMEM;
    }
    pthread_setname_np (self->thread, "pasar-base");
    self->running = true;
    return 0;
}

void
st_durable_close (st_store_t *self)
{
    if (self->running) {
        pthread_mutex_lock (&self->cv_lock);
        self->stopping = true;
        pthread_cond_signal (&self->cv);
        pthread_mutex_unlock (&self->cv_lock);
        pthread_join (self->thread, NULL);
        self->running = false;
        /*  A clean close: data.mdb synced whole, so the next open (under
            any boot) may trust it. */
        st_boot_mark (self->dir, mdb_env_sync (self->env, 1) == 0 ? ST_BOOT_CLEAN
                                                                  : ST_BOOT_SUSPECT);
    }
    st_wal_destroy (&self->wal);
    pthread_cond_destroy (&self->cv);
    pthread_mutex_destroy (&self->cv_lock);
    pthread_mutex_destroy (&self->base_lock);
    pthread_mutex_destroy (&self->write_lock);
}

void
st_store_stats (st_store_t *self, st_store_stats_t *out)
{
    pthread_mutex_lock (&self->cv_lock);
    *out = self->stats;
    out->base_lsn = self->base_lsn;
    pthread_mutex_unlock (&self->cv_lock);
    out->log_segments = self->wal ? st_wal_segments (self->wal) : 0;
    if (self->wal)
        st_wal_stats (self->wal, &out->log_spares_used, &out->log_frames_unprepared);
    out->last_lsn = __atomic_load_n (&self->applied, __ATOMIC_ACQUIRE);
    out->space_reserved = st_space_reserved (self);
    out->space_low = st_store_space_low (self);
}
