/*  test_mp.c - actor replies (msgpack) to JSON: the text writer must say
    exactly what jansson would (replays are compared byte for byte) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <msgpack.h>
#include "edge/ed_mp.h"

static void
s_str (msgpack_packer *pk, const char *s)
{
    msgpack_pack_str (pk, strlen (s));
    msgpack_pack_str_body (pk, s, strlen (s));
}

/*  Both renderings of one msgpack value agree (or both refuse it). */
static void
s_same (const msgpack_sbuffer *sb)
{
    json_t *tree = ed_mp_to_json ((const uint8_t *) sb->data, sb->size);
    size_t n = 0;
    char *text = ed_mp_to_text ((const uint8_t *) sb->data, sb->size, &n);
    if (!tree) {
        assert_null (text);
        return;
    }
    char *want = json_dumps (tree, JSON_COMPACT);
    json_decref (tree);
    assert_non_null (text);
    assert_string_equal (text, want);
    assert_int_equal (n, strlen (want));
    free (want);
    free (text);
}

static void
test_text_matches_jansson (void **state)
{
    (void) state;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sb);
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 9);
    s_str (&pk, "name");
    s_str (&pk, "Ani \"the\" \\ seller\n\t\b\f\r\x01\x1f / caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80");
    s_str (&pk, "none");
    msgpack_pack_nil (&pk);
    s_str (&pk, "yes");
    msgpack_pack_true (&pk);
    s_str (&pk, "no");
    msgpack_pack_false (&pk);
    s_str (&pk, "neg");
    msgpack_pack_int64 (&pk, INT64_MIN);
    s_str (&pk, "big");
    msgpack_pack_uint64 (&pk, INT64_MAX);
    s_str (&pk, "secret");
    msgpack_pack_bin (&pk, 3);
    msgpack_pack_bin_body (&pk, "abc", 3);      /* left out */
    s_str (&pk, "list");
    msgpack_pack_array (&pk, 3);
    msgpack_pack_double (&pk, 1.5);
    msgpack_pack_double (&pk, 2.0);
    msgpack_pack_map (&pk, 0);
    s_str (&pk, "");
    msgpack_pack_array (&pk, 0);
    s_same (&sb);
    msgpack_sbuffer_clear (&sb);

    msgpack_pack_uint64 (&pk, UINT64_MAX);      /* not a map or array */
    s_same (&sb);
    msgpack_sbuffer_clear (&sb);

    msgpack_pack_array (&pk, 1);
    msgpack_pack_uint64 (&pk, UINT64_MAX);      /* beyond int64: refused */
    s_same (&sb);
    msgpack_sbuffer_clear (&sb);

    msgpack_pack_map (&pk, 1);
    msgpack_pack_int (&pk, 1);                  /* non-string key: refused */
    msgpack_pack_int (&pk, 1);
    s_same (&sb);
    msgpack_sbuffer_clear (&sb);

    for (int i = 0; i < 40; i++)                /* deeper than the limit */
        msgpack_pack_array (&pk, 1);
    msgpack_pack_nil (&pk);
    s_same (&sb);
    msgpack_sbuffer_destroy (&sb);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_text_matches_jansson),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
