/* teach/boundary.c - `backprop boundary`: the geometry of linear decision
 * boundaries g(x) = theta_0 + theta . x = 0 (CS577 Assignment 2, questions
 * 2 to 4):
 *   normal n = theta (theta_0 is not part of it), unit normal n / |n|,
 *   the boundary's signed distance from the origin d = -theta_0 / |n| (the
 *   boundary is the set n/|n| . x = d), and for a point x the value g(x), its
 *   side (the sign of g) and its signed distance g(x) / |n|.
 * From a linear expression (the `expr` parser's AST, walked here: anything
 * that is not linear is refused, naming the term), from a network without
 * hidden layers (each output's theta is its row of W, theta_0 its bias; the
 * model's input scaling folded in, so that theta is for x as the data gives
 * it), or from a one-vs-rest / one-vs-one model set. k classes scored by a
 * linear layer also give the pairwise boundaries g_i - g_j = 0, where class i
 * and class j score the same. */
#include "teach/boundary.h"
#include "teach/expr.h"
#include "nn/net.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the object ------------------------------------------------------------------ */

static char *dupstr(const char *s, bp_error *err)
{
    char *p = bp_strndup(s, strlen(s));
    if (!p) bp_err(err, BP_E_NOMEM, "out of memory");
    return p;
}

bp_boundary *bp_bnd_new(int n, bp_error *err)
{
    bp_boundary *b = bp_calloc(1, sizeof *b, err);
    if (!b) return NULL;
    b->n = n;
    b->vars = bp_calloc((size_t)n + 1, sizeof *b->vars, err);
    if (!b->vars) { free(b); return NULL; }
    return b;
}

void bp_boundary_free(bp_boundary *b)
{
    if (!b) return;
    for (int i = 0; i < b->n; i++) free(b->vars[i]);
    free(b->vars);
    for (int k = 0; k < b->nfn; k++) free(b->fn[k].theta);
    free(b->fn);
    free(b->pts);
    for (int i = 0; b->class_names && i < b->nclasses; i++) free(b->class_names[i]);
    free(b->class_names);
    bp_expr_free(b->vx);
    free(b->text);
    free(b->note);
    free(b);
}

bp_status bp_bnd_add(bp_boundary *b, const char *name, const char *sym, int ci, int cj, double theta0,
                     const double *theta, bp_error *err)
{
    bnd_fn *f = realloc(b->fn, (size_t)(b->nfn + 1) * sizeof *f);
    if (!f) return bp_err(err, BP_E_NOMEM, "out of memory");
    b->fn = f;
    f = &b->fn[b->nfn];
    memset(f, 0, sizeof *f);
    if (!(f->theta = bp_malloc((size_t)b->n * sizeof *f->theta + 1, err))) return BP_E_NOMEM;
    memcpy(f->theta, theta, (size_t)b->n * sizeof *theta);
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(f->sym, sizeof f->sym, "%s", sym);
    f->ci = ci;
    f->cj = cj;
    f->theta0 = theta0;
    b->nfn++;
    return BP_OK;
}

int bp_boundary_dims(const bp_boundary *b) { return b->n; }
const char *bp_boundary_var(const bp_boundary *b, int i) { return i >= 0 && i < b->n ? b->vars[i] : NULL; }
int bp_boundary_count(const bp_boundary *b) { return b->nfn; }
const char *bp_boundary_name(const bp_boundary *b, int k) { return k >= 0 && k < b->nfn ? b->fn[k].name : NULL; }
double bp_boundary_theta0(const bp_boundary *b, int k) { return k >= 0 && k < b->nfn ? b->fn[k].theta0 : NAN; }
double bp_boundary_theta(const bp_boundary *b, int k, int i)
{
    return k >= 0 && k < b->nfn && i >= 0 && i < b->n ? b->fn[k].theta[i] : NAN;
}
void bp_boundary_classes(const bp_boundary *b, int k, int *ci, int *cj)
{
    *ci = k >= 0 && k < b->nfn ? b->fn[k].ci : -1;
    *cj = k >= 0 && k < b->nfn ? b->fn[k].cj : -1;
}

