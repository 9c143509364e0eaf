/* core/gemm.c - C = alpha op(A) op(B) + beta C through OpenBLAS (cblas), and
 * the naive triple loop beside it. */
#include "core/gemm.h"
#include "core/runtime.h"

#include <cblas.h>

/* C = alpha op(A) op(B) + beta C; op(A) is m x k, op(B) is k x n, row-major. */
#define GEMM_REF(T, NAME)                                                          \
    void NAME(int ta, int tb, int m, int n, int k, T alpha, const T *A, int lda,     \
              const T *B, int ldb, T beta, T *C, int ldc)                            \
    {                                                                                \
        for (int i = 0; i < m; i++)                                                  \
            for (int j = 0; j < n; j++) {                                            \
                T s = 0;                                                             \
                for (int p = 0; p < k; p++)                                          \
                    s += (ta ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p]) *    \
                         (tb ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j]);     \
                T *c = &C[(size_t)i * ldc + j];                                      \
                *c = alpha * s + (beta == 0 ? 0 : beta * *c);                        \
            }                                                                        \
    }
GEMM_REF(double, bp_gemm_ref_f64)
GEMM_REF(float, bp_gemm_ref_f32)

void bp_gemm_f64(int ta, int tb, int m, int n, int k, double alpha, const double *A, int lda,
                 const double *B, int ldb, double beta, double *C, int ldc)
{
    if (m == 0 || n == 0) return;
    if (!bp_blas_ok()) { bp_gemm_ref_f64(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc); return; }
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

void bp_gemm_f32(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc)
{
    if (m == 0 || n == 0) return;
    if (!bp_blas_ok()) { bp_gemm_ref_f32(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc); return; }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
