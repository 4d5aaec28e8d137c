/*  =========================================================================
    rt_cluster.c - this node's place in the cluster: which shards are ours,
    and where the rest go
    =========================================================================
*/
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "rt_internal.h"
#include "rt_log.h"

int
rt_cluster_init (rt_runtime_t *rt, char *err, size_t errlen)
{
    const rt_options_t *o = &rt->opts;
    if (!o->nodes || o->nnodes < 2)
        return 0;
    if (o->nnodes > RT_NODES_MAX || o->self_node >= o->nnodes) {
        snprintf (err, errlen, "runtime: this node must be one of the [[node]] entries");
        return RT_ECONFIG;
    }
    memcpy (rt->nodes, o->nodes, o->nnodes * sizeof *o->nodes);
    rt->opts.nodes = rt->nodes;
    rt->placement = rt_placement_new (rt->nodes, o->nnodes, o->shards);
    if (!rt->placement) {
        snprintf (err, errlen, "runtime: out of memory (placement)");
        return RT_ENOMEM;
    }
    return 0;
}

int
rt_cluster_start (rt_runtime_t *rt)
{
    if (!rt->placement)
        return 0;
    const rt_options_t *o = &rt->opts;
    rt_transport_options_t to = {
        .nodes = rt->nodes, .nnodes = o->nnodes, .self = o->self_node, .epoch = o->epoch,
        .keys_dir = o->keys_dir, .curve = !o->no_curve, .peer_down_ms = o->peer_down_ms,
    };
    char err[300];
    rt->transport = rt_transport_new (rt, &to, err, sizeof err);
    if (rt->transport)
        rt_transport_on_broadcast (rt->transport, rt_cluster_broadcast_in, rt);
    if (!rt->transport) {
        char esc[320];
        rt_log ("error", "transport.start_failed", "\"error\":\"%s\"",
                rt_log_escape (err, esc, sizeof esc));
        return RT_ECONFIG;
    }
    return 0;
}

void
rt_cluster_destroy (rt_runtime_t *rt)
{
    rt_transport_destroy (&rt->transport);
    rt_placement_t *p = rt->placement;
    rt->placement = NULL;
    rt_placement_destroy (&p);
    while (rt->nold_placements)
        rt_placement_destroy (&rt->old_placements[--rt->nold_placements]);
}

bool
rt_is_local (rt_runtime_t *rt, uint64_t hash)
{
    return RT_SH_STATE (rt_owner_word (rt->owner, (uint32_t) (hash % rt->opts.shards)))
           == RT_SH_OWNED;
}

void
rt_src_ack (rt_runtime_t *rt, uint32_t shard, uint64_t seq, const uint8_t *receipt, size_t rlen)
{
    /*  The sender's outbox is where its shard's data is: here (also while
        it is leaving: the ack is then dropped, its new owner redelivers
        and hears it again), or with the placement's owner. */
    uint32_t st = RT_SH_STATE (rt_owner_word (rt->owner, shard));
    rt_placement_t *p = rt->placement;
    if (st == RT_SH_OWNED || st == RT_SH_OUT || !p || !rt->transport)
        rt_pump_ack (rt->pump, shard, seq, receipt, rlen);
    else
        rt_transport_ack (rt->transport, rt_placement_owner (p, shard), shard, seq,
                          receipt, rlen);
}

void
rt_src_acked (rt_runtime_t *rt, uint32_t shard, uint64_t seq, const uint8_t *receipt,
              size_t rlen)
{
    if (rt->pump && shard < rt->opts.shards
        && RT_SH_STATE (rt_owner_word (rt->owner, shard)) == RT_SH_OWNED)
        rt_pump_ack (rt->pump, shard, seq, receipt, rlen);
}

