/* teach/expr_graph.c - the second stage of `expr` (teach/expr.h): the AST
 * compiled onto the autodiff graph in f64. Variables are leaves that require
 * a gradient (1x1, or the shape of their matrix), numbers constant leaves;
 * definitions are inlined (their parameters bound to the argument nodes);
 * each node is evaluated as it is made, so a domain error names the
 * sub-expression that caused it. A power with a constant exponent is one pow
 * node, else exp(b log a).
 *
 * A value is a list of items (expr.h): numbers and vectors of numbers are
 * built entry by entry, one 1x1 node each, exactly as before matrices came;
 * matrices are one node. Elementwise operations repeat a 1x1, a 1 x n row or
 * an m x 1 column to the other operand's shape (a broadcast node); a shape
 * that does not fit is the caller's mistake, BP_E_SHAPE with *where at the
 * operator. */
#include "teach/expr.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct builder {
    bp_expr *e;
    bp_graph *g;
    int *node_ast, cap;
    const int *var_node;
    int want_args;      /* record the outer call's argument nodes          */
    int *args, nargs;
    int where;
    /* samplesum: the sample being built (-1 outside), per variable its slice
     * of that sample (-1: not made yet), the unit vector picking it */
    int sample, *slice, pick;
    unsigned char *per_sample;
} builder;

/* Finish a new node: remember its sub-expression and evaluate it now, so a
 * domain error names the sub-expression that caused it. */
static int fin(builder *b, int id, int ai, bp_error *err)
{
    const char *src = b->e->src;
    b->where = ai >= 0 ? b->e->ast[ai].start : -1;
    if (id < 0) return -1;
    if (id >= b->cap) {
        int cap = b->cap ? 2 * b->cap : 64;
        while (cap <= id) cap *= 2;
        int *na = realloc(b->node_ast, (size_t)cap * sizeof *na);
        if (!na) { bp_err(err, BP_E_NOMEM, "out of memory"); return -1; }
        b->node_ast = na;
        b->cap = cap;
    }
    b->node_ast[id] = ai;
    if (id >= MAX_NODES) {
        bp_err(err, BP_E_VALUE, "the expression needs more than %d graph nodes (deeply nested definitions?)", MAX_NODES);
        return -1;
    }
    bp_gnode *n = &b->g->nodes[id];
    if (n->rows != 1 || n->cols != 1) b->e->matrix = 1;
    if (n->op == BP_OP_LEAF) return id;
    if (bp_op_table(b->g->dtype)[n->op].forward(b->g, n, err) == BP_OK) {
        const double *v = n->val;
        size_t k = 0, N = (size_t)n->rows * n->cols;
        while (k < N && isfinite(v[k])) k++;
        if (k == N) return id;
        const anode *A = &b->e->ast[ai];
        char l[48];
        int len = A->end - A->start;
        bp_err(err, BP_E_DOMAIN, "overflow at %s: '%.*s' is %g, beyond the range of a double%s%s (node n%d)",
               bp_expr_loc(src, A->start, l, sizeof l), len > 200 ? 200 : len, src + A->start, v[k],
               A->def >= 0 ? " in the body of " : "", A->def >= 0 ? b->e->defs[A->def].name : "", id);
        return -1;
    }
    /* The engine names the node; name the text instead. */
    char msg[BP_ERROR_MAX], l[48], *cut;
    snprintf(msg, sizeof msg, "%s", err->msg);
    if ((cut = strstr(msg, " in node "))) *cut = 0;
    const anode *A = &b->e->ast[ai];
    int len = A->end - A->start;
    const char *hint = A->k == A_BIN && A->op == '^' && n->op == BP_OP_LOG
                           ? " (a power whose exponent depends on a variable needs a positive base)" : "";
    const char *in = A->def >= 0 ? " in the body of " : "", *dn = A->def >= 0 ? b->e->defs[A->def].name : "";
    bp_err(err, BP_E_DOMAIN, "domain error at %s: %s in '%.*s'%s%s (node n%d)%s", bp_expr_loc(src, A->start, l, sizeof l), msg,
           len > 200 ? 200 : len, src + A->start, in, dn, id, hint);
    return -1;
}

static void shape_of(const builder *b, int id, int *r, int *c)
{
    *r = b->g->nodes[id].rows;
    *c = b->g->nodes[id].cols;
}
static int is_1x1(const builder *b, int id) { return b->g->nodes[id].rows == 1 && b->g->nodes[id].cols == 1; }

/* A shape error of AST node ai: BP_E_SHAPE, *where at its operator (or its
 * start), the message "OP: ..." naming the operator as written. */
