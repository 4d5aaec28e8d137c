/*  test_placement.c - weighted rendezvous placement: same everywhere,
    balanced by weight, and a membership change moves only what it must */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "runtime/rt_placement.h"

#define SHARDS 4096

static void
s_nodes (rt_node_conf_t *n, int count, const uint32_t *weights)
{
    memset (n, 0, sizeof *n * (size_t) count);
    for (int i = 0; i < count; i++) {
        snprintf (n[i].id, sizeof n[i].id, "n%d", i + 1);
        n[i].weight = weights ? weights[i] : 1;
    }
}

static void
test_balanced_by_weight (void **state)
{
    (void) state;
    rt_node_conf_t n[3];
    s_nodes (n, 3, NULL);
    rt_placement_t *p = rt_placement_new (n, 3, SHARDS);
    for (uint32_t i = 0; i < 3; i++) {      /* 1365 each; within 10 % */
        assert_in_range (rt_placement_count (p, i), SHARDS / 3 * 9 / 10, SHARDS / 3 * 11 / 10);
    }
    rt_placement_destroy (&p);
    uint32_t w[3] = { 2, 1, 1 };
    s_nodes (n, 3, w);
    p = rt_placement_new (n, 3, SHARDS);
    assert_in_range (rt_placement_count (p, 0), SHARDS / 2 * 9 / 10, SHARDS / 2 * 11 / 10);
    rt_placement_destroy (&p);
}

static void
test_order_does_not_matter (void **state)
{
    (void) state;
    rt_node_conf_t a[3], b[3];
    s_nodes (a, 3, NULL);
    b[0] = a[2], b[1] = a[0], b[2] = a[1];
    rt_placement_t *pa = rt_placement_new (a, 3, SHARDS), *pb = rt_placement_new (b, 3, SHARDS);
    for (uint32_t s = 0; s < SHARDS; s++)
        assert_string_equal (a[rt_placement_owner (pa, s)].id, b[rt_placement_owner (pb, s)].id);
    rt_placement_destroy (&pa);
    rt_placement_destroy (&pb);
}

static void
test_membership_changes_move_the_minimum (void **state)
{
    (void) state;
    rt_node_conf_t n[4];
    s_nodes (n, 4, NULL);
    rt_placement_t *three = rt_placement_new (n, 3, SHARDS), *four = rt_placement_new (n, 4, SHARDS);
    uint32_t moved = 0;
    for (uint32_t s = 0; s < SHARDS; s++) {
        uint32_t before = rt_placement_owner (three, s), after = rt_placement_owner (four, s);
        if (before != after) {
            assert_int_equal (after, 3);    /* only to the new node */
            moved++;
        }
    }
    assert_int_equal (moved, rt_placement_count (four, 3));
    /*  Removing n2 from the four: only n2's shards move. */
    rt_node_conf_t m[3] = { n[0], n[2], n[3] };
    rt_placement_t *less = rt_placement_new (m, 3, SHARDS);
    for (uint32_t s = 0; s < SHARDS; s++) {
        const char *before = n[rt_placement_owner (four, s)].id;
        const char *after = m[rt_placement_owner (less, s)].id;
        if (strcmp (before, "n2"))
            assert_string_equal (before, after);
    }
    rt_placement_destroy (&three);
    rt_placement_destroy (&four);
    rt_placement_destroy (&less);
}

static void
test_bad_arguments (void **state)
{
    (void) state;
    rt_node_conf_t n[1];
    s_nodes (n, 1, NULL);
    assert_null (rt_placement_new (n, 0, 16));
    assert_null (rt_placement_new (n, 1, 0));
    assert_null (rt_placement_new (n, 1, RT_SHARDS_MAX + 1));
    rt_placement_t *p = rt_placement_new (n, 1, 16);
    for (uint32_t s = 0; s < 16; s++)
        assert_int_equal (rt_placement_owner (p, s), 0);
    rt_placement_destroy (&p);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_balanced_by_weight),
        cmocka_unit_test (test_order_does_not_matter),
        cmocka_unit_test (test_membership_changes_move_the_minimum),
        cmocka_unit_test (test_bad_arguments),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
