/*  =========================================================================
    ed_server.c - civetweb server and the request pipeline

    Every request walks the same steps, driven by its route-table row:
      match path -> 404 / 405 (with Allow)
      body: Content-Type -> 415, size -> 413 (before reading it), depth and
      JSON syntax and UTF-8 -> 400, schema -> 422
      Idempotency-Key: malformed -> 400, missing where required -> 400
      handler -> exactly one reply
    then one log line and the metrics. Handlers never repeat any of this.
    =========================================================================
*/
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <civetweb.h>
#include <sodium.h>
#include "ed_server.h"
#include "ed_recon.h"
#include "ed_metrics.h"
#include "ed_revoked.h"
#include "ed_sessions.h"
#include "runtime/rt_error.h"
#include "runtime/rt_log.h"

struct ed_server {
    struct mg_context *ctx;
    rt_runtime_t *rt;
    ed_options_t  opts;
    char          node_id[32];
    char          listen[128];      /* opts.listen, kept: GET /v1/cluster */
    char          cluster_name[64];
    ed_metrics_t *metrics;
    const char  **labels;           /* "METHOD pattern" per route */
    st_redis_t    *redis;           /* NULL without [redis] */
    ed_revoked_t  *revoked;
    ed_throttle_t *throttle;
    ed_presence_t *presence;
    ed_cache_t    *cache;
};

struct ed_req {
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    ed_server_t      *srv;
    const ed_route_t *route;
    size_t            route_idx;
    char              path[512];    /* whole, for instance and fingerprint */
    char              segbuf[512];  /* path split into segments, in place */
    char             *segs[ED_SEGMENTS_MAX];
    size_t            nsegs;
    const char       *cap_name[ED_CAPTURES_MAX];
    size_t            cap_name_len[ED_CAPTURES_MAX];
    const char       *cap_val[ED_CAPTURES_MAX];
    size_t            ncaps;
    char             *raw;          /* body bytes */
    size_t            raw_len;
    json_t           *body;
    const char       *idem_key;
    uint8_t           fingerprint[32];
    bool              have_fp;
    bool              fp_open;      /* fp_state has method and path */
    crypto_auth_hmacsha256_state fp_state;
    char              traceparent[56];
    char              headers[1024];  /* extra response headers */
    size_t            headers_len;
    bool              replied;
    int               status;
    char             *out;          /* the whole response, written last */
    size_t            out_len;
    bool              authed;
    ed_claims_t       claims;
};

/* ---- small helpers ------------------------------------------------------- */

static uint64_t
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000;
}

static bool
s_hex (const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit ((unsigned char) s[i]) || isupper ((unsigned char) s[i]))
            return false;
    return true;
}

static bool
s_all_zero (const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '0')
            return false;
    return true;
}

/*  Keep the client's traceparent when it is a valid version-00 header
    (new span id of ours would be more correct; the trace id is what logs
    and messages need), else start a new trace. */
static void
s_traceparent (ed_req_t *req)
{
    const char *tp = mg_get_header (req->conn, "traceparent");
    if (tp && strlen (tp) == 55 && !strncmp (tp, "00-", 3) && tp[35] == '-' && tp[52] == '-'
        && s_hex (tp + 3, 32) && s_hex (tp + 36, 16) && s_hex (tp + 53, 2)
        && !s_all_zero (tp + 3, 32) && !s_all_zero (tp + 36, 16)) {
        memcpy (req->traceparent, tp, 56);
        return;
    }
    /*  Trace ids need to be unique, not secret: a per-thread xorshift
        seeded once from the OS saves a getrandom per request. */
    static __thread uint64_t x;
    if (!x)
        randombytes_buf (&x, sizeof x);
    uint8_t id[24];
    for (int i = 0; i < 3; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy (id + 8 * i, &x, 8);
    }
    char hex[49];
    sodium_bin2hex (hex, sizeof hex, id, sizeof id);
    snprintf (req->traceparent, sizeof req->traceparent, "00-%.32s-%.16s-01", hex, hex + 32);
}

/* ---- answering -------------------------------------------------------------- */

void
ed_reply_header (ed_req_t *req, const char *name, const char *value)
{
    if (strpbrk (name, "\r\n") || strpbrk (value, "\r\n"))
        return;
    int n = snprintf (req->headers + req->headers_len, sizeof req->headers - req->headers_len,
                      "%s: %s\r\n", name, value);
    if (n > 0 && req->headers_len + (size_t) n < sizeof req->headers)
        req->headers_len += (size_t) n;
}

