/*
 * bp_tiny.c - latency of one training step of a tiny network.
 *
 * 4-3-2-1, sigmoid on every layer, binary cross-entropy (fused with the
 * output sigmoid), mean reduction, batch 1, one plain SGD step through
 * bp_net_train_step, cycling through four fixed samples (the same ones as
 * `torch_mlp.py tiny`).  For each dtype: a warm-up, then `repeats` timed runs
 * of `iters` steps; prints the median (and best) nanoseconds per step as one
 * JSON line per dtype.  --iters 0 (the default) picks the count for ~0.25 s
 * per run.  Also counts heap allocations made by libbackprop during the timed
 * steps (same --wrap mechanism as bp_mlp.c).
 *
 * Then the floor: the same step written out by hand for these sizes only
 * (FLOOR_STEP below): every loop has a fixed trip count, so the compiler
 * unrolls it and keeps the vectors in registers. It is no general engine; it
 * measures what a step with exact arithmetic (libm exp, IEEE division) costs
 * on this machine, where forward -> loss -> backward -> update -> the next
 * forward is one serial chain. It computes what backprop computes, in the
 * same order: after its timed runs the trajectory is replayed through
 * bp_net_train_step, and "same_bits" says whether every parameter agrees.
 * One JSON line per dtype with "tool":"floor".
 *
 *   bp_tiny [--iters N] [--repeats R] [--dtype f64|f32|both] [--floor-iters N]
 */
#define _GNU_SOURCE
#include <backprop.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc_count.h" /* n_alloc, n_free while counting */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const double XS[4][4] = {{0.1, 0.9, 0.3, 0.5}, {0.8, 0.2, 0.6, 0.4}, {0.3, 0.3, 0.9, 0.1}, {0.7, 0.6, 0.2, 0.8}};
static const double YS[4] = {1, 0, 1, 0};

/* The 4-3-2-1 network (Xavier, seed 1); NULL (with a message) on failure. */
static bp_net *tiny_net(bp_dtype dt)
{
    bp_net_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.inputs = 4;
    spec.nlayers = 3;
    spec.layers[0] = (bp_layer_spec){3, BP_ACT_SIGMOID, 1, 0};
    spec.layers[1] = (bp_layer_spec){2, BP_ACT_SIGMOID, 1, 0};
    spec.layers[2] = (bp_layer_spec){1, BP_ACT_SIGMOID, 1, 0};
    spec.layout = BP_OUT_IN;
    spec.loss = BP_LOSS_BCE;
    spec.reduction = BP_MEAN;
    bp_net *net = NULL;
    bp_error err;
    if (bp_net_new(&spec, dt, &net, &err)) { fprintf(stderr, "bp_tiny: %s\n", err.msg); return NULL; }
    bp_net_init(net, BP_INIT_XAVIER, 1);
    return net;
}

