/*  =========================================================================
    ed_users.c - registration and the caller's own profile

    POST /v1/users: normalise the email, hash the password (argon2id,
    bounded: ed_acct.c),
    claim the email with the email actor (idempotency key, if any, rides
    on that ask), then create the user directly so the client can read its
    own write at once (the claim also sends the create through the outbox,
    which covers a crash in between).
    =========================================================================
*/
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "ed_users.h"
#include "ed_server.h"
#include "ed_mp.h"
#include "ed_acct.h"
#include "actors/ac_types.h"
#include "actors/ac_codec.h"
#include "runtime/rt_error.h"


static bool
s_is_admin (ed_req_t *req, const char *email)
{
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    for (size_t i = 0; o->admin_emails && o->admin_emails[i]; i++)
        if (!strcmp (o->admin_emails[i], email))
            return true;
    return false;
}

void
ed_users_create (ed_req_t *req)
{
    json_t *body = ed_req_body (req);
    char email[256];
    if (!ed_acct_normalize_email (json_string_value (json_object_get (body, "email")), email, sizeof email)) {
        ed_verr_t e = { "email", "is not a valid email address" };
        ed_reply_invalid (req, &e, 1);
        return;
    }
    char ekey[56];
    ed_acct_email_key (email, ekey);
    rt_reply_t rep;
    int rc;
    if (!ed_req_idem_key (req)) {
        /*  A taken address is refused before the expensive hash. With an
            Idempotency-Key the claim must answer (it may be a replay). */
        rc = ed_acct_read (req, AC_TYPE_EMAIL, ekey, EMAIL_LOOKUP, NULL, 0, &rep);
        int status = rep.status;
        rt_reply_free (&rep);
        if (rc) {
            ed_reply_rt_error (req, rc);
            return;
        }
        if (status == 200) {
            ed_reply_problem (req, ED_P_CONFLICT, "this email is already registered");
            return;
        }
    }
    char hash[crypto_pwhash_STRBYTES];
    if (!ed_acct_hash (json_string_value (json_object_get (body, "password")), hash)) {
        ed_reply_problem (req, ED_P_UNAVAILABLE, "too many password hashes in progress");
        return;
    }
    char uid[32];
    ed_id_new ("usr_", uid);
    const char *phone = json_string_value (json_object_get (body, "phone"));
    ac_enc_t create;
    ac_enc_init (&create);
    ac_enc_map (&create, 7);
    ac_enc_str (&create, "id", uid);
    ac_enc_str (&create, "email", email);
    ac_enc_str (&create, "name", json_string_value (json_object_get (body, "name")));
    ac_enc_str (&create, "phone", phone ? phone : "");
    ac_enc_str (&create, "role", s_is_admin (req, email) ? "admin" : "user");
    ac_enc_int (&create, "created_ms", rt_now_ms ());
    ac_enc_str (&create, "password_hash", hash);
    sodium_memzero (hash, sizeof hash);

    ac_enc_t claim;
    ac_enc_init (&claim);
    ac_enc_map (&claim, 3);
    ac_enc_str (&claim, "email", email);
    ac_enc_str (&claim, "user_id", uid);
    ac_enc_bin (&claim, "create", create.sb.data, create.sb.size);
    rc = ed_acct_ask (req, AC_TYPE_EMAIL, ekey, EMAIL_CLAIM, claim.sb.data, claim.sb.size,
                      "anonymous POST /v1/users", &rep);
    ac_enc_free (&claim);
    if (rc) {
        ac_enc_free (&create);
        ed_reply_rt_error (req, rc);
        return;
    }
    int claim_status = rep.status;
    bool replayed = rep.replayed;
    ac_map_t *m = ac_map_decode (rep.body, rep.body_len);
    const char *owner = m ? ac_map_str (m, "user_id") : NULL;
    char owner_id[32] = "";
    if (owner && strlen (owner) < sizeof owner_id)
        strcpy (owner_id, owner);
    ac_map_destroy (&m);
    rt_reply_free (&rep);
    if (claim_status == 409) {
        ac_enc_free (&create);
        ed_reply_problem (req, ED_P_CONFLICT, "this email is already registered");
        return;
    }
    if ((claim_status != 201 && claim_status != 200) || !owner_id[0]) {
        ac_enc_free (&create);
        ed_reply_problem (req, ED_P_INTERNAL, "unexpected answer from the email claim");
        return;
    }
    /*  On a replay the user exists already (its id is owner_id, not uid);
        the create is then a no-op that returns it. */
    rc = ed_acct_ask (req, AC_TYPE_USER, owner_id, strcmp (owner_id, uid) ? USER_GET : USER_CREATE,
                      create.sb.data, create.sb.size, NULL, &rep);
    ac_enc_free (&create);
    if (rc) {
        ed_reply_rt_error (req, rc);
        return;
    }
    json_t *user = ed_mp_to_json (rep.body, rep.body_len);
    bool ok = user && (rep.status == 200 || rep.status == 201);
    rt_reply_free (&rep);
    if (!ok) {
        json_decref (user);
        /*  The outbox create has not landed yet on a replay after a crash:
            the client may retry. */
        ed_reply_problem (req, ED_P_UNAVAILABLE, "the account is still being created");
        return;
    }
    if (replayed)
        ed_reply_header (req, "Idempotency-Replayed", "true");
    char loc[64];
    snprintf (loc, sizeof loc, "/v1/users/%s", owner_id);
    ed_reply_header (req, "Location", loc);
    ed_reply_json (req, 201, user);
}

