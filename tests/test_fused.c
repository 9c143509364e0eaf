/* test_fused.c - the fused training step (src/nn/fused.c) against the graph
 * path (the reference) on every golden network and example: the same loss,
 * the same gradients (1e-12 relative in f64, 1e-4 in f32), the same outputs
 * (networks with the bias trick are refused: they train on the graph path).
 * And a batch given by row numbers into a larger dataset (the trainer's
 * way, bp_fused_backprop_rows) on networks big enough for the own sgemm:
 * the same bits as the gathered batch, and close to the graph path. */
#define _DEFAULT_SOURCE
#include "backprop.h"
#include "check.h"
#include "nn/fused.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int close_to(double a, double b, double rtol, double atol)
{
    return fabs(a - b) <= rtol * fmax(fabs(a), fabs(b)) + atol;
}

/* at0: relu'(0) of both paths (bp_kinks). */
static void run(const char *path, bp_dtype dt, int at0)
{
    bp_model *m;
    bp_error err;
    if (bp_model_load(path, dt, &m, &err)) { CHECK(0, "%s", err.msg); return; }
    bp_net *net = bp_model_net(m);
    bp_net_set_kinks(net, &(bp_kinks){at0, BP_TIE_HALF});
    bp_mat x, y;
    bp_model_data(m, &x, &y);
    double rtol = dt == BP_F64 ? 1e-12 : 2e-4, atol = dt == BP_F64 ? 1e-13 : 1e-5;
    size_t n = bp_net_nparams(net), es = dt == BP_F64 ? 8 : 4;
    double lg, lf;
    CHECK(bp_net_backprop(net, &x, &y, 0, &lg, &err) == BP_OK, "%s: graph: %s", path, err.msg);
    void *g = malloc(n * es);
    memcpy(g, bp_net_grads(net), n * es);
    bp_mat out_g = bp_net_a(net, bp_net_get_spec(net)->nlayers - 1);
    memset(bp_net_grads(net), 0x7f, n * es);   /* the fused step must overwrite every gradient */
    const bp_net_spec *s = bp_net_get_spec(net);
    int trick = 0;
    for (int l = 0; l < s->nlayers; l++) trick |= s->layers[l].bias_trick;
    if (trick) {   /* not the fused step's: the network takes the graph path (test_trick) */
        CHECK(bp_fused_backprop(net, &x, &y, &lf, &err) == BP_E_ARG && strstr(err.msg, "bias trick"), "%s: fused took the "
              "bias trick", path);
        free(g);
        bp_model_free(m);
        return;
    }
    CHECK(bp_fused_backprop(net, &x, &y, &lf, &err) == BP_OK, "%s: fused: %s", path, err.msg);
    CHECK(close_to(lg, lf, rtol, atol), "%s (%s): loss graph %.17g fused %.17g", path, bp_dtype_name(dt), lg, lf);
    bp_mat gm = {1, (int)n, dt, g}, fm = {1, (int)n, dt, bp_net_grads(net)};
    int bad = -1;
    for (size_t i = 0; i < n && bad < 0; i++)
        if (!close_to(bp_mat_get(&gm, 0, (int)i), bp_mat_get(&fm, 0, (int)i), rtol, atol)) bad = (int)i;
    CHECK(bad < 0, "%s (%s): gradient %d: graph %.17g fused %.17g", path, bp_dtype_name(dt), bad,
          bad >= 0 ? bp_mat_get(&gm, 0, bad) : 0, bad >= 0 ? bp_mat_get(&fm, 0, bad) : 0);
    bp_mat out_f = bp_fused_output(net);
    int same = out_f.rows == out_g.rows && out_f.cols == out_g.cols;
    for (int i = 0; same && i < out_g.rows; i++)
        for (int j = 0; j < out_g.cols; j++)
            same &= close_to(bp_mat_get(&out_g, i, j), bp_mat_get(&out_f, i, j), rtol, atol);
    CHECK(same, "%s (%s): outputs differ", path, bp_dtype_name(dt));
    free(g);
    bp_model_free(m);
}

