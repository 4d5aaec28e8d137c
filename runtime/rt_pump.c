/*  =========================================================================
    rt_pump.c - the outbox pump: exactly-once messages between actors

    rt_ctx_send writes an envelope into the sender shard's outbox ('O'
    keys) in the turn's commit. Once that commit is durable the pump
    delivers it; the receiver's turn writes a dedup mark with its own
    commit and, once durable, acknowledges; the pump then deletes the
    outbox entry (another commit). Lost deliveries, killed receivers and
    crashes on either side end in a redelivery, which the receiver's mark
    turns into a no-op: the effect happens once.

    An acknowledgement may carry the receiver's receipt (rt_ctx_receipt).
    Then the pump does not delete the entry itself: it hands the receipt
    to the sending actor, whose turn deletes the entry in its own commit
    and runs only while the entry exists. Until that turn is durable the
    entry stays and is redelivered on its timer; the receiver's mark
    keeps the receipt and acknowledges with it again.

    Each envelope carries the shard's low-water mark (the lowest sequence
    still in its outbox); receivers drop their marks below it, since those
    messages can never come again. At most RT_OUTBOX_WINDOW messages per
    shard are in flight, which bounds both the retry work and the marks a
    receiver holds per sender shard.
    =========================================================================
*/
#include <stdlib.h>
#include <string.h>
#include "rt_internal.h"
#include "rt_envelope.h"
#include "rt_bg.h"

enum { PE_NEW, PE_SENT, PE_ACKED, PE_DELETING, PE_PARKED };

typedef struct pe {
    struct pe *next;
    uint64_t   seq;
    uint8_t   *env;
    size_t     len;
    int64_t    next_try_ms;
    uint32_t   attempts;
    uint32_t   backoff_ms;
    uint8_t    state;
} pe_t;

struct rt_pump {
    rt_runtime_t   *rt;
    rt_bg_t         bg;                 /* bg.lock guards all below */
    bool            kick;
    bool            kick_deferred;      /* to the end of the commit batch */
    uint32_t        shards;
    atomic_uint_fast64_t *next_seq;     /* per shard, next to hand out */
    pe_t          **head;               /* per shard, ordered by seq */
    uint64_t        pending, delivered, redelivered, parked;
};

typedef struct {
    rt_pump_t *self;
    uint32_t  *shards;
    uint64_t  *seqs;
    size_t     n;
} del_batch_t;

void
rt_pump_mark_key (st_key_t *k, uint32_t shard)
{
    st_key_begin (k, shard, ST_KIND_META);
    st_key_bytes (k, "oseq", 4);
}

uint64_t
rt_pump_next_seq (rt_pump_t *self, uint32_t shard)
{
    return atomic_fetch_add (&self->next_seq[shard], 1);
}

/*  Something to do. Inside a commit callback the wake-up waits for the
    end of the batch (rt_pump_after_batch): one pass for the batch's
    entries, not one wake-up (and preemption of the committer) per record.
    Caller holds the lock. */
static void
s_kick (rt_pump_t *self)
{
    self->kick = true;
    if (st_committer_is_current (self->rt->committer))
        self->kick_deferred = true;
    else
        pthread_cond_signal (&self->bg.cv);
}

void
rt_pump_after_batch (void *arg)
{
    rt_pump_t *self = arg;
    pthread_mutex_lock (&self->bg.lock);
    if (self->kick_deferred) {
        self->kick_deferred = false;
        pthread_cond_signal (&self->bg.cv);
    }
    pthread_mutex_unlock (&self->bg.lock);
}

/*  Caller holds the lock. */
static uint64_t
s_low (rt_pump_t *self, uint32_t shard)
{
    return self->head[shard] ? self->head[shard]->seq
                             : atomic_load (&self->next_seq[shard]);
}

uint64_t
rt_pump_low (rt_pump_t *self, uint32_t shard)
{
    pthread_mutex_lock (&self->bg.lock);
    uint64_t low = s_low (self, shard);
    pthread_mutex_unlock (&self->bg.lock);
    return low;
}

/*  Insert in seq order (commits of one shard land almost in order, so
    walking from the head is short in practice). Caller holds the lock. */
static void
s_insert (rt_pump_t *self, uint32_t shard, pe_t *e)
{
    pe_t **pp = &self->head[shard];
    while (*pp && (*pp)->seq < e->seq)
        pp = &(*pp)->next;
    e->next = *pp;
    *pp = e;
    self->pending++;
}

