/*  =========================================================================
    rt_runtime.c - the runtime of one node: life cycle, tell, ask, kill
    =========================================================================
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include "rt_internal.h"

static void
s_defaults (rt_options_t *o)
{
    if (!o->shards) o->shards = RT_SHARDS_DEFAULT;
    if (!o->workers) {
        long n = sysconf (_SC_NPROCESSORS_ONLN);
        o->workers = n > 0 ? (uint32_t) n : 1;
    }
    if (o->workers > RT_WORKERS_MAX) o->workers = RT_WORKERS_MAX;
    if (!o->mailbox_max) o->mailbox_max = RT_MAILBOX_DEFAULT;
    if (!o->worker_inbox_max) o->worker_inbox_max = RT_WORKER_INBOX_DEFAULT;
    if (!o->max_resident) o->max_resident = RT_RESIDENT_DEFAULT;
    if (!o->passivate_idle_ms) o->passivate_idle_ms = RT_PASSIVATE_IDLE_S_DEFAULT * 1000;
    if (!o->idem_retention_s) o->idem_retention_s = RT_IDEM_RETENTION_S_DEFAULT;
    if (!o->map_size_mb) o->map_size_mb = 64;
    if (!o->commit_batch_max) o->commit_batch_max = RT_COMMIT_BATCH_MAX;
}

rt_runtime_t *
rt_runtime_new (const rt_options_t *opts, char *err, size_t errlen)
{
    if (!opts->data_dir || !opts->node_id || strlen (opts->node_id) >= 32
        || opts->shards > RT_SHARDS_MAX) {
        snprintf (err, errlen, "runtime: data_dir and node_id (< 32 chars) are required, "
                  "shards <= %u", RT_SHARDS_MAX);
        return NULL;
    }
    if (sodium_init () < 0) {
        snprintf (err, errlen, "runtime: libsodium failed to initialise");
        return NULL;
    }
    rt_runtime_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "runtime: out of memory");
        return NULL;
    }
    self->opts = *opts;
    s_defaults (&self->opts);
    pthread_mutex_init (&self->rd_lock, NULL);
    pthread_mutex_init (&self->bc_lock, NULL);
    snprintf (self->node_id, sizeof self->node_id, "%s", opts->node_id);
    self->opts.node_id = self->node_id;
    self->opts.data_dir = NULL;     /* not kept: the store has it open */
    st_options_t so = {
        .node_id = self->node_id, .shards = self->opts.shards,
        .map_size_mb = self->opts.map_size_mb, .reserve_mb = self->opts.reserve_mb,
        .nometasync = self->opts.nometasync, .nosync = self->opts.nosync,
    };
    if (st_store_open (opts->data_dir, &so, &self->store, err, errlen)) {
        free (self);
        return NULL;
    }
    self->services = rt_services_new (self);
    if (!self->services) {
        snprintf (err, errlen, "runtime: out of memory");
    }
    if (!self->services || rt_cluster_init (self, err, errlen)
        || rt_owner_new (self, &self->owner, err, errlen)) {
        rt_services_destroy (&self->services);
        rt_cluster_destroy (self);
        st_store_destroy (&self->store);
        free (self);
        return NULL;
    }
    return self;
}

int
rt_register (rt_runtime_t *self, uint16_t id, const rt_type_def_t *def)
{
    if (atomic_load (&self->started) || id == 0 || id >= RT_TYPES_MAX || !def
        || !def->state_new || !def->state_decode || !def->state_encode)
        return RT_EINVAL;
    if (self->types[id])
        return RT_EINVAL;
    self->types[id] = def;
    return 0;
}

int
rt_start (rt_runtime_t *self)
{
    if (atomic_exchange (&self->started, true))
        return RT_EINVAL;
    st_commit_options_t co = { .queue_max = RT_COMMIT_QUEUE_MAX,
                               .batch_max = self->opts.commit_batch_max };
    self->committer = st_committer_new (self->store, &co);
    self->nworkers = self->opts.workers;
    self->workers = calloc (self->nworkers, sizeof *self->workers);
    if (!self->committer || !self->workers)
        return RT_ENOMEM;
    for (uint32_t i = 0; i < self->nworkers; i++)
        if (!(self->workers[i] = rt_worker_new (self, i)))
            return RT_ENOMEM;
    self->pump = rt_pump_new (self);
    self->timer = rt_timer_new (self);
    self->handoff = rt_handoff_new (self);
    if (!self->pump || !self->timer || !self->handoff)
        return RT_ENOMEM;
    /*  (The committer is destroyed before the pump.) */
    st_committer_after_batch (self->committer, rt_pump_after_batch, self->pump);
    int rc = rt_owner_start (self->owner);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < self->nworkers; i++) {
        int rc = rt_worker_start (self->workers[i]);
        if (rc)
            return rc;
    }
    rc = rt_pump_start (self->pump);
    if (!rc)
        rc = rt_timer_start (self->timer);
    if (!rc)
        rc = rt_cluster_start (self);
    if (!rc)
        rc = rt_handoff_start (self->handoff);
    if (!rc)
        rc = rt_services_start (self->services);
    return rc;
}

