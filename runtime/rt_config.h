/*  =========================================================================
    rt_config.h - cluster.toml, parsed and validated

    The file is parsed by toml++ behind a small C++ shim (rt_toml.h) and
    checked here against one schema table: every key has a type, a default
    and a range, unknown keys and tables are errors, and every error names
    file:line:col and the dotted key. docs/config.md lists the same schema.
    =========================================================================
*/
#ifndef RT_CONFIG_H_INCLUDED
#define RT_CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include "rt_limits.h"

typedef enum { RT_SYNC_FULL = 0, RT_SYNC_NOMETASYNC = 1 } rt_sync_t;

typedef struct {
    char     id[32];            /* node id, [a-z0-9_-]{1,31} */
    char     bind[128];         /* ZeroMQ endpoint, tcp://host:port */
    char     http[128];         /* host:port of the HTTP edge */
    uint32_t weight;            /* rendezvous weight, 1..1000 */
} rt_node_conf_t;

typedef struct {
    /* [cluster] */
    char     name[64];
    uint32_t shards;            /* 1..RT_SHARDS_MAX, default 256 */
    uint64_t epoch;             /* >= 1 */
    uint32_t peer_down_ms;      /* a silent peer is down after this */
    /* [storage] */
    char     data_dir[512];     /* relative paths are relative to the cwd */
    rt_sync_t sync;             /* "full" | "nometasync" */
    uint32_t map_size_mb;       /* 16..RT_MAP_SIZE_MAX_MB, default 4096 */
    uint32_t reserve_mb;        /* disk allocated ahead of LMDB's use (st_space.c) */
    /* [runtime] */
    uint32_t workers;           /* 0 = one per core; 1..RT_WORKERS_MAX */
    uint32_t mailbox_max;
    uint32_t worker_inbox_max;
    uint32_t max_resident_actors;
    uint32_t passivate_idle_s;
    uint32_t ask_timeout_ms;    /* default deadline of an edge ask */
    /* [idempotency] */
    uint32_t idem_retention_s;
    /* [http] */
    uint32_t http_threads;      /* connections served at once */
    /* [security] */
    char     keys_dir[512];
    bool     curve;
    /* [auth] */
    char     jwt_secret_file[512];
    char     issuer[64];
    char     audience[64];
    uint32_t access_ttl_s;
    uint32_t refresh_ttl_s;
    char   **admin_emails;      /* NULL-terminated, owned */
    size_t   admin_emails_count;
    /* [redis] (optional) */
    bool     redis_enabled;
    char     redis_url[256];
    /* [kafka] (optional) */
    bool     kafka_enabled;
    char     kafka_brokers[256];
    char     kafka_topic_prefix[64];
    /* [listings] */
    uint32_t listing_lifetime_s;/* active until then, unless renewed */
    /* [payments] */
    uint32_t fee_bps;           /* 0..10000 */
    uint32_t payment_expiry_s;  /* an unpaid partner payment expires then */
    /* [orders] */
    uint32_t order_payment_timeout_s;   /* awaiting_payment -> cancelled */
    uint32_t order_auto_complete_s;     /* shipped -> completed */
    char     midtrans_server_key[256];
    char     xendit_callback_token[256];
    /* [push] (optional) */
    bool     push_enabled;
    char     push_project_id[128];
    char     push_credentials_file[512];
    char     push_fcm_url[256];
    char     push_oauth_url[256];
    /* [debug] */
    bool     chaos;
    uint32_t kill_actors_per_min;   /* random actor kills (needs chaos) */
    /* [[node]] */
    rt_node_conf_t nodes[RT_NODES_MAX];
    size_t   node_count;
} rt_config_t;

/*  Fill *conf with every default (no nodes). */
void rt_config_defaults (rt_config_t *conf);

/*  Parse and validate path into a new config. On error returns NULL and
    writes one line "file:line:col: key: what is wrong" to err (errlen
    bytes, always NUL-terminated). Checks: TOML syntax, unknown tables and
    keys, types, ranges, enum values, at least one [[node]], unique node
    ids, bind and http addresses. */
rt_config_t *rt_config_load (const char *path, char *err, size_t errlen);

/*  Free a config from rt_config_load; no-op on NULL, sets *p to NULL. */
void rt_config_destroy (rt_config_t **p);

/*  The [[node]] with this id, or NULL. */
const rt_node_conf_t *rt_config_node (const rt_config_t *conf, const char *id);

#endif
