/*  test_runtime.c - the actor runtime and its store, through the public API
    with the counter test actor: real threads, real LMDB with fsync. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "tests/support/tmpdir.h"

#include "runtime/rt_runtime.h"
#include "runtime/rt_error.h"
#include "runtime/rt_internal.h"      /* rt_worker_for: to place two actors apart */
#include "store/st_store.h"
#include "store/st_keys.h"
#include "tests/support/counter.h"

static char s_dir[256];

static rt_runtime_t *
s_open (rt_options_t *o)
{
    rt_options_t opts = { .data_dir = s_dir, .node_id = "t1", .shards = 16, .workers = 2 };
    if (o) {
        opts = *o;
        opts.data_dir = s_dir;
        opts.node_id = opts.node_id ? opts.node_id : "t1";
        opts.shards = opts.shards ? opts.shards : 16;
        opts.workers = opts.workers ? opts.workers : 2;
    }
    char err[256] = "";
    rt_runtime_t *rt = rt_runtime_new (&opts, err, sizeof err);
    if (!rt)
        fprintf (stderr, "open: %s\n", err);
    assert_non_null (rt);
    assert_int_equal (rt_register (rt, COUNTER_TYPE, &counter_type), 0);
    assert_int_equal (rt_start (rt), 0);
    return rt;
}

static int
s_setup (void **state)
{
    (void) state;
    assert_int_equal (ts_tmpdir_make (s_dir, sizeof s_dir, "rt"), 0);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    return ts_tmpdir_remove (s_dir);
}

static long long
s_get (rt_runtime_t *rt, const char *key)
{
    long long v = -1;
    assert_int_equal (counter_ask (rt, key, CTR_GET, NULL, &v, 5000), 200);
    return v;
}

/* ---------------------------------------------------------------------- */

static void
test_inc_and_get (void **state)
{
    (void) state;
    rt_runtime_t *rt = s_open (NULL);
    long long v = 0;
    assert_int_equal (counter_ask (rt, "a", CTR_INC, "5", &v, 5000), 200);
    assert_int_equal (v, 5);
    assert_int_equal (counter_ask (rt, "a", CTR_INC, "-2", &v, 5000), 200);
    assert_int_equal (v, 3);
    assert_int_equal (s_get (rt, "a"), 3);
    assert_int_equal (s_get (rt, "other"), 0);
    rt_runtime_destroy (&rt);
    assert_null (rt);
}

typedef struct { rt_runtime_t *rt; int n; int acked; } inc_arg_t;

static void *
s_incs (void *p)
{
    inc_arg_t *a = p;
    for (int i = 0; i < a->n; i++)
        if (counter_ask (a->rt, "hot", CTR_INC, "1", NULL, 10000) == 200)
            a->acked++;
    return NULL;
}

/*  Many threads asking increments of one counter: the final value equals
    the number of acknowledged asks (one actor, one turn at a time). */
static void
test_linearizable_counter (void **state)
{
    (void) state;
    rt_runtime_t *rt = s_open (NULL);
    enum { THREADS = 8, EACH = 400 };
    pthread_t th[THREADS];
    inc_arg_t args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (inc_arg_t) { rt, EACH, 0 };
        pthread_create (&th[i], NULL, s_incs, &args[i]);
    }
    int acked = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join (th[i], NULL);
        acked += args[i].acked;
    }
    assert_int_equal (acked, THREADS * EACH);
    assert_int_equal (s_get (rt, "hot"), acked);
    rt_runtime_destroy (&rt);
    /*  And it is on disk. */
    rt = s_open (NULL);
    assert_int_equal (s_get (rt, "hot"), acked);
    rt_runtime_destroy (&rt);
}

static int
s_idem_ask (rt_runtime_t *rt, const char *scope, const char *key, uint8_t fpbyte,
            const char *body, rt_reply_t *rep)
{
    uint8_t fp[32];
    memset (fp, fpbyte, sizeof fp);
    rt_request_t req = {
        .to_type = COUNTER_TYPE, .to_key = "idem", .to_key_len = 4,
        .msg_type = CTR_INC, .body = body, .body_len = strlen (body),
        .idem_scope = scope, .idem_key = key, .fingerprint = fp,
    };
    return rt_ask (rt, &req, 5000, rep);
}

static void
test_idempotency (void **state)
{
    (void) state;
    rt_runtime_t *rt = s_open (NULL);
    rt_reply_t r;
    assert_int_equal (s_idem_ask (rt, "usr_1 POST /x", "k1", 1, "7", &r), 0);
    assert_int_equal (r.status, 200);
    assert_false (r.replayed);
    assert_memory_equal (r.body, "7", 1);
    rt_reply_free (&r);
    /*  Same key, same request: the stored answer, no second effect. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal (s_idem_ask (rt, "usr_1 POST /x", "k1", 1, "7", &r), 0);
        assert_true (r.replayed);
        assert_int_equal (r.body_len, 1);
        assert_memory_equal (r.body, "7", 1);
        rt_reply_free (&r);
    }
    assert_int_equal (s_get (rt, "idem"), 7);
    /*  Same key, another request: refused, nothing changes. */
    assert_int_equal (s_idem_ask (rt, "usr_1 POST /x", "k1", 2, "9", &r), RT_EIDEM_REUSED);
    rt_reply_free (&r);
    assert_int_equal (s_get (rt, "idem"), 7);
    /*  Same key in another scope (another user): its own effect. */
    assert_int_equal (s_idem_ask (rt, "usr_2 POST /x", "k1", 2, "1", &r), 0);
    assert_false (r.replayed);
    rt_reply_free (&r);
    assert_int_equal (s_get (rt, "idem"), 8);
    rt_runtime_destroy (&rt);
    /*  The record is durable with the effect. */
    rt = s_open (NULL);
    assert_int_equal (s_idem_ask (rt, "usr_1 POST /x", "k1", 1, "7", &r), 0);
    assert_true (r.replayed);
    assert_memory_equal (r.body, "7", 1);
    rt_reply_free (&r);
    assert_int_equal (s_get (rt, "idem"), 8);
    rt_runtime_destroy (&rt);
}

