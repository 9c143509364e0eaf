/* core/sgemm.c - backprop's own f32 matrix product (see sgemm.h).
 *
 * The classic blocked scheme (Goto, BLIS): the product is cut into blocks of
 * kc steps of k; each block of B (kc x nc) is copied into NR-column panels,
 * zero-padded at the edge, and a micro-kernel computes one MR x NR tile of C
 * from MR rows of A (kept in L1) and one B panel (streamed from L2):
 *
 *   for jc (nc columns)  for pc (kc of k)  pack B   for ic (mc rows)
 *       for ir (MR rows)  for jr (NR columns)   C_tile = (load ? C_tile : 0) + A_ir B_jr
 *
 * The micro-kernel keeps its 8 x 32 tile in 16 AVX-512 registers; per step of
 * k it loads two vectors of B and broadcasts eight values of A into sixteen
 * FMAs. The eight values are read where A is (eight row starts, or eight
 * neighbours of A^T), so A is not copied; the one exception, A^T of a
 * matrix given by rows, is packed first. Copying A was 5% of a training
 * step: its rows fit in L1 either way. The reference kernel does the same
 * with fmaf, in the same order. Packing reads the operands through views, so
 * a mini-batch is gathered from the dataset in the same pass.
 */
#include "core/sgemm.h"
#include "core/base.h"

#include <math.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define HAVE_AVX512_KERNEL 1
#else
#define HAVE_AVX512_KERNEL 0
#endif

enum { MR = 8, NR = 32, KC_MAX = 384, MC_MAX = 128, B_BLOCK = 131072 /* floats of B per block: 512 KB, half of L2 */ };

/* The A side of a micro-kernel call: A_ip = a[i][p * as] for i < MR, p < kc.
 * A packed panel is a[i] = panel + i, as = MR; an operand read in place is
 * MR row starts with as = 1 (A as stored) or MR neighbours with as = ld (A^T). */
typedef void (*kernel_fn)(int kc, const float *const a[MR], size_t as, const float *B, float *C, size_t ldc, int load);

/* C tile (MR x NR) = (load ? C : 0) + sum_p A_p B_p: B is kc x NR (packed). */
static void kernel_ref(int kc, const float *const a[MR], size_t as, const float *B, float *C, size_t ldc, int load)
{
    float c[MR][NR];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) c[i][j] = load ? C[i * ldc + j] : 0.0f;
    for (size_t p = 0; p < (size_t)kc; p++, B += NR)
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) c[i][j] = fmaf(a[i][p * as], B[j], c[i][j]);
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) C[i * ldc + j] = c[i][j];
}

#if HAVE_AVX512_KERNEL
__attribute__((target("avx512f"))) static void kernel_avx512(int kc, const float *const a[MR], size_t as,
                                                              const float *B, float *C, size_t ldc, int load)
{
    __m512 c0[MR], c1[MR]; /* the tile, in 16 registers: every loop over i must be unrolled */
    const float *ai[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        ai[i] = a[i];
        c0[i] = load ? _mm512_loadu_ps(C + i * ldc) : _mm512_setzero_ps();
        c1[i] = load ? _mm512_loadu_ps(C + i * ldc + 16) : _mm512_setzero_ps();
    }
    for (size_t p = 0, o = 0; p < (size_t)kc; p++, o += as, B += NR) {
        __m512 b0 = _mm512_load_ps(B), b1 = _mm512_load_ps(B + 16);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m512 a = _mm512_set1_ps(ai[i][o]);
            c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        _mm512_storeu_ps(C + i * ldc, c0[i]);
        _mm512_storeu_ps(C + i * ldc + 16, c1[i]);
    }
}
#endif

