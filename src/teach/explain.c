/* teach/explain.c - `backprop explain`: one forward and backward pass written out
 * step by step in the notation of the course notes "Back Propagation":
 * z^[l], a^[l] = g(z^[l]), g^[la] = dL/da^[l], g^[lz] = dL/dz^[l], g^[lW],
 * g^[lb], the Hadamard product, the batch as rows with 1/m for a mean.
 *
 * Every number shown comes from the library's own pass (the values of the
 * graph); the helper matrices (g'(z), the per-sample losses, dL/dyhat) are
 * computed here from those values.  Three renderings share one walk through
 * the derivation: plain text (UTF-8), Markdown (GitHub math: $...$, $$...$$)
 * and a complete LaTeX document (amsmath, bmatrix).  Markdown and LaTeX use
 * the same math source, so each piece is written twice: text and TeX. */
#include "teach/step.h"
#include "core/numfmt.h"
#include "core/stable.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define NBUF 16
#define CHUNK_COLS 8    /* text: matrices wider than this are shown in column blocks */
#define TEX_WIDTH 70    /* Markdown and LaTeX: matrix blocks at most this many digits wide */
#define TEX_MAX_COLS 20 /* ... and of at most this many columns (the preamble's MaxMatrixCols) */
#define BP_STR_(x) #x
#define BP_STR(x) BP_STR_(x)
#define CHUNK_ROWS 20   /* TeX: longer matrices in row blocks (page breaks)          */

typedef struct ex {
    FILE *o;
    bp_format f;
    int slot;
    char buf[NBUF][768];
} ex;

/* The text or the TeX form of a piece, formatted into a rotating buffer. Both
 * forms take the same arguments; Markdown and LaTeX share the TeX form. */
static const char *S(ex *E, const char *txt, const char *tex, ...)
{
    char *b = E->buf[E->slot++ % NBUF];
    va_list ap;
    va_start(ap, tex);
    vsnprintf(b, sizeof E->buf[0], E->f == BP_FMT_TEXT ? txt : tex, ap);
    va_end(ap);
    return b;
}

static const char *shape(ex *E, int r, int c) { return S(E, "(%d x %d)", "(%d\\times %d)", r, c); }

/* ---- blocks ------------------------------------------------------------------- */
static void head(ex *E, int level, const char *title)
{
    static const char *const tex[] = {"section", "subsection", "subsubsection"};
    if (E->f == BP_FMT_LATEX) { fprintf(E->o, "\\%s*{%s}\n\n", tex[level - 1], title); return; }
    if (E->f == BP_FMT_MARKDOWN) { fprintf(E->o, "%.*s %s\n\n", level, "###", title); return; }
    fprintf(E->o, "%s\n", title);
    if (level < 3) {
        size_t n = 0;   /* UTF-8 characters */
        for (const char *p = title; *p; p++) n += ((unsigned char)*p & 0xC0) != 0x80;
        while (n--) fputc(level == 1 ? '=' : '-', E->o);
        fputc('\n', E->o);
    }
    fputc('\n', E->o);
}

/* A paragraph; text is wrapped at 88 columns. */
static void para(ex *E, const char *s)
{
    if (E->f != BP_FMT_TEXT) { fprintf(E->o, "%s\n\n", s); return; }
    while (*s) {
        const char *p = s, *cut = NULL;
        for (int col = 0; *p && col < 88; p++) {
            if (*p == ' ') cut = p;
            col += ((unsigned char)*p & 0xC0) != 0x80;
        }
        if (!*p || !cut) cut = p + strcspn(p, " ");
        fprintf(E->o, "%.*s\n", (int)(cut - s), s);
        s = *cut ? cut + 1 : cut;
    }
    fputc('\n', E->o);
}

static void eq(ex *E, const char *s)
{
    if (E->f == BP_FMT_TEXT) fprintf(E->o, "    %s\n\n", s);
    else if (E->f == BP_FMT_MARKDOWN) fprintf(E->o, "$$\n%s\n$$\n\n", s);
    else fprintf(E->o, "\\[\n%s\n\\]\n", s);
}

/* ---- numbers and matrices ---------------------------------------------------------- */
static void num(ex *E, double v)
{
    char b[BP_NUM_MAX], *e;
    bp_num_short(b, v, 8);
    if (E->f == BP_FMT_TEXT) { fprintf(E->o, " %14s", b); return; }
    if (isnan(v)) { fputs("\\mathrm{NaN}", E->o); return; }
    if (isinf(v)) { fputs(v < 0 ? "-\\infty" : "\\infty", E->o); return; }
    if ((e = strchr(b, 'e'))) { *e = 0; fprintf(E->o, "%s\\times 10^{%d}", b, atoi(e + 1)); }
    else fputs(b, E->o);
}

/* Visual width, in digits, of column j of M and of columns [c0, c1) as TeX
 * numbers (an exponent takes "x 10^" of room); the end of the column block
 * starting at c0 that fits TEX_WIDTH. */
static int tex_colw(const bp_mat *M, int j)
{
    int w = 1;
    char b[BP_NUM_MAX];
    for (int i = 0; i < M->rows; i++) {
        int n = (int)strlen(bp_num_short(b, bp_mat_get(M, i, j), 8));
        if (strchr(b, 'e')) n += 4;
        if (n > w) w = n;
    }
    return w + 2;   /* column separation */
}
static int tex_width(const bp_mat *M, int c0, int c1)
{
    int w = 0;
    while (c0 < c1) w += tex_colw(M, c0++);
    return w;
}
static int tex_block(const bp_mat *M, int c0)
{
    int c1 = c0 + 1, w = tex_colw(M, c0);
    while (c1 < M->cols && c1 - c0 < TEX_MAX_COLS && (w += tex_colw(M, c1)) <= TEX_WIDTH) c1++;
    return c1;
}

/* "lhs = M  shapes": `what` is the formula, `shapes` (may be NULL) the shape
 * bookkeeping; the result's shape is appended. */
static void show(ex *E, const char *what, const char *shapes, const bp_mat *M)
{
    const char *res = shape(E, M->rows, M->cols);
    if (E->f == BP_FMT_TEXT) {
        fprintf(E->o, "    %s    %s%s%s\n", what, shapes ? shapes : "", shapes ? " -> " : "", res);
        for (int c0 = 0; c0 < M->cols; c0 += CHUNK_COLS) {
            int c1 = c0 + CHUNK_COLS < M->cols ? c0 + CHUNK_COLS : M->cols;
            if (M->cols > CHUNK_COLS) fprintf(E->o, "      columns %d to %d:\n", c0 + 1, c1);
            for (int i = 0; i < M->rows; i++) {
                fputs("     ", E->o);
                for (int j = c0; j < c1; j++) num(E, bp_mat_get(M, i, j));
                fputc('\n', E->o);
            }
        }
        fputc('\n', E->o);
        return;
    }
    /* TeX: as many columns per bmatrix as fit a line (a page in LaTeX is ~95 digits
     * wide); a wide matrix gets its formula on a line of its own. */
    int cend = tex_block(M, 0), ccols = cend < M->cols, crows = M->rows > CHUNK_ROWS;
    int wide = ccols || crows || strlen(what) / 2 + tex_width(M, 0, cend) > 80;
    for (int r0 = 0; r0 < M->rows; r0 += CHUNK_ROWS)
        for (int c0 = 0, c1; c0 < M->cols; c0 = c1) {
            int r1 = r0 + CHUNK_ROWS < M->rows ? r0 + CHUNK_ROWS : M->rows, first = r0 == 0 && c0 == 0;
            c1 = tex_block(M, c0);
            fputs(E->f == BP_FMT_MARKDOWN ? "$$\n" : "\\[\n", E->o);
            if (first) fprintf(E->o, wide ? "\\begin{aligned}&%s\\\\\n&= " : "%s = ", what);
            if (crows) fprintf(E->o, "\\text{rows %d--%d%s}", r0 + 1, r1, ccols ? ", " : ": ");
            if (ccols) fprintf(E->o, "\\text{columns %d--%d: }", c0 + 1, c1);
            fputs("\\begin{bmatrix}\n", E->o);
            for (int i = r0; i < r1; i++) {
                for (int j = c0; j < c1; j++) {
                    if (j > c0) fputs(" & ", E->o);
                    num(E, bp_mat_get(M, i, j));
                }
                fputs(i + 1 < r1 ? " \\\\\n" : "\n", E->o);
            }
            fputs("\\end{bmatrix}", E->o);
            if (first && wide) fputs("\n\\end{aligned}", E->o);
            if (r1 == M->rows && c1 == M->cols) /* LaTeX moves a \tag* below when the line is full */
                fprintf(E->o, E->f == BP_FMT_LATEX ? "\\tag*{$%s%s%s$}" : "\\qquad %s%s%s", shapes ? shapes : "",
                        shapes ? " \\to " : "", res);
            fputs(E->f == BP_FMT_MARKDOWN ? "\n$$\n\n" : "\n\\]\n", E->o);
        }
}

