/*  fuzz_json_body.c - libFuzzer target for request-body decoding: the
    pipeline's steps on arbitrary bytes (depth pre-scan, strict jansson
    parse with duplicate keys refused, schema validation against every
    route schema). Property: no crash, no out-of-bounds access, no leak, and
    an accepted body re-validates identically after a canonical round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "edge/ed_json.h"
#include "edge/ed_schemas.h"

static const ed_field_t *const s_schemas[] = {
    ed_users_create_schema, ed_sessions_create_schema, ed_users_patch_schema,
};

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size > 64 * 1024 || !ed_json_depth_ok ((const char *) data, size, ED_JSON_DEPTH_MAX))
        return 0;
    json_error_t err;
    json_t *body = json_loadb ((const char *) data, size, JSON_REJECT_DUPLICATES, &err);
    if (!body)
        return 0;
    for (size_t i = 0; i < sizeof s_schemas / sizeof s_schemas[0]; i++) {
        ed_verr_t errs[ED_JSON_ERRORS_MAX];
        size_t n = ed_json_validate (body, s_schemas[i], errs, ED_JSON_ERRORS_MAX);
        for (size_t k = 0; k < n && k < ED_JSON_ERRORS_MAX; k++)
            if (!memchr (errs[k].path, 0, sizeof errs[k].path)
                || !memchr (errs[k].message, 0, sizeof errs[k].message))
                abort ();       /* every error string terminated */
        /*  The canonical form (as fingerprinted) validates the same way. */
        char *canon = json_dumps (body, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        json_t *again = canon ? json_loads (canon, JSON_DECODE_ANY, &err) : NULL;
        if (canon && !again)
            abort ();
        if (again && ed_json_validate (again, s_schemas[i], errs, ED_JSON_ERRORS_MAX) != n)
            abort ();
        json_decref (again);
        free (canon);
    }
    json_decref (body);
    return 0;
}
