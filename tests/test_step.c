/* test_step.c - gradient-descent steps (bp_model_steps) beyond the golden
 * runs: the stop rule, divergence, explain's update leaving the model alone,
 * --compare and the slips of an update step (sign, missing eta, 1/m, the old
 * weights, the gradient, a plain step where momentum was asked for); the
 * step activation and the 0-1 loss (values worked out by hand below), the
 * trainer's refusal, and a model file's data as a dataset. */
#define _GNU_SOURCE
#include "backprop.h"
#include "check.h"
#include "teach/step.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *MINE = "/tmp/bp_test_step_mine.json";

static bp_model *load(const char *path)
{
    bp_model *m = NULL;
    bp_error err;
    CHECK(bp_model_load(path, BP_F64, &m, &err) == BP_OK, "%s: %s", path, err.msg);
    return m;
}

static bp_model *parse(const char *text)
{
    bp_model *m = NULL;
    bp_error err;
    CHECK(bp_model_parse(text, strlen(text), "inline.json", BP_F64, &m, &err) == BP_OK, "inline model: %s", err.msg);
    return m;
}

static bp_steps *run(bp_model *m, bp_optimizer opt, double lr, int steps, double tol)
{
    bp_train_options o;
    bp_train_options_init(&o);
    o.optimizer = opt;
    o.lr = lr;
    o.tol = tol;
    bp_steps *s = NULL;
    bp_error err;
    CHECK(bp_model_steps(m, &o, steps, &s, &err) == BP_OK, "steps: %s", err.msg);
    return s;
}

/* Write {"steps": [{"layers": [{}, ..., {KEY: c0 before + c1 g (+ c2 after)}, ...]}]} for step t's layer l. */
static void write_mine(const bp_steps *s, int t, int l, int bias, double c0, double c1, double c2)
{
    FILE *f = fopen(MINE, "w");
    bp_mat before = bp_steps_view(s, BP_STEPS_THETA, t, l, bias), after = bp_steps_view(s, BP_STEPS_THETA, t + 1, l, bias);
    bp_mat g = bp_steps_view(s, BP_STEPS_GRAD, t, l, bias);
    fputs("{\"steps\": [", f);
    for (int k = 0; k < t; k++) fputs("{}, ", f);
    fputs("{\"layers\": [", f);
    for (int k = 0; k < s->spec.nlayers; k++) {
        if (k != l) { fputs(k ? ", {}" : "{}", f); continue; }
        fprintf(f, "%s{\"%s\": ", k ? ", " : "", bias ? "b" : "W");
        if (!bias) fputc('[', f);
        for (int i = 0; i < before.rows; i++) {
            fputs(i ? ", [" : (bias ? "[" : "["), f);
            for (int j = 0; j < before.cols; j++)
                fprintf(f, "%s%.17g", j ? ", " : "",
                        c0 * bp_mat_get(&before, i, j) + c1 * bp_mat_get(&g, i, j) + c2 * bp_mat_get(&after, i, j));
            fputc(']', f);
        }
        if (!bias) fputc(']', f);
        fputc('}', f);
    }
    fputs("]}]}\n", f);
    fclose(f);
}

/* Run --compare on MINE; returns the report (caller frees) and sets *right. */
static char *compare(const bp_steps *s, int *right, bp_status *st, bp_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    *right = -1;
    *st = bp_steps_compare(s, MINE, 1e-6, out, right, err);
    fclose(out);
    return buf;
}

static void expect_slip(const bp_steps *s, int t, int l, int bias, double c0, double c1, double c2, const char *slip,
                        const char *first)
{
    write_mine(s, t, l, bias, c0, c1, c2);
    int right;
    bp_status st;
    bp_error err;
    char *rep = compare(s, &right, &st, &err);
    CHECK(st == BP_OK && right == 0, "%s: status %d, right %d: %s", slip, st, right, st ? err.msg : "");
    CHECK(rep && strstr(rep, slip), "names the slip '%s': %s", slip, rep ? rep : "");
    if (first) CHECK(rep && strstr(rep, first), "names '%s': %s", first, rep ? rep : "");
    free(rep);
}

