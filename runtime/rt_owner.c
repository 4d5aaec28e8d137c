/*  =========================================================================
    rt_owner.c - which shards this node serves, and the waiting room for
    the messages of shards on the move

    Each shard is in one of four states on this node:
      OWNED   its data is here and this node serves it;
      REMOTE  another node does: messages are forwarded (by placement);
      OUT     it is being handed to its new owner (rt_handoff.c): messages
              wait here and follow it when it lands;
      IN      this node is its new owner but the data has not all landed:
              messages wait here and run when it has.
    The state sits in one atomic word per shard with a generation that
    changes on every transition, so a reader can tell that nothing moved
    under it (rt_read checks before and after its snapshot).

    What is on disk: the set of shards this node owns (a bitmap under the
    node's own meta key "own"), changed only in the same commit as the data
    that justifies it (the last chunk of an incoming shard) or before a
    shard starts leaving. At start the states follow from that bitmap, the
    placement of cluster.toml and what data is present:
      owned, placed here        OWNED
      owned, placed elsewhere   OUT   (cluster.toml changed while down)
      not owned, placed here    IN    (its old owner will hand it over)
      not owned, elsewhere      REMOTE, or OUT when data was left behind
                                (a handoff cut short by a crash)
    A store that never owned anything (no "own" key) is new: on a single
    node it takes every shard; in a cluster it waits until it has heard
    every peer's claims (rt_transport heartbeats) and then takes the shards
    placed on it that nobody claims (a new cluster), leaving the others IN
    (a node joining a running cluster gets them by handoff).
    =========================================================================
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rt_internal.h"
#include "rt_log.h"

struct rt_owner {
    rt_runtime_t     *rt;
    uint32_t          shards;
    _Atomic uint32_t *word;             /* state | generation << 2 */
    /*  the persisted set; own_lock also orders the commits that write it */
    pthread_mutex_t   own_lock;
    uint8_t          *own;
    bool              fresh;            /* never owned anything yet */
    bool              claiming;         /* its first claim is being written */
    bool              dirty;            /* own differs from disk (start) */
    uint32_t         *wipe, nwipe;      /* unfinished incoming copies (start) */
    /*  the waiting room */
    pthread_mutex_t   wr_lock;
    rt_imsg_t       **wr_head, **wr_tail;
    uint32_t          waiting;
    atomic_uint_fast64_t waited, wait_expired, wait_refused;
};

static void
s_own_key (st_key_t *k)
{
    st_key_begin (k, ST_NODE_SHARD, ST_KIND_META);
    st_key_bytes (k, "own", 3);
}

static bool
s_bit (const uint8_t *map, uint32_t s)
{
    return map[s >> 3] & (1u << (s & 7));
}

static void
s_setbit (uint8_t *map, uint32_t s, bool on)
{
    if (on)
        map[s >> 3] |= (uint8_t) (1u << (s & 7));
    else
        map[s >> 3] &= (uint8_t) ~(1u << (s & 7));
}

/*  Where placement puts shard s: this node? (Alone: always.) */
static bool
s_placed_here (rt_runtime_t *rt, uint32_t s)
{
    rt_placement_t *p = rt->placement;
    return !p || rt_placement_owner (p, s) == rt->opts.self_node;
}

static int
s_any (void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void) key; (void) klen; (void) val; (void) vlen;
    *(bool *) arg = true;
    return 1;
}

/*  Whether the store holds any key of shard s (shards end below the
    node's own 0xFFFF, so s + 1 always fits). */
static bool
s_has_data (st_reader_t *r, uint32_t s)
{
    uint8_t lo[2], hi[2];
    st_put_u16 (lo, (uint16_t) s);
    st_put_u16 (hi, (uint16_t) (s + 1));
    bool any = false;
    st_reader_scan (r, lo, 2, hi, 2, 1, s_any, &any);
    return any;
}

void
rt_owner_partial_key (st_key_t *k, uint32_t shard)
{
    st_key_begin (k, shard, ST_KIND_META);
    st_key_bytes (k, "handoff", 7);
}

