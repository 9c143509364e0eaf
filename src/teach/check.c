/* teach/check.c - `backprop check`: is a formula right for every input, and
 * if not, where does it break? Each side of "LHS = RHS" is an expression
 * program (teach/expr.h; read from ASCII by expr_parse.c or from the notes'
 * LaTeX by latex.c) whose variables are the network's named matrices: this
 * file gives the names their meaning (the host), their values from the
 * network's own pass (bp_model_pass: the true gradients are the engine's),
 * redraws the weights and data, and compares. A wrong value gets the hints
 * of `grad --compare` (compare.c), a wrong value that only a redraw exposed
 * gets the reason the file's values hid it. Also the Jacobian of one
 * quantity with respect to another for one sample, by the expression
 * language's Jacobian of the forward pass written as a formula. */
#include "core/error.h"
#include "core/numfmt.h"
#include "core/rng.h"
#include "teach/compare.h"
#include "teach/expr.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define HINT_MAX 700

/* The kinds of named quantity. x is A 0, yhat A L, dL_dx DA 0, dL_dyhat DA L. */
enum { Q_M, Q_Y, Q_W, Q_B, Q_Z, Q_A, Q_DW, Q_DB, Q_DZ, Q_DA };

typedef struct qty { int kind, layer; } qty;

typedef struct formula {
    int line;
    char *text;             /* "LHS = RHS" as written                        */
    bp_expr *side[2];       /* LHS, RHS                                      */
    int named;              /* the LHS is one named quantity, q              */
    qty q;
    /* the verdict */
    int done;
    bp_verdict verdict;
    int draw, ei, ej;
    double yours, truth;
    char hint[HINT_MAX], note[HINT_MAX];
} formula;

/* What held at the file's values that a redraw may change (why it hid). */
typedef struct props {
    unsigned char zpos[BP_MAX_LAYERS], znonpos[BP_MAX_LAYERS], wsym[BP_MAX_LAYERS], bzero[BP_MAX_LAYERS];
    int yconst;
    double y0;
} props;

struct bp_check {
    bp_model *work;         /* a copy of the network (f64) and its data: redrawn */
    const bp_net_spec *spec;
    int L, m, cols;         /* layers, samples, samples are columns?          */
    int redraws;
    uint64_t seed;
    bp_expr_host host;
    formula *f;
    int n, cap;
    props file;
};

/* ---- names ------------------------------------------------------------------------- */

static const char NAMES[] = "x, y, yhat, m, W[l], b[l], z[l], a[l], dL_dW[l], dL_db[l], dL_dz[l], dL_da[l], dL_dx, "
                            "dL_dyhat, g[la], g[lz], g[lW], g[lb], delta[l]";

/* "NAME[l]" with NAME = pre: the layer, or -1. */
static int indexed(const char *s, const char *pre)
{
    size_t n = strlen(pre);
    if (strncmp(s, pre, n) || s[n] != '[' || !isdigit((unsigned char)s[n + 1])) return -1;
    char *end;
    long l = strtol(s + n + 1, &end, 10);
    return *end == ']' && !end[1] && l < 10000000 ? (int)l : -1;
}

/* What `name` means for network spec s with L layers: 0, or -1 with a reason
 * in why. */
static int resolve(const bp_net_spec *s, const char *name, qty *q, char *why, size_t n)
{
    int L = s->nlayers, l;
    static const struct { const char *pre; int kind, lo; } IX[] = {
        {"W", Q_W, 1}, {"b", Q_B, 1}, {"z", Q_Z, 1}, {"a", Q_A, 0}, {"dL_dW", Q_DW, 1}, {"dL_db", Q_DB, 1},
        {"dL_dz", Q_DZ, 1}, {"dL_da", Q_DA, 0}, {"delta", Q_DZ, 1},
    };
    *q = (qty){-1, 0};
    if (!strcmp(name, "x")) *q = (qty){Q_A, 0};
    else if (!strcmp(name, "y")) *q = (qty){Q_Y, L};
    else if (!strcmp(name, "yhat")) *q = (qty){Q_A, L};
    else if (!strcmp(name, "m")) *q = (qty){Q_M, 0};
    else if (!strcmp(name, "dL_dx")) *q = (qty){Q_DA, 0};
    else if (!strcmp(name, "dL_dyhat")) *q = (qty){Q_DA, L};
    for (size_t i = 0; q->kind < 0 && i < sizeof IX / sizeof *IX; i++)
        if ((l = indexed(name, IX[i].pre)) >= 0) {
            if (l < IX[i].lo || l > L)
                return snprintf(why, n, "'%s': the network has layers 1 to %d%s", name, L, IX[i].lo ? "" : " (and a[0] = x)"), -1;
            *q = (qty){IX[i].kind, l};
        }
    if (q->kind < 0 && !strncmp(name, "g[", 2) && isdigit((unsigned char)name[2])) {   /* g[3z] */
        char *end;
        long v = strtol(name + 2, &end, 10);
        int kind = end[0] == 'a' ? Q_DA : end[0] == 'z' ? Q_DZ : end[0] == 'W' ? Q_DW : end[0] == 'b' ? Q_DB : -1;
        if (kind < 0 || end[1] != ']' || end[2])
            return snprintf(why, n, "'%s': the notes' gradients are g[la], g[lz], g[lW], g[lb]", name), -1;
        if (v > L || (v < 1 && kind != Q_DA))
            return snprintf(why, n, "'%s': the network has layers 1 to %d", name, L), -1;
        *q = (qty){kind, (int)v};
    }
    if (q->kind < 0) return snprintf(why, n, "unknown name '%s' (the names: %s)", name, NAMES), -1;
    if ((q->kind == Q_B || q->kind == Q_DB) && !s->layers[q->layer - 1].bias)
        return snprintf(why, n, "'%s': layer %d has no bias", name, q->layer), -1;
    return 0;
}

