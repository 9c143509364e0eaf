/* autodiff/graph.c - reverse-mode autodiff: nodes in creation (= topological) order,
 * a forward sweep over them and a backward sweep in reverse. The op kernels
 * live in ops_kernels.h. */
#include "autodiff/graph.h"

#include <stdlib.h>
#include <string.h>

bp_graph *bp_graph_new(bp_dtype dtype)
{
    bp_graph *g = calloc(1, sizeof *g);
    if (g) g->dtype = dtype;
    return g;
}

void bp_graph_free(bp_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n; i++) {
        bp_gnode *n = &g->nodes[i];
        if (n->flags & NODE_OWN_VAL) free(n->val);
        if (n->flags & NODE_OWN_GRAD) free(n->grad);
        free(n->aux);
        free(n->name);
    }
    free(g->nodes);
    free(g);
}

bp_dtype bp_graph_dtype(const bp_graph *g) { return g->dtype; }

static const char *const tie_names[] = {"half", "first"};
const char *bp_tie_name(bp_tie t) { return BP_NAME_OF(tie_names, t); }
BP_NAME_PARSER(bp_tie_parse, bp_tie, tie_names)

void bp_graph_set_kinks(bp_graph *g, const bp_kinks *k) { g->kinks = bp_kinks_or_default(k); }
bp_kinks bp_graph_kinks(const bp_graph *g) { return g->kinks; }
int bp_graph_size(const bp_graph *g) { return g->n; }

static int valid(const bp_graph *g, bp_node n) { return n >= 0 && n < g->n; }

/* Append a node of the given shape; allocates its value (unless `data`) and,
 * if it requires a gradient, its gradient (unless `grad`). */
static bp_node add_node(bp_graph *g, bp_op op, int a, int b, int rows, int cols, int req_grad,
                        void *data, void *grad, const char *name, bp_error *err)
{
    if (rows < 0 || cols < 0) {
        bp_err(err, BP_E_SHAPE, "negative shape %d x %d", rows, cols);
        return -1;
    }
    if (g->n == g->cap) {
        int cap = g->cap ? g->cap * 2 : 16;
        bp_gnode *nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) { bp_err(err, BP_E_NOMEM, "out of memory (graph of %d nodes)", cap); return -1; }
        g->nodes = nn;
        g->cap = cap;
    }
    bp_gnode *n = &g->nodes[g->n];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->in[0] = a;
    n->in[1] = b;
    n->rows = rows;
    n->cols = cols;
    size_t bytes = (size_t)rows * (size_t)cols * bp_dtype_size(g->dtype);
    if (data) n->val = data;
    else {
        if (!(n->val = bp_calloc(1, bytes, err))) return -1;
        n->flags |= NODE_OWN_VAL;
    }
    if (req_grad) {
        n->flags |= NODE_REQ_GRAD;
        if (grad) n->grad = grad;
        else {
            if (!(n->grad = bp_calloc(1, bytes, err))) {
                if (n->flags & NODE_OWN_VAL) free(n->val);
                return -1;
            }
            n->flags |= NODE_OWN_GRAD;
        }
    }
    if (name) {
        size_t len = strlen(name);
        if ((n->name = malloc(len + 1))) memcpy(n->name, name, len + 1);
    }
    return g->n++;
}

bp_node bp_graph_leaf(bp_graph *g, int rows, int cols, int requires_grad, const char *name,
                      bp_error *err)
{
    return add_node(g, BP_OP_LEAF, -1, -1, rows, cols, requires_grad, NULL, NULL, name, err);
}

bp_node bp_graph_leaf_view(bp_graph *g, int rows, int cols, void *data, void *grad,
                           const char *name, bp_error *err)
{
    if (!data) { bp_err(err, BP_E_ARG, "leaf view without data"); return -1; }
    return add_node(g, BP_OP_LEAF, -1, -1, rows, cols, grad != NULL, data, grad, name, err);
}

static int needs_grad(const bp_graph *g, int a, int b)
{
    return (a >= 0 && (g->nodes[a].flags & NODE_REQ_GRAD)) ||
           (b >= 0 && (g->nodes[b].flags & NODE_REQ_GRAD));
}

static int bad_input(const bp_graph *g, bp_op op, bp_node a, bp_node b, int arity, bp_error *err)
{
    if ((unsigned)op >= BP_OP_COUNT || op == BP_OP_LEAF) {
        bp_err(err, BP_E_ARG, "not an op: %d", (int)op);
        return 1;
    }
    if (bp_op_table(g->dtype)[op].arity != arity) {
        bp_err(err, BP_E_ARG, "%s takes %d input(s)", bp_op_name(op), bp_op_table(g->dtype)[op].arity);
        return 1;
    }
    if (!valid(g, a) || (arity == 2 && !valid(g, b))) {
        bp_err(err, BP_E_ARG, "%s: input is not a node of this graph", bp_op_name(op));
        return 1;
    }
    return 0;
}

