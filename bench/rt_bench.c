/*  =========================================================================
    rt_bench.c - the runtime's figures (make bench)

    Prints one line per figure: "bench: <name> <value> <unit>". Workloads:
      pingpong      two counter actors tell each other N times (volatile
                    tells, no state change: the pure message path); one
                    pair on one worker, one pair across the two workers
      fanin         2 outside threads tell one actor as fast as they can
      ask           one outside thread asks a resident actor, sequentially
      durable       64 threads ask increments of 64 counters (state change,
                    fsync before the answer), once with group commit and
                    once with one sync per turn, sync = "full"
      resident      activate 1,000,000 counters, read RSS
      activation    ask GET of 100,000 passivated counters (state in
                    LMDB), against the same asks once they are resident
    =========================================================================
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "runtime/rt_internal.h"
#include "tests/support/counter.h"

static char s_dir[512];

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static rt_runtime_t *
s_open (const char *name, uint32_t batch_max, uint32_t resident, bool fresh)
{
    char cmd[1200], dir[1100];
    snprintf (dir, sizeof dir, "%s/%s", s_dir, name);
    if (fresh) {
        snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system (cmd)) {}
    }
    rt_options_t o = { .data_dir = dir, .node_id = "bench", .shards = 256, .workers = 2,
                       .commit_batch_max = batch_max, .max_resident = resident,
                       .passivate_idle_ms = 3600 * 1000, .map_size_mb = 1024,
                       .mailbox_max = 4096 };
    char err[256];
    rt_runtime_t *rt = rt_runtime_new (&o, err, sizeof err);
    if (!rt) {
        fprintf (stderr, "bench: %s\n", err);
        exit (1);
    }
    rt_register (rt, COUNTER_TYPE, &counter_type);
    rt_start (rt);
    return rt;
}

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double
s_pct (double *v, size_t n, double p)
{
    qsort (v, n, sizeof *v, s_cmp_double);
    size_t i = (size_t) (p * (double) (n - 1));
    return v[i];
}

/* ---- ping-pong ---------------------------------------------------------- */

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_cv = PTHREAD_COND_INITIALIZER;
static int s_done;

static void
s_ping_done (void)
{
    pthread_mutex_lock (&s_lock);
    s_done++;
    pthread_cond_signal (&s_cv);
    pthread_mutex_unlock (&s_lock);
}

/*  Two keys whose actors land on the same worker (same) or not. */
static void
s_pair (rt_runtime_t *rt, bool same, char *a, char *b)
{
    strcpy (a, "pa");
    uint64_t wa = (rt_hash (COUNTER_TYPE, a, 2) >> 33) % rt->nworkers;
    for (int i = 0;; i++) {
        sprintf (b, "pb%d", i);
        uint64_t wb = (rt_hash (COUNTER_TYPE, b, strlen (b)) >> 33) % rt->nworkers;
        if ((wa == wb) == same)
            return;
    }
}

static void
bench_pingpong (void)
{
    rt_runtime_t *rt = s_open ("pingpong", 0, 0, true);
    counter_on_ping_done = s_ping_done;
    const long n = 4000000;
    for (int same = 1; same >= 0; same--) {
        char a[16], b[16], body[64];
        s_pair (rt, same, a, b);
        int len = snprintf (body, sizeof body, "%s %ld", a, n);
        s_done = 0;
        rt_request_t req = { .to_type = COUNTER_TYPE, .to_key = b, .to_key_len = strlen (b),
                             .msg_type = CTR_PING, .body = body, .body_len = (size_t) len };
        double t0 = s_now ();
        rt_tell (rt, &req);
        pthread_mutex_lock (&s_lock);
        while (!s_done)
            pthread_cond_wait (&s_cv, &s_lock);
        pthread_mutex_unlock (&s_lock);
        double dt = s_now () - t0;
        printf ("bench: pingpong_%s_msgs_per_s %.0f msg/s\n",
                same ? "same_worker" : "cross_worker", (double) n / dt);
    }
    rt_runtime_destroy (&rt);
}

/* ---- fan-in ------------------------------------------------------------ */

static void *
s_fanin_thread (void *arg)
{
    rt_runtime_t *rt = arg;
    rt_request_t req = { .to_type = COUNTER_TYPE, .to_key = "sink", .to_key_len = 4,
                         .msg_type = CTR_NOOP };
    for (long i = 0; i < 1000000; i++)
        while (rt_tell (rt, &req) == RT_EOVERLOADED)
            usleep (50);
    return NULL;
}

