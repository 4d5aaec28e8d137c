/*  rt_log.h - JSON log lines on stderr, one event per line

    {"ts":"2026-11-24T10:00:00.123Z","level":"info","event":"node.start",...}
    The extra members come from a printf format the caller controls; pass
    only values that need no JSON escaping (ids, numbers), or escape them
    with rt_log_escape. Never log a password, token or secret. */
#ifndef RT_LOG_H_INCLUDED
#define RT_LOG_H_INCLUDED
#include <stddef.h>

void rt_log (const char *level, const char *event, const char *fields_fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/*  From rt_log_start on, a line is copied into a queue of
    RT_LOG_QUEUE_BYTES and written by a thread of its own ("pasar-log"),
    many lines per write(2) every RT_LOG_FLUSH_MS (sooner when
    RT_LOG_WAKE_BYTES are queued), so no caller waits for the file.
    - A line that finds the queue full is dropped and counted; the
      thread then writes {"event":"log.dropped","lines":N}.
    - Before rt_log_start and after rt_log_stop, lines are written at
      once, by the caller.
    - Lines still queued when the process is killed (at most
      RT_LOG_FLUSH_MS of them) are lost; rt_log_stop, also an atexit
      handler once started, writes them.
    rt_log_start returns 0, or -1 with no thread (lines go on being
    written at once). Start and stop are not for concurrent calls with
    each other; rt_log is, always. */
int rt_log_start (void);
void rt_log_stop (void);

/*  Lines dropped because the queue was full, since start. */
unsigned long long rt_log_dropped (void);

/*  Copy s into out as the inside of a JSON string (quotes not added),
    truncated to fit outlen. Returns out. */
char *rt_log_escape (const char *s, char *out, size_t outlen);

#endif
