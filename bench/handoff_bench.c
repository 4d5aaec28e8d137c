/*  =========================================================================
    handoff_bench.c - scale-out and recovery with 1,000,000 entities
    (make bench)

    Real processes on loopback (each forked before any ZeroMQ context
    exists in the parent), real LMDB with fsync (sync = full), CURVE.

    recovery   one node (a child) loads ENTITIES counters (one durable turn
               each), is SIGKILLed, and a new process opens the same store:
               time from that process's start to its first answered ask of
               a random counter (the value must be the one written), i.e.
               store open, shard table, outbox and reminder scans, actor
               activation from LMDB. bin/pasar adds exec, config and the
               HTTP edge's start to this.
    scale-out  n1 (the parent) and n2 (a child) hold ENTITIES counters
               between them; n3 (a child, empty store) starts and n1, n2
               reload to the three-node membership, so about a third of the
               shards move to n3 while THREADS threads on n1 keep asking
               GET of random counters (local, forwarded, or waiting for a
               moving shard). Figures: shards and MB moved, shards/s, MB/s
               (from the reload to the last shard committed on n3), and the
               wait of every ask issued during the move: p50, p99, max,
               failures.
    =========================================================================
*/
#include <czmq.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include "runtime/rt_internal.h"
#include "tests/support/counter.h"

#define SHARDS    256
/*  1,000,000 unless BENCH_ENTITIES says otherwise (a quick check). */
static int ENTITIES = 1000000;
#define THREADS   4

static char s_dir[512], s_keys_dir[600];
static rt_node_conf_t s_nodes[3];

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

static void
s_key (char *buf, size_t len, int i)
{
    snprintf (buf, len, "e%07d", i);
}

static rt_runtime_t *
s_runtime (const char *id, rt_node_conf_t *nodes, size_t n, uint32_t self, uint64_t epoch)
{
    char dir[700], err[512];
    snprintf (dir, sizeof dir, "%s/%s", s_dir, id);
    rt_options_t o = { .data_dir = dir, .node_id = id, .shards = SHARDS, .workers = 2,
                       .map_size_mb = 1024, .nodes = nodes, .nnodes = n, .self_node = self,
                       .epoch = epoch, .keys_dir = s_keys_dir, .peer_down_ms = 2000 };
    rt_runtime_t *rt = rt_runtime_new (&o, err, sizeof err);
    if (!rt || rt_register (rt, COUNTER_TYPE, &counter_type) || rt_start (rt)) {
        fprintf (stderr, "handoff_bench: %s: %s\n", id, rt ? "start failed" : err);
        exit (1);
    }
    return rt;
}

/*  INC 1 on every counter this node owns, as tells (the committer groups
    them), then wait until all is durable. */
static int
s_load (rt_runtime_t *rt)
{
    while (rt_owner_fresh (rt->owner))     /* a new cluster: until shards are taken */
        zclock_sleep (10);
    int n = 0;
    for (int i = 0; i < ENTITIES; i++) {
        char key[16];
        s_key (key, sizeof key, i);
        uint32_t shard = rt_shard_of (COUNTER_TYPE, key, strlen (key), SHARDS);
        if (RT_SH_STATE (rt_owner_word (rt->owner, shard)) != RT_SH_OWNED)
            continue;
        rt_request_t req = { .to_type = COUNTER_TYPE, .to_key = key, .to_key_len = strlen (key),
                             .msg_type = CTR_INC, .body = "1", .body_len = 1 };
        while (rt_tell (rt, &req) == RT_EOVERLOADED)
            zclock_sleep (1);
        n++;
    }
    /*  Tells queue; wait until the mailboxes are empty and all is on disk. */
    rt_stats_t st;
    do {
        zclock_sleep (20);
        rt_stats (rt, &st);
    } while (st.mailbox_depth);
    st_committer_wait (rt->committer, st_committer_submitted (rt->committer), -1);
    return n;
}

static void
s_say (int fd, const char *what)
{
    if (write (fd, what, strlen (what)) < 0)
        exit (1);
}

static void
s_hear (int fd, char *buf, size_t len)
{
    ssize_t n = read (fd, buf, len - 1);
    if (n <= 0)
        exit (1);
    buf[n] = '\0';
}

/* ---- recovery ------------------------------------------------------------- */