static const char *
s_reason (int status)
{
    switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 409: return "Conflict";
        case 412: return "Precondition Failed";
        case 413: return "Payload Too Large";
        case 415: return "Unsupported Media Type";
        case 422: return "Unprocessable Content";
        case 429: return "Too Many Requests";
        case 503: return "Service Unavailable";
        default:  return status < 500 ? "Client Error" : "Server Error";
    }
}

void
ed_reply_bytes (ed_req_t *req, int status, const char *ctype, const void *body, size_t len)
{
    if (req->replied)
        return;
    req->replied = true;
    req->status = status;
    char head[1600], ct[96] = "";
    if (status != 204)      /* no body, so no type */
        snprintf (ct, sizeof ct, "Content-Type: %s\r\n", ctype);
    int n = snprintf (head, sizeof head,
                      "HTTP/1.1 %d %s\r\n%sContent-Length: %zu\r\n"
                      "traceparent: %s\r\n%.*s\r\n",
                      status, s_reason (status), ct, status == 204 ? 0 : len,
                      req->traceparent, (int) req->headers_len, req->headers);
    if (n < 0 || (size_t) n >= sizeof head)
        n = 0;
    if (status == 204)
        len = 0;
    /*  Head and body in one buffer, written in one call at the end of the
        request (after its metrics and log line, so a client holding the
        answer can already see it counted): separate writes meet Nagle and
        delayed ACKs and stall ~40 ms. */
    req->out = malloc ((size_t) n + len);
    if (!req->out)
        return;
    memcpy (req->out, head, (size_t) n);
    if (len)
        memcpy (req->out + n, body, len);
    req->out_len = (size_t) n + len;
}

void
ed_reply_json (ed_req_t *req, int status, json_t *body)
{
    char *text = body ? json_dumps (body, JSON_COMPACT) : NULL;
    json_decref (body);
    ed_reply_bytes (req, status, "application/json", text ? text : "", text ? strlen (text) : 0);
    free (text);
}

static void
s_problem (ed_req_t *req, ed_problem_t p, const char *detail, json_t *errors)
{
    const ed_problem_def_t *d = ed_problem_def (p);
    char type[96];
    snprintf (type, sizeof type, "/problems/%s", d->slug);
    json_t *o = json_pack ("{s:s, s:s, s:i, s:s, s:s}", "type", type, "title", d->title,
                           "status", d->status, "detail", detail ? detail : d->page,
                           "instance", req->path);
    if (o && errors)
        json_object_set_new (o, "errors", errors);
    else
        json_decref (errors);
    char *text = o ? json_dumps (o, JSON_COMPACT) : NULL;
    json_decref (o);
    if ((d->status == 503 || d->status == 429) && !strstr (req->headers, "Retry-After:"))
        ed_reply_header (req, "Retry-After", "1");
    ed_reply_bytes (req, d->status, "application/problem+json", text ? text : "{}",
                    text ? strlen (text) : 2);
    free (text);
}

void
ed_reply_problem (ed_req_t *req, ed_problem_t p, const char *detail)
{
    s_problem (req, p, detail, NULL);
}

void
ed_reply_invalid (ed_req_t *req, const ed_verr_t *errs, size_t n)
{
    json_t *arr = json_array ();
    for (size_t i = 0; i < n && i < ED_JSON_ERRORS_MAX; i++)
        json_array_append_new (arr, json_pack ("{s:s, s:s}", "field", errs[i].path,
                                               "message", errs[i].message));
    s_problem (req, ED_P_VALIDATION, NULL, arr);
}

void
ed_reply_invalid_field (ed_req_t *req, const char *path, const char *message)
{
    ed_verr_t err;
    snprintf (err.path, sizeof err.path, "%s", path);
    snprintf (err.message, sizeof err.message, "%s", message);
    ed_reply_invalid (req, &err, 1);
}

void
ed_reply_rt_error (ed_req_t *req, int err)
{
    switch (err) {
        case RT_EIDEM_REUSED:   ed_reply_problem (req, ED_P_IDEM_KEY_REUSED, NULL); return;
        case RT_EIDEM_INFLIGHT: ed_reply_problem (req, ED_P_IDEM_IN_FLIGHT, NULL); return;
        case RT_EOVERLOADED:
        case RT_ETIMEOUT:
        case RT_ESTOPPED:
        case RT_EKILLED:
        case RT_EUNAVAILABLE:
        case RT_ENOTOWNER:      ed_reply_problem (req, ED_P_UNAVAILABLE, rt_strerror (err)); return;
        case RT_ENOSPACE:       /* not over in a second: the operator frees space */
                                ed_reply_header (req, "Retry-After", "30");
                                ed_reply_problem (req, ED_P_UNAVAILABLE, rt_strerror (err)); return;
        case RT_EINVAL:
        case RT_ETOOBIG:        ed_reply_problem (req, ED_P_VALIDATION, rt_strerror (err)); return;
        default:                ed_reply_problem (req, ED_P_INTERNAL, rt_strerror (err)); return;
    }
}

