/*  test_config.c - cluster.toml loading: the repository's file, defaults,
    and each class of error with its line and key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "runtime/rt_config.h"

static char s_path[64];
static char s_err[512];

static const char *
s_write (const char *text)
{
    snprintf (s_path, sizeof s_path, "/tmp/pasar-cfg-XXXXXX");
    int fd = mkstemp (s_path);
    assert_true (fd >= 0);
    size_t n = strlen (text);
    assert_int_equal (write (fd, text, n), (ssize_t) n);
    close (fd);
    return s_path;
}

#define NODE "\n[[node]]\nid = \"n1\"\nbind = \"tcp://127.0.0.1:7101\"\nhttp = \"127.0.0.1:8080\"\n"

static rt_config_t *
s_load (const char *text)
{
    s_err[0] = 0;
    rt_config_t *c = rt_config_load (s_write (text), s_err, sizeof s_err);
    unlink (s_path);
    return c;
}

/*  The load fails and the error names line and key. */
static void
s_bad (const char *text, const char *line_col, const char *needle)
{
    rt_config_t *c = s_load (text);
    if (c)
        fail_msg ("accepted:\n%s", text);
    char where[160];
    snprintf (where, sizeof where, "%s:%s:", s_path, line_col);
    if (!strstr (s_err, where) || !strstr (s_err, needle))
        fail_msg ("error '%s' lacks '%s' or '%s'", s_err, where, needle);
}

static void
test_repository_file (void **state)
{
    (void) state;
    rt_config_t *c = rt_config_load ("cluster.toml", s_err, sizeof s_err);
    if (!c)
        fail_msg ("%s", s_err);
    assert_string_equal (c->name, "local");
    assert_int_equal (c->shards, 256);
    assert_int_equal (c->epoch, 1);
    assert_int_equal (c->sync, RT_SYNC_FULL);
    assert_int_equal (c->node_count, 1);
    assert_string_equal (c->nodes[0].id, "n1");
    assert_string_equal (c->nodes[0].http, "127.0.0.1:8080");
    assert_false (c->redis_enabled);
    assert_false (c->kafka_enabled);
    assert_non_null (rt_config_node (c, "n1"));
    assert_null (rt_config_node (c, "n2"));
    rt_config_destroy (&c);
    assert_null (c);
}

static void
test_defaults (void **state)
{
    (void) state;
    rt_config_t *c = s_load (NODE);
    if (!c)
        fail_msg ("%s", s_err);
    assert_int_equal (c->shards, 256);
    assert_string_equal (c->data_dir, "data");
    assert_int_equal (c->map_size_mb, 4096);
    assert_int_equal (c->mailbox_max, 1024);
    assert_int_equal (c->idem_retention_s, 86400);
    assert_int_equal (c->http_threads, 128);
    assert_int_equal (c->access_ttl_s, 900);
    assert_string_equal (c->issuer, "pasar");
    assert_true (c->curve);
    assert_false (c->chaos);
    assert_int_equal (c->nodes[0].weight, 1);
    rt_config_destroy (&c);
}

static void
test_full (void **state)
{
    (void) state;
    rt_config_t *c = s_load (
        "[cluster]\nname = \"prod\"\nshards = 1024\nepoch = 7\n"
        "[storage]\nsync = \"nometasync\"\n"
        "[runtime]\nworkers = 4\n"
        "[http]\nthreads = 512\n"
        "[auth]\nadmin_emails = [\" Admin@Example.COM \", \"ops@example.com\"]\n"
        "[redis]\nurl = \"redis://127.0.0.1:6380/0\"\n"
        "[listings]\nlifetime_s = 120\n"
        "[payments]\nfee_bps = 250\n[payments.midtrans]\nserver_key = \"sk\"\n"
        NODE
        "\n[[node]]\nid = \"n2\"\nbind = \"tcp://127.0.0.1:7102\"\nhttp = \"127.0.0.1:8081\"\nweight = 3\n");
    if (!c)
        fail_msg ("%s", s_err);
    assert_int_equal (c->shards, 1024);
    assert_int_equal (c->epoch, 7);
    assert_int_equal (c->sync, RT_SYNC_NOMETASYNC);
    assert_int_equal (c->workers, 4);
    assert_int_equal (c->http_threads, 512);
    assert_int_equal (c->admin_emails_count, 2);
    assert_string_equal (c->admin_emails[0], "admin@example.com");
    assert_true (c->redis_enabled);
    assert_string_equal (c->redis_url, "redis://127.0.0.1:6380/0");
    assert_int_equal (c->fee_bps, 250);
    assert_int_equal (c->listing_lifetime_s, 120);
    assert_string_equal (c->midtrans_server_key, "sk");
    assert_int_equal (c->node_count, 2);
    assert_int_equal (c->nodes[1].weight, 3);
    rt_config_destroy (&c);
}

