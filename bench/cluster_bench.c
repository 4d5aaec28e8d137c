/*  =========================================================================
    cluster_bench.c - cross-node ask figures against raw ZeroMQ (make bench)

    Two processes on loopback (fork before any ZeroMQ context exists):
      n2 (child)   a runtime hosting counter actors, node n2 of a two-node
                   cluster, plus a raw CURVE ROUTER that echoes every frame
      n1 (parent)  a runtime as node n1; asks GET of counters whose shard n2
                   owns (every ask crosses the transport both ways)
    Figures:
      cross_node_ask      one thread, sequential asks: p50, p99, asks/s;
                          then 8 threads: asks/s
      raw_zmq_roundtrip   a CURVE DEALER to the echo ROUTER, frames of the
                          size of one ask's request frame: the same, in the
                          same run — the ceiling of any transport on ZeroMQ
    =========================================================================
*/
#include <czmq.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include "runtime/rt_internal.h"
#include "tests/support/counter.h"

#define ASKS      20000
#define THREADS   8
#define KEYS      256

static char s_dir[512], s_keys_dir[600];
static int s_http_port, s_zmq[2], s_echo_port;
static char s_keys[KEYS][16];           /* counters n2 owns */

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
s_cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static rt_node_conf_t s_nodes[2];

static rt_runtime_t *
s_node (uint32_t self)
{
    char dir[700], err[512];
    snprintf (dir, sizeof dir, "%s/%s", s_dir, s_nodes[self].id);
    rt_options_t o = { .data_dir = dir, .node_id = s_nodes[self].id, .shards = 256,
                       .workers = 1, .nosync = true, .nodes = s_nodes, .nnodes = 2,
                       .self_node = self, .epoch = 1, .keys_dir = s_keys_dir,
                       .peer_down_ms = 2000 };
    rt_runtime_t *rt = rt_runtime_new (&o, err, sizeof err);
    if (!rt || rt_register (rt, COUNTER_TYPE, &counter_type) || rt_start (rt)) {
        fprintf (stderr, "cluster_bench: %s\n", rt ? "start failed" : err);
        exit (1);
    }
    return rt;
}

/* ---- n2: the runtime, and a raw echo ROUTER ------------------------------- */

static void
s_child (void)
{
    rt_runtime_t *rt = s_node (1);
    zcert_t *cert = zcert_load (zsys_sprintf ("%s/n2.key", s_keys_dir));
    /*  The transport's zauth (one per process) checks this socket too. */
    zsock_t *echo = zsock_new (ZMQ_ROUTER);
    zcert_apply (cert, echo);
    zsock_set_curve_server (echo, 1);
    zsock_bind (echo, "tcp://127.0.0.1:%d", s_echo_port);
    while (!zsys_interrupted) {
        zmsg_t *m = zmsg_recv (echo);
        if (!m)
            break;
        zmsg_send (&m, echo);
    }
    zsock_destroy (&echo);
    zcert_destroy (&cert);
    rt_runtime_destroy (&rt);
    exit (0);
}

/* ---- n1: the measurements --------------------------------------------------- */

typedef struct { rt_runtime_t *rt; int n, ok; } load_t;

static void *
s_load (void *p)
{
    load_t *l = p;
    for (int i = 0; i < l->n; i++)
        if (counter_ask (l->rt, s_keys[i % KEYS], CTR_GET, NULL, NULL, 5000) == 200)
            l->ok++;
    return NULL;
}

static void
s_report (const char *name, double *lat, int n, double secs)
{
    qsort (lat, (size_t) n, sizeof *lat, s_cmp);
    printf ("bench: %s_p50 %.1f us\n", name, lat[n / 2] * 1e6);
    printf ("bench: %s_p99 %.1f us\n", name, lat[n * 99 / 100] * 1e6);
    printf ("bench: %s_per_s %.0f round trips/s\n", name, n / secs);
}

static void
s_cross_node (rt_runtime_t *rt)
{
    /*  Counters n2 owns; wait until n2 answers. */
    rt_placement_t *p = rt_placement_new (s_nodes, 2, 256);
    for (int i = 0, k = 0; k < KEYS; i++) {
        char key[16];
        snprintf (key, sizeof key, "c%d", i);
        uint32_t shard = rt_shard_of (COUNTER_TYPE, key, strlen (key), 256);
        if (rt_placement_owner (p, shard) == 1)
            snprintf (s_keys[k++], sizeof s_keys[0], "%s", key);
    }
    rt_placement_destroy (&p);
    for (int t = 0; t < 200 && counter_ask (rt, s_keys[0], CTR_GET, NULL, NULL, 1000) != 200; t++)
        zclock_sleep (50);
    for (int i = 0; i < KEYS; i++)          /* activate them all */
        counter_ask (rt, s_keys[i], CTR_GET, NULL, NULL, 5000);
    double *lat = malloc (ASKS * sizeof *lat);
    double t0 = s_now ();
    for (int i = 0; i < ASKS; i++) {
        double a = s_now ();
        if (counter_ask (rt, s_keys[i % KEYS], CTR_GET, NULL, NULL, 5000) != 200) {
            fprintf (stderr, "cluster_bench: a cross-node ask failed\n");
            exit (1);
        }
        lat[i] = s_now () - a;
    }
    s_report ("cross_node_ask", lat, ASKS, s_now () - t0);
    free (lat);
    pthread_t th[THREADS];
    load_t l[THREADS];
    t0 = s_now ();
    for (int i = 0; i < THREADS; i++) {
        l[i] = (load_t) { rt, ASKS / 2, 0 };
        pthread_create (&th[i], NULL, s_load, &l[i]);
    }
    int ok = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join (th[i], NULL);
        ok += l[i].ok;
    }
    printf ("bench: cross_node_ask_%d_threads_per_s %.0f asks/s\n", THREADS, ok / (s_now () - t0));
}

