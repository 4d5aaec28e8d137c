/*  counterd - a process doing acknowledged, idempotency-keyed increments,
    for the crash test (tests/proc/test_crash.py), which SIGKILLs it at
    random moments and restarts it.

        counterd DIR run N S0 S1 S2 S3
            four threads; thread t does ops i = S_t, S_t+4, ... < N: ask
            counter "c<i%5>" to INC 1 under idempotency key "op<i>", and
            print "ACK <i> <replayed>" once acknowledged (stdout flushed).
        counterd DIR check
            print "VALUE c<j> <v>" for j = 0..4.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sodium.h>
#include "runtime/rt_runtime.h"
#include "runtime/rt_error.h"
#include "tests/support/counter.h"

static rt_runtime_t *s_rt;
static long s_n;
static pthread_mutex_t s_out = PTHREAD_MUTEX_INITIALIZER;

static void *
s_thread (void *arg)
{
    long start = (long) (intptr_t) arg;
    for (long i = start; i < s_n; i += 4) {
        char key[32], ctr[24];
        snprintf (key, sizeof key, "op%ld", i);
        snprintf (ctr, sizeof ctr, "c%ld", i % 5);
        uint8_t fp[32];
        crypto_hash_sha256 (fp, (const uint8_t *) key, strlen (key));
        rt_request_t req = {
            .to_type = COUNTER_TYPE, .to_key = ctr, .to_key_len = strlen (ctr),
            .msg_type = CTR_INC, .body = "1", .body_len = 1,
            .idem_scope = "crash-test", .idem_key = key, .fingerprint = fp,
        };
        for (;;) {
            rt_reply_t rep;
            int rc = rt_ask (s_rt, &req, 10000, &rep);
            bool replayed = rep.replayed;
            rt_reply_free (&rep);
            if (rc == 0) {
                pthread_mutex_lock (&s_out);
                printf ("ACK %ld %d\n", i, replayed);
                fflush (stdout);
                pthread_mutex_unlock (&s_out);
                break;
            }
            if (rc != RT_EOVERLOADED && rc != RT_ETIMEOUT) {
                fprintf (stderr, "counterd: op%ld: %s\n", i, rt_strerror (rc));
                exit (2);
            }
        }
    }
    return NULL;
}

int
main (int argc, char **argv)
{
    if (argc < 3) {
        fprintf (stderr, "usage: counterd DIR run N S0 S1 S2 S3 | counterd DIR check\n");
        return 2;
    }
    rt_options_t o = { .data_dir = argv[1], .node_id = "crash", .shards = 16, .workers = 2 };
    char err[256];
    s_rt = rt_runtime_new (&o, err, sizeof err);
    if (!s_rt) {
        fprintf (stderr, "counterd: %s\n", err);
        return 1;
    }
    rt_register (s_rt, COUNTER_TYPE, &counter_type);
    if (rt_start (s_rt)) {
        fprintf (stderr, "counterd: start failed\n");
        return 1;
    }
    if (strcmp (argv[2], "check") == 0) {
        for (int j = 0; j < 5; j++) {
            char ctr[16];
            snprintf (ctr, sizeof ctr, "c%d", j);
            long long v = -1;
            if (counter_ask (s_rt, ctr, CTR_GET, NULL, &v, 10000) != 200)
                return 1;
            printf ("VALUE %s %lld\n", ctr, v);
        }
        rt_runtime_destroy (&s_rt);
        return 0;
    }
    if (strcmp (argv[2], "run") != 0 || argc != 8) {
        fprintf (stderr, "counterd: bad arguments\n");
        return 2;
    }
    s_n = atol (argv[3]);
    printf ("READY\n");
    fflush (stdout);
    pthread_t th[4];
    for (int t = 0; t < 4; t++)
        pthread_create (&th[t], NULL, s_thread, (void *) (intptr_t) atol (argv[4 + t]));
    for (int t = 0; t < 4; t++)
        pthread_join (th[t], NULL);
    rt_runtime_destroy (&s_rt);
    printf ("DONE\n");
    return 0;
}
