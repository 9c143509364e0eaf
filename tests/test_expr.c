/* test_expr.c - `backprop expr`: questions 10 and 13 of CS577 Assignment 2 with
 * their true values (derived by hand below, not copied from the assignment,
 * whose working has slips), the gates, gradients of hundreds of random
 * expressions against central differences, and bad expressions.  The last line
 * printed is "N passed, M failed". */
#define _GNU_SOURCE
#include "backprop.h"
#include "check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEAR(a, b) (fabs((a) - (b)) <= 1e-12 * (1 + fabs(b)))

/* Parse, set the point, evaluate; NULL (and a failure) on any error. */
static bp_expr *ev(const char *text, const char *point)
{
    bp_expr *e = NULL;
    bp_error err = {BP_OK, ""};
    int where;
    if (bp_expr_parse(text, &e, &where, &err) || (point && bp_expr_set_point(e, point, &err)) ||
        bp_expr_eval(e, &where, &err)) {
        check_count(0);
        fprintf(stderr, "FAIL: %s at %s: %s\n", text, point ? point : "-", err.msg);
        bp_expr_free(e);
        return NULL;
    }
    return e;
}

/* Value and Jacobian (row-major nout x nwrt) of `text` at `point`. */
static void expect(const char *text, const char *point, int nout, const double *val, int nw, const double *jac)
{
    bp_expr *e = ev(text, point);
    if (!e) return;
    int ok = bp_expr_noutputs(e) == nout && bp_expr_nwrt(e) == nw;
    for (int i = 0; ok && i < nout; i++) {
        ok = NEAR(bp_expr_value(e, i), val[i]);
        for (int j = 0; ok && j < nw; j++) ok = NEAR(bp_expr_jacobian(e, i, j), jac[i * nw + j]);
    }
    if (!check_count(ok)) {
        fprintf(stderr, "FAIL: %s at %s:", text, point);
        for (int i = 0; i < bp_expr_noutputs(e); i++) {
            fprintf(stderr, " value %.17g, row", bp_expr_value(e, i));
            for (int j = 0; j < bp_expr_nwrt(e); j++) fprintf(stderr, " %.17g", bp_expr_jacobian(e, i, j));
        }
        fputc('\n', stderr);
    }
    bp_expr_free(e);
}

/* A report written to a temporary file, as a string (caller frees). */
static char *report(bp_expr *e, int kind)
{
    FILE *f = tmpfile();
    bp_error err;
    bp_status s = kind == 0 ? bp_expr_write_text(e, f, &err) : kind == 1 ? bp_expr_write_json(e, 1, f, &err)
                : kind == 2 ? bp_expr_write_steps(e, f, &err) : kind == 3 ? bp_expr_write_chain(e, f, &err)
                : bp_expr_write_dot(e, f, &err);
    long n = ftell(f);
    char *buf = calloc((size_t)n + 1, 1);
    rewind(f);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n || s) buf[0] = 0;
    fclose(f);
    return buf;
}

/* ---- CS577 Assignment 2, questions 13 and 10 --------------------------------- */

static void test_cs577(void)
{
    /* 13a: f(x,y) = (2x+3y)^2; grad = [4(2x+3y), 6(2x+3y)]; at (1,2): 64, [32, 48] */
    expect("(2*x + 3*y)^2", "x=1,y=2", 1, (double[]){64}, 2, (double[]){32, 48});
    expect("(2*x + 3*y)^2", "x=-1,y=0.5", 1, (double[]){0.25}, 2, (double[]){-2, -3});
    /* 13b: F = [x^2+2y, 3x+4y^2], J = [[2x, 2], [3, 8y]]; at (1,2): [5, 19], [[2,2],[3,16]] */
    expect("[x^2 + 2*y, 3*x + 4*y^2]", "x=1,y=2", 2, (double[]){5, 19}, 2, (double[]){2, 2, 3, 16});
    /* 13c: G(x) = [x, x^2]; F(G(x)) = [3x^2, 3x + 4x^4]; J = [6x, 3 + 16x^3]; at x=2: [12, 70], [12, 131] */
    const char *fg = "G(x) = [x, x^2]; F(x,y) = [x^2 + 2*y, 3*x + 4*y^2]; F(G(x))";
    expect(fg, "x=2", 2, (double[]){12, 70}, 1, (double[]){12, 131});
    expect(fg, "x=1", 2, (double[]){3, 7}, 1, (double[]){6, 19});
    expect("[3*x^2, 3*x + 4*x^4]", "x=2", 2, (double[]){12, 70}, 1, (double[]){12, 131});
    bp_expr *e = ev(fg, "x=2");
    if (e) {
        bp_mat jf, jg, jp;
        bp_error err;
        CHECK_EXPR(bp_expr_chain(e, &jf, &jg, &jp, &err) == BP_OK);
        /* J_F at G = [[2g1, 2], [3, 8g2]] = [[4, 2], [3, 32]]; J_G = [1, 2x] = [1, 4] */
        CHECK_EXPR(jf.rows == 2 && jf.cols == 2 && bp_mat_get(&jf, 0, 0) == 4 && bp_mat_get(&jf, 0, 1) == 2 &&
              bp_mat_get(&jf, 1, 0) == 3 && bp_mat_get(&jf, 1, 1) == 32);
        CHECK_EXPR(jg.rows == 2 && jg.cols == 1 && bp_mat_get(&jg, 0, 0) == 1 && bp_mat_get(&jg, 1, 0) == 4);
        CHECK_EXPR(jp.rows == 2 && jp.cols == 1 && bp_mat_get(&jp, 0, 0) == 12 && bp_mat_get(&jp, 1, 0) == 131);
        char *t = report(e, 3);
        CHECK_EXPR(strstr(t, "J_F at G") && strstr(t, "same Jacobian: yes"));
        free(t);
        bp_expr_free(e);
    }
    /* 10: G(a,b) = [a-5b, ab, a-b], F(c,d,e) = [3cd, d-e].
     * F o G = [3a^2 b - 15ab^2, ab - a + b];
     * J = [[6ab - 15b^2, 3a^2 - 30ab], [b - 1, a + 1]]   (the assignment's 9ab-15b^2 and
     * -33ab+3a^2 come from a 3ab that belongs nowhere in the third column of J_F:
     * J_F = [[3d, 3c, 0], [0, 1, -1]]).  At (a,b) = (2,1): value [-18, 1],
     * J = [[-3, -48], [0, 3]]; J_F at G = (-3, 2, 1) is [[6, -9, 0], [0, 1, -1]]. */
    const char *cg = "G(a,b) = [a-5*b, a*b, a-b]; F(c,d,e) = [3*c*d, d-e]; F(G(a,b))";
    expect(cg, "a=2,b=1", 2, (double[]){-18, 1}, 2, (double[]){-3, -48, 0, 3});
    expect(cg, "a=1,b=2", 2, (double[]){-54, 3}, 2, (double[]){-48, -57, 1, 2});
    if ((e = ev(cg, "a=2,b=1"))) {
        bp_mat jf, jg, jp;
        CHECK_EXPR(bp_expr_chain(e, &jf, &jg, &jp, NULL) == BP_OK);
        double wf[] = {6, -9, 0, 0, 1, -1}, wg[] = {1, -5, 1, 2, 1, -1};
        int ok = jf.rows == 2 && jf.cols == 3 && jg.rows == 3 && jg.cols == 2;
        for (int i = 0; ok && i < 6; i++) ok = bp_mat_get(&jf, i / 3, i % 3) == wf[i] && bp_mat_get(&jg, i / 2, i % 2) == wg[i];
        CHECK_EXPR(ok);
        char *t = report(e, 1);
        CHECK_EXPR(!strcmp(t, "{\"variables\": [\"a\", \"b\"], \"value\": [-18, 1], \"jacobian\": [[-3, -48], [0, 3]], "
                         "\"chain\": {\"outer\": \"F\", \"parameters\": [\"c\", \"d\", \"e\"], \"inner_value\": [-3, 2, 1], "
                         "\"jacobian_outer\": [[6, -9, 0], [0, 1, -1]], \"jacobian_inner\": [[1, -5], [1, 2], [1, -1]], "
                         "\"product\": [[-3, -48], [0, 3]]}}\n"));
        free(t);
        bp_expr_free(e);
    }
    /* JSON of 13a exactly as documented */
    if ((e = ev("(2*x + 3*y)^2", "x=1,y=2"))) {
        char *t = report(e, 1);
        CHECK_EXPR(!strcmp(t, "{\"variables\": [\"x\", \"y\"], \"value\": 64, \"gradient\": [32, 48]}\n"));
        free(t);
        bp_expr_free(e);
    }
}

