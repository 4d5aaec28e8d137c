/*  =========================================================================
    ac_listing.c - the listing actor: one ad, its lifecycle and its owner

    Created by LISTING_CREATE, which the seller's user actor sends durably
    (the anchor of the create's Idempotency-Key) and the edge also sends
    directly so the seller reads their own write at once: create is
    idempotent. Lifecycle: active -> sold (and back) by the seller; active
    -> expired by the "expire" reminder at expires_ms; renew makes it
    active until a new expires_ms; delete is soft (the state stays, every
    read answers 404). While an order holds it (reserved) nothing but the
    order may change it.

    Every turn that moves the listing in or out of "active and not
    deleted" tells the seller's user actor (durably, exactly once), which
    keeps the public profile's active_listings.

    Validation of field values (lengths, categories, URLs, money) is the
    edge's schema; this actor re-checks only what keeps its own state sane
    (sizes, known enumerations), so a bad body never corrupts a listing.
    =========================================================================
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ac_types.h"
#include "ac_codec.h"
#include "ac_listing.h"
#include "ac_search.h"
#include "ac_words.h"

struct listing {
    bool    exists, deleted, reserved;
    char    id[32], seller[32], order[32];
    char   *title, *description, *city, *province;
    char   *images;             /* NUL-ended URLs back to back */
    size_t  images_len;
    char    category[16], condition[8], status[8];
    int64_t amount, version, created_ms, updated_ms, expires_ms;
};

static const char *const s_categories[] = {
    "cars", "motorcycles", "property", "electronics", "fashion", "hobbies", "jobs",
    "services", "other", NULL,
};

static void
s_free (void *state)
{
    listing_t *l = state;
    if (!l)
        return;
    free (l->title);
    free (l->description);
    free (l->city);
    free (l->province);
    free (l->images);
    free (l);
}

static void *
s_new (const rt_addr_t *addr)
{
    (void) addr;
    return calloc (1, sizeof (listing_t));
}

/*  *dst = a copy of m[key] when it is a string of at most max bytes; an
    absent key keeps *dst. False when present but not such a string. */
static bool
s_take_str (ac_map_t *m, const char *key, size_t max, char **dst)
{
    if (!ac_map_has (m, key))
        return true;
    const char *v = ac_map_str (m, key);
    if (!v || strlen (v) > max)
        return false;
    char *c = strdup (v);
    if (!c)
        return false;
    free (*dst);
    *dst = c;
    return true;
}

/*  A fixed-size field: absent keeps it; present must fit (and be in set). */
static bool
s_take_fixed (ac_map_t *m, const char *key, char *dst, size_t size, const char *const *set)
{
    return ac_map_take (m, key, dst, size, set, !ac_map_is_nil (m, key));
}

/*  Images: a bin of NUL-ended URLs, at most AC_LISTING_IMAGES_MAX. */
static bool
s_take_images (ac_map_t *m, listing_t *l)
{
    if (!ac_map_has (m, "images"))
        return true;
    size_t len = 0;
    const char *v = ac_map_bin (m, "images", &len);
    if (!v || len > AC_LISTING_IMAGES_MAX * (AC_LISTING_URL_MAX + 1) || (len && v[len - 1]))
        return false;
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += v[i] == 0;
    if (n > AC_LISTING_IMAGES_MAX)
        return false;
    char *c = malloc (len ? len : 1);
    if (!c)
        return false;
    memcpy (c, v, len);
    free (l->images);
    l->images = c;
    l->images_len = len;
    return true;
}

static const char *const s_conditions[] = { "new", "used", NULL };
static const char *const s_statuses[] = { "active", "sold", "expired", NULL };

/*  The content fields a create or a patch may carry, into l (all of them
    or, on false, some: the caller works on a copy). */
static bool
s_take_content (ac_map_t *m, listing_t *l)
{
    bool ok = s_take_str (m, "title", AC_LISTING_TITLE_MAX, &l->title)
              && s_take_str (m, "description", AC_LISTING_DESCRIPTION_MAX, &l->description)
              && s_take_str (m, "city", AC_LISTING_PLACE_MAX, &l->city)
              && s_take_str (m, "province", AC_LISTING_PLACE_MAX, &l->province)
              && s_take_fixed (m, "category", l->category, sizeof l->category, s_categories)
              && s_take_fixed (m, "condition", l->condition, sizeof l->condition, s_conditions)
              && s_take_images (m, l);
    int64_t amount;
    if (ok && ac_map_has (m, "amount")) {
        ok = ac_map_int (m, "amount", &amount) && amount >= 0 && amount <= AC_MONEY_MAX;
        if (ok)
            l->amount = amount;
    }
    return ok;
}

