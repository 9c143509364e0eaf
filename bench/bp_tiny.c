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
 *   bp_tiny [--iters N] [--repeats R] [--dtype f64|f32|both]
 */
#define _GNU_SOURCE
#include <backprop.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t s);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
static volatile int counting;
static long n_alloc;
void *__wrap_malloc(size_t n) { if (counting) n_alloc++; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t s) { if (counting) n_alloc++; return __real_calloc(n, s); }
void *__wrap_realloc(void *p, size_t n) { if (counting) n_alloc++; return __real_realloc(p, n); }
void __wrap_free(void *p) { __real_free(p); }

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

static int run(bp_dtype dt, long iters, int repeats)
{
    bp_error err;
    bp_net_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.inputs = 4;
    spec.nlayers = 3;
    spec.layers[0] = (bp_layer_spec){3, BP_ACT_SIGMOID, 1};
    spec.layers[1] = (bp_layer_spec){2, BP_ACT_SIGMOID, 1};
    spec.layers[2] = (bp_layer_spec){1, BP_ACT_SIGMOID, 1};
    spec.layout = BP_OUT_IN;
    spec.loss = BP_LOSS_BCE;
    spec.reduction = BP_MEAN;
    bp_net *net = NULL;
    if (bp_net_new(&spec, dt, &net, &err)) { fprintf(stderr, "bp_tiny: %s\n", err.msg); return 1; }
    bp_net_init(net, BP_INIT_XAVIER, 1);

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

int main(int argc, char **argv)
{
    long iters = 0;
    int repeats = 7;
    const char *which = "both";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--iters")) iters = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeats")) repeats = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dtype")) which = argv[i + 1];
        else { fprintf(stderr, "bp_tiny: unknown option %s\n", argv[i]); return 2; }
    }
    if (repeats < 1) repeats = 1;
    bp_set_threads(1);
    int rc = 0;
    if (strcmp(which, "f32") != 0) rc |= run(BP_F64, iters, repeats);
    if (strcmp(which, "f64") != 0) rc |= run(BP_F32, iters, repeats);
    return rc;
}