/* ---- gates ------------------------------------------------------------------- */

static void test_gates(void)
{
    /* add passes the gradient to both; with a constant k, d/dk does not exist (k is no variable) */
    expect("x1 + x2", "x1=3,x2=-4", 1, (double[]){-1}, 2, (double[]){1, 1});
    expect("x + 5", "x=3", 1, (double[]){8}, 1, (double[]){1});
    /* mul sends each input the other's value */
    expect("x1 * x2", "x1=3,x2=-4", 1, (double[]){-12}, 2, (double[]){-4, 3});
    expect("x * 5", "x=3", 1, (double[]){15}, 1, (double[]){5});
    /* max and min route to the winner; a tie is split half and half (PyTorch) */
    expect("max(x1, x2)", "x1=3,x2=-4", 1, (double[]){3}, 2, (double[]){1, 0});
    expect("max(x1, x2)", "x1=-3,x2=4", 1, (double[]){4}, 2, (double[]){0, 1});
    expect("max(x1, x2)", "x1=2,x2=2", 1, (double[]){2}, 2, (double[]){0.5, 0.5});
    expect("min(x1, x2)", "x1=3,x2=-4", 1, (double[]){-4}, 2, (double[]){0, 1});
    expect("min(x1, x2)", "x1=2,x2=2", 1, (double[]){2}, 2, (double[]){0.5, 0.5});
    /* upstream gradient times the local one: d/dx 3*max(x, y) = 3 when x wins */
    expect("3 * max(x, y) + min(x, y)", "x=5,y=1", 1, (double[]){16}, 2, (double[]){3, 1});
    /* kinks: relu'(0) = 0, abs'(0) = 0 */
    expect("relu(x)", "x=0", 1, (double[]){0}, 1, (double[]){0});
    expect("abs(x)", "x=0", 1, (double[]){0}, 1, (double[]){0});
    expect("abs(x) + relu(y)", "x=-2,y=3", 1, (double[]){5}, 2, (double[]){-1, 1});
    /* fan-out: x used twice gets the sum of both paths */
    expect("x*x + x", "x=3", 1, (double[]){12}, 1, (double[]){7});
    /* powers: integer, real, negative, variable exponent; -x^2 = -(x^2) */
    expect("x^3 + x^0.5 + x^-1", "x=4", 1, (double[]){64 + 2 + 0.25}, 1, (double[]){48 + 0.25 - 0.0625});
    expect("(-x)^3", "x=2", 1, (double[]){-8}, 1, (double[]){-12});
    expect("-x^2", "x=3", 1, (double[]){-9}, 1, (double[]){-6});
    expect("2^3^2", NULL, 1, (double[]){512}, 0, NULL);
    expect("x^y", "x=2,y=3", 1, (double[]){8}, 2, (double[]){12, 8 * log(2)});
    expect("exp(x) + log(x) + sqrt(x)", "x=1", 1, (double[]){exp(1) + 1}, 1, (double[]){exp(1) + 1 + 0.5});
    expect("sigmoid(x) + tanh(x)", "x=0", 1, (double[]){0.5}, 1, (double[]){1.25});
    /* vectors: elementwise with broadcast, flattening, constant outputs */
    expect("2 * [x, y] - 1", "x=1,y=2", 2, (double[]){1, 3}, 2, (double[]){2, 0, 0, 2});
    expect("[[x, y], 7]", "x=1,y=2", 3, (double[]){1, 2, 7}, 2, (double[]){1, 0, 0, 1, 0, 0});
    expect("max([x, y], 0)", "x=-1,y=2", 2, (double[]){0, 2}, 2, (double[]){0, 0, 0, 1});
    /* --wrt order */
    bp_expr *e = NULL;
    bp_error err;
    if (bp_expr_parse("x * y^2", &e, NULL, &err) == BP_OK) {
        CHECK_EXPR(bp_expr_set_point(e, "x = 3, y=2", &err) == BP_OK);
        CHECK_EXPR(bp_expr_set_wrt(e, "y,x", &err) == BP_OK);
        CHECK_EXPR(bp_expr_eval(e, NULL, &err) == BP_OK && bp_expr_jacobian(e, 0, 0) == 12 && bp_expr_jacobian(e, 0, 1) == 4);
        CHECK_EXPR(!strcmp(bp_expr_wrt(e, 0), "y") && !strcmp(bp_expr_var(e, 0), "x"));
        CHECK_EXPR(bp_expr_set_wrt(e, "y", &err) == BP_OK && bp_expr_eval(e, NULL, &err) == BP_OK && bp_expr_nwrt(e) == 1);
        char *t = report(e, 1);
        CHECK_EXPR(!strcmp(t, "{\"variables\": [\"y\"], \"value\": 12, \"gradient\": [12]}\n"));
        free(t);
        bp_expr_free(e);
    } else CHECK_EXPR(0);
    /* steps and drawing */
    if ((e = ev("max(x, y) * z", "x=1,y=3,z=2"))) {
        char *t = report(e, 2);
        CHECK_EXPR(strstr(t, "forward pass") && strstr(t, "max(n0, n1)") && strstr(t, "the winner takes the gradient") &&
              strstr(t, "the loser gets nothing") && strstr(t, "d/dx = 0, d/dy = 2, d/dz = 3"));
        free(t);
        t = report(e, 4);
        CHECK_EXPR(!strncmp(t, "// backprop expr", 16) && strstr(t, "digraph expr {") && strstr(t, "n3: max(n0, n1)") &&
              strstr(t, "value 3\\ngrad 2") && strstr(t, "n0 -> n3;"));
        free(t);
        bp_expr_free(e);
    }
    if ((e = ev("max(x, y)", "x=1,y=1"))) {
        char *t = report(e, 2);
        CHECK_EXPR(strstr(t, "tie: the gradient is split half and half") != NULL);
        free(t);
        bp_expr_free(e);
    }
}

/* ---- random expressions against central differences ------------------------- */

static uint64_t rs = 0x9E3779B97F4A7C15ull;
static double urand(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (double)(rs >> 11) * 0x1.0p-53;
}
static int irand(int n) { return (int)(urand() * n); }

/* printf into a new string; frees the strings passed as a and b. */
static char *cat(char *a, char *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    free(a);
    free(b);
    return s;
}

static const char *VARS[] = {"x", "y", "z"};
static double point[3];

/* Set every variable the expression has (others are not there). */
static void set_all(bp_expr *e)
{
    for (int i = 0; i < 3; i++) bp_expr_set(e, VARS[i], point[i], NULL);
}

static double value_at(const char *text)
{
    bp_expr *e;
    double v = NAN;
    if (bp_expr_parse(text, &e, NULL, NULL)) return v;
    set_all(e);
    if (bp_expr_eval(e, NULL, NULL) == BP_OK) v = bp_expr_value(e, 0);
    bp_expr_free(e);
    return v;
}

static char *gen(int depth, const char **vars, int nv, int kinks);

/* An expression that is positive wherever it is evaluated. */
static char *gen_pos(int depth, const char **vars, int nv, int kinks)
{
    char *a = gen(depth, vars, nv, kinks);
    switch (irand(4)) {
    case 0: return cat(a, NULL, "(1.5 + (%s)^2)", a);
    case 1: return cat(a, NULL, "exp(tanh(%s))", a);
    case 2: return cat(a, NULL, "sqrt(1 + (%s)^2)", a);
    default: return cat(a, NULL, "sigmoid(%s)", a);
    }
}

/* A random expression over vars, defined everywhere; with `kinks`, relu,
 * abs, max and min whose arguments are kept at least 0.5 from the kink at
 * the current point (so central differences see a smooth function). */
