/*  rt_time.h - clocks and condition-variable deadlines, shared by the
    runtime and the store */
#ifndef RT_TIME_H_INCLUDED
#define RT_TIME_H_INCLUDED
#include <stdint.h>
#include <time.h>

/*  The CLOCK_REALTIME instant ms milliseconds from now, for
    pthread_cond_timedwait (whose default clock is CLOCK_REALTIME). */
static inline struct timespec
rt_deadline_in (int64_t ms)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t) (ms / 1000);
    ts.tv_nsec += (long) (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/*  Microseconds on CLOCK_MONOTONIC: intervals and backoffs, which a
    change of the wall clock must not stretch or cut. */
static inline uint64_t
rt_mono_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

#endif