static int per_sample_kind(int kind) { return kind == Q_Y || kind == Q_A || kind == Q_Z || kind == Q_DA || kind == Q_DZ; }

static int host_per_sample(void *ctx, const char *name)
{
    const bp_check *c = ctx;
    qty q;
    char why[HINT_MAX];
    return !resolve(c->spec, name, &q, why, sizeof why) && per_sample_kind(q.kind);
}

/* g(z[l]) and g'(z[l]): layer l's activation and its derivative. */
static const char *activation_of(const bp_net_spec *s, const char *arg, int prime, bp_error *err)
{
    int l = indexed(arg, "z");
    if (l < 1 || l > s->nlayers) {
        bp_err(err, BP_E_PARSE, "g%s(%s): the argument of g is z[l], which names the layer", prime ? "'" : "", arg);
        return NULL;
    }
    switch (s->layers[l - 1].act) {
    case BP_ACT_SIGMOID: return prime ? "sigmoid'" : "sigmoid";
    case BP_ACT_TANH: return prime ? "tanh'" : "tanh";
    case BP_ACT_RELU: return prime ? "relu'" : "relu";
    case BP_ACT_LINEAR: return prime ? "identity'" : "identity";
    case BP_ACT_STEP: return prime ? "step'" : "step";
    case BP_ACT_SOFTMAX:
        if (!prime) return "softmax";
        bp_err(err, BP_E_PARSE, "g'(z[%d]): layer %d is a softmax, whose derivative is a Jacobian (each output depends on "
                                "every input), not a function applied entry by entry: write dL_dz[%d] (= yhat - y with "
                                "cross-entropy) instead", l, l, l);
        return NULL;
    }
    return NULL;
}

static const char *host_activation(void *ctx, const char *arg, int prime, bp_error *err)
{
    const bp_check *c = ctx;
    return activation_of(c->spec, arg, prime, err);
}

/* ---- values ------------------------------------------------------------------------ */

/* A view as a new matrix of doubles, transposed when `t`. */
static double *copy_view(const bp_mat *v, int t, int *r, int *c)
{
    *r = t ? v->cols : v->rows;
    *c = t ? v->rows : v->cols;
    double *d = malloc((size_t)v->rows * v->cols * sizeof *d + 1);
    if (!d) return NULL;
    for (int i = 0; i < v->rows; i++)
        for (int j = 0; j < v->cols; j++) d[t ? (size_t)j * v->rows + i : (size_t)i * v->cols + j] = bp_mat_get(v, i, j);
    return d;
}

/* Quantity q as the network's pass has it (one row per sample, W in its
 * layout; dL/dyhat into the caller's buffer dy, m x outputs). */
static bp_mat net_view(bp_model *work, qty q, double *dy)
{
    bp_net *net = bp_model_net(work);
    int L = bp_net_get_spec(net)->nlayers;
    bp_mat x, y;
    bp_model_data(work, &x, &y);
    switch (q.kind) {
    case Q_Y: return y;
    case Q_W: return bp_net_weight(net, q.layer - 1);
    case Q_B: return bp_net_bias(net, q.layer - 1);
    case Q_Z: return bp_net_z(net, q.layer - 1);
    case Q_A: return q.layer ? bp_net_a(net, q.layer - 1) : x;
    case Q_DW: return bp_net_weight_grad(net, q.layer - 1);
    case Q_DB: return bp_net_bias_grad(net, q.layer - 1);
    case Q_DZ: return bp_net_dz(net, q.layer - 1);
    case Q_DA:
        if (!q.layer) return bp_net_dx(net);
        if (q.layer < L) return bp_net_da(net, q.layer - 1);
        bp_net_dloss_dyhat(net, &y, dy);
        return (bp_mat){y.rows, y.cols, BP_F64, dy};
    }
    return (bp_mat){1, 1, BP_F64, NULL};
}

/* Does quantity kind k turn over when samples are columns? */
static int turns(int k) { return per_sample_kind(k) || k == Q_B || k == Q_DB; }

/* Quantity q at the current pass, in the checker's orientation (malloc'd). */
static double *value_of(bp_model *work, int cols, qty q, int *r, int *c, bp_error *err)
{
    bp_mat x, y;
    bp_model_data(work, &x, &y);
    if (q.kind == Q_M) {
        double *d = malloc(sizeof *d);
        if (d) *d = x.rows;
        *r = *c = 1;
        if (!d) bp_err(err, BP_E_NOMEM, "out of memory");
        return d;
    }
    double *dy = malloc((size_t)y.rows * y.cols * sizeof *dy + 1), *d = NULL;
    if (dy) {
        bp_mat v = net_view(work, q, dy);
        d = copy_view(&v, cols && turns(q.kind), r, c);
    }
    free(dy);
    if (!d) bp_err(err, BP_E_NOMEM, "out of memory");
    return d;
}

/* Give every variable of e its value at the current pass. */
static bp_status set_values(bp_check *c, bp_expr *e, bp_error *err)
{
    for (int i = 0; i < bp_expr_nvars(e); i++) {
        qty q;
        char why[HINT_MAX];
        int r, cc;
        resolve(c->spec, bp_expr_var(e, i), &q, why, sizeof why);
        double *d = value_of(c->work, c->cols, q, &r, &cc, err);
        if (!d) return err->status;
        bp_status s = bp_expr_set_matrix(e, bp_expr_var(e, i), r, cc, d, err);
        free(d);
        if (s) return s;
    }
    return BP_OK;
}

/* ---- the checker ----------------------------------------------------------------- */