static int shape_err(builder *b, int ai, bp_error *err, const char *fmt, ...) BP_PRINTF(4, 5);
static int shape_err(builder *b, int ai, bp_error *err, const char *fmt, ...)
{
    const anode *A = &b->e->ast[ai];
    char msg[BP_ERROR_MAX], l[48];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    b->where = (A->k == A_BIN || A->k == A_TRANS) ? A->oppos : A->start;
    bp_err(err, BP_E_SHAPE, "%s at %s%s%s", msg, bp_expr_loc(b->e->src, b->where, l, sizeof l),
           A->def >= 0 ? " in the body of " : "", A->def >= 0 ? b->e->defs[A->def].name : "");
    return -1;
}

/* How the operator of ai is written: "@", "*", "\cdot", "max",
 * "juxtaposition" (two factors side by side). */
static const char *op_text(const builder *b, int ai, char *buf, size_t n)
{
    const anode *A = &b->e->ast[ai];
    if (A->k == A_FN) snprintf(buf, n, "%s", bp_expr_builtin_name(A->idx));
    else if (A->oplen > 0) snprintf(buf, n, "%.*s", A->oplen > 30 ? 30 : A->oplen, b->e->src + A->oppos);
    else snprintf(buf, n, "juxtaposition");
    return buf;
}
/* The operator between two shapes in a message: as written, "and" for a
 * function, "times" for a juxtaposition. */
static const char *op_mid(const builder *b, int ai, const char *o)
{
    const anode *A = &b->e->ast[ai];
    return A->k == A_FN ? "and" : A->oplen > 0 ? o : "times";
}

static int leaf(builder *b, double v, int grad, const char *name, int ai, bp_error *err)
{
    int id = bp_graph_leaf(b->g, 1, 1, grad, name, err);
    if (id >= 0) { bp_mat m = bp_graph_value(b->g, id); bp_mat_set(&m, 0, 0, v); }
    return fin(b, id, ai, err);
}

/* A constant rows x cols leaf: `v` everywhere, or the identity when eye. */
static int const_mat(builder *b, int rows, int cols, double v, int eye, int ai, bp_error *err)
{
    char nm[48];
    if (eye) snprintf(nm, sizeof nm, "eye(%d)", rows);
    else snprintf(nm, sizeof nm, "%s(%d, %d)", v == 1 ? "ones" : "zeros", rows, cols);
    int id = bp_graph_leaf(b->g, rows, cols, 0, nm, err);
    if (id >= 0) {
        double *d = b->g->nodes[id].val;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) d[(size_t)i * cols + j] = eye ? (i == j) : v;
    }
    return fin(b, id, ai, err);
}

/* Items t[0, n) as one node: the node itself, or n numbers stacked into an
 * n x 1 column. */
static int gather(builder *b, int ai, const int *t, int n, bp_error *err)
{
    int acc = t[0];
    for (int i = 1; i < n && acc >= 0; i++) acc = fin(b, bp_op_binary(b->g, BP_OP_VCAT, acc, t[i], err), ai, err);
    return acc;
}

/* x op y elementwise (op a binary graph op), repeating a 1x1, a row or a
 * column to the other's shape. */
static int ew2(builder *b, int ai, bp_op op, int x, int y, bp_error *err)
{
    int rx, cx, ry, cy;
    shape_of(b, x, &rx, &cx);
    shape_of(b, y, &ry, &cy);
    if (rx != ry || cx != cy) {
        int r = rx > ry ? rx : ry, c = cx > cy ? cx : cy;
        int fits = (rx == r || rx == 1) && (ry == r || ry == 1) && (cx == c || cx == 1) && (cy == c || cy == 1);
        int outer = !((rx == 1 && cx == 1) || (ry == 1 && cy == 1)) && ((rx == 1) != (ry == 1)) && ((cx == 1) != (cy == 1));
        if (!fits || outer) {
            char o[40];
            op_text(b, ai, o, sizeof o);
            if (outer)
                return shape_err(b, ai, err, "%s: %dx%d %s %dx%d: a column and a row do not repeat into a matrix "
                                 "(elementwise operations take a 1x1, a 1xn row or an mx1 column to repeat; "
                                 "an outer product is u @ v)", o, rx, cx, op_mid(b, ai, o), ry, cy);
            return shape_err(b, ai, err, "%s: %dx%d %s %dx%d: the shapes differ (elementwise operations need equal "
                             "shapes, or a 1x1, a 1xn row or an mx1 column to repeat)", o, rx, cx, op_mid(b, ai, o), ry, cy);
        }
        if (rx != r || cx != c) { if ((x = fin(b, bp_op_broadcast(b->g, x, r, c, err), ai, err)) < 0) return -1; }
        if (ry != r || cy != c) { if ((y = fin(b, bp_op_broadcast(b->g, y, r, c, err), ai, err)) < 0) return -1; }
    }
    return fin(b, bp_op_binary(b->g, op, x, y, err), ai, err);
}

