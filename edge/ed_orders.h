/*  ed_orders.h - the order routes (ed_orders.c) */
#ifndef ED_ORDERS_H_INCLUDED
#define ED_ORDERS_H_INCLUDED
#include "ed_req.h"
#include "ed_schemas.h"

void ed_orders_create (ed_req_t *req);
void ed_orders_get (ed_req_t *req);
void ed_orders_list (ed_req_t *req);
void ed_orders_ship (ed_req_t *req);
void ed_orders_confirm (ed_req_t *req);
void ed_orders_cod_collected (ed_req_t *req);
void ed_orders_cancel (ed_req_t *req);
void ed_orders_refund (ed_req_t *req);

#endif