bp_status bp_check_new(bp_model *m, bp_samples samples, int redraws, uint64_t seed, bp_check **out, bp_error *err)
{
    *out = NULL;
    bp_mat x, y;
    bp_net *net = bp_model_net(m), *copy = NULL;
    const bp_net_spec *s = bp_net_get_spec(net);
    if (!bp_model_data(m, &x, &y))
        return bp_err(err, BP_E_VALUE, "no data: check needs the model file's \"data\" (x and y), or --x and --y");
    if (s->loss == BP_LOSS_NONE) return bp_err(err, BP_E_VALUE, "no \"loss\" in the model file: gradients need one");
    if (y.rows == 0) return bp_err(err, BP_E_VALUE, "no targets: the model file has no data.y and no --y was given");
    bp_check *c = calloc(1, sizeof *c);
    if (!c) return bp_err(err, BP_E_NOMEM, "out of memory");
    bp_status st = bp_net_clone(net, BP_F64, &copy, err);
    if (!st) st = bp_model_from_net(copy, NULL, &c->work, err);
    else copy = NULL;
    if (st) bp_net_free(copy);
    if (!st) st = bp_model_set_data(c->work, &x, &y, err);
    if (st) { bp_check_free(c); return st; }
    c->spec = bp_net_get_spec(bp_model_net(c->work));
    c->L = c->spec->nlayers;
    c->m = x.rows;
    c->cols = samples == BP_SAMPLES_COLUMNS || (samples == BP_SAMPLES_LAYOUT && c->spec->layout == BP_OUT_IN);
    c->redraws = redraws < 0 ? 0 : redraws;
    c->seed = seed;
    c->host = (bp_expr_host){.ctx = c, .samples_rows = !c->cols, .nsamples = c->m, .per_sample = host_per_sample,
                             .activation = host_activation};
    *out = c;
    return BP_OK;
}

void bp_check_free(bp_check *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++) {
        bp_expr_free(c->f[i].side[0]);
        bp_expr_free(c->f[i].side[1]);
        free(c->f[i].text);
    }
    free(c->f);
    bp_model_free(c->work);
    free(c);
}

int bp_check_count(const bp_check *c) { return c->n; }

/* Is the text LaTeX? A backslash, a brace, '$' or '&' say so. */
static int is_latex(const char *s) { return strpbrk(s, "\\{}$&") != NULL; }

/* The top-level '=' signs of text (not in brackets, not part of <=, >=):
 * their offsets into eq, their number returned. */
static int equals(const char *s, int *eq, int max)
{
    int n = 0, depth = 0;
    for (int i = 0; s[i]; i++) {
        char ch = s[i];
        if (ch == '\\' && (s[i + 1] == '{' || s[i + 1] == '}')) { i++; continue; }
        if (ch == '(' || ch == '[' || ch == '{') depth++;
        else if ((ch == ')' || ch == ']' || ch == '}') && depth > 0) depth--;
        else if (ch == '=' && !depth && (!i || !strchr("<>!", s[i - 1])) && s[i + 1] != '=' && n < max) eq[n++] = i;
    }
    return n;
}

/* One side of a formula: text with every byte outside [from, to) blanked, so
 * that offsets stay those of the line; parsed as LaTeX or ASCII. */
static bp_status parse_side(bp_check *c, const char *text, int from, int to, int latex, bp_expr **e, int *where, bp_error *err)
{
    size_t n = strlen(text);
    char *t = malloc(n + 1);
    if (!t) return bp_err(err, BP_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) t[i] = (int)i >= from && (int)i < to ? text[i] : text[i] == '\n' ? '\n' : ' ';
    t[n] = 0;
    bp_status s = latex ? bp_latex_parse(t, &c->host, e, where, err) : bp_expr_parse_host(t, &c->host, e, where, err);
    if (s && !latex && s == BP_E_PARSE) {            /* ASCII that fails may be LaTeX without a backslash: a b */
        bp_error e2;
        int w2;
        if (!bp_latex_parse(t, &c->host, e, &w2, &e2)) s = BP_OK;
    }
    free(t);
    if (s) return s;
    /* relu', max and min at their kinks as the network's convention (bp_net_kinks) */
    bp_kinks k = bp_net_kinks(bp_model_net(c->work));
    bp_expr_set_kinks(*e, &k);
    /* every name must be one of the network's */
    bp_expr *x = *e;
    if (x->ndefs) {
        if (where) *where = from;
        bp_expr_free(x);
        *e = NULL;
        return bp_err(err, BP_E_PARSE, "definitions are for backprop expr; a formula here is LHS = RHS");
    }
    for (int i = 0; i < x->nvars; i++) {
        qty q;
        char why[HINT_MAX], l[48];
        if (!resolve(c->spec, x->vars[i], &q, why, sizeof why)) continue;
        if (where) *where = x->var_pos[i];
        s = bp_err(err, BP_E_PARSE, "%s at %s", why, bp_expr_loc(text, x->var_pos[i], l, sizeof l));
        bp_expr_free(x);
        *e = NULL;
        return s;
    }
    return BP_OK;
}

/* s[from, to) without the spaces around it: *from and *to moved. */
static void trim(const char *s, int *from, int *to)
{
    while (*from < *to && isspace((unsigned char)s[*from])) (*from)++;
    while (*to > *from && isspace((unsigned char)s[*to - 1])) (*to)--;
}

