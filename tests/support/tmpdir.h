/*  tmpdir.h - a fresh directory per unit test, removed after it */
#ifndef TS_TMPDIR_H_INCLUDED
#define TS_TMPDIR_H_INCLUDED
#include <stddef.h>

/*  Make /tmp/pasar-test-<tag>-XXXXXX into dir. Returns 0 or -1. */
int ts_tmpdir_make (char *dir, size_t dirlen, const char *tag);

/*  Remove it and everything in it. Returns 0 or non-zero. */
int ts_tmpdir_remove (const char *dir);

#endif
