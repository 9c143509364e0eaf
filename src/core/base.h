/* core/base.h - the first include of every library file: the public API
 * (backprop.h) and the compiler macros of the hot paths. Not part of the
 * public API.
 *
 * The library is built in layers, bottom to top: core, autodiff, data, nn,
 * io, teach (docs/architecture.md). A file includes and calls only files of
 * its own layer or a lower one; tests/layers.sh checks both. */
#ifndef BP_CORE_BASE_H
#define BP_CORE_BASE_H

#include "backprop.h"
#include <stddef.h>
#include <stdint.h>

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

#endif
