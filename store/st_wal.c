/*  =========================================================================
    st_wal.c - segments and frames of the write-ahead log
    =========================================================================
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "st_wal.h"
#include "st_crc.h"
#include "st_keys.h"
#include "runtime/rt_bg.h"
#include "runtime/rt_error.h"
#include "runtime/rt_limits.h"

#define FRAME_MAGIC  0x5057414cu        /* "PWAL" */
#define FRAME_HEADER 20
#define NAME_LEN     (16 + 4)           /* <16 hex>.wal */
#define SPARE_NAME   "next.spare"       /* not a segment name: replay skips it */

struct st_wal {
    char            dir[PATH_MAX - NAME_LEN - 2];
    int             dirfd;
    /*  The segment list is shared by the appending thread (rotate) and
        the base-copy thread (trim). */
    pthread_mutex_t lock;
    uint64_t       *firsts;             /* first lsn of each segment, ascending */
    size_t          n, cap;
    int             fd;                 /* segment appended to; -1 before start */
    uint64_t        off;                /* where in it the next frame goes */
    uint64_t        filled;             /* its zero-filled size (0: not prepared) */
    uint64_t        next;               /* number of the next frame */
    bool            broken;             /* a write failed: no more appends */
    bool            asked;              /* a spare was asked for this segment */
    uint64_t        segment_bytes;      /* a spare's size */
    uint64_t        spare_after;        /* an unprepared segment asks then */
    uint64_t        spares_used;        /* stats (atomic) */
    uint64_t        frames_unprepared;
    /*  The spare: the next segment, zero-filled ahead by its own thread.
        Under bg.lock: */
    rt_bg_t         bg;
    int             spare_fd;           /* -1: none ready */
    bool            spare_nospace;      /* the last attempt found the disk full (atomic) */
    bool            spare_wanted;
};

/*  A segment's file name in the directory, and its whole path. */
static void
s_leaf (uint64_t first, char out[NAME_LEN + 1])
{
    snprintf (out, NAME_LEN + 1, "%016" PRIx64 ".wal", first);
}

static void
s_name (const st_wal_t *self, uint64_t first, char *out, size_t outlen)
{
    char leaf[NAME_LEN + 1];
    s_leaf (first, leaf);
    snprintf (out, outlen, "%s/%s", self->dir, leaf);
}

static int
s_parse (const char *name, uint64_t *first)
{
    if (strlen (name) != NAME_LEN || strcmp (name + 16, ".wal"))
        return -1;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = v << 4 | (uint64_t) d;
    }
    *first = v;
    return 0;
}

static int
s_cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static int
s_push (st_wal_t *self, uint64_t first)
{
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        uint64_t *f = realloc (self->firsts, cap * sizeof *f);
        if (!f)
            return RT_ENOMEM;
        self->firsts = f;
        self->cap = cap;
    }
    self->firsts[self->n++] = first;
    return 0;
}

int
st_wal_open (const char *dir, st_wal_t **out, char *err, size_t errlen)
{
    st_wal_t *self = calloc (1, sizeof *self);
    if (!self)
        return RT_ENOMEM;
    self->fd = -1;
    self->dirfd = -1;
    self->spare_fd = -1;
    self->segment_bytes = RT_WAL_SEGMENT_BYTES;
    self->spare_after = RT_WAL_SPARE_AFTER_BYTES;
    pthread_mutex_init (&self->lock, NULL);
    rt_bg_init (&self->bg);
    if (strlen (dir) >= sizeof self->dir) {
        snprintf (err, errlen, "wal: path too long: %s", dir);
        goto fail;
    }
    strcpy (self->dir, dir);
    if (mkdir (dir, 0700) && errno != EEXIST) {
        snprintf (err, errlen, "wal: cannot create %s: %s", dir, strerror (errno));
        goto fail;
    }
    self->dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int dfd = self->dirfd >= 0 ? dup (self->dirfd) : -1;
    DIR *d = dfd >= 0 ? fdopendir (dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close (dfd);
        snprintf (err, errlen, "wal: cannot open %s: %s", dir, strerror (errno));
        goto fail;
    }
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir (d))) {
        uint64_t first;
        if (s_parse (e->d_name, &first) == 0)
            rc = s_push (self, first);
    }
    closedir (d);
    if (rc) {
        snprintf (err, errlen, "wal: out of memory");
        goto fail;
    }
    if (self->n)
        qsort (self->firsts, self->n, sizeof *self->firsts, s_cmp_u64);
    unlinkat (self->dirfd, SPARE_NAME, 0);     /* one a killed process left */
    *out = self;
    return 0;
