/* test_eval.c - bp_evaluate, bp_predict, bp_log_csv and bp_plot_svg on tiny
 * hand-built networks whose numbers are worked out by hand. */
#define _POSIX_C_SOURCE 200809L
#include "backprop.h"
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NEAR(a, b, tol) (fabs((a) - (b)) <= (tol) * (1 + fabs((double)(b))))

/* A network of one layer (inputs -> units, activation act) with W (out_in,
 * units x inputs) and b given row by row. */
static bp_net *one_layer(int inputs, int units, bp_act act, bp_loss loss, bp_reduction red, bp_dtype dt,
                         const double *w, const double *b)
{
    bp_net_spec spec = {0};
    spec.inputs = inputs;
    spec.nlayers = 1;
    spec.layers[0] = (bp_layer_spec){units, act, 1, 0};
    spec.layout = BP_OUT_IN;
    spec.loss = loss;
    spec.reduction = red;
    bp_net *net = NULL;
    bp_error err;
    if (bp_net_new(&spec, dt, &net, &err)) { fprintf(stderr, "bp_net_new: %s\n", err.msg); exit(1); }
    bp_mat W = bp_net_weight(net, 0), B = bp_net_bias(net, 0);
    for (int i = 0; i < units; i++) {
        for (int j = 0; j < inputs; j++) bp_mat_set(&W, i, j, w[i * inputs + j]);
        bp_mat_set(&B, 0, i, b[i]);
    }
    return net;
}

/* A dataset owning copies of x and either labels (k classes, one-hot y) or
 * regression targets y (outputs columns). */
static bp_dataset make_data(int n, int features, const float *x, int k, const int *labels, int outputs,
                            const float *y)
{
    bp_dataset d = {0};
    d.n = n;
    d.features = features;
    d.x = malloc(sizeof(float) * n * features);
    memcpy(d.x, x, sizeof(float) * n * features);
    if (labels) {
        d.nclasses = d.outputs = k;
        d.labels = malloc(sizeof(int) * n);
        memcpy(d.labels, labels, sizeof(int) * n);
        d.y = calloc((size_t)n * k, sizeof(float));
        for (int i = 0; i < n; i++) d.y[i * k + labels[i]] = 1;
    } else if (y) {
        d.outputs = outputs;
        d.y = malloc(sizeof(float) * n * outputs);
        memcpy(d.y, y, sizeof(float) * n * outputs);
    }
    return d;
}

static double sigmoid(double z) { return 1 / (1 + exp(-z)); }

