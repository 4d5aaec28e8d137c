/*  ac_codec.c - msgpack maps for actor message bodies and states */
#include <stdlib.h>
#include <string.h>
#include "ac_codec.h"
#include "runtime/rt_error.h"

/*  Fields per body or state map: our entities have a few dozen at most. */
#define AC_MAP_FIELDS_MAX 64

void
ac_enc_init (ac_enc_t *e)
{
    msgpack_sbuffer_init (&e->sb);
    msgpack_packer_init (&e->pk, &e->sb, msgpack_sbuffer_write);
}

void ac_enc_free (ac_enc_t *e) { msgpack_sbuffer_destroy (&e->sb); }
void ac_enc_map (ac_enc_t *e, size_t pairs) { msgpack_pack_map (&e->pk, pairs); }

void
ac_enc_key (ac_enc_t *e, const char *key)
{
    size_t n = strlen (key);
    msgpack_pack_str (&e->pk, n);
    msgpack_pack_str_body (&e->pk, key, n);
}

void
ac_enc_strn (ac_enc_t *e, const char *key, const char *val, size_t len)
{
    ac_enc_key (e, key);
    if (!val) {
        msgpack_pack_nil (&e->pk);
        return;
    }
    msgpack_pack_str (&e->pk, len);
    msgpack_pack_str_body (&e->pk, val, len);
}

void
ac_enc_str (ac_enc_t *e, const char *key, const char *val)
{
    ac_enc_strn (e, key, val, val ? strlen (val) : 0);
}

void
ac_enc_int (ac_enc_t *e, const char *key, int64_t val)
{
    ac_enc_key (e, key);
    msgpack_pack_int64 (&e->pk, val);
}

void
ac_enc_bin (ac_enc_t *e, const char *key, const void *val, size_t len)
{
    ac_enc_key (e, key);
    msgpack_pack_bin (&e->pk, len);
    msgpack_pack_bin_body (&e->pk, val, len);
}

int
ac_enc_to_buf (ac_enc_t *e, rt_buf_t *out)
{
    return rt_buf_append (out, e->sb.data, e->sb.size);
}

void
ac_enc_reply (rt_ctx_t *ctx, int status, ac_enc_t *e)
{
    rt_ctx_reply (ctx, status, e->sb.data, e->sb.size);
    ac_enc_free (e);
}

void
ac_refuse (rt_ctx_t *ctx, int status, const char *detail)
{
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 1);
    ac_enc_str (&e, "detail", detail);
    rt_ctx_reject (ctx, status, e.sb.data, e.sb.size);
    ac_enc_free (&e);
}

int
ac_answer_result (rt_ctx_t *ctx, uint16_t type, const char *ref, int op, bool ok)
{
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 3);
    ac_enc_str (&e, "ref", ref);
    ac_enc_int (&e, "op", op);
    ac_enc_int (&e, "ok", ok);
    int rc = rt_ctx_receipt (ctx, type, e.sb.data, e.sb.size);
    ac_enc_free (&e);
    return rc;
}

void
ac_ulid (const char *prefix, uint64_t ms, const uint8_t rnd[10], char *out)
{
    static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    uint8_t bytes[16];
    for (int i = 0; i < 6; i++)
        bytes[i] = (uint8_t) (ms >> (40 - 8 * i));
    memcpy (bytes + 6, rnd, 10);
    size_t p = strlen (prefix);
    memcpy (out, prefix, p);
    /*  128 bits as 26 base32 digits, most significant first (the top digit
        holds 3 bits). */
    for (int d = 0; d < 26; d++) {
        int bit = 128 - 5 * (26 - d);   /* first bit of this digit; negative = padding */
        unsigned v = 0;
        for (int b = 0; b < 5; b++) {
            int k = bit + b;
            v <<= 1;
            if (k >= 0)
                v |= (bytes[k / 8] >> (7 - k % 8)) & 1;
        }
        out[p + (size_t) d] = b32[v];
    }
    out[p + 26] = 0;
}

/* ---- reading ------------------------------------------------------------------- */

typedef struct {
    char       *key;
    msgpack_object_type type;
    char       *str;            /* str: NUL-terminated copy */
    const void *raw;            /* str/bin bytes inside the unpacked zone */
    size_t      raw_len;
    int64_t     i;
} ac_field_t;

struct ac_map {
    msgpack_unpacked up;
    ac_field_t f[AC_MAP_FIELDS_MAX];
    size_t n;
};

static char *
s_dup (const char *p, size_t n)
{
    char *s = malloc (n + 1);
    if (s) {
        memcpy (s, p, n);
        s[n] = 0;
    }
    return s;
}