static void
test_errors (void **state)
{
    (void) state;
    s_bad ("[cluster]\nname = \"x\n" NODE, "2", "");                      /* syntax */
    s_bad ("[cluster]\nnmae = \"x\"\n" NODE, "2:1", "cluster.nmae: unknown key");
    s_bad ("[clutser]\n" NODE, "1:2", "clutser: unknown table");
    s_bad ("[cluster]\nshards = \"256\"\n" NODE, "2:1", "cluster.shards: expected an integer");
    s_bad ("[cluster]\nshards = 0\n" NODE, "2:1", "cluster.shards: 0 is outside");
    s_bad ("[cluster]\nshards = 70000\n" NODE, "2:1", "outside 1..65535");
    s_bad ("[cluster]\nepoch = -1\n" NODE, "2:1", "cluster.epoch");
    s_bad ("[storage]\nsync = \"sometimes\"\n" NODE, "2:1", "storage.sync");
    s_bad ("[http]\nthreads = 4\n" NODE, "2:1", "http.threads: 4 is outside 8..4096");
    s_bad ("[http]\nthreads = 5000\n" NODE, "2:1", "http.threads: 5000 is outside");
    s_bad ("[debug]\nchaos = 1\n" NODE, "2:1", "debug.chaos: expected a boolean");
    s_bad ("[auth]\nadmin_emails = [1, 2]\n" NODE, "2:1", "auth.admin_emails");
    s_bad ("[auth]\nadmin_emails = [\"nobody\"]\n" NODE, "2:1", "not an email");
    s_bad ("[cluster]\nname = \"x\"\n", "1:1", "at least one [[node]]");
    s_bad (NODE NODE, "7:1", "node.id: 'n1' is used twice");
    s_bad ("[[node]]\nid = \"n1\"\nbind = \"127.0.0.1:7101\"\nhttp = \"127.0.0.1:8080\"\n",
           "3:1", "node[0].bind");
    s_bad ("[[node]]\nid = \"N1!\"\nbind = \"tcp://127.0.0.1:7101\"\nhttp = \"127.0.0.1:8080\"\n",
           "2:1", "node[0].id");
    s_bad ("[[node]]\nid = \"n1\"\nbind = \"tcp://127.0.0.1:7101\"\nhttp = \"127.0.0.1:99999\"\n",
           "4:1", "node[0].http");
    s_bad ("[[node]]\nid = \"n1\"\nbind = \"tcp://127.0.0.1:7101\"\nhttp = \"h:1\"\ncolor = \"red\"\n",
           "5:1", "node[0].color: unknown key");
    s_bad ("[[node]]\nid = \"n1\"\nhttp = \"127.0.0.1:8080\"\n", "1:1", "has no bind");
    s_bad ("[redis]\n" NODE, "1:1", "redis.url: required when [redis] is present");
    s_bad ("node = 3\n", "1:1", "node");
    s_bad ("[security]\ncurve = false\n" NODE "\n[[node]]\nid = \"n2\"\nbind = \"tcp://127.0.0.1:7102\"\n"
           "http = \"127.0.0.1:8082\"\n", "2:1", "security.curve: cannot be false");
    s_bad ("[debug]\nkill_actors_per_min = 10\n" NODE, "2:1",
           "debug.kill_actors_per_min: needs debug.chaos = true");
}

static void
test_file_too_big_or_missing (void **state)
{
    (void) state;
    size_t n = RT_CONFIG_MAX_BYTES + 10;
    char *big = malloc (n + 1);
    memset (big, '#', n);
    big[n] = 0;
    rt_config_t *c = s_load (big);
    free (big);
    assert_null (c);
    assert_non_null (strstr (s_err, "over the"));
    assert_null (rt_config_load ("/nonexistent/cluster.toml", s_err, sizeof s_err));
    assert_non_null (strstr (s_err, "cannot read"));
}

int
main (int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_repository_file),
        cmocka_unit_test (test_defaults),
        cmocka_unit_test (test_full),
        cmocka_unit_test (test_errors),
        cmocka_unit_test (test_file_too_big_or_missing),
    };
    if (argc > 1)
        cmocka_set_test_filter (argv[1]);
    return cmocka_run_group_tests (tests, NULL, NULL);
}
