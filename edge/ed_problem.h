/*  =========================================================================
    ed_problem.h - RFC 9457 problem types (API.md §Errors)

    One enum, one table: status, type path, title. The edge answers every
    error with application/problem+json {"type","title","status","detail",
    "instance"} (+ "errors" for validation), and serves a short page at
    each type path.
    =========================================================================
*/
#ifndef ED_PROBLEM_H_INCLUDED
#define ED_PROBLEM_H_INCLUDED

typedef enum {
    ED_P_MALFORMED,             /* 400 */
    ED_P_IDEM_KEY_MISSING,      /* 400 */
    ED_P_UNAUTHORIZED,          /* 401 */
    ED_P_FORBIDDEN,             /* 403 */
    ED_P_NOT_FOUND,             /* 404 */
    ED_P_METHOD_NOT_ALLOWED,    /* 405 */
    ED_P_CONFLICT,              /* 409 */
    ED_P_IDEM_IN_FLIGHT,        /* 409 */
    ED_P_VERSION_MISMATCH,      /* 412 */
    ED_P_PAYLOAD_TOO_LARGE,     /* 413 */
    ED_P_UNSUPPORTED_MEDIA,     /* 415 */
    ED_P_VALIDATION,            /* 422 */
    ED_P_IDEM_KEY_REUSED,       /* 422 */
    ED_P_INSUFFICIENT_FUNDS,    /* 422 */
    ED_P_RATE_LIMITED,          /* 429 */
    ED_P_UNAVAILABLE,           /* 503 */
    ED_P_INTERNAL,              /* 500: a bug; never by design */
    ED_P_COUNT
} ed_problem_t;

typedef struct {
    int         status;
    const char *slug;           /* type is "/problems/<slug>" */
    const char *title;
    const char *page;           /* one paragraph for the HTML page */
} ed_problem_def_t;

const ed_problem_def_t *ed_problem_def (ed_problem_t p);

/*  The problem whose slug is slug, or ED_P_COUNT. */
ed_problem_t ed_problem_by_slug (const char *slug);

#endif