double bp_bnd_norm(const bnd_fn *f, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += f->theta[i] * f->theta[i];
    return sqrt(s);
}

double bp_boundary_value(const bp_boundary *b, int k, const double *x)
{
    if (k < 0 || k >= b->nfn) return NAN;
    double g = b->fn[k].theta0;
    for (int i = 0; i < b->n; i++) g += b->fn[k].theta[i] * x[i];
    return g;
}

/* The variables' names parse the points: an expression over them ("x1 + x2"
 * for a model) whose point setter reads "x1=1,x2=2". */
static bp_status points_parser(bp_boundary *b, bp_error *err)
{
    size_t len = 1;
    for (int i = 0; i < b->n; i++) len += strlen(b->vars[i]) + 3;
    char *t = bp_malloc(len, err);
    if (!t) return BP_E_NOMEM;
    t[0] = 0;
    for (int i = 0; i < b->n; i++) {
        if (i) strcat(t, " + ");
        strcat(t, b->vars[i]);
    }
    bp_status st = bp_expr_parse(t, &b->vx, NULL, err);
    free(t);
    return st;
}

bp_status bp_boundary_add_point(bp_boundary *b, const char *assignments, bp_error *err)
{
    if (!b->vx) {
        bp_status st = points_parser(b, err);
        if (st) return st;
    }
    bp_expr *e = b->vx;
    memset(e->var_set, 0, (size_t)e->nvars);
    bp_status st = bp_expr_set_point(e, assignments, err);
    if (st) return st;
    double *p = realloc(b->pts, (size_t)(b->npts + 1) * (size_t)b->n * sizeof *p + 1);
    if (!p) return bp_err(err, BP_E_NOMEM, "out of memory");
    b->pts = p;
    for (int i = 0; i < b->n; i++) {
        int j;   /* the variable's place in the parser's own order */
        for (j = 0; j < e->nvars && strcmp(e->vars[j], b->vars[i]); j++) {}
        if (j == e->nvars || !e->var_set[j])
            return bp_err(err, BP_E_VALUE, "'%s' gives no value for %s (a point needs every variable: %s=..)",
                          assignments, b->vars[i], b->vars[i]);
        p[(size_t)b->npts * b->n + i] = e->var_val[j];
    }
    b->npts++;
    return BP_OK;
}

/* ---- a linear expression ------------------------------------------------------------ */

/* theta_0 and theta of a sub-expression (theta over the expression's
 * variables, in the parser's order). */
typedef struct lin { double c, *t; } lin;

typedef struct walk {
    const bp_expr *e;
    int n;             /* variables */
    int bad;           /* the AST node at fault, -1 */
    bp_error *err;
} walk;

static int lin_const(const walk *w, const lin *a)
{
    for (int i = 0; i < w->n; i++)
        if (a->t[i] != 0) return 0;
    return 1;
}

/* The first variable a depends on. */
static const char *lin_var(const walk *w, const lin *a)
{
    for (int i = 0; i < w->n; i++)
        if (a->t[i] != 0) return w->e->vars[i];
    return "?";
}

/* Refuse node k: "TERM (at column C) is not linear: WHY". */
static bp_status not_linear(walk *w, int k, const char *why)
{
    const anode *a = &w->e->ast[k];
    char loc[48];
    w->bad = a->start;
    int len = a->end - a->start;
    return bp_err(w->err, BP_E_VALUE, "%.*s%s (at %s) is not linear: %s", len > 60 ? 60 : len, w->e->src + a->start,
                  len > 60 ? "..." : "", bp_expr_loc(w->e->src, a->start, loc, sizeof loc), why);
}

static bp_status lin_of(walk *w, int k, lin *out);

