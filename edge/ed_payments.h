/*  ed_payments.h - top-ups, payments and partner callbacks (ed_payments.c) */
#ifndef ED_PAYMENTS_H_INCLUDED
#define ED_PAYMENTS_H_INCLUDED
#include "ed_req.h"
#include "ed_schemas.h"
#include "actors/ac_codec.h"

void ed_payments_topup (ed_req_t *req);
void ed_payments_get (ed_req_t *req);
void ed_payments_midtrans (ed_req_t *req);
void ed_payments_xendit (ed_req_t *req);

/*  The PAYMENT_CREATE body of a new payment of the caller (orders pay
    through partners too). order NULL for a top-up. */
void ed_payments_enc_create (ac_enc_t *e, ed_req_t *req, const char *id, const char *kind,
                             const char *order, int64_t amount, const char *partner,
                             const char *method);

#endif
