/*  test_store.c - the LMDB store and the group-commit thread, directly */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "tests/support/tmpdir.h"

#include "store/st_store.h"
#include "store/st_commit.h"
#include "store/st_keys.h"
#include "store/st_ops.h"
#include "store/st_wal.h"
#include "runtime/rt_error.h"
#include <fcntl.h>
#include <unistd.h>
#include <sys/wait.h>
#include <sys/stat.h>

static char s_dir[256];

static int
s_setup (void **state)
{
    (void) state;
    assert_int_equal (ts_tmpdir_make (s_dir, sizeof s_dir, "st"), 0);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    return ts_tmpdir_remove (s_dir);
}

static st_store_t *
s_open (uint32_t map_mb)
{
    st_options_t o = { .node_id = "n1", .shards = 8, .map_size_mb = map_mb };
    char err[256] = "";
    st_store_t *st = NULL;
    int rc = st_store_open (s_dir, &o, &st, err, sizeof err);
    if (rc)
        fprintf (stderr, "%s\n", err);
    assert_int_equal (rc, 0);
    return st;
}

static void
s_commit (st_committer_t *c, st_record_t *rec)
{
    uint64_t seq = st_committer_submit (c, &rec, NULL, NULL);
    assert_true (seq > 0);
    assert_true (st_committer_wait (c, seq, 10000));
}

static int
s_get (st_store_t *st, const st_key_t *k, const void **v, size_t *vlen)
{
    st_reader_t *r = st_reader_new (st);
    assert_int_equal (st_reader_begin (r), 0);
    static uint8_t copy[4096];
    const void *p;
    int rc = st_reader_get (r, k->b, k->len, &p, vlen);
    if (rc == 0 && *vlen <= sizeof copy) {
        memcpy (copy, p, *vlen);
        *v = copy;
    }
    st_reader_end (r);
    st_reader_destroy (&r);
    return rc;
}

typedef struct { size_t n; uint64_t first_due; } cnt_t;

static int
s_count_cb (void *arg, const void *k, size_t klen, const void *v, size_t vlen)
{
    (void) v;
    (void) vlen;
    cnt_t *c = arg;
    if (c->n++ == 0 && klen >= 11)
        c->first_due = st_get_u64 ((const uint8_t *) k + 3);
    return 0;
}

static cnt_t
s_count (st_store_t *st, uint32_t shard, uint8_t kind)
{
    st_key_t lo, hi;
    st_key_begin (&lo, shard, kind);
    st_key_begin (&hi, shard, (uint8_t) (kind + 1));
    cnt_t c = { 0, 0 };
    st_reader_t *r = st_reader_new (st);
    st_reader_begin (r);
    st_reader_scan (r, lo.b, lo.len, hi.b, hi.len, SIZE_MAX, s_count_cb, &c);
    st_reader_end (r);
    st_reader_destroy (&r);
    return c;
}

/* ---------------------------------------------------------------------- */

/*  A map far too small for what is written grows by doubling; every
    record lands, nothing is corrupted, and the size survives reopening. */
static void
test_map_grows_on_full (void **state)
{
    (void) state;
    st_store_t *st = s_open (1);
    uint64_t before = st_store_map_size (st);
    st_committer_t *c = st_committer_new (st, NULL);
    static uint8_t blob[2000];
    for (int i = 0; i < 5000; i++) {
        st_record_t *rec = st_record_new ();
        st_key_t k;
        st_key_begin (&k, (uint32_t) i % 8, ST_KIND_STATE);
        st_key_u32 (&k, (uint32_t) i);
        memset (blob, i & 0xff, sizeof blob);
        assert_int_equal (st_record_put (rec, k.b, k.len, blob, sizeof blob), 0);
        st_committer_submit (c, &rec, NULL, NULL);
    }
    assert_true (st_committer_wait (c, 5000, 30000));
    st_commit_stats_t cs;
    st_committer_stats (c, &cs);
    assert_int_equal (cs.failed_batches, 0);
    assert_true (cs.map_grows >= 3);
    assert_true (st_store_map_size (st) > before * 4);
    st_committer_destroy (&c);
    st_store_destroy (&st);
    st = s_open (1);
    for (int i = 0; i < 5000; i += 499) {
        st_key_t k;
        st_key_begin (&k, (uint32_t) i % 8, ST_KIND_STATE);
        st_key_u32 (&k, (uint32_t) i);
        const void *v;
        size_t vlen;
        assert_int_equal (s_get (st, &k, &v, &vlen), 0);
        assert_int_equal (vlen, sizeof blob);
        assert_int_equal (((const uint8_t *) v)[0], i & 0xff);
    }
    st_store_destroy (&st);
}

