/*  =========================================================================
    ed_listings.c - ad listings: create, read, edit, delete, renew

    The schema (ed_schemas.c) has checked every field by the time a handler
    runs; here: image URL schemes, the If-Match header, and turning the
    JSON into the flat body the listing actor takes. Who may write is the
    actor's decision (the caller's id and role ride in the body), so it
    holds however a message reaches it.

    Create goes through the seller's user actor, the anchor of the
    Idempotency-Key: it answers the listing id (the first one, on a retry)
    and sends the create durably; the edge then creates the listing
    directly too, so the seller reads their own write at once.
    =========================================================================
*/
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ed_listings.h"
#include "ed_server.h"
#include "ed_mp.h"
#include "ed_acct.h"
#include "actors/ac_types.h"
#include "actors/ac_codec.h"

/*  http(s)://host...: a scheme we allow, a host, and no spaces or control
    characters (they would break every client that renders the URL). */
static bool
s_url_ok (const char *u)
{
    size_t skip = !strncmp (u, "https://", 8) ? 8 : !strncmp (u, "http://", 7) ? 7 : 0;
    if (!skip || !u[skip] || u[skip] == '/')
        return false;
    for (const unsigned char *p = (const unsigned char *) u; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return false;
    return true;
}

/*  The images must be http(s) URLs: answers 422 and returns false if not. */
static bool
s_images_ok (ed_req_t *req, json_t *body)
{
    ed_verr_t errs[ED_JSON_ERRORS_MAX];
    size_t n = 0, i;
    json_t *item;
    json_array_foreach (json_object_get (body, "images"), i, item) {
        if (n < ED_JSON_ERRORS_MAX && !s_url_ok (json_string_value (item))) {
            snprintf (errs[n].path, sizeof errs[n].path, "images[%zu]", i);
            snprintf (errs[n].message, sizeof errs[n].message, "must be an http or https URL");
            n++;
        }
    }
    if (n)
        ed_reply_invalid (req, errs, n);
    return n == 0;
}

/*  The content fields of body, flat, as the actor takes them (extra more
    pairs follow, written by the caller). */
static void
s_enc_content (ac_enc_t *e, json_t *body, size_t extra)
{
    json_t *price = json_object_get (body, "price");
    json_t *loc = json_object_get (body, "location");
    json_t *images = json_object_get (body, "images");
    static const char *const plain[] = { "title", "description", "category", "condition" };
    size_t n = extra + (price != NULL) + 2 * (loc != NULL) + (images != NULL);
    for (size_t i = 0; i < 4; i++)
        n += json_object_get (body, plain[i]) != NULL;
    ac_enc_map (e, n);
    for (size_t i = 0; i < 4; i++) {
        json_t *v = json_object_get (body, plain[i]);
        if (v)
            ac_enc_str (e, plain[i], json_string_value (v));
    }
    if (price)
        ac_enc_int (e, "amount", json_integer_value (json_object_get (price, "amount")));
    if (loc) {
        ac_enc_str (e, "city", json_string_value (json_object_get (loc, "city")));
        ac_enc_str (e, "province", json_string_value (json_object_get (loc, "province")));
    }
    if (images) {
        /*  NUL-ended URLs back to back (the schema refused NULs inside). */
        size_t len = 0, i;
        json_t *item;
        json_array_foreach (images, i, item)
            len += strlen (json_string_value (item)) + 1;
        char *buf = malloc (len ? len : 1), *p = buf;
        json_array_foreach (images, i, item) {
            size_t k = strlen (json_string_value (item)) + 1;
            if (buf)
                memcpy (p, json_string_value (item), k);
            p += k;
        }
        ac_enc_bin (e, "images", buf ? buf : "", buf ? len : 0);
        free (buf);
    }
}

static void
s_etag (ed_req_t *req, int64_t version)
{
    char etag[32];
    snprintf (etag, sizeof etag, "\"%lld\"", (long long) version);
    ed_reply_header (req, "ETag", etag);
}

/*  The actor's answer: the listing (status ok_status, with its ETag), or
    the problem its status means. A write that succeeded (wrote: the
    listing's id) takes the listing's cached copy out. */
static void
s_answer (ed_req_t *req, int rc, rt_reply_t *rep, int ok_status, const char *wrote)
{
    if (rc) {
        ed_reply_rt_error (req, rc);
        return;
    }
    int status = rep->status;
    json_t *j = rep->body_len ? ed_mp_to_json (rep->body, rep->body_len) : NULL;
    bool replayed = rep->replayed;
    rt_reply_free (rep);
    const char *detail = json_string_value (json_object_get (j, "detail"));
    if (wrote && (status == 200 || status == 204))
        ed_cache_invalidate (ed_server_cache (ed_req_server (req)), wrote);
    switch (status) {
        case 200:
        case 201: {
            if (!j || !json_is_integer (json_object_get (j, "version")))
                break;
            s_etag (req, json_integer_value (json_object_get (j, "version")));
            if (replayed)
                ed_reply_header (req, "Idempotency-Replayed", "true");
            if (ok_status == 201) {
                char loc[64];
                snprintf (loc, sizeof loc, "/v1/listings/%s",
                          json_string_value (json_object_get (j, "id")));
                ed_reply_header (req, "Location", loc);
            }
            ed_reply_json (req, ok_status, j);
            return;
        }
        case 204:
            json_decref (j);
            ed_reply_bytes (req, 204, "application/json", "", 0);
            return;
        case 403: ed_reply_problem (req, ED_P_FORBIDDEN, "only the seller may change this listing"); break;
        case 404: ed_reply_problem (req, ED_P_NOT_FOUND, NULL); break;
        case 409: ed_reply_problem (req, ED_P_CONFLICT, detail); break;
        case 412: ed_reply_problem (req, ED_P_VERSION_MISMATCH, detail); break;
        case 422: ed_reply_problem (req, ED_P_VALIDATION, NULL); break;
        default: ed_reply_problem (req, ED_P_INTERNAL, "unexpected answer from the listing"); break;
    }
    json_decref (j);
}

/*  The create body for listing id (the user actor's answer may name the
    first attempt's id). */
static void
s_enc_create (ac_enc_t *e, ed_req_t *req, const char *id, int64_t now)
{
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    ac_enc_init (e);
    s_enc_content (e, ed_req_body (req), 4);
    ac_enc_str (e, "id", id);
    ac_enc_str (e, "seller_id", ed_req_user (req));
    ac_enc_int (e, "created_ms", now);
    ac_enc_int (e, "expires_ms", now + (int64_t) o->listing_lifetime_s * 1000);
}

void
ed_listings_create (ed_req_t *req)
{
    json_t *body = ed_req_body (req);
    if (!s_images_ok (req, body))
        return;
    char id[32];
    ed_id_new ("lst_", id);
    int64_t now = rt_now_ms ();
    ac_enc_t e;
    s_enc_create (&e, req, id, now);
    char scope[64];
    snprintf (scope, sizeof scope, "%s POST /v1/listings", ed_req_user (req));
    char first[32];
    bool replayed = false;
    int status = ed_acct_anchor (req, AC_TYPE_USER, ed_req_user (req), USER_LISTING_NEW,
                                 e.sb.data, e.sb.size, scope, "listing_id", first, &replayed);
    if (status != 200) {
        ac_enc_free (&e);
        if (status < 0)
            ed_reply_rt_error (req, status);
        else if (status == 403)
            ed_reply_problem (req, ED_P_FORBIDDEN, "this account may not post listings");
        else
            ed_reply_problem (req, status == 404 ? ED_P_UNAUTHORIZED : ED_P_INTERNAL, NULL);
        return;
    }
    if (strcmp (first, id)) {   /* a retry: create (or find) the first one */
        ac_enc_free (&e);
        s_enc_create (&e, req, first, now);
    }
    rt_reply_t rep;
    int rc = ed_acct_ask (req, AC_TYPE_LISTING, first, LISTING_CREATE, e.sb.data, e.sb.size,
                          NULL, &rep);
    ac_enc_free (&e);
    if (!rc) {
        rep.replayed = replayed;
        if (rep.status == 200)
            rep.status = 201;   /* the outbox copy got there first */
    }
    s_answer (req, rc, &rep, 201, NULL);
}

/*  RFC 3339 ("2026-11-25T03:01:02.123Z", as ac_time_rfc3339 writes it)
    to unix ms; 0 when it is not that. */
static int64_t
s_ms (const char *t)
{
    struct tm tm = { 0 };
    int ms = 0;
    const char *rest = t ? strptime (t, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!rest || sscanf (rest, ".%3dZ", &ms) != 1)
        return 0;
    return (int64_t) timegm (&tm) * 1000 + ms;
}

/*  {id} of the path, when it can name a listing; answers 404 otherwise
    (an id that cannot exist never activates an actor). */
static const char *
s_listing_id (ed_req_t *req)
{
    const char *id = ed_req_capture (req, "id");
    if (!ed_id_valid ("lst_", id)) {
        ed_reply_problem (req, ED_P_NOT_FOUND, NULL);
        return NULL;
    }
    return id;
}

void
ed_listings_get (ed_req_t *req)
{
    const char *id = s_listing_id (req);
    if (!id)
        return;
    ed_cache_t *cache = ed_server_cache (ed_req_server (req));
    char *text;
    size_t n;
    int64_t version;
    if (ed_cache_get (cache, id, &text, &n, &version)) {
        s_etag (req, version);
        ed_reply_bytes (req, 200, "application/json", text, n);
        free (text);
        return;
    }
    rt_reply_t rep;
    int rc = ed_acct_read (req, AC_TYPE_LISTING, id, LISTING_GET, NULL, 0, &rep);
    /*  The hot path: msgpack straight to JSON text, no tree. */
    text = !rc && rep.status == 200 ? ed_mp_to_text (rep.body, rep.body_len, &n) : NULL;
    if (!text || !ed_mp_field (rep.body, rep.body_len, "version", &version, NULL, 0)) {
        free (text);
        s_answer (req, rc, &rep, 200, NULL);
        return;
    }
    char expires[40], status[16];
    if (ed_cache_enabled (cache)
        && ed_mp_field (rep.body, rep.body_len, "expires_at", NULL, expires, sizeof expires)
        && ed_mp_field (rep.body, rep.body_len, "status", NULL, status, sizeof status))
        ed_cache_fill (cache, id, text, n, version, s_ms (expires), !strcmp (status, "active"));
    rt_reply_free (&rep);
    s_etag (req, version);
    ed_reply_bytes (req, 200, "application/json", text, n);
    free (text);
}

/*  If-Match: "<version>" (or W/"<version>", or a bare number). -1 when
    absent or "*" (anything matches); 0 when it cannot name a version,
    which then matches none. */
static int64_t
s_if_match (ed_req_t *req)
{
    const char *h = ed_req_header (req, "If-Match");
    if (!h)
        return -1;
    while (*h == ' ')
        h++;
    if (!strcmp (h, "*"))
        return -1;
    if (!strncmp (h, "W/", 2))
        h += 2;
    bool quoted = *h == '"';
    h += quoted;
    char *end;
    long long v = strtoll (h, &end, 10);
    if (end == h || v < 1 || (quoted && *end++ != '"'))
        return 0;
    while (*end == ' ')
        end++;
    return *end ? 0 : v;
}

/*  A write's body: content (if any), the caller and role, and extras. */
static void
s_enc_write (ac_enc_t *e, ed_req_t *req, json_t *content, size_t extra)
{
    ac_enc_init (e);
    json_t *none = content ? NULL : json_object ();
    s_enc_content (e, content ? content : none, 2 + extra);
    json_decref (none);
    ac_enc_str (e, "caller", ed_req_user (req));
    ac_enc_str (e, "role", ed_req_role (req));
}

void
ed_listings_patch (ed_req_t *req)
{
    const char *id = s_listing_id (req);
    json_t *body = ed_req_body (req);
    if (!id || !s_images_ok (req, body))
        return;
    int64_t want = s_if_match (req);
    const char *status = json_string_value (json_object_get (body, "status"));
    ac_enc_t e;
    s_enc_write (&e, req, body, (want >= 0) + (status != NULL));
    if (want >= 0)
        ac_enc_int (&e, "if_match", want);
    if (status)
        ac_enc_str (&e, "status", status);
    char scope[80];
    snprintf (scope, sizeof scope, "%s PATCH /v1/listings/{id}", ed_req_user (req));
    rt_reply_t rep;
    int rc = ed_acct_ask (req, AC_TYPE_LISTING, id, LISTING_PATCH, e.sb.data, e.sb.size,
                          scope, &rep);
    ac_enc_free (&e);
    s_answer (req, rc, &rep, 200, id);
}

void
ed_listings_delete (ed_req_t *req)
{
    const char *id = s_listing_id (req);
    if (!id)
        return;
    ac_enc_t e;
    s_enc_write (&e, req, NULL, 0);
    rt_reply_t rep;
    int rc = ed_acct_ask (req, AC_TYPE_LISTING, id, LISTING_DELETE, e.sb.data, e.sb.size,
                          NULL, &rep);
    ac_enc_free (&e);
    s_answer (req, rc, &rep, 204, id);
}

void
ed_listings_renew (ed_req_t *req)
{
    const char *id = s_listing_id (req);
    if (!id)
        return;
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    ac_enc_t e;
    s_enc_write (&e, req, NULL, 1);
    ac_enc_int (&e, "expires_ms", rt_now_ms () + (int64_t) o->listing_lifetime_s * 1000);
    char scope[80];
    snprintf (scope, sizeof scope, "%s POST /v1/listings/{id}/renew", ed_req_user (req));
    rt_reply_t rep;
    int rc = ed_acct_ask (req, AC_TYPE_LISTING, id, LISTING_RENEW, e.sb.data, e.sb.size,
                          scope, &rep);
    ac_enc_free (&e);
    s_answer (req, rc, &rep, 200, id);
}