bp_status bp_check_add(bp_check *c, const char *text, int line, int *where, bp_error *err)
{
    int eq[16], latex = is_latex(text), n = equals(text, eq, 16);
    if (where) *where = -1;
    if (n == 0) return bp_err(err, BP_E_PARSE, "a formula is LHS = RHS, and this one has no '='");
    bp_expr *lhs = NULL;
    bp_status s = parse_side(c, text, 0, eq[0], latex, &lhs, where, err);
    for (int k = 0; !s && k < n; k++) {
        int to = k + 1 < n ? eq[k + 1] : (int)strlen(text);
        bp_expr *rhs = NULL, *l2 = NULL;
        if ((s = parse_side(c, text, eq[k] + 1, to, latex, &rhs, where, err))) break;
        if (k && (s = parse_side(c, text, 0, eq[0], latex, &l2, where, err))) { bp_expr_free(rhs); break; }
        if (c->n == c->cap) {
            int cap = c->cap ? 2 * c->cap : 8;
            formula *nf = realloc(c->f, (size_t)cap * sizeof *nf);
            if (!nf) { bp_expr_free(rhs); bp_expr_free(l2); s = bp_err(err, BP_E_NOMEM, "out of memory"); break; }
            c->f = nf;
            c->cap = cap;
        }
        formula *f = &c->f[c->n];
        memset(f, 0, sizeof *f);
        f->line = line;
        f->side[0] = k ? l2 : lhs;
        f->side[1] = rhs;
        if (!k) lhs = NULL;                        /* the formula owns it now */
        int a0 = 0, a1 = eq[0], b0 = eq[k] + 1, b1 = to;
        trim(text, &a0, &a1);
        trim(text, &b0, &b1);
        size_t tl = (size_t)(a1 - a0 + b1 - b0) + 4;
        if (!(f->text = malloc(tl))) { bp_expr_free(f->side[0]); bp_expr_free(rhs); s = bp_err(err, BP_E_NOMEM, "out of memory"); break; }
        snprintf(f->text, tl, "%.*s = %.*s", a1 - a0, text + a0, b1 - b0, text + b0);
        const bp_expr *L = f->side[0];
        f->named = L->ast[L->root].k == A_VAR;
        char why[HINT_MAX];
        if (f->named) resolve(c->spec, L->vars[L->ast[L->root].idx], &f->q, why, sizeof why);
        c->n++;
    }
    bp_expr_free(lhs);
    return s;
}

/* ---- redraws and why a slip hid ------------------------------------------------------ */

static double uni(bp_rng *r, double lo, double hi) { return lo + (hi - lo) * bp_rng_uniform(r); }

/* New weights, biases, x and y of the same shapes. */
static bp_status redraw(bp_check *c, bp_rng *r, bp_error *err)
{
    bp_net *net = bp_model_net(c->work);
    for (int l = 0; l < c->L; l++) {
        bp_mat w = bp_net_weight(net, l), b = bp_net_bias(net, l);
        for (int i = 0; i < w.rows; i++)
            for (int j = 0; j < w.cols; j++) bp_mat_set(&w, i, j, uni(r, -1, 1));
        for (int j = 0; j < b.cols && b.rows; j++) bp_mat_set(&b, 0, j, uni(r, -1, 1));
    }
    bp_mat x, y;
    bp_model_data(c->work, &x, &y);
    double *nx = malloc((size_t)x.rows * x.cols * sizeof *nx + 1), *ny = calloc((size_t)y.rows * y.cols + 1, sizeof *ny);
    if (!nx || !ny) { free(nx); free(ny); return bp_err(err, BP_E_NOMEM, "out of memory"); }
    for (int i = 0; i < x.rows * x.cols; i++) nx[i] = uni(r, -2, 2);
    /* one-hot rows for cross-entropy (and the 0-1 loss of several classes), 0 or 1 for BCE (and the 0-1
     * loss of one output), uniform in [-2, 2] for the squared losses */
    bp_loss loss = c->spec->loss;
    int onehot = loss == BP_LOSS_CE || (loss == BP_LOSS_ZERO_ONE && y.cols > 1), bits = loss == BP_LOSS_BCE || loss == BP_LOSS_ZERO_ONE;
    for (int i = 0; i < y.rows; i++) {
        if (onehot) ny[(size_t)i * y.cols + (int)(bp_rng_uniform(r) * y.cols)] = 1;
        else
            for (int j = 0; j < y.cols; j++) ny[(size_t)i * y.cols + j] = bits ? (double)(bp_rng_next(r) >> 63) : uni(r, -2, 2);
    }
    bp_mat X = {x.rows, x.cols, BP_F64, nx}, Y = {y.rows, y.cols, BP_F64, ny};
    bp_status s = bp_model_set_data(c->work, &X, &Y, err);
    free(nx);
    free(ny);
    return s;
}

/* What holds at the current pass that could hide a slip. */
static void props_of(bp_check *c, props *p)
{
    bp_net *net = bp_model_net(c->work);
    memset(p, 0, sizeof *p);
    for (int l = 0; l < c->L; l++) {
        bp_mat z = bp_net_z(net, l), w = bp_net_weight(net, l), b = bp_net_bias(net, l);
        int pos = 1, nonpos = 1, sym = w.rows == w.cols, zero = b.rows > 0;
        for (int i = 0; i < z.rows * z.cols; i++) {
            double v = bp_mat_get(&z, i / z.cols, i % z.cols);
            pos &= v > 0;
            nonpos &= v <= 0;
        }
        for (int i = 0; sym && i < w.rows; i++)
            for (int j = 0; j < i; j++) sym &= bp_mat_get(&w, i, j) == bp_mat_get(&w, j, i);
        for (int j = 0; zero && j < b.cols; j++) zero &= bp_mat_get(&b, 0, j) == 0;
        p->zpos[l] = (unsigned char)(c->spec->layers[l].act == BP_ACT_RELU && pos);
        p->znonpos[l] = (unsigned char)(c->spec->layers[l].act == BP_ACT_RELU && nonpos);
        p->wsym[l] = (unsigned char)(sym && w.rows > 1);
        p->bzero[l] = (unsigned char)zero;
    }
    bp_mat x, y;
    bp_model_data(c->work, &x, &y);
    p->yconst = y.rows * y.cols > 1;
    p->y0 = bp_mat_get(&y, 0, 0);
    for (int i = 1; p->yconst && i < y.rows * y.cols; i++) p->yconst &= bp_mat_get(&y, i / y.cols, i % y.cols) == p->y0;
}

