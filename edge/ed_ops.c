/*  ed_ops.c - health, readiness, metrics, meta and the problem pages */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ed_ops.h"
#include "ed_server.h"
#include "ed_metrics.h"
#include "runtime/rt_limits.h"
#include "runtime/rt_log.h"

void
ed_ops_healthz (ed_req_t *req)
{
    ed_reply_json (req, 200, json_pack ("{s:s}", "status", "ok"));
}

void
ed_ops_readyz (ed_req_t *req)
{
    const char *node = ed_server_options (ed_req_server (req))->node_id;
    if (rt_failed (ed_req_runtime (req))) {
        ed_reply_header (req, "Retry-After", "1");
        ed_reply_json (req, 503, json_pack ("{s:s, s:s}", "status", "store failed", "node_id", node));
        return;
    }
    if (!rt_cluster_settled (ed_req_runtime (req))) {
        ed_reply_header (req, "Retry-After", "1");
        ed_reply_json (req, 503, json_pack ("{s:s, s:s}", "status", "peers not known yet",
                                            "node_id", node));
        return;
    }
    ed_reply_json (req, 200, json_pack ("{s:s, s:s}", "status", "ready", "node_id", node));
}

/*  GET /v1/cluster (admin): API.md's view, as this node sees it. */
void
ed_ops_cluster (ed_req_t *req)
{
    rt_cluster_view_t v;
    rt_cluster_view (ed_req_runtime (req), &v);
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    json_t *nodes = json_array ();
    for (size_t i = 0; nodes && i < v.nnodes; i++) {
        /*  A lone node's runtime has no node table: its address is ours. */
        const char *http = v.nodes[i].self && !v.nodes[i].http[0] ? o->listen
                                                                             : v.nodes[i].http;
        json_array_append_new (nodes, json_pack ("{s:s, s:s, s:b, s:i, s:b}", "id", v.nodes[i].id,
                                                 "http", http, "up", v.nodes[i].up,
                                                 "shards_owned", (int) v.nodes[i].shards_owned,
                                                 "leaving", v.nodes[i].leaving));
    }
    ed_reply_json (req, 200, json_pack ("{s:s, s:I, s:i, s:o, s:i}", "name", o->cluster_name,
                                        "epoch", (json_int_t) v.epoch, "shards", (int) v.shards,
                                        "nodes", nodes, "handoffs_in_progress",
                                        (int) v.handoffs_in_progress));
}

void
ed_ops_meta (ed_req_t *req)
{
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    json_t *limits = json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                                "body_max_bytes", (json_int_t) ED_BODY_MAX_DEFAULT,
                                "json_depth_max", (json_int_t) ED_JSON_DEPTH_MAX,
                                "idempotency_key_max", (json_int_t) RT_IDEM_KEY_MAX,
                                "page_limit_default", (json_int_t) 20,
                                "page_limit_max", (json_int_t) 100,
                                "money_amount_max", (json_int_t) 10000000000000LL,
                                "ask_timeout_ms", (json_int_t) o->ask_timeout_ms);
    ed_reply_json (req, 200, json_pack ("{s:s, s:s, s:I, s:o}", "version", PASAR_VERSION,
                                        "node_id", o->node_id,
                                        "idempotency_retention_s", (json_int_t) o->idem_retention_s,
                                        "limits", limits));
}

/*  A Prometheus histogram: buckets cumulative, bounds and sum times scale. */
static void
s_hist (char **buf, size_t *len, size_t *cap, const char *name, const char *help,
        const rt_hist_t *h, double scale)
{
    ed_buf_printf (buf, len, cap, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t total = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        total += h->count[i];
        ed_buf_printf (buf, len, cap, "%s_bucket{le=\"%g\"} %llu\n", name,
                       (double) h->le[i] * scale, (unsigned long long) total);
    }
    total += h->count[h->n];
    ed_buf_printf (buf, len, cap, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %g\n%s_count %llu\n",
                   name, (unsigned long long) total, name, (double) h->sum * scale, name,
                   (unsigned long long) total);
}

/*  Frames and bytes to and from each peer, by kind: how much of a
    workload crosses nodes, and towards which. Nothing on a lone node. */