/* A caller-owned f64 matrix. */
static bp_mat newmat(int r, int c, bp_error *err)
{
    bp_mat m = {r, c, BP_F64, bp_calloc((size_t)r * c + 1, sizeof(double), err)};
    return m;
}

/* ---- the pieces of notation ------------------------------------------------------ */
#define SC(E) ((E)->mean ? S(&(E)->e, "(1/m) ", "\\frac{1}{m}") : "")

typedef struct ctx {
    ex e;
    bp_net *net;
    const bp_scaler *scaler;   /* the model's input scaling, or NULL */
    const bp_net_spec *s;
    bp_mat x, y;
    int m, mean;
} ctx;

static const char *act_formula(ex *E, bp_act a, int l)
{
    switch (a) {
    case BP_ACT_SIGMOID:
        return S(E, "a^[%d] = σ(z^[%d]) = 1 / (1 + e^(-z^[%d]))", "a^{[%d]} = \\sigma(z^{[%d]}) = \\frac{1}{1+e^{-z^{[%d]}}}", l, l, l);
    case BP_ACT_RELU: return S(E, "a^[%d] = max(0, z^[%d])", "a^{[%d]} = \\max(0, z^{[%d]})", l, l);
    case BP_ACT_TANH: return S(E, "a^[%d] = tanh(z^[%d])", "a^{[%d]} = \\tanh(z^{[%d]})", l, l);
    case BP_ACT_STEP:
        return S(E, "a^[%d] = step(z^[%d]) = 1[z^[%d] > 0]   (1 where z > 0, else 0)",
                 "a^{[%d]} = \\mathrm{step}(z^{[%d]}) = \\mathbf{1}[z^{[%d]} > 0]", l, l, l);
    case BP_ACT_SOFTMAX:
        return S(E, "a^[%d]_j = e^(z^[%d]_j) / Σ_k e^(z^[%d]_k)   (each row)",
                 "a^{[%d]}_j = \\frac{e^{z^{[%d]}_j}}{\\sum_k e^{z^{[%d]}_k}}", l, l, l);
    default: return S(E, "a^[%d] = z^[%d]   (linear)", "a^{[%d]} = z^{[%d]}", l, l);
    }
}

/* [1, a]: the input of a layer with the bias trick (a caller-owned f64 matrix). */
static bp_mat with_one(const bp_mat *a, bp_error *err)
{
    bp_mat e = newmat(a->rows, a->cols + 1, err);
    for (int i = 0; e.data && i < a->rows; i++) {
        ((double *)e.data)[(size_t)i * e.cols] = 1;
        for (int j = 0; j < a->cols; j++) ((double *)e.data)[(size_t)i * e.cols + 1 + j] = bp_mat_get(a, i, j);
    }
    return e;
}

static bp_status forward(ctx *C, bp_error *err)
{
    ex *E = &C->e;
    const bp_net_spec *s = C->s;
    int nl = s->nlayers, oi = s->layout == BP_OUT_IN;
    head(E, 2, "Forward pass");
    const bp_scaler *sc = C->scaler;
    if (sc && (sc->divide > 0 || sc->mean)) {
        char d[BP_NUM_MAX];
        bp_num_short(d, sc->divide, 8);
        if (sc->divide > 0 && sc->mean)
            para(E, S(E, "The model scales its inputs first: x = (x_given / %s - mean) / std, per feature (mean and std "
                         "of the training data).", "The model scales its inputs first: $x = (x_{given} / %s - \\mu) / "
                         "\\sigma$, per feature ($\\mu$, $\\sigma$ of the training data).", d, d));
        else if (sc->divide > 0)
            para(E, S(E, "The model scales its inputs first: x = x_given / %s.",
                      "The model scales its inputs first: $x = x_{given} / %s$.", d, d));
        else
            para(E, S(E, "The model scales its inputs first: x = (x_given - mean) / std, per feature (mean and std of "
                         "the training data).", "The model scales its inputs first: $x = (x_{given} - \\mu) / \\sigma$, "
                         "per feature ($\\mu$, $\\sigma$ of the training data)."));
    }
    show(E, S(E, "a^[0] = x", "a^{[0]} = x"), NULL, &C->x);
    for (int k = 0; k < nl; k++) {
        int l = k + 1, fi = k ? s->layers[k - 1].units : s->inputs, u = s->layers[k].units;
        const bp_layer_spec *L = &s->layers[k];
        bp_mat W = bp_net_weight(C->net, k), b = bp_net_bias(C->net, k), z = bp_net_z(C->net, k),
               a = bp_net_a(C->net, k);
        char t[96];
        snprintf(t, sizeof t, "Layer %d: %d unit%s, %s%s%s", l, u, u == 1 ? "" : "s", bp_act_name(L->act),
                 L->bias_trick ? ", bias trick" : L->bias ? "" : ", no bias", l == nl ? " (output)" : "");
        head(E, 3, t);
        if (L->bias_trick) {   /* the bias is W's first column (row): the input gets a leading 1 */
            bp_mat prev = k ? bp_net_a(C->net, k - 1) : C->x, ext = with_one(&prev, err);
            if (!ext.data) return BP_E_NOMEM;
            para(E, oi ? S(E, "The bias trick: the first column of W^[%d] is the bias, and the input is extended with a "
                              "leading 1, so that z^[%d] = [1, a^[%d]] (W^[%d])^T = a^[%d] (W^[%d]_rest)^T + W^[%d]_bias.",
                           "The bias trick: the first column of $W^{[%d]}$ is the bias, and the input is extended with "
                           "a leading 1, so that $z^{[%d]} = [1, a^{[%d]}]\\, W^{[%d]\\top}$ equals the layer with a "
                           "separate bias: $a^{[%d]} W^{[%d]\\top}_{\\text{rest}} + W^{[%d]}_{\\text{bias}}$.", l, l, k, l, k, l, l)
                       : S(E, "The bias trick: the first row of W^[%d] is the bias, and the input is extended with a "
                              "leading 1, so that z^[%d] = [1, a^[%d]] W^[%d] = a^[%d] W^[%d]_rest + W^[%d]_bias.",
                           "The bias trick: the first row of $W^{[%d]}$ is the bias, and the input is extended with "
                           "a leading 1, so that $z^{[%d]} = [1, a^{[%d]}]\\, W^{[%d]}$ equals the layer with a "
                           "separate bias: $a^{[%d]} W^{[%d]}_{\\text{rest}} + W^{[%d]}_{\\text{bias}}$.", l, l, k, l, k, l, l));
            show(E, oi ? S(E, "W^[%d]   (column 1: the bias)", "W^{[%d]}\\ (\\text{column 1: the bias})", l)
                       : S(E, "W^[%d]   (row 1: the bias)", "W^{[%d]}\\ (\\text{row 1: the bias})", l), NULL, &W);
            const char *xs = fi == 1 ? S(E, "x = [1, x_1]", "x = [1, x_1]")
                           : fi == 2 ? S(E, "x = [1, x_1, x_2]", "x = [1, x_1, x_2]")
                           : S(E, "x = [1, x_1, ..., x_%d]", "x = [1, x_1, \\dots, x_{%d}]", fi);
            show(E, k ? S(E, "[1, a^[%d]]", "[1, a^{[%d]}]", k) : xs, NULL, &ext);
            free(ext.data);
            const char *f = oi ? S(E, "z^[%d] = [1, a^[%d]] (W^[%d])^T", "z^{[%d]} = [1, a^{[%d]}]\\, W^{[%d]\\top}", l, k, l)
                               : S(E, "z^[%d] = [1, a^[%d]] W^[%d]", "z^{[%d]} = [1, a^{[%d]}]\\, W^{[%d]}", l, k, l);
            show(E, f, S(E, "%s%s", "%s%s", shape(E, C->m, fi + 1), shape(E, fi + 1, u)), &z);
            show(E, act_formula(E, L->act, l), NULL, &a);
            continue;
        }
        show(E, S(E, "W^[%d]", "W^{[%d]}", l), NULL, &W);
        if (L->bias) show(E, S(E, "b^[%d]", "b^{[%d]}", l), NULL, &b);
        const char *bias = L->bias ? S(E, " + b^[%d]", " + b^{[%d]}", l) : "";
        const char *bs = L->bias ? S(E, " + (1 x %d)", " + (1\\times %d)", u) : "";
        const char *f = oi ? S(E, "z^[%d] = a^[%d] (W^[%d])^T%s", "z^{[%d]} = a^{[%d]} W^{[%d]\\top}%s", l, k, l, bias)
                           : S(E, "z^[%d] = a^[%d] W^[%d]%s", "z^{[%d]} = a^{[%d]} W^{[%d]}%s", l, k, l, bias);
        show(E, f, S(E, "%s%s%s", "%s%s%s", shape(E, C->m, fi), shape(E, fi, u), bs), &z);
        show(E, act_formula(E, L->act, l), NULL, &a);
    }
    return BP_OK;
}

