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
    { "GET",   "/v1/cluster",        ED_AUTH_ADMIN, ED_IDEM_NONE, 0,    NULL,   ed_ops_cluster },
    { "POST",  "/v1/admin/actors/{type}/{key}/kill", ED_AUTH_ADMIN, ED_IDEM_NONE, 0, NULL,
                                                   ed_admin_kill_actor },
    { "GET",   "/v1/admin/flags",    ED_AUTH_ADMIN, ED_IDEM_NONE, 0,    NULL,   ed_admin_flags },
    { "POST",  "/v1/admin/users/{id}/status", ED_AUTH_ADMIN, ED_IDEM_OPTIONAL, ED_BODY_MAX_DEFAULT,
                                                   ed_admin_status_schema,      ed_admin_user_status },
};

const size_t ed_routes_count = sizeof ed_routes / sizeof ed_routes[0];
