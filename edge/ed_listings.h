/*  ed_listings.h - the listing routes (ed_listings.c) */
#ifndef ED_LISTINGS_H_INCLUDED
#define ED_LISTINGS_H_INCLUDED
#include "ed_req.h"
#include "ed_schemas.h"

void ed_listings_create (ed_req_t *req);
void ed_listings_get (ed_req_t *req);
void ed_listings_patch (ed_req_t *req);
void ed_listings_delete (ed_req_t *req);
void ed_listings_renew (ed_req_t *req);

#endif
