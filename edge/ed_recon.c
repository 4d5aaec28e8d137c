/*  =========================================================================
    ed_recon.c - reconciliation of a partner's settlement report (CSV) with
    the payments

    POST spools the body to a temporary file as it arrives (never whole
    in memory; at most ED_RECON_BYTES_MAX), checks the header, creates the
    reconciliation actor and answers 201 "running"; a job thread then
    reads the file line by line:
      - each row's payment is read (a query of its actor: its status,
        amount, partner): matched, amount_mismatch, or missing_in_ledger
        (no such payment, or not settled with this partner);
      - then every settled payment of the report's partners whose
        settlement falls inside the report's period (first to last
        settled_at) and that no row named is missing_in_report (asked of
        every node, AC_SVC_PAYMENTS, a page at a time).
    Progress goes to the actor every second, so any node's GET shows it.
    The rows seen are remembered as 64-bit hashes of their payment ids.
    =========================================================================
*/
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include "ed_recon.h"
#include "ed_server.h"
#include "ed_acct.h"
#include "ed_cover.h"
#include "ed_mp.h"
#include "actors/ac_types.h"
#include "actors/ac_codec.h"
#include "actors/ac_ledger.h"
#include "runtime/rt_error.h"
#include "runtime/rt_log.h"

/*  A report's size: a month of a busy marketplace's settlements is a few
    million rows of ~100 bytes. */
#define ED_RECON_BYTES_MAX (1024ull * 1024 * 1024)
/*  Rows read from one report (more are counted as bad rows): bounds the
    set of seen ids (8 bytes a row, in a table twice that). */
#define ED_RECON_ROWS_MAX (8u * 1000 * 1000)
/*  Jobs at once per node: each holds a file, a thread and its set. */
#define ED_RECON_JOBS_MAX 2
/*  A row longer than this is bad (ours are ~100 bytes). */
#define ED_RECON_LINE_MAX 1024
/*  Progress is sent this often. */
#define ED_RECON_PROGRESS_MS 1000

#define HEADER "partner,partner_ref,payment_id,amount,status,settled_at"

static _Atomic int s_jobs;
static _Atomic bool s_stopping;
/*  Jobs signal here as they end, so a stopping node waits for the last. */
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_ended = PTHREAD_COND_INITIALIZER;

/*  A row waiting for its payment's lookup. */
typedef struct {
    char    id[32];
    int     partner;                /* 0 midtrans, 1 xendit */
    int64_t amount;
} row_t;

typedef struct {
    rt_runtime_t *rt;
    int           timeout_ms;
    char          id[32], path[64];
    FILE         *f;
    /*  seen: open addressing of non-zero hashes */
    uint64_t     *seen;
    size_t        cap, used;
    int64_t       counts[6];        /* rows matched bad mismatch missing_ledger missing_report */
    uint8_t      *list[3];
    size_t        len[3];
    int64_t       lo_ms[2], hi_ms[2];   /* per partner: the report's period */
    bool          partner[2];
    row_t         batch[AC_LOOKUP_MAX];  /* rows read, their payments not yet */
    size_t        nbatch;
} job_t;

enum { C_ROWS, C_MATCHED, C_BAD, C_MISMATCH, C_MISSING_LEDGER, C_MISSING_REPORT };

/*  A (partner, payment) the report named: partner index and id. */
static uint64_t
s_hash (int partner, const char *id)
{
    uint8_t h[8], key[1] = { (uint8_t) partner };
    crypto_generichash (h, sizeof h, (const uint8_t *) id, strlen (id), key, sizeof key);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | h[i];
    return v ? v : 1;
}

/*  Add id's hash; true if it was there already. */
static bool
s_seen_add (job_t *j, uint64_t h)
{
    if (j->used * 2 >= j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 1024;
        uint64_t *t = calloc (cap, sizeof *t);
        if (!t)
            return false;
        for (size_t i = 0; i < j->cap; i++)
            if (j->seen[i])
                for (size_t k = j->seen[i] & (cap - 1);; k = (k + 1) & (cap - 1))
                    if (!t[k]) {
                        t[k] = j->seen[i];
                        break;
                    }
        free (j->seen);
        j->seen = t;
        j->cap = cap;
    }
    for (size_t k = h & (j->cap - 1);; k = (k + 1) & (j->cap - 1)) {
        if (j->seen[k] == h)
            return true;
        if (!j->seen[k]) {
            j->seen[k] = h;
            j->used++;
            return false;
        }
    }
}

