/*  =========================================================================
    rt_error.h - the runtime's error codes

    One enum in a reserved negative range (like LMDB's MDB_KEYEXIST..) so a
    function can return 0, a positive count, or an error, and errno values
    never collide. rt_strerror() names each one.
    =========================================================================
*/
#ifndef RT_ERROR_H_INCLUDED
#define RT_ERROR_H_INCLUDED

typedef enum {
    RT_OK            = 0,
    RT_ERR_BASE      = -30900,
    RT_EOVERLOADED   = -30900,  /* mailbox or inbox full: retry later */
    RT_ETIMEOUT      = -30899,  /* ask deadline passed before a reply */
    RT_ENOTYPE       = -30898,  /* actor type not registered */
    RT_ENOHANDLER    = -30897,  /* actor type has no handler for msg */
    RT_EKILLED       = -30896,  /* actor killed while the message waited */
    RT_EMALFORMED    = -30895,  /* malformed envelope, state or body */
    RT_ETOOBIG       = -30894,  /* over a limit of rt_limits.h */
    RT_ESTORE        = -30893,  /* storage failed; the turn was not kept */
    RT_EIDEM_REUSED  = -30892,  /* idempotency key reused, other request */
    RT_EIDEM_INFLIGHT= -30891,  /* idempotency key still in flight */
    RT_ESTOPPED      = -30890,  /* runtime is shutting down */
    RT_ENOMEM        = -30889,  /* allocation failed */
    RT_EINVAL        = -30888,  /* invalid argument */
    RT_ECONFIG       = -30887,  /* invalid configuration */
    RT_ECORRUPT      = -30886,  /* data dir holds foreign or corrupt data */
    RT_EMAPFULL      = -30885,  /* LMDB map at its ceiling */
    RT_EUNAVAILABLE  = -30884,  /* the owning node is down or unreachable */
    RT_ENOTOWNER     = -30883,  /* sent to a node that does not own the shard
                                   at the sender's epoch (fenced) */
    RT_ENOSPACE      = -30882,  /* the owning node's disk is full: writes
                                   refused until space is freed */
    RT_ERR_LAST      = -30882
} rt_err_t;

/*  A static, human-readable name for err (an rt_err_t, or a negated errno,
    or 0). Never NULL. */
const char *rt_strerror (int err);

#endif
