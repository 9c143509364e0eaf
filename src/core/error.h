/* core/error.h - errors are values (a status and a one-line message),
 * checked allocation, and the tables of names behind bp_*_name / bp_*_parse.
 * Not part of the public API. */
#ifndef BP_CORE_ERROR_H
#define BP_CORE_ERROR_H

#include "core/base.h"
#include <stdarg.h>

/* Fill `err` (may be NULL) with status s and a printf-style message; return s.
 * Messages are one line: the user's file, the place, the problem. */
bp_status bp_err(bp_error *err, bp_status s, const char *fmt, ...) BP_PRINTF(3, 4);

/* malloc/calloc that fill `err` with BP_E_NOMEM on failure (return NULL).
 * A request of 0 bytes allocates 1, so success is never NULL. */
void *bp_malloc(size_t n, bp_error *err);
void *bp_calloc(size_t count, size_t size, bp_error *err);
/* A NUL-terminated copy of the n bytes at s (caller frees), or NULL. */
char *bp_strndup(const char *s, size_t n);
/* The k strings s[0..k-1] copied into one block: k pointers, then the text
 * they point to (free the block with free()); NULL and BP_E_NOMEM on failure. */
char **bp_strings_copy(const char *const *s, int k, bp_error *err);

/* "s" unless n is 1: "%d row%s", n, bp_s(n). */
static inline const char *bp_s(long n) { return n == 1 ? "" : "s"; }

/* Names of enum values: BP_NAME_OF(table, v) is table[v] or "?";
 * BP_NAME_PARSER(fn, type, table) defines int fn(const char *, type *)
 * returning 0 and the index of the name, or -1 if it is not in the table. */
int bp_name_index(const char *const *table, int n, const char *s);
#define BP_NAME_OF(tab, v) ((unsigned)(v) < sizeof tab / sizeof *tab ? tab[v] : "?")
#define BP_NAME_PARSER(fn, type, tab)                                          \
    int fn(const char *s, type *out)                                           \
    {                                                                          \
        int v = bp_name_index(tab, (int)(sizeof tab / sizeof *tab), s);       \
        if (v < 0) return -1;                                                  \
        *out = (type)v;                                                        \
        return 0;                                                              \
    }

#endif