bp_node bp_op_unary(bp_graph *g, bp_op op, bp_node a, bp_error *err)
{
    if (bad_input(g, op, a, -1, 1, err)) return -1;
    if (op == BP_OP_SCALE || op == BP_OP_POW || op == BP_OP_BROADCAST || op == BP_OP_ENTRY) {
        bp_err(err, BP_E_ARG, "%s needs a constant: use bp_op_%s", bp_op_name(op), bp_op_name(op));
        return -1;
    }
    int rows = g->nodes[a].rows, cols = g->nodes[a].cols;
    if (op == BP_OP_SUM || op == BP_OP_MEAN) rows = cols = 1;
    if (op == BP_OP_PREPEND_ONE) cols++;
    if (op == BP_OP_TRANSPOSE) { rows = g->nodes[a].cols; cols = g->nodes[a].rows; }
    if (op == BP_OP_ROWSUM) cols = 1;
    if (op == BP_OP_COLSUM) rows = 1;
    if (op == BP_OP_SOFTMAX && cols < 1) {
        bp_err(err, BP_E_SHAPE, "softmax of a row with no elements");
        return -1;
    }
    return add_node(g, op, a, -1, rows, cols, needs_grad(g, a, -1), NULL, NULL, NULL, err);
}

bp_node bp_op_binary(bp_graph *g, bp_op op, bp_node a, bp_node b, bp_error *err)
{
    if (op == BP_OP_MATMUL) return bp_op_matmul(g, a, b, 0, 0, err);
    if (bad_input(g, op, a, b, 2, err)) return -1;
    const bp_gnode *A = &g->nodes[a], *B = &g->nodes[b];
    int rows = A->rows, cols = A->cols;
    if (op == BP_OP_BIAS_ADD) {
        if (B->rows != 1 || B->cols != A->cols) {
            bp_err(err, BP_E_SHAPE, "bias_add: bias is %d x %d, expected 1 x %d", B->rows, B->cols, A->cols);
            return -1;
        }
    } else if (op == BP_OP_VCAT || op == BP_OP_HCAT) {
        int v = op == BP_OP_VCAT;
        if (v ? A->cols != B->cols : A->rows != B->rows) {
            bp_err(err, BP_E_SHAPE, "%s: %d x %d and %d x %d have different numbers of %s", bp_op_name(op), A->rows,
                   A->cols, B->rows, B->cols, v ? "columns" : "rows");
            return -1;
        }
        if (v) rows += B->rows;
        else cols += B->cols;
    } else if (A->rows != B->rows || A->cols != B->cols) {
        bp_err(err, BP_E_SHAPE, "%s: shapes %d x %d and %d x %d differ", bp_op_name(op), A->rows,
               A->cols, B->rows, B->cols);
        return -1;
    }
    if (op == BP_OP_SOFTMAX_CE || op == BP_OP_SIGMOID_BCE || op == BP_OP_ZERO_ONE) rows = cols = 1;
    int aux_n = op == BP_OP_SOFTMAX_CE ? A->rows * A->cols : 0;
    bp_node id = add_node(g, op, a, b, rows, cols, needs_grad(g, a, b), NULL, NULL, NULL, err);
    if (id >= 0 && aux_n) {
        if (!(g->nodes[id].aux = bp_calloc((size_t)aux_n, bp_dtype_size(g->dtype), err))) return -1;
    }
    return id;
}

bp_node bp_op_matmul(bp_graph *g, bp_node a, bp_node b, int trans_a, int trans_b, bp_error *err)
{
    if (bad_input(g, BP_OP_MATMUL, a, b, 2, err)) return -1;
    const bp_gnode *A = &g->nodes[a], *B = &g->nodes[b];
    int m = trans_a ? A->cols : A->rows, ka = trans_a ? A->rows : A->cols;
    int kb = trans_b ? B->cols : B->rows, n = trans_b ? B->rows : B->cols;
    if (ka != kb) {
        bp_err(err, BP_E_SHAPE, "matmul: %d x %d%s times %d x %d%s: inner sizes %d and %d differ",
               A->rows, A->cols, trans_a ? "^T" : "", B->rows, B->cols, trans_b ? "^T" : "", ka, kb);
        return -1;
    }
    bp_node id = add_node(g, BP_OP_MATMUL, a, b, m, n, needs_grad(g, a, b), NULL, NULL, NULL, err);
    if (id >= 0) {
        g->nodes[id].trans_a = trans_a != 0;
        g->nodes[id].trans_b = trans_b != 0;
    }
    return id;
}

static bp_node unary_const(bp_graph *g, bp_op op, bp_node a, double c, bp_error *err)
{
    if (!valid(g, a)) { bp_err(err, BP_E_ARG, "%s: input is not a node of this graph", bp_op_name(op)); return -1; }
    bp_node id = add_node(g, op, a, -1, g->nodes[a].rows, g->nodes[a].cols, needs_grad(g, a, -1),
                          NULL, NULL, NULL, err);
    if (id >= 0) g->nodes[id].c = c;
    return id;
}

bp_node bp_op_scale(bp_graph *g, bp_node a, double c, bp_error *err) { return unary_const(g, BP_OP_SCALE, a, c, err); }

