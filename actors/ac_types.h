/*  =========================================================================
    ac_types.h - the domain actor types and their message numbers

    Type ids are on the wire and in every LMDB key: never renumber. Type 1
    is the counter test actor (tests/support), never linked into bin/pasar.
    =========================================================================
*/
#ifndef AC_TYPES_H_INCLUDED
#define AC_TYPES_H_INCLUDED
#include "runtime/rt_runtime.h"

enum {
    AC_TYPE_USER  = 2,      /* key: usr_...: profile, credentials, status */
    AC_TYPE_EMAIL = 3,      /* key: em_<hash of normalized email>: who owns it */
    AC_TYPE_FLAGS = 4,      /* key: "review": the admin review queue */
    AC_TYPE_LISTING = 5,    /* key: lst_...: one ad listing */
    AC_TYPE_WALLET = 6,     /* key: usr_...: the user's balance, holds, recent entries */
    AC_TYPE_ACCOUNT = 7,    /* key: <name>#<k>: one of AC_ACCOUNT_SHARDS parts of a
                               system account (adjustments, fees, cod, partner:<name>) */
    AC_TYPE_LEDGER_PAGE = 8,/* key: usr_.../<n>: a wallet's archived entries, page n */
    AC_TYPE_PAYMENT = 9,    /* key: pay_...: a top-up or an order's payment via a partner */
    AC_TYPE_ORDER = 10,     /* key: ord_...: one order of one listing */
    AC_TYPE_RECON = 11,     /* key: rec_...: one reconciliation and its result */
};

/*  Secondary index key spaces are shared by the types of a shard: each
    type's entries start with its own byte. Listings: 'm' 's' 'a' 'c' 'w'
    (ac_search.h). Ledger: 'L' (ac_ledger.h). Users: 'U' (below). */

/*  A user's index entries, what the edge checks on every request, read
    with rt_index_read instead of decoding the user's state:
        'U' 'x' USER                    -> status   the user exists
        'U' 's' [len:1] USER SESSION    -> status   one per live session
    The key of one into k (AC_USER_IX_KEY_MAX bytes); sid NULL for the
    first. Returns its length, 0 if user or sid is too long. */
#define AC_USER_IX_KEY_MAX (3 + RT_KEY_MAX + 32)
size_t ac_user_ix_key (uint8_t k[AC_USER_IX_KEY_MAX], const char *user, const char *sid);

/*  user messages */
enum {
    USER_CREATE = 1,        /* body: the user's fields; idempotent per id */
    USER_GET    = 2,        /* reply: the private view, or 404 */
    USER_AUTH   = 3,        /* reply {password_hash, status, role}: edge only */
    USER_SESSION_CREATE = 4,/* body {session_id, device_name}; 200 {gen,
                               rotated_ms, role, dropped?: the session
                               removed to stay within AC_USER_SESSIONS_MAX} */
    USER_PATCH  = 5,        /* body: any of name, phone, city, avatar_url (nil
                               clears); reply: the private view */
    USER_PUBLIC = 6,        /* reply: the public profile, or 404 */
    USER_SESSION_REFRESH = 7,/* body {session_id, gen}: 200 {gen, rotated_ms,
                               role} (rotated, or the grace answer); 401
                               {revoked} on reuse (the session is removed) */
    USER_SESSIONS = 8,      /* reply {sessions: bin of packed sessions} */
    USER_SESSION_REVOKE = 9,/* body {session_id}: 204, or 404 */
    USER_SET_STATUS = 10,   /* body {status}: 200 {user..., revoked: bin of
                               session ids (32 bytes each) when banned} */
    USER_SESSION_CHECK = 11,/* body {session_id}: 200 {status} while the
                               session exists, else 404 (read-only) */
    USER_LISTING_NEW = 12,  /* body: a LISTING_CREATE body; sends it to the
                               listing durably, 200 {listing_id}; 403 when
                               the user may not post. The anchor of the
                               create's Idempotency-Key (a retry gets the
                               first listing id back) */
    USER_LISTINGS_DELTA = 13,/* body {delta}: active_listings += delta (the
                               listing's outbox: exactly once) */
    USER_RECON_NEW = 14,    /* body {id}: 200 {reconciliation_id}. The anchor
                               of a reconciliation's Idempotency-Key in its
                               admin's actor: a retry gets the first id back
                               and starts no second job */
};

