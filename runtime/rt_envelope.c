/*  =========================================================================
    rt_envelope.c - msgpack envelope codec

    Encoding uses msgpack-c's packer. Decoding is a small, strictly
    bounds-checked reader instead of msgpack_unpack: the unpacker builds a
    whole object tree in an allocated zone and recurses as deep as the
    input says, while an envelope needs neither — we read a flat map of
    known fields, point slices into the input (zero copy), skip unknown
    fields with a depth and count bound, and fail everything else through
    one path. The fuzz target (tests/fuzz/fuzz_envelope.c) holds it to
    "never reads outside the buffer, and decode(encode(x)) == x".
    =========================================================================
*/
#include <stdlib.h>
#include <string.h>
#include <msgpack.h>
#include "rt_envelope.h"
#include "rt_error.h"

enum {
    F_TO = 1, F_MSG_TYPE, F_CORR, F_FROM, F_EPOCH, F_DEADLINE, F_SRC, F_IDEM,
    F_TRACE, F_BODY, F_FLAGS, F_MAX
};

/* ---- validation shared by encode and decode ------------------------- */

static bool
s_printable (rt_slice_t s)
{
    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] < 0x21 || s.ptr[i] > 0x7e)
            return false;
    return true;
}

/*  0, RT_EINVAL or RT_ETOOBIG. */
static int
s_validate (const rt_envelope_t *e)
{
    if (e->to_type == 0 || e->to_type >= RT_TYPES_MAX)
        return RT_EINVAL;
    if (e->to_key.len == 0 || e->to_key.len > RT_KEY_MAX)
        return RT_EINVAL;
    if (e->msg_type >= RT_MSG_TYPES_MAX)
        return RT_EINVAL;
    if (e->from_type >= RT_TYPES_MAX || e->from_key.len > RT_KEY_MAX
        || (e->from_type == 0) != (e->from_key.len == 0))
        return RT_EINVAL;
    if (e->has_src && e->src_seq == 0)
        return RT_EINVAL;
    if (e->has_idem) {
        if (e->idem_scope.len == 0 || e->idem_scope.len > RT_IDEM_SCOPE_MAX
            || e->idem_key.len == 0 || e->idem_key.len > RT_IDEM_KEY_MAX
            || !s_printable (e->idem_key) || e->fingerprint.len != RT_FINGERPRINT_BYTES)
            return RT_EINVAL;
    }
    if (e->traceparent.len != 0 && e->traceparent.len != RT_TRACEPARENT_LEN)
        return RT_EINVAL;
    if (e->body.len > RT_BODY_MAX_BYTES)
        return RT_ETOOBIG;
    return 0;
}

/* ---- encode ------------------------------------------------------------- */

static void
s_pack_str (msgpack_packer *pk, rt_slice_t s)
{
    msgpack_pack_str (pk, s.len);
    msgpack_pack_str_body (pk, s.ptr, s.len);
}

static void
s_pack_addr (msgpack_packer *pk, uint16_t type, rt_slice_t key)
{
    msgpack_pack_array (pk, 2);
    msgpack_pack_uint16 (pk, type);
    s_pack_str (pk, key);
}

