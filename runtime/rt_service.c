/*  =========================================================================
    rt_service.c - node services: a question put to every node at once

    Some reads are about a node's whole share of the data, not one actor:
    a search asks each node for its best matches among the shards it
    serves, and the asker merges. A service is a function registered under
    a small id; rt_call_all sends the question to every peer (frame 'Q'),
    answers it here on the calling thread meanwhile, and waits for the
    peers' answers. On a peer, questions queue for one service thread
    (bounded: RT_SERVICE_QUEUE_MAX, then RT_EOVERLOADED) so a slow scan
    never holds up the transport thread.
    =========================================================================
*/
#include <stdlib.h>
#include <string.h>
#include "rt_internal.h"
#include "rt_bg.h"

typedef struct job {
    struct job  *next;
    uint16_t     id;
    rt_future_t *future;
    size_t       len;
    uint8_t      body[];
} job_t;

struct rt_services {
    rt_runtime_t   *rt;
    rt_service_fn  *fn[RT_SERVICES_MAX];
    void           *arg[RT_SERVICES_MAX];
    rt_bg_t         bg;
    job_t          *head, *tail;        /* under bg.lock */
    size_t          queued;
};

static int
s_run (rt_services_t *self, uint16_t id, const void *body, size_t len, rt_reply_t *reply)
{
    memset (reply, 0, sizeof *reply);
    if (id >= RT_SERVICES_MAX || !self->fn[id])
        return reply->err = RT_ENOHANDLER;
    return reply->err = self->fn[id] (self->rt, self->arg[id], body, len, reply);
}

static void *
s_thread (void *arg)
{
    rt_services_t *self = arg;
    pthread_mutex_lock (&self->bg.lock);
    while (!self->bg.stop) {
        job_t *j = self->head;
        if (!j) {
            rt_bg_wait (&self->bg, 1000);
            continue;
        }
        self->head = j->next;
        if (!self->head)
            self->tail = NULL;
        self->queued--;
        pthread_mutex_unlock (&self->bg.lock);
        rt_reply_t r;
        s_run (self, j->id, j->body, j->len, &r);
        rt_future_complete (j->future, r.err, r.status, false, r.body, r.body_len);
        rt_reply_free (&r);
        rt_future_release (&j->future);
        free (j);
        pthread_mutex_lock (&self->bg.lock);
    }
    pthread_mutex_unlock (&self->bg.lock);    /* rt_services_stop fails the rest */
    return NULL;
}

rt_services_t *
rt_services_new (rt_runtime_t *rt)
{
    rt_services_t *self = calloc (1, sizeof *self);
    if (self) {
        self->rt = rt;
        rt_bg_init (&self->bg);
    }
    return self;
}

int
rt_services_start (rt_services_t *self)
{
    return rt_bg_start (&self->bg, s_thread, self, "pasar-service");
}

void
rt_services_stop (rt_services_t *self)
{
    rt_bg_stop (&self->bg);
    /*  Whoever still waits hears "stopped" (bg.stop refuses more). */
    pthread_mutex_lock (&self->bg.lock);
    self->bg.stop = true;
    for (job_t *j = self->head, *next; j; j = next) {
        next = j->next;
        rt_future_complete (j->future, RT_ESTOPPED, 0, false, NULL, 0);
        rt_future_release (&j->future);
        free (j);
    }
    self->head = self->tail = NULL;
    pthread_mutex_unlock (&self->bg.lock);
}

void
rt_services_destroy (rt_services_t **p)
{
    if (!p || !*p)
        return;
    rt_services_stop (*p);
    rt_bg_fini (&(*p)->bg);
    free (*p);
    *p = NULL;
}

int
rt_service_register (rt_runtime_t *rt, uint16_t id, rt_service_fn *fn, void *arg)
{
    if (id == 0 || id >= RT_SERVICES_MAX || !fn || atomic_load (&rt->started))
        return RT_EINVAL;
    rt->services->fn[id] = fn;
    rt->services->arg[id] = arg;
    return 0;
}

void
rt_services_enqueue (rt_services_t *self, uint16_t id, const void *body, size_t len,
                     rt_future_t *future)
{
    job_t *j = len <= RT_BODY_MAX_BYTES ? malloc (sizeof *j + len) : NULL;
    pthread_mutex_lock (&self->bg.lock);
    int err = !j ? RT_ENOMEM : self->queued >= RT_SERVICE_QUEUE_MAX ? RT_EOVERLOADED
                 : self->bg.stop ? RT_ESTOPPED : 0;
    if (!err) {
        *j = (job_t) { .id = id, .future = future, .len = len };
        memcpy (j->body, body, len);
        if (self->tail)
            self->tail->next = j;
        else
            self->head = j;
        self->tail = j;
        self->queued++;
        pthread_cond_signal (&self->bg.cv);
    }
    pthread_mutex_unlock (&self->bg.lock);
    if (err) {
        free (j);
        rt_future_complete (future, err, 0, false, NULL, 0);
        rt_future_release (&future);
    }
}

int
rt_call_all (rt_runtime_t *rt, uint16_t id, const void *body, size_t len, int timeout_ms,
             rt_reply_t *replies, size_t max, size_t *n)
{
    size_t nodes = rt->transport ? rt_transport_nodes (rt->transport) : 1;
    uint32_t self = rt->transport ? rt->opts.self_node : 0;
    *n = 0;
    if (nodes > max || id == 0 || id >= RT_SERVICES_MAX || len > RT_BODY_MAX_BYTES)
        return RT_EINVAL;
    if (timeout_ms <= 0 || timeout_ms > RT_ASK_DEADLINE_MAX_MS)
        timeout_ms = RT_ASK_DEADLINE_MAX_MS;
    int64_t deadline = rt_now_ms () + timeout_ms;
    rt_future_t *f[RT_NODES_MAX] = { 0 };
    for (uint32_t i = 0; i < nodes; i++) {
        memset (&replies[i], 0, sizeof replies[i]);
        if (i == self)
            continue;
        f[i] = rt_future_new ();
        if (!f[i]) {
            replies[i].err = RT_ENOMEM;
            continue;
        }
        /*  The transport holds the second reference, and completes the
            future with an error when the peer is down. */
        rt_transport_call (rt->transport, i, id, body, len, f[i], deadline);
    }
    s_run (rt->services, id, body, len, &replies[self]);
    for (uint32_t i = 0; i < nodes; i++) {
        if (!f[i])
            continue;
        int64_t left = deadline - rt_now_ms ();
        if (!rt_future_wait (f[i], left > 0 ? (int) left : 0, &replies[i]))
            replies[i].err = RT_ETIMEOUT;
        rt_future_release (&f[i]);
    }
    *n = nodes;
    return 0;
}