/* a ^ p: one pow node for a constant 1x1 exponent, exp(p log a) otherwise. */
static int power(builder *b, int ai, int x, int y, bp_error *err)
{
    bp_graph *g = b->g;
    if (!bp_graph_node_requires_grad(g, y) && is_1x1(b, y)) return fin(b, bp_op_pow(g, x, val1(g, y), err), ai, err);
    int l = fin(b, bp_op_unary(g, BP_OP_LOG, x, err), ai, err);
    int m = l < 0 ? -1 : ew2(b, ai, BP_OP_MUL, y, l, err);
    return m < 0 ? -1 : fin(b, bp_op_unary(g, BP_OP_EXP, m, err), ai, err);
}

/* x @ y, the matrix product. */
static int matmul(builder *b, int ai, int x, int y, bp_error *err)
{
    int rx, cx, ry, cy;
    shape_of(b, x, &rx, &cx);
    shape_of(b, y, &ry, &cy);
    if (cx != ry) {
        char o[40];
        op_text(b, ai, o, sizeof o);
        return shape_err(b, ai, err, "%s: %dx%d %s %dx%d: inner sizes %d and %d differ", o, rx, cx, op_mid(b, ai, o), ry, cy,
                         cx, ry);
    }
    return fin(b, bp_op_matmul(b->g, x, y, 0, 0, err), ai, err);
}

/* A product read from its operands' shapes (LaTeX's juxtaposition, \cdot,
 * \times): a scaling when one side is 1x1, the matrix product when the inner
 * sizes fit, else the elementwise product of two equal shapes. */
static int product(builder *b, int ai, int x, int y, bp_error *err)
{
    int rx, cx, ry, cy, *reading = &b->e->reading[3 * ai];
    shape_of(b, x, &rx, &cx);
    shape_of(b, y, &ry, &cy);
    reading[1] = rx;
    reading[2] = cx;
    if (is_1x1(b, x) || is_1x1(b, y)) { reading[0] = 2; return ew2(b, ai, BP_OP_MUL, x, y, err); }
    if (cx == ry) { reading[0] = 1; return matmul(b, ai, x, y, err); }
    if (rx == ry && cx == cy) { reading[0] = 3; return ew2(b, ai, BP_OP_MUL, x, y, err); }
    char o[40];
    op_text(b, ai, o, sizeof o);
    return shape_err(b, ai, err, "%s: %dx%d %s %dx%d: inner sizes %d and %d differ, and the shapes differ for an "
                     "elementwise product", o, rx, cx, op_mid(b, ai, o), ry, cy, cx, ry);
}

/* The binary operation of AST node ai on two nodes. */
static int binop(builder *b, int ai, int x, int y, bp_error *err)
{
    const anode *A = &b->e->ast[ai];
    if (A->k == A_FN) return ew2(b, ai, bp_expr_builtin_op(A->idx), x, y, err);
    switch (A->op) {
    case '^': return power(b, ai, x, y, err);
    case '@': return matmul(b, ai, x, y, err);
    case 'P': return product(b, ai, x, y, err);
    case '+': return ew2(b, ai, BP_OP_ADD, x, y, err);
    case '-': return ew2(b, ai, BP_OP_SUB, x, y, err);
    case '*': return ew2(b, ai, BP_OP_MUL, x, y, err);
    case '/': return ew2(b, ai, BP_OP_DIV, x, y, err);
    case '>': return ew2(b, ai, BP_OP_GT, x, y, err);
    case 'g': return ew2(b, ai, BP_OP_GE, x, y, err);
    case '<': return ew2(b, ai, BP_OP_GT, y, x, err);
    case 'l': return ew2(b, ai, BP_OP_GE, y, x, err);
    }
    bp_err(err, BP_E_ARG, "bad operator");
    return -1;
}

/* Apply A_BIN or binary A_FN node ai to its built operands: items t[0, la)
 * and t[la, la + lb). Items of numbers pair up one by one (one of them may be
 * a single number), as vectors always have; otherwise both sides become one
 * node each. The items go to out, their number to *nout. */
static bp_status combine(builder *b, int ai, const int *t, int la, int lb, int *out, int *nout, bp_error *err)
{
    const anode *A = &b->e->ast[ai];
    int numbers = !(A->k == A_BIN && (A->op == '@' || A->op == 'P'));
    for (int i = 0; numbers && i < la + lb; i++) numbers = is_1x1(b, t[i]);
    if (numbers) {
        if (la != lb && la != 1 && lb != 1) {
            char o[40];
            return shape_err(b, ai, err, "%s: vectors of different lengths (%d and %d)", op_text(b, ai, o, sizeof o), la, lb),
                   err->status;
        }
        int n = la > lb ? la : lb;
        for (int i = 0; i < n; i++)
            if ((out[i] = binop(b, ai, t[la == 1 ? 0 : i], t[la + (lb == 1 ? 0 : i)], err)) < 0) return err->status;
        *nout = n;
        return BP_OK;
    }
    int x = gather(b, ai, t, la, err), y = x < 0 ? -1 : gather(b, ai, t + la, lb, err);
    if (y < 0 || (out[0] = binop(b, ai, x, y, err)) < 0) return err->status;
    *nout = 1;
    return BP_OK;
}

