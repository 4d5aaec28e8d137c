/*  =========================================================================
    rt_worker.c - a worker thread: its inbox, its actors, their mailboxes

    Each actor is pinned to one worker by the hash of its address, so the
    worker owns its actors without locks: activation, mailboxes, turns,
    passivation and kills all happen on this one thread. Other threads reach
    it only through the inbox, a mutex-protected list the worker swaps out
    whole (one lock round-trip per batch, not per message).

    Ready actors (mailbox not empty) sit in a FIFO; each gets up to
    RT_TURNS_PER_ACTIVATION turns before the next one runs. Idle actors sit
    in an LRU list, from whose cold end passivation takes those idle for
    too long, or all the oldest while the worker holds more than its share
    of max_resident_actors — but only once their last commit is durable.
    =========================================================================
*/
#define _GNU_SOURCE             /* pthread_setname_np */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>
#include "rt_internal.h"
#include "rt_time.h"

enum { A_READY = 1, A_IN_LRU = 2 };

struct rt_actor {
    rt_actor_t *hnext;              /* hash chain */
    rt_actor_t *lru_prev, *lru_next;
    rt_actor_t *ready_next;
    rt_imsg_t  *mb_head, *mb_tail;  /* mailbox */
    void       *state;
    uint64_t    hash;
    uint64_t    pending_seq;        /* seq of the last record this actor submitted */
    int64_t     last_ms;
    uint32_t    mb_depth;
    uint16_t    type;
    uint8_t     klen;
    uint8_t     flags;
    char        key[];
};

struct rt_worker {
    rt_runtime_t   *rt;
    uint32_t        index;
    pthread_t       thread;
    bool            running;
    /* inbox: the only part other threads touch */
    pthread_mutex_t lock;
    pthread_cond_t  cv;
    rt_imsg_t      *in_head, *in_tail;
    atomic_uint     in_depth;
    bool            sleeping;
    bool            stop;
    /* limits */
    uint32_t        inbox_max, mailbox_max, resident_max, idle_ms;
    /* actors: this thread only */
    rt_actor_t    **buckets;
    size_t          nbuckets, count;
    rt_actor_t     *ready_head, *ready_tail;
    rt_actor_t     *lru_head, *lru_tail;   /* head = most recently used */
    st_reader_t    *reader;
    rt_kv_t        *overlay;
    int             spin;           /* pause loops before sleeping on the inbox */
    uint64_t        kill_barrier;
    double          kill_credit;    /* [debug] random kills due */
    unsigned        kill_seed;
    /* counters, read by rt_stats from other threads */
    atomic_uint_fast64_t activations, passivations, kills, turns, mailbox_depth, resident;
};

static __thread rt_worker_t *tl_worker;

rt_worker_t *
rt_worker_current (void)
{
    return tl_worker;
}

rt_runtime_t *rt_worker_runtime (rt_worker_t *w) { return w->rt; }
st_reader_t *rt_worker_reader (rt_worker_t *w) { return w->reader; }
rt_kv_t *rt_worker_overlay (rt_worker_t *w) { return w->overlay; }
void *rt_actor_state (rt_actor_t *a) { return a->state; }
void rt_actor_set_state (rt_actor_t *a, void *state) { a->state = state; }
uint64_t rt_actor_pending_seq (rt_actor_t *a) { return a->pending_seq; }
void rt_actor_set_pending_seq (rt_actor_t *a, uint64_t seq) { a->pending_seq = seq; }

const rt_addr_t *
rt_actor_addr_of (rt_actor_t *a, rt_addr_t *buf)
{
    buf->type = a->type;
    buf->len = a->klen;
    memcpy (buf->key, a->key, a->klen);
    return buf;
}

/* ---- the actor table ---------------------------------------------------- */

static rt_actor_t *
s_find (rt_worker_t *self, uint64_t hash, const rt_addr_t *addr)
{
    for (rt_actor_t *a = self->buckets[hash & (self->nbuckets - 1)]; a; a = a->hnext)
        if (a->hash == hash && a->type == addr->type && a->klen == addr->len
            && !memcmp (a->key, addr->key, addr->len))
            return a;
    return NULL;
}