/*  email messages */
enum {
    EMAIL_CLAIM = 1,        /* body {email, user_id, create: bin}; 201 or 409 */
    EMAIL_LOOKUP = 2,       /* reply {user_id} 200, or 404 when unclaimed */
};

/*  listing messages. Writes carry {caller, role} from the verified token;
    the actor decides who may (the seller; an admin may delete). */
enum {
    LISTING_CREATE = 1,     /* body: id, seller_id, title, description,
                               category, amount, currency, city, province,
                               images (bin: NUL-ended URLs), condition,
                               created_ms, expires_ms. 201 listing; 200 when
                               it exists already (a retry); 404 if deleted */
    LISTING_GET    = 2,     /* reply: the listing, or 404 (none, deleted) */
    LISTING_PATCH  = 3,     /* body: caller, role, if_match?, any create
                               field, status (active|sold) */
    LISTING_DELETE = 4,     /* body: caller, role: 204 */
    LISTING_RENEW  = 5,     /* body: caller, role, expires_ms: 200 listing */
    LISTING_EXPIRE = 6,     /* the "expire" reminder */
    LISTING_RESERVE = 7,    /* body {order_id}: 200, or 409 when not active
                               or already reserved (orders) */
    LISTING_RELEASE = 8,    /* body {order_id, sold: 0|1}: 200 */
};

/*  wallet messages (ac_wallet.c). Amounts are int64 rupiah; every
    movement is an entry here and the opposite entry in another wallet or
    a system account. Moves between actors go through the outbox. */
enum {
    WALLET_GET = 1,         /* reply {user_id, balance, held, available} (money maps) */
    WALLET_ENTRIES = 2,     /* body {before (seq, 0 = newest), limit}: reply {items
                               (newest first), last (their lowest seq), archived:
                               entries 1..archived are in pages} */
    WALLET_TRANSFER = 3,    /* body {transfer_id, to, amount, note?, created_ms}: from
                               the edge, the Idempotency-Key's anchor. Debits now and
                               sends WALLET_CREDIT {post: 1} durably; 201 transfer;
                               402 {detail} when the available funds do not cover it
                               (the edge's 422 insufficient-funds); 503 when backed up */
    WALLET_CREDIT = 4,      /* body {ref, amount, kind, post?}: from an actor's outbox.
                               Credits; with post, answers AC_MSG_POSTED (or
                               AC_MSG_VOIDED when it cannot: overflow) durably */
    WALLET_ADMIN_CREDIT = 7,/* body {ref, amount, reason}: 201 entry; the
                               counter-entry goes to "adjustments" durably */
    WALLET_PAGE_STORED = 8, /* body {page}: a page actor holds those entries now */
    WALLET_TOPUP_NEW = 9,   /* body: a PAYMENT_CREATE body for this user; sends it to
                               the payment durably, 200 {payment_id}. The anchor of
                               the top-up's Idempotency-Key */
    WALLET_ORDER_NEW = 10,  /* body: an ORDER_CREATE body with this user as buyer;
                               sends it to the order durably, 200 {order_id}. The
                               anchor of the order's Idempotency-Key */
    /*  From an order's outbox. Each answers AC_MSG_RESULT {ref, op, ok} to it. */
    WALLET_HOLD = 11,       /* body {ref, amount}: held += amount when available */
    WALLET_RELEASE = 12,    /* body {ref}: the hold ends, nothing moves (no answer) */
    WALLET_CAPTURE = 13,    /* body {ref, to, amount, fee}: the hold is paid: amount out
                               (entry order_payment), amount - fee to `to` (entry
                               order_sale, two-phase), fee to "fees" (no answer) */
    WALLET_REFUND = 14,     /* body {ref, to, amount}: like a transfer (entries
                               refund_out, refund_in) when available covers it */
};