void
ed_reply_list (ed_req_t *req, json_t *items)
{
    char buf[32], *end;
    size_t total = json_array_size (items), off = 0, limit = total;
    if (ed_req_query (req, "limit", buf, sizeof buf)) {
        long n = strtol (buf, &end, 10);
        if (!*buf || *end || n < 1 || n > ED_PAGE_MAX) {
            json_decref (items);
            ed_reply_problem (req, ED_P_MALFORMED, "limit must be 1..100");
            return;
        }
        limit = (size_t) n;
    }
    if (ed_req_query (req, "cursor", buf, sizeof buf)) {
        long long n = buf[0] == 'o' ? strtoll (buf + 1, &end, 10) : -1;
        if (buf[0] != 'o' || !buf[1] || *end || n < 1 || n > (long long) total) {
            json_decref (items);
            ed_reply_problem (req, ED_P_MALFORMED, "not a cursor of this list");
            return;
        }
        off = (size_t) n;
    }
    json_t *page = json_array ();
    for (size_t i = off; i < total && i < off + limit; i++)
        json_array_append (page, json_array_get (items, i));
    json_decref (items);
    char next[32];
    snprintf (next, sizeof next, "o%zu", off + limit);
    ed_reply_json (req, 200, json_pack ("{s:o, s:s?}", "items", page, "next_cursor",
                                        off + limit < total ? next : NULL));
}

/* ---- reading ----------------------------------------------------------------- */

const ed_route_t *ed_req_route (ed_req_t *req) { return req->route; }
ed_server_t *ed_req_server (ed_req_t *req) { return req->srv; }
rt_runtime_t *ed_req_runtime (ed_req_t *req) { return req->srv->rt; }
json_t *ed_req_body (ed_req_t *req) { return req->body; }
const char *ed_req_idem_key (ed_req_t *req) { return req->idem_key; }
const char *ed_req_traceparent (ed_req_t *req) { return req->traceparent; }
const char *ed_req_remote (ed_req_t *req) { return req->ri->remote_addr; }
const char *ed_req_query_string (ed_req_t *req) { return req->ri->query_string; }
const char *ed_req_user (ed_req_t *req) { return req->authed ? req->claims.sub : NULL; }
const char *ed_req_session (ed_req_t *req) { return req->authed ? req->claims.sid : NULL; }
const char *ed_req_role (ed_req_t *req) { return req->authed ? req->claims.role : NULL; }
const ed_options_t *ed_server_options (ed_server_t *self) { return &self->opts; }

const char *
ed_req_header (ed_req_t *req, const char *name)
{
    return mg_get_header (req->conn, name);
}

const char *
ed_req_capture (ed_req_t *req, const char *name)
{
    size_t n = strlen (name);
    for (size_t i = 0; i < req->ncaps; i++)
        if (req->cap_name_len[i] == n && !memcmp (req->cap_name[i], name, n))
            return req->cap_val[i];
    return NULL;
}

const char *
ed_req_query (ed_req_t *req, const char *name, char *buf, size_t len)
{
    const char *qs = req->ri->query_string;
    if (!qs)
        return NULL;
    int n = mg_get_var (qs, strlen (qs), name, buf, len);
    return n >= 0 ? buf : NULL;
}

/*  The HMAC over method and path, then the body's bytes. */
static crypto_auth_hmacsha256_state *
s_fp (ed_req_t *req)
{
    if (!req->fp_open) {
        static const uint8_t zero_key[32];
        const uint8_t *key = req->srv->opts.fingerprint_key ? req->srv->opts.fingerprint_key
                                                            : zero_key;
        crypto_auth_hmacsha256_init (&req->fp_state, key, 32);
        const char *m = req->ri->request_method;
        crypto_auth_hmacsha256_update (&req->fp_state, (const uint8_t *) m, strlen (m) + 1);
        crypto_auth_hmacsha256_update (&req->fp_state, (const uint8_t *) req->path,
                                       strlen (req->path) + 1);
        req->fp_open = true;
    }
    return &req->fp_state;
}

void
ed_req_fingerprint_add (ed_req_t *req, const void *data, size_t len)
{
    if (!req->have_fp)
        crypto_auth_hmacsha256_update (s_fp (req), data, len);
}