static void
s_table_grow (rt_worker_t *self)
{
    size_t n = self->nbuckets * 2;
    rt_actor_t **b = calloc (n, sizeof *b);
    if (!b)
        return;                 /* longer chains, still correct */
    for (size_t i = 0; i < self->nbuckets; i++) {
        for (rt_actor_t *a = self->buckets[i], *next; a; a = next) {
            next = a->hnext;
            a->hnext = b[a->hash & (n - 1)];
            b[a->hash & (n - 1)] = a;
        }
    }
    free (self->buckets);
    self->buckets = b;
    self->nbuckets = n;
}

static void
s_table_remove (rt_worker_t *self, rt_actor_t *actor)
{
    rt_actor_t **pp = &self->buckets[actor->hash & (self->nbuckets - 1)];
    while (*pp && *pp != actor)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = actor->hnext;
    self->count--;
}

static void
s_lru_unlink (rt_worker_t *self, rt_actor_t *a)
{
    if (!(a->flags & A_IN_LRU))
        return;
    if (a->lru_prev) a->lru_prev->lru_next = a->lru_next; else self->lru_head = a->lru_next;
    if (a->lru_next) a->lru_next->lru_prev = a->lru_prev; else self->lru_tail = a->lru_prev;
    a->lru_prev = a->lru_next = NULL;
    a->flags &= (uint8_t) ~A_IN_LRU;
}

static void
s_lru_push (rt_worker_t *self, rt_actor_t *a)
{
    a->lru_prev = NULL;
    a->lru_next = self->lru_head;
    if (self->lru_head)
        self->lru_head->lru_prev = a;
    else
        self->lru_tail = a;
    self->lru_head = a;
    a->flags |= A_IN_LRU;
}

static void
s_ready_push (rt_worker_t *self, rt_actor_t *a)
{
    a->ready_next = NULL;
    if (self->ready_tail)
        self->ready_tail->ready_next = a;
    else
        self->ready_head = a;
    self->ready_tail = a;
    a->flags |= A_READY;
}

static void
s_ready_remove (rt_worker_t *self, rt_actor_t *a)
{
    rt_actor_t *prev = NULL;
    for (rt_actor_t *x = self->ready_head; x; prev = x, x = x->ready_next) {
        if (x != a)
            continue;
        if (prev) prev->ready_next = x->ready_next; else self->ready_head = x->ready_next;
        if (self->ready_tail == x)
            self->ready_tail = prev;
        break;
    }
    a->flags &= (uint8_t) ~A_READY;
}

static void
s_actor_free (rt_worker_t *self, rt_actor_t *a)
{
    const rt_type_def_t *def = self->rt->types[a->type];
    if (a->state && def->state_free)
        def->state_free (a->state);
    free (a);
    atomic_fetch_sub (&self->resident, 1);
}

/*  Load the actor's committed state, or make a fresh one. NULL (and *err)
    when the stored state does not decode: the message fails rather than
    the actor starting over from nothing. */
static rt_actor_t *
s_activate (rt_worker_t *self, uint64_t hash, const rt_addr_t *addr, int *err)
{
    const rt_type_def_t *def = self->rt->types[addr->type];
    if (!def) {
        *err = RT_ENOTYPE;
        return NULL;
    }
    /*  A killed actor may have a commit still in flight; reading the store
        before it lands would resurrect stale state. */
    if (self->kill_barrier > st_committer_durable (self->rt->committer))
        st_committer_wait (self->rt->committer, self->kill_barrier, -1);

    uint32_t shard = (uint32_t) (hash % self->rt->opts.shards);
    void *state = NULL;
    *err = st_reader_begin (self->reader);
    if (*err)
        return NULL;
    int rc = rt_state_load (def, self->reader, addr, shard, &state);
    st_reader_end (self->reader);
    if (rc) {
        *err = rc;
        return NULL;
    }
    rt_actor_t *a = calloc (1, sizeof *a + addr->len);
    if (!a) {
        if (def->state_free)
            def->state_free (state);
        *err = RT_ENOMEM;
        return NULL;
    }
    a->hash = hash;
    a->type = addr->type;
    a->klen = addr->len;
    memcpy (a->key, addr->key, addr->len);
    a->state = state;
    a->last_ms = rt_now_ms ();
    a->hnext = self->buckets[hash & (self->nbuckets - 1)];
    self->buckets[hash & (self->nbuckets - 1)] = a;
    if (++self->count > self->nbuckets)
        s_table_grow (self);
    atomic_fetch_add (&self->activations, 1);
    atomic_fetch_add (&self->resident, 1);
    atomic_fetch_add (&self->rt->type_counters[a->type].activations, 1);
    if (def->on_activate)
        def->on_activate (addr, state);
    return a;
}

