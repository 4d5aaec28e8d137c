/*  =========================================================================
    ac_search.h - the listing index and the search service over it

    Index entries (rt_type_def_t.index of the listing type; the runtime
    adds the shard prefix and keeps them in step with the state). ID is
    the 26 characters after "lst_": time-ordered, so ID order is "newest"
    order; PRICE is 8 bytes big-endian.

        'm' ID                      -> summary (ac_summary_t, packed)
        's' SELLER 'n' ID | 'p' PRICE ID      every listing not deleted
        'a'        'n' ID | 'p' PRICE ID      active ones
        'c' CAT    'n' ID | 'p' PRICE ID      active, by category
        'w' LEN W  'n' ID | 'p' PRICE ID      active, by word of title or
                                              description (ac_words.h)

    A search (AC_SVC_SEARCH, one question to every node) drives one of
    these ranges (seller, else the longest word, else category, else all),
    in order from the position after the cursor, and checks the rest of
    its filters on the summary, the other words on their entries, and the
    words once more on the text itself.
    =========================================================================
*/
#ifndef AC_SEARCH_H_INCLUDED
#define AC_SEARCH_H_INCLUDED
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "runtime/rt_runtime.h"

#define AC_SVC_SEARCH 1

/*  A position in an order: ID (newest) or PRICE ID (price orders). */
#define AC_ID_LEN 26
#define AC_POS_MAX (8 + AC_ID_LEN)

/*  Entries one shard may examine for one page before it stops and says
    how far it got (the page is then cut there and the cursor resumes from
    it): bounds a page's work whatever the filters. */
#define AC_SEARCH_SHARD_BUDGET 2000

/*  Words of q that are used (more are refused by the edge). */
#define AC_SEARCH_WORDS_MAX 8

typedef struct {
    uint8_t status;             /* 1 active, 2 sold, 3 expired, 4 reserved */
    uint8_t category;           /* 1.. in API.md's order */
    uint8_t condition;          /* 1 new, 2 used */
    int64_t price;
    int64_t updated_ms;
    char    seller[AC_ID_LEN + 1];
    char    city[801], province[801];       /* lower-cased (1.5 times the bytes at most) */
} ac_summary_t;

/*  Codes of the enumerations; 0 for an unknown value. */
uint8_t ac_category_code (const char *category);
uint8_t ac_status_code (const char *status);
uint8_t ac_condition_code (const char *condition);

/*  Packed summary: [status][category][condition][price:8][updated:8]
    [seller:26][city len:2][city][province len:2][province]. */
size_t ac_summary_pack (const ac_summary_t *s, uint8_t *out, size_t max);
bool ac_summary_unpack (const uint8_t *in, size_t len, ac_summary_t *s);

/*  Register the search service with the runtime (before rt_start). */
int ac_search_register (rt_runtime_t *rt);

#endif