static bool
s_seen (const job_t *j, uint64_t h)
{
    if (!j->cap)
        return false;
    for (size_t k = h & (j->cap - 1); j->seen[k]; k = (k + 1) & (j->cap - 1))
        if (j->seen[k] == h)
            return true;
    return false;
}

/*  A finding: counted always, listed while the list has room. */
static void
s_find (job_t *j, int list, const char *payment, int64_t report, int64_t ledger)
{
    j->counts[C_MISMATCH + list]++;
    if (j->len[list] >= AC_RECON_LIST_MAX * AC_RECON_ITEM)
        return;
    uint8_t *b = realloc (j->list[list], j->len[list] + AC_RECON_ITEM);
    if (!b)
        return;
    j->list[list] = b;
    uint8_t *it = b + j->len[list];
    memset (it, 0, AC_RECON_ITEM);
    memcpy (it, payment, strnlen (payment, 32));
    ac_put64 (it + 32, report);
    ac_put64 (it + 40, ledger);
    j->len[list] += AC_RECON_ITEM;
}

static void
s_update (job_t *j, const char *status)
{
    static const char *const counts[] = {
        "rows", "matched", "bad_rows", "amount_mismatch_count", "missing_in_ledger_count",
        "missing_in_report_count",
    };
    static const char *const lists[] = { "amount_mismatch", "missing_in_ledger",
                                         "missing_in_report" };
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 1 + 6 + 3);
    ac_enc_str (&e, "status", status);
    for (int i = 0; i < 6; i++)
        ac_enc_int (&e, counts[i], j->counts[i]);
    for (int i = 0; i < 3; i++)
        ac_enc_bin (&e, lists[i], j->list[i] ? (const void *) j->list[i] : "", j->len[i]);
    rt_request_t r = { .to_type = AC_TYPE_RECON, .to_key = j->id, .to_key_len = strlen (j->id),
                       .msg_type = RECON_UPDATE, .body = e.sb.data, .body_len = e.sb.size };
    rt_reply_t rep;
    for (int attempt = 0; attempt < 5 && !atomic_load (&s_stopping); attempt++) {
        int rc = rt_ask (j->rt, &r, j->timeout_ms, &rep);
        if (!rc) {
            rt_reply_free (&rep);
            break;
        }
        sleep (1);
    }
    ac_enc_free (&e);
}

