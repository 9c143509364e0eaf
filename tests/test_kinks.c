/* test_kinks.c - the conventions at kinks (bp_kinks): relu'(0) = 0 or 1, and a
 * max/min tie split half and half or given to the first argument.
 *
 *  - expressions at points on kinks against tests/golden/kinks/expr.json
 *    (PyTorch 1.13 under each of the four combinations, checked against
 *    gradients derived by hand: tests/golden/gen_kinks.py), and the formulas
 *    of --symbolic at the same conventions evaluated at those points;
 *  - the setting changes exactly the entries at kinks: on a graph, the
 *    gradient of relu's input differs exactly where it is 0, max's and min's
 *    exactly where the arguments are equal; on a network, dL/dz of the
 *    highest ReLU layer that has a z of exactly 0 differs exactly there (where
 *    dL/da is not 0), and nothing above it changes;
 *  - the setting belongs to its object: a clone keeps it, a second net or
 *    expression is not affected.
 * (The networks' values with relu'(0) = 1 against PyTorch: test_golden; the
 * fused step with either convention against the graph: test_fused.) */
#define _GNU_SOURCE
#include "backprop.h"
#include "check.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int close_to(double a, double b) { return fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b)) + 1e-15; }

static void expr_fixtures(void)
{
    json_error_t je;
    json_t *all = json_load_file("tests/golden/kinks/expr.json", 0, &je);
    CHECK(json_is_array(all), "tests/golden/kinks/expr.json: %s", je.text);
    size_t i;
    json_t *c;
    int n = 0;
    json_array_foreach(all, i, c) {
        const char *text = json_string_value(json_object_get(c, "expr")), *at = json_string_value(json_object_get(c, "at"));
        bp_kinks k = {(int)json_integer_value(json_object_get(c, "relu_grad_at_zero")), BP_TIE_HALF};
        CHECK_EXPR(bp_tie_parse(json_string_value(json_object_get(c, "tie")), &k.tie) == 0);
        bp_expr *e;
        bp_error err;
        if (bp_expr_parse(text, &e, NULL, &err)) { CHECK(0, "%s: %s", text, err.msg); continue; }
        bp_expr_set_kinks(e, &k);
        if (bp_expr_set_point(e, at, &err) || bp_expr_eval(e, NULL, &err)) {
            CHECK(0, "%s at %s: %s", text, at, err.msg);
            bp_expr_free(e);
            continue;
        }
        json_t *vars = json_object_get(c, "variables"), *jac = json_object_get(c, "jacobian");
        CHECK((size_t)bp_expr_nwrt(e) == json_array_size(vars), "%s: variables", text);
        for (int j = 0; j < bp_expr_nwrt(e); j++)
            CHECK(!strcmp(bp_expr_wrt(e, j), json_string_value(json_array_get(vars, (size_t)j))), "%s: variable %d", text, j);
        int rows = jac ? (int)json_array_size(jac) : 1, ok = bp_expr_noutputs(e) == rows;
        for (int r = 0; ok && r < rows; r++) {
            json_t *row = jac ? json_array_get(jac, (size_t)r) : json_object_get(c, "gradient");
            json_t *v = json_object_get(c, "value");
            ok &= close_to(bp_expr_value(e, r), json_number_value(jac ? json_array_get(v, (size_t)r) : v));
            for (int j = 0; j < bp_expr_nwrt(e); j++)
                ok &= close_to(bp_expr_jacobian(e, r, j), json_number_value(json_array_get(row, (size_t)j)));
        }
        if (!check_count(ok))
            fprintf(stderr, "FAIL %s at %s, relu'(0) = %d, tie %s: differs from PyTorch (d/d%s = %g)\n", text, at,
                    k.relu_at_zero, bp_tie_name(k.tie), bp_expr_wrt(e, 0), bp_expr_jacobian(e, 0, 0));
        /* --symbolic writes the convention into the formulas: evaluated at the kink, they give the same */
        bp_symbolic *sy;
        if (bp_expr_symbolic(e, &sy, NULL, &err) == BP_OK) {
            int fok = 1;
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < bp_expr_nwrt(e); j++) {
                    bp_expr *f;
                    const char *ft = bp_symbolic_derivative(sy, r, j);
                    double got = NAN;
                    if (bp_expr_parse(ft, &f, NULL, NULL) == BP_OK) {
                        for (int v = 0; v < bp_expr_nvars(f); v++) {   /* the point, for the variables the formula has */
                            char one[64];
                            const char *p = strstr(at, bp_expr_var(f, v));
                            while (p && (p != at && p[-1] != ',')) p = strstr(p + 1, bp_expr_var(f, v));
                            snprintf(one, sizeof one, "%.*s", p ? (int)strcspn(p, ",") : 0, p ? p : "");
                            bp_expr_set_point(f, one, NULL);
                        }
                        if (bp_expr_eval(f, NULL, NULL) == BP_OK) got = bp_expr_value(f, 0);
                        bp_expr_free(f);
                    }
                    if (got != bp_expr_jacobian(e, r, j)) {
                        fok = 0;
                        fprintf(stderr, "FAIL %s --symbolic (relu'(0) = %d, tie %s): %s = %g at %s, the graph gives %g\n",
                                text, k.relu_at_zero, bp_tie_name(k.tie), ft, got, at, bp_expr_jacobian(e, r, j));
                    }
                }
            check_count(fok);
            bp_symbolic_free(sy);
        } else CHECK(0, "%s --symbolic: %s", text, err.msg);
        /* the text report names the convention used at the kink */
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        bp_expr_write_text(e, mem, &err);
        fclose(mem);
        const char *want = strstr(text, "relu") && k.relu_at_zero ? "relu'(0) = 1"
                         : strstr(text, "relu")                    ? "relu'(0) = 0"
                         : k.tie == BP_TIE_FIRST                   ? "all of the gradient to the first argument"
                                                                   : "half of the gradient to each argument";
        CHECK(buf && strstr(buf, "kinks") && strstr(buf, want), "%s (relu'(0) = %d, tie %s): the report says %s", text,
              k.relu_at_zero, bp_tie_name(k.tie), buf ? buf : "nothing");
        free(buf);
        bp_expr_free(e);
        n++;
    }
    CHECK(n >= 40, "expected the 40 expression cases, found %d", n);
    json_decref(all);
    /* no kink at the point: no note */
    bp_expr *e;
    bp_error err;
    if (bp_expr_parse("relu(x) + max(x, y)", &e, NULL, &err) == BP_OK) {
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        CHECK_EXPR(bp_expr_set_point(e, "x=1,y=2", &err) == BP_OK && bp_expr_eval(e, NULL, &err) == BP_OK);
        bp_expr_write_text(e, mem, &err);
        fclose(mem);
        CHECK(buf && !strstr(buf, "kinks"), "no kink, no note: %s", buf ? buf : "");
        free(buf);
        bp_expr_free(e);
    }
}