/* Is some ReLU (or step) layer's z exactly 0 at the current pass? */
static int relu_kink(bp_check *c)
{
    bp_net *net = bp_model_net(c->work);
    for (int l = 0; l < c->L; l++) {
        bp_mat z = bp_net_z(net, l);
        int kink = c->spec->layers[l].act == BP_ACT_RELU || c->spec->layers[l].act == BP_ACT_STEP;
        for (int i = 0; kink && i < z.rows * z.cols; i++)
            if (bp_mat_get(&z, i / z.cols, i % z.cols) == 0) return 1;
    }
    return 0;
}

static void add(char *buf, size_t n, const char *fmt, ...) BP_PRINTF(3, 4);
static void add(char *buf, size_t n, const char *fmt, ...)
{
    size_t k = strlen(buf);
    if (k >= n - 1) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + k, n - k, fmt, ap);
    va_end(ap);
}

/* Why the file's values could not tell the two sides apart, against what
 * changed at the redraw `now`. */
static void why_hid(const bp_check *c, const props *now, char *buf, size_t n)
{
    const props *f = &c->file;
    buf[0] = 0;
    for (int l = 0; l < c->L; l++) {
        if (f->zpos[l] && !now->zpos[l])
            add(buf, n, "%sat your values every z[%d] > 0, so relu'(z[%d]) was 1 everywhere and a missing relu'(z[%d]) "
                "made no difference", *buf ? "; " : "", l + 1, l + 1, l + 1);
        if (f->znonpos[l] && !now->znonpos[l])
            add(buf, n, "%sat your values every z[%d] <= 0, so relu'(z[%d]) and a[%d] were 0 everywhere", *buf ? "; " : "",
                l + 1, l + 1, l + 1);
        if (f->wsym[l] && !now->wsym[l])
            add(buf, n, "%sat your values W[%d] is symmetric, so W[%d] and its transpose are the same", *buf ? "; " : "",
                l + 1, l + 1);
        if (f->bzero[l] && !now->bzero[l])
            add(buf, n, "%sat your values b[%d] is 0, so a term with b[%d] (or without it) made no difference",
                *buf ? "; " : "", l + 1, l + 1);
    }
    if (f->yconst && !now->yconst) {
        char b[BP_NUM_MAX];
        add(buf, n, "%sat your values every y is %s", *buf ? "; " : "", bp_num_short(b, f->y0, 6));
    }
    if (!*buf) add(buf, n, "the two sides happen to agree at your values; other values tell them apart");
}

/* ---- checking ---------------------------------------------------------------------- */

static int same(double a, double b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (a == b) return 1;
    double d = fabs(a - b);
    return d <= 1e-12 || d <= 1e-9 * fmax(fabs(a), fabs(b));
}

/* The compare field of a named quantity, for its hints ("" when none). */
static void field_of(qty q, int L, char *path, size_t n)
{
    static const char *const key[] = {[Q_Z] = "z", [Q_A] = "a", [Q_DW] = "dL_dW", [Q_DB] = "dL_db", [Q_DZ] = "dL_dz",
                                      [Q_DA] = "dL_da"};
    path[0] = 0;
    if (q.kind == Q_DA && q.layer == 0) snprintf(path, n, "dL_dx");
    else if ((q.kind == Q_Z || q.kind == Q_A || q.kind >= Q_DW) && q.layer >= 1 && q.layer <= L)
        snprintf(path, n, "layers[%d].%s", q.layer - 1, key[q.kind]);
}

/* The hints of grad --compare for the RHS's value u (the checker's
 * orientation) of formula f at the current pass. */
static const char *hint_for(bp_check *c, const formula *f, const double *u, int r, int cc, const double *t)
{
    char path[48];
    if (!f->named) {
        bp_mat truth = {r, cc, BP_F64, (void *)t};
        return bp_compare_hint(c->work, "identity", &truth, u, r, cc, 1e-9);
    }
    field_of(f->q, c->L, path, sizeof path);
    int turn = c->cols && turns(f->q.kind), ur = turn ? cc : r, uc = turn ? r : cc;
    double *v = malloc((size_t)r * cc * sizeof *v + 1);
    bp_mat x, y;
    bp_model_data(c->work, &x, &y);
    double *dy = malloc((size_t)y.rows * y.cols * sizeof *dy + 1);
    const char *h = NULL;
    if (v && dy) {
        for (int i = 0; i < r; i++)
            for (int j = 0; j < cc; j++) v[turn ? (size_t)j * r + i : (size_t)i * cc + j] = u[(size_t)i * cc + j];
        bp_mat truth = f->q.kind == Q_M ? (bp_mat){1, 1, BP_F64, (void *)t} : net_view(c->work, f->q, dy);
        h = bp_compare_hint(c->work, *path ? path : "identity", &truth, v, ur, uc, 1e-9);
    }
    free(v);
    free(dy);
    return h;
}

/* The elementwise readings of the LaTeX products of e, into f->note. */
static void readings(formula *f, const bp_expr *e)
{
    char l[48];
    for (int i = 0; e->reading && i < e->nast; i++) {
        const int *r = &e->reading[3 * i];
        if (r[0] != 3) continue;
        const anode *B = &e->ast[e->ast[i].kid[1]];
        int len = B->end - B->start;
        add(f->note, sizeof f->note, "%sthe product at %s, by '%.*s', read as elementwise: %dx%d and %dx%d, whose inner "
            "sizes do not fit", *f->note ? "; " : "", bp_expr_loc(e->src, e->ast[i].oppos, l, sizeof l),
            len > 60 ? 60 : len, e->src + B->start, r[1], r[2], r[1], r[2]);
    }
}

