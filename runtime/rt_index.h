/*  =========================================================================
    rt_index.h - secondary index entries of a state, and their difference
    (runtime only; types declare entries with rt_type_def_t.index)
    =========================================================================
*/
#ifndef RT_INDEX_H_INCLUDED
#define RT_INDEX_H_INCLUDED
#include "rt_actor.h"
#include "store/st_commit.h"

typedef struct rt_index_set rt_index_set_t;

/*  The entries def->index gives for state (none for NULL), sorted by key,
    each key once. NULL on failure: out of memory, or an entry over
    RT_INDEX_KEY_MAX / RT_INDEX_VAL_MAX, or more than RT_INDEX_ENTRIES_MAX
    (the turn then fails: an index is never partly written). */
rt_index_set_t *rt_index_collect (const rt_type_def_t *def, const rt_addr_t *addr,
                                  const void *state);
void rt_index_set_destroy (rt_index_set_t **p);
size_t rt_index_set_size (const rt_index_set_t *s);

/*  Into rec: deletes for entries only in before, puts for entries new in
    after or whose value changed. Either set may be NULL (empty). */
int rt_index_write (st_record_t *rec, uint32_t shard, const rt_index_set_t *before,
                    const rt_index_set_t *after);

#endif