static bp_status build(builder *b, int ai, const int *env, int *out, int *nout, bp_error *err);

/* A_BIN node ai.  A chain a+b+c+... parses left-deep, as long as the text:
 * walk down its left operands in a loop (the deepest first, so the graph
 * nodes come in the order plain recursion would make them); only right
 * operands recurse, and the parser bounds their depth (anode.depth). */
static bp_status build_chain(builder *b, int ai, const int *env, int *out, int *nout, bp_error *err)
{
    const anode *ast = b->e->ast;
    int ns = 0, k;
    for (k = ai; ast[k].k == A_BIN; k = ast[k].kid[0]) ns++;
    int *spine = malloc((size_t)ns * sizeof *spine), lc = 0, *cur = malloc((size_t)ast[k].len * sizeof *cur);
    bp_status s = spine && cur ? BP_OK : bp_err(err, BP_E_NOMEM, "out of memory");
    for (int i = 0, j = ai; !s && i < ns; i++, j = ast[j].kid[0]) spine[i] = j;
    if (!s) s = build(b, k, env, cur, &lc, err);                  /* the leftmost operand */
    for (int i = ns - 1; !s && i >= 0; i--) {
        const anode *A = &ast[spine[i]];
        int lb = 0, *t = malloc((size_t)(lc + ast[A->kid[1]].len) * sizeof *t);
        int *dst = i ? malloc((size_t)A->len * sizeof *dst) : out, nd = 0;
        if (!t || !dst) s = bp_err(err, BP_E_NOMEM, "out of memory");
        if (!s) {
            memcpy(t, cur, (size_t)lc * sizeof *t);
            s = build(b, A->kid[1], env, t + lc, &lb, err);
        }
        if (!s) s = combine(b, spine[i], t, lc, lb, dst, &nd, err);
        free(t);
        free(cur);
        cur = NULL;
        if (i) { cur = dst; lc = nd; }
        else *nout = nd;
    }
    free(cur);
    free(spine);
    return s;
}

/* Build kid c of ai as one node (its items gathered). */
static int build_one(builder *b, int ai, int c, const int *env, bp_error *err)
{
    int kid = b->e->ast[ai].kid[c], n = 0, *t = malloc((size_t)b->e->ast[kid].len * sizeof *t), x = -1;
    if (!t) { bp_err(err, BP_E_NOMEM, "out of memory"); return -1; }
    if (!build(b, kid, env, t, &n, err)) x = gather(b, ai, t, n, err);
    free(t);
    return x;
}

#define MAX_CONST_ENTRIES 100000   /* eye(n), ones(r, c): matrices for teaching, not for the memory */

/* The whole number of eye(n) / ones(r, c): a constant from 1 to MAX_CONST_ENTRIES. */
static int size_arg(builder *b, int ai, int x, bp_error *err)
{
    double v = is_1x1(b, x) ? val1(b->g, x) : 0;
    if (is_1x1(b, x) && !bp_graph_node_requires_grad(b->g, x) && v == floor(v) && v >= 1 && v <= MAX_CONST_ENTRIES)
        return (int)v;
    char l[48];
    b->where = b->e->ast[ai].start;
    bp_err(err, BP_E_VALUE, "%s at %s: a size is a whole number from 1 to %d that depends on no variable",
           bp_expr_builtin_name(b->e->ast[ai].idx), bp_expr_loc(b->e->src, b->where, l, sizeof l), MAX_CONST_ENTRIES);
    return -1;
}

/* An r x c constant of eye or ones within MAX_CONST_ENTRIES entries. */
static int const_size(builder *b, int ai, int r, int c, bp_error *err)
{
    if ((double)r * c <= MAX_CONST_ENTRIES) return 0;
    char l[48];
    b->where = b->e->ast[ai].start;
    bp_err(err, BP_E_VALUE, "%s at %s: %d x %d is more than %d entries", bp_expr_builtin_name(b->e->ast[ai].idx),
           bp_expr_loc(b->e->src, b->where, l, sizeof l), r, c, MAX_CONST_ENTRIES);
    return -1;
}

/* softmax per sample: over a vector, or per column (per row when the host's
 * samples are rows) of a matrix. */
static int softmax(builder *b, int ai, int x, bp_error *err)
{
    int r, c;
    shape_of(b, x, &r, &c);
    int rows = c > 1 && (r == 1 || (b->e->host && b->e->host->samples_rows));
    if (rows) return fin(b, bp_op_unary(b->g, BP_OP_SOFTMAX, x, err), ai, err);
    int t = fin(b, bp_op_unary(b->g, BP_OP_TRANSPOSE, x, err), ai, err);
    int s = t < 0 ? -1 : fin(b, bp_op_unary(b->g, BP_OP_SOFTMAX, t, err), ai, err);
    return s < 0 ? -1 : fin(b, bp_op_unary(b->g, BP_OP_TRANSPOSE, s, err), ai, err);
}

