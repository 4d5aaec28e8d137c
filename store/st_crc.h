/*  =========================================================================
    st_crc.h - CRC-32C (Castagnoli), for the log's frames: tells a torn
    or stale write from a whole one.
    Uses the CPU's crc32 instruction where there is one (SSE 4.2: ~20 GB/s,
    so checksumming a batch costs nothing next to its fdatasync), else a
    table.
    =========================================================================
*/
#ifndef ST_CRC_H_INCLUDED
#define ST_CRC_H_INCLUDED

#include <stdint.h>
#include <stddef.h>

/*  crc of buf continuing from crc (0 to start). */
uint32_t st_crc32c (uint32_t crc, const void *buf, size_t len);

#endif
