/* test_boundary.c - decision boundaries and one-vs-rest / one-vs-one model
 * sets against values derived by hand:
 *  - CS577 Assignment 2, question 4: g = 1 + 2 x1 + 3 x2 has the normal
 *    (2, 3), |n| = sqrt(13), unit normal (2, 3)/sqrt(13) and distance
 *    -1/sqrt(13) from the origin (the notes divide by sqrt(14), theta_0
 *    wrongly inside the norm); points' values, sides and distances;
 *  - the variables' order, the refusal of non-linear terms (with the place);
 *  - a softmax regression's class scores and pairwise boundaries
 *    theta_i - theta_j, a scaler folded into theta, the threshold of one
 *    output unit, a layer with the bias trick;
 *  - the combination rules of a model set (scores, distances, votes and
 *    their ties) on hand-made models, their file, and training on iris. */
#define _POSIX_C_SOURCE 200809L
#include "backprop.h"
#include "check.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int near(double a, double b) { return fabs(a - b) <= 1e-12 * fmax(1, fabs(b)); }

static void test_question4(void)
{
    bp_boundary *b = NULL;
    bp_error err;
    int where;
    CHECK(bp_boundary_parse("1 + 2*x1 + 3*x2", &b, &where, &err) == BP_OK, "%s", err.msg);
    if (!b) return;
    CHECK(bp_boundary_dims(b) == 2 && bp_boundary_count(b) == 1, "dims %d, count %d", bp_boundary_dims(b), bp_boundary_count(b));
    CHECK(bp_boundary_theta0(b, 0) == 1 && bp_boundary_theta(b, 0, 0) == 2 && bp_boundary_theta(b, 0, 1) == 3, "theta");
    CHECK(bp_boundary_add_point(b, "x1=1,x2=1", &err) == BP_OK, "%s", err.msg);
    CHECK(bp_boundary_add_point(b, "x2=0,x1=-0.5", &err) == BP_OK, "%s", err.msg);
    CHECK(bp_boundary_add_point(b, "x1=-1,x2=-1", &err) == BP_OK, "%s", err.msg);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(bp_boundary_write_json(b, f, &err) == BP_OK, "%s", err.msg);
    fclose(f);
    json_error_t je;
    json_t *j = json_loads(buf, 0, &je), *g = json_array_get(json_object_get(j, "boundaries"), 0);
    CHECK(j != NULL, "not JSON: %s", je.text);
    double s13 = sqrt(13.0);
    CHECK(near(json_number_value(json_object_get(g, "norm")), s13), "|n| = %.17g", json_number_value(json_object_get(g, "norm")));
    json_t *u = json_object_get(g, "unit_normal");
    CHECK(near(json_number_value(json_array_get(u, 0)), 2 / s13) && near(json_number_value(json_array_get(u, 1)), 3 / s13),
          "unit normal");
    CHECK(near(json_number_value(json_object_get(g, "distance")), -1 / s13), "distance %.17g (the notes: -1/sqrt(14) = %.17g)",
          json_number_value(json_object_get(g, "distance")), -1 / sqrt(14.0));
    json_t *pts = json_object_get(j, "points");
    double want_g[3] = {6, 0, -4};
    int want_side[3] = {1, 0, -1};
    for (int p = 0; p < 3; p++) {
        json_t *pt = json_array_get(pts, (size_t)p);
        double gv = json_number_value(json_array_get(json_object_get(pt, "g"), 0));
        double dv = json_number_value(json_array_get(json_object_get(pt, "distance"), 0));
        CHECK(gv == want_g[p] && json_integer_value(json_array_get(json_object_get(pt, "side"), 0)) == want_side[p] &&
                  near(dv, want_g[p] / s13),
              "point %d: g %g, distance %.17g", p, gv, dv);
    }
    json_decref(j);
    free(buf);
    buf = NULL;
    f = open_memstream(&buf, &len);
    CHECK(bp_boundary_write_text(b, f, &err) == BP_OK, "%s", err.msg);
    fclose(f);
    CHECK(strstr(buf, "3.6055513 = sqrt(13)") && strstr(buf, "-0.2773501 = -1/sqrt(13)") &&
              strstr(buf, "(0.5547002, 0.83205029)") && strstr(buf, "on the boundary (g = 0)"),
          "text:\n%s", buf);
    free(buf);
    CHECK(bp_boundary_add_point(b, "x1=1", &err) != BP_OK && strstr(err.msg, "x2"), "a point without x2: %s", err.msg);
    CHECK(bp_boundary_add_point(b, "x1=1,x3=2", &err) != BP_OK && strstr(err.msg, "x3"), "x3: %s", err.msg);
    bp_boundary_free(b);
}