/*  Whether shard s holds an incoming copy that never finished: it is not
    this node's data, and nobody should take it for the shard. */
static bool
s_partial (st_reader_t *r, uint32_t s)
{
    st_key_t k;
    rt_owner_partial_key (&k, s);
    const void *v;
    size_t vlen;
    return st_reader_get (r, k.b, k.len, &v, &vlen) == 0;
}

int
rt_owner_wipe (rt_owner_t *self, uint32_t shard, bool wait)
{
    uint8_t lo[2], hi[2];
    st_put_u16 (lo, (uint16_t) shard);
    st_put_u16 (hi, (uint16_t) (shard + 1));
    st_record_t *rec = st_record_new ();
    if (!rec || st_record_del_range (rec, lo, 2, hi, 2)) {
        st_record_destroy (&rec);
        return RT_ENOMEM;
    }
    uint64_t seq = st_committer_submit (self->rt->committer, &rec, NULL, NULL);
    return seq && (!wait || st_committer_wait (self->rt->committer, seq, -1)) ? 0 : RT_ESTOPPED;
}

int
rt_owner_new (rt_runtime_t *rt, rt_owner_t **out, char *err, size_t errlen)
{
    rt_owner_t *self = calloc (1, sizeof *self);
    uint32_t n = rt->opts.shards;
    if (self) {
        self->rt = rt;
        self->shards = n;
        self->word = calloc (n, sizeof *self->word);
        self->own = calloc ((n + 7) / 8, 1);
        self->wr_head = calloc (n, sizeof *self->wr_head);
        self->wr_tail = calloc (n, sizeof *self->wr_tail);
        self->wipe = calloc (n, sizeof *self->wipe);
        pthread_mutex_init (&self->own_lock, NULL);
        pthread_mutex_init (&self->wr_lock, NULL);
    }
    st_reader_t *r = self ? st_reader_new (rt->store) : NULL;
    if (!self || !self->word || !self->own || !self->wr_head || !self->wr_tail || !self->wipe || !r
        || st_reader_begin (r)) {
        st_reader_destroy (&r);
        rt_owner_destroy (&self);
        snprintf (err, errlen, "runtime: out of memory (shard table)");
        return RT_ENOMEM;
    }
    st_key_t k;
    s_own_key (&k);
    const void *v;
    size_t vlen;
    int rc = st_reader_get (r, k.b, k.len, &v, &vlen);
    if (rc == 0 && vlen == (n + 7) / 8)
        memcpy (self->own, v, vlen);
    else if (rc == 0) {
        st_reader_end (r);
        st_reader_destroy (&r);
        rt_owner_destroy (&self);
        snprintf (err, errlen, "store: the ownership record does not match %u shards", n);
        return RT_ECORRUPT;
    }
    self->fresh = rc != 0;
    for (uint32_t s = 0; s < n; s++) {
        bool own = s_bit (self->own, s), here = s_placed_here (rt, s);
        int st;
        if (self->fresh)
            st = !rt->placement ? RT_SH_OWNED : here ? RT_SH_IN : RT_SH_REMOTE;
        else if (own)
            st = here ? RT_SH_OWNED : RT_SH_OUT;
        else if (here)
            st = RT_SH_IN;
        else if (s_partial (r, s)) {
            st = RT_SH_REMOTE;          /* an unfinished copy: dropped at start */
            self->wipe[self->nwipe++] = s;
        }
        else
            st = s_has_data (r, s) ? RT_SH_OUT : RT_SH_REMOTE;
        if (st == RT_SH_OWNED && !own) {
            s_setbit (self->own, s, true);
            self->dirty = true;
        }
        if (st == RT_SH_OUT && own) {
            s_setbit (self->own, s, false);
            self->dirty = true;
        }
        atomic_init (&self->word[s], (uint32_t) st);
    }
    if (self->fresh && !rt->placement)
        self->fresh = false;            /* alone: everything is ours now */
    st_reader_end (r);
    st_reader_destroy (&r);
    *out = self;
    return 0;
}

