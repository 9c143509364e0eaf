/* teach/expr_draw.c - the last stage of `expr` (teach/expr.h): the forward
 * and backward passes node by node (--steps), with each node's local
 * gradients taken from its own backward function, and the graph in Graphviz
 * DOT (--graph), each node labelled with its op, sub-expression, value and
 * gradient. */
#include "teach/expr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Mark the nodes that `root` depends on (or every output's, root < 0). */
static char *reachable(const bp_expr *e, int root)
{
    int n = bp_graph_size(e->g);
    char *r = calloc((size_t)(n ? n : 1), 1);
    if (!r) return NULL;
    if (root >= 0) r[root] = 1;   /* one output: not a loop over all of them (that would be outputs^2) */
    else for (int k = 0; k < e->nout; k++) r[e->out[k]] = 1;
    for (int i = n - 1; i >= 0; i--)
        if (r[i]) {
            bp_node in[2];
            bp_graph_node_inputs(e->g, i, in);
            for (int j = 0; j < 2; j++) if (in[j] >= 0) r[in[j]] = 1;
        }
    return r;
}

/* The op with its operands: "mul(n2, n0)", "pow(n3, 2)", "x", "3". */
static const char *node_desc(const bp_expr *e, int i, char *buf, size_t n)
{
    const bp_graph *g = e->g;
    bp_node in[2];
    bp_graph_node_inputs(g, i, in);
    bp_op op = bp_graph_node_op(g, i);
    char c[32];
    if (op == BP_OP_LEAF) snprintf(buf, n, "%s", bp_graph_node_name(g, i) ? bp_graph_node_name(g, i) : "leaf");
    else if (op == BP_OP_POW) snprintf(buf, n, "pow(n%d, %s)", in[0], fmtnum(bp_graph_node_const(g, i), c));
    else if (in[1] >= 0) snprintf(buf, n, "%s(n%d, n%d)", bp_op_name(op), in[0], in[1]);
    else snprintf(buf, n, "%s(n%d)", bp_op_name(op), in[0]);
    return buf;
}

/* The sub-expression a node was built from ("" for leaves). */
static void node_text(const bp_expr *e, int i, char *buf, size_t n)
{
    int ai = e->node_ast[i];
    buf[0] = 0;
    if (ai < 0 || bp_graph_node_op(e->g, i) == BP_OP_LEAF) return;
    const anode *A = &e->ast[ai];
    int len = A->end - A->start;
    snprintf(buf, n, "%.*s%s%s", len > 80 ? 80 : len, e->src + A->start, A->def >= 0 ? "  in " : "",
             A->def >= 0 ? e->defs[A->def].name : "");
}

/* The local gradients d node / d input of node i at the current point,
 * computed by the node's own backward function seeded with 1 (so they are
 * exactly what the engine uses).  loc[j] = NAN for an input that needs none;
 * when both operands are one node (x*x) loc[0] is the total (2x). */
static void local_grads(bp_graph *g, int i, double loc[2])
{
    bp_gnode *n = &g->nodes[i];
    int nin = n->in[1] >= 0 && n->in[1] != n->in[0] ? 2 : 1;   /* x*x: one input node */
    double *d = n->grad, up = d[0], saved[2] = {0, 0}, *gi[2] = {NULL, NULL};
    loc[0] = loc[1] = NAN;
    for (int j = 0; j < nin; j++)
        if (n->in[j] >= 0 && (gi[j] = g->nodes[n->in[j]].grad)) { saved[j] = gi[j][0]; gi[j][0] = 0; }
    d[0] = 1;
    bp_op_table(g->dtype)[n->op].backward(g, n);
    d[0] = up;
    for (int j = 0; j < nin; j++)
        if (gi[j]) { loc[j] = gi[j][0]; gi[j][0] = saved[j]; }
}

/* --steps and --graph show one number per node. */
static bp_status numbers_only(const bp_expr *e, const char *what, bp_error *err)
{
    if (!e->matrix) return BP_OK;
    return bp_err(err, BP_E_ARG, "%s shows one number per node, and this expression has matrices: use it on expressions "
                  "of numbers and vectors", what);
}