static bool
s_complete (const listing_t *l)
{
    return l->id[0] && l->seller[0] && l->title && l->description && l->city && l->province
           && l->images && l->category[0] && l->condition[0] && ac_oneof (l->status, s_statuses);
}

static void *
s_decode (const rt_addr_t *addr, uint16_t version, const uint8_t *buf, size_t len)
{
    (void) addr;
    if (version != 1)
        return NULL;
    ac_map_t *m = ac_map_decode (buf, len);
    listing_t *l = m ? calloc (1, sizeof *l) : NULL;
    int64_t deleted = 0, reserved = 0;
    bool ok = l && s_take_content (m, l)
              && s_take_fixed (m, "id", l->id, sizeof l->id, NULL)
              && s_take_fixed (m, "seller_id", l->seller, sizeof l->seller, NULL)
              && s_take_fixed (m, "order_id", l->order, sizeof l->order, NULL)
              && s_take_fixed (m, "status", l->status, sizeof l->status, s_statuses)
              && ac_map_int (m, "version", &l->version)
              && ac_map_int (m, "created_ms", &l->created_ms)
              && ac_map_int (m, "updated_ms", &l->updated_ms)
              && ac_map_int (m, "expires_ms", &l->expires_ms)
              && ac_map_int (m, "deleted", &deleted)
              && ac_map_int (m, "reserved", &reserved)
              && s_complete (l);
    ac_map_destroy (&m);
    if (!ok) {
        s_free (l);
        return NULL;
    }
    l->exists = true;
    l->deleted = deleted != 0;
    l->reserved = reserved != 0;
    return l;
}

static void
s_enc_content (ac_enc_t *e, const listing_t *l)
{
    ac_enc_str (e, "title", l->title);
    ac_enc_str (e, "description", l->description);
    ac_enc_str (e, "category", l->category);
    ac_enc_str (e, "condition", l->condition);
    ac_enc_str (e, "city", l->city);
    ac_enc_str (e, "province", l->province);
    ac_enc_int (e, "amount", l->amount);
    ac_enc_bin (e, "images", l->images, l->images_len);
}

static int
s_encode (const void *state, rt_buf_t *out)
{
    const listing_t *l = state;
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 8 + 10);
    s_enc_content (&e, l);
    ac_enc_str (&e, "id", l->id);
    ac_enc_str (&e, "seller_id", l->seller);
    ac_enc_str (&e, "order_id", l->order);
    ac_enc_str (&e, "status", l->status);
    ac_enc_int (&e, "version", l->version);
    ac_enc_int (&e, "created_ms", l->created_ms);
    ac_enc_int (&e, "updated_ms", l->updated_ms);
    ac_enc_int (&e, "expires_ms", l->expires_ms);
    ac_enc_int (&e, "deleted", l->deleted);
    ac_enc_int (&e, "reserved", l->reserved);
    int rc = ac_enc_to_buf (&e, out);
    ac_enc_free (&e);
    return rc;
}

/* ---- the public view (API.md §Listings) --------------------------------- */

const char *ac_listing_title (const listing_t *l) { return l->title ? l->title : ""; }
const char *ac_listing_description (const listing_t *l) { return l->description ? l->description : ""; }

/*  The status others see: an active listing an open order holds is
    "reserved" (API.md), out of search until the order ends. */
static const char *
s_shown (const listing_t *l)
{
    return l->reserved && !strcmp (l->status, "active") ? "reserved" : l->status;
}