static int
s_visit (void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void) arg, (void) key, (void) klen, (void) val, (void) vlen;
    return 0;
}

/*  Keys of one kind in the stopped runtime's store, all shards. */
static size_t
s_count_kind (uint8_t kind)
{
    st_options_t so = { .node_id = "t1", .shards = 16, .map_size_mb = 16 };
    char err[256] = "";
    st_store_t *st = NULL;
    assert_int_equal (st_store_open (s_dir, &so, &st, err, sizeof err), 0);
    st_reader_t *r = st_reader_new (st);
    assert_int_equal (st_reader_begin (r), 0);
    size_t n = 0;
    for (uint32_t s = 0; s < 16; s++) {
        st_key_t lo, hi;
        st_key_begin (&lo, s, kind);
        st_key_begin (&hi, s, kind + 1);
        n += (size_t) st_reader_scan (r, lo.b, lo.len, hi.b, hi.len, SIZE_MAX, s_visit, NULL);
    }
    st_reader_end (r);
    st_reader_destroy (&r);
    st_store_destroy (&st);
    return n;
}

/*  Expired idempotency records are swept from the store, and a key used
    again after its record expired keeps its new record through the
    sweep of the old one. */
static void
test_idempotency_records_expire (void **state)
{
    (void) state;
    rt_options_t o = { .idem_retention_s = 1 };
    rt_runtime_t *rt = s_open (&o);
    rt_reply_t r;
    assert_int_equal (s_idem_ask (rt, "usr_1 POST /x", "k1", 1, "7", &r), 0);
    rt_reply_free (&r);
    assert_int_equal (s_idem_ask (rt, "usr_1 POST /x", "k2", 1, "1", &r), 0);
    rt_reply_free (&r);
    rt_runtime_destroy (&rt);
    assert_int_equal (s_count_kind (ST_KIND_IDEM), 2);
    assert_int_equal (s_count_kind (ST_KIND_IDEM_EXP), 2);
    usleep (1100 * 1000);
    /*  Both expired. k1 is used again at once, with a day's retention,
        before the first sweep (1 s after start) takes the old entries. */
    o.idem_retention_s = 86400;
    rt = s_open (&o);
    assert_int_equal (s_idem_ask (rt, "usr_1 POST /x", "k1", 2, "9", &r), 0);
    assert_false (r.replayed);
    rt_reply_free (&r);
    usleep (1600 * 1000);
    assert_int_equal (s_idem_ask (rt, "usr_1 POST /x", "k1", 2, "9", &r), 0);
    assert_true (r.replayed);
    rt_reply_free (&r);
    assert_int_equal (s_get (rt, "idem"), 17);
    rt_runtime_destroy (&rt);
    /*  k2's record and both old expiry entries are gone; k1's new one stays. */
    assert_int_equal (s_count_kind (ST_KIND_IDEM), 1);
    assert_int_equal (s_count_kind (ST_KIND_IDEM_EXP), 1);
}

/*  Concurrent duplicates (same key, in flight together) run once. */
typedef struct { rt_runtime_t *rt; int replayed, fresh; } dup_arg_t;

static void *
s_dups (void *p)
{
    dup_arg_t *a = p;
    for (int i = 0; i < 50; i++) {
        rt_reply_t r;
        if (s_idem_ask (a->rt, "s", "dup", 3, "1", &r) == 0) {
            if (r.replayed) a->replayed++; else a->fresh++;
        }
        rt_reply_free (&r);
    }
    return NULL;
}

static void
test_idempotency_concurrent (void **state)
{
    (void) state;
    rt_runtime_t *rt = s_open (NULL);
    pthread_t th[4];
    dup_arg_t args[4] = { { rt, 0, 0 }, { rt, 0, 0 }, { rt, 0, 0 }, { rt, 0, 0 } };
    for (int i = 0; i < 4; i++)
        pthread_create (&th[i], NULL, s_dups, &args[i]);
    int fresh = 0, replayed = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join (th[i], NULL);
        fresh += args[i].fresh;
        replayed += args[i].replayed;
    }
    assert_int_equal (fresh, 1);
    assert_int_equal (replayed, 199);
    assert_int_equal (s_get (rt, "idem"), 1);
    rt_runtime_destroy (&rt);
}

