/*
 * peak.c - the machine's floating-point peak, measured with loops of
 * independent FMAs.
 *
 * 16 accumulator chains of fused multiply-adds on zmm registers (AVX-512F),
 * enough to cover the FMA latency (4 cycles) times the FMA pipes (2) with
 * room to spare (12 chains on ymm, which has only 16 registers).  Each FMA
 * on a 16-float vector is 32 FLOP (16 on 8 doubles).  Measures FP32 and
 * FP64 with both ISAs the CPU has (the AVX2 figure is the ceiling of
 * OpenBLAS's Haswell kernels and of backprop's AVX2 kernel), then the best
 * FP32 loop on two threads at once: the two-core peak, which shows whether
 * the second vCPU was free when it ran.
 *
 * Output: one JSON line
 *   {"tool":"peak","avx512_gflops":..,"avx2_gflops":..,"peak_gflops":..,
 *    "avx512_f64_gflops":..,"avx2_f64_gflops":..,"peak_f64_gflops":..,
 *    "peak2_gflops":..,"isa":"avx512"}
 * peak_gflops (one core, FP32, the best ISA) is the denominator of "% of
 * peak"; peak_f64_gflops that of f64 runs. Best of several timed repeats of
 * ~0.2 s each.
 *
 *   peak [--quick] [--threads N]     (N threads for the multi-core figure, default 2)
 */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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

__attribute__((target("avx512f"), noinline)) static float fma_avx512_f64(long iters, float seed)
{
#define Z(i) __m512d a##i = _mm512_set1_pd(seed + (double)(i) * 1e-3)
    Z(0); Z(1); Z(2); Z(3); Z(4); Z(5); Z(6); Z(7); Z(8); Z(9); Z(10); Z(11); Z(12); Z(13); Z(14); Z(15);
#undef Z
    const __m512d m = _mm512_set1_pd(0.999999), b = _mm512_set1_pd(1e-7);
    for (long i = 0; i < iters; i++) {
#define F(i) a##i = _mm512_fmadd_pd(a##i, m, b)
        F(0); F(1); F(2); F(3); F(4); F(5); F(6); F(7); F(8); F(9); F(10); F(11); F(12); F(13); F(14); F(15);
#undef F
    }
    __m512d s = _mm512_add_pd(_mm512_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)),
                                            _mm512_add_pd(_mm512_add_pd(a4, a5), _mm512_add_pd(a6, a7))),
                              _mm512_add_pd(_mm512_add_pd(_mm512_add_pd(a8, a9), _mm512_add_pd(a10, a11)),
                                            _mm512_add_pd(_mm512_add_pd(a12, a13), _mm512_add_pd(a14, a15))));
    return (float)_mm512_reduce_add_pd(s);
}

__attribute__((target("avx2,fma"), noinline)) static float fma_avx2_f64(long iters, float seed)
{
#define Z(i) __m256d a##i = _mm256_set1_pd(seed + (double)(i) * 1e-3)
    Z(0); Z(1); Z(2); Z(3); Z(4); Z(5); Z(6); Z(7); Z(8); Z(9); Z(10); Z(11);
#undef Z
    const __m256d m = _mm256_set1_pd(0.999999), b = _mm256_set1_pd(1e-7);
    for (long i = 0; i < iters; i++) {
#define F(i) a##i = _mm256_fmadd_pd(a##i, m, b)
        F(0); F(1); F(2); F(3); F(4); F(5); F(6); F(7); F(8); F(9); F(10); F(11);
#undef F
    }
    __m256d s = _mm256_add_pd(_mm256_add_pd(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)),
                                            _mm256_add_pd(_mm256_add_pd(a4, a5), _mm256_add_pd(a6, a7))),
                              _mm256_add_pd(_mm256_add_pd(a8, a9), _mm256_add_pd(a10, a11)));
    double v[4];
    _mm256_storeu_pd(v, s);
    return (float)(v[0] + v[1] + v[2] + v[3]);
}

