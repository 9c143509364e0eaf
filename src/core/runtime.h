/* core/runtime.h - process-wide settings and the clock: the threads of the
 * matrix products (bp_set_threads in backprop.h), monotonic time. Not part of
 * the public API. */
#ifndef BP_CORE_RUNTIME_H
#define BP_CORE_RUNTIME_H

#include "core/base.h"

/* The threads of the matrix products (bp_set_threads; OpenBLAS's pool). */
int bp_threads(void);

/* Monotonic wall-clock time in seconds. */
double bp_now(void);

#endif
