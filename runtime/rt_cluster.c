/*  =========================================================================
    rt_cluster.c - this node's place in the cluster: which shards are ours,
    and where the rest go
    =========================================================================
*/
#include <stdio.h>
#include <string.h>
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
    rt_placement_destroy (&rt->placement);
}

bool
rt_is_local (rt_runtime_t *rt, uint64_t hash)
{
    return !rt->placement
           || rt_placement_owner (rt->placement, (uint32_t) (hash % rt->opts.shards))
              == rt->opts.self_node;
}

void
rt_src_ack (rt_runtime_t *rt, uint32_t shard, uint64_t seq)
{
    uint32_t owner = rt->placement ? rt_placement_owner (rt->placement, shard)
                                   : rt->opts.self_node;
    if (owner == rt->opts.self_node || !rt->transport)
        rt_pump_ack (rt->pump, shard, seq);
    else
        rt_transport_ack (rt->transport, owner, shard, seq);
}

void
rt_src_acked (rt_runtime_t *rt, uint32_t shard, uint64_t seq)
{
    if (rt->pump && (!rt->placement
                     || rt_placement_owner (rt->placement, shard) == rt->opts.self_node))
        rt_pump_ack (rt->pump, shard, seq);
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
        v->shards_owned = self->placement ? rt_placement_count (self->placement, (uint32_t) i)
                                          : self->opts.shards;
    }
}

bool
rt_cluster_settled (rt_runtime_t *self)
{
    return !self->transport || rt_transport_settled (self->transport);
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
