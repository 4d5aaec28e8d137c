/*  ed_metrics.h - per-route HTTP request counts and latency histograms */
#ifndef ED_METRICS_H_INCLUDED
#define ED_METRICS_H_INCLUDED
#include <stddef.h>
#include <stdint.h>

typedef struct ed_metrics ed_metrics_t;

/*  Label of each route ("GET /v1/users/{id}"); one more slot, named
    "unmatched", takes 404s and 405s of paths no route knows. */
ed_metrics_t *ed_metrics_new (const char *const *labels, size_t nroutes);
void ed_metrics_destroy (ed_metrics_t **p);

/*  Record one request (any thread, lock-free). route == nroutes for
    unmatched. */
void ed_metrics_observe (ed_metrics_t *self, size_t route, int status, uint64_t latency_us);

/*  Append Prometheus text to the buffer (*buf grows with realloc). */
void ed_metrics_render (ed_metrics_t *self, char **buf, size_t *len, size_t *cap);

/*  printf-append into a growing buffer; shared by the /metrics renderers. */
void ed_buf_printf (char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

#endif