void
rt_owner_destroy (rt_owner_t **p)
{
    if (!p || !*p)
        return;
    rt_owner_t *self = *p;
    for (uint32_t s = 0; self->wr_head && s < self->shards; s++) {
        for (rt_imsg_t *m = self->wr_head[s], *next; m; m = next) {
            next = m->next;
            rt_imsg_fail (self->rt, m, RT_ESTOPPED);
        }
    }
    free ((void *) self->word);
    free (self->own);
    free (self->wr_head);
    free (self->wr_tail);
    free (self->wipe);
    pthread_mutex_destroy (&self->own_lock);
    pthread_mutex_destroy (&self->wr_lock);
    free (self);
    *p = NULL;
}

/* ---- the persisted set ------------------------------------------------------ */

uint64_t
rt_owner_submit (rt_owner_t *self, st_record_t **rec, const uint32_t *shards, size_t n,
                 bool own, st_done_fn *done, void *arg)
{
    st_key_t k;
    s_own_key (&k);
    pthread_mutex_lock (&self->own_lock);
    for (size_t i = 0; i < n; i++)
        s_setbit (self->own, shards[i], own);
    self->dirty = false;
    uint64_t seq = 0;
    if (st_record_put (*rec, k.b, k.len, self->own, (self->shards + 7) / 8) == 0)
        seq = st_committer_submit (self->rt->committer, rec, done, arg);
    else {
        st_record_destroy (rec);
        if (done)
            done (arg, 0, RT_ENOMEM);
    }
    pthread_mutex_unlock (&self->own_lock);
    return seq;
}

int
rt_owner_start (rt_owner_t *self)
{
    for (uint32_t i = 0; i < self->nwipe; i++) {
        int rc = rt_owner_wipe (self, self->wipe[i], i + 1 == self->nwipe);
        if (rc)
            return rc;
    }
    if (self->nwipe)
        rt_log ("warn", "handoff.partial_dropped", "\"shards\":%u", self->nwipe);
    self->nwipe = 0;
    if (!self->dirty)
        return 0;
    st_record_t *rec = st_record_new ();
    if (!rec)
        return RT_ENOMEM;
    uint64_t seq = rt_owner_submit (self, &rec, NULL, 0, true, NULL, NULL);
    return seq && st_committer_wait (self->rt->committer, seq, -1) ? 0 : RT_ESTOPPED;
}

bool
rt_owner_fresh (rt_owner_t *self)
{
    pthread_mutex_lock (&self->own_lock);
    bool fresh = self->fresh;
    pthread_mutex_unlock (&self->own_lock);
    return fresh;
}

/* ---- states ------------------------------------------------------------------ */

uint32_t
rt_owner_word (rt_owner_t *self, uint32_t shard)
{
    return atomic_load_explicit (&self->word[shard], memory_order_acquire);
}

void
rt_owner_set (rt_owner_t *self, uint32_t shard, int state)
{
    uint32_t w = atomic_load (&self->word[shard]);
    while (!atomic_compare_exchange_weak (&self->word[shard], &w,
                                          (uint32_t) state | (((w >> 2) + 1) << 2)))
        ;
}

uint32_t
rt_owner_count (rt_owner_t *self, int state)
{
    uint32_t n = 0;
    for (uint32_t s = 0; s < self->shards; s++)
        n += RT_SH_STATE (atomic_load (&self->word[s])) == (uint32_t) state;
    return n;
}

void
rt_owner_claims (rt_owner_t *self, uint8_t *map)
{
    memset (map, 0, (self->shards + 7) / 8);
    for (uint32_t s = 0; s < self->shards; s++) {
        uint32_t st = RT_SH_STATE (atomic_load (&self->word[s]));
        if (st == RT_SH_OWNED || st == RT_SH_OUT)
            s_setbit (map, s, true);
    }
}

typedef struct {
    rt_owner_t *self;
    uint32_t   *shards;
    size_t      n;
} claimed_t;