static char *gen(int depth, const char **vars, int nv, int kinks)
{
    if (depth == 0 || urand() < 0.2) {
        if (urand() < 0.7) return cat(NULL, NULL, "%s", vars[irand(nv)]);
        double c = round((urand() * 4 - 2) * 100) / 100;
        return cat(NULL, NULL, c < 0 ? "(%g)" : "%g", c);
    }
    int d = depth - 1, k = irand(kinks ? 17 : 13);
    char *a = gen(d, vars, nv, kinks), *b;
    switch (k) {
    case 0: b = gen(d, vars, nv, kinks); return cat(a, b, "%s + %s", a, b);
    case 1: b = gen(d, vars, nv, kinks); return cat(a, b, "%s - (%s)", a, b);
    case 2: b = gen(d, vars, nv, kinks); return cat(a, b, "(%s) * (%s)", a, b);
    case 3: b = gen_pos(d, vars, nv, kinks); return cat(a, b, "(%s) / %s", a, b);
    case 4: return cat(a, NULL, "-(%s)", a);
    case 5: return cat(a, NULL, urand() < 0.5 ? "exp(tanh(%s))" : "exp(sigmoid(%s))", a);
    case 6: free(a); a = gen_pos(d, vars, nv, kinks); return cat(a, NULL, "log(%s)", a);
    case 7: free(a); a = gen_pos(d, vars, nv, kinks); return cat(a, NULL, "sqrt(%s)", a);
    case 8: return cat(a, NULL, "sigmoid(%s)", a);
    case 9: return cat(a, NULL, "tanh(%s)", a);
    case 10: {
        static const char *P[] = {"0.5", "1.5", "-1", "-0.5", "2.5"};
        free(a);
        a = gen_pos(d, vars, nv, kinks);
        return cat(a, NULL, "%s^%s", a, P[irand(5)]);
    }
    case 11: return cat(a, NULL, "(%s)^%d", a, 2 + irand(2));
    case 12: b = gen_pos(d, vars, nv, kinks); return cat(a, b, "%s^tanh(%s)", b, a);
    case 13: case 14: {
        double v = value_at(a);
        return cat(a, NULL, "%s((%s) + %g)", k == 13 ? "relu" : "abs", a, v >= 0 ? 0.5 : -0.5);
    }
    default: {
        b = gen(d, vars, nv, kinks);
        double diff = value_at(a) - value_at(b);
        return cat(a, b, "%s(%s, (%s) + %g)", k == 15 ? "max" : "min", a, b, diff >= 0 ? -0.5 : 0.5);
    }
    }
}

/* Each Jacobian entry against the five-point central difference. */
static int check_fd(const char *text, int *checked)
{
    bp_expr *e;
    bp_error err;
    if (bp_expr_parse(text, &e, NULL, &err)) { fprintf(stderr, "FAIL parse %s: %s\n", text, err.msg); return 0; }
    set_all(e);
    if (bp_expr_eval(e, NULL, &err)) { fprintf(stderr, "FAIL eval %s: %s\n", text, err.msg); bp_expr_free(e); return 0; }
    int no = bp_expr_noutputs(e), nw = bp_expr_nwrt(e), ok = 1;
    double *J = malloc(sizeof *J * (size_t)(no * nw + 1)), *F[4];
    for (int i = 0; i < no * nw; i++) J[i] = bp_expr_jacobian(e, i / nw, i % nw);
    for (int s = 0; s < 4; s++) F[s] = malloc(sizeof *F[s] * (size_t)no);
    for (int j = 0; ok && j < nw; j++) {
        int vi = 0;
        while (strcmp(VARS[vi], bp_expr_wrt(e, j))) vi++;
        double x0 = point[vi], h = 1e-3, step[4] = {-2 * h, -h, h, 2 * h};
        for (int s = 0; ok && s < 4; s++) {
            bp_expr_set(e, VARS[vi], x0 + step[s], NULL);
            if (bp_expr_eval(e, NULL, &err)) { ok = 0; fprintf(stderr, "FAIL eval %s: %s\n", text, err.msg); break; }
            for (int i = 0; i < no; i++) F[s][i] = bp_expr_value(e, i);
        }
        bp_expr_set(e, VARS[vi], x0, NULL);
        for (int i = 0; ok && i < no; i++) {
            double fd = (F[0][i] - 8 * F[1][i] + 8 * F[2][i] - F[3][i]) / (12 * h), g = J[i * nw + j];
            if (!(fabs(fd - g) <= 1e-6 * (1 + fabs(g)))) {
                ok = 0;
                fprintf(stderr, "FAIL gradient of %s w.r.t. %s (output %d) at x=%g,y=%g,z=%g: backprop %.17g, "
                                "finite differences %.17g\n", text, VARS[vi], i, point[0], point[1], point[2], g, fd);
            }
            (*checked)++;
        }
    }
    if (ok && bp_expr_is_composition(e)) {   /* the chain rule: J_F J_G equals J */
        bp_expr_eval(e, NULL, NULL);
        bp_mat jf, jg, jp;
        bp_expr_chain(e, &jf, &jg, &jp, NULL);
        for (int i = 0; ok && i < no * nw; i++) {
            double p = bp_mat_get(&jp, i / nw, i % nw);
            if (!(fabs(p - J[i]) <= 1e-12 * (1 + fabs(J[i])))) {
                ok = 0;
                fprintf(stderr, "FAIL chain rule of %s: J_F J_G = %.17g, J = %.17g\n", text, p, J[i]);
            }
        }
    }
    for (int s = 0; s < 4; s++) free(F[s]);
    free(J);
    bp_expr_free(e);
    return ok;
}

static void test_random(void)
{
    int checked = 0, n = 0;
    for (int t = 0; t < 400; t++, n++) {
        for (int i = 0; i < 3; i++) point[i] = round((urand() * 4 - 2) * 1000) / 1000;
        int nv = 1 + irand(3), kind = t < 300 ? 0 : t < 360 ? 1 : 2;
        char *text;
        if (kind == 0) text = gen(1 + irand(4), VARS, nv, 1);
        else if (kind == 1) {   /* a vector: the Jacobian row by row */
            char *a = gen(3, VARS, nv, 1), *b = gen(3, VARS, nv, 1);
            text = cat(a, b, "[%s, %s]", a, b);
        } else {                /* a composition F(G(x, y)) */
            static const char *AB[] = {"a", "b"}, *CDE[] = {"c", "d", "e"};
            char *g1 = gen(2, AB, 2, 0), *g2 = gen(2, AB, 2, 0), *g3 = gen(2, AB, 2, 0);
            char *G = cat(g1, g2, "G(a,b) = [%s, %s, ", g1, g2);
            G = cat(G, g3, "%s%s]; ", G, g3);
            char *f1 = gen(2, CDE, 3, 0), *f2 = gen(2, CDE, 3, 0);
            char *F = cat(f1, f2, "F(c,d,e) = [%s, %s]; ", f1, f2);
            text = cat(G, F, "%s%sF(G(x, y))", G, F);
        }
        check_count(check_fd(text, &checked));
        free(text);
    }
    printf("random expressions: %d, Jacobian entries checked against finite differences: %d\n", n, checked);
}

/* ---- random matrix expressions against central differences ---------------------- */

/* The matrix variables: their names and shapes. */
static const struct { const char *name; int r, c; } MV[] = {
    {"A", 2, 3}, {"B", 3, 2}, {"v", 3, 1}, {"w", 1, 3}, {"s", 1, 1}, {"C", 3, 3}, {"u", 2, 1},
};
#define NMV ((int)(sizeof MV / sizeof *MV))
static double mval[NMV][9];

static char *mgen(int r, int c, int depth);

/* Something of shape r x c that is positive everywhere. */
static char *mgen_pos(int r, int c, int depth)
{
    char *a = mgen(r, c, depth);
    return irand(2) ? cat(a, NULL, "(1.5 + (%s)^2)", a) : cat(a, NULL, "exp(tanh(%s))", a);
}

/* A random expression of shape r x c (rows and columns up to 3) over the
 * variables of MV, built from every matrix operation of the language. */