/* out = a OP b for one operator of a left-deep chain at node k. */
static bp_status combine(walk *w, int k, int op, lin *a, const lin *b)
{
    char why[160];
    switch (op) {
    case '+':
    case '-':
        a->c += op == '+' ? b->c : -b->c;
        for (int i = 0; i < w->n; i++) a->t[i] += op == '+' ? b->t[i] : -b->t[i];
        return BP_OK;
    case '*':
        if (!lin_const(w, a) && !lin_const(w, b)) {
            snprintf(why, sizeof why, "a product of two terms that depend on variables (%s and %s)", lin_var(w, a), lin_var(w, b));
            return not_linear(w, k, why);
        }
        if (lin_const(w, a)) {   /* c a * (b) */
            double s = a->c;
            a->c = s * b->c;
            for (int i = 0; i < w->n; i++) a->t[i] = s * b->t[i];
        } else {
            a->c *= b->c;
            for (int i = 0; i < w->n; i++) a->t[i] *= b->c;
        }
        return BP_OK;
    case '/':
        if (!lin_const(w, b)) {
            snprintf(why, sizeof why, "a division by a term that depends on %s", lin_var(w, b));
            return not_linear(w, k, why);
        }
        if (b->c == 0) {
            char loc[48];
            w->bad = w->e->ast[k].start;
            return bp_err(w->err, BP_E_DOMAIN, "division by zero (at %s)", bp_expr_loc(w->e->src, w->bad, loc, sizeof loc));
        }
        a->c /= b->c;
        for (int i = 0; i < w->n; i++) a->t[i] /= b->c;
        return BP_OK;
    case '^':
        if (!lin_const(w, b)) {
            snprintf(why, sizeof why, "a power whose exponent depends on %s", lin_var(w, b));
            return not_linear(w, k, why);
        }
        if (!lin_const(w, a)) {
            if (b->c == 1) return BP_OK;
            snprintf(why, sizeof why, "a power (^%g) of a term that depends on %s", b->c, lin_var(w, a));
            return not_linear(w, k, why);
        }
        double v = pow(a->c, b->c);
        if (!isfinite(v)) {
            char loc[48];
            w->bad = w->e->ast[k].start;
            return bp_err(w->err, BP_E_DOMAIN, "%g^%g is not a finite number (at %s)", a->c, b->c,
                          bp_expr_loc(w->e->src, w->bad, loc, sizeof loc));
        }
        a->c = v;
        return BP_OK;
    default:   /* @, comparisons, the products of LaTeX: the matrix language's, not a linear function's */
        return not_linear(w, k, "a matrix product or a comparison");
    }
}

static bp_status lin_alloc(walk *w, lin *a)
{
    a->c = 0;
    a->t = bp_calloc((size_t)w->n + 1, sizeof *a->t, w->err);
    return a->t ? BP_OK : BP_E_NOMEM;
}

/* A builtin function of constants is a constant. */
static bp_status lin_fn(walk *w, int k, lin *out)
{
    const anode *a = &w->e->ast[k];
    double v[2] = {0, 0};
    char why[160];
    bp_op op = bp_expr_builtin_op(a->idx);
    for (int j = 0; j < a->nkid && j < 2; j++) {
        lin arg;
        bp_status st = lin_alloc(w, &arg);
        if (!st) st = lin_of(w, a->kid[j], &arg);
        if (!st && !lin_const(w, &arg)) {
            snprintf(why, sizeof why, "%s of a term that depends on %s", bp_op_name(op), lin_var(w, &arg));
            st = not_linear(w, k, why);
        }
        v[j] = arg.c;
        free(arg.t);
        if (st) return st;
    }
    double r;
    switch (op) {
    case BP_OP_EXP: r = exp(v[0]); break;
    case BP_OP_LOG: r = v[0] > 0 ? log(v[0]) : NAN; break;
    case BP_OP_SQRT: r = v[0] >= 0 ? sqrt(v[0]) : NAN; break;
    case BP_OP_SIGMOID: r = 1 / (1 + exp(-v[0])); break;
    case BP_OP_TANH: r = tanh(v[0]); break;
    case BP_OP_RELU: r = v[0] > 0 ? v[0] : 0; break;
    case BP_OP_ABS: r = fabs(v[0]); break;
    case BP_OP_MAX: r = v[0] >= v[1] ? v[0] : v[1]; break;
    case BP_OP_MIN: r = v[0] <= v[1] ? v[0] : v[1]; break;
    default: return not_linear(w, k, "a function the boundary does not know");
    }
    if (!isfinite(r)) {
        char loc[48];
        w->bad = a->start;
        return bp_err(w->err, BP_E_DOMAIN, "%s(%g) is outside its domain (at %s)", bp_op_name(op), v[0],
                      bp_expr_loc(w->e->src, a->start, loc, sizeof loc));
    }
    out->c = r;
    return BP_OK;
}

