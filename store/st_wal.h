/*  =========================================================================
    st_wal.h - the write-ahead log: where a commit batch becomes durable

    Why: LMDB's copy-on-write B-tree makes a synced commit cost one random
    page write per leaf it touches (and the branches above), ~17 µs each on
    this kind of disk; a batch of turns in random shards touches hundreds.
    The log turns that into one sequential append and one fdatasync per
    batch; LMDB is then written without syncing, and the log before each
    base copy (st_base.h) is deleted.

    The log is a directory of segments named by the number of their first
    frame (<16 hex digits>.wal). A frame is one commit batch:

        [magic:4 "PWAL"][len:4][lsn:8][crc32c:4][payload: len bytes]

    all big-endian, the CRC over len, lsn and payload. Frames are numbered
    without gaps (lsn 1, 2, ...). A crash can leave a torn last frame:
    reading stops at the first frame that is short, has a bad magic or CRC,
    or a number out of sequence; nothing after it was ever acknowledged
    (each frame is synced before its batch is answered). Appends after an
    open always go to a new segment, never after such a tail.

    Segments are prepared ahead: a thread of the log's own zero-fills the
    next one (the spare, "next.spare") to RT_WAL_SEGMENT_BYTES and syncs
    it, and frames move to it, renamed after the frame they start with,
    when they would run past the zeros of the current one. Overwriting
    blocks a file already has needs no journal commit for its size, so
    each frame's fdatasync costs less (rt_limits.h). The zeros after the
    last frame end a replay like a torn tail. When no spare is ready, the
    frame goes on growing the current segment, as before spares.
    =========================================================================
*/
#ifndef ST_WAL_H_INCLUDED
#define ST_WAL_H_INCLUDED

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <sys/uio.h>

typedef struct st_wal st_wal_t;

/*  Open (creating if absent) the log directory and list its segments.
    Returns 0 and *out, or RT_ESTORE / RT_ENOMEM with a reason in err. */
int st_wal_open (const char *dir, st_wal_t **out, char *err, size_t errlen);

/*  Close; no-op on NULL; sets *p to NULL. */
void st_wal_destroy (st_wal_t **p);

/*  Called for each frame in order; non-zero stops the replay with that
    return value. The payload is valid only during the call. */
typedef int (st_wal_fn) (void *arg, uint64_t lsn, const uint8_t *payload, size_t len);

/*  Read every frame numbered after `after`, in order, up to the end of the
    log or its torn tail. Returns 0 and *last (the last frame's number, or
    `after` when there is none), fn's non-zero return, or RT_ECORRUPT when
    a frame is missing while later segments exist (a deleted or damaged
    segment), with a reason in err. */
int st_wal_replay (st_wal_t *self, uint64_t after, st_wal_fn *fn, void *arg,
                   uint64_t *last, char *err, size_t errlen);

/*  Start appending: the next frame is number next_lsn, in a new segment
    (synced into the directory), and the spare thread. Call once, after
    replay: existing segments are fdatasynced first (a killed process may
    have left frames unsynced that replay applied). RT_ECORRUPT for a
    segment above next_lsn. */
int st_wal_start (st_wal_t *self, uint64_t next_lsn);

/*  Append one frame made of the iov parts; *lsn gets its number. It is
    durable after st_wal_sync. RT_ESTORE on a write error (the log is then
    unusable: the caller fails stop). */
int st_wal_append (st_wal_t *self, const struct iovec *iov, int iovcnt, uint64_t *lsn);
int st_wal_sync (st_wal_t *self);

/*  Refuse every later append (a logged frame could not be committed). */
void st_wal_fail (st_wal_t *self);

/*  True while the next segment cannot be prepared for want of space.
    A prepared segment asks for the next at half its zeros, so the other
    half carries the writes already under way. Any thread. */
bool st_wal_space_low (st_wal_t *self);

/*  Number of the last appended frame (0 before the first). */
uint64_t st_wal_last (st_wal_t *self);

/*  Later frames go to a new segment (before a base copy). Not concurrent
    with st_wal_append. */
int st_wal_rotate (st_wal_t *self);

/*  Delete the segments whose every frame is numbered <= upto; the one
    being appended to is always kept. Safe beside st_wal_append. */
void st_wal_trim (st_wal_t *self, uint64_t upto);

/*  Segments on disk (for tests and metrics). */
size_t st_wal_segments (st_wal_t *self);

/*  Spares' size and when an unprepared segment asks for one (defaults
    RT_WAL_SEGMENT_BYTES and RT_WAL_SPARE_AFTER_BYTES); before
    st_wal_start. Tests use small ones. */
void st_wal_sizes (st_wal_t *self, uint64_t segment_bytes, uint64_t spare_after);

/*  Spares put into use, and frames written past the zeros (their sync
    also committed the file's growth), since open. From any thread. */
void st_wal_stats (st_wal_t *self, uint64_t *spares_used, uint64_t *frames_unprepared);

#endif