static void s_reply_user (ed_req_t *req, int rc, rt_reply_t *rep);

void
ed_users_me (ed_req_t *req)
{
    rt_reply_t rep;
    int rc = ed_acct_read (req, AC_TYPE_USER, ed_req_user (req), USER_GET, NULL, 0, &rep);
    s_reply_user (req, rc, &rep);
}


/*  The answer of a user actor as JSON, or the matching problem. */
static void
s_reply_user (ed_req_t *req, int rc, rt_reply_t *rep)
{
    if (rc) {
        ed_reply_rt_error (req, rc);
        return;
    }
    size_t n = 0;
    char *user = rep->status == 200 ? ed_mp_to_text (rep->body, rep->body_len, &n) : NULL;
    int status = rep->status;
    rt_reply_free (rep);
    if (user) {
        ed_reply_bytes (req, 200, "application/json", user, n);
        free (user);
        return;
    }
    if (status == 422)
        ed_reply_problem (req, ED_P_VALIDATION, NULL);
    else
        ed_reply_problem (req, ED_P_NOT_FOUND, NULL);
}

void
ed_users_patch_me (ed_req_t *req)
{
    json_t *body = ed_req_body (req);
    const char *avatar = json_string_value (json_object_get (body, "avatar_url"));
    if (avatar && *avatar && strncmp (avatar, "https://", 8) && strncmp (avatar, "http://", 7)) {
        ed_verr_t e = { "avatar_url", "must be an http or https URL" };
        ed_reply_invalid (req, &e, 1);
        return;
    }
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, json_object_size (body));
    const char *key;
    json_t *val;
    json_object_foreach (body, key, val)
        ac_enc_str (&e, key, json_string_value (val));      /* null -> nil: clear */
    char scope[64];
    snprintf (scope, sizeof scope, "%s PATCH /v1/me", ed_req_user (req));
    rt_reply_t rep;
    int rc = ed_acct_ask (req, AC_TYPE_USER, ed_req_user (req), USER_PATCH, e.sb.data,
                          e.sb.size, scope, &rep);
    ac_enc_free (&e);
    if (!rc && rep.replayed)
        ed_reply_header (req, "Idempotency-Replayed", "true");
    s_reply_user (req, rc, &rep);
}

void
ed_users_public (ed_req_t *req)
{
    const char *id = ed_req_capture (req, "id");
    /*  Only well-formed ids reach an actor: anything else cannot exist,
        and must not activate one. */
    if (!ed_id_valid ("usr_", id)) {
        ed_reply_problem (req, ED_P_NOT_FOUND, NULL);
        return;
    }
    rt_reply_t rep;
    int rc = ed_acct_read (req, AC_TYPE_USER, id, USER_PUBLIC, NULL, 0, &rep);
    s_reply_user (req, rc, &rep);
}