fail:
    st_wal_destroy (&self);
    return RT_ESTORE;
}

void
st_wal_destroy (st_wal_t **p)
{
    if (!p || !*p)
        return;
    st_wal_t *self = *p;
    rt_bg_fini (&self->bg);
    if (self->spare_fd >= 0) {
        close (self->spare_fd);
        unlinkat (self->dirfd, SPARE_NAME, 0);
    }
    if (self->fd >= 0)
        close (self->fd);
    if (self->dirfd >= 0)
        close (self->dirfd);
    pthread_mutex_destroy (&self->lock);
    free (self->firsts);
    free (self);
    *p = NULL;
}

/* ---- replay ------------------------------------------------------------- */

static void
s_header (uint8_t *h, uint32_t len, uint64_t lsn)
{
    st_put_u32 (h, FRAME_MAGIC);
    st_put_u32 (h + 4, len);
    st_put_u64 (h + 8, lsn);
}

/*  The frame at p (avail bytes left in its segment) if it is whole, has
    the right magic and CRC and is numbered want; else NULL. */
static const uint8_t *
s_frame (const uint8_t *p, size_t avail, uint64_t want, size_t *len)
{
    if (avail < FRAME_HEADER || st_get_u32 (p) != FRAME_MAGIC)
        return NULL;
    uint32_t n = st_get_u32 (p + 4);
    if (n > avail - FRAME_HEADER || st_get_u64 (p + 8) != want)
        return NULL;
    uint32_t crc = st_crc32c (0, p + 4, 12);
    crc = st_crc32c (crc, p + FRAME_HEADER, n);
    if (crc != st_get_u32 (p + 16))
        return NULL;
    *len = n;
    return p + FRAME_HEADER;
}