bp_status bp_expr_write_steps(bp_expr *e, FILE *out, bp_error *err)
{
    if (need_eval(e, err) || numbers_only(e, "--steps", err)) return err ? err->status : BP_E_ARG;
    bp_graph *g = e->g;
    int N = bp_graph_size(g);
    char *all = reachable(e, -1), d[96], t[128], b1[32], b2[32], b3[32];
    if (!all) return bp_err(err, BP_E_NOMEM, "out of memory");
    fputs("forward pass: every node in topological order (inputs before the nodes that use them)\n", out);
    for (int i = 0; i < N; i++) {
        if (!all[i]) continue;
        bp_node in[2];
        bp_graph_node_inputs(g, i, in);
        const char *kind = bp_graph_node_op(g, i) != BP_OP_LEAF ? "" : bp_graph_node_requires_grad(g, i) ? "variable " : "constant ";
        snprintf(d, sizeof d, "%s", kind);
        node_desc(e, i, d + strlen(d), sizeof d - strlen(d));
        node_text(e, i, t, sizeof t);
        if (*t) fprintf(out, "  n%-3d %-18s = %-12s %s\n", i, d, fmtpeople(e, val1(g, i), b1), t);
        else fprintf(out, "  n%-3d %-18s = %s\n", i, d, fmtpeople(e, val1(g, i), b1));
    }
    free(all);
    for (int k = 0; k < e->nout; k++) {
        int root = e->out[k];
        char ylab[32] = "f";
        if (e->nout > 1 || bp_expr_is_vector(e)) snprintf(ylab, sizeof ylab, "f%d", k + 1);
        fprintf(out, "\nbackward pass for %s = n%d: seed d%s/dn%d = 1, then every node in reverse topological order;\n"
                     "each input receives upstream gradient x local gradient (summed over its uses)\n",
                ylab, root, ylab, root);
        if (!bp_graph_node_requires_grad(g, root)) {
            fprintf(out, "  %s is a constant: its gradient is zero\n", ylab);
            continue;
        }
        bp_status s = bp_graph_backward(g, root, err);
        char *r = s ? NULL : reachable(e, root);
        if (s || !r) { if (!s) s = bp_err(err, BP_E_NOMEM, "out of memory"); return s; }
        for (int i = root; i >= 0; i--) {
            if (!r[i] || !bp_graph_node_requires_grad(g, i)) continue;
            bp_op op = bp_graph_node_op(g, i);
            double up = grad1(g, i, root);
            if (op == BP_OP_LEAF) {
                fprintf(out, "  n%-3d %-18s d%s/d%s = %s\n", i, bp_graph_node_name(g, i), ylab, bp_graph_node_name(g, i),
                        fmtpeople(e, up, b1));
                continue;
            }
            bp_node in[2];
            double lg[2];
            bp_graph_node_inputs(g, i, in);
            local_grads(g, i, lg);
            fprintf(out, "  n%-3d %-18s upstream d%s/dn%d = %s\n", i, node_desc(e, i, d, sizeof d), ylab, i, fmtpeople(e, up, b1));
            for (int j = 0; j < 2; j++) {
                if (in[j] < 0 || isnan(lg[j])) continue;
                const char *note = "";
                if (op == BP_OP_MAX || op == BP_OP_MIN) {
                    double a = val1(g, in[0]), bb = val1(g, in[1]);
                    note = a == bb ? (e->kinks.tie == BP_TIE_FIRST ? "   (tie: all of it to the first input, --tie first)"
                                                                   : "   (tie: the gradient is split half and half)")
                         : (j == 0) == ((op == BP_OP_MAX) == (a > bb)) ? "   (the winner takes the gradient)"
                                                                       : "   (the loser gets nothing)";
                } else if (in[1] == in[0]) note = "   (both operands are this node)";
                else if (op == BP_OP_RELU && val1(g, in[0]) == 0)
                    note = e->kinks.relu_at_zero ? "   (at the kink: relu'(0) = 1, --relu-grad-at-zero 1)"
                                                 : "   (at the kink: relu'(0) = 0, as PyTorch)";
                fprintf(out, "         -> n%-3d local dn%d/dn%d = %-10s product %s x %s = %s%s\n", in[j], i, in[j],
                        fmtpeople(e, lg[j], b1), fmtpeople(e, up, b2), fmtpeople(e, lg[j], b3), fmtpeople(e, up * lg[j], t), note);
            }
        }
        free(r);
        fprintf(out, "  gradient of %s: ", ylab);
        for (int j = 0; j < e->nwrt; j++)
            fprintf(out, "%sd/d%s = %s", j ? ", " : "", e->vars[e->wrt[j]], fmtpeople(e, grad1(g, e->var_node[e->wrt[j]], root), b1));
        fputc('\n', out);
    }
    fputc('\n', out);
    return io(out, err);
}