static int s_failed_done;

static void
s_count_failed (void *arg, uint64_t seq, int err)
{
    (void) arg;
    (void) seq;
    if (err)
        s_failed_done++;
}

/*  At the map's ceiling the batch fails with a clear error, every later
    record fails too (fail-stop), and what was committed before is intact
    when the store is opened again. */
static void
test_map_ceiling_fails_stop (void **state)
{
    (void) state;
    st_options_t o = { .node_id = "n1", .shards = 8, .map_size_mb = 1, .map_size_max_mb = 2 };
    char err[256];
    st_store_t *st = NULL;
    assert_int_equal (st_store_open (s_dir, &o, &st, err, sizeof err), 0);
    st_committer_t *c = st_committer_new (st, NULL);
    st_record_t *rec = st_record_new ();
    st_key_t k;
    st_key_begin (&k, 1, ST_KIND_STATE);
    st_key_bytes (&k, "kept", 4);
    st_record_put (rec, k.b, k.len, "v1", 2);
    s_commit (c, rec);
    static uint8_t blob[200 * 1024];
    uint64_t last = 0;
    s_failed_done = 0;
    for (int i = 0; i < 40; i++) {
        rec = st_record_new ();
        st_key_t bk;
        st_key_begin (&bk, 2, ST_KIND_STATE);
        st_key_u32 (&bk, (uint32_t) i);
        st_record_put (rec, bk.b, bk.len, blob, sizeof blob);
        last = st_committer_submit (c, &rec, s_count_failed, NULL);
    }
    assert_false (st_committer_wait (c, last, 30000));
    assert_int_equal (st_committer_failed (c), RT_EMAPFULL);
    /*  Sticky: even a tiny record now fails. */
    rec = st_record_new ();
    st_record_put (rec, k.b, k.len, "v2", 2);
    last = st_committer_submit (c, &rec, s_count_failed, NULL);
    assert_false (st_committer_wait (c, last, 10000));
    st_committer_destroy (&c);          /* drains: every callback has run */
    assert_true (s_failed_done >= 2);
    st_store_destroy (&st);
    assert_int_equal (st_store_open (s_dir, &o, &st, err, sizeof err), 0);
    const void *v;
    size_t vlen;
    assert_int_equal (s_get (st, &k, &v, &vlen), 0);
    assert_int_equal (vlen, 2);
    assert_memory_equal (v, "v1", 2);
    st_store_destroy (&st);
}

typedef struct { uint64_t last; int out_of_order; int calls; pthread_mutex_t m; } order_t;

static void
s_done (void *arg, uint64_t seq, int err)
{
    order_t *o = arg;
    assert_int_equal (err, 0);
    pthread_mutex_lock (&o->m);
    if (seq <= o->last)
        o->out_of_order++;
    o->last = seq;
    o->calls++;
    pthread_mutex_unlock (&o->m);
}

/*  Callbacks run once each, in submission order, only after durability;
    concurrent submitters share transactions (group commit). */
static void
test_group_commit_order (void **state)
{
    (void) state;
    st_store_t *st = s_open (16);
    st_committer_t *c = st_committer_new (st, NULL);
    order_t o = { 0, 0, 0, PTHREAD_MUTEX_INITIALIZER };
    uint64_t last = 0;
    for (int i = 0; i < 2000; i++) {
        st_record_t *rec = st_record_new ();
        st_key_t k;
        st_key_begin (&k, 1, ST_KIND_STATE);
        st_key_u32 (&k, (uint32_t) i);
        st_record_put (rec, k.b, k.len, "x", 1);
        last = st_committer_submit (c, &rec, s_done, &o);
    }
    assert_true (st_committer_wait (c, last, 30000));
    st_commit_stats_t cs;
    st_committer_stats (c, &cs);
    st_committer_destroy (&c);
    assert_int_equal (o.calls, 2000);
    assert_int_equal (o.out_of_order, 0);
    assert_true (cs.batches < 2000);        /* batched */
    assert_int_equal (cs.records, 2000);
    st_store_destroy (&st);
}

