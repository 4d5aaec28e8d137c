/*  ed_jwt.c - access tokens: JWT HS256, algorithm pinned */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <sodium.h>
#include <pthread.h>
#include "ed_jwt.h"

/*  Built and checked here with libsodium (HMAC-SHA256, constant-time
    compare) and jansson rather than libjwt: Debian 12's libjwt 1.10 writes
    "typ":"JWT" on every token and refuses to decode any other typ, while
    API.md (RFC 9068) requires "at+jwt". */
static char *
s_b64 (const void *p, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN (n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc (cap);
    if (out)
        sodium_bin2base64 (out, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

char *
ed_jwt_issue (const ed_jwt_conf_t *conf, const char *sub, const char *sid,
              const char *role, int64_t now_s, const char *jti_in)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}";
    uint8_t jti_raw[16];
    char jti[33];
    randombytes_buf (jti_raw, sizeof jti_raw);
    sodium_bin2hex (jti, sizeof jti, jti_raw, sizeof jti_raw);
    if (jti_in)
        snprintf (jti, sizeof jti, "%s", jti_in);
    json_t *claims = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}",
                                "iss", conf->issuer, "aud", conf->audience, "sub", sub,
                                "sid", sid, "role", role, "jti", jti,
                                "iat", (json_int_t) now_s,
                                "exp", (json_int_t) (now_s + conf->ttl_s));
    char *payload = claims ? json_dumps (claims, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref (claims);
    char *h = s_b64 (header, sizeof header - 1);
    char *c = payload ? s_b64 (payload, strlen (payload)) : NULL;
    free (payload);
    char *out = NULL;
    if (h && c) {
        size_t signing_len = strlen (h) + 1 + strlen (c);
        char *signing = malloc (signing_len + 1);
        if (signing) {
            sprintf (signing, "%s.%s", h, c);
            uint8_t mac[crypto_auth_hmacsha256_BYTES];
            crypto_auth_hmacsha256_state st;
            crypto_auth_hmacsha256_init (&st, conf->key, conf->key_len);
            crypto_auth_hmacsha256_update (&st, (const uint8_t *) signing, signing_len);
            crypto_auth_hmacsha256_final (&st, mac);
            char *sig = s_b64 (mac, sizeof mac);
            if (sig && (out = malloc (signing_len + 2 + strlen (sig))))
                sprintf (out, "%s.%s", signing, sig);
            free (sig);
            free (signing);
        }
    }
    free (h);
    free (c);
    return out;
}

static int
s_copy (char *dst, size_t size, const char *src)
{
    if (!src || !*src || strlen (src) >= size)
        return -1;
    strcpy (dst, src);
    return 0;
}

/*  base64url (no padding) part of a token into a jansson object. */
static json_t *
s_part (const char *p, size_t n)
{
    uint8_t buf[ED_JWT_MAX];
    size_t len = 0;
    if (sodium_base642bin (buf, sizeof buf - 1, p, n, NULL, &len, NULL,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING))
        return NULL;
    json_error_t err;
    json_t *o = json_loadb ((const char *) buf, len, JSON_REJECT_DUPLICATES, &err);
    if (o && !json_is_object (o)) {
        json_decref (o);
        o = NULL;
    }
    return o;
}

static bool
s_str_is (json_t *o, const char *key, const char *want)
{
    const char *v = json_string_value (json_object_get (o, key));
    return v && !strcmp (v, want);
}