static bp_status loss_section(ctx *C, double loss, bp_error *err)
{
    ex *E = &C->e;
    const bp_net_spec *s = C->s;
    int nl = s->nlayers, n = bp_net_outputs(C->net);
    bp_mat a = bp_net_a(C->net, nl - 1), z = bp_net_z(C->net, nl - 1);
    bp_mat Li = newmat(C->m, 1, err);
    if (!Li.data) return BP_E_NOMEM;
    for (int i = 0; i < C->m; i++) {
        double acc = 0, mx = -INFINITY, se = 0;
        if (s->loss == BP_LOSS_ZERO_ONE) {   /* the scoring rule: the first largest entry, or >= 0.5 for one */
            int ca = 0, cy = 0;
            if (n == 1) { ca = bp_mat_get(&a, i, 0) >= 0.5; cy = bp_mat_get(&C->y, i, 0) >= 0.5; }
            for (int k = 1; k < n; k++) {
                if (bp_mat_get(&a, i, k) > bp_mat_get(&a, i, ca)) ca = k;
                if (bp_mat_get(&C->y, i, k) > bp_mat_get(&C->y, i, cy)) cy = k;
            }
            ((double *)Li.data)[i] = ca != cy;
            continue;
        }
        if (s->loss == BP_LOSS_CE) {
            for (int k = 0; k < n; k++) mx = fmax(mx, bp_mat_get(&z, i, k));
            for (int k = 0; k < n; k++) se += exp(bp_mat_get(&z, i, k) - mx);
        }
        for (int k = 0; k < n; k++) {
            double p = bp_mat_get(&a, i, k), t = bp_mat_get(&C->y, i, k), zz = bp_mat_get(&z, i, k);
            switch (s->loss) {
            case BP_LOSS_SQUARED: acc += (p - t) * (p - t); break;
            case BP_LOSS_HALF_SQUARED: acc += 0.5 * (p - t) * (p - t); break;
            case BP_LOSS_BCE: acc += bp_bce_logit(zz, t); break;
            case BP_LOSS_CE: if (t != 0) acc -= t * (zz - mx - log(se)); break;
            default: break;
            }
        }
        ((double *)Li.data)[i] = acc;
    }
    head(E, 2, "Loss");
    const char *per;
    switch (s->loss) {
    case BP_LOSS_SQUARED: per = S(E, "L_i = Σ_k (ŷ_ik - y_ik)^2", "L_i = \\sum_k (\\hat{y}_{ik} - y_{ik})^2"); break;
    case BP_LOSS_HALF_SQUARED:
        per = S(E, "L_i = 1/2 Σ_k (ŷ_ik - y_ik)^2", "L_i = \\frac{1}{2}\\sum_k (\\hat{y}_{ik} - y_{ik})^2");
        break;
    case BP_LOSS_BCE:
        per = S(E, "L_i = -Σ_k [ y_ik log ŷ_ik + (1 - y_ik) log(1 - ŷ_ik) ]",
                "L_i = -\\sum_k \\left[ y_{ik}\\log\\hat{y}_{ik} + (1-y_{ik})\\log(1-\\hat{y}_{ik}) \\right]");
        break;
    case BP_LOSS_ZERO_ONE:
        per = n == 1 ? S(E, "L_i = 1[ 1[ŷ_i ≥ 0.5] ≠ 1[y_i ≥ 0.5] ]   (1 if sample i is misclassified, else 0)",
                         "L_i = \\mathbf{1}\\big[\\mathbf{1}[\\hat{y}_i \\ge 0.5] \\ne \\mathbf{1}[y_i \\ge 0.5]\\big]")
                     : S(E, "L_i = 1[ argmax_k ŷ_ik ≠ argmax_k y_ik ]   (1 if sample i is misclassified, else 0)",
                         "L_i = \\mathbf{1}\\big[\\arg\\max_k \\hat{y}_{ik} \\ne \\arg\\max_k y_{ik}\\big]");
        break;
    default: per = S(E, "L_i = -Σ_k y_ik log ŷ_ik", "L_i = -\\sum_k y_{ik}\\log\\hat{y}_{ik}"); break;
    }
    para(E, S(E, "The prediction is ŷ = a^[%d]; the loss of sample i is", "The prediction is $\\hat{y} = a^{[%d]}$; the loss of sample $i$ is", nl));
    eq(E, per);
    show(E, "y", NULL, &C->y);
    show(E, "L_i", NULL, &Li);
    char v[BP_NUM_MAX];
    bp_num_short(v, loss, 8);
    if (C->mean)
        eq(E, S(E, "L = (1/m) Σ_i L_i = %s   (reduction mean, m = %d)",
                "L = \\frac{1}{m}\\sum_{i=1}^{m} L_i = %s \\qquad (\\text{reduction mean}, m = %d)", v, C->m));
    else
        eq(E, S(E, "L = Σ_i L_i = %s   (reduction sum, m = %d)",
                "L = \\sum_{i=1}^{m} L_i = %s \\qquad (\\text{reduction sum}, m = %d)", v, C->m));
    free(Li.data);
    return BP_OK;
}

