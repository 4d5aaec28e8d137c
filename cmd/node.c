/*  =========================================================================
    node.c - bin/pasar node: run one node in the foreground

    Signals are blocked in every thread and taken by sigwait in the main
    thread, so no handler ever runs inside a worker: SIGTERM/SIGINT drain
    (stop the edge, let submitted commits land, close the store) and exit
    0; SIGHUP re-reads cluster.toml and applies a membership change (new
    [[node]] list and a higher epoch: shards move, see rt_reload). A node
    that is no longer in the file hands its shards off and then exits 0.
    =========================================================================
*/
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "runtime/rt_config.h"
#include "runtime/rt_runtime.h"
#include "runtime/rt_error.h"
#include "runtime/rt_log.h"
#include "edge/ed_server.h"
#include "actors/ac_types.h"
#include <sodium.h>

/*  Read the JWT secret (hex, >= 256 bits) into jwt_key, and derive the
    idempotency-fingerprint key from it (one secret file to manage; a
    separate key by domain separation). 0 or -1. */
static int
s_keys (const char *path, uint8_t jwt_key[32], uint8_t key[32], uint8_t refresh_key[32])
{
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    char hex[130] = "";
    size_t n = fread (hex, 1, sizeof hex - 1, f);
    fclose (f);
    uint8_t secret[64];
    size_t slen = 0;
    int rc = sodium_hex2bin (secret, sizeof secret, hex, n, "\n", &slen, NULL);
    sodium_memzero (hex, sizeof hex);
    if (rc || slen < 32)
        return -1;
    memcpy (jwt_key, secret, 32);
    crypto_generichash (key, 32, (const uint8_t *) "pasar idempotency fingerprint", 29, secret, slen);
    crypto_generichash (refresh_key, 32, (const uint8_t *) "pasar refresh token", 19, secret, slen);
    sodium_memzero (secret, sizeof secret);
    return 0;
}

/*  Apply the membership of the file at path. Only [[node]] and epoch are
    taken; other settings need a restart (logged when they differ in ways
    this can see: the shard count). */
static int
s_reload (const char *path, rt_runtime_t *rt, uint64_t *epoch)
{
    char err[512], esc[600];
    rt_config_t *conf = rt_config_load (path, err, sizeof err);
    if (!conf) {
        rt_log ("error", "config.reload_rejected", "\"error\":\"%s\"",
                rt_log_escape (err, esc, sizeof esc));
        return 1;
    }
    int rc = 0;
    if (conf->epoch == *epoch)
        rt_log ("info", "config.reload", "\"epoch\":%llu,\"applied\":false,"
                "\"why\":\"same epoch: no membership change to apply\"",
                (unsigned long long) conf->epoch);
    else if ((rc = rt_reload (rt, conf->nodes, conf->node_count, conf->epoch, err, sizeof err)))
        rt_log ("error", "config.reload_rejected", "\"epoch\":%llu,\"error\":\"%s\"",
                (unsigned long long) conf->epoch, rt_log_escape (err, esc, sizeof esc));
    else
        *epoch = conf->epoch;
    rt_config_destroy (&conf);
    return rc ? 1 : 0;
}

