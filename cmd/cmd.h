/*  cmd.h - the subcommands of bin/pasar (DESIGN.md §9) */
#ifndef CMD_H_INCLUDED
#define CMD_H_INCLUDED
#include <stddef.h>
#include "runtime/rt_config.h"

/*  bin/pasar check -c cluster.toml: validate the file. */
int cmd_check (int argc, char **argv);

/*  bin/pasar node -c cluster.toml -n ID: run one node in the foreground. */
int cmd_node (int argc, char **argv);

/*  bin/pasar keys -c cluster.toml: create missing CURVE keys and the JWT
    secret. */
int cmd_keys (int argc, char **argv);

/*  bin/pasar reindex -c cluster.toml -n ID: rebuild node ID's secondary
    indexes from its states (the node stopped). */
int cmd_reindex (int argc, char **argv);

/*  The options every per-node command takes: -c cluster.toml (default
    ./cluster.toml) and -n ID (optional with one [[node]]). Loads the file
    (*conf, destroy it) and finds the node (*me) and its store directory.
    0, or the exit status after saying why on stderr. */
int cmd_node_args (const char *cmd, int argc, char **argv, const char **path,
                   rt_config_t **conf, const rt_node_conf_t **me, char *dir, size_t dirlen);

#endif