static char *mgen(int r, int c, int depth)
{
    if (depth == 0 || urand() < 0.15) {
        for (int t = 0; t < 4; t++) {   /* a variable of the shape, or of the transposed one */
            int i = irand(NMV);
            if (MV[i].r == r && MV[i].c == c) return cat(NULL, NULL, "%s", MV[i].name);
            if (MV[i].r == c && MV[i].c == r && r != c) return cat(NULL, NULL, "%s^T", MV[i].name);
        }
        if (r == 1 && c == 1) return cat(NULL, NULL, "%g", round((urand() * 4 - 2) * 100) / 100);
        return cat(NULL, NULL, "ones(%d, %d) * %g", r, c, round((urand() * 4 - 2) * 100) / 100);
    }
    int d = depth - 1, k = 1 + irand(3);
    char *a, *b;
    switch (irand(16)) {
    case 0: a = mgen(r, k, d); b = mgen(k, c, d); return cat(a, b, "(%s) @ (%s)", a, b);
    case 1: a = mgen(c, r, d); return cat(a, NULL, "(%s)^T", a);
    case 2: a = mgen(r, c, d); b = mgen(r, c, d); return cat(a, b, "%s + %s", a, b);
    case 3: a = mgen(r, c, d); b = mgen(r, c, d); return cat(a, b, "%s - (%s)", a, b);
    case 4: a = mgen(r, c, d); b = mgen(r, c, d); return cat(a, b, "(%s) * (%s)", a, b);
    case 5: a = mgen(r, c, d); b = mgen_pos(r, c, d); return cat(a, b, "(%s) / %s", a, b);
    case 6: a = mgen(r, c, d); b = mgen(1, 1, d); return cat(a, b, "(%s) * (%s)", b, a);
    case 7: a = mgen(r, c, d); b = mgen(1, c, d); return cat(a, b, "(%s) + (%s)", a, b);
    case 8: a = mgen(r, c, d); b = mgen(r, 1, d); return cat(a, b, "(%s) - (%s)", b, a);
    case 9: {
        static const char *F[] = {"sigmoid", "tanh", "sigmoid'", "tanh'", "softmax", "exp(tanh"};
        int f = irand(6);
        a = mgen(r, c, d);
        return cat(a, NULL, f == 5 ? "%s(%s))" : "%s(%s)", F[f], a);
    }
    case 10: a = mgen_pos(r, c, d); return cat(a, NULL, irand(2) ? "log(%s)" : "sqrt(%s)", a);
    case 11: a = mgen_pos(r, c, d); return cat(a, NULL, "%s^%s", a, irand(2) ? "1.5" : "-1");
    default:
        if (r == 1 && c == 1) { a = mgen(1 + irand(3), 1 + irand(3), d); return cat(a, NULL, irand(2) ? "sum(%s)" : "mean(%s)", a); }
        if (c == 1) { a = mgen(r, k, d); return cat(a, NULL, irand(2) ? "rowsum(%s)" : "rowmean(%s)", a); }
        if (r == 1) { a = mgen(k, c, d); return cat(a, NULL, irand(2) ? "colsum(%s)" : "colmean(%s)", a); }
        if (r == c) { a = mgen(r, 1, d); return cat(a, NULL, "diag(%s)", a); }
        a = mgen(r, c, d);
        return cat(a, NULL, "(%s)^2", a);
    }
}

/* Every derivative of every output entry against the five-point central
 * difference in each entry of each variable. */
static int check_fd_matrix(const char *text, int *checked)
{
    bp_expr *e;
    bp_error err;
    if (bp_expr_parse(text, &e, NULL, &err)) { fprintf(stderr, "FAIL parse %s: %s\n", text, err.msg); return 0; }
    for (int i = 0; i < NMV; i++) bp_expr_set_matrix(e, MV[i].name, MV[i].r, MV[i].c, mval[i], NULL);
    if (bp_expr_eval(e, NULL, &err)) { fprintf(stderr, "FAIL eval %s: %s\n", text, err.msg); bp_expr_free(e); return 0; }
    int no = bp_expr_noutputs(e), nw = bp_expr_nwrt(e), ok = 1, width = 0;
    for (int j = 0; j < nw; j++) { int r, c; bp_expr_var_shape(e, j, &r, &c); width += r * c; }
    double *J = malloc(sizeof *J * (size_t)(no * width + 1)), *F[4];
    for (int i = 0, w = 0; i < no; i++)
        for (int j = 0; j < nw; j++) {
            int r, c;
            bp_expr_var_shape(e, j, &r, &c);
            for (int q = 0; q < r * c; q++) J[w++] = bp_expr_derivative(e, i, j, q / c, q % c);
        }
    for (int q = 0; q < 4; q++) F[q] = malloc(sizeof *F[q] * (size_t)no);
    for (int j = 0, col = 0; ok && j < nw; j++) {
        int vi = 0, r, c;
        while (strcmp(MV[vi].name, bp_expr_wrt(e, j))) vi++;
        bp_expr_var_shape(e, j, &r, &c);
        for (int q = 0; ok && q < r * c; q++, col++) {
            double x0 = mval[vi][q], h = 1e-3, step[4] = {-2 * h, -h, h, 2 * h};
            for (int t = 0; ok && t < 4; t++) {
                mval[vi][q] = x0 + step[t];
                bp_expr_set_matrix(e, MV[vi].name, r, c, mval[vi], NULL);
                if (bp_expr_eval(e, NULL, &err)) { ok = 0; fprintf(stderr, "FAIL eval %s: %s\n", text, err.msg); }
                for (int i = 0; ok && i < no; i++) F[t][i] = bp_expr_value(e, i);
            }
            mval[vi][q] = x0;
            bp_expr_set_matrix(e, MV[vi].name, r, c, mval[vi], NULL);
            for (int i = 0; ok && i < no; i++) {
                double fd = (F[0][i] - 8 * F[1][i] + 8 * F[2][i] - F[3][i]) / (12 * h), g = J[(size_t)i * width + col];
                if (!(fabs(fd - g) <= 1e-6 * (1 + fabs(g)))) {
                    ok = 0;
                    fprintf(stderr, "FAIL derivative of %s, output %d, w.r.t. %s entry %d: backprop %.17g, "
                                    "finite differences %.17g\n", text, i, MV[vi].name, q, g, fd);
                }
                (*checked)++;
            }
        }
    }
    for (int q = 0; q < 4; q++) free(F[q]);
    free(J);
    bp_expr_free(e);
    return ok;
}

static void test_random_matrices(void)
{
    int checked = 0, n = 0;
    static const int SH[][2] = {{1, 1}, {2, 3}, {3, 1}, {1, 3}, {3, 3}, {2, 2}};
    for (int t = 0; t < 300; t++, n++) {
        for (int i = 0; i < NMV; i++)
            for (int q = 0; q < 9; q++) mval[i][q] = round((urand() * 2 - 1) * 1000) / 1000;
        int sh = irand(6);
        char *text = mgen(SH[sh][0], SH[sh][1], 1 + irand(4));
        check_count(check_fd_matrix(text, &checked));
        free(text);
    }
    printf("random matrix expressions: %d, derivatives checked against finite differences: %d\n", n, checked);
}

/* ---- matrices: values, shapes, reports ------------------------------------------ */