/* samplesum(T): T built once per sample with every per-sample quantity cut to
 * that sample's column (row), the results added up. */
static int samplesum(builder *b, int ai, const int *env, bp_error *err)
{
    const bp_expr_host *h = b->e->host;
    char l[48];
    b->where = b->e->ast[ai].start;
    if (!h || h->nsamples < 1)
        return bp_err(err, BP_E_VALUE, "samplesum at %s: a sum over samples needs a network's samples (backprop check)",
                      bp_expr_loc(b->e->src, b->where, l, sizeof l)), -1;
    if (b->sample >= 0)
        return bp_err(err, BP_E_VALUE, "samplesum at %s: a sum over samples inside another one",
                      bp_expr_loc(b->e->src, b->where, l, sizeof l)), -1;
    int acc = -1, m = h->nsamples;
    for (int i = 0; i < m; i++) {
        b->sample = i;
        for (int v = 0; v < b->e->nvars; v++) b->slice[v] = -1;
        b->pick = -1;
        int x = build_one(b, ai, 0, env, err);
        if (x >= 0 && acc >= 0) {
            int ra, ca, rx, cx;
            shape_of(b, acc, &ra, &ca);
            shape_of(b, x, &rx, &cx);
            if (ra != rx || ca != cx) x = shape_err(b, ai, err, "samplesum: the term is %dx%d for sample 1 and %dx%d for "
                                                    "sample %d", ra, ca, rx, cx, i + 1);
        }
        acc = x < 0 ? -1 : acc < 0 ? x : fin(b, bp_op_binary(b->g, BP_OP_ADD, acc, x, err), ai, err);
        if (acc < 0) break;
    }
    b->sample = -1;
    return acc;
}

/* The quantity variable v stands for inside samplesum: its current sample. */
static int var_slice(builder *b, int ai, int v, bp_error *err)
{
    int node = b->var_node[v];
    const bp_expr_host *h = b->e->host;
    if (b->sample < 0 || !b->per_sample[v] || h->nsamples == 1) return node;
    if (b->slice[v] >= 0) return b->slice[v];
    int r, c, m = h->nsamples, rows = h->samples_rows;
    shape_of(b, node, &r, &c);
    if ((rows ? r : c) != m) {
        char l[48];
        b->where = b->e->ast[ai].start;
        return bp_err(err, BP_E_SHAPE, "%s at %s is %dx%d: no %s per sample", b->e->vars[v],
                      bp_expr_loc(b->e->src, b->where, l, sizeof l), r, c, rows ? "row" : "column"), -1;
    }
    if (b->pick < 0) {   /* the unit vector e_i: m x 1, or 1 x m for rows */
        if ((b->pick = const_mat(b, rows ? 1 : m, rows ? m : 1, 0, 0, ai, err)) < 0) return -1;
        ((double *)b->g->nodes[b->pick].val)[b->sample] = 1;
    }
    int s = rows ? bp_op_matmul(b->g, b->pick, node, 0, 0, err) : bp_op_matmul(b->g, node, b->pick, 0, 0, err);
    return b->slice[v] = fin(b, s, ai, err);
}