void
ac_listing_render (ac_enc_t *e, const listing_t *l)
{
    char created[32], updated[32], expires[32];
    ac_time_rfc3339 (l->created_ms, created);
    ac_time_rfc3339 (l->updated_ms, updated);
    ac_time_rfc3339 (l->expires_ms, expires);
    ac_enc_map (e, 14);
    ac_enc_str (e, "id", l->id);
    ac_enc_str (e, "seller_id", l->seller);
    ac_enc_str (e, "title", l->title);
    ac_enc_str (e, "description", l->description);
    ac_enc_str (e, "category", l->category);
    ac_enc_key (e, "price");
    ac_enc_map (e, 2);
    ac_enc_int (e, "amount", l->amount);
    ac_enc_str (e, "currency", AC_CURRENCY);
    ac_enc_key (e, "location");
    ac_enc_map (e, 2);
    ac_enc_str (e, "city", l->city);
    ac_enc_str (e, "province", l->province);
    size_t n = 0;
    for (size_t i = 0; i < l->images_len; i++)
        n += l->images[i] == 0;
    ac_enc_key (e, "images");
    msgpack_pack_array (&e->pk, n);
    for (size_t i = 0; i < l->images_len; i += strlen (l->images + i) + 1) {
        size_t k = strlen (l->images + i);
        msgpack_pack_str (&e->pk, k);
        msgpack_pack_str_body (&e->pk, l->images + i, k);
    }
    ac_enc_str (e, "condition", l->condition);
    ac_enc_str (e, "status", s_shown (l));
    ac_enc_int (e, "version", l->version);
    ac_enc_str (e, "created_at", created);
    ac_enc_str (e, "updated_at", updated);
    ac_enc_str (e, "expires_at", expires);
}

static void
s_reply (rt_ctx_t *ctx, int status, const listing_t *l)
{
    ac_enc_t e;
    ac_enc_init (&e);
    ac_listing_render (&e, l);
    rt_ctx_reply (ctx, status, e.sb.data, e.sb.size);
    ac_enc_free (&e);
}

/* ---- turns ------------------------------------------------------------- */

static bool
s_counted (const listing_t *l)
{
    return l->exists && !l->deleted && !strcmp (l->status, "active");
}

/*  After a change: bump the version, note the time, tell the seller's
    user actor when the listing entered or left their active count. */
static void
s_changed (rt_ctx_t *ctx, listing_t *l, bool was_counted)
{
    l->version++;
    l->updated_ms = rt_ctx_now_ms (ctx);
    rt_ctx_changed (ctx);
    bool now = s_counted (l);
    if (now != was_counted) {
        ac_enc_t e;
        ac_enc_init (&e);
        ac_enc_map (&e, 1);
        ac_enc_int (&e, "delta", now ? 1 : -1);
        rt_ctx_send (ctx, AC_TYPE_USER, l->seller, strlen (l->seller), USER_LISTINGS_DELTA,
                     e.sb.data, e.sb.size);
        ac_enc_free (&e);
    }
}

static void
s_remind_expiry (rt_ctx_t *ctx, const listing_t *l)
{
    rt_ctx_remind (ctx, "expire", l->expires_ms, LISTING_EXPIRE, NULL, 0);
}

static void
s_create (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    listing_t *l = state;
    if (l->exists) {
        if (l->deleted)
            rt_ctx_reject (ctx, 404, NULL, 0);
        else
            s_reply (ctx, 200, l);
        return;
    }
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const rt_addr_t *self = rt_ctx_self (ctx);
    listing_t *n = calloc (1, sizeof *n);
    bool ok = m && n && s_take_content (m, n)
              && s_take_fixed (m, "id", n->id, sizeof n->id, NULL)
              && s_take_fixed (m, "seller_id", n->seller, sizeof n->seller, NULL)
              && ac_map_int (m, "created_ms", &n->created_ms)
              && ac_map_int (m, "expires_ms", &n->expires_ms)
              && strlen (n->id) == self->len && !memcmp (n->id, self->key, self->len);
    if (ok && !n->description)
        n->description = strdup ("");
    if (ok && !n->images)
        n->images = calloc (1, 1);
    strcpy (n->status, "active");
    ac_map_destroy (&m);
    if (!ok || !s_complete (n) || n->expires_ms <= n->created_ms) {
        s_free (n);
        rt_ctx_reject (ctx, 422, NULL, 0);
        return;
    }
    n->exists = true;
    n->version = 0;
    rt_ctx_set_state (ctx, n);
    s_changed (ctx, n, false);      /* version 1, and +1 for the seller */
    n->updated_ms = n->created_ms;
    s_remind_expiry (ctx, n);
    s_reply (ctx, 201, n);
}