static int run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d) return 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".json") || strstr(e->d_name, ".expected.")) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        for (int at0 = 0; at0 <= 1; at0++) {
            run(path, BP_F64, at0);
            run(path, BP_F32, at0);
        }
        n++;
    }
    closedir(d);
    return n;
}

/* The spec of an MLP: inputs, then n layers (units, activation, with bias). */
static bp_net_spec mlp(int inputs, int n, const int *units, const bp_act *acts, bp_layout layout, bp_loss loss)
{
    bp_net_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.inputs = inputs;
    spec.nlayers = n;
    for (int l = 0; l < n; l++) spec.layers[l] = (bp_layer_spec){units[l], acts[l], 1, 0};
    spec.layout = layout;
    spec.loss = loss;
    spec.reduction = BP_MEAN;
    return spec;
}

/* A f32 net 100-64-48-k (relu, relu or sigmoid, output act) on a batch of
 * 40 rows scattered over a 300-row pool. */
static void by_rows(bp_layout layout, bp_act hidden, bp_act out, bp_loss loss, int k)
{
    enum { POOL = 300, M = 40, F = 100 };
    bp_net_spec spec = mlp(F, 3, (int[]){64, 48, k}, (bp_act[]){BP_ACT_RELU, hidden, out}, layout, loss);
    bp_net *net;
    bp_error err;
    if (bp_net_new(&spec, BP_F32, &net, &err)) { CHECK(0, "%s", err.msg); return; }
    bp_net_init(net, BP_INIT_HE, 7);
    float *pool = malloc(sizeof(float) * POOL * F), *xg = malloc(sizeof(float) * M * F), *yv = calloc(M * k, sizeof(float));
    int rows[M];
    unsigned r = 12345;
    for (int i = 0; i < POOL * F; i++) { r = r * 1103515245u + 12345u; pool[i] = (float)((r >> 8) & 0xffff) / 65536.0f; }
    for (int i = 0; i < M; i++) {
        rows[i] = (i * 97 + 31) % POOL;
        memcpy(xg + i * F, pool + (size_t)rows[i] * F, sizeof(float) * F);
        yv[i * k + (k > 1 ? i % k : 0)] = (float)(k > 1 || i % 2);
    }
    bp_mat x = {M, F, BP_F32, xg}, y = {M, k, BP_F32, yv};
    size_t n = bp_net_nparams(net);
    float *gd = malloc(n * sizeof(float)), *gg = malloc(n * sizeof(float));
    double ld, lr, lg;
    CHECK(bp_fused_backprop(net, &x, &y, &ld, &err) == BP_OK, "dense: %s", err.msg);
    memcpy(gd, bp_net_grads(net), n * sizeof(float));
    CHECK(bp_net_backprop(net, &x, &y, 0, &lg, &err) == BP_OK, "graph: %s", err.msg);
    memcpy(gg, bp_net_grads(net), n * sizeof(float));
    memset(bp_net_grads(net), 0x7f, n * sizeof(float));
    CHECK(bp_fused_backprop_rows(net, pool, F, rows, M, &y, &lr, NULL, &err) == BP_OK, "rows: %s", err.msg);
    CHECK(ld == lr && !memcmp(gd, bp_net_grads(net), n * sizeof(float)),
          "layout %d act %d/%d: the batch by rows differs from the gathered batch (loss %.9g vs %.9g)", layout, hidden,
          out, lr, ld);
    int bad = -1;
    for (size_t i = 0; i < n && bad < 0; i++)
        if (!close_to(gg[i], ((float *)bp_net_grads(net))[i], 2e-4, 1e-5)) bad = (int)i;
    CHECK(bad < 0 && close_to(lg, lr, 2e-4, 1e-6), "layout %d act %d/%d: rows vs graph: loss %.9g vs %.9g, gradient %d",
          layout, hidden, out, lr, lg, bad);
    free(pool); free(xg); free(yv); free(gd); free(gg);
    bp_net_free(net);
}