ac_map_t *
ac_map_decode (const uint8_t *buf, size_t len)
{
    if (!buf || len == 0 || len > RT_BODY_MAX_BYTES + RT_STATE_MAX_BYTES)
        return NULL;
    ac_map_t *m = calloc (1, sizeof *m);
    if (!m)
        return NULL;
    msgpack_unpacked_init (&m->up);
    size_t off = 0;
    if (msgpack_unpack_next (&m->up, (const char *) buf, len, &off) != MSGPACK_UNPACK_SUCCESS
        || off != len || m->up.data.type != MSGPACK_OBJECT_MAP
        || m->up.data.via.map.size > AC_MAP_FIELDS_MAX)
        goto bad;
    for (uint32_t i = 0; i < m->up.data.via.map.size; i++) {
        msgpack_object_kv *kv = &m->up.data.via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            goto bad;
        ac_field_t *f = &m->f[m->n++];
        f->key = s_dup (kv->key.via.str.ptr, kv->key.via.str.size);
        f->type = kv->val.type;
        if (!f->key)
            goto bad;
        switch (kv->val.type) {
            case MSGPACK_OBJECT_STR:
                f->str = s_dup (kv->val.via.str.ptr, kv->val.via.str.size);
                f->raw = kv->val.via.str.ptr;
                f->raw_len = kv->val.via.str.size;
                if (!f->str)
                    goto bad;
                break;
            case MSGPACK_OBJECT_BIN:
                f->raw = kv->val.via.bin.ptr;
                f->raw_len = kv->val.via.bin.size;
                break;
            case MSGPACK_OBJECT_POSITIVE_INTEGER:
                if (kv->val.via.u64 > INT64_MAX)
                    goto bad;
                f->i = (int64_t) kv->val.via.u64;
                break;
            case MSGPACK_OBJECT_NEGATIVE_INTEGER:
                f->i = kv->val.via.i64;
                break;
            case MSGPACK_OBJECT_NIL:
            case MSGPACK_OBJECT_BOOLEAN:
                f->i = kv->val.type == MSGPACK_OBJECT_BOOLEAN && kv->val.via.boolean;
                break;
            default:
                goto bad;       /* nested containers: not in our flat maps */
        }
    }
    return m;
bad:
    ac_map_destroy (&m);
    return NULL;
}

void
ac_map_destroy (ac_map_t **p)
{
    if (!p || !*p)
        return;
    ac_map_t *m = *p;
    for (size_t i = 0; i < m->n; i++) {
        free (m->f[i].key);
        free (m->f[i].str);
    }
    msgpack_unpacked_destroy (&m->up);
    free (m);
    *p = NULL;
}

static ac_field_t *
s_find (ac_map_t *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp (m->f[i].key, key))
            return &m->f[i];
    return NULL;
}

const char *
ac_map_str (ac_map_t *m, const char *key)
{
    ac_field_t *f = s_find (m, key);
    return f && f->type == MSGPACK_OBJECT_STR ? f->str : NULL;
}

const void *
ac_map_bin (ac_map_t *m, const char *key, size_t *len)
{
    ac_field_t *f = s_find (m, key);
    if (!f || (f->type != MSGPACK_OBJECT_BIN && f->type != MSGPACK_OBJECT_STR))
        return NULL;
    *len = f->raw_len;
    return f->raw;
}

bool
ac_map_int (ac_map_t *m, const char *key, int64_t *out)
{
    ac_field_t *f = s_find (m, key);
    if (!f || (f->type != MSGPACK_OBJECT_POSITIVE_INTEGER && f->type != MSGPACK_OBJECT_NEGATIVE_INTEGER))
        return false;
    *out = f->i;
    return true;
}

bool
ac_map_is_nil (ac_map_t *m, const char *key)
{
    ac_field_t *f = s_find (m, key);
    return f && f->type == MSGPACK_OBJECT_NIL;
}

bool
ac_map_has (ac_map_t *m, const char *key)
{
    return s_find (m, key) != NULL;
}

bool
ac_oneof (const char *v, const char *const *set)
{
    for (; v && *set; set++)
        if (!strcmp (v, *set))
            return true;
    return false;
}

bool
ac_map_take (ac_map_t *m, const char *key, char *dst, size_t size, const char *const *set,
             bool optional)
{
    const char *v = ac_map_str (m, key);
    if (!v)
        return optional && (!ac_map_has (m, key) || ac_map_is_nil (m, key));
    if (strlen (v) >= size || (set && !ac_oneof (v, set)))
        return false;
    strcpy (dst, v);
    return true;
}

int
ac_enc_to_reply (ac_enc_t *e, rt_reply_t *reply)
{
    reply->status = 200;
    reply->body = malloc (e->sb.size);
    reply->body_len = e->sb.size;
    int rc = 0;
    if (reply->body)
        memcpy (reply->body, e->sb.data, e->sb.size);
    else
        rc = RT_ENOMEM;
    ac_enc_free (e);
    return rc;
}