/* g^[Lz] for a fused loss: the short derivation of yhat - y. */
static void fused(ctx *C, const bp_mat *dyh, bp_mat *gp)
{
    ex *E = &C->e;
    int l = C->s->nlayers;
    const char *sc = SC(C);
    bp_mat dz = bp_net_dz(C->net, l - 1);
    if (C->s->loss == BP_LOSS_CE) {
        para(E, S(E, "Softmax and cross-entropy meet here. Written out, the loss gives",
                  "Softmax and cross-entropy meet here. Written out, the loss gives"));
        show(E, S(E, "g^[%da] = ∂L/∂ŷ = -%sy / ŷ   (elementwise)", "g^{[%da]} = \\frac{\\partial L}{\\partial\\hat{y}} = -%s\\frac{y}{\\hat{y}}", l, sc), NULL, dyh);
        para(E, S(E, "and the softmax couples every output to every input: its Jacobian is a full matrix, not only its diagonal,",
                  "and the softmax couples every output to every input: its Jacobian is a full matrix, not only its diagonal,"));
        eq(E, S(E, "∂ŷ_j/∂z_k = ŷ_j (δ_jk - ŷ_k)", "\\frac{\\partial\\hat{y}_j}{\\partial z^{[%d]}_k} = \\hat{y}_j(\\delta_{jk} - \\hat{y}_k)", l));
        para(E, "so, row by row, the product collapses:");
        eq(E, S(E, "g^[%dz]_k = Σ_j g^[%da]_j ŷ_j (δ_jk - ŷ_k) = %sΣ_j (-y_j)(δ_jk - ŷ_k) = %s(ŷ_k Σ_j y_j - y_k) = %s(ŷ_k - y_k)",
                "g^{[%dz]}_k = \\sum_j g^{[%da]}_j\\,\\hat{y}_j(\\delta_{jk} - \\hat{y}_k) = %s\\sum_j (-y_j)(\\delta_{jk} - \\hat{y}_k) = %s\\Big(\\hat{y}_k\\sum_j y_j - y_k\\Big) = %s(\\hat{y}_k - y_k)",
                l, l, sc, sc, sc));
        int sum1 = 1;
        for (int i = 0; i < C->y.rows; i++) {
            double t = 0;
            for (int j = 0; j < C->y.cols; j++) t += bp_mat_get(&C->y, i, j);
            sum1 &= fabs(t - 1) < 1e-9;
        }
        para(E, sum1 ? S(E, "using Σ_j y_j = 1 (each row of y is one-hot, or a probability vector).",
                          "using $\\sum_j y_j = 1$ (each row of $y$ is one-hot, or a probability vector).")
                     : S(E, "if Σ_j y_j = 1. Here some rows of y do not sum to 1, so the values below are %s(ŷ Σ_j y_j - y).",
                          "if $\\sum_j y_j = 1$. Here some rows of $y$ do not sum to 1, so the values below are $%s(\\hat{y}\\sum_j y_j - y)$.", sc));
    } else {
        para(E, "Sigmoid and binary cross-entropy meet here. Written out, the loss gives");
        show(E, S(E, "g^[%da] = ∂L/∂ŷ = %s(-y/ŷ + (1 - y)/(1 - ŷ)) = %s(ŷ - y) / (ŷ (1 - ŷ))",
                  "g^{[%da]} = \\frac{\\partial L}{\\partial\\hat{y}} = %s\\Big(-\\frac{y}{\\hat{y}} + \\frac{1-y}{1-\\hat{y}}\\Big) = %s\\frac{\\hat{y} - y}{\\hat{y}(1-\\hat{y})}", l, sc, sc),
             NULL, dyh);
        show(E, S(E, "σ'(z^[%d]) = ŷ ⊙ (1 - ŷ)", "\\sigma'(z^{[%d]}) = \\hat{y}\\odot(1-\\hat{y})", l), NULL, gp);
        para(E, S(E, "and in the Hadamard product the factor ŷ(1 - ŷ) cancels:",
                  "and in the Hadamard product the factor $\\hat{y}(1-\\hat{y})$ cancels:"));
        eq(E, S(E, "g^[%dz] = g^[%da] ⊙ σ'(z^[%d]) = %s(ŷ - y)/(ŷ(1 - ŷ)) ⊙ ŷ(1 - ŷ) = %s(ŷ - y)",
                "g^{[%dz]} = g^{[%da]}\\odot\\sigma'(z^{[%d]}) = %s\\frac{\\hat{y} - y}{\\hat{y}(1-\\hat{y})}\\odot\\hat{y}(1-\\hat{y}) = %s(\\hat{y} - y)",
                l, l, l, sc, sc));
    }
    para(E, S(E, "(The library computes this step fused, directly from z^[%d]: stable even where ŷ rounds to 0 or 1 and ∂L/∂ŷ above is infinite.)",
              "(The library computes this step fused, directly from $z^{[%d]}$: stable even where $\\hat{y}$ rounds to 0 or 1 and $\\partial L/\\partial\\hat{y}$ above is infinite.)", l));
    show(E, S(E, "g^[%dz] = %s(ŷ - y)", "g^{[%dz]} = %s(\\hat{y} - y)", l, sc), NULL, &dz);
}

/* Where some z^[l] of a ReLU layer is exactly 0, ReLU has no derivative: say
 * where, and which convention (the net's bp_kinks) the numbers below use. */
static void relu_kinks(ctx *C, int k)
{
    ex *E = &C->e;
    bp_mat z = bp_net_z(C->net, k);
    int n = 0, l = k + 1, at0 = bp_net_kinks(C->net).relu_at_zero;
    char where[160] = "";
    size_t w = 0;
    for (int i = 0; i < z.rows; i++)
        for (int j = 0; j < z.cols; j++)
            if (bp_mat_get(&z, i, j) == 0 && n++ < 4 && w < sizeof where)
                w += (size_t)snprintf(where + w, sizeof where - w, "%s(%d, %d)", n > 1 ? ", " : "", i + 1, j + 1);
    if (!n) return;
    if (n > 4 && w < sizeof where) snprintf(where + w, sizeof where - w, " and %d more", n - 4);
    const char *notes = E->f == BP_FMT_LATEX ? "``HW Backprop\'\'" : "\"HW Backprop\"";
    const char *opt = E->f == BP_FMT_LATEX ? "\\texttt{-{}-relu-grad-at-zero=1}"
                      : E->f == BP_FMT_MARKDOWN ? "`--relu-grad-at-zero=1`" : "--relu-grad-at-zero=1";
    para(E, S(E, "z^[%d] is exactly 0 at %d entr%s (sample, unit): %s. ReLU has no derivative at 0; %s",
              "$z^{[%d]}$ is exactly 0 at %d entr%s (sample, unit): %s. ReLU has no derivative at 0; %s", l, n,
              n == 1 ? "y" : "ies", where,
              at0 ? S(E, "this derivation takes g'(0) = 1 (%s), the z >= 0 of the course notes %s; PyTorch takes 0.",
                      "this derivation takes $g'(0) = 1$ (%s), the $z \\geq 0$ of the course notes %s; PyTorch "
                      "takes 0.", opt, notes)
                  : S(E, "this derivation takes g'(0) = 0, as PyTorch does (%s takes 1, the z >= 0 of the course "
                         "notes %s).",
                      "this derivation takes $g'(0) = 0$, as PyTorch does (%s takes 1, the $z \\geq 0$ of the course "
                      "notes %s).", opt, notes)));
}

/* g^[lz] from g^[la] through the activation. */
static void through_act(ctx *C, int k, bp_mat *gp)
{
    ex *E = &C->e;
    int l = k + 1;
    bp_act act = C->s->layers[k].act;
    bp_mat dz = bp_net_dz(C->net, k);
    if (act == BP_ACT_LINEAR) {
        show(E, S(E, "g^[%dz] = g^[%da] ⊙ g'(z^[%d]) = g^[%da]   (linear: g' = 1)",
                  "g^{[%dz]} = g^{[%da]}\\odot g'(z^{[%d]}) = g^{[%da]} \\quad (\\text{linear: } g' = 1)", l, l, l, l),
             NULL, &dz);
        return;
    }
    if (act == BP_ACT_STEP) {
        para(E, S(E, "The step is flat on both sides of 0 (and jumps at 0, where it has no derivative, taken as 0): its derivative is 0 "
                     "wherever it exists, so no gradient passes this layer. g^[%dz] is 0, and so are g^[%dW], g^[%db] and every "
                     "gradient below: gradient descent cannot move these weights (the perceptron's threshold unit).",
                  "The step is flat on both sides of 0 (and jumps at 0, where it has no derivative, taken as 0): its derivative is 0 "
                  "wherever it exists, so no gradient passes this layer. $g^{[%dz]}$ is 0, and so are $g^{[%dW]}$, $g^{[%db]}$ and every "
                  "gradient below: gradient descent cannot move these weights (the perceptron's threshold unit).", l, l, l));
        show(E, S(E, "g'(z^[%d]) = 0", "g'(z^{[%d]}) = 0", l), NULL, gp);
        show(E, S(E, "g^[%dz] = g^[%da] ⊙ g'(z^[%d]) = 0", "g^{[%dz]} = g^{[%da]}\\odot g'(z^{[%d]}) = 0", l, l, l), NULL, &dz);
        return;
    }
    if (act == BP_ACT_SOFTMAX) {
        para(E, S(E, "The softmax mixes the units of a row, so its full Jacobian ∂a_j/∂z_k = a_j (δ_jk - a_k) is used, not only its diagonal:",
                  "The softmax mixes the units of a row, so its full Jacobian $\\partial a_j/\\partial z_k = a_j(\\delta_{jk} - a_k)$ is used, not only its diagonal:"));
        show(E, S(E, "s = Σ_k g^[%da]_k a^[%d]_k   (one number per row)", "s = \\sum_k g^{[%da]}_k a^{[%d]}_k", l, l), NULL, gp);
        show(E, S(E, "g^[%dz]_j = a^[%d]_j (g^[%da]_j - s)", "g^{[%dz]}_j = a^{[%d]}_j\\big(g^{[%da]}_j - s\\big)", l, l, l), NULL, &dz);
        return;
    }
    int at0 = bp_net_kinks(C->net).relu_at_zero;
    const char *d = act == BP_ACT_SIGMOID ? S(E, "g'(z^[%d]) = σ(z)(1 - σ(z)) = a^[%d] ⊙ (1 - a^[%d])", "g'(z^{[%d]}) = \\sigma(z)(1-\\sigma(z)) = a^{[%d]}\\odot(1-a^{[%d]})", l, l, l)
                  : act == BP_ACT_TANH ? S(E, "g'(z^[%d]) = 1 - tanh^2(z) = 1 - a^[%d] ⊙ a^[%d]", "g'(z^{[%d]}) = 1 - \\tanh^2(z) = 1 - a^{[%d]}\\odot a^{[%d]}", l, l, l)
                  : at0 ? S(E, "g'(z^[%d]) = 1[z^[%d] >= 0]   (1 where z >= 0, else 0)", "g'(z^{[%d]}) = \\mathbf{1}[z^{[%d]} \\geq 0]", l, l)
                  : S(E, "g'(z^[%d]) = 1[z^[%d] > 0]   (1 where z > 0, else 0)", "g'(z^{[%d]}) = \\mathbf{1}[z^{[%d]} > 0]", l, l);
    if (act == BP_ACT_RELU) relu_kinks(C, k);
    show(E, d, NULL, gp);
    show(E, S(E, "g^[%dz] = g^[%da] ⊙ g'(z^[%d])   (Hadamard product)", "g^{[%dz]} = g^{[%da]}\\odot g'(z^{[%d]})", l, l, l), NULL, &dz);
}

