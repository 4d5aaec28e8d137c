/*  pasar.c - bin/pasar: one binary, subcommands as a table */
#include <stdio.h>
#include <string.h>
#include "cmd.h"

static const struct {
    const char *name;
    int (*fn) (int argc, char **argv);
    const char *usage;
} s_commands[] = {
    { "node",  cmd_node,  "node  -c cluster.toml -n ID   run node ID (SIGTERM drains, SIGHUP reloads)" },
    { "check", cmd_check, "check -c cluster.toml         validate the file" },
    { "reindex", cmd_reindex, "reindex -c cluster.toml -n ID rebuild node ID's indexes (node stopped)" },
    { "keys",  cmd_keys,  "keys  -c cluster.toml         create missing CURVE keys and the JWT secret" },
};

static int
s_usage (FILE *f)
{
    fprintf (f, "usage: pasar COMMAND [options]\n");
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        fprintf (f, "  pasar %s\n", s_commands[i].usage);
    return f == stderr ? 2 : 0;
}

int
main (int argc, char **argv)
{
    if (argc < 2)
        return s_usage (stderr);
    if (!strcmp (argv[1], "-h") || !strcmp (argv[1], "--help") || !strcmp (argv[1], "help"))
        return s_usage (stdout);
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (!strcmp (argv[1], s_commands[i].name))
            return s_commands[i].fn (argc - 1, argv + 1);
    fprintf (stderr, "pasar: unknown command '%s'\n", argv[1]);
    return s_usage (stderr);
}
