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
};

/*  email messages */
enum {
    EMAIL_CLAIM = 1,        /* body {email, user_id, create: bin}; 201 or 409 */
    EMAIL_LOOKUP = 2,       /* reply {user_id} 200, or 404 when unclaimed */
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

/*  Register every domain type with the runtime. */
int ac_register_all (rt_runtime_t *rt);

/*  RFC 3339 UTC with milliseconds, "2026-11-24T21:09:00.000Z" (25 bytes). */
void ac_time_rfc3339 (int64_t ms, char out[32]);

#endif