static void test_matrices(void)
{
    /* W x for W = [[0.1, 0.2], [0.3, 0.4]], x = [1, 2]: [0.5, 1.1]; d(Wx)_i/dW = row i: x^T, d/dx = W */
    bp_expr *e = ev("W @ x", "W=[[0.1,0.2],[0.3,0.4]],x=[1,2]");
    if (e) {
        int r, c;
        bp_expr_shape(e, &r, &c);
        CHECK_EXPR(r == 2 && c == 1 && bp_expr_is_vector(e) && bp_expr_noutputs(e) == 2);
        CHECK_EXPR(NEAR(bp_expr_value(e, 0), 0.5) && NEAR(bp_expr_value(e, 1), 1.1));
        CHECK_EXPR(bp_expr_derivative(e, 0, 0, 0, 0) == 1 && bp_expr_derivative(e, 0, 0, 0, 1) == 2 &&
                   bp_expr_derivative(e, 0, 0, 1, 0) == 0 && bp_expr_derivative(e, 1, 0, 1, 1) == 2);
        CHECK_EXPR(bp_expr_derivative(e, 0, 1, 0, 0) == 0.1 && bp_expr_derivative(e, 1, 1, 1, 0) == 0.4);
        CHECK_EXPR(isnan(bp_expr_derivative(e, 0, 1, 0, 1)) && isnan(bp_expr_derivative(e, 2, 0, 0, 0)));
        bp_expr_free(e);
    }
    /* the gradient of a scalar has the variable's shape: d sum(W x)/dW = 1 x^T, d/dx = W^T 1 */
    if ((e = ev("sum(W @ x)", "W=[[0.1,0.2],[0.3,0.4]],x=[1,2]"))) {
        char *t = report(e, 1);
        CHECK(!strcmp(t, "{\"variables\": [\"W\", \"x\"], \"value\": 1.6, \"gradient\": [[[1, 2], [1, 2]], "
                         "[0.4, 0.6000000000000001]]}\n"), "%s", t);
        free(t);
        t = report(e, 0);
        CHECK(!strcmp(t, "value     1.6\ngradient  d/dW = [ 1 2 ]\n                 [ 1 2 ]\n"
                         "          d/dx = [ 0.4 ]\n                 [ 0.6 ]\n"), "%s", t);
        free(t);
        bp_error err;
        CHECK_EXPR(bp_expr_write_steps(e, fopen("/dev/null", "w"), &err) == BP_E_ARG && strstr(err.msg, "matrices"));
        bp_expr_free(e);
    }
    /* broadcasting: a row over the rows, a column over the columns, a number everywhere */
    expect("sum([[1, 2], [3, 4]] + [[10, 20]])", NULL, 1, (double[]){70}, 0, NULL);
    expect("sum([[1, 2], [3, 4]] * [10, 20])", NULL, 1, (double[]){10 + 20 + 60 + 80}, 0, NULL);
    expect("[[1, 2], [3, 4]] @ [1, 1] - 1", NULL, 2, (double[]){2, 6}, 0, NULL);
    expect("[[1, 2, 3]] @ [[1], [2], [3]]", NULL, 1, (double[]){14}, 0, NULL);
    expect("[[1, 2], [3, 4]]^T", NULL, 4, (double[]){1, 3, 2, 4}, 0, NULL);
    expect("rowsum([[1, 2], [3, 4]])", NULL, 2, (double[]){3, 7}, 0, NULL);
    expect("colmean([[1, 2], [3, 4]])", NULL, 2, (double[]){2, 3}, 0, NULL);
    expect("rowmean([[1, 2], [3, 5]]) + mean([1, 2, 3])", NULL, 2, (double[]){3.5, 6}, 0, NULL);
    expect("diag([1, 2]) @ [3, 4]", NULL, 2, (double[]){3, 8}, 0, NULL);
    expect("eye(2) + ones(2, 2)", NULL, 4, (double[]){2, 1, 1, 2}, 0, NULL);
    expect("[x, y] > 1", "x=2,y=1", 2, (double[]){1, 0}, 2, (double[]){0, 0, 0, 0});
    expect("(x >= 1) + (x < 1) + (x <= 1)", "x=1", 1, (double[]){2}, 1, (double[]){0});
    expect("step(x) + relu'(y)", "x=0,y=2", 1, (double[]){1}, 2, (double[]){0, 0});
    /* the derivatives as functions: sigma'(0) = 1/4, tanh'(0) = 1; their own slopes 0 and 0 */
    expect("sigmoid'(x) + tanh'(x)", "x=0", 1, (double[]){1.25}, 1, (double[]){0});
    /* sigma'(x) = sigma(x)(1 - sigma(x)); d/dx = sigma'(x)(1 - 2 sigma(x)) */
    double sg = 1 / (1 + exp(-0.7));
    expect("sigmoid'(x)", "x=0.7", 1, (double[]){sg * (1 - sg)}, 1, (double[]){sg * (1 - sg) * (1 - 2 * sg)});
    /* softmax per column; a row vector is one sample */
    double e1 = exp(1), e2 = exp(2);
    expect("softmax([1, 2])", NULL, 2, (double[]){e1 / (e1 + e2), e2 / (e1 + e2)}, 0, NULL);
    expect("softmax([[1, 2]])", NULL, 2, (double[]){e1 / (e1 + e2), e2 / (e1 + e2)}, 0, NULL);
    expect("softmax([[1, 5], [2, 5]])", NULL, 4, (double[]){e1 / (e1 + e2), 0.5, e2 / (e1 + e2), 0.5}, 0, NULL);
    /* unary minus is looser than ^T and ^: -A^T = -(A^T) */
    expect("sum(-[[1, 2], [3, 4]]^T * [[1, 0], [0, 0]])", NULL, 1, (double[]){-1}, 0, NULL);
    /* a matrix variable inside an old-style vector is refused, as a shape */
    static const struct { const char *text, *point, *msg; int where; } bad[] = {
        {"W @ x", "W=[[1,2],[3,4]],x=[1,2,3]", "@: 2x2 @ 3x1: inner sizes 2 and 3 differ at column 3", 2},
        {"[1, 2, 3] + [[1, 2, 3]]", NULL, "+: 3x1 + 1x3: a column and a row do not repeat", 10},
        {"W * [[1, 2, 3]]", "W=[[1,2],[3,4]]", "*: 2x2 * 1x3: the shapes differ", 2},
        {"[W, 1]", "W=[[1,2],[3,4]]", "entry 1 is 2x2", 1},
        {"diag(W)", "W=[[1,2],[3,4]]", "diag: 2x2 is not a vector", 0},
        {"max(W, [1, 2, 3])", "W=[[1,2],[3,4]]", "max: 2x2 and 3x1", 0},
        {"F(a, b) = a + b; F([1, 2] + W)", "W=[[1,2],[3,4]]", "F takes 2 arguments, got 1", 17},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bp_error err = {BP_OK, ""};
        int where = -2;
        bp_status s = bp_expr_parse(bad[i].text, &e, &where, &err);
        if (!s && bad[i].point) s = bp_expr_set_point(e, bad[i].point, &err);
        if (!s) s = bp_expr_eval(e, &where, &err);
        if (!check_count(s == BP_E_SHAPE && strstr(err.msg, bad[i].msg) && where == bad[i].where))
            fprintf(stderr, "FAIL '%s': %s, where %d, '%s'\n", bad[i].text, bp_status_name(s), where, err.msg);
        if (!s || e) bp_expr_free(e);
        e = NULL;
    }
    /* values given as matrices */
    if (bp_expr_parse("sum(W)", &e, NULL, NULL) == BP_OK) {
        bp_error err;
        CHECK_EXPR(bp_expr_set_point(e, "W=[[1,2],[3]]", &err) == BP_E_VALUE && strstr(err.msg, "row 2 has 1 numbers, row 1 has 2"));
        CHECK_EXPR(bp_expr_set_point(e, "W=[[1,2],[3,4]", &err) == BP_E_PARSE);
        CHECK_EXPR(bp_expr_set_point(e, "W=[1,,2]", &err) == BP_E_PARSE);
        CHECK_EXPR(bp_expr_set_point(e, "W=[]", &err) == BP_E_PARSE);
        CHECK_EXPR(bp_expr_set_point(e, "W=[[1, 2], [3, 4]]", &err) == BP_OK && bp_expr_eval(e, NULL, &err) == BP_OK &&
                   bp_expr_value(e, 0) == 10);
        CHECK_EXPR(bp_expr_set_matrix(e, "W", 0, 2, NULL, &err) == BP_E_VALUE);
        bp_expr_free(e);
    }
}

/* ---- --symbolic: formulas that evaluate back to the derivatives ------------------- */

/* The point of the --symbolic checks: a value for each variable by name. */
static const char *sym_names[16];
static double sym_vals[16];
static int sym_n;

/* Give every variable of e its value at the point. */
static void sym_set(bp_expr *e)
{
    for (int i = 0; i < bp_expr_nvars(e); i++)
        for (int k = 0; k < sym_n; k++)
            if (!strcmp(sym_names[k], bp_expr_var(e, i))) bp_expr_set(e, sym_names[k], sym_vals[k], NULL);
}

/* Formula f evaluated at the point: NAN if it does not parse or evaluate. */
static double eval_formula(const char *f)
{
    bp_expr *e;
    double v = NAN;
    if (bp_expr_parse(f, &e, NULL, NULL)) { fprintf(stderr, "FAIL: the formula '%s' does not parse\n", f); return v; }
    sym_set(e);
    if (bp_expr_eval(e, NULL, NULL) == BP_OK) v = bp_expr_value(e, 0);
    bp_expr_free(e);
    return v;
}

static double sym_worst;   /* the largest difference seen, relative to 1 + |derivative| */

/* The formulas of `text` (derivatives by `wrt`, NULL: every variable)
 * evaluated at `npoints` random points against the value and Jacobian the
 * graph computes there: each variable drawn from [-2, 2], or from [0.25, 2]
 * when `positive`. */