bp_node bp_op_broadcast(bp_graph *g, bp_node a, int rows, int cols, bp_error *err)
{
    if (!valid(g, a)) { bp_err(err, BP_E_ARG, "broadcast: input is not a node of this graph"); return -1; }
    const bp_gnode *A = &g->nodes[a];
    if (rows < 1 || cols < 1 || (A->rows != 1 && A->rows != rows) || (A->cols != 1 && A->cols != cols)) {
        bp_err(err, BP_E_SHAPE, "broadcast: %d x %d cannot be repeated to %d x %d", A->rows, A->cols, rows, cols);
        return -1;
    }
    return add_node(g, BP_OP_BROADCAST, a, -1, rows, cols, needs_grad(g, a, -1), NULL, NULL, NULL, err);
}

bp_node bp_op_entry(bp_graph *g, bp_node a, int i, int j, bp_error *err)
{
    if (!valid(g, a)) { bp_err(err, BP_E_ARG, "entry: input is not a node of this graph"); return -1; }
    if (i < 0 || j < 0 || i >= g->nodes[a].rows || j >= g->nodes[a].cols) {
        bp_err(err, BP_E_SHAPE, "entry: (%d, %d) is outside a %d x %d matrix", i, j, g->nodes[a].rows, g->nodes[a].cols);
        return -1;
    }
    bp_node id = add_node(g, BP_OP_ENTRY, a, -1, 1, 1, needs_grad(g, a, -1), NULL, NULL, NULL, err);
    if (id >= 0) {
        g->nodes[id].at[0] = i;
        g->nodes[id].at[1] = j;
    }
    return id;
}
bp_node bp_op_pow(bp_graph *g, bp_node a, double p, bp_error *err) { return unary_const(g, BP_OP_POW, a, p, err); }

bp_status bp_graph_forward(bp_graph *g, bp_error *err)
{
    const bp_op_def *ops = bp_op_table(g->dtype);
    for (int i = 0; i < g->n; i++) {
        bp_gnode *n = &g->nodes[i];
        if (n->op == BP_OP_LEAF) continue;
        bp_status s = ops[n->op].forward(g, n, err);
        if (s != BP_OK) return s;
    }
    return BP_OK;
}

bp_status bp_graph_backward(bp_graph *g, bp_node root, bp_error *err)
{
    if (!valid(g, root)) return bp_err(err, BP_E_ARG, "backward: root is not a node of this graph");
    bp_gnode *r = &g->nodes[root];
    if (!(r->flags & NODE_REQ_GRAD))
        return bp_err(err, BP_E_ARG, "backward: node %d depends on nothing that requires a gradient", root);
    size_t es = bp_dtype_size(g->dtype);
    for (int i = 0; i < g->n; i++) {   /* every node: those after the root get 0 too */
        bp_gnode *n = &g->nodes[i];
        if (n->grad) memset(n->grad, 0, (size_t)n->rows * n->cols * es);
    }
    for (size_t i = 0, N = (size_t)r->rows * r->cols; i < N; i++) {
        if (g->dtype == BP_F64) ((double *)r->grad)[i] = 1;
        else ((float *)r->grad)[i] = 1;
    }
    const bp_op_def *ops = bp_op_table(g->dtype);
    for (int i = root; i >= 0; i--) {
        bp_gnode *n = &g->nodes[i];
        if (n->op != BP_OP_LEAF && (n->flags & NODE_REQ_GRAD)) ops[n->op].backward(g, n);
    }
    return BP_OK;
}

bp_mat bp_graph_value(const bp_graph *g, bp_node n)
{
    bp_mat m = {0, 0, g->dtype, NULL};
    if (!valid(g, n)) return m;
    m.rows = g->nodes[n].rows;
    m.cols = g->nodes[n].cols;
    m.data = g->nodes[n].val;
    return m;
}

bp_mat bp_graph_grad(const bp_graph *g, bp_node n)
{
    bp_mat m = {0, 0, g->dtype, NULL};
    if (!valid(g, n) || !g->nodes[n].grad) return m;
    m.rows = g->nodes[n].rows;
    m.cols = g->nodes[n].cols;
    m.data = g->nodes[n].grad;
    return m;
}

bp_op bp_graph_node_op(const bp_graph *g, bp_node n) { return valid(g, n) ? g->nodes[n].op : BP_OP_LEAF; }

void bp_graph_node_inputs(const bp_graph *g, bp_node n, bp_node in[2])
{
    in[0] = valid(g, n) ? g->nodes[n].in[0] : -1;
    in[1] = valid(g, n) ? g->nodes[n].in[1] : -1;
}

const char *bp_graph_node_name(const bp_graph *g, bp_node n) { return valid(g, n) ? g->nodes[n].name : NULL; }
double bp_graph_node_const(const bp_graph *g, bp_node n) { return valid(g, n) ? g->nodes[n].c : 0; }
int bp_graph_node_requires_grad(const bp_graph *g, bp_node n)
{
    return valid(g, n) && (g->nodes[n].flags & NODE_REQ_GRAD);
}
