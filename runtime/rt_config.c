/*  =========================================================================
    rt_config.c - cluster.toml: one schema table drives defaults, types,
    ranges and the error messages (docs/config.md lists the same table)
    =========================================================================
*/
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rt_config.h"
#include "rt_toml.h"

typedef enum { K_STR, K_U32, K_U64, K_BOOL, K_SYNC, K_STR_LIST } kind_t;

typedef struct {
    const char *key;
    kind_t      kind;
    size_t      off;
    size_t      size;           /* K_STR: buffer size */
    uint64_t    min, max;       /* numbers: range; K_STR: length range */
    const char *def_str;        /* K_STR, K_SYNC default */
    uint64_t    def_num;        /* numbers, K_BOOL default */
} field_t;

#define F_STR(k, m, lo, d)   { k, K_STR, offsetof (rt_config_t, m), sizeof (((rt_config_t *) 0)->m), lo, sizeof (((rt_config_t *) 0)->m) - 1, d, 0 }
#define F_U32(k, m, lo, hi, d) { k, K_U32, offsetof (rt_config_t, m), 0, lo, hi, NULL, d }
#define F_BOOL(k, m, d)      { k, K_BOOL, offsetof (rt_config_t, m), 0, 0, 1, NULL, d }

static const field_t s_fields[] = {
    F_STR ("cluster.name", name, 1, "local"),
    F_U32 ("cluster.shards", shards, 1, RT_SHARDS_MAX, RT_SHARDS_DEFAULT),
    { "cluster.epoch", K_U64, offsetof (rt_config_t, epoch), 0, 1, INT64_MAX, NULL, 1 },
    F_U32 ("cluster.peer_down_ms", peer_down_ms, 200, 60000, RT_PEER_DOWN_MS_DEFAULT),
    F_STR ("storage.data_dir", data_dir, 1, "data"),
    { "storage.sync", K_SYNC, offsetof (rt_config_t, sync), 0, 0, 0, "full", 0 },
    F_U32 ("storage.map_size_mb", map_size_mb, 16, RT_MAP_SIZE_MAX_MB, 4096),
    F_U32 ("storage.reserve_mb", reserve_mb, 1, RT_STORE_RESERVE_MB_MAX, RT_STORE_RESERVE_MB_DEFAULT),
    F_U32 ("runtime.workers", workers, 0, RT_WORKERS_MAX, 0),
    F_U32 ("runtime.mailbox_max", mailbox_max, 16, 1048576, RT_MAILBOX_DEFAULT),
    F_U32 ("runtime.worker_inbox_max", worker_inbox_max, 1024, 16777216, RT_WORKER_INBOX_DEFAULT),
    F_U32 ("runtime.max_resident_actors", max_resident_actors, 1000, 100000000, RT_RESIDENT_DEFAULT),
    F_U32 ("runtime.passivate_idle_s", passivate_idle_s, 1, 86400, RT_PASSIVATE_IDLE_S_DEFAULT),
    F_U32 ("runtime.ask_timeout_ms", ask_timeout_ms, 10, RT_ASK_DEADLINE_MAX_MS, 5000),
    F_U32 ("idempotency.retention_s", idem_retention_s, 60, 604800, RT_IDEM_RETENTION_S_DEFAULT),
    F_U32 ("http.threads", http_threads, 8, RT_HTTP_THREADS_MAX, RT_HTTP_THREADS_DEFAULT),
    F_STR ("security.keys_dir", keys_dir, 1, "keys"),
    F_BOOL ("security.curve", curve, 1),
    F_STR ("auth.jwt_secret_file", jwt_secret_file, 1, "keys/jwt.secret"),
    F_STR ("auth.issuer", issuer, 1, "pasar"),
    F_STR ("auth.audience", audience, 1, "pasar-api"),
    F_U32 ("auth.access_ttl_s", access_ttl_s, 60, 86400, 900),
    F_U32 ("auth.refresh_ttl_s", refresh_ttl_s, 3600, 31536000, 2592000),
    { "auth.admin_emails", K_STR_LIST, offsetof (rt_config_t, admin_emails), 0, 0, 0, NULL, 0 },
    F_STR ("redis.url", redis_url, 1, ""),
    F_STR ("kafka.brokers", kafka_brokers, 1, ""),
    F_STR ("kafka.topic_prefix", kafka_topic_prefix, 0, "pasar."),
    F_U32 ("listings.lifetime_s", listing_lifetime_s, 1, 31536000, 2592000),
    F_U32 ("payments.fee_bps", fee_bps, 0, 10000, 0),
    F_U32 ("payments.expiry_s", payment_expiry_s, 1, 2592000, 86400),
    F_U32 ("orders.payment_timeout_s", order_payment_timeout_s, 1, 604800, 3600),
    F_U32 ("orders.auto_complete_s", order_auto_complete_s, 1, 7776000, 604800),
    F_STR ("payments.midtrans.server_key", midtrans_server_key, 0, ""),
    F_STR ("payments.xendit.callback_token", xendit_callback_token, 0, ""),
    F_STR ("push.project_id", push_project_id, 1, ""),
    F_STR ("push.credentials_file", push_credentials_file, 1, ""),
    F_STR ("push.fcm_url", push_fcm_url, 1, "https://fcm.googleapis.com"),
    F_STR ("push.oauth_url", push_oauth_url, 1, "https://oauth2.googleapis.com/token"),
    F_BOOL ("debug.chaos", chaos, 0),
    F_U32 ("debug.kill_actors_per_min", kill_actors_per_min, 0, 60000, 0),
};

