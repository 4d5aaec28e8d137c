/*  args.c - the -c/-n options of the per-node commands (node, reindex) */
#include <getopt.h>
#include <stdio.h>
#include "cmd.h"

int
cmd_node_args (const char *cmd, int argc, char **argv, const char **path,
               rt_config_t **conf, const rt_node_conf_t **me, char *dir, size_t dirlen)
{
    const char *node_id = NULL;
    int c;
    *path = "cluster.toml";
    optind = 1;
    while ((c = getopt (argc, argv, "c:n:")) != -1) {
        if (c == 'c') *path = optarg;
        else if (c == 'n') node_id = optarg;
        else {
            fprintf (stderr, "usage: pasar %s -c cluster.toml -n ID\n", cmd);
            return 2;
        }
    }
    char err[512];
    *conf = rt_config_load (*path, err, sizeof err);
    if (!*conf) {
        fprintf (stderr, "%s\n", err);
        return 1;
    }
    if (!node_id)
        node_id = (*conf)->node_count == 1 ? (*conf)->nodes[0].id : NULL;
    *me = node_id ? rt_config_node (*conf, node_id) : NULL;
    if (!*me) {
        fprintf (stderr, "pasar %s: -n ID is required and must name a [[node]] of %s\n", cmd,
                 *path);
        rt_config_destroy (conf);
        return 1;
    }
    snprintf (dir, dirlen, "%s/%s", (*conf)->data_dir, (*me)->id);
    return 0;
}