const uint8_t *
ed_req_fingerprint (ed_req_t *req)
{
    if (req->have_fp)
        return req->fingerprint;
    crypto_auth_hmacsha256_state *st = s_fp (req);
    /*  Canonical body: keys sorted, compact, so key order and whitespace
        do not make two equal requests differ. */
    char *canon = req->body ? json_dumps (req->body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (canon)
        crypto_auth_hmacsha256_update (st, (const uint8_t *) canon, strlen (canon));
    if (canon)
        sodium_memzero (canon, strlen (canon));     /* may hold a password */
    free (canon);
    crypto_auth_hmacsha256_final (st, req->fingerprint);
    req->have_fp = true;
    return req->fingerprint;
}

/* ---- the pipeline -------------------------------------------------------------- */

/*  Every query parameter, decoded, must be UTF-8 without NUL (API.md: a
    bad query is 400), so no handler sees bytes it cannot store or match. */
static bool
s_query (ed_req_t *req)
{
    const char *qs = req->ri->query_string;
    if (!qs || !*qs)
        return true;
    size_t len = strlen (qs);
    char *dec = malloc (len + 1);   /* decoding never lengthens */
    int n = dec ? mg_url_decode (qs, (int) len, dec, (int) len + 1, 1) : -1;
    bool ok = n >= 0 && ed_utf8_valid (dec, (size_t) n);
    free (dec);
    if (!ok)
        ed_reply_problem (req, ED_P_MALFORMED, "the query string is not UTF-8 (or holds NUL)");
    return ok;
}

/*  Split a copy of req->path into segments; captures point into it. */
static bool
s_split (ed_req_t *req)
{
    memcpy (req->segbuf, req->path, sizeof req->segbuf);
    char *p = req->segbuf + 1;
    req->nsegs = 0;
    if (!*p)
        return true;
    while (p) {
        if (req->nsegs == ED_SEGMENTS_MAX)
            return false;
        req->segs[req->nsegs++] = p;
        p = strchr (p, '/');
        if (p)
            *p++ = 0;
    }
    return true;
}

/*  Does pattern match the segments? Fills captures when it does. */
static bool
s_match (ed_req_t *req, const char *pattern)
{
    const char *p = pattern + 1;
    size_t i = 0, ncaps = 0;
    while (*p || i < req->nsegs) {
        if (i >= req->nsegs || !*p)
            return false;
        const char *end = strchr (p, '/');
        size_t n = end ? (size_t) (end - p) : strlen (p);
        const char *seg = req->segs[i];
        if (p[0] == '{' && p[n - 1] == '}') {
            if (!*seg || ncaps == ED_CAPTURES_MAX)
                return false;
            req->cap_name[ncaps] = p + 1;
            req->cap_name_len[ncaps] = n - 2;
            req->cap_val[ncaps++] = seg;
        }
        else if (strlen (seg) != n || memcmp (seg, p, n))
            return false;
        i++;
        p = end ? end + 1 : p + n;
    }
    req->ncaps = ncaps;
    return true;
}

static void
s_route (ed_req_t *req)
{
    const char *method = req->ri->request_method;
    char allow[128] = "";
    bool path_known = false;
    for (size_t r = 0; r < ed_routes_count; r++) {
        if (!s_match (req, ed_routes[r].pattern))
            continue;
        path_known = true;
        if (!strcmp (ed_routes[r].method, method)) {
            req->route = &ed_routes[r];
            req->route_idx = r;
            return;
        }
        size_t l = strlen (allow);
        snprintf (allow + l, sizeof allow - l, "%s%s", l ? ", " : "", ed_routes[r].method);
    }
    req->route_idx = ed_routes_count;
    if (path_known) {
        ed_reply_header (req, "Allow", allow);
        ed_reply_problem (req, ED_P_METHOD_NOT_ALLOWED, NULL);
    }
    else
        ed_reply_problem (req, ED_P_NOT_FOUND, NULL);
}

long
ed_req_read (ed_req_t *req, void *buf, size_t len)
{
    return mg_read (req->conn, buf, len);
}

/*  Read and check the body. Replies (and returns false) on any problem. */
static bool
s_body (ed_req_t *req)
{
    const ed_route_t *rt = req->route;
    long long declared = req->ri->content_length;
    bool chunked = declared < 0 && mg_get_header (req->conn, "Transfer-Encoding");
    if (!rt->schema) {
        if (rt->body_max == ED_BODY_STREAM)
            return true;                /* the handler reads it */
        if (declared > 0 || chunked) {
            ed_reply_problem (req, ED_P_PAYLOAD_TOO_LARGE, "this route takes no body");
            return false;
        }
        return true;
    }
    const char *ct = mg_get_header (req->conn, "Content-Type");
    if (!ct || strncasecmp (ct, "application/json", 16) || (ct[16] && ct[16] != ';' && ct[16] != ' ')) {
        ed_reply_problem (req, ED_P_UNSUPPORTED_MEDIA, NULL);
        return false;
    }
    size_t max = rt->body_max ? rt->body_max : ED_BODY_MAX_DEFAULT;
    if (declared > (long long) max) {
        /*  Refused before reading a byte of it. */
        ed_reply_header (req, "Connection", "close");
        ed_reply_problem (req, ED_P_PAYLOAD_TOO_LARGE, NULL);
        return false;
    }
    /*  Sized by Content-Length when there is one (one byte more, to see a
        body longer than declared); a chunked body grows from 4 KiB. Not
        the route's whole limit up front: that was a 64 KiB malloc and free
        per request. */
    size_t cap = declared >= 0 ? (size_t) declared + 1 : 4096;
    if (cap > max + 1)
        cap = max + 1;
    req->raw = malloc (cap);
    if (!req->raw) {
        ed_reply_problem (req, ED_P_UNAVAILABLE, "out of memory");
        return false;
    }
    size_t got = 0;
    for (;;) {
        if (got == cap) {
            if (cap == max + 1)
                break;
            size_t next = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *p = realloc (req->raw, next);
            if (!p) {
                ed_reply_problem (req, ED_P_UNAVAILABLE, "out of memory");
                return false;
            }
            req->raw = p;
            cap = next;
        }
        int n = mg_read (req->conn, req->raw + got, cap - got);
        if (n <= 0)
            break;
        got += (size_t) n;
        if (got > max) {
            ed_reply_header (req, "Connection", "close");
            ed_reply_problem (req, ED_P_PAYLOAD_TOO_LARGE, NULL);
            return false;
        }
    }
    req->raw_len = got;
    if (!ed_json_depth_ok (req->raw, got, ED_JSON_DEPTH_MAX)) {
        ed_reply_problem (req, ED_P_MALFORMED, "JSON nested deeper than 32 levels");
        return false;
    }
    json_error_t jerr;
    /*  jansson rejects invalid UTF-8; duplicate keys are ambiguous, so we
        reject them too. */
    req->body = json_loadb (req->raw, got, JSON_REJECT_DUPLICATES, &jerr);
    if (!req->body) {
        char detail[220];
        snprintf (detail, sizeof detail, "invalid JSON at line %d column %d: %s",
                  jerr.line, jerr.column, jerr.text);
        /*  Well-formed JSON whose integer is past int64 (an amount of
            1e20 written out): API.md makes any amount above 10^13 a 422,
            and every integer field of ours is bounded far below. */
        bool too_big = json_error_code (&jerr) == json_error_numeric_overflow;
        ed_reply_problem (req, too_big ? ED_P_VALIDATION : ED_P_MALFORMED, detail);
        return false;
    }
    ed_verr_t errs[ED_JSON_ERRORS_MAX];
    size_t n = ed_json_validate (req->body, rt->schema, errs, ED_JSON_ERRORS_MAX);
    if (n) {
        ed_reply_invalid (req, errs, n);
        return false;
    }
    return true;
}

/*  Bearer access token: verified (algorithm pinned, claims checked), then
    the role for admin routes. Before the body is read: an anonymous caller
    gets 401 without making us parse anything. */
static bool
s_auth (ed_req_t *req)
{
    const char *h = mg_get_header (req->conn, "Authorization");
    if (req->route->auth == ED_AUTH_NONE || (req->route->auth == ED_AUTH_OPTIONAL && !h))
        return true;
    const char *token = h && !strncasecmp (h, "Bearer ", 7) ? h + 7 : NULL;
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
    ed_revoked_t *rv = req->srv->revoked;
    int live = 200;
    char status[16] = "active";
    if (token && !ed_jwt_verify (&req->srv->opts.jwt, token, (int64_t) now.tv_sec, &req->claims)
        && !ed_revoked_has (rv, req->claims.sid, now_ms)) {
        req->authed = true;
        if (req->route->auth == ED_AUTH_ACTIVE
            || ed_revoked_unsure (rv, req->claims.sid, req->claims.iat, now_ms))
            live = ed_sessions_check (req, status);
    }
    else
        live = 401;
    if (live == 503) {
        req->authed = false;
        ed_reply_header (req, "Retry-After", "1");
        ed_reply_problem (req, ED_P_UNAVAILABLE, "cannot check the session now");
        return false;
    }
    if (live != 200) {
        req->authed = false;
        /*  RFC 6750 §3.1: no error code when no token came at all. */
        ed_reply_header (req, "WWW-Authenticate",
                         token ? "Bearer error=\"invalid_token\"" : "Bearer");
        ed_reply_problem (req, ED_P_UNAUTHORIZED, NULL);
        return false;
    }
    if (req->route->auth == ED_AUTH_ADMIN && strcmp (req->claims.role, "admin")) {
        ed_reply_problem (req, ED_P_FORBIDDEN, "admin only");
        return false;
    }
    if (req->route->auth == ED_AUTH_ACTIVE && strcmp (status, "active")) {
        ed_reply_problem (req, ED_P_FORBIDDEN, "account restricted");
        return false;
    }
    return true;
}

static bool
s_idempotency (ed_req_t *req)
{
    const char *k = mg_get_header (req->conn, "Idempotency-Key");
    if (req->route->idem == ED_IDEM_NONE)
        return true;
    if (!k) {
        if (req->route->idem == ED_IDEM_REQUIRED) {
            ed_reply_problem (req, ED_P_IDEM_KEY_MISSING, NULL);
            return false;
        }
        return true;
    }
    size_t n = strlen (k);
    bool ok = n >= 1 && n <= RT_IDEM_KEY_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = k[i] >= 0x21 && k[i] <= 0x7e;
    if (!ok) {
        ed_reply_problem (req, ED_P_MALFORMED,
                          "Idempotency-Key must be 1 to 255 printable ASCII characters");
        return false;
    }
    req->idem_key = k;
    return true;
}

static int
s_handle (struct mg_connection *conn, void *cbdata)
{
    ed_server_t *srv = cbdata;
    uint64_t t0 = s_now_us ();
    ed_req_t *req = calloc (1, sizeof *req);
    if (!req)
        return 500;
    req->conn = conn;
    req->ri = mg_get_request_info (conn);
    req->srv = srv;
    req->route_idx = ed_routes_count;
    s_traceparent (req);
    const char *uri = req->ri->local_uri ? req->ri->local_uri : "/";
    if (strlen (uri) >= sizeof req->path || memchr (uri, 0, strlen (uri)) != NULL) {
        snprintf (req->path, sizeof req->path, "/");
        ed_reply_problem (req, ED_P_NOT_FOUND, "path too long");
        goto out;
    }
    snprintf (req->path, sizeof req->path, "%s", uri);
    if (!s_split (req)) {
        ed_reply_problem (req, ED_P_NOT_FOUND, NULL);
        goto out;
    }
    s_route (req);
    if (req->replied)
        goto out;
    if (s_auth (req) && s_query (req) && s_body (req) && s_idempotency (req))
        req->route->handler (req);
    if (!req->replied)
        ed_reply_problem (req, ED_P_INTERNAL, "handler gave no answer");
out:;
    uint64_t dt = s_now_us () - t0;
    ed_metrics_observe (srv->metrics, req->route_idx, req->status, dt);
    /*  The answer first, then its access-log line: appending to the log
        file can block for tens of milliseconds (its inode lock, the
        kernel throttling writers under writeback; BENCHMARKS.md), and
        the client need not wait for that. */
    if (req->out)
        mg_write (conn, req->out, req->out_len);
    if (srv->opts.log_requests) {
        char path[160];
        rt_log ("info", "http.request",
                "\"method\":\"%s\",\"route\":\"%s\",\"path\":\"%s\",\"status\":%d,"
                "\"latency_us\":%llu,\"trace_id\":\"%.32s\"",
                req->ri->request_method,
                req->route ? req->route->pattern : "unmatched",
                rt_log_escape (req->path, path, sizeof path), req->status,
                (unsigned long long) dt, req->traceparent + 3);
    }
    free (req->out);
    json_decref (req->body);
    free (req->raw);
    int status = req->status;
    free (req);
    return status ? status : 500;
}

/*  Errors civetweb answers itself, before any route runs (a malformed
    request line or header, a body it cannot read): problem+json too. */
static int
s_http_error (struct mg_connection *conn, int status, const char *msg)
{
    (void) msg;
    ed_problem_t p = status == 413 ? ED_P_PAYLOAD_TOO_LARGE
                   : status == 404 ? ED_P_NOT_FOUND
                   : status == 405 ? ED_P_METHOD_NOT_ALLOWED
                   : status < 500  ? ED_P_MALFORMED : ED_P_UNAVAILABLE;
    const ed_problem_def_t *d = ed_problem_def (p);
    char body[512];
    int n = snprintf (body, sizeof body,
                      "{\"type\":\"/problems/%s\",\"title\":\"%s\",\"status\":%d,\"detail\":\"%s\"}",
                      d->slug, d->title, d->status, d->page);
    mg_printf (conn, "HTTP/1.1 %d %s\r\nContent-Type: application/problem+json\r\n"
               "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
               d->status, s_reason (d->status), n, body);
    return 0;
}

/* ---- life cycle -------------------------------------------------------------- */

static int
s_civetweb_auth (struct mg_connection *conn, void *data)
{
    (void) conn;
    (void) data;
    return 1;
}

ed_server_t *
ed_server_new (rt_runtime_t *rt, const ed_options_t *opts, char *err, size_t errlen)
{
    ed_server_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "edge: out of memory");
        return NULL;
    }
    self->rt = rt;
    self->opts = *opts;
    snprintf (self->node_id, sizeof self->node_id, "%s", opts->node_id);
    self->opts.node_id = self->node_id;
    snprintf (self->cluster_name, sizeof self->cluster_name, "%s",
              opts->cluster_name ? opts->cluster_name : "local");
    self->opts.cluster_name = self->cluster_name;
    snprintf (self->listen, sizeof self->listen, "%s", opts->listen ? opts->listen : "");
    self->opts.listen = self->listen;
    if (!self->opts.listing_lifetime_s)
        self->opts.listing_lifetime_s = 30 * 86400;
    if (!self->opts.payment_expiry_s)
        self->opts.payment_expiry_s = 86400;
    if (!self->opts.order_payment_timeout_s)
        self->opts.order_payment_timeout_s = 3600;
    if (!self->opts.order_auto_complete_s)
        self->opts.order_auto_complete_s = 7 * 86400;
    self->labels = calloc (ed_routes_count, sizeof *self->labels);
    for (size_t i = 0; self->labels && i < ed_routes_count; i++) {
        char l[160];
        snprintf (l, sizeof l, "%s %s", ed_routes[i].method, ed_routes[i].pattern);
        self->labels[i] = strdup (l);
    }
    self->metrics = self->labels ? ed_metrics_new (self->labels, ed_routes_count) : NULL;
    if (opts->redis_url && !(self->redis = st_redis_new (opts->redis_url, err, errlen))) {
        ed_server_destroy (&self);
        return NULL;
    }
    self->opts.redis_url = NULL;
    self->revoked = ed_revoked_new (self->redis, rt);
    self->throttle = ed_throttle_new (self->redis);
    self->presence = ed_presence_new (self->redis);
    self->cache = ed_cache_new (self->redis);
    if (!self->metrics || !self->revoked || !self->throttle || !self->presence || !self->cache) {
        snprintf (err, errlen, "edge: out of memory");
        ed_server_destroy (&self);
        return NULL;
    }
    char threads[16];
    snprintf (threads, sizeof threads, "%u", opts->threads ? opts->threads : RT_HTTP_THREADS_DEFAULT);
    const char *options[] = {
        "listening_ports", opts->listen,
        "num_threads", threads,
        "tcp_nodelay", "1",
        "enable_keep_alive", "yes",
        "request_timeout_ms", "10000",
        NULL
    };
    struct mg_callbacks cb;
    memset (&cb, 0, sizeof cb);
    cb.http_error = s_http_error;
    mg_init_library (0);
    self->ctx = mg_start (&cb, self, options);
    if (!self->ctx) {
        snprintf (err, errlen, "edge: cannot listen on %s (address in use or invalid)",
                  opts->listen);
        ed_server_destroy (&self);
        return NULL;
    }
    mg_set_request_handler (self->ctx, "/", s_handle, self);
    /*  Authorization is ours (the route table); without a handler here
        civetweb looks for a .htpasswd file on every request. */
    mg_set_auth_handler (self->ctx, "/", s_civetweb_auth, NULL);
    return self;
}