/*  "2026-11-30T10:00:00Z" (or with ".123" or "+07:00") to unix ms; 0 if not. */
static int64_t
s_time_ms (const char *t)
{
    struct tm tm = { 0 };
    const char *rest = strptime (t, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        rest = strptime (t, "%Y-%m-%d %H:%M:%S", &tm);
    if (!rest)
        return 0;
    int64_t ms = (int64_t) timegm (&tm) * 1000;
    if (*rest == '.')
        for (rest++; *rest >= '0' && *rest <= '9'; rest++)
            ;
    int hh = 0, mm = 0;
    if ((*rest == '+' || *rest == '-') && sscanf (rest + 1, "%d:%d", &hh, &mm) == 2)
        ms -= (*rest == '+' ? 1 : -1) * ((int64_t) hh * 3600 + mm * 60) * 1000;
    return ms;
}

/*  Whole rupiah from "150000" or "150000.00"; -1 otherwise. */
static int64_t
s_amount (const char *s)
{
    int64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9' && v <= AC_MONEY_MAX; p++)
        v = v * 10 + (*p - '0');
    if (p == s || v > AC_MONEY_MAX)
        return -1;
    if (*p == '.')
        for (p++; *p == '0'; p++)
            ;
    return *p ? -1 : v;
}

/*  Split a line into its 6 fields (quotes around a field are dropped). */
static bool
s_fields (char *line, char *f[6])
{
    size_t n = strcspn (line, "\r\n");
    line[n] = 0;
    int k = 0;
    for (char *p = line; k < 6; k++) {
        char *c = strchr (p, ',');
        if (c)
            *c = 0;
        size_t l = strlen (p);
        if (l >= 2 && p[0] == '"' && p[l - 1] == '"') {
            p[l - 1] = 0;
            p++;
        }
        f[k] = p;
        if (!c)
            return k == 5;
        p = c + 1;
    }
    return false;                   /* more than 6 fields */
}

static int
s_by_id (const void *a, const void *b)
{
    return memcmp (a, b, 32);
}

/*  Ask every node at once for the batch's payments (each answers for the
    shards it serves), then judge each row. A batch whose shards are not
    all answered is asked again; rows still unanswered are bad rows. */
static void
s_flush (job_t *j)
{
    if (!j->nbatch)
        return;
    uint8_t *ids = calloc (j->nbatch, 32);
    uint8_t *found = malloc (j->nbatch * AC_LOOKUP_ITEM + 1);
    size_t nf = 0;
    bool whole = false;
    for (size_t i = 0; ids && i < j->nbatch; i++)
        memcpy (ids + i * 32, j->batch[i].id, 32);
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 1);
    ac_enc_bin (&e, "ids", ids ? (const void *) ids : "", ids ? j->nbatch * 32 : 0);
    for (int attempt = 0; ids && found && attempt < 10 && !whole && !atomic_load (&s_stopping);
         attempt++) {
        if (attempt)
            sleep (1);
        rt_reply_t replies[RT_NODES_MAX];
        size_t nodes = 0;
        ed_cover_t cover = { 0 };
        nf = 0;
        int rc = rt_call_all (j->rt, AC_SVC_PAYMENT_LOOKUP, e.sb.data, e.sb.size, j->timeout_ms,
                              replies, RT_NODES_MAX, &nodes);
        for (size_t i = 0; !rc && i < nodes; i++) {
            ac_map_t *m = replies[i].err || replies[i].status != 200
                          ? NULL : ac_map_decode (replies[i].body, replies[i].body_len);
            size_t cl = 0, il = 0;
            const uint8_t *cov = m ? ac_map_bin (m, "covered", &cl) : NULL;
            const uint8_t *it = m ? ac_map_bin (m, "items", &il) : NULL;
            if (cov && it && il % AC_LOOKUP_ITEM == 0 && nf + il / AC_LOOKUP_ITEM <= j->nbatch
                && ed_cover_add (&cover, cov, cl)) {
                memcpy (found + nf * AC_LOOKUP_ITEM, it, il);
                nf += il / AC_LOOKUP_ITEM;
            }
            ac_map_destroy (&m);
        }
        for (size_t i = 0; i < nodes; i++)
            rt_reply_free (&replies[i]);
        whole = !rc && ed_cover_whole (&cover, rt_shard_count (j->rt));
    }
    ac_enc_free (&e);
    if (whole && nf > 1)
        qsort (found, nf, AC_LOOKUP_ITEM, s_by_id);
    static const char partners[2] = { 'm', 'x' };
    for (size_t i = 0; i < j->nbatch; i++) {
        const row_t *r = &j->batch[i];
        const uint8_t *it = whole ? bsearch (r->id, found, nf, AC_LOOKUP_ITEM, s_by_id) : NULL;
        if (!it) {
            j->counts[C_BAD]++;     /* unreachable (or no node answered for it) */
            continue;
        }
        int64_t ledger = it[32] ? ac_get64 (it + 34) : -1;
        if (it[32] != 's' || it[33] != partners[r->partner])
            s_find (j, 1, r->id, r->amount, ledger);
        else if (ledger != r->amount)
            s_find (j, 0, r->id, r->amount, ledger);
        else
            j->counts[C_MATCHED]++;
    }
    if (!whole)
        rt_log ("warn", "recon.unreadable", "\"recon\":\"%s\",\"rows\":%zu", j->id, j->nbatch);
    free (ids);
    free (found);
    j->nbatch = 0;
}

static void
s_row (job_t *j, char *line)
{
    char *f[6];
    j->counts[C_ROWS]++;
    if (!s_fields (line, f) || j->counts[C_ROWS] > ED_RECON_ROWS_MAX) {
        j->counts[C_BAD]++;
        return;
    }
    int pi = !strcmp (f[0], "midtrans") ? 0 : !strcmp (f[0], "xendit") ? 1 : -1;
    int64_t amount = s_amount (f[3]);
    int64_t at = f[5][0] ? s_time_ms (f[5]) : 0;
    if (pi < 0 || amount < 0 || !ed_id_valid ("pay_", f[2]) || (f[5][0] && !at)) {
        j->counts[C_BAD]++;
        return;
    }
    if (s_seen_add (j, s_hash (pi, f[2]))) {
        j->counts[C_BAD]++;         /* the same payment twice in one report */
        return;
    }
    j->partner[pi] = true;
    if (at && (!j->lo_ms[pi] || at < j->lo_ms[pi]))
        j->lo_ms[pi] = at;
    /*  Reports give seconds: the period ends with the last one's end. */
    if (at && at + 999 > j->hi_ms[pi])
        j->hi_ms[pi] = at + 999;
    row_t *r = &j->batch[j->nbatch++];
    memset (r, 0, sizeof *r);
    memcpy (r->id, f[2], strlen (f[2]));
    r->partner = pi;
    r->amount = amount;
    if (j->nbatch == AC_LOOKUP_MAX)
        s_flush (j);
}


