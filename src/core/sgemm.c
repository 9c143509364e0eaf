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
 * Two micro-kernels, one per vector width, chosen when first used (the best
 * the CPU has; BP_SGEMM in the environment forces one):
 *   avx512  an 8 x 32 tile in 16 zmm registers; per step of k two vectors of
 *           B and eight broadcasts of A feed sixteen FMAs;
 *   avx2    a 6 x 16 tile in 12 ymm registers (AVX2 + FMA: Zen 2/3, Haswell
 *           and later); per step two vectors of B and six broadcasts of A
 *           feed twelve FMAs, leaving 4 of the 16 registers for B and A.
 * The values of A are read where A is (MR row starts, or MR neighbours of
 * A^T), so A is not copied: copying it was 5% of a training step, and its
 * rows fit in L1 either way. Two exceptions are packed first: A^T given by
 * rows, and A^T whose rows are long (A_T_PACK_LD floats or more; the weight
 * gradients' dL/dz^T of a layer of 512 units or more): there the MR
 * neighbours of each step lie a row apart, 4 KB for 1024 units, all in one
 * L1 set, which ran the AVX2 kernel at 60-65% of peak on those products
 * (90% packed; AVX-512: 90 -> 93%); for shorter rows packing costs more
 * than it saves (784-256-128-10: 2% of a step). The reference kernel does the same with fmaf, in the
 * same order, in either tile shape. Packing reads the operands through
 * views, so a mini-batch is gathered from the dataset in the same pass.
 */
#include "core/sgemm.h"
#include "core/base.h"
#include "core/pool.h"

#include <math.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86_KERNELS 1
#else
#define HAVE_X86_KERNELS 0
#endif

#include <stdlib.h>
#include <unistd.h>

enum { MR_MAX = 8, NR_MAX = 32, KC_MAX = 384, MC_MAX = 128, A_T_PACK_LD = 512 };

/* The A side of a micro-kernel call: A_ip = a[i][p * as] for i < MR, p < kc.
 * A packed panel is a[i] = panel + i, as = MR; an operand read in place is
 * MR row starts with as = 1 (A as stored) or MR neighbours with as = ld (A^T). */
typedef void (*kernel_fn)(int kc, const float *const *a, size_t as, const float *B, float *C, size_t ldc, int load);

/* A micro-kernel and the tile it computes: MR x NR, B packed in NR-column
 * panels, b_block floats of B per block (about half of L2). */
typedef struct {
    bp_sgemm_kernel id;
    int mr, nr;
    kernel_fn fn;
    size_t b_block;
} kernel_desc;

/* C tile (mr x nr) = (load ? C : 0) + sum_p A_p B_p: B is kc x nr (packed). */
BP_INLINE void tile_ref(int mr, int nr, int kc, const float *const *a, size_t as, const float *B, float *C, size_t ldc,
                        int load)
{
    float c[MR_MAX][NR_MAX];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) c[i][j] = load ? C[i * ldc + j] : 0.0f;
    for (size_t p = 0; p < (size_t)kc; p++, B += nr)
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < nr; j++) c[i][j] = fmaf(a[i][p * as], B[j], c[i][j]);
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) C[i * ldc + j] = c[i][j];
}
static void kernel_ref_8x32(int kc, const float *const *a, size_t as, const float *B, float *C, size_t ldc, int load)
{
    tile_ref(8, 32, kc, a, as, B, C, ldc, load);
}
static void kernel_ref_6x16(int kc, const float *const *a, size_t as, const float *B, float *C, size_t ldc, int load)
{
    tile_ref(6, 16, kc, a, as, B, C, ldc, load);
}