static void
test_reminder_ops (void **state)
{
    (void) state;
    st_store_t *st = s_open (16);
    st_committer_t *c = st_committer_new (st, NULL);
    const uint8_t who[] = { 0, 1, 3, 'a', 'b', 'c' };
    st_record_t *rec = st_record_new ();
    assert_int_equal (st_record_remind_set (rec, 2, who, sizeof who, "x", 1, 5000, "p", 1), 0);
    assert_int_equal (st_record_remind_set (rec, 2, who, sizeof who, "y", 1, 7000, "q", 1), 0);
    s_commit (c, rec);
    assert_int_equal (s_count (st, 2, ST_KIND_REMINDER).n, 2);
    assert_int_equal (s_count (st, 2, ST_KIND_REMINDER).first_due, 5000);
    /*  Moving "x" leaves one entry for it. */
    rec = st_record_new ();
    st_record_remind_set (rec, 2, who, sizeof who, "x", 1, 9000, "p", 1);
    s_commit (c, rec);
    assert_int_equal (s_count (st, 2, ST_KIND_REMINDER).n, 2);
    assert_int_equal (s_count (st, 2, ST_KIND_REMINDER).first_due, 7000);
    /*  Cancel "y"; cancelling an unknown name is a no-op. */
    rec = st_record_new ();
    st_record_remind_cancel (rec, 2, who, sizeof who, "y", 1);
    st_record_remind_cancel (rec, 2, who, sizeof who, "nope", 4);
    s_commit (c, rec);
    assert_int_equal (s_count (st, 2, ST_KIND_REMINDER).n, 1);
    assert_int_equal (s_count (st, 2, ST_KIND_REMIND_BY).n, 1);
    /*  A stale fire of an old due time of "x" must not delete the new one. */
    st_key_t stale;
    st_key_begin (&stale, 2, ST_KIND_REMINDER);
    st_key_u64 (&stale, 5000);
    st_key_bytes (&stale, who, sizeof who);
    st_key_bytes (&stale, "x", 1);
    rec = st_record_new ();
    st_record_remind_fired (rec, stale.b, stale.len);
    s_commit (c, rec);
    assert_int_equal (s_count (st, 2, ST_KIND_REMINDER).n, 1);
    assert_int_equal (s_count (st, 2, ST_KIND_REMIND_BY).n, 1);
    /*  The real fire deletes both entries. */
    st_key_t fired;
    st_key_begin (&fired, 2, ST_KIND_REMINDER);
    st_key_u64 (&fired, 9000);
    st_key_bytes (&fired, who, sizeof who);
    st_key_bytes (&fired, "x", 1);
    rec = st_record_new ();
    st_record_remind_fired (rec, fired.b, fired.len);
    s_commit (c, rec);
    assert_int_equal (s_count (st, 2, ST_KIND_REMINDER).n, 0);
    assert_int_equal (s_count (st, 2, ST_KIND_REMIND_BY).n, 0);
    /*  Bad arguments are refused at build time. */
    rec = st_record_new ();
    assert_int_equal (st_record_remind_set (rec, 2, who, sizeof who, "", 0, 1, NULL, 0), RT_EINVAL);
    assert_int_equal (st_record_remind_fired (rec, "ab", 2), RT_EINVAL);
    assert_true (st_record_empty (rec));
    st_record_destroy (&rec);
    st_committer_destroy (&c);
    st_store_destroy (&st);
}

static void
test_del_range (void **state)
{
    (void) state;
    st_store_t *st = s_open (16);
    st_committer_t *c = st_committer_new (st, NULL);
    st_record_t *rec = st_record_new ();
    for (uint32_t i = 0; i < 100; i++) {
        st_key_t k;
        st_key_begin (&k, 3, ST_KIND_DEDUP);
        st_key_u64 (&k, i);
        st_record_put (rec, k.b, k.len, "", 0);
    }
    s_commit (c, rec);
    st_key_t lo, hi;
    st_key_begin (&lo, 3, ST_KIND_DEDUP);
    st_key_u64 (&lo, 10);
    st_key_begin (&hi, 3, ST_KIND_DEDUP);
    st_key_u64 (&hi, 60);
    rec = st_record_new ();
    st_record_del_range (rec, lo.b, lo.len, hi.b, hi.len);
    s_commit (c, rec);
    assert_int_equal (s_count (st, 3, ST_KIND_DEDUP).n, 50);
    /*  Oversized keys are refused when the record is built. */
    uint8_t big[ST_KEY_MAX + 64];
    memset (big, 1, sizeof big);
    rec = st_record_new ();
    assert_int_equal (st_record_put (rec, big, sizeof big, "", 0), RT_ETOOBIG);
    st_record_destroy (&rec);
    st_committer_destroy (&c);
    st_store_destroy (&st);
}