void
rt_worker_kill_actor (rt_worker_t *self, rt_actor_t *a)
{
    s_table_remove (self, a);
    s_lru_unlink (self, a);
    if (a->flags & A_READY)
        s_ready_remove (self, a);
    if (a->pending_seq > self->kill_barrier)
        self->kill_barrier = a->pending_seq;
    while (a->mb_head) {
        rt_imsg_t *m = a->mb_head;
        a->mb_head = m->next;
        atomic_fetch_sub (&self->mailbox_depth, 1);
        rt_imsg_fail (self->rt, m, RT_EKILLED);
    }
    atomic_fetch_add (&self->kills, 1);
    atomic_fetch_add (&self->rt->type_counters[a->type].kills, 1);
    s_actor_free (self, a);
}

static void
s_passivate (rt_worker_t *self, rt_actor_t *a)
{
    const rt_type_def_t *def = self->rt->types[a->type];
    if (def->on_passivate) {
        rt_addr_t addr;
        def->on_passivate (rt_actor_addr_of (a, &addr), a->state);
    }
    s_table_remove (self, a);
    s_lru_unlink (self, a);
    atomic_fetch_add (&self->passivations, 1);
    atomic_fetch_add (&self->rt->type_counters[a->type].passivations, 1);
    s_actor_free (self, a);
}

/*  Passivate from the cold end: actors idle past idle_ms, and the oldest
    while over the resident share. Bounded per call so a sweep never stalls
    the worker; an actor whose commit is in flight is skipped this time. */
static void
s_sweep (rt_worker_t *self)
{
    int64_t now = rt_now_ms ();
    uint64_t durable = st_committer_durable (self->rt->committer);
    size_t budget = 16384;
    rt_actor_t *a = self->lru_tail;
    while (a && budget--) {
        rt_actor_t *prev = a->lru_prev;
        bool over = self->count > self->resident_max;
        bool idle = now - a->last_ms >= (int64_t) self->idle_ms;
        if (!over && !idle)
            break;
        if (a->pending_seq <= durable)
            s_passivate (self, a);
        a = prev;
    }
    rt_kv_prune (self->overlay, durable);
}

/* ---- fences: shards leaving this node -------------------------------------- */

/*  Drop every actor of the fenced shards. None is in a turn (turns run on
    this thread); their queued messages go to the waiting room ahead of
    what arrived since, and follow the shard. Their last commits may still
    be in flight: the handoff waits for the committer after the fence. */
static void
s_fence (rt_worker_t *self, rt_imsg_t *msg)
{
    rt_fence_t *f;
    memcpy (&f, msg->body, sizeof f);
    rt_imsg_free (&msg);
    uint32_t shards = self->rt->opts.shards;
    for (size_t i = 0; i < self->nbuckets; i++) {
        for (rt_actor_t *a = self->buckets[i], *next; a; a = next) {
            next = a->hnext;
            uint32_t s = (uint32_t) (a->hash % shards);
            if (!(f->map[s >> 3] & (1u << (s & 7))))
                continue;
            rt_imsg_t *chain = a->mb_head;
            atomic_fetch_sub (&self->mailbox_depth, a->mb_depth);
            a->mb_head = a->mb_tail = NULL;
            a->mb_depth = 0;
            if (a->flags & A_READY)
                s_ready_remove (self, a);
            s_passivate (self, a);
            if (chain)
                rt_wait_push (self->rt->owner, s, chain, true);
        }
    }
    pthread_mutex_lock (&f->lock);
    if (--f->remaining == 0)
        pthread_cond_broadcast (&f->cv);
    pthread_mutex_unlock (&f->lock);
}

