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

/*  Copy s into out as the inside of a JSON string (quotes not added),
    truncated to fit outlen. Returns out. */
char *rt_log_escape (const char *s, char *out, size_t outlen);

#endif