static const char *s_tables[] = {
    "cluster", "storage", "runtime", "idempotency", "http", "security", "auth", "redis",
    "kafka", "listings", "orders", "payments", "payments.midtrans", "payments.xendit", "push", "debug",
};

/*  Keys an optional section must give when it is present. */
static const struct { const char *table, *key; } s_required[] = {
    { "redis", "redis.url" }, { "kafka", "kafka.brokers" },
    { "push", "push.project_id" }, { "push", "push.credentials_file" },
};

typedef struct {
    const char *file;
    char       *err;
    size_t      errlen;
} ectx_t;

static int
s_fail (ectx_t *e, int line, int col, const char *key, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (what, sizeof what, fmt, ap);
    va_end (ap);
    snprintf (e->err, e->errlen, "%s:%d:%d: %s: %s", e->file, line, col, key, what);
    return -1;
}

void
rt_config_defaults (rt_config_t *conf)
{
    memset (conf, 0, sizeof *conf);
    for (size_t i = 0; i < sizeof s_fields / sizeof s_fields[0]; i++) {
        const field_t *f = &s_fields[i];
        char *p = (char *) conf + f->off;
        switch (f->kind) {
            case K_STR:  snprintf (p, f->size, "%s", f->def_str); break;
            case K_U32:  *(uint32_t *) p = (uint32_t) f->def_num; break;
            case K_U64:  *(uint64_t *) p = f->def_num; break;
            case K_BOOL: *(bool *) p = f->def_num != 0; break;
            case K_SYNC: *(rt_sync_t *) p = RT_SYNC_FULL; break;
            case K_STR_LIST: break;
        }
    }
}

static const char *
s_kind_name (rt_toml_kind_t k)
{
    switch (k) {
        case RT_TOML_TABLE: case RT_TOML_TABLE_ELEM: return "a table";
        case RT_TOML_STRING: return "a string";
        case RT_TOML_INT: return "an integer";
        case RT_TOML_FLOAT: return "a float";
        case RT_TOML_BOOL: return "a boolean";
        case RT_TOML_STRING_ARRAY: return "an array";
        default: return "an unsupported value";
    }
}