static bp_status backward(ctx *C, bp_error *err)
{
    ex *E = &C->e;
    const bp_net_spec *s = C->s;
    int nl = s->nlayers, n = bp_net_outputs(C->net), oi = s->layout == BP_OUT_IN;
    int fusedl = s->loss == BP_LOSS_CE || s->loss == BP_LOSS_BCE, at0 = bp_net_kinks(C->net).relu_at_zero;
    bp_mat dyh = newmat(C->m, n, err);
    if (!dyh.data) return BP_E_NOMEM;
    bp_net_dloss_dyhat(C->net, &C->y, dyh.data);
    head(E, 2, "Backward pass");
    para(E, S(E, "From the loss down, layer by layer; each g has the shape of what it differentiates (rows are samples). %s",
              "From the loss down, layer by layer; each $g$ has the shape of what it differentiates (rows are samples). %s",
              C->mean ? S(E, "With the mean, the factor 1/m (m = %d) enters once, in g^[%da] = ∂L/∂ŷ; every gradient below carries it, and the sums over samples for g^[lW] and g^[lb] add no second 1/m.",
                          "With the mean, the factor $\\frac{1}{m}$ ($m = %d$) enters once, in $g^{[%da]} = \\partial L/\\partial\\hat{y}$; every gradient below carries it, and the sums over samples for $g^{[lW]}$ and $g^{[lb]}$ add no second $\\frac{1}{m}$.", C->m, nl)
                      : "With reduction sum there is no 1/m: the gradients are sums over the samples."));
    for (int k = nl - 1; k >= 0; k--) {
        int l = k + 1, fi = k ? s->layers[k - 1].units : s->inputs, u = s->layers[k].units;
        bp_act act = s->layers[k].act;
        bp_mat z = bp_net_z(C->net, k), a = bp_net_a(C->net, k);
        bp_mat gp = newmat(C->m, act == BP_ACT_SOFTMAX ? 1 : u, err);
        if (!gp.data) { free(dyh.data); return BP_E_NOMEM; }
        for (int i = 0; i < C->m; i++)
            for (int j = 0; j < u; j++) {
                double av = bp_mat_get(&a, i, j), zv = bp_mat_get(&z, i, j);
                if (act == BP_ACT_SOFTMAX) {   /* s_i = sum_k g_k a_k */
                    bp_mat da = bp_net_da(C->net, k);
                    double g = k == nl - 1 ? ((double *)dyh.data)[(size_t)i * n + j] : bp_mat_get(&da, i, j);
                    ((double *)gp.data)[i] += g * av;
                } else {
                    ((double *)gp.data)[(size_t)i * u + j] = act == BP_ACT_SIGMOID ? av * (1 - av)
                                                            : act == BP_ACT_TANH  ? 1 - av * av
                                                            : act == BP_ACT_RELU  ? (zv > 0 || (zv == 0 && at0))
                                                            : act == BP_ACT_STEP  ? 0
                                                                                  : 1;
                }
            }
        char t[64];
        snprintf(t, sizeof t, "Layer %d%s", l, l == nl ? " (output)" : "");
        head(E, 3, t);
        if (k == nl - 1 && fusedl) {
            fused(C, &dyh, &gp);
        } else {
            if (k == nl - 1 && s->loss == BP_LOSS_ZERO_ONE) {
                para(E, "The 0-1 loss counts the misclassified samples: it changes only where a prediction crosses to "
                        "another class, and is constant everywhere else, so its derivative is 0 wherever it exists. Every "
                        "gradient below is 0: gradient descent cannot learn from the empirical error (one minimises a smooth "
                        "loss such as cross-entropy instead).");
                show(E, S(E, "g^[%da] = ∂L/∂ŷ = 0", "g^{[%da]} = \\frac{\\partial L}{\\partial\\hat{y}} = 0", l), NULL, &dyh);
            } else if (k == nl - 1) {
                const char *sc = SC(C);
                show(E, s->loss == BP_LOSS_SQUARED
                            ? S(E, "g^[%da] = ∂L/∂ŷ = %s2 (ŷ - y)", "g^{[%da]} = \\frac{\\partial L}{\\partial\\hat{y}} = %s2(\\hat{y} - y)", l, sc)
                            : S(E, "g^[%da] = ∂L/∂ŷ = %s(ŷ - y)", "g^{[%da]} = \\frac{\\partial L}{\\partial\\hat{y}} = %s(\\hat{y} - y)", l, sc),
                     NULL, &dyh);
            }
            through_act(C, k, &gp);
        }
        bp_mat dW = bp_net_weight_grad(C->net, k), db = bp_net_bias_grad(C->net, k);
        const char *mz = shape(E, C->m, u), *mzt = shape(E, u, C->m), *ma = shape(E, C->m, fi), *mat = shape(E, fi, C->m);
        if (s->layers[k].bias_trick) {   /* dW against [1, a^[l-1]]; dA_prev through W without its bias */
            if (oi)
                show(E, S(E, "g^[%dW] = (g^[%dz])^T [1, a^[%d]]   (column 1: the bias's, Σ_i g^[%dz]_i)",
                          "g^{[%dW]} = \\big(g^{[%dz]}\\big)^{\\top} [1, a^{[%d]}] \\quad (\\text{column 1: } \\textstyle\\sum_i g^{[%dz]}_i)", l, l, k, l),
                     S(E, "%s%s", "%s%s", mzt, shape(E, C->m, fi + 1)), &dW);
            else
                show(E, S(E, "g^[%dW] = [1, a^[%d]]^T g^[%dz]   (row 1: the bias's, Σ_i g^[%dz]_i)",
                          "g^{[%dW]} = [1, a^{[%d]}]^{\\top} g^{[%dz]} \\quad (\\text{row 1: } \\textstyle\\sum_i g^{[%dz]}_i)", l, k, l, l),
                     S(E, "%s%s", "%s%s", shape(E, fi + 1, C->m), mz), &dW);
            bp_mat next = k ? bp_net_da(C->net, k - 1) : bp_net_dx(C->net);
            const char *lhs = k ? S(E, "g^[%da]", "g^{[%da]}", k) : S(E, "g^[0a] = ∂L/∂x", "g^{[0a]} = \\frac{\\partial L}{\\partial x}");
            show(E, oi ? S(E, "%s = g^[%dz] W^[%d]_rest   (W without its bias column: the 1 has no gradient to pass on)",
                           "%s = g^{[%dz]} W^{[%d]}_{\\text{rest}} \\quad (\\text{without the bias column})", lhs, l, l)
                       : S(E, "%s = g^[%dz] (W^[%d]_rest)^T   (W without its bias row: the 1 has no gradient to pass on)",
                           "%s = g^{[%dz]} W^{[%d]\\top}_{\\text{rest}} \\quad (\\text{without the bias row})", lhs, l, l),
                 S(E, "%s%s", "%s%s", mz, shape(E, u, fi)), &next);
            free(gp.data);
            continue;
        }
        if (oi)
            show(E, S(E, "g^[%dW] = (g^[%dz])^T a^[%d]", "g^{[%dW]} = \\big(g^{[%dz]}\\big)^{\\top} a^{[%d]}", l, l, k),
                 S(E, "%s%s", "%s%s", mzt, ma), &dW);
        else
            show(E, S(E, "g^[%dW] = (a^[%d])^T g^[%dz]", "g^{[%dW]} = \\big(a^{[%d]}\\big)^{\\top} g^{[%dz]}", l, k, l),
                 S(E, "%s%s", "%s%s", mat, mz), &dW);
        if (db.rows)
            show(E, C->m == 1 ? S(E, "g^[%db] = g^[%dz]   (one sample)", "g^{[%db]} = g^{[%dz]}", l, l)
                              : S(E, "g^[%db] = Σ_i g^[%dz]_i   (the rows summed)", "g^{[%db]} = \\sum_{i=1}^{m} g^{[%dz]}_{i}", l, l),
                 NULL, &db);
        bp_mat next = k ? bp_net_da(C->net, k - 1) : bp_net_dx(C->net);
        const char *lhs = k ? S(E, "g^[%da]", "g^{[%da]}", k) : S(E, "g^[0a] = ∂L/∂x", "g^{[0a]} = \\frac{\\partial L}{\\partial x}");
        show(E, oi ? S(E, "%s = g^[%dz] W^[%d]", "%s = g^{[%dz]} W^{[%d]}", lhs, l, l)
                   : S(E, "%s = g^[%dz] (W^[%d])^T", "%s = g^{[%dz]} W^{[%d]\\top}", lhs, l, l),
             S(E, "%s%s", "%s%s", mz, shape(E, u, fi)), &next);
        free(gp.data);
    }
    free(dyh.data);
    return BP_OK;
}