/* A builtin function of one argument on one node x. */
static int fn1(builder *b, int ai, int x, bp_error *err)
{
    bp_graph *g = b->g;
    int r, c, f = b->e->ast[ai].idx;
    shape_of(b, x, &r, &c);
    switch (f) {
    case BI_IDENTITY: return x;
    case BI_DLINEAR: return const_mat(b, r, c, 1, 0, ai, err);
    case BI_DSTEP: return const_mat(b, r, c, 0, 0, ai, err);   /* step' = 0 (as the step op's backward) */
    case BI_DRELU:
        if (b->e->kinks.relu_at_zero) {   /* relu'(x) = 1[x >= 0] under --relu-grad-at-zero 1 (bp_kinks) */
            int zero = const_mat(b, r, c, 0, 0, ai, err);
            return zero < 0 ? -1 : ew2(b, ai, BP_OP_GE, x, zero, err);
        }
        break;                            /* else 1[x > 0], the step op */
    case BI_DSIGMOID: {   /* sigma'(x) = sigma(x) (1 - sigma(x)) */
        int s = fin(b, bp_op_unary(g, BP_OP_SIGMOID, x, err), ai, err), one = s < 0 ? -1 : const_mat(b, r, c, 1, 0, ai, err);
        int d = one < 0 ? -1 : fin(b, bp_op_binary(g, BP_OP_SUB, one, s, err), ai, err);
        return d < 0 ? -1 : fin(b, bp_op_binary(g, BP_OP_MUL, s, d, err), ai, err);
    }
    case BI_DTANH: {      /* tanh'(x) = 1 - tanh(x)^2 */
        int t = fin(b, bp_op_unary(g, BP_OP_TANH, x, err), ai, err), one = t < 0 ? -1 : const_mat(b, r, c, 1, 0, ai, err);
        int q = one < 0 ? -1 : fin(b, bp_op_unary(g, BP_OP_SQUARE, t, err), ai, err);
        return q < 0 ? -1 : fin(b, bp_op_binary(g, BP_OP_SUB, one, q, err), ai, err);
    }
    case BI_SOFTMAX: return softmax(b, ai, x, err);
    case BI_ROWMEAN:
    case BI_COLMEAN: {
        int s = fin(b, bp_op_unary(g, f == BI_ROWMEAN ? BP_OP_ROWSUM : BP_OP_COLSUM, x, err), ai, err);
        return s < 0 ? -1 : fin(b, bp_op_scale(g, s, 1.0 / (f == BI_ROWMEAN ? c : r), err), ai, err);
    }
    case BI_DIAG: {       /* diag(v)_ij = [i == j] v_j: eye(n) * v as a row repeated */
        if (r != 1 && c != 1) return shape_err(b, ai, err, "diag: %dx%d is not a vector", r, c);
        int n = r * c, e = const_mat(b, n, n, 0, 1, ai, err);
        int v = e < 0 ? -1 : r == 1 || n == 1 ? x : fin(b, bp_op_unary(g, BP_OP_TRANSPOSE, x, err), ai, err);
        int w = v < 0 ? -1 : n == 1 ? v : fin(b, bp_op_broadcast(g, v, n, n, err), ai, err);
        return w < 0 ? -1 : fin(b, bp_op_binary(g, BP_OP_MUL, e, w, err), ai, err);
    }
    case BI_EYE: {
        int n = size_arg(b, ai, x, err);
        return n < 0 || const_size(b, ai, n, n, err) ? -1 : const_mat(b, n, n, 0, 1, ai, err);
    }
    }
    return fin(b, bp_op_unary(g, bp_expr_builtin_op(f), x, err), ai, err);
}

/* Build AST node ai; its items go to out (at most ast[ai].len of them), their
 * number to *nout. env: parameter nodes. Recursion depth: ast[ai].depth
 * frames, at most MAX_LEVELS (samplesum adds one). */
