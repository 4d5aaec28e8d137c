/*  test_wal.c - the write-ahead log's frames and segments, directly */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "tests/support/tmpdir.h"

#include "store/st_wal.h"
#include "store/st_crc.h"
#include "runtime/rt_error.h"
#include "runtime/rt_limits.h"

static char s_dir[256];

static int
s_setup (void **state)
{
    (void) state;
    assert_int_equal (ts_tmpdir_make (s_dir, sizeof s_dir, "wal"), 0);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    (void) umount2 (s_dir, MNT_DETACH);     /* test_spare_on_full_disk's, if it failed */
    return ts_tmpdir_remove (s_dir);
}

static st_wal_t *
s_open (void)
{
    char err[256] = "";
    st_wal_t *w = NULL;
    assert_int_equal (st_wal_open (s_dir, &w, err, sizeof err), 0);
    return w;
}

/*  Append frame number i as two parts: "frame-<i>" and i bytes of i. */
static void
s_append (st_wal_t *w, uint64_t want)
{
    char head[32];
    static uint8_t body[4096];
    int hn = snprintf (head, sizeof head, "frame-%llu", (unsigned long long) want);
    memset (body, (int) (want & 0xff), want % sizeof body);
    struct iovec iov[2] = { { head, (size_t) hn }, { body, want % sizeof body } };
    uint64_t lsn = 0;
    assert_int_equal (st_wal_append (w, iov, 2, &lsn), 0);
    assert_int_equal (lsn, want);
}

typedef struct { uint64_t first, last, n; int bad; } seen_t;

static int
s_seen (void *arg, uint64_t lsn, const uint8_t *p, size_t len)
{
    seen_t *s = arg;
    char head[32];
    int hn = snprintf (head, sizeof head, "frame-%llu", (unsigned long long) lsn);
    if (len != (size_t) hn + lsn % 4096 || memcmp (p, head, (size_t) hn))
        s->bad++;
    for (size_t i = (size_t) hn; i < len; i++)
        if (p[i] != (uint8_t) (lsn & 0xff))
            s->bad++;
    if (!s->n)
        s->first = lsn;
    s->last = lsn;
    s->n++;
    return 0;
}

static seen_t
s_replay (st_wal_t *w, uint64_t after, int want_rc)
{
    seen_t s = { 0 };
    uint64_t last = 0;
    char err[256] = "";
    assert_int_equal (st_wal_replay (w, after, s_seen, &s, &last, err, sizeof err), want_rc);
    assert_int_equal (s.bad, 0);
    if (want_rc == 0)
        assert_int_equal (last, s.n ? s.last : after);
    return s;
}

static off_t
s_size (uint64_t first)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%016llx.wal", s_dir, (unsigned long long) first);
    struct stat st;
    return stat (path, &st) == 0 ? st.st_size : -1;
}

static void
s_truncate (uint64_t first, off_t len)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%016llx.wal", s_dir, (unsigned long long) first);
    assert_int_equal (truncate (path, len), 0);
}

/* ---------------------------------------------------------------------- */

/*  CRC-32C against the standard check value, and hardware = table. */
static void
test_crc32c (void **state)
{
    (void) state;
    assert_int_equal (st_crc32c (0, "123456789", 9), 0xE3069283u);
    uint32_t a = st_crc32c (0, "12345", 5);
    assert_int_equal (st_crc32c (a, "6789", 4), 0xE3069283u);
}

/*  Frames come back in order with their bytes, across segments, from any
    starting point; numbering continues after reopening. */
static void
test_replay_in_order (void **state)
{
    (void) state;
    st_wal_t *w = s_open ();
    assert_int_equal (st_wal_start (w, 1), 0);
    for (uint64_t i = 1; i <= 50; i++)
        s_append (w, i);
    assert_int_equal (st_wal_rotate (w), 0);
    for (uint64_t i = 51; i <= 120; i++)
        s_append (w, i);
    assert_int_equal (st_wal_sync (w), 0);
    assert_int_equal (st_wal_segments (w), 2);
    st_wal_destroy (&w);

    w = s_open ();
    seen_t s = s_replay (w, 0, 0);
    assert_int_equal (s.n, 120);
    assert_int_equal (s.first, 1);
    s = s_replay (w, 70, 0);
    assert_int_equal (s.n, 50);
    assert_int_equal (s.first, 71);
    s = s_replay (w, 120, 0);
    assert_int_equal (s.n, 0);
    assert_int_equal (st_wal_start (w, 121), 0);
    s_append (w, 121);
    st_wal_destroy (&w);
    w = s_open ();
    assert_int_equal (s_replay (w, 0, 0).n, 121);
    st_wal_destroy (&w);
}

/*  A torn last frame (a crash mid-write) ends the log there; appends after
    reopening go to a new segment, and the next replay reads past the torn
    tail into it: nothing acknowledged after the crash is lost. */