/* "A 2-3-1 network (2 layers), squared loss with reduction sum, over WHAT. Weight layout out_in." */
static void network_para(ex *E, const bp_net_spec *s, const char *what)
{
    static const char *const lossn[] = {"no", "squared", "half squared", "binary cross-entropy", "cross-entropy", "0-1"};
    int oi = s->layout == BP_OUT_IN;
    char arch[512];
    int p = snprintf(arch, sizeof arch, "%d", s->inputs);
    for (int k = 0; k < s->nlayers && p < (int)sizeof arch - 40; k++)
        p += snprintf(arch + p, sizeof arch - p, "-%d", s->layers[k].units);
    para(E, S(E, "A %s network (%d layer%s), %s loss with reduction %s, over %s. Weight layout %s.",
              "A %s network (%d layer%s), %s loss with reduction %s, over %s. Weight layout %s.", arch,
              s->nlayers, bp_s(s->nlayers), lossn[s->loss], bp_reduction_name(s->reduction), what,
              E->f == BP_FMT_LATEX ? (oi ? "\\texttt{out\\_in}" : "\\texttt{in\\_out}")
              : E->f == BP_FMT_MARKDOWN ? (oi ? "`out_in`" : "`in_out`") : bp_layout_name(s->layout)));
}

static void latex_begin(FILE *out)
{
    fputs("\\documentclass[10pt]{article}\n\\usepackage{amsmath}\n"
          "\\setlength{\\oddsidemargin}{-0.4cm}\\setlength{\\evensidemargin}{-0.4cm}\\setlength{\\textwidth}{16.8cm}\n"
          "\\setlength{\\topmargin}{-1.5cm}\\setlength{\\textheight}{24cm}\n"
          "\\setlength{\\parindent}{0pt}\\setlength{\\parskip}{0.6ex}\n"
          "\\setcounter{MaxMatrixCols}{" BP_STR(TEX_MAX_COLS) "}\n\\allowdisplaybreaks\n\\begin{document}\n", out);
}

static void intro(ctx *C, int sample, int total)
{
    ex *E = &C->e;
    const bp_net_spec *s = C->s;
    int oi = s->layout == BP_OUT_IN;
    head(E, 1, "Backpropagation, step by step");
    char what[160];
    if (sample >= 0)
        snprintf(what, sizeof what, E->f == BP_FMT_TEXT ? "sample %d of %d alone (counting from 1), so m = 1"
                                                        : "sample %d of %d alone (counting from 1), so $m = 1$", sample + 1, total);
    else snprintf(what, sizeof what, E->f == BP_FMT_TEXT ? "m = %d sample%s" : "$m = %d$ sample%s", C->m, C->m == 1 ? "" : "s");
    network_para(E, s, what);
    para(E, S(E, "Notation: z^[l] is layer l's pre-activation, a^[l] = g(z^[l]) its activation, a^[0] = x; "
                 "g^[la] = ∂L/∂a^[l], g^[lz] = ∂L/∂z^[l], g^[lW] = ∂L/∂W^[l], g^[lb] = ∂L/∂b^[l]; "
                 "⊙ is the Hadamard (elementwise) product. The samples are the rows of every matrix.",
              "Notation: $z^{[l]}$ is layer $l$'s pre-activation, $a^{[l]} = g(z^{[l]})$ its activation, $a^{[0]} = x$; "
              "$g^{[la]} = \\partial L/\\partial a^{[l]}$, $g^{[lz]} = \\partial L/\\partial z^{[l]}$, "
              "$g^{[lW]} = \\partial L/\\partial W^{[l]}$, $g^{[lb]} = \\partial L/\\partial b^{[l]}$; "
              "$\\odot$ is the Hadamard (elementwise) product. The samples are the rows of every matrix."));
    if (oi)
        para(E, S(E, "Column convention: W^[l] is units x fan-in and, per sample as a column vector, z^[l] = W^[l] a^[l-1] + b^[l]. "
                     "With the samples as rows that is z^[l] = a^[l-1] (W^[l])^T + b^[l] (b^[l] added to every row).",
                  "Column convention: $W^{[l]}$ is units $\\times$ fan-in and, per sample as a column vector, $z^{[l]} = W^{[l]} a^{[l-1]} + b^{[l]}$. "
                  "With the samples as rows that is $z^{[l]} = a^{[l-1]} W^{[l]\\top} + b^{[l]}$ ($b^{[l]}$ added to every row)."));
    else
        para(E, S(E, "Row convention: W^[l] is fan-in x units and z^[l] = a^[l-1] W^[l] + b^[l] (b^[l] added to every row).",
                  "Row convention: $W^{[l]}$ is fan-in $\\times$ units and $z^{[l]} = a^{[l-1]} W^{[l]} + b^{[l]}$ ($b^{[l]}$ added to every row)."));
}


/* ---- gradient-descent steps: bp_write_steps, and the update of explain --lr ---------- */
/* Parameter l (0-based) of kind k ('W' or 'b') with a prefix: "W^[2]", "g^[2W]",
 * "v^[2b]", "m̂^[2W]" (TeX: "W^{[2]}", "\hat{m}^{[2W]}"). */
static const char *sym(ex *E, const char *pre, int l, char k)
{
    if (!*pre) return S(E, "%c^[%d]", "%c^{[%d]}", k, l + 1);
    if (!strcmp(pre, "mhat")) return S(E, "m̂^[%d%c]", "\\hat{m}^{[%d%c]}", l + 1, k);
    if (!strcmp(pre, "vhat")) return S(E, "v̂^[%d%c]", "\\hat{v}^{[%d%c]}", l + 1, k);
    return S(E, "%s^[%d%c]", "%s^{[%d%c]}", pre, l + 1, k);
}

/* A number for a formula: 1e-08 in text, 1\times 10^{-8} in TeX. */
static const char *numstr(ex *E, double v)
{
    char b[BP_NUM_MAX], *e;
    bp_num_short(b, v, 8);
    if (E->f == BP_FMT_TEXT || !(e = strchr(b, 'e'))) return S(E, "%s", "%s", b);
    *e = 0;
    return S(E, "%s", "%s\\times 10^{%d}", b, atoi(e + 1));
}

/* One parameter (W or b of layer l) through step t: before, gradient, the
 * optimizer's state, after. */
