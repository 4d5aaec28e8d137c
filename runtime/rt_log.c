/*  rt_log.c - JSON log lines on stderr, written by a thread of their own */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "rt_log.h"
#include "rt_bg.h"
#include "rt_limits.h"

/*  The queue: a ring of bytes, whole lines only, under bg.lock. Logging
    is one stream per process, so this is the one piece of process-wide
    state here; its lock is static because rt_log works before start. */
static struct {
    rt_bg_t         bg;
    char           *ring;               /* RT_LOG_QUEUE_BYTES */
    size_t          head, len;          /* queued bytes start at head */
    bool            queueing;           /* lines are queued, not written */
    bool            idle;               /* the thread waits */
    unsigned long long dropped, reported;
} s_q = { .bg = { .lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER } };

/*  All of p, across partial writes; a failure drops the rest (there is
    nowhere to report a failed log write). */
static void
s_write_all (const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write (STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t) w;
    }
}

/*  One line, "{...}\n", into line (cap bytes); returns its length. */
static size_t
s_format (char *line, size_t cap, const char *level, const char *event,
          const char *fields_fmt, va_list ap)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r (&ts.tv_sec, &tm);
    int n = snprintf (line, cap,
                      "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\",\"event\":\"%s\"",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                      tm.tm_sec, ts.tv_nsec / 1000000, level, event);
    if (fields_fmt && *fields_fmt && n > 0 && (size_t) n < cap - 4) {
        line[n++] = ',';
        int m = vsnprintf (line + n, cap - (size_t) n - 3, fields_fmt, ap);
        if (m > 0)
            n += m < (int) (cap - (size_t) n - 3) ? m : (int) (cap - (size_t) n - 4);
    }
    if (n < 0 || (size_t) n > cap - 3)
        n = (int) cap - 3;
    line[n++] = '}';
    line[n++] = '\n';
    return (size_t) n;
}

static size_t
s_line (char *line, size_t cap, const char *level, const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    size_t n = s_format (line, cap, level, event, fmt, ap);
    va_end (ap);
    return n;
}

/*  Writes what is queued, in as few write(2)s as the ring's wrap allows,
    with the lock released while writing: callers only ever add after
    head + len, so the bytes being written stay as they are. */
static void *
s_writer (void *arg)
{
    (void) arg;
    pthread_mutex_lock (&s_q.bg.lock);
    bool waited = false;
    while (s_q.len > 0 || !s_q.bg.stop) {
        if (s_q.len == 0 || (!waited && !s_q.bg.stop && s_q.len < RT_LOG_WAKE_BYTES)) {
            s_q.idle = true;
            rt_bg_wait (&s_q.bg, RT_LOG_FLUSH_MS);
            s_q.idle = false;
            waited = true;
            continue;
        }
        waited = false;
        size_t n = s_q.len < RT_LOG_QUEUE_BYTES - s_q.head ? s_q.len : RT_LOG_QUEUE_BYTES - s_q.head;
        const char *p = s_q.ring + s_q.head;
        /*  The count goes between lines, never into one the ring's end
            splits. */
        unsigned long long lost = p[n - 1] == '\n' ? s_q.dropped - s_q.reported : 0;
        s_q.reported += lost;
        pthread_mutex_unlock (&s_q.bg.lock);
        s_write_all (p, n);
        if (lost) {
            char line[256];
            s_write_all (line, s_line (line, sizeof line, "warn", "log.dropped",
                                       "\"lines\":%llu,\"queue_bytes\":%u", lost,
                                       RT_LOG_QUEUE_BYTES));
        }
        pthread_mutex_lock (&s_q.bg.lock);
        s_q.head = (s_q.head + n) % RT_LOG_QUEUE_BYTES;
        s_q.len -= n;
    }
    s_q.queueing = false;               /* later lines: written at once */
    pthread_mutex_unlock (&s_q.bg.lock);
    return NULL;
}

void
rt_log (const char *level, const char *event, const char *fields_fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start (ap, fields_fmt);
    size_t n = s_format (line, sizeof line, level, event, fields_fmt, ap);
    va_end (ap);
    pthread_mutex_lock (&s_q.bg.lock);
    if (!s_q.queueing) {
        pthread_mutex_unlock (&s_q.bg.lock);
        /*  One write(2) per line: lines from threads never interleave. */
        s_write_all (line, n);
        return;
    }
    if (s_q.len + n > RT_LOG_QUEUE_BYTES)
        s_q.dropped++;
    else {
        size_t at = (s_q.head + s_q.len) % RT_LOG_QUEUE_BYTES;
        size_t first = n < RT_LOG_QUEUE_BYTES - at ? n : RT_LOG_QUEUE_BYTES - at;
        memcpy (s_q.ring + at, line, first);
        memcpy (s_q.ring, line + first, n - first);
        s_q.len += n;
        if (s_q.idle && s_q.len >= RT_LOG_WAKE_BYTES)
            pthread_cond_signal (&s_q.bg.cv);
    }
    pthread_mutex_unlock (&s_q.bg.lock);
}

int
rt_log_start (void)
{
    if (s_q.bg.running)
        return 0;
    if (!s_q.ring && !(s_q.ring = malloc (RT_LOG_QUEUE_BYTES)))
        return -1;
    pthread_mutex_lock (&s_q.bg.lock);
    s_q.bg.stop = false;
    s_q.queueing = true;
    pthread_mutex_unlock (&s_q.bg.lock);
    if (rt_bg_start (&s_q.bg, s_writer, NULL, "pasar-log")) {
        pthread_mutex_lock (&s_q.bg.lock);
        s_q.queueing = false;
        pthread_mutex_unlock (&s_q.bg.lock);
        return -1;
    }
    static bool registered;
    if (!registered)
        registered = atexit (rt_log_stop) == 0;
    return 0;
}

void
rt_log_stop (void)
{
    rt_bg_stop (&s_q.bg);           /* the thread writes what is queued first */
}

unsigned long long
rt_log_dropped (void)
{
    pthread_mutex_lock (&s_q.bg.lock);
    unsigned long long n = s_q.dropped;
    pthread_mutex_unlock (&s_q.bg.lock);
    return n;
}

char *
rt_log_escape (const char *s, char *out, size_t outlen)
{
    size_t j = 0;
    for (; *s && j + 7 < outlen; s++) {
        unsigned char c = (unsigned char) *s;
        if (c == '"' || c == '\\') {
            out[j++] = '\\';
            out[j++] = (char) c;
        }
        else if (c < 0x20)
            j += (size_t) snprintf (out + j, outlen - j, "\\u%04x", c);
        else
            out[j++] = (char) c;
    }
    out[j] = 0;
    return out;
}
