/* test_sgemm.c - the own f32 matrix product (src/core/sgemm.c) against a naive
 * loop. Every element of the product is one chain of fused multiply-adds in
 * k order, so the naive loop with fmaf, the reference kernel (in both tile
 * shapes) and every kernel this CPU runs (AVX2, AVX-512) must give the same
 * bits: the comparisons are exact. Shapes cover edge tiles (m, n not
 * multiples of the 8 x 32 and 6 x 16 tiles), several k blocks
 * (k > 384), several column blocks, both transposes of both operands,
 * accumulation, views that gather scattered rows, and 1, 2 and 3 threads
 * (the product shared by columns or by rows). A float64 product
 * checks the naive loop itself to float32 rounding. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "core/sgemm.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 88172645463325252ull;
static float urand(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2 - 1);
}

/* op(S)(i, j) of a view. */
static float at(const bp_sview *v, int i, int j)
{
    int r = v->trans ? j : i, c = v->trans ? i : j;
    return v->p[(size_t)(v->rows ? v->rows[r] : r) * v->ld + c];
}

static int same_bits(const float *a, const float *b, size_t n, size_t *where)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, sizeof *a)) { *where = i; return 0; }
    return 1;
}

/* One product C = op(A) op(B) (+ C) through every available kernel, compared
 * bit for bit with the naive fmaf loop. */
static void one(int m, int n, int k, int ta, int tb, int acc, int gather_a, int gather_b)
{
    /* stored matrices with a wider row stride than needed, and spare rows to gather from */
    int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    int apool = ar * 2 + 3, bpool = br * 2 + 3;
    size_t lda = (size_t)ac + 5, ldb = (size_t)bc + 3, ldc = (size_t)n + 7;
    float *Ad = malloc(apool * lda * sizeof(float)), *Bd = malloc(bpool * ldb * sizeof(float));
    int *arows = malloc((ar + 1) * sizeof(int)), *brows = malloc((br + 1) * sizeof(int));
    for (size_t i = 0; i < apool * lda; i++) Ad[i] = urand();
    for (size_t i = 0; i < bpool * ldb; i++) Bd[i] = urand();
    for (int i = 0; i < ar; i++) arows[i] = (int)((i * 7919u + 13) % (unsigned)apool);
    for (int i = 0; i < br; i++) brows[i] = (int)((i * 104729u + 5) % (unsigned)bpool);
    bp_sview A = {Ad, lda, gather_a ? arows : NULL, ta}, B = {Bd, ldb, gather_b ? brows : NULL, tb};
    size_t nc = (size_t)m * ldc;
    float *C0 = malloc(nc * sizeof(float)), *want = malloc(nc * sizeof(float)), *got = malloc(nc * sizeof(float));
    for (size_t i = 0; i < nc; i++) C0[i] = urand();
    memcpy(want, C0, nc * sizeof(float));
    double worst = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float c = acc ? C0[i * ldc + j] : 0.0f;
            double d = acc ? C0[i * ldc + j] : 0.0, mag = fabs(d);
            for (int p = 0; p < k; p++) {
                c = fmaf(at(&A, i, p), at(&B, p, j), c);
                d += (double)at(&A, i, p) * at(&B, p, j);
                mag += fabs((double)at(&A, i, p) * at(&B, p, j));
            }
            want[i * ldc + j] = c;
            double e = fabs(c - d) / (mag + 1e-30);
            if (e > worst) worst = e;
        }
    CHECK(worst < 1e-6 * (k + 1), "naive fmaf loop vs double: relative error %g (m=%d n=%d k=%d)", worst, m, n, k);
    enum { MOST_THREADS = 3 };
    float *ws = aligned_alloc(64, (MOST_THREADS * bp_sgemm_ws_floats(m, n, k) * sizeof(float) + 63) / 64 * 64);
    static const bp_sgemm_kernel kerns[] = {BP_SGEMM_REF, BP_SGEMM_REF_6X16, BP_SGEMM_AVX2, BP_SGEMM_AVX512};
    for (size_t kk = 0; kk < sizeof kerns / sizeof *kerns; kk++) {
        if (!bp_sgemm_supported(kerns[kk])) continue;
        /* the portable kernel in the AVX2 tile calls fmaf for every FMA: the smaller shapes are enough */
        if (kerns[kk] == BP_SGEMM_REF_6X16 && (double)m * n * k > 3e6) continue;
        /* on 1, 2 and 3 threads (shared by columns or by rows): the same bits
         * (BP_TEST_MAX_THREADS=1: no thread starts under qemu-user, see scripts/cross-test-arm64.sh) */
        int max_threads = check_max_threads(MOST_THREADS);
        for (int nt = 1; nt <= max_threads; nt++) {
            if (nt > 1 && kerns[kk] == BP_SGEMM_REF_6X16) break;
            memcpy(got, C0, nc * sizeof(float));
            bp_sgemm(m, n, k, A, B, got, ldc, acc, ws, kerns[kk], nt);
            size_t w = 0;
            int ok = same_bits(got, want, nc, &w);
            CHECK(ok, "%s kernel, %d threads: m=%d n=%d k=%d ta=%d tb=%d acc=%d gather=%d%d differs at row %zu col %zu: "
                  "%.9g vs %.9g", bp_sgemm_name(kerns[kk]), nt, m, n, k, ta, tb, acc, gather_a, gather_b, w / ldc,
                  w % ldc, got[w], want[w]);
        }
    }
    free(ws); free(C0); free(want); free(got); free(Ad); free(Bd); free(arows); free(brows);
}

int main(void)
{
    printf("kernels run: ref ref6x16%s%s; training uses %s\n", bp_sgemm_supported(BP_SGEMM_AVX2) ? " avx2" : "",
           bp_sgemm_supported(BP_SGEMM_AVX512) ? " avx512" : "", bp_sgemm_name(bp_sgemm_auto()));
    /* shapes of the MLP's products (784-256-128-10 at batch 32) and edges */
    static const int shapes[][3] = {{32, 256, 784},  {256, 784, 32}, {32, 784, 256}, {32, 128, 256}, {128, 256, 32},
                                    {1, 1, 1},       {7, 5, 3},      {8, 32, 1},     {9, 33, 385},   {17, 70, 769},
                                    {130, 40, 12},   {3, 700, 200},  {40, 3, 1000},  {8, 1100, 130}, {5, 5, 0},
                                    {6, 16, 7},      {13, 17, 400},  {127, 48, 33},  {200, 9, 64},
                                    {600, 40, 70} /* A^T with rows of 600: packed */};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                one(m, n, k, ta, tb, 0, 0, 0);
                one(m, n, k, ta, tb, 1, 0, 0);
                one(m, n, k, ta, tb, (int)(s & 1), 1, 1);
            }
    return check_done();
}
