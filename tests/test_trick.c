/* test_trick.c - the bias trick ("bias": "trick"): a layer whose W carries the
 * bias as its first column (out_in) or row (in_out), its input extended with a
 * leading 1, gives the values and gradients of the same layer with a separate
 * b (every z, a, dL/da, dL/dz, dL/dx, and dL/dW = [dL/db | dL/dW]); the same
 * initialisation; training (the graph path) ends at the weights of the fused
 * step on the separate-b network; weight decay leaves the bias alone; model
 * files keep it; mistakes are refused. (PyTorch's values for trick layers are
 * the golden cases tests/golden/cases/trick_*.json, run by test_golden.) */
#define _POSIX_C_SOURCE 200809L
#include "backprop.h"
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 88172645463325252ull;
static double urand(void)   /* xorshift64: U(-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0 * 2 - 1;
}

static int close_rel(double a, double b, double tol) { return fabs(a - b) <= tol * fmax(fmax(fabs(a), fabs(b)), 1e-12); }

static bp_net *new_net(const bp_net_spec *s, bp_dtype dt)
{
    bp_net *net = NULL;
    bp_error err;
    if (bp_net_new(s, dt, &net, &err)) { fprintf(stderr, "bp_net_new: %s\n", err.msg); exit(2); }
    return net;
}

/* The same network with the bias of the layers in `mask` moved into W. */
static bp_net_spec trick_spec(const bp_net_spec *s, unsigned mask)
{
    bp_net_spec t = *s;
    for (int l = 0; l < t.nlayers; l++)
        if (mask >> l & 1) { t.layers[l].bias = 0; t.layers[l].bias_trick = 1; }
    return t;
}

/* W entry of the trick layer that holds W[r][c] (c = -1: the bias of unit r) of the separate one. */
static double trick_get(bp_mat *T, bp_layout lay, int r, int c)
{
    return lay == BP_OUT_IN ? bp_mat_get(T, r, c + 1) : bp_mat_get(T, c + 1, r);
}

/* Copy a's numbers into t (the layers of mask carrying their bias in W). */
static void copy_into(bp_net *a, bp_net *t, unsigned mask)
{
    const bp_net_spec *s = bp_net_get_spec(a);
    for (int l = 0; l < s->nlayers; l++) {
        bp_mat W = bp_net_weight(a, l), B = bp_net_bias(a, l), TW = bp_net_weight(t, l), TB = bp_net_bias(t, l);
        int trick = mask >> l & 1, oi = s->layout == BP_OUT_IN, u = s->layers[l].units;
        for (int i = 0; i < W.rows; i++)
            for (int j = 0; j < W.cols; j++) bp_mat_set(&TW, i + (trick && !oi), j + (trick && oi), bp_mat_get(&W, i, j));
        for (int j = 0; j < u; j++) {
            if (trick) bp_mat_set(&TW, oi ? j : 0, oi ? 0 : j, bp_mat_get(&B, 0, j));
            else if (B.rows) bp_mat_set(&TB, 0, j, bp_mat_get(&B, 0, j));
        }
    }
}

/* Every value and gradient of a pass of a and t agree to tol; the trick layers' dL/dW hold dL/db. */
static int same_pass(bp_net *a, bp_net *t, unsigned mask, double tol, const char *what)
{
    const bp_net_spec *s = bp_net_get_spec(a);
    int ok = 1;
    for (int l = 0; l < s->nlayers && ok; l++) {
        bp_mat m1[4] = {bp_net_z(a, l), bp_net_a(a, l), bp_net_dz(a, l), bp_net_da(a, l)};
        bp_mat m2[4] = {bp_net_z(t, l), bp_net_a(t, l), bp_net_dz(t, l), bp_net_da(t, l)};
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < m1[k].rows; i++)
                for (int j = 0; j < m1[k].cols; j++) ok &= close_rel(bp_mat_get(&m1[k], i, j), bp_mat_get(&m2[k], i, j), tol);
        bp_mat dW = bp_net_weight_grad(a, l), db = bp_net_bias_grad(a, l), tW = bp_net_weight_grad(t, l);
        int trick = mask >> l & 1;
        for (int i = 0; i < dW.rows; i++)
            for (int j = 0; j < dW.cols; j++) {
                double v = trick ? (s->layout == BP_OUT_IN ? bp_mat_get(&tW, i, j + 1) : bp_mat_get(&tW, i + 1, j))
                                 : bp_mat_get(&tW, i, j);
                ok &= close_rel(bp_mat_get(&dW, i, j), v, tol);
            }
        for (int j = 0; trick && j < s->layers[l].units; j++)
            ok &= close_rel(bp_mat_get(&db, 0, j), trick_get(&tW, s->layout, j, -1), tol);
        ok &= !trick || bp_net_bias_grad(t, l).rows == 0;
    }
    bp_mat dx1 = bp_net_dx(a), dx2 = bp_net_dx(t);
    for (int i = 0; i < dx1.rows; i++)
        for (int j = 0; j < dx1.cols; j++) ok &= close_rel(bp_mat_get(&dx1, i, j), bp_mat_get(&dx2, i, j), tol);
    if (!check_count(ok)) fprintf(stderr, "FAIL: %s: the trick network's pass differs\n", what);
    return ok;
}