static volatile float sink;

/* Iterations of `fn` that take about 0.2 s. */
static long calibrate(float (*fn)(long, float))
{
    long iters = 1 << 16;
    for (;;) {
        double t0 = now();
        sink = fn(iters, 1.0f);
        double dt = now() - t0;
        if (dt > 0.05) return (long)((double)iters * 0.2 / dt) + 1;
        iters *= 4;
    }
}

/* GFLOP/s of `fn` (`chains` FMAs of `lanes` values per iteration): best of
 * `reps` runs of ~0.2 s. */
static double measure(float (*fn)(long, float), int chains, int lanes, int reps)
{
    long iters = calibrate(fn);
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

typedef struct {
    float (*fn)(long, float);
    long iters;
    pthread_barrier_t *start;
    double t0, t1;
} job;

static void *run_job(void *p)
{
    job *j = p;
    pthread_barrier_wait(j->start);
    j->t0 = now();
    sink = j->fn(j->iters, 1.5f);
    j->t1 = now();
    return NULL;
}

/* GFLOP/s of `fn` on `nt` threads at once (the sum; each thread's loop is
 * timed from the common start to the last one's end): best of `reps`. */
static double measure_threads(float (*fn)(long, float), int chains, int lanes, int reps, int nt)
{
    long iters = calibrate(fn);
    double best = 0;
    for (int r = 0; r < reps; r++) {
        pthread_t th[64];
        job jobs[64];
        pthread_barrier_t b;
        pthread_barrier_init(&b, NULL, (unsigned)nt);
        for (int i = 0; i < nt; i++) {
            jobs[i] = (job){fn, iters, &b, 0, 0};
            pthread_create(&th[i], NULL, run_job, &jobs[i]);
        }
        double t0 = 1e300, t1 = 0;
        for (int i = 0; i < nt; i++) {
            pthread_join(th[i], NULL);
            if (jobs[i].t0 < t0) t0 = jobs[i].t0;
            if (jobs[i].t1 > t1) t1 = jobs[i].t1;
        }
        pthread_barrier_destroy(&b);
        double gf = (double)iters * chains * lanes * 2.0 * nt / (t1 - t0) * 1e-9;
        if (gf > best) best = gf;
    }
    return best;
}

int main(int argc, char **argv)
{
    int reps = 7, nt = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) reps = 3;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) nt = atoi(argv[++i]);
        else { fprintf(stderr, "usage: peak [--quick] [--threads N]\n"); return 2; }
    }
    if (nt < 1 || nt > 64) nt = 2;
    __builtin_cpu_init();
    int has512 = __builtin_cpu_supports("avx512f");
    int has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    double g512 = has512 ? measure(fma_avx512, 16, 16, reps) : 0;
    double g2 = has2 ? measure(fma_avx2, 12, 8, reps) : 0;
    double d512 = has512 ? measure(fma_avx512_f64, 16, 8, reps) : 0;
    double d2 = has2 ? measure(fma_avx2_f64, 12, 4, reps) : 0;
    double peak = g512 > g2 ? g512 : g2, peakd = d512 > d2 ? d512 : d2;
    double peak2 = g512 > g2 ? measure_threads(fma_avx512, 16, 16, reps, nt)
                 : has2      ? measure_threads(fma_avx2, 12, 8, reps, nt) : 0;
    printf("{\"tool\":\"peak\",\"avx512_gflops\":%.1f,\"avx2_gflops\":%.1f,\"peak_gflops\":%.1f,"
           "\"avx512_f64_gflops\":%.1f,\"avx2_f64_gflops\":%.1f,\"peak_f64_gflops\":%.1f,"
           "\"peak2_gflops\":%.1f,\"peak2_threads\":%d,"
           "\"isa\":\"%s\",\"chains\":\"16 zmm / 12 ymm\"}\n",
           g512, g2, peak, d512, d2, peakd, peak2, nt, has512 ? "avx512" : has2 ? "avx2" : "none");
    return 0;
}
