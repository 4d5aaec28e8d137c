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
#include "runtime/rt_error.h"

#define FRAME_MAGIC  0x5057414cu        /* "PWAL" */
#define FRAME_HEADER 20
#define NAME_LEN     (16 + 4)           /* <16 hex>.wal */

struct st_wal {
    char            dir[PATH_MAX - NAME_LEN - 2];
    int             dirfd;
    /*  The segment list is shared by the appending thread (rotate) and
        the base-copy thread (trim). */
    pthread_mutex_t lock;
    uint64_t       *firsts;             /* first lsn of each segment, ascending */
    size_t          n, cap;
    int             fd;                 /* segment appended to; -1 before start */
    uint64_t        next;               /* number of the next frame */
    uint64_t        pending;            /* bytes since the last rotation */
    bool            broken;             /* a write failed: no more appends */
};

static void
s_name (const st_wal_t *self, uint64_t first, char *out, size_t outlen)
{
    snprintf (out, outlen, "%s/%016" PRIx64 ".wal", self->dir, first);
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
    pthread_mutex_init (&self->lock, NULL);
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

/* ---- appending ------------------------------------------------------------- */

static int
s_create (st_wal_t *self, uint64_t first, int *fd)
{
    char path[PATH_MAX];
    s_name (self, first, path, sizeof path);
    *fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (*fd < 0)
        return RT_ESTORE;
    /*  The new name must be durable before a frame in it is; a segment
        left on disk but not in use would mislead the next replay. */
    if (fsync (self->dirfd)) {
        close (*fd);
        *fd = -1;
        unlink (path);
        return RT_ESTORE;
    }
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
        acknowledged); one above it is a hole replay would have refused. */
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
    rc = s_create (self, next_lsn, &fd);
    if (rc)
        return rc;
    pthread_mutex_lock (&self->lock);
    rc = s_push (self, next_lsn);
    pthread_mutex_unlock (&self->lock);
    if (rc) {
        close (fd);
        return rc;
    }
    self->fd = fd;
    self->pending = 0;
    return 0;
}

/*  writev everything, across partial writes and IOV_MAX. */
static int
s_writev_all (int fd, struct iovec *iov, int iovcnt)
{
    while (iovcnt > 0) {
        int n = iovcnt < IOV_MAX ? iovcnt : IOV_MAX;
        ssize_t w = writev (fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
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
    int rc = s_writev_all (self->fd, v, iovcnt + 1);
    if (v != stack)
        free (v);
    if (rc) {
        self->broken = true;
        return RT_ESTORE;
    }
    *lsn = self->next++;
    self->pending += FRAME_HEADER + len;
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

uint64_t
st_wal_pending_bytes (st_wal_t *self)
{
    return self->pending;
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
    /*  The old segment is synced before the next one is used, so frames
        are durable in order (with sync = "nometasync" too). */
    if (fdatasync (self->fd)) {
        self->broken = true;
        return RT_ESTORE;
    }
    int fd;
    int rc = s_create (self, self->next, &fd);
    if (rc)
        return rc;
    pthread_mutex_lock (&self->lock);
    rc = s_push (self, self->next);
    pthread_mutex_unlock (&self->lock);
    if (rc) {
        close (fd);
        return rc;
    }
    close (self->fd);
    self->fd = fd;
    self->pending = 0;
    return 0;
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
