/*  =========================================================================
    st_store.h - the node's LMDB environment

    One environment per node under <data_dir>/<node id>/, one database,
    keys laid out by st_keys.h. The store checks on open that the directory
    holds a pasar store of this node and shard count (a foreign or corrupt
    file is reported, never crashed on), clears stale reader slots left by a
    killed process (mdb_reader_check), and grows the map by doubling when a
    write finds it full.

    Reading: each thread that reads owns an st_reader_t (a reset LMDB read
    transaction, renewed per use: cheap, no allocation). Writing happens
    only in the committer (st_commit.h).
    =========================================================================
*/
#ifndef ST_STORE_H_INCLUDED
#define ST_STORE_H_INCLUDED

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

typedef struct st_store st_store_t;
typedef struct st_reader st_reader_t;

typedef struct {
    const char *node_id;        /* recorded on creation, checked after */
    uint32_t    shards;         /* likewise: fixed for the cluster's life */
    uint32_t    map_size_mb;    /* starting map size */
    uint32_t    map_size_max_mb;/* growth ceiling; 0 = RT_MAP_SIZE_MAX_MB */
    bool        nometasync;     /* storage.sync = "nometasync" */
    bool        nosync;         /* tests/bench of rebuildable data only */
} st_options_t;

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

/* ---- for the committer only ------------------------------------------ */

/*  Opaque handles for st_commit.c: the LMDB env and dbi, and the lock that
    keeps readers out while the map is resized. */
void *st_store_env (st_store_t *self);
unsigned st_store_dbi (st_store_t *self);
int st_store_grow (st_store_t *self);

#endif
