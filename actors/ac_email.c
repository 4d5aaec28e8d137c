/*  =========================================================================
    ac_email.c - the email claim actor: one per normalized email address

    Keyed by a hash of the address, so registration is unique cluster-wide
    without a global lock: the one actor for that address decides, one
    message at a time. The winning claim sends USER_CREATE through the
    outbox in the same commit, so the user exists even if the node dies
    right after.
    =========================================================================
*/
#include <stdlib.h>
#include <string.h>
#include "ac_types.h"
#include "ac_codec.h"

typedef struct {
    char user_id[32];           /* empty: unclaimed */
} email_t;

static void *
s_new (const rt_addr_t *addr)
{
    (void) addr;
    return calloc (1, sizeof (email_t));
}

static void *
s_decode (const rt_addr_t *addr, uint16_t version, const uint8_t *buf, size_t len)
{
    (void) addr;
    ac_map_t *m = version == 1 ? ac_map_decode (buf, len) : NULL;
    const char *id = m ? ac_map_str (m, "user_id") : NULL;
    email_t *e = id && strlen (id) < sizeof e->user_id ? calloc (1, sizeof *e) : NULL;
    if (e)
        strcpy (e->user_id, id);
    ac_map_destroy (&m);
    return e;
}

static int
s_encode (const void *state, rt_buf_t *out)
{
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 1);
    ac_enc_str (&e, "user_id", ((const email_t *) state)->user_id);
    int rc = ac_enc_to_buf (&e, out);
    ac_enc_free (&e);
    return rc;
}

static void
s_reply (rt_ctx_t *ctx, int status, const char *user_id)
{
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 1);
    ac_enc_str (&e, "user_id", user_id);
    rt_ctx_reply (ctx, status, e.sb.data, e.sb.size);
    ac_enc_free (&e);
}

static void
s_claim (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    email_t *e = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const char *uid = m ? ac_map_str (m, "user_id") : NULL;
    size_t clen = 0;
    const void *create = m ? ac_map_bin (m, "create", &clen) : NULL;
    if (!uid || !create || strlen (uid) >= sizeof e->user_id) {
        ac_map_destroy (&m);
        rt_ctx_reject (ctx, 422, NULL, 0);
        return;
    }
    if (e->user_id[0]) {
        /*  Taken. Not stored under the idempotency key: the answer is about
            the address, and stays true. */
        if (strcmp (e->user_id, uid))
            rt_ctx_reject (ctx, 409, NULL, 0);
        else
            s_reply (ctx, 200, uid);
        ac_map_destroy (&m);
        return;
    }
    strcpy (e->user_id, uid);
    rt_ctx_changed (ctx);
    rt_ctx_send (ctx, AC_TYPE_USER, uid, strlen (uid), USER_CREATE, create, clen);
    s_reply (ctx, 201, uid);
    ac_map_destroy (&m);
}

static void
s_lookup (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    (void) msg;
    email_t *e = state;
    if (e->user_id[0])
        s_reply (ctx, 200, e->user_id);
    else
        rt_ctx_reject (ctx, 404, NULL, 0);
}

const rt_type_def_t ac_email_type = {
    .name = "email",
    .state_version = 1,
    .state_new = s_new,
    .state_decode = s_decode,
    .state_encode = s_encode,
    .state_free = free,
    .handlers = { [EMAIL_CLAIM] = s_claim, [EMAIL_LOOKUP] = s_lookup },
    .reads = 1ull << EMAIL_LOOKUP,
};