/* ---- durability: the log, crashes, power failures ---------------------- */

static void
s_key (st_key_t *k, uint32_t i)
{
    st_key_begin (k, i % 8, ST_KIND_STATE);
    st_key_u32 (k, i);
}

static void
s_put (st_committer_t *c, uint32_t i, const char *val)
{
    st_record_t *rec = st_record_new ();
    st_key_t k;
    s_key (&k, i);
    assert_int_equal (st_record_put (rec, k.b, k.len, val, strlen (val)), 0);
    s_commit (c, rec);
}

static void
s_del (st_committer_t *c, uint32_t i)
{
    st_record_t *rec = st_record_new ();
    st_key_t k;
    s_key (&k, i);
    assert_int_equal (st_record_del (rec, k.b, k.len), 0);
    s_commit (c, rec);
}

/*  What the history below leaves: keys 0..199; 0..49 rewritten as "b<i>",
    50..59 deleted, the rest "a<i>". */
static void
s_expect_history (st_store_t *st)
{
    for (uint32_t i = 0; i < 200; i++) {
        st_key_t k;
        s_key (&k, i);
        const void *v;
        size_t vlen;
        int rc = s_get (st, &k, &v, &vlen);
        char want[32];
        snprintf (want, sizeof want, "%s%u", i < 50 ? "b" : i >= 100 ? "c" : "a", i);
        if (i >= 50 && i < 60) {
            assert_int_equal (rc, 1);
            continue;
        }
        assert_int_equal (rc, 0);
        assert_int_equal (vlen, strlen (want));
        assert_memory_equal (v, want, vlen);
    }
}

/*  In a child: write "a" values, take a base copy if asked, then the
    later history, all acknowledged; then die without closing anything
    (as kill -9 would). */
static void
s_crashing_child (bool base)
{
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        st_store_t *st = s_open (16);
        st_committer_t *c = st_committer_new (st, NULL);
        char v[32];
        for (uint32_t i = 0; i < 100; i++) {
            snprintf (v, sizeof v, "a%u", i);
            s_put (c, i, v);
        }
        if (base)
            assert_int_equal (st_store_base (st), 0);
        for (uint32_t i = 0; i < 50; i++) {
            snprintf (v, sizeof v, "b%u", i);
            s_put (c, i, v);
        }
        for (uint32_t i = 50; i < 60; i++)
            s_del (c, i);
        for (uint32_t i = 100; i < 200; i++) {
            snprintf (v, sizeof v, "c%u", i);
            s_put (c, i, v);
        }
        _exit (0);
    }
    int status;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
}

static void
s_write_file (const char *name, const void *b, size_t n)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, b, n), (ssize_t) n);
    close (fd);
}

/*  The machine "restarted" (another boot id in the marker, no clean
    close) and data.mdb holds garbage, as a torn write-back could leave it:
    the store starts from the base copy and replays the log after it, and
    every acknowledged write is there. */
static void
test_power_failure_restores_base (void **state)
{
    (void) state;
    s_crashing_child (true);
    const char *other = "00000000-1111-2222-3333-444444444444\n0\n";
    s_write_file ("boot", other, strlen (other));
    char path[512];
    snprintf (path, sizeof path, "%s/data.mdb", s_dir);
    struct stat sb;
    assert_int_equal (stat (path, &sb), 0);
    int fd = open (path, O_WRONLY);
    static uint8_t junk[1 << 16];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t) (i * 7919u >> 3);
    for (off_t off = 0; off < sb.st_size; off += (off_t) sizeof junk)
        assert_int_equal (pwrite (fd, junk, sizeof junk, off), (ssize_t) sizeof junk);
    close (fd);

    st_store_t *st = s_open (16);
    st_store_stats_t ss;
    st_store_stats (st, &ss);
    assert_int_equal (ss.restored, 1);
    assert_true (ss.replayed_frames >= 160);
    s_expect_history (st);
    st_store_destroy (&st);

    /*  Closed cleanly: trusted under any boot, nothing restored. */
    const char *clean = "00000000-1111-2222-3333-555555555555\n1\n";
    s_write_file ("boot", clean, strlen (clean));
    st = s_open (16);
    st_store_stats (st, &ss);
    assert_int_equal (ss.restored, 0);
    assert_int_equal (ss.replayed_frames, 0);
    s_expect_history (st);
    st_store_destroy (&st);
}

