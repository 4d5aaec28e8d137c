/*  ed_wallet.h - the wallet and ledger routes (ed_wallet.c) */
#ifndef ED_WALLET_H_INCLUDED
#define ED_WALLET_H_INCLUDED
#include "ed_req.h"
#include "ed_schemas.h"

void ed_wallet_get (ed_req_t *req);
void ed_wallet_entries (ed_req_t *req);
void ed_wallet_transfer (ed_req_t *req);
void ed_wallet_admin_credit (ed_req_t *req);
void ed_wallet_summary (ed_req_t *req);

#endif