int
st_wal_replay (st_wal_t *self, uint64_t after, st_wal_fn *fn, void *arg,
               uint64_t *last, char *err, size_t errlen)
{
    uint64_t expected = after + 1;
    bool gap = false;
    int rc = 0;
    for (size_t i = 0; i < self->n && !gap && !rc; i++) {
        /*  Every frame of segment i is below the next one's first. */
        if (i + 1 < self->n && self->firsts[i + 1] <= expected)
            continue;
        if (self->firsts[i] > expected) {
            gap = true;
            break;
        }
        char path[PATH_MAX];
        s_name (self, self->firsts[i], path, sizeof path);
        int fd = open (path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat (fd, &st)) {
            snprintf (err, errlen, "wal: cannot read %s: %s", path, strerror (errno));
            if (fd >= 0)
                close (fd);
            return RT_ESTORE;
        }
        if (st.st_size == 0) {
            close (fd);
            continue;
        }
        uint8_t *map = mmap (NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        close (fd);
        if (map == MAP_FAILED) {
            snprintf (err, errlen, "wal: cannot map %s: %s", path, strerror (errno));
            return RT_ESTORE;
        }
        madvise (map, (size_t) st.st_size, MADV_SEQUENTIAL);
        size_t off = 0, len;
        const uint8_t *payload;
        uint64_t want = self->firsts[i];
        while ((payload = s_frame (map + off, (size_t) st.st_size - off, want, &len))) {
            if (want == expected) {
                if ((rc = fn (arg, want, payload, len)))
                    break;
                expected++;
            }
            want++;
            off += FRAME_HEADER + len;
        }
        /*  A torn or stale tail ends this segment; the next one must
            carry on where the frames stopped (checked above). */
        munmap (map, (size_t) st.st_size);
    }
    if (rc)
        return rc;
    /*  Frames missing before later ones: the log cannot be replayed past
        them, and those later frames were acknowledged (every segment is
        synced before the next one is used). Refuse rather than drop them. */
    if (gap) {
        snprintf (err, errlen, "wal: %s lacks frame %" PRIu64 " but holds later segments "
                  "(a segment was lost or damaged): refusing to replay past the hole",
                  self->dir, expected);
        return RT_ECORRUPT;
    }
    *last = expected - 1;
    return 0;
}

/* ---- the spare segment ------------------------------------------------- */

/*  Zeros are written this much at a time, each part on disk before the
    next: the committer's fdatasync then never queues behind more than
    one part (64 MiB at once held it ~40 ms). */
#define SPARE_PART   (1u << 20)

/*  A new file of segment_bytes zeros, synced (its size and blocks are on
    disk before any frame goes in), or -1 (disk full, or stopping). */
static int
s_spare_make (st_wal_t *self)
{
    static const uint8_t zeros[1 << 16];
    int fd = openat (self->dirfd, SPARE_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        __atomic_store_n (&self->spare_nospace, errno == ENOSPC || errno == EDQUOT,
                          __ATOMIC_RELAXED);
        return -1;
    }
    bool ok = true;
    for (uint64_t at = 0; ok && at < self->segment_bytes; ) {
        size_t n = self->segment_bytes - at < sizeof zeros ? (size_t) (self->segment_bytes - at)
                                                           : sizeof zeros;
        ssize_t w = pwrite (fd, zeros, n, (off_t) at);
        if (w > 0)
            at += (uint64_t) w;
        /*  Only pacing: the fdatasync below is what makes it durable. */
        if (w > 0 && (at % SPARE_PART == 0 || at == self->segment_bytes))
            (void) sync_file_range (fd, (off_t) ((at - 1) / SPARE_PART * SPARE_PART),
                                    (off_t) ((at - 1) % SPARE_PART + 1),
                                    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE
                                    | SYNC_FILE_RANGE_WAIT_AFTER);
        ok = (w > 0 || (w < 0 && errno == EINTR)) && !__atomic_load_n (&self->bg.stop, __ATOMIC_RELAXED);
    }
    if (ok && fdatasync (fd) == 0)
        return fd;
    int err = errno;
    __atomic_store_n (&self->spare_nospace, err == ENOSPC || err == EDQUOT, __ATOMIC_RELAXED);
    close (fd);
    unlinkat (self->dirfd, SPARE_NAME, 0);
    return -1;
}

/*  Makes a spare whenever one is wanted and none is ready. */
static void *
s_spare_main (void *arg)
{
    st_wal_t *self = arg;
    pthread_mutex_lock (&self->bg.lock);
    while (!self->bg.stop) {
        if (!self->spare_wanted || self->spare_fd >= 0) {
            rt_bg_wait (&self->bg, 60 * 1000);
            continue;
        }
        pthread_mutex_unlock (&self->bg.lock);
        int fd = s_spare_make (self);
        pthread_mutex_lock (&self->bg.lock);
        if (fd >= 0) {
            self->spare_fd = fd;
            self->spare_wanted = false;
            __atomic_store_n (&self->spare_nospace, false, __ATOMIC_RELAXED);
        }
        else
            rt_bg_wait (&self->bg, RT_WAL_SPARE_RETRY_MS);
    }
    pthread_mutex_unlock (&self->bg.lock);
    return NULL;
}

/*  The appender asks once per segment, half way through a prepared one
    (the spare is made long before it is needed) or spare_after into an
    unprepared one. */
static void
s_spare_ask (st_wal_t *self)
{
    if (self->asked || self->off < (self->filled ? self->filled / 2 : self->spare_after))
        return;
    self->asked = true;
    pthread_mutex_lock (&self->bg.lock);
    self->spare_wanted = true;
    pthread_cond_signal (&self->bg.cv);
    pthread_mutex_unlock (&self->bg.lock);
}

static int
s_spare_take (st_wal_t *self)
{
    pthread_mutex_lock (&self->bg.lock);
    int fd = self->spare_fd;
    self->spare_fd = -1;
    pthread_mutex_unlock (&self->bg.lock);
    return fd;
}

/* ---- appending ------------------------------------------------------------- */

/*  A new segment for frames from self->next: the spare (when spare >= 0)
    renamed, or else an empty file. RT_ESTORE when none could be made. */
static int
s_create (st_wal_t *self, int spare, int *fd, uint64_t *filled)
{
    char name[NAME_LEN + 1];
    s_leaf (self->next, name);
    *filled = 0;
    if (spare >= 0 && renameat (self->dirfd, SPARE_NAME, self->dirfd, name) == 0) {
        *fd = spare;
        *filled = self->segment_bytes;
    }
    else {
        if (spare >= 0) {
            close (spare);
            unlinkat (self->dirfd, SPARE_NAME, 0);
        }
        if ((*fd = openat (self->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
            return RT_ESTORE;
    }
    /*  The new name must be durable before a frame in it is. Not knowing
        whether it is, the log stops: a segment on disk but not in use
        would make the next replay skip the frames after its number. */
    if (fsync (self->dirfd)) {
        close (*fd);
        unlinkat (self->dirfd, name, 0);
        self->broken = true;
        return RT_ESTORE;
    }
    return 0;
}

/*  Frames go to fd, a segment just created for frames from self->next. */
static int
s_switch (st_wal_t *self, int fd, uint64_t filled)
{
    pthread_mutex_lock (&self->lock);
    int rc = s_push (self, self->next);
    pthread_mutex_unlock (&self->lock);
    if (rc) {
        char name[NAME_LEN + 1];
        s_leaf (self->next, name);
        close (fd);
        unlinkat (self->dirfd, name, 0);
        self->broken = true;            /* as in s_create: the name may be on disk */
        return rc;
    }
    if (self->fd >= 0)
        close (self->fd);
    self->fd = fd;
    self->off = 0;
    self->filled = filled;
    self->asked = false;
    return 0;
}

/*  fdatasync an existing segment (replay may have applied frames that a
    killed process wrote but never synced). */
static int
s_sync_segment (st_wal_t *self, uint64_t first)
{
    char path[PATH_MAX];
    s_name (self, first, path, sizeof path);
    int fd = open (path, O_WRONLY | O_CLOEXEC);
    int rc = fd >= 0 && fdatasync (fd) == 0 ? 0 : RT_ESTORE;
    if (fd >= 0)
        close (fd);
    return rc;
}

int
st_wal_start (st_wal_t *self, uint64_t next_lsn)
{
    /*  Frames a killed process wrote but never synced were replayed and
        are about to be followed by synced ones: make them durable first.
        A segment named next_lsn holds only a torn frame (never
        acknowledged) or a spare's zeros; one above it is a hole replay
        would have refused. */
    pthread_mutex_lock (&self->lock);
    int rc = 0;
    for (size_t i = 0; i < self->n && !rc; i++) {
        if (self->firsts[i] > next_lsn)
            rc = RT_ECORRUPT;
        else if (self->firsts[i] == next_lsn) {
            char path[PATH_MAX];
            s_name (self, self->firsts[i], path, sizeof path);
            unlink (path);
            self->n = i;
        }
        else
            rc = s_sync_segment (self, self->firsts[i]);
    }
    pthread_mutex_unlock (&self->lock);
    if (rc)
        return rc;
    self->next = next_lsn;
    int fd;
    uint64_t filled;
    if ((rc = s_create (self, -1, &fd, &filled))
        || (rc = s_switch (self, fd, filled)))
        return rc;
    if (!self->bg.running && rt_bg_start (&self->bg, s_spare_main, self, "pasar-wal-spare"))
        return RT_ENOMEM;
    return 0;
}

/*  pwritev everything at *off, across partial writes and IOV_MAX. */
static int
s_writev_all (int fd, struct iovec *iov, int iovcnt, uint64_t *off)
{
    while (iovcnt > 0) {
        int n = iovcnt < IOV_MAX ? iovcnt : IOV_MAX;
        ssize_t w = pwritev (fd, iov, n, (off_t) *off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        *off += (uint64_t) w;
        while (iovcnt > 0 && (size_t) w >= iov->iov_len) {
            w -= (ssize_t) iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (uint8_t *) iov->iov_base + w;
            iov->iov_len -= (size_t) w;
        }
    }
    return 0;
}

/*  Later frames go to a new segment: the spare if one is ready; else,
    unless spare_only, an empty file. The old segment is synced before the
    new one is named, so frames are durable in order (with sync =
    "nometasync" too): a later segment on disk means every frame before it
    is. */
static int
s_roll (st_wal_t *self, bool spare_only)
{
    int spare = s_spare_take (self);
    if (spare < 0 && spare_only)
        return 0;
    if (fdatasync (self->fd)) {
        if (spare >= 0) {
            close (spare);
            unlinkat (self->dirfd, SPARE_NAME, 0);
        }
        self->broken = true;
        return RT_ESTORE;
    }
    int fd;
    uint64_t filled;
    int rc = s_create (self, spare, &fd, &filled);
    if (!rc && !(rc = s_switch (self, fd, filled)) && filled)
        __atomic_fetch_add (&self->spares_used, 1, __ATOMIC_RELAXED);
    return rc;
}

int
st_wal_append (st_wal_t *self, const struct iovec *iov, int iovcnt, uint64_t *lsn)
{
    if (self->broken || self->fd < 0)
        return RT_ESTORE;
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    if (len > UINT32_MAX)
        return RT_ETOOBIG;
    /*  Past the zeros: on in a ready spare. Without one the frame goes on
        here and its sync commits the file's growth, as without spares. */
    if (self->off > 0 && self->off + FRAME_HEADER + len > self->filled
        && s_roll (self, true))
        return RT_ESTORE;
    if (self->off + FRAME_HEADER + len > self->filled)
        __atomic_fetch_add (&self->frames_unprepared, 1, __ATOMIC_RELAXED);
    uint8_t h[FRAME_HEADER];
    s_header (h, (uint32_t) len, self->next);
    uint32_t crc = st_crc32c (0, h + 4, 12);
    for (int i = 0; i < iovcnt; i++)
        crc = st_crc32c (crc, iov[i].iov_base, iov[i].iov_len);
    st_put_u32 (h + 16, crc);
    struct iovec stack[64], *v = stack;
    if (iovcnt + 1 > 64 && !(v = malloc ((size_t) (iovcnt + 1) * sizeof *v)))
        return RT_ENOMEM;
    v[0] = (struct iovec) { h, FRAME_HEADER };
    memcpy (v + 1, iov, (size_t) iovcnt * sizeof *v);
    int rc = s_writev_all (self->fd, v, iovcnt + 1, &self->off);
    if (v != stack)
        free (v);
    if (rc) {
        self->broken = true;
        return RT_ESTORE;
    }
    *lsn = self->next++;
    s_spare_ask (self);
    return 0;
}

int
st_wal_sync (st_wal_t *self)
{
    if (self->broken || self->fd < 0)
        return RT_ESTORE;
    if (fdatasync (self->fd)) {
        self->broken = true;
        return RT_ESTORE;
    }
    return 0;
}

bool
st_wal_space_low (st_wal_t *self)
{
    return self && __atomic_load_n (&self->spare_nospace, __ATOMIC_RELAXED);
}

void
st_wal_fail (st_wal_t *self)
{
    self->broken = true;
}

uint64_t
st_wal_last (st_wal_t *self)
{
    return self->next ? self->next - 1 : 0;
}

int
st_wal_rotate (st_wal_t *self)
{
    if (self->broken || self->fd < 0)
        return RT_ESTORE;
    pthread_mutex_lock (&self->lock);
    bool empty = self->n && self->firsts[self->n - 1] == self->next;
    pthread_mutex_unlock (&self->lock);
    if (empty)
        return 0;                       /* nothing appended since */
    return s_roll (self, false);
}

void
st_wal_sizes (st_wal_t *self, uint64_t segment_bytes, uint64_t spare_after)
{
    self->segment_bytes = segment_bytes;
    self->spare_after = spare_after;
}

void
st_wal_stats (st_wal_t *self, uint64_t *spares_used, uint64_t *frames_unprepared)
{
    *spares_used = __atomic_load_n (&self->spares_used, __ATOMIC_RELAXED);
    *frames_unprepared = __atomic_load_n (&self->frames_unprepared, __ATOMIC_RELAXED);
}

void
st_wal_trim (st_wal_t *self, uint64_t upto)
{
    pthread_mutex_lock (&self->lock);
    size_t drop = 0;
    while (drop + 1 < self->n && self->firsts[drop + 1] <= upto + 1)
        drop++;
    for (size_t i = 0; i < drop; i++) {
        char path[PATH_MAX];
        s_name (self, self->firsts[i], path, sizeof path);
        unlink (path);
    }
    memmove (self->firsts, self->firsts + drop, (self->n - drop) * sizeof *self->firsts);
    self->n -= drop;
    pthread_mutex_unlock (&self->lock);
}

size_t
st_wal_segments (st_wal_t *self)
{
    pthread_mutex_lock (&self->lock);
    size_t n = self->n;
    pthread_mutex_unlock (&self->lock);
    return n;
}
