/*  =========================================================================
    st_crc.c - CRC-32C, hardware or table
    =========================================================================
*/
#include <stdbool.h>
#include <string.h>
#include "st_crc.h"

#define POLY 0x82F63B78u        /* Castagnoli, reflected */

static uint32_t s_table[256];
static bool     s_hw;

static void __attribute__ ((constructor))
s_init (void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        s_table[i] = c;
    }
#if defined(__x86_64__)
    s_hw = __builtin_cpu_supports ("sse4.2");
#endif
}

static uint32_t
s_soft (uint32_t crc, const uint8_t *p, size_t len)
{
    while (len--)
        crc = s_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
__attribute__ ((target ("sse4.2"))) static uint32_t
s_hard (uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;
    while (len >= 8) {
        uint64_t v;
        memcpy (&v, p, 8);
        c = __builtin_ia32_crc32di (c, v);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t) c;
    while (len--)
        c32 = __builtin_ia32_crc32qi (c32, *p++);
    return c32;
}
#endif

uint32_t
st_crc32c (uint32_t crc, const void *buf, size_t len)
{
    crc = ~crc;
#if defined(__x86_64__)
    if (s_hw)
        return ~s_hard (crc, buf, len);
#endif
    return ~s_soft (crc, buf, len);
}
