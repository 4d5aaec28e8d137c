/*  =========================================================================
    ed_server.h - the node's HTTP edge (civetweb)

    Today: the operations endpoints GET /healthz, GET /readyz and
    GET /metrics (Prometheus text). The route table of API.md is built on
    this server by the edge issue; the server owns civetweb, the runtime
    is only borrowed.
    =========================================================================
*/
#ifndef ED_SERVER_H_INCLUDED
#define ED_SERVER_H_INCLUDED
#include <stddef.h>
#include "runtime/rt_runtime.h"

typedef struct ed_server ed_server_t;

typedef struct {
    const char *listen;         /* "127.0.0.1:8080" */
    const char *node_id;
    unsigned    threads;        /* civetweb worker threads; 0 = 64 */
} ed_options_t;

/*  Start serving. NULL with a reason in err on failure (port taken). */
ed_server_t *ed_server_new (rt_runtime_t *rt, const ed_options_t *opts,
                            char *err, size_t errlen);

/*  Stop accepting, finish requests in progress, free; no-op on NULL. */
void ed_server_destroy (ed_server_t **p);

#endif
