/*  ed_mp.c - actor replies (msgpack maps) to JSON, and new ids */
#include <string.h>
#include <time.h>
#include <msgpack.h>
#include <sodium.h>
#include "ed_mp.h"
#include "ed_json.h"

static json_t *
s_conv (const msgpack_object *o, int depth)
{
    if (depth > ED_JSON_DEPTH_MAX)
        return NULL;
    switch (o->type) {
        case MSGPACK_OBJECT_NIL: return json_null ();
        case MSGPACK_OBJECT_BOOLEAN: return json_boolean (o->via.boolean);
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            return o->via.u64 > INT64_MAX ? NULL : json_integer ((json_int_t) o->via.u64);
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer (o->via.i64);
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64: return json_real (o->via.f64);
        case MSGPACK_OBJECT_STR: return json_stringn (o->via.str.ptr, o->via.str.size);
        case MSGPACK_OBJECT_ARRAY: {
            json_t *a = json_array ();
            for (uint32_t i = 0; a && i < o->via.array.size; i++) {
                json_t *v = s_conv (&o->via.array.ptr[i], depth + 1);
                if (!v || json_array_append_new (a, v)) {
                    json_decref (a);
                    return NULL;
                }
            }
            return a;
        }
        case MSGPACK_OBJECT_MAP: {
            json_t *m = json_object ();
            for (uint32_t i = 0; m && i < o->via.map.size; i++) {
                const msgpack_object_kv *kv = &o->via.map.ptr[i];
                if (kv->key.type != MSGPACK_OBJECT_STR) {
                    json_decref (m);
                    return NULL;
                }
                if (kv->val.type == MSGPACK_OBJECT_BIN)
                    continue;   /* internal bytes never reach a client */
                json_t *v = s_conv (&kv->val, depth + 1);
                if (!v || json_object_setn_new (m, kv->key.via.str.ptr, kv->key.via.str.size, v)) {
                    json_decref (m);
                    return NULL;
                }
            }
            return m;
        }
        default: return NULL;
    }
}

json_t *
ed_mp_to_json (const uint8_t *buf, size_t len)
{
    if (!buf || !len)
        return NULL;
    msgpack_unpacked up;
    msgpack_unpacked_init (&up);
    size_t off = 0;
    json_t *out = NULL;
    if (msgpack_unpack_next (&up, (const char *) buf, len, &off) == MSGPACK_UNPACK_SUCCESS
        && off == len)
        out = s_conv (&up.data, 0);
    msgpack_unpacked_destroy (&up);
    return out;
}

void
ed_id_new (const char *prefix, char *out)
{
    static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
    uint8_t bytes[16];
    for (int i = 0; i < 6; i++)
        bytes[i] = (uint8_t) (ms >> (40 - 8 * i));
    randombytes_buf (bytes + 6, 10);
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
