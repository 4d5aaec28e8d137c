/*  ed_acct.h - account helpers shared by registration and login */
#ifndef ED_ACCT_H_INCLUDED
#define ED_ACCT_H_INCLUDED
#include <stdbool.h>
#include <sodium.h>
#include "ed_req.h"
#include "actors/ac_codec.h"

/*  Trim and lower-case (ASCII); false when it is not name@domain.tld. */
bool ed_acct_normalize_email (const char *in, char *out, size_t size);

/*  The email actor's key for a normalised address (hash: addresses reach
    254 bytes, actor keys stop at 64). */
void ed_acct_email_key (const char *email, char key[56]);

/*  argon2id, at most ED_HASHES_MAX at once per node; false when no slot
    came free within ED_HASH_WAIT_MS (answer 503). */
bool ed_acct_hash (const char *pw, char out[crypto_pwhash_STRBYTES]);
/*  1 match, 0 no match, -1 no slot (503). hash NULL: spend the same time
    and answer 0, so an unknown email is not faster than a wrong password. */
int ed_acct_verify (const char *hash, const char *pw);

/*  Ask an actor with the request's deadline and trace; with idem, the
    request's Idempotency-Key and fingerprint under scope. */
int ed_acct_ask (ed_req_t *req, uint16_t type, const char *key, uint16_t msg,
                 const void *body, size_t len, const char *idem_scope, rt_reply_t *rep);

/*  Whether id is a user others may see (exists, not banned): 1 or 0, or
    an rt_err_t (< 0) when its node cannot say. One index get where the
    user's shard is served here; else a USER_PUBLIC query. */
int ed_acct_user_visible (ed_req_t *req, const char *id);

/*  Ask the anchor of a create's Idempotency-Key (an actor that records
    the key and sends the create on durably), under scope, and read the
    created entity's id from its answer's field into first (the first
    attempt's id, on a retry). Returns an rt_err_t (< 0), or the actor's
    status: 200 with first set, anything else with first empty. */
int ed_acct_anchor (ed_req_t *req, uint16_t type, const char *key, uint16_t msg,
                    const void *body, size_t len, const char *scope, const char *field,
                    char first[32], bool *replayed);

/*  Answer an anchor's failure (ed_acct_anchor returned status != 200):
    its rt error, 422 for a refused body, 500 for anything else. */
void ed_acct_anchor_failed (ed_req_t *req, int status);

/*  Start a body {caller, role, + extra pairs the caller writes next}: the
    verified caller, for actors that decide who may act. */
void ed_acct_enc_caller (ac_enc_t *e, ed_req_t *req, size_t extra);

/*  A query (the type's `reads`) answered from the actor's committed state
    on this thread (rt_read): no idempotency, same deadline and trace. */
int ed_acct_read (ed_req_t *req, uint16_t type, const char *key, uint16_t msg,
                  const void *body, size_t len, rt_reply_t *rep);

/*  The user's status from its index entry (ac_types.h): of the user, or
    with sid of that session. True when the entry says so; false when the
    state must be read instead (no entry: the session ended, the user does
    not exist, or the entry predates the index; the shard is read
    elsewhere). One LMDB get, no state decoded: for the checks made on
    every request. */
bool ed_acct_user_status (ed_req_t *req, const char *user, const char *sid, char status[16]);

#endif