static bp_status step_param(ex *E, const bp_steps *s, int t, int l, int bias, bp_error *err)
{
    char k = bias ? 'b' : 'W';
    bp_mat before = bp_steps_view(s, BP_STEPS_THETA, t, l, bias), after = bp_steps_view(s, BP_STEPS_THETA, t + 1, l, bias);
    bp_mat g = bp_steps_view(s, BP_STEPS_GRAD, t, l, bias);
    /* the symbols are kept here: S's buffers are reused after NBUF calls */
    char P[48], G[48], M[48], V[48], MH[48], VH[48];
    snprintf(P, sizeof P, "%s", sym(E, "", l, k));
    snprintf(G, sizeof G, "%s", sym(E, "g", l, k));
    snprintf(M, sizeof M, "%s", sym(E, "m", l, k));
    snprintf(V, sizeof V, "%s", sym(E, "v", l, k));
    snprintf(MH, sizeof MH, "%s", sym(E, "mhat", l, k));
    snprintf(VH, sizeof VH, "%s", sym(E, "vhat", l, k));
    show(E, S(E, "%s   (before the step)", "%s", P), NULL, &before);
    show(E, S(E, "%s = ∂L/∂%s", "%s = \\frac{\\partial L}{\\partial %s}", G, P), NULL, &g);
    const bp_train_options *o = &s->o;
    if (o->optimizer == BP_OPT_SGD) {
        show(E, S(E, "%s ← %s - η %s", "%s \\leftarrow %s - \\eta\\, %s", P, P, G), NULL, &after);
        return BP_OK;
    }
    if (o->optimizer != BP_OPT_ADAM) {
        bp_mat v = bp_steps_view(s, BP_STEPS_M1, t, l, bias);
        bp_mat prev = t > 0 ? bp_steps_view(s, BP_STEPS_M1, t - 1, l, bias) : v;
        if (t > 0) show(E, S(E, "%s   (after step %d)", "%s\\ (\\text{after step } %d)", V, t), NULL, &prev);
        show(E, t ? S(E, "%s ← μ %s + %s", "%s \\leftarrow \\mu\\, %s + %s", V, V, G)
                  : S(E, "%s ← μ %s + %s = %s   (v starts at 0)", "%s \\leftarrow \\mu\\, %s + %s = %s", V, V, G, G),
             NULL, &v);
        show(E, o->optimizer == BP_OPT_MOMENTUM ? S(E, "%s ← %s - η %s", "%s \\leftarrow %s - \\eta\\, %s", P, P, V)
                                                : S(E, "%s ← %s - η (%s + μ %s)", "%s \\leftarrow %s - \\eta\\,(%s + \\mu\\, %s)", P, P, G, V),
             NULL, &after);
        return BP_OK;
    }
    bp_mat m1 = bp_steps_view(s, BP_STEPS_M1, t, l, bias), m2 = bp_steps_view(s, BP_STEPS_M2, t, l, bias);
    if (t > 0) {
        bp_mat p1 = bp_steps_view(s, BP_STEPS_M1, t - 1, l, bias), p2 = bp_steps_view(s, BP_STEPS_M2, t - 1, l, bias);
        show(E, S(E, "%s   (after step %d)", "%s\\ (\\text{after step } %d)", M, t), NULL, &p1);
        show(E, S(E, "%s   (after step %d)", "%s\\ (\\text{after step } %d)", V, t), NULL, &p2);
    }
    show(E, S(E, "%s ← β1 %s + (1 - β1) %s", "%s \\leftarrow \\beta_1 %s + (1-\\beta_1)\\, %s", M, M, G), NULL, &m1);
    show(E, S(E, "%s ← β2 %s + (1 - β2) %s ⊙ %s", "%s \\leftarrow \\beta_2 %s + (1-\\beta_2)\\, %s\\odot %s", V, V, G, G), NULL, &m2);
    bp_mat mh = newmat(m1.rows, m1.cols, err), vh = newmat(m1.rows, m1.cols, err);
    if (!mh.data || !vh.data) { free(mh.data); free(vh.data); return BP_E_NOMEM; }
    double c1 = 1 - pow(o->beta1, t + 1), c2 = 1 - pow(o->beta2, t + 1);
    for (int i = 0; i < m1.rows * m1.cols; i++) {
        ((double *)mh.data)[i] = ((double *)m1.data)[i] / c1;
        ((double *)vh.data)[i] = ((double *)m2.data)[i] / c2;
    }
    show(E, S(E, "%s = %s / (1 - β1^%d)   (1 - β1^%d = %s)", "%s = %s / (1-\\beta_1^{%d}) \\quad (1-\\beta_1^{%d} = %s)",
              MH, M, t + 1, t + 1, numstr(E, c1)), NULL, &mh);
    show(E, S(E, "%s = %s / (1 - β2^%d)   (1 - β2^%d = %s)", "%s = %s / (1-\\beta_2^{%d}) \\quad (1-\\beta_2^{%d} = %s)",
              VH, V, t + 1, t + 1, numstr(E, c2)), NULL, &vh);
    show(E, S(E, "%s ← %s - η %s / (√%s + ε)", "%s \\leftarrow %s - \\eta\\, \\frac{%s}{\\sqrt{%s} + \\epsilon}", P, P, MH, VH),
         NULL, &after);
    free(mh.data);
    free(vh.data);
    return BP_OK;
}

/* Every layer's parameters through step t, then the loss after it and (tol
 * > 0 or not `update_only`) the stop rule. */
static bp_status step_body(ex *E, const bp_steps *s, int t, int update_only, bp_error *err)
{
    bp_status st = BP_OK;
    for (int l = 0; l < s->spec.nlayers && !st; l++) {
        const bp_layer_spec *L = &s->spec.layers[l];
        char title[96];
        snprintf(title, sizeof title, "Layer %d: %d unit%s, %s%s", l + 1, L->units, bp_s(L->units), bp_act_name(L->act),
                 L->bias ? "" : ", no bias");
        head(E, 3, title);
        if (!(st = step_param(E, s, t, l, 0, err)) && L->bias) st = step_param(E, s, t, l, 1, err);
    }
    if (st) return st;
    double before = s->loss[t], after = s->loss[t + 1], d = after - before;
    head(E, 3, update_only || !(s->o.tol > 0) ? "The loss after the step" : "The loss and the stop rule");
    eq(E, S(E, "L before the step = %s,   L after = %s   (the same data, the new parameters)",
            "L_{\\text{before}} = %s, \\qquad L_{\\text{after}} = %s", numstr(E, before), numstr(E, after)));
    eq(E, S(E, "|ΔL| = |L after - L before| = %s", "|\\Delta L| = |L_{\\text{after}} - L_{\\text{before}}| = %s",
            numstr(E, fabs(d))));
    if (update_only) return BP_OK;
    if (s->o.tol > 0) {
        int holds = fabs(d) < s->o.tol;
        para(E, S(E, "Stop rule |ΔL| < tol = %s: %s", "Stop rule $|\\Delta L| < \\mathit{tol} = %s$: %s", numstr(E, s->o.tol),
                  holds ? "it holds, so the descent stops here." : t + 1 < s->cap ? "it does not hold yet: go on." :
                  "it does not hold, but this was the last step allowed."));
    } else {
        para(E, S(E, "(No tol is set, so the stop rule |ΔL| < tol is not applied.)",
                  "(No $\\mathit{tol}$ is set, so the stop rule $|\\Delta L| < \\mathit{tol}$ is not applied.)"));
    }
    return BP_OK;
}

/* Code in a paragraph: `x` in text and Markdown, \texttt{x} in LaTeX (x
 * without TeX's special characters). */
static const char *code(ex *E, const char *x)
{
    return E->f == BP_FMT_LATEX ? S(E, "%s", "\\texttt{%s}", x) : S(E, "`%s`", "`%s`", x);
}