static int
s_set_field (ectx_t *e, rt_config_t *conf, const field_t *f, const rt_toml_entry_t *t)
{
    char *p = (char *) conf + f->off;
    static const rt_toml_kind_t want[] = {
        [K_STR] = RT_TOML_STRING, [K_U32] = RT_TOML_INT, [K_U64] = RT_TOML_INT,
        [K_BOOL] = RT_TOML_BOOL, [K_SYNC] = RT_TOML_STRING, [K_STR_LIST] = RT_TOML_STRING_ARRAY,
    };
    if (t->kind != want[f->kind])
        return s_fail (e, t->line, t->col, f->key, "expected %s, got %s",
                       s_kind_name (want[f->kind]), s_kind_name (t->kind));
    switch (f->kind) {
        case K_STR: {
            size_t n = strlen (t->str);
            if (n < f->min || n > f->max)
                return s_fail (e, t->line, t->col, f->key, "length %zu is outside %llu..%llu",
                               n, (unsigned long long) f->min, (unsigned long long) f->max);
            memcpy (p, t->str, n + 1);
            return 0;
        }
        case K_U32:
        case K_U64:
            if (t->i < 0 || (uint64_t) t->i < f->min || (uint64_t) t->i > f->max)
                return s_fail (e, t->line, t->col, f->key, "%lld is outside %llu..%llu",
                               (long long) t->i, (unsigned long long) f->min,
                               (unsigned long long) f->max);
            if (f->kind == K_U32)
                *(uint32_t *) p = (uint32_t) t->i;
            else
                *(uint64_t *) p = (uint64_t) t->i;
            return 0;
        case K_BOOL:
            *(bool *) p = t->b;
            return 0;
        case K_SYNC:
            if (!strcmp (t->str, "full"))
                conf->sync = RT_SYNC_FULL;
            else if (!strcmp (t->str, "nometasync"))
                conf->sync = RT_SYNC_NOMETASYNC;
            else
                return s_fail (e, t->line, t->col, f->key,
                               "'%s' is not one of \"full\", \"nometasync\"", t->str);
            return 0;
        case K_STR_LIST:
            conf->admin_emails = calloc (t->nstrs + 1, sizeof (char *));
            if (!conf->admin_emails)
                return s_fail (e, t->line, t->col, f->key, "out of memory");
            for (size_t i = 0; i < t->nstrs; i++) {
                /*  Emails are compared normalised (trimmed, lower-case),
                    as registration normalises them (API.md). */
                const char *s = t->strs[i];
                while (isspace ((unsigned char) *s))
                    s++;
                size_t n = strlen (s);
                while (n && isspace ((unsigned char) s[n - 1]))
                    n--;
                if (n == 0 || n > 254 || !memchr (s, '@', n))
                    return s_fail (e, t->line, t->col, f->key, "item %zu is not an email", i);
                char *c = strndup (s, n);
                if (!c)
                    return s_fail (e, t->line, t->col, f->key, "out of memory");
                for (char *q = c; *q; q++)
                    *q = (char) tolower ((unsigned char) *q);
                conf->admin_emails[conf->admin_emails_count++] = c;
            }
            return 0;
    }
    return 0;
}

/*  "tcp://host:port" (bind) or "host:port" (http). */
static bool
s_endpoint_ok (const char *s, bool tcp)
{
    if (tcp) {
        if (strncmp (s, "tcp://", 6))
            return false;
        s += 6;
    }
    const char *colon = strrchr (s, ':');
    if (!colon || colon == s)
        return false;
    char *end;
    long port = strtol (colon + 1, &end, 10);
    return *end == 0 && colon[1] && port >= 1 && port <= 65535;
}

