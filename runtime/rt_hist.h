/*  =========================================================================
    rt_hist.h - a fixed-bucket histogram, for /metrics

    A leaf header (the store uses it too). Counts per bucket are kept
    non-cumulative and made cumulative when rendered (Prometheus "le").
    Not thread-safe: the owner updates it under its own lock.
    =========================================================================
*/
#ifndef RT_HIST_H_INCLUDED
#define RT_HIST_H_INCLUDED
#include <stdint.h>

#define RT_HIST_MAX 16

typedef struct {
    uint32_t n;                         /* bounds in use */
    uint64_t le[RT_HIST_MAX];           /* inclusive upper bounds, ascending */
    uint64_t count[RT_HIST_MAX + 1];    /* the last: above every bound */
    uint64_t sum;
} rt_hist_t;

static inline void
rt_hist_init (rt_hist_t *h, const uint64_t *le, uint32_t n)
{
    *h = (rt_hist_t) { .n = n > RT_HIST_MAX ? RT_HIST_MAX : n };
    for (uint32_t i = 0; i < h->n; i++)
        h->le[i] = le[i];
}

static inline void
rt_hist_add (rt_hist_t *h, uint64_t v)
{
    uint32_t i = 0;
    while (i < h->n && v > h->le[i])
        i++;
    h->count[i]++;
    h->sum += v;
}

#endif