int
cmd_node (int argc, char **argv)
{
    /*  First of all: a SIGHUP or SIGTERM that arrives while we load the
        file must wait for sigwait below, not end the process. */
    sigset_t sigs;
    sigemptyset (&sigs);
    sigaddset (&sigs, SIGTERM);
    sigaddset (&sigs, SIGINT);
    sigaddset (&sigs, SIGHUP);
    pthread_sigmask (SIG_BLOCK, &sigs, NULL);
    const char *path;
    rt_config_t *conf;
    const rt_node_conf_t *me;
    char dir[1024], err[512];
    int rc0 = cmd_node_args ("node", argc, argv, &path, &conf, &me, dir, sizeof dir);
    if (rc0)
        return rc0;
    /*  From here request threads hand their log lines to the log thread
        (it inherits the blocked signals, so they still come to
        sigtimedwait); atexit writes what is queued. */
    rt_log_start ();

    rt_options_t opts = {
        .data_dir = dir, .node_id = me->id, .shards = conf->shards,
        .workers = conf->workers, .mailbox_max = conf->mailbox_max,
        .worker_inbox_max = conf->worker_inbox_max,
        .max_resident = conf->max_resident_actors,
        .passivate_idle_ms = conf->passivate_idle_s * 1000,
        .idem_retention_s = conf->idem_retention_s,
        .map_size_mb = conf->map_size_mb, .reserve_mb = conf->reserve_mb,
        .nometasync = conf->sync == RT_SYNC_NOMETASYNC,
        .nodes = conf->nodes, .nnodes = conf->node_count,
        .self_node = (uint32_t) (me - conf->nodes), .epoch = conf->epoch,
        .keys_dir = conf->keys_dir, .no_curve = !conf->curve,
        .peer_down_ms = conf->peer_down_ms,
        .kill_actors_per_min = conf->chaos ? conf->kill_actors_per_min : 0,
    };
    rt_runtime_t *rt = rt_runtime_new (&opts, err, sizeof err);
    if (!rt) {
        char esc[600];
        rt_log ("error", "node.store_failed", "\"node\":\"%s\",\"error\":\"%s\"", me->id,
                rt_log_escape (err, esc, sizeof esc));
        rt_config_destroy (&conf);
        return 1;
    }
    uint8_t fp_key[32], jwt_key[32], refresh_key[32];
    if (s_keys (conf->jwt_secret_file, jwt_key, fp_key, refresh_key)) {
        rt_log ("error", "node.start_failed",
                "\"node\":\"%s\",\"error\":\"cannot read auth.jwt_secret_file (run bin/pasar keys)\"",
                me->id);
        rt_runtime_destroy (&rt);
        rt_config_destroy (&conf);
        return 1;
    }
    int rc = ac_register_all (rt);
    if (!rc)
        rc = rt_start (rt);
    ed_options_t eo = { .listen = me->http, .threads = conf->http_threads,
                        .node_id = me->id, .cluster_name = conf->name,
                        .idem_retention_s = conf->idem_retention_s,
                        .ask_timeout_ms = conf->ask_timeout_ms, .log_requests = true,
                        .redis_url = conf->redis_enabled ? conf->redis_url : NULL,
                        .chaos = conf->chaos,
                        .listing_lifetime_s = conf->listing_lifetime_s,
                        .midtrans_server_key = conf->midtrans_server_key,
                        .xendit_callback_token = conf->xendit_callback_token,
                        .payment_expiry_s = conf->payment_expiry_s, .fee_bps = conf->fee_bps,
                        .order_payment_timeout_s = conf->order_payment_timeout_s,
                        .order_auto_complete_s = conf->order_auto_complete_s,
                        .admin_emails = conf->admin_emails, .fingerprint_key = fp_key,
                        .refresh_key = refresh_key,
                        .jwt = { .key = jwt_key, .key_len = sizeof jwt_key,
                                 .issuer = conf->issuer, .audience = conf->audience,
                                 .ttl_s = conf->access_ttl_s } };
    ed_server_t *edge = rc ? NULL : ed_server_new (rt, &eo, err, sizeof err);
    if (!edge) {
        char esc[600];
        rt_log ("error", "node.start_failed", "\"node\":\"%s\",\"error\":\"%s\"", me->id,
                rt_log_escape (rc ? "runtime failed to start" : err, esc, sizeof esc));
        rt_runtime_destroy (&rt);
        rt_config_destroy (&conf);
        return 1;
    }
    rt_log ("info", "node.start",
            "\"node\":\"%s\",\"http\":\"%s\",\"data_dir\":\"%s\",\"shards\":%u,\"epoch\":%llu",
            me->id, me->http, dir, conf->shards, (unsigned long long) conf->epoch);
    int rc_exit = 0;
    uint64_t epoch = conf->epoch;
    for (;;) {
        /*  Wake twice a second to notice a failed store: fail-stop, so a
            supervisor restarts the node from what is on disk. */
        struct timespec tick = { 0, 500 * 1000000L };
        int sig = sigtimedwait (&sigs, NULL, &tick);
        if (sig < 0) {
            if (rt_drained (rt)) {
                rt_log ("info", "node.drained", "\"node\":\"%s\"", me->id);
                break;
            }
            int failed = rt_failed (rt);
            if (!failed)
                continue;
            rt_log ("error", "node.store_failed", "\"node\":\"%s\",\"error\":\"%s\"",
                    me->id, rt_strerror (failed));
            rc_exit = 1;
            break;
        }
        if (sig == SIGHUP) {
            s_reload (path, rt, &epoch);
            continue;
        }
        rt_log ("info", "node.draining", "\"node\":\"%s\",\"signal\":%d", me->id, sig);
        break;
    }
    ed_server_destroy (&edge);
    rt_runtime_destroy (&rt);
    rt_log ("info", "node.stopped", "\"node\":\"%s\"", me->id);
    sodium_memzero (jwt_key, sizeof jwt_key);
    sodium_memzero (fp_key, sizeof fp_key);
    sodium_memzero (refresh_key, sizeof refresh_key);
    rt_config_destroy (&conf);
    return rc_exit;
}
