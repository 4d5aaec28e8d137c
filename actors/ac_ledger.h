/*  =========================================================================
    ac_ledger.h - ledger entries, their archive pages, system accounts and
    the ledger summary

    Money moves by double entry: each movement is one entry in a wallet
    and the opposite one in another wallet or a system account, the two
    sides written by two actors, joined by the outbox (exactly once). A
    wallet numbers its entries 1, 2, 3... (seq); it keeps the newest in its
    state and moves the older ones, AC_LEDGER_PAGE at a time, to page
    actors (AC_TYPE_LEDGER_PAGE, key "<user>/<n>", page n holding seq
    n * AC_LEDGER_PAGE + 1 ...), so a wallet's state stays small however
    long its history.

    Index entries (shared key space, ac_types.h), values big-endian:
        'L' 'w' USER        -> [balance:8][held:8][in_transit:8]   wallets
        'L' 'a' NAME#K      -> [balance:8]                         system accounts
    The summary service (AC_SVC_LEDGER) adds them up per node.
    =========================================================================
*/
#ifndef AC_LEDGER_H_INCLUDED
#define AC_LEDGER_H_INCLUDED
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ac_codec.h"
#include "runtime/rt_runtime.h"

/*  Entries per archive page. Small enough that a wallet's state (one
    page of recent entries, a few more while it is being stored: about
    1 KiB) stays inside an LMDB leaf: a value past ~2 KiB goes to overflow
    pages, re-allocated on every turn, and past 4 KiB needs contiguous
    free pages, a search that slowed transfers by a third as the store
    grew (BENCHMARKS.md). Large enough that a page of
    GET /v1/wallet/entries (100 at most) touches at most eight pages.
    Part of the stored layout: page n holds seq n * AC_LEDGER_PAGE + 1...,
    so a store written with another value is refused page by page. */
#define AC_LEDGER_PAGE              16
/*  Recent entries that make the wallet send its oldest page off: as soon
    as there is a whole page. */
#define AC_WALLET_RECENT_ARCHIVE    AC_LEDGER_PAGE
/*  Recent entries past which a wallet refuses new debits (503) until its
    pages are stored: a page actor that cannot be reached must not let the
    state grow towards RT_STATE_MAX_BYTES. Credits from the outbox are
    always taken (refusing them would only retry them). */
#define AC_WALLET_RECENT_MAX        1024
/*  Outgoing transfers a wallet has debited whose credit has not been
    confirmed yet (503 past it): bounds the state and the money in flight
    from one wallet. */
#define AC_WALLET_PENDING_MAX       256
/*  Open holds (escrow of orders) per wallet: bounds its state. */
#define AC_WALLET_HOLDS_MAX         256
/*  A system account is this many actors (the movement's ref picks one),
    so admin credits or fees are not one hot actor. */
#define AC_ACCOUNT_SHARDS           16
/*  Highest balance of a wallet or an account part, and lowest of a part:
    a quarter of int64, so a sum of a few never overflows before it is
    checked. 2.3e18 rupiah is far beyond any real wallet; a movement that
    would cross it is refused (a credit: voided back to its sender). */
#define AC_BALANCE_MAX              (INT64_MAX / 4)
/*  A transfer's note: 200 code points (API.md gives none; a bank's memo). */
#define AC_NOTE_MAX                 (200 * 4)

#define AC_SVC_LEDGER 2

/*  Kinds of entries, as API.md's "kind" shows them. */
enum {
    AC_ENTRY_ADMIN_CREDIT = 1,
    AC_ENTRY_TRANSFER_OUT = 2,
    AC_ENTRY_TRANSFER_IN = 3,
    AC_ENTRY_TRANSFER_VOID = 4,
    AC_ENTRY_TOPUP = 5,
    AC_ENTRY_ORDER_PAYMENT = 6,
    AC_ENTRY_ORDER_SALE = 7,
    AC_ENTRY_REFUND_OUT = 8,
    AC_ENTRY_REFUND_IN = 9,
    AC_ENTRY_FEE_REFUND = 10,
    AC_ENTRY_KINDS
};

typedef struct {
    int64_t seq, amount, balance_after, created_ms;
    uint8_t kind;
    char    ref[32];            /* the movement's id: trf_... */
} ac_entry_t;

/*  [seq:8][amount:8][balance_after:8][created_ms:8][kind:1][ref:31, NUL-padded] */
#define AC_ENTRY_PACKED 64

void ac_entry_pack (const ac_entry_t *en, uint8_t out[AC_ENTRY_PACKED]);
bool ac_entry_unpack (const uint8_t in[AC_ENTRY_PACKED], ac_entry_t *en);

/*  "items" and "last": the packed entries (ascending seq) with seq <
    before, newest first, at most limit, as API.md's entries of wallet
    user, and the lowest seq among them (0: none). Two pairs of a map. */
void ac_entries_render (ac_enc_t *e, const char *user, const uint8_t *packed, size_t n,
                        int64_t before, size_t limit);

/*  The entry alone (a reply map). */
void ac_entry_render (ac_enc_t *e, const char *user, const ac_entry_t *en);

/*  The key of the part of system account name that carries ref. */
void ac_account_key (const char *name, const char *ref, char out[RT_KEY_MAX]);

/*  Post amount (signed) to the part of system account name that carries
    ref, durably (this turn's outbox). 0 or an rt_err_t. */
int ac_post_account (rt_ctx_t *ctx, const char *name, const char *ref, int64_t amount);

/*  The system accounts the summary names (NULL-ended). */
extern const char *const ac_accounts[];

/*  Big-endian int64 in index values. */
void ac_put64 (uint8_t *p, int64_t v);
int64_t ac_get64 (const uint8_t *p);

/*  Register the summary service (before rt_start). */
int ac_ledger_register (rt_runtime_t *rt);

#endif