static void dot_str(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', out);
        fputc(*s, out);
    }
}

bp_status bp_expr_write_dot(bp_expr *e, FILE *out, bp_error *err)
{
    if (need_eval(e, err) || numbers_only(e, "--graph", err)) return err ? err->status : BP_E_ARG;
    bp_graph *g = e->g;
    int N = bp_graph_size(g), no = e->nout;
    char *r = reachable(e, -1), d[96], t[128], b1[32];
    double *G = calloc((size_t)N * (size_t)no + 1, sizeof *G);   /* G[i*no+k] = d out_k / d node i */
    if (!r || !G) { free(r); free(G); return bp_err(err, BP_E_NOMEM, "out of memory"); }
    for (int k = 0; k < no; k++) {
        if (!bp_graph_node_requires_grad(g, e->out[k])) continue;
        bp_status s = bp_graph_backward(g, e->out[k], err);
        if (s) { free(r); free(G); return s; }
        for (int i = 0; i <= e->out[k]; i++) G[(size_t)i * no + k] = grad1(g, i, e->out[k]);
    }
    fputs("// backprop expr: the computation graph (render with: dot -Tsvg)\n"
          "digraph expr {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=11];\n", out);
    for (int i = 0; i < N; i++) {
        if (!r[i]) continue;
        bp_op op = bp_graph_node_op(g, i);
        int isvar = op == BP_OP_LEAF && bp_graph_node_requires_grad(g, i);
        fprintf(out, "  n%d [shape=%s, label=\"", i, op == BP_OP_LEAF ? (isvar ? "ellipse" : "plaintext") : "box");
        if (op == BP_OP_LEAF) dot_str(out, bp_graph_node_name(g, i) ? bp_graph_node_name(g, i) : "leaf");
        else {
            fprintf(out, "n%d: ", i);
            dot_str(out, node_desc(e, i, d, sizeof d));
            node_text(e, i, t, sizeof t);
            fputs("\\n", out);
            dot_str(out, t);
        }
        if (op != BP_OP_LEAF || isvar) fprintf(out, "\\nvalue %s", fmtpeople(e, val1(g, i), b1));
        if (bp_graph_node_requires_grad(g, i)) {
            fputs("\\ngrad ", out);
            if (no > 1) fputc('[', out);
            for (int k = 0; k < no; k++) fprintf(out, "%s%s", k ? ", " : "", fmtpeople(e, G[(size_t)i * no + k], b1));
            if (no > 1) fputc(']', out);
        }
        fputc('"', out);
        for (int k = 0; k < no; k++)
            if (e->out[k] == i) { fputs(", peripheries=2", out); break; }
        fputs("];\n", out);
    }
    for (int i = 0; i < N; i++) {
        if (!r[i]) continue;
        bp_node in[2];
        bp_graph_node_inputs(g, i, in);
        bp_op op = bp_graph_node_op(g, i);
        int ordered = op == BP_OP_SUB || op == BP_OP_DIV;   /* say which operand is which */
        for (int j = 0; j < 2; j++)
            if (in[j] >= 0) fprintf(out, "  n%d -> n%d%s;\n", in[j], i, ordered ? (j ? " [label=\"b\"]" : " [label=\"a\"]") : "");
    }
    for (int k = 0; k < no; k++) {
        char lab[32] = "f";
        if (no > 1 || bp_expr_is_vector(e)) snprintf(lab, sizeof lab, "f%d", k + 1);
        fprintf(out, "  out%d [shape=plaintext, label=\"%s\"];\n  n%d -> out%d;\n", k, lab, e->out[k], k);
    }
    fputs("}\n", out);
    free(r);
    free(G);
    return io(out, err);
}
