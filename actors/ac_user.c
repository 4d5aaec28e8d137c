/*  =========================================================================
    ac_user.c - the user actor: profile, password hash, role, status

    Created by USER_CREATE, which the email claim sends durably through the
    outbox (so a crash between claim and create still ends with the user)
    and the edge also sends directly (so the registering client can read its
    own write at once). Create is therefore idempotent: a second create of
    an existing user changes nothing and answers 200 with the user.
    =========================================================================
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ac_types.h"
#include "ac_codec.h"

/*  One session, packed big-endian into the state's "sessions" bin. The
    refresh secret of generation g is HMAC(key, session id, g), computed
    by the edge: the actor keeps only which generation is current and when
    it was rotated, so no secret (nor hash of one) is ever stored. */
typedef struct {
    char    id[32];
    char    device[128];
    int64_t created_ms;
    int64_t last_seen_ms;
    int64_t gen;                /* current refresh generation, >= 1 */
    int64_t rotated_ms;         /* when gen last moved (grace window) */
} session_t;

#define SESSION_PACKED (32 + 128 + 8 + 8 + 8 + 8)

typedef struct {
    bool    exists;
    char    id[32];
    char    email[256];
    char    name[404];          /* 100 code points, up to 4 bytes each */
    char    phone[40];
    char    city[404];
    char    avatar_url[2048];
    char    role[8];
    char    status[16];
    int64_t created_ms;
    char    password_hash[160];  /* crypto_pwhash_STRBYTES is 128 */
    session_t sessions[AC_USER_SESSIONS_MAX];
    size_t  nsessions;
    int64_t active_listings;    /* kept by the listings' deltas */
} user_t;

static void
s_put64 (uint8_t *p, int64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t) ((uint64_t) v >> (56 - 8 * i));
}

static int64_t
s_get64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return (int64_t) v;
}

static void
s_pack_sessions (const user_t *u, uint8_t *out)
{
    for (size_t i = 0; i < u->nsessions; i++) {
        uint8_t *p = out + i * SESSION_PACKED;
        const session_t *s = &u->sessions[i];
        memcpy (p, s->id, 32);
        memcpy (p + 32, s->device, 128);
        s_put64 (p + 160, s->created_ms);
        s_put64 (p + 168, s->last_seen_ms);
        s_put64 (p + 176, s->gen);
        s_put64 (p + 184, s->rotated_ms);
    }
}

static bool
s_unpack_sessions (user_t *u, const uint8_t *in, size_t len)
{
    if (len % SESSION_PACKED || len / SESSION_PACKED > AC_USER_SESSIONS_MAX)
        return false;
    u->nsessions = len / SESSION_PACKED;
    for (size_t i = 0; i < u->nsessions; i++) {
        const uint8_t *p = in + i * SESSION_PACKED;
        session_t *s = &u->sessions[i];
        memcpy (s->id, p, 32);
        memcpy (s->device, p + 32, 128);
        s->id[31] = s->device[127] = 0;
        s->created_ms = s_get64 (p + 160);
        s->last_seen_ms = s_get64 (p + 168);
        s->gen = s_get64 (p + 176);
        s->rotated_ms = s_get64 (p + 184);
    }
    return true;
}

