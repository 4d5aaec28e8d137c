/*  ed_users.h - handlers of API.md §Users and sessions */
#ifndef ED_USERS_H_INCLUDED
#define ED_USERS_H_INCLUDED
#include "ed_req.h"
#include "ed_schemas.h"

ed_handler_fn ed_users_create;      /* POST /v1/users */
ed_handler_fn ed_users_me;          /* GET /v1/me */
ed_handler_fn ed_users_patch_me;    /* PATCH /v1/me */
ed_handler_fn ed_users_public;      /* GET /v1/users/{id} */

#endif
