/*  =========================================================================
    st_store.c - the node's LMDB environment: open, check, read, grow
    =========================================================================
*/
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <lmdb.h>

#include "st_store_int.h"
#include "st_base.h"
#include "st_keys.h"
#include "runtime/rt_error.h"
#include "runtime/rt_limits.h"

/*  Written into every store we create; a store without it is foreign. */
#define ST_FORMAT "pasar-store-1"

struct st_reader {
    st_store_t *store;
    MDB_txn    *txn;            /* reset between uses (MDB_NOTLS) */
    MDB_cursor *cursor;
    bool        open;
};

static int
s_mkdirs (const char *dir)
{
    char path[1024];
    if (strlen (dir) >= sizeof path)
        return -ENAMETOOLONG;
    strcpy (path, dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir (path, 0700) && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir (path, 0700) && errno != EEXIST)
        return -errno;
    return 0;
}

static void
s_meta_key (st_key_t *k, const char *name)
{
    st_key_begin (k, ST_NODE_SHARD, ST_KIND_META);
    st_key_bytes (k, name, strlen (name));
}

/*  Check (or, on a new environment, write) the format, node and shard
    count, so a wrong --node or an edited shard count is caught at start
    instead of silently misplacing every key. */
static int
s_check_meta (st_store_t *self, const st_options_t *opts, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc) {
        snprintf (err, errlen, "store: cannot begin: %s", mdb_strerror (rc));
        return RT_ESTORE;
    }
    struct { const char *name; char value[64]; } meta[] = {
        { "format", ST_FORMAT }, { "node", "" }, { "shards", "" },
    };
    snprintf (meta[1].value, sizeof meta[1].value, "%s", opts->node_id);
    snprintf (meta[2].value, sizeof meta[2].value, "%u", opts->shards);

    st_key_t k;
    s_meta_key (&k, "format");
    MDB_val key = { k.len, k.b }, val;
    rc = mdb_get (txn, self->dbi, &key, &val);
    if (rc == MDB_NOTFOUND) {
        MDB_stat st;
        mdb_stat (txn, self->dbi, &st);
        if (st.ms_entries > 0) {
            snprintf (err, errlen, "store: database has %zu entries but no pasar "
                      "format marker: not a pasar store", (size_t) st.ms_entries);
            rc = RT_ECORRUPT;
            goto out_abort;
        }
        for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++) {
            s_meta_key (&k, meta[i].name);
            key = (MDB_val) { k.len, k.b };
            val = (MDB_val) { strlen (meta[i].value), meta[i].value };
            if ((rc = mdb_put (txn, self->dbi, &key, &val, 0))) {
                snprintf (err, errlen, "store: cannot write meta: %s", mdb_strerror (rc));
                rc = RT_ESTORE;
                goto out_abort;
            }
        }
        if ((rc = mdb_txn_commit (txn))) {
            snprintf (err, errlen, "store: cannot commit meta: %s", mdb_strerror (rc));
            return RT_ESTORE;
        }
        return 0;
    }
    if (rc) {
        snprintf (err, errlen, "store: cannot read meta: %s", mdb_strerror (rc));
        rc = RT_ESTORE;
        goto out_abort;
    }
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++) {
        s_meta_key (&k, meta[i].name);
        key = (MDB_val) { k.len, k.b };
        rc = mdb_get (txn, self->dbi, &key, &val);
        size_t want = strlen (meta[i].value);
        if (rc || val.mv_size != want || memcmp (val.mv_data, meta[i].value, want)) {
            snprintf (err, errlen, "store: %s is '%.*s' on disk but '%s' was asked for",
                      meta[i].name, rc ? 0 : (int) val.mv_size,
                      rc ? "" : (const char *) val.mv_data, meta[i].value);
            rc = RT_ECORRUPT;
            goto out_abort;
        }
    }
    rc = 0;
out_abort:
    mdb_txn_abort (txn);
    return rc;
}

/*  The map starts at the configured size, or the file's if it grew past
    it before: with MDB_WRITEMAP, LMDB sets the file's length to the map's. */
static uint64_t
s_start_size (const char *datafile, uint64_t want)
{
    struct stat st;
    if (stat (datafile, &st) == 0 && (uint64_t) st.st_size > want)
        return (uint64_t) st.st_size;
    return want;
}

