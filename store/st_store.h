/*  =========================================================================
    st_store.h - the node's LMDB environment

    One environment per node under <data_dir>/<node id>/, one database,
    keys laid out by st_keys.h. The store checks on open that the directory
    holds a pasar store of this node and shard count (a foreign or corrupt
    file is reported, never crashed on), clears stale reader slots left by a
    killed process (mdb_reader_check), and grows the map by doubling when a
    write finds it full.

    Durability (docs/storage.md): a batch is applied to LMDB, appended to
    the write-ahead log (st_wal.h) and fdatasynced there, then committed
    to LMDB without a sync (MDB_WRITEMAP | MDB_NOSYNC), with the number of
    its log frame in the same transaction. A killed process leaves the
    page cache, so on restart data.mdb is whole and the frames after its
    number are replayed. After a power failure data.mdb is not trusted
    (st_base.h): it is replaced by the base copy, taken in the background
    every RT_BASE_INTERVAL_MS or RT_WAL_BASE_BYTES of log, and the log
    after the base is replayed. The log before the base is deleted.

    Reading: each thread that reads owns an st_reader_t (a reset LMDB read
    transaction, renewed per use: cheap, no allocation). Writing happens
    only in the committer (st_commit.h), through st_store_write.
    =========================================================================
*/
#ifndef ST_STORE_H_INCLUDED
#define ST_STORE_H_INCLUDED

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <sys/uio.h>

typedef struct st_store st_store_t;
typedef struct st_reader st_reader_t;

typedef struct {
    const char *node_id;        /* recorded on creation, checked after */
    uint32_t    shards;         /* likewise: fixed for the cluster's life */
    uint32_t    map_size_mb;    /* starting map size */
    uint32_t    map_size_max_mb;/* growth ceiling; 0 = RT_MAP_SIZE_MAX_MB */
    uint32_t    reserve_mb;     /* allocated ahead; 0 = RT_STORE_RESERVE_MB_DEFAULT */
    bool        nometasync;     /* storage.sync = "nometasync": the log is
                                   synced once a second, not per batch */
    bool        nosync;         /* benches of the CPU path: no sync at all */
} st_options_t;

typedef struct {
    uint64_t base_copies;           /* base copies taken since open */
    uint64_t base_failures;
    uint64_t base_us_last;          /* time to copy and sync the last one */
    uint64_t base_bytes;            /* size of the last one */
    uint64_t base_lsn;              /* last log frame the base contains */
    uint64_t restored;              /* 1: data.mdb was replaced by the base at open */
    uint64_t map_grows;
    uint64_t replayed_frames;       /* at open */
    uint64_t log_frames;            /* appended since open */
    uint64_t log_bytes;
    uint64_t log_segments;          /* on disk now */
    uint64_t log_spares_used;       /* zero-filled segments put into use */
    uint64_t log_frames_unprepared; /* frames written past a segment's zeros */
    uint64_t last_lsn;              /* last frame applied */
    uint64_t space_reserved;        /* bytes of data.mdb allocated ahead (st_space.c) */
    uint64_t space_low;             /* 1: the disk cannot give the space taken ahead */
} st_store_stats_t;

/*  Open (creating if absent) the store at dir. Returns 0 and *out, or an
    rt_err_t with a one-line reason in err: RT_ECORRUPT for a file that is
    not a pasar store, or one of another node or shard count. */
int st_store_open (const char *dir, const st_options_t *opts, st_store_t **out,
                   char *err, size_t errlen);

/*  Close the store; no-op on NULL; sets *p to NULL. Every reader and the
    committer must be destroyed first. */
void st_store_destroy (st_store_t **p);

/*  Stale reader slots cleared at open (for logs and tests). */
int st_store_stale_readers (st_store_t *self);

/*  Current map size in bytes. */
uint64_t st_store_map_size (st_store_t *self);

/* ---- reading -------------------------------------------------------- */

st_reader_t *st_reader_new (st_store_t *store);
void st_reader_destroy (st_reader_t **p);

/*  Open a snapshot. Every get/scan sees this snapshot until st_reader_end.
    Hold it briefly: the map cannot grow while any reader is open. */
int st_reader_begin (st_reader_t *self);
void st_reader_end (st_reader_t *self);

/*  Look up key. Returns 0 with *val and *vlen pointing into the map (valid
    until st_reader_end), RT_OK+1 (= 1) when absent, or an rt_err_t. */
int st_reader_get (st_reader_t *self, const void *key, size_t klen,
                   const void **val, size_t *vlen);

/*  Call fn for each key in [lo, hi) in order, until fn returns non-zero
    or max entries were visited. Returns the number visited, or an
    rt_err_t. */
typedef int (st_scan_fn) (void *arg, const void *key, size_t klen,
                          const void *val, size_t vlen);
int st_reader_scan (st_reader_t *self, const void *lo, size_t lolen,
                    const void *hi, size_t hilen, size_t max,
                    st_scan_fn *fn, void *arg);

/*  The same over [lo, hi) from the top down: hi's predecessor first. */
int st_reader_scan_rev (st_reader_t *self, const void *lo, size_t lolen,
                        const void *hi, size_t hilen, size_t max,
                        st_scan_fn *fn, void *arg);

/* ---- writing (the committer only) ------------------------------------ */

/*  Make one batch durable and visible: bufs are record op buffers
    (st_ops.h), applied in one LMDB transaction, logged as one frame and
    synced, then committed. Grows the map (up to its ceiling) as needed.
    Returns 0; RT_EMAPFULL at the ceiling or RT_EMALFORMED for bad ops
    (nothing logged, nothing changed); RT_ESTORE for a failed write or
    sync (the batch may or may not be in the log: the caller fails stop,
    and a restart settles it). One caller at a time. */
int st_store_write (st_store_t *self, const struct iovec *bufs, int n);

/*  Take a base copy now (the store's thread does it on its own) and
    delete the log it covers. Returns 0 or RT_ESTORE; a failed copy
    leaves the previous one and the log in place. */
int st_store_base (st_store_t *self);

void st_store_stats (st_store_t *self, st_store_stats_t *out);

/*  True while the disk cannot give the store the space it takes ahead
    (LMDB's reservation, or the log's next segment: st_space.c): writes
    from outside are to be refused until it is false again. Cheap (two
    atomic loads) unless true; then at most once per
    RT_STORE_RESERVE_RETRY_MS it tries the allocation again. Any thread. */
bool st_store_space_low (st_store_t *self);

/*  The data directory (for logs). */
const char *st_store_dir (st_store_t *self);

#endif