static int run(bp_dtype dt, long iters, int repeats)
{
    bp_error err;
    bp_net *net = tiny_net(dt);
    if (!net) return 1;

    /* the samples in the net's dtype, one bp_mat view per sample */
    double xd[4][4], yd[4][1];
    float xf[4][4], yf[4][1];
    bp_mat x[4], y[4];
    for (int s = 0; s < 4; s++) {
        for (int j = 0; j < 4; j++) { xd[s][j] = XS[s][j]; xf[s][j] = (float)XS[s][j]; }
        yd[s][0] = YS[s];
        yf[s][0] = (float)YS[s];
        x[s] = (bp_mat){1, 4, dt, dt == BP_F64 ? (void *)xd[s] : (void *)xf[s]};
        y[s] = (bp_mat){1, 1, dt, dt == BP_F64 ? (void *)yd[s] : (void *)yf[s]};
    }
    const double lr = 0.1;
    for (long i = 0; i < 1000; i++) /* warm-up, first-batch allocations */
        if (bp_net_train_step(net, &x[i & 3], &y[i & 3], lr, NULL, &err)) {
            fprintf(stderr, "bp_tiny: %s\n", err.msg);
            return 1;
        }
    if (iters <= 0) { /* ~0.25 s per run */
        long k = 10000;
        for (;;) {
            double t0 = now();
            for (long i = 0; i < k; i++) bp_net_train_step(net, &x[i & 3], &y[i & 3], lr, NULL, &err);
            double d = now() - t0;
            if (d > 0.05) { iters = (long)(k * 0.25 / d) + 1; break; }
            k *= 4;
        }
    }
    double ns[64];
    if (repeats > 64) repeats = 64;
    long a0 = n_alloc;
    counting = 1;
    for (int r = 0; r < repeats; r++) {
        double t0 = now();
        for (long i = 0; i < iters; i++) bp_net_train_step(net, &x[i & 3], &y[i & 3], lr, NULL, &err);
        ns[r] = (now() - t0) / (double)iters * 1e9;
    }
    counting = 0;
    long allocs = n_alloc - a0;
    double loss = 0;
    bp_net_loss_value(net, &x[0], &y[0], &loss, &err);
    double sorted[64];
    memcpy(sorted, ns, sizeof(double) * (size_t)repeats);
    qsort(sorted, (size_t)repeats, sizeof *sorted, cmp_dbl);
    printf("{\"tool\":\"backprop\",\"bench\":\"tiny\",\"dtype\":\"%s\",\"iters\":%ld,\"repeats\":%d,"
           "\"ns_per_step\":%.2f,\"ns_per_step_best\":%.2f,\"allocs_per_step\":%.4f,\"final_loss\":%.6f}\n",
           bp_dtype_name(dt), iters, repeats, sorted[repeats / 2], sorted[0],
           (double)allocs / ((double)iters * repeats), loss);
    bp_net_free(net);
    return 0;
}

/* One dtype: T the type, F the suffix, E its exp, A its fabs. The parameters
 * in backprop's order: W1 (3x4, unit by unit), b1, W2 (2x3), b2, W3 (1x2), b3. */
#define FLOOR_STEP(T, F, E, A)                                                                                    \
    static inline T sig_##F(T z)                                                                                  \
    {                                                                                                             \
        T e = E(-A(z));                                                                                           \
        return z >= 0 ? 1 / (1 + e) : e / (1 + e);                                                               \
    }                                                                                                             \
    struct tiny_##F { T W1[3][4], b1[3], W2[2][3], b2[2], W3[1][2], b3[1]; };                                    \
    static void step_##F(struct tiny_##F *n, const T *x, T y, T lr)                                              \
    {                                                                                                             \
        T a1[3], a2[2], a3, g1[3], g2[2], g3;                                                                     \
        for (int j = 0; j < 3; j++) {                                                                             \
            T z = n->b1[j];                                                                                       \
            for (int p = 0; p < 4; p++) z += n->W1[j][p] * x[p];                                                  \
            a1[j] = sig_##F(z);                                                                                   \
        }                                                                                                         \
        for (int j = 0; j < 2; j++) {                                                                             \
            T z = n->b2[j];                                                                                       \
            for (int p = 0; p < 3; p++) z += n->W2[j][p] * a1[p];                                                 \
            a2[j] = sig_##F(z);                                                                                   \
        }                                                                                                         \
        T z3 = n->b3[0];                                                                                          \
        for (int p = 0; p < 2; p++) z3 += n->W3[0][p] * a2[p];                                                    \
        a3 = sig_##F(z3);                                                                                         \
        g3 = a3 - y; /* dL/dz of BCE on a sigmoid, m = 1 */                                                       \
        for (int p = 0; p < 2; p++) g2[p] = (0 + g3 * n->W3[0][p]) * (a2[p] * (1 - a2[p]));                       \
        for (int p = 0; p < 2; p++) n->W3[0][p] -= lr * (g3 * a2[p]);                                             \
        n->b3[0] -= lr * g3;                                                                                      \
        for (int p = 0; p < 3; p++) {                                                                             \
            T s = 0;                                                                                              \
            for (int j = 0; j < 2; j++) s += g2[j] * n->W2[j][p];                                                 \
            g1[p] = s * (a1[p] * (1 - a1[p]));                                                                    \
        }                                                                                                         \
        for (int j = 0; j < 2; j++) {                                                                             \
            for (int p = 0; p < 3; p++) n->W2[j][p] -= lr * (g2[j] * a1[p]);                                      \
            n->b2[j] -= lr * g2[j];                                                                               \
        }                                                                                                         \
        for (int j = 0; j < 3; j++) {                                                                             \
            for (int p = 0; p < 4; p++) n->W1[j][p] -= lr * (g1[j] * x[p]);                                       \
            n->b1[j] -= lr * g1[j];                                                                               \
        }                                                                                                         \
    }

