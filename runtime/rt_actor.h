/*  =========================================================================
    rt_actor.h - what an actor type gives the runtime, and what a handler
    may do during its turn

    An actor type is a table: a name, a state codec with a schema version,
    a handler per message type. The runtime activates an actor on its first
    message (state from LMDB, or new), runs one message at a time through
    the handler, and after the turn commits what the handler did — state,
    idempotency record, outgoing messages, reminder changes — in one LMDB
    transaction. Replies and messages leave only once that is durable.

    Handlers never block and never touch the store: they change their state
    in memory, call rt_ctx_changed(), and say what to send with rt_ctx_*.
    =========================================================================
*/
#ifndef RT_ACTOR_H_INCLUDED
#define RT_ACTOR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "rt_limits.h"

/*  Message type 0 is the reply to an earlier rt_ctx_ask: its status and
    body are the other actor's rt_ctx_reply. */
#define RT_MSG_REPLY 0

typedef struct rt_ctx rt_ctx_t;

/*  An actor's address. */
typedef struct {
    uint16_t type;
    uint8_t  len;
    char     key[RT_KEY_MAX];
} rt_addr_t;

/*  Fill *addr; returns 0 or RT_EINVAL (type 0 or out of range, key empty
    or longer than RT_KEY_MAX). */
int rt_addr_set (rt_addr_t *addr, uint16_t type, const char *key, size_t len);

/*  A growable byte buffer for state encoders. */
typedef struct {
    uint8_t *data;
    size_t   len, cap;
} rt_buf_t;

int  rt_buf_append (rt_buf_t *self, const void *p, size_t n);
void rt_buf_free (rt_buf_t *self);

/*  What a handler sees of the message it handles. Read-only; valid for
    the turn only. */
typedef struct {
    uint16_t         type;          /* message type; RT_MSG_REPLY for replies */
    const uint8_t   *body;
    size_t           body_len;
    int              status;        /* replies: the replier's status */
    uint64_t         corr_id;       /* replies: the id rt_ctx_ask returned */
    const rt_addr_t *from;          /* the sending actor, NULL from outside */
    bool             is_reminder;   /* fired by a reminder */
    const char      *traceparent;   /* W3C traceparent or NULL */
} rt_msg_t;

typedef void (rt_handler_fn) (rt_ctx_t *ctx, void *state, const rt_msg_t *msg);

/*  For rt_type_def_t.index: one entry (copied). */
typedef void (rt_index_emit_fn) (void *sink, const void *key, size_t klen,
                                 const void *val, size_t vlen);

typedef struct {
    const char *name;               /* for logs and metrics */
    uint16_t    state_version;      /* written with every state */
    /*  A fresh state for an actor that has none on disk. */
    void *(*state_new) (const rt_addr_t *addr);
    /*  Decode a stored state of any version <= state_version (older ones
        are upgraded). Returns NULL on malformed input. */
    void *(*state_decode) (const rt_addr_t *addr, uint16_t version,
                           const uint8_t *buf, size_t len);
    /*  Append the state's encoding to out; 0 or an rt_err_t. */
    int   (*state_encode) (const void *state, rt_buf_t *out);
    void  (*state_free) (void *state);
    /*  Optional hooks, called on the actor's worker. */
    void  (*on_activate) (const rt_addr_t *addr, void *state);
    void  (*on_passivate) (const rt_addr_t *addr, void *state);
    /*  Handlers indexed by message type (RT_MSG_REPLY = 0 included). */
    rt_handler_fn *handlers[RT_MSG_TYPES_MAX];
    /*  Queries: bit n set when message type n only reads the state and
        answers (rt_ctx_reject/reply; no change, no message, no reminder).
        rt_read may run those on the caller's thread against the committed
        state, without a turn; anything else they try fails the read. */
    uint64_t reads;
    /*  Optional secondary index: emit every entry (key, value) the state
        stands for; nothing for a state that does not exist. The runtime
        keeps the shard's index equal to what the committed states emit,
        in the same commits (rt_index.c); queries read it with rt_scan.
        Keys must be unique across the type's actors (put the actor's key
        in them) and at most RT_INDEX_KEY_MAX bytes. Pure: the same state
        gives the same entries. */
    void (*index) (const rt_addr_t *addr, const void *state, rt_index_emit_fn *emit,
                   void *sink);
} rt_type_def_t;