void
ac_time_rfc3339 (int64_t ms, char out[32])
{
    time_t s = (time_t) (ms / 1000);
    struct tm tm;
    gmtime_r (&s, &tm);
    size_t n = strftime (out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (out + n, 32 - n, ".%03dZ", (int) ((ms % 1000 + 1000) % 1000));
}

static void *
s_new (const rt_addr_t *addr)
{
    (void) addr;
    return calloc (1, sizeof (user_t));
}

static bool
s_copy (char *dst, size_t size, const char *src)
{
    if (!src)
        return true;            /* absent: keep what is there */
    size_t n = strlen (src);
    if (n >= size)
        return false;
    memcpy (dst, src, n + 1);
    return true;
}

/*  Fill u from a map (state or create body); false when malformed. */
static bool
s_fill (user_t *u, ac_map_t *m, uint16_t version)
{
    int64_t created = 0;
    bool ok = s_copy (u->id, sizeof u->id, ac_map_str (m, "id"))
           && s_copy (u->email, sizeof u->email, ac_map_str (m, "email"))
           && s_copy (u->name, sizeof u->name, ac_map_str (m, "name"))
           && s_copy (u->phone, sizeof u->phone, ac_map_str (m, "phone"))
           && s_copy (u->city, sizeof u->city, ac_map_str (m, "city"))
           && s_copy (u->avatar_url, sizeof u->avatar_url, ac_map_str (m, "avatar_url"))
           && s_copy (u->role, sizeof u->role, ac_map_str (m, "role"))
           && s_copy (u->status, sizeof u->status, ac_map_str (m, "status"))
           && s_copy (u->password_hash, sizeof u->password_hash, ac_map_str (m, "password_hash"))
           && ac_map_int (m, "created_ms", &created);
    u->created_ms = created;
    int64_t active = 0;
    ac_map_int (m, "active_listings", &active);     /* absent before listings */
    u->active_listings = active;
    size_t slen = 0;
    const void *sess = ac_map_bin (m, "sessions", &slen);
    /*  Version 1 kept refresh-secret hashes, which version 2 does without:
        those sessions are dropped (their users log in again). */
    if (version >= 2 && sess && !s_unpack_sessions (u, sess, slen))
        return false;
    return ok && u->id[0] && u->email[0] && u->password_hash[0];
}

static void *
s_decode (const rt_addr_t *addr, uint16_t version, const uint8_t *buf, size_t len)
{
    (void) addr;
    if (version < 1 || version > 2)
        return NULL;
    ac_map_t *m = ac_map_decode (buf, len);
    user_t *u = m ? calloc (1, sizeof *u) : NULL;
    if (u && !s_fill (u, m, version)) {
        free (u);
        u = NULL;
    }
    if (u)
        u->exists = true;
    ac_map_destroy (&m);
    return u;
}

static int
s_encode (const void *state, rt_buf_t *out)
{
    const user_t *u = state;
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 12);
    ac_enc_str (&e, "id", u->id);
    ac_enc_str (&e, "email", u->email);
    ac_enc_str (&e, "name", u->name);
    ac_enc_str (&e, "phone", u->phone);
    ac_enc_str (&e, "city", u->city);
    ac_enc_str (&e, "avatar_url", u->avatar_url);
    ac_enc_str (&e, "role", u->role);
    ac_enc_str (&e, "status", u->status);
    ac_enc_int (&e, "created_ms", u->created_ms);
    ac_enc_str (&e, "password_hash", u->password_hash);
    uint8_t packed[AC_USER_SESSIONS_MAX * SESSION_PACKED];
    s_pack_sessions (u, packed);
    ac_enc_bin (&e, "sessions", packed, u->nsessions * SESSION_PACKED);
    ac_enc_int (&e, "active_listings", u->active_listings);
    int rc = ac_enc_to_buf (&e, out);
    ac_enc_free (&e);
    return rc;
}

/*  The private view (API.md: the body of POST /v1/users, GET /v1/me):
    a map of 9 + extra pairs, the caller appending its extra ones. Empty
    optional fields are null. Never the password hash. */
static void
s_enc_user (ac_enc_t *e, const user_t *u, size_t extra)
{
    char created[32];
    ac_time_rfc3339 (u->created_ms, created);
    ac_enc_map (e, 9 + extra);
    ac_enc_str (e, "id", u->id);
    ac_enc_str (e, "email", u->email);
    ac_enc_str (e, "name", u->name);
    ac_enc_str (e, "phone", u->phone[0] ? u->phone : NULL);
    ac_enc_str (e, "city", u->city[0] ? u->city : NULL);
    ac_enc_str (e, "avatar_url", u->avatar_url[0] ? u->avatar_url : NULL);
    ac_enc_str (e, "role", u->role);
    ac_enc_str (e, "status", u->status);
    ac_enc_str (e, "created_at", created);
}

