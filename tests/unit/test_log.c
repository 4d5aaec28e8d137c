/*  test_log.c - log lines through the log thread's bounded queue */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include "runtime/rt_log.h"

#define THREADS 4
#define PER_THREAD 2000     /* ~100 bytes each: all of it fits the queue */

static void *
s_logger (void *arg)
{
    int t = (int) (intptr_t) arg;
    for (int i = 0; i < PER_THREAD; i++)
        rt_log ("info", "t.line", "\"t\":%d,\"i\":%d", t, i);
    return NULL;
}

/*  Every line a thread logs comes out whole, once, and in that thread's
    order, from several threads at once; rt_log_stop writes what is
    queued; after it lines are written at once. */
static void
test_lines_whole_once_in_order (void **state)
{
    (void) state;
    FILE *f = tmpfile ();
    assert_non_null (f);
    int saved = dup (STDERR_FILENO);
    assert_true (saved >= 0);
    assert_true (dup2 (fileno (f), STDERR_FILENO) >= 0);
    unsigned long long dropped0 = rt_log_dropped ();
    assert_int_equal (rt_log_start (), 0);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        assert_int_equal (pthread_create (&th[t], NULL, s_logger, (void *) (intptr_t) t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join (th[t], NULL);
    rt_log_stop ();
    rt_log ("info", "t.after", NULL);
    fflush (stderr);
    dup2 (saved, STDERR_FILENO);
    close (saved);
    assert_int_equal (rt_log_dropped (), dropped0);

    rewind (f);
    int next[THREADS] = { 0 }, lines = 0, after = 0;
    char line[4096];
    while (fgets (line, sizeof line, f)) {
        size_t n = strlen (line);
        assert_true (n > 2 && line[n - 1] == '\n' && line[n - 2] == '}');
        assert_memory_equal (line, "{\"ts\":\"", 7);
        if (strstr (line, "\"event\":\"t.after\"")) {
            after++;
            continue;
        }
        const char *p = strstr (line, "\"event\":\"t.line\",\"t\":");
        assert_non_null (p);
        int t, i;
        assert_int_equal (sscanf (p, "\"event\":\"t.line\",\"t\":%d,\"i\":%d}", &t, &i), 2);
        assert_true (t >= 0 && t < THREADS);
        assert_int_equal (i, next[t]);
        next[t]++;
        lines++;
    }
    fclose (f);
    assert_int_equal (lines, THREADS * PER_THREAD);
    assert_int_equal (after, 1);
}

typedef struct { int fd; size_t lines, reported; } drain_t;

/*  Reads the pipe to its end: lines of ours, and the sum of what the
    log.dropped lines report. */
static void *
s_drain (void *arg)
{
    drain_t *d = arg;
    FILE *f = fdopen (d->fd, "r");
    char line[4096];
    while (f && fgets (line, sizeof line, f)) {
        const char *p = strstr (line, "\"event\":\"log.dropped\",\"lines\":");
        if (p)
            d->reported += strtoull (p + strlen ("\"event\":\"log.dropped\",\"lines\":"), NULL, 10);
        else if (strstr (line, "\"event\":\"t.flood\""))
            d->lines++;
    }
    if (f)
        fclose (f);
    return NULL;
}

/*  A log nobody reads (a pipe left full) never holds a caller: lines
    beyond the queue are dropped and counted, and once it drains the
    count is written as log.dropped. Every line is either written or
    counted. */
static void
test_full_queue_drops_and_reports (void **state)
{
    (void) state;
    int pfd[2];
    assert_int_equal (pipe (pfd), 0);
    int saved = dup (STDERR_FILENO);
    assert_true (dup2 (pfd[1], STDERR_FILENO) >= 0);
    close (pfd[1]);
    unsigned long long dropped0 = rt_log_dropped ();
    assert_int_equal (rt_log_start (), 0);
    /*  ~3 MB against a 1 MiB queue and a 64 KiB pipe, nobody reading:
        this returns only because full means dropped. */
    const int total = 30000;
    for (int i = 0; i < total; i++)
        rt_log ("info", "t.flood", "\"i\":%d", i);
    unsigned long long dropped = rt_log_dropped () - dropped0;
    drain_t d = { .fd = pfd[0] };
    pthread_t reader;
    assert_int_equal (pthread_create (&reader, NULL, s_drain, &d), 0);
    rt_log_stop ();
    dup2 (saved, STDERR_FILENO);    /* the pipe's last writer goes: EOF */
    close (saved);
    pthread_join (reader, NULL);
    assert_true (dropped > 0);
    assert_int_equal (d.lines + dropped, (size_t) total);
    assert_int_equal (d.reported, dropped);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_lines_whole_once_in_order),
        cmocka_unit_test (test_full_queue_drops_and_reports),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
