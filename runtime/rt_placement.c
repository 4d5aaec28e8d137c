/*  rt_placement.c - weighted rendezvous hashing, one table per epoch */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "rt_placement.h"

struct rt_placement {
    uint32_t  shards, nodes;
    uint16_t *owner;            /* per shard: node index */
    uint32_t  count[RT_NODES_MAX];
};

static uint64_t
s_mix (uint64_t x)                      /* splitmix64's finaliser */
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t
s_fnv (const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    while (*s)
        h = (h ^ (unsigned char) *s++) * 0x100000001b3ull;
    return h;
}

/*  -w / ln(u), u uniform in (0, 1) from (node, shard). Stable: these
    constants decide where data lives, so they never change. */
static double
s_score (uint64_t node_hash, uint32_t weight, uint32_t shard)
{
    uint64_t h = s_mix (node_hash ^ s_mix (shard));
    double u = ((double) (h >> 11) + 0.5) / 9007199254740992.0;    /* 2^53 */
    return -(double) weight / log (u);
}

rt_placement_t *
rt_placement_new (const rt_node_conf_t *nodes, size_t n, uint32_t shards)
{
    if (n == 0 || n > RT_NODES_MAX || shards == 0 || shards > RT_SHARDS_MAX)
        return NULL;
    rt_placement_t *self = calloc (1, sizeof *self);
    if (!self || !(self->owner = calloc (shards, sizeof *self->owner))) {
        free (self);
        return NULL;
    }
    self->shards = shards;
    self->nodes = (uint32_t) n;
    uint64_t hashes[RT_NODES_MAX];
    for (size_t i = 0; i < n; i++)
        hashes[i] = s_fnv (nodes[i].id);
    for (uint32_t s = 0; s < shards; s++) {
        uint32_t best = UINT32_MAX;
        double best_score = -1;
        for (uint32_t i = 0; i < n; i++) {
            if (!nodes[i].weight)
                continue;               /* leaving the cluster: owns nothing */
            double sc = s_score (hashes[i], nodes[i].weight, s);
            /*  Ties (practically never) go to the smaller id, so the
                order of [[node]] tables cannot matter. */
            if (sc > best_score
                || (sc == best_score && strcmp (nodes[i].id, nodes[best].id) < 0)) {
                best = i;
                best_score = sc;
            }
        }
        if (best == UINT32_MAX) {       /* no member at all */
            rt_placement_destroy (&self);
            return NULL;
        }
        self->owner[s] = (uint16_t) best;
        self->count[best]++;
    }
    return self;
}

void
rt_placement_destroy (rt_placement_t **p)
{
    if (!p || !*p)
        return;
    free ((*p)->owner);
    free (*p);
    *p = NULL;
}

uint32_t
rt_placement_owner (const rt_placement_t *self, uint32_t shard)
{
    return self->owner[shard % self->shards];
}

uint32_t
rt_placement_count (const rt_placement_t *self, uint32_t node)
{
    return node < self->nodes ? self->count[node] : 0;
}