static void test_softmax_classifier(bp_dtype dt)
{
    /* z = (x1, x2, -x1 - x2); predictions 0, 1, 2, 1, 0 against labels 0, 1, 2, 0, 2 */
    const double w[] = {1, 0, 0, 1, -1, -1}, b[] = {0, 0, 0};
    const float x[] = {2, 0, 0, 2, -1, -1, 1, 3, 3, 1};
    const int lab[] = {0, 1, 2, 0, 2};
    bp_net *net = one_layer(2, 3, BP_ACT_SOFTMAX, BP_LOSS_CE, BP_MEAN, dt, w, b);
    bp_dataset d = make_data(5, 2, x, 3, lab, 0, NULL);
    bp_metrics m;
    bp_error err;
    bp_status st = bp_evaluate(net, &d, 2, &m, &err);
    CHECK(st == BP_OK, "evaluate: %s", err.msg);
    const long conf[9] = {1, 1, 0, 0, 1, 0, 1, 0, 1};
    CHECK(m.n == 5 && m.nclasses == 3, "n %d nclasses %d", m.n, m.nclasses);
    for (int i = 0; i < 9; i++) CHECK(m.confusion[i] == conf[i], "confusion[%d] = %ld, want %ld", i, m.confusion[i], conf[i]);
    CHECK(NEAR(m.accuracy, 0.6, 1e-12), "accuracy %g", m.accuracy);
    CHECK(NEAR(m.class_acc[0], 0.5, 1e-12) && NEAR(m.class_acc[1], 1, 1e-12) && NEAR(m.class_acc[2], 0.5, 1e-12),
          "class accuracy %g %g %g", m.class_acc[0], m.class_acc[1], m.class_acc[2]);
    double want = 0;
    for (int i = 0; i < 5; i++) {
        double z[3] = {x[2 * i], x[2 * i + 1], -x[2 * i] - x[2 * i + 1]};
        double lse = log(exp(z[0]) + exp(z[1]) + exp(z[2]));
        want += lse - z[lab[i]];
    }
    want /= 5;
    CHECK(NEAR(m.loss, want, dt == BP_F64 ? 1e-12 : 1e-6), "%s loss %.10g, want %.10g", bp_dtype_name(dt), m.loss, want);
    CHECK(isnan(m.mse) && isnan(m.mae), "mse/mae should be NaN for a classifier");
    bp_metrics_free(&m);

    /* predictions equal a single forward pass over everything */
    float out[15];
    st = bp_predict(net, &d, 2, out, &err);
    CHECK(st == BP_OK, "predict: %s", err.msg);
    bp_mat xm = bp_dataset_x(&d, 0, 5);
    CHECK(bp_net_forward(net, &xm, &err) == BP_OK, "forward: %s", err.msg);
    bp_mat a = bp_net_a(net, 0);
    int same = 1;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 3; j++) same &= fabs(out[i * 3 + j] - bp_mat_get(&a, i, j)) <= 1e-6;
    CHECK(same, "bp_predict differs from bp_net_forward");

    /* a data set with fewer classes than the network still evaluates */
    bp_dataset_free(&d);
    const int lab2[] = {0, 1, 1, 1, 0};
    d = make_data(5, 2, x, 2, lab2, 0, NULL);
    st = bp_evaluate(net, &d, 0, &m, &err);
    CHECK(st == BP_OK && m.nclasses == 3 && NEAR(m.accuracy, 0.8, 1e-12) && isnan(m.class_acc[2]),
          "two-class data on a three-class net: st %d acc %g", st, m.accuracy);
    bp_metrics_free(&m);

    /* wrong number of features */
    bp_dataset_free(&d);
    const float x3[] = {1, 2, 3};
    d = make_data(1, 3, x3, 3, lab, 0, NULL);
    st = bp_evaluate(net, &d, 8, &m, &err);
    CHECK(st == BP_E_SHAPE && strstr(err.msg, "the model has 2 inputs, the data has 3 features"), "features: %s",
          err.msg);
    st = bp_predict(net, &d, 8, out, &err);
    CHECK(st == BP_E_SHAPE, "predict with wrong features: %d", st);
    bp_dataset_free(&d);
    bp_net_free(net);
}

static void test_binary_sigmoid(void)
{
    /* z = x1 - x2: 1 -> class 1, -1 -> class 0, 0 -> 0.5 -> class 1 */
    const double w[] = {1, -1}, b[] = {0};
    const float x[] = {1, 0, 0, 1, 2, 2};
    const int lab[] = {1, 1, 0};
    bp_net *net = one_layer(2, 1, BP_ACT_SIGMOID, BP_LOSS_BCE, BP_SUM, BP_F64, w, b);
    bp_dataset d = make_data(3, 2, x, 2, lab, 0, NULL);
    bp_metrics m;
    bp_error err;
    bp_status st = bp_evaluate(net, &d, 2, &m, &err);
    CHECK(st == BP_OK, "evaluate: %s", err.msg);
    CHECK(m.nclasses == 2 && m.confusion[0] == 0 && m.confusion[1] == 1 && m.confusion[2] == 1 && m.confusion[3] == 1,
          "binary confusion %ld %ld %ld %ld", m.confusion[0], m.confusion[1], m.confusion[2], m.confusion[3]);
    CHECK(NEAR(m.accuracy, 1.0 / 3, 1e-12), "binary accuracy %g", m.accuracy);
    double want = -log(sigmoid(1)) - log(sigmoid(-1)) + log(2);  /* sum reduction: the total */
    CHECK(NEAR(m.loss, want, 1e-12), "binary sum loss %.12g, want %.12g", m.loss, want);
    bp_metrics_free(&m);
    bp_dataset_free(&d);
    bp_net_free(net);
}

