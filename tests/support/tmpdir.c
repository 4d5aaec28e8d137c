/*  tmpdir.c - per-test directories for the unit tests */
#include <stdio.h>
#include <stdlib.h>
#include "tmpdir.h"

int
ts_tmpdir_make (char *dir, size_t dirlen, const char *tag)
{
    snprintf (dir, dirlen, "/tmp/pasar-test-%s-XXXXXX", tag);
    return mkdtemp (dir) ? 0 : -1;
}

int
ts_tmpdir_remove (const char *dir)
{
    char cmd[600];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system (cmd);
}
