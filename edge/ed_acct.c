/*  ed_acct.c - account helpers shared by registration and login */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <time.h>
#include "ed_acct.h"
#include "ed_mp.h"
#include "ed_server.h"
#include "actors/ac_types.h"

/*  Concurrent password hashes per node: argon2id with OWASP's parameters
    (19 MiB, 2 passes) costs ~21 ms of a core here (measured) and 19 MiB
    each, so a registration or login storm waits here (503 after
    ED_HASH_WAIT_MS) instead of exhausting memory. */
#define ED_HASHES_MAX    4
#define ED_HASH_WAIT_MS  2000
#define ED_PWHASH_OPS    2
#define ED_PWHASH_MEM    (19u << 20)

static sem_t s_slots;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static char s_dummy[crypto_pwhash_STRBYTES];

static void
s_init (void)
{
    sem_init (&s_slots, 0, ED_HASHES_MAX);
    /*  A real hash to verify against for unknown emails. */
    if (crypto_pwhash_str_alg (s_dummy, "not a password", 14, ED_PWHASH_OPS, ED_PWHASH_MEM,
                               crypto_pwhash_ALG_ARGON2ID13))
        s_dummy[0] = 0;
}

static bool
s_take (void)
{
    pthread_once (&s_once, s_init);
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    ts.tv_sec += ED_HASH_WAIT_MS / 1000;
    while (sem_timedwait (&s_slots, &ts) != 0)
        if (errno != EINTR)
            return false;
    return true;
}

bool
ed_acct_hash (const char *pw, char out[crypto_pwhash_STRBYTES])
{
    if (!s_take ())
        return false;
    int rc = crypto_pwhash_str_alg (out, pw, strlen (pw), ED_PWHASH_OPS, ED_PWHASH_MEM,
                                    crypto_pwhash_ALG_ARGON2ID13);
    sem_post (&s_slots);
    return rc == 0;
}

int
ed_acct_verify (const char *hash, const char *pw)
{
    if (!s_take ())
        return -1;
    int rc = crypto_pwhash_str_verify (hash ? hash : s_dummy, pw, strlen (pw));
    sem_post (&s_slots);
    return hash && rc == 0 ? 1 : 0;
}

bool
ed_acct_normalize_email (const char *in, char *out, size_t size)
{
    if (!in)
        return false;
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

void
ed_acct_email_key (const char *email, char key[56])
{
    uint8_t h[32];
    crypto_hash_sha256 (h, (const uint8_t *) email, strlen (email));
    memcpy (key, "em_", 3);
    sodium_bin2hex (key + 3, 49, h, 24);
}

int
ed_acct_ask (ed_req_t *req, uint16_t type, const char *key, uint16_t msg, const void *body,
             size_t len, const char *idem_scope, rt_reply_t *rep)
{
    rt_request_t r = {
        .to_type = type, .to_key = key, .to_key_len = strlen (key), .msg_type = msg,
        .body = body, .body_len = len, .traceparent = ed_req_traceparent (req),
    };
    if (idem_scope && ed_req_idem_key (req)) {
        r.idem_scope = idem_scope;
        r.idem_key = ed_req_idem_key (req);
        r.fingerprint = ed_req_fingerprint (req);
    }
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    return rt_ask (ed_req_runtime (req), &r, (int) o->ask_timeout_ms, rep);
}

int
ed_acct_read (ed_req_t *req, uint16_t type, const char *key, uint16_t msg, const void *body,
              size_t len, rt_reply_t *rep)
{
    rt_request_t r = {
        .to_type = type, .to_key = key, .to_key_len = strlen (key), .msg_type = msg,
        .body = body, .body_len = len, .traceparent = ed_req_traceparent (req),
    };
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    return rt_read (ed_req_runtime (req), &r, (int) o->ask_timeout_ms, rep);
}

int
ed_acct_user_visible (ed_req_t *req, const char *id)
{
    if (!ed_id_valid ("usr_", id))
        return 0;
    char st[16];
    if (ed_acct_user_status (req, id, NULL, st))
        return strcmp (st, "banned") != 0;     /* as USER_PUBLIC would answer */
    rt_reply_t rep;
    int rc = ed_acct_read (req, AC_TYPE_USER, id, USER_PUBLIC, NULL, 0, &rep);
    if (rc)
        return rc;
    int status = rep.status;
    rt_reply_free (&rep);
    return status == 200;
}

bool
ed_acct_user_status (ed_req_t *req, const char *user, const char *sid, char status[16])
{
    uint8_t k[AC_USER_IX_KEY_MAX];
    size_t n = ac_user_ix_key (k, user, sid), vlen = 0;
    char v[16];
    if (!n || rt_index_read (ed_req_runtime (req), AC_TYPE_USER, user, strlen (user), k, n, v,
                             sizeof v, &vlen)
        || vlen == 0 || vlen >= sizeof v)
        return false;
    memcpy (status, v, vlen);
    status[vlen] = 0;
    return true;
}

int
ed_acct_anchor (ed_req_t *req, uint16_t type, const char *key, uint16_t msg, const void *body,
                size_t len, const char *scope, const char *field, char first[32], bool *replayed)
{
    rt_reply_t rep;
    first[0] = 0;
    int rc = ed_acct_ask (req, type, key, msg, body, len, scope, &rep);
    if (rc)
        return rc;
    *replayed = rep.replayed;
    int status = rep.status;
    if (status == 200 && !ed_mp_field (rep.body, rep.body_len, field, NULL, first, 32))
        first[0] = 0;
    rt_reply_free (&rep);
    return status == 200 && !first[0] ? 500 : status;
}

void
ed_acct_anchor_failed (ed_req_t *req, int status)
{
    if (status < 0)
        ed_reply_rt_error (req, status);
    else
        ed_reply_problem (req, status == 422 ? ED_P_VALIDATION : ED_P_INTERNAL, NULL);
}

void
ed_acct_enc_caller (ac_enc_t *e, ed_req_t *req, size_t extra)
{
    ac_enc_init (e);
    ac_enc_map (e, 2 + extra);
    ac_enc_str (e, "caller", ed_req_user (req));
    ac_enc_str (e, "role", ed_req_role (req));
}
