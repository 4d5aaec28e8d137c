/*  =========================================================================
    ed_ttlmap.h - a bounded map of short string keys to two integers, with
    expiry: the node-local stand-in for what Redis holds when [redis] is
    configured (revoked sessions, login failure counts, presence)

    Thread-safe (one mutex). Entries expire at their own time; when the map
    holds max entries, the least recently written are dropped first.
    =========================================================================
*/
#ifndef ED_TTLMAP_H_INCLUDED
#define ED_TTLMAP_H_INCLUDED
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*  Longest key: "a:" + a 254-byte email, with room. */
#define ED_TTLMAP_KEY_MAX 272

typedef struct ed_ttlmap ed_ttlmap_t;

ed_ttlmap_t *ed_ttlmap_new (size_t max);
void ed_ttlmap_destroy (ed_ttlmap_t **p);

/*  The entry's values if it exists and has not expired at now_ms. */
bool ed_ttlmap_get (ed_ttlmap_t *self, const char *key, int64_t now_ms, int64_t *a, int64_t *b);

/*  Insert or replace, expiring at expires_ms. Keys longer than
    ED_TTLMAP_KEY_MAX - 1 are refused (false). */
bool ed_ttlmap_put (ed_ttlmap_t *self, const char *key, int64_t a, int64_t b, int64_t expires_ms);

void ed_ttlmap_del (ed_ttlmap_t *self, const char *key);

#endif