/*  Settled payments of partner pi that the report did not name. */
static void
s_missing_in_report (job_t *j, int pi)
{
    char after[32] = "";
    uint32_t shards = rt_shard_count (j->rt);
    for (;;) {
        ac_enc_t e;
        ac_enc_init (&e);
        ac_enc_map (&e, 3);
        ac_enc_str (&e, "partner", pi ? "x" : "m");
        ac_enc_str (&e, "after", after);
        ac_enc_int (&e, "limit", AC_PAYMENTS_PAGE_MAX);
        rt_reply_t replies[RT_NODES_MAX];
        size_t nodes = 0;
        int rc = 0;
        ed_cover_t cover;
        uint8_t *items = NULL;
        size_t n = 0;
        for (int attempt = 0; attempt < 10 && !atomic_load (&s_stopping); attempt++) {
            memset (&cover, 0, sizeof cover);
            free (items);
            items = NULL;
            n = 0;
            rc = rt_call_all (j->rt, AC_SVC_PAYMENTS, e.sb.data, e.sb.size, j->timeout_ms,
                              replies, RT_NODES_MAX, &nodes);
            for (size_t i = 0; !rc && i < nodes; i++) {
                ac_map_t *m = replies[i].err || replies[i].status != 200
                              ? NULL : ac_map_decode (replies[i].body, replies[i].body_len);
                size_t cl = 0, il = 0;
                const uint8_t *cov = m ? ac_map_bin (m, "covered", &cl) : NULL;
                const uint8_t *it = m ? ac_map_bin (m, "items", &il) : NULL;
                /*  +48: never realloc to 0 bytes (that frees). */
                uint8_t *more = it && il % 48 == 0 ? realloc (items, n * 48 + il + 48) : NULL;
                if (more)
                    items = more;
                if (more && cov && ed_cover_add (&cover, cov, cl)) {
                    memcpy (items + n * 48, it, il);
                    n += il / 48;
                }
                ac_map_destroy (&m);
            }
            for (size_t i = 0; i < nodes; i++)
                rt_reply_free (&replies[i]);
            if (!rc && ed_cover_whole (&cover, shards))
                break;
            rc = rc ? rc : RT_EUNAVAILABLE;
            sleep (1);
        }
        ac_enc_free (&e);
        if (!rc && atomic_load (&s_stopping))
            rc = RT_ESTOPPED;
        if (rc) {
            rt_log ("warn", "recon.incomplete", "\"recon\":\"%s\",\"error\":\"%s\"", j->id,
                    rt_strerror (rc));
            free (items);
            return;
        }
        /*  Each node gave its first page after `after`; together, in id
            order, the first AC_PAYMENTS_PAGE_MAX of them are the page. */
        if (n > 1)
            qsort (items, n, 48, s_by_id);
        size_t page = n < AC_PAYMENTS_PAGE_MAX ? n : AC_PAYMENTS_PAGE_MAX;
        for (size_t i = 0; i < page; i++) {
            char id[33];
            memcpy (id, items + i * 48, 32);
            id[32] = 0;
            int64_t amount = ac_get64 (items + i * 48 + 32);
            int64_t at = ac_get64 (items + i * 48 + 40);
            bool in_period = !j->hi_ms[pi] || (at >= j->lo_ms[pi] && at <= j->hi_ms[pi]);
            if (in_period && !s_seen (j, s_hash (pi, id)))
                s_find (j, 2, id, -1, amount);
        }
        if (page)
            memcpy (after, items + (page - 1) * 48, 31), after[31] = 0;
        free (items);
        if (n < AC_PAYMENTS_PAGE_MAX)
            return;
    }
}