static void
s_reply_user (rt_ctx_t *ctx, int status, const user_t *u)
{
    ac_enc_t e;
    ac_enc_init (&e);
    s_enc_user (&e, u, 0);
    rt_ctx_reply (ctx, status, e.sb.data, e.sb.size);
    ac_enc_free (&e);
}

static void
s_create (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    user_t *u = state;
    if (u->exists) {
        s_reply_user (ctx, 200, u);
        return;
    }
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    user_t fresh = { 0 };
    const rt_addr_t *self = rt_ctx_self (ctx);
    bool ok = m && s_fill (&fresh, m, 2) && strlen (fresh.id) == self->len
              && !memcmp (fresh.id, self->key, self->len);
    ac_map_destroy (&m);
    if (!ok) {
        rt_ctx_reject (ctx, 422, NULL, 0);
        return;
    }
    fresh.exists = true;
    if (!fresh.role[0])
        strcpy (fresh.role, "user");
    strcpy (fresh.status, "active");
    *u = fresh;
    rt_ctx_changed (ctx);
    s_reply_user (ctx, 201, u);
}

static void
s_get (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    (void) msg;
    user_t *u = state;
    if (!u->exists) {
        rt_ctx_reject (ctx, 404, NULL, 0);
        return;
    }
    s_reply_user (ctx, 200, u);
}

/*  For the edge's password check only: the hash never leaves the node's
    edge (no route renders this reply). */
static void
s_auth (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    (void) msg;
    user_t *u = state;
    if (!u->exists) {
        rt_ctx_reject (ctx, 404, NULL, 0);
        return;
    }
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 3);
    ac_enc_str (&e, "password_hash", u->password_hash);
    ac_enc_str (&e, "status", u->status);
    ac_enc_str (&e, "role", u->role);
    rt_ctx_reject (ctx, 200, e.sb.data, e.sb.size);    /* not kept under a key */
    ac_enc_free (&e);
}

static session_t *
s_find_session (user_t *u, const char *sid)
{
    for (size_t i = 0; i < u->nsessions; i++)
        if (!strcmp (u->sessions[i].id, sid))
            return &u->sessions[i];
    return NULL;
}

static void
s_drop_session (user_t *u, session_t *s)
{
    *s = u->sessions[--u->nsessions];
}

static void
s_reply_gen (rt_ctx_t *ctx, const user_t *u, const session_t *s, const char *dropped)
{
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, dropped ? 4 : 3);
    if (dropped)
        ac_enc_str (&e, "dropped", dropped);
    ac_enc_int (&e, "gen", s->gen);
    ac_enc_int (&e, "rotated_ms", s->rotated_ms);
    ac_enc_str (&e, "role", u->role);
    /*  Not stored under an idempotency key: it leads to secrets. */
    rt_ctx_reject (ctx, 200, e.sb.data, e.sb.size);
    ac_enc_free (&e);
}

static void
s_session_create (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    user_t *u = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const char *sid = m ? ac_map_str (m, "session_id") : NULL;
    const char *dev = m ? ac_map_str (m, "device_name") : NULL;
    if (!u->exists || !sid || !dev || strlen (sid) >= 32 || strlen (dev) >= 128
        || s_find_session (u, sid)) {
        ac_map_destroy (&m);
        rt_ctx_reject (ctx, u->exists ? 422 : 404, NULL, 0);
        return;
    }
    char dropped[32] = "";
    if (u->nsessions == AC_USER_SESSIONS_MAX) {
        /*  Drop the least recently used session to make room; its id goes
            back so the edge refuses its access tokens at once. */
        size_t old = 0;
        for (size_t i = 1; i < u->nsessions; i++)
            if (u->sessions[i].last_seen_ms < u->sessions[old].last_seen_ms)
                old = i;
        strcpy (dropped, u->sessions[old].id);
        s_drop_session (u, &u->sessions[old]);
    }
    session_t *s = &u->sessions[u->nsessions++];
    memset (s, 0, sizeof *s);
    strcpy (s->id, sid);
    strcpy (s->device, dev);
    s->created_ms = s->last_seen_ms = s->rotated_ms = rt_ctx_now_ms (ctx);
    s->gen = 1;
    ac_map_destroy (&m);
    rt_ctx_changed (ctx);
    s_reply_gen (ctx, u, s, dropped[0] ? dropped : NULL);
}

