/*  =========================================================================
    st_space.c - disk space for LMDB's file, taken ahead of its use

    With MDB_WRITEMAP, data.mdb is as long as the map but holes until
    written. A page written into a hole needs a block then and there, and
    a full disk answers that with SIGBUS: the node died without a word,
    and again on every restart whose replay wrote into a hole.

    So once the disk is nearly full (less than RT_STORE_ROOMY_RESERVES
    reservations free) the file is allocated (fallocate) storage.reserve_mb
    ahead of LMDB's last page (RT_STORE_RESERVE_MB_DEFAULT), before a
    batch may touch it, and extended when half of that is used. On a
    roomy disk nothing is allocated ahead: the kernel's allocation at the
    page fault cannot fail there, and allocated-but-unwritten blocks cost
    ext4 an extent split per scattered page LMDB writes into them. When the disk cannot give the next part, the store
    reports space low (st_store_space_low): the runtime refuses new writes
    from outside with 503 while what is left of the reservation carries
    the turns already under way (each batch then takes exactly its own
    pages while any are left), and the reservation is tried again every
    RT_STORE_RESERVE_RETRY_MS, so writes resume once space is freed. A
    batch whose own pages cannot be had is refused before it is applied
    or logged (-ENOSPC): the committer fails stop with "No space left on
    device" and every acknowledged write is in the log.
    =========================================================================
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/statvfs.h>

#include "st_store_int.h"
#include "runtime/rt_limits.h"
#include "runtime/rt_log.h"
#include "runtime/rt_time.h"

void
st_space_init (st_store_t *self)
{
    MDB_stat st;
    mdb_env_stat (self->env, &st);
    self->psize = st.ms_psize;
    if (mdb_env_get_fd (self->env, &self->data_fd))
        self->space_off = true;
    self->alloc_end = 0;        /* the first batch allocates from the start */
}

static void
s_set_low (st_store_t *self, bool low, int err)
{
    if (low)
        __atomic_store_n (&self->space_err, err, __ATOMIC_RELAXED);
    __atomic_store_n (&self->space_low, low, __ATOMIC_RELEASE);
}

/*  Bytes free on the store's file system for us; UINT64_MAX when the
    kernel will not say (then only the allocation itself can tell). */
static uint64_t
s_free (st_store_t *self)
{
    struct statvfs v;
    if (fstatvfs (self->data_fd, &v))
        return UINT64_MAX;
    return (uint64_t) v.f_bavail * v.f_frsize;
}

/*  Allocate data.mdb below end. Past the file's end too (KEEP_SIZE):
    the blocks are the file's when LMDB grows the map over them, so a
    growth needs no space of its own. 0, or the errno. */
static int
s_allocate (st_store_t *self, uint64_t end)
{
    if (end <= self->alloc_end)
        return 0;
    int rc;
    do
        rc = fallocate (self->data_fd, FALLOC_FL_KEEP_SIZE, (off_t) self->alloc_end,
                        (off_t) (end - self->alloc_end));
    while (rc && errno == EINTR);
    if (rc)
        return errno;
    self->alloc_end = end;
    return 0;
}

/*  Blocks below `need`, and the reservation beyond it when the disk has
    it. 0, or -ENOSPC (or another -errno) when `need` itself cannot be
    had. Under space_lock. */
static int
s_reserve (st_store_t *self, uint64_t need)
{
    bool low = __atomic_load_n (&self->space_low, __ATOMIC_ACQUIRE);
    if (!low && self->alloc_end >= need + self->reserve / 2)
        return 0;
    uint64_t now = rt_mono_us ();
    if (low && now < __atomic_load_n (&self->space_retry_us, __ATOMIC_RELAXED)) {
        int e = s_allocate (self, need);            /* what this batch takes, if any */
        return e ? -e : 0;
    }
    int err = s_allocate (self, need + self->reserve);
    if (!err) {
        s_set_low (self, false, 0);
        return 0;
    }
    if (err == EOPNOTSUPP || err == ENOSYS) {
        /*  A file system without fallocate: writes go on as before. */
        self->space_off = true;
        rt_log ("warn", "store.space_unreserved",
                "\"dir\":\"%s\",\"reason\":\"the file system cannot allocate ahead\"", self->dir);
        return 0;
    }
    __atomic_store_n (&self->space_retry_us, now + (uint64_t) RT_STORE_RESERVE_RETRY_MS * 1000u,
                      __ATOMIC_RELAXED);
    s_set_low (self, true, err);
    err = s_allocate (self, need);
    return err ? -err : 0;
}

int
st_space_reserve (st_store_t *self, const struct iovec *bufs, int n)
{
    if (self->space_off)
        return 0;
    uint64_t bytes = 0;
    for (int i = 0; i < n; i++)
        bytes += bufs[i].iov_len;
    uint64_t take = 2 * bytes + (uint64_t) n * RT_STORE_PAGES_PER_TURN * self->psize;
    pthread_mutex_lock (&self->space_lock);
    if (!__atomic_load_n (&self->space_low, __ATOMIC_ACQUIRE)
        && s_free (self) / RT_STORE_ROOMY_RESERVES >= self->reserve + take) {
        pthread_mutex_unlock (&self->space_lock);
        return 0;
    }
    MDB_envinfo info;           /* only on a nearly full disk: where LMDB ends */
    mdb_env_info (self->env, &info);
    int rc = s_reserve (self, (uint64_t) (info.me_last_pgno + 1) * self->psize + take);
    pthread_mutex_unlock (&self->space_lock);
    return rc;
}

bool
st_store_space_low (st_store_t *self)
{
    if (__atomic_load_n (&self->space_low, __ATOMIC_ACQUIRE)
        && rt_mono_us () >= __atomic_load_n (&self->space_retry_us, __ATOMIC_RELAXED)
        && !pthread_mutex_trylock (&self->space_lock)) {
        /*  No batch may come to try again (outside writes are refused):
            the callers asking are what ends it once space is freed. */
        MDB_envinfo info;
        mdb_env_info (self->env, &info);
        (void) s_reserve (self, (uint64_t) (info.me_last_pgno + 1) * self->psize);
        pthread_mutex_unlock (&self->space_lock);
    }
    bool lmdb = __atomic_load_n (&self->space_low, __ATOMIC_ACQUIRE);
    bool low = lmdb || st_wal_space_low (self->wal);
    /*  Said once per change, by whichever caller sees it first. */
    if (__atomic_exchange_n (&self->space_said, low, __ATOMIC_ACQ_REL) != low) {
        if (low)
            rt_log ("warn", "store.space_low",
                    "\"dir\":\"%s\",\"short\":\"%s\",\"error\":\"%s\","
                    "\"effect\":\"writes from outside refused (503) until space is freed\"",
                    self->dir, lmdb ? "data.mdb reservation" : "next log segment",
                    strerror (lmdb ? __atomic_load_n (&self->space_err, __ATOMIC_RELAXED)
                                   : ENOSPC));
        else
            rt_log ("info", "store.space_ok", "\"dir\":\"%s\"", self->dir);
    }
    return low;
}

uint64_t
st_space_reserved (st_store_t *self)
{
    pthread_mutex_lock (&self->space_lock);
    uint64_t v = self->alloc_end;
    pthread_mutex_unlock (&self->space_lock);
    return v;
}