int
rt_envelope_encode (const rt_envelope_t *e, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    int rc = s_validate (e);
    if (rc)
        return rc;
    unsigned n = 2 + (e->corr_id != 0) + (e->from_type != 0) + (e->epoch != 0)
               + (e->deadline_ms != 0) + e->has_src + e->has_idem
               + (e->traceparent.len != 0) + (e->body.len != 0) + (e->flags != 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, n);
    msgpack_pack_uint8 (&pk, F_TO);
    s_pack_addr (&pk, e->to_type, e->to_key);
    msgpack_pack_uint8 (&pk, F_MSG_TYPE);
    msgpack_pack_uint16 (&pk, e->msg_type);
    if (e->corr_id) {
        msgpack_pack_uint8 (&pk, F_CORR);
        msgpack_pack_uint64 (&pk, e->corr_id);
    }
    if (e->from_type) {
        msgpack_pack_uint8 (&pk, F_FROM);
        s_pack_addr (&pk, e->from_type, e->from_key);
    }
    if (e->epoch) {
        msgpack_pack_uint8 (&pk, F_EPOCH);
        msgpack_pack_uint64 (&pk, e->epoch);
    }
    if (e->deadline_ms) {
        msgpack_pack_uint8 (&pk, F_DEADLINE);
        msgpack_pack_int64 (&pk, e->deadline_ms);
    }
    if (e->has_src) {
        msgpack_pack_uint8 (&pk, F_SRC);
        msgpack_pack_array (&pk, 3);
        msgpack_pack_uint32 (&pk, e->src_shard);
        msgpack_pack_uint64 (&pk, e->src_seq);
        msgpack_pack_uint64 (&pk, e->src_low);
    }
    if (e->has_idem) {
        msgpack_pack_uint8 (&pk, F_IDEM);
        msgpack_pack_array (&pk, 3);
        s_pack_str (&pk, e->idem_scope);
        s_pack_str (&pk, e->idem_key);
        msgpack_pack_bin (&pk, e->fingerprint.len);
        msgpack_pack_bin_body (&pk, e->fingerprint.ptr, e->fingerprint.len);
    }
    if (e->traceparent.len) {
        msgpack_pack_uint8 (&pk, F_TRACE);
        s_pack_str (&pk, e->traceparent);
    }
    if (e->body.len) {
        msgpack_pack_uint8 (&pk, F_BODY);
        msgpack_pack_bin (&pk, e->body.len);
        msgpack_pack_bin_body (&pk, e->body.ptr, e->body.len);
    }
    if (e->flags) {
        msgpack_pack_uint8 (&pk, F_FLAGS);
        msgpack_pack_uint32 (&pk, e->flags);
    }
    if (!sb.data) {
        msgpack_sbuffer_destroy (&sb);
        return RT_ENOMEM;
    }
    *out = (uint8_t *) sb.data;     /* sbuffer memory is malloc'd: free() it */
    *out_len = sb.size;
    return 0;
}

/* ---- the reader ------------------------------------------------------------ */

typedef struct {
    const uint8_t *p, *end;
} rd_t;

/*  Each reader returns false on any malformation; the caller's one error
    path turns that into RT_EMALFORMED. */
static bool
s_need (rd_t *r, size_t n)
{
    return (size_t) (r->end - r->p) >= n;
}