/* Formula f at the current pass (draw d): its verdict when it is decided. */
static bp_status check_one(bp_check *c, formula *f, int d, bp_error *err)
{
    bp_status s = BP_OK;
    for (int k = 0; k < 2 && !s; k++) {
        bp_expr *e = f->side[k];
        int where;
        if ((s = set_values(c, e, err))) return s;
        s = bp_expr_eval(e, &where, err);
        if (s == BP_E_SHAPE || s == BP_E_DOMAIN) {
            f->done = 1;
            f->verdict = s == BP_E_SHAPE ? BP_CHECK_SHAPE : BP_CHECK_WRONG;
            f->draw = s == BP_E_SHAPE ? -1 : d;
            f->ei = f->ej = -1;
            f->yours = f->truth = NAN;
            snprintf(f->hint, sizeof f->hint, "%s%.600s", s == BP_E_DOMAIN ? "undefined there: " : "", err->msg);
            return BP_OK;
        }
        if (s) return s;
        if (d == 0) readings(f, e);
    }
    const bp_expr *L = f->side[0], *R = f->side[1];
    int lr, lc, rr, rc;
    bp_expr_shape(L, &lr, &lc);
    bp_expr_shape(R, &rr, &rc);
    f->ei = f->ej = -1;
    f->yours = f->truth = NAN;
    if (lr != rr || lc != rc) {
        f->done = 1;
        f->verdict = BP_CHECK_SHAPE;
        f->draw = -1;
        snprintf(f->hint, sizeof f->hint, "yours is %dx%d, %s %dx%d%s", rr, rc, f->named ? "the true one" : "the left side", lr,
                 lc, rr == lc && rc == lr ? ": transposed?" : "");
        return BP_OK;
    }
    for (int i = 0; i < lr * lc; i++) {
        double t = bp_expr_value(L, i), u = bp_expr_value(R, i);
        if (same(t, u)) continue;
        f->done = 1;
        f->verdict = BP_CHECK_WRONG;
        f->draw = d;
        f->ei = i / lc;
        f->ej = i % lc;
        f->yours = u;
        f->truth = t;
        if (d == 0) {
            double *tv = malloc((size_t)lr * lc * sizeof *tv + 1), *uv = malloc((size_t)lr * lc * sizeof *uv + 1);
            if (!tv || !uv) { free(tv); free(uv); return bp_err(err, BP_E_NOMEM, "out of memory"); }
            for (int k = 0; k < lr * lc; k++) { tv[k] = bp_expr_value(L, k); uv[k] = bp_expr_value(R, k); }
            const char *h = hint_for(c, f, uv, lr, lc, tv);
            if (h) snprintf(f->hint, sizeof f->hint, "%s", h);
            free(tv);
            free(uv);
        } else {
            props now;
            props_of(c, &now);
            why_hid(c, &now, f->hint, sizeof f->hint);
        }
        return BP_OK;
    }
    return BP_OK;
}

bp_status bp_check_run(bp_check *c, bp_error *err)
{
    bp_rng r;
    bp_rng_seed(&r, c->seed);
    bp_status s = BP_OK;
    for (int i = 0; i < c->n; i++) c->f[i].done = 0;
    /* the file's values first: the pass over a fresh copy of them */
    for (int d = 0; d <= c->redraws && !s; d++) {
        double loss;
        /* a redraw where some ReLU's (or step's) z is exactly 0 (all of a layer's inputs 0 and no
         * bias) is drawn again: there relu' is a convention, and either subgradient is right */
        for (int tries = 0; !s && (!d || tries < 100); tries++) {
            if (d && (s = redraw(c, &r, err))) break;
            if ((s = bp_model_pass(c->work, &loss, err)) || !d || !relu_kink(c)) break;
        }
        if (s) break;
        if (d == 0) props_of(c, &c->file);
        for (int i = 0; i < c->n && !s; i++)
            if (!c->f[i].done) s = check_one(c, &c->f[i], d, err);
    }
    for (int i = 0; i < c->n && !s; i++)
        if (!c->f[i].done) {
            c->f[i].done = 1;
            c->f[i].verdict = BP_CHECK_RIGHT;
            c->f[i].draw = c->f[i].ei = c->f[i].ej = -1;
            c->f[i].yours = c->f[i].truth = NAN;
        }
    return s;
}

bp_status bp_check_result_get(const bp_check *c, int i, bp_check_result *r)
{
    if (i < 0 || i >= c->n || !c->f[i].done) return BP_E_ARG;
    const formula *f = &c->f[i];
    *r = (bp_check_result){f->verdict, f->line, f->text, f->draw, {f->ei, f->ej}, f->yours, f->truth,
                           *f->hint ? f->hint : NULL, *f->note ? f->note : NULL};
    return BP_OK;
}

/* ---- reports ------------------------------------------------------------------------ */

bp_status bp_check_write_text(const bp_check *c, FILE *out, bp_error *err)
{
    int right = 0;
    char b1[BP_NUM_MAX], b2[BP_NUM_MAX];
    for (int i = 0; i < c->n; i++) {
        const formula *f = &c->f[i];
        if (!f->done) return bp_err(err, BP_E_ARG, "the formulas have not been checked");
        fprintf(out, "%-3d %s\n", f->line, f->text);
        if (f->verdict == BP_CHECK_RIGHT) {
            right++;
            if (c->redraws) fprintf(out, "    right: at the file's values and at %d redraw%s\n", c->redraws, c->redraws == 1 ? "" : "s");
            else fputs("    right at the file's values\n", out);
        } else if (f->verdict == BP_CHECK_SHAPE) {
            fprintf(out, "    SHAPE: %s\n", f->hint);
        } else {
            if (f->draw == 0) fputs("    WRONG at the file's values", out);
            else fprintf(out, "    WRONG at redraw %d (right at the file's values)", f->draw);
            if (f->ei >= 0)
                fprintf(out, ": entry [%d][%d] is %s, the true value %s\n", f->ei, f->ej, bp_num_short(b1, f->yours, 8),
                        bp_num_short(b2, f->truth, 8));
            else fputs("\n", out);
            if (*f->hint) fprintf(out, "    %s%s\n", f->ei < 0 ? "" : f->draw > 0 ? "why it hid: " : "likely slip: ", f->hint);
        }
        if (*f->note) fprintf(out, "    (%s)\n", f->note);
    }
    fprintf(out, "\n%d of %d formula%s right (the file's values and %d redraw%s, seed %llu)\n", right, c->n,
            c->n == 1 ? "" : "s", c->redraws, c->redraws == 1 ? "" : "s", (unsigned long long)c->seed);
    return ferror(out) ? bp_err(err, BP_E_IO, "could not write the report") : BP_OK;
}