static void
test_abort_and_kill (void **state)
{
    (void) state;
    rt_runtime_t *rt = s_open (NULL);
    assert_int_equal (counter_ask (rt, "k", CTR_INC, "3", NULL, 5000), 200);
    /*  The aborted turn's +1000 is neither kept nor visible. */
    assert_int_equal (counter_ask (rt, "k", CTR_ABORT, NULL, NULL, 5000), 500);
    assert_int_equal (s_get (rt, "k"), 3);
    assert_int_equal (rt_kill (rt, COUNTER_TYPE, "k", 1), 0);
    assert_int_equal (s_get (rt, "k"), 3);
    rt_stats_t st;
    rt_stats (rt, &st);
    assert_true (st.kills >= 2);
    assert_true (st.activations >= 3);
    rt_runtime_destroy (&rt);
}

/*  Kill right after acknowledged writes, many times: the reactivated
    actor always sees every acknowledged increment. */
static void
test_kill_loses_nothing_acked (void **state)
{
    (void) state;
    rt_runtime_t *rt = s_open (NULL);
    long long acked = 0;
    for (int i = 0; i < 200; i++) {
        long long v;
        if (counter_ask (rt, "kk", CTR_INC, "1", &v, 5000) == 200)
            acked++;
        rt_kill (rt, COUNTER_TYPE, "kk", 2);
    }
    assert_int_equal (s_get (rt, "kk"), acked);
    rt_runtime_destroy (&rt);
}

static void
test_passivation (void **state)
{
    (void) state;
    rt_options_t o = { .passivate_idle_ms = 50 };
    rt_runtime_t *rt = s_open (&o);
    char key[16];
    for (int i = 0; i < 100; i++) {
        snprintf (key, sizeof key, "p%d", i);
        assert_int_equal (counter_ask (rt, key, CTR_INC, "2", NULL, 5000), 200);
    }
    rt_stats_t st;
    for (int i = 0; i < 50; i++) {
        usleep (20000);
        rt_stats (rt, &st);
        if (st.resident == 0)
            break;
    }
    assert_int_equal (st.resident, 0);
    assert_true (st.passivations >= 100);
    for (int i = 0; i < 100; i++) {
        snprintf (key, sizeof key, "p%d", i);
        assert_int_equal (s_get (rt, key), 2);
    }
    rt_runtime_destroy (&rt);
}

/*  [debug] kill_actors_per_min: resident actors die at random, and what
    they had committed is still there when they come back. */
static void
test_random_kills (void **state)
{
    (void) state;
    rt_options_t o = { .kill_actors_per_min = 6000 };      /* 100/s */
    rt_runtime_t *rt = s_open (&o);
    char key[16];
    for (int i = 0; i < 200; i++) {
        snprintf (key, sizeof key, "k%d", i);
        assert_int_equal (counter_ask (rt, key, CTR_INC, "3", NULL, 5000), 200);
    }
    rt_stats_t st;
    for (int i = 0; i < 100; i++) {
        usleep (20000);
        rt_stats (rt, &st);
        if (st.kills >= 20)
            break;
    }
    assert_true (st.kills >= 20);
    for (int i = 0; i < 200; i++) {
        snprintf (key, sizeof key, "k%d", i);
        assert_int_equal (s_get (rt, key), 3);
    }
    rt_runtime_destroy (&rt);
}

static void
test_resident_limit (void **state)
{
    (void) state;
    rt_options_t o = { .max_resident = 1000 };
    rt_runtime_t *rt = s_open (&o);
    char key[16];
    for (int i = 0; i < 4000; i++) {
        snprintf (key, sizeof key, "r%d", i);
        assert_int_equal (counter_ask (rt, key, CTR_GET, NULL, NULL, 5000), 200);
    }
    usleep (300000);
    rt_stats_t st;
    rt_stats (rt, &st);
    assert_true (st.resident <= 1000 + 2 * 2);
    assert_true (st.passivations >= 2900);
    rt_runtime_destroy (&rt);
}

static void
test_mailbox_overflow_refused (void **state)
{
    (void) state;
    rt_options_t o = { .mailbox_max = 16 };
    rt_runtime_t *rt = s_open (&o);
    rt_request_t slow = { .to_type = COUNTER_TYPE, .to_key = "busy", .to_key_len = 4,
                          .msg_type = CTR_SLOW, .body = "300", .body_len = 3 };
    assert_int_equal (rt_tell (rt, &slow), 0);
    usleep (50000);
    rt_request_t inc = { .to_type = COUNTER_TYPE, .to_key = "busy", .to_key_len = 4,
                         .msg_type = CTR_INC, .body = "1", .body_len = 1 };
    for (int i = 0; i < 100; i++)
        assert_int_equal (rt_tell (rt, &inc), 0);      /* the inbox takes them */
    rt_reply_t r;
    int rc = rt_ask (rt, &inc, 5000, &r);
    rt_reply_free (&r);
    assert_int_equal (rc, RT_EOVERLOADED);
    rt_stats_t st;
    rt_stats (rt, &st);
    assert_true (st.refused_overloaded >= 85);
    /*  Exactly the 16 that fitted ran. */
    assert_int_equal (s_get (rt, "busy"), 16);
    rt_runtime_destroy (&rt);
}