void
rt_pump_sent (rt_pump_t *self, uint32_t shard, uint64_t seq, const uint8_t *env, size_t len)
{
    pe_t *e = calloc (1, sizeof *e);
    uint8_t *copy = malloc (len);
    if (!e || !copy) {
        /*  The entry is durable in the outbox: a restart delivers it. */
        free (e);
        free (copy);
        return;
    }
    memcpy (copy, env, len);
    e->seq = seq;
    e->env = copy;
    e->len = len;
    e->state = PE_NEW;
    e->backoff_ms = RT_OUTBOX_ACK_TIMEOUT_MS;
    pthread_mutex_lock (&self->bg.lock);
    s_insert (self, shard, e);
    s_kick (self);
    pthread_mutex_unlock (&self->bg.lock);
}

/*  The sender of entry e gets the receipt as a message of its own, from
    the receiver. NULL when the entry does not decode (it is parked on its
    next pass) or memory is short (its redelivery brings the receipt back). */
static rt_imsg_t *
s_receipt_msg (const pe_t *e, uint32_t shard, const uint8_t *receipt, size_t rlen)
{
    rt_envelope_t env;
    rt_addr_t from, to;
    if (rt_envelope_decode (e->env, e->len, &env) || !env.from_type
        || rt_addr_set (&to, env.from_type, (const char *) env.from_key.ptr, env.from_key.len)
        || rt_addr_set (&from, env.to_type, (const char *) env.to_key.ptr, env.to_key.len))
        return NULL;
    rt_imsg_t *m = rt_imsg_new (&to, st_get_u16 (receipt), receipt + 2, rlen - 2, 0, 0, 0,
                                false);
    if (!m)
        return NULL;
    m->from = from;
    m->flags = RT_MF_RECEIPT;
    m->src_shard = shard;
    m->src_seq = e->seq;
    return m;
}

void
rt_pump_ack (rt_pump_t *self, uint32_t shard, uint64_t seq, const uint8_t *receipt,
             size_t rlen)
{
    if (shard >= self->shards || (rlen && (rlen < 2 || rlen > RT_RECEIPT_MAX_BYTES)))
        return;
    rt_imsg_t *m = NULL;
    pthread_mutex_lock (&self->bg.lock);
    for (pe_t *e = self->head[shard]; e && e->seq <= seq; e = e->next) {
        if (e->seq != seq || e->state == PE_DELETING)
            continue;
        if (rlen)
            /*  The sender's turn deletes the entry. Till then it stays
                SENT: if that turn is lost, the redelivery on the entry's
                timer brings the receipt back. */
            m = s_receipt_msg (e, shard, receipt, rlen);
        else {
            e->state = PE_ACKED;
            s_kick (self);
        }
        break;
    }
    pthread_mutex_unlock (&self->bg.lock);
    if (m)
        rt_deliver (self->rt, m);
}

/*  The entry's deletion is durable (forget it: the low mark moves), or
    failed (try it again). Caller holds the lock. */
static void
s_deleted_one (rt_pump_t *self, uint32_t shard, uint64_t seq, int err)
{
    for (pe_t **pp = &self->head[shard]; *pp && (*pp)->seq <= seq; pp = &(*pp)->next) {
        pe_t *e = *pp;
        if (e->seq != seq)
            continue;
        if (err)
            e->state = PE_ACKED;
        else {
            *pp = e->next;
            free (e->env);
            free (e);
            self->pending--;
        }
        return;
    }
}

void
rt_pump_gone (rt_pump_t *self, uint32_t shard, uint64_t seq)
{
    if (shard >= self->shards)
        return;
    pthread_mutex_lock (&self->bg.lock);
    s_deleted_one (self, shard, seq, 0);
    pthread_mutex_unlock (&self->bg.lock);
}

/*  Deletions are durable: forget the entries, which moves the low mark. */
static void
s_deleted (void *arg, uint64_t seq, int err)
{
    (void) seq;
    del_batch_t *b = arg;
    rt_pump_t *self = b->self;
    pthread_mutex_lock (&self->bg.lock);
    for (size_t i = 0; i < b->n; i++)
        s_deleted_one (self, b->shards[i], b->seqs[i], err);
    pthread_mutex_unlock (&self->bg.lock);
    free (b->shards);
    free (b->seqs);
    free (b);
}

static rt_imsg_t *
s_to_msg (const uint8_t *buf, size_t len, uint64_t low)
{
    rt_envelope_t env;
    if (rt_envelope_decode (buf, len, &env) || !env.has_src)
        return NULL;
    rt_imsg_t *m = rt_imsg_from_envelope (&env);
    if (m)
        m->src_low = low;
    return m;
}

/*  One pass: send what is new or due again (within the window), collect
    acknowledged entries into one deletion record. Returns the time of the
    next retry. */
