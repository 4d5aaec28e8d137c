/*  =========================================================================
    ac_flags.c - the review queue of fraud and abuse flags

    One actor ("review"): flags are rare (a throttled login, a replayed
    refresh token), so one queue is no hot spot, and one place makes the
    admin's list a single read. The newest AC_FLAGS_MAX are kept.
    =========================================================================
*/
#include <stdlib.h>
#include <string.h>
#include "ac_types.h"
#include "ac_codec.h"

typedef struct {
    uint8_t items[AC_FLAGS_MAX][AC_FLAG_PACKED];    /* oldest first */
    size_t  n;
} flags_t;

static void *
s_new (const rt_addr_t *addr)
{
    (void) addr;
    return calloc (1, sizeof (flags_t));
}

static void *
s_decode (const rt_addr_t *addr, uint16_t version, const uint8_t *buf, size_t len)
{
    (void) addr;
    ac_map_t *m = version == 1 ? ac_map_decode (buf, len) : NULL;
    size_t blen = 0;
    const uint8_t *b = m ? ac_map_bin (m, "items", &blen) : NULL;
    flags_t *f = NULL;
    if (b && blen % AC_FLAG_PACKED == 0 && blen / AC_FLAG_PACKED <= AC_FLAGS_MAX
        && (f = calloc (1, sizeof *f))) {
        memcpy (f->items, b, blen);
        f->n = blen / AC_FLAG_PACKED;
    }
    ac_map_destroy (&m);
    return f;
}

static int
s_encode (const void *state, rt_buf_t *out)
{
    const flags_t *f = state;
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 1);
    ac_enc_bin (&e, "items", f->items, f->n * AC_FLAG_PACKED);
    int rc = ac_enc_to_buf (&e, out);
    ac_enc_free (&e);
    return rc;
}

static void
s_put_str (uint8_t *dst, size_t size, const char *s)
{
    memset (dst, 0, size);
    if (s)
        memcpy (dst, s, strnlen (s, size - 1));
}

static void
s_add (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    flags_t *f = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const char *kind = m ? ac_map_str (m, "kind") : NULL;
    if (!kind) {
        ac_map_destroy (&m);
        rt_ctx_reject (ctx, 422, NULL, 0);
        return;
    }
    if (f->n == AC_FLAGS_MAX) {
        memmove (f->items[0], f->items[1], (AC_FLAGS_MAX - 1) * AC_FLAG_PACKED);
        f->n--;
    }
    uint8_t *p = f->items[f->n++];
    s_put_str (p, 32, kind);
    s_put_str (p + 32, 32, ac_map_str (m, "user_id"));
    s_put_str (p + 64, 128, ac_map_str (m, "detail"));
    int64_t now = rt_ctx_now_ms (ctx);
    for (int i = 0; i < 8; i++)
        p[192 + i] = (uint8_t) ((uint64_t) now >> (56 - 8 * i));
    ac_map_destroy (&m);
    rt_ctx_changed (ctx);
    rt_ctx_reply (ctx, 204, NULL, 0);
}

static void
s_list (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    (void) msg;
    flags_t *f = state;
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 1);
    ac_enc_bin (&e, "items", f->items, f->n * AC_FLAG_PACKED);
    rt_ctx_reject (ctx, 200, e.sb.data, e.sb.size);
    ac_enc_free (&e);
}

const rt_type_def_t ac_flags_type = {
    .name = "flags",
    .state_version = 1,
    .state_new = s_new,
    .state_decode = s_decode,
    .state_encode = s_encode,
    .state_free = free,
    .handlers = { [FLAGS_ADD] = s_add, [FLAGS_LIST] = s_list },
    .reads = 1ull << FLAGS_LIST,
};