/* theta_0 and theta of node k into out (allocated by the caller). A
 * left-deep chain a + b - c * d ... is walked in a loop, so that a long sum
 * needs no deep recursion (its right operands nest as deep as the parser
 * allows). */
static bp_status lin_of(walk *w, int k, lin *out)
{
    const bp_expr *e = w->e;
    const anode *a = &e->ast[k];
    switch (a->k) {
    case A_NUM: out->c = a->num; return BP_OK;
    case A_VAR: out->t[a->idx] = 1; return BP_OK;
    case A_NEG: {
        bp_status st = lin_of(w, a->kid[0], out);
        out->c = -out->c;
        for (int i = 0; i < w->n; i++) out->t[i] = -out->t[i];
        return st;
    }
    case A_FN: return lin_fn(w, k, out);
    case A_BIN: {
        int nchain = 0, cap = 0, *chain = NULL, base = k;
        while (e->ast[base].k == A_BIN) {   /* the left spine */
            if (nchain == cap) {
                int *c2 = realloc(chain, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *c2);
                if (!c2) { free(chain); return bp_err(w->err, BP_E_NOMEM, "out of memory"); }
                chain = c2;
            }
            chain[nchain++] = base;
            base = e->ast[base].kid[0];
        }
        bp_status st = lin_of(w, base, out);
        lin r = {0, NULL};
        if (!st) st = lin_alloc(w, &r);
        for (int i = nchain - 1; !st && i >= 0; i--) {
            r.c = 0;
            memset(r.t, 0, (size_t)w->n * sizeof *r.t);
            if (!(st = lin_of(w, e->ast[chain[i]].kid[1], &r))) st = combine(w, chain[i], e->ast[chain[i]].op, out, &r);
        }
        free(r.t);
        free(chain);
        return st;
    }
    case A_VEC: return not_linear(w, k, "a vector: a boundary is one function g(x)");
    case A_CALL: return not_linear(w, k, "a call of a definition: write g(x) out");
    default: return not_linear(w, k, "not a sum of multiples of the variables");
    }
}

/* x1, x2, ... by their index, then the other names in order of first appearance. */
static long var_number(const char *s)
{
    if (s[0] != 'x' || !isdigit((unsigned char)s[1])) return -1;
    char *end;
    long v = strtol(s + 1, &end, 10);
    return *end || v > 1000000000L ? -1 : v;
}