FLOOR_STEP(double, f64, exp, fabs)
FLOOR_STEP(float, f32, expf, fabsf)

/* Time `iters` steps `repeats` times from the net's initial parameters, then
 * replay the same number of steps through bp_net_train_step and compare. */
#define FLOOR_RUN(T, F, DT)                                                                                       \
    static int floor_##F(long iters, int repeats)                                                                 \
    {                                                                                                             \
        bp_net *net = tiny_net(DT);                                                                               \
        if (!net) return 1;                                                                                       \
        struct tiny_##F n;                                                                                        \
        memcpy(&n, bp_net_params(net), sizeof n);                                                                 \
        T xs[4][4], ys[4], lr = (T)0.1;                                                                           \
        for (int s = 0; s < 4; s++) {                                                                             \
            for (int j = 0; j < 4; j++) xs[s][j] = (T)XS[s][j];                                                   \
            ys[s] = (T)YS[s];                                                                                     \
        }                                                                                                         \
        double ns[64];                                                                                            \
        if (repeats > 64) repeats = 64;                                                                           \
        long total = 0;                                                                                           \
        for (int r = 0; r < repeats; r++) {                                                                       \
            double t0 = now();                                                                                    \
            for (long i = 0; i < iters; i++) step_##F(&n, xs[i & 3], ys[i & 3], lr);                              \
            ns[r] = (now() - t0) / (double)iters * 1e9;                                                           \
            total += iters;                                                                                       \
        }                                                                                                         \
        bp_mat x[4], y[4];                                                                                        \
        for (int s = 0; s < 4; s++) {                                                                             \
            x[s] = (bp_mat){1, 4, DT, xs[s]};                                                                     \
            y[s] = (bp_mat){1, 1, DT, &ys[s]};                                                                    \
        }                                                                                                         \
        bp_error err;                                                                                             \
        for (long t = 0; t < total; t++) /* the same sample order: i & 3 restarts each repeat */                  \
            if (bp_net_train_step(net, &x[(t % iters) & 3], &y[(t % iters) & 3], 0.1, NULL, &err)) {              \
                fprintf(stderr, "bp_tiny: %s\n", err.msg);                                                        \
                return 1;                                                                                         \
            }                                                                                                     \
        int same = !memcmp(&n, bp_net_params(net), sizeof n);                                                     \
        qsort(ns, (size_t)repeats, sizeof *ns, cmp_dbl);                                                          \
        printf("{\"tool\":\"floor\",\"bench\":\"tiny\",\"dtype\":\"%s\",\"iters\":%ld,\"repeats\":%d,"            \
               "\"ns_per_step\":%.2f,\"ns_per_step_best\":%.2f,\"same_bits\":%s}\n",                              \
               #F, iters, repeats, ns[repeats / 2], ns[0], same ? "true" : "false");                              \
        bp_net_free(net);                                                                                         \
        return 0;                                                                                                 \
    }

FLOOR_RUN(double, f64, BP_F64)
FLOOR_RUN(float, f32, BP_F32)

int main(int argc, char **argv)
{
    long iters = 0, floor_iters = 2000000;
    int repeats = 7;
    const char *which = "both";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--iters")) iters = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeats")) repeats = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dtype")) which = argv[i + 1];
        else if (!strcmp(argv[i], "--floor-iters")) floor_iters = atol(argv[i + 1]);
        else { fprintf(stderr, "bp_tiny: unknown option %s\n", argv[i]); return 2; }
    }
    if (repeats < 1) repeats = 1;
    bp_set_threads(1);
    int rc = 0;
    if (floor_iters < 1) floor_iters = 1;
    if (strcmp(which, "f32") != 0) rc |= run(BP_F64, iters, repeats) | floor_f64(floor_iters, repeats);
    if (strcmp(which, "f64") != 0) rc |= run(BP_F32, iters, repeats) | floor_f32(floor_iters, repeats);
    return rc;
}
