/*  ac_register.c - every domain actor type, registered with the runtime */
#include "ac_types.h"
#include "ac_search.h"

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
        rc = ac_search_register (rt);
    return rc;
}
