/*  test_ttlmap.c - the edge's bounded expiring map */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "edge/ed_ttlmap.h"

static void
test_put_get_expire_replace_del (void **state)
{
    (void) state;
    ed_ttlmap_t *m = ed_ttlmap_new (10);
    int64_t a = 0, b = 0;
    assert_false (ed_ttlmap_get (m, "k", 0, &a, &b));
    assert_true (ed_ttlmap_put (m, "k", 7, 8, 100));
    assert_true (ed_ttlmap_get (m, "k", 99, &a, &b));
    assert_int_equal (a, 7);
    assert_int_equal (b, 8);
    assert_false (ed_ttlmap_get (m, "k", 100, &a, &b));     /* expired at 100 */
    assert_true (ed_ttlmap_put (m, "k", 9, 0, 200));        /* replace */
    assert_true (ed_ttlmap_get (m, "k", 150, &a, NULL));
    assert_int_equal (a, 9);
    ed_ttlmap_del (m, "k");
    assert_false (ed_ttlmap_get (m, "k", 150, NULL, NULL));
    char big[ED_TTLMAP_KEY_MAX + 1];
    memset (big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_false (ed_ttlmap_put (m, big, 1, 1, 1000));
    ed_ttlmap_destroy (&m);
    assert_null (m);
}

static void
test_bound_drops_least_recently_written (void **state)
{
    (void) state;
    ed_ttlmap_t *m = ed_ttlmap_new (100);
    char key[16];
    for (int i = 0; i < 250; i++) {
        snprintf (key, sizeof key, "k%d", i);
        assert_true (ed_ttlmap_put (m, key, i, 0, 1000));
        if (i == 120)
            assert_true (ed_ttlmap_put (m, "k30", 30, 0, 1000));   /* rewritten: newer */
    }
    int present = 0;
    for (int i = 0; i < 250; i++) {
        snprintf (key, sizeof key, "k%d", i);
        present += ed_ttlmap_get (m, key, 0, NULL, NULL);
    }
    assert_int_equal (present, 100);
    assert_true (ed_ttlmap_get (m, "k249", 0, NULL, NULL));
    assert_false (ed_ttlmap_get (m, "k0", 0, NULL, NULL));
    ed_ttlmap_destroy (&m);
}

int
main (int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_put_get_expire_replace_del),
        cmocka_unit_test (test_bound_drops_least_recently_written),
    };
    if (argc > 1)
        cmocka_set_test_filter (argv[1]);
    return cmocka_run_group_tests (tests, NULL, NULL);
}