/* Random networks, both layouts, every loss: one pass each way. */
static void test_values(void)
{
    static const bp_act outs[] = {BP_ACT_SIGMOID, BP_ACT_SOFTMAX, BP_ACT_LINEAR, BP_ACT_TANH};
    static const bp_loss losses[] = {BP_LOSS_BCE, BP_LOSS_CE, BP_LOSS_SQUARED, BP_LOSS_HALF_SQUARED};
    static const bp_act hidden[] = {BP_ACT_SIGMOID, BP_ACT_TANH, BP_ACT_RELU, BP_ACT_LINEAR};
    for (int c = 0; c < 32; c++) {
        bp_net_spec s;
        memset(&s, 0, sizeof s);
        s.inputs = 1 + c % 4;
        s.nlayers = 1 + c % 3;
        s.layout = (c / 2) % 2 ? BP_IN_OUT : BP_OUT_IN;
        s.loss = losses[c % 4];
        s.reduction = (c / 4) % 2 ? BP_SUM : BP_MEAN;
        for (int l = 0; l < s.nlayers; l++)
            s.layers[l] = (bp_layer_spec){l == s.nlayers - 1 ? 1 + (c % 4 == 1) + c % 3 : 2 + (l + c) % 3,
                                          l == s.nlayers - 1 ? outs[c % 4] : hidden[(l + c) % 4], 1, 0};
        unsigned mask = 1 + (unsigned)c % ((1u << s.nlayers) - 1) ;   /* some layers, never none */
        bp_net_spec ts = trick_spec(&s, mask);
        bp_net *a = new_net(&s, BP_F64), *t = new_net(&ts, BP_F64);
        bp_net_init(a, BP_INIT_SMALL_UNIFORM, 7);
        double *p = bp_net_params(a);
        for (size_t i = 0; i < bp_net_nparams(a); i++) p[i] = urand();
        copy_into(a, t, mask);
        int m = 1 + c % 5, k = bp_net_outputs(a);
        double x[5 * 4], y[5 * 4];
        for (int i = 0; i < m * s.inputs; i++) x[i] = 2 * urand();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < k; j++)
                y[i * k + j] = s.loss == BP_LOSS_CE ? (j == i % k) : s.loss == BP_LOSS_BCE ? (i + j) % 2 : urand();
        bp_mat xm = {m, s.inputs, BP_F64, x}, ym = {m, k, BP_F64, y};
        double la, lt;
        bp_error err;
        CHECK(bp_net_backprop(a, &xm, &ym, 1, &la, &err) == BP_OK, "%s", err.msg);
        CHECK(bp_net_backprop(t, &xm, &ym, 1, &lt, &err) == BP_OK, "%s", err.msg);
        char what[64];
        snprintf(what, sizeof what, "case %d (%s, mask %u)", c, bp_layout_name(s.layout), mask);
        CHECK(close_rel(la, lt, 1e-13), "%s: loss %.17g vs %.17g", what, la, lt);
        same_pass(a, t, mask, 1e-12, what);
        /* one plain SGD step: the same new weights */
        CHECK(bp_net_train_step(a, &xm, &ym, 0.1, NULL, &err) == BP_OK, "%s", err.msg);
        CHECK(bp_net_train_step(t, &xm, &ym, 0.1, NULL, &err) == BP_OK, "%s", err.msg);
        int ok = 1;
        for (int l = 0; l < s.nlayers; l++) {
            bp_mat W = bp_net_weight(a, l), B = bp_net_bias(a, l), TW = bp_net_weight(t, l);
            for (int i = 0; i < W.rows; i++)
                for (int j = 0; j < W.cols; j++) {
                    int r = s.layout == BP_OUT_IN ? i : j, cc = s.layout == BP_OUT_IN ? j : i;
                    ok &= close_rel(bp_mat_get(&W, i, j), mask >> l & 1 ? trick_get(&TW, s.layout, r, cc) : bp_mat_get(&TW, i, j), 1e-12);
                }
            for (int j = 0; (mask >> l & 1) && j < B.cols; j++) ok &= close_rel(bp_mat_get(&B, 0, j), trick_get(&TW, s.layout, j, -1), 1e-12);
        }
        CHECK(ok, "%s: one SGD step gives other weights", what);
        bp_net_free(a);
        bp_net_free(t);
    }
}

