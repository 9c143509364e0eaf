/* alloc_count.h - counting libbackprop's heap allocations in a bench
 * program (bp_mlp.c, bp_tiny.c). The program is linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free against the
 * static libbackprop.a, so every such call from the library's objects goes
 * through the __wrap_ functions below; while `counting` is set they count
 * allocations (malloc, calloc, realloc) in n_alloc and frees of non-NULL
 * pointers in n_free. Calls made inside shared libraries (OpenBLAS) are not
 * seen. Include it in one source file only. */
#ifndef BENCH_ALLOC_COUNT_H
#define BENCH_ALLOC_COUNT_H
#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t s);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);

static volatile int counting;
static long n_alloc, n_free;

void *__wrap_malloc(size_t n) { if (counting) n_alloc++; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t s) { if (counting) n_alloc++; return __real_calloc(n, s); }
void *__wrap_realloc(void *p, size_t n) { if (counting) n_alloc++; return __real_realloc(p, n); }
void __wrap_free(void *p) { if (counting && p) n_free++; __real_free(p); }
#endif