static void
s_recovery (void)
{
    int up[2];
    if (pipe (up))
        exit (1);
    pid_t loader = fork ();
    if (loader == 0) {
        rt_runtime_t *rt = s_runtime ("r1", NULL, 0, 0, 1);
        double t0 = s_now ();
        int n = s_load (rt);
        char msg[64];
        snprintf (msg, sizeof msg, "%d %.3f", n, s_now () - t0);
        s_say (up[1], msg);
        pause ();                       /* until SIGKILL */
        _exit (0);
    }
    char buf[64];
    s_hear (up[0], buf, sizeof buf);
    int n;
    double secs;
    sscanf (buf, "%d %lf", &n, &secs);
    printf ("bench: load_durable_entities_per_s %.0f entities/s (%d counters, one fsync'd "
            "turn each, group commit)\n", n / secs, n);
    kill (loader, SIGKILL);
    waitpid (loader, NULL, 0);

    double t0 = s_now ();
    pid_t again = fork ();
    if (again == 0) {
        rt_runtime_t *rt = s_runtime ("r1", NULL, 0, 0, 1);
        char key[16];
        s_key (key, sizeof key, (int) (getpid () % ENTITIES));
        long long v = 0;
        int status = counter_ask (rt, key, CTR_GET, NULL, &v, 5000);
        s_say (up[1], status == 200 && v == 1 ? "ok" : "bad");
        _exit (0);
    }
    s_hear (up[0], buf, sizeof buf);
    double took = s_now () - t0;
    waitpid (again, NULL, 0);
    if (strcmp (buf, "ok")) {
        fprintf (stderr, "handoff_bench: the recovered node lost a write\n");
        exit (1);
    }
    printf ("bench: recovery_to_first_answer %.1f ms (%d entities; SIGKILL, then a new "
            "process: store open to an answered ask)\n", took * 1e3, ENTITIES);
}

/* ---- scale-out ------------------------------------------------------------- */

typedef struct {
    rt_runtime_t *rt;
    double       *start, *wait;
    int          *ok;
    size_t        n, cap;
    volatile int *stop;
} asker_t;

static void *
s_asker (void *p)
{
    asker_t *a = p;
    unsigned seed = (unsigned) (uintptr_t) p;
    while (!*a->stop && a->n < a->cap) {
        char key[16];
        s_key (key, sizeof key, rand_r (&seed) % ENTITIES);
        double t = s_now ();
        long long v = 0;
        int status = counter_ask (a->rt, key, CTR_GET, NULL, &v, 10000);
        a->start[a->n] = t;
        a->wait[a->n] = s_now () - t;
        a->ok[a->n] = status == 200 && v == 1;
        if (status == 200 && v != 1)
            fprintf (stderr, "handoff_bench: %s reads %lld: a write was lost\n", key, v);
        else if (status != 200)
            fprintf (stderr, "handoff_bench: %s: status %d\n", key, status);
        a->n++;
    }
    return NULL;
}

/*  A child node: n2 (loads, reloads) or n3 (starts empty at epoch 2). */
static void
s_child (uint32_t self, int cmd, int up)
{
    char buf[64];
    s_hear (cmd, buf, sizeof buf);          /* "go" */
    rt_runtime_t *rt = self == 1 ? s_runtime ("n2", s_nodes, 2, 1, 1)
                                 : s_runtime ("n3", s_nodes, 3, 2, 2);
    if (self == 1) {
        int n = s_load (rt);
        snprintf (buf, sizeof buf, "%d", n);
        s_say (up, buf);
        s_hear (cmd, buf, sizeof buf);      /* "reload" */
        char err[300];
        if (rt_reload (rt, s_nodes, 3, 2, err, sizeof err)) {
            fprintf (stderr, "handoff_bench: n2 reload: %s\n", err);
            exit (1);
        }
        s_say (up, "reloaded");
    }
    /*  n3: report when every shard placed on it has landed. */
    rt_stats_t st;
    for (;;) {
        zclock_sleep (5);
        rt_stats (rt, &st);
        if (!rt_owner_fresh (rt->owner) && !st.shards_moving_in && !st.shards_moving_out)
            break;
    }
    snprintf (buf, sizeof buf, "%llu %llu", (unsigned long long) st.handoff_shards_in,
              (unsigned long long) st.handoff_bytes_in);
    if (self == 2)
        s_say (up, buf);
    s_hear (cmd, buf, sizeof buf);          /* "quit" */
    rt_runtime_destroy (&rt);
    _exit (0);
}

