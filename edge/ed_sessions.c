/*  =========================================================================
    ed_sessions.c - login

    POST /v1/sessions: find the user by email, verify the password
    (argon2id, bounded), record a session, and answer an access token (JWT)
    and a refresh token. Unknown email and wrong password get the same 401
    after the same work. Refresh rotates the session's generation (the
    30 s grace answers the same pair again; any other reuse revokes the
    session); list and revoke act on the caller's own sessions only.

    Decision: login ignores Idempotency-Key. Its answer holds fresh secrets
    that we never store; a retried login makes one more session (bounded
    per user), which is harmless.
    =========================================================================
*/
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include "ed_sessions.h"
#include "ed_server.h"
#include "ed_acct.h"
#include "ed_mp.h"
#include "actors/ac_types.h"
#include "actors/ac_codec.h"
#include "ed_revoked.h"
#include "ed_throttle.h"
#include "ed_admin.h"


static void s_answer_pair (ed_req_t *req, int status, const char *uid, const char *sid,
                           rt_reply_t *rep);

static void
s_unauthorized (ed_req_t *req)
{
    ed_reply_problem (req, ED_P_UNAUTHORIZED, "wrong email or password");
}

/*  The user's id for a normalised email, or "" when none. */
static int
s_lookup (ed_req_t *req, const char *email, char *uid, size_t size)
{
    char ekey[56];
    ed_acct_email_key (email, ekey);
    rt_reply_t rep;
    int rc = ed_acct_read (req, AC_TYPE_EMAIL, ekey, EMAIL_LOOKUP, NULL, 0, &rep);
    uid[0] = 0;
    if (!rc && rep.status == 200) {
        ac_map_t *m = ac_map_decode (rep.body, rep.body_len);
        const char *id = m ? ac_map_str (m, "user_id") : NULL;
        if (id && strlen (id) < size)
            strcpy (uid, id);
        ac_map_destroy (&m);
    }
    rt_reply_free (&rep);
    return rc;
}

void
ed_sessions_create (ed_req_t *req)
{
    json_t *body = ed_req_body (req);
    const char *pw = json_string_value (json_object_get (body, "password"));
    char email[256], uid[40] = "", hash[crypto_pwhash_STRBYTES] = "", status[16] = "", role[8] = "";
    int rc = 0;
    bool valid = ed_acct_normalize_email (json_string_value (json_object_get (body, "email")),
                                          email, sizeof email);
    if (!valid)
        snprintf (email, sizeof email, "%s", "(invalid)");
    int64_t wait_s = ed_throttle_check (ed_server_throttle (ed_req_server (req)), email, ed_req_remote (req), rt_now_ms ());
    if (wait_s > 0) {
        char ra[24];
        snprintf (ra, sizeof ra, "%lld", (long long) wait_s);
        ed_reply_header (req, "Retry-After", ra);
        ed_reply_problem (req, ED_P_RATE_LIMITED, "too many failed logins; retry later");
        return;
    }
    if (valid)
        rc = s_lookup (req, email, uid, sizeof uid);
    if (rc) {
        ed_reply_rt_error (req, rc);
        return;
    }
    if (uid[0]) {
        rt_reply_t rep;
        rc = ed_acct_read (req, AC_TYPE_USER, uid, USER_AUTH, NULL, 0, &rep);
        ac_map_t *m = !rc && rep.status == 200 ? ac_map_decode (rep.body, rep.body_len) : NULL;
        const char *h = m ? ac_map_str (m, "password_hash") : NULL;
        const char *st = m ? ac_map_str (m, "status") : NULL;
        const char *ro = m ? ac_map_str (m, "role") : NULL;
        if (h && st && ro && strlen (h) < sizeof hash && strlen (st) < sizeof status
            && strlen (ro) < sizeof role) {
            strcpy (hash, h);
            strcpy (status, st);
            strcpy (role, ro);
        }
        ac_map_destroy (&m);
        rt_reply_free (&rep);
        if (rc) {
            ed_reply_rt_error (req, rc);
            return;
        }
    }
    int ok = ed_acct_verify (hash[0] ? hash : NULL, pw);
    sodium_memzero (hash, sizeof hash);
    if (ok < 0) {
        ed_reply_problem (req, ED_P_UNAVAILABLE, "too many password checks in progress");
        return;
    }
    if (!ok) {
        if (ed_throttle_fail (ed_server_throttle (ed_req_server (req)), email, ed_req_remote (req), rt_now_ms ()))
            ed_admin_flag (req, "login_throttled", uid, "5 failed logins in 15 minutes");
        s_unauthorized (req);
        return;
    }
    ed_throttle_ok (ed_server_throttle (ed_req_server (req)), email);
    if (!strcmp (status, "banned")) {
        ed_reply_problem (req, ED_P_FORBIDDEN, "this account is banned");
        return;
    }
    char sid[40];
    ed_id_new ("ses_", sid);
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 2);
    ac_enc_str (&e, "session_id", sid);
    ac_enc_str (&e, "device_name", json_string_value (json_object_get (body, "device_name")));
    rt_reply_t rep;
    rc = ed_acct_ask (req, AC_TYPE_USER, uid, USER_SESSION_CREATE, e.sb.data, e.sb.size, NULL, &rep);
    ac_enc_free (&e);
    if (rc) {
        ed_reply_rt_error (req, rc);
        return;
    }
    ac_map_t *m = rep.status == 200 ? ac_map_decode (rep.body, rep.body_len) : NULL;
    const char *dropped = m ? ac_map_str (m, "dropped") : NULL;
    if (dropped)            /* the oldest session made room: its tokens stop now */
        ed_sessions_end (req, dropped);
    ac_map_destroy (&m);
    s_answer_pair (req, 201, uid, sid, &rep);
}

