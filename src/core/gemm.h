/* core/gemm.h - dense matrix products: OpenBLAS, and a naive reference kernel
 * beside it (the oracle of tests). Used by the graph's matmul op and the
 * fused training step. Not part of the public API.
 *
 *   C = alpha op(A) op(B) + beta C,  op(A) m x k, op(B) k x n, row-major,
 *   lda/ldb/ldc the row strides as stored, op = transpose when ta/tb. */
#ifndef BP_CORE_GEMM_H
#define BP_CORE_GEMM_H

#include "core/base.h"

void bp_gemm_ref_f64(int ta, int tb, int m, int n, int k, double alpha, const double *A, int lda,
                     const double *B, int ldb, double beta, double *C, int ldc);
void bp_gemm_ref_f32(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc);
void bp_gemm_f64(int ta, int tb, int m, int n, int k, double alpha, const double *A, int lda,
                 const double *B, int ldb, double beta, double *C, int ldc);
void bp_gemm_f32(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);

#endif