int
st_store_open (const char *dir, const st_options_t *opts, st_store_t **out,
               char *err, size_t errlen)
{
    *out = NULL;
    err[0] = 0;
    int rc = s_mkdirs (dir);
    if (rc) {
        snprintf (err, errlen, "store: cannot create %s: %s", dir, strerror (-rc));
        return rc;
    }
    /*  One process per store: two nodes started with the same id, or
        `pasar reindex` beside a running node, would each keep in-memory
        state the other's commits contradict. The lock goes with the
        process, however it ends. */
    char lock[PATH_MAX], data[PATH_MAX];
    snprintf (lock, sizeof lock, "%s/pasar.lock", dir);
    snprintf (data, sizeof data, "%s/data.mdb", dir);
    int lock_fd = open (lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0 || flock (lock_fd, LOCK_EX | LOCK_NB)) {
        snprintf (err, errlen, "store: %s is in use by another process (%s)", dir,
                  strerror (errno));
        if (lock_fd >= 0)
            close (lock_fd);
        return RT_ESTORE;
    }
    st_store_t *self = calloc (1, sizeof *self);
    if (!self) {
        close (lock_fd);
        return RT_ENOMEM;
    }
    self->lock_fd = lock_fd;
    /*  Writer preference: a steady stream of readers must not starve the
        one resize that lets the committer make progress. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init (&attr);
    pthread_rwlockattr_setkind_np (&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init (&self->resize_lock, &attr);
    pthread_rwlockattr_destroy (&attr);
    pthread_mutex_init (&self->space_lock, NULL);
    self->reserve = (uint64_t) (opts->reserve_mb ? opts->reserve_mb
                                                 : RT_STORE_RESERVE_MB_DEFAULT) << 20;
    if (strlen (dir) >= sizeof self->dir) {
        snprintf (err, errlen, "store: path too long: %s", dir);
        rc = RT_EINVAL;
        goto out_free;
    }
    strcpy (self->dir, dir);
    self->sync_log = !opts->nometasync && !opts->nosync;
    self->no_sync = opts->nosync;
    self->map_size_max = (uint64_t) (opts->map_size_max_mb ? opts->map_size_max_mb
                                                             : RT_MAP_SIZE_MAX_MB) << 20;

    /*  After a power failure (another boot, no clean close) data.mdb may
        hold any mix of pages: start from the base copy instead. */
    if (access (data, F_OK) == 0 && !st_boot_trusted (dir)) {
        if (!st_base_exists (dir)) {
            snprintf (err, errlen, "store: %s was not closed cleanly before the machine "
                      "restarted and has no base copy to recover from", dir);
            rc = RT_ECORRUPT;
            goto out_free;
        }
        if ((rc = st_base_restore (dir, err, errlen)))
            goto out_free;
        self->restored = true;
    }
    self->map_size = s_start_size (data, (uint64_t) opts->map_size_mb << 20);

    if ((rc = mdb_env_create (&self->env)))
        goto out_lmdb;
    mdb_env_set_maxdbs (self->env, 1);
    mdb_env_set_maxreaders (self->env, RT_LMDB_READERS_MAX);
    if ((rc = mdb_env_set_mapsize (self->env, self->map_size)))
        goto out_lmdb;
    /*  WRITEMAP: commits write the map in place (no page copies, no
        pwrite per page); MDB_NOSYNC is set by st_durable_open once the
        boot marker records an unclean run, since from then on the log is
        what makes a batch durable. NOTLS:
        readers are reset and renewed by whichever thread holds the
        st_reader_t. NORDAHEAD: state reads are random; readahead only
        evicts useful pages. */
    if ((rc = mdb_env_open (self->env, dir, MDB_WRITEMAP | MDB_NOTLS | MDB_NORDAHEAD, 0600))) {
        if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
            snprintf (err, errlen, "store: %s/data.mdb is not an LMDB file of this "
                      "version (%s): refusing to touch it", dir, mdb_strerror (rc));
            rc = RT_ECORRUPT;
            goto out_free;
        }
        goto out_lmdb;
    }
    mdb_reader_check (self->env, &self->stale_readers);
    st_space_init (self);

    MDB_txn *txn;
    if ((rc = mdb_txn_begin (self->env, NULL, 0, &txn)))
        goto out_lmdb;
    if ((rc = mdb_dbi_open (txn, NULL, 0, &self->dbi))) {
        mdb_txn_abort (txn);
        goto out_lmdb;
    }
    if ((rc = mdb_txn_commit (txn)))
        goto out_lmdb;
    /*  The file may be larger than we asked for (it grew before). */
    MDB_envinfo info;
    mdb_env_info (self->env, &info);
    self->map_size = info.me_mapsize;

    if ((rc = s_check_meta (self, opts, err, errlen)))
        goto out_free;
    if ((rc = st_durable_open (self, err, errlen)))
        goto out_durable;
    *out = self;
    return 0;

out_lmdb:
    snprintf (err, errlen, "store: %s: %s", dir, mdb_strerror (rc));
    rc = RT_ESTORE;
    goto out_free;
out_durable:
    st_durable_close (self);
out_free:
    if (self->env)
        mdb_env_close (self->env);
    pthread_rwlock_destroy (&self->resize_lock);
    pthread_mutex_destroy (&self->space_lock);
    close (self->lock_fd);
    free (self);
    return rc;
}

void
st_store_destroy (st_store_t **p)
{
    if (!p || !*p)
        return;
    st_store_t *self = *p;
    st_durable_close (self);
    mdb_env_close (self->env);
    pthread_rwlock_destroy (&self->resize_lock);
    pthread_mutex_destroy (&self->space_lock);
    close (self->lock_fd);
    free (self);
    *p = NULL;
}