static void test_parse(void)
{
    static const struct { const char *text; double theta0, t[3]; const char *vars; } good[] = {
        {"3*x2 + 2*x1 + 1", 1, {2, 3}, "x1 x2"},
        {"x10 - x2/4 + 2^3", 8, {-0.25, 1}, "x2 x10"},
        {"b + 2*a - (x2 - x1)*sqrt(9)", 0, {3, -3, 1}, "x1 x2 b"},   /* x-names first, then b, a by first use */
        {"-(1 - x1)*exp(0) + 0*x2", -1, {1, 0}, "x1 x2"},
        {"x1^1 + 4/2*x1", 0, {3}, "x1"},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        bp_boundary *b = NULL;
        bp_error err;
        if (bp_boundary_parse(good[i].text, &b, NULL, &err)) {
            CHECK(0, "'%s': %s", good[i].text, err.msg);
            continue;
        }
        char vars[64] = "";
        int ok = near(bp_boundary_theta0(b, 0), good[i].theta0);
        for (int v = 0; v < bp_boundary_dims(b) && v < 3; v++) {
            snprintf(vars + strlen(vars), sizeof vars - strlen(vars), "%s%s", v ? " " : "", bp_boundary_var(b, v));
            ok &= near(bp_boundary_theta(b, 0, v), good[i].t[v]);
        }
        CHECK(ok, "'%s': theta", good[i].text);
        if (i == 2) CHECK(bp_boundary_dims(b) == 4 && !strcmp(bp_boundary_var(b, 3), "a"), "'%s': 4 variables", good[i].text);
        else CHECK(!strcmp(vars, good[i].vars), "'%s': variables '%s', expected '%s'", good[i].text, vars, good[i].vars);
        bp_boundary_free(b);
    }
    static const struct { const char *text, *msg; int where; } bad[] = {
        {"1 + x1*x2", "x1*x2 (at column 5) is not linear: a product of two terms that depend on variables (x1 and x2)", 4},
        {"x1 + x2^2", "x2^2 (at column 6) is not linear: a power (^2) of a term that depends on x2", 5},
        {"2^x1 + x2", "2^x1 (at column 1) is not linear: a power whose exponent depends on x1", 0},
        {"x1 + 1/(x2 + 1)", "1/(x2 + 1) (at column 6) is not linear: a division by a term that depends on x2", 5},
        {"tanh(x1) + 1", "tanh(x1) (at column 1) is not linear: tanh of a term that depends on x1", 0},
        {"x1 + (x2 > 1)", "(x2 > 1) (at column 6) is not linear: a matrix product or a comparison", 5},
        {"max(x1, 0)", "max of a term that depends on x1", 0},
        {"[x1, x2]", "a vector", 0},
        {"F(a) = 2*a; F(x1)", "definitions", 0},
        {"x1 - x1 + 3", "does not depend on its variables", -1},
        {"4", "does not depend on any variable", -1},
        {"x1 / 0", "division by zero", 0},
        {"log(0 - 1) * x1", "log(-1) is outside its domain", 0},
        {"1 + * x1", "", 4},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bp_boundary *b = NULL;
        bp_error err;
        int where = -2;
        bp_status st = bp_boundary_parse(bad[i].text, &b, &where, &err);
        CHECK(st != BP_OK && b == NULL && strstr(err.msg, bad[i].msg) && where == bad[i].where,
              "'%s': status %d, where %d, '%s'", bad[i].text, st, where, st ? err.msg : "");
    }
    /* a long sum: no deep recursion */
    size_t n = 200000;
    char *text = malloc(n * 5 + 8);
    strcpy(text, "1");
    for (size_t i = 0, k = 1; i < n / 3; i++) k += (size_t)sprintf(text + k, "+x1-1");
    bp_boundary *b = NULL;
    bp_error err;
    CHECK(bp_boundary_parse(text, &b, NULL, &err) == BP_OK && b && near(bp_boundary_theta(b, 0, 0), (double)(n / 3)),
          "a long sum: %s", b ? "" : err.msg);
    bp_boundary_free(b);
    free(text);
}

