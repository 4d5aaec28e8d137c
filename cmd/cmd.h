/*  cmd.h - the subcommands of bin/pasar (DESIGN.md §9) */
#ifndef CMD_H_INCLUDED
#define CMD_H_INCLUDED

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

#endif
