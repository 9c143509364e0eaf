/* core/sgemm.h - backprop's own single-precision matrix product, used by the
 * fused training step (fused_kernels.h) for its large f32 products on CPUs
 * with AVX-512 or AVX2 + FMA, on one thread or several (core/pool.h);
 * everything else goes through OpenBLAS (bp_gemm_f32, gemm.c).
 *
 *   C (m x n) = op(A) op(B)  [+ C]          row-major C with row stride ldc
 *
 * Each element is one chain of fused multiply-adds in k order,
 *   c = acc ? C_ij : 0;  for p = 0..k-1: c = fma(A_ip, B_pj, c)
 * so the optimised kernel, the reference kernel and a naive loop with fmaf
 * give the same bits (tests/test_sgemm.c checks this). Operands are views
 * (bp_sview) that can name a scattered set of rows, so a mini-batch is read
 * straight from the dataset (by the kernel, or while it is packed), with no
 * gather copy.
 * Not part of the public API. */
#ifndef BP_SGEMM_H
#define BP_SGEMM_H

#include <stddef.h>

/* A stored row-major matrix S seen as S or S^T. Row r of S starts at
 * p + (rows ? rows[r] : r) * ld. */
typedef struct {
    const float *p;
    size_t ld;
    const int *rows; /* NULL, or the row of p each row of S is (a batch)  */
    int trans;       /* the operand is S^T                                */
} bp_sview;

/* The kernels. REF is the portable C kernel in the 8 x 32 tile of AVX512,
 * REF_6X16 the same in the 6 x 16 tile of AVX2 (for tests); BLAS means
 * "not the own product" (OpenBLAS serves). */
typedef enum {
    BP_SGEMM_AUTO, BP_SGEMM_REF, BP_SGEMM_REF_6X16, BP_SGEMM_AVX2, BP_SGEMM_AVX512, BP_SGEMM_BLAS
} bp_sgemm_kernel;

/* Can this CPU run kernel k? */
int bp_sgemm_supported(bp_sgemm_kernel k);
/* "ref", "ref6x16", "avx2", "avx512", "blas". */
const char *bp_sgemm_name(bp_sgemm_kernel k);
/* The kernel of training steps: the environment's BP_SGEMM (ref, avx2,
 * avx512 or blas) when this CPU runs it, else avx512, avx2 or blas, the best
 * the CPU has. Decided at the first call. */
bp_sgemm_kernel bp_sgemm_auto(void);
/* Is the own product used (bp_sgemm_auto() is not BLAS)? */
int bp_sgemm_available(void);

/* Floats of packing workspace one thread needs for a product of these sizes
 * with any kernel (a multiple of 16; owned by the caller, reused across
 * calls). */
size_t bp_sgemm_ws_floats(int m, int n, int k);

/* C = op(A) op(B) (+ C when acc): A is m x k, B is k x n as views, on nt
 * threads (core/pool.h; fewer when the product is too small to share). ws
 * holds nt x bp_sgemm_ws_floats(m, n, k) floats, 64-byte aligned. The
 * result has the same bits for every nt. BP_SGEMM_AUTO (or BLAS, or a
 * kernel the CPU lacks) takes bp_sgemm_auto(), the reference kernel when
 * that is BLAS. */
void bp_sgemm(int m, int n, int k, bp_sview A, bp_sview B, float *C, size_t ldc, int acc, float *ws,
              bp_sgemm_kernel kern, int nt);

#endif
