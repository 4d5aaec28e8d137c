/*  =========================================================================
    ed_server.h - the node's HTTP edge (civetweb)

    One catch-all civetweb handler dispatches through the route table
    (ed_routes.c): matching, method, media type, body limit, strict JSON and
    its schema, Idempotency-Key, then the route's handler; every error is
    application/problem+json. Each request logs one JSON line and updates
    the per-route metrics. The server owns civetweb; the runtime is
    borrowed.
    =========================================================================
*/
#ifndef ED_SERVER_H_INCLUDED
#define ED_SERVER_H_INCLUDED
#include <stddef.h>
#include <stdint.h>
#include "ed_req.h"
#include "ed_jwt.h"
#include "ed_presence.h"
#include "ed_cache.h"
#include "ed_revoked.h"
#include "ed_throttle.h"
#include "runtime/rt_runtime.h"

typedef struct {
    const char *listen;             /* "127.0.0.1:8080" */
    const char *node_id;
    const char *cluster_name;       /* [cluster] name */
    unsigned    threads;            /* civetweb worker threads; 0 = RT_HTTP_THREADS_DEFAULT */
    uint32_t    idem_retention_s;   /* published in /v1/meta */
    uint32_t    ask_timeout_ms;     /* deadline of asks to actors */
    bool        log_requests;       /* one JSON line per request on stderr */
    char      **admin_emails;       /* normalised; NULL-terminated; borrowed */
    /*  Key of the idempotency fingerprints (32 bytes, derived from the JWT
        secret): an HMAC, so a stored fingerprint of a body that holds a
        password cannot be brute-forced back to the password. */
    const uint8_t *fingerprint_key;
    ed_jwt_conf_t  jwt;             /* access tokens (key borrowed) */
    /*  Key of the refresh secrets (32 bytes, derived from the JWT secret):
        the secret of generation g of a session is HMAC(key, "sid:g"). */
    const uint8_t *refresh_key;
    /*  [redis] url, or NULL: shared throttling counters, revoked sessions
        and presence (node-local stand-ins otherwise). */
    const char    *redis_url;
    /*  [debug] chaos: POST /v1/admin/actors/{type}/{key}/kill works (404
        otherwise). For chaos tests, never in production. */
    bool           chaos;
    /*  [listings] lifetime_s: a listing is active this long after its
        create or renew; 0 = 30 days. */
    uint32_t       listing_lifetime_s;
    /*  [payments]: the partners' secrets (empty: that partner's callbacks
        are all refused), an unpaid payment's lifetime, the platform fee. */
    const char    *midtrans_server_key;
    const char    *xendit_callback_token;
    uint32_t       payment_expiry_s;
    uint32_t       fee_bps;
    /*  [orders] */
    uint32_t       order_payment_timeout_s;
    uint32_t       order_auto_complete_s;
} ed_options_t;

/*  Start serving. NULL with a reason in err on failure (port taken). */
ed_server_t *ed_server_new (rt_runtime_t *rt, const ed_options_t *opts,
                            char *err, size_t errlen);

/*  Stop accepting, finish requests in progress, free; no-op on NULL. */
void ed_server_destroy (ed_server_t **p);

const ed_options_t *ed_server_options (ed_server_t *self);

/*  Append the edge's Prometheus metrics (per-route requests and
    latencies) to a growing buffer. */
void ed_server_render_metrics (ed_server_t *self, char **buf, size_t *len, size_t *cap);

/*  The server's soft state (Redis-backed when configured). */
ed_revoked_t  *ed_server_revoked (ed_server_t *self);
ed_throttle_t *ed_server_throttle (ed_server_t *self);
ed_presence_t *ed_server_presence (ed_server_t *self);
ed_cache_t    *ed_server_cache (ed_server_t *self);

/*  The route table (ed_routes.c). */
extern const ed_route_t ed_routes[];
extern const size_t ed_routes_count;

#endif