static bp_status build(builder *b, int ai, const int *env, int *out, int *nout, bp_error *err)
{
    const anode *A = &b->e->ast[ai];
    int *t = NULL;
    bp_status s = BP_OK;
    *nout = 1;
    switch (A->k) {
    case A_NUM: {
        char nb[32];
        return (out[0] = leaf(b, A->num, 0, fmtnum(A->num, nb), ai, err)) < 0 ? err->status : BP_OK;
    }
    case A_VAR: return (out[0] = var_slice(b, ai, A->idx, err)) < 0 ? err->status : BP_OK;
    case A_PARAM: out[0] = env[A->idx]; return BP_OK;
    case A_NEG:
        if ((s = build(b, A->kid[0], env, out, nout, err))) return s;
        for (int i = 0; i < *nout; i++)
            if ((out[i] = fin(b, bp_op_unary(b->g, BP_OP_NEG, out[i], err), ai, err)) < 0) return err->status;
        return BP_OK;
    case A_TRANS: {
        int x = build_one(b, ai, 0, env, err);
        if (x >= 0 && !is_1x1(b, x)) x = fin(b, bp_op_unary(b->g, BP_OP_TRANSPOSE, x, err), ai, err);
        return (out[0] = x) < 0 ? err->status : BP_OK;
    }
    case A_ROWS: {
        /* each row's numbers side by side, the rows stacked; all constants: one leaf */
        int acc = -1, konst = 1, r = A->nkid, c = b->e->ast[A->kid[0]].len, k = 0;
        if (!(t = malloc((size_t)r * c * sizeof *t))) return bp_err(err, BP_E_NOMEM, "out of memory");
        for (int i = 0; !s && i < r; i++) {
            int n = 0;
            if ((s = build(b, A->kid[i], env, t + k, &n, err))) break;
            for (int j = 0; !s && j < n; j++) {
                int rr, cc;
                shape_of(b, t[k + j], &rr, &cc);
                if (rr != 1 || cc != 1)
                    s = (shape_err(b, ai, err, "a matrix by rows: row %d holds a %dx%d value where a number belongs", i + 1,
                                   rr, cc), err->status);
                konst &= !bp_graph_node_requires_grad(b->g, t[k + j]);
            }
            if (!s && n != c)
                s = (shape_err(b, ai, err, "a matrix by rows: row %d has %d entries, row 1 has %d", i + 1, n, c), err->status);
            k += n;
        }
        if (!s && konst) {
            if ((acc = const_mat(b, r, c, 0, 0, ai, err)) >= 0)
                for (int i = 0; i < r * c; i++) ((double *)b->g->nodes[acc].val)[i] = val1(b->g, t[i]);
        }
        for (int i = 0; !s && !konst && i < r; i++) {
            int row = t[i * c];
            for (int j = 1; row >= 0 && j < c; j++) row = fin(b, bp_op_binary(b->g, BP_OP_HCAT, row, t[i * c + j], err), ai, err);
            acc = row < 0 ? -1 : i == 0 ? row : fin(b, bp_op_binary(b->g, BP_OP_VCAT, acc, row, err), ai, err);
            if (acc < 0) s = err->status;
        }
        free(t);
        if (s) return s;
        return (out[0] = acc) < 0 ? err->status : BP_OK;
    }
    case A_VEC:
    case A_CALL: {
        /* the kids' items side by side (a call's arguments, flattened) */
        int total = 0, n = 0;
        for (int i = 0; i < A->nkid; i++) total += b->e->ast[A->kid[i]].len;
        int *dst = out;
        if (A->k == A_CALL && !(dst = t = malloc((size_t)total * sizeof *t))) return bp_err(err, BP_E_NOMEM, "out of memory");
        int want = b->want_args;
        b->want_args = 0;
        for (int i = 0; !s && i < A->nkid; i++) {
            int k = 0;
            s = build(b, A->kid[i], env, dst + n, &k, err);
            for (int j = 0; !s && A->k == A_VEC && j < k; j++)
                if (!is_1x1(b, dst[n + j])) {
                    int rr, cc;
                    shape_of(b, dst[n + j], &rr, &cc);
                    shape_err(b, A->kid[i], err, "[...]: entry %d is %dx%d; the entries of a vector are numbers (a matrix "
                              "is written by rows: [[1, 2], [3, 4]])", i + 1, rr, cc);
                    s = err->status;
                }
            n += k;
        }
        if (!s && A->k == A_CALL) {
            const edef *D = &b->e->defs[A->idx];
            if (n != D->nparams)
                s = (shape_err(b, ai, err, "%s takes %d argument%s, got %d", D->name, D->nparams, D->nparams == 1 ? "" : "s", n),
                     err->status);
            if (!s && want) {
                free(b->args);
                if ((b->args = malloc((size_t)n * sizeof *b->args))) memcpy(b->args, t, (size_t)n * sizeof *t);
                b->nargs = n;
            }
            if (!s) s = build(b, D->body, t, out, nout, err);
        } else if (!s) *nout = n;
        free(t);
        return s;
    }
    case A_BIN: return build_chain(b, ai, env, out, nout, err);
    case A_FN: {
        int f = A->idx;
        if (f == BI_SAMPLESUM) return (out[0] = samplesum(b, ai, env, err)) < 0 ? err->status : BP_OK;
        if (f == BI_ONES) {
            int r = build_one(b, ai, 0, env, err), c = r < 0 ? -1 : build_one(b, ai, 1, env, err);
            if (c >= 0 && (r = size_arg(b, ai, r, err)) >= 0 && (c = size_arg(b, ai, c, err)) >= 0 &&
                !const_size(b, ai, r, c, err))
                out[0] = const_mat(b, r, c, 1, 0, ai, err);
            else if (c >= 0 && r >= 0) c = -1;
            return c < 0 || r < 0 || out[0] < 0 ? err->status : BP_OK;
        }
        int la = b->e->ast[A->kid[0]].len, lb = A->nkid > 1 ? b->e->ast[A->kid[1]].len : 0, na = 0, nb = 0;
        if (!(t = malloc((size_t)(la + lb) * sizeof *t))) return bp_err(err, BP_E_NOMEM, "out of memory");
        if (!(s = build(b, A->kid[0], env, t, &na, err)) && A->nkid > 1) s = build(b, A->kid[1], env, t + na, &nb, err);
        if (!s && A->nkid > 1) s = combine(b, ai, t, na, nb, out, nout, err);
        else if (!s && na > 1 && bp_expr_builtin_elementwise(f)) {   /* numbers, one by one */
            for (int i = 0; !s && i < na; i++) if ((out[i] = fn1(b, ai, t[i], err)) < 0) s = err->status;
            *nout = na;
        } else if (!s) {
            int x = gather(b, ai, t, na, err);
            if (x < 0 || (out[0] = fn1(b, ai, x, err)) < 0) s = err->status;
        }
        free(t);
        return s;
    }
    }
    return bp_err(err, BP_E_ARG, "bad expression node");
}

