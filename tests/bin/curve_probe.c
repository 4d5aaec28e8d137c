/*  curve_probe.c - a pretend peer for the CURVE refusal tests

    curve_probe MODE ENDPOINT KEYS_DIR AS_ID SERVER_ID SECONDS

    Connects a DEALER with routing id AS_ID to a node's ROUTER at ENDPOINT
    and sends heartbeat frames every 100 ms for SECONDS ('H', epoch 1, an
    empty claims map for 32 shards as the tests' clusters have, and "hears
    you"). The node marks AS_ID up (log "peer.up") only if it let the
    frames in.
    MODE:
      good          AS_ID's own certificate, SERVER_ID's public key: accepted
      null          no security at all (the NULL mechanism)
      unknown       a fresh certificate that is not in KEYS_DIR
      wrong-server  AS_ID's certificate, but AS_ID's key as the server key
*/
#include <czmq.h>

int
main (int argc, char **argv)
{
    if (argc != 7) {
        fprintf (stderr, "usage: curve_probe MODE ENDPOINT KEYS_DIR AS_ID SERVER_ID SECONDS\n");
        return 2;
    }
    const char *mode = argv[1], *endpoint = argv[2], *dir = argv[3];
    char mine[600], server[600];
    snprintf (mine, sizeof mine, "%s/%s.key", dir, argv[4]);
    snprintf (server, sizeof server, "%s/%s.key", dir, argv[5]);
    zsock_t *d = zsock_new (ZMQ_DEALER);
    zsock_set_identity (d, argv[4]);
    zsock_set_linger (d, 0);
    zcert_t *cert = NULL, *srv = NULL;
    if (strcmp (mode, "null")) {
        cert = strcmp (mode, "unknown") ? zcert_load (mine) : zcert_new ();
        srv = zcert_load (strcmp (mode, "wrong-server") ? server : mine);
        if (!cert || !srv) {
            fprintf (stderr, "curve_probe: missing certificates in %s\n", dir);
            return 2;
        }
        zcert_apply (cert, d);
        zsock_set_curve_serverkey (d, zcert_public_txt (srv));
    }
    if (zsock_connect (d, "%s", endpoint)) {
        fprintf (stderr, "curve_probe: cannot connect to %s\n", endpoint);
        return 2;
    }
    uint8_t hb[18] = { 'H', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 0, 1 };
    int64_t until = zclock_mono () + atoi (argv[6]) * 1000;
    while (zclock_mono () < until) {
        zframe_t *f = zframe_new (hb, sizeof hb);
        if (zframe_send (&f, d, ZFRAME_DONTWAIT))
            zframe_destroy (&f);
        zclock_sleep (100);
    }
    zcert_destroy (&cert);
    zcert_destroy (&srv);
    zsock_destroy (&d);
    return 0;
}