static bp_model *model(const char *json)
{
    bp_model *m = NULL;
    bp_error err;
    if (bp_model_parse(json, strlen(json), "m.json", BP_F64, &m, &err)) { fprintf(stderr, "%s\n", err.msg); exit(2); }
    return m;
}

static void test_models(void)
{
    /* softmax regression: theta_k = row k, theta_k0 = b_k; pairs theta_i - theta_j by hand */
    bp_model *m = model("{\"inputs\": 2, \"layers\": [{\"units\": 3, \"activation\": \"softmax\", "
                        "\"W\": [[1, 2], [-1, 0.5], [0, -3]], \"b\": [0.5, 0, -1]}], \"loss\": \"cross_entropy\"}");
    bp_boundary *b = NULL;
    bp_error err;
    CHECK(bp_boundary_of_net(bp_model_net(m), NULL, NULL, &b, &err) == BP_OK, "%s", err.msg);
    static const double want[6][3] = {{0.5, 1, 2}, {0, -1, 0.5}, {-1, 0, -3}, {0.5, 2, 1.5}, {1.5, 1, 5}, {1, -1, 3.5}};
    static const int pair[6][2] = {{0, -1}, {1, -1}, {2, -1}, {0, 1}, {0, 2}, {1, 2}};
    CHECK(b && bp_boundary_count(b) == 6, "6 functions");
    for (int k = 0; b && k < 6; k++) {
        int ci, cj;
        bp_boundary_classes(b, k, &ci, &cj);
        CHECK(bp_boundary_theta0(b, k) == want[k][0] && bp_boundary_theta(b, k, 0) == want[k][1] &&
                  bp_boundary_theta(b, k, 1) == want[k][2] && ci == pair[k][0] && cj == pair[k][1],
              "function %d (%s): %g + %g x1 + %g x2", k, bp_boundary_name(b, k), bp_boundary_theta0(b, k),
              bp_boundary_theta(b, k, 0), bp_boundary_theta(b, k, 1));
    }
    /* on the pairwise boundary of classes 0 and 1 the two scores tie */
    double x[2] = {1, -1.5};   /* 0.5 + 2 - 2.25*... : g_0 - g_1 = 0.5 + 2 x1 + 1.5 x2 = 0 at (1, -5/3) */
    x[1] = -5.0 / 3;
    CHECK(b && fabs(bp_boundary_value(b, 3, x)) < 1e-15 && fabs(bp_boundary_value(b, 0, x) - bp_boundary_value(b, 1, x)) < 1e-12,
          "the pairwise boundary");
    bp_boundary_free(b);
    bp_model_free(m);

    /* a scaler folded in: g(x as given) equals z of the scaled x; the bias trick, in_out */
    m = model("{\"inputs\": 2, \"weight_layout\": \"in_out\", \"layers\": [{\"units\": 1, \"activation\": \"sigmoid\", "
              "\"bias\": \"trick\", \"W\": [[-0.5], [2], [-1]]}], \"loss\": \"bce\", "
              "\"scaler\": {\"mean\": [1, 4], \"std\": [2, 0.5]}}");
    CHECK(bp_boundary_of_net(bp_model_net(m), bp_model_scaler(m), NULL, &b, &err) == BP_OK, "%s", err.msg);
    /* z = -0.5 + 2 (x1 - 1)/2 - (x2 - 4)/0.5 = 6.5 + x1 - 2 x2 */
    CHECK(b && near(bp_boundary_theta0(b, 0), 6.5) && near(bp_boundary_theta(b, 0, 0), 1) && near(bp_boundary_theta(b, 0, 1), -2),
          "folded: %g + %g x1 + %g x2", bp_boundary_theta0(b, 0), bp_boundary_theta(b, 0, 0), bp_boundary_theta(b, 0, 1));
    bp_boundary_free(b);
    bp_model_free(m);

    /* one linear output: class 1 where it is >= 0.5, so g = z - 0.5 */
    m = model("{\"inputs\": 1, \"layers\": [{\"units\": 1, \"activation\": \"linear\", \"W\": [[4]], \"b\": [1]}], "
              "\"loss\": \"squared\"}");
    CHECK(bp_boundary_of_net(bp_model_net(m), NULL, NULL, &b, &err) == BP_OK && near(bp_boundary_theta0(b, 0), 0.5),
          "linear output: theta_0 %g", b ? bp_boundary_theta0(b, 0) : NAN);
    bp_boundary_free(b);
    bp_model_free(m);
    m = model("{\"inputs\": 2, \"layers\": [{\"units\": 2, \"activation\": \"tanh\"}, {\"units\": 1, \"activation\": "
              "\"sigmoid\"}], \"loss\": \"bce\"}");
    CHECK(bp_boundary_of_net(bp_model_net(m), NULL, "m.json", &b, &err) == BP_E_VALUE && strstr(err.msg, "m.json has 1 hidden layer"),
          "hidden layers: %s", err.msg);
    bp_model_free(m);
}