/*  An ask whose deadline passes while it waits behind a slow turn is not
    run at all: the caller gets RT_ETIMEOUT and the state is unchanged. */
static void
test_expired_asks_not_run (void **state)
{
    (void) state;
    rt_runtime_t *rt = s_open (NULL);
    rt_request_t slow = { .to_type = COUNTER_TYPE, .to_key = "late", .to_key_len = 4,
                          .msg_type = CTR_SLOW, .body = "300", .body_len = 3 };
    assert_int_equal (rt_tell (rt, &slow), 0);
    usleep (20000);
    assert_int_equal (counter_ask (rt, "late", CTR_INC, "1", NULL, 50), RT_ETIMEOUT);
    assert_int_equal (s_get (rt, "late"), 0);
    rt_stats_t st;
    rt_stats (rt, &st);
    assert_int_equal (st.expired, 1);
    rt_runtime_destroy (&rt);
}

static void
test_reminder_fires (void **state)
{
    (void) state;
    rt_runtime_t *rt = s_open (NULL);
    assert_int_equal (counter_ask (rt, "rem", CTR_REMIND, "tick 100", NULL, 5000), 202);
    /*  Setting the same name again moves it: it fires once. */
    assert_int_equal (counter_ask (rt, "rem", CTR_REMIND, "tick 150", NULL, 5000), 202);
    long long v = 0;
    for (int i = 0; i < 100 && v == 0; i++) {
        usleep (20000);
        v = s_get (rt, "rem");
    }
    assert_int_equal (v, 100);
    usleep (300000);
    assert_int_equal (s_get (rt, "rem"), 100);
    rt_runtime_destroy (&rt);
}

static void
test_reminder_after_restart (void **state)
{
    (void) state;
    rt_runtime_t *rt = s_open (NULL);
    assert_int_equal (counter_ask (rt, "rr", CTR_REMIND, "a 300", NULL, 5000), 202);
    assert_int_equal (counter_ask (rt, "rr", CTR_REMIND, "b 400", NULL, 5000), 202);
    rt_runtime_destroy (&rt);           /* down before either is due */
    usleep (500000);
    rt = s_open (NULL);
    long long v = 0;
    for (int i = 0; i < 100 && v < 200; i++) {
        usleep (20000);
        v = s_get (rt, "rr");
    }
    assert_int_equal (v, 200);
    rt_runtime_destroy (&rt);
    rt = s_open (NULL);
    usleep (200000);
    assert_int_equal (s_get (rt, "rr"), 200);      /* fired once each */
    rt_runtime_destroy (&rt);
}

static void
test_outbox_exactly_once (void **state)
{
    (void) state;
    rt_runtime_t *rt = s_open (NULL);
    for (int i = 0; i < 50; i++) {
        char src[16];
        snprintf (src, sizeof src, "src%d", i % 7);
        assert_int_equal (counter_ask (rt, src, CTR_SEND_INC, "dst", NULL, 5000), 202);
    }
    /*  Kill the receiver while deliveries are under way: redelivery and
        dedup keep the count exact. */
    rt_kill (rt, COUNTER_TYPE, "dst", 3);
    long long v = 0;
    for (int i = 0; i < 200 && v < 50; i++) {
        usleep (20000);
        v = s_get (rt, "dst");
    }
    assert_int_equal (v, 50);
    rt_stats_t st;
    rt_stats (rt, &st);
    for (int i = 0; i < 100 && st.outbox_pending; i++) {
        usleep (20000);
        rt_stats (rt, &st);
    }
    assert_int_equal (st.outbox_pending, 0);
    rt_runtime_destroy (&rt);
    rt = s_open (NULL);
    usleep (300000);
    assert_int_equal (s_get (rt, "dst"), 50);
    /*  The outbox is empty now, yet the senders' shards go on numbering
        where they stopped: the receiver still holds dedup marks of the
        last numbers and would drop a message that reused one. */
    for (int i = 0; i < 50; i++) {
        char src[16];
        snprintf (src, sizeof src, "src%d", i % 7);
        assert_int_equal (counter_ask (rt, src, CTR_SEND_INC, "dst", NULL, 5000), 202);
    }
    v = 0;
    for (int i = 0; i < 200 && v < 100; i++) {
        usleep (20000);
        v = s_get (rt, "dst");
    }
    usleep (100000);
    assert_int_equal (s_get (rt, "dst"), 100);
    rt_runtime_destroy (&rt);
}

/*  The senders' values: how many receipts each has handled; -1 while one
    cannot answer (a full mailbox) when tolerant. */
static long long
s_receipts_try (rt_runtime_t *rt, int nsrc, bool tolerant)
{
    long long sum = 0;
    for (int i = 0; i < nsrc; i++) {
        char src[16];
        long long v = -1;
        snprintf (src, sizeof src, "rsrc%d", i);
        if (!tolerant)
            v = s_get (rt, src);
        else if (counter_ask (rt, src, CTR_GET, NULL, &v, 5000) != 200)
            return -1;
        sum += v;
    }
    return sum;
}

static long long
s_receipts (rt_runtime_t *rt, int nsrc)
{
    return s_receipts_try (rt, nsrc, false);
}