static int64_t
s_pass (rt_pump_t *self)
{
    int64_t now = rt_now_ms (), next = now + 1000;
    rt_imsg_t *out = NULL;
    del_batch_t *del = NULL;
    st_record_t *rec = NULL;
    size_t cap = 0;

    pthread_mutex_lock (&self->bg.lock);
    for (uint32_t s = 0; s < self->shards; s++) {
        uint64_t low = s_low (self, s), gone = 0;
        unsigned window = 0;
        for (pe_t *e = self->head[s]; e; e = e->next) {
            if (e->state == PE_ACKED) {
                if (!rec && !(rec = st_record_new ()))
                    continue;
                if (!del && !(del = calloc (1, sizeof *del)))
                    continue;
                if (del->n == cap) {
                    cap = cap ? cap * 2 : 64;
                    del->shards = realloc (del->shards, cap * sizeof *del->shards);
                    del->seqs = realloc (del->seqs, cap * sizeof *del->seqs);
                    if (!del->shards || !del->seqs)
                        abort ();   /* a few bytes; nothing sane to do */
                }
                st_key_t k;
                st_key_begin (&k, s, ST_KIND_OUTBOX);
                st_key_u64 (&k, e->seq);
                st_record_del (rec, k.b, k.len);
                if (e->seq > gone)
                    gone = e->seq;
                del->shards[del->n] = s;
                del->seqs[del->n++] = e->seq;
                e->state = PE_DELETING;
                continue;
            }
            if (e->state == PE_DELETING || e->state == PE_PARKED)
                continue;
            if (++window > RT_OUTBOX_WINDOW)
                break;
            if (e->state == PE_SENT && e->next_try_ms > now) {
                if (e->next_try_ms < next)
                    next = e->next_try_ms;
                continue;
            }
            if (e->attempts >= RT_OUTBOX_RETRIES_MAX) {
                e->state = PE_PARKED;
                self->parked++;
                continue;
            }
            rt_imsg_t *m = s_to_msg (e->env, e->len, low);
            if (!m) {
                e->state = PE_PARKED;   /* undecodable: keep it for inspection */
                self->parked++;
                continue;
            }
            if (e->attempts++)
                self->redelivered++;
            else
                self->delivered++;
            e->state = PE_SENT;
            e->next_try_ms = now + e->backoff_ms;
            if (e->next_try_ms < next)
                next = e->next_try_ms;
            e->backoff_ms = e->backoff_ms * 2 > RT_OUTBOX_BACKOFF_MAX_MS
                          ? RT_OUTBOX_BACKOFF_MAX_MS : e->backoff_ms * 2;
            m->next = out;
            out = m;
        }
        /*  The shard's high-water mark rises with the entries it deletes,
            in the same record: the entries left and the mark together
            still cover every number ever used, which is what restart
            counts on (s_load_shard). */
        if (gone) {
            st_key_t k;
            rt_pump_mark_key (&k, s);
            st_record_put_max (rec, k.b, k.len, gone);
        }
    }
    pthread_mutex_unlock (&self->bg.lock);

    /*  out is newest-first per pass; reverse so each receiver sees its
        messages in outbox order. */
    rt_imsg_t *rev = NULL;
    while (out) {
        rt_imsg_t *m = out;
        out = m->next;
        m->next = rev;
        rev = m;
    }
    while (rev) {
        rt_imsg_t *m = rev;
        rev = m->next;
        rt_deliver (self->rt, m);
    }
    if (rec) {
        del->self = self;
        st_committer_submit (self->rt->committer, &rec, s_deleted, del);
    }
    return next;
}

static void *
s_pump_main (void *arg)
{
    rt_pump_t *self = arg;
    int64_t next = 0;
    pthread_mutex_lock (&self->bg.lock);
    while (!self->bg.stop) {
        if (self->kick || rt_now_ms () >= next) {
            self->kick = false;
            pthread_mutex_unlock (&self->bg.lock);
            next = s_pass (self);
            pthread_mutex_lock (&self->bg.lock);
            continue;
        }
        if (!self->kick)
            rt_bg_wait (&self->bg, next - rt_now_ms ());
    }
    pthread_mutex_unlock (&self->bg.lock);
    return NULL;
}

typedef struct {
    rt_pump_t *self;
    uint32_t shard;
    uint64_t max_seq;
} load_t;

static int
s_load (void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    load_t *ld = arg;
    if (klen != 3 + 8)
        return 0;
    uint64_t seq = st_get_u64 ((const uint8_t *) key + 3);
    pe_t *e = calloc (1, sizeof *e);
    uint8_t *copy = malloc (vlen ? vlen : 1);
    if (!e || !copy) {
        free (e);
        free (copy);
        return 1;
    }
    memcpy (copy, val, vlen);
    *e = (pe_t) { .seq = seq, .env = copy, .len = vlen, .state = PE_NEW,
                  .backoff_ms = RT_OUTBOX_ACK_TIMEOUT_MS };
    s_insert (ld->self, ld->shard, e);
    if (seq > ld->max_seq)
        ld->max_seq = seq;
    return 0;
}