/* ---- during a turn --------------------------------------------------- */

const rt_addr_t *rt_ctx_self (rt_ctx_t *ctx);
uint32_t rt_ctx_shard (rt_ctx_t *ctx);
int64_t rt_ctx_now_ms (rt_ctx_t *ctx);

/*  The state changed: encode and commit it with this turn. */
void rt_ctx_changed (rt_ctx_t *ctx);

/*  Replace the state object (the old one is freed after the turn). */
void rt_ctx_set_state (rt_ctx_t *ctx, void *state);

/*  Answer the message being handled (an ask from outside, or an actor's
    rt_ctx_ask). With an idempotency key, status and body are stored in the
    idempotency record so a retry gets them back unchanged. At most one
    answer per message; returns RT_EINVAL on a second. */
int rt_ctx_reply (rt_ctx_t *ctx, int status, const void *body, size_t len);

/*  Answer without storing it under the idempotency key: for refusals that
    changed nothing (validation), which a corrected retry may redo. */
int rt_ctx_reject (rt_ctx_t *ctx, int status, const void *body, size_t len);

/*  Durable, exactly-once message to another actor: written to this
    shard's outbox with the turn, delivered (and retried) after commit,
    deduplicated by the receiver. */
int rt_ctx_send (rt_ctx_t *ctx, uint16_t type, const char *key, size_t klen,
                 uint16_t msg_type, const void *body, size_t len);

/*  Answer the outbox message being handled (rt_ctx_send) with a verdict:
    once this turn is durable, the sender gets msg_type with body as a turn
    of its own, exactly once. That turn also deletes the sender's outbox
    entry, in its commit: one message settles a two-step exchange (a
    credit and its "posted") where an answering rt_ctx_send takes two,
    each with its own acknowledgement and deletion. Until then the verdict
    is kept with the dedup mark, so a redelivered message gets it again.
    The sender's handler sees msg->from = this actor. At most one per turn,
    body at most RT_RECEIPT_MAX_BYTES - 2; RT_EINVAL for a message that did
    not come from an outbox. */
int rt_ctx_receipt (rt_ctx_t *ctx, uint16_t msg_type, const void *body, size_t len);

/*  Volatile, at-most-once message (released after this turn commits, lost
    if the receiver's node or mailbox refuses). For notifications whose
    loss is harmless. Returns 0 or an rt_err_t. */
int rt_ctx_tell (rt_ctx_t *ctx, uint16_t type, const char *key, size_t klen,
                 uint16_t msg_type, const void *body, size_t len);

/*  Like rt_ctx_tell, but the receiver's rt_ctx_reply comes back to this
    actor as a RT_MSG_REPLY message carrying the returned correlation id
    (0 on error). The reply is not guaranteed: keep a reminder if the
    saga must go on without it. */
uint64_t rt_ctx_ask (rt_ctx_t *ctx, uint16_t type, const char *key, size_t klen,
                     uint16_t msg_type, const void *body, size_t len);

/*  Durable timer: at due_ms (unix ms) this actor gets msg_type with body,
    also after a restart. Setting a name again moves it; names are per
    actor. A reminder may fire more than once if the node crashes while it
    is being handled: handlers check their state. */
int rt_ctx_remind (rt_ctx_t *ctx, const char *name, int64_t due_ms,
                   uint16_t msg_type, const void *body, size_t len);
int rt_ctx_cancel_reminder (rt_ctx_t *ctx, const char *name);

/*  Give up this turn: nothing it did is kept or sent, the caller gets
    RT_ESTORE-like failure (status 500), and the actor is dropped from
    memory so its next message reloads the last committed state. For
    handlers that mutated state and then hit an error. */
void rt_ctx_abort (rt_ctx_t *ctx);

#endif