bp_status bp_boundary_parse(const char *text, bp_boundary **out, int *where, bp_error *err)
{
    *out = NULL;
    if (where) *where = -1;
    bp_expr *e = NULL;
    bp_status st = bp_expr_parse(text, &e, where, err);
    if (st) return st;
    walk w = {e, e->nvars, -1, err};
    lin g = {0, NULL};
    bp_boundary *b = NULL;
    if (e->ndefs > 0) {
        char loc[48];
        if (where) *where = 0;
        st = bp_err(err, BP_E_VALUE, "definitions (at %s): a boundary takes one linear expression, such as "
                    "1 + 2*x1 + 3*x2", bp_expr_loc(e->src, 0, loc, sizeof loc));
        goto done;
    }
    if ((st = lin_alloc(&w, &g)) || (st = lin_of(&w, e->root, &g))) {
        if (where) *where = w.bad;
        goto done;
    }
    if (e->nvars == 0 || lin_const(&w, &g)) {
        st = bp_err(err, BP_E_VALUE, "'%s' does not depend on %s: theta = 0, so g is the constant %g and there is no "
                    "boundary", text, e->nvars ? "its variables" : "any variable", g.c);
        goto done;
    }
    /* the order of theta: x1..xn by index, then the others */
    int *order = bp_malloc((size_t)e->nvars * sizeof *order, err);
    if (!order || !(b = bp_bnd_new(e->nvars, err))) { free(order); st = BP_E_NOMEM; goto done; }
    for (int i = 0; i < e->nvars; i++) order[i] = i;
    for (int i = 1; i < e->nvars; i++)   /* insertion sort: stable, so the others keep their order */
        for (int j = i; j > 0; j--) {
            long a = var_number(e->vars[order[j - 1]]), c = var_number(e->vars[order[j]]);
            if (!(c >= 0 && (a < 0 || c < a))) break;
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    double *theta = bp_malloc((size_t)e->nvars * sizeof *theta, err);
    for (int i = 0; theta && i < e->nvars; i++) {
        theta[i] = g.t[order[i]];
        if (!(b->vars[i] = dupstr(e->vars[order[i]], err))) { free(theta); theta = NULL; }
    }
    free(order);
    b->kind = BND_EXPR;
    if (!theta || (st = bp_bnd_add(b, "g", "g(x)", -1, -1, g.c, theta, err)) || !(b->text = dupstr(text, err))) {
        if (!st) st = BP_E_NOMEM;
        free(theta);
        goto done;
    }
    free(theta);
done:
    free(g.t);
    bp_expr_free(e);
    if (st) bp_boundary_free(b);
    else *out = b;
    return st;
}

/* ---- a network without hidden layers ----------------------------------------------------- */

/* theta_0 and theta of output k of a one-layer net, the scaler folded in:
 * z = theta_0 + sum_i theta_i (x_i / d - mu_i) / s_i. */
static void net_row(bp_net *net, const bp_scaler *sc, int k, double *theta0, double *theta)
{
    const bp_net_spec *s = bp_net_get_spec(net);
    bp_mat W = bp_net_weight(net, 0), B = bp_net_bias(net, 0);
    int oi = s->layout == BP_OUT_IN, trick = s->layers[0].bias_trick;
    *theta0 = trick ? (oi ? bp_mat_get(&W, k, 0) : bp_mat_get(&W, 0, k)) : B.rows ? bp_mat_get(&B, 0, k) : 0;
    for (int i = 0; i < s->inputs; i++) {
        double t = oi ? bp_mat_get(&W, k, i + trick) : bp_mat_get(&W, i + trick, k);
        if (sc && sc->features == s->inputs) {
            double mu = sc->mean ? sc->mean[i] : 0, sd = sc->mean ? sc->std[i] : 1, d = sc->divide > 0 ? sc->divide : 1;
            *theta0 -= t * mu / sd;
            t /= d * sd;
        }
        theta[i] = t;
    }
}

/* The class's name: "class 1 (versicolor)" or "class 1". */
static void class_label(const bp_boundary *b, int c, char *buf, size_t n)
{
    if (b->class_names && c < b->nclasses) snprintf(buf, n, "class %d (%s)", c, b->class_names[c]);
    else snprintf(buf, n, "class %d", c);
}

bp_status bp_bnd_set_classes(bp_boundary *b, int k, const char *const *names, bp_error *err)
{
    b->nclasses = k;
    if (!names) return BP_OK;
    if (!(b->class_names = bp_calloc((size_t)k, sizeof *b->class_names, err))) return BP_E_NOMEM;
    for (int i = 0; i < k; i++)
        if (!(b->class_names[i] = dupstr(names[i], err))) return BP_E_NOMEM;
    return BP_OK;
}

bp_status bp_bnd_name_inputs(bp_boundary *b, bp_error *err)
{
    for (int i = 0; i < b->n; i++) {
        char v[24];
        snprintf(v, sizeof v, "x%d", i + 1);
        if (!(b->vars[i] = dupstr(v, err))) return BP_E_NOMEM;
    }
    return BP_OK;
}

/* The pairwise boundaries g_i - g_j of the first k functions (the class scores). */
bp_status bp_bnd_add_pairs(bp_boundary *b, int k, bp_error *err)
{
    double *t = bp_malloc((size_t)b->n * sizeof *t + 1, err);
    if (!t) return BP_E_NOMEM;
    bp_status st = BP_OK;
    for (int i = 0; i < k && !st; i++)
        for (int j = i + 1; j < k && !st; j++) {
            char ni[128], nj[128], name[BND_NAME], sym[48];
            class_label(b, i, ni, sizeof ni);
            class_label(b, j, nj, sizeof nj);
            snprintf(name, sizeof name, "%s against %s", ni, nj);
            snprintf(sym, sizeof sym, "g_%d(x) - g_%d(x)", i, j);
            for (int c = 0; c < b->n; c++) t[c] = b->fn[i].theta[c] - b->fn[j].theta[c];
            st = bp_bnd_add(b, name, sym, i, j, b->fn[i].theta0 - b->fn[j].theta0, t, err);
        }
    free(t);
    return st;
}

bp_status bp_boundary_of_net(bp_net *net, const bp_scaler *scaler, const char *what, bp_boundary **out, bp_error *err)
{
    *out = NULL;
    const bp_net_spec *s = bp_net_get_spec(net);
    if (!what) what = "the model";
    if (s->nlayers != 1)
        return bp_err(err, BP_E_VALUE, "%s has %d hidden layer%s: its decision boundary is not a hyperplane "
                      "theta_0 + theta . x = 0 (only a network without hidden layers has one; plot-boundary draws any "
                      "network of two inputs)", what, s->nlayers - 1, s->nlayers == 2 ? "" : "s");
    int k = s->layers[0].units;
    bp_act act = s->layers[0].act;
    double shift = 0;   /* one output: class 1 iff a >= 0.5, i.e. z >= shift */
    if (k == 1) {
        switch (act) {
        case BP_ACT_SIGMOID: case BP_ACT_STEP: shift = 0; break;   /* a step unit: class 1 where z > 0 */
        case BP_ACT_LINEAR: case BP_ACT_RELU: shift = 0.5; break;
        case BP_ACT_TANH: shift = atanh(0.5); break;
        case BP_ACT_SOFTMAX:
            return bp_err(err, BP_E_VALUE, "%s: a softmax over one unit is the constant 1: it has no boundary", what);
        default:
            return bp_err(err, BP_E_VALUE, "%s: the boundary of one %s output is not known here", what, bp_act_name(act));
        }
    } else if (act == BP_ACT_RELU || act == BP_ACT_STEP) {
        return bp_err(err, BP_E_VALUE, "%s: %d %s outputs: where several are 0 they tie, so the classes are not "
                      "told apart by theta_i - theta_j alone", what, k, bp_act_name(act));
    }
    bp_boundary *b = bp_bnd_new(s->inputs, err);
    double *theta = b ? bp_malloc((size_t)s->inputs * sizeof *theta + 1, err) : NULL;
    bp_status st = !b || !theta ? BP_E_NOMEM : bp_bnd_name_inputs(b, err);
    if (!st) st = bp_bnd_set_classes(b, k == 1 ? 2 : k, bp_net_class_names(net), err);
    const bp_scaler *sc = scaler && scaler->features > 0 ? scaler : NULL;
    if (b) b->kind = k == 1 ? BND_BINARY : BND_SCORES;
    for (int c = 0; !st && c < k; c++) {
        double t0;
        net_row(net, sc, c, &t0, theta);
        char name[BND_NAME], sym[48];
        if (k == 1) snprintf(name, sizeof name, "class 1 against class 0");
        else class_label(b, c, name, sizeof name);
        if (k == 1) snprintf(sym, sizeof sym, "g(x)");
        else snprintf(sym, sizeof sym, "g_%d(x)", c);
        st = bp_bnd_add(b, name, sym, k == 1 ? 1 : c, k == 1 ? 0 : -1, t0 - shift, theta, err);
    }
    free(theta);
    if (!st && k > 1) {
        b->nscores = k;
        st = bp_bnd_add_pairs(b, k, err);
    }
    char note[512] = "";
    if (!st && k == 1)
        snprintf(note, sizeof note, "one %s output: class 1 where it is >= 0.5, that is where z%s >= 0, so g = z%s",
                 bp_act_name(act), shift == 0 ? "" : shift == 0.5 ? " - 0.5" : " - atanh(0.5)",
                 shift == 0 ? "" : shift == 0.5 ? " - 0.5" : " - atanh(0.5)");
    else if (!st)
        snprintf(note, sizeof note, "%d %s outputs: the predicted class has the largest score g_k = z_k; classes i "
                 "and j score the same on g_i - g_j = 0", k, bp_act_name(act));
    if (!st && sc && (sc->mean || sc->divide > 0))
        snprintf(note + strlen(note), sizeof note - strlen(note), "; the model scales its inputs, and theta is "
                 "for x as the data gives it (the scaling folded in)");
    if (!st && !(b->note = dupstr(note, err))) st = BP_E_NOMEM;
    if (st) { bp_boundary_free(b); return st; }
    *out = b;
    return BP_OK;
}

bp_status bp_boundary_of_multiclass(bp_multiclass *mc, const bp_scaler *scaler, const char *what, bp_boundary **out,
                                    bp_error *err)
{
    *out = NULL;
    if (!what) what = "the model set";
    int nm = bp_multiclass_models(mc), k = bp_multiclass_classes(mc), ovr = bp_multiclass_get_scheme(mc) == BP_OVR;
    for (int m = 0; m < nm; m++) {
        int h = bp_net_get_spec(bp_multiclass_model(mc, m))->nlayers - 1;
        if (h)
            return bp_err(err, BP_E_VALUE, "%s: its models have %d hidden layer%s: their decision boundaries are not "
                          "hyperplanes (plot-boundary draws any model of two inputs)", what, h, bp_s(h));
    }
    bp_net *first = bp_multiclass_model(mc, 0);
    int n = bp_net_get_spec(first)->inputs;
    bp_boundary *b = bp_bnd_new(n, err);
    double *theta = b ? bp_malloc((size_t)n * sizeof *theta + 1, err) : NULL;
    bp_status st = !b || !theta ? BP_E_NOMEM : bp_bnd_name_inputs(b, err);
    if (!st) st = bp_bnd_set_classes(b, k, bp_multiclass_class_names(mc), err);
    const bp_scaler *sc = scaler && scaler->features > 0 ? scaler : NULL;
    if (b) b->kind = ovr ? BND_OVR : BND_OVO;
    for (int m = 0; !st && m < nm; m++) {
        int pos, neg;
        double t0;
        char ni[128], nj[128], name[BND_NAME], sym[48];
        bp_multiclass_pair(mc, m, &pos, &neg);
        net_row(bp_multiclass_model(mc, m), sc, 0, &t0, theta);
        class_label(b, pos, ni, sizeof ni);
        if (neg >= 0) class_label(b, neg, nj, sizeof nj);
        if (ovr) snprintf(name, sizeof name, "%s against the rest", ni);
        else snprintf(name, sizeof name, "%s against %s", ni, nj);
        if (ovr) snprintf(sym, sizeof sym, "g_%d(x)", pos);
        else snprintf(sym, sizeof sym, "g_%d,%d(x)", pos, neg);
        st = bp_bnd_add(b, name, sym, pos, neg, t0, theta, err);
    }
    free(theta);
    if (!st && ovr) {
        b->nscores = k;
        st = bp_bnd_add_pairs(b, k, err);
    }
    char note[512];
    snprintf(note, sizeof note, "%s: %d %s models of one sigmoid output each; a model's g is its z, the output is "
             ">= 0.5 where g >= 0", ovr ? "one-vs-rest" : "one-vs-one", nm, ovr ? "class-against-the-rest" : "pairwise");
    if (sc && (sc->mean || sc->divide > 0))
        snprintf(note + strlen(note), sizeof note - strlen(note), "; the models scale their inputs, and theta is for x "
                 "as the data gives it (the scaling folded in)");
    if (!st && !(b->note = dupstr(note, err))) st = BP_E_NOMEM;
    if (st) { bp_boundary_free(b); return st; }
    *out = b;
    return BP_OK;
}