/* The optimizer's rule, with its numbers. */
static void rule_para(ex *E, const bp_train_options *o)
{
    const char *eta = numstr(E, o->lr), *mu = numstr(E, o->momentum), *sgd = code(E, "torch.optim.SGD");
    switch (o->optimizer) {
    case BP_OPT_MOMENTUM:
        para(E, S(E, "Gradient descent with momentum (as %s with momentum μ = %s, no dampening), η = %s: for every "
                     "weight and bias, v ← μ v + g, then θ ← θ - η v, with g = ∂L/∂θ. The velocity v starts at 0, so at "
                     "the first step v = g.",
                  "Gradient descent with momentum (as %s with momentum $\\mu = %s$, no dampening), $\\eta = %s$: "
                  "for every weight and bias, $v \\leftarrow \\mu v + g$, then $\\theta \\leftarrow \\theta - \\eta v$, with "
                  "$g = \\partial L/\\partial\\theta$. The velocity $v$ starts at 0, so at the first step $v = g$.", sgd, mu, eta));
        break;
    case BP_OPT_NESTEROV:
        para(E, S(E, "Nesterov momentum (as %s with %s, μ = %s), η = %s: for every weight and bias, "
                     "v ← μ v + g, then θ ← θ - η (g + μ v), with g = ∂L/∂θ. The velocity v starts at 0.",
                  "Nesterov momentum (as %s with %s, $\\mu = %s$), $\\eta = %s$: for "
                  "every weight and bias, $v \\leftarrow \\mu v + g$, then $\\theta \\leftarrow \\theta - \\eta (g + \\mu v)$, with "
                  "$g = \\partial L/\\partial\\theta$. The velocity $v$ starts at 0.", sgd, code(E, "nesterov=True"), mu, eta));
        break;
    case BP_OPT_ADAM: {
        const char *b1 = numstr(E, o->beta1), *b2 = numstr(E, o->beta2), *ep = numstr(E, o->adam_eps);
        para(E, S(E, "Adam (as %s), η = %s, β1 = %s, β2 = %s, ε = %s: for every weight and bias, with "
                     "g = ∂L/∂θ and t the step, m ← β1 m + (1 - β1) g and v ← β2 v + (1 - β2) g ⊙ g (both start at 0), "
                     "m̂ = m / (1 - β1^t), v̂ = v / (1 - β2^t), then θ ← θ - η m̂ / (√v̂ + ε).",
                  "Adam (as %s), $\\eta = %s$, $\\beta_1 = %s$, $\\beta_2 = %s$, $\\epsilon = %s$: for every "
                  "weight and bias, with $g = \\partial L/\\partial\\theta$ and $t$ the step, $m \\leftarrow \\beta_1 m + "
                  "(1-\\beta_1) g$ and $v \\leftarrow \\beta_2 v + (1-\\beta_2)\\, g\\odot g$ (both start at 0), $\\hat{m} = "
                  "m/(1-\\beta_1^t)$, $\\hat{v} = v/(1-\\beta_2^t)$, then $\\theta \\leftarrow \\theta - \\eta\\, "
                  "\\hat{m}/(\\sqrt{\\hat{v}} + \\epsilon)$.", code(E, "torch.optim.Adam"), eta, b1, b2, ep));
        break;
    }
    default:
        para(E, S(E, "Plain gradient descent, the update rule of the course notes, η = %s: every weight and bias moves "
                     "against its gradient, θ ← θ - η ∂L/∂θ, all at once from the gradients at the same point (those of "
                     "%s and the backward pass of %s).",
                  "Plain gradient descent, the update rule of the course notes, $\\eta = %s$: every weight and bias moves "
                  "against its gradient, $\\theta \\leftarrow \\theta - \\eta\\, \\partial L/\\partial\\theta$, all at once "
                  "from the gradients at the same point (those of %s and the backward pass of %s).", eta,
                  code(E, "backprop grad"), code(E, "backprop explain")));
    }
}

bp_status bp_write_steps(const bp_steps *s, bp_format fmt, FILE *out, bp_error *err)
{
    if (!s || !out || (unsigned)fmt > BP_FMT_LATEX) return bp_err(err, BP_E_ARG, "bp_write_steps: invalid argument");
    ex *E = bp_calloc(1, sizeof *E, err);
    if (!E) return BP_E_NOMEM;
    E->o = out;
    E->f = fmt;
    if (fmt == BP_FMT_LATEX) latex_begin(out);
    head(E, 1, "Gradient descent, step by step");
    network_para(E, &s->spec, S(E, "its m = %d sample%s, the whole batch at every step", "its $m = %d$ sample%s, the whole batch "
                                "at every step", s->m, bp_s(s->m)));
    rule_para(E, &s->o);
    if (s->o.tol > 0)
        para(E, S(E, "Stop rule (CS577 Assignment 2): stop when the loss hardly changes, |ΔL| = |L after - L before| < tol "
                     "= %s; at most %d step%s.",
                  "Stop rule (CS577 Assignment 2): stop when the loss hardly changes, $|\\Delta L| = |L_{\\text{after}} - "
                  "L_{\\text{before}}| < \\mathit{tol} = %s$; at most %d step%s.", numstr(E, s->o.tol), s->cap, bp_s(s->cap)));
    else para(E, S(E, "%d step%s, without a stop rule (no tol is set).", "%d step%s, without a stop rule (no $\\mathit{tol}$ is set).",
                   s->cap, bp_s(s->cap)));
    bp_status st = BP_OK;
    for (int t = 0; t < s->n && !st; t++) {
        char title[64];
        snprintf(title, sizeof title, "Step %d", t + 1);
        head(E, 2, title);
        para(E, S(E, "The loss at the parameters before the step: L = %s.", "The loss at the parameters before the step: $L = %s$.",
                  numstr(E, s->loss[t])));
        st = step_body(E, s, t, 0, err);
    }
    if (!st) {
        head(E, 2, "Result");
        para(E, S(E, "After %d step%s: L = %s, from %s before the first.%s", "After %d step%s: $L = %s$, from $%s$ before the first.%s",
                  s->n, bp_s(s->n), numstr(E, s->loss[s->n]), numstr(E, s->loss[0]),
                  s->stopped ? S(E, " The stop rule held at step %d.", " The stop rule held at step %d.", s->n)
                  : s->o.tol > 0 ? " The stop rule did not hold within the steps allowed." : ""));
    }
    if (fmt == BP_FMT_LATEX) fputs("\\end{document}\n", out);
    free(E);
    if (!st && ferror(out)) st = bp_err(err, BP_E_IO, "write error on output");
    return st;
}

/* explain --lr: one plain step on the explained data, on a copy of the net. */
static bp_status update_section(ctx *C, double lr, bp_error *err)
{
    ex *E = &C->e;
    bp_net *copy = NULL;
    bp_steps *rec = NULL;
    bp_train_options o;
    bp_train_options_init(&o);
    o.optimizer = BP_OPT_SGD;
    o.lr = lr;
    o.tol = 0;
    bp_status st = bp_net_clone(C->net, bp_net_dtype(C->net), &copy, err);
    if (!st) st = bp_steps_run(copy, &C->x, &C->y, &o, 1, &rec, err);
    if (!st) {
        head(E, 2, "Update: one step of gradient descent");
        rule_para(E, &o);
        st = step_body(E, rec, 0, 1, err);
    }
    bp_steps_free(rec);
    bp_net_free(copy);
    return st;
}

static bp_status explain_doc(bp_model *m, bp_format fmt, int sample, double lr, FILE *out, bp_error *err)
{
    if (!m || !out || (unsigned)fmt > BP_FMT_LATEX) return bp_err(err, BP_E_ARG, "bp_explain: invalid argument");
    ctx *C = bp_calloc(1, sizeof *C, err);
    if (!C) return BP_E_NOMEM;
    double loss;
    bp_status st = bp_model_pass(m, &loss, err);   /* validates data, y and loss */
    bp_mat x, y;
    bp_model_data(m, &x, &y);
    int total = x.rows;
    if (!st && sample >= 0) {
        if (sample >= x.rows) {
            st = bp_err(err, BP_E_ARG, "sample %d is out of range: the data has %d sample%s (0 to %d)", sample, x.rows,
                        x.rows == 1 ? "" : "s", x.rows - 1);
        } else {
            x.data = (double *)x.data + (size_t)sample * x.cols;
            y.data = (double *)y.data + (size_t)sample * y.cols;
            x.rows = y.rows = 1;
            st = bp_net_backprop(bp_model_net(m), &x, &y, 1, &loss, err);
        }
    }
    if (st) { free(C); return st; }
    C->e.o = out;
    C->e.f = fmt;
    C->net = bp_model_net(m);
    C->scaler = bp_model_scaler(m);
    C->s = bp_net_get_spec(C->net);
    C->x = x;
    C->y = y;
    C->m = x.rows;
    C->mean = C->s->reduction == BP_MEAN;
    if (fmt == BP_FMT_LATEX) latex_begin(out);
    intro(C, sample, total);
    if (!(st = forward(C, err)) && !(st = loss_section(C, loss, err))) st = backward(C, err);
    if (!st && lr > 0) st = update_section(C, lr, err);
    if (fmt == BP_FMT_LATEX) fputs("\\end{document}\n", out);
    free(C);
    if (!st && ferror(out)) st = bp_err(err, BP_E_IO, "write error on output");
    return st;
}

bp_status bp_explain(bp_model *m, bp_format fmt, int sample, FILE *out, bp_error *err)
{
    return explain_doc(m, fmt, sample, 0, out, err);
}

bp_status bp_explain_update(bp_model *m, bp_format fmt, int sample, double lr, FILE *out, bp_error *err)
{
    if (!(lr > 0) || !isfinite(lr)) return bp_err(err, BP_E_ARG, "the learning rate must be positive, got %g", lr);
    return explain_doc(m, fmt, sample, lr, out, err);
}