void
rt_cluster_view (rt_runtime_t *self, rt_cluster_view_t *out)
{
    memset (out, 0, sizeof *out);
    out->epoch = self->opts.epoch;
    out->shards = self->opts.shards;
    out->nnodes = self->placement ? self->opts.nnodes : 1;
    for (size_t i = 0; i < out->nnodes; i++) {
        rt_node_view_t *v = &out->nodes[i];
        bool me = !self->placement || i == self->opts.self_node;
        snprintf (v->id, sizeof v->id, "%s", self->placement ? self->nodes[i].id : self->node_id);
        if (self->placement)
            snprintf (v->http, sizeof v->http, "%s", self->nodes[i].http);
        v->self = me;
        v->up = me || (self->transport && rt_transport_up (self->transport, (uint32_t) i));
        v->leaving = self->placement && self->nodes[i].weight == 0;
        if (me) {
            v->shards_owned = rt_owner_count (self->owner, RT_SH_OWNED)
                            + rt_owner_count (self->owner, RT_SH_OUT);
            v->shards_moving = rt_owner_count (self->owner, RT_SH_OUT)
                             + rt_owner_count (self->owner, RT_SH_IN);
            out->handoffs_in_progress = v->shards_moving;
        }
        else if (self->transport)
            v->shards_owned = rt_transport_peer_shards (self->transport, (uint32_t) i);
    }
}

const char *
rt_traffic_kind_name (int kind)
{
    static const char *names[RT_TK_COUNT] = {
        "message", "answer", "query", "ack", "broadcast", "handoff", "heartbeat", "other"
    };
    return kind >= 0 && kind < RT_TK_COUNT ? names[kind] : "other";
}

void
rt_cluster_traffic (rt_runtime_t *self, size_t node, rt_traffic_t out[RT_TK_COUNT])
{
    memset (out, 0, RT_TK_COUNT * sizeof *out);
    if (self->transport && self->placement && node != self->opts.self_node)
        rt_transport_traffic (self->transport, (uint32_t) node, out);
}

/* ---- membership reload ------------------------------------------------------- */

static const rt_node_conf_t *
s_find (const rt_node_conf_t *nodes, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp (nodes[i].id, id))
            return &nodes[i];
    return NULL;
}

