/*  ed_schemas.h - JSON body schemas of the routes (ed_schemas.c) */
#ifndef ED_SCHEMAS_H_INCLUDED
#define ED_SCHEMAS_H_INCLUDED
#include "ed_json.h"

extern const ed_field_t ed_users_create_schema[];
extern const ed_field_t ed_sessions_create_schema[];
extern const ed_field_t ed_users_patch_schema[];
extern const ed_field_t ed_sessions_refresh_schema[];
extern const ed_field_t ed_admin_status_schema[];
extern const ed_field_t ed_money_schema[];
extern const ed_field_t ed_listings_create_schema[];
extern const ed_field_t ed_listings_patch_schema[];
extern const ed_field_t ed_transfer_schema[];
extern const ed_field_t ed_admin_credit_schema[];
extern const ed_field_t ed_topup_schema[];
extern const ed_field_t ed_midtrans_schema[];
extern const ed_field_t ed_xendit_schema[];
extern const ed_field_t ed_order_schema[];

#endif
