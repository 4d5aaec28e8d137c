/*  counter.h - a test actor type: a durable counter (tests and benches only) */
#ifndef TEST_COUNTER_H_INCLUDED
#define TEST_COUNTER_H_INCLUDED
#include "runtime/rt_runtime.h"

#define COUNTER_TYPE 1

enum {
    CTR_INC = 1,        /* body: decimal delta; reply: new value */
    CTR_GET,            /* reply: value */
    CTR_SEND_INC,       /* body: target key; durable send of INC 1 to it */
    CTR_REMIND,         /* body: "<name> <delay_ms>": reminder firing CTR_TICK */
    CTR_TICK,           /* value += 100 */
    CTR_ABORT,          /* value += 1000, then rt_ctx_abort */
    CTR_SLOW,           /* sleep body ms (fills mailboxes in tests) */
    CTR_PING,           /* ping-pong bench: body "<peer> <n>" tells peer n-1 */
    CTR_NOOP,           /* reply nothing, change nothing */
    CTR_ASK_GET,        /* body: key; asks that counter's value, and on the
                           reply (RT_MSG_REPLY) adds it to its own */
    CTR_BAD_QUERY,      /* declared a query (reads) but changes the value:
                           rt_read must refuse it and keep nothing */
    CTR_SEND_RECEIPTED, /* body: target key; durable send of CTR_INC_RECEIPTED */
    CTR_INC_RECEIPTED,  /* value += 1, answered by a receipt CTR_RECEIPT; 400
                           when not from an outbox (no receipt possible) */
    CTR_RECEIPT,        /* value += 1: the sender counts its receipts */
};

extern const rt_type_def_t counter_type;

/*  Ask helper: send msg with a text body, return status; *value parsed
    from the reply body when non-NULL. */
int counter_ask (rt_runtime_t *rt, const char *key, int msg, const char *body,
                 long long *value, int timeout_ms);

/*  The same through rt_read (a query on the committed state). */
int counter_read (rt_runtime_t *rt, const char *key, int msg, long long *value);

/*  Ping-pong bench hook: called when a CTR_PING with n == 0 arrives. */
extern void (*counter_on_ping_done) (void);

#endif
