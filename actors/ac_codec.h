/*  =========================================================================
    ac_codec.h - msgpack maps for actor message bodies and states

    Actors know no JSON: their bodies, replies and states are msgpack maps
    with string keys named like the API's fields. The edge turns a reply
    map into JSON as it is (ed_mp.h), so a field's name is written once.
    =========================================================================
*/
#ifndef AC_CODEC_H_INCLUDED
#define AC_CODEC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>
#include "runtime/rt_actor.h"
#include "runtime/rt_runtime.h"

/* ---- writing --------------------------------------------------------------- */

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer  pk;
} ac_enc_t;

void ac_enc_init (ac_enc_t *e);
void ac_enc_free (ac_enc_t *e);
void ac_enc_map (ac_enc_t *e, size_t pairs);
/*  A key alone, for a nested value the caller packs next (e->pk: a map
    or an array the flat reader below never sees, only replies do). */
void ac_enc_key (ac_enc_t *e, const char *key);
void ac_enc_str (ac_enc_t *e, const char *key, const char *val);    /* NULL val = nil */
void ac_enc_strn (ac_enc_t *e, const char *key, const char *val, size_t len);
void ac_enc_int (ac_enc_t *e, const char *key, int64_t val);
void ac_enc_bin (ac_enc_t *e, const char *key, const void *val, size_t len);
/*  Append the bytes to an rt_buf_t (for state encoders). */
int  ac_enc_to_buf (ac_enc_t *e, rt_buf_t *out);

/*  Answer the message with the encoded map (stored under its idempotency
    key: rt_ctx_reply), then free the encoder. */
void ac_enc_reply (rt_ctx_t *ctx, int status, ac_enc_t *e);

/*  A refusal that changed nothing (rt_ctx_reject), with a body the edge
    turns into the problem's detail: {detail}. */
void ac_refuse (rt_ctx_t *ctx, int status, const char *detail);

/*  Answer the sender of the message being handled, which came from its
    outbox, with `type` {ref, op, ok}: how a step another actor asked for ended (AC_MSG_RESULT with
    an AC_OP_*, ac_types.h). As the message's receipt: the sender's turn
    that handles it also deletes the request from its outbox, so the
    answer is no second message (docs/architecture.md "Receipts").
    0, or RT_EINVAL for a message not from an outbox. */
int ac_answer_result (rt_ctx_t *ctx, uint16_t type, const char *ref, int op, bool ok);

/*  A node service's answer: the encoded map as reply->body (status 200);
    frees the encoder. 0 or RT_ENOMEM. */
int ac_enc_to_reply (ac_enc_t *e, rt_reply_t *reply);

/*  An id in ULID layout: 48 bits of unix ms and 80 bits of rnd as 26
    Crockford base32 characters after prefix (time-ordered). out must hold
    strlen (prefix) + 27 bytes. */
void ac_ulid (const char *prefix, uint64_t ms, const uint8_t rnd[10], char *out);

/* ---- reading ------------------------------------------------------------------- */

typedef struct ac_map ac_map_t;

/*  Decode a msgpack map with string keys (flat: values are scalars, str
    or bin). NULL when malformed. ac_map_str returns copies owned by the
    map; ac_map_bin points into buf, which must outlive the map. */
ac_map_t *ac_map_decode (const uint8_t *buf, size_t len);
void ac_map_destroy (ac_map_t **p);

/*  A string value, NUL-terminated copy owned by the map; NULL when absent,
    nil, or not a string. */
const char *ac_map_str (ac_map_t *m, const char *key);
/*  Raw bin/str bytes; NULL when absent. */
const void *ac_map_bin (ac_map_t *m, const char *key, size_t *len);
bool ac_map_int (ac_map_t *m, const char *key, int64_t *out);
/*  The key is present (any value). */
bool ac_map_has (ac_map_t *m, const char *key);
/*  The key is present with a nil value. */
bool ac_map_is_nil (ac_map_t *m, const char *key);

/*  v is one of the NULL-ended set. */
bool ac_oneof (const char *v, const char *const *set);

/*  dst (size bytes) = m[key] when it is a string shorter than size (and
    in set, if set is given). An absent or nil key leaves dst as it is
    and is fine when optional. False otherwise. */
bool ac_map_take (ac_map_t *m, const char *key, char *dst, size_t size, const char *const *set,
                  bool optional);

#endif