bp_status bp_expr_graph_jacobian(bp_graph *g, const int *outs, int nout, const int *cols, int ncol, double *J, bp_error *err)
{
    int width = 0;
    for (int j = 0; j < ncol; j++) width += g->nodes[cols[j]].rows * g->nodes[cols[j]].cols;
    for (int k = 0; k < nout; k++) {
        double *row = J + (size_t)k * width;
        if (!bp_graph_node_requires_grad(g, outs[k])) {          /* a constant output */
            for (int j = 0; j < width; j++) row[j] = 0;
            continue;
        }
        bp_status s = bp_graph_backward(g, outs[k], err);
        if (s) return s;
        for (int j = 0, w = 0; j < ncol; j++) {
            bp_mat m = bp_graph_grad(g, cols[j]);
            int n = g->nodes[cols[j]].rows * g->nodes[cols[j]].cols;
            for (int i = 0; i < n; i++) row[w + i] = m.rows && cols[j] <= outs[k] ? ((const double *)m.data)[i] : 0;
            w += n;
        }
    }
    return BP_OK;
}

bp_status bp_expr_compile_outer(bp_expr *e, bp_error *err)
{
    const edef *D = &e->defs[e->ast[e->root].idx];
    builder b = {.e = e, .g = bp_graph_new(BP_F64), .sample = -1};
    if (b.g) bp_graph_set_kinks(b.g, &e->kinks);
    int np = D->nparams, no = e->ast[D->body].len, n = 0;
    int *prm = malloc((size_t)np * sizeof *prm), *outs = malloc((size_t)no * sizeof *outs);
    bp_status s = BP_OK;
    if (!b.g || !prm || !outs) s = bp_err(err, BP_E_NOMEM, "out of memory");
    for (int i = 0; !s && i < np; i++)
        if ((prm[i] = leaf(&b, val1(e->g, e->args[i]), 1, D->params[i], -1, err)) < 0) s = err->status;
    if (!s) s = build(&b, D->body, prm, outs, &n, err);
    if (!s && n != e->nout) s = bp_err(err, BP_E_ARG, "the outer function has %d outputs, the composition %d", n, e->nout);
    if (!s) s = bp_expr_graph_jacobian(b.g, outs, n, prm, np, e->jf, err);
    bp_graph_free(b.g);
    free(b.node_ast);
    free(prm);
    free(outs);
    return s;
}

bp_status bp_expr_compile(bp_expr *e, int *where, bp_error *err)
{
    int nv = e->nvars, len = e->ast[e->root].len, n = 0;
    builder b = {.e = e, .g = bp_graph_new(BP_F64), .want_args = bp_expr_is_composition(e), .sample = -1};
    if (b.g) bp_graph_set_kinks(b.g, &e->kinks);
    e->var_node = malloc(nz(nv) * sizeof *e->var_node);
    e->reading = calloc(3 * nz(e->nast), sizeof *e->reading);
    b.slice = malloc(nz(nv) * sizeof *b.slice);
    b.per_sample = calloc(nz(nv), 1);
    int *items = malloc((size_t)len * sizeof *items);
    bp_status s = BP_OK;
    if (!b.g || !e->var_node || !e->reading || !b.slice || !b.per_sample || !items) s = bp_err(err, BP_E_NOMEM, "out of memory");
    for (int i = 0; !s && i < nv; i++) {
        if (e->host && e->host->per_sample) b.per_sample[i] = (unsigned char)(e->host->per_sample(e->host->ctx, e->vars[i]) != 0);
        if (!e->var_mat[i]) {
            if ((e->var_node[i] = leaf(&b, e->var_val[i], 1, e->vars[i], -1, err)) < 0) s = err->status;
            continue;
        }
        int id = bp_graph_leaf(b.g, e->var_rows[i], e->var_cols[i], 1, e->vars[i], err);
        if (id >= 0) memcpy(b.g->nodes[id].val, e->var_mat[i], (size_t)e->var_rows[i] * e->var_cols[i] * sizeof(double));
        if ((e->var_node[i] = fin(&b, id, -1, err)) < 0) s = err->status;
    }
    b.var_node = e->var_node;
    if (!s) s = build(&b, e->root, NULL, items, &n, err);
    /* the outputs: every entry as a 1x1 node, row by row */
    if (!s) {
        int r = n, c = 1, one = n == 1 && is_1x1(&b, items[0]);
        if (n == 1) shape_of(&b, items[0], &r, &c);
        e->out_rows = r;
        e->out_cols = c;
        e->out_vec = n > 1 || (n == 1 && !one && c == 1) || (one && e->ast[e->root].isvec);
        e->nout = r * c;
        if (!(e->out = malloc((size_t)e->nout * sizeof *e->out))) s = bp_err(err, BP_E_NOMEM, "out of memory");
        for (int k = 0; !s && k < e->nout; k++) {
            if (n > 1 || one) { e->out[k] = items[k]; continue; }
            if ((e->out[k] = fin(&b, bp_op_entry(b.g, items[0], k / c, k % c, err), e->root, err)) < 0) s = err->status;
        }
    }
    e->g = b.g;
    e->node_ast = b.node_ast;
    e->args = b.args;
    e->nargs = b.nargs;
    if (s && where) *where = b.where;
    free(items);
    free(b.slice);
    free(b.per_sample);
    return s;
}