static void
bench_fanin (void)
{
    /*  Mailbox and inbox larger than the whole load (only a bench may set
        them past the config ceiling), so it measures the path, not refusals. */
    char dir[1100];
    snprintf (dir, sizeof dir, "%s/fanin", s_dir);
    rt_options_t o = { .data_dir = dir, .node_id = "bench", .shards = 256, .workers = 2,
                       .mailbox_max = 4 << 20, .worker_inbox_max = 4 << 20 };
    char err[256];
    rt_runtime_t *rt = rt_runtime_new (&o, err, sizeof err);
    rt_register (rt, COUNTER_TYPE, &counter_type);
    rt_start (rt);
    rt_stats_t st;
    rt_stats (rt, &st);
    uint64_t base = st.turns;
    double t0 = s_now ();
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create (&th[i], NULL, s_fanin_thread, rt);
    for (int i = 0; i < 2; i++)
        pthread_join (th[i], NULL);
    /*  Senders retry inbox refusals; wait until every queue is drained.
        Whatever the sink's mailbox refused is 2,000,000 minus the turns. */
    do {
        usleep (100);
        rt_stats (rt, &st);
    } while (st.mailbox_depth > 0);
    double dt = s_now () - t0;
    uint64_t ran = st.turns - base;
    printf ("bench: fanin_2_threads_msgs_per_s %.0f msg/s\n", (double) ran / dt);
    printf ("bench: fanin_mailbox_refused %llu msgs\n", (unsigned long long) (2000000 - ran));
    rt_runtime_destroy (&rt);
}

/* ---- ask round trip -------------------------------------------------------- */

static void
bench_ask (void)
{
    rt_runtime_t *rt = s_open ("ask", 0, 0, true);
    enum { N = 100000 };
    double *lat = malloc (N * sizeof *lat);
    counter_ask (rt, "asked", CTR_GET, NULL, NULL, 5000);
    double t0 = s_now ();
    for (int i = 0; i < N; i++) {
        double a = s_now ();
        counter_ask (rt, "asked", CTR_GET, NULL, NULL, 5000);
        lat[i] = (s_now () - a) * 1e6;
    }
    double dt = s_now () - t0;
    printf ("bench: ask_roundtrip_per_s %.0f ask/s\n", N / dt);
    printf ("bench: ask_roundtrip_p50 %.1f us\n", s_pct (lat, N, 0.50));
    printf ("bench: ask_roundtrip_p99 %.1f us\n", s_pct (lat, N, 0.99));
    free (lat);
    rt_runtime_destroy (&rt);
}

/* ---- durable turns ------------------------------------------------------------ */

typedef struct { rt_runtime_t *rt; int id; double until; long done; double *lat; long cap; } dur_t;

static void *
s_durable_thread (void *arg)
{
    dur_t *d = arg;
    char key[16];
    snprintf (key, sizeof key, "d%d", d->id);
    while (s_now () < d->until) {
        double a = s_now ();
        if (counter_ask (d->rt, key, CTR_INC, "1", NULL, 10000) == 200) {
            if (d->done < d->cap)
                d->lat[d->done] = (s_now () - a) * 1e6;
            d->done++;
        }
    }
    return NULL;
}

static double
s_durable (const char *name, uint32_t batch_max, double secs, double *p50, double *p99)
{
    rt_runtime_t *rt = s_open (name, batch_max, 0, true);
    enum { T = 64 };
    pthread_t th[T];
    dur_t d[T];
    double until = s_now () + secs;
    for (int i = 0; i < T; i++) {
        d[i] = (dur_t) { rt, i, until, 0, malloc (200000 * sizeof (double)), 200000 };
        pthread_create (&th[i], NULL, s_durable_thread, &d[i]);
    }
    long total = 0, nl = 0;
    double *all = malloc (T * 200000 * sizeof (double));
    for (int i = 0; i < T; i++) {
        pthread_join (th[i], NULL);
        total += d[i].done;
        long k = d[i].done < d[i].cap ? d[i].done : d[i].cap;
        memcpy (all + nl, d[i].lat, (size_t) k * sizeof (double));
        nl += k;
        free (d[i].lat);
    }
    rt_stats_t st;
    rt_stats (rt, &st);
    if (batch_max != 1)
        printf ("bench: durable_group_commit_records_per_batch %.1f records\n",
                st.commit_batches ? (double) st.commit_records / (double) st.commit_batches : 0);
    *p50 = nl ? s_pct (all, (size_t) nl, 0.5) : 0;
    *p99 = nl ? s_pct (all, (size_t) nl, 0.99) : 0;
    free (all);
    rt_runtime_destroy (&rt);
    return (double) total / secs;
}

