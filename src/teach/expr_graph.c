/* teach/expr_graph.c - the second stage of `expr` (teach/expr.h): the AST
 * compiled onto the autodiff graph as 1x1 f64 nodes. Variables are leaves
 * that require a gradient, numbers constant leaves; definitions are inlined
 * (their parameters bound to the argument nodes); each node is evaluated as
 * it is made, so a domain error names the sub-expression that caused it. A
 * power with a constant exponent is one pow node, else exp(b log a). */
#include "teach/expr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct builder {
    bp_expr *e;
    bp_graph *g;
    int *node_ast, cap;
    const int *var_node;
    int want_args;      /* record the outer call's argument nodes          */
    int *args;
    int where;
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
    if (n->op == BP_OP_LEAF) return id;
    if (bp_op_table(b->g->dtype)[n->op].forward(b->g, n, err) == BP_OK) {
        double v = ((const double *)n->val)[0];
        if (isfinite(v)) return id;
        const anode *A = &b->e->ast[ai];
        char l[48];
        int len = A->end - A->start;
        bp_err(err, BP_E_DOMAIN, "overflow at %s: '%.*s' is %g, beyond the range of a double%s%s (node n%d)",
               bp_expr_loc(src, A->start, l, sizeof l), len > 200 ? 200 : len, src + A->start, v,
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

static int leaf(builder *b, double v, int grad, const char *name, int ai, bp_error *err)
{
    int id = bp_graph_leaf(b->g, 1, 1, grad, name, err);
    if (id >= 0) { bp_mat m = bp_graph_value(b->g, id); bp_mat_set(&m, 0, 0, v); }
    return fin(b, id, ai, err);
}

/* a ^ p: one pow node for a constant exponent, exp(p log a) otherwise. */
static int power(builder *b, int ai, int x, int y, bp_error *err)
{
    bp_graph *g = b->g;
    if (!bp_graph_node_requires_grad(g, y)) return fin(b, bp_op_pow(g, x, val1(g, y), err), ai, err);
    int l = fin(b, bp_op_unary(g, BP_OP_LOG, x, err), ai, err);
    int m = l < 0 ? -1 : fin(b, bp_op_binary(g, BP_OP_MUL, y, l, err), ai, err);
    return m < 0 ? -1 : fin(b, bp_op_unary(g, BP_OP_EXP, m, err), ai, err);
}

/* Apply A_BIN or A_FN node ai elementwise to its built operands: t[0, la)
 * and (two operands) t[la, la + lb); its A->len node ids go to out. */
static bp_status combine(builder *b, int ai, const int *t, int la, int lb, int *out, bp_error *err)
{
    const anode *A = &b->e->ast[ai];
    bp_graph *g = b->g;
    for (int i = 0; i < A->len; i++) {
        int x = t[la == 1 ? 0 : i], y = lb ? t[la + (lb == 1 ? 0 : i)] : -1, id;
        if (A->k == A_FN)
            id = fin(b, lb ? bp_op_binary(g, bp_expr_builtin_op(A->idx), x, y, err)
                           : bp_op_unary(g, bp_expr_builtin_op(A->idx), x, err), ai, err);
        else if (A->op == '^') id = power(b, ai, x, y, err);
        else {
            bp_op op = A->op == '+' ? BP_OP_ADD : A->op == '-' ? BP_OP_SUB : A->op == '*' ? BP_OP_MUL : BP_OP_DIV;
            id = fin(b, bp_op_binary(g, op, x, y, err), ai, err);
        }
        if ((out[i] = id) < 0) return err->status;
    }
    return BP_OK;
}

static bp_status build(builder *b, int ai, const int *env, int *out, bp_error *err);

/* A_BIN node ai.  A chain a+b+c+... parses left-deep, as long as the text:
 * walk down its left operands in a loop (the deepest first, so the graph
 * nodes come in the order plain recursion would make them); only right
 * operands recurse, and the parser bounds their depth (anode.depth). */
static bp_status build_chain(builder *b, int ai, const int *env, int *out, bp_error *err)
{
    const anode *ast = b->e->ast;
    int ns = 0, k;
    for (k = ai; ast[k].k == A_BIN; k = ast[k].kid[0]) ns++;
    int *spine = malloc((size_t)ns * sizeof *spine), lc = ast[k].len, *cur = malloc((size_t)lc * sizeof *cur);
    bp_status s = spine && cur ? BP_OK : bp_err(err, BP_E_NOMEM, "out of memory");
    for (int i = 0, j = ai; !s && i < ns; i++, j = ast[j].kid[0]) spine[i] = j;
    if (!s) s = build(b, k, env, cur, err);                  /* the leftmost operand */
    for (int i = ns - 1; !s && i >= 0; i--) {
        const anode *A = &ast[spine[i]];
        int lb = ast[A->kid[1]].len, *t = malloc((size_t)(lc + lb) * sizeof *t);
        int *dst = i ? malloc((size_t)A->len * sizeof *dst) : out;
        if (!t || !dst) s = bp_err(err, BP_E_NOMEM, "out of memory");
        if (!s) {
            memcpy(t, cur, (size_t)lc * sizeof *t);
            s = build(b, A->kid[1], env, t + lc, err);
        }
        if (!s) s = combine(b, spine[i], t, lc, lb, dst, err);
        free(t);
        free(cur);
        cur = NULL;
        if (i) { cur = dst; lc = A->len; }
    }
    free(cur);
    free(spine);
    return s;
}

/* Build AST node ai; its a->len node ids go to out. env: parameter nodes.
 * Recursion depth: ast[ai].depth frames, at most MAX_LEVELS. */
static bp_status build(builder *b, int ai, const int *env, int *out, bp_error *err)
{
    const anode *A = &b->e->ast[ai];
    bp_graph *g = b->g;
    int *t = NULL, n = A->len;
    bp_status s = BP_OK;
    switch (A->k) {
    case A_NUM: {
        char nb[32];
        return (out[0] = leaf(b, A->num, 0, fmtnum(A->num, nb), ai, err)) < 0 ? err->status : BP_OK;
    }
    case A_VAR: out[0] = b->var_node[A->idx]; return BP_OK;
    case A_PARAM: out[0] = env[A->idx]; return BP_OK;
    case A_NEG:
        if ((s = build(b, A->kid[0], env, out, err))) return s;
        for (int i = 0; i < n; i++)
            if ((out[i] = fin(b, bp_op_unary(g, BP_OP_NEG, out[i], err), ai, err)) < 0) return err->status;
        return BP_OK;
    case A_VEC:
    case A_CALL: {
        /* the kids' scalars side by side (a call's arguments, flattened) */
        int total = 0;
        for (int i = 0; i < A->nkid; i++) total += b->e->ast[A->kid[i]].len;
        int *dst = out;
        if (A->k == A_CALL && !(dst = t = malloc((size_t)total * sizeof *t))) return bp_err(err, BP_E_NOMEM, "out of memory");
        int want = b->want_args;
        b->want_args = 0;
        for (int i = 0, k = 0; !s && i < A->nkid; k += b->e->ast[A->kid[i]].len, i++)
            s = build(b, A->kid[i], env, dst + k, err);
        if (!s && A->k == A_CALL) {
            if (want && (b->args = malloc((size_t)total * sizeof *b->args))) memcpy(b->args, t, (size_t)total * sizeof *t);
            s = build(b, b->e->defs[A->idx].body, t, out, err);
        }
        free(t);
        return s;
    }
    case A_BIN: return build_chain(b, ai, env, out, err);
    case A_FN: {
        int la = b->e->ast[A->kid[0]].len, lb = A->nkid > 1 ? b->e->ast[A->kid[1]].len : 0;
        if (!(t = malloc((size_t)(la + lb) * sizeof *t))) return bp_err(err, BP_E_NOMEM, "out of memory");
        if (!(s = build(b, A->kid[0], env, t, err)) && A->nkid > 1) s = build(b, A->kid[1], env, t + la, err);
        if (!s) s = combine(b, ai, t, la, lb, out, err);
        free(t);
        return s;
    }
    }
    return bp_err(err, BP_E_ARG, "bad expression node");
}

bp_status bp_expr_graph_jacobian(bp_graph *g, const int *outs, int nout, const int *cols, int ncol, double *J, bp_error *err)
{
    for (int k = 0; k < nout; k++) {
        if (!bp_graph_node_requires_grad(g, outs[k])) {          /* a constant output */
            for (int j = 0; j < ncol; j++) J[k * ncol + j] = 0;
            continue;
        }
        bp_status s = bp_graph_backward(g, outs[k], err);
        if (s) return s;
        for (int j = 0; j < ncol; j++) J[k * ncol + j] = grad1(g, cols[j], outs[k]);
    }
    return BP_OK;
}

bp_status bp_expr_compile_outer(bp_expr *e, bp_error *err)
{
    const edef *D = &e->defs[e->ast[e->root].idx];
    builder b = {.e = e, .g = bp_graph_new(BP_F64)};
    int np = D->nparams, no = e->nout;
    int *prm = malloc((size_t)np * sizeof *prm), *outs = malloc((size_t)no * sizeof *outs);
    bp_status s = BP_OK;
    if (!b.g || !prm || !outs) s = bp_err(err, BP_E_NOMEM, "out of memory");
    for (int i = 0; !s && i < np; i++)
        if ((prm[i] = leaf(&b, val1(e->g, e->args[i]), 1, D->params[i], -1, err)) < 0) s = err->status;
    if (!s) s = build(&b, D->body, prm, outs, err);
    if (!s) s = bp_expr_graph_jacobian(b.g, outs, no, prm, np, e->jf, err);
    bp_graph_free(b.g);
    free(b.node_ast);
    free(prm);
    free(outs);
    return s;
}

bp_status bp_expr_compile(bp_expr *e, int *where, bp_error *err)
{
    int no = e->ast[e->root].len, nw = e->nwrt, comp = bp_expr_is_composition(e);
    builder b = {.e = e, .g = bp_graph_new(BP_F64), .want_args = comp};
    e->var_node = malloc(nz(e->nvars) * sizeof *e->var_node);
    e->out = malloc((size_t)no * sizeof *e->out);
    e->val = malloc((size_t)no * sizeof *e->val);
    e->jac = malloc(nz(no * nw) * sizeof *e->jac);
    bp_status s = BP_OK;
    if (!b.g || !e->var_node || !e->out || !e->val || !e->jac) s = bp_err(err, BP_E_NOMEM, "out of memory");
    for (int i = 0; !s && i < e->nvars; i++)
        if ((e->var_node[i] = leaf(&b, e->var_val[i], 1, e->vars[i], -1, err)) < 0) s = err->status;
    b.var_node = e->var_node;
    if (!s) s = build(&b, e->root, NULL, e->out, err);
    e->g = b.g;
    e->node_ast = b.node_ast;
    e->args = b.args;
    e->nout = no;
    if (s && where) *where = b.where;
    return s;
}