/* bp_net_train_step (one SGD step; on a tiny net and one sample the update
 * happens inside the pass) against the gradient of the graph path and of
 * bp_fused_backprop followed by theta -= lr g. The 4-3-2-1 net's widths take
 * small_pass's loops of fixed trip count; wide's (6-5-7-2) its general ones. */
static void train_step(bp_dtype dt, bp_layout layout, int m, double lr, int wide)
{
    bp_net_spec spec = wide ? mlp(6, 3, (int[]){5, 7, 2}, (bp_act[]){BP_ACT_TANH, BP_ACT_SIGMOID, BP_ACT_SIGMOID},
                                  layout, BP_LOSS_BCE)
                            : mlp(4, 3, (int[]){3, 2, 1}, (bp_act[]){BP_ACT_SIGMOID, BP_ACT_TANH, BP_ACT_SIGMOID},
                                  layout, BP_LOSS_BCE);
    bp_net *a, *b, *c;
    bp_error err;
    if (bp_net_new(&spec, dt, &a, &err) || bp_net_new(&spec, dt, &b, &err) || bp_net_new(&spec, dt, &c, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    bp_net_init(a, BP_INIT_XAVIER, 3); bp_net_init(b, BP_INIT_XAVIER, 3); bp_net_init(c, BP_INIT_XAVIER, 3);
    double xd[18] = {0.1, 0.9, 0.3, 0.5, 0.8, 0.2, 0.6, 0.4, 0.3, 0.3, 0.9, 0.1, -0.7, 0.2, 0.5, -0.4, 0.8, 0.6},
           yd[6] = {1, 0, 1, 1, 0, 0};
    bp_mat x = {m, spec.inputs, BP_F64, xd}, y = {m, bp_spec_outputs(&spec), BP_F64, yd};
    size_t n = bp_net_nparams(a), es = dt == BP_F64 ? 8 : 4;
    for (int step = 0; step < 3; step++) {
        double la, lb, lc;
        CHECK(bp_net_train_step(a, &x, &y, lr, &la, &err) == BP_OK, "train_step: %s", err.msg);
        CHECK(bp_fused_backprop(b, &x, &y, &lb, &err) == BP_OK, "fused: %s", err.msg);
        CHECK(bp_net_backprop(c, &x, &y, 0, &lc, &err) == BP_OK, "graph: %s", err.msg);
        for (size_t i = 0; i < n; i++) {
            bp_mat pb = {1, (int)n, dt, bp_net_params(b)}, gb = {1, (int)n, dt, bp_net_grads(b)};
            bp_mat pc = {1, (int)n, dt, bp_net_params(c)}, gc = {1, (int)n, dt, bp_net_grads(c)};
            bp_mat_set(&pb, 0, (int)i, dt == BP_F64 ? bp_mat_get(&pb, 0, (int)i) - lr * bp_mat_get(&gb, 0, (int)i)
                                                    : (float)bp_mat_get(&pb, 0, (int)i) - (float)lr * (float)bp_mat_get(&gb, 0, (int)i));
            bp_mat_set(&pc, 0, (int)i, bp_mat_get(&pc, 0, (int)i) - lr * bp_mat_get(&gc, 0, (int)i));
        }
        CHECK(la == lb && close_to(la, lc, dt == BP_F64 ? 1e-12 : 1e-5, 1e-7), "step %d: loss %.17g / %.17g / %.17g", step, la, lb, lc);
    }
    CHECK(!memcmp(bp_net_params(a), bp_net_params(b), n * es), "%s layout %d m %d wide %d: bp_net_train_step differs from "
          "bp_fused_backprop + theta -= lr g", bp_dtype_name(dt), layout, m, wide);
    bp_mat pa = {1, (int)n, dt, bp_net_params(a)}, pc = {1, (int)n, dt, bp_net_params(c)};
    int bad = -1;
    for (size_t i = 0; i < n && bad < 0; i++)
        if (!close_to(bp_mat_get(&pa, 0, (int)i), bp_mat_get(&pc, 0, (int)i), dt == BP_F64 ? 1e-12 : 1e-5, 1e-7)) bad = (int)i;
    CHECK(bad < 0, "%s layout %d m %d: parameter %d after 3 steps differs from the graph path's", bp_dtype_name(dt), layout, m, bad);
    bp_net_free(a); bp_net_free(b); bp_net_free(c);
}

/* A smaller batch after a larger one can need more packing space (a product
 * whose k is the batch size is cut into k blocks by size: 400 -> 2 x 200,
 * 300 -> 1 x 300): the step must grow it, and give the same bits as a fresh
 * net. Under ASan a too small space is an overflow. */
static void shrinking_batch(void)
{
    bp_net_spec spec = mlp(100, 2, (int[]){64, 10}, (bp_act[]){BP_ACT_RELU, BP_ACT_SOFTMAX}, BP_OUT_IN, BP_LOSS_CE);
    bp_net *a, *b;
    bp_error err;
    if (bp_net_new(&spec, BP_F32, &a, &err) || bp_net_new(&spec, BP_F32, &b, &err)) { CHECK(0, "%s", err.msg); return; }
    bp_net_init(a, BP_INIT_HE, 2); bp_net_init(b, BP_INIT_HE, 2);
    float *x = malloc(sizeof(float) * 400 * 100), *y = calloc(400 * 10, sizeof(float));
    for (int i = 0; i < 400 * 100; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f;
    for (int i = 0; i < 400; i++) y[i * 10 + i % 10] = 1;
    bp_mat x4 = {400, 100, BP_F32, x}, y4 = {400, 10, BP_F32, y}, x3 = {300, 100, BP_F32, x}, y3 = {300, 10, BP_F32, y};
    double la, lb;
    CHECK(bp_fused_backprop(a, &x4, &y4, &la, &err) == BP_OK, "%s", err.msg);
    CHECK(bp_fused_backprop(a, &x3, &y3, &la, &err) == BP_OK, "%s", err.msg);
    CHECK(bp_fused_backprop(b, &x3, &y3, &lb, &err) == BP_OK, "%s", err.msg);
    CHECK(la == lb && !memcmp(bp_net_grads(a), bp_net_grads(b), bp_net_nparams(a) * sizeof(float)),
          "batch 300 after batch 400 differs from batch 300 on a fresh net");
    free(x); free(y);
    bp_net_free(a); bp_net_free(b);
}

/* relu'(0) = 1 in the fused step: a relu net with integer weights, inputs
 * and zero biases, so that many pre-activations are exactly 0, in both of
 * the fused step's paths (small_pass: narrow, few rows; fused_pass: wide or
 * many rows), against the graph path with the same convention; and the
 * convention changes the gradients there. */
static void kinks(bp_dtype dt, int width, int m, bp_layout layout)
{
    bp_net_spec spec = mlp(5, 3, (int[]){width, width, 2}, (bp_act[]){BP_ACT_RELU, BP_ACT_RELU, BP_ACT_LINEAR},
                           layout, BP_LOSS_SQUARED);
    spec.reduction = BP_SUM;   /* integers throughout: both paths exact */
    bp_net *net;
    bp_error err;
    if (bp_net_new(&spec, dt, &net, &err)) { CHECK(0, "%s", err.msg); return; }
    size_t n = bp_net_nparams(net), es = dt == BP_F64 ? 8 : 4;
    bp_mat P = {1, (int)n, dt, bp_net_params(net)};
    for (size_t i = 0; i < n; i++) bp_mat_set(&P, 0, (int)i, (double)((int)((i * 7) % 5) - 2));   /* -2..2 */
    for (int l = 0; l < 3; l++) {   /* zero biases */
        bp_mat b = bp_net_bias(net, l);
        for (int j = 0; j < b.cols; j++) bp_mat_set(&b, 0, j, 0);
    }
    double *xd = malloc(sizeof(double) * m * 5), *yd = malloc(sizeof(double) * m * 2);
    for (int i = 0; i < m * 5; i++) xd[i] = (double)((i * 3) % 3 - 1);
    for (int i = 0; i < m * 2; i++) yd[i] = (double)(i % 3);
    bp_mat x = {m, 5, BP_F64, xd}, y = {m, 2, BP_F64, yd};
    void *g[2] = {malloc(n * es), malloc(n * es)};
    int zeros = 0;
    for (int at0 = 0; at0 <= 1; at0++) {
        bp_net_set_kinks(net, &(bp_kinks){at0, BP_TIE_HALF});
        double lg, lf;
        CHECK(bp_net_backprop(net, &x, &y, 0, &lg, &err) == BP_OK, "graph: %s", err.msg);
        for (int l = 0; l < 2 && !at0; l++) {
            bp_mat z = bp_net_z(net, l);
            for (int i = 0; i < z.rows; i++)
                for (int j = 0; j < z.cols; j++) zeros += bp_mat_get(&z, i, j) == 0;
        }
        memcpy(g[at0], bp_net_grads(net), n * es);
        memset(bp_net_grads(net), 0x7f, n * es);
        CHECK(bp_fused_backprop(net, &x, &y, &lf, &err) == BP_OK, "fused: %s", err.msg);
        double rtol = dt == BP_F64 ? 1e-12 : 2e-5;
        bp_mat gg = {1, (int)n, dt, g[at0]}, gf = {1, (int)n, dt, bp_net_grads(net)};
        int bad = -1;
        for (size_t i = 0; i < n && bad < 0; i++)
            if (!close_to(bp_mat_get(&gg, 0, (int)i), bp_mat_get(&gf, 0, (int)i), rtol, 1e-12)) bad = (int)i;
        CHECK(close_to(lg, lf, rtol, 0) && bad < 0, "%s width %d m %d layout %d relu'(0) = %d: the fused step differs "
              "from the graph at gradient %d", bp_dtype_name(dt), width, m, layout, at0, bad);
    }
    CHECK(zeros > 0 && memcmp(g[0], g[1], n * es), "%s width %d m %d: %d pre-activations at 0, and the convention "
          "%s the gradients", bp_dtype_name(dt), width, m, zeros, memcmp(g[0], g[1], n * es) ? "changes" : "does not change");
    free(xd); free(yd); free(g[0]); free(g[1]);
    bp_net_free(net);
}

int main(void)
{
    bp_set_threads(1);
    for (int l = 0; l < 2; l++)
        for (int dt = 0; dt < 2; dt++) {
            kinks(dt ? BP_F64 : BP_F32, 4, 3, l ? BP_IN_OUT : BP_OUT_IN);    /* small_pass */
            kinks(dt ? BP_F64 : BP_F32, 24, 40, l ? BP_IN_OUT : BP_OUT_IN);  /* fused_pass */
        }
    shrinking_batch();
    for (int l = 0; l < 2; l++)
        for (int m = 1; m <= 3; m += 2) {
            for (int sign = 1; sign >= -1; sign -= 2) { /* a negative rate too: theta -= lr g as written */
                for (int wide = 0; wide < 2; wide++) {
                    train_step(BP_F64, l ? BP_IN_OUT : BP_OUT_IN, m, 0.5 * sign, wide);
                    train_step(BP_F32, l ? BP_IN_OUT : BP_OUT_IN, m, 0.5 * sign, wide);
                }
            }
        }
    /* BP_TEST_MAX_THREADS=1: OpenBLAS's threads do not start under qemu-user (scripts/cross-test-arm64.sh) */
    int max_threads = check_max_threads(2);
    for (int threads = 1; threads <= max_threads; threads++) { /* the own sgemm on one thread and on two (core/pool.c) */
        bp_set_threads(threads);
        for (int l = 0; l < 2; l++) {
            bp_layout lay = l ? BP_IN_OUT : BP_OUT_IN;
            by_rows(lay, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 10);
            by_rows(lay, BP_ACT_SIGMOID, BP_ACT_SIGMOID, BP_LOSS_BCE, 1);
            by_rows(lay, BP_ACT_TANH, BP_ACT_LINEAR, BP_LOSS_SQUARED, 3);
        }
    }
    bp_set_threads(1);
    int n = run_dir("tests/golden/cases") + run_dir("examples");
    CHECK(n >= 86, "expected the 80 golden cases and 6 examples, found %d", n);
    return check_done();
}