static int
s_set_node (ectx_t *e, rt_node_conf_t *n, const char *key, const char *full,
            const rt_toml_entry_t *t)
{
    bool is_str = t->kind == RT_TOML_STRING;
    if (!strcmp (key, "weight")) {
        if (t->kind != RT_TOML_INT)
            return s_fail (e, t->line, t->col, full, "expected an integer, got %s", s_kind_name (t->kind));
        if (t->i < 1 || t->i > 1000)
            return s_fail (e, t->line, t->col, full, "%lld is outside 1..1000", (long long) t->i);
        n->weight = (uint32_t) t->i;
        return 0;
    }
    char *dst;
    size_t size;
    if (!strcmp (key, "id")) dst = n->id, size = sizeof n->id;
    else if (!strcmp (key, "bind")) dst = n->bind, size = sizeof n->bind;
    else if (!strcmp (key, "http")) dst = n->http, size = sizeof n->http;
    else
        return s_fail (e, t->line, t->col, full, "unknown key");
    if (!is_str)
        return s_fail (e, t->line, t->col, full, "expected a string, got %s", s_kind_name (t->kind));
    if (strlen (t->str) >= size)
        return s_fail (e, t->line, t->col, full, "longer than %zu characters", size - 1);
    if (!strcmp (key, "id")) {
        if (!*t->str)
            return s_fail (e, t->line, t->col, full, "must not be empty");
        for (const char *c = t->str; *c; c++)
            if (!(islower ((unsigned char) *c) || isdigit ((unsigned char) *c) || *c == '_' || *c == '-'))
                return s_fail (e, t->line, t->col, full, "'%s' has characters outside [a-z0-9_-]", t->str);
    }
    else if (!s_endpoint_ok (t->str, !strcmp (key, "bind")))
        return s_fail (e, t->line, t->col, full, !strcmp (key, "bind")
                       ? "'%s' is not tcp://host:port" : "'%s' is not host:port", t->str);
    strcpy (dst, t->str);
    return 0;
}

