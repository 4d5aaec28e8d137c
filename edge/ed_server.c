/*  =========================================================================
    ed_server.c - civetweb server with the operations endpoints
    =========================================================================
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <civetweb.h>
#include "ed_server.h"
#include "runtime/rt_error.h"

struct ed_server {
    struct mg_context *ctx;
    rt_runtime_t *rt;
    char node_id[32];
};

/*  Whole response in one write: with headers and body in separate
    writes, Nagle plus delayed ACKs stall every response by ~40 ms. */
static int
s_send (struct mg_connection *conn, int status, const char *reason,
        const char *ctype, const char *body, size_t len)
{
    char head[256];
    int n = snprintf (head, sizeof head,
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Cache-Control: no-store\r\n\r\n", status, reason, ctype, len);
    char *buf = malloc ((size_t) n + len);
    if (!buf)
        return 500;
    memcpy (buf, head, (size_t) n);
    memcpy (buf + n, body, len);
    mg_write (conn, buf, (size_t) n + len);
    free (buf);
    return status;
}

static int
s_healthz (struct mg_connection *conn, void *cbdata)
{
    (void) cbdata;
    const char *body = "{\"status\":\"ok\"}";
    return s_send (conn, 200, "OK", "application/json", body, strlen (body));
}

static int
s_readyz (struct mg_connection *conn, void *cbdata)
{
    ed_server_t *self = cbdata;
    char body[160];
    int failed = rt_failed (self->rt);
    if (failed) {
        int n = snprintf (body, sizeof body, "{\"status\":\"store failed\",\"node_id\":\"%s\"}",
                          self->node_id);
        return s_send (conn, 503, "Service Unavailable", "application/json", body, (size_t) n);
    }
    int n = snprintf (body, sizeof body, "{\"status\":\"ready\",\"node_id\":\"%s\"}",
                      self->node_id);
    return s_send (conn, 200, "OK", "application/json", body, (size_t) n);
}

typedef struct {
    char  *buf;
    size_t len, cap;
} out_t;

static void
s_out (out_t *o, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_out (out_t *o, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start (ap, fmt);
        int n = vsnprintf (o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end (ap);
        if (n < 0)
            return;
        if (o->len + (size_t) n < o->cap) {
            o->len += (size_t) n;
            return;
        }
        size_t cap = o->cap * 2 + (size_t) n;
        char *b = realloc (o->buf, cap);
        if (!b)
            return;
        o->buf = b;
        o->cap = cap;
    }
}

static int
s_metrics (struct mg_connection *conn, void *cbdata)
{
    ed_server_t *self = cbdata;
    rt_stats_t st;
    rt_stats (self->rt, &st);
    out_t o = { malloc (8192), 0, 8192 };
    if (!o.buf)
        return 500;
    struct { const char *name, *type, *help; uint64_t v; } m[] = {
        { "pasar_turns_total", "counter", "Actor turns run.", st.turns },
        { "pasar_actors_resident", "gauge", "Activated actors in memory.", st.resident },
        { "pasar_mailbox_depth", "gauge", "Messages waiting in inboxes and mailboxes.", st.mailbox_depth },
        { "pasar_refused_overloaded_total", "counter", "Messages refused: mailbox or inbox full.", st.refused_overloaded },
        { "pasar_asks_expired_total", "counter", "Asks dropped unrun: deadline passed in the queue.", st.expired },
        { "pasar_idempotency_replays_total", "counter", "Answers served from idempotency records.", st.idem_replays },
        { "pasar_reminders_fired_total", "counter", "Reminders fired.", st.reminders_fired },
        { "pasar_outbox_pending", "gauge", "Outbox messages not yet acknowledged.", st.outbox_pending },
        { "pasar_outbox_delivered_total", "counter", "Outbox first deliveries.", st.outbox_delivered },
        { "pasar_outbox_redelivered_total", "counter", "Outbox redeliveries.", st.outbox_redelivered },
        { "pasar_commit_batches_total", "counter", "LMDB write transactions (group commits).", st.commit_batches },
        { "pasar_commit_records_total", "counter", "Turn records committed.", st.commit_records },
        { "pasar_store_map_size_bytes", "gauge", "LMDB map size.", st.map_size_bytes },
        { "pasar_store_failed", "gauge", "1 once a commit failed (fail-stop: the node exits and must be restarted).",
          rt_failed (self->rt) != 0 },
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        s_out (&o, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", m[i].name, m[i].help,
               m[i].name, m[i].type, m[i].name, (unsigned long long) m[i].v);
    s_out (&o, "# HELP pasar_commit_seconds_total Time in LMDB commits (apply + fsync).\n"
               "# TYPE pasar_commit_seconds_total counter\npasar_commit_seconds_total %.6f\n",
           (double) st.commit_ns_total / 1e9);
    s_out (&o, "# HELP pasar_commit_seconds_max Longest single commit.\n"
               "# TYPE pasar_commit_seconds_max gauge\npasar_commit_seconds_max %.6f\n",
           (double) st.commit_ns_max / 1e9);
    rt_type_stats_t ts[RT_TYPES_MAX];
    size_t nt = rt_type_stats (self->rt, ts, RT_TYPES_MAX);
    const char *per[] = { "activations", "passivations", "kills" };
    for (int k = 0; k < 3; k++) {
        s_out (&o, "# HELP pasar_actor_%s_total Actor %s per type.\n"
                   "# TYPE pasar_actor_%s_total counter\n", per[k], per[k], per[k]);
        for (size_t i = 0; i < nt; i++) {
            uint64_t v = k == 0 ? ts[i].activations : k == 1 ? ts[i].passivations : ts[i].kills;
            s_out (&o, "pasar_actor_%s_total{type=\"%s\"} %llu\n", per[k], ts[i].name,
                   (unsigned long long) v);
        }
    }
    int rc = s_send (conn, 200, "OK", "text/plain; version=0.0.4", o.buf, o.len);
    free (o.buf);
    return rc;
}

ed_server_t *
ed_server_new (rt_runtime_t *rt, const ed_options_t *opts, char *err, size_t errlen)
{
    ed_server_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "edge: out of memory");
        return NULL;
    }
    self->rt = rt;
    snprintf (self->node_id, sizeof self->node_id, "%s", opts->node_id);
    char threads[16];
    snprintf (threads, sizeof threads, "%u", opts->threads ? opts->threads : 64);
    const char *options[] = {
        "listening_ports", opts->listen,
        "num_threads", threads,
        "tcp_nodelay", "1",
        "enable_keep_alive", "yes",
        "request_timeout_ms", "10000",
        NULL
    };
    struct mg_callbacks cb;
    memset (&cb, 0, sizeof cb);
    mg_init_library (0);
    self->ctx = mg_start (&cb, self, options);
    if (!self->ctx) {
        snprintf (err, errlen, "edge: cannot listen on %s (address in use or invalid)",
                  opts->listen);
        free (self);
        return NULL;
    }
    mg_set_request_handler (self->ctx, "/healthz$", s_healthz, self);
    mg_set_request_handler (self->ctx, "/readyz$", s_readyz, self);
    mg_set_request_handler (self->ctx, "/metrics$", s_metrics, self);
    return self;
}

void
ed_server_destroy (ed_server_t **p)
{
    if (!p || !*p)
        return;
    mg_stop ((*p)->ctx);
    free (*p);
    *p = NULL;
}
