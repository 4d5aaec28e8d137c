/*  ed_metrics.c - per-route HTTP request counts and latency histograms

    Counters are plain atomics in fixed arrays: no lock on the request path.
    Each route keeps up to ED_STATUSES distinct status codes (more than any
    route returns); a status beyond that is counted under "other". */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ed_metrics.h"

#define ED_STATUSES 12
static const double s_bounds_s[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1, 0.25, 0.5, 1, 2.5, 5 };
#define ED_BUCKETS (sizeof s_bounds_s / sizeof s_bounds_s[0])

typedef struct {
    int      status[ED_STATUSES];       /* 0 = free slot; claimed by CAS */
    uint64_t count[ED_STATUSES];
    uint64_t other;
    uint64_t bucket[ED_BUCKETS + 1];    /* last = +Inf */
    uint64_t sum_us;
    uint64_t n;
} route_m_t;

struct ed_metrics {
    const char *const *labels;
    size_t nroutes;
    route_m_t *r;                       /* nroutes + 1 */
};

ed_metrics_t *
ed_metrics_new (const char *const *labels, size_t nroutes)
{
    ed_metrics_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->labels = labels;
    self->nroutes = nroutes;
    self->r = calloc (nroutes + 1, sizeof *self->r);
    if (!self->r) {
        free (self);
        return NULL;
    }
    return self;
}

void
ed_metrics_destroy (ed_metrics_t **p)
{
    if (!p || !*p)
        return;
    free ((*p)->r);
    free (*p);
    *p = NULL;
}

void
ed_metrics_observe (ed_metrics_t *self, size_t route, int status, uint64_t latency_us)
{
    route_m_t *m = &self->r[route <= self->nroutes ? route : self->nroutes];
    int i = 0;
    for (; i < ED_STATUSES; i++) {
        int cur = __atomic_load_n (&m->status[i], __ATOMIC_ACQUIRE);
        if (cur == status)
            break;
        if (cur == 0) {
            int zero = 0;
            if (__atomic_compare_exchange_n (&m->status[i], &zero, status, false,
                                             __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
                || zero == status)
                break;
        }
    }
    if (i < ED_STATUSES)
        __atomic_add_fetch (&m->count[i], 1, __ATOMIC_RELAXED);
    else
        __atomic_add_fetch (&m->other, 1, __ATOMIC_RELAXED);
    size_t b = 0;
    while (b < ED_BUCKETS && (double) latency_us > s_bounds_s[b] * 1e6)
        b++;
    __atomic_add_fetch (&m->bucket[b], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch (&m->sum_us, latency_us, __ATOMIC_RELAXED);
    __atomic_add_fetch (&m->n, 1, __ATOMIC_RELAXED);
}

void
ed_buf_printf (char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start (ap, fmt);
        int n = vsnprintf (*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0, fmt, ap);
        va_end (ap);
        if (n < 0)
            return;
        if (*buf && *len + (size_t) n < *cap) {
            *len += (size_t) n;
            return;
        }
        size_t ncap = (*cap ? *cap * 2 : 4096) + (size_t) n;
        char *nb = realloc (*buf, ncap);
        if (!nb)
            return;
        *buf = nb;
        *cap = ncap;
    }
}

void
ed_metrics_render (ed_metrics_t *self, char **buf, size_t *len, size_t *cap)
{
    ed_buf_printf (buf, len, cap, "# HELP pasar_http_requests_total HTTP requests by route and status.\n"
                   "# TYPE pasar_http_requests_total counter\n");
    for (size_t r = 0; r <= self->nroutes; r++) {
        const char *label = r < self->nroutes ? self->labels[r] : "unmatched";
        route_m_t *m = &self->r[r];
        for (int i = 0; i < ED_STATUSES; i++) {
            int st = __atomic_load_n (&m->status[i], __ATOMIC_ACQUIRE);
            if (st)
                ed_buf_printf (buf, len, cap, "pasar_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                               label, st, (unsigned long long) __atomic_load_n (&m->count[i], __ATOMIC_RELAXED));
        }
        if (m->other)
            ed_buf_printf (buf, len, cap, "pasar_http_requests_total{route=\"%s\",status=\"other\"} %llu\n",
                           label, (unsigned long long) m->other);
    }
    ed_buf_printf (buf, len, cap, "# HELP pasar_http_request_duration_seconds HTTP request latency by route.\n"
                   "# TYPE pasar_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r <= self->nroutes; r++) {
        route_m_t *m = &self->r[r];
        uint64_t n = __atomic_load_n (&m->n, __ATOMIC_RELAXED);
        if (!n)
            continue;
        const char *label = r < self->nroutes ? self->labels[r] : "unmatched";
        uint64_t acc = 0;
        for (size_t b = 0; b <= ED_BUCKETS; b++) {
            acc += __atomic_load_n (&m->bucket[b], __ATOMIC_RELAXED);
            if (b < ED_BUCKETS)
                ed_buf_printf (buf, len, cap, "pasar_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                               label, s_bounds_s[b], (unsigned long long) acc);
            else
                ed_buf_printf (buf, len, cap, "pasar_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                               label, (unsigned long long) acc);
        }
        ed_buf_printf (buf, len, cap, "pasar_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                       "pasar_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                       label, (double) m->sum_us / 1e6, label, (unsigned long long) n);
    }
}