/*  Wait until dst counts want and the senders have handled want receipts,
    and the outboxes are empty. */
static void
s_await_receipts (rt_runtime_t *rt, int nsrc, long long want)
{
    rt_stats_t st = { 0 };
    for (int i = 0; i < 300; i++) {
        rt_stats (rt, &st);
        if (s_receipts_try (rt, nsrc, true) == want && s_get (rt, "rdst") == want
            && !st.outbox_pending)
            break;
        usleep (20000);
    }
    assert_int_equal (s_get (rt, "rdst"), want);
    assert_int_equal (s_receipts (rt, nsrc), want);
    assert_int_equal (st.outbox_pending, 0);
}

/*  A receipt settles the exchange: each message counted once by the
    receiver and its receipt once by the sender, whose turn deletes the
    outbox entry. Receivers killed while messages arrive, senders killed
    while their receipts wait in the mailbox (they are lost, the entries
    are redelivered, the dedup mark answers with the same receipt), and a
    stop with everything in flight: the counts stay exact. */
static void
test_outbox_receipts_once (void **state)
{
    (void) state;
    enum { NSRC = 5, N = 60 };
    rt_runtime_t *rt = s_open (NULL);
    for (int i = 0; i < N; i++) {
        char src[16];
        snprintf (src, sizeof src, "rsrc%d", i % NSRC);
        assert_int_equal (counter_ask (rt, src, CTR_SEND_RECEIPTED, "rdst", NULL, 5000), 202);
        if (i % 10 == 5) {
            rt_kill (rt, COUNTER_TYPE, "rdst", 4);
            rt_kill (rt, COUNTER_TYPE, src, strlen (src));
        }
    }
    s_await_receipts (rt, NSRC, N);

    /*  Stop with sends, deliveries and receipts in flight; the restart
        finishes them, each once. */
    for (int i = 0; i < N; i++) {
        char src[16];
        snprintf (src, sizeof src, "rsrc%d", i % NSRC);
        assert_int_equal (counter_ask (rt, src, CTR_SEND_RECEIPTED, "rdst", NULL, 5000), 202);
    }
    rt_runtime_destroy (&rt);
    rt = s_open (NULL);
    s_await_receipts (rt, NSRC, 2 * N);
    usleep (RT_OUTBOX_ACK_TIMEOUT_MS * 1000 * 2);
    assert_int_equal (s_receipts (rt, NSRC), 2 * N);

    /*  Nothing to answer with a receipt when the message did not come
        from an outbox: refused, nothing changes. */
    assert_int_equal (counter_ask (rt, "rdst", CTR_INC_RECEIPTED, NULL, NULL, 5000), 400);
    assert_int_equal (s_get (rt, "rdst"), 2 * N);
    rt_runtime_destroy (&rt);
}

/*  A receipt refused by the sender's full mailbox is not lost: the entry
    is still in the outbox, its redelivery meets the receiver's dedup mark,
    and the mark answers with the receipt it kept. */
/*  Keep key's actor busy for ms (told, not asked). */
static void
s_busy (rt_runtime_t *rt, const char *key, const char *ms)
{
    rt_request_t slow = { .to_type = COUNTER_TYPE, .to_key = key, .to_key_len = strlen (key),
                          .msg_type = CTR_SLOW, .body = ms, .body_len = strlen (ms) };
    assert_int_equal (rt_tell (rt, &slow), 0);
}

/*  rdst busy for ms while src sends it n messages, each answered by a
    receipt; then src busy for src_ms, so the receipts all come to a busy
    sender. */
static void
s_receipts_to_busy (rt_runtime_t *rt, const char *src, int n, const char *ms,
                    const char *src_ms)
{
    s_busy (rt, "rdst", ms);
    for (int i = 0; i < n; i++)
        assert_int_equal (counter_ask (rt, src, CTR_SEND_RECEIPTED, "rdst", NULL, 5000), 202);
    s_busy (rt, src, src_ms);
}

static void
test_outbox_receipt_refused_comes_again (void **state)
{
    (void) state;
    enum { N = 12 };
    rt_options_t o = { .mailbox_max = 16 };
    rt_runtime_t *rt = s_open (&o);
    /*  A sender on the other worker, so that each can be kept busy alone. */
    char src[16];
    int nsrc = 0;
    do
        snprintf (src, sizeof src, "rsrc%d", nsrc++);
    while (rt_worker_for (rt, rt_hash (COUNTER_TYPE, src, strlen (src)))
           == rt_worker_for (rt, rt_hash (COUNTER_TYPE, "rdst", 4)));
    /*  The sender's mailbox is full when the receipts come. */
    s_receipts_to_busy (rt, src, N, "600", "1200");
    usleep (20000);
    rt_request_t zero = { .to_type = COUNTER_TYPE, .to_key = src, .to_key_len = strlen (src),
                          .msg_type = CTR_INC, .body = "0", .body_len = 1 };
    for (int i = 0; i < 16; i++)
        assert_int_equal (rt_tell (rt, &zero), 0);
    s_await_receipts (rt, nsrc, N);
    rt_stats_t st;
    rt_stats (rt, &st);
    assert_true (st.refused_overloaded > 0);
    assert_true (st.outbox_redelivered > 0);

    /*  Receipts that wait in the busy sender's mailbox past the
        redelivery timer come twice: the second finds its entry going or
        gone and does nothing. */
    uint64_t before = st.outbox_redelivered;
    s_receipts_to_busy (rt, src, N, "300", "1500");
    s_await_receipts (rt, nsrc, 2 * N);
    rt_stats (rt, &st);
    assert_true (st.outbox_redelivered > before);
    usleep (RT_OUTBOX_ACK_TIMEOUT_MS * 1000 * 2);
    assert_int_equal (s_receipts (rt, nsrc), 2 * N);
    rt_runtime_destroy (&rt);
}

