/*  ed_cover.c - shards covered by the nodes' answers (ed_cover.h) */
#include "ed_cover.h"

bool
ed_cover_add (ed_cover_t *c, const uint8_t *cov, size_t len)
{
    if (len > sizeof c->bits)
        return false;
    for (size_t b = 0; b < len; b++) {
        c->twice |= (c->bits[b] & cov[b]) != 0;
        c->bits[b] |= cov[b];
    }
    return true;
}

bool
ed_cover_whole (const ed_cover_t *c, uint32_t shards)
{
    if (c->twice)
        return false;
    for (uint32_t i = 0; i < shards; i++)
        if (!((c->bits[i / 8] >> (i % 8)) & 1))
            return false;
    return true;
}
