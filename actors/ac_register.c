/*  ac_register.c - every domain actor type, registered with the runtime */
#include "ac_types.h"
#include "ac_search.h"
#include "ac_ledger.h"

int
ac_register_all (rt_runtime_t *rt)
{
    int rc = rt_register (rt, AC_TYPE_USER, &ac_user_type);
    if (!rc)
        rc = rt_register (rt, AC_TYPE_EMAIL, &ac_email_type);
    if (!rc)
        rc = rt_register (rt, AC_TYPE_FLAGS, &ac_flags_type);
    if (!rc)
        rc = rt_register (rt, AC_TYPE_LISTING, &ac_listing_type);
    if (!rc)
        rc = rt_register (rt, AC_TYPE_WALLET, &ac_wallet_type);
    if (!rc)
        rc = rt_register (rt, AC_TYPE_ACCOUNT, &ac_account_type);
    if (!rc)
        rc = rt_register (rt, AC_TYPE_LEDGER_PAGE, &ac_ledger_page_type);
    if (!rc)
        rc = rt_register (rt, AC_TYPE_PAYMENT, &ac_payment_type);
    if (!rc)
        rc = rt_register (rt, AC_TYPE_ORDER, &ac_order_type);
    if (!rc)
        rc = ac_search_register (rt);
    if (!rc)
        rc = ac_orders_register (rt);
    if (!rc)
        rc = ac_payments_register (rt);
    if (!rc)
        rc = rt_register (rt, AC_TYPE_RECON, &ac_recon_type);
    if (!rc)
        rc = ac_ledger_register (rt);
    return rc;
}