/*  Inside the runtime an ask does not block: the answer comes back to the
    asking actor as an RT_MSG_REPLY message with the correlation id. */
static void
test_actor_ask_reply (void **state)
{
    (void) state;
    rt_runtime_t *rt = s_open (NULL);
    assert_int_equal (counter_ask (rt, "answerer", CTR_INC, "5", NULL, 5000), 200);
    assert_int_equal (counter_ask (rt, "asker", CTR_INC, "1", NULL, 5000), 200);
    assert_int_equal (counter_ask (rt, "asker", CTR_ASK_GET, "answerer", NULL, 5000), 202);
    long long v = 0;
    for (int i = 0; i < 100 && v != 6; i++) {
        usleep (10000);
        v = s_get (rt, "asker");
    }
    assert_int_equal (v, 6);
    rt_runtime_destroy (&rt);
}

static void
test_bad_requests (void **state)
{
    (void) state;
    rt_runtime_t *rt = s_open (NULL);
    rt_reply_t r;
    rt_request_t req = { .to_type = 9, .to_key = "x", .to_key_len = 1, .msg_type = 1 };
    assert_int_equal (rt_ask (rt, &req, 1000, &r), RT_ENOTYPE);
    char longkey[RT_KEY_MAX + 2];
    memset (longkey, 'k', sizeof longkey);
    req = (rt_request_t) { .to_type = COUNTER_TYPE, .to_key = longkey,
                           .to_key_len = RT_KEY_MAX + 1, .msg_type = CTR_GET };
    assert_int_equal (rt_ask (rt, &req, 1000, &r), RT_EINVAL);
    req = (rt_request_t) { .to_type = COUNTER_TYPE, .to_key = "x", .to_key_len = 0,
                           .msg_type = CTR_GET };
    assert_int_equal (rt_ask (rt, &req, 1000, &r), RT_EINVAL);
    req = (rt_request_t) { .to_type = COUNTER_TYPE, .to_key = "x", .to_key_len = 1,
                           .msg_type = 40 };
    assert_int_equal (rt_ask (rt, &req, 1000, &r), RT_ENOHANDLER);
    req.msg_type = RT_MSG_TYPES_MAX;
    assert_int_equal (rt_ask (rt, &req, 1000, &r), RT_EINVAL);
    req = (rt_request_t) { .to_type = COUNTER_TYPE, .to_key = "x", .to_key_len = 1,
                           .msg_type = CTR_INC, .body_len = RT_BODY_MAX_BYTES + 1,
                           .body = longkey };
    assert_int_equal (rt_ask (rt, &req, 1000, &r), RT_ETOOBIG);
    assert_int_equal (counter_ask (rt, "x", CTR_NOOP, NULL, NULL, 1000), 204);
    assert_int_equal (counter_ask (rt, "x", CTR_REMIND, "garbage", NULL, 1000), 422);
    rt_runtime_destroy (&rt);
}

static void *
s_inc_forever (void *p)
{
    inc_arg_t *a = p;
    while (!__atomic_load_n (&a->n, __ATOMIC_ACQUIRE))
        counter_ask (a->rt, "rw", CTR_INC, "1", NULL, 10000);
    return NULL;
}

/*  Queries on the caller's thread: committed state, own writes always
    visible, and a handler that is not really a query changes nothing. */
static void
test_read_committed_state (void **state)
{
    (void) state;
    rt_runtime_t *rt = s_open (NULL);
    long long v = -1;
    assert_int_equal (counter_read (rt, "fresh", CTR_GET, &v), 200);
    assert_int_equal (v, 0);
    assert_int_equal (counter_ask (rt, "q", CTR_INC, "3", NULL, 5000), 200);
    assert_int_equal (counter_read (rt, "q", CTR_GET, &v), 200);
    assert_int_equal (v, 3);
    /*  Not queries: refused before anything runs. */
    assert_int_equal (counter_read (rt, "q", CTR_INC, NULL), RT_EINVAL);
    /*  Declared a query but changes state, or answers nothing: refused,
        and the actor's state is untouched (resident or on disk). */
    assert_int_equal (counter_read (rt, "q", CTR_BAD_QUERY, NULL), RT_EINVAL);
    assert_int_equal (counter_read (rt, "q", CTR_NOOP, NULL), RT_EINVAL);
    assert_int_equal (s_get (rt, "q"), 3);
    assert_int_equal (counter_read (rt, "q", CTR_GET, &v), 200);
    assert_int_equal (v, 3);
    /*  Read your writes while another thread keeps writing. */
    inc_arg_t bg = { .rt = rt, .n = 0 };
    pthread_t t;
    assert_int_equal (pthread_create (&t, NULL, s_inc_forever, &bg), 0);
    long long last = 0;
    for (int i = 0; i < 300; i++) {
        long long mine = 0, seen = 0;
        assert_int_equal (counter_ask (rt, "rw", CTR_INC, "1", &mine, 5000), 200);
        assert_int_equal (counter_read (rt, "rw", CTR_GET, &seen), 200);
        assert_true (seen >= mine);
        assert_true (seen >= last);
        last = seen;
    }
    __atomic_store_n (&bg.n, 1, __ATOMIC_RELEASE);
    pthread_join (t, NULL);
    rt_runtime_destroy (&rt);
}