/* A graph: op(A[, B]) times weights C (no two equal), summed; the gradient of A
 * (and B) under convention k into ga (gb). */
static void graph_grads(bp_op op, const double *a, const double *b, int n, const bp_kinks *k, double *ga, double *gb)
{
    bp_graph *g = bp_graph_new(BP_F64);
    bp_error err;
    bp_graph_set_kinks(g, k);
    bp_kinks got = bp_graph_kinks(g);
    CHECK(got.relu_at_zero == (k->relu_at_zero != 0) && got.tie == k->tie, "bp_graph_kinks gives the setting back");
    bp_node A = bp_graph_leaf(g, 1, n, 1, "A", &err), B = b ? bp_graph_leaf(g, 1, n, 1, "B", &err) : -1;
    bp_node C = bp_graph_leaf(g, 1, n, 0, "C", &err);
    bp_mat av = bp_graph_value(g, A), cv = bp_graph_value(g, C);
    for (int i = 0; i < n; i++) {
        bp_mat_set(&av, 0, i, a[i]);
        bp_mat_set(&cv, 0, i, 1 + 0.25 * i);
        if (b) { bp_mat bv = bp_graph_value(g, B); bp_mat_set(&bv, 0, i, b[i]); }
    }
    bp_node y = b ? bp_op_binary(g, op, A, B, &err) : bp_op_unary(g, op, A, &err);
    bp_node s = bp_op_unary(g, BP_OP_SUM, bp_op_binary(g, BP_OP_MUL, y, C, &err), &err);
    CHECK(s >= 0 && bp_graph_forward(g, &err) == BP_OK && bp_graph_backward(g, s, &err) == BP_OK, "%s", err.msg);
    bp_mat gav = bp_graph_grad(g, A);
    for (int i = 0; i < n; i++) ga[i] = bp_mat_get(&gav, 0, i);
    if (b) {
        bp_mat gbv = bp_graph_grad(g, B);
        for (int i = 0; i < n; i++) gb[i] = bp_mat_get(&gbv, 0, i);
    }
    bp_graph_free(g);
}