static void
bench_durable (void)
{
    double p50, p99;
    double group = s_durable ("durable-group", 0, 4.0, &p50, &p99);
    printf ("bench: durable_turns_group_commit %.0f turns/s\n", group);
    printf ("bench: durable_turn_ack_p50 %.0f us\n", p50);
    printf ("bench: durable_turn_ack_p99 %.0f us\n", p99);
    double single = s_durable ("durable-single", 1, 4.0, &p50, &p99);
    printf ("bench: durable_turns_sync_per_turn %.0f turns/s\n", single);
    printf ("bench: durable_group_commit_speedup %.1f x\n", single > 0 ? group / single : 0);
}

/* ---- memory per resident actor ------------------------------------------------- */

static long
s_rss_kb (void)
{
    FILE *f = fopen ("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf (f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose (f);
    }
    return rss * (sysconf (_SC_PAGESIZE) / 1024);
}

static void
bench_resident (void)
{
    enum { N = 1000000 };
    rt_runtime_t *rt = s_open ("resident", 0, 2 * N, true);
    counter_ask (rt, "warm", CTR_GET, NULL, NULL, 5000);
    long before = s_rss_kb ();
    char key[16];
    for (long i = 0; i < N; i++) {
        int len = snprintf (key, sizeof key, "r%07ld", i);
        rt_request_t req = { .to_type = COUNTER_TYPE, .to_key = key, .to_key_len = (size_t) len,
                             .msg_type = CTR_NOOP };
        while (rt_tell (rt, &req) == RT_EOVERLOADED)
            usleep (100);
    }
    rt_stats_t st;
    do {
        usleep (10000);
        rt_stats (rt, &st);
    } while (st.resident < N + 1 || st.mailbox_depth);
    long after = s_rss_kb ();
    printf ("bench: resident_actors %llu actors\n", (unsigned long long) st.resident);
    printf ("bench: bytes_per_idle_actor %.0f bytes\n", (double) (after - before) * 1024.0 / N);
    rt_runtime_destroy (&rt);
}

/* ---- activation from LMDB ----------------------------------------------------- */

static void
bench_activation (void)
{
    enum { N = 100000 };
    rt_runtime_t *rt = s_open ("activation", 0, 0, true);
    /*  Write N states, in parallel so group commit makes it quick. */
    char key[16];
    for (long i = 0; i < N; i++) {
        int len = snprintf (key, sizeof key, "a%06ld", i);
        rt_request_t req = { .to_type = COUNTER_TYPE, .to_key = key, .to_key_len = (size_t) len,
                             .msg_type = CTR_INC, .body = "7", .body_len = 1 };
        while (rt_tell (rt, &req) == RT_EOVERLOADED)
            usleep (100);
    }
    counter_ask (rt, "a099999", CTR_GET, NULL, NULL, 60000);
    rt_stats_t st;
    do {
        usleep (10000);
        rt_stats (rt, &st);
    } while (st.mailbox_depth);
    rt_runtime_destroy (&rt);
    rt = s_open ("activation", 0, 0, false);
    double *cold = malloc (N * sizeof *cold), *warm = malloc (N * sizeof *warm);
    for (int pass = 0; pass < 2; pass++) {
        double *lat = pass ? warm : cold;
        for (long i = 0; i < N; i++) {
            snprintf (key, sizeof key, "a%06ld", i);
            double a = s_now ();
            long long v = 0;
            counter_ask (rt, key, CTR_GET, NULL, &v, 5000);
            lat[i] = (s_now () - a) * 1e6;
            if (v != 7) {
                fprintf (stderr, "bench: %s has %lld, not 7\n", key, v);
                exit (1);
            }
        }
    }
    printf ("bench: activation_ask_p50 %.1f us\n", s_pct (cold, N, 0.5));
    printf ("bench: activation_ask_p99 %.1f us\n", s_pct (cold, N, 0.99));
    printf ("bench: resident_ask_p50 %.1f us\n", s_pct (warm, N, 0.5));
    printf ("bench: resident_ask_p99 %.1f us\n", s_pct (warm, N, 0.99));
    free (cold);
    free (warm);
    rt_runtime_destroy (&rt);
}

int
main (int argc, char **argv)
{
    snprintf (s_dir, sizeof s_dir, "%s", getenv ("BENCH_DIR") ? getenv ("BENCH_DIR") : "build/bench-data");
    char cmd[600];
    snprintf (cmd, sizeof cmd, "mkdir -p '%s'", s_dir);
    if (system (cmd)) {}
    setvbuf (stdout, NULL, _IOLBF, 0);
    const struct { const char *name; void (*fn) (void); } benches[] = {
        { "pingpong", bench_pingpong }, { "fanin", bench_fanin }, { "ask", bench_ask },
        { "durable", bench_durable }, { "resident", bench_resident },
        { "activation", bench_activation },
    };
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        if (argc < 2 || !strcmp (argv[1], benches[i].name))
            benches[i].fn ();
    return 0;
}