/*  Only the process died (same boot): data.mdb is trusted as the page
    cache kept it, nothing is restored, and everything is there. */
static void
test_process_crash_keeps_data (void **state)
{
    (void) state;
    s_crashing_child (false);
    st_store_t *st = s_open (16);
    st_store_stats_t ss;
    st_store_stats (st, &ss);
    assert_int_equal (ss.restored, 0);
    s_expect_history (st);
    st_store_destroy (&st);
}

/*  A frame synced to the log whose LMDB commit never happened (the
    process died between the two) is replayed on open. */
static void
test_logged_frame_replayed (void **state)
{
    (void) state;
    s_crashing_child (false);
    char dir[512], err[256] = "";
    snprintf (dir, sizeof dir, "%s/wal", s_dir);
    st_wal_t *w = NULL;
    assert_int_equal (st_wal_open (dir, &w, err, sizeof err), 0);
    uint64_t last = 0;
    st_store_t *probe = s_open (16);
    st_store_stats_t ss;
    st_store_stats (probe, &ss);
    last = ss.last_lsn;
    st_store_destroy (&probe);
    st_wal_destroy (&w);
    assert_int_equal (st_wal_open (dir, &w, err, sizeof err), 0);
    assert_int_equal (st_wal_start (w, last + 1), 0);
    /*  One put op: key 55 (deleted in the history) = "late". */
    st_key_t k;
    s_key (&k, 55);
    uint8_t op[ST_OP_HEADER + 64];
    op[0] = ST_OP_PUT;
    st_put_u16 (op + 1, (uint16_t) k.len);
    st_put_u32 (op + 3, 4);
    memcpy (op + ST_OP_HEADER, k.b, k.len);
    memcpy (op + ST_OP_HEADER + k.len, "late", 4);
    struct iovec iov = { op, ST_OP_HEADER + k.len + 4 };
    uint64_t lsn;
    assert_int_equal (st_wal_append (w, &iov, 1, &lsn), 0);
    assert_int_equal (st_wal_sync (w), 0);
    st_wal_destroy (&w);

    st_store_t *st = s_open (16);
    st_store_stats (st, &ss);
    assert_int_equal (ss.replayed_frames, 1);
    assert_int_equal (ss.last_lsn, lsn);
    const void *v;
    size_t vlen;
    assert_int_equal (s_get (st, &k, &v, &vlen), 0);
    assert_memory_equal (v, "late", 4);
    st_store_destroy (&st);
}

/*  A high-water mark only rises, whatever order its records commit in
    (two in one batch, lower last; then a lower one alone). */
static void
test_put_max_only_rises (void **state)
{
    (void) state;
    st_store_t *st = s_open (16);
    st_committer_t *c = st_committer_new (st, NULL);
    st_key_t k;
    st_key_begin (&k, 2, ST_KIND_META);
    st_key_bytes (&k, "oseq", 4);
    st_record_t *a = st_record_new (), *b = st_record_new ();
    assert_int_equal (st_record_put_max (a, k.b, k.len, 1026), 0);
    assert_int_equal (st_record_put_max (b, k.b, k.len, 1025), 0);
    st_committer_submit (c, &a, NULL, NULL);
    s_commit (c, b);
    const void *v;
    size_t vlen;
    assert_int_equal (s_get (st, &k, &v, &vlen), 0);
    assert_int_equal (st_get_u64 (v), 1026);
    st_record_t *r = st_record_new ();
    st_record_put_max (r, k.b, k.len, 7);
    s_commit (c, r);
    assert_int_equal (s_get (st, &k, &v, &vlen), 0);
    assert_int_equal (st_get_u64 (v), 1026);
    r = st_record_new ();
    st_record_put_max (r, k.b, k.len, 5000);
    s_commit (c, r);
    assert_int_equal (s_get (st, &k, &v, &vlen), 0);
    assert_int_equal (st_get_u64 (v), 5000);
    st_committer_destroy (&c);
    st_store_destroy (&st);
}

