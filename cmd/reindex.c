/*  reindex.c - bin/pasar reindex: rebuild a stopped node's secondary
    indexes from the states in its store (they are derived data: every
    entry is what a state's type says it stands for). */
#include <stdio.h>
#include "cmd.h"
#include "runtime/rt_config.h"
#include "runtime/rt_error.h"
#include "runtime/rt_runtime.h"
#include "actors/ac_types.h"

int
cmd_reindex (int argc, char **argv)
{
    const char *path;
    rt_config_t *conf;
    const rt_node_conf_t *me;
    char dir[1024], err[512];
    int rc0 = cmd_node_args ("reindex", argc, argv, &path, &conf, &me, dir, sizeof dir);
    if (rc0)
        return rc0;
    /*  No cluster: the store alone (a running node holds its lock, and
        the open below is refused). */
    rt_options_t opts = { .data_dir = dir, .node_id = me->id, .shards = conf->shards,
                          .map_size_mb = conf->map_size_mb, .reserve_mb = conf->reserve_mb,
                          .nometasync = conf->sync == RT_SYNC_NOMETASYNC };
    rt_runtime_t *rt = rt_runtime_new (&opts, err, sizeof err);
    rt_config_destroy (&conf);
    if (!rt) {
        fprintf (stderr, "pasar reindex: %s\n", err);
        return 1;
    }
    uint64_t states = 0, entries = 0;
    int rc = ac_register_all (rt);
    if (!rc)
        rc = rt_reindex (rt, &states, &entries);
    rt_runtime_destroy (&rt);
    if (rc) {
        fprintf (stderr, "pasar reindex: %s\n", rt_strerror (rc));
        return 1;
    }
    printf ("reindexed %llu states: %llu index entries\n", (unsigned long long) states,
            (unsigned long long) entries);
    return 0;
}