/* ---- token pairs --------------------------------------------------------- */

/*  The refresh secret of generation gen: HMAC(refresh key, "uid:sid:gen")
    (the user id bound in, so it cannot be swapped in a token). Also the
    jti of that generation's access token ("jti:uid:sid:gen"), so the pair
    of a generation is the same every time it is made: a client that lost
    the answer to a refresh gets the identical pair within the grace. */
static void
s_derive (ed_req_t *req, const char *what, const char *uid, const char *sid, int64_t gen,
          uint8_t out[32])
{
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    char msg[128];
    int n = snprintf (msg, sizeof msg, "%s%s:%s:%lld", what, uid, sid, (long long) gen);
    crypto_auth_hmacsha256 (out, (const uint8_t *) msg, (size_t) n, o->refresh_key);
}

/*  Answer an access token and refresh token for generation gen of session
    sid from a user actor's {gen, rotated_ms, role} reply (taken). */
static void
s_answer_pair (ed_req_t *req, int status, const char *uid, const char *sid, rt_reply_t *rep)
{
    ac_map_t *m = rep->status == 200 ? ac_map_decode (rep->body, rep->body_len) : NULL;
    int64_t gen = 0, rotated = 0;
    const char *role = m ? ac_map_str (m, "role") : NULL;
    bool ok = role && ac_map_int (m, "gen", &gen) && ac_map_int (m, "rotated_ms", &rotated) && gen > 0;
    char role_copy[8] = "";
    if (ok && strlen (role) < sizeof role_copy)
        strcpy (role_copy, role);
    ac_map_destroy (&m);
    int actor_status = rep->status;
    rt_reply_free (rep);
    if (!ok || !role_copy[0]) {
        if (actor_status == 401)
            ed_reply_problem (req, ED_P_UNAUTHORIZED, "invalid refresh token");
        else
            ed_reply_problem (req, ED_P_INTERNAL, "session not recorded");
        return;
    }
    uint8_t secret[32], jti_raw[32];
    s_derive (req, "", uid, sid, gen, secret);
    s_derive (req, "jti:", uid, sid, gen, jti_raw);
    char jti[33], b64[sodium_base64_ENCODED_LEN (32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2hex (jti, sizeof jti, jti_raw, 16);
    sodium_bin2base64 (b64, sizeof b64, secret, sizeof secret, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero (secret, sizeof secret);
    /*  Refresh token: <user>.<session>.<generation>.<secret>, opaque to
        clients; the node stores none of it. */
    char refresh[200];
    snprintf (refresh, sizeof refresh, "%s.%s.%lld.%s", uid, sid, (long long) gen, b64);
    sodium_memzero (b64, sizeof b64);
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    char *access = ed_jwt_issue (&o->jwt, uid, sid, role_copy, rotated / 1000, jti);
    if (!access) {
        sodium_memzero (refresh, sizeof refresh);
        ed_reply_problem (req, ED_P_INTERNAL, "token not issued");
        return;
    }
    int64_t left = rotated / 1000 + o->jwt.ttl_s - rt_now_ms () / 1000;
    ed_reply_header (req, "Cache-Control", "no-store");
    ed_reply_json (req, status, json_pack ("{s:s, s:s, s:s, s:I, s:s, s:s}",
                                           "access_token", access, "refresh_token", refresh,
                                           "token_type", "Bearer",
                                           "expires_in", (json_int_t) (left > 0 ? left : 0),
                                           "session_id", sid, "user_id", uid));
    sodium_memzero (refresh, sizeof refresh);
    sodium_memzero (access, strlen (access));
    free (access);
}

/* ---- refresh, list, revoke --------------------------------------------------- */

static bool
s_id_ok (const char *s, size_t len, const char *prefix)
{
    if (len != 30 || strncmp (s, prefix, 4))
        return false;
    for (size_t i = 4; i < 30; i++)
        if (!s[i] || !strchr ("0123456789ABCDEFGHJKMNPQRSTVWXYZ", s[i]))
            return false;
    return true;
}

void
ed_sessions_refresh (ed_req_t *req)
{
    const char *tok = json_string_value (json_object_get (ed_req_body (req), "refresh_token"));
    /*  <usr_...>.<ses_...>.<gen>.<secret>: checked against the secret we
        would derive before any actor is asked, so a forged token can never
        revoke anyone's session. */
    char uid[32], sid[32], gen_s[24], b64[64];
    const char *p[4];
    size_t n[4];
    const char *c = tok;
    bool ok = true;
    for (int i = 0; i < 4 && ok; i++) {
        const char *d = i < 3 ? strchr (c, '.') : c + strlen (c);
        ok = d != NULL;
        if (ok) {
            p[i] = c;
            n[i] = (size_t) (d - c);
            c = d + 1;
        }
    }
    ok = ok && s_id_ok (p[0], n[0], "usr_") && s_id_ok (p[1], n[1], "ses_")
         && n[2] >= 1 && n[2] < sizeof gen_s && n[3] >= 1 && n[3] < sizeof b64;
    int64_t gen = 0;
    if (ok) {
        memcpy (uid, p[0], 30), uid[30] = 0;
        memcpy (sid, p[1], 30), sid[30] = 0;
        memcpy (gen_s, p[2], n[2]), gen_s[n[2]] = 0;
        memcpy (b64, p[3], n[3]), b64[n[3]] = 0;
        char *end;
        gen = strtoll (gen_s, &end, 10);
        ok = *end == 0 && gen >= 1 && gen_s[0] != '0';
    }
    if (ok) {
        uint8_t got[32], want[32];
        size_t glen = 0;
        ok = !sodium_base642bin (got, sizeof got, b64, strlen (b64), NULL, &glen, NULL,
                                 sodium_base64_VARIANT_URLSAFE_NO_PADDING) && glen == 32;
        s_derive (req, "", uid, sid, gen, want);
        ok = ok && sodium_memcmp (got, want, 32) == 0;
        sodium_memzero (want, sizeof want);
    }
    if (!ok) {
        ed_reply_problem (req, ED_P_UNAUTHORIZED, "invalid refresh token");
        return;
    }
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 2);
    ac_enc_str (&e, "session_id", sid);
    ac_enc_int (&e, "gen", gen);
    rt_reply_t rep;
    int rc = ed_acct_ask (req, AC_TYPE_USER, uid, USER_SESSION_REFRESH, e.sb.data, e.sb.size,
                          NULL, &rep);
    ac_enc_free (&e);
    if (rc) {
        ed_reply_rt_error (req, rc);
        return;
    }
    if (rep.status == 401) {
        /*  A session already gone, or a replay of a replaced token: then
            the actor has just revoked the session, and its access tokens
            stop here at once. */
        ac_map_t *m = ac_map_decode (rep.body, rep.body_len);
        int64_t revoked = 0;
        if (m && ac_map_int (m, "revoked", &revoked) && revoked) {
            ed_sessions_end (req, sid);
            ed_admin_flag (req, "refresh_reuse", uid, "a replaced refresh token was replayed");
        }
        ac_map_destroy (&m);
        rt_reply_free (&rep);
        ed_reply_problem (req, ED_P_UNAUTHORIZED, "invalid refresh token; the session is revoked");
        return;
    }
    s_answer_pair (req, 200, uid, sid, &rep);
}

void
ed_sessions_list (ed_req_t *req)
{
    rt_reply_t rep;
    int rc = ed_acct_read (req, AC_TYPE_USER, ed_req_user (req), USER_SESSIONS, NULL, 0, &rep);
    if (rc) {
        ed_reply_rt_error (req, rc);
        return;
    }
    ac_map_t *m = rep.status == 200 ? ac_map_decode (rep.body, rep.body_len) : NULL;
    size_t len = 0;
    const uint8_t *packed = m ? ac_map_bin (m, "sessions", &len) : NULL;
    json_t *items = json_array ();
    for (size_t off = 0; packed && off + AC_SESSION_LIST_ITEM <= len; off += AC_SESSION_LIST_ITEM) {
        const uint8_t *q = packed + off;
        char id[33] = "", dev[129] = "", created[32], seen[32];
        memcpy (id, q, 32);
        memcpy (dev, q + 32, 128);
        int64_t cms = 0, sms = 0;
        for (int i = 0; i < 8; i++) {
            cms = (cms << 8) | q[160 + i];
            sms = (sms << 8) | q[168 + i];
        }
        ac_time_rfc3339 (cms, created);
        ac_time_rfc3339 (sms, seen);
        json_array_append_new (items, json_pack ("{s:s, s:s, s:s, s:s, s:b}", "id", id,
                                                 "device_name", dev, "created_at", created,
                                                 "last_seen_at", seen,
                                                 "current", !strcmp (id, ed_req_session (req))));
    }
    ac_map_destroy (&m);
    rt_reply_free (&rep);
    /*  At most AC_USER_SESSIONS_MAX: whole unless a limit is asked for. */
    ed_reply_list (req, items);
}

void
ed_sessions_revoke (ed_req_t *req)
{
    const char *sid = ed_req_capture (req, "id");
    /*  Only the caller's own sessions are ever looked at (the ask goes to
        the caller's user actor): another user's session id is a 404. */
    if (!s_id_ok (sid, strlen (sid), "ses_")) {
        ed_reply_problem (req, ED_P_NOT_FOUND, NULL);
        return;
    }
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 1);
    ac_enc_str (&e, "session_id", sid);
    rt_reply_t rep;
    int rc = ed_acct_ask (req, AC_TYPE_USER, ed_req_user (req), USER_SESSION_REVOKE, e.sb.data,
                          e.sb.size, NULL, &rep);
    ac_enc_free (&e);
    int status = rep.status;
    rt_reply_free (&rep);
    if (rc) {
        ed_reply_rt_error (req, rc);
        return;
    }
    if (status != 204) {
        ed_reply_problem (req, ED_P_NOT_FOUND, NULL);
        return;
    }
    ed_sessions_end (req, sid);
    ed_reply_bytes (req, 204, "application/json", "", 0);
}

/*  When the last access token issued until now expires. */
static int64_t
s_last_token_expiry (ed_req_t *req)
{
    return rt_now_ms () + (int64_t) ed_server_options (ed_req_server (req))->jwt.ttl_s * 1000;
}

/*  The session and its user's status from the user's state. */
static int
s_check_state (ed_req_t *req, char status[16])
{
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 1);
    ac_enc_str (&e, "session_id", ed_req_session (req));
    rt_reply_t rep = { 0 };
    int rc = ed_acct_read (req, AC_TYPE_USER, ed_req_user (req), USER_SESSION_CHECK, e.sb.data,
                           e.sb.size, &rep);
    ac_enc_free (&e);
    int live = rc ? 503 : rep.status == 200 ? 200 : rep.status == 404 ? 401 : 503;
    ac_map_t *m = live == 200 ? ac_map_decode (rep.body, rep.body_len) : NULL;
    const char *st = m ? ac_map_str (m, "status") : NULL;
    snprintf (status, 16, "%s", st ? st : "unknown");
    ac_map_destroy (&m);
    rt_reply_free (&rep);
    return live;
}

int
ed_sessions_check (ed_req_t *req, char status[16])
{
    /*  The session's index entry answers in one LMDB get; without one
        (ended, or older than the index) the state decides. */
    int live = ed_acct_user_status (req, ed_req_user (req), ed_req_session (req), status)
             ? 200 : s_check_state (req, status);
    /*  Remembered until the last token the session could have had before
        now has expired: newer tokens are not checked at all. */
    if (live == 200)
        ed_revoked_live (ed_server_revoked (ed_req_server (req)), ed_req_session (req),
                         s_last_token_expiry (req));
    else if (live == 401)
        ed_sessions_end (req, ed_req_session (req));
    return live;
}

void
ed_sessions_end (ed_req_t *req, const char *sid)
{
    ed_revoked_add (ed_server_revoked (ed_req_server (req)), sid, s_last_token_expiry (req));
}
