/*  ac_words.c - the words of a text, as search sees them */
#include <string.h>
#include <utf8proc.h>
#include "ac_words.h"

static bool
s_wordy (utf8proc_int32_t c)
{
    switch (utf8proc_category (c)) {
        case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
        case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
            return true;
        default:
            return false;
    }
}

void
ac_words (const char *text, ac_word_fn *fn, void *arg)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *) text;
    char word[AC_WORD_MAX + 4];
    size_t n = 0;
    while (1) {
        utf8proc_int32_t c = -1;
        utf8proc_ssize_t k = *p ? utf8proc_iterate (p, -1, &c) : 0;
        bool in = k > 0 && s_wordy (c);
        if (in) {
            utf8proc_uint8_t enc[4];
            utf8proc_ssize_t m = utf8proc_encode_char (utf8proc_tolower (c), enc);
            if (n + (size_t) m <= AC_WORD_MAX) {
                memcpy (word + n, enc, (size_t) m);
                n += (size_t) m;
            }
        }
        else if (n) {
            fn (word, n, arg);
            n = 0;
        }
        if (!*p)
            break;
        p += k > 0 ? k : 1;
    }
}

size_t
ac_lower (const char *s, char *out)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *) s;
    size_t n = 0;
    while (*p) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate (p, -1, &c);
        if (k <= 0) {
            out[n++] = (char) *p++;
            continue;
        }
        n += (size_t) utf8proc_encode_char (utf8proc_tolower (c), (utf8proc_uint8_t *) out + n);
        p += k;
    }
    out[n] = 0;
    return n;
}

size_t
ac_word_index_len (const char *word, size_t len)
{
    if (len <= AC_WORD_INDEX_MAX)
        return len;
    size_t n = AC_WORD_INDEX_MAX;
    while (n > 0 && ((unsigned char) word[n] & 0xC0) == 0x80)
        n--;                    /* back to the start of a code point */
    return n;
}
