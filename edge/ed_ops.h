/*  ed_ops.h - handlers of the operations routes (API.md §Meta and operations) */
#ifndef ED_OPS_H_INCLUDED
#define ED_OPS_H_INCLUDED
#include "ed_req.h"

ed_handler_fn ed_ops_healthz;   /* GET /healthz */
ed_handler_fn ed_ops_readyz;    /* GET /readyz */
ed_handler_fn ed_ops_metrics;   /* GET /metrics */
ed_handler_fn ed_ops_meta;      /* GET /v1/meta */
ed_handler_fn ed_ops_problem;   /* GET /problems/{slug} */
ed_handler_fn ed_ops_cluster;   /* GET /v1/cluster (admin) */

/*  The version reported by /v1/meta. */
#define PASAR_VERSION "0.1.0"

#endif