static void test_compare(void)
{
    /* sigmoid_bce_mean: m = 3, reduction mean; plain gradient descent, eta = 0.5 */
    bp_model *m = load("examples/sigmoid_bce_mean.json");
    bp_steps *s = run(m, BP_OPT_SGD, 0.5, 2, 0);
    double eta = 0.5;
    /* right: theta - eta g */
    write_mine(s, 0, 1, 0, 1, -eta, 0);
    int right;
    bp_status st;
    bp_error err;
    char *rep = compare(s, &right, &st, &err);
    CHECK(st == BP_OK && right == 1, "the true update is right: %s", rep ? rep : err.msg);
    CHECK(rep && strstr(rep, "all 1 given value is right"), "%s", rep ? rep : "");
    free(rep);
    expect_slip(s, 0, 1, 0, 1, eta, 0, "wrong sign", "first wrong: step 1, layer 2, W^[2] entry [0][0]");
    expect_slip(s, 0, 0, 1, 1, eta, 0, "wrong sign", "first wrong: step 1, layer 1, b^[1] entry 0");
    expect_slip(s, 0, 2, 0, 1, -1, 0, "learning rate is missing", NULL);
    expect_slip(s, 0, 2, 0, 1, 1, 0, "wrong sign and no learning rate", NULL);
    expect_slip(s, 0, 1, 0, 1, -eta * 3, 0, "m times too large", NULL);
    expect_slip(s, 0, 1, 0, 1, -eta / 3, 0, "1/m of the mean was applied twice", NULL);
    expect_slip(s, 1, 0, 0, 1, 0, 0, "parameters before the step", "first wrong: step 2, layer 1");
    expect_slip(s, 1, 2, 1, 0, 1, 0, "these are the gradient", NULL);
    expect_slip(s, 0, 2, 0, -1, 0, 1, "the change of the step", NULL);
    /* errors: more steps than taken, unknown fields, the wrong number of layers, a bias the layer lacks */
    static const char *const bad[][2] = {
        {"{\"steps\": [{}, {}, {}]}", "the run took 2"},
        {"{\"step\": []}", "unknown field \"step\""},
        {"{\"steps\": [{\"layers\": [{}, {}]}]}", "expected an array of 3 layers"},
        {"{\"steps\": [{\"layers\": [{\"w\": 1}, {}, {}]}]}", "unknown field \"w\""},
        {"{\"steps\": [{\"gradient\": 1}]}", "unknown field \"gradient\""},
        {"{\"steps\": [{}]}", "no values to check"},
        {"{\"steps\": [{\"loss\": \"low\"}]}", "steps[0].loss"},
        {"{\"steps\": [", "bp_test_step_mine.json:1:"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        FILE *f = fopen(MINE, "w");
        fputs(bad[i][0], f);
        fclose(f);
        rep = compare(s, &right, &st, &err);
        CHECK(st != BP_OK && strstr(err.msg, bad[i][1]), "%s: expected an error with '%s', got %d: %s", bad[i][0],
              bad[i][1], st, st ? err.msg : "");
        free(rep);
    }
    /* the loss values: right ones, and delta_loss with the wrong sign */
    FILE *f = fopen(MINE, "w");
    fprintf(f, "{\"steps\": [{\"loss\": %.17g, \"loss_after\": %.17g, \"delta_loss\": %.17g}]}\n", bp_steps_loss(s, 0),
            bp_steps_loss(s, 1), bp_steps_loss(s, 0) - bp_steps_loss(s, 1));
    fclose(f);
    rep = compare(s, &right, &st, &err);
    CHECK(st == BP_OK && right == 0 && rep && strstr(rep, "right  steps[0].loss_after") &&
          strstr(rep, "delta_loss is loss_after - loss"), "delta_loss sign: %s", rep ? rep : err.msg);
    free(rep);
    bp_steps_free(s);
    bp_model_free(m);

    /* momentum: a plain step given at step 2, where the velocity matters */
    m = load("examples/sigmoid_bce_mean.json");
    s = run(m, BP_OPT_MOMENTUM, 0.5, 2, 0);
    expect_slip(s, 1, 0, 0, 1, -0.5, 0, "plain gradient step", "first wrong: step 2");
    bp_steps_free(s);
    bp_model_free(m);

    /* a sum (q12, m = 3): a 1/m that does not belong */
    m = load("examples/q12.json");
    s = run(m, BP_OPT_SGD, 0.01, 1, 0);
    expect_slip(s, 0, 1, 0, 1, -0.01 / 3, 0, "the reduction is a sum", NULL);
    bp_steps_free(s);
    bp_model_free(m);
    remove(MINE);
}

static void test_stop_rule_and_divergence(void)
{
    /* q12 with eta = 0.01: the loss falls by 57.7 then 53.2 (tests/golden/steps/q12.steps.json) */
    bp_model *m = load("examples/q12.json");
    bp_steps *s = run(m, BP_OPT_SGD, 0.01, 5, 100);
    CHECK(s && bp_steps_count(s) == 1 && bp_steps_stopped(s) == 1, "|dL| = 57.7 < 100 stops after step 1");
    bp_steps_free(s);
    bp_model_free(m);
    m = load("examples/q12.json");
    s = run(m, BP_OPT_SGD, 0.01, 5, 55);
    CHECK(s && bp_steps_count(s) == 2 && bp_steps_stopped(s) == 1, "|dL| = 53.2 < 55 stops after step 2");
    CHECK(s && fabs(bp_steps_loss(s, 0) - 281.70005118084191) < 1e-9, "the loss before the first step");
    bp_steps_free(s);
    bp_model_free(m);
    m = load("examples/q12.json");
    s = run(m, BP_OPT_SGD, 0.01, 4, 1e-12);
    CHECK(s && bp_steps_count(s) == 4 && bp_steps_stopped(s) == 0, "the cap: 4 steps, the rule never held");
    bp_steps_free(s);
    bp_model_free(m);

    /* a step that overflows: an error naming the step, the weights as before it */
    m = load("examples/q12.json");
    bp_train_options o;
    bp_train_options_init(&o);
    o.lr = 1e306;
    s = NULL;
    bp_error err;
    bp_mat W = bp_net_weight(bp_model_net(m), 1);
    double w0 = bp_mat_get(&W, 0, 0);
    bp_status st = bp_model_steps(m, &o, 3, &s, &err);
    CHECK(st == BP_E_DIVERGED && s == NULL && strstr(err.msg, "step 1"), "divergence: %d %s", st, err.msg);
    CHECK(bp_mat_get(&W, 0, 0) == w0, "the weights are those before the step that diverged");
    /* bad settings */
    o.lr = 0;
    CHECK(bp_model_steps(m, &o, 1, &s, &err) == BP_E_ARG, "lr 0 refused");
    o.lr = 0.1;
    CHECK(bp_model_steps(m, &o, 0, &s, &err) == BP_E_ARG, "0 steps refused");
    o.optimizer = BP_OPT_NESTEROV;
    o.momentum = 0;
    CHECK(bp_model_steps(m, &o, 1, &s, &err) == BP_E_ARG && strstr(err.msg, "nesterov"), "nesterov without momentum");
    bp_model_free(m);
}

static void test_explain_update(void)
{
    bp_model *m = load("examples/q12.json");
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    bp_error err;
    CHECK(bp_explain_update(m, BP_FMT_TEXT, -1, 0.01, out, &err) == BP_OK, "explain --lr: %s", err.msg);
    fclose(out);
    CHECK(buf && strstr(buf, "Update: one step of gradient descent") && strstr(buf, "W^[2] ← W^[2] - η g^[2W]"),
          "the update section");
    /* W^[2] after one step with eta = 0.01: 0.02 - 0.01 * (-30.388171) (tests/golden/steps/q12.steps.json) */
    CHECK(buf && strstr(buf, "0.32388171"), "W^[2][0][0] after the step");
    CHECK(buf && strstr(buf, "223.95459"), "the loss after the step");
    free(buf);
    bp_mat W = bp_net_weight(bp_model_net(m), 1);
    CHECK(bp_mat_get(&W, 0, 0) == 0.02, "explain --lr leaves the model's weights alone");
    out = open_memstream(&buf, &len);
    CHECK(bp_explain_update(m, BP_FMT_TEXT, -1, -1, out, &err) == BP_E_ARG, "a negative learning rate is refused");
    fclose(out);
    free(buf);
    bp_model_free(m);
}

/* A 2-2-1 network with a step hidden layer: z^[1] = x W1^T + b1 with W1 = [[1, -1], [0.5, 0.5]], b1 = [0, -1];
 * x = [1, 2], [3, 1], [2, 2]: z^[1] = [-1, 0.5], [2, 1], [0, 1], so a^[1] = [0, 1], [1, 1], [0, 1] (z = 0 gives 0). */
static const char *STEP_NET =
    "{\"inputs\": 2, \"layers\": [{\"units\": 2, \"activation\": \"step\", \"W\": [[1, -1], [0.5, 0.5]], \"b\": [0, -1]},"
    " {\"units\": 1, \"activation\": \"sigmoid\", \"W\": [[1, -2]], \"b\": [0.5]}], \"loss\": \"bce\", \"reduction\": \"mean\","
    " \"data\": {\"x\": [[1, 2], [3, 1], [2, 2]], \"y\": [[1], [0], [1]]}}";

static void test_step_activation(void)
{
    bp_model *m = parse(STEP_NET);
    bp_error err;
    double loss;
    CHECK(bp_model_pass(m, &loss, &err) == BP_OK, "%s", err.msg);
    bp_net *net = bp_model_net(m);
    bp_mat a1 = bp_net_a(net, 0), dz1 = bp_net_dz(net, 0), dW1 = bp_net_weight_grad(net, 0), db2 = bp_net_bias_grad(net, 1);
    static const double want_a[3][2] = {{0, 1}, {1, 1}, {0, 1}};
    int ok = 1;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) ok &= bp_mat_get(&a1, i, j) == want_a[i][j] && bp_mat_get(&dz1, i, j) == 0;
    CHECK(ok, "step: a = 1[z > 0] (0 at z = 0), dL/dz = 0");
    CHECK(bp_mat_get(&dW1, 0, 0) == 0 && bp_mat_get(&dW1, 1, 1) == 0, "no gradient reaches W^[1]");
    /* z^[2] = a^[1] [1, -2]^T + 0.5 = -1.5, -0.5, -1.5; dL/db2 = (1/3) sum (sigmoid(z) - y) */
    double s1 = 1 / (1 + exp(1.5)), s2 = 1 / (1 + exp(0.5));
    CHECK(fabs(bp_mat_get(&db2, 0, 0) - (2 * (s1 - 1) + s2) / 3) < 1e-15, "the layer above still learns: dL/db2");
    CHECK(fabs(loss - (-2 * log(s1) - log(1 - s2)) / 3) < 1e-15, "the loss");
    /* the trainer refuses it, naming the layer */
    bp_trainer *t = NULL;
    bp_train_options o;
    bp_train_options_init(&o);
    CHECK(bp_trainer_new(net, &o, &t, &err) == BP_E_VALUE && strstr(err.msg, "layer 1") && strstr(err.msg, "step"),
          "trainer refuses: %s", err.msg);
    /* the text of grad and explain say why */
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    CHECK(bp_write_grad_text(m, loss, out, &err) == BP_OK, "%s", err.msg);
    CHECK(bp_explain(m, BP_FMT_TEXT, -1, out, &err) == BP_OK, "%s", err.msg);
    fclose(out);
    CHECK(buf && strstr(buf, "its derivative is 0 wherever it exists") && strstr(buf, "no gradient passes this layer"),
          "grad and explain explain the zero gradient");
    free(buf);
    bp_model_free(m);

    /* a step unit in the last hidden layer blocks every layer below */
    bp_net_spec spec = {.inputs = 2, .nlayers = 3, .layout = BP_OUT_IN, .loss = BP_LOSS_BCE, .reduction = BP_MEAN};
    spec.layers[0] = (bp_layer_spec){3, BP_ACT_SIGMOID, 1, 0};
    spec.layers[1] = (bp_layer_spec){2, BP_ACT_STEP, 1, 0};
    spec.layers[2] = (bp_layer_spec){1, BP_ACT_SIGMOID, 1, 0};
    CHECK(bp_net_spec_trainable(&spec, &err) == BP_E_VALUE && strstr(err.msg, "layer 2 (layers[1])") &&
          strstr(err.msg, "layers 1 to 2"), "%s", err.msg);
    spec.layers[1].act = BP_ACT_TANH;
    CHECK(bp_net_spec_trainable(&spec, &err) == BP_OK, "a network without step units is trainable");
    spec.loss = BP_LOSS_ZERO_ONE;
    CHECK(bp_net_spec_trainable(&spec, &err) == BP_E_VALUE && strstr(err.msg, "zero_one"), "%s", err.msg);
}

