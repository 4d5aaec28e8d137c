/*  =========================================================================
    ed_throttle.h - failed-login throttling

    Failures are counted per account (normalised email) and per client
    address in fixed windows; past the limit, logins from that account or
    address are refused with 429 and Retry-After before any password is
    checked, so a guessing attack costs us nothing. A success clears the
    account's count. With [redis] the counters live there (shared by every
    node, one atomic script per count); without it, or while Redis is down,
    they are node-local.
    =========================================================================
*/
#ifndef ED_THROTTLE_H_INCLUDED
#define ED_THROTTLE_H_INCLUDED
#include <stdbool.h>
#include <stdint.h>
#include "store/st_redis.h"

/*  Failures allowed per account, and per client address (NAT'd offices
    share one), in one window. */
#define ED_THROTTLE_ACCOUNT_MAX   5
#define ED_THROTTLE_ADDRESS_MAX   20
#define ED_THROTTLE_WINDOW_MS     (15 * 60 * 1000)

/*  Keys tracked per node; when full, the oldest windows are forgotten. */
#define ED_THROTTLE_KEYS_MAX      100000

typedef struct ed_throttle ed_throttle_t;

/*  redis is borrowed and may be NULL. */
ed_throttle_t *ed_throttle_new (st_redis_t *redis);
void ed_throttle_destroy (ed_throttle_t **p);

/*  0 when a login may proceed; otherwise the seconds until it may. */
int64_t ed_throttle_check (ed_throttle_t *self, const char *account, const char *address,
                           int64_t now_ms);

/*  Record a failed login for both keys. True when this failure made the
    account reach its limit (flag it once per window, not per attempt). */
bool ed_throttle_fail (ed_throttle_t *self, const char *account, const char *address,
                       int64_t now_ms);

/*  A successful login clears the account's failures. */
void ed_throttle_ok (ed_throttle_t *self, const char *account);

#endif