/* bp_net_init: the trick layer holds the numbers of the separate one. */
static void test_init(void)
{
    for (int lay = 0; lay < 2; lay++)
        for (int init = 0; init < 3; init++) {
            bp_net_spec s;
            memset(&s, 0, sizeof s);
            s.inputs = 3;
            s.nlayers = 2;
            s.layout = (bp_layout)lay;
            s.layers[0] = (bp_layer_spec){4, BP_ACT_TANH, 1, 0};
            s.layers[1] = (bp_layer_spec){2, BP_ACT_SOFTMAX, 1, 0};
            s.loss = BP_LOSS_CE;
            bp_net_spec ts = trick_spec(&s, 3);
            bp_net *a = new_net(&s, BP_F64), *t = new_net(&ts, BP_F64);
            bp_net_init(a, (bp_init)init, 42);
            bp_net_init(t, (bp_init)init, 42);
            int ok = bp_net_nparams(a) == bp_net_nparams(t);
            for (int l = 0; l < 2; l++) {
                bp_mat W = bp_net_weight(a, l), B = bp_net_bias(a, l), TW = bp_net_weight(t, l);
                for (int i = 0; i < W.rows; i++)
                    for (int j = 0; j < W.cols; j++)
                        ok &= bp_mat_get(&W, i, j) == bp_mat_get(&TW, i + (lay == BP_IN_OUT), j + (lay == BP_OUT_IN));
                for (int j = 0; j < B.cols; j++) ok &= bp_mat_get(&B, 0, j) == trick_get(&TW, s.layout, j, -1);
            }
            CHECK(ok, "init %s, %s: the trick network's numbers differ", bp_init_name((bp_init)init), bp_layout_name(s.layout));
            bp_net_free(a);
            bp_net_free(t);
        }
}

/* The trainer: the trick net (graph path) ends where the separate one (fused step) does; weight decay skips the bias. */
static void test_train(void)
{
    enum { N = 40 };
    float x[N * 2], y[N];
    int labels[N];
    for (int i = 0; i < N; i++) {
        x[2 * i] = (float)urand() * 2;
        x[2 * i + 1] = (float)urand() * 2;
        labels[i] = x[2 * i] + 2 * x[2 * i + 1] > 0.3f;
        y[i] = (float)labels[i];
    }
    bp_dataset d;
    memset(&d, 0, sizeof d);
    d.n = N;
    d.features = 2;
    d.outputs = 1;
    d.nclasses = 2;
    d.x = x;
    d.y = y;
    d.labels = labels;
    for (int lay = 0; lay < 2; lay++)
        for (int wd = 0; wd < 2; wd++) {
            bp_net_spec s;
            memset(&s, 0, sizeof s);
            s.inputs = 2;
            s.nlayers = 2;
            s.layout = (bp_layout)lay;
            s.layers[0] = (bp_layer_spec){3, BP_ACT_TANH, 1, 0};
            s.layers[1] = (bp_layer_spec){1, BP_ACT_SIGMOID, 1, 0};
            s.loss = BP_LOSS_BCE;
            bp_net_spec ts = trick_spec(&s, 3);
            bp_net *a = new_net(&s, BP_F64), *t = new_net(&ts, BP_F64);
            bp_net_init(a, BP_INIT_SMALL_UNIFORM, 5);
            bp_net_init(t, BP_INIT_SMALL_UNIFORM, 5);
            bp_train_options o;
            bp_train_options_init(&o);
            o.epochs = 30;
            o.batch = 8;
            o.lr = 0.5;
            o.optimizer = BP_OPT_MOMENTUM;
            o.weight_decay = wd ? 0.05 : 0;
            bp_trainer *ta = NULL, *tt = NULL;
            bp_error err;
            CHECK(bp_trainer_new(a, &o, &ta, &err) == BP_OK && bp_trainer_run(ta, &d, NULL, &err) == BP_OK, "%s", err.msg);
            CHECK(bp_trainer_new(t, &o, &tt, &err) == BP_OK && bp_trainer_run(tt, &d, NULL, &err) == BP_OK, "%s", err.msg);
            const bp_epoch_stats *h1, *h2;
            int n1 = bp_trainer_history(ta, &h1), n2 = bp_trainer_history(tt, &h2);
            int ok = n1 == n2 && close_rel(h1[n1 - 1].train_loss, h2[n2 - 1].train_loss, 1e-10) &&
                     h1[n1 - 1].train_acc == h2[n2 - 1].train_acc;
            for (int l = 0; l < 2; l++) {
                bp_mat W = bp_net_weight(a, l), B = bp_net_bias(a, l), TW = bp_net_weight(t, l);
                for (int i = 0; i < W.rows; i++)
                    for (int j = 0; j < W.cols; j++)
                        ok &= close_rel(bp_mat_get(&W, i, j), bp_mat_get(&TW, i + (lay == BP_IN_OUT), j + (lay == BP_OUT_IN)), 1e-9);
                for (int j = 0; j < B.cols; j++) ok &= close_rel(bp_mat_get(&B, 0, j), trick_get(&TW, s.layout, j, -1), 1e-9);
            }
            CHECK(ok, "train %s, weight decay %d: the trick network ends elsewhere (loss %.17g vs %.17g)",
                  bp_layout_name(s.layout), wd, h1[n1 - 1].train_loss, h2[n2 - 1].train_loss);
            CHECK(h2[n2 - 1].train_acc >= 0.85, "train: accuracy %g", h2[n2 - 1].train_acc);
            bp_trainer_free(ta);
            bp_trainer_free(tt);
            bp_net_free(a);
            bp_net_free(t);
        }
}