static void
s_traffic (char **buf, size_t *len, size_t *cap, rt_runtime_t *rt)
{
    rt_cluster_view_t view, *v = &view;
    rt_cluster_view (rt, v);
    const char *what[] = { "frames", "bytes" };
    for (int w = 0; w < 2 && v->nnodes > 1; w++) {
        ed_buf_printf (buf, len, cap,
                       "# HELP pasar_transport_%s_total Transport %s exchanged with each peer since start, by direction and kind of frame.\n"
                       "# TYPE pasar_transport_%s_total counter\n", what[w], what[w], what[w]);
        for (size_t i = 0; i < v->nnodes; i++) {
            if (v->nodes[i].self)
                continue;
            rt_traffic_t t[RT_TK_COUNT];
            rt_cluster_traffic (rt, i, t);
            for (int k = 0; k < RT_TK_COUNT; k++) {
                uint64_t out = w ? t[k].bytes_out : t[k].frames_out;
                uint64_t in = w ? t[k].bytes_in : t[k].frames_in;
                const char *name = rt_traffic_kind_name (k);
                ed_buf_printf (buf, len, cap,
                               "pasar_transport_%s_total{peer=\"%s\",direction=\"out\",kind=\"%s\"} %llu\n"
                               "pasar_transport_%s_total{peer=\"%s\",direction=\"in\",kind=\"%s\"} %llu\n",
                               what[w], v->nodes[i].id, name, (unsigned long long) out,
                               what[w], v->nodes[i].id, name, (unsigned long long) in);
            }
        }
    }
}

