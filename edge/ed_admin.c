/*  =========================================================================
    ed_admin.c - the review queue and account status (admins only: the
    route table's auth column is ED_AUTH_ADMIN for both)
    =========================================================================
*/
#include <stdio.h>
#include <string.h>
#include "ed_admin.h"
#include "runtime/rt_error.h"
#include "ed_server.h"
#include "ed_acct.h"
#include "ed_mp.h"
#include "ed_revoked.h"
#include "ed_sessions.h"
#include "runtime/rt_log.h"
#include "actors/ac_types.h"
#include "actors/ac_codec.h"

void
ed_admin_flag (ed_req_t *req, const char *kind, const char *user_id, const char *detail)
{
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 3);
    ac_enc_str (&e, "kind", kind);
    ac_enc_str (&e, "user_id", user_id && *user_id ? user_id : NULL);
    ac_enc_str (&e, "detail", detail);
    rt_request_t r = { .to_type = AC_TYPE_FLAGS, .to_key = "review", .to_key_len = 6,
                       .msg_type = FLAGS_ADD, .body = e.sb.data, .body_len = e.sb.size,
                       .traceparent = ed_req_traceparent (req) };
    if (rt_tell (ed_req_runtime (req), &r))
        rt_log ("warn", "flag.dropped", "\"kind\":\"%s\"", kind);
    ac_enc_free (&e);
}

static const char *
s_str (char *buf, size_t size, const uint8_t *p, size_t n)
{
    size_t len = strnlen ((const char *) p, n);
    if (len >= size)
        len = size - 1;
    memcpy (buf, p, len);
    buf[len] = 0;
    return buf;
}

void
ed_admin_flags (ed_req_t *req)
{
    rt_reply_t rep;
    int rc = ed_acct_read (req, AC_TYPE_FLAGS, "review", FLAGS_LIST, NULL, 0, &rep);
    if (rc) {
        ed_reply_rt_error (req, rc);
        return;
    }
    ac_map_t *m = ac_map_decode (rep.body, rep.body_len);
    size_t len = 0;
    const uint8_t *b = m ? ac_map_bin (m, "items", &len) : NULL;
    json_t *items = json_array ();
    /*  Newest first. */
    for (size_t off = len; b && off >= AC_FLAG_PACKED; off -= AC_FLAG_PACKED) {
        const uint8_t *p = b + off - AC_FLAG_PACKED;
        char kind[33], uid[33], detail[129], at[32];
        int64_t ms = 0;
        for (int i = 0; i < 8; i++)
            ms = (ms << 8) | p[192 + i];
        ac_time_rfc3339 (ms, at);
        s_str (uid, sizeof uid, p + 32, 32);
        json_array_append_new (items, json_pack ("{s:s, s:s?, s:s, s:s}",
                                                 "kind", s_str (kind, sizeof kind, p, 32),
                                                 "user_id", uid[0] ? uid : NULL,
                                                 "detail", s_str (detail, sizeof detail, p + 64, 128),
                                                 "created_at", at));
    }
    ac_map_destroy (&m);
    rt_reply_free (&rep);
    ed_reply_list (req, items);
}

void
ed_admin_user_status (ed_req_t *req)
{
    const char *id = ed_req_capture (req, "id");
    json_t *body = ed_req_body (req);
    const char *status = json_string_value (json_object_get (body, "status"));
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 1);
    ac_enc_str (&e, "status", status);
    /*  Under the admin's Idempotency-Key, like every POST: a retried ban
        is the same ban, and the key reused for another status is refused
        rather than silently undoing the first. */
    char scope[96];
    snprintf (scope, sizeof scope, "%s POST /v1/admin/users/{id}/status", ed_req_user (req));
    rt_reply_t rep;
    int rc = strlen (id) == 30 && !strncmp (id, "usr_", 4)
           ? ed_acct_ask (req, AC_TYPE_USER, id, USER_SET_STATUS, e.sb.data, e.sb.size, scope, &rep)
           : (rep = (rt_reply_t) { .status = 404 }, 0);
    ac_enc_free (&e);
    if (rc) {
        ed_reply_rt_error (req, rc);
        return;
    }
    if (rep.status != 200) {
        rt_reply_free (&rep);
        ed_reply_problem (req, ED_P_NOT_FOUND, NULL);
        return;
    }
    /*  A banned user's sessions: their access tokens stop now. */
    ac_map_t *m = ac_map_decode (rep.body, rep.body_len);
    size_t len = 0;
    const uint8_t *ids = m ? ac_map_bin (m, "revoked", &len) : NULL;
    for (size_t off = 0; ids && off + 32 <= len; off += 32) {
        char sid[33];
        s_str (sid, sizeof sid, ids + off, 32);
        ed_sessions_end (req, sid);
    }
    ac_map_destroy (&m);
    char reason[160];
    if (rep.replayed)                   /* logged when it happened */
        ed_reply_header (req, "Idempotency-Replayed", "true");
    else
        rt_log ("info", "admin.user_status",
                "\"admin\":\"%s\",\"user\":\"%s\",\"status\":\"%s\",\"reason\":\"%s\"",
                ed_req_user (req), id, status,
                rt_log_escape (json_string_value (json_object_get (body, "reason")), reason,
                               sizeof reason));
    json_t *user = ed_mp_to_json (rep.body, rep.body_len);
    rt_reply_free (&rep);
    if (!user) {
        ed_reply_problem (req, ED_P_INTERNAL, NULL);
        return;
    }
    ed_reply_json (req, 200, user);
}

void
ed_admin_kill_actor (ed_req_t *req)
{
    const ed_options_t *o = ed_server_options (ed_req_server (req));
    if (!o->chaos) {
        ed_reply_problem (req, ED_P_NOT_FOUND, "only with [debug] chaos = true");
        return;
    }
    rt_runtime_t *rt = ed_req_runtime (req);
    const char *key = ed_req_capture (req, "key");
    uint16_t type = rt_type_id (rt, ed_req_capture (req, "type"));
    int rc = type ? rt_kill (rt, type, key, strlen (key)) : RT_ENOTYPE;
    if (rc == RT_ENOTYPE || rc == RT_EINVAL) {
        ed_reply_problem (req, ED_P_NOT_FOUND, "no such actor type or key");
        return;
    }
    if (rc) {
        ed_reply_rt_error (req, rc);
        return;
    }
    rt_log ("warn", "chaos.kill", "\"type\":\"%s\",\"by\":\"%s\"", ed_req_capture (req, "type"),
            ed_req_user (req));
    ed_reply_bytes (req, 204, "application/json", "", 0);
}