static void
test_torn_tail (void **state)
{
    (void) state;
    st_wal_t *w = s_open ();
    assert_int_equal (st_wal_start (w, 1), 0);
    for (uint64_t i = 1; i <= 10; i++)
        s_append (w, i);
    st_wal_destroy (&w);
    s_truncate (1, s_size (1) - 5);

    w = s_open ();
    seen_t s = s_replay (w, 0, 0);
    assert_int_equal (s.n, 9);
    assert_int_equal (st_wal_start (w, 10), 0);
    for (uint64_t i = 10; i <= 15; i++)
        s_append (w, i);
    st_wal_destroy (&w);
    w = s_open ();
    s = s_replay (w, 0, 0);
    assert_int_equal (s.n, 15);
    assert_int_equal (s.last, 15);
    st_wal_destroy (&w);
}

/*  A flipped byte in a frame (bad CRC) ends the log before it. */
static void
test_bad_crc_stops (void **state)
{
    (void) state;
    st_wal_t *w = s_open ();
    assert_int_equal (st_wal_start (w, 1), 0);
    for (uint64_t i = 1; i <= 5; i++)
        s_append (w, i);
    st_wal_destroy (&w);
    /*  Frame 3 starts after frames 1 and 2 (20-byte headers). */
    off_t off = 2 * 20 + (off_t) strlen ("frame-1") + 1 + (off_t) strlen ("frame-2") + 2 + 25;
    char path[512];
    snprintf (path, sizeof path, "%s/%016llx.wal", s_dir, 1ull);
    int fd = open (path, O_RDWR);
    uint8_t b;
    assert_int_equal (pread (fd, &b, 1, off), 1);
    b ^= 0x40;
    assert_int_equal (pwrite (fd, &b, 1, off), 1);
    close (fd);
    w = s_open ();
    seen_t s = s_replay (w, 0, 0);
    assert_int_equal (s.n, 2);
    st_wal_destroy (&w);
}

/*  A new log with frames 1..30 in segments 1, 11 and 21, appending to 31. */
static st_wal_t *
s_thirty (void)
{
    st_wal_t *w = s_open ();
    assert_int_equal (st_wal_start (w, 1), 0);
    for (uint64_t i = 1; i <= 30; i++) {
        s_append (w, i);
        if (i % 10 == 0)
            assert_int_equal (st_wal_rotate (w), 0);
    }
    return w;
}

/*  Trim drops the segments wholly at or below a number, never the one
    appended to; a log whose needed first segment is gone is refused. */
static void
test_trim_and_gap (void **state)
{
    (void) state;
    st_wal_t *w = s_thirty ();
    assert_int_equal (st_wal_segments (w), 4);   /* 1, 11, 21, 31 (empty) */
    st_wal_trim (w, 15);
    assert_int_equal (st_wal_segments (w), 3);   /* 11.. still holds 11-15 */
    st_wal_trim (w, 20);
    assert_int_equal (st_wal_segments (w), 2);
    st_wal_trim (w, 1000);
    assert_int_equal (st_wal_segments (w), 1);   /* the current one stays */
    st_wal_destroy (&w);

    w = s_open ();
    seen_t s = s_replay (w, 30, 0);
    assert_int_equal (s.n, 0);
    s_replay (w, 5, RT_ECORRUPT);              /* frame 6 is gone */
    st_wal_destroy (&w);
}

/*  A hole after some progress (a lost middle segment) is refused too:
    replaying up to it and going on would drop the acknowledged frames
    after it. */
static void
test_hole_refused (void **state)
{
    (void) state;
    st_wal_t *w = s_thirty ();
    st_wal_destroy (&w);
    char path[512];
    snprintf (path, sizeof path, "%s/%016llx.wal", s_dir, 11ull);
    assert_int_equal (unlink (path), 0);
    w = s_open ();
    s_replay (w, 0, RT_ECORRUPT);
    assert_int_equal (st_wal_start (w, 11), RT_ECORRUPT);
    st_wal_destroy (&w);
}


/*  Frames past the spare's trigger move into zero-filled segments, which
    they overwrite in place (each stays exactly its prepared size); after
    the first spare no frame goes past the zeros while spares keep up. A
    replay reads every frame and stops at the zeros. A spare or a
    prepared segment without frames that a killed process left changes
    nothing. */