void
rt_runtime_destroy (rt_runtime_t **p)
{
    if (!p || !*p)
        return;
    rt_runtime_t *self = *p;
    atomic_store (&self->stopping, true);
    /*  Stop every thread that produces work (handoff, timer, pump,
        workers), then drain the committer: its callbacks still reach the
        pump, the timer, the handoff's queue and the workers' inboxes, so
        those are freed only after it. */
    if (self->handoff)
        rt_handoff_stop (self->handoff);
    /*  Questions waiting for the service thread are told "stopped" while
        the transport can still carry that answer (later ones are refused
        the same way until the transport is gone). */
    if (self->services)
        rt_services_stop (self->services);
    if (self->timer)
        rt_timer_stop (self->timer);
    if (self->pump)
        rt_pump_stop (self->pump);
    for (uint32_t i = 0; self->workers && i < self->nworkers; i++)
        if (self->workers[i])
            rt_worker_stop (self->workers[i]);
    st_committer_destroy (&self->committer);
    for (uint32_t i = 0; self->workers && i < self->nworkers; i++)
        rt_worker_destroy (&self->workers[i]);
    /*  Messages waiting for a move fail now, while their remote askers can
        still be answered through the transport, the last of the threads. */
    if (self->owner)
        rt_wait_fail_all (self->owner);
    rt_cluster_destroy (self);
    rt_services_destroy (&self->services);
    rt_handoff_destroy (&self->handoff);
    rt_owner_destroy (&self->owner);
    rt_timer_destroy (&self->timer);
    rt_pump_destroy (&self->pump);
    free (self->workers);
    rt_read_destroy (self);
    pthread_mutex_destroy (&self->rd_lock);
    pthread_mutex_destroy (&self->bc_lock);
    st_store_destroy (&self->store);
    free (self);
    *p = NULL;
}

/* ---- from outside ---------------------------------------------------------- */

static int
s_make (rt_runtime_t *self, const rt_request_t *req, rt_imsg_t **out)
{
    *out = NULL;
    if (!atomic_load (&self->started) || atomic_load (&self->stopping))
        return RT_ESTOPPED;
    rt_addr_t to;
    if (rt_addr_set (&to, req->to_type, req->to_key, req->to_key_len))
        return RT_EINVAL;
    if (!self->types[to.type])
        return RT_ENOTYPE;
    if (req->msg_type >= RT_MSG_TYPES_MAX || req->msg_type == RT_MSG_REPLY)
        return RT_EINVAL;
    if (req->body_len > RT_BODY_MAX_BYTES)
        return RT_ETOOBIG;
    bool idem = req->idem_key != NULL;
    size_t slen = 0, klen = 0;
    if (idem) {
        if (!req->idem_scope || !req->fingerprint)
            return RT_EINVAL;
        slen = strlen (req->idem_scope);
        klen = strlen (req->idem_key);
        if (slen == 0 || slen > RT_IDEM_SCOPE_MAX || klen == 0 || klen > RT_IDEM_KEY_MAX)
            return RT_EINVAL;
    }
    bool trace = req->traceparent && strlen (req->traceparent) == RT_TRACEPARENT_LEN;
    rt_imsg_t *m = rt_imsg_new (&to, req->msg_type, req->body, req->body_len,
                                slen, klen, 0, trace);
    if (!m)
        return RT_ENOMEM;
    if (idem) {
        m->flags |= RT_MF_IDEM;
        memcpy (m->idem_scope, req->idem_scope, slen + 1);
        memcpy (m->idem_key, req->idem_key, klen + 1);
        memcpy (m->fingerprint, req->fingerprint, RT_FINGERPRINT_BYTES);
    }
    if (trace)
        memcpy (m->traceparent, req->traceparent, RT_TRACEPARENT_LEN + 1);
    *out = m;
    return 0;
}

int
rt_tell (rt_runtime_t *self, const rt_request_t *req)
{
    rt_imsg_t *m;
    int rc = s_make (self, req, &m);
    if (rc)
        return rc;
    return rt_deliver (self, m);
}

