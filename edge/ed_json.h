/*  =========================================================================
    ed_json.h - strict JSON request bodies

    A route declares its body as a table of fields; ed_json_validate checks
    a parsed object against it once, centrally: unknown fields, missing
    required ones, wrong types, lengths (in Unicode code points), integer
    ranges and enumerations, each reported with its field path. Handlers
    then read fields knowing they are valid.
    =========================================================================
*/
#ifndef ED_JSON_H_INCLUDED
#define ED_JSON_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/*  Nesting allowed in a request body. Our bodies are at most three deep
    (money inside an order); 32 leaves room and stops stack-eating input
    long before jansson's own limit of 2048. */
#define ED_JSON_DEPTH_MAX 32

/*  Validation errors reported per response. */
#define ED_JSON_ERRORS_MAX 16

/*  ED_T_ANY: any JSON value (the handler checks it: a partner's number
    that may be written as 150000 or 150000.0). */
typedef enum { ED_T_STRING, ED_T_INT, ED_T_BOOL, ED_T_OBJECT, ED_T_ARRAY_OF_STRING,
               ED_T_ANY } ed_type_t;

/*  A schema entry named ED_FIELDS_OTHERS accepts fields it does not list
    (and ignores them): for partners' callbacks, which carry many fields we
    do not read and may add more. Our own routes never use it. */
#define ED_FIELDS_OTHERS "*"


typedef struct ed_field {
    const char  *name;
    ed_type_t    type;
    bool         required;
    bool         nullable;          /* JSON null accepted (means "clear") */
    int64_t      min, max;          /* STRING: code points; INT: value;
                                       ARRAY: items (and items' code points
                                       are bounded by item_max) */
    int64_t      item_max;
    const struct ed_field *fields;  /* OBJECT: nested schema, {NULL}-ended */
    const char *const *oneof;       /* STRING: allowed values, NULL-ended */
} ed_field_t;

typedef struct {
    char path[96];
    char message[96];
} ed_verr_t;

/*  Check obj against schema ({NULL}-terminated). Returns the number of
    errors (0 = valid); at most max are written to errs. */
size_t ed_json_validate (const json_t *obj, const ed_field_t *schema,
                         ed_verr_t *errs, size_t max);

/*  Scan raw bytes for nesting deeper than max_depth (outside strings),
    before parsing. */
bool ed_json_depth_ok (const char *buf, size_t len, int max_depth);

/*  Number of Unicode code points in a valid UTF-8 string (jansson has
    already rejected invalid UTF-8). */
size_t ed_utf8_len (const char *s);

/*  Whether s[0..n) is UTF-8 as RFC 3629 has it (no overlong forms, no
    surrogates, nothing past U+10FFFF) with no NUL: for text that did not
    come through jansson, such as a decoded query string. */
bool ed_utf8_valid (const char *s, size_t n);

#endif
