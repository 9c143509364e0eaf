/*
 * peak.c - one core's FP32 peak, measured with a loop of independent FMAs.
 *
 * 16 accumulator chains of fused multiply-adds on zmm registers (AVX-512F),
 * enough to cover the FMA latency (4 cycles) times the FMA pipes (2) with
 * room to spare (12 chains on ymm, which has only 16 registers).  Each FMA on a 16-float vector is 32 FLOP.  Falls back to
 * ymm (AVX2 + FMA) on a CPU without AVX-512, and always reports the AVX2
 * figure too: it is the ceiling of OpenBLAS's Haswell kernels.
 *
 * Output: one JSON line
 *   {"tool":"peak","avx512_gflops":..,"avx2_gflops":..,"peak_gflops":..,"isa":"avx512"}
 * peak_gflops is the best ISA's figure: the denominator of "% of peak".
 * Best of several timed repeats of ~0.2 s each, on one thread.
 */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

__attribute__((target("avx512f"), noinline)) static float fma_avx512(long iters, float seed)
{
    /* 16 named accumulators (an array is not kept in registers at -O2) */
#define Z(i) __m512 a##i = _mm512_set1_ps(seed + (float)(i) * 1e-3f)
    Z(0); Z(1); Z(2); Z(3); Z(4); Z(5); Z(6); Z(7); Z(8); Z(9); Z(10); Z(11); Z(12); Z(13); Z(14); Z(15);
#undef Z
    const __m512 m = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (long i = 0; i < iters; i++) {
#define F(i) a##i = _mm512_fmadd_ps(a##i, m, b)
        F(0); F(1); F(2); F(3); F(4); F(5); F(6); F(7); F(8); F(9); F(10); F(11); F(12); F(13); F(14); F(15);
#undef F
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7))),
                             _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)),
                                           _mm512_add_ps(_mm512_add_ps(a12, a13), _mm512_add_ps(a14, a15))));
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"), noinline)) static float fma_avx2(long iters, float seed)
{
    /* 12 chains: AVX2 has only 16 ymm registers and two hold the constants */
#define Z(i) __m256 a##i = _mm256_set1_ps(seed + (float)(i) * 1e-3f)
    Z(0); Z(1); Z(2); Z(3); Z(4); Z(5); Z(6); Z(7); Z(8); Z(9); Z(10); Z(11);
#undef Z
    const __m256 m = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (long i = 0; i < iters; i++) {
#define F(i) a##i = _mm256_fmadd_ps(a##i, m, b)
        F(0); F(1); F(2); F(3); F(4); F(5); F(6); F(7); F(8); F(9); F(10); F(11);
#undef F
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                           _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7))),
                             _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float v[8];
    _mm256_storeu_ps(v, s);
    return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}

static volatile float sink;

/* GFLOP/s of `fn` (`chains` FMAs of `lanes` floats per iteration): best of
 * `reps` runs of ~0.2 s. */
static double measure(float (*fn)(long, float), int chains, int lanes, int reps)
{
    long iters = 1 << 16;
    for (;;) { /* calibrate to ~0.2 s */
        double t0 = now();
        sink = fn(iters, 1.0f);
        double dt = now() - t0;
        if (dt > 0.05) { iters = (long)((double)iters * 0.2 / dt) + 1; break; }
        iters *= 4;
    }
    double best = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        sink = fn(iters, 1.0f + (float)r);
        double dt = now() - t0;
        double gf = (double)iters * chains * lanes * 2.0 / dt * 1e-9;
        if (gf > best) best = gf;
    }
    return best;
}

int main(int argc, char **argv)
{
    int reps = 7;
    if (argc > 1 && strcmp(argv[1], "--quick") == 0) reps = 3;
    __builtin_cpu_init();
    int has512 = __builtin_cpu_supports("avx512f");
    int has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    double g512 = has512 ? measure(fma_avx512, 16, 16, reps) : 0;
    double g2 = has2 ? measure(fma_avx2, 12, 8, reps) : 0;
    double peak = g512 > g2 ? g512 : g2;
    printf("{\"tool\":\"peak\",\"avx512_gflops\":%.1f,\"avx2_gflops\":%.1f,\"peak_gflops\":%.1f,"
           "\"isa\":\"%s\",\"chains\":\"16 zmm / 12 ymm\"}\n",
           g512, g2, peak, has512 ? "avx512" : has2 ? "avx2" : "none");
    return 0;
}
