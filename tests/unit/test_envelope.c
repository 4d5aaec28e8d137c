/*  test_envelope.c - the msgpack envelope codec: round trips, every limit
    on encode, and the decoder's one error path on hostile input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <msgpack.h>

#include "runtime/rt_envelope.h"
#include "runtime/rt_error.h"

#define S(str) ((rt_slice_t) { (const uint8_t *) (str), sizeof (str) - 1 })

static const uint8_t s_fp[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };

static rt_envelope_t
s_full (void)
{
    return (rt_envelope_t) {
        .to_type = 3, .to_key = S ("lst_01JD0000000000000000000000"),
        .msg_type = 7, .corr_id = 0x1122334455667788ull,
        .from_type = 2, .from_key = S ("usr_01JD0000000000000000000000"),
        .epoch = 42, .deadline_ms = -5,
        .has_src = true, .src_shard = 255, .src_seq = 1ull << 40, .src_low = 17,
        .has_idem = true, .idem_scope = S ("usr_1 POST /v1/listings"),
        .idem_key = S ("abc-123"), .fingerprint = { s_fp, 32 },
        .traceparent = S ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        .body = S ("\x82\xa1" "a\x01\xa1" "b\x02"), .flags = 9,
    };
}

static void
s_assert_slice (rt_slice_t a, rt_slice_t b)
{
    assert_int_equal (a.len, b.len);
    if (a.len)
        assert_memory_equal (a.ptr, b.ptr, a.len);
}

static void
s_assert_equal (const rt_envelope_t *a, const rt_envelope_t *b)
{
    assert_int_equal (a->to_type, b->to_type);
    s_assert_slice (a->to_key, b->to_key);
    assert_int_equal (a->msg_type, b->msg_type);
    assert_int_equal (a->corr_id, b->corr_id);
    assert_int_equal (a->from_type, b->from_type);
    s_assert_slice (a->from_key, b->from_key);
    assert_int_equal (a->epoch, b->epoch);
    assert_int_equal (a->deadline_ms, b->deadline_ms);
    assert_int_equal (a->has_src, b->has_src);
    assert_int_equal (a->src_shard, b->src_shard);
    assert_int_equal (a->src_seq, b->src_seq);
    assert_int_equal (a->src_low, b->src_low);
    assert_int_equal (a->has_idem, b->has_idem);
    s_assert_slice (a->idem_scope, b->idem_scope);
    s_assert_slice (a->idem_key, b->idem_key);
    s_assert_slice (a->fingerprint, b->fingerprint);
    s_assert_slice (a->traceparent, b->traceparent);
    s_assert_slice (a->body, b->body);
    assert_int_equal (a->flags, b->flags);
}

static void
test_round_trip_full (void **state)
{
    (void) state;
    rt_envelope_t e = s_full (), d;
    uint8_t *buf;
    size_t len;
    assert_int_equal (rt_envelope_encode (&e, &buf, &len), 0);
    /*  It is valid msgpack by msgpack-c's own unpacker. */
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    assert_int_equal (msgpack_unpack_next (&u, (const char *) buf, len, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (u.data.type, MSGPACK_OBJECT_MAP);
    assert_int_equal (off, len);
    msgpack_unpacked_destroy (&u);
    assert_int_equal (rt_envelope_decode (buf, len, &d), 0);
    s_assert_equal (&e, &d);
    /*  Zero copy: slices point into the buffer. */
    assert_true (d.body.ptr >= buf && d.body.ptr < buf + len);
    free (buf);
}

static void
test_round_trip_minimal (void **state)
{
    (void) state;
    rt_envelope_t e = { .to_type = 1, .to_key = S ("k"), .msg_type = 0 }, d;
    uint8_t *buf;
    size_t len;
    assert_int_equal (rt_envelope_encode (&e, &buf, &len), 0);
    assert_true (len < 16);
    assert_int_equal (rt_envelope_decode (buf, len, &d), 0);
    s_assert_equal (&e, &d);
    free (buf);
}

static void
test_encode_limits (void **state)
{
    (void) state;
    uint8_t *buf = NULL;
    size_t len;
    char big[RT_IDEM_KEY_MAX + 2];
    memset (big, 'x', sizeof big);
#define BAD(expr, code) do { rt_envelope_t e = s_full (); expr; \
        assert_int_equal (rt_envelope_encode (&e, &buf, &len), code); assert_null (buf); } while (0)
    BAD (e.to_type = 0, RT_EINVAL);
    BAD (e.to_type = RT_TYPES_MAX, RT_EINVAL);
    BAD (e.to_key.len = 0, RT_EINVAL);
    BAD (e.to_key = ((rt_slice_t) { (const uint8_t *) big, RT_KEY_MAX + 1 }), RT_EINVAL);
    BAD (e.msg_type = RT_MSG_TYPES_MAX, RT_EINVAL);
    BAD (e.from_key.len = 0, RT_EINVAL);
    BAD (e.from_key = ((rt_slice_t) { (const uint8_t *) big, RT_KEY_MAX + 1 }), RT_EINVAL);
    BAD (e.src_seq = 0, RT_EINVAL);
    BAD (e.fingerprint.len = 31, RT_EINVAL);
    BAD (e.idem_key.len = 0, RT_EINVAL);
    BAD (e.idem_key = ((rt_slice_t) { (const uint8_t *) big, RT_IDEM_KEY_MAX + 1 }), RT_EINVAL);
    BAD (e.idem_key = S ("has space"), RT_EINVAL);
    BAD (e.idem_key = S ("ctl\x01"), RT_EINVAL);
    BAD (e.idem_scope.len = 0, RT_EINVAL);
    BAD (e.traceparent.len = 54, RT_EINVAL);
    BAD (e.body = ((rt_slice_t) { (const uint8_t *) big, RT_BODY_MAX_BYTES + 1 }), RT_ETOOBIG);
#undef BAD
}