static int
s_verify (const ed_jwt_conf_t *conf, const char *token, int64_t now_s, ed_claims_t *out)
{
    const char *d1 = strchr (token, '.'), *d2 = d1 ? strchr (d1 + 1, '.') : NULL;
    if (!d1 || !d2 || !d2[1] || strchr (d2 + 1, '.'))
        return -1;              /* three parts, the signature non-empty */
    /*  Signature first, in constant time: nothing of an unsigned token is
        even parsed. */
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    size_t maclen = 0;
    if (sodium_base642bin (mac, sizeof mac, d2 + 1, strlen (d2 + 1), NULL, &maclen, NULL,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING) || maclen != sizeof mac)
        return -1;
    crypto_auth_hmacsha256_state st;
    uint8_t want[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init (&st, conf->key, conf->key_len);
    crypto_auth_hmacsha256_update (&st, (const uint8_t *) token, (size_t) (d2 - token));
    crypto_auth_hmacsha256_final (&st, want);
    if (sodium_memcmp (mac, want, sizeof mac) != 0)
        return -1;
    json_t *hdr = s_part (token, (size_t) (d1 - token));
    json_t *cl = s_part (d1 + 1, (size_t) (d2 - d1 - 1));
    int rc = -1;
    json_t *exp = cl ? json_object_get (cl, "exp") : NULL;
    json_t *nbf = cl ? json_object_get (cl, "nbf") : NULL;
    /*  Pinned: exactly the algorithm and type we issue. */
    if (hdr && cl && json_object_size (hdr) == 2
        && s_str_is (hdr, "alg", "HS256") && s_str_is (hdr, "typ", "at+jwt")
        && s_str_is (cl, "iss", conf->issuer) && s_str_is (cl, "aud", conf->audience)
        && json_is_integer (exp) && now_s < json_integer_value (exp)
        && (!nbf || (json_is_integer (nbf) && now_s >= json_integer_value (nbf)))
        && !s_copy (out->sub, sizeof out->sub, json_string_value (json_object_get (cl, "sub")))
        && !s_copy (out->sid, sizeof out->sid, json_string_value (json_object_get (cl, "sid")))
        && !s_copy (out->role, sizeof out->role, json_string_value (json_object_get (cl, "role")))) {
        out->exp = json_integer_value (exp);
        json_t *iat = json_object_get (cl, "iat");
        out->iat = json_is_integer (iat) ? json_integer_value (iat) : 0;
        rc = 0;
    }
    json_decref (hdr);
    json_decref (cl);
    return rc;
}

/* ---- verified tokens, per thread --------------------------------------------

    A client sends the same access token for up to its whole life, and
    verifying it (base64, HMAC, two JSON parses) is most of the CPU an
    authenticated read costs. Each thread remembers the tokens it verified
    in a small direct-mapped table. A hit compares the whole token: the
    signed part (public: base64 of the header and claims) with memcmp, the
    signature in constant time (and the slot is a keyed hash, so nobody can
    aim a token at a slot); it checks exp against now again: a cached token expires exactly
    when it would have. Only successes are cached; revocation is checked
    after this, on every request. */

typedef struct {
    const ed_jwt_conf_t *conf;
    size_t      len;
    ed_claims_t claims;
    char        token[ED_JWT_CACHE_TOKEN_MAX];
} cached_t;

static __thread cached_t *s_cache;          /* ED_JWT_CACHE_SLOTS, or NULL */
static pthread_key_t s_cache_key;
static uint8_t s_hash_key[crypto_shorthash_KEYBYTES];
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void
s_init (void)
{
    randombytes_buf (s_hash_key, sizeof s_hash_key);
    pthread_key_create (&s_cache_key, free);    /* freed when the thread ends */
}

static cached_t *
s_slot (const char *token, size_t n)
{
    pthread_once (&s_once, s_init);
    if (!s_cache) {
        s_cache = calloc (ED_JWT_CACHE_SLOTS, sizeof *s_cache);
        if (!s_cache)
            return NULL;
        pthread_setspecific (s_cache_key, s_cache);
    }
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash (h, (const uint8_t *) token, n, s_hash_key);
    return &s_cache[h[0] % ED_JWT_CACHE_SLOTS];
}

int
ed_jwt_verify (const ed_jwt_conf_t *conf, const char *token, int64_t now_s, ed_claims_t *out)
{
    size_t n = token ? strlen (token) : 0;
    if (!token || n > ED_JWT_MAX)
        return -1;
    cached_t *c = n < ED_JWT_CACHE_TOKEN_MAX ? s_slot (token, n) : NULL;
    const char *sig = strrchr (token, '.');
    size_t signed_len = sig ? (size_t) (sig - token) : n;
    if (c && c->conf == conf && c->len == n && !memcmp (c->token, token, signed_len)
        && !sodium_memcmp (c->token + signed_len, token + signed_len, n - signed_len)) {
        if (now_s >= c->claims.exp)
            return -1;
        *out = c->claims;
        return 0;
    }
    if (s_verify (conf, token, now_s, out))
        return -1;
    if (c) {
        c->conf = conf;
        c->len = n;
        c->claims = *out;
        memcpy (c->token, token, n);
    }
    return 0;
}
