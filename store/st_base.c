/*  =========================================================================
    st_base.c - base copy of data.mdb, its restore, and the boot marker
    =========================================================================
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "st_base.h"
#include "st_keys.h"
#include "runtime/rt_error.h"

#define BOOT_ID_LEN 36

static void
s_path (const char *dir, const char *name, char *out, size_t outlen)
{
    snprintf (out, outlen, "%s/%s", dir, name);
}

static int
s_fsync_dir (const char *dir)
{
    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 && fsync (fd) == 0 ? 0 : RT_ESTORE;
    if (fd >= 0)
        close (fd);
    return rc;
}

static void
s_lsn_key (st_key_t *k)
{
    st_key_begin (k, ST_NODE_SHARD, ST_KIND_META);
    st_key_bytes (k, ST_LSN_KEY, strlen (ST_LSN_KEY));
}

uint64_t
st_lsn_get (MDB_txn *txn, MDB_dbi dbi)
{
    st_key_t k;
    s_lsn_key (&k);
    MDB_val key = { k.len, k.b }, val;
    if (mdb_get (txn, dbi, &key, &val) || val.mv_size != 8)
        return 0;
    return st_get_u64 (val.mv_data);
}

int
st_lsn_put (MDB_txn *txn, MDB_dbi dbi, uint64_t lsn)
{
    st_key_t k;
    s_lsn_key (&k);
    uint8_t b[8];
    st_put_u64 (b, lsn);
    MDB_val key = { k.len, k.b }, val = { 8, b };
    return mdb_put (txn, dbi, &key, &val, 0);
}

/*  The last frame a copied file contains, read with an environment of its
    own (read-only, no lock file). */
static int
s_file_lsn (const char *path, uint64_t *lsn)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    if (mdb_env_create (&env))
        return RT_ESTORE;
    int rc = mdb_env_open (env, path, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK, 0600);
    if (!rc)
        rc = mdb_txn_begin (env, NULL, MDB_RDONLY, &txn);
    if (!rc) {
        rc = mdb_dbi_open (txn, NULL, 0, &dbi);
        if (!rc)
            *lsn = st_lsn_get (txn, dbi);
        mdb_txn_abort (txn);
    }
    mdb_env_close (env);
    return rc ? RT_ESTORE : 0;
}

int
st_base_take (MDB_env *env, const char *dir, uint64_t *lsn, uint64_t *bytes)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    s_path (dir, "base.tmp", tmp, sizeof tmp);
    s_path (dir, "base.mdb", path, sizeof path);
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return RT_ESTORE;
    /*  Compact: only live pages, written in order, so the copy is as small
        as the data and needs no free list. */
    int rc = mdb_env_copyfd2 (env, fd, MDB_CP_COMPACT) ? RT_ESTORE : 0;
    struct stat st;
    if (!rc && (fdatasync (fd) || fstat (fd, &st)))
        rc = RT_ESTORE;
    close (fd);
    if (!rc)
        rc = s_file_lsn (tmp, lsn);
    if (!rc && rename (tmp, path))
        rc = RT_ESTORE;
    if (!rc)
        rc = s_fsync_dir (dir);
    if (rc)
        unlink (tmp);
    else
        *bytes = (uint64_t) st.st_size;
    return rc;
}

bool
st_base_exists (const char *dir)
{
    char path[PATH_MAX];
    s_path (dir, "base.mdb", path, sizeof path);
    return access (path, F_OK) == 0;
}

int
st_base_restore (const char *dir, char *err, size_t errlen)
{
    char base[PATH_MAX], data[PATH_MAX], lock[PATH_MAX];
    s_path (dir, "base.mdb", base, sizeof base);
    s_path (dir, "data.mdb", data, sizeof data);
    s_path (dir, "lock.mdb", lock, sizeof lock);
    int in = open (base, O_RDONLY | O_CLOEXEC);
    int out = in >= 0 ? open (data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    int rc = in >= 0 && out >= 0 ? 0 : RT_ESTORE;
    while (!rc) {
        ssize_t n = copy_file_range (in, NULL, out, NULL, 1 << 30, 0);
        if (n < 0)
            rc = RT_ESTORE;
        if (n <= 0)
            break;
    }
    if (!rc && fdatasync (out))
        rc = RT_ESTORE;
    if (in >= 0)
        close (in);
    if (out >= 0)
        close (out);
    /*  The lock file's reader table and last transaction id describe the
        file that was replaced. */
    if (!rc && unlink (lock) && errno != ENOENT)
        rc = RT_ESTORE;
    if (rc)
        snprintf (err, errlen, "store: cannot restore %s from %s: %s", data, base,
                  strerror (errno));
    return rc;
}

/* ---- the boot marker ----------------------------------------------------- */

static int
s_boot_id (char *out)
{
    int fd = open ("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read (fd, out, BOOT_ID_LEN) : -1;
    if (fd >= 0)
        close (fd);
    out[n == BOOT_ID_LEN ? BOOT_ID_LEN : 0] = 0;
    return n == BOOT_ID_LEN ? 0 : -1;
}

bool
st_boot_trusted (const char *dir)
{
    char path[PATH_MAX], now[BOOT_ID_LEN + 1], b[BOOT_ID_LEN + 8];
    s_path (dir, "boot", path, sizeof path);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT;
    ssize_t n = read (fd, b, sizeof b);
    close (fd);
    /*  "<boot id>\n<0|1>\n" */
    if (n != BOOT_ID_LEN + 3 || b[BOOT_ID_LEN] != '\n')
        return false;
    if (b[BOOT_ID_LEN + 1] == '1')
        return true;
    return s_boot_id (now) == 0 && memcmp (now, b, BOOT_ID_LEN) == 0;
}

int
st_boot_mark (const char *dir, st_boot_t what)
{
    char id[BOOT_ID_LEN + 1], b[BOOT_ID_LEN + 4], tmp[PATH_MAX], path[PATH_MAX];
    if (s_boot_id (id))
        return RT_ESTORE;
    if (what == ST_BOOT_SUSPECT)
        memset (id, '0', BOOT_ID_LEN);  /* matches no boot */
    int n = snprintf (b, sizeof b, "%s\n%c\n", id, what == ST_BOOT_CLEAN ? '1' : '0');
    s_path (dir, "boot.tmp", tmp, sizeof tmp);
    s_path (dir, "boot", path, sizeof path);
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return RT_ESTORE;
    int ok = write (fd, b, (size_t) n) == n && fdatasync (fd) == 0;
    close (fd);
    if (!ok || rename (tmp, path))
        return RT_ESTORE;
    return s_fsync_dir (dir);
}
