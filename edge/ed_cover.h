/*  =========================================================================
    ed_cover.h - which shards the answers of a question to every node
    stand for

    A node service answers for the shards it served for the whole of its
    snapshot ("covered", a bitmap). An answer made of all the nodes' is
    whole only when every shard is covered exactly once: a shard missing
    (its node down, or the shard between owners) or counted twice (seen on
    both sides of a handoff) makes it a 503, never a silently wrong total.
    =========================================================================
*/
#ifndef ED_COVER_H_INCLUDED
#define ED_COVER_H_INCLUDED
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "runtime/rt_limits.h"

typedef struct {
    uint8_t bits[RT_SHARDS_MAX / 8 + 1];
    bool    twice;
} ed_cover_t;

/*  Add one node's bitmap; false when it is longer than any cluster's. */
bool ed_cover_add (ed_cover_t *c, const uint8_t *cov, size_t len);

/*  Every one of shards covered, none twice. */
bool ed_cover_whole (const ed_cover_t *c, uint32_t shards);

#endif