/* The 0-1 loss: softmax outputs of z = x W^T + b, W = [[1, -1], [0.5, 0.5], [0, 1]], b = [0, -1, 0]:
 * x = [1, 2] -> z = [-1, 0.5, 2], class 2 (true 0: wrong); [3, 1] -> [2, 1, 1], class 0 (true 1: wrong);
 * [2, 2] -> [0, 1, 2], class 2 (true 2: right). Two misclassified. */
static void test_zero_one(void)
{
    static const char *fmt =
        "{\"inputs\": 2, \"layers\": [{\"units\": %s, \"activation\": \"%s\", \"W\": %s, \"b\": %s}], \"loss\": \"zero_one\","
        " \"reduction\": \"%s\", \"data\": {\"x\": [[1, 2], [3, 1], [2, 2]], \"y\": %s}}";
    char text[1024];
    snprintf(text, sizeof text, fmt, "3", "softmax", "[[1, -1], [0.5, 0.5], [0, 1]]", "[0, -1, 0]", "sum",
             "[[1, 0, 0], [0, 1, 0], [0, 0, 1]]");
    bp_model *m = parse(text);
    bp_error err;
    double loss;
    CHECK(bp_model_pass(m, &loss, &err) == BP_OK && loss == 2, "two misclassified (sum): %g", loss);
    bp_mat dW = bp_net_weight_grad(bp_model_net(m), 0);
    CHECK(bp_mat_get(&dW, 0, 0) == 0 && bp_mat_get(&dW, 2, 1) == 0, "its gradient is 0");
    bp_dataset d;
    CHECK(bp_model_dataset(m, &d, &err) == BP_OK && d.labels && d.nclasses == 3 && d.labels[1] == 1 && d.labels[2] == 2,
          "the one-hot targets become labels");
    bp_metrics mt;
    CHECK(bp_evaluate(bp_model_net(m), &d, 0, &mt, &err) == BP_OK && fabs(mt.accuracy - 1.0 / 3) < 1e-12 && mt.loss == 2,
          "eval: accuracy 1/3, the loss is the count");
    bp_metrics_free(&mt);
    bp_dataset_free(&d);
    bp_model_free(m);
    /* one output, the 0.5 threshold, mean: a step output 1[z > 0] of z = x1 - x2 against y = 1, 0, 0 */
    snprintf(text, sizeof text, fmt, "1", "step", "[[1, -1]]", "[0]", "mean", "[[1], [0], [0]]");
    m = parse(text);
    CHECK(bp_model_pass(m, &loss, &err) == BP_OK && fabs(loss - 2.0 / 3) < 1e-15, "z = -1, 2, 0: outputs 0, 1, 0; two "
                                                                                     "wrong of three: %g", loss);
    CHECK(bp_model_dataset(m, &d, &err) == BP_OK && d.labels && d.nclasses == 2 && d.outputs == 1, "0/1 targets are labels");
    bp_dataset_free(&d);
    bp_model_free(m);
    /* regression targets stay targets */
    m = load("examples/q12.json");
    CHECK(bp_model_dataset(m, &d, &err) == BP_OK && !d.labels && d.nclasses == 0 && d.n == 3 && d.y[2] == 10,
          "q12's targets are numbers");
    bp_dataset_free(&d);
    bp_model_free(m);
}

int main(void)
{
    test_compare();
    test_stop_rule_and_divergence();
    test_explain_update();
    test_step_activation();
    test_zero_one();
    return check_done();
}
