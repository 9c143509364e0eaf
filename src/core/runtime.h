/* core/runtime.h - process-wide settings and the clock: the threads of the
 * matrix products (bp_set_threads in backprop.h), monotonic time. Not part of
 * the public API. */
#ifndef BP_CORE_RUNTIME_H
#define BP_CORE_RUNTIME_H

#include "core/base.h"

/* The threads of the matrix products (bp_set_threads; OpenBLAS's pool).
 * bp_set_threads(n) starts at most as many as the process's memory limit
 * (ulimit -v, -d) leaves room for; bp_threads says how many there are. */
int bp_threads(void);

/* May the matrix products call OpenBLAS? Not when the memory limit leaves no
 * room for its work buffers (OpenBLAS would retry mapping them forever);
 * decided on the first call after each bp_set_threads. The products then
 * take the reference kernels: slower, the same mathematics. */
int bp_blas_ok(void);

/* Monotonic wall-clock time in seconds. */
double bp_now(void);

#endif