static void
s_scale_out (void)
{
    int cmd[2][2], up[2][2];
    pid_t kid[2];
    for (int c = 0; c < 2; c++) {
        if (pipe (cmd[c]) || pipe (up[c]))
            exit (1);
        /*  No ZeroMQ context in this process yet: fork is safe. */
        if ((kid[c] = fork ()) == 0)
            s_child ((uint32_t) c + 1, cmd[c][0], up[c][1]);
    }
    s_say (cmd[0][1], "go");
    rt_runtime_t *rt = s_runtime ("n1", s_nodes, 2, 0, 1);
    int mine = s_load (rt);
    char buf[64];
    s_hear (up[0][0], buf, sizeof buf);
    if (mine + atoi (buf) != ENTITIES) {
        fprintf (stderr, "handoff_bench: loaded %d + %s of %d\n", mine, buf, ENTITIES);
        exit (1);
    }
    printf ("workload: 2 nodes holding %d counters (n1 %d, n2 %s), 2 workers each, fsync on; "
            "n3 joins; %d threads on n1 ask GET of random counters throughout\n",
            ENTITIES, mine, buf, THREADS);

    volatile int stop = 0;
    asker_t ask[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        size_t cap = 4000000;
        ask[i] = (asker_t) { rt, malloc (cap * sizeof (double)), malloc (cap * sizeof (double)),
                             malloc (cap * sizeof (int)), 0, cap, &stop };
        pthread_create (&th[i], NULL, s_asker, &ask[i]);
    }
    zclock_sleep (500);
    double t0 = s_now ();
    s_say (cmd[1][1], "go");                /* n3 starts */
    s_say (cmd[0][1], "reload");
    char err[300];
    if (rt_reload (rt, s_nodes, 3, 2, err, sizeof err)) {
        fprintf (stderr, "handoff_bench: n1 reload: %s\n", err);
        exit (1);
    }
    s_hear (up[0][0], buf, sizeof buf);     /* n2 reloaded */
    s_hear (up[1][0], buf, sizeof buf);     /* n3 has all its shards */
    double t1 = s_now ();
    zclock_sleep (300);
    stop = 1;
    for (int i = 0; i < THREADS; i++)
        pthread_join (th[i], NULL);
    unsigned long long shards = 0, bytes = 0;
    sscanf (buf, "%llu %llu", &shards, &bytes);
    double secs = t1 - t0;
    printf ("bench: handoff_shards_moved %llu shards (%.1f MB) in %.2f s\n", shards,
            bytes / 1e6, secs);
    printf ("bench: handoff_shards_per_s %.0f shards/s\n", shards / secs);
    printf ("bench: handoff_mb_per_s %.1f MB/s\n", bytes / 1e6 / secs);

    size_t total = 0, failed = 0, k = 0;
    for (int i = 0; i < THREADS; i++)
        total += ask[i].n;
    double *during = malloc ((total ? total : 1) * sizeof *during);
    for (int i = 0; i < THREADS; i++) {
        for (size_t j = 0; j < ask[i].n; j++) {
            if (ask[i].start[j] < t0 || ask[i].start[j] > t1)
                continue;
            during[k++] = ask[i].wait[j];
            failed += !ask[i].ok[j];
        }
    }
    qsort (during, k, sizeof *during, s_cmp);
    if (k) {
        printf ("bench: handoff_ask_wait_p50 %.2f ms (%zu asks during the move)\n",
                during[k / 2] * 1e3, k);
        printf ("bench: handoff_ask_wait_p99 %.2f ms\n", during[k * 99 / 100] * 1e3);
        printf ("bench: handoff_ask_wait_max %.2f ms\n", during[k - 1] * 1e3);
        printf ("bench: handoff_asks_failed %zu of %zu\n", failed, k);
    }
    free (during);
    for (int i = 0; i < THREADS; i++) {
        free (ask[i].start);
        free (ask[i].wait);
        free (ask[i].ok);
    }
    for (int c = 0; c < 2; c++) {
        s_say (cmd[c][1], "quit");
        waitpid (kid[c], NULL, 0);
    }
    rt_runtime_destroy (&rt);
}

int
main (void)
{
    const char *base = getenv ("BENCH_DIR") ? getenv ("BENCH_DIR") : "/tmp";
    snprintf (s_dir, sizeof s_dir, "%s/handoff-bench-%d", base, (int) getpid ());
    snprintf (s_keys_dir, sizeof s_keys_dir, "%s/keys", s_dir);
    char cmd[1200];
    snprintf (cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", s_dir, s_keys_dir);
    if (system (cmd))
        return 1;
    srand ((unsigned) getpid ());
    int port = 20000 + rand () % 10000;     /* below the ephemeral range */
    for (int i = 0; i < 3; i++) {
        snprintf (s_nodes[i].id, sizeof s_nodes[i].id, "n%d", i + 1);
        snprintf (s_nodes[i].bind, sizeof s_nodes[i].bind, "tcp://127.0.0.1:%d", port + i);
        s_nodes[i].weight = 1;
        zcert_t *c = zcert_new ();          /* as bin/pasar keys writes them */
        zcert_save (c, zsys_sprintf ("%s/n%d.key", s_keys_dir, i + 1));
        zcert_destroy (&c);
    }
    setvbuf (stdout, NULL, _IOLBF, 0);
    if (getenv ("BENCH_ENTITIES"))
        ENTITIES = atoi (getenv ("BENCH_ENTITIES"));
    s_recovery ();
    s_scale_out ();
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    return system (cmd) ? 1 : 0;
}
