/*  =========================================================================
    rt_toml.h - a C view of a TOML file, parsed by toml++

    toml++ (C++17) does all the parsing; this shim flattens the document
    into a list of entries with dotted paths and source positions, so the
    C side (rt_config.c) can validate against its schema table and report
    file:line:col. No TOML is parsed by hand anywhere in pasar.

    Paths: "storage.sync", tables "payments.midtrans", array-of-tables
    elements "node[0]" and their keys "node[0].id".
    =========================================================================
*/
#ifndef RT_TOML_H_INCLUDED
#define RT_TOML_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    RT_TOML_TABLE,          /* [name] or a dotted-key table */
    RT_TOML_TABLE_ELEM,     /* one [[name]] element */
    RT_TOML_STRING,
    RT_TOML_INT,
    RT_TOML_FLOAT,
    RT_TOML_BOOL,
    RT_TOML_STRING_ARRAY,   /* an array whose items are all strings (or empty) */
    RT_TOML_OTHER           /* dates, mixed arrays, arrays of arrays, ... */
} rt_toml_kind_t;

typedef struct {
    char           path[160];
    rt_toml_kind_t kind;
    const char    *str;     /* RT_TOML_STRING */
    int64_t        i;       /* RT_TOML_INT */
    double         d;       /* RT_TOML_FLOAT */
    bool           b;       /* RT_TOML_BOOL */
    const char   **strs;    /* RT_TOML_STRING_ARRAY */
    size_t         nstrs;
    int            line, col;
} rt_toml_entry_t;

typedef struct rt_toml rt_toml_t;

/*  Parse path. NULL on error, with "path:line:col: description" in err
    (also for a file that cannot be read, is over max_bytes, or holds a
    string with a NUL character). */
rt_toml_t *rt_toml_parse_file (const char *path, size_t max_bytes, char *err, size_t errlen);

size_t rt_toml_count (const rt_toml_t *self);
const rt_toml_entry_t *rt_toml_at (const rt_toml_t *self, size_t i);

void rt_toml_destroy (rt_toml_t **p);

#ifdef __cplusplus
}
#endif
#endif