int
st_store_stale_readers (st_store_t *self)
{
    return self->stale_readers;
}

uint64_t
st_store_map_size (st_store_t *self)
{
    return __atomic_load_n (&self->map_size, __ATOMIC_RELAXED);
}

/*  Double the map (up to its ceiling). Called by the writer with no write
    transaction open; waits for open readers (and a base copy) to end. */
int
st_store_grow (st_store_t *self)
{
    uint64_t ceiling = self->map_size_max;
    if (self->map_size >= ceiling)
        return RT_EMAPFULL;
    uint64_t next = self->map_size * 2;
    if (next > ceiling)
        next = ceiling;
    pthread_rwlock_wrlock (&self->resize_lock);
    int rc = mdb_env_set_mapsize (self->env, next);
    if (rc == 0)
        __atomic_store_n (&self->map_size, next, __ATOMIC_RELAXED);
    pthread_rwlock_unlock (&self->resize_lock);
    return rc ? RT_ESTORE : 0;
}

const char *
st_store_dir (st_store_t *self)
{
    return self->dir;
}

/* ---- readers ---------------------------------------------------------- */

st_reader_t *
st_reader_new (st_store_t *store)
{
    st_reader_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    if (mdb_txn_begin (store->env, NULL, MDB_RDONLY, &self->txn)) {
        free (self);
        return NULL;
    }
    mdb_txn_reset (self->txn);
    return self;
}

void
st_reader_destroy (st_reader_t **p)
{
    if (!p || !*p)
        return;
    st_reader_t *self = *p;
    if (self->open)
        st_reader_end (self);
    mdb_txn_abort (self->txn);
    free (self);
    *p = NULL;
}

int
st_reader_begin (st_reader_t *self)
{
    pthread_rwlock_rdlock (&self->store->resize_lock);
    int rc = mdb_txn_renew (self->txn);
    if (rc) {
        pthread_rwlock_unlock (&self->store->resize_lock);
        return RT_ESTORE;
    }
    self->open = true;
    return 0;
}

void
st_reader_end (st_reader_t *self)
{
    if (!self->open)
        return;
    if (self->cursor) {
        mdb_cursor_close (self->cursor);
        self->cursor = NULL;
    }
    mdb_txn_reset (self->txn);
    self->open = false;
    pthread_rwlock_unlock (&self->store->resize_lock);
}

int
st_reader_get (st_reader_t *self, const void *key, size_t klen,
               const void **val, size_t *vlen)
{
    MDB_val k = { klen, (void *) key }, v;
    int rc = mdb_get (self->txn, self->store->dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 1;
    if (rc)
        return RT_ESTORE;
    *val = v.mv_data;
    *vlen = v.mv_size;
    return 0;
}

static int
s_cmp (const void *a, size_t alen, const void *b, size_t blen)
{
    int c = memcmp (a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

int
st_reader_scan (st_reader_t *self, const void *lo, size_t lolen,
                const void *hi, size_t hilen, size_t max,
                st_scan_fn *fn, void *arg)
{
    if (!self->cursor && mdb_cursor_open (self->txn, self->store->dbi, &self->cursor))
        return RT_ESTORE;
    MDB_val k = { lolen, (void *) lo }, v;
    int rc = mdb_cursor_get (self->cursor, &k, &v, MDB_SET_RANGE);
    size_t visited = 0;
    while (rc == 0 && visited < max) {
        if (s_cmp (k.mv_data, k.mv_size, hi, hilen) >= 0)
            break;
        visited++;
        if (fn (arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size))
            break;
        rc = mdb_cursor_get (self->cursor, &k, &v, MDB_NEXT);
    }
    if (rc && rc != MDB_NOTFOUND)
        return RT_ESTORE;
    return (int) visited;
}

int
st_reader_scan_rev (st_reader_t *self, const void *lo, size_t lolen,
                    const void *hi, size_t hilen, size_t max,
                    st_scan_fn *fn, void *arg)
{
    if (!self->cursor && mdb_cursor_open (self->txn, self->store->dbi, &self->cursor))
        return RT_ESTORE;
    /*  The last key below hi: the first at or above it, then one back (or
        the very last key when nothing is at or above hi). */
    MDB_val k = { hilen, (void *) hi }, v;
    int rc = mdb_cursor_get (self->cursor, &k, &v, MDB_SET_RANGE);
    rc = rc == MDB_NOTFOUND ? mdb_cursor_get (self->cursor, &k, &v, MDB_LAST)
                            : rc ? rc : mdb_cursor_get (self->cursor, &k, &v, MDB_PREV);
    size_t visited = 0;
    while (rc == 0 && visited < max) {
        if (s_cmp (k.mv_data, k.mv_size, lo, lolen) < 0)
            break;
        visited++;
        if (fn (arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size))
            break;
        rc = mdb_cursor_get (self->cursor, &k, &v, MDB_PREV);
    }
    if (rc && rc != MDB_NOTFOUND)
        return RT_ESTORE;
    return (int) visited;
}