static void
s_claimed (void *arg, uint64_t seq, int err)
{
    (void) seq;
    claimed_t *c = arg;
    for (size_t i = 0; !err && i < c->n; i++) {
        rt_owner_set (c->self, c->shards[i], RT_SH_OWNED);
        rt_wait_flush (c->self, c->shards[i]);
    }
    pthread_mutex_lock (&c->self->own_lock);
    c->self->claiming = false;
    c->self->fresh = err != 0;          /* on failure: decide again */
    pthread_mutex_unlock (&c->self->own_lock);
    if (!err)
        rt_log ("info", "shards.claimed", "\"shards\":%zu", c->n);
    free (c->shards);
    free (c);
}

int
rt_owner_claim_free (rt_owner_t *self, const uint8_t *taken)
{
    pthread_mutex_lock (&self->own_lock);
    bool busy = self->claiming || !self->fresh;
    self->claiming = true;
    pthread_mutex_unlock (&self->own_lock);
    if (busy)
        return 0;
    claimed_t *c = calloc (1, sizeof *c);
    st_record_t *rec = c ? st_record_new () : NULL;
    if (!rec || !(c->shards = calloc (self->shards, sizeof *c->shards))) {
        st_record_destroy (&rec);
        free (c);
        pthread_mutex_lock (&self->own_lock);
        self->claiming = false;         /* try again at the next tick */
        pthread_mutex_unlock (&self->own_lock);
        return RT_ENOMEM;
    }
    c->self = self;
    for (uint32_t s = 0; s < self->shards; s++)
        if (RT_SH_STATE (atomic_load (&self->word[s])) == RT_SH_IN && !s_bit (taken, s))
            c->shards[c->n++] = s;
    /*  Even with nothing to claim the (empty) set is written: the store is
        no longer new, and waits for handoffs from now on. */
    return rt_owner_submit (self, &rec, c->shards, c->n, true, s_claimed, c) ? 0 : RT_ESTOPPED;
}

int
rt_owner_reload (rt_owner_t *self, uint32_t *moving)
{
    uint32_t *out = calloc (self->shards, sizeof *out);
    if (!out)
        return RT_ENOMEM;
    size_t nout = 0;
    *moving = 0;
    for (uint32_t s = 0; s < self->shards; s++) {
        uint32_t st = RT_SH_STATE (atomic_load (&self->word[s]));
        bool here = s_placed_here (self->rt, s);
        if (st == RT_SH_OWNED && !here) {
            rt_owner_set (self, s, RT_SH_OUT);
            out[nout++] = s;
        }
        else if (st == RT_SH_REMOTE && here)
            rt_owner_set (self, s, RT_SH_IN);
        else if (st == RT_SH_IN && !here) {
            /*  (Only after a restart: a reload waits for moves to end.) */
            rt_owner_set (self, s, RT_SH_REMOTE);
            rt_wait_flush (self, s);
            rt_owner_wipe (self, s, false);
        }
        st = RT_SH_STATE (atomic_load (&self->word[s]));
        *moving += st == RT_SH_OUT || st == RT_SH_IN;
    }
    int rc = 0;
    if (nout) {
        st_record_t *rec = st_record_new ();
        uint64_t seq = rec ? rt_owner_submit (self, &rec, out, nout, false, NULL, NULL) : 0;
        rc = seq && st_committer_wait (self->rt->committer, seq, -1) ? 0 : RT_ESTOPPED;
    }
    free (out);
    return rc;
}

/* ---- the waiting room ------------------------------------------------------------ */

