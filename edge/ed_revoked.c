/*  ed_revoked.c - sessions revoked recently, on a bounded expiring map */
#include <pthread.h>
#include "ed_revoked.h"
#include "ed_ttlmap.h"

static ed_ttlmap_t *s_map;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void
s_init (void)
{
    s_map = ed_ttlmap_new (ED_REVOKED_MAX);
}

void
ed_revoked_add (const char *sid, int64_t until_ms)
{
    pthread_once (&s_once, s_init);
    if (s_map)
        ed_ttlmap_put (s_map, sid, 1, 0, until_ms);
}

bool
ed_revoked_has (const char *sid, int64_t now_ms)
{
    pthread_once (&s_once, s_init);
    return s_map && ed_ttlmap_get (s_map, sid, now_ms, NULL, NULL);
}