/* ---- secondary index, scans, node services ------------------------------- */

typedef struct { long long v[64]; char k[64][8]; int n; } seen_t;

static int
s_seen (void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    seen_t *s = arg;
    const uint8_t *p = key;
    assert_true (klen > 9 && p[0] == 'v' && vlen == klen - 9 && vlen < 8 && s->n < 64);
    uint64_t u = 0;
    for (int i = 1; i <= 8; i++)
        u = (u << 8) | p[i];
    s->v[s->n] = (long long) (u ^ (1ull << 63));
    memcpy (s->k[s->n], val, vlen);
    s->k[s->n][vlen] = 0;
    s->n++;
    return 0;
}

/*  Every counter's current value, from the index of every shard, in one
    direction per shard; covered must come back full. */
static void
s_scan_all (rt_runtime_t *rt, bool reverse, seen_t *seen)
{
    memset (seen, 0, sizeof *seen);
    rt_scan_t *sc = rt_scan_open (rt);
    assert_non_null (sc);
    for (uint32_t sh = 0; sh < rt_scan_shards (sc); sh++) {
        assert_true (rt_scan_owned (sc, sh));
        int before = seen->n;
        int n = rt_scan_index (sc, sh, "v", 1, "w", 1, reverse, 100, s_seen, seen);
        assert_int_equal (n, seen->n - before);
        for (int i = before + 1; i < seen->n; i++)      /* ordered within the shard */
            assert_true (reverse ? seen->v[i - 1] >= seen->v[i] : seen->v[i - 1] <= seen->v[i]);
    }
    uint8_t covered[2];
    rt_scan_close (&sc, covered);
    assert_null (sc);
    assert_int_equal (covered[0], 0xff);
    assert_int_equal (covered[1], 0xff);
}

static long long
s_value_of (const seen_t *s, const char *key)
{
    long long v = 0;
    int found = 0;
    for (int i = 0; i < s->n; i++)
        if (!strcmp (s->k[i], key)) {
            v = s->v[i];
            found++;
        }
    assert_true (found <= 1);       /* never a stale second entry */
    return found ? v : 0;
}

static int
s_count_service (rt_runtime_t *rt, void *arg, const void *body, size_t len, rt_reply_t *reply)
{
    (void) arg;
    assert_int_equal (len, 2);
    assert_memory_equal (body, "hi", 2);
    seen_t seen;
    s_scan_all (rt, false, &seen);
    reply->status = 200;
    reply->body = malloc (16);
    reply->body_len = (size_t) snprintf ((char *) reply->body, 16, "%d", seen.n);
    return 0;
}

