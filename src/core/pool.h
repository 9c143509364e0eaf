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

enum { BP_POOL_MAX = 64 };

typedef void (*bp_pool_fn)(void *arg, int t, int nt);

/* Run the nt parts (1 <= nt <= BP_POOL_MAX; larger is clamped). */
void bp_pool_run(int nt, bp_pool_fn fn, void *arg);

#endif
