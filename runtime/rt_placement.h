/*  =========================================================================
    rt_placement.h - which node owns which shard: weighted rendezvous hashing

    For shard s and node n with weight w, score(n, s) = -w / ln(u), where u
    in (0, 1) is a hash of (n's id, s); the node with the highest score owns
    the shard (weighted "highest random weight"). Every node computes the
    same table from the [[node]] list of cluster.toml alone — no
    coordination — and a change moves as little as it can: a new node takes
    only the shards it now wins, from whoever had them; a removed node's
    shards spread over the others; shards between two nodes that both stay
    never move. Node order in the file does not matter.
    =========================================================================
*/
#ifndef RT_PLACEMENT_H_INCLUDED
#define RT_PLACEMENT_H_INCLUDED
#include <stddef.h>
#include <stdint.h>
#include "rt_config.h"

typedef struct rt_placement rt_placement_t;

/*  The table for nodes[0..n) over shards. A node of weight 0 is not a
    member (a node leaving, kept in the array so indices stay stable): it
    owns nothing. NULL when no node has a weight, n over RT_NODES_MAX,
    shards 0 or over RT_SHARDS_MAX, or out of memory. */
rt_placement_t *rt_placement_new (const rt_node_conf_t *nodes, size_t n, uint32_t shards);
void rt_placement_destroy (rt_placement_t **p);

/*  Index into the nodes array given to new. */
uint32_t rt_placement_owner (const rt_placement_t *self, uint32_t shard);

/*  Shards node index owns. */
uint32_t rt_placement_count (const rt_placement_t *self, uint32_t node);

#endif
