/*  =========================================================================
    ed_req.h - one HTTP request as a route handler sees it

    By the time a handler runs, the edge has matched the route, checked the
    method, Content-Type, body size, JSON syntax, depth and UTF-8, the body
    schema, and the Idempotency-Key header. The handler reads what it needs
    and answers exactly once with ed_reply_*.
    =========================================================================
*/
#ifndef ED_REQ_H_INCLUDED
#define ED_REQ_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "ed_json.h"
#include "ed_problem.h"
#include "runtime/rt_runtime.h"

typedef struct ed_req ed_req_t;
typedef struct ed_server ed_server_t;

/*  USER: a valid access token. ACTIVE: also an account that is not
    restricted (content writes: the user's status is read from the user
    actor on each such request, so a restriction applies at once).
    ADMIN: a token with role admin. OPTIONAL: anonymous, or a valid token
    (a bad one is still 401): public reads that show the caller more. */
typedef enum { ED_AUTH_NONE, ED_AUTH_USER, ED_AUTH_ACTIVE, ED_AUTH_ADMIN,
               ED_AUTH_OPTIONAL } ed_auth_t;
typedef enum { ED_IDEM_NONE, ED_IDEM_OPTIONAL, ED_IDEM_REQUIRED } ed_idem_t;

typedef void (ed_handler_fn) (ed_req_t *req);

/*  One row of the route table (ed_routes.c). */
typedef struct {
    const char       *method;       /* "GET", "POST", ... */
    const char       *pattern;      /* "/v1/users/{id}": {name} captures one segment */
    ed_auth_t         auth;
    ed_idem_t         idem;
    size_t            body_max;     /* 0: no body accepted */
    const ed_field_t *schema;       /* JSON body fields, {NULL}-ended; NULL: no body */
    ed_handler_fn    *handler;
} ed_route_t;

/*  Default body limit (API.md): 64 KiB. */
#define ED_BODY_MAX_DEFAULT (64u * 1024)
/*  API.md: a list's limit is 1..100 (default 20 where a list is paged by
    its actor; ed_reply_list's short lists default to whole). */
#define ED_PAGE_MAX 100

/*  body_max of a route (schema NULL) whose handler reads the body itself,
    as a stream (ed_req_read), with its own limit and content type: a
    settlement report of millions of rows is never held in memory. */
#define ED_BODY_STREAM ((size_t) -1)

/*  Captures per pattern, and path segments we match at all. */
#define ED_CAPTURES_MAX 4
#define ED_SEGMENTS_MAX 8

/* ---- reading ------------------------------------------------------------- */

const ed_route_t *ed_req_route (ed_req_t *req);
ed_server_t *ed_req_server (ed_req_t *req);
rt_runtime_t *ed_req_runtime (ed_req_t *req);

/*  The value captured for {name}, or NULL. */
const char *ed_req_capture (ed_req_t *req, const char *name);

/*  The validated JSON body (borrowed), or NULL for routes without one. */
json_t *ed_req_body (ed_req_t *req);

/*  A request header, or NULL. */
const char *ed_req_header (ed_req_t *req, const char *name);

/*  Query parameter name into buf (URL-decoded); NULL when absent. */
const char *ed_req_query (ed_req_t *req, const char *name, char *buf, size_t len);

/*  ED_BODY_STREAM routes: the next bytes of the body (0 at its end, < 0
    on a broken connection). */
long ed_req_read (ed_req_t *req, void *buf, size_t len);

/*  The raw query string (after '?'), or NULL. */
const char *ed_req_query_string (ed_req_t *req);

/*  The Idempotency-Key (validated), or NULL. */
const char *ed_req_idem_key (ed_req_t *req);

/*  SHA-256 of method, path and the canonical (sorted, compact) body: two
    requests are "the same" for idempotency when their fingerprints are. */
const uint8_t *ed_req_fingerprint (ed_req_t *req);

/*  A streamed body's bytes, in order, into the fingerprint (routes that
    read their body themselves), before ed_req_fingerprint is first asked. */
void ed_req_fingerprint_add (ed_req_t *req, const void *data, size_t len);

/*  The request's W3C traceparent (the client's when valid, else new). */
const char *ed_req_traceparent (ed_req_t *req);

/*  The authenticated caller (routes with auth): user id, session id and
    role from the verified access token; NULL on routes without auth. */
const char *ed_req_user (ed_req_t *req);
const char *ed_req_session (ed_req_t *req);
const char *ed_req_role (ed_req_t *req);

/*  The client address, for throttling. */
const char *ed_req_remote (ed_req_t *req);

/* ---- answering (exactly once) ------------------------------------------------ */

/*  Add a response header (before the reply). Name and value must not
    contain CR or LF. */
void ed_reply_header (ed_req_t *req, const char *name, const char *value);

/*  application/json; takes ownership of body (may be NULL for no body). */
void ed_reply_json (ed_req_t *req, int status, json_t *body);

/*  200 {items, next_cursor} for a short list held whole (a user's
    sessions, the review queue), sliced by the query's limit (1..100;
    absent: the whole list, which is bounded) and cursor ("o" and the
    offset of the next item, as this made it); a bad limit or cursor is
    400 and nothing else. Takes items. */
void ed_reply_list (ed_req_t *req, json_t *items);

/*  Raw bytes with a content type. */
void ed_reply_bytes (ed_req_t *req, int status, const char *ctype, const void *body, size_t len);

/*  application/problem+json for p, with an optional detail. */
void ed_reply_problem (ed_req_t *req, ed_problem_t p, const char *detail);

/*  422 validation-failed with the field errors. */
void ed_reply_invalid (ed_req_t *req, const ed_verr_t *errs, size_t n);

/*  422 validation-failed with one field error. */
void ed_reply_invalid_field (ed_req_t *req, const char *path, const char *message);

/*  Map a runtime error (rt_err_t) from an ask to its problem. */
void ed_reply_rt_error (ed_req_t *req, int err);

#endif