static void
s_get (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    (void) msg;
    listing_t *l = state;
    if (!l->exists || l->deleted) {
        rt_ctx_reject (ctx, 404, NULL, 0);
        return;
    }
    s_reply (ctx, 200, l);
}

/*  Who may write: the seller; an admin too where admin_ok. Answers the
    refusal itself: 404 for no listing, 403 for anyone else. */
static bool
s_allowed (rt_ctx_t *ctx, const listing_t *l, ac_map_t *m, bool admin_ok)
{
    const char *caller = m ? ac_map_str (m, "caller") : NULL;
    const char *role = m ? ac_map_str (m, "role") : NULL;
    if (!l->exists || l->deleted) {
        rt_ctx_reject (ctx, 404, NULL, 0);
        return false;
    }
    if (!caller || (strcmp (caller, l->seller) && !(admin_ok && role && !strcmp (role, "admin")))) {
        rt_ctx_reject (ctx, 403, NULL, 0);
        return false;
    }
    return true;
}

static listing_t *
s_copy (const listing_t *l)
{
    listing_t *c = malloc (sizeof *c);
    if (!c)
        return NULL;
    *c = *l;
    c->title = strdup (l->title);
    c->description = strdup (l->description);
    c->city = strdup (l->city);
    c->province = strdup (l->province);
    c->images = malloc (l->images_len ? l->images_len : 1);
    if (c->images)
        memcpy (c->images, l->images, l->images_len);
    if (!c->title || !c->description || !c->city || !c->province || !c->images) {
        s_free (c);
        return NULL;
    }
    return c;
}

static void
s_patch (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    listing_t *l = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    if (!s_allowed (ctx, l, m, false)) {
        ac_map_destroy (&m);
        return;
    }
    int64_t want = 0;
    if (ac_map_int (m, "if_match", &want) && want != l->version) {
        ac_map_destroy (&m);
        ac_refuse (ctx, 412, "the listing has changed since that version");
        return;
    }
    if (l->reserved) {
        ac_map_destroy (&m);
        ac_refuse (ctx, 409, "the listing is reserved by an open order");
        return;
    }
    listing_t *n = s_copy (l);
    bool ok = n && s_take_content (m, n);
    const char *status = ac_map_str (m, "status");
    const char *detail = NULL;
    if (ok && status) {
        bool lapsed = rt_ctx_now_ms (ctx) >= l->expires_ms;
        if (strcmp (status, "active") && strcmp (status, "sold"))
            ok = false;
        else if (!strcmp (status, "active") && strcmp (l->status, "active") && lapsed)
            detail = "the listing has expired: renew it";
        else if (!strcmp (status, "sold") && !strcmp (l->status, "expired"))
            detail = "an expired listing cannot be sold: renew it first";
        else
            strcpy (n->status, status);
    }
    ac_map_destroy (&m);
    if (!ok || detail) {
        int refusal = detail ? 409 : n ? 422 : 500;
        s_free (n);
        if (detail)
            ac_refuse (ctx, refusal, detail);
        else
            rt_ctx_reject (ctx, refusal, NULL, 0);
        return;
    }
    bool was = s_counted (l);
    rt_ctx_set_state (ctx, n);
    s_changed (ctx, n, was);
    s_reply (ctx, 200, n);
}

static void
s_delete (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    listing_t *l = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    bool ok = s_allowed (ctx, l, m, true);
    ac_map_destroy (&m);
    if (!ok)
        return;
    if (l->reserved) {
        ac_refuse (ctx, 409, "the listing is reserved by an open order");
        return;
    }
    bool was = s_counted (l);
    l->deleted = true;
    s_changed (ctx, l, was);
    rt_ctx_cancel_reminder (ctx, "expire");
    rt_ctx_reply (ctx, 204, NULL, 0);
}