static void
test_index_follows_state (void **state)
{
    (void) state;
    char err[256];
    rt_runtime_t *rt = rt_runtime_new (&(rt_options_t) { .data_dir = s_dir, .node_id = "t1",
                                                         .shards = 16, .workers = 2 },
                                       err, sizeof err);
    assert_non_null (rt);
    assert_int_equal (rt_register (rt, COUNTER_TYPE, &counter_type), 0);
    assert_int_equal (rt_service_register (rt, 0, s_count_service, NULL), RT_EINVAL);
    assert_int_equal (rt_service_register (rt, 3, s_count_service, NULL), 0);
    assert_int_equal (rt_start (rt), 0);
    assert_int_equal (rt_service_register (rt, 4, s_count_service, NULL), RT_EINVAL);

    long long v;
    assert_int_equal (counter_ask (rt, "a", CTR_INC, "5", &v, 5000), 200);
    assert_int_equal (counter_ask (rt, "b", CTR_INC, "-3", &v, 5000), 200);
    assert_int_equal (counter_ask (rt, "c", CTR_INC, "7", &v, 5000), 200);
    assert_int_equal (counter_ask (rt, "a", CTR_INC, "-4", &v, 5000), 200);
    assert_int_equal (counter_ask (rt, "d", CTR_INC, "2", &v, 5000), 200);
    assert_int_equal (counter_ask (rt, "d", CTR_INC, "-2", &v, 5000), 200);    /* 0: no entry */
    assert_int_equal (counter_ask (rt, "c", CTR_ABORT, NULL, &v, 5000), 500);   /* kept nothing */
    seen_t seen;
    for (int reverse = 0; reverse < 2; reverse++) {
        s_scan_all (rt, reverse, &seen);
        assert_int_equal (seen.n, 3);
        assert_int_equal (s_value_of (&seen, "a"), 1);
        assert_int_equal (s_value_of (&seen, "b"), -3);
        assert_int_equal (s_value_of (&seen, "c"), 7);
        assert_int_equal (s_value_of (&seen, "d"), 0);
    }
    /*  One entry read straight from the committed index, as the edge
        reads a user's: the current one is there, the replaced one gone. */
    uint8_t ik[1 + 8 + 1] = { 'v' };
    char got[4];
    size_t glen = 0;
    for (long long want = 1; want <= 5; want += 4) {
        uint64_t x = (uint64_t) want ^ (1ull << 63);
        for (int i = 0; i < 8; i++)
            ik[1 + i] = (uint8_t) (x >> (56 - 8 * i));
        ik[9] = 'a';
        int rc = rt_index_read (rt, COUNTER_TYPE, "a", 1, ik, sizeof ik, got, sizeof got, &glen);
        assert_int_equal (rc, want == 1 ? 0 : RT_INDEX_ABSENT);
    }
    assert_int_equal (glen, 1);
    assert_memory_equal (got, "a", 1);
    assert_int_equal (rt_index_read (rt, COUNTER_TYPE, "a", 1, ik, 0, got, sizeof got, &glen),
                      RT_EINVAL);
    assert_int_equal (rt_index_read (rt, COUNTER_TYPE, "", 0, ik, sizeof ik, got, sizeof got,
                                     &glen), RT_EINVAL);

    /*  A node service answers from the same index (one node: this one). */
    rt_reply_t replies[4];
    size_t n = 0;
    assert_int_equal (rt_call_all (rt, 3, "hi", 2, 5000, replies, 4, &n), 0);
    assert_int_equal (n, 1);
    assert_int_equal (replies[0].err, 0);
    assert_int_equal (replies[0].status, 200);
    assert_int_equal (replies[0].body_len, 1);
    assert_memory_equal (replies[0].body, "3", 1);
    rt_reply_free (&replies[0]);
    assert_int_equal (rt_call_all (rt, 5, "hi", 2, 5000, replies, 4, &n), 0);
    assert_int_equal (replies[0].err, RT_ENOHANDLER);
    assert_int_equal (rt_call_all (rt, 3, "hi", 2, 5000, replies, 0, &n), RT_EINVAL);

    /*  The index is what was committed: the same after a restart. */
    rt_runtime_destroy (&rt);
    rt = s_open (NULL);
    s_scan_all (rt, false, &seen);
    assert_int_equal (seen.n, 3);
    assert_int_equal (s_value_of (&seen, "a"), 1);
    rt_scan_t *sc = rt_scan_open (rt);
    void *st = NULL;
    assert_int_equal (rt_scan_state (sc, COUNTER_TYPE, "c", 1, &st), 0);
    assert_non_null (st);
    assert_int_equal (*(long long *) st, 7);
    free (st);
    const void *val;
    size_t vlen;
    assert_int_equal (rt_scan_get (sc, 0, "nope", 4, &val, &vlen), 1);
    assert_int_equal (rt_scan_index (sc, 99, "v", 1, "w", 1, false, 10, s_seen, &seen), RT_EINVAL);
    rt_scan_close (&sc, NULL);
    rt_runtime_destroy (&rt);
}

static void
test_corrupt_data_dir (void **state)
{
    (void) state;
    char err[256] = "";
    char path[300];
    snprintf (path, sizeof path, "%s/data.mdb", s_dir);
    int fd = open (path, O_CREAT | O_WRONLY, 0600);
    assert_true (fd >= 0);
    char junk[8192];
    memset (junk, 0x5a, sizeof junk);
    assert_int_equal (write (fd, junk, sizeof junk), (ssize_t) sizeof junk);
    close (fd);
    rt_options_t o = { .data_dir = s_dir, .node_id = "t1", .shards = 16, .workers = 1 };
    assert_null (rt_runtime_new (&o, err, sizeof err));
    assert_non_null (strstr (err, "not an LMDB file"));
    unlink (path);
    snprintf (path, sizeof path, "%s/lock.mdb", s_dir);
    unlink (path);
    /*  A store of another node or shard count is refused, not reused. */
    rt_runtime_t *rt = s_open (NULL);
    rt_runtime_destroy (&rt);
    o.node_id = "t2";
    assert_null (rt_runtime_new (&o, err, sizeof err));
    assert_non_null (strstr (err, "node"));
    o.node_id = "t1";
    o.shards = 32;
    assert_null (rt_runtime_new (&o, err, sizeof err));
    assert_non_null (strstr (err, "shards"));
}

int
main (int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_inc_and_get, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_linearizable_counter, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_idempotency, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_idempotency_concurrent, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_idempotency_records_expire, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_abort_and_kill, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_kill_loses_nothing_acked, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_passivation, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_resident_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_mailbox_overflow_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_expired_asks_not_run, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reminder_fires, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reminder_after_restart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_outbox_exactly_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_outbox_receipts_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_outbox_receipt_refused_comes_again, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_actor_ask_reply, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_requests, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_random_kills, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_corrupt_data_dir, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_read_committed_state, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_index_follows_state, s_setup, s_teardown),
    };
    if (argc > 1)
        cmocka_set_test_filter (argv[1]);
    return cmocka_run_group_tests (tests, NULL, NULL);
}