/*  payment messages (ac_payment.c) */
enum {
    PAYMENT_CREATE = 1,     /* body {id, user_id, kind (topup|order), order_id?, amount,
                               partner, method, created_ms, expires_ms}: 201 payment,
                               200 when it exists (a retry) */
    PAYMENT_GET = 2,        /* body {caller, role}: the payment; 404 for anyone but
                               its user and admins */
    PAYMENT_EVENT = 3,      /* body {partner, status, amount, partner_ref?}: a partner's
                               authenticated callback. 200 {status}; 422 {detail} on
                               an amount mismatch (flagged) or another partner's */
    PAYMENT_EXPIRE = 4,     /* the "expire" reminder */
};

/*  order messages (ac_order.c). The order is the saga: it asks the listing
    (reserve), the buyer's wallet (hold, release, capture) and the seller's
    (refund) by durable messages and moves on their AC_MSG_RESULTs. Writes
    from the edge carry {caller, role}. */
enum {
    ORDER_PAYMENT = 1,      /* body {payment_id, status}: the order's payment ended */
    ORDER_CREATE = 2,       /* body {id, listing_id, buyer_id, payment_method, partner?,
                               method?, fee_bps, created_ms, pay_timeout_ms}: 202 while
                               it is reserving and holding, 200 once decided */
    ORDER_GET = 3,          /* body {caller, role}: 200 order; 404 for anyone but its
                               buyer, seller and admins, and while it is undecided;
                               409 {reason} for one that failed */
    ORDER_SHIP = 4,         /* body {caller, role, auto_complete_ms} (seller): paid -> shipped */
    ORDER_CONFIRM = 5,      /* body {caller, role} (buyer): shipped -> completed */
    ORDER_COD_COLLECTED = 6,/* (seller, cod): awaiting_delivery -> completed */
    ORDER_CANCEL = 7,       /* (buyer or seller): before shipped -> cancelled */
    ORDER_REFUND = 8,       /* (seller or admin): completed -> refunded (202 while the
                               seller's wallet decides; GET tells) */
    ORDER_TIMEOUT = 9,      /* the "unpaid" and "complete" reminders */
};

#define AC_SVC_ORDERS 3

/*  reconciliation messages (ac_recon.c) */
enum {
    RECON_UPDATE = 1,       /* body {status, rows, matched, bad_rows, amount_mismatch:
                               bin, missing_in_ledger: bin, missing_in_report: bin,
                               counts...}: the job's progress, then its result */
    RECON_GET = 2,          /* reply: the reconciliation, or 404 */
};

/*  Items kept per list of a reconciliation's result (the counts are
    exact; the lists show the first ones): the state stays far under
    RT_STATE_MAX_BYTES whatever the report's size. */
#define AC_RECON_LIST_MAX 500
/*  A list item as RECON_UPDATE packs it: [payment_id:32][report amount:8]
    [ledger amount:8] (-1: none). */
#define AC_RECON_ITEM 48

/*  A partner's settled payments, from every node (AC_SVC_PAYMENTS): body
    {partner ('m'|'x'), after: payment id or "", limit}: {covered, items:
    bin of [payment_id:32][amount:8][settled_ms:8]} in id order. */
#define AC_SVC_PAYMENTS 4
#define AC_PAYMENTS_PAGE_MAX 1000
int ac_payments_register (rt_runtime_t *rt);

/*  Payments by id, asked of every node at once (AC_SVC_PAYMENT_LOOKUP):
    body {ids: bin of 32-byte NUL-padded ids, at most AC_LOOKUP_MAX}:
    {covered, items: bin of [id:32][status:1 ('p' 's' 'e' 'f', 0 none)]
    [partner:1 ('m' 'x')][amount:8]} for the ids whose shards this node
    serves. One round trip per node for a batch of reconciliation rows. */