void
rt_worker_fence (rt_worker_t *self, rt_fence_t *f)
{
    rt_addr_t none = { 0 };
    rt_imsg_t *m = rt_imsg_new (&none, 0, &f, sizeof f, 0, 0, 0, false);
    while (!m) {                /* a few bytes: wait for memory, a fence must get through */
        struct timespec ts = { 0, 1000000 };
        nanosleep (&ts, NULL);
        m = rt_imsg_new (&none, 0, &f, sizeof f, 0, 0, 0, false);
    }
    m->flags = RT_MF_FENCE;
    rt_worker_push (self, m);   /* control messages bypass the bound */
}

/* ---- routing a message to its actor -------------------------------------- */

static void
s_route (rt_worker_t *self, rt_imsg_t *msg)
{
    if (msg->flags & RT_MF_FENCE) {
        s_fence (self, msg);
        return;
    }
    /*  The shard may have started leaving since msg was routed here: it
        follows the shard rather than wake an actor on data about to go. */
    uint32_t st = RT_SH_STATE (rt_owner_word (self->rt->owner,
                                              (uint32_t) (msg->hash % self->rt->opts.shards)));
    if (st != RT_SH_OWNED) {
        if (msg->flags & (RT_MF_KILL | RT_MF_RECEIPT))
            rt_imsg_free (&msg);
        else
            rt_deliver (self->rt, msg);
        return;
    }
    rt_actor_t *a = s_find (self, msg->hash, &msg->to);
    if (msg->flags & RT_MF_KILL) {
        if (a)
            rt_worker_kill_actor (self, a);
        rt_imsg_free (&msg);
        return;
    }
    if (!a) {
        int err = 0;
        a = s_activate (self, msg->hash, &msg->to, &err);
        if (!a) {
            rt_imsg_fail (self->rt, msg, err);
            return;
        }
    }
    if (a->mb_depth >= self->mailbox_max) {
        atomic_fetch_add (&self->rt->refused, 1);
        rt_imsg_fail (self->rt, msg, RT_EOVERLOADED);
        return;
    }
    msg->next = NULL;
    if (a->mb_tail)
        a->mb_tail->next = msg;
    else
        a->mb_head = msg;
    a->mb_tail = msg;
    a->mb_depth++;
    atomic_fetch_add (&self->mailbox_depth, 1);
    if (!(a->flags & A_READY)) {
        s_lru_unlink (self, a);
        s_ready_push (self, a);
    }
}

int
rt_worker_deliver_local (rt_worker_t *self, rt_imsg_t *msg)
{
    s_route (self, msg);
    return 0;
}

int
rt_worker_push (rt_worker_t *self, rt_imsg_t *msg)
{
    msg->next = NULL;
    pthread_mutex_lock (&self->lock);
    /*  Kills and fences bypass the bound: an overloaded worker needs them
        most. */
    if (atomic_load (&self->in_depth) >= self->inbox_max
        && !(msg->flags & (RT_MF_KILL | RT_MF_FENCE))) {
        pthread_mutex_unlock (&self->lock);
        atomic_fetch_add (&self->rt->refused, 1);
        return RT_EOVERLOADED;
    }
    if (self->in_tail)
        self->in_tail->next = msg;
    else
        self->in_head = msg;
    self->in_tail = msg;
    atomic_fetch_add (&self->in_depth, 1);
    bool wake = self->sleeping;
    pthread_mutex_unlock (&self->lock);
    if (wake)
        pthread_cond_signal (&self->cv);      /* after unlocking: see rt_future_complete */
    return 0;
}

/* ---- the loop ------------------------------------------------------------ */

