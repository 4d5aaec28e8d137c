/*  =========================================================================
    st_ops.h - the ops a commit record carries, and applying them

    A record (st_commit.h) is one buffer of ops, each

        [op:1][klen:2][vlen:4][key][val]

    so building one costs one allocation in the common case, a batch of
    records is the concatenation of their buffers, and applying it is a
    linear walk. The same bytes are what the write-ahead log keeps
    (st_wal.h), so replay after a crash applies exactly what the commit
    would have.
    =========================================================================
*/
#ifndef ST_OPS_H_INCLUDED
#define ST_OPS_H_INCLUDED

#include <stdint.h>
#include <stddef.h>
#include <lmdb.h>

enum {
    ST_OP_PUT = 1, ST_OP_DEL, ST_OP_DEL_RANGE, ST_OP_REMIND_SET,
    ST_OP_REMIND_CANCEL, ST_OP_REMIND_FIRED,
    ST_OP_PUT_MAX,              /* 8-byte big-endian value, kept if larger */
    ST_OP_DEL_IF                /* val [offset:4][bytes]: delete only if the
                                   stored value holds bytes at offset */
};
#define ST_OP_HEADER 7

/*  Apply every op of buf inside txn. Returns 0 or an LMDB error
    (MDB_MAP_FULL asks for a bigger map and a retry of the batch);
    RT_EMALFORMED for bytes that are not whole ops (a replayed frame with
    a valid CRC never is). */
int st_ops_apply (MDB_txn *txn, MDB_dbi dbi, const uint8_t *buf, size_t len);

#endif
