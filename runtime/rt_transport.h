/*  =========================================================================
    rt_transport.h - messages between nodes: ZeroMQ with CURVE, one thread

    The transport thread (a czmq zactor) owns every socket: one ROUTER
    bound on the node's `bind` address that peers send to, and one DEALER
    per peer that this node sends with (routing id = this node's id, so the
    receiver knows the sender). Every socket is CURVE: the ROUTER is a
    CURVE server whose ZAP handler (czmq zauth) accepts only the public
    keys in security.keys_dir; each DEALER is a CURVE client that knows its
    peer's server key. Other threads hand frames to the transport thread
    through the actor pipe (under a lock, never blocking: full queues fail
    at once).

    Frames (one ZeroMQ frame each, after the ROUTER's identity frame):
      'M' [corr:8][envelope]                      a message; corr != 0: an
                                                  outside ask, answer wanted
      'R' [corr:8][err:4][status:4][replayed:1][body]   that answer
      'A' [shard:4][seq:8]                        outbox delivery acknowledged
      'B' [payload]                               broadcast to every node
      'H' [epoch:8][len:4][claims bitmap]         heartbeat: the shards this
                                                  node holds the data of
      'X' / 'Y'                                   shard handoff (rt_handoff.c)
      'Q' [corr:8][service:2][body]               a node service's question
                                                  (rt_service.c); answer 'R'

    A receiver refuses a message for a shard it neither holds nor is
    handing on or waiting for (RT_ENOTOWNER): a shard is served only where
    its data is, and its data is in one place (rt_owner.c, rt_handoff.c). A peer that sent nothing for peer_down_ms is down: messages
    for it fail at once with RT_EUNAVAILABLE, and asks waiting on it are
    failed the moment it is seen down.
    =========================================================================
*/
#ifndef RT_TRANSPORT_H_INCLUDED
#define RT_TRANSPORT_H_INCLUDED
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "rt_config.h"
#include "rt_runtime.h"

typedef struct rt_transport rt_transport_t;
typedef struct rt_runtime rt_runtime_t;
struct rt_imsg;

typedef struct {
    const rt_node_conf_t *nodes;    /* copied */
    size_t      nnodes;
    uint32_t    self;               /* this node's index in nodes */
    uint64_t    epoch;
    const char *keys_dir;           /* <id>.key, <id>.key_secret (bin/pasar keys) */
    bool        curve;              /* false only in tests of the refusal */
    uint32_t    peer_down_ms;
} rt_transport_options_t;

/*  Bind, connect to every peer, start the thread. NULL with the reason in
    err (address in use, missing certificate). */
rt_transport_t *rt_transport_new (rt_runtime_t *rt, const rt_transport_options_t *o,
                                  char *err, size_t errlen);
void rt_transport_destroy (rt_transport_t **p);

/*  Send msg to node (taken). A message with a future is an outside ask:
    its answer completes the future. On failure the message is failed
    (future completed with the error) and the error returned:
    RT_EUNAVAILABLE (peer down), RT_EOVERLOADED (queue full). */
int rt_transport_forward (rt_transport_t *self, uint32_t node, struct rt_imsg *msg);

/*  Put service's question to node: future (taken) gets the answer, or
    the error (RT_EUNAVAILABLE when down, RT_ETIMEOUT past deadline_ms). */
struct rt_future;
void rt_transport_call (rt_transport_t *self, uint32_t node, uint16_t service,
                        const void *body, size_t len, struct rt_future *future,
                        int64_t deadline_ms);
/*  Nodes in the table (grows on reload; leaving ones stay). */
uint32_t rt_transport_nodes (rt_transport_t *self);
/*  Tell node that outbox entry (shard, seq) was delivered, with the
    receiver's receipt (rlen 0: none; at most RT_RECEIPT_MAX_BYTES). */
void rt_transport_ack (rt_transport_t *self, uint32_t node, uint32_t shard, uint64_t seq,
                       const uint8_t *receipt, size_t rlen);

/*  Every other node gets fn (payload) of rt_transport_on_broadcast, at most
    once, if it is up. */
int rt_transport_broadcast (rt_transport_t *self, const void *data, size_t len);
typedef void (rt_broadcast_fn) (const void *data, size_t len, void *arg);
void rt_transport_on_broadcast (rt_transport_t *self, rt_broadcast_fn *fn, void *arg);

bool rt_transport_up (rt_transport_t *self, uint32_t node);

/*  A raw frame to node (copied): RT_EUNAVAILABLE when down, or
    RT_EOVERLOADED when the queue is full. */
int rt_transport_send (rt_transport_t *self, uint32_t node, const void *data, size_t len);

/*  The union of the shards every peer said it holds, into map (len
    bytes); false while some peer has not been heard from yet or is down. */
bool rt_transport_claims (rt_transport_t *self, uint8_t *map, size_t len);
/*  Shards a peer said it holds at its last heartbeat (0 before that). */
uint32_t rt_transport_peer_shards (rt_transport_t *self, uint32_t node);

/*  Frames and bytes exchanged with node since the start, by kind
    (rt_runtime.h): what was handed to ZeroMQ and what came from it. */
void rt_transport_traffic (rt_transport_t *self, uint32_t node, rt_traffic_t out[RT_TK_COUNT]);
/*  A new node table (a membership reload): the same nodes at the same
    indices, possibly with new weights, and new ones after them, which
    this returns having connected to. RT_EINVAL for a shorter table. */
int rt_transport_reload (rt_transport_t *self, const rt_node_conf_t *nodes, size_t n,
                         uint64_t epoch);

/*  Wall-clock ms of the last time a peer went up or down, or this node
    woke from a freeze longer than peer_down_ms; 0 if never. */
int64_t rt_transport_changed_ms (rt_transport_t *self);
/*  Every peer heard from, or silent for peer_down_ms since the start. */
bool rt_transport_settled (rt_transport_t *self);

/*  Asks to other nodes awaiting their answer, or (past their deadline,
    given up by their asker) the sweep of their slot. */
uint32_t rt_transport_pending (rt_transport_t *self);

#endif