static void
s_run_actor (rt_worker_t *self, rt_actor_t *a)
{
    /*  A_READY stays set while it runs, so messages it sends itself do not
        queue it twice; it is re-queued below if work remains. */
    for (unsigned i = 0; i < RT_TURNS_PER_ACTIVATION && a->mb_head; i++) {
        rt_imsg_t *m = a->mb_head;
        a->mb_head = m->next;
        if (!a->mb_head)
            a->mb_tail = NULL;
        a->mb_depth--;
        atomic_fetch_sub (&self->mailbox_depth, 1);
        atomic_fetch_add_explicit (&self->turns, 1, memory_order_relaxed);
        bool alive = true;
        rt_turn_run (self, a, m, &alive);
        if (!alive)
            return;             /* aborted: the actor is gone */
    }
    a->last_ms = rt_now_ms ();
    if (a->mb_head)
        s_ready_push (self, a);
    else {
        a->flags &= (uint8_t) ~A_READY;
        s_lru_push (self, a);
    }
}

/*  [debug] kill_actors_per_min: this worker's share of random kills over
    the elapsed ms, each a resident actor picked at random, killed as a
    crash would kill it (its waiting asks get RT_EKILLED). */
static void
s_chaos (rt_worker_t *self, int64_t elapsed_ms)
{
    uint32_t rate = self->rt->opts.kill_actors_per_min;
    if (!rate || elapsed_ms <= 0)
        return;
    self->kill_credit += (double) rate * (double) elapsed_ms / 60000.0 / self->rt->nworkers;
    while (self->kill_credit >= 1.0 && self->count) {
        self->kill_credit -= 1.0;
        size_t b = (size_t) rand_r (&self->kill_seed) & (self->nbuckets - 1);
        for (size_t i = 0; i < self->nbuckets; i++) {
            rt_actor_t *a = self->buckets[(b + i) & (self->nbuckets - 1)];
            if (a) {
                rt_worker_kill_actor (self, a);
                break;
            }
        }
    }
    if (!self->count)
        self->kill_credit = 0;
}

static rt_imsg_t *
s_take_inbox (rt_worker_t *self, bool may_sleep)
{
    if (atomic_load_explicit (&self->in_depth, memory_order_acquire) == 0) {
        if (!may_sleep)
            return NULL;
        /*  Spin briefly before sleeping: under load the next message is
            microseconds away and a futex wake costs more than that
            (shorter when the machine has no core to spare). */
        for (int i = 0; i < self->spin; i++) {
            if (atomic_load_explicit (&self->in_depth, memory_order_acquire))
                break;
            __builtin_ia32_pause ();
        }
    }
    pthread_mutex_lock (&self->lock);
    if (!self->in_head && may_sleep && !self->stop) {
        struct timespec ts = rt_deadline_in (100);  /* wake for the passivation sweep */
        self->sleeping = true;
        pthread_cond_timedwait (&self->cv, &self->lock, &ts);
        self->sleeping = false;
    }
    rt_imsg_t *batch = self->in_head;
    self->in_head = self->in_tail = NULL;
    atomic_store (&self->in_depth, 0);
    pthread_mutex_unlock (&self->lock);
    return batch;
}

static void *
s_worker_main (void *arg)
{
    rt_worker_t *self = arg;
    tl_worker = self;
    int64_t next_sweep = rt_now_ms () + 100;
    for (;;) {
        if (__atomic_load_n (&self->stop, __ATOMIC_ACQUIRE))
            break;
        rt_imsg_t *batch = s_take_inbox (self, self->ready_head == NULL);
        while (batch) {
            rt_imsg_t *next = batch->next;
            s_route (self, batch);
            batch = next;
        }
        /*  Run the actors that are ready now; those made ready by these
            turns run in the next round, after the inbox is checked again. */
        /*  Run a bounded round of ready actors, then look at the inbox
            again, so local ping-pong cannot starve other threads' asks. */
        for (int n = 0; n < 256 && self->ready_head; n++) {
            rt_actor_t *a = self->ready_head;
            self->ready_head = a->ready_next;
            if (!self->ready_head)
                self->ready_tail = NULL;
            s_run_actor (self, a);
        }
        int64_t now = rt_now_ms ();
        if (now >= next_sweep || self->count > self->resident_max) {
            s_sweep (self);
            s_chaos (self, now - (next_sweep - 100));
            next_sweep = now + 100;
        }
    }
    tl_worker = NULL;
    return NULL;
}

