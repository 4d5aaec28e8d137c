/*  test_ledger.c - ledger entries: packing round trips, pages rendered
    newest first below a cursor, stable and distinct entry ids, system
    account parts, and ULIDs in the layout the edge checks */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "actors/ac_ledger.h"
#include "actors/ac_types.h"
#include "edge/ed_mp.h"

static void
test_entry_round_trip (void **state)
{
    (void) state;
    ac_entry_t en = { .seq = 7, .amount = -150000, .balance_after = INT64_MAX / 4,
                      .created_ms = 1764547200123, .kind = AC_ENTRY_TRANSFER_OUT };
    strcpy (en.ref, "trf_01JDX0000000000000000000");
    uint8_t p[AC_ENTRY_PACKED];
    ac_entry_pack (&en, p);
    ac_entry_t back;
    assert_true (ac_entry_unpack (p, &back));
    assert_int_equal (back.seq, 7);
    assert_int_equal (back.amount, -150000);
    assert_int_equal (back.balance_after, INT64_MAX / 4);
    assert_int_equal (back.created_ms, 1764547200123);
    assert_int_equal (back.kind, AC_ENTRY_TRANSFER_OUT);
    assert_string_equal (back.ref, en.ref);
    p[32] = 0;                  /* no kind */
    assert_false (ac_entry_unpack (p, &back));
    p[32] = AC_ENTRY_KINDS;     /* past the last kind */
    assert_false (ac_entry_unpack (p, &back));
}

/*  n packed entries, seq 1..n, amount = seq. */
static uint8_t *
s_entries (size_t n)
{
    uint8_t *b = calloc (n ? n : 1, AC_ENTRY_PACKED);
    for (size_t i = 0; i < n; i++) {
        ac_entry_t en = { .seq = (int64_t) i + 1, .amount = (int64_t) i + 1,
                          .created_ms = 1764547200000 + (int64_t) i, .kind = AC_ENTRY_TOPUP };
        strcpy (en.ref, "pay_x");
        ac_entry_pack (&en, b + i * AC_ENTRY_PACKED);
    }
    return b;
}

/*  Render and read back the items' amounts and the "last" seq. */
static size_t
s_render (const uint8_t *b, size_t n, int64_t before, size_t limit, int64_t *amounts,
          int64_t *last, char ids[][32])
{
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 2);
    ac_entries_render (&e, "usr_01JDX0000000000000000000", b, n, before, limit);
    json_t *j = ed_mp_to_json ((const uint8_t *) e.sb.data, e.sb.size);
    ac_enc_free (&e);
    assert_non_null (j);
    json_t *items = json_object_get (j, "items");
    size_t k = json_array_size (items);
    for (size_t i = 0; i < k; i++) {
        json_t *it = json_array_get (items, i);
        amounts[i] = json_integer_value (json_object_get (it, "amount"));
        if (ids)
            snprintf (ids[i], 32, "%s", json_string_value (json_object_get (it, "id")));
    }
    *last = json_integer_value (json_object_get (j, "last"));
    json_decref (j);
    return k;
}

static void
test_pages_newest_first_below_the_cursor (void **state)
{
    (void) state;
    uint8_t *b = s_entries (10);
    int64_t a[16], last;
    size_t k = s_render (b, 10, INT64_MAX, 4, a, &last, NULL);
    assert_int_equal (k, 4);
    assert_int_equal (a[0], 10);
    assert_int_equal (a[3], 7);
    assert_int_equal (last, 7);
    k = s_render (b, 10, 7, 100, a, &last, NULL);      /* the next page: below 7 */
    assert_int_equal (k, 6);
    assert_int_equal (a[0], 6);
    assert_int_equal (a[5], 1);
    assert_int_equal (last, 1);
    k = s_render (b, 10, 1, 100, a, &last, NULL);      /* nothing below 1 */
    assert_int_equal (k, 0);
    assert_int_equal (last, 0);
    k = s_render (b, 0, INT64_MAX, 100, a, &last, NULL);
    assert_int_equal (k, 0);
    free (b);
}

static void
test_entry_ids_are_stable_and_distinct (void **state)
{
    (void) state;
    uint8_t *b = s_entries (50);
    int64_t a[64], last;
    char ids[64][32], again[64][32];
    assert_int_equal (s_render (b, 50, INT64_MAX, 50, a, &last, ids), 50);
    assert_int_equal (s_render (b, 50, INT64_MAX, 50, a, &last, again), 50);
    for (int i = 0; i < 50; i++) {
        assert_string_equal (ids[i], again[i]);
        assert_true (ed_id_valid ("ent_", ids[i]));
        for (int k = 0; k < i; k++)
            assert_string_not_equal (ids[i], ids[k]);
    }
    free (b);
}

static void
test_account_parts (void **state)
{
    (void) state;
    char k1[RT_KEY_MAX], k2[RT_KEY_MAX];
    ac_account_key ("fees", "ord_01", k1);
    ac_account_key ("fees", "ord_01", k2);
    assert_string_equal (k1, k2);           /* the same ref, the same part */
    bool seen[AC_ACCOUNT_SHARDS] = { 0 };
    for (int i = 0; i < 400; i++) {
        char ref[32];
        snprintf (ref, sizeof ref, "trf_%d", i);
        ac_account_key ("adjustments", ref, k1);
        assert_memory_equal (k1, "adjustments#", 12);
        int part = atoi (k1 + 12);
        assert_true (part >= 0 && part < AC_ACCOUNT_SHARDS);
        seen[part] = true;
    }
    for (int i = 0; i < AC_ACCOUNT_SHARDS; i++)
        assert_true (seen[i]);              /* every part gets some: no hot spot */
}

static void
test_ulid_layout (void **state)
{
    (void) state;
    uint8_t rnd[10] = { 0 }, max[10];
    memset (max, 0xFF, sizeof max);
    char a[32], b[32], c[32];
    ac_ulid ("pay_", 1764547200000, rnd, a);
    ac_ulid ("pay_", 1764547200001, rnd, b);
    ac_ulid ("pay_", 1764547200000, max, c);
    assert_true (ed_id_valid ("pay_", a));
    assert_true (ed_id_valid ("pay_", c));
    assert_true (strcmp (a, b) < 0);        /* time-ordered */
    assert_true (strcmp (a, c) < 0);
    assert_true (strcmp (c, b) < 0);        /* time first, then the random part */
    char n[32];
    ed_id_new ("ord_", n);
    assert_true (ed_id_valid ("ord_", n));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_entry_round_trip),
        cmocka_unit_test (test_pages_newest_first_below_the_cursor),
        cmocka_unit_test (test_entry_ids_are_stable_and_distinct),
        cmocka_unit_test (test_account_parts),
        cmocka_unit_test (test_ulid_layout),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