static int sym_check(const char *text, const char *wrt, int npoints, int positive)
{
    bp_expr *e;
    bp_symbolic *sy = NULL;
    bp_error err;
    int ok = 1;
    if (bp_expr_parse(text, &e, NULL, &err) || (wrt && bp_expr_set_wrt(e, wrt, &err))) {
        fprintf(stderr, "FAIL parse %s: %s\n", text, err.msg);
        bp_expr_free(e);
        return 0;
    }
    if (bp_expr_symbolic(e, &sy, NULL, &err)) {
        fprintf(stderr, "FAIL --symbolic %s: %s\n", text, err.msg);
        bp_expr_free(e);
        return 0;
    }
    int no = bp_expr_noutputs(e), nw = bp_expr_nwrt(e);
    ok = bp_symbolic_noutputs(sy) == no && bp_symbolic_nwrt(sy) == nw && bp_expr_nvars(e) <= 16;
    for (int p = 0; ok && p < npoints; p++) {
        sym_n = bp_expr_nvars(e);
        for (int i = 0; i < sym_n; i++) {
            sym_names[i] = bp_expr_var(e, i);
            sym_vals[i] = positive ? round((0.25 + urand() * 1.75) * 1000) / 1000 : round((urand() * 4 - 2) * 1000) / 1000;
        }
        sym_set(e);
        if (bp_expr_eval(e, NULL, &err)) { fprintf(stderr, "FAIL eval %s: %s\n", text, err.msg); ok = 0; break; }
        for (int i = 0; ok && i < no; i++)
            for (int j = -1; ok && j < nw; j++) {
                const char *f = j < 0 ? bp_symbolic_value(sy, i) : bp_symbolic_derivative(sy, i, j);
                double want = j < 0 ? bp_expr_value(e, i) : bp_expr_jacobian(e, i, j), got = eval_formula(f);
                double d = fabs(got - want) / (1 + fabs(want));
                if (d > sym_worst || isnan(d)) sym_worst = isnan(d) ? INFINITY : d;
                if (!(d <= 1e-9)) {
                    ok = 0;
                    fprintf(stderr, "FAIL --symbolic %s: %s%s = %s is %.17g at the point (%s = %g, ...); the graph gives "
                            "%.17g\n", text, j < 0 ? "output" : "d/d", j < 0 ? "" : bp_symbolic_wrt(sy, j), f, got,
                            sym_names[0], sym_vals[0], want);
                }
            }
    }
    bp_symbolic_free(sy);
    bp_expr_free(e);
    return ok;
}

/* --symbolic gives exactly `want`: the formulas of the outputs, each followed
 * by its derivatives, in a NULL-terminated list. */
static void sym_expect(const char *text, const char *wrt, const char *const *want)
{
    bp_expr *e;
    bp_symbolic *sy = NULL;
    bp_error err;
    if (bp_expr_parse(text, &e, NULL, &err) || (wrt && bp_expr_set_wrt(e, wrt, &err)) ||
        bp_expr_symbolic(e, &sy, NULL, &err)) {
        CHECK(0, "--symbolic %s: %s", text, err.msg);
        return;
    }
    int k = 0, ok = 1;
    for (int i = 0; i < bp_symbolic_noutputs(sy); i++)
        for (int j = -1; j < bp_symbolic_nwrt(sy); j++) {
            const char *f = j < 0 ? bp_symbolic_value(sy, i) : bp_symbolic_derivative(sy, i, j);
            if (!want[k] || strcmp(want[k], f)) {
                ok = 0;
                fprintf(stderr, "FAIL --symbolic %s: formula %d is '%s', expected '%s'\n", text, k, f, want[k] ? want[k] : "(none)");
            }
            if (want[k]) k++;
        }
    CHECK(ok && !want[k], "--symbolic %s: %d formulas expected", text, k);
    check_count(sym_check(text, wrt, 3, 1));
    bp_symbolic_free(sy);
    bp_expr_free(e);
}

static void sym_refused(const char *text, const char *msg, int where_want)
{
    bp_expr *e;
    bp_symbolic *sy = (bp_symbolic *)&sy;
    bp_error err = {BP_OK, ""};
    int where = -2;
    if (bp_expr_parse(text, &e, NULL, &err)) { CHECK(0, "parse %s: %s", text, err.msg); return; }
    bp_status st = bp_expr_symbolic(e, &sy, &where, &err);
    CHECK(st == BP_E_VALUE && sy == NULL && strstr(err.msg, msg) && where == where_want,
          "--symbolic %s: status %s, where %d, message: %s", text, bp_status_name(st), where, err.msg);
    bp_expr_free(e);
}

static void test_symbolic(void)
{
    /* the example: F o G, polynomials expanded and collected */
    sym_expect("G(a,b) = [a-5*b, a*b, a-b]; F(c,d,e) = [3*c*d, d-e]; F(G(a,b))", NULL,
               (const char *[]){"3*a^2*b - 15*a*b^2", "6*a*b - 15*b^2", "3*a^2 - 30*a*b",
                                "a*b - a + b", "b - 1", "a + 1", NULL});
    /* CS577 Assignment 2, question 13: (2x+3y)^2 and F = [x^2+2y, 3x+4y^2] */
    sym_expect("(2*x + 3*y)^2", NULL, (const char *[]){"4*x^2 + 12*x*y + 9*y^2", "8*x + 12*y", "12*x + 18*y", NULL});
    sym_expect("[x^2 + 2*y, 3*x + 4*y^2]", NULL, (const char *[]){"x^2 + 2*y", "2*x", "2", "4*y^2 + 3*x", "3", "8*y", NULL});
    /* constants folded, 0 and 1 removed */
    sym_expect("0*x + 1*y + x^1 + y^0 + 2*3", NULL, (const char *[]){"x + y + 7", "1", "1", NULL});
    sym_expect("x^3/3", NULL, (const char *[]){"1/3*x^3", "x^2", NULL});
    sym_expect("x*x*x - x^2*x", NULL, (const char *[]){"0", "0", NULL});
    /* other functions: their derivative rules, written out */
    sym_expect("sigmoid(w*x + b)", "x", (const char *[]){"sigmoid(w*x + b)", "w*sigmoid(w*x + b)*(1 - sigmoid(w*x + b))", NULL});
    sym_expect("tanh(x)", NULL, (const char *[]){"tanh(x)", "1 - tanh(x)^2", NULL});
    sym_expect("log(x)*y", NULL, (const char *[]){"y*log(x)", "y/x", "log(x)", NULL});
    sym_expect("x/y", NULL, (const char *[]){"x/y", "1/y", "-x/y^2", NULL});
    sym_expect("exp(-x^2/2)", NULL, (const char *[]){"exp(-0.5*x^2)", "-x*exp(-0.5*x^2)", NULL});
    sym_expect("sqrt(x^2 + 1)", NULL, (const char *[]){"sqrt(x^2 + 1)", "x/sqrt(x^2 + 1)", NULL});
    sym_expect("2^x + x^y", "x", (const char *[]){"2^x + x^y", "2^x*log(2) + y*x^(y - 1)", NULL});
    sym_expect("(x + 1)/(x - 1)", NULL, (const char *[]){"(x + 1)/(x - 1)", "1/(x - 1) - (x + 1)/(x - 1)^2", NULL});
    sym_expect("-x^2", NULL, (const char *[]){"-x^2", "-2*x", NULL});
    sym_expect("(-x)^3 + x^-1", NULL, (const char *[]){"-x^3 + x^-1", "-3*x^2 - x^-2", NULL});
    /* kinks: step and comparisons, at PyTorch's conventions (relu'(0) = 0, a tie half and half) */
    sym_expect("relu(y)*x + max(y, 2)", "x", (const char *[]){"x*relu(y) + max(y, 2)", "relu(y)", NULL});
    sym_expect("relu(x)", NULL, (const char *[]){"relu(x)", "step(x)", NULL});
    sym_expect("y + abs(x - 1)", NULL, (const char *[]){"y + abs(x - 1)", "1", "(x - 1 > 0) - (x - 1 < 0)", NULL});
    sym_expect("F(a) = max(a, 1); F(x)", NULL, (const char *[]){"max(x, 1)", "0.5*((x > 1) + (x >= 1))", NULL});
    sym_expect("min(x, y)", NULL, (const char *[]){"min(x, y)", "0.5*((x < y) + (x <= y))", "0.5*((y < x) + (y <= x))", NULL});
    sym_expect("relu'(x)*x + step(y) + (x > y)", NULL, (const char *[]){"x*step(x) + step(y) + (x > y)", "step(x)", "0", NULL});
    sym_expect("sigmoid'(x) + tanh'(y)", NULL,
               (const char *[]){"sigmoid'(x) + tanh'(y)", "sigmoid'(x)*(1 - 2*sigmoid(x))", "-2*tanh'(y)*tanh(y)", NULL});
    sym_expect("7", NULL, (const char *[]){"7", NULL});
    /* ... and at the other conventions */
    bp_expr *ek;
    bp_symbolic *sk;
    if (bp_expr_parse("relu(x - 1)*y + max(x, y) - min(y, x)", &ek, NULL, NULL) == BP_OK) {
        bp_expr_set_kinks(ek, &(bp_kinks){1, BP_TIE_FIRST});
        CHECK(bp_expr_symbolic(ek, &sk, NULL, NULL) == BP_OK &&
              !strcmp(bp_symbolic_derivative(sk, 0, 0), "y*(x - 1 >= 0) + (x >= y) - (x < y)") &&
              !strcmp(bp_symbolic_derivative(sk, 0, 1), "relu(x - 1) + (y > x) - (y <= x)"),
              "--symbolic with relu'(0) = 1 and --tie first: %s, %s", bp_symbolic_derivative(sk, 0, 0),
              bp_symbolic_derivative(sk, 0, 1));
        bp_symbolic_free(sk);
        bp_expr_free(ek);
    }
    /* matrices are beyond it: refused, naming the place */
    sym_refused("W @ x", "'@' is a matrix operator", 2);
    sym_refused("y + sum([x, y])", "'sum([x, y])' is beyond them", 4);
    sym_refused("x^T + 1", "'x^T' is beyond them", 0);
    /* too large: definitions that double at each level */
    char big[512];
    int n = snprintf(big, sizeof big, "D0(x)=x*x+1; ");
    for (int i = 1; i <= 12; i++) n += snprintf(big + n, sizeof big - (size_t)n, "D%d(x)=D%d(D%d(x)); ", i, i - 1, i - 1);
    snprintf(big + n, sizeof big - (size_t)n, "D12(y)");
    sym_refused(big, "too large to write out as formulas (more than 2000 operations", -1);
    /* the report: text and JSON */
    bp_expr *e;
    bp_symbolic *sy;
    if (bp_expr_parse("G(a,b) = [a-5*b, a*b, a-b]; F(c,d,e) = [3*c*d, d-e]; F(G(a,b))", &e, NULL, NULL) == BP_OK) {
        CHECK_EXPR(bp_expr_symbolic(e, &sy, NULL, NULL) == BP_OK);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        bp_symbolic_write(sy, 1, f, NULL);
        bp_symbolic_write(sy, 0, f, NULL);
        fclose(f);
        CHECK(buf && strstr(buf, "{\"variables\": [\"a\", \"b\"], \"value\": [\"3*a^2*b - 15*a*b^2\", \"a*b - a + b\"], "
                                  "\"jacobian\": [[\"6*a*b - 15*b^2\", \"3*a^2 - 30*a*b\"], [\"b - 1\", \"a + 1\"]]}\n") &&
              strstr(buf, "\n[[6*a*b - 15*b^2, 3*a^2 - 30*a*b], [b - 1, a + 1]]\n") && strstr(buf, "df2/db = a + 1\n"),
              "reports: %s", buf ? buf : "");
        free(buf);
        bp_symbolic_free(sy);
        bp_expr_free(e);
    }
    /* random expressions: every formula evaluated back at random points */
    int m = 0;
    for (int t = 0; t < 300; t++, m++) {
        int nv = 1 + irand(3);
        char *text;
        if (t < 200) text = gen(1 + irand(4), VARS, nv, t >= 100);   /* the second hundred with kinks */
        else if (t < 260) {
            char *a = gen(3, VARS, nv, 0), *b = gen(3, VARS, nv, 0);
            text = cat(a, b, "[%s, %s]", a, b);
        } else {            /* polynomials: products and powers of sums */
            char *a = gen(2, VARS, nv, 0), *b = gen(2, VARS, nv, 0);
            text = cat(a, b, "((%s) * x - y + 1)^2 * ((%s) + z)", a, b);
        }
        check_count(sym_check(text, NULL, 3, 0));
        free(text);
    }
    printf("--symbolic: %d random expressions evaluated back at 3 points each, worst difference %.3g\n", m, sym_worst);
}