/* A binary network of two inputs: z = b + w1 x1 + w2 x2, sigmoid, bce. */
static bp_net *binary(double b, double w1, double w2)
{
    bp_net_spec s;
    memset(&s, 0, sizeof s);
    s.inputs = 2;
    s.nlayers = 1;
    s.layers[0] = (bp_layer_spec){1, BP_ACT_SIGMOID, 1, 0};
    s.loss = BP_LOSS_BCE;
    bp_net *n = NULL;
    bp_error err;
    if (bp_net_new(&s, BP_F64, &n, &err)) exit(2);
    bp_mat W = bp_net_weight(n, 0), B = bp_net_bias(n, 0);
    bp_mat_set(&W, 0, 0, w1);
    bp_mat_set(&W, 0, 1, w2);
    bp_mat_set(&B, 0, 0, b);
    return n;
}

static void predict(bp_multiclass *mc, const bp_scaler *sc, bp_ovr_rule rule, float *x, int n, int *cls)
{
    bp_dataset d;
    memset(&d, 0, sizeof d);
    d.n = n;
    d.features = 2;
    d.x = x;
    bp_error err;
    CHECK(bp_multiclass_predict(mc, sc, rule, &d, 2, cls, NULL, &err) == BP_OK, "%s", err.msg);
}