static void
test_spares_prepared_ahead (void **state)
{
    (void) state;
    const uint64_t seg = 64 << 10;
    st_wal_t *w = s_open ();
    st_wal_sizes (w, seg, 8 << 10);
    assert_int_equal (st_wal_start (w, 1), 0);
    uint64_t i = 0, used = 0, unprepared = 0, at_first = 0;
    /*  Until the first spare is in use: the spare thread is asked once
        the first segment holds 8 KiB. */
    for (int tries = 0; used == 0 && tries < 5000; tries++) {
        s_append (w, ++i);
        st_wal_stats (w, &used, &unprepared);
        if (!used)
            usleep (1000);
    }
    assert_int_equal (used, 1);
    at_first = unprepared;
    assert_true (at_first >= 4);             /* 8 KiB of frames before the ask */
    /*  Five more segments' worth, pausing now and then as a node does
        between batches, so the spare thread keeps up. */
    uint64_t first_prepared = i;
    while (used < 6) {
        s_append (w, ++i);
        if (i % 4 == 0)
            usleep (2000);
        st_wal_stats (w, &used, &unprepared);
        assert_true (i < 100000);
    }
    assert_int_equal (unprepared, at_first);
    assert_int_equal (st_wal_sync (w), 0);
    assert_int_equal (st_wal_segments (w), 7);
    st_wal_destroy (&w);

    /*  Every prepared segment is its zero-filled size: frames overwrote
        the zeros, none grew the file. */
    DIR *d = opendir (s_dir);
    assert_non_null (d);
    struct dirent *e;
    int prepared = 0, others = 0;
    while ((e = readdir (d))) {
        unsigned long long first;
        if (sscanf (e->d_name, "%16llx.wal", &first) != 1)
            continue;
        if (first == 1)
            assert_true (s_size (1) < (off_t) seg);
        else {
            assert_true (first >= first_prepared);
            assert_int_equal (s_size (first), (off_t) seg);
            prepared++;
        }
        others += first != 1 && first < first_prepared;
    }
    closedir (d);
    assert_int_equal (prepared, 6);
    assert_int_equal (others, 0);
    char path[512];
    snprintf (path, sizeof path, "%s/next.spare", s_dir);
    assert_int_equal (access (path, F_OK), -1);     /* destroy removes it */

    /*  A killed process's leftovers: a half-made spare, and a spare
        renamed after the next frame with no frame in it yet. */
    static uint8_t zeros[64 << 10];
    int fd = open (path, O_WRONLY | O_CREAT, 0600);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, "PWAL garbage", 12), 12);
    close (fd);
    snprintf (path, sizeof path, "%s/%016llx.wal", s_dir, (unsigned long long) i + 1);
    fd = open (path, O_WRONLY | O_CREAT, 0600);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, zeros, sizeof zeros), (ssize_t) sizeof zeros);
    close (fd);
    w = s_open ();
    snprintf (path, sizeof path, "%s/next.spare", s_dir);
    assert_int_equal (access (path, F_OK), -1);
    seen_t s = s_replay (w, 0, 0);
    assert_int_equal (s.n, i);
    assert_int_equal (st_wal_start (w, i + 1), 0);
    s_append (w, i + 1);
    assert_int_equal (st_wal_sync (w), 0);
    st_wal_destroy (&w);
    w = s_open ();
    s = s_replay (w, 0, 0);
    assert_int_equal (s.n, i + 1);
    st_wal_destroy (&w);
}

/*  A disk that cannot hold the next segment: the log says so (the node
    then refuses outside writes) while frames go on in the current one,
    and stops saying so once the spare can be made. The disk is a small
    tmpfs over the test's directory (root only). */
static void
test_spare_on_full_disk (void **state)
{
    (void) state;
    if (geteuid () != 0 || mount ("tmpfs", s_dir, "tmpfs", 0, "size=256k")) {
        skip ();
        return;
    }
    st_wal_t *w = s_open ();
    st_wal_sizes (w, 1 << 20, 8 << 10);         /* a spare of 1 MiB cannot fit */
    assert_int_equal (st_wal_start (w, 1), 0);
    assert_false (st_wal_space_low (w));
    uint64_t i = 0;
    for (int tries = 0; !st_wal_space_low (w) && tries < 2000; tries++) {
        if (i < 200)
            s_append (w, ++i);                  /* 20 KiB: past 8 the spare is asked */
        usleep (1000);
    }
    assert_true (st_wal_space_low (w));
    s_append (w, ++i);                          /* the current segment goes on */
    assert_int_equal (st_wal_sync (w), 0);
    /*  Space freed: the spare thread's next try (RT_WAL_SPARE_RETRY_MS)
        makes it, and the log no longer says space is low. */
    assert_int_equal (mount (NULL, s_dir, NULL, MS_REMOUNT, "size=4m"), 0);
    for (int tries = 0; st_wal_space_low (w) && tries < (int) (2 * RT_WAL_SPARE_RETRY_MS / 10); tries++)
        usleep (10 * 1000);
    assert_false (st_wal_space_low (w));
    st_wal_destroy (&w);
    w = s_open ();
    assert_int_equal (s_replay (w, 0, 0).n, i);
    st_wal_destroy (&w);
}

int
main (int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_crc32c),
        cmocka_unit_test_setup_teardown (test_replay_in_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_torn_tail, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_crc_stops, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_trim_and_gap, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_hole_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_spares_prepared_ahead, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_spare_on_full_disk, s_setup, s_teardown),
    };
    if (argc > 1)
        cmocka_set_test_filter (argv[1]);
    return cmocka_run_group_tests (tests, NULL, NULL);
}