int bp_sgemm_available(void)
{
#if HAVE_AVX512_KERNEL
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

/* The start of row r of a view's stored matrix S. */
static inline const float *srow(const bp_sview *v, int r) { return v->p + (size_t)(v->rows ? v->rows[r] : r) * v->ld; }

/* kc (balanced: 784 -> 2 x 392), and the block sizes for it. */
static int k_block(int k) { int nk = (k + KC_MAX - 1) / KC_MAX; return nk ? (k + nk - 1) / nk : 0; }
static int round_up(int x, int r) { return (x + r - 1) / r * r; }
static int n_block(int n, int kc)
{
    int nc = kc ? B_BLOCK / kc / NR * NR : NR;
    if (nc < NR) nc = NR;
    return n < nc ? round_up(n, NR) : nc;
}
static int m_block(int m) { return m < MC_MAX ? round_up(m, MR) : MC_MAX; }

size_t bp_sgemm_ws_floats(int m, int n, int k)
{
    int kc = k_block(k);
    return (size_t)round_up(m_block(m) * kc, 16) + (size_t)kc * n_block(n, kc);
}

/* dst[q * stride + i] = rows[i][q] for i, q < 8: an 8 x 8 block transposed
 * (AVX), used by the packing of B^T (rows into columns). */
#if HAVE_AVX512_KERNEL
__attribute__((target("avx2"))) static void transpose8(const float *const r[8], size_t off, float *dst, size_t stride)
{
    __m256 t0 = _mm256_loadu_ps(r[0] + off), t1 = _mm256_loadu_ps(r[1] + off), t2 = _mm256_loadu_ps(r[2] + off),
           t3 = _mm256_loadu_ps(r[3] + off), t4 = _mm256_loadu_ps(r[4] + off), t5 = _mm256_loadu_ps(r[5] + off),
           t6 = _mm256_loadu_ps(r[6] + off), t7 = _mm256_loadu_ps(r[7] + off);
    __m256 u0 = _mm256_unpacklo_ps(t0, t1), u1 = _mm256_unpackhi_ps(t0, t1), u2 = _mm256_unpacklo_ps(t2, t3),
           u3 = _mm256_unpackhi_ps(t2, t3), u4 = _mm256_unpacklo_ps(t4, t5), u5 = _mm256_unpackhi_ps(t4, t5),
           u6 = _mm256_unpacklo_ps(t6, t7), u7 = _mm256_unpackhi_ps(t6, t7);
    __m256 s0 = _mm256_shuffle_ps(u0, u2, 0x44), s1 = _mm256_shuffle_ps(u0, u2, 0xee),
           s2 = _mm256_shuffle_ps(u1, u3, 0x44), s3 = _mm256_shuffle_ps(u1, u3, 0xee),
           s4 = _mm256_shuffle_ps(u4, u6, 0x44), s5 = _mm256_shuffle_ps(u4, u6, 0xee),
           s6 = _mm256_shuffle_ps(u5, u7, 0x44), s7 = _mm256_shuffle_ps(u5, u7, 0xee);
    _mm256_storeu_ps(dst + 0 * stride, _mm256_permute2f128_ps(s0, s4, 0x20));
    _mm256_storeu_ps(dst + 1 * stride, _mm256_permute2f128_ps(s1, s5, 0x20));
    _mm256_storeu_ps(dst + 2 * stride, _mm256_permute2f128_ps(s2, s6, 0x20));
    _mm256_storeu_ps(dst + 3 * stride, _mm256_permute2f128_ps(s3, s7, 0x20));
    _mm256_storeu_ps(dst + 4 * stride, _mm256_permute2f128_ps(s0, s4, 0x31));
    _mm256_storeu_ps(dst + 5 * stride, _mm256_permute2f128_ps(s1, s5, 0x31));
    _mm256_storeu_ps(dst + 6 * stride, _mm256_permute2f128_ps(s2, s6, 0x31));
    _mm256_storeu_ps(dst + 7 * stride, _mm256_permute2f128_ps(s3, s7, 0x31));
}
#endif

/* dst[p * stride + i] = r[i][p] for i < 8, p < kc: eight rows into columns,
 * 8 x 8 blocks at a time when simd. */
BP_INLINE void rows_to_columns(const float *const r[8], int kc, float *dst, size_t stride, int simd)
{
    int p = 0;
#if HAVE_AVX512_KERNEL
    if (simd)
        for (; p + 8 <= kc; p += 8) transpose8(r, (size_t)p, dst + (size_t)p * stride, stride);
#else
    (void)simd;
#endif
    for (; p < kc; p++)
        for (int i = 0; i < 8; i++) dst[(size_t)p * stride + i] = r[i][p];
}

/* Pack rows i0.. (mc of them, padded to MR) and steps p0..p0+kc of A = S^T,
 * S given by rows (the one operand the kernel cannot read in place, see
 * a_side), into MR-row panels: A_ip = S[p][i], kc rows of MR values each. */
BP_INLINE void pack_a(const bp_sview *A, int m, int i0, int mc, int p0, int kc, float *Ap)
{
    for (int ir = 0; ir < mc; ir += MR, Ap += (size_t)MR * kc) {
        int h = m - (i0 + ir) < MR ? m - (i0 + ir) : MR;
        for (int p = 0; p < kc; p++) {
            const float *r = srow(A, p0 + p) + i0 + ir;
            for (int i = 0; i < h; i++) Ap[(size_t)p * MR + i] = r[i];
            for (int i = h; i < MR; i++) Ap[(size_t)p * MR + i] = 0;
        }
    }
}

/* Pack steps p0..p0+kc and columns j0.. (nc of them, padded to NR) of op(B) into NR-column panels. */
BP_INLINE void pack_b(const bp_sview *B, int n, int j0, int nc, int p0, int kc, float *Bp, int simd)
{
    for (int jr = 0; jr < nc; jr += NR, Bp += (size_t)NR * kc) {
        int w = n - (j0 + jr) < NR ? n - (j0 + jr) : NR;
        if (!B->trans) { /* B_pj = S[p][j]: NR contiguous values per step */
            for (int p = 0; p < kc; p++) {
                const float *r = srow(B, p0 + p) + j0 + jr;
                float *d = Bp + (size_t)p * NR;
                for (int j = 0; j < w; j++) d[j] = r[j];
                for (int j = w; j < NR; j++) d[j] = 0;
            }
            continue;
        }
        /* B_pj = S[j][p]: NR rows into columns, eight at a time */
        int j = 0;
        for (; j + 8 <= w; j += 8) {
            const float *r[8];
            for (int q = 0; q < 8; q++) r[q] = srow(B, j0 + jr + j + q) + p0;
            rows_to_columns(r, kc, Bp + j, NR, simd);
        }
        for (; j < w; j++) {
            const float *r = srow(B, j0 + jr + j) + p0;
            for (int p = 0; p < kc; p++) Bp[(size_t)p * NR + j] = r[p];
        }
        for (; j < NR; j++)
            for (int p = 0; p < kc; p++) Bp[(size_t)p * NR + j] = 0;
    }
}

/* The A side of the tile at rows i.. (h of them) and steps p0..: MR
 * pointers into A itself when direct (rows past h repeat row h - 1; their
 * results are not stored), else into its packed panel. Returns as. */
static size_t a_side(const bp_sview *A, int direct, int i, int h, int p0, const float *panel, const float *a[MR])
{
    for (int r = 0; r < MR; r++) {
        int ri = i + (r < h ? r : h - 1);
        if (!direct) a[r] = panel + r;
        else if (!A->trans) a[r] = srow(A, ri) + p0;   /* A_ip = S[i][p] */
        else a[r] = A->p + (size_t)p0 * A->ld + ri;    /* A_ip = S[p][i], S not given by rows */
    }
    return !direct ? MR : !A->trans ? 1 : A->ld;
}

BP_HOT static void sgemm(int m, int n, int k, bp_sview A, bp_sview B, float *C, size_t ldc, int acc, float *ws,
                         bp_sgemm_kernel kern)
{
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        if (!acc)
            for (int i = 0; i < m; i++) memset(C + (size_t)i * ldc, 0, (size_t)n * sizeof *C);
        return;
    }
    kernel_fn kf = kernel_ref;
#if HAVE_AVX512_KERNEL
    if (kern != BP_SGEMM_REF) kf = kernel_avx512;
#else
    (void)kern;
#endif
    /* A is read in place, with no packing, unless it is A^T given by rows */
    int direct_a = !A.trans || !A.rows;
    int kc0 = k_block(k), nc0 = n_block(n, kc0), mc0 = m_block(m);
    float *Ap = ws, *Bp = ws + round_up(mc0 * kc0, 16); /* B panels 64-byte aligned */
    float tile[MR * NR];
    for (int jc = 0; jc < n; jc += nc0) {
        int nc = n - jc < nc0 ? round_up(n - jc, NR) : nc0;
        for (int pc = 0; pc < k; pc += kc0) {
            int kc = k - pc < kc0 ? k - pc : kc0, load = acc || pc > 0;
            pack_b(&B, n, jc, nc, pc, kc, Bp, kern != BP_SGEMM_REF);
            for (int ic = 0; ic < m; ic += mc0) {
                int mc = m - ic < mc0 ? round_up(m - ic, MR) : mc0;
                if (!direct_a) pack_a(&A, m, ic, mc, pc, kc, Ap);
                for (int ir = 0; ir < mc; ir += MR) {
                    int i = ic + ir, h = m - i < MR ? m - i : MR;
                    const float *a[MR];
                    size_t as = a_side(&A, direct_a, i, h, pc, Ap + (size_t)ir * kc, a);
                    for (int jr = 0; jr < nc; jr += NR) {
                        int j = jc + jr, w = n - j < NR ? n - j : NR;
                        const float *b = Bp + (size_t)jr * kc;
                        float *c = C + (size_t)i * ldc + j;
                        if (h == MR && w == NR) {
                            kf(kc, a, as, b, c, ldc, load);
                        } else { /* an edge tile: through a full-size copy */
                            for (int r = 0; r < MR; r++)
                                for (int q = 0; q < NR; q++) tile[r * NR + q] = load && r < h && q < w ? c[r * ldc + q] : 0;
                            kf(kc, a, as, b, tile, NR, load);
                            for (int r = 0; r < h; r++) memcpy(c + r * ldc, tile + r * NR, (size_t)w * sizeof *c);
                        }
                    }
                }
            }
        }
    }
}

void bp_sgemm(int m, int n, int k, bp_sview A, bp_sview B, float *C, size_t ldc, int acc, float *ws,
              bp_sgemm_kernel kern)
{
    sgemm(m, n, k, A, B, C, ldc, acc, ws, kern);
}