static void
s_renew (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    listing_t *l = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    int64_t expires = 0;
    bool ok = s_allowed (ctx, l, m, false);
    bool has = ok && ac_map_int (m, "expires_ms", &expires);
    ac_map_destroy (&m);
    if (!ok)
        return;
    if (!has || expires <= rt_ctx_now_ms (ctx)) {
        rt_ctx_reject (ctx, 422, NULL, 0);
        return;
    }
    if (l->reserved || !strcmp (l->status, "sold")) {
        ac_refuse (ctx, 409, l->reserved ? "the listing is reserved by an open order"
                                        : "a sold listing is not renewed");
        return;
    }
    bool was = s_counted (l);
    strcpy (l->status, "active");
    l->expires_ms = expires;
    s_changed (ctx, l, was);
    s_remind_expiry (ctx, l);
    s_reply (ctx, 200, l);
}

/*  The reminder. It may fire late, or twice (runtime guarantee: at least
    once), or for an expiry a renew has since moved: the state decides. A
    reserved listing waits for its order (release expires it). */
static void
s_expire (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    (void) msg;
    listing_t *l = state;
    if (!s_counted (l) || l->reserved || rt_ctx_now_ms (ctx) < l->expires_ms)
        return;
    strcpy (l->status, "expired");
    s_changed (ctx, l, true);
}

/*  An order's answer to its reserve (it came through the outbox, so the
    answer is its receipt): ok with the price and the seller, or the
    reason it cannot have the listing. */
static void
s_reserve_result (rt_ctx_t *ctx, const rt_msg_t *msg, const listing_t *l, const char *order,
                  const char *reason)
{
    if (!msg->from)
        return;
    ac_enc_t e;
    ac_enc_init (&e);
    ac_enc_map (&e, 6);
    ac_enc_str (&e, "ref", order);
    ac_enc_int (&e, "op", AC_OP_RESERVE);
    ac_enc_int (&e, "ok", reason == NULL);
    ac_enc_int (&e, "amount", l->amount);
    ac_enc_str (&e, "seller_id", l->seller);
    ac_enc_str (&e, "reason", reason);
    if (rt_ctx_receipt (ctx, AC_MSG_RESULT, e.sb.data, e.sb.size))
        rt_ctx_abort (ctx);
    ac_enc_free (&e);
}

/*  An order holds the listing while it is open: body {order_id, buyer_id}. */
static void
s_reserve (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    listing_t *l = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const char *o = m ? ac_map_str (m, "order_id") : NULL;
    const char *buyer = m ? ac_map_str (m, "buyer_id") : NULL;
    char order[32];
    if (!o || strlen (o) >= sizeof l->order) {
        ac_map_destroy (&m);
        rt_ctx_reject (ctx, 422, NULL, 0);
        return;
    }
    strcpy (order, o);
    bool own = buyer && !strcmp (buyer, l->seller);
    ac_map_destroy (&m);
    if (l->reserved && !strcmp (l->order, order)) {
        s_reserve_result (ctx, msg, l, order, NULL);
        s_reply (ctx, 200, l);      /* a retry */
        return;
    }
    const char *reason = !l->exists || l->deleted ? "not_found" : own ? "own_listing"
                       : !s_counted (l) || l->reserved || rt_ctx_now_ms (ctx) >= l->expires_ms
                         ? "not_available" : NULL;
    if (reason) {
        s_reserve_result (ctx, msg, l, order, reason);
        if (!strcmp (reason, "not_found"))
            rt_ctx_reject (ctx, 404, NULL, 0);
        else
            ac_refuse (ctx, 409, "the listing is not available");
        return;
    }
    strcpy (l->order, order);
    l->reserved = true;
    s_changed (ctx, l, true);
    s_reserve_result (ctx, msg, l, order, NULL);
    s_reply (ctx, 200, l);
}

static void
s_release (rt_ctx_t *ctx, void *state, const rt_msg_t *msg)
{
    listing_t *l = state;
    ac_map_t *m = ac_map_decode (msg->body, msg->body_len);
    const char *order = m ? ac_map_str (m, "order_id") : NULL;
    int64_t sold = 0;
    bool mine = order && l->reserved && !strcmp (l->order, order);
    if (m)
        ac_map_int (m, "sold", &sold);
    ac_map_destroy (&m);
    if (!mine) {
        /*  Released already (a retry), or another order's: nothing to do. */
        rt_ctx_reject (ctx, l->exists ? 200 : 404, NULL, 0);
        return;
    }
    bool was = s_counted (l);
    l->reserved = false;
    l->order[0] = 0;
    if (sold)
        strcpy (l->status, "sold");
    else if (rt_ctx_now_ms (ctx) >= l->expires_ms && !strcmp (l->status, "active"))
        strcpy (l->status, "expired");
    s_changed (ctx, l, was);
    s_reply (ctx, 200, l);
}

