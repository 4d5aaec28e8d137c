/*  fuzz_envelope.c - libFuzzer target for the envelope decoder.

    Property: decoding arbitrary bytes never reads outside them (ASan) and
    never trips UB (UBSan); whatever decodes re-encodes, and decoding that
    gives back the same envelope field by field. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/rt_envelope.h"

static int
s_same (rt_slice_t a, rt_slice_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp (a.ptr, b.ptr, a.len) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    rt_envelope_t a, b;
    if (rt_envelope_decode (data, size, &a))
        return 0;
    uint8_t *buf;
    size_t len;
    if (rt_envelope_encode (&a, &buf, &len))
        abort ();               /* decoded but not encodable: limits differ */
    if (rt_envelope_decode (buf, len, &b))
        abort ();
    if (a.to_type != b.to_type || !s_same (a.to_key, b.to_key) || a.msg_type != b.msg_type
        || a.corr_id != b.corr_id || a.from_type != b.from_type
        || !s_same (a.from_key, b.from_key) || a.epoch != b.epoch
        || a.deadline_ms != b.deadline_ms || a.has_src != b.has_src
        || a.src_shard != b.src_shard || a.src_seq != b.src_seq || a.src_low != b.src_low
        || a.has_idem != b.has_idem || !s_same (a.idem_scope, b.idem_scope)
        || !s_same (a.idem_key, b.idem_key) || !s_same (a.fingerprint, b.fingerprint)
        || !s_same (a.traceparent, b.traceparent) || !s_same (a.body, b.body)
        || a.flags != b.flags)
        abort ();
    free (buf);
    return 0;
}