void
ed_ops_metrics (ed_req_t *req)
{
    rt_stats_t st;
    rt_runtime_t *rt = ed_req_runtime (req);
    rt_stats (rt, &st);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    const struct { const char *name, *type, *help; uint64_t v; } m[] = {
        { "pasar_turns_total", "counter", "Actor turns run.", st.turns },
        { "pasar_actors_resident", "gauge", "Activated actors in memory.", st.resident },
        { "pasar_mailbox_depth", "gauge", "Messages waiting in inboxes and mailboxes.", st.mailbox_depth },
        { "pasar_refused_overloaded_total", "counter", "Messages refused: mailbox or inbox full.", st.refused_overloaded },
        { "pasar_refused_no_space_total", "counter", "Writes from outside refused (503) while the disk was full.", st.refused_nospace },
        { "pasar_asks_expired_total", "counter", "Asks dropped unrun: deadline passed in the queue.", st.expired },
        { "pasar_reads_total", "counter", "Queries answered from a committed snapshot (rt_read).", st.reads },
        { "pasar_reads_asked_total", "counter", "Queries sent to the actor instead: no snapshot reader free, or its shard is on another node.", st.reads_asked },
        { "pasar_idempotency_replays_total", "counter", "Answers served from idempotency records.", st.idem_replays },
        { "pasar_reminders_fired_total", "counter", "Reminders fired.", st.reminders_fired },
        { "pasar_outbox_pending", "gauge", "Outbox messages not yet acknowledged.", st.outbox_pending },
        { "pasar_outbox_delivered_total", "counter", "Outbox first deliveries.", st.outbox_delivered },
        { "pasar_outbox_redelivered_total", "counter", "Outbox redeliveries.", st.outbox_redelivered },
        { "pasar_commit_batches_total", "counter", "LMDB write transactions (group commits).", st.commit_batches },
        { "pasar_commit_records_total", "counter", "Turn records committed.", st.commit_records },
        { "pasar_store_map_size_bytes", "gauge", "LMDB map size.", st.map_size_bytes },
        { "pasar_store_log_frames_total", "counter", "Commit batches appended to the write-ahead log since start.", st.log_frames },
        { "pasar_store_log_bytes_total", "counter", "Bytes appended to the write-ahead log since start.", st.log_bytes },
        { "pasar_log_lines_dropped_total", "counter", "Log lines dropped because the log thread's queue was full (the log file or pipe too slow).", rt_log_dropped () },
        { "pasar_store_log_segments", "gauge", "Write-ahead log segments on disk.", st.log_segments },
        { "pasar_store_space_low", "gauge", "1 while the disk cannot give the store the space it takes ahead: writes from outside get 503.", st.space_low },
        { "pasar_store_space_reserved_bytes", "gauge", "Bytes of data.mdb the reservation allocated (kept up only while the disk is nearly full).", st.space_reserved },
        { "pasar_store_log_spares_used_total", "counter", "Zero-filled log segments put into use since start.", st.log_spares_used },
        { "pasar_store_log_frames_unprepared_total", "counter", "Log frames written past the zero-filled part of their segment since start (each one's sync also commits the file's growth): rising under steady load means spares are made too slowly.", st.log_frames_unprepared },
        { "pasar_store_base_copies_total", "counter", "Base copies of data.mdb taken since start.", st.base_copies },
        { "pasar_store_base_failures_total", "counter", "Base copies that failed (the previous one and the log stay).", st.base_failures },
        { "pasar_store_base_bytes", "gauge", "Size of the last base copy.", st.base_bytes },
        { "pasar_store_base_duration_microseconds", "gauge", "Time the last base copy took (copy and sync).", st.base_us_last },
        { "pasar_store_replayed_frames", "gauge", "Log frames replayed when the node started.", st.replayed_frames },
        { "pasar_store_restored", "gauge", "1 if data.mdb was replaced by the base copy at start (a power failure was detected).", st.restored },
        { "pasar_shards_owned", "gauge", "Shards this node serves.", st.shards_owned },
        { "pasar_shards_moving_out", "gauge", "Shards this node is handing to their new owner.", st.shards_moving_out },
        { "pasar_shards_moving_in", "gauge", "Shards this node waits to receive.", st.shards_moving_in },
        { "pasar_handoff_shards_out_total", "counter", "Shards handed to another node.", st.handoff_shards_out },
        { "pasar_handoff_shards_in_total", "counter", "Shards received from another node.", st.handoff_shards_in },
        { "pasar_handoff_bytes_out_total", "counter", "Shard data sent in handoffs.", st.handoff_bytes_out },
        { "pasar_handoff_bytes_in_total", "counter", "Shard data received in handoffs.", st.handoff_bytes_in },
        { "pasar_handoff_restarts_total", "counter", "Handoffs started over (receiver down, silent or refusing).", st.handoff_restarts },
        { "pasar_handoff_waiting", "gauge", "Messages waiting for their shard's move to end.", st.handoff_waiting },
        { "pasar_handoff_waited_total", "counter", "Messages that waited for a move.", st.handoff_waited },
        { "pasar_handoff_wait_expired_total", "counter", "Messages that gave up waiting for a move (503).", st.handoff_wait_expired },
        { "pasar_remote_asks_pending", "gauge", "Asks to other nodes not yet answered (or past their deadline, not yet swept).", st.remote_asks_pending },
        { "pasar_store_failed", "gauge", "1 once a commit failed (fail-stop: the node exits and must be restarted).",
          rt_failed (rt) != 0 },
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        ed_buf_printf (&buf, &len, &cap, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", m[i].name,
                       m[i].help, m[i].name, m[i].type, m[i].name, (unsigned long long) m[i].v);
    ed_buf_printf (&buf, &len, &cap,
                   "# HELP pasar_commit_seconds_total Time in LMDB commits (apply + fsync).\n"
                   "# TYPE pasar_commit_seconds_total counter\npasar_commit_seconds_total %.6f\n"
                   "# HELP pasar_commit_seconds_max Longest single commit.\n"
                   "# TYPE pasar_commit_seconds_max gauge\npasar_commit_seconds_max %.6f\n",
                   (double) st.commit_ns_total / 1e9, (double) st.commit_ns_max / 1e9);
    ed_buf_printf (&buf, &len, &cap,
                   "# HELP pasar_handoff_seconds_total Time shards spent moving, summed per shard.\n"
                   "# TYPE pasar_handoff_seconds_total counter\n"
                   "pasar_handoff_seconds_total{direction=\"out\"} %.3f\n"
                   "pasar_handoff_seconds_total{direction=\"in\"} %.3f\n",
                   (double) st.handoff_ns_out / 1e9, (double) st.handoff_ns_in / 1e9);
    s_hist (&buf, &len, &cap, "pasar_commit_batch_records", "Records per commit batch.",
            &st.commit_batch_records, 1);
    s_hist (&buf, &len, &cap, "pasar_commit_duration_seconds",
            "Time per commit batch (apply + fsync).", &st.commit_us, 1e-6);
    rt_type_stats_t ts[RT_TYPES_MAX];
    size_t nt = rt_type_stats (rt, ts, RT_TYPES_MAX);
    const char *per[] = { "activations", "passivations", "kills" };
    for (int k = 0; k < 3; k++) {
        ed_buf_printf (&buf, &len, &cap, "# HELP pasar_actor_%s_total Actor %s per type.\n"
                       "# TYPE pasar_actor_%s_total counter\n", per[k], per[k], per[k]);
        for (size_t i = 0; i < nt; i++) {
            uint64_t v = k == 0 ? ts[i].activations : k == 1 ? ts[i].passivations : ts[i].kills;
            ed_buf_printf (&buf, &len, &cap, "pasar_actor_%s_total{type=\"%s\"} %llu\n", per[k],
                           ts[i].name, (unsigned long long) v);
        }
    }
    s_traffic (&buf, &len, &cap, rt);
    ed_server_render_metrics (ed_req_server (req), &buf, &len, &cap);
    ed_reply_bytes (req, 200, "text/plain; version=0.0.4", buf ? buf : "", len);
    free (buf);
}

void
ed_ops_problem (ed_req_t *req)
{
    ed_problem_t p = ed_problem_by_slug (ed_req_capture (req, "slug"));
    if (p == ED_P_COUNT) {
        ed_reply_problem (req, ED_P_NOT_FOUND, NULL);
        return;
    }
    const ed_problem_def_t *d = ed_problem_def (p);
    char page[1024];
    int n = snprintf (page, sizeof page,
                      "<!doctype html><html><head><meta charset=\"utf-8\"><title>%s</title></head>"
                      "<body><h1>%d %s</h1><p>%s</p><p>Type: <code>/problems/%s</code></p>"
                      "</body></html>\n", d->title, d->status, d->title, d->page, d->slug);
    ed_reply_bytes (req, 200, "text/html; charset=utf-8", page, n > 0 ? (size_t) n : 0);
}