static void test_sets(void)
{
    bp_error err;
    /* one-vs-rest: z_0 = x1, z_1 = x2, z_2 = 0.1 + 10 x1 (|theta| 1, 1, 10). At (1, 2): scores
     * s(1), s(2), s(10.1): class 2; distances 1, 2, 1.01: class 1. At (-1, -1): z = -1, -1, -9.9:
     * scores tie between classes 0 and 1, the first wins; distances -1, -1, -0.99: class 2. */
    bp_net *ovr[3] = {binary(0, 1, 0), binary(0, 0, 1), binary(0.1, 10, 0)};
    const char *names[3] = {"a", "b", "c"};
    bp_multiclass *mc = NULL;
    CHECK(bp_multiclass_new(BP_OVR, 3, ovr, 3, names, &mc, &err) == BP_OK, "%s", err.msg);
    float x[4] = {1, 2, -1, -1};
    int cls[2];
    predict(mc, NULL, BP_OVR_SCORE, x, 2, cls);
    CHECK(cls[0] == 2 && cls[1] == 0, "ovr score: %d %d", cls[0], cls[1]);
    predict(mc, NULL, BP_OVR_DISTANCE, x, 2, cls);
    CHECK(cls[0] == 1 && cls[1] == 2, "ovr distance: %d %d", cls[0], cls[1]);
    /* the distance is for x as the data gives it: with x2 given in tenths (std 0.1: x2' = x2 / 0.1), model 1's
     * |theta| is 10, so at (1, 0.2 given): distances 1, 0.2, 1.01 -> class 2 */
    float mean[2] = {0, 0}, sd[2] = {1, 0.1f};
    bp_scaler sc = {2, mean, sd, 0, 0, 0};
    float xs[2] = {1, 0.2f};
    predict(mc, &sc, BP_OVR_DISTANCE, xs, 1, cls);
    CHECK(cls[0] == 2, "ovr distance with a scaler: %d", cls[0]);
    /* the boundaries give the same classes */
    bp_boundary *b = NULL;
    CHECK(bp_boundary_of_multiclass(mc, NULL, NULL, &b, &err) == BP_OK && bp_boundary_count(b) == 6, "%s", err.msg);
    bp_boundary_free(b);
    /* the file */
    if (!check_tmpdir("bp_boundary")) return;
    const char *p = check_path("set.safetensors");
    CHECK(bp_multiclass_save(mc, NULL, p, &err) == BP_OK, "%s", err.msg);
    CHECK(bp_multiclass_file(p) == 1, "not recognised as a model set");
    bp_multiclass *back = NULL;
    CHECK(bp_multiclass_load(p, BP_F64, &back, NULL, &err) == BP_OK, "%s", err.msg);
    if (back) {
        int pos, neg;
        bp_multiclass_pair(back, 2, &pos, &neg);
        CHECK(bp_multiclass_classes(back) == 3 && bp_multiclass_models(back) == 3 && pos == 2 && neg == -1 &&
                  !strcmp(bp_multiclass_class_names(back)[1], "b"),
              "loaded set");
        predict(back, NULL, BP_OVR_DISTANCE, x, 2, cls);
        CHECK(cls[0] == 1 && cls[1] == 2, "loaded ovr distance: %d %d", cls[0], cls[1]);
    }
    bp_multiclass_free(back);
    bp_net *one = NULL;
    CHECK(bp_net_load(p, BP_F64, &one, NULL, &err) == BP_E_FORMAT && strstr(err.msg, "model set"), "as one net: %s", err.msg);
    bp_multiclass_free(mc);

    /* one-vs-one, pairs (0,1), (0,2), (1,2), positive the first: z_01 = x1, z_02 = x2, z_12 = 0.5 - x1.
     * At (1, -1): votes 0, 2, 2 (z_12 = -0.5): class 2. At (1, 1): 0, 0, 2: class 0.
     * At (-1, 1): votes 1, 0, 1: class 1. At (-1, -1): 1, 2, 1: class 1.
     * A three-way tie (one vote each): z_01 = x1, z_02 = -x1, z_12 = x1 at x1 = 1: 0, 2, 1; the summed
     * confidences: class 0: s(1) + 1 - s(-1) = 2 s(1); class 1: 1 - s(1) + s(1) = 1; class 2: s(1): class 0. */
    bp_net *ovo[3] = {binary(0, 1, 0), binary(0, 0, 1), binary(0.5, -1, 0)};
    CHECK(bp_multiclass_new(BP_OVO, 3, ovo, 3, NULL, &mc, &err) == BP_OK, "%s", err.msg);
    float y[8] = {1, -1, 1, 1, -1, 1, -1, -1};
    int c4[4];
    predict(mc, NULL, BP_OVR_SCORE, y, 4, c4);
    CHECK(c4[0] == 2 && c4[1] == 0 && c4[2] == 1 && c4[3] == 1, "ovo votes: %d %d %d %d", c4[0], c4[1], c4[2], c4[3]);
    bp_multiclass_free(mc);
    bp_net *tie[3] = {binary(0, 1, 0), binary(0, -1, 0), binary(0, 1, 0)};
    CHECK(bp_multiclass_new(BP_OVO, 3, tie, 3, NULL, &mc, &err) == BP_OK, "%s", err.msg);
    float t[2] = {1, 0};
    predict(mc, NULL, BP_OVR_SCORE, t, 1, cls);
    CHECK(cls[0] == 0, "ovo tie by confidence: %d", cls[0]);
    /* the model-set boundary's vote agrees */
    CHECK(bp_boundary_of_multiclass(mc, NULL, NULL, &b, &err) == BP_OK, "%s", err.msg);
    if (b) {
        CHECK(bp_boundary_add_point(b, "x1=1,x2=0", &err) == BP_OK, "%s", err.msg);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        bp_boundary_write_json(b, f, &err);
        fclose(f);
        CHECK(strstr(buf, "\"class\": 0") != NULL, "boundary vote: %s", buf);
        free(buf);
    }
    bp_boundary_free(b);
    bp_multiclass_free(mc);
    bp_net *few[2] = {binary(0, 1, 0), binary(0, 1, 0)};
    CHECK(bp_multiclass_new(BP_OVO, 3, few, 2, NULL, &mc, &err) == BP_E_ARG && !mc, "2 models for ovo of 3 classes");
    check_remove_tree(check_dir());
}

