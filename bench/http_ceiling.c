/*  http_ceiling.c - the HTTP baseline for make bench: civetweb with one
    handler that answers a fixed JSON body of the given size, configured as
    the node's edge is (64 threads, TCP_NODELAY, keep-alive, one write per
    response). What no route of ours can beat on this machine.

        http_ceiling PORT BODY_BYTES      (runs until SIGTERM)            */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <civetweb.h>

static char *s_resp;
static size_t s_resp_len;

static int
s_handler (struct mg_connection *conn, void *cbdata)
{
    (void) cbdata;
    mg_write (conn, s_resp, s_resp_len);
    return 200;
}

static int
s_auth (struct mg_connection *conn, void *data)
{
    (void) conn;
    (void) data;
    return 1;
}

int
main (int argc, char **argv)
{
    if (argc != 3)
        return 2;
    size_t body = (size_t) atol (argv[2]);
    s_resp = malloc (body + 256);
    int n = snprintf (s_resp, 256, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n", body);
    memset (s_resp + n, 'x', body);
    if (body >= 2) {
        s_resp[n] = '"';
        s_resp[n + body - 1] = '"';
    }
    s_resp_len = (size_t) n + body;
    char listen[32];
    snprintf (listen, sizeof listen, "127.0.0.1:%s", argv[1]);
    const char *opts[] = { "listening_ports", listen, "num_threads", "64", "tcp_nodelay", "1",
                           "enable_keep_alive", "yes", NULL };
    sigset_t sigs;
    sigemptyset (&sigs);
    sigaddset (&sigs, SIGTERM);
    sigaddset (&sigs, SIGINT);
    pthread_sigmask (SIG_BLOCK, &sigs, NULL);
    struct mg_callbacks cb;
    memset (&cb, 0, sizeof cb);
    struct mg_context *ctx = mg_start (&cb, NULL, opts);
    if (!ctx)
        return 1;
    mg_set_request_handler (ctx, "/", s_handler, NULL);
    mg_set_auth_handler (ctx, "/", s_auth, NULL);   /* no .htpasswd lookup, as in the edge */
    int sig;
    sigwait (&sigs, &sig);
    mg_stop (ctx);
    free (s_resp);
    return 0;
}