/*  The size of one ask's request frame: 'M', corr, and the envelope. */
static size_t
s_ask_frame_size (void)
{
    rt_addr_t to;
    rt_addr_set (&to, COUNTER_TYPE, s_keys[0], strlen (s_keys[0]));
    rt_imsg_t *m = rt_imsg_new (&to, CTR_GET, NULL, 0, 0, 0, 0, false);
    m->deadline_ms = rt_now_ms ();
    uint8_t *env;
    size_t len = 0;
    rt_imsg_encode (m, 1, &env, &len);
    free (env);
    rt_imsg_free (&m);
    return 1 + 8 + len;
}

typedef struct { int n; size_t size; double secs; double *lat; } raw_t;

static void *
s_raw (void *p)
{
    raw_t *r = p;
    zcert_t *me = zcert_load (zsys_sprintf ("%s/n1.key", s_keys_dir));
    zcert_t *srv = zcert_load (zsys_sprintf ("%s/n2.key", s_keys_dir));
    zsock_t *d = zsock_new (ZMQ_DEALER);
    zcert_apply (me, d);
    zsock_set_curve_serverkey (d, zcert_public_txt (srv));
    zsock_connect (d, "tcp://127.0.0.1:%d", s_echo_port);
    uint8_t *buf = calloc (1, r->size);
    zframe_t *f = zframe_new (buf, r->size);
    zframe_send (&f, d, 0);                 /* connect + handshake */
    f = zframe_recv (d);
    zframe_destroy (&f);
    double t0 = s_now ();
    for (int i = 0; i < r->n; i++) {
        double a = s_now ();
        f = zframe_new (buf, r->size);
        zframe_send (&f, d, 0);
        f = zframe_recv (d);
        zframe_destroy (&f);
        if (r->lat)
            r->lat[i] = s_now () - a;
    }
    r->secs = s_now () - t0;
    free (buf);
    zsock_destroy (&d);
    zcert_destroy (&me);
    zcert_destroy (&srv);
    return NULL;
}

static void
s_raw_zmq (void)
{
    size_t size = s_ask_frame_size ();
    double *lat = malloc (ASKS * sizeof *lat);
    raw_t one = { ASKS, size, 0, lat };
    s_raw (&one);
    s_report ("raw_zmq_roundtrip", lat, ASKS, one.secs);
    free (lat);
    pthread_t th[THREADS];
    raw_t r[THREADS];
    double t0 = s_now ();
    for (int i = 0; i < THREADS; i++) {
        r[i] = (raw_t) { ASKS / 2, size, 0, NULL };
        pthread_create (&th[i], NULL, s_raw, &r[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join (th[i], NULL);
    printf ("bench: raw_zmq_roundtrip_%d_threads_per_s %.0f round trips/s\n", THREADS,
            THREADS * (ASKS / 2) / (s_now () - t0));
    printf ("bench: cross_node_frame_bytes %zu bytes\n", size);
}

int
main (void)
{
    const char *base = getenv ("BENCH_DIR") ? getenv ("BENCH_DIR") : "/tmp";
    snprintf (s_dir, sizeof s_dir, "%s/cluster-bench-%d", base, (int) getpid ());
    char cmd[1200];
    snprintf (s_keys_dir, sizeof s_keys_dir, "%s/keys", s_dir);
    snprintf (cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", s_dir, s_keys_dir);
    if (system (cmd))
        return 1;
    srand ((unsigned) getpid ());
    int base_port = 20000 + rand () % 10000;  /* below the ephemeral range */
    s_zmq[0] = base_port, s_zmq[1] = base_port + 1, s_echo_port = base_port + 2;
    s_http_port = 0;
    for (int i = 0; i < 2; i++) {
        snprintf (s_nodes[i].id, sizeof s_nodes[i].id, "n%d", i + 1);
        snprintf (s_nodes[i].bind, sizeof s_nodes[i].bind, "tcp://127.0.0.1:%d", s_zmq[i]);
        s_nodes[i].weight = 1;
        /*  Certificates as bin/pasar keys writes them. */
        zcert_t *c = zcert_new ();
        zcert_save (c, zsys_sprintf ("%s/n%d.key", s_keys_dir, i + 1));
        zcert_destroy (&c);
    }
    /*  No ZeroMQ context exists yet (certificates need none): fork is safe. */
    pid_t child = fork ();
    if (child == 0)
        s_child ();
    printf ("workload: 2 nodes (2 processes) on loopback, CURVE, 1 worker each, no fsync "
            "(GET asks change nothing); %d sequential asks, then %d threads\n", ASKS, THREADS);
    rt_runtime_t *rt = s_node (0);
    s_cross_node (rt);
    s_raw_zmq ();
    rt_runtime_destroy (&rt);
    kill (child, SIGTERM);
    waitpid (child, NULL, 0);
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    return system (cmd) ? 1 : 0;
}
