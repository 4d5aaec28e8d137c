/*  =========================================================================
    st_store_int.h - the store's struct, shared by its two halves only:
    st_store.c (open, check, readers) and st_durable.c (the logged write
    path, replay, base copies). Nothing outside store/ includes it.
    =========================================================================
*/
#ifndef ST_STORE_INT_H_INCLUDED
#define ST_STORE_INT_H_INCLUDED

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <lmdb.h>

#include "st_store.h"
#include "st_wal.h"

struct st_store {
    MDB_env *env;
    MDB_dbi  dbi;
    /*  Readers hold it shared while a snapshot is open; growth takes it
        exclusively to remap, which LMDB requires to happen with no
        transaction of this process in use. */
    pthread_rwlock_t resize_lock;
    uint64_t map_size;
    uint64_t map_size_max;
    int      stale_readers;
    int      lock_fd;           /* flock'd: one process per store */
    char     dir[PATH_MAX - 64];
    bool     sync_log;          /* fdatasync the log per batch (sync = full) */
    bool     no_sync;           /* benches of the CPU path: never sync */
    bool     restored;          /* data.mdb was replaced by the base at open */

    /* ---- st_durable.c ---- */
    st_wal_t       *wal;
    /*  Held for a batch (apply, log, commit) and for a log rotation. */
    pthread_mutex_t write_lock;
    pthread_mutex_t base_lock;  /* one base copy at a time */
    uint64_t        base_failed_ms; /* last failed copy (backoff) */
    uint64_t        applied;    /* last log frame applied to LMDB */
    uint64_t        base_lsn;   /* last frame in the base copy */
    uint64_t        base_ms;    /* when the base copy was taken */
    uint64_t        base_pending; /* log bytes since the base copy */
    pthread_t       thread;     /* base copies (and log syncs in nometasync) */
    bool            running;
    pthread_mutex_t cv_lock;
    pthread_cond_t  cv;
    bool            stopping, wanted;
    st_store_stats_t stats;     /* under cv_lock */

    /* ---- st_space.c ---- */
    pthread_mutex_t space_lock;
    int             data_fd;    /* LMDB's own, for fallocate */
    uint32_t        psize;
    uint64_t        reserve;    /* bytes allocated ahead of LMDB's last page */
    uint64_t        alloc_end;  /* data.mdb allocated below this (space_lock) */
    uint64_t        space_retry_us; /* while low: the next attempt (atomic) */
    bool            space_low;  /* the reservation could not be extended (atomic) */
    int             space_err;  /* ... the errno then (atomic) */
    bool            space_said; /* low as last logged (atomic) */
    bool            space_off;  /* the file system cannot allocate ahead */
};

/*  st_durable.c, for st_store.c's open and destroy. Open runs on a store
    whose LMDB environment is open (synced mode) and checked; it switches
    LMDB to MDB_NOSYNC once the boot marker says so. */
int  st_durable_open (st_store_t *self, char *err, size_t errlen);
void st_durable_close (st_store_t *self);

/*  st_store.c: double the map (readers kept out meanwhile). */
int  st_store_grow (st_store_t *self);

/*  st_space.c: once LMDB is open; then before each batch, with
    write_lock held: 0, or -ENOSPC (the batch is neither applied nor
    logged). */
void     st_space_init (st_store_t *self);
int      st_space_reserve (st_store_t *self, const struct iovec *bufs, int n);
uint64_t st_space_reserved (st_store_t *self);

#endif
