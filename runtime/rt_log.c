/*  rt_log.c - JSON log lines on stderr */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "rt_log.h"

void
rt_log (const char *level, const char *event, const char *fields_fmt, ...)
{
    char line[2048];
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r (&ts.tv_sec, &tm);
    int n = snprintf (line, sizeof line,
                      "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\",\"event\":\"%s\"",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                      tm.tm_sec, ts.tv_nsec / 1000000, level, event);
    if (fields_fmt && *fields_fmt && n > 0 && (size_t) n < sizeof line - 4) {
        line[n++] = ',';
        va_list ap;
        va_start (ap, fields_fmt);
        int m = vsnprintf (line + n, sizeof line - (size_t) n - 3, fields_fmt, ap);
        va_end (ap);
        if (m > 0)
            n += m < (int) (sizeof line - (size_t) n - 3) ? m : (int) (sizeof line - (size_t) n - 4);
    }
    if (n < 0 || (size_t) n > sizeof line - 3)
        n = (int) sizeof line - 3;
    line[n++] = '}';
    line[n++] = '\n';
    /*  One write(2) per line: lines from threads never interleave, and no
        stdio lock is shared by every request thread. */
    ssize_t w = write (STDERR_FILENO, line, (size_t) n);
    (void) w;                   /* nowhere to report a failed log write */
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