/* ---- bad expressions ----------------------------------------------------------- */

static void test_errors(void)
{
    static const struct { const char *text, *point; bp_status status; const char *msg; int where; } bad[] = {
        {"(x + y * 2", NULL, BP_E_PARSE, "expected ')' at column 11, found the end of the expression", 10},
        {"x + ", NULL, BP_E_PARSE, "at column 5", 4},
        {"2x", NULL, BP_E_PARSE, "unexpected 'x' at column 2 (missing operator?)", 1},
        {"foo(x)", NULL, BP_E_PARSE, "unknown function 'foo' at column 1", 0},
        {"exp + 1", NULL, BP_E_PARSE, "'exp' at column 1 is a function", 0},
        {"max(x)", NULL, BP_E_PARSE, "max takes 2 arguments, got 1", 0},
        {"[x, y] + [x, y, x]", NULL, BP_E_PARSE, "'+' of vectors of different lengths (2 and 3) at column 8", 7},
        {"G(a) = a*k; G(x)", NULL, BP_E_PARSE, "unknown variable 'k' at column 10", 9},
        {"G(a) = G(a); G(x)", NULL, BP_E_PARSE, "calls itself", 7},
        {"F(a) = a; F(x, y)", NULL, BP_E_PARSE, "F takes 1 argument, got 2", 10},
        {"G(a, a) = a; G(x, x)", NULL, BP_E_PARSE, "parameter 'a' appears twice", 5},
        {"exp(a) = a; 1", NULL, BP_E_PARSE, "cannot redefine the builtin function 'exp'", 0},
        {"G(a) = a G(x)", NULL, BP_E_PARSE, "expected ';' at column 10 after the definition of G, found 'G'", 9},
        {"G(a) = a;", NULL, BP_E_PARSE, "expected an expression after the definitions", 9},
        {"", NULL, BP_E_PARSE, "empty expression", 0},
        {"x = 3", NULL, BP_E_PARSE, "unexpected '='", 2},
        {"x )", NULL, BP_E_PARSE, "unmatched ')'", 2},
        {"[]", NULL, BP_E_PARSE, "empty vector", 0},
        {"1e+", NULL, BP_E_PARSE, "malformed number", 0},
        {"x $ 2", NULL, BP_E_PARSE, "unexpected character '$' at column 3", 2},
        {"G(a) = a;\n G(x) +", NULL, BP_E_PARSE, "at line 2, column 8", 17},
        {"x * y", "x=1", BP_E_VALUE, "no value given for variable 'y' (first used at column 5)", 4},
        {"log(x - 2)", "x=1", BP_E_DOMAIN, "domain error at column 1: log of a non-positive value (-1) in 'log(x - 2)'", 0},
        {"1 + sqrt(x)", "x=-4", BP_E_DOMAIN, "sqrt of a negative value (-4) in 'sqrt(x)'", 4},
        {"x / (x - 1)", "x=1", BP_E_DOMAIN, "division by zero in 'x / (x - 1)'", 0},
        {"(x - 2)^0.5", "x=1", BP_E_DOMAIN, "in '(x - 2)^0.5'", 0},
        {"x^y", "x=-1,y=2", BP_E_DOMAIN, "needs a positive base", 0},
        {"F(a) = [a, log(a)]; F(x)", "x=0", BP_E_DOMAIN, "in 'log(a)' in the body of F", 11},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bp_expr *e = NULL;
        bp_error err = {BP_OK, ""};
        int where = -2;
        bp_status s = bp_expr_parse(bad[i].text, &e, &where, &err);
        if (!s && bad[i].point) s = bp_expr_set_point(e, bad[i].point, &err);
        if (!s) s = bp_expr_eval(e, &where, &err);
        if (!check_count(s == bad[i].status && strstr(err.msg, bad[i].msg) && where == bad[i].where &&
                         !strchr(err.msg, '\n'))) {
            fprintf(stderr, "FAIL bad expression '%s': status %s, where %d, message '%s'; wanted '%s' at %d\n",
                    bad[i].text, bp_status_name(s), where, err.msg, bad[i].msg, bad[i].where);
        }
        bp_expr_free(e);
    }
    /* --at and --wrt errors */
    bp_expr *e;
    bp_error err;
    if (bp_expr_parse("x + y", &e, NULL, &err) == BP_OK) {
        CHECK_EXPR(bp_expr_set_point(e, "x=1,z=2", &err) == BP_E_VALUE && strstr(err.msg, "no variable 'z' (its variables: x, y)"));
        CHECK_EXPR(bp_expr_set_point(e, "x=abc", &err) == BP_E_PARSE);
        CHECK_EXPR(bp_expr_set_point(e, "x", &err) == BP_E_PARSE);
        CHECK_EXPR(bp_expr_set(e, "x", INFINITY, &err) == BP_E_VALUE);
        CHECK_EXPR(bp_expr_set_wrt(e, "x,x", &err) == BP_E_VALUE && strstr(err.msg, "twice"));
        CHECK_EXPR(bp_expr_set_wrt(e, "w", &err) == BP_E_VALUE);
        CHECK_EXPR(bp_expr_set_wrt(e, "", &err) == BP_E_VALUE);
        CHECK_EXPR(bp_expr_chain(e, &(bp_mat){0}, &(bp_mat){0}, &(bp_mat){0}, &err) == BP_E_ARG);
        bp_expr_free(e);
    }
    /* deep nesting is refused, not a stack overflow */
    char deep[4100];
    memset(deep, '(', 2000);
    strcpy(deep + 2000, "x");
    memset(deep + 2001, ')', 2000);
    deep[4001] = 0;
    e = NULL;
    CHECK_EXPR(bp_expr_parse(deep, &e, NULL, &err) == BP_E_PARSE && strstr(err.msg, "nested too deeply"));
    bp_expr_free(e);
    /* runaway inlining is refused */
    const char *big = "A(x)=x*x; B(x)=A(x)+A(x)+A(x)+A(x); C(x)=B(x)+B(x)+B(x)+B(x); D(x)=C(x)+C(x)+C(x)+C(x); "
                      "E(x)=D(x)+D(x)+D(x)+D(x); F(x)=E(x)+E(x)+E(x)+E(x); H(x)=F(x)+F(x)+F(x)+F(x); "
                      "I(x)=H(x)+H(x)+H(x)+H(x); J(x)=I(x)+I(x)+I(x)+I(x); K(x)=J(x)+J(x)+J(x)+J(x); "
                      "L(x)=K(x)+K(x)+K(x)+K(x); L(x)";
    if (bp_expr_parse(big, &e, NULL, &err) == BP_OK) {
        bp_expr_set(e, "x", 0.5, NULL);
        CHECK_EXPR(bp_expr_eval(e, NULL, &err) == BP_E_VALUE && strstr(err.msg, "graph nodes"));
        bp_expr_free(e);
    } else CHECK_EXPR(0);
}