int
rt_reload (rt_runtime_t *self, const rt_node_conf_t *nodes, size_t n, uint64_t epoch,
           char *err, size_t errlen)
{
    if (epoch <= self->opts.epoch) {
        snprintf (err, errlen, "epoch %llu is not above the running %llu: nothing applied "
                  "(bump [cluster] epoch with every membership change)",
                  (unsigned long long) epoch, (unsigned long long) self->opts.epoch);
        return RT_ECONFIG;
    }
    uint32_t moving = rt_owner_count (self->owner, RT_SH_OUT)
                    + rt_owner_count (self->owner, RT_SH_IN);
    if (moving) {
        snprintf (err, errlen, "%u shards are still moving from the last change: reload "
                  "again when they are done", moving);
        return RT_ECONFIG;
    }
    if (!self->placement || !self->transport) {
        snprintf (err, errlen, "a single node becomes a cluster by a restart with the new "
                  "cluster.toml (its shards then move as on a reload)");
        return RT_ECONFIG;
    }
    if (self->nold_placements == RT_RELOADS_MAX) {
        snprintf (err, errlen, "%u reloads in this process: restart the node", RT_RELOADS_MAX);
        return RT_ECONFIG;
    }
    /*  The new table: every node known keeps its index (weight 0 when it
        is leaving), new ones go after. */
    rt_node_conf_t table[RT_NODES_MAX];
    size_t nt = self->opts.nnodes;
    memcpy (table, self->nodes, nt * sizeof *table);
    for (size_t i = 0; i < nt; i++) {
        const rt_node_conf_t *c = s_find (nodes, n, table[i].id);
        if (c && (strcmp (c->bind, table[i].bind) || strcmp (c->http, table[i].http))) {
            snprintf (err, errlen, "node %s changed its addresses: that takes a restart of it",
                      c->id);
            return RT_ECONFIG;
        }
        table[i].weight = c ? c->weight : 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s_find (table, nt, nodes[i].id))
            continue;
        if (nt == RT_NODES_MAX) {
            snprintf (err, errlen, "more than %u nodes (counting those leaving)", RT_NODES_MAX);
            return RT_ECONFIG;
        }
        table[nt++] = nodes[i];
    }
    rt_placement_t *next = rt_placement_new (table, nt, self->opts.shards);
    if (!next) {
        snprintf (err, errlen, "no node with a weight left, or out of memory");
        return RT_ECONFIG;
    }
    /*  Connect to new nodes before anything may be sent to them. */
    int rc = rt_transport_reload (self->transport, table, nt, epoch);
    if (rc) {
        rt_placement_destroy (&next);
        snprintf (err, errlen, "cannot connect to the new nodes (their keys in keys_dir?)");
        return rc;
    }
    /*  New nodes are given a moment to be heard from (bounded by the
        down time), so their shards are not refused as "down" while they
        connect. */
    size_t known = self->opts.nnodes;
    int64_t until = rt_now_ms () + (self->opts.peer_down_ms ? self->opts.peer_down_ms
                                                             : RT_PEER_DOWN_MS_DEFAULT);
    for (size_t i = known; i < nt && rt_now_ms () < until; ) {
        if (rt_transport_up (self->transport, (uint32_t) i))
            i++;
        else {
            struct timespec ts = { 0, 10 * 1000000L };
            nanosleep (&ts, NULL);
        }
    }
    memcpy (self->nodes, table, nt * sizeof *table);
    self->opts.nnodes = nt;
    self->opts.epoch = epoch;
    self->old_placements[self->nold_placements++] = self->placement;
    self->placement = next;
    bool leaving = table[self->opts.self_node].weight == 0;
    atomic_store (&self->leaving, leaving);
    rc = rt_owner_reload (self->owner, &moving);
    if (self->handoff)
        rt_handoff_kick (self->handoff);
    rt_log ("info", "cluster.reload", "\"epoch\":%llu,\"nodes\":%zu,\"moving\":%u,"
            "\"leaving\":%s", (unsigned long long) epoch, n, moving, leaving ? "true" : "false");
    if (rc)
        snprintf (err, errlen, "the ownership record could not be written: %s",
                  rt_strerror (rc));
    return rc;
}

bool
rt_drained (rt_runtime_t *self)
{
    return atomic_load (&self->leaving)
           && rt_owner_count (self->owner, RT_SH_OWNED) == 0
           && rt_owner_count (self->owner, RT_SH_OUT) == 0;
}

bool
rt_cluster_settled (rt_runtime_t *self)
{
    return !self->transport
           || (rt_transport_settled (self->transport) && !rt_owner_fresh (self->owner));
}

int
rt_broadcast (rt_runtime_t *self, const void *data, size_t len)
{
    return self->transport ? rt_transport_broadcast (self->transport, data, len) : 0;
}

void
rt_on_broadcast (rt_runtime_t *self, rt_on_broadcast_fn *fn, void *arg)
{
    pthread_mutex_lock (&self->bc_lock);
    self->on_broadcast = fn;
    self->on_broadcast_arg = arg;
    pthread_mutex_unlock (&self->bc_lock);
}

/*  The transport's hook: whatever was registered, when it is. */
void
rt_cluster_broadcast_in (const void *data, size_t len, void *arg)
{
    rt_runtime_t *self = arg;
    pthread_mutex_lock (&self->bc_lock);
    if (self->on_broadcast)
        self->on_broadcast (data, len, self->on_broadcast_arg);
    pthread_mutex_unlock (&self->bc_lock);
}

int64_t
rt_cluster_changed_ms (rt_runtime_t *self)
{
    return self->transport ? rt_transport_changed_ms (self->transport) : 0;
}