bp_status bp_check_write_json(const bp_check *c, FILE *out, bp_error *err)
{
    static const char *const V[] = {"right", "wrong", "shape"};
    fputs("{\"formulas\": [", out);
    for (int i = 0; i < c->n; i++) {
        const formula *f = &c->f[i];
        if (!f->done) return bp_err(err, BP_E_ARG, "the formulas have not been checked");
        fprintf(out, "%s{\"line\": %d, \"formula\": ", i ? ", " : "", f->line);
        bp_json_str(out, f->text);
        fprintf(out, ", \"verdict\": \"%s\", \"at\": ", V[f->verdict]);
        if (f->verdict == BP_CHECK_WRONG && f->draw == 0) fputs("\"file\"", out);
        else if (f->verdict == BP_CHECK_WRONG) fprintf(out, "\"redraw %d\"", f->draw);
        else fputs("null", out);
        if (f->ei >= 0) fprintf(out, ", \"entry\": [%d, %d], \"yours\": ", f->ei, f->ej);
        else fputs(", \"entry\": null, \"yours\": ", out);
        bp_json_num(out, f->yours);
        fputs(", \"true\": ", out);
        bp_json_num(out, f->truth);
        fputs(", \"hint\": ", out);
        if (*f->hint) bp_json_str(out, f->hint);
        else fputs("null", out);
        fputc('}', out);
    }
    fputs("]}\n", out);
    return ferror(out) ? bp_err(err, BP_E_IO, "could not write the report") : BP_OK;
}

/* ---- Jacobians of intermediate quantities ----------------------------------------------- */

/* A name given on the command line (ASCII or LaTeX): the quantity. */
static bp_status one_name(const bp_net_spec *s, const bp_expr_host *h, const char *opt, const char *text, char *name,
                          size_t n, qty *q, bp_error *err)
{
    bp_expr *e = NULL;
    int where;
    char why[HINT_MAX];
    bp_status st = is_latex(text) ? bp_latex_parse(text, h, &e, &where, err) : bp_expr_parse_host(text, h, &e, &where, err);
    if (st) return bp_err(err, st, "%s: %s", opt, err->msg);
    int ok = e->ast[e->root].k == A_VAR;
    if (ok) snprintf(name, n, "%s", e->vars[e->ast[e->root].idx]);
    bp_expr_free(e);
    if (!ok) return bp_err(err, BP_E_PARSE, "%s: expected one quantity, as a[2] or W[2], got '%.100s'", opt, text);
    if (resolve(s, name, q, why, sizeof why)) return bp_err(err, BP_E_PARSE, "%s: %s", opt, why);
    return BP_OK;
}

/* The canonical name of a quantity the forward pass is written with. */
static void qname(qty q, char *buf, size_t n)
{
    static const char *const pre[] = {[Q_W] = "W", [Q_B] = "b", [Q_Z] = "z", [Q_A] = "a"};
    if (q.kind == Q_A && q.layer == 0) snprintf(buf, n, "x");
    else snprintf(buf, n, "%s[%d]", pre[q.kind], q.layer);
}