/*  Presented generation g of session sid (its secret already checked by
    the edge): g current -> rotate; g the one just replaced, within the
    grace window -> the same answer as the rotation gave; anything else is
    a replay of an old token: the session is revoked. */
static void
s_session_refresh (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    user_t *u = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const char *sid = m ? ac_map_str (m, "session_id") : NULL;
    int64_t g = 0;
    session_t *s = u->exists && sid && m && ac_map_int (m, "gen", &g) ? s_find_session (u, sid) : NULL;
    ac_map_destroy (&m);
    int64_t now = rt_ctx_now_ms (ctx);
    if (!s || !strcmp (u->status, "banned")) {
        rt_ctx_reject (ctx, 401, NULL, 0);
        return;
    }
    if (g == s->gen) {
        s->gen++;
        s->rotated_ms = s->last_seen_ms = now;
        rt_ctx_changed (ctx);
        s_reply_gen (ctx, u, s, NULL);
        return;
    }
    if (g == s->gen - 1 && now - s->rotated_ms <= AC_REFRESH_GRACE_MS) {
        s_reply_gen (ctx, u, s, NULL);
        return;
    }
    s_drop_session (u, s);
    rt_ctx_changed (ctx);
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 1);
    ac_enc_int (&e, "revoked", 1);
    rt_ctx_reject (ctx, 401, e.sb.data, e.sb.size);
    ac_enc_free (&e);
}

static void
s_sessions (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    (void) msg;
    user_t *u = state;
    uint8_t packed[AC_USER_SESSIONS_MAX * AC_SESSION_LIST_ITEM];
    for (size_t i = 0; i < u->nsessions; i++) {
        uint8_t *p = packed + i * AC_SESSION_LIST_ITEM;
        memcpy (p, u->sessions[i].id, 32);
        memcpy (p + 32, u->sessions[i].device, 128);
        s_put64 (p + 160, u->sessions[i].created_ms);
        s_put64 (p + 168, u->sessions[i].last_seen_ms);
    }
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 1);
    ac_enc_bin (&e, "sessions", packed, u->nsessions * AC_SESSION_LIST_ITEM);
    rt_ctx_reject (ctx, 200, e.sb.data, e.sb.size);
    ac_enc_free (&e);
}

static void
s_session_revoke (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    user_t *u = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const char *sid = m ? ac_map_str (m, "session_id") : NULL;
    session_t *s = u->exists && sid ? s_find_session (u, sid) : NULL;
    ac_map_destroy (&m);
    if (!s) {
        rt_ctx_reject (ctx, 404, NULL, 0);
        return;
    }
    s_drop_session (u, s);
    rt_ctx_changed (ctx);
    rt_ctx_reply (ctx, 204, NULL, 0);
}

/*  Is this session still there? The edge asks once per session for tokens
    issued before it started (its revoked set may have been lost). */
static void
s_session_check (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    user_t *u = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const char *sid = m ? ac_map_str (m, "session_id") : NULL;
    bool live = u->exists && sid && s_find_session (u, sid);
    ac_map_destroy (&m);
    if (!live) {
        rt_ctx_reject (ctx, 404, NULL, 0);
        return;
    }
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 1);
    ac_enc_str (&e, "status", u->status);
    rt_ctx_reject (ctx, 200, e.sb.data, e.sb.size);
    ac_enc_free (&e);
}

/*  An admin's decision. Banning also ends every session (their ids go back
    to the edge, which refuses their access tokens at once). */
