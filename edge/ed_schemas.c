/*  =========================================================================
    ed_schemas.c - the JSON body of every route that takes one

    Data only, beside the route table: the pipeline validates each body
    against its row's schema before the handler runs (ed_json.c), and the
    fuzz target (tests/fuzz/fuzz_json_body.c) drives the same tables.
    =========================================================================
*/
#include "ed_schemas.h"

/*  POST /v1/users */
const ed_field_t ed_users_create_schema[] = {
    { .name = "email", .type = ED_T_STRING, .required = true, .min = 3, .max = 254 },
    { .name = "password", .type = ED_T_STRING, .required = true, .min = 10, .max = 128 },
    { .name = "name", .type = ED_T_STRING, .required = true, .min = 1, .max = 100 },
    { .name = "phone", .type = ED_T_STRING, .nullable = true, .min = 0, .max = 32 },
    { NULL },
};

/*  POST /v1/sessions */
const ed_field_t ed_sessions_create_schema[] = {
    { .name = "email", .type = ED_T_STRING, .required = true, .min = 1, .max = 254 },
    { .name = "password", .type = ED_T_STRING, .required = true, .min = 1, .max = 128 },
    { .name = "device_name", .type = ED_T_STRING, .required = true, .min = 1, .max = 100 },
    { NULL },
};

/*  POST /v1/sessions/refresh */
const ed_field_t ed_sessions_refresh_schema[] = {
    { .name = "refresh_token", .type = ED_T_STRING, .required = true, .min = 1, .max = 2048 },
    { NULL },
};

/*  POST /v1/admin/users/{id}/status */
static const char *const s_statuses[] = { "active", "restricted", "banned", NULL };
const ed_field_t ed_admin_status_schema[] = {
    { .name = "status", .type = ED_T_STRING, .required = true, .min = 1, .max = 16,
      .oneof = s_statuses },
    { .name = "reason", .type = ED_T_STRING, .required = true, .min = 1, .max = 500 },
    { NULL },
};

/*  PATCH /v1/me: only these; role, status, email and id are unknown
    fields here (422): no mass assignment. */
const ed_field_t ed_users_patch_schema[] = {
    { .name = "name", .type = ED_T_STRING, .min = 1, .max = 100 },
    { .name = "phone", .type = ED_T_STRING, .nullable = true, .min = 0, .max = 32 },
    { .name = "city", .type = ED_T_STRING, .nullable = true, .min = 0, .max = 100 },
    { .name = "avatar_url", .type = ED_T_STRING, .nullable = true, .min = 0, .max = 2048 },
    { NULL },
};
