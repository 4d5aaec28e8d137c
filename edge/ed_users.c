/*  =========================================================================
    ed_users.c - registration

    POST /v1/users: normalise the email, hash the password (argon2id, at
    most ED_HASHES_MAX at once: each takes 19 MiB and ~50 ms of a core),
    claim the email with the email actor (idempotency key, if any, rides
    on that ask), then create the user directly so the client can read its
    own write at once (the claim also sends the create through the outbox,
    which covers a crash in between).
    =========================================================================
*/
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "ed_users.h"
#include "ed_server.h"
#include "ed_mp.h"
#include "actors/ac_types.h"
#include "actors/ac_codec.h"
#include "runtime/rt_error.h"

/*  Concurrent password hashes per node: argon2id with OWASP's parameters
    (19 MiB, 2 passes) costs tens of ms of one core and 19 MiB each, so a
    registration or login storm is queued here (and refused with 503 after
    ED_HASH_WAIT_MS) instead of exhausting memory. */
#define ED_HASHES_MAX    4
#define ED_HASH_WAIT_MS  2000
#define ED_PWHASH_OPS    2
#define ED_PWHASH_MEM    (19u << 20)

static sem_t s_hash_slots;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void
s_init (void)
{
    sem_init (&s_hash_slots, 0, ED_HASHES_MAX);
}

const ed_field_t ed_users_create_schema[] = {
    { .name = "email", .type = ED_T_STRING, .required = true, .min = 3, .max = 254 },
    { .name = "password", .type = ED_T_STRING, .required = true, .min = 10, .max = 128 },
    { .name = "name", .type = ED_T_STRING, .required = true, .min = 1, .max = 100 },
    { .name = "phone", .type = ED_T_STRING, .nullable = true, .min = 0, .max = 32 },
    { NULL },
};

/*  Trim and lower-case (ASCII; a non-ASCII local part is kept as sent).
    Returns false when it is not name@domain. */
static bool
s_normalize_email (const char *in, char *out, size_t size)
{
    while (isspace ((unsigned char) *in))
        in++;
    size_t n = strlen (in);
    while (n && isspace ((unsigned char) in[n - 1]))
        n--;
    if (n == 0 || n >= size)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) in[i];
        if (c < 0x21 || c == 0x7f)
            return false;       /* no spaces or controls inside an address */
        out[i] = (char) tolower (c);
    }
    out[n] = 0;
    const char *at = strrchr (out, '@');
    return at && at != out && at[1] && strchr (at + 1, '.') && at == strchr (out, '@');
}

/*  The email actor's key: "em_" + 48 hex digits of SHA-256 of the address
    (addresses reach 254 bytes; actor keys stop at 64). */
static void
s_email_key (const char *email, char key[56])
{
    uint8_t h[32];
    crypto_hash_sha256 (h, (const uint8_t *) email, strlen (email));
    memcpy (key, "em_", 3);
    sodium_bin2hex (key + 3, 49, h, 24);
}

static bool
s_hash_password (const char *pw, char out[crypto_pwhash_STRBYTES])
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    ts.tv_sec += ED_HASH_WAIT_MS / 1000;
    while (sem_timedwait (&s_hash_slots, &ts) != 0)
        if (errno != EINTR)
            return false;
    int rc = crypto_pwhash_str_alg (out, pw, strlen (pw), ED_PWHASH_OPS, ED_PWHASH_MEM,
                                    crypto_pwhash_ALG_ARGON2ID13);
    sem_post (&s_hash_slots);
    return rc == 0;
}

static bool
s_is_admin (ed_req_t *req, const char *email)
{
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    for (size_t i = 0; o->admin_emails && o->admin_emails[i]; i++)
        if (!strcmp (o->admin_emails[i], email))
            return true;
    return false;
}

static int
s_ask (ed_req_t *req, uint16_t type, const char *key, uint16_t msg, const void *body,
       size_t len, bool idem, const char *scope, rt_reply_t *rep)
{
    rt_request_t r = {
        .to_type = type, .to_key = key, .to_key_len = strlen (key), .msg_type = msg,
        .body = body, .body_len = len, .traceparent = ed_req_traceparent (req),
    };
    if (idem && ed_req_idem_key (req)) {
        r.idem_scope = scope;
        r.idem_key = ed_req_idem_key (req);
        r.fingerprint = ed_req_fingerprint (req);
    }
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    return rt_ask (ed_req_runtime (req), &r, (int) o->ask_timeout_ms, rep);
}

void
ed_users_create (ed_req_t *req)
{
    pthread_once (&s_once, s_init);
    json_t *body = ed_req_body (req);
    char email[256];
    if (!s_normalize_email (json_string_value (json_object_get (body, "email")), email, sizeof email)) {
        ed_verr_t e = { "email", "is not a valid email address" };
        ed_reply_invalid (req, &e, 1);
        return;
    }
    char ekey[56];
    s_email_key (email, ekey);
    rt_reply_t rep;
    int rc;
    if (!ed_req_idem_key (req)) {
        /*  A taken address is refused before the expensive hash. With an
            Idempotency-Key the claim must answer (it may be a replay). */
        rc = s_ask (req, AC_TYPE_EMAIL, ekey, EMAIL_LOOKUP, NULL, 0, false, NULL, &rep);
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
    if (!s_hash_password (json_string_value (json_object_get (body, "password")), hash)) {
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
    rc = s_ask (req, AC_TYPE_EMAIL, ekey, EMAIL_CLAIM, claim.sb.data, claim.sb.size,
                    true, "anonymous POST /v1/users", &rep);
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
    rc = s_ask (req, AC_TYPE_USER, owner_id, strcmp (owner_id, uid) ? USER_GET : USER_CREATE,
                create.sb.data, create.sb.size, false, NULL, &rep);
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
