/*  ed_json.c - strict JSON request bodies */
#include <stdio.h>
#include <string.h>
#include "ed_json.h"

size_t
ed_utf8_len (const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char) *s & 0xc0) != 0x80;
    return n;
}

bool
ed_utf8_valid (const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *) s, *end = p + n;
    while (p < end) {
        unsigned c = *p++;
        if (c == 0)
            return false;
        if (c < 0x80)
            continue;
        /*  The sequence's length and the smallest and largest allowed
            second byte (which rules out overlongs, surrogates and
            code points past U+10FFFF). */
        int more;
        unsigned lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf)
            more = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            lo = c == 0xe0 ? 0xa0 : 0x80;
            hi = c == 0xed ? 0x9f : 0xbf;
        }
        else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            lo = c == 0xf0 ? 0x90 : 0x80;
            hi = c == 0xf4 ? 0x8f : 0xbf;
        }
        else
            return false;
        if (end - p < more || *p < lo || *p > hi)
            return false;
        for (int i = 0; i < more; i++, p++)
            if ((*p & 0xc0) != 0x80)
                return false;
    }
    return true;
}

bool
ed_json_depth_ok (const char *buf, size_t len, int max_depth)
{
    int depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_str) {
            if (esc) esc = false;
            else if (c == '\\') esc = true;
            else if (c == '"') in_str = false;
            continue;
        }
        if (c == '"') in_str = true;
        else if (c == '{' || c == '[') {
            if (++depth > max_depth)
                return false;
        }
        else if (c == '}' || c == ']')
            depth--;
    }
    return true;
}

/*  prefix.key, or prefix[idx] when key is NULL; truncated paths (deep
    hostile input) end in "..." rather than failing. */
static void
s_path (char *out, size_t size, const char *prefix, const char *key, size_t idx)
{
    int n = key ? snprintf (out, size, "%s%s%s", prefix, *prefix ? "." : "", key)
                : snprintf (out, size, "%s[%zu]", prefix, idx);
    if (n < 0 || (size_t) n >= size)
        memcpy (out + size - 4, "...", 4);
}

typedef struct {
    ed_verr_t *errs;
    size_t max, n;
} vctx_t;

static void
s_err (vctx_t *v, const char *path, const char *fmt, const char *a, long long x, long long y)
{
    if (v->n < v->max) {
        ed_verr_t *e = &v->errs[v->n];
        s_path (e->path, sizeof e->path, "", path, 0);
        int n = snprintf (e->message, sizeof e->message, fmt, a ? a : "", x, y);
        (void) n;
    }
    v->n++;
}

static void s_object (vctx_t *v, const json_t *obj, const ed_field_t *schema, const char *prefix);

static void
s_value (vctx_t *v, const json_t *val, const ed_field_t *f, const char *path)
{
    if (json_is_null (val)) {
        if (!f->nullable)
            s_err (v, path, "%smust not be null", NULL, 0, 0);
        return;
    }
    switch (f->type) {
        case ED_T_ANY:
            return;
        case ED_T_STRING: {
            if (!json_is_string (val)) {
                s_err (v, path, "%smust be a string", NULL, 0, 0);
                return;
            }
            const char *s = json_string_value (val);
            /*  An embedded NUL (\u0000) would truncate the value silently
                later: refuse it here. */
            if (strlen (s) != json_string_length (val)) {
                s_err (v, path, "%smust not contain NUL characters", NULL, 0, 0);
                return;
            }
            long long n = (long long) ed_utf8_len (s);
            if (n < f->min || (f->max && n > f->max))
                s_err (v, path, "%smust be %lld to %lld characters", NULL, f->min, f->max);
            if (f->oneof) {
                bool ok = false;
                for (const char *const *o = f->oneof; *o && !ok; o++)
                    ok = !strcmp (*o, s);
                if (!ok)
                    s_err (v, path, "%sis not an allowed value", NULL, 0, 0);
            }
            return;
        }
        case ED_T_INT:
            if (!json_is_integer (val)) {
                s_err (v, path, "%smust be an integer", NULL, 0, 0);
                return;
            }
            if (json_integer_value (val) < f->min || json_integer_value (val) > f->max)
                s_err (v, path, "%smust be between %lld and %lld", NULL, f->min, f->max);
            return;
        case ED_T_BOOL:
            if (!json_is_boolean (val))
                s_err (v, path, "%smust be true or false", NULL, 0, 0);
            return;
        case ED_T_OBJECT:
            if (!json_is_object (val)) {
                s_err (v, path, "%smust be an object", NULL, 0, 0);
                return;
            }
            if (f->fields)
                s_object (v, val, f->fields, path);
            return;
        case ED_T_ARRAY_OF_STRING: {
            if (!json_is_array (val)) {
                s_err (v, path, "%smust be an array", NULL, 0, 0);
                return;
            }
            long long n = (long long) json_array_size (val);
            if (n < f->min || n > f->max)
                s_err (v, path, "%smust have %lld to %lld items", NULL, f->min, f->max);
            size_t i;
            json_t *item;
            json_array_foreach (val, i, item) {
                char ip[96];
                s_path (ip, sizeof ip, path, NULL, i);
                if (!json_is_string (item))
                    s_err (v, ip, "%smust be a string", NULL, 0, 0);
                else if (strlen (json_string_value (item)) != json_string_length (item))
                    s_err (v, ip, "%smust not contain NUL characters", NULL, 0, 0);
                else if (f->item_max && (long long) ed_utf8_len (json_string_value (item)) > f->item_max)
                    s_err (v, ip, "%sis longer than %lld characters", NULL, f->item_max, 0);
            }
            return;
        }
    }
}

static bool
s_open (const ed_field_t *schema)
{
    for (; schema->name; schema++)
        if (!strcmp (schema->name, ED_FIELDS_OTHERS))
            return true;
    return false;
}

static void
s_object (vctx_t *v, const json_t *obj, const ed_field_t *schema, const char *prefix)
{
    const char *key;
    json_t *val;
    json_object_foreach ((json_t *) obj, key, val) {
        char path[96];
        s_path (path, sizeof path, prefix, key, 0);
        const ed_field_t *f = schema;
        while (f->name && strcmp (f->name, key))
            f++;
        if (!f->name) {
            if (!s_open (schema))
                s_err (v, path, "%sis not a known field", NULL, 0, 0);
            continue;
        }
        s_value (v, val, f, path);
    }
    for (const ed_field_t *f = schema; f->name; f++) {
        if (f->required && !json_object_get (obj, f->name)) {
            char path[96];
            s_path (path, sizeof path, prefix, f->name, 0);
            s_err (v, path, "%sis required", NULL, 0, 0);
        }
    }
}

size_t
ed_json_validate (const json_t *obj, const ed_field_t *schema, ed_verr_t *errs, size_t max)
{
    vctx_t v = { errs, max, 0 };
    if (!json_is_object (obj)) {
        s_err (&v, "", "%sthe body must be a JSON object", NULL, 0, 0);
        return v.n;
    }
    s_object (&v, obj, schema, "");
    return v.n;
}
