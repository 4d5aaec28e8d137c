/*  ac_words.h - the words of a text, as search sees them (ac_words.c) */
#ifndef AC_WORDS_H_INCLUDED
#define AC_WORDS_H_INCLUDED
#include <stdbool.h>
#include <stddef.h>

/*  An index key holds a word's first AC_WORD_INDEX_MAX bytes (cut at a
    code point): longer words share a key and are told apart by checking
    the listing's text itself. */
#define AC_WORD_INDEX_MAX 32
/*  A word, lower-cased, longest kept whole (a longer run of letters is
    cut: nobody searches for it). */
#define AC_WORD_MAX 128

/*  fn for each word of text in order (duplicates included): a maximal run
    of Unicode letters, marks and digits, lower-cased code point by code
    point (utf8proc: "Jalan" and "JALAN" are one word, and so are
    "Ñandú" and "ñandú"). Bytes that are not valid UTF-8 separate words. */
typedef void (ac_word_fn) (const char *word, size_t len, void *arg);
void ac_words (const char *text, ac_word_fn *fn, void *arg);

/*  s lower-cased the same way (for exact, case-blind matches of a city);
    out holds at least 4 * strlen (s) + 1 bytes. Returns the length. */
size_t ac_lower (const char *s, char *out);

/*  The index key length of a word: at most AC_WORD_INDEX_MAX bytes, cut
    at a code point boundary. */
size_t ac_word_index_len (const char *word, size_t len);

#endif
