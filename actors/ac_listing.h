/*  =========================================================================
    ac_listing.h - the listing actor's state, its limits and its rendering

    Limits are in bytes of UTF-8: the edge's schema counts code points
    (API.md: title 3..120, description ..5000, 20 images), and a code point
    is at most 4 bytes.
    =========================================================================
*/
#ifndef AC_LISTING_H_INCLUDED
#define AC_LISTING_H_INCLUDED
#include "ac_codec.h"

#define AC_LISTING_TITLE_MAX        (120 * 4)
#define AC_LISTING_DESCRIPTION_MAX  (5000 * 4)
/*  city, province: API.md gives no length; 100 code points, like a user's city. */
#define AC_LISTING_PLACE_MAX        (100 * 4)
#define AC_LISTING_IMAGES_MAX       20
/*  An image URL: 2048 code points (the common browser limit). */
#define AC_LISTING_URL_MAX          (2048 * 4)

typedef struct listing listing_t;

/*  Its text (never NULL). */
const char *ac_listing_title (const listing_t *l);
const char *ac_listing_description (const listing_t *l);

/*  The listing as API.md shows it: a 14-pair map with price, location
    and images nested. */
void ac_listing_render (ac_enc_t *e, const listing_t *l);

#endif