/* ---- the index (ac_search.h) ------------------------------------------------ */

typedef struct {
    rt_index_emit_fn *emit;
    void    *sink;
    const char *id;             /* 26 characters */
    uint8_t  price[8];
    const uint8_t *pre;         /* the word entries' prefix being built */
} ix_t;

/*  prefix 'n' ID and prefix 'p' PRICE ID: the two orders of one range. */
static void
s_pair (ix_t *x, const uint8_t *prefix, size_t plen)
{
    uint8_t k[RT_INDEX_KEY_MAX];
    memcpy (k, prefix, plen);
    k[plen] = 'n';
    memcpy (k + plen + 1, x->id, AC_ID_LEN);
    x->emit (x->sink, k, plen + 1 + AC_ID_LEN, NULL, 0);
    k[plen] = 'p';
    memcpy (k + plen + 1, x->price, 8);
    memcpy (k + plen + 9, x->id, AC_ID_LEN);
    x->emit (x->sink, k, plen + 9 + AC_ID_LEN, NULL, 0);
}

static void
s_word (const char *w, size_t len, void *arg)
{
    uint8_t p[2 + AC_WORD_INDEX_MAX];
    size_t n = ac_word_index_len (w, len);
    p[0] = 'w';
    p[1] = (uint8_t) n;
    memcpy (p + 2, w, n);
    s_pair (arg, p, 2 + n);
}

static void
s_index (const rt_addr_t *addr, const void *state, rt_index_emit_fn *emit, void *sink)
{
    (void) addr;
    const listing_t *l = state;
    if (!l->exists || l->deleted || strlen (l->id) != 4 + AC_ID_LEN)
        return;
    ix_t x = { .emit = emit, .sink = sink, .id = l->id + 4 };
    for (int i = 0; i < 8; i++)
        x.price[i] = (uint8_t) ((uint64_t) l->amount >> (56 - 8 * i));
    ac_summary_t s = { .status = ac_status_code (s_shown (l)),
                       .category = ac_category_code (l->category),
                       .condition = ac_condition_code (l->condition),
                       .price = l->amount, .updated_ms = l->updated_ms };
    snprintf (s.seller, sizeof s.seller, "%s", strlen (l->seller) > 4 ? l->seller + 4 : "");
    ac_lower (l->city, s.city);
    ac_lower (l->province, s.province);
    uint8_t k[1 + AC_ID_LEN], v[RT_INDEX_VAL_MAX];
    k[0] = 'm';
    memcpy (k + 1, x.id, AC_ID_LEN);
    emit (sink, k, sizeof k, v, ac_summary_pack (&s, v, sizeof v));
    uint8_t seller[1 + AC_ID_LEN];
    seller[0] = 's';
    memcpy (seller + 1, s.seller, AC_ID_LEN);
    s_pair (&x, seller, sizeof seller);
    if (strcmp (s_shown (l), "active"))
        return;
    s_pair (&x, (const uint8_t *) "a", 1);
    uint8_t cat[2] = { 'c', s.category };
    s_pair (&x, cat, 2);
    ac_words (l->title, s_word, &x);
    ac_words (l->description, s_word, &x);
}

const rt_type_def_t ac_listing_type = {
    .name = "listing",
    .state_version = 1,
    .state_new = s_new,
    .state_decode = s_decode,
    .state_encode = s_encode,
    .state_free = s_free,
    .handlers = { [LISTING_CREATE] = s_create, [LISTING_GET] = s_get,
                  [LISTING_PATCH] = s_patch, [LISTING_DELETE] = s_delete,
                  [LISTING_RENEW] = s_renew, [LISTING_EXPIRE] = s_expire,
                  [LISTING_RESERVE] = s_reserve, [LISTING_RELEASE] = s_release },
    .reads = 1ull << LISTING_GET,
    .index = s_index,
};
