/*  =========================================================================
    rt_envelope.h - the message envelope on the wire and in the outbox

    Every message that leaves a process (to another node) or is kept on
    disk (outbox) is one envelope, encoded with msgpack as a map from small
    integer field ids to values. Field ids are the schema: they never change
    meaning; a decoder skips ids it does not know (a newer peer) but rejects
    wrong types, oversized values, too many fields, too deep nesting and
    trailing bytes — all through one error path, RT_EMALFORMED.

    Decoding is zero-copy: the slices of a decoded envelope point into the
    buffer that was decoded, which must outlive the envelope.

    Field ids (msgpack types):
        1  to        [uint type, str key]     required
        2  msg_type  uint                     required
        3  corr_id   uint
        4  from      [uint type, str key]
        5  epoch     uint
        6  deadline  int   (unix ms)
        7  src       [uint shard, uint seq, uint low]  outbox delivery id
        8  idem      [str scope, str key, bin fingerprint(32)]
        9  trace     str   (55 chars, W3C traceparent)
        10 body      bin
        11 flags     uint
    =========================================================================
*/
#ifndef RT_ENVELOPE_H_INCLUDED
#define RT_ENVELOPE_H_INCLUDED

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "rt_limits.h"

typedef struct {
    const uint8_t *ptr;
    size_t len;
} rt_slice_t;

typedef struct {
    uint16_t   to_type;         /* 1..RT_TYPES_MAX-1 */
    rt_slice_t to_key;          /* 1..RT_KEY_MAX bytes */
    uint16_t   msg_type;        /* 0..RT_MSG_TYPES_MAX-1 */
    uint64_t   corr_id;         /* 0 = no reply expected */
    uint16_t   from_type;       /* 0 = from outside the runtime */
    rt_slice_t from_key;        /* 0..RT_KEY_MAX bytes */
    uint64_t   epoch;
    int64_t    deadline_ms;     /* 0 = none */
    bool       has_src;         /* from an outbox: */
    uint32_t   src_shard;       /*   sender's shard */
    uint64_t   src_seq;         /*   outbox sequence in that shard, >= 1 */
    uint64_t   src_low;         /*   lowest unacknowledged seq there */
    bool       has_idem;
    rt_slice_t idem_scope;      /* 1..RT_IDEM_SCOPE_MAX */
    rt_slice_t idem_key;        /* 1..RT_IDEM_KEY_MAX, printable ASCII */
    rt_slice_t fingerprint;     /* exactly RT_FINGERPRINT_BYTES */
    rt_slice_t traceparent;     /* 0 or RT_TRACEPARENT_LEN bytes */
    rt_slice_t body;            /* 0..RT_BODY_MAX_BYTES */
    uint32_t   flags;
} rt_envelope_t;

/*  Encode env into a newly allocated buffer (*out, *out_len; free() it).
    Validates env against the same limits the decoder enforces, so we never
    send what a peer would refuse. Returns 0, RT_ETOOBIG, RT_EINVAL or
    RT_ENOMEM. */
int rt_envelope_encode (const rt_envelope_t *env, uint8_t **out, size_t *out_len);

/*  Decode buf[0..len) into *env (slices point into buf). Returns 0,
    RT_ETOOBIG (len over RT_ENVELOPE_MAX_BYTES) or RT_EMALFORMED; on error
    *env is zeroed. Never reads outside buf, never allocates per field. */
int rt_envelope_decode (const uint8_t *buf, size_t len, rt_envelope_t *env);

#endif