/*  A conditional delete is decided when its record commits: a newer
    value written after the deleter looked (in an earlier batch, or
    earlier in the same one) stays; the value it looked at goes; an
    absent key is no error. */
static void
test_del_if_keeps_a_newer_value (void **state)
{
    (void) state;
    st_store_t *st = s_open (16);
    st_committer_t *c = st_committer_new (st, NULL);
    st_key_t k, gone;
    st_key_begin (&k, 3, ST_KIND_IDEM);
    st_key_bytes (&k, "key", 3);
    st_key_begin (&gone, 3, ST_KIND_IDEM);
    st_key_bytes (&gone, "never", 5);
    const void *v;
    size_t vlen;
    /*  Written with expiry "old1", overwritten with "new2", then a delete
        of "old1" in another batch: kept. */
    st_record_t *r = st_record_new ();
    st_record_put (r, k.b, k.len, "fp..old1body", 12);
    s_commit (c, r);
    r = st_record_new ();
    st_record_put (r, k.b, k.len, "fp..new2body", 12);
    s_commit (c, r);
    r = st_record_new ();
    assert_int_equal (st_record_del_if (r, k.b, k.len, 4, "old1", 4), 0);
    assert_int_equal (st_record_del_if (r, gone.b, gone.len, 4, "old1", 4), 0);
    s_commit (c, r);
    assert_int_equal (s_get (st, &k, &v, &vlen), 0);
    assert_memory_equal (v, "fp..new2body", 12);
    /*  The same within one record: the put comes first, the delete keeps it. */
    r = st_record_new ();
    st_record_put (r, k.b, k.len, "fp..new3body", 12);
    st_record_del_if (r, k.b, k.len, 4, "new2", 4);
    s_commit (c, r);
    assert_int_equal (s_get (st, &k, &v, &vlen), 0);
    assert_memory_equal (v, "fp..new3body", 12);
    /*  Past the value's end: kept. The bytes it holds: deleted. */
    r = st_record_new ();
    st_record_del_if (r, k.b, k.len, 10, "body", 4);
    s_commit (c, r);
    assert_int_equal (s_get (st, &k, &v, &vlen), 0);
    r = st_record_new ();
    st_record_del_if (r, k.b, k.len, 4, "new3", 4);
    s_commit (c, r);
    assert_int_equal (s_get (st, &k, &v, &vlen), 1);
    /*  More bytes than a record takes: refused, nothing queued. */
    r = st_record_new ();
    uint8_t big[100] = { 0 };
    assert_int_equal (st_record_del_if (r, k.b, k.len, 0, big, sizeof big), RT_ETOOBIG);
    assert_true (st_record_empty (r));
    st_record_destroy (&r);
    st_committer_destroy (&c);
    st_store_destroy (&st);
}

/*  A base copy lets the log before it go. */
static void
test_base_trims_log (void **state)
{
    (void) state;
    st_store_t *st = s_open (16);
    st_committer_t *c = st_committer_new (st, NULL);
    for (uint32_t i = 0; i < 50; i++)
        s_put (c, i, "x");
    st_store_stats_t ss;
    assert_int_equal (st_store_base (st), 0);
    for (uint32_t i = 0; i < 5; i++)
        s_put (c, i, "y");
    assert_int_equal (st_store_base (st), 0);
    st_store_stats (st, &ss);
    assert_int_equal (ss.base_lsn, ss.last_lsn);
    assert_int_equal (ss.log_segments, 1);
    assert_true (ss.base_copies >= 2);
    st_committer_destroy (&c);
    st_store_destroy (&st);
}

int
main (int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_map_grows_on_full, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_map_ceiling_fails_stop, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_group_commit_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reminder_ops, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_del_range, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_power_failure_restores_base, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_process_crash_keeps_data, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_logged_frame_replayed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_base_trims_log, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_put_max_only_rises, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_del_if_keeps_a_newer_value, s_setup, s_teardown),
    };
    if (argc > 1)
        cmocka_set_test_filter (argv[1]);
    return cmocka_run_group_tests (tests, NULL, NULL);
}
