/* util.h - small internal helpers shared by every module: error filling,
 * checked allocation, atomic file writes. Not part of the public API. */
#ifndef BP_UTIL_H
#define BP_UTIL_H

#include "backprop.h"
#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__)
#define BP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define BP_PRINTF(a, b)
#endif

/* BP_HOT marks a loop-heavy function (the optimizer update, the fused
 * training step's elementwise passes) that is compiled three times, for
 * x86-64-v4 (AVX-512), x86-64-v3 (AVX2) and baseline x86-64, with the best
 * version for the CPU picked when the library is loaded (GCC/clang
 * target_clones, an ifunc). The versions give the same bits: the build is ISO
 * C (-std=c11), so -ffp-contract=off and no version fuses a*b+c into an FMA.
 * BP_INLINE forces a helper into its BP_HOT caller, so that it is vectorised
 * for the caller's target. */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__) && !defined(BP_NO_CLONES)
#define BP_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define BP_HOT
#endif
/* BP_SCALAR: a function whose loops run a handful of times (the tiny
 * network's step): vectorising them, or turning them into memset/memcpy
 * calls, only adds set-up code (GCC). */
#if defined(__GNUC__) && !defined(__clang__)
#define BP_SCALAR __attribute__((optimize("no-tree-vectorize", "no-tree-loop-distribute-patterns")))
#else
#define BP_SCALAR
#endif
#if defined(__GNUC__)
#define BP_INLINE static inline __attribute__((always_inline))
#else
#define BP_INLINE static inline
#endif

/* Fill `err` (may be NULL) with status s and a printf-style message; return s.
 * Messages are one line: the user's file, the place, the problem. */
bp_status bp_err(bp_error *err, bp_status s, const char *fmt, ...) BP_PRINTF(3, 4);

/* malloc/calloc that fill `err` with BP_E_NOMEM on failure (return NULL). */
void *bp_malloc(size_t n, bp_error *err);
void *bp_calloc(size_t count, size_t size, bp_error *err);

/* Read a whole file into a new NUL-terminated buffer (caller frees). */
bp_status bp_read_file(const char *path, char **out, size_t *len, bp_error *err);

/* Atomic write: open a temporary file next to `path` for writing; after the
 * caller has written everything, bp_atomic_commit fsyncs it and renames it over
 * `path` (so a crash never leaves a half-written file); bp_atomic_abort removes
 * it. */
typedef struct bp_atomic_file {
    FILE *fp;
    char *tmp_path;
    char *path;
} bp_atomic_file;
bp_status bp_atomic_open(bp_atomic_file *af, const char *path, bp_error *err);
bp_status bp_atomic_commit(bp_atomic_file *af, bp_error *err);
void bp_atomic_abort(bp_atomic_file *af);

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

/* The class predicted by row i of the outputs a: the first largest output,
 * or for a single output unit, 1 iff it is >= 0.5. */
int bp_predicted_class(const bp_mat *a, int i);

/* Monotonic wall-clock time in seconds. */
double bp_now(void);

/* Size in bytes of one element of a dtype. */
static inline size_t bp_dtype_size(bp_dtype t) { return t == BP_F64 ? 8 : 4; }

/* splitmix64-seeded xoshiro256** generator: deterministic, no global state. */
typedef struct bp_rng { uint64_t s[4]; } bp_rng;
void bp_rng_seed(bp_rng *r, uint64_t seed);
uint64_t bp_rng_next(bp_rng *r);
double bp_rng_uniform(bp_rng *r);   /* [0, 1) with 53 random bits */
double bp_rng_normal(bp_rng *r);    /* N(0, 1), Box-Muller */

#endif