/*  civetweb's master thread waits for connections in polls of up to
    SOCKET_TIMEOUT_QUANTUM (2 s in Debian's build) and looks at its stop
    flag only between them, so mg_stop took ~2 s: every node stop, and
    every test that stops one. A connection to the node's own port ends
    that poll: the waker makes one every ED_STOP_POKE_MS until mg_stop has
    returned. (A port bound to one other address is not reached through
    loopback; that stop just takes the 2 s.) */
#define ED_STOP_POKE_MS 10

typedef struct {
    struct sockaddr_storage addr[8];    /* loopback, at each listening port */
    socklen_t len[8];
    int       n;
    bool      done;                     /* atomic */
} s_waker_t;

static void *
s_waker_main (void *arg)
{
    s_waker_t *w = arg;
    while (!__atomic_load_n (&w->done, __ATOMIC_ACQUIRE)) {
        for (int i = 0; i < w->n; i++) {
            int fd = socket (w->addr[i].ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd >= 0) {
                (void) connect (fd, (struct sockaddr *) &w->addr[i], w->len[i]);
                close (fd);
            }
        }
        usleep (ED_STOP_POKE_MS * 1000);
    }
    return NULL;
}

static void
s_stop_civetweb (struct mg_context *ctx)
{
    s_waker_t w = { .n = 0 };
    struct mg_server_port sp[8];
    int n = mg_get_server_ports (ctx, 8, sp);
    for (int i = 0; i < n && w.n < 8; i++, w.n++) {
        uint16_t port = htons ((uint16_t) sp[i].port);
        if (sp[i].protocol == 2) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *) &w.addr[w.n];
            *a = (struct sockaddr_in6) { .sin6_family = AF_INET6, .sin6_port = port,
                                         .sin6_addr = IN6ADDR_LOOPBACK_INIT };
            w.len[w.n] = sizeof *a;
        }
        else {
            struct sockaddr_in *a = (struct sockaddr_in *) &w.addr[w.n];
            *a = (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = port,
                                        .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
            w.len[w.n] = sizeof *a;
        }
    }
    pthread_t t;
    bool poking = w.n > 0 && pthread_create (&t, NULL, s_waker_main, &w) == 0;
    mg_stop (ctx);
    if (poking) {
        __atomic_store_n (&w.done, true, __ATOMIC_RELEASE);
        pthread_join (t, NULL);
    }
}

