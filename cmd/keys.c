/*  =========================================================================
    keys.c - bin/pasar keys: create missing keys, never overwrite one

    In security.keys_dir:
      jwt.secret (or auth.jwt_secret_file)  256 random bits, hex, mode 0600
      <node>.key_secret, <node>.key         each node's CURVE certificate
                                            (czmq zcert format: secret and
                                            public halves)
    The public halves form the allow-list of node keys: a node accepts a
    peer only if its public key is there. Running it again after adding a
    [[node]] creates just the new node's certificate.
    =========================================================================
*/
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <czmq.h>
#include <sodium.h>
#include "cmd.h"
#include "runtime/rt_config.h"

static int
s_mkdir_p (const char *dir)
{
    char path[1024];
    snprintf (path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir (path, 0700) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir (path, 0700) && errno != EEXIST ? -1 : 0;
}

static int
s_jwt_secret (const char *path)
{
    if (access (path, F_OK) == 0)
        return 0;
    char dir[1024];
    snprintf (dir, sizeof dir, "%s", path);
    char *slash = strrchr (dir, '/');
    if (slash) {
        *slash = 0;
        if (s_mkdir_p (dir))
            return -1;
    }
    uint8_t key[32];
    randombytes_buf (key, sizeof key);
    char hex[65];
    sodium_bin2hex (hex, sizeof hex, key, sizeof key);
    sodium_memzero (key, sizeof key);
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return -1;
    hex[64] = '\n';
    ssize_t n = write (fd, hex, 65);
    sodium_memzero (hex, sizeof hex);
    close (fd);
    if (n != 65)
        return -1;
    printf ("created %s\n", path);
    return 0;
}

int
cmd_keys (int argc, char **argv)
{
    const char *path = "cluster.toml";
    int c;
    optind = 1;
    while ((c = getopt (argc, argv, "c:")) != -1) {
        if (c == 'c') path = optarg;
        else {
            fprintf (stderr, "usage: pasar keys -c cluster.toml\n");
            return 2;
        }
    }
    char err[512];
    rt_config_t *conf = rt_config_load (path, err, sizeof err);
    if (!conf) {
        fprintf (stderr, "%s\n", err);
        return 1;
    }
    int rc = 0;
    if (sodium_init () < 0 || s_mkdir_p (conf->keys_dir)) {
        fprintf (stderr, "pasar keys: cannot create %s: %s\n", conf->keys_dir, strerror (errno));
        rc = 1;
        goto out;
    }
    if (s_jwt_secret (conf->jwt_secret_file)) {
        fprintf (stderr, "pasar keys: cannot write %s: %s\n", conf->jwt_secret_file,
                 strerror (errno));
        rc = 1;
        goto out;
    }
    for (size_t i = 0; i < conf->node_count; i++) {
        char pub[1100], sec[1100];
        snprintf (pub, sizeof pub, "%s/%s.key", conf->keys_dir, conf->nodes[i].id);
        snprintf (sec, sizeof sec, "%s/%s.key_secret", conf->keys_dir, conf->nodes[i].id);
        if (access (sec, F_OK) == 0)
            continue;
        zcert_t *cert = zcert_new ();
        if (!cert) {
            rc = 1;
            goto out;
        }
        zcert_set_meta (cert, "node", "%s", conf->nodes[i].id);
        zcert_set_meta (cert, "cluster", "%s", conf->name);
        if (zcert_save (cert, pub)) {
            fprintf (stderr, "pasar keys: cannot write %s\n", pub);
            zcert_destroy (&cert);
            rc = 1;
            goto out;
        }
        chmod (sec, 0600);
        zcert_destroy (&cert);
        printf ("created %s and %s\n", pub, sec);
    }
out:
    rt_config_destroy (&conf);
    return rc;
}