static void *
s_job (void *arg)
{
    job_t *j = arg;
    char line[ED_RECON_LINE_MAX + 2];
    struct timespec t0;
    clock_gettime (CLOCK_MONOTONIC, &t0);
    int64_t last = 0;
    bool first = true;
    while (!atomic_load (&s_stopping) && fgets (line, sizeof line, j->f)) {
        size_t len = strlen (line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            j->counts[C_ROWS]++;
            j->counts[C_BAD]++;     /* too long: skip to its end */
            int c;
            while ((c = fgetc (j->f)) != EOF && c != '\n')
                ;
            continue;
        }
        if (first) {                /* the header, checked already */
            first = false;
            continue;
        }
        if (line[strspn (line, "\r\n")] == 0)
            continue;               /* blank line */
        s_row (j, line);
        struct timespec t;
        clock_gettime (CLOCK_MONOTONIC, &t);
        int64_t ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms - last >= ED_RECON_PROGRESS_MS) {
            s_update (j, "running");
            last = ms;
        }
    }
    if (!atomic_load (&s_stopping))
        s_flush (j);
    if (!atomic_load (&s_stopping)) {
        for (int pi = 0; pi < 2; pi++)
            if (j->partner[pi])
                s_missing_in_report (j, pi);
        s_update (j, "done");
        rt_log ("info", "recon.done", "\"recon\":\"%s\",\"rows\":%lld,\"matched\":%lld",
                j->id, (long long) j->counts[C_ROWS], (long long) j->counts[C_MATCHED]);
    }
    else
        rt_log ("warn", "recon.abandoned", "\"recon\":\"%s\",\"rows\":%lld", j->id,
                (long long) j->counts[C_ROWS]);
    fclose (j->f);
    unlink (j->path);
    for (int i = 0; i < 3; i++)
        free (j->list[i]);
    free (j->seen);
    free (j);
    pthread_mutex_lock (&s_lock);
    atomic_fetch_sub (&s_jobs, 1);
    pthread_cond_broadcast (&s_ended);
    pthread_mutex_unlock (&s_lock);
    return NULL;
}

/*  Spool the body to j->path; 0, or the problem to answer. */
static int
s_spool (ed_req_t *req, job_t *j)
{
    snprintf (j->path, sizeof j->path, "%s/pasar-recon-XXXXXX", P_tmpdir);
    int fd = mkstemp (j->path);
    if (fd < 0)
        return ED_P_UNAVAILABLE;
    j->f = fdopen (fd, "w+");
    if (!j->f) {
        close (fd);
        unlink (j->path);
        return ED_P_UNAVAILABLE;
    }
    char *buf = malloc (64 * 1024);
    uint64_t total = 0;
    long n;
    int problem = buf ? 0 : ED_P_UNAVAILABLE;
    while (!problem && (n = ed_req_read (req, buf, 64 * 1024)) > 0) {
        total += (uint64_t) n;
        if (total > ED_RECON_BYTES_MAX)
            problem = ED_P_PAYLOAD_TOO_LARGE;
        else if (fwrite (buf, 1, (size_t) n, j->f) != (size_t) n)
            problem = ED_P_UNAVAILABLE;
        else if (ed_req_idem_key (req))     /* the report is the request */
            ed_req_fingerprint_add (req, buf, (size_t) n);
    }
    free (buf);
    if (!problem && (fflush (j->f) || fseek (j->f, 0, SEEK_SET)))
        problem = ED_P_UNAVAILABLE;
    if (problem) {
        fclose (j->f);
        unlink (j->path);
    }
    return problem;
}

/*  With an Idempotency-Key, the admin's own actor records the key and
    the report's fingerprint with this job's id (USER_RECON_NEW): 0 to
    go on; 1 for a retry of a report already taken (its id in first, the
    caller answers as the first time); -1 when answered here (the key
    reused for another report, still in flight, the store down). */
static int
s_anchor (ed_req_t *req, const job_t *j, char first[32])
{
    if (!ed_req_idem_key (req))
        return 0;
    const char *admin = ed_req_user (req);
    char scope[96];
    snprintf (scope, sizeof scope, "%s POST /v1/admin/reconciliations", admin);
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 1);
    ac_enc_str (&e, "id", j->id);
    bool replayed = false;
    int status = ed_acct_anchor (req, AC_TYPE_USER, admin, USER_RECON_NEW, e.sb.data, e.sb.size,
                                 scope, "reconciliation_id", first, &replayed);
    ac_enc_free (&e);
    if (status != 200) {
        ed_acct_anchor_failed (req, status);
        return -1;
    }
    return strcmp (first, j->id) ? 1 : 0;
}