static void
s_set_status (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    user_t *u = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const char *st = m ? ac_map_str (m, "status") : NULL;
    bool ok = st && (!strcmp (st, "active") || !strcmp (st, "restricted") || !strcmp (st, "banned"));
    if (!u->exists || !ok) {
        ac_map_destroy (&m);
        rt_ctx_reject (ctx, u->exists ? 422 : 404, NULL, 0);
        return;
    }
    strcpy (u->status, st);
    ac_map_destroy (&m);
    uint8_t ids[AC_USER_SESSIONS_MAX * 32];
    size_t n = 0;
    if (!strcmp (u->status, "banned")) {
        for (size_t i = 0; i < u->nsessions; i++)
            memcpy (ids + 32 * n++, u->sessions[i].id, 32);
        u->nsessions = 0;
    }
    rt_ctx_changed (ctx);
    ac_enc_t e;
    ac_enc_init (&e);
    s_enc_user (&e, u, 1);
    ac_enc_bin (&e, "revoked", ids, 32 * n);       /* bin: never rendered */
    rt_ctx_reply (ctx, 200, e.sb.data, e.sb.size);
    ac_enc_free (&e);
}

/*  Fields a user may change about themselves; everything else (role,
    status, email, id) is refused by the edge's schema before it gets here,
    and ignored here if it ever did. */
static void
s_patch (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    user_t *u = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    if (!u->exists || !m) {
        ac_map_destroy (&m);
        rt_ctx_reject (ctx, u->exists ? 422 : 404, NULL, 0);
        return;
    }
    struct { const char *key; char *dst; size_t size; } f[] = {
        { "name", u->name, sizeof u->name }, { "phone", u->phone, sizeof u->phone },
        { "city", u->city, sizeof u->city }, { "avatar_url", u->avatar_url, sizeof u->avatar_url },
    };
    user_t next = *u;           /* all or nothing */
    bool ok = true;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        char *dst = (char *) &next + (f[i].dst - (char *) u);
        const char *v = ac_map_str (m, f[i].key);
        if (v && strlen (v) < f[i].size)
            strcpy (dst, v);
        else if (ac_map_is_nil (m, f[i].key))
            dst[0] = 0;         /* null clears (the name cannot be cleared: below) */
        else if (ac_map_has (m, f[i].key))
            ok = false;         /* present, but not a string that fits */
    }
    ac_map_destroy (&m);
    if (!ok || !next.name[0]) {
        rt_ctx_reject (ctx, 422, NULL, 0);
        return;
    }
    *u = next;
    rt_ctx_changed (ctx);
    s_reply_user (ctx, 200, u);
}

static void
s_public (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    (void) msg;
    user_t *u = state;
    if (!u->exists || !strcmp (u->status, "banned")) {
        rt_ctx_reject (ctx, 404, NULL, 0);
        return;
    }
    char created[32];
    ac_time_rfc3339 (u->created_ms, created);
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 6);
    ac_enc_str (&e, "id", u->id);
    ac_enc_str (&e, "name", u->name);
    ac_enc_str (&e, "city", u->city[0] ? u->city : NULL);
    ac_enc_str (&e, "avatar_url", u->avatar_url[0] ? u->avatar_url : NULL);
    ac_enc_str (&e, "created_at", created);
    ac_enc_int (&e, "active_listings", u->active_listings);
    rt_ctx_reply (ctx, 200, e.sb.data, e.sb.size);
    ac_enc_free (&e);
}

/*  A new listing by this user: checked here (the user's status is the
    truth), then created by a durable message, so the listing exists once
    this answer is stored. With an Idempotency-Key the answer is stored,
    and a retry gets the first listing id, not a second listing. */
/*  Nothing to keep but the answer: the runtime stores it under the
    request's Idempotency-Key in this same turn. */
static void
s_recon_new (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    user_t *u = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const char *id = m ? ac_map_str (m, "id") : NULL;
    if (!u->exists || !id || strlen (id) >= 32) {
        ac_map_destroy (&m);
        rt_ctx_reject (ctx, u->exists ? 422 : 404, NULL, 0);
        return;
    }
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 1);
    ac_enc_str (&e, "reconciliation_id", id);
    ac_map_destroy (&m);
    rt_ctx_reply (ctx, 200, e.sb.data, e.sb.size);
    ac_enc_free (&e);
}

