/*  =========================================================================
    ed_jwt.h - access tokens: JWT HS256, algorithm pinned

    Header {"alg":"HS256","typ":"at+jwt"}; claims iss, aud, sub (user id),
    sid (session id), role, iat, exp, jti. Verification checks the HMAC
    first in constant time, then requires exactly that header ("none",
    HS384/512 and RS-confusion tokens are refused whatever they claim), and
    iss, aud, exp, nbf. (Not libjwt: see ed_jwt.c.)
    =========================================================================
*/
#ifndef ED_JWT_H_INCLUDED
#define ED_JWT_H_INCLUDED
#include <stddef.h>
#include <stdint.h>

/*  Tokens are a few hundred bytes; anything longer is refused unparsed. */
#define ED_JWT_MAX 2048

/*  Verified tokens remembered per thread (see ed_jwt.c), and the longest
    remembered (ours are about 330 bytes): 64 x 0.6 KB per edge thread. */
#define ED_JWT_CACHE_SLOTS     64
#define ED_JWT_CACHE_TOKEN_MAX 512

typedef struct {
    char    sub[40];
    char    sid[40];
    char    role[8];
    int64_t iat;                /* 0 when absent */
    int64_t exp;
} ed_claims_t;

typedef struct {
    const uint8_t *key;         /* HMAC key, >= 32 bytes */
    size_t         key_len;
    const char    *issuer;
    const char    *audience;
    uint32_t       ttl_s;
} ed_jwt_conf_t;

/*  An access token (malloc'd string) or NULL, issued at iat_s; jti NULL
    for a random one. The same arguments give the same token. */
char *ed_jwt_issue (const ed_jwt_conf_t *conf, const char *sub, const char *sid,
                    const char *role, int64_t iat_s, const char *jti);

/*  0 and *out when token is valid at now_s; -1 otherwise (one answer for
    every reason: the caller says 401). Successes are remembered per
    thread until the token's exp. */
int ed_jwt_verify (const ed_jwt_conf_t *conf, const char *token, int64_t now_s,
                   ed_claims_t *out);

#endif
