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

/*  Listings (API.md §Listings). Money: whole rupiah, IDR, 0..10^13 (a
    fraction is not an integer: 422). city and province have no length in
    API.md: 1..100, like a user's city. */
static const char *const s_categories[] = {
    "cars", "motorcycles", "property", "electronics", "fashion", "hobbies", "jobs",
    "services", "other", NULL,
};
static const char *const s_conditions[] = { "new", "used", NULL };
static const char *const s_currencies[] = { "IDR", NULL };
static const char *const s_listing_statuses[] = { "active", "sold", NULL };

const ed_field_t ed_money_schema[] = {
    { .name = "amount", .type = ED_T_INT, .required = true, .min = 0, .max = 10000000000000LL },
    { .name = "currency", .type = ED_T_STRING, .required = true, .min = 3, .max = 3,
      .oneof = s_currencies },
    { NULL },
};

static const ed_field_t s_location_schema[] = {
    { .name = "city", .type = ED_T_STRING, .required = true, .min = 1, .max = 100 },
    { .name = "province", .type = ED_T_STRING, .required = true, .min = 1, .max = 100 },
    { NULL },
};

#define LISTING_FIELDS(req)                                                             \
    { .name = "title", .type = ED_T_STRING, .required = req, .min = 3, .max = 120 },    \
    { .name = "description", .type = ED_T_STRING, .min = 0, .max = 5000 },              \
    { .name = "category", .type = ED_T_STRING, .required = req, .min = 1, .max = 16,    \
      .oneof = s_categories },                                                          \
    { .name = "price", .type = ED_T_OBJECT, .required = req, .fields = ed_money_schema }, \
    { .name = "location", .type = ED_T_OBJECT, .required = req,                         \
      .fields = s_location_schema },                                                    \
    { .name = "images", .type = ED_T_ARRAY_OF_STRING, .min = 0, .max = 20,              \
      .item_max = 2048 },                                                               \
    { .name = "condition", .type = ED_T_STRING, .required = req, .min = 1, .max = 8,    \
      .oneof = s_conditions }

/*  POST /v1/listings */
const ed_field_t ed_listings_create_schema[] = {
    LISTING_FIELDS (true),
    { NULL },
};

/*  PATCH /v1/listings/{id}: any create field, and the status a seller
    may set (expired comes from the clock, not from a client). */
const ed_field_t ed_listings_patch_schema[] = {
    LISTING_FIELDS (false),
    { .name = "status", .type = ED_T_STRING, .min = 1, .max = 8, .oneof = s_listing_statuses },
    { NULL },
};

/*  The note: 200 code points (AC_NOTE_MAX); user ids are 30 characters. */
const ed_field_t ed_transfer_schema[] = {
    { .name = "to_user_id", .type = ED_T_STRING, .required = true, .min = 1, .max = 64 },
    { .name = "amount", .type = ED_T_OBJECT, .required = true, .fields = ed_money_schema },
    { .name = "note", .type = ED_T_STRING, .min = 0, .max = 200 },
    { NULL },
};

/*  The reason is for the audit trail: required, 1..200 code points. */
const ed_field_t ed_admin_credit_schema[] = {
    { .name = "amount", .type = ED_T_OBJECT, .required = true, .fields = ed_money_schema },
    { .name = "reason", .type = ED_T_STRING, .required = true, .min = 1, .max = 200 },
    { NULL },
};

static const char *const s_partners[] = { "midtrans", "xendit", NULL };
static const char *const s_methods[] = {
    "va_bca", "va_bni", "va_mandiri", "ewallet_ovo", "ewallet_dana", "qris", NULL,
};

const ed_field_t ed_topup_schema[] = {
    { .name = "amount", .type = ED_T_OBJECT, .required = true, .fields = ed_money_schema },
    { .name = "partner", .type = ED_T_STRING, .required = true, .min = 1, .max = 16,
      .oneof = s_partners },
    { .name = "method", .type = ED_T_STRING, .required = true, .min = 1, .max = 16,
      .oneof = s_methods },
    { NULL },
};

/*  Partners' callbacks: the fields we read, strictly; the many others
    they send (payment_type, transaction_time, fraud_status, ...) are
    accepted and ignored. */
const ed_field_t ed_midtrans_schema[] = {
    { .name = "order_id", .type = ED_T_STRING, .required = true, .min = 1, .max = 64 },
    { .name = "status_code", .type = ED_T_STRING, .required = true, .min = 1, .max = 8 },
    { .name = "gross_amount", .type = ED_T_STRING, .required = true, .min = 1, .max = 32 },
    { .name = "transaction_status", .type = ED_T_STRING, .required = true, .min = 1, .max = 32 },
    { .name = "signature_key", .type = ED_T_STRING, .required = true, .min = 1, .max = 256 },
    { .name = "transaction_id", .type = ED_T_STRING, .min = 1, .max = 64 },
    { .name = ED_FIELDS_OTHERS, .type = ED_T_ANY },
    { NULL },
};

const ed_field_t ed_xendit_schema[] = {
    { .name = "id", .type = ED_T_STRING, .required = true, .min = 1, .max = 64 },
    { .name = "external_id", .type = ED_T_STRING, .required = true, .min = 1, .max = 64 },
    { .name = "status", .type = ED_T_STRING, .required = true, .min = 1, .max = 32 },
    { .name = "amount", .type = ED_T_ANY, .required = true },
    { .name = ED_FIELDS_OTHERS, .type = ED_T_ANY },
    { NULL },
};

static const char *const s_pay_methods[] = { "wallet", "partner", "cod", NULL };

const ed_field_t ed_order_schema[] = {
    { .name = "listing_id", .type = ED_T_STRING, .required = true, .min = 1, .max = 64 },
    { .name = "payment_method", .type = ED_T_STRING, .required = true, .min = 1, .max = 8,
      .oneof = s_pay_methods },
    { .name = "partner", .type = ED_T_STRING, .min = 1, .max = 16, .oneof = s_partners },
    { .name = "method", .type = ED_T_STRING, .min = 1, .max = 16, .oneof = s_methods },
    { NULL },
};
