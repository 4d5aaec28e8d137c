/*  =========================================================================
    ed_sessions.c - login

    POST /v1/sessions: find the user by email, verify the password
    (argon2id, bounded), record a session with the SHA-256 of a new refresh
    secret, and answer an access token (JWT) and the refresh token. Unknown
    email and wrong password get the same 401 after the same work.

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
    int rc = ed_acct_ask (req, AC_TYPE_EMAIL, ekey, EMAIL_LOOKUP, NULL, 0, NULL, &rep);
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
    if (ed_acct_normalize_email (json_string_value (json_object_get (body, "email")), email,
                                 sizeof email))
        rc = s_lookup (req, email, uid, sizeof uid);
    if (rc) {
        ed_reply_rt_error (req, rc);
        return;
    }
    if (uid[0]) {
        rt_reply_t rep;
        rc = ed_acct_ask (req, AC_TYPE_USER, uid, USER_AUTH, NULL, 0, NULL, &rep);
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
        s_unauthorized (req);
        return;
    }
    if (!strcmp (status, "banned")) {
        ed_reply_problem (req, ED_P_FORBIDDEN, "this account is banned");
        return;
    }
    char sid[40];
    ed_id_new ("ses_", sid);
    uint8_t secret[32], digest[32];
    randombytes_buf (secret, sizeof secret);
    crypto_hash_sha256 (digest, secret, sizeof secret);
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 3);
    ac_enc_str (&e, "session_id", sid);
    ac_enc_str (&e, "device_name", json_string_value (json_object_get (body, "device_name")));
    ac_enc_bin (&e, "refresh_hash", digest, sizeof digest);
    rt_reply_t rep;
    rc = ed_acct_ask (req, AC_TYPE_USER, uid, USER_SESSION_CREATE, e.sb.data, e.sb.size, NULL, &rep);
    int st = rep.status;
    rt_reply_free (&rep);
    ac_enc_free (&e);
    if (rc || st != 201) {
        sodium_memzero (secret, sizeof secret);
        if (rc)
            ed_reply_rt_error (req, rc);
        else
            ed_reply_problem (req, ED_P_INTERNAL, "session not recorded");
        return;
    }
    /*  Refresh token: <user>.<session>.<secret>, opaque to clients; the
        node keeps only the secret's hash. */
    char b64[sodium_base64_ENCODED_LEN (32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64 (b64, sizeof b64, secret, sizeof secret, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero (secret, sizeof secret);
    char refresh[160];
    snprintf (refresh, sizeof refresh, "%s.%s.%s", uid, sid, b64);
    sodium_memzero (b64, sizeof b64);
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    char *access = ed_jwt_issue (&o->jwt, uid, sid, role, rt_now_ms () / 1000);
    if (!access) {
        sodium_memzero (refresh, sizeof refresh);
        ed_reply_problem (req, ED_P_INTERNAL, "token not issued");
        return;
    }
    ed_reply_header (req, "Cache-Control", "no-store");
    ed_reply_json (req, 201, json_pack ("{s:s, s:s, s:s, s:I, s:s, s:s}",
                                        "access_token", access, "refresh_token", refresh,
                                        "token_type", "Bearer",
                                        "expires_in", (json_int_t) o->jwt.ttl_s,
                                        "session_id", sid, "user_id", uid));
    sodium_memzero (refresh, sizeof refresh);
    sodium_memzero (access, strlen (access));
    free (access);
}