/* Training on iris (f64): the sets tell the classes apart, and their file gives the same classes. */
static void test_iris(void)
{
    bp_csv_options co;
    bp_csv_options_init(&co);
    bp_dataset d;
    bp_error err;
    if (bp_csv_load("examples/data/iris.csv", &co, &d, &err)) { CHECK(0, "%s", err.msg); return; }
    bp_scaler sc = {0};
    CHECK(bp_scaler_fit(&sc, &d, &err) == BP_OK && bp_scaler_apply(&sc, &d, &err) == BP_OK, "%s", err.msg);
    bp_net_spec s;
    memset(&s, 0, sizeof s);
    s.inputs = 4;
    s.nlayers = 1;
    s.layers[0] = (bp_layer_spec){1, BP_ACT_SIGMOID, 1, 0};
    s.loss = BP_LOSS_BCE;
    bp_train_options o;
    bp_train_options_init(&o);
    o.epochs = 60;
    o.batch = 16;
    o.lr = 0.2;
    for (int sch = 0; sch < 2; sch++) {
        bp_multiclass *mc = NULL;
        CHECK(bp_multiclass_train(&s, BP_F64, BP_INIT_XAVIER, (bp_multiclass_scheme)sch, &d, NULL, &o, NULL, NULL, &mc, &err) ==
                  BP_OK, "%s", err.msg);
        if (!mc) continue;
        CHECK(bp_multiclass_models(mc) == 3 && !strcmp(bp_multiclass_class_names(mc)[2], "virginica"), "the set");
        bp_metrics m;
        CHECK(bp_multiclass_evaluate(mc, &sc, BP_OVR_SCORE, &d, 0, &m, &err) == BP_OK, "%s", err.msg);
        CHECK(m.accuracy >= (sch ? 0.95 : 0.9) && m.class_acc[0] == 1 && m.confusion[0] == 50,
              "%s: accuracy %g", sch ? "ovo" : "ovr", m.accuracy);
        bp_metrics_free(&m);
        if (!sch) {
            CHECK(bp_multiclass_evaluate(mc, &sc, BP_OVR_DISTANCE, &d, 0, &m, &err) == BP_OK && m.accuracy >= 0.8,
                  "ovr distance rule: %g", m.accuracy);
            bp_metrics_free(&m);
        }
        bp_multiclass_free(mc);
    }
    bp_multiclass *mc = NULL;
    d.nclasses = 2;
    CHECK(bp_multiclass_train(&s, BP_F64, BP_INIT_XAVIER, BP_OVR, &d, NULL, &o, NULL, NULL, &mc, &err) == BP_E_VALUE &&
              strstr(err.msg, "at least 3 classes"), "2 classes: %s", err.msg);
    d.nclasses = 3;
    s.layers[0].act = BP_ACT_SOFTMAX;
    s.layers[0].units = 3;
    s.loss = BP_LOSS_CE;
    CHECK(bp_multiclass_train(&s, BP_F64, BP_INIT_XAVIER, BP_OVR, &d, NULL, &o, NULL, NULL, &mc, &err) == BP_E_VALUE &&
              strstr(err.msg, "one sigmoid output unit"), "softmax: %s", err.msg);
    bp_scaler_free(&sc);
    bp_dataset_free(&d);
}

int main(void)
{
    test_question4();
    test_parse();
    test_models();
    test_sets();
    test_iris();
    return check_done();
}
