/*  ed_mp.h - actor replies (msgpack maps) to JSON, and new ids */
#ifndef ED_MP_H_INCLUDED
#define ED_MP_H_INCLUDED
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/*  A msgpack map or array as JSON (nil -> null, bin is left out). NULL
    when malformed or deeper than ED_JSON_DEPTH_MAX. */
json_t *ed_mp_to_json (const uint8_t *buf, size_t len);

/*  The same JSON as compact text (what json_dumps of ed_mp_to_json would
    give), written straight from the msgpack: no tree for replies that are
    only forwarded. malloc'd, length in *out_len; NULL as above. */
char *ed_mp_to_text (const uint8_t *buf, size_t len, size_t *out_len);

/*  A new id: prefix ("usr_") + 26 Crockford base32 characters of 48 bits
    of milliseconds and 80 random bits (ULID layout): time-ordered, and
    unguessable. out must hold strlen (prefix) + 27 bytes. */
void ed_id_new (const char *prefix, char *out);

/*  A top-level field of a msgpack map: an integer into *num, or a string
    into str (size bytes, NUL-terminated); false when absent or of
    another type. */
bool ed_mp_field (const uint8_t *buf, size_t len, const char *key, int64_t *num, char *str,
                  size_t size);

/*  Can id be one ed_id_new made with prefix? (A cheap check before an id
    from a URL is allowed to activate an actor.) */
bool ed_id_valid (const char *prefix, const char *id);

#endif