int
rt_ask (rt_runtime_t *self, const rt_request_t *req, int timeout_ms, rt_reply_t *reply)
{
    memset (reply, 0, sizeof *reply);
    if (timeout_ms <= 0 || timeout_ms > RT_ASK_DEADLINE_MAX_MS)
        timeout_ms = RT_ASK_DEADLINE_MAX_MS;
    rt_imsg_t *m;
    if ((reply->err = s_make (self, req, &m)))
        return reply->err;
    rt_future_t *f = rt_future_new ();
    if (!f) {
        rt_imsg_free (&m);
        return reply->err = RT_ENOMEM;
    }
    m->future = f;              /* the runtime's reference */
    m->deadline_ms = rt_now_ms () + timeout_ms;
    rt_deliver (self, m);       /* on refusal the future is completed */
    if (!rt_future_wait (f, timeout_ms, reply))
        reply->err = RT_ETIMEOUT;
    rt_future_release (&f);
    return reply->err;
}

int
rt_kill (rt_runtime_t *self, uint16_t type, const char *key, size_t len)
{
    rt_addr_t to;
    if (rt_addr_set (&to, type, key, len))
        return RT_EINVAL;
    rt_imsg_t *m = rt_imsg_new (&to, 0, NULL, 0, 0, 0, 0, false);
    if (!m)
        return RT_ENOMEM;
    m->flags = RT_MF_KILL;
    /*  Kills bypass the inbox bound: they must get through to an
        overloaded worker most of all. */
    return rt_deliver (self, m);
}

uint32_t
rt_shard_count (rt_runtime_t *self)
{
    return self->opts.shards;
}

int
rt_failed (rt_runtime_t *self)
{
    return self->committer ? st_committer_failed (self->committer) : 0;
}

void
rt_stats (rt_runtime_t *self, rt_stats_t *out)
{
    memset (out, 0, sizeof *out);
    for (uint32_t i = 0; self->workers && i < self->nworkers; i++)
        rt_worker_stats (self->workers[i], out);
    out->refused_overloaded = atomic_load (&self->refused);
    out->refused_nospace = atomic_load (&self->refused_nospace);
    out->expired = atomic_load (&self->expired);
    out->reads = atomic_load (&self->reads);
    out->reads_asked = atomic_load (&self->reads_asked);
    out->idem_replays = atomic_load (&self->idem_replays);
    out->reminders_fired = atomic_load (&self->reminders_fired);
    if (self->pump)
        rt_pump_stats (self->pump, out);
    if (self->owner)
        rt_owner_stats (self->owner, out);
    if (self->handoff)
        rt_handoff_stats (self->handoff, out);
    if (self->transport)
        out->remote_asks_pending = rt_transport_pending (self->transport);
    if (self->committer) {
        st_commit_stats_t cs;
        st_committer_stats (self->committer, &cs);
        out->commit_batches = cs.batches;
        out->commit_records = cs.records;
        out->commit_ns_total = cs.commit_ns_total;
        out->commit_ns_max = cs.commit_ns_max;
        out->commit_batch_records = cs.batch_records;
        out->commit_us = cs.commit_us;
    }
    out->map_size_bytes = st_store_map_size (self->store);
    st_store_stats_t ss;
    st_store_stats (self->store, &ss);
    out->log_frames = ss.log_frames;
    out->log_bytes = ss.log_bytes;
    out->log_segments = ss.log_segments;
    out->log_spares_used = ss.log_spares_used;
    out->log_frames_unprepared = ss.log_frames_unprepared;
    out->space_reserved = ss.space_reserved;
    out->space_low = ss.space_low;
    out->base_copies = ss.base_copies;
    out->base_failures = ss.base_failures;
    out->base_us_last = ss.base_us_last;
    out->base_bytes = ss.base_bytes;
    out->replayed_frames = ss.replayed_frames;
    out->restored = ss.restored;
}

uint16_t
rt_type_id (rt_runtime_t *self, const char *name)
{
    for (uint16_t t = 1; t < RT_TYPES_MAX; t++)
        if (self->types[t] && !strcmp (self->types[t]->name, name))
            return t;
    return 0;
}

size_t
rt_type_stats (rt_runtime_t *self, rt_type_stats_t *out, size_t max)
{
    size_t n = 0;
    for (uint16_t t = 1; t < RT_TYPES_MAX && n < max; t++) {
        if (!self->types[t])
            continue;
        out[n++] = (rt_type_stats_t) {
            .name = self->types[t]->name,
            .activations = atomic_load (&self->type_counters[t].activations),
            .passivations = atomic_load (&self->type_counters[t].passivations),
            .kills = atomic_load (&self->type_counters[t].kills),
        };
    }
    return n;
}
