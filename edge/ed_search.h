/*  ed_search.h - GET /v1/listings across the cluster (ed_search.c) */
#ifndef ED_SEARCH_H_INCLUDED
#define ED_SEARCH_H_INCLUDED
#include "ed_req.h"

void ed_search_listings (ed_req_t *req);

#endif