static uint64_t
s_be (const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static bool
s_uint (rd_t *r, uint64_t *v)
{
    if (!s_need (r, 1))
        return false;
    uint8_t t = *r->p;
    int n;
    if (t <= 0x7f) {
        *v = t;
        r->p++;
        return true;
    }
    switch (t) {
        case 0xcc: n = 1; break;
        case 0xcd: n = 2; break;
        case 0xce: n = 4; break;
        case 0xcf: n = 8; break;
        default: return false;
    }
    if (!s_need (r, 1 + (size_t) n))
        return false;
    *v = s_be (r->p + 1, n);
    r->p += 1 + n;
    return true;
}

static bool
s_int (rd_t *r, int64_t *v)
{
    if (!s_need (r, 1))
        return false;
    uint8_t t = *r->p;
    if (t >= 0xe0) {
        *v = (int8_t) t;
        r->p++;
        return true;
    }
    int n;
    switch (t) {
        case 0xd0: n = 1; break;
        case 0xd1: n = 2; break;
        case 0xd2: n = 4; break;
        case 0xd3: n = 8; break;
        default: {
            uint64_t u;
            if (!s_uint (r, &u) || u > INT64_MAX)
                return false;
            *v = (int64_t) u;
            return true;
        }
    }
    if (!s_need (r, 1 + (size_t) n))
        return false;
    uint64_t u = s_be (r->p + 1, n);
    /*  Sign-extend from n bytes. */
    if (n < 8 && (u >> (8 * n - 1)) & 1)
        u |= ~(uint64_t) 0 << (8 * n);
    *v = (int64_t) u;
    r->p += 1 + n;
    return true;
}

/*  str (is_bin false) or bin (true) of at most max bytes. */
static bool
s_raw (rd_t *r, bool is_bin, size_t max, rt_slice_t *s)
{
    if (!s_need (r, 1))
        return false;
    uint8_t t = *r->p;
    size_t hdr, len;
    if (!is_bin && t >= 0xa0 && t <= 0xbf) {
        hdr = 1;
        len = t & 0x1f;
    }
    else {
        int n;
        if (!is_bin && t == 0xd9) n = 1;
        else if (!is_bin && t == 0xda) n = 2;
        else if (!is_bin && t == 0xdb) n = 4;
        else if (is_bin && t == 0xc4) n = 1;
        else if (is_bin && t == 0xc5) n = 2;
        else if (is_bin && t == 0xc6) n = 4;
        else
            return false;
        if (!s_need (r, 1 + (size_t) n))
            return false;
        hdr = 1 + (size_t) n;
        len = (size_t) s_be (r->p + 1, n);
    }
    if (len > max || !s_need (r, hdr + len))
        return false;
    s->ptr = r->p + hdr;
    s->len = len;
    r->p += hdr + len;
    return true;
}

/*  Array or map header; *n is the element (or pair) count. */
static bool
s_container (rd_t *r, bool map, size_t *n)
{
    if (!s_need (r, 1))
        return false;
    uint8_t t = *r->p;
    uint8_t fix = map ? 0x80 : 0x90;
    if (t >= fix && t <= fix + 0x0f) {
        *n = t & 0x0f;
        r->p++;
        return true;
    }
    int w;
    if (t == (map ? 0xde : 0xdc)) w = 2;
    else if (t == (map ? 0xdf : 0xdd)) w = 4;
    else
        return false;
    if (!s_need (r, 1 + (size_t) w))
        return false;
    *n = (size_t) s_be (r->p + 1, w);
    r->p += 1 + w;
    return true;
}

/*  Skip one value of any type (an unknown field of a newer peer). Each
    element costs at least one byte, so counts larger than what is left
    are rejected before looping. */
static bool
s_skip (rd_t *r, int depth)
{
    if (!s_need (r, 1) || depth > RT_ENVELOPE_DEPTH_MAX)
        return false;
    uint8_t t = *r->p;
    rt_slice_t s;
    uint64_t u;
    int64_t i;
    size_t n;
    if (t <= 0x7f || t >= 0xe0 || (t >= 0xcc && t <= 0xcf))
        return t >= 0xe0 || (t >= 0xd0 && t <= 0xd3) ? s_int (r, &i) : s_uint (r, &u);
    if (t >= 0xd0 && t <= 0xd3)
        return s_int (r, &i);
    if (t == 0xc0 || t == 0xc2 || t == 0xc3) {
        r->p++;
        return true;
    }
    if (t == 0xca || t == 0xcb) {
        size_t w = t == 0xca ? 4 : 8;
        if (!s_need (r, 1 + w))
            return false;
        r->p += 1 + w;
        return true;
    }
    if ((t >= 0xa0 && t <= 0xbf) || (t >= 0xd9 && t <= 0xdb))
        return s_raw (r, false, RT_ENVELOPE_MAX_BYTES, &s);
    if (t >= 0xc4 && t <= 0xc6)
        return s_raw (r, true, RT_ENVELOPE_MAX_BYTES, &s);
    bool map = (t >= 0x80 && t <= 0x8f) || t == 0xde || t == 0xdf;
    bool arr = (t >= 0x90 && t <= 0x9f) || t == 0xdc || t == 0xdd;
    if (map || arr) {
        if (!s_container (r, map, &n))
            return false;
        size_t items = map ? n * 2 : n;
        if (n > RT_ENVELOPE_FIELDS_MAX || items > (size_t) (r->end - r->p))
            return false;
        for (size_t k = 0; k < items; k++)
            if (!s_skip (r, depth + 1))
                return false;
        return true;
    }
    return false;               /* ext types and 0xc1 (never used) */
}

static bool
s_addr (rd_t *r, uint16_t *type, rt_slice_t *key)
{
    size_t n;
    uint64_t t;
    if (!s_container (r, false, &n) || n != 2 || !s_uint (r, &t) || t >= RT_TYPES_MAX)
        return false;
    *type = (uint16_t) t;
    return s_raw (r, false, RT_KEY_MAX, key);
}

static bool
s_field (rd_t *r, uint64_t id, rt_envelope_t *e)
{
    uint64_t u;
    size_t n;
    switch (id) {
        case F_TO:
            return s_addr (r, &e->to_type, &e->to_key);
        case F_MSG_TYPE:
            if (!s_uint (r, &u) || u >= RT_MSG_TYPES_MAX)
                return false;
            e->msg_type = (uint16_t) u;
            return true;
        case F_CORR:
            return s_uint (r, &e->corr_id);
        case F_FROM:
            return s_addr (r, &e->from_type, &e->from_key);
        case F_EPOCH:
            return s_uint (r, &e->epoch);
        case F_DEADLINE:
            return s_int (r, &e->deadline_ms);
        case F_SRC:
            if (!s_container (r, false, &n) || n != 3 || !s_uint (r, &u) || u > UINT32_MAX)
                return false;
            e->src_shard = (uint32_t) u;
            e->has_src = true;
            return s_uint (r, &e->src_seq) && s_uint (r, &e->src_low);
        case F_IDEM:
            e->has_idem = true;
            return s_container (r, false, &n) && n == 3
                && s_raw (r, false, RT_IDEM_SCOPE_MAX, &e->idem_scope)
                && s_raw (r, false, RT_IDEM_KEY_MAX, &e->idem_key)
                && s_raw (r, true, RT_FINGERPRINT_BYTES, &e->fingerprint);
        case F_TRACE:
            return s_raw (r, false, RT_TRACEPARENT_LEN, &e->traceparent);
        case F_BODY:
            return s_raw (r, true, RT_BODY_MAX_BYTES, &e->body);
        case F_FLAGS:
            if (!s_uint (r, &u) || u > UINT32_MAX)
                return false;
            e->flags = (uint32_t) u;
            return true;
        default:
            return s_skip (r, 1);
    }
}

int
rt_envelope_decode (const uint8_t *buf, size_t len, rt_envelope_t *env)
{
    memset (env, 0, sizeof *env);
    if (len > RT_ENVELOPE_MAX_BYTES)
        return RT_ETOOBIG;
    rd_t r = { buf, buf + len };
    size_t n;
    uint32_t seen = 0;          /* bit per known field id */
    if (!buf || !s_container (&r, true, &n) || n > RT_ENVELOPE_FIELDS_MAX)
        goto malformed;
    uint64_t unknown_seen[RT_ENVELOPE_FIELDS_MAX];
    size_t unknowns = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t id;
        if (!s_uint (&r, &id))
            goto malformed;
        if (id > 0 && id < F_MAX) {
            if (seen & (1u << id))
                goto malformed;             /* duplicate key */
            seen |= 1u << id;
        }
        else {
            for (size_t k = 0; k < unknowns; k++)
                if (unknown_seen[k] == id)
                    goto malformed;
            unknown_seen[unknowns++] = id;
        }
        if (!s_field (&r, id, env))
            goto malformed;
    }
    if (r.p != r.end)
        goto malformed;                     /* trailing bytes */
    if (!(seen & (1u << F_TO)) || !(seen & (1u << F_MSG_TYPE)))
        goto malformed;
    if (s_validate (env))
        goto malformed;
    return 0;
malformed:
    memset (env, 0, sizeof *env);
    return RT_EMALFORMED;
}