#if HAVE_X86_KERNELS
__attribute__((target("avx512f"))) static void kernel_avx512(int kc, const float *const *a, size_t as,
                                                              const float *B, float *C, size_t ldc, int load)
{
    enum { MR = 8, NR = 32 };
    __m512 c0[MR], c1[MR]; /* the tile, in 16 registers: every loop over i must be unrolled */
    const float *ai[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        ai[i] = a[i];
        c0[i] = load ? _mm512_loadu_ps(C + i * ldc) : _mm512_setzero_ps();
        c1[i] = load ? _mm512_loadu_ps(C + i * ldc + 16) : _mm512_setzero_ps();
    }
#pragma GCC unroll 4
    for (size_t p = 0, o = 0; p < (size_t)kc; p++, o += as, B += NR) {
        __m512 b0 = _mm512_load_ps(B), b1 = _mm512_load_ps(B + 16);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m512 x = _mm512_set1_ps(ai[i][o]);
            c0[i] = _mm512_fmadd_ps(x, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(x, b1, c1[i]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        _mm512_storeu_ps(C + i * ldc, c0[i]);
        _mm512_storeu_ps(C + i * ldc + 16, c1[i]);
    }
}

__attribute__((target("avx2,fma"))) static void kernel_avx2(int kc, const float *const *a, size_t as, const float *B,
                                                             float *C, size_t ldc, int load)
{
    enum { MR = 6, NR = 16 };
    __m256 c0[MR], c1[MR]; /* the tile, in 12 registers: every loop over i must be unrolled */
    const float *ai[MR];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        ai[i] = a[i];
        c0[i] = load ? _mm256_loadu_ps(C + i * ldc) : _mm256_setzero_ps();
        c1[i] = load ? _mm256_loadu_ps(C + i * ldc + 8) : _mm256_setzero_ps();
    }
#pragma GCC unroll 4
    for (size_t p = 0, o = 0; p < (size_t)kc; p++, o += as, B += NR) {
        __m256 b0 = _mm256_load_ps(B), b1 = _mm256_load_ps(B + 8);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            __m256 x = _mm256_broadcast_ss(ai[i] + o);
            c0[i] = _mm256_fmadd_ps(x, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(x, b1, c1[i]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        _mm256_storeu_ps(C + i * ldc, c0[i]);
        _mm256_storeu_ps(C + i * ldc + 8, c1[i]);
    }
}
#endif

#if HAVE_X86_KERNELS
/* B blocks: half of L2 when the C library knows its size, at most 512 KB. */
static size_t b_block_floats(size_t most)
{
    long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    size_t half = l2 > 0 ? (size_t)l2 / 2 / sizeof(float) : most;
    return half < 16384 ? 16384 : half < most ? half : most;
}
#endif

static const kernel_desc *desc_of(bp_sgemm_kernel k)
{
    static kernel_desc ref = {BP_SGEMM_REF, 8, 32, kernel_ref_8x32, 131072};
    static kernel_desc ref6 = {BP_SGEMM_REF, 6, 16, kernel_ref_6x16, 65536};
#if HAVE_X86_KERNELS
    static kernel_desc k512 = {BP_SGEMM_AVX512, 8, 32, kernel_avx512, 131072};
    static kernel_desc k2 = {BP_SGEMM_AVX2, 6, 16, kernel_avx2, 65536};
    if (k == BP_SGEMM_AVX512) return &k512;
    if (k == BP_SGEMM_AVX2) {
        static int sized;
        if (!sized) k2.b_block = b_block_floats(131072), sized = 1;   /* one value; a race writes the same */
        return &k2;
    }
#endif
    return k == BP_SGEMM_REF_6X16 ? &ref6 : &ref;
}

/* Does the kernel's packing use the AVX transposes? */
static int is_simd(const kernel_desc *d) { return d->id != BP_SGEMM_REF && d->id != BP_SGEMM_REF_6X16; }

int bp_sgemm_supported(bp_sgemm_kernel k)
{
    switch (k) {
    case BP_SGEMM_REF: case BP_SGEMM_REF_6X16: case BP_SGEMM_BLAS: return 1;
#if HAVE_X86_KERNELS
    case BP_SGEMM_AVX512: return __builtin_cpu_supports("avx512f");
    case BP_SGEMM_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    default: return 0;
    }
}

const char *bp_sgemm_name(bp_sgemm_kernel k)
{
    static const char *const names[] = {"auto", "ref", "ref6x16", "avx2", "avx512", "blas"};
    return (unsigned)k < sizeof names / sizeof *names ? names[k] : "?";
}

/* The best kernel of this CPU, or BP_SGEMM (ref, avx2, avx512, blas) when set
 * to one the CPU runs. Decided once. */
bp_sgemm_kernel bp_sgemm_auto(void)
{
    static _Atomic int chosen = -1;
    int c = chosen;
    if (c >= 0) return (bp_sgemm_kernel)c;
    c = bp_sgemm_supported(BP_SGEMM_AVX512) ? BP_SGEMM_AVX512
      : bp_sgemm_supported(BP_SGEMM_AVX2)   ? BP_SGEMM_AVX2
                                            : BP_SGEMM_BLAS;
    const char *env = getenv("BP_SGEMM");
    for (int k = BP_SGEMM_REF; env && k <= BP_SGEMM_BLAS; k++)
        if (!strcmp(env, bp_sgemm_name((bp_sgemm_kernel)k)) && bp_sgemm_supported((bp_sgemm_kernel)k)) c = k;
    chosen = c;
    return (bp_sgemm_kernel)c;
}

int bp_sgemm_available(void) { return bp_sgemm_auto() != BP_SGEMM_BLAS; }

const char *bp_matmul_kernel(void) { return bp_sgemm_name(bp_sgemm_auto()); }

/* The start of row r of a view's stored matrix S. */
static inline const float *srow(const bp_sview *v, int r) { return v->p + (size_t)(v->rows ? v->rows[r] : r) * v->ld; }

/* kc (balanced: 784 -> 2 x 392), and the block sizes for it. */
static int k_block(int k) { int nk = (k + KC_MAX - 1) / KC_MAX; return nk ? (k + nk - 1) / nk : 0; }
static int round_up(int x, int r) { return (x + r - 1) / r * r; }
static int n_block(const kernel_desc *d, int n, int kc)
{
    int nr = d->nr, nc = kc ? (int)(d->b_block / (size_t)kc) / nr * nr : nr;
    if (nc < nr) nc = nr;
    return n < nc ? round_up(n, nr) : nc;
}
static int m_block(const kernel_desc *d, int m) { return m < MC_MAX ? round_up(m, d->mr) : MC_MAX / d->mr * d->mr; }

static size_t ws_floats(const kernel_desc *d, int m, int n, int k)
{
    int kc = k_block(k);
    return (size_t)round_up(m_block(d, m) * kc, 16) + (size_t)kc * n_block(d, n, kc);
}

/* Packing space of one thread for the product m x n x k, or for its swapped
 * form n x m x k (see swap_pays), with any kernel. */
static size_t pack_floats(int m, int n, int k)
{
    size_t most = 0;
    for (int kk = BP_SGEMM_REF; kk < BP_SGEMM_BLAS; kk++) {
        const kernel_desc *d = desc_of((bp_sgemm_kernel)kk);
        size_t w = ws_floats(d, m, n, k), s = ws_floats(d, n, m, k);
        if (w > most) most = w;
        if (s > most) most = s;
    }
    return (size_t)round_up((int)most, 16);   /* each thread's share starts 64-byte aligned */
}

/* The swapped form's C^T (n x m), kept in front of the packing space. */
static size_t swap_floats(int m, int n) { return ((size_t)m * n + 15) / 16 * 16; }

size_t bp_sgemm_ws_floats(int m, int n, int k) { return pack_floats(m, n, k) + swap_floats(m, n); }

/* dst[q * stride + i] = rows[i][q] for i, q < 8: an 8 x 8 block transposed
 * (AVX), used by the packing of B^T (rows into columns). */
#if HAVE_X86_KERNELS
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
#if HAVE_X86_KERNELS
    if (simd)
        for (; p + 8 <= kc; p += 8) transpose8(r, (size_t)p, dst + (size_t)p * stride, stride);
#else
    (void)simd;
#endif
    for (; p < kc; p++)
        for (int i = 0; i < 8; i++) dst[(size_t)p * stride + i] = r[i][p];
}

/* Pack rows i0.. (mc of them, padded to mr) and steps p0..p0+kc of A = S^T
 * (see the top: the kernel reads only A itself in place), into mr-row
 * panels: A_ip = S[p][i], kc rows of mr values each. */
BP_INLINE void pack_a(const bp_sview *A, int mr, int m, int i0, int mc, int p0, int kc, float *Ap)
{
    for (int ir = 0; ir < mc; ir += mr, Ap += (size_t)mr * kc) {
        int h = m - (i0 + ir) < mr ? m - (i0 + ir) : mr;
        for (int p = 0; p < kc; p++) {
            const float *r = srow(A, p0 + p) + i0 + ir;
            for (int i = 0; i < h; i++) Ap[(size_t)p * mr + i] = r[i];
            for (int i = h; i < mr; i++) Ap[(size_t)p * mr + i] = 0;
        }
    }
}

/* Pack steps p0..p0+kc and columns j0.. (nc of them, padded to nr, a
 * multiple of 8) of op(B) into nr-column panels. */
BP_INLINE void pack_b(const bp_sview *B, int nr, int n, int j0, int nc, int p0, int kc, float *Bp, int simd)
{
    if (!B->trans) {
        /* B_pj = S[p][j]: row by row, each row's nc values dealt out to the
         * panels, so that a row of S (a scattered sample of a batch, often
         * out of cache) is read from start to end; the next row is fetched
         * meanwhile */
        int wn = n - j0 < nc ? n - j0 : nc;
        for (int p = 0; p < kc; p++) {
            const float *r = srow(B, p0 + p) + j0;
            if (B->rows && p + 2 < kc) {   /* a scattered row: fetch all of the row after next */
                const char *q = (const char *)(srow(B, p0 + p + 2) + j0);
                for (size_t o = 0; o < (size_t)wn * sizeof(float); o += 64) __builtin_prefetch(q + o);
            }
            float *d = Bp + (size_t)p * nr;
            int jr = 0;
            for (; jr + nr <= wn; jr += nr, d += (size_t)nr * kc) memcpy(d, r + jr, (size_t)nr * sizeof *d);
            if (jr < nc) {   /* the last panel: the rest of the row, then zeros */
                int w = wn - jr;
                memcpy(d, r + jr, (size_t)w * sizeof *d);
                memset(d + w, 0, (size_t)(nr - w) * sizeof *d);
                for (jr += nr, d += (size_t)nr * kc; jr < nc; jr += nr, d += (size_t)nr * kc)
                    memset(d, 0, (size_t)nr * sizeof *d);
            }
        }
        return;
    }
    for (int jr = 0; jr < nc; jr += nr, Bp += (size_t)nr * kc) {
        int w = n - (j0 + jr) < nr ? n - (j0 + jr) : nr;
        /* B_pj = S[j][p]: nr rows into columns, eight at a time */
        int j = 0;
        for (; j + 8 <= w; j += 8) {
            const float *r[8];
            for (int q = 0; q < 8; q++) r[q] = srow(B, j0 + jr + j + q) + p0;
            rows_to_columns(r, kc, Bp + j, (size_t)nr, simd);
        }
        for (; j < w; j++) {
            const float *r = srow(B, j0 + jr + j) + p0;
            for (int p = 0; p < kc; p++) Bp[(size_t)p * nr + j] = r[p];
        }
        for (; j < nr; j++)
            for (int p = 0; p < kc; p++) Bp[(size_t)p * nr + j] = 0;
    }
}

/* The A side of the tile at rows i.. (h of them) and steps p0..: mr
 * pointers into A itself when direct (rows past h repeat row h - 1; their
 * results are not stored), else into its packed panel. Returns as. */
static size_t a_side(const bp_sview *A, int mr, int direct, int i, int h, int p0, const float *panel, const float **a)
{
    for (int r = 0; r < mr; r++) {
        int ri = i + (r < h ? r : h - 1);
        if (!direct) a[r] = panel + r;
        else if (!A->trans) a[r] = srow(A, ri) + p0;   /* A_ip = S[i][p] */
        else a[r] = A->p + (size_t)p0 * A->ld + ri;    /* A_ip = S[p][i], S not given by rows */
    }
    return !direct ? (size_t)mr : !A->trans ? 1 : A->ld;
}

BP_HOT static void sgemm(const kernel_desc *d, int m, int n, int k, bp_sview A, bp_sview B, float *C, size_t ldc,
                         int acc, float *ws)
{
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        if (!acc)
            for (int i = 0; i < m; i++) memset(C + (size_t)i * ldc, 0, (size_t)n * sizeof *C);
        return;
    }
    const int mr = d->mr, nr = d->nr, simd = is_simd(d);
    const kernel_fn kf = d->fn;
    /* A is read in place, with no packing, unless it is A^T given by rows or with long rows (see the top) */
    int direct_a = !A.trans || (!A.rows && A.ld < A_T_PACK_LD);
    int kc0 = k_block(k), nc0 = n_block(d, n, kc0), mc0 = m_block(d, m);
    float *Ap = ws, *Bp = ws + round_up(mc0 * kc0, 16); /* B panels 64-byte aligned */
    float tile[MR_MAX * NR_MAX];
    for (int jc = 0; jc < n; jc += nc0) {
        int nc = n - jc < nc0 ? round_up(n - jc, nr) : nc0;
        for (int pc = 0; pc < k; pc += kc0) {
            int kc = k - pc < kc0 ? k - pc : kc0, load = acc || pc > 0;
            pack_b(&B, nr, n, jc, nc, pc, kc, Bp, simd);
            for (int ic = 0; ic < m; ic += mc0) {
                int mc = m - ic < mc0 ? round_up(m - ic, mr) : mc0;
                if (!direct_a) pack_a(&A, mr, m, ic, mc, pc, kc, Ap);
                for (int ir = 0; ir < mc; ir += mr) {
                    int i = ic + ir, h = m - i < mr ? m - i : mr;
                    const float *a[MR_MAX];
                    size_t as = a_side(&A, mr, direct_a, i, h, pc, Ap + (size_t)ir * kc, a);
                    for (int jr = 0; jr < nc; jr += nr) {
                        int j = jc + jr, w = n - j < nr ? n - j : nr;
                        const float *b = Bp + (size_t)jr * kc;
                        float *c = C + (size_t)i * ldc + j;
                        if (h == mr && w == nr) {
                            kf(kc, a, as, b, c, ldc, load);
                        } else { /* an edge tile: through a full-size copy */
                            for (int r = 0; r < mr; r++)
                                for (int q = 0; q < nr; q++) tile[r * nr + q] = load && r < h && q < w ? c[r * ldc + q] : 0;
                            kf(kc, a, as, b, tile, (size_t)nr, load);
                            for (int r = 0; r < h; r++) memcpy(c + r * ldc, tile + r * nr, (size_t)w * sizeof *c);
                        }
                    }
                }
            }
        }
    }
}

/* C (m x n) = op(A) op(B) with B = S^T, S given by rows (a layer's weights
 * in a forward pass, z = a W^T), costs a transposing copy of all of S into
 * panels, k x n values, however few rows A has. The same product swapped,
 * C^T = S op(A)^T, reads S in place as the A side and packs op(A)^T (k x m)
 * instead, then transposes C^T (n x m) into C. Each element is the same
 * chain of FMAs in k order (a b = b a exactly), so the bits are the same.
 * It pays when the weights are larger than the batch's inputs and outputs
 * together (measured: 3072-2048-512-10 at batch 128 spent 5% of its step
 * transposing the first layer's weights). */
static int swap_pays(const bp_sview *B, int m, int n, int k, int acc)
{
    return !acc && B->trans && m >= 8 && (double)n * (k - m) > (double)k * m + (double)m * n;
}

static bp_sview flipped(bp_sview v) { v.trans = !v.trans; return v; }

/* C (m x n, row stride ldc) = T^T, T n x m with row stride m. */
static void transpose_into(const float *T, int m, int n, float *C, size_t ldc, int simd)
{
    int i0 = 0;
    for (; i0 + 8 <= n; i0 += 8) {   /* rows i0..i0+7 of T: columns i0.. of C */
        const float *r[8];
        for (int q = 0; q < 8; q++) r[q] = T + (size_t)(i0 + q) * m;
        int j = 0;
#if HAVE_X86_KERNELS
        if (simd)
            for (; j + 8 <= m; j += 8) transpose8(r, (size_t)j, C + (size_t)j * ldc + i0, ldc);
#else
        (void)simd;
#endif
        for (; j < m; j++)
            for (int q = 0; q < 8; q++) C[(size_t)j * ldc + i0 + q] = r[q][j];
    }
    for (; i0 < n; i0++)
        for (int j = 0; j < m; j++) C[(size_t)j * ldc + i0] = T[(size_t)i0 * m + j];
}

/* One thread's share of a product: a block of columns of C (and of op(B)),
 * or of rows of C (and of op(A)) when there are too few columns to share.
 * The shares are whole tiles, and each element of C is computed by one
 * thread with the same k blocks as on one, so the bits do not depend on the
 * number of threads. */
typedef struct {
    const kernel_desc *d;
    int m, n, k, acc, by_cols;
    bp_sview A, B;
    float *C, *ws;
    size_t ldc, ws_per;
    float *dst;          /* the swapped product: C^T goes to dst (row stride ldd), or NULL */
    size_t ldd;
} share;

/* op(S) shifted by `off` along the dimension of its rows (`rows_dim`) or of its columns. */
static bp_sview shifted(bp_sview v, int off, int rows_dim)
{
    if (v.trans == rows_dim) v.p += off;   /* a column of S: the next element of its rows */
    else if (v.rows) v.rows += off;        /* a row of S, by row numbers */
    else v.p += (size_t)off * v.ld;        /* a row of S, stored in order */
    return v;
}

static void run_share(void *arg, int t, int nt)
{
    const share *s = arg;
    size_t l, h;
    float *ws = s->ws + (size_t)t * s->ws_per;
    bp_pool_part((size_t)(s->by_cols ? s->n : s->m), (size_t)(s->by_cols ? s->d->nr : s->d->mr), t, nt, &l, &h);
    int lo = (int)l, hi = (int)h;
    if (hi <= lo) return;
    if (s->by_cols) {   /* columns lo..hi of op(B) and C */
        sgemm(s->d, s->m, hi - lo, s->k, s->A, shifted(s->B, lo, 0), s->C + lo, s->ldc, s->acc, ws);
    } else {            /* rows lo..hi of op(A) and C */
        sgemm(s->d, hi - lo, s->n, s->k, shifted(s->A, lo, 1), s->B, s->C + (size_t)lo * s->ldc, s->ldc, s->acc, ws);
        if (s->dst)     /* these rows of C^T are columns lo..hi of the result */
            transpose_into(s->C + (size_t)lo * s->ldc, s->n, hi - lo, s->dst + lo, s->ldd, is_simd(s->d));
    }
}

static void run_product(const kernel_desc *d, int m, int n, int k, bp_sview A, bp_sview B, float *C, size_t ldc,
                        int acc, float *ws, size_t ws_per, int nt, float *dst, size_t ldd);

/* Below this many multiply-adds per thread, waking the pool costs more
 * than the share saves. */
#define MIN_SHARE 65536.0

void bp_sgemm(int m, int n, int k, bp_sview A, bp_sview B, float *C, size_t ldc, int acc, float *ws,
              bp_sgemm_kernel kern, int nt)
{
    if (kern == BP_SGEMM_AUTO || kern == BP_SGEMM_BLAS || !bp_sgemm_supported(kern)) {
        kern = bp_sgemm_auto();
        if (kern == BP_SGEMM_BLAS) kern = BP_SGEMM_REF;   /* the caller asked for the own product */
    }
    const kernel_desc *d = desc_of(kern);
    if (swap_pays(&B, m, n, k, acc)) {
        /* C^T = op(B)^T op(A)^T into the front of ws, the shares' packing after it */
        float *T = ws;
        run_product(d, n, m, k, flipped(B), flipped(A), T, (size_t)m, 0, ws + swap_floats(m, n),
                    bp_sgemm_ws_floats(m, n, k) - swap_floats(m, n), nt, C, ldc);
        return;
    }
    run_product(d, m, n, k, A, B, C, ldc, acc, ws, bp_sgemm_ws_floats(m, n, k), nt, NULL, 0);
}

/* The product on nt threads, thread t packing in ws + t * ws_per; when dst
 * is given (the swapped product), C^T then goes to dst. The shares are
 * columns when each thread gets at least two panels of them, else rows; the
 * swapped product's are always rows, and each thread then transposes its
 * own (they are also its columns of the result). Its A is the weights:
 * cut by rows, each thread reads only the rows of the weights it computes
 * with, which the optimizer's update (nn/optim.c), cut about the same way,
 * left in its cache; cut by columns, each thread read all of them, half from
 * the other core's cache. On the Intel Xeon of docs/performance.md the whole
 * two-thread step at batch 128 ran 15% slower that way. */
static void run_product(const kernel_desc *d, int m, int n, int k, bp_sview A, bp_sview B, float *C, size_t ldc,
                        int acc, float *ws, size_t ws_per, int nt, float *dst, size_t ldd)
{
    nt = bp_pool_threads(nt, (double)m * n * k, MIN_SHARE);
    int by_cols = !dst && n >= 2 * d->nr * nt, units = by_cols ? (n + d->nr - 1) / d->nr : (m + d->mr - 1) / d->mr;
    if (nt > units) nt = units;
    share s = {d, m, n, k, acc, by_cols, A, B, C, ws, ldc, ws_per, dst, ldd};
    if (nt <= 1) run_share(&s, 0, 1);
    else bp_pool_run(nt, run_share, &s);
}