static int
s_dec (const void *p, size_t n)
{
    rt_envelope_t d;
    memset (&d, 0xab, sizeof d);
    int rc = rt_envelope_decode (p, n, &d);
    if (rc) {
        /*  On error the envelope is zeroed. */
        rt_envelope_t z;
        memset (&z, 0, sizeof z);
        assert_memory_equal (&d, &z, sizeof d);
    }
    return rc;
}

static void
test_decode_truncated_everywhere (void **state)
{
    (void) state;
    rt_envelope_t e = s_full ();
    uint8_t *buf;
    size_t len;
    assert_int_equal (rt_envelope_encode (&e, &buf, &len), 0);
    for (size_t n = 0; n < len; n++) {
        /*  Exact-size copies, so ASan sees any read past the end. */
        uint8_t *cut = malloc (n ? n : 1);
        memcpy (cut, buf, n);
        assert_int_equal (s_dec (cut, n), RT_EMALFORMED);
        free (cut);
    }
    uint8_t *more = malloc (len + 1);
    memcpy (more, buf, len);
    more[len] = 0xc0;
    assert_int_equal (s_dec (more, len + 1), RT_EMALFORMED);   /* trailing byte */
    free (more);
    free (buf);
}

static void
test_decode_rejects (void **state)
{
    (void) state;
    /*  Hand-made inputs, each wrong in one way. */
    struct { const char *what; const char *bytes; size_t len; } bad[] = {
#define B(w, s) { w, s, sizeof (s) - 1 }
        B ("not a map", "\x92\x01\x02"),
        B ("string key", "\x82\xa2to\x92\x01\xa1k\x02\x00"),
        B ("duplicate key", "\x83\x01\x92\x01\xa1k\x02\x00\x02\x01"),
        B ("missing to", "\x81\x02\x00"),
        B ("missing msg_type", "\x81\x01\x92\x01\xa1k"),
        B ("to type 0", "\x82\x01\x92\x00\xa1k\x02\x00"),
        B ("to as string", "\x82\x01\xa1k\x02\x00"),
        B ("to array of 3", "\x82\x01\x93\x01\xa1k\x01\x02\x00"),
        B ("empty key", "\x82\x01\x92\x01\xa0\x02\x00"),
        B ("msg_type too big", "\x82\x01\x92\x01\xa1k\x02\x40"),
        B ("msg_type negative", "\x82\x01\x92\x01\xa1k\x02\xff"),
        B ("body as str", "\x83\x01\x92\x01\xa1k\x02\x00\x0a\xa1x"),
        B ("fingerprint 1 byte", "\x83\x01\x92\x01\xa1k\x02\x00\x08\x93\xa1s\xa1k\xc4\x01\x00"),
        B ("idem key not printable", "\x83\x01\x92\x01\xa1k\x02\x00\x08\x93\xa1s\xa1\x01\xc4\x00"),
        B ("src seq 0", "\x83\x01\x92\x01\xa1k\x02\x00\x07\x93\x01\x00\x00"),
        B ("trace wrong length", "\x83\x01\x92\x01\xa1k\x02\x00\x09\xa1x"),
        B ("unknown deep nesting", "\x83\x01\x92\x01\xa1k\x02\x00\x63\x91\x91\x91\x91\x91\x01"),
        B ("unknown ext type", "\x83\x01\x92\x01\xa1k\x02\x00\x63\xd4\x01\x01"),
        B ("array count beyond input", "\x83\x01\x92\x01\xa1k\x02\x00\x63\xdd\xff\xff\xff\xff"),
        B ("str length beyond input", "\x83\x01\x92\x01\xa1k\x02\x00\x63\xdb\x7f\xff\xff\xff"),
        B ("too many fields", "\xde\x00\x21"),
        B ("reserved byte 0xc1", "\xc1"),
        B ("empty", ""),
#undef B
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *copy = malloc (bad[i].len ? bad[i].len : 1);
        memcpy (copy, bad[i].bytes, bad[i].len);
        if (s_dec (copy, bad[i].len) != RT_EMALFORMED)
            fail_msg ("accepted: %s", bad[i].what);
        free (copy);
    }
    assert_int_equal (rt_envelope_decode ((const uint8_t *) "", RT_ENVELOPE_MAX_BYTES + 1,
                                          &(rt_envelope_t) { 0 }), RT_ETOOBIG);
}

static void
test_decode_skips_unknown_scalar (void **state)
{
    (void) state;
    /*  A newer peer's field 99 (a string) and 100 (an array) are skipped. */
    const char in[] = "\x84\x01\x92\x01\xa1k\x02\x05\x63\xa3new\x64\x92\x01\xc3";
    rt_envelope_t d;
    assert_int_equal (rt_envelope_decode ((const uint8_t *) in, sizeof in - 1, &d), 0);
    assert_int_equal (d.to_type, 1);
    assert_int_equal (d.msg_type, 5);
}

int
main (int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_round_trip_full),
        cmocka_unit_test (test_round_trip_minimal),
        cmocka_unit_test (test_encode_limits),
        cmocka_unit_test (test_decode_truncated_everywhere),
        cmocka_unit_test (test_decode_rejects),
        cmocka_unit_test (test_decode_skips_unknown_scalar),
    };
    if (argc > 1)
        cmocka_set_test_filter (argv[1]);
    return cmocka_run_group_tests (tests, NULL, NULL);
}
