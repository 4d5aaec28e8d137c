/*  =========================================================================
    ed_routes.c - the route table: every HTTP route of the node, one row each

    A route is a row: method, path pattern, auth, idempotency, body limit
    and schema, handler. Validation happens once in ed_server.c from these
    columns; handlers hold only the domain step. A new route is a row plus
    its handler.
    =========================================================================
*/
#include "ed_server.h"
#include "ed_ops.h"
#include "ed_users.h"
#include "ed_sessions.h"
#include "ed_presence.h"
#include "ed_admin.h"
#include "ed_listings.h"
#include "ed_search.h"
#include "ed_wallet.h"
#include "ed_payments.h"
#include "ed_orders.h"
#include "ed_recon.h"

const ed_route_t ed_routes[] = {
    /* method  pattern               auth          idempotency    body  schema  handler */
    { "GET",   "/healthz",           ED_AUTH_NONE, ED_IDEM_NONE,  0,    NULL,   ed_ops_healthz },
    { "GET",   "/readyz",            ED_AUTH_NONE, ED_IDEM_NONE,  0,    NULL,   ed_ops_readyz },
    { "GET",   "/metrics",           ED_AUTH_NONE, ED_IDEM_NONE,  0,    NULL,   ed_ops_metrics },
    { "GET",   "/v1/meta",           ED_AUTH_NONE, ED_IDEM_NONE,  0,    NULL,   ed_ops_meta },
    { "GET",   "/problems/{slug}",   ED_AUTH_NONE, ED_IDEM_NONE,  0,    NULL,   ed_ops_problem },
    { "POST",  "/v1/users",          ED_AUTH_NONE, ED_IDEM_OPTIONAL, ED_BODY_MAX_DEFAULT,
                                                   ed_users_create_schema,      ed_users_create },
    { "POST",  "/v1/sessions",       ED_AUTH_NONE, ED_IDEM_NONE,  ED_BODY_MAX_DEFAULT,
                                                   ed_sessions_create_schema,   ed_sessions_create },
    { "POST",  "/v1/sessions/refresh", ED_AUTH_NONE, ED_IDEM_NONE, ED_BODY_MAX_DEFAULT,
                                                   ed_sessions_refresh_schema,  ed_sessions_refresh },
    { "GET",   "/v1/sessions",       ED_AUTH_USER, ED_IDEM_NONE,  0,    NULL,   ed_sessions_list },
    { "DELETE", "/v1/sessions/{id}", ED_AUTH_USER, ED_IDEM_NONE,  0,    NULL,   ed_sessions_revoke },
    { "GET",   "/v1/me",             ED_AUTH_USER, ED_IDEM_NONE,  0,    NULL,   ed_users_me },
    { "PATCH", "/v1/me",             ED_AUTH_ACTIVE, ED_IDEM_OPTIONAL, ED_BODY_MAX_DEFAULT,
                                                   ed_users_patch_schema,       ed_users_patch_me },
    { "GET",   "/v1/users/{id}",     ED_AUTH_NONE, ED_IDEM_NONE,  0,    NULL,   ed_users_public },
    { "GET",   "/v1/users/{id}/presence", ED_AUTH_USER, ED_IDEM_NONE, 0, NULL,   ed_presence_get },
    { "POST",  "/v1/presence/heartbeat", ED_AUTH_USER, ED_IDEM_NONE, 0, NULL,    ed_presence_heartbeat },
    { "POST",  "/v1/listings",       ED_AUTH_ACTIVE, ED_IDEM_OPTIONAL, ED_BODY_MAX_DEFAULT,
                                                   ed_listings_create_schema,   ed_listings_create },
    { "GET",   "/v1/listings",       ED_AUTH_OPTIONAL, ED_IDEM_NONE, 0, NULL,  ed_search_listings },
    { "GET",   "/v1/listings/{id}",  ED_AUTH_NONE, ED_IDEM_NONE,  0,    NULL,   ed_listings_get },
    { "PATCH", "/v1/listings/{id}",  ED_AUTH_ACTIVE, ED_IDEM_OPTIONAL, ED_BODY_MAX_DEFAULT,
                                                   ed_listings_patch_schema,    ed_listings_patch },
    { "DELETE", "/v1/listings/{id}", ED_AUTH_USER, ED_IDEM_NONE,  0,    NULL,   ed_listings_delete },
    { "POST",  "/v1/listings/{id}/renew", ED_AUTH_ACTIVE, ED_IDEM_OPTIONAL, 0, NULL,
                                                   ed_listings_renew },
    { "GET",   "/v1/wallet",         ED_AUTH_USER, ED_IDEM_NONE,  0,    NULL,   ed_wallet_get },
    { "GET",   "/v1/wallet/entries", ED_AUTH_USER, ED_IDEM_NONE,  0,    NULL,   ed_wallet_entries },
    { "POST",  "/v1/wallet/transfers", ED_AUTH_ACTIVE, ED_IDEM_REQUIRED, ED_BODY_MAX_DEFAULT,
                                                   ed_transfer_schema,          ed_wallet_transfer },
    { "POST",  "/v1/wallet/topups",  ED_AUTH_USER, ED_IDEM_REQUIRED, ED_BODY_MAX_DEFAULT,
                                                   ed_topup_schema,             ed_payments_topup },
    { "GET",   "/v1/payments/{id}",  ED_AUTH_USER, ED_IDEM_NONE,  0,    NULL,   ed_payments_get },
    { "POST",  "/v1/webhooks/midtrans", ED_AUTH_NONE, ED_IDEM_NONE, ED_BODY_MAX_DEFAULT,
                                                   ed_midtrans_schema,          ed_payments_midtrans },
    { "POST",  "/v1/webhooks/xendit", ED_AUTH_NONE, ED_IDEM_NONE, ED_BODY_MAX_DEFAULT,
                                                   ed_xendit_schema,            ed_payments_xendit },
    { "POST",  "/v1/admin/wallets/{user_id}/credits", ED_AUTH_ADMIN, ED_IDEM_REQUIRED,
                                     ED_BODY_MAX_DEFAULT, ed_admin_credit_schema, ed_wallet_admin_credit },
    { "GET",   "/v1/admin/ledger/summary", ED_AUTH_ADMIN, ED_IDEM_NONE, 0, NULL, ed_wallet_summary },
    { "POST",  "/v1/orders",         ED_AUTH_ACTIVE, ED_IDEM_REQUIRED, ED_BODY_MAX_DEFAULT,
                                                   ed_order_schema,             ed_orders_create },
    { "GET",   "/v1/orders",         ED_AUTH_USER, ED_IDEM_NONE,  0,    NULL,   ed_orders_list },
    { "GET",   "/v1/orders/{id}",    ED_AUTH_USER, ED_IDEM_NONE,  0,    NULL,   ed_orders_get },
    { "POST",  "/v1/orders/{id}/ship", ED_AUTH_USER, ED_IDEM_OPTIONAL, 0, NULL,  ed_orders_ship },
    { "POST",  "/v1/orders/{id}/confirm", ED_AUTH_USER, ED_IDEM_OPTIONAL, 0, NULL, ed_orders_confirm },
    { "POST",  "/v1/orders/{id}/cod-collected", ED_AUTH_USER, ED_IDEM_OPTIONAL, 0, NULL,
                                                   ed_orders_cod_collected },
    { "POST",  "/v1/orders/{id}/cancel", ED_AUTH_USER, ED_IDEM_OPTIONAL, 0, NULL, ed_orders_cancel },
    { "POST",  "/v1/orders/{id}/refund", ED_AUTH_USER, ED_IDEM_REQUIRED, 0, NULL, ed_orders_refund },
    { "POST",  "/v1/admin/reconciliations", ED_AUTH_ADMIN, ED_IDEM_OPTIONAL, ED_BODY_STREAM, NULL,
                                                   ed_recon_create },
    { "GET",   "/v1/admin/reconciliations/{id}", ED_AUTH_ADMIN, ED_IDEM_NONE, 0, NULL,
                                                   ed_recon_get },
    { "GET",   "/v1/cluster",        ED_AUTH_ADMIN, ED_IDEM_NONE, 0,    NULL,   ed_ops_cluster },
    { "POST",  "/v1/admin/actors/{type}/{key}/kill", ED_AUTH_ADMIN, ED_IDEM_NONE, 0, NULL,
                                                   ed_admin_kill_actor },
    { "GET",   "/v1/admin/flags",    ED_AUTH_ADMIN, ED_IDEM_NONE, 0,    NULL,   ed_admin_flags },
    { "POST",  "/v1/admin/users/{id}/status", ED_AUTH_ADMIN, ED_IDEM_OPTIONAL, ED_BODY_MAX_DEFAULT,
                                                   ed_admin_status_schema,      ed_admin_user_status },
};

const size_t ed_routes_count = sizeof ed_routes / sizeof ed_routes[0];
