/*  ed_sessions.h - login (API.md §Users and sessions) */
#ifndef ED_SESSIONS_H_INCLUDED
#define ED_SESSIONS_H_INCLUDED
#include "ed_req.h"

extern const ed_field_t ed_sessions_create_schema[];
ed_handler_fn ed_sessions_create;   /* POST /v1/sessions */

#endif
