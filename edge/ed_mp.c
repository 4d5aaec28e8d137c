/*  ed_mp.c - actor replies (msgpack maps) to JSON, and new ids */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <msgpack.h>
#include <sodium.h>
#include "ed_mp.h"
#include "ed_json.h"
#include "actors/ac_codec.h"

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

/* ---- straight to text ---------------------------------------------------- */

typedef struct {
    char  *p;
    size_t len, cap;
    bool   failed;
} text_t;

static void
s_put (text_t *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (t->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc (t->p, cap);
        if (!p) {
            t->failed = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy (t->p + t->len, s, n);
    t->len += n;
}

/*  A JSON string as jansson writes it: '"' and '\' escaped, control
    characters as \b \f \n \r \t or \u00XX, UTF-8 as it is (actor state
    only holds text that was valid UTF-8 when it came in). */
static void
s_string (text_t *t, const char *s, size_t n)
{
    s_put (t, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        s_put (t, s + run, i - run);
        run = i + 1;
        char esc[8];
        const char *e = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b"
                      : c == '\f' ? "\\f" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                      : c == '\t' ? "\\t" : NULL;
        if (!e) {
            snprintf (esc, sizeof esc, "\\u%04X", c);
            e = esc;
        }
        s_put (t, e, strlen (e));
    }
    s_put (t, s + run, n - run);
    s_put (t, "\"", 1);
}

static bool
s_text (text_t *t, const msgpack_object *o, int depth)
{
    char num[32];
    int n;
    if (depth > ED_JSON_DEPTH_MAX)
        return false;
    switch (o->type) {
        case MSGPACK_OBJECT_NIL: s_put (t, "null", 4); return true;
        case MSGPACK_OBJECT_BOOLEAN:
            s_put (t, o->via.boolean ? "true" : "false", o->via.boolean ? 4 : 5);
            return true;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            if (o->via.u64 > INT64_MAX)
                return false;
            n = snprintf (num, sizeof num, "%llu", (unsigned long long) o->via.u64);
            s_put (t, num, (size_t) n);
            return true;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            n = snprintf (num, sizeof num, "%lld", (long long) o->via.i64);
            s_put (t, num, (size_t) n);
            return true;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64: {
            json_t *r = json_real (o->via.f64);     /* jansson's own formatting */
            char *s = r ? json_dumps (r, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
            json_decref (r);
            if (!s)
                return false;
            s_put (t, s, strlen (s));
            free (s);
            return true;
        }
        case MSGPACK_OBJECT_STR: s_string (t, o->via.str.ptr, o->via.str.size); return true;
        case MSGPACK_OBJECT_ARRAY:
            s_put (t, "[", 1);
            for (uint32_t i = 0; i < o->via.array.size; i++) {
                if (i)
                    s_put (t, ",", 1);
                if (!s_text (t, &o->via.array.ptr[i], depth + 1))
                    return false;
            }
            s_put (t, "]", 1);
            return true;
        case MSGPACK_OBJECT_MAP: {
            s_put (t, "{", 1);
            bool first = true;
            for (uint32_t i = 0; i < o->via.map.size; i++) {
                const msgpack_object_kv *kv = &o->via.map.ptr[i];
                if (kv->key.type != MSGPACK_OBJECT_STR)
                    return false;
                if (kv->val.type == MSGPACK_OBJECT_BIN)
                    continue;   /* internal bytes never reach a client */
                if (!first)
                    s_put (t, ",", 1);
                first = false;
                s_string (t, kv->key.via.str.ptr, kv->key.via.str.size);
                s_put (t, ":", 1);
                if (!s_text (t, &kv->val, depth + 1))
                    return false;
            }
            s_put (t, "}", 1);
            return true;
        }
        default: return false;
    }
}

char *
ed_mp_to_text (const uint8_t *buf, size_t len, size_t *out_len)
{
    if (!buf || !len)
        return NULL;
    msgpack_unpacked up;
    msgpack_unpacked_init (&up);
    size_t off = 0;
    text_t t = { 0 };
    bool ok = msgpack_unpack_next (&up, (const char *) buf, len, &off) == MSGPACK_UNPACK_SUCCESS
              && off == len
              && (up.data.type == MSGPACK_OBJECT_MAP || up.data.type == MSGPACK_OBJECT_ARRAY)
              && s_text (&t, &up.data, 0) && !t.failed;
    msgpack_unpacked_destroy (&up);
    if (!ok) {
        free (t.p);
        return NULL;
    }
    t.p[t.len] = 0;
    *out_len = t.len;
    return t.p;
}

void
ed_id_new (const char *prefix, char *out)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
    uint8_t rnd[10];
    randombytes_buf (rnd, sizeof rnd);
    ac_ulid (prefix, ms, rnd, out);
}

bool
ed_id_valid (const char *prefix, const char *id)
{
    size_t p = strlen (prefix);
    if (!id || strlen (id) != p + 26 || strncmp (id, prefix, p))
        return false;
    for (size_t i = p; i < p + 26; i++)
        if (!strchr ("0123456789ABCDEFGHJKMNPQRSTVWXYZ", id[i]))
            return false;
    return true;
}

/*  The value of a top-level key of a msgpack map, or NULL. */
static const msgpack_object *
s_field (const msgpack_unpacked *up, const char *key)
{
    if (up->data.type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t klen = strlen (key);
    for (uint32_t i = 0; i < up->data.via.map.size; i++) {
        const msgpack_object_kv *kv = &up->data.via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == klen
            && !memcmp (kv->key.via.str.ptr, key, klen))
            return &kv->val;
    }
    return NULL;
}

bool
ed_mp_field (const uint8_t *buf, size_t len, const char *key, int64_t *num, char *str,
             size_t size)
{
    msgpack_unpacked up;
    msgpack_unpacked_init (&up);
    size_t off = 0;
    bool ok = false;
    if (buf && msgpack_unpack_next (&up, (const char *) buf, len, &off) == MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *v = s_field (&up, key);
        if (v && num && (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                         || v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)) {
            *num = v->via.i64;
            ok = true;
        }
        else if (v && str && v->type == MSGPACK_OBJECT_STR && v->via.str.size < size) {
            memcpy (str, v->via.str.ptr, v->via.str.size);
            str[v->via.str.size] = 0;
            ok = true;
        }
    }
    msgpack_unpacked_destroy (&up);
    return ok;
}
