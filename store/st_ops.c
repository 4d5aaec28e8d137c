/*  =========================================================================
    st_ops.c - applying record ops inside an LMDB write transaction
    =========================================================================
*/
#include <errno.h>
#include <string.h>
#include <lmdb.h>

#include "st_ops.h"
#include "st_keys.h"
#include "runtime/rt_error.h"

/*  'R' key from ([shard][who+name], due); 'r' key from [shard][who+name]. */
static void
s_due_key (st_key_t *out, const uint8_t *k, size_t klen, uint64_t due)
{
    st_key_begin (out, st_get_u16 (k), ST_KIND_REMINDER);
    st_key_u64 (out, due);
    st_key_bytes (out, k + 2, klen - 2);
}

static void
s_name_key (st_key_t *out, const uint8_t *k, size_t klen)
{
    st_key_begin (out, st_get_u16 (k), ST_KIND_REMIND_BY);
    st_key_bytes (out, k + 2, klen - 2);
}

static int
s_del_if (MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen)
{
    MDB_val key = { klen, (void *) k };
    int rc = mdb_del (txn, dbi, &key, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
s_apply_remind (MDB_txn *txn, MDB_dbi dbi, int op, const uint8_t *k,
                size_t klen, const uint8_t *v, size_t vlen)
{
    st_key_t byname, due;
    MDB_val key, val;
    int rc;
    if (op == ST_OP_REMIND_FIRED) {
        /*  k is [shard]['R'][due:8][who+name]. */
        st_key_begin (&byname, st_get_u16 (k), ST_KIND_REMIND_BY);
        st_key_bytes (&byname, k + 11, klen - 11);
        if ((rc = s_del_if (txn, dbi, k, klen)))
            return rc;
        key = (MDB_val) { byname.len, byname.b };
        rc = mdb_get (txn, dbi, &key, &val);
        if (rc == MDB_NOTFOUND)
            return 0;
        if (rc)
            return rc;
        if (val.mv_size == 8 && memcmp (val.mv_data, k + 3, 8) == 0)
            return s_del_if (txn, dbi, byname.b, byname.len);
        return 0;
    }
    s_name_key (&byname, k, klen);
    key = (MDB_val) { byname.len, byname.b };
    rc = mdb_get (txn, dbi, &key, &val);
    if (rc == 0 && val.mv_size == 8) {
        s_due_key (&due, k, klen, st_get_u64 (val.mv_data));
        if ((rc = s_del_if (txn, dbi, due.b, due.len)))
            return rc;
        if (op == ST_OP_REMIND_CANCEL)
            return s_del_if (txn, dbi, byname.b, byname.len);
    }
    else if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (op == ST_OP_REMIND_CANCEL)
        return 0;
    uint8_t duebuf[8];
    memcpy (duebuf, v, 8);
    s_due_key (&due, k, klen, st_get_u64 (v));
    key = (MDB_val) { due.len, due.b };
    val = (MDB_val) { vlen - 8, (void *) (v + 8) };
    if ((rc = mdb_put (txn, dbi, &key, &val, 0)))
        return rc;
    key = (MDB_val) { byname.len, byname.b };
    val = (MDB_val) { 8, duebuf };
    return mdb_put (txn, dbi, &key, &val, 0);
}

static int
s_apply_del_range (MDB_txn *txn, MDB_dbi dbi, const uint8_t *lo, size_t lolen,
                   const uint8_t *hi, size_t hilen)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open (txn, dbi, &cur);
    if (rc)
        return rc;
    MDB_val key = { lolen, (void *) lo }, val;
    rc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0) {
        size_t n = key.mv_size < hilen ? key.mv_size : hilen;
        int c = memcmp (key.mv_data, hi, n);
        if (c > 0 || (c == 0 && key.mv_size >= hilen))
            break;
        if ((rc = mdb_cursor_del (cur, 0)))
            break;
        rc = mdb_cursor_get (cur, &key, &val, MDB_GET_CURRENT);
        if (rc == MDB_NOTFOUND || rc == EINVAL)
            rc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/*  Delete key if its stored value still holds the given bytes at the
    given offset: decided inside the write transaction, so a put of the
    same key committed after the caller's snapshot is never deleted. */
static int
s_apply_del_if (MDB_txn *txn, MDB_dbi dbi, MDB_val *key, const uint8_t *v, size_t vlen)
{
    size_t off = st_get_u32 (v), n = vlen - 4;
    MDB_val cur;
    int rc = mdb_get (txn, dbi, key, &cur);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (cur.mv_size < off || cur.mv_size - off < n
        || memcmp ((const uint8_t *) cur.mv_data + off, v + 4, n))
        return 0;
    return mdb_del (txn, dbi, key, NULL);
}

/*  Keep the larger of the stored and the new value: records of one key
    may commit in another order than their values were handed out. */
static int
s_apply_put_max (MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *val)
{
    MDB_val cur;
    int rc = mdb_get (txn, dbi, key, &cur);
    if (rc == 0 && cur.mv_size == 8
        && st_get_u64 (cur.mv_data) >= st_get_u64 (val->mv_data))
        return 0;
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    return mdb_put (txn, dbi, key, val, 0);
}

int
st_ops_apply (MDB_txn *txn, MDB_dbi dbi, const uint8_t *buf, size_t len)
{
    const uint8_t *p = buf, *end = buf + len;
    while (p < end) {
        if ((size_t) (end - p) < ST_OP_HEADER)
            return RT_EMALFORMED;
        int op = p[0];
        size_t klen = st_get_u16 (p + 1), vlen = st_get_u32 (p + 3);
        /*  Every key starts with its 2-byte shard (a range bound may be
            just that); a fired reminder's key holds its 8-byte due time. */
        if ((size_t) (end - p) - ST_OP_HEADER < klen + vlen || klen < 2
            || op < ST_OP_PUT || op > ST_OP_DEL_IF
            || (op == ST_OP_PUT_MAX && vlen != 8)
            || (op == ST_OP_DEL_IF && vlen < 4)
            || klen > ST_KEY_MAX + 8
            || ((op == ST_OP_REMIND_SET || op == ST_OP_REMIND_CANCEL)
                && (klen < 3 || klen + 9 > ST_KEY_MAX))
            || (op == ST_OP_REMIND_SET && vlen < 8)
            || (op == ST_OP_REMIND_FIRED && klen < 12))
            return RT_EMALFORMED;
        const uint8_t *k = p + ST_OP_HEADER, *v = k + klen;
        p = v + vlen;
        MDB_val key = { klen, (void *) k }, val = { vlen, (void *) v };
        int rc = 0;
        switch (op) {
            case ST_OP_PUT:       rc = mdb_put (txn, dbi, &key, &val, 0); break;
            case ST_OP_DEL:       rc = s_del_if (txn, dbi, k, klen); break;
            case ST_OP_DEL_RANGE: rc = s_apply_del_range (txn, dbi, k, klen, v, vlen); break;
            case ST_OP_PUT_MAX:   rc = s_apply_put_max (txn, dbi, &key, &val); break;
            case ST_OP_DEL_IF:    rc = s_apply_del_if (txn, dbi, &key, v, vlen); break;
            default:              rc = s_apply_remind (txn, dbi, op, k, klen, v, vlen); break;
        }
        if (rc)
            return rc;
    }
    return 0;
}