#define AC_SVC_PAYMENT_LOOKUP 5
#define AC_LOOKUP_MAX 1024
#define AC_LOOKUP_ITEM (32 + 1 + 1 + 8)
/*  Orders per page of GET /v1/orders (API.md's limit, 1..100). */
#define AC_ORDERS_PAGE_MAX 100
/*  Register the orders-of-a-user service (before rt_start). */
int ac_orders_register (rt_runtime_t *rt);

/*  The answers to a WALLET_CREDIT with post, {ref}: the same numbers in
    every type that sends one (a wallet paying out, a payment settling),
    so the wallet answers whoever asked without knowing its type. */
enum {
    AC_MSG_RESULT = 61,     /* {ref, op (AC_OP_*), ok, ...}: how a step an order asked
                               of a wallet or a listing ended */
    AC_MSG_POSTED = 62,     /* the credit landed */
    AC_MSG_VOIDED = 63,     /* it did not: the sender takes the money back */
};

enum { AC_OP_HOLD = 1, AC_OP_REFUND = 2, AC_OP_RESERVE = 3,
       AC_OP_PAYMENT = 4 };     /* the order's partner payment exists */

/*  system account messages (ac_account.c) */
enum {
    ACCOUNT_POST = 1,       /* body {ref, amount (signed)}: from an outbox */
    ACCOUNT_GET = 2,        /* reply {name, balance, posts} */
};

/*  ledger page messages (ac_ledger.c) */
enum {
    LEDGER_PAGE_PUT = 1,    /* body {page, entries: bin}: stores them once, then
                               WALLET_PAGE_STORED to the sender, durably */
    LEDGER_PAGE_ENTRIES = 2,/* body {before, limit}: reply {items, last} newest first */
};

/*  Sessions kept per user: the oldest is dropped (its tokens then fail)
    when a new login would exceed it. Bounds the user's state. */
#define AC_USER_SESSIONS_MAX 32

/*  How long the refresh token just replaced still answers (with the same
    new pair: a client that lost the response can retry). API.md: 30 s. */
#define AC_REFRESH_GRACE_MS 30000

/*  A session as USER_SESSIONS packs it: [id:32][device:128][created:8]
    [last_seen:8] big-endian, NUL-padded strings. */
#define AC_SESSION_LIST_ITEM (32 + 128 + 8 + 8)

/*  flags messages */
enum {
    FLAGS_ADD  = 1,         /* body {kind, user_id, detail}: 204 */
    FLAGS_LIST = 2,         /* reply {items: bin of packed flags} */
};

/*  Flags kept for review: the newest, up to this many (a review queue, not
    an archive; the state stays far under RT_STATE_MAX_BYTES). */
#define AC_FLAGS_MAX 500
/*  A flag as FLAGS_LIST packs it: [kind:32][user_id:32][detail:128][ms:8]. */
#define AC_FLAG_PACKED (32 + 32 + 128 + 8)

extern const rt_type_def_t ac_flags_type;
extern const rt_type_def_t ac_user_type;
extern const rt_type_def_t ac_email_type;
extern const rt_type_def_t ac_listing_type;
extern const rt_type_def_t ac_wallet_type;
extern const rt_type_def_t ac_account_type;
extern const rt_type_def_t ac_ledger_page_type;
extern const rt_type_def_t ac_payment_type;
extern const rt_type_def_t ac_order_type;
extern const rt_type_def_t ac_recon_type;

/*  Register every domain type with the runtime. */
int ac_register_all (rt_runtime_t *rt);

/*  Money (API.md): whole rupiah, IDR only, 0..10^13. */
#define AC_CURRENCY "IDR"
#define AC_MONEY_MAX 10000000000000LL

/*  RFC 3339 UTC with milliseconds, "2026-11-24T21:09:00.000Z" (25 bytes). */
void ac_time_rfc3339 (int64_t ms, char out[32]);

#endif