int
rt_wait_push (rt_owner_t *self, uint32_t shard, rt_imsg_t *msg, bool chain)
{
    if (!chain)
        msg->next = NULL;
    int64_t until = rt_now_ms () + RT_HANDOFF_WAIT_MS;
    for (rt_imsg_t *m = msg; m; m = m->next)
        m->wait_until_ms = m->deadline_ms && m->deadline_ms < until ? m->deadline_ms : until;
    rt_imsg_t *last = msg;
    uint32_t n = 1;
    while (last->next) {
        last = last->next;
        n++;
    }
    pthread_mutex_lock (&self->wr_lock);
    /*  A chain (an actor's mailbox at a fence) was accepted before: it
        goes first and is never refused. */
    uint32_t st = RT_SH_STATE (atomic_load (&self->word[shard]));
    if (st != RT_SH_OUT && st != RT_SH_IN) {
        /*  The move ended between the caller's look and this lock. */
        pthread_mutex_unlock (&self->wr_lock);
        for (rt_imsg_t *m = msg, *next; m; m = next) {
            next = m->next;
            m->next = NULL;
            rt_deliver (self->rt, m);
        }
        return 0;
    }
    if (!chain && self->waiting >= RT_HANDOFF_WAITING_MAX) {
        pthread_mutex_unlock (&self->wr_lock);
        atomic_fetch_add (&self->wait_refused, 1);
        rt_imsg_fail (self->rt, msg, RT_EUNAVAILABLE);
        return RT_EUNAVAILABLE;
    }
    if (chain) {
        last->next = self->wr_head[shard];
        if (!self->wr_head[shard])
            self->wr_tail[shard] = last;
        self->wr_head[shard] = msg;
    }
    else {
        msg->next = NULL;
        if (self->wr_tail[shard])
            self->wr_tail[shard]->next = msg;
        else
            self->wr_head[shard] = msg;
        self->wr_tail[shard] = msg;
    }
    self->waiting += n;
    pthread_mutex_unlock (&self->wr_lock);
    atomic_fetch_add (&self->waited, n);
    return 0;
}

void
rt_wait_flush (rt_owner_t *self, uint32_t shard)
{
    pthread_mutex_lock (&self->wr_lock);
    rt_imsg_t *m = self->wr_head[shard];
    self->wr_head[shard] = self->wr_tail[shard] = NULL;
    for (rt_imsg_t *x = m; x; x = x->next)
        self->waiting--;
    pthread_mutex_unlock (&self->wr_lock);
    while (m) {
        rt_imsg_t *next = m->next;
        m->next = NULL;
        rt_deliver (self->rt, m);
        m = next;
    }
}

void
rt_wait_fail_all (rt_owner_t *self)
{
    for (uint32_t s = 0; s < self->shards; s++) {
        pthread_mutex_lock (&self->wr_lock);
        rt_imsg_t *m = self->wr_head[s];
        self->wr_head[s] = self->wr_tail[s] = NULL;
        pthread_mutex_unlock (&self->wr_lock);
        while (m) {
            rt_imsg_t *next = m->next;
            rt_imsg_fail (self->rt, m, RT_ESTOPPED);
            m = next;
        }
    }
    pthread_mutex_lock (&self->wr_lock);
    self->waiting = 0;
    pthread_mutex_unlock (&self->wr_lock);
}

void
rt_wait_sweep (rt_owner_t *self, int64_t now)
{
    rt_imsg_t *dead = NULL;
    pthread_mutex_lock (&self->wr_lock);
    for (uint32_t s = 0; self->waiting && s < self->shards; s++) {
        rt_imsg_t **pp = &self->wr_head[s], *prev = NULL;
        while (*pp) {
            rt_imsg_t *m = *pp;
            if (m->wait_until_ms > now) {
                prev = m;
                pp = &m->next;
                continue;
            }
            *pp = m->next;
            if (self->wr_tail[s] == m)
                self->wr_tail[s] = prev;
            self->waiting--;
            m->next = dead;
            dead = m;
        }
    }
    pthread_mutex_unlock (&self->wr_lock);
    while (dead) {
        rt_imsg_t *next = dead->next;
        atomic_fetch_add (&self->wait_expired, 1);
        rt_imsg_fail (self->rt, dead, RT_EUNAVAILABLE);
        dead = next;
    }
}

void
rt_owner_stats (rt_owner_t *self, rt_stats_t *acc)
{
    pthread_mutex_lock (&self->wr_lock);
    acc->handoff_waiting += self->waiting;
    pthread_mutex_unlock (&self->wr_lock);
    acc->handoff_waited += atomic_load (&self->waited);
    acc->handoff_wait_expired += atomic_load (&self->wait_expired) + atomic_load (&self->wait_refused);
    acc->shards_owned += rt_owner_count (self, RT_SH_OWNED);
    acc->shards_moving_out += rt_owner_count (self, RT_SH_OUT);
    acc->shards_moving_in += rt_owner_count (self, RT_SH_IN);
}