static void graph_exact_entries(void)
{
    enum { N = 9 };
    const double z[N] = {-2, 0, 1.5, 0, -0.0, 3, -1e-300, 1e-300, 0};
    double g0[N], g1[N], w;
    graph_grads(BP_OP_RELU, z, NULL, N, &(bp_kinks){0, BP_TIE_HALF}, g0, NULL);
    graph_grads(BP_OP_RELU, z, NULL, N, &(bp_kinks){1, BP_TIE_HALF}, g1, NULL);
    for (int i = 0; i < N; i++) {
        w = 1 + 0.25 * i;
        if (z[i] == 0) CHECK(g0[i] == 0 && g1[i] == w, "relu at z[%d] = 0: %g (relu'(0) = 0) and %g (= 1)", i, g0[i], g1[i]);
        else CHECK(g0[i] == g1[i] && g0[i] == (z[i] > 0 ? w : 0), "relu at z[%d] = %g: %g and %g", i, z[i], g0[i], g1[i]);
    }
    const double a[N] = {1, 2, 2, -1, 0, 5, 3, -0.0, 7}, b[N] = {1, 1, 3, -1, -0.0, 4, 3, 0, 8};
    for (int mn = 0; mn < 2; mn++) {
        bp_op op = mn ? BP_OP_MIN : BP_OP_MAX;
        double ha[N], hb[N], fa[N], fb[N];
        graph_grads(op, a, b, N, &(bp_kinks){0, BP_TIE_HALF}, ha, hb);
        graph_grads(op, a, b, N, &(bp_kinks){0, BP_TIE_FIRST}, fa, fb);
        for (int i = 0; i < N; i++) {
            w = 1 + 0.25 * i;
            if (a[i] == b[i])
                CHECK(ha[i] == w / 2 && hb[i] == w / 2 && fa[i] == w && fb[i] == 0, "%s tie at %d: half %g %g, first %g %g",
                      bp_op_name(op), i, ha[i], hb[i], fa[i], fb[i]);
            else {
                int a_wins = mn ? a[i] < b[i] : a[i] > b[i];
                CHECK(ha[i] == fa[i] && hb[i] == fb[i] && ha[i] == (a_wins ? w : 0) && hb[i] == (a_wins ? 0 : w),
                      "%s at %d (%g, %g): the tie setting changes nothing", bp_op_name(op), i, a[i], b[i]);
            }
        }
    }
    /* tie names */
    bp_tie t;
    CHECK_EXPR(!strcmp(bp_tie_name(BP_TIE_HALF), "half") && !strcmp(bp_tie_name(BP_TIE_FIRST), "first"));
    CHECK_EXPR(bp_tie_parse("first", &t) == 0 && t == BP_TIE_FIRST && bp_tie_parse("second", &t) == -1);
}

/* On a network whose ReLU pre-activations hit 0 exactly: the highest such
 * layer's dL/dz differs between the conventions exactly at its zeros (where
 * dL/da is not 0); every layer above is unchanged. */
static void net_exact_entries(const char *path)
{
    bp_model *m[2];
    bp_error err;
    double loss[2];
    for (int k = 0; k < 2; k++) {
        if (bp_model_load(path, BP_F64, &m[k], &err)) { CHECK(0, "%s", err.msg); return; }
        bp_net_set_kinks(bp_model_net(m[k]), &(bp_kinks){k, BP_TIE_HALF});
        CHECK(bp_model_pass(m[k], &loss[k], &err) == BP_OK, "%s: %s", path, err.msg);
    }
    bp_net *n0 = bp_model_net(m[0]), *n1 = bp_model_net(m[1]);
    const bp_net_spec *s = bp_net_get_spec(n0);
    CHECK(loss[0] == loss[1], "%s: the loss does not depend on the convention", path);
    int top = -1;
    for (int l = s->nlayers - 1; l >= 0 && top < 0; l--) {
        if (s->layers[l].act != BP_ACT_RELU) continue;
        bp_mat z = bp_net_z(n0, l);
        for (int i = 0; i < z.rows * z.cols && top < 0; i++)
            if (bp_mat_get(&z, i / z.cols, i % z.cols) == 0) top = l;
    }
    CHECK(top >= 0, "%s has a ReLU pre-activation of exactly 0", path);
    if (top < 0) goto done;
    int changed = 0;
    for (int l = s->nlayers - 1; l >= top; l--) {
        bp_mat z = bp_net_z(n0, l), d0 = bp_net_dz(n0, l), d1 = bp_net_dz(n1, l), da = bp_net_da(n0, l);
        for (int i = 0; i < z.rows; i++)
            for (int j = 0; j < z.cols; j++) {
                double a0 = bp_mat_get(&d0, i, j), a1 = bp_mat_get(&d1, i, j);
                int kink = l == top && bp_mat_get(&z, i, j) == 0 && (l == s->nlayers - 1 || bp_mat_get(&da, i, j) != 0);
                changed += kink;
                if (kink) CHECK(a0 == 0 && a1 != 0, "%s layer %d (%d, %d): z = 0: dL/dz %g and %g", path, l + 1, i, j, a0, a1);
                else CHECK(a0 == a1, "%s layer %d (%d, %d): not a kink, yet dL/dz %g and %g", path, l + 1, i, j, a0, a1);
            }
    }
    CHECK(changed > 0, "%s: the convention changes some entry", path);
    /* a clone keeps the convention; the other net is not affected */
    bp_net *c;
    CHECK(bp_net_clone(n1, BP_F64, &c, &err) == BP_OK && bp_net_kinks(c).relu_at_zero == 1, "a clone keeps relu'(0) = 1");
    bp_net_free(c);
    CHECK_EXPR(bp_net_kinks(n0).relu_at_zero == 0);
done:
    bp_model_free(m[0]);
    bp_model_free(m[1]);
}

int main(void)
{
    expr_fixtures();
    graph_exact_entries();
    net_exact_entries("tests/golden/cases/case_072.json");
    net_exact_entries("tests/golden/cases/case_073.json");
    net_exact_entries("tests/golden/cases/case_074.json");
    return check_done();
}