static int
s_apply (ectx_t *e, rt_config_t *conf, const rt_toml_t *doc)
{
    bool present[sizeof s_tables / sizeof s_tables[0]] = { false };
    int node_line[RT_NODES_MAX];
    for (size_t i = 0; i < rt_toml_count (doc); i++) {
        const rt_toml_entry_t *t = rt_toml_at (doc, i);
        if (!strncmp (t->path, "node[", 5) || !strcmp (t->path, "node")) {
            char *end;
            long idx = strtol (t->path + 5, &end, 10);
            if (t->kind == RT_TOML_TABLE_ELEM) {
                if (idx >= (long) RT_NODES_MAX)
                    return s_fail (e, t->line, t->col, "node", "more than %u nodes", RT_NODES_MAX);
                conf->node_count = (size_t) idx + 1;
                conf->nodes[idx].weight = 1;
                node_line[idx] = t->line;
                continue;
            }
            if (strncmp (t->path, "node[", 5) || *end != ']' || end[1] != '.')
                return s_fail (e, t->line, t->col, "node", "must be an array of tables ([[node]])");
            if (s_set_node (e, &conf->nodes[idx], end + 2, t->path, t))
                return -1;
            continue;
        }
        if (t->kind == RT_TOML_TABLE) {
            size_t k = 0;
            while (k < sizeof s_tables / sizeof s_tables[0] && strcmp (s_tables[k], t->path))
                k++;
            if (k == sizeof s_tables / sizeof s_tables[0])
                return s_fail (e, t->line, t->col, t->path, "unknown table");
            present[k] = true;
            continue;
        }
        if (t->kind == RT_TOML_TABLE_ELEM)
            return s_fail (e, t->line, t->col, t->path, "unknown array of tables");
        size_t k = 0;
        while (k < sizeof s_fields / sizeof s_fields[0] && strcmp (s_fields[k].key, t->path))
            k++;
        if (k == sizeof s_fields / sizeof s_fields[0])
            return s_fail (e, t->line, t->col, t->path, "unknown key");
        if (s_set_field (e, conf, &s_fields[k], t))
            return -1;
    }
    for (size_t k = 0; k < sizeof s_tables / sizeof s_tables[0]; k++) {
        if (!present[k])
            continue;
        if (!strcmp (s_tables[k], "redis")) conf->redis_enabled = true;
        if (!strcmp (s_tables[k], "kafka")) conf->kafka_enabled = true;
        if (!strcmp (s_tables[k], "push")) conf->push_enabled = true;
        for (size_t r = 0; r < sizeof s_required / sizeof s_required[0]; r++) {
            if (strcmp (s_required[r].table, s_tables[k]))
                continue;
            bool given = false;
            for (size_t i = 0; i < rt_toml_count (doc) && !given; i++)
                given = !strcmp (rt_toml_at (doc, i)->path, s_required[r].key);
            if (!given)
                return s_fail (e, 1, 1, s_required[r].key, "required when [%s] is present",
                               s_tables[k]);
        }
    }
    if (conf->node_count == 0)
        return s_fail (e, 1, 1, "node", "at least one [[node]] is required");
    for (size_t i = 0; i < conf->node_count; i++) {
        rt_node_conf_t *n = &conf->nodes[i];
        const char *missing = !*n->id ? "id" : !*n->bind ? "bind" : !*n->http ? "http" : NULL;
        if (missing)
            return s_fail (e, node_line[i], 1, "node", "[[node]] #%zu has no %s", i + 1, missing);
        for (size_t j = 0; j < i; j++) {
            if (!strcmp (n->id, conf->nodes[j].id))
                return s_fail (e, node_line[i], 1, "node.id", "'%s' is used twice", n->id);
            if (!strcmp (n->bind, conf->nodes[j].bind))
                return s_fail (e, node_line[i], 1, "node.bind", "'%s' is used twice", n->bind);
            if (!strcmp (n->http, conf->nodes[j].http))
                return s_fail (e, node_line[i], 1, "node.http", "'%s' is used twice", n->http);
        }
    }
    /*  Between nodes everything is CURVE: the switch exists for one node
        alone (which has no node-to-node traffic), never for a cluster. */
    for (size_t i = 0; i < rt_toml_count (doc) && !conf->curve && conf->node_count > 1; i++) {
        const rt_toml_entry_t *t = rt_toml_at (doc, i);
        if (!strcmp (t->path, "security.curve"))
            return s_fail (e, t->line, t->col, "security.curve",
                           "cannot be false with more than one [[node]]");
    }
    /*  Random actor kills are a test of the chaos kind: never on by itself. */
    for (size_t i = 0; i < rt_toml_count (doc) && !conf->chaos && conf->kill_actors_per_min; i++) {
        const rt_toml_entry_t *t = rt_toml_at (doc, i);
        if (!strcmp (t->path, "debug.kill_actors_per_min"))
            return s_fail (e, t->line, t->col, "debug.kill_actors_per_min",
                           "needs debug.chaos = true");
    }
    return 0;
}

rt_config_t *
rt_config_load (const char *path, char *err, size_t errlen)
{
    rt_toml_t *doc = rt_toml_parse_file (path, RT_CONFIG_MAX_BYTES, err, errlen);
    if (!doc)
        return NULL;
    rt_config_t *conf = malloc (sizeof *conf);
    if (!conf) {
        snprintf (err, errlen, "%s:0:0: out of memory", path);
        rt_toml_destroy (&doc);
        return NULL;
    }
    rt_config_defaults (conf);
    ectx_t e = { path, err, errlen };
    int rc = s_apply (&e, conf, doc);
    rt_toml_destroy (&doc);
    if (rc)
        rt_config_destroy (&conf);
    return conf;
}

void
rt_config_destroy (rt_config_t **p)
{
    if (!p || !*p)
        return;
    rt_config_t *conf = *p;
    for (size_t i = 0; conf->admin_emails && conf->admin_emails[i]; i++)
        free (conf->admin_emails[i]);
    free (conf->admin_emails);
    free (conf);
    *p = NULL;
}

const rt_node_conf_t *
rt_config_node (const rt_config_t *conf, const char *id)
{
    for (size_t i = 0; i < conf->node_count; i++)
        if (!strcmp (conf->nodes[i].id, id))
            return &conf->nodes[i];
    return NULL;
}
