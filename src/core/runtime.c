/* core/runtime.c - the matrix products' thread count (OpenBLAS's pool) and
 * the monotonic clock. */
#define _POSIX_C_SOURCE 200809L
#include "core/runtime.h"

#include <cblas.h>
#include <time.h>

void bp_set_threads(int n) { openblas_set_num_threads(n > 0 ? n : 1); }
int bp_threads(void) { return openblas_get_num_threads(); }

double bp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