static void
s_listing_new (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    user_t *u = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const char *lid = m ? ac_map_str (m, "id") : NULL;
    const char *seller = m ? ac_map_str (m, "seller_id") : NULL;
    bool ok = lid && seller && !strcmp (seller, u->id) && strlen (lid) < 32;
    char id[32] = "";
    if (ok)
        strcpy (id, lid);
    ac_map_destroy (&m);
    if (!u->exists || !ok) {
        rt_ctx_reject (ctx, u->exists ? 422 : 404, NULL, 0);
        return;
    }
    if (strcmp (u->status, "active")) {
        rt_ctx_reject (ctx, 403, NULL, 0);
        return;
    }
    if (rt_ctx_send (ctx, AC_TYPE_LISTING, id, strlen (id), LISTING_CREATE, msg->body,
                     msg->body_len))
        return;                 /* the turn fails as a whole */
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 1);
    ac_enc_str (&e, "listing_id", id);
    rt_ctx_reply (ctx, 200, e.sb.data, e.sb.size);
    ac_enc_free (&e);
}

static void
s_listings_delta (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    user_t *u = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    int64_t d = 0;
    bool ok = m && ac_map_int (m, "delta", &d) && (d == 1 || d == -1);
    ac_map_destroy (&m);
    if (!u->exists || !ok)
        return;
    u->active_listings += d;
    if (u->active_listings < 0)
        u->active_listings = 0;     /* never shown negative; cannot happen */
    rt_ctx_changed (ctx);
}

size_t
ac_user_ix_key (uint8_t k[AC_USER_IX_KEY_MAX], const char *user, const char *sid)
{
    size_t ulen = strlen (user), slen = sid ? strlen (sid) : 0;
    if (ulen > RT_KEY_MAX || slen >= 32)
        return 0;
    k[0] = 'U';
    k[1] = sid ? 's' : 'x';
    size_t n = 2;
    if (sid)
        k[n++] = (uint8_t) ulen;    /* so that no user + session is another's */
    memcpy (k + n, user, ulen);
    if (slen)
        memcpy (k + n + ulen, sid, slen);
    return n + ulen + slen;
}

/*  The entries the edge reads on every request (ac_types.h): kept in the
    same commit as the state, so they say exactly what USER_SESSION_CHECK
    and USER_PUBLIC would. */
static void
s_index (const rt_addr_t *addr, const void *state, rt_index_emit_fn *emit, void *sink)
{
    (void) addr;
    const user_t *u = state;
    if (!u->exists)
        return;
    uint8_t k[AC_USER_IX_KEY_MAX];
    size_t st = strlen (u->status), n = ac_user_ix_key (k, u->id, NULL);
    if (n)
        emit (sink, k, n, u->status, st);
    for (size_t i = 0; i < u->nsessions; i++)
        if ((n = ac_user_ix_key (k, u->id, u->sessions[i].id)))
            emit (sink, k, n, u->status, st);
}

const rt_type_def_t ac_user_type = {
    .name = "user",
    .state_version = 2,
    .state_new = s_new,
    .state_decode = s_decode,
    .state_encode = s_encode,
    .state_free = free,
    .handlers = { [USER_CREATE] = s_create, [USER_GET] = s_get, [USER_AUTH] = s_auth,
                  [USER_SESSION_CREATE] = s_session_create, [USER_PATCH] = s_patch,
                  [USER_PUBLIC] = s_public, [USER_SESSION_REFRESH] = s_session_refresh,
                  [USER_SESSIONS] = s_sessions, [USER_SESSION_REVOKE] = s_session_revoke,
                  [USER_SET_STATUS] = s_set_status, [USER_SESSION_CHECK] = s_session_check,
                  [USER_LISTING_NEW] = s_listing_new, [USER_LISTINGS_DELTA] = s_listings_delta,
                  [USER_RECON_NEW] = s_recon_new },
    .reads = 1ull << USER_GET | 1ull << USER_AUTH | 1ull << USER_PUBLIC | 1ull << USER_SESSIONS
             | 1ull << USER_SESSION_CHECK,
    .index = s_index,
};