/*  Shard's outbox entries into the list, next_seq past the highest seq
    it ever used (never lowered: a shard that comes back keeps counting). */
static void
s_load_shard (rt_pump_t *self, st_reader_t *r, uint32_t s)
{
    load_t ld = { self, s, 0 };
    st_key_t lo, hi;
    st_key_begin (&lo, s, ST_KIND_OUTBOX);
    st_key_begin (&hi, s, ST_KIND_OUTBOX + 1);
    st_reader_scan (r, lo.b, lo.len, hi.b, hi.len, SIZE_MAX, s_load, &ld);
    rt_pump_mark_key (&lo, s);
    const void *v;
    size_t vlen;
    if (st_reader_get (r, lo.b, lo.len, &v, &vlen) == 0 && vlen == 8) {
        uint64_t hw = st_get_u64 (v);
        if (hw > ld.max_seq)
            ld.max_seq = hw;
    }
    uint64_t cur = atomic_load (&self->next_seq[s]);
    if (ld.max_seq + 1 > cur)
        atomic_store (&self->next_seq[s], ld.max_seq + 1);
}

rt_pump_t *
rt_pump_new (rt_runtime_t *rt)
{
    rt_pump_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->rt = rt;
    self->shards = rt->opts.shards;
    self->next_seq = calloc (self->shards, sizeof *self->next_seq);
    self->head = calloc (self->shards, sizeof *self->head);
    rt_bg_init (&self->bg);
    st_reader_t *r = st_reader_new (rt->store);
    if (!self->next_seq || !self->head || !r || st_reader_begin (r)) {
        st_reader_destroy (&r);
        rt_pump_destroy (&self);
        return NULL;
    }
    /*  What a crash left in the outboxes of the shards this node serves
        is delivered again; sequence numbers continue after the highest
        ever used. (A shard on its way out is its new owner's to send.) */
    for (uint32_t s = 0; s < self->shards; s++) {
        atomic_init (&self->next_seq[s], 1);
        if (RT_SH_STATE (rt_owner_word (rt->owner, s)) == RT_SH_OWNED)
            s_load_shard (self, r, s);
    }
    st_reader_end (r);
    st_reader_destroy (&r);
    return self;
}

void
rt_pump_drop_shard (rt_pump_t *self, uint32_t shard)
{
    pthread_mutex_lock (&self->bg.lock);
    for (pe_t *e = self->head[shard], *next; e; e = next) {
        next = e->next;
        free (e->env);
        free (e);
        self->pending--;
    }
    self->head[shard] = NULL;
    pthread_mutex_unlock (&self->bg.lock);
}

void
rt_pump_adopt_shard (rt_pump_t *self, uint32_t shard)
{
    st_reader_t *r = st_reader_new (self->rt->store);
    if (!r || st_reader_begin (r)) {
        /*  The entries are durable: the next restart delivers them. */
        st_reader_destroy (&r);
        return;
    }
    rt_pump_drop_shard (self, shard);
    pthread_mutex_lock (&self->bg.lock);
    s_load_shard (self, r, shard);
    self->kick = true;
    pthread_cond_signal (&self->bg.cv);
    pthread_mutex_unlock (&self->bg.lock);
    st_reader_end (r);
    st_reader_destroy (&r);
}

int
rt_pump_start (rt_pump_t *self)
{
    return rt_bg_start (&self->bg, s_pump_main, self, "pasar-pump");
}

void
rt_pump_stop (rt_pump_t *self)
{
    rt_bg_stop (&self->bg);
}

void
rt_pump_destroy (rt_pump_t **p)
{
    if (!p || !*p)
        return;
    rt_pump_t *self = *p;
    rt_bg_stop (&self->bg);
    for (uint32_t s = 0; self->head && s < self->shards; s++) {
        for (pe_t *e = self->head[s], *next; e; e = next) {
            next = e->next;
            free (e->env);
            free (e);
        }
    }
    free (self->head);
    free (self->next_seq);
    rt_bg_fini (&self->bg);
    free (self);
    *p = NULL;
}

void
rt_pump_stats (rt_pump_t *self, rt_stats_t *acc)
{
    pthread_mutex_lock (&self->bg.lock);
    acc->outbox_pending += self->pending;
    acc->outbox_delivered += self->delivered;
    acc->outbox_redelivered += self->redelivered;
    pthread_mutex_unlock (&self->bg.lock);
}
