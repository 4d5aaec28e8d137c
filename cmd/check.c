/*  check.c - bin/pasar check: validate cluster.toml */
#include <getopt.h>
#include <stdio.h>
#include "cmd.h"
#include "runtime/rt_config.h"
#include "store/st_redis.h"

int
cmd_check (int argc, char **argv)
{
    const char *path = "cluster.toml";
    int c;
    optind = 1;
    while ((c = getopt (argc, argv, "c:")) != -1) {
        if (c == 'c')
            path = optarg;
        else {
            fprintf (stderr, "usage: pasar check -c cluster.toml\n");
            return 2;
        }
    }
    char err[512];
    rt_config_t *conf = rt_config_load (path, err, sizeof err);
    if (!conf) {
        fprintf (stderr, "%s\n", err);
        return 1;
    }
    if (conf->redis_enabled && st_redis_parse_url (conf->redis_url, err, sizeof err)) {
        fprintf (stderr, "%s: %s\n", path, err);
        rt_config_destroy (&conf);
        return 1;
    }
    printf ("ok: %s: cluster %s, %zu node%s, %u shards, epoch %llu\n", path, conf->name,
            conf->node_count, conf->node_count == 1 ? "" : "s", conf->shards,
            (unsigned long long) conf->epoch);
    rt_config_destroy (&conf);
    return 0;
}
