/* core/pool.h - a fork-join pool of worker threads for the own matrix product
 * (sgemm.c), the fused step's elementwise passes (nn/fused_kernels.h) and
 * the optimizer's flat loops (nn/optim.c) when a training step runs on
 * several threads (bp_set_threads).
 *
 * bp_pool_run(nt, fn, arg) calls fn(arg, t, nt) for t = 0..nt-1: part 0 on
 * the calling thread, the others on persistent workers, and returns when all
 * parts are done. The workers are started at the first run that needs them
 * and live until the process ends; between runs they spin for a few
 * microseconds, then sleep on a condition variable. One run at a time: a
 * caller that finds the pool busy (another thread of the program is running
 * a product through it), or cannot start a worker, runs every part itself,
 * in order: the parts must not depend on running at the same time.
 * Not part of the public API. */
#ifndef BP_CORE_POOL_H
#define BP_CORE_POOL_H

#include <stddef.h>

enum { BP_POOL_MAX = 64 };

typedef void (*bp_pool_fn)(void *arg, int t, int nt);

/* Run the nt parts (1 <= nt <= BP_POOL_MAX; larger is clamped). */
void bp_pool_run(int nt, bp_pool_fn fn, void *arg);

/* The parts for `work` (values, multiply-adds) on at most nt threads: nt, or
 * fewer so that each part gets at least `least` of it (waking a worker
 * costs more than less work saves); between 1 and BP_POOL_MAX. */
int bp_pool_threads(int nt, double work, double least);

/* Part t of nt of [0, total), cut in whole `unit`s (the last may be short):
 * [*lo, *hi), empty when there are fewer units than parts. */
void bp_pool_part(size_t total, size_t unit, int t, int nt, size_t *lo, size_t *hi);

#endif