/* printf onto the end of *buf (malloc'd, grown); -1 when out of memory. */
static int append(char **buf, const char *fmt, ...) BP_PRINTF(2, 3);
static int append(char **buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    size_t k = *buf ? strlen(*buf) : 0;
    char *b = n < 0 ? NULL : realloc(*buf, k + (size_t)n + 1);
    if (!b) return -1;
    va_start(ap, fmt);
    vsnprintf(b + k, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *buf = b;
    return 0;
}

/* The forward pass from wrt (or from x, for a W or b) up to quantity q (z or
 * a of a layer) as a formula (malloc'd); NULL and *found 0 when q does not
 * depend on wrt. */
static char *forward_text(const bp_net_spec *s, int cols, qty q, qty wrt, int *found)
{
    static const char *const F[] = {[BP_ACT_LINEAR] = "", [BP_ACT_SIGMOID] = "sigmoid", [BP_ACT_RELU] = "relu",
                                    [BP_ACT_TANH] = "tanh", [BP_ACT_SOFTMAX] = "softmax", [BP_ACT_STEP] = "step"};
    qty at = wrt.kind == Q_A || wrt.kind == Q_Z ? wrt : (qty){Q_A, 0};
    char *text = NULL, name[32];
    *found = wrt.kind == Q_A || wrt.kind == Q_Z;
    qname(at, name, sizeof name);
    if (append(&text, "%s", name)) return NULL;
    while (!(at.kind == q.kind && at.layer == q.layer)) {
        if (at.layer > q.layer || (at.layer == q.layer && at.kind == Q_A)) { *found = 0; break; }
        char *t = text;
        text = NULL;
        int bad;
        if (at.kind == Q_Z) {                            /* a[l] = g(z[l]) */
            bad = append(&text, "%s(%s)", F[s->layers[at.layer - 1].act], t);
            at.kind = Q_A;
        } else {                                        /* z[l+1] = W a + b in the chosen orientation */
            int l = at.layer + 1, oi = s->layout == BP_OUT_IN;
            const char *tr = cols == oi ? "" : "^T";
            bad = cols ? append(&text, "W[%d]%s @ %s", l, tr, t) : append(&text, "%s @ W[%d]%s", t, l, tr);
            if (!bad && s->layers[l - 1].bias) bad = append(&text, " + b[%d]", l);
            if ((wrt.kind == Q_W || wrt.kind == Q_B) && wrt.layer == l) *found = 1;
            at = (qty){Q_Z, l};
        }
        free(t);
        if (bad) { free(text); return NULL; }
    }
    if (!*found) { free(text); return NULL; }
    return text;
}

bp_status bp_check_jacobian(bp_model *m, bp_samples samples, const char *of, const char *wrt, int sample, int json,
                            FILE *out, bp_error *err)
{
    bp_check *c;
    bp_status st = bp_check_new(m, samples, 0, 1, &c, err);
    if (st) return st;
    char qn[64], pn[64], *text = NULL;
    qty q, p;
    bp_expr *e = NULL;
    int found = 0;
    c->host.nsamples = 1;
    if ((st = one_name(c->spec, &c->host, "--jacobian", of, qn, sizeof qn, &q, err)) ||
        (st = one_name(c->spec, &c->host, "--wrt", wrt, pn, sizeof pn, &p, err)))
        goto done;
    if (q.kind != Q_Z && q.kind != Q_A) { st = bp_err(err, BP_E_PARSE, "--jacobian: expected z[l], a[l] or yhat, got '%s'", of); goto done; }
    if (q.kind == Q_A && q.layer == 0) { st = bp_err(err, BP_E_PARSE, "--jacobian: x is the input; its Jacobian is the identity"); goto done; }
    if (p.kind != Q_W && p.kind != Q_B && p.kind != Q_Z && p.kind != Q_A) {
        st = bp_err(err, BP_E_PARSE, "--wrt: expected W[l], b[l], x, a[l] or z[l], got '%s'", wrt);
        goto done;
    }
    if (sample < 0 || sample >= c->m) {
        st = bp_err(err, BP_E_VALUE, "--sample %d: the data has %d sample%s (counted from 1)", sample + 1, c->m, c->m == 1 ? "" : "s");
        goto done;
    }
    if (!(text = forward_text(c->spec, c->cols, q, p, &found))) {
        if (found) { st = bp_err(err, BP_E_NOMEM, "out of memory"); goto done; }
        st = bp_err(err, BP_E_VALUE, "%s does not depend on %s: its Jacobian is 0", qn, pn);
        goto done;
    }
    char pv[64];
    qname(p, pv, sizeof pv);
    /* the sample alone, through the network's pass */
    double loss;
    bp_mat x, y;
    bp_model_data(c->work, &x, &y);
    bp_mat xs = {1, x.cols, BP_F64, (double *)x.data + (size_t)sample * x.cols};
    bp_mat ys = {1, y.cols, BP_F64, (double *)y.data + (size_t)sample * y.cols};
    double *xc = malloc((size_t)x.cols * sizeof *xc), *yc = malloc((size_t)y.cols * sizeof *yc);
    if (!xc || !yc) { free(xc); free(yc); st = bp_err(err, BP_E_NOMEM, "out of memory"); goto done; }
    memcpy(xc, xs.data, (size_t)x.cols * sizeof *xc);
    memcpy(yc, ys.data, (size_t)y.cols * sizeof *yc);
    xs.data = xc;
    ys.data = yc;
    st = bp_model_set_data(c->work, &xs, &ys, err);
    free(xc);
    free(yc);
    if (!st) st = bp_model_pass(c->work, &loss, err);
    if (!st) st = bp_expr_parse_host(text, &c->host, &e, NULL, err);
    if (!st) {   /* the model's convention at kinks (relu at 0), as its own passes */
        bp_kinks k = bp_net_kinks(bp_model_net(c->work));
        bp_expr_set_kinks(e, &k);
    }
    if (!st) st = set_values(c, e, err);
    if (!st) st = bp_expr_set_wrt(e, pv, err);
    if (!st) st = bp_expr_eval(e, NULL, err);
    if (st) goto done;
    int qr, qc, pr, pc, nq = bp_expr_noutputs(e);
    bp_expr_shape(e, &qr, &qc);
    bp_expr_var_shape(e, 0, &pr, &pc);
    char b[BP_NUM_MAX];
    if (json) {
        fputs("{\"of\": ", out);
        bp_json_str(out, qn);
        fputs(", \"wrt\": ", out);
        bp_json_str(out, pn);
        fprintf(out, ", \"sample\": %d, \"jacobian\": [", sample + 1);
        for (int k = 0; k < nq; k++) {
            fputs(k ? ", [" : "[", out);
            for (int i = 0; i < pr; i++) {
                fputs(i ? ", [" : "[", out);
                for (int j = 0; j < pc; j++) { if (j) fputs(", ", out); bp_json_num(out, bp_expr_derivative(e, k, 0, i, j)); }
                fputc(']', out);
            }
            fputc(']', out);
        }
        fputs("]}\n", out);
    } else {
        fprintf(out, "d %s / d %s for sample %d: %s is %dx%d, %s is %dx%d; for each unit of %s, a matrix shaped like %s\n"
                     "(%s = %s)\n", qn, pn, sample + 1, qn, qr, qc, pn, pr, pc, qn, pn, qn, text);
        for (int k = 0; k < nq; k++) {
            int w[64] = {0};
            for (int j = 0; j < pc && j < 64; j++)
                for (int i = 0; i < pr; i++) {
                    int l = (int)strlen(bp_num_short(b, bp_expr_derivative(e, k, 0, i, j), 8));
                    if (l > w[j]) w[j] = l;
                }
            fprintf(out, "\nunit %d of %s (%s): d/d%s =\n", k + 1, qn, bp_num_short(b, bp_expr_value(e, k), 8), pn);
            for (int i = 0; i < pr; i++) {
                fputs("    [", out);
                for (int j = 0; j < pc; j++) fprintf(out, " %*s", j < 64 ? w[j] : 0, bp_num_short(b, bp_expr_derivative(e, k, 0, i, j), 8));
                fputs(" ]\n", out);
            }
        }
    }
    if (ferror(out)) st = bp_err(err, BP_E_IO, "could not write the report");
done:
    free(text);
    bp_expr_free(e);
    bp_check_free(c);
    return st;
}
