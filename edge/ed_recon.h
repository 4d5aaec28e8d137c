/*  ed_recon.h - reconciliation of settlement reports (ed_recon.c) */
#ifndef ED_RECON_H_INCLUDED
#define ED_RECON_H_INCLUDED
#include "ed_req.h"

void ed_recon_create (ed_req_t *req);
void ed_recon_get (ed_req_t *req);

/*  The node is stopping: running jobs give up at their next row (their
    reconciliation shows failed once stale); returns when none runs (at
    most one ask deadline later). */
void ed_recon_stop (void);

#endif