void
ed_recon_create (ed_req_t *req)
{
    const char *ct = ed_req_header (req, "Content-Type");
    if (!ct || strncasecmp (ct, "text/csv", 8) || (ct[8] && ct[8] != ';' && ct[8] != ' ')) {
        ed_reply_problem (req, ED_P_UNSUPPORTED_MEDIA, "the report is text/csv");
        return;
    }
    if (atomic_fetch_add (&s_jobs, 1) >= ED_RECON_JOBS_MAX) {
        atomic_fetch_sub (&s_jobs, 1);
        ed_reply_problem (req, ED_P_UNAVAILABLE, "reconciliations are running: retry later");
        return;
    }
    job_t *j = calloc (1, sizeof *j);
    int problem = j ? s_spool (req, j) : ED_P_UNAVAILABLE;
    char head[sizeof HEADER + 2] = "";
    if (!problem && (!fgets (head, sizeof head, j->f)
                     || strncmp (head, HEADER, strlen (HEADER))
                     || head[strspn (head + strlen (HEADER), "\r\n") + strlen (HEADER)])) {
        fclose (j->f);
        unlink (j->path);
        problem = ED_P_VALIDATION;
    }
    if (problem) {
        free (j);
        atomic_fetch_sub (&s_jobs, 1);
        ed_reply_problem (req, problem, problem == ED_P_VALIDATION
                          ? "the first line must be " HEADER : NULL);
        return;
    }
    rewind (j->f);
    j->rt = ed_req_runtime (req);
    j->timeout_ms = (int) ed_server_options (ed_req_server (req))->ask_timeout_ms;
    ed_id_new ("rec_", j->id);
    char first[32] = "";
    int anchored = s_anchor (req, j, first);
    if (anchored) {                     /* a retry, or the key refused */
        fclose (j->f);
        unlink (j->path);
        free (j);
        atomic_fetch_sub (&s_jobs, 1);
        if (anchored < 0)
            return;
        char loc[64];
        snprintf (loc, sizeof loc, "/v1/admin/reconciliations/%s", first);
        ed_reply_header (req, "Location", loc);
        ed_reply_header (req, "Idempotency-Replayed", "true");
        ed_reply_json (req, 201, json_pack ("{s:s, s:s}", "id", first, "status", "running"));
        return;
    }
    s_update (j, "running");
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init (&attr);
    pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
    char id[32];
    strcpy (id, j->id);
    if (pthread_create (&t, &attr, s_job, j)) {
        fclose (j->f);
        unlink (j->path);
        free (j);
        atomic_fetch_sub (&s_jobs, 1);
        pthread_attr_destroy (&attr);
        ed_reply_problem (req, ED_P_UNAVAILABLE, "cannot start the job");
        return;
    }
    pthread_attr_destroy (&attr);
    char loc[64];
    snprintf (loc, sizeof loc, "/v1/admin/reconciliations/%s", id);
    ed_reply_header (req, "Location", loc);
    ed_reply_json (req, 201, json_pack ("{s:s, s:s}", "id", id, "status", "running"));
}

void
ed_recon_stop (void)
{
    /*  Each job checks s_stopping between calls, so this waits at most
        for one call's deadline; without the wait, a job would call into a
        runtime being destroyed. */
    atomic_store (&s_stopping, true);
    pthread_mutex_lock (&s_lock);
    while (atomic_load (&s_jobs) > 0)
        pthread_cond_wait (&s_ended, &s_lock);
    pthread_mutex_unlock (&s_lock);
}

void
ed_recon_get (ed_req_t *req)
{
    const char *id = ed_req_capture (req, "id");
    if (!ed_id_valid ("rec_", id)) {
        ed_reply_problem (req, ED_P_NOT_FOUND, NULL);
        return;
    }
    rt_reply_t rep;
    int rc = ed_acct_read (req, AC_TYPE_RECON, id, RECON_GET, NULL, 0, &rep);
    if (rc) {
        ed_reply_rt_error (req, rc);
        return;
    }
    size_t n = 0;
    char *text = rep.status == 200 ? ed_mp_to_text (rep.body, rep.body_len, &n) : NULL;
    rt_reply_free (&rep);
    if (!text) {
        ed_reply_problem (req, ED_P_NOT_FOUND, NULL);
        return;
    }
    ed_reply_bytes (req, 200, "application/json", text, n);
    free (text);
}