/* A string of n copies of `unit` between `head` and `tail` (caller frees). */
static char *rep(const char *head, const char *unit, int n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + (size_t)n * ul + tl + 1), *p = s;
    if (!s) { fprintf(stderr, "out of memory\n"); exit(2); }
    memcpy(p, head, hl); p += hl;
    for (int i = 0; i < n; i++) { memcpy(p, unit, ul); p += ul; }
    memcpy(p, tail, tl + 1);
    return s;
}

/* Long and deep expressions: a flat chain of any length works (build walks
 * it in a loop), nesting deeper than the limit is a parse error with a
 * place, never a stack overflow (cli_expr.sh runs such cases with a 1 MB
 * stack). */
/* --symbolic on a large or deep program: formulas, or a clean "too large"
 * (no crash, no exhausted stack, no endless work). want: a formula expected
 * for the first derivative, or NULL for the refusal. */
static void sym_deep(const char *text, const char *want)
{
    bp_expr *e;
    bp_symbolic *sy = NULL;
    bp_error err = {BP_OK, ""};
    if (bp_expr_parse(text, &e, NULL, &err)) { CHECK(0, "parse: %s", err.msg); return; }
    bp_status st = bp_expr_symbolic(e, &sy, NULL, &err);
    if (want) CHECK(st == BP_OK && !strcmp(bp_symbolic_derivative(sy, 0, 0), want), "--symbolic of a deep program: %s %s",
                    err.msg, st ? "" : bp_symbolic_derivative(sy, 0, 0));
    else CHECK(st == BP_E_VALUE && strstr(err.msg, "too large"), "--symbolic of a large program: %s", err.msg);
    bp_symbolic_free(sy);
    bp_expr_free(e);
}

static void test_deep(void)
{
    bp_error err;
    int where;
    bp_expr *e;
    FILE *null = fopen("/dev/null", "w");
    /* x+x+...+x, 60000 terms: value and gradient 60000; every report runs */
    char *t = rep("x", "+x", 59999, "");
    if ((e = ev(t, "x=1"))) {
        CHECK_EXPR(bp_expr_value(e, 0) == 60000 && bp_expr_jacobian(e, 0, 0) == 60000);
        CHECK_EXPR(!bp_expr_write_steps(e, null, &err) && !bp_expr_write_dot(e, null, &err) &&
              !bp_expr_write_text(e, null, &err) && !bp_expr_write_json(e, 0, null, &err));
        bp_expr_free(e);
    }
    sym_deep(t, NULL);
    free(t);
    t = rep("x", "+x", 999, "");
    sym_deep(t, "1000");
    free(t);
    t = rep("x", "*x", 999, "");
    sym_deep(t, "1000*x^999");
    free(t);
    /* long chains of other operators, vectors, inside a function */
    t = rep("max(x", "*x", 4000, ", 0)");               /* x^4001 */
    double one = 1, g4001 = 4001;
    expect(t, "x=1", 1, &one, 1, &g4001);
    free(t);
    t = rep("2*x", "-x", 1999, "");                     /* 2x - 1999x = -1997x */
    double v = -1997 * 0.5, g = -1997;
    expect(t, "x=0.5", 1, &v, 1, &g);
    free(t);
    t = rep("[x, 2*x]", "+[x, 2*x]", 2999, "");         /* [3000x, 6000x] */
    double vv[2] = {3000, 6000}, jj[2] = {3000, 6000};
    expect(t, "x=1", 2, vv, 1, jj);
    free(t);
    /* right-deep nesting the parser allows (x^x^...^x, -(-(...))) builds */
    t = rep("x", "^x", 400, "");
    double g1 = 1;
    expect(t, "x=1", 1, &one, 1, &g1);
    sym_deep(t, NULL);   /* the derivative of a tower repeats the tower: too long to print */
    free(t);
    t = rep("x", "^x", 2, "");
    sym_deep(t, "x^x^x*(x^x*log(x)*(log(x) + 1) + x^x/x)");
    free(t);
    /* definitions inline into one tree: 1000 levels are built... F: 499
     * levels, G: 496 negations over F's body (996), H: 2 more and the call
     * (999), H(y): 1000 */
    char *f = rep("F(x)=", "-", 498, "x; "), *gg = rep("G(x)=", "-", 496, "F(x); ");
    size_t n = strlen(f) + strlen(gg) + 64;
    t = malloc(n);
    snprintf(t, n, "%s%sH(x)=--G(x); H(y)", f, gg);
    double m1 = 2.5, gm = 1;                            /* 498+496+2 negations: even */
    expect(t, "y=2.5", 1, &m1, 1, &gm);
    sym_deep(t, "1");
    /* ...one more is refused, at the place that goes over the limit */
    snprintf(t, n, "%s%sH(x)=---G(x); H(y)", f, gg);
    e = NULL;
    CHECK_EXPR(bp_expr_parse(t, &e, &where, &err) == BP_E_PARSE && e == NULL &&
          strstr(err.msg, "expression too deep (more than 1000 levels) at column ") &&
          where == (int)(strlen(t) - strlen("H(y)")));
    free(t);
    free(f);
    free(gg);
    /* a chain of 5000 definitions each calling the last: refused, not a crash */
    size_t cap = 5000 * 40;
    char *chain = malloc(cap), *p = chain;
    p += sprintf(p, "F0(x)=x+1; ");
    for (int i = 1; i < 5000; i++) p += sprintf(p, "F%d(x)=F%d(x)*2; ", i, i - 1);
    sprintf(p, "F4999(y)");
    e = NULL;
    CHECK_EXPR(bp_expr_parse(chain, &e, &where, &err) == BP_E_PARSE && strstr(err.msg, "expression too deep") && where > 0);
    free(chain);
    fclose(null);
}

int main(void)
{
    test_cs577();
    test_gates();
    test_random();
    test_random_matrices();
    test_matrices();
    test_symbolic();
    test_errors();
    test_deep();
    return check_done();
}