/* ---- life cycle -------------------------------------------------------------- */

rt_worker_t *
rt_worker_new (rt_runtime_t *rt, uint32_t index)
{
    rt_worker_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->rt = rt;
    self->index = index;
    self->inbox_max = rt->opts.worker_inbox_max;
    self->mailbox_max = rt->opts.mailbox_max;
    self->resident_max = rt->opts.max_resident / rt->nworkers + 1;
    self->idle_ms = rt->opts.passivate_idle_ms;
    self->kill_seed = (unsigned) (index * 7919u + (unsigned) rt_now_ms ());
    /*  Spinning long pays when a core is idle to spin on; with no more
        cores than workers plus the committer and the edge's threads a
        long spin takes time from the thread that would send the next
        message, so it is kept short (rt_limits.h). */
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    self->spin = cores > (long) rt->nworkers + 2 ? RT_WORKER_SPIN : RT_WORKER_SPIN_SHORT;
    self->nbuckets = 1024;
    self->buckets = calloc (self->nbuckets, sizeof *self->buckets);
    self->reader = st_reader_new (rt->store);
    self->overlay = rt_kv_new ();
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->cv, NULL);
    if (!self->buckets || !self->reader || !self->overlay) {
        rt_worker_destroy (&self);
        return NULL;
    }
    return self;
}

int
rt_worker_start (rt_worker_t *self)
{
    if (pthread_create (&self->thread, NULL, s_worker_main, self))
        return RT_ENOMEM;
    char name[16];
    snprintf (name, sizeof name, "pasar-worker-%u", self->index % 100);
    pthread_setname_np (self->thread, name);
    self->running = true;
    return 0;
}

void
rt_worker_stop (rt_worker_t *self)
{
    if (!self->running)
        return;
    pthread_mutex_lock (&self->lock);
    __atomic_store_n (&self->stop, true, __ATOMIC_RELEASE);
    pthread_cond_signal (&self->cv);
    pthread_mutex_unlock (&self->lock);
    pthread_join (self->thread, NULL);
    self->running = false;
}

void
rt_worker_destroy (rt_worker_t **p)
{
    if (!p || !*p)
        return;
    rt_worker_t *self = *p;
    rt_worker_stop (self);
    /*  Whatever still waits fails like a stopped node would. */
    rt_imsg_t *m = self->in_head;
    while (m) {
        rt_imsg_t *next = m->next;
        rt_imsg_fail (self->rt, m, RT_ESTOPPED);
        m = next;
    }
    for (size_t i = 0; self->buckets && i < self->nbuckets; i++) {
        for (rt_actor_t *a = self->buckets[i], *next; a; a = next) {
            next = a->hnext;
            while (a->mb_head) {
                rt_imsg_t *mm = a->mb_head;
                a->mb_head = mm->next;
                rt_imsg_fail (self->rt, mm, RT_ESTOPPED);
            }
            s_actor_free (self, a);
        }
    }
    free (self->buckets);
    st_reader_destroy (&self->reader);
    rt_kv_destroy (&self->overlay);
    pthread_mutex_destroy (&self->lock);
    pthread_cond_destroy (&self->cv);
    free (self);
    *p = NULL;
}

void
rt_worker_stats (rt_worker_t *self, rt_stats_t *acc)
{
    acc->activations += atomic_load (&self->activations);
    acc->passivations += atomic_load (&self->passivations);
    acc->kills += atomic_load (&self->kills);
    acc->turns += atomic_load (&self->turns);
    acc->mailbox_depth += atomic_load (&self->mailbox_depth) + atomic_load (&self->in_depth);
    acc->resident += atomic_load (&self->resident);
}
