/*  =========================================================================
    st_keys.h - the layout of every key in the node's LMDB environment

    One database, keys ordered bytewise. Every key starts with the 2-byte
    big-endian shard it belongs to, then a 1-byte kind, so one shard's data
    (state, idempotency records, outbox, reminders, dedup marks) is one
    contiguous key range: handing a shard to another node is one range scan.

        [shard:2][kind:1][rest]

        'S' state        [type:2][klen:1][key]                 -> [ver:2][blob]
        'I' idempotency  [type:2][klen:1][key][sha256(scope,key):32]
                                                     -> st_idem record
        'E' idem expiry  [expires_ms:8]['I' key rest]        -> ""
        'R' reminder     [due_ms:8][type:2][klen:1][key][name] -> [msg:2][body]
        'r' reminder by name  [type:2][klen:1][key][name]    -> [due_ms:8]
        'O' outbox       [seq:8]                             -> envelope
        'D' dedup        [type:2][klen:1][key][src_shard:4][seq:8] -> ""
        'M' shard meta   [name]                              -> value
        'X' index entry  [the type's index key]               -> value

    The node's own metadata lives under shard 0xFFFF (no real shard: the
    cluster has at most RT_SHARDS_MAX = 65535 shards, numbered 0..65534).
    All integers are big-endian so numeric order is byte order.
    =========================================================================
*/
#ifndef ST_KEYS_H_INCLUDED
#define ST_KEYS_H_INCLUDED

#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "runtime/rt_limits.h"

#define ST_KIND_STATE      'S'
#define ST_KIND_IDEM       'I'
#define ST_KIND_IDEM_EXP   'E'
#define ST_KIND_REMINDER   'R'
#define ST_KIND_REMIND_BY  'r'
#define ST_KIND_OUTBOX     'O'
#define ST_KIND_DEDUP      'D'
#define ST_KIND_META       'M'
#define ST_KIND_INDEX      'X'

#define ST_NODE_SHARD      0xFFFFu

/*  Longest key we ever build: the idempotency-expiry key. LMDB's default
    key limit is 511 bytes; ours stay far below it by hashing the
    idempotency scope and key. */
#define ST_KEY_MAX         (2 + 1 + 8 + 2 + 1 + RT_KEY_MAX + RT_REMINDER_NAME_MAX + 32)

typedef struct {
    uint8_t b[ST_KEY_MAX];
    size_t  len;
} st_key_t;

static inline void
st_put_u16 (uint8_t *p, uint16_t v) { p[0] = (uint8_t) (v >> 8); p[1] = (uint8_t) v; }
static inline void
st_put_u32 (uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t) (v >> (24 - 8 * i)); }
static inline void
st_put_u64 (uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t) (v >> (56 - 8 * i)); }
static inline uint16_t
st_get_u16 (const uint8_t *p) { return (uint16_t) ((p[0] << 8) | p[1]); }
static inline uint32_t
st_get_u32 (const uint8_t *p) { uint32_t v = 0; for (int i = 0; i < 4; i++) v = (v << 8) | p[i]; return v; }
static inline uint64_t
st_get_u64 (const uint8_t *p) { uint64_t v = 0; for (int i = 0; i < 8; i++) v = (v << 8) | p[i]; return v; }

/*  Start a key: [shard][kind]. */
static inline void
st_key_begin (st_key_t *k, uint32_t shard, uint8_t kind)
{
    st_put_u16 (k->b, (uint16_t) shard);
    k->b[2] = kind;
    k->len = 3;
}

static inline void
st_key_u16 (st_key_t *k, uint16_t v) { st_put_u16 (k->b + k->len, v); k->len += 2; }
static inline void
st_key_u32 (st_key_t *k, uint32_t v) { st_put_u32 (k->b + k->len, v); k->len += 4; }
static inline void
st_key_u64 (st_key_t *k, uint64_t v) { st_put_u64 (k->b + k->len, v); k->len += 8; }

/*  Append raw bytes; the caller's limits (RT_KEY_MAX, names) keep the total
    within ST_KEY_MAX. */
static inline void
st_key_bytes (st_key_t *k, const void *p, size_t n)
{
    memcpy (k->b + k->len, p, n);
    k->len += n;
}

/*  [type:2][klen:1][key]: the actor part shared by several kinds. The
    length byte keeps actor "ab" + suffix "c" apart from actor "abc". */
static inline void
st_key_actor (st_key_t *k, uint16_t type, const char *key, size_t klen)
{
    st_key_u16 (k, type);
    k->b[k->len++] = (uint8_t) klen;
    st_key_bytes (k, key, klen);
}

#endif