static void test_regression(void)
{
    /* yhat = (2x + 1, 0) against y = (1,0), (4,0), (4,3) for x = 0, 1, 2:
     * errors 0,0  -1,0  1,-3 -> MSE 11/6, MAE 5/6, squared loss mean 11/3 */
    const double w[] = {2, 0}, b[] = {1, 0};
    const float x[] = {0, 1, 2}, y[] = {1, 0, 4, 0, 4, 3};
    bp_net *net = one_layer(1, 2, BP_ACT_LINEAR, BP_LOSS_SQUARED, BP_MEAN, BP_F32, w, b);
    bp_dataset d = make_data(3, 1, x, 0, NULL, 2, y);
    bp_metrics m;
    bp_error err;
    bp_status st = bp_evaluate(net, &d, 2, &m, &err);
    CHECK(st == BP_OK, "evaluate: %s", err.msg);
    CHECK(NEAR(m.mse, 11.0 / 6, 1e-6) && NEAR(m.mae, 5.0 / 6, 1e-6), "mse %g mae %g", m.mse, m.mae);
    CHECK(NEAR(m.loss, 11.0 / 3, 1e-6), "regression loss %g", m.loss);
    CHECK(m.nclasses == 0 && !m.confusion && isnan(m.accuracy), "regression has no classes");
    bp_metrics_free(&m);
    float out[6];
    CHECK(bp_predict(net, &d, 0, out, &err) == BP_OK && out[0] == 1 && out[2] == 3 && out[4] == 5 && out[5] == 0,
          "regression predictions %g %g %g", out[0], out[2], out[4]);
    d.outputs = 1;  /* targets of the wrong width */
    st = bp_evaluate(net, &d, 2, &m, &err);
    CHECK(st == BP_E_SHAPE && strstr(err.msg, "the model has 2 outputs, the data has 1 target"), "outputs: %s",
          err.msg);
    d.outputs = 2;
    bp_dataset_free(&d);
    bp_net_free(net);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static int count(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p++) n++;
    return n;
}

static void test_log_and_plot(void)
{
    const bp_epoch_stats cls[] = {{1, 1.25, 0.5, 1.5, 0.25, 0.125, 0.1},
                                  {2, 0.75, 0.625, NAN, NAN, 2, 0.1},
                                  {3, 1.0 / 3, 0.875, 0.5, 0.75, 0.25, 0.1}};
    const bp_epoch_stats reg[] = {{1, 4, NAN, NAN, NAN, 1, 0.1}, {2, 2.5, NAN, NAN, NAN, 1.5, 0.1}};
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_eval_%ld.csv", (long)getpid());
    bp_error err;
    CHECK(bp_log_csv(cls, 3, 1, path, &err) == BP_OK, "log_csv: %s", err.msg);
    const char *want_cls = "epoch,train_loss,train_acc,val_loss,val_acc,seconds\n"
                           "1,1.25,0.5,1.5,0.25,0.125\n"
                           "2,0.75,0.625,,,2\n"
                           "3,0.3333333333333333,0.875,0.5,0.75,0.25\n";
    char *got = slurp(path);
    CHECK(got && !strcmp(got, want_cls), "classifier CSV:\n%s", got ? got : "(none)");
    CHECK(bp_log_csv(reg, 2, 0, path, &err) == BP_OK, "log_csv: %s", err.msg);
    got = slurp(path);
    CHECK(got && !strcmp(got, "epoch,train_loss,train_acc,val_loss,val_acc,seconds\n1,4,,,,1\n2,2.5,,,,1.5\n"),
          "regression CSV:\n%s", got ? got : "(none)");
    remove(path);
    CHECK(bp_log_csv(cls, 1, 1, "/nonexistent-dir/x.csv", &err) == BP_E_IO && strstr(err.msg, "/nonexistent-dir/x.csv"),
          "unwritable CSV: %s", err.msg);

    char svg[64];
    snprintf(svg, sizeof svg, "/tmp/test_eval_%ld.svg", (long)getpid());
    CHECK(bp_plot_svg(cls, 3, svg, &err) == BP_OK, "plot: %s", err.msg);
    got = slurp(svg);
    CHECK(got && (!strncmp(got, "<svg", 4) || !strncmp(got, "<?xml", 5)), "SVG start");
    /* train loss and accuracy: one line each; validation: split by the NaN of epoch 2 */
    CHECK(got && count(got, "<polyline") == 6, "polylines: %d", got ? count(got, "<polyline") : -1);
    CHECK(got && !strstr(got, "nan") && !strstr(got, "inf") && strstr(got, "</svg>"), "SVG has NaN or is cut");
    CHECK(bp_plot_svg(reg, 2, svg, &err) == BP_OK, "plot: %s", err.msg);
    got = slurp(svg);
    CHECK(got && strstr(got, "no accuracy (regression)") && count(got, "<polyline") == 1, "regression plot");
    CHECK(bp_plot_svg(NULL, 0, svg, &err) == BP_OK, "empty plot: %s", err.msg);
    remove(svg);
}

int main(void)
{
    test_softmax_classifier(BP_F32);
    test_softmax_classifier(BP_F64);
    test_binary_sigmoid();
    test_regression();
    test_log_and_plot();
    return check_done();
}
