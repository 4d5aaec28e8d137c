/*  =========================================================================
    ac_types.h - the domain actor types and their message numbers

    Type ids are on the wire and in every LMDB key: never renumber. Type 1
    is the counter test actor (tests/support), never linked into bin/pasar.
    =========================================================================
*/
#ifndef AC_TYPES_H_INCLUDED
#define AC_TYPES_H_INCLUDED
#include "runtime/rt_runtime.h"

enum {
    AC_TYPE_USER  = 2,      /* key: usr_...: profile, credentials, status */
    AC_TYPE_EMAIL = 3,      /* key: em_<hash of normalized email>: who owns it */
    AC_TYPE_FLAGS = 4,      /* key: "review": the admin review queue */
    AC_TYPE_LISTING = 5,    /* key: lst_...: one ad listing */
};

/*  user messages */
enum {
    USER_CREATE = 1,        /* body: the user's fields; idempotent per id */
    USER_GET    = 2,        /* reply: the private view, or 404 */
    USER_AUTH   = 3,        /* reply {password_hash, status, role}: edge only */
    USER_SESSION_CREATE = 4,/* body {session_id, device_name}; 200 {gen,
                               rotated_ms, role, dropped?: the session
                               removed to stay within AC_USER_SESSIONS_MAX} */
    USER_PATCH  = 5,        /* body: any of name, phone, city, avatar_url (nil
                               clears); reply: the private view */
    USER_PUBLIC = 6,        /* reply: the public profile, or 404 */
    USER_SESSION_REFRESH = 7,/* body {session_id, gen}: 200 {gen, rotated_ms,
                               role} (rotated, or the grace answer); 401
                               {revoked} on reuse (the session is removed) */
    USER_SESSIONS = 8,      /* reply {sessions: bin of packed sessions} */
    USER_SESSION_REVOKE = 9,/* body {session_id}: 204, or 404 */
    USER_SET_STATUS = 10,   /* body {status}: 200 {user..., revoked: bin of
                               session ids (32 bytes each) when banned} */
    USER_SESSION_CHECK = 11,/* body {session_id}: 200 {status} while the
                               session exists, else 404 (read-only) */
    USER_LISTING_NEW = 12,  /* body: a LISTING_CREATE body; sends it to the
                               listing durably, 200 {listing_id}; 403 when
                               the user may not post. The anchor of the
                               create's Idempotency-Key (a retry gets the
                               first listing id back) */
    USER_LISTINGS_DELTA = 13,/* body {delta}: active_listings += delta (the
                               listing's outbox: exactly once) */
};

/*  email messages */
enum {
    EMAIL_CLAIM = 1,        /* body {email, user_id, create: bin}; 201 or 409 */
    EMAIL_LOOKUP = 2,       /* reply {user_id} 200, or 404 when unclaimed */
};

/*  listing messages. Writes carry {caller, role} from the verified token;
    the actor decides who may (the seller; an admin may delete). */
enum {
    LISTING_CREATE = 1,     /* body: id, seller_id, title, description,
                               category, amount, currency, city, province,
                               images (bin: NUL-ended URLs), condition,
                               created_ms, expires_ms. 201 listing; 200 when
                               it exists already (a retry); 404 if deleted */
    LISTING_GET    = 2,     /* reply: the listing, or 404 (none, deleted) */
    LISTING_PATCH  = 3,     /* body: caller, role, if_match?, any create
                               field, status (active|sold) */
    LISTING_DELETE = 4,     /* body: caller, role: 204 */
    LISTING_RENEW  = 5,     /* body: caller, role, expires_ms: 200 listing */
    LISTING_EXPIRE = 6,     /* the "expire" reminder */
    LISTING_RESERVE = 7,    /* body {order_id}: 200, or 409 when not active
                               or already reserved (orders) */
    LISTING_RELEASE = 8,    /* body {order_id, sold: 0|1}: 200 */
};

/*  Sessions kept per user: the oldest is dropped (its tokens then fail)
    when a new login would exceed it. Bounds the user's state. */
#define AC_USER_SESSIONS_MAX 32

/*  How long the refresh token just replaced still answers (with the same
    new pair: a client that lost the response can retry). API.md: 30 s. */
#define AC_REFRESH_GRACE_MS 30000

/*  A session as USER_SESSIONS packs it: [id:32][device:128][created:8]
    [last_seen:8] big-endian, NUL-padded strings. */
#define AC_SESSION_LIST_ITEM (32 + 128 + 8 + 8)

/*  flags messages */
enum {
    FLAGS_ADD  = 1,         /* body {kind, user_id, detail}: 204 */
    FLAGS_LIST = 2,         /* reply {items: bin of packed flags} */
};

/*  Flags kept for review: the newest, up to this many (a review queue, not
    an archive; the state stays far under RT_STATE_MAX_BYTES). */
#define AC_FLAGS_MAX 500
/*  A flag as FLAGS_LIST packs it: [kind:32][user_id:32][detail:128][ms:8]. */
#define AC_FLAG_PACKED (32 + 32 + 128 + 8)

extern const rt_type_def_t ac_flags_type;
extern const rt_type_def_t ac_user_type;
extern const rt_type_def_t ac_email_type;
extern const rt_type_def_t ac_listing_type;

/*  Register every domain type with the runtime. */
int ac_register_all (rt_runtime_t *rt);

/*  Money (API.md): whole rupiah, IDR only, 0..10^13. */
#define AC_CURRENCY "IDR"
#define AC_MONEY_MAX 10000000000000LL

/*  RFC 3339 UTC with milliseconds, "2026-11-24T21:09:00.000Z" (25 bytes). */
void ac_time_rfc3339 (int64_t ms, char out[32]);

#endif