/* Model files: JSON and safetensors keep the trick; the JSON reader's messages. */
static void test_files(void)
{
    if (!check_tmpdir("bp_trick")) { CHECK(0, "no temporary directory"); return; }
    for (int lay = 0; lay < 2; lay++) {
        bp_net_spec s;
        memset(&s, 0, sizeof s);
        s.inputs = 3;
        s.nlayers = 2;
        s.layout = (bp_layout)lay;
        s.layers[0] = (bp_layer_spec){2, BP_ACT_RELU, 0, 1};
        s.layers[1] = (bp_layer_spec){2, BP_ACT_SOFTMAX, 1, 0};
        s.loss = BP_LOSS_CE;
        bp_net *t = new_net(&s, BP_F32);
        bp_net_init(t, BP_INIT_SMALL_UNIFORM, 9);
        bp_error err;
        const char *js = check_path("t.json"), *st = check_path("t.safetensors");
        CHECK(bp_model_save_json(t, NULL, NULL, js, &err) == BP_OK, "%s", err.msg);
        CHECK(bp_net_save(t, NULL, st, &err) == BP_OK, "%s", err.msg);
        bp_model *m1 = NULL, *m2 = NULL;
        CHECK(bp_model_read(js, BP_F32, &m1, &err) == BP_OK, "%s", err.msg);
        CHECK(bp_model_read(st, BP_F32, &m2, &err) == BP_OK, "%s", err.msg);
        for (int k = 0; k < 2 && m1 && m2; k++) {
            bp_net *r = bp_model_net(k ? m2 : m1);
            const bp_net_spec *rs = bp_net_get_spec(r);
            CHECK(rs->layers[0].bias_trick == 1 && rs->layers[0].bias == 0 && rs->layers[1].bias_trick == 0,
                  "%s: the bias trick is lost", k ? "safetensors" : "JSON");
            CHECK(bp_net_nparams(r) == bp_net_nparams(t) &&
                      !memcmp(bp_net_params(r), bp_net_params(t), bp_net_nparams(t) * sizeof(float)),
                  "%s %s: other numbers", k ? "safetensors" : "JSON", bp_layout_name(s.layout));
            bp_mat W = bp_net_weight(r, 0);
            CHECK(W.rows == (lay ? 4 : 2) && W.cols == (lay ? 2 : 4), "W is %d x %d", W.rows, W.cols);
        }
        bp_model_free(m1);
        bp_model_free(m2);
        bp_net_free(t);
    }
    static const struct { const char *json, *msg; } bad[] = {
        {"{\"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"linear\", \"bias\": \"trick\", \"W\": [[1, 2]]}]}",
         "(out_in, bias trick: units 1 x (1 + fan_in 2), the bias first), got 2"},
        {"{\"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"linear\", \"bias\": \"trick\", \"W\": [[1, 2, 3]], "
         "\"b\": [1]}]}", "layers[0].b: given, but the layer has \"bias\": \"trick\" (the bias is W's first column)"},
        {"{\"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"linear\", \"bias\": \"yes\"}]}",
         "layers[0].bias: expected true, false or \"trick\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bp_model *m = NULL;
        bp_error err;
        bp_status st = bp_model_parse(bad[i].json, strlen(bad[i].json), "t.json", BP_F64, &m, &err);
        CHECK(st != BP_OK && strstr(err.msg, bad[i].msg), "bad %zu: %s", i, st ? err.msg : "accepted");
        bp_model_free(m);
    }
    bp_net_spec s;
    memset(&s, 0, sizeof s);
    s.inputs = 2;
    s.nlayers = 1;
    s.layers[0] = (bp_layer_spec){1, BP_ACT_LINEAR, 1, 1};
    bp_error err;
    CHECK(bp_net_spec_check(&s, &err) != BP_OK && strstr(err.msg, "bias trick"), "bias and trick: %s", err.msg);
    check_remove_tree(check_dir());
}

int main(void)
{
    test_values();
    test_init();
    test_train();
    test_files();
    return check_done();
}
