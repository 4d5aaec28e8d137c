/*  =========================================================================
    st_base.h - the base copy and the boot marker: what a restart after a
    power failure starts from

    LMDB runs without syncing (st_store.h): after a killed process the page
    cache still holds every commit, so data.mdb is whole and the log
    replays what it lacks; after a power failure or a kernel crash it may
    hold any mix of old and new pages. The boot marker tells the two apart:
    <dir>/boot holds the kernel's boot id of the process that opened the
    store and whether it closed cleanly. A store opened under another boot
    id that was not closed cleanly is not trusted: data.mdb is replaced by
    the base copy and the log replayed on it.

    The base copy (<dir>/base.mdb) is a compact copy of one LMDB snapshot
    (mdb_env_copyfd2), written to base.tmp, fdatasynced and renamed. The
    snapshot records the last log frame it contains (the "wal_lsn" key),
    so the log before it can be deleted once the copy is on disk.
    =========================================================================
*/
#ifndef ST_BASE_H_INCLUDED
#define ST_BASE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <lmdb.h>

/*  The 'M' key under the node shard that holds the last frame applied. */
#define ST_LSN_KEY "wal_lsn"

/*  Copy env's current snapshot to <dir>/base.mdb durably. Returns 0 and
    the copy's last frame in *lsn, or RT_ESTORE (the previous base stays). */
int st_base_take (MDB_env *env, const char *dir, uint64_t *lsn, uint64_t *bytes);

/*  Whether <dir>/base.mdb exists. */
bool st_base_exists (const char *dir);

/*  Replace <dir>/data.mdb by a copy of the base (and drop lock.mdb),
    synced. Returns 0 or RT_ESTORE with a reason in err. */
int st_base_restore (const char *dir, char *err, size_t errlen);

/*  Can data.mdb be trusted as it is? True when there is no marker (a new
    store, or one from before the log, whose LMDB synced every commit),
    when the last process closed cleanly, or when it ran under this boot
    (only the process died: the page cache kept everything). */
bool st_boot_trusted (const char *dir);

/*  What the marker records, durably, with this boot's id: RUNNING (from
    open on: data.mdb is written unsynced), CLEAN (closed and synced: trust
    under any boot), SUSPECT (the closing sync failed: never trust; the
    next open restores the base). */
typedef enum { ST_BOOT_RUNNING, ST_BOOT_CLEAN, ST_BOOT_SUSPECT } st_boot_t;
int st_boot_mark (const char *dir, st_boot_t what);

/*  Read the last applied frame from the snapshot of txn (0 if none). */
uint64_t st_lsn_get (MDB_txn *txn, MDB_dbi dbi);
int st_lsn_put (MDB_txn *txn, MDB_dbi dbi, uint64_t lsn);

#endif