void
ed_server_destroy (ed_server_t **p)
{
    if (!p || !*p)
        return;
    ed_server_t *self = *p;
    if (self->ctx)
        s_stop_civetweb (self->ctx);
    ed_recon_stop ();           /* its job threads use the runtime: end them first */
    for (size_t i = 0; self->labels && i < ed_routes_count; i++)
        free ((char *) self->labels[i]);
    free (self->labels);
    ed_metrics_destroy (&self->metrics);
    ed_revoked_destroy (&self->revoked);     /* stops the subscription first */
    ed_throttle_destroy (&self->throttle);
    ed_presence_destroy (&self->presence);
    ed_cache_destroy (&self->cache);
    st_redis_destroy (&self->redis);
    free (self);
    *p = NULL;
}

void
ed_server_render_metrics (ed_server_t *self, char **buf, size_t *len, size_t *cap)
{
    ed_metrics_render (self->metrics, buf, len, cap);
    ed_cache_stats_t cs;
    ed_cache_stats (self->cache, &cs);
    ed_buf_printf (buf, len, cap,
        "# HELP pasar_listing_cache_hits_total GET /v1/listings/{id} answered from Redis\n"
        "# TYPE pasar_listing_cache_hits_total counter\npasar_listing_cache_hits_total %llu\n"
        "# HELP pasar_listing_cache_misses_total ... answered by the listing actor\n"
        "# TYPE pasar_listing_cache_misses_total counter\npasar_listing_cache_misses_total %llu\n"
        "# HELP pasar_listing_cache_fills_total Listings put into the cache after a miss\n"
        "# TYPE pasar_listing_cache_fills_total counter\npasar_listing_cache_fills_total %llu\n"
        "# HELP pasar_listing_cache_invalidations_total Entries replaced by a tombstone after a write\n"
        "# TYPE pasar_listing_cache_invalidations_total counter\n"
        "pasar_listing_cache_invalidations_total %llu\n",
        (unsigned long long) cs.hits, (unsigned long long) cs.misses,
        (unsigned long long) cs.fills, (unsigned long long) cs.invalidations);
    if (!self->redis)
        return;
    st_redis_stats_t st;
    st_redis_stats (self->redis, &st);
    ed_buf_printf (buf, len, cap,
        "# HELP pasar_redis_up 1 while the last Redis call succeeded\n"
        "# TYPE pasar_redis_up gauge\npasar_redis_up %d\n"
        "# HELP pasar_redis_commands_total Calls Redis answered\n"
        "# TYPE pasar_redis_commands_total counter\npasar_redis_commands_total %llu\n"
        "# HELP pasar_redis_errors_total Connection failures, timeouts and error replies\n"
        "# TYPE pasar_redis_errors_total counter\npasar_redis_errors_total %llu\n"
        "# HELP pasar_redis_fallbacks_total Calls answered from node-local state instead\n"
        "# TYPE pasar_redis_fallbacks_total counter\npasar_redis_fallbacks_total %llu\n",
        st.up ? 1 : 0, (unsigned long long) st.commands, (unsigned long long) st.errors,
        (unsigned long long) st.fallbacks);
}

ed_revoked_t *
ed_server_revoked (ed_server_t *self)
{
    return self->revoked;
}

ed_throttle_t *
ed_server_throttle (ed_server_t *self)
{
    return self->throttle;
}

ed_presence_t *
ed_server_presence (ed_server_t *self)
{
    return self->presence;
}

ed_cache_t *
ed_server_cache (ed_server_t *self)
{
    return self->cache;
}
