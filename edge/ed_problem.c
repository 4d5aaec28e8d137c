/*  ed_problem.c - the problem types of API.md §Errors */
#include <string.h>
#include "ed_problem.h"

static const ed_problem_def_t s_defs[ED_P_COUNT] = {
    [ED_P_MALFORMED] = { 400, "malformed-request", "Malformed request",
        "The request could not be parsed: invalid JSON, invalid UTF-8, nesting too deep, or a bad query or header." },
    [ED_P_IDEM_KEY_MISSING] = { 400, "idempotency-key-missing", "Idempotency-Key required",
        "This route moves money and requires an Idempotency-Key header (1 to 255 printable ASCII characters)." },
    [ED_P_UNAUTHORIZED] = { 401, "unauthorized", "Unauthorized",
        "The access token is missing, invalid, expired or revoked, or the credentials are wrong." },
    [ED_P_FORBIDDEN] = { 403, "forbidden", "Forbidden",
        "You are authenticated but not allowed to do this: not the owner, not an admin, or the account is restricted." },
    [ED_P_NOT_FOUND] = { 404, "not-found", "Not found",
        "There is no such resource, or it is not visible to you." },
    [ED_P_METHOD_NOT_ALLOWED] = { 405, "method-not-allowed", "Method not allowed",
        "The resource exists but does not support this method; the Allow header lists the ones it does." },
    [ED_P_CONFLICT] = { 409, "conflict", "Conflict",
        "A unique value is taken, or the resource is in a state that does not allow this change." },
    [ED_P_IDEM_IN_FLIGHT] = { 409, "idempotency-in-flight", "Request in flight",
        "A request with this Idempotency-Key is still being processed. Retry later for its result." },
    [ED_P_VERSION_MISMATCH] = { 412, "version-mismatch", "Version mismatch",
        "The If-Match version does not match the resource's current version." },
    [ED_P_PAYLOAD_TOO_LARGE] = { 413, "payload-too-large", "Payload too large",
        "The body is larger than this route accepts (64 KiB unless stated otherwise)." },
    [ED_P_UNSUPPORTED_MEDIA] = { 415, "unsupported-media-type", "Unsupported media type",
        "The body must be application/json (UTF-8) on this route." },
    [ED_P_VALIDATION] = { 422, "validation-failed", "Validation failed",
        "The request is well-formed but some fields are invalid or unknown; see errors for the field paths." },
    [ED_P_IDEM_KEY_REUSED] = { 422, "idempotency-key-reused", "Idempotency-Key reused",
        "This Idempotency-Key was already used for a different request." },
    [ED_P_INSUFFICIENT_FUNDS] = { 422, "insufficient-funds", "Insufficient funds",
        "The available balance does not cover this amount; nothing moved." },
    [ED_P_RATE_LIMITED] = { 429, "rate-limited", "Too many requests",
        "Too many requests; retry after the number of seconds in Retry-After." },
    [ED_P_UNAVAILABLE] = { 503, "unavailable", "Service unavailable",
        "The owner of this data is down, moving, or overloaded; retry after the number of seconds in Retry-After." },
    [ED_P_INTERNAL] = { 500, "internal", "Internal error",
        "Something failed on our side; nothing is known to have changed. Retry with the same Idempotency-Key." },
};

const ed_problem_def_t *
ed_problem_def (ed_problem_t p)
{
    return p < ED_P_COUNT ? &s_defs[p] : &s_defs[ED_P_INTERNAL];
}

ed_problem_t
ed_problem_by_slug (const char *slug)
{
    for (int i = 0; i < ED_P_COUNT; i++)
        if (!strcmp (s_defs[i].slug, slug))
            return (ed_problem_t) i;
    return ED_P_COUNT;
}
