/* teach/expr_report.c - the fourth stage of `expr` (teach/expr.h): after
 * bp_expr_eval, the value and the gradient or Jacobian as text and as one
 * line of JSON, and the chain rule of a composition written out. */
#include "teach/expr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void json_num(FILE *out, double v)
{
    char b[32];
    fputs(isfinite(v) ? fmtnum(v, b) : "null", out);
}

static void json_row(FILE *out, const double *v, int n)
{
    fputc('[', out);
    for (int i = 0; i < n; i++) { if (i) fputs(", ", out); json_num(out, v[i]); }
    fputc(']', out);
}

static void json_mat(FILE *out, const double *m, int rows, int cols)
{
    fputc('[', out);
    for (int i = 0; i < rows; i++) { if (i) fputs(", ", out); json_row(out, m + (size_t)i * cols, cols); }
    fputc(']', out);
}

static void json_names(FILE *out, char *const *names, const int *idx, int n)
{
    fputc('[', out);
    for (int i = 0; i < n; i++) fprintf(out, "%s\"%s\"", i ? ", " : "", names[idx ? idx[i] : i]);
    fputc(']', out);
}

/* The shape of wrt variable j; is every wrt variable a number? */
static void var_shape(const bp_expr *e, int j, int *r, int *c) { bp_expr_var_shape(e, j, r, c); }
static int numbers_only(const bp_expr *e)
{
    for (int j = 0; j < e->nwrt; j++) {
        int r, c;
        var_shape(e, j, &r, &c);
        if (r != 1 || c != 1) return 0;
    }
    return 1;
}
/* A scalar result: one number, not a vector. */
static int scalar_result(const bp_expr *e) { return !e->out_vec && e->out_rows == 1 && e->out_cols == 1; }

/* A matrix as JSON the way values are written: a number (1x1), a flat list
 * (a column, n x 1) or a list of rows. */
static void json_shaped(FILE *out, const double *m, int rows, int cols, int vec)
{
    if (rows == 1 && cols == 1 && !vec) json_num(out, m[0]);
    else if (cols == 1) json_row(out, m, rows);
    else json_mat(out, m, rows, cols);
}

/* The derivatives of output k with respect to every wrt variable, each
 * shaped like its variable. */
static void json_grads(FILE *out, const bp_expr *e, int k)
{
    const double *row = e->jac + (size_t)k * e->jcol[e->nwrt];
    fputc('[', out);
    for (int j = 0; j < e->nwrt; j++) {
        int r, c;
        var_shape(e, j, &r, &c);
        if (j) fputs(", ", out);
        json_shaped(out, row + e->jcol[j], r, c, 0);
    }
    fputc(']', out);
}

bp_status bp_expr_write_json(const bp_expr *e, int chain, FILE *out, bp_error *err)
{
    if (need_eval(e, err)) return err ? err->status : BP_E_ARG;
    fputs("{\"variables\": ", out);
    json_names(out, e->vars, e->wrt, e->nwrt);
    fputs(", \"value\": ", out);
    json_shaped(out, e->val, e->out_rows, e->out_cols, e->out_vec);
    if (scalar_result(e)) {
        fputs(", \"gradient\": ", out);
        if (numbers_only(e)) json_row(out, e->jac, e->nwrt);
        else json_grads(out, e, 0);
    } else {
        fputs(", \"jacobian\": ", out);
        if (numbers_only(e)) json_mat(out, e->jac, e->nout, e->nwrt);
        else {
            fputc('[', out);
            for (int k = 0; k < e->nout; k++) { if (k) fputs(", ", out); json_grads(out, e, k); }
            fputc(']', out);
        }
    }
    if (chain && bp_expr_is_composition(e) && e->jf) {
        const edef *D = &e->defs[e->ast[e->root].idx];
        double *g = malloc((size_t)e->nargs * sizeof *g);
        if (!g) return bp_err(err, BP_E_NOMEM, "out of memory");
        for (int i = 0; i < e->nargs; i++) g[i] = val1(e->g, e->args[i]);
        fprintf(out, ", \"chain\": {\"outer\": \"%s\", \"parameters\": ", D->name);
        json_names(out, D->params, NULL, D->nparams);
        fputs(", \"inner_value\": ", out);
        json_row(out, g, e->nargs);
        fputs(", \"jacobian_outer\": ", out);
        json_mat(out, e->jf, e->nout, e->nargs);
        fputs(", \"jacobian_inner\": ", out);
        json_mat(out, e->jg, e->nargs, e->nwrt);
        fputs(", \"product\": ", out);
        json_mat(out, e->jp, e->nout, e->nwrt);
        fputc('}', out);
        free(g);
    }
    fputs("}\n", out);
    return io(out, err);
}

/* A matrix as aligned rows "[ a  b ]": the first line after what the caller
 * printed, the others starting with `indent`. */
static void text_mat_at(const bp_expr *e, FILE *out, const char *indent, const double *m, int rows, int cols, int first)
{
    char b[32];
    int w[256] = {0};
    for (int j = 0; j < cols && j < 256; j++)
        for (int i = 0; i < rows; i++) {
            int l = (int)strlen(fmtpeople(e, m[(size_t)i * cols + j], b));
            if (l > w[j]) w[j] = l;
        }
    for (int i = 0; i < rows; i++) {
        fprintf(out, "%s[", i || !first ? indent : "");
        for (int j = 0; j < cols; j++) fprintf(out, " %*s", j < 256 ? w[j] : 0, fmtpeople(e, m[(size_t)i * cols + j], b));
        fputs(" ]\n", out);
    }
}
static void text_mat(const bp_expr *e, FILE *out, const char *indent, const double *m, int rows, int cols)
{
    text_mat_at(e, out, indent, m, rows, cols, 0);
}

static void text_names(FILE *out, char *const *names, const int *idx, int n)
{
    for (int i = 0; i < n; i++) fprintf(out, "%s%s", i ? ", " : "", names[idx ? idx[i] : i]);
}

/* "d/dW = " and its derivative shaped like W (rows aligned under the first),
 * for each wrt variable, each line but the first starting with `indent`. */
static void text_grads(const bp_expr *e, FILE *out, const char *indent, int k)
{
    const double *row = e->jac + (size_t)k * e->jcol[e->nwrt];
    char b[32], pad[256];
    for (int j = 0; j < e->nwrt; j++) {
        int r, c;
        var_shape(e, j, &r, &c);
        const char *name = e->vars[e->wrt[j]];
        if (j) fputs(indent, out);
        if (r == 1 && c == 1) { fprintf(out, "d/d%s = %s\n", name, fmtpeople(e, row[e->jcol[j]], b)); continue; }
        fprintf(out, "d/d%s = ", name);
        snprintf(pad, sizeof pad, "%s%*s", indent, (int)strlen(name) + 6, "");
        text_mat_at(e, out, pad, row + e->jcol[j], r, c, 1);
    }
    if (!e->nwrt) fputs("(no variables)\n", out);
}

const char *bp_expr_kink(const bp_expr *e, int i)
{
    const bp_graph *g = e->g;
    bp_op op = bp_graph_node_op(g, i);
    bp_node in[2];
    bp_graph_node_inputs(g, i, in);
    if (!bp_graph_node_requires_grad(g, i) || (op != BP_OP_RELU && op != BP_OP_MAX && op != BP_OP_MIN)) return NULL;
    bp_mat a = bp_graph_value(g, in[0]), b = op == BP_OP_RELU ? a : bp_graph_value(g, in[1]);
    int kink = 0;   /* some entry at the kink: a relu's input 0, max's or min's arguments equal */
    for (int r = 0; r < a.rows && !kink; r++)
        for (int c = 0; c < a.cols && !kink; c++) {
            double x = bp_mat_get(&a, r, c);
            kink = op == BP_OP_RELU ? x == 0 : r < b.rows && c < b.cols && x == bp_mat_get(&b, r, c);
        }
    if (!kink) return NULL;
    if (op == BP_OP_RELU)
        return e->kinks.relu_at_zero ? "relu'(0) = 1 (--relu-grad-at-zero 1; PyTorch takes 0)"
                                     : "relu'(0) = 0, as PyTorch (--relu-grad-at-zero 1 takes 1)";
    return e->kinks.tie == BP_TIE_FIRST
               ? "a tie: all of the gradient to the first argument (--tie first; PyTorch splits it half and half)"
               : "a tie: half of the gradient to each argument, as PyTorch (--tie first gives all of it to the first)";
}

/* One line per sub-expression whose node lies on a kink: the convention used there. */
static void kink_notes(const bp_expr *e, FILE *out)
{
    int N = bp_graph_size(e->g), shown = 0, more = 0, last = -1;
    for (int i = 0; i < N; i++) {
        const char *what = bp_expr_kink(e, i);
        int ai = e->node_ast[i];
        if (!what || ai < 0 || ai == last) continue;
        int seen = 0;   /* a definition called twice has its body's nodes twice: one line each sub-expression */
        for (int j = 0; j < i && !seen; j++) seen = e->node_ast[j] == ai && bp_expr_kink(e, j);
        if (seen) continue;
        last = ai;
        if (shown == 5) { more++; continue; }
        const anode *A = &e->ast[ai];
        char l[48];
        int len = A->end - A->start;
        fprintf(out, "%s %.*s%s at %s%s%s: %s\n", shown ? "         " : "kinks    ", len > 60 ? 60 : len,
                e->src + A->start, len > 60 ? "..." : "", bp_expr_loc(e->src, A->start, l, sizeof l),
                A->def >= 0 ? " in the body of " : "", A->def >= 0 ? e->defs[A->def].name : "", what);
        shown++;
    }
    if (more) fprintf(out, "          and %d more sub-expression%s at a kink\n", more, more == 1 ? "" : "s");
}

bp_status bp_expr_write_text(const bp_expr *e, FILE *out, bp_error *err)
{
    if (need_eval(e, err)) return err ? err->status : BP_E_ARG;
    char b[32];
    const char *ind = "          ";
    if (scalar_result(e)) fprintf(out, "value     %s\n", fmtpeople(e, e->val[0], b));
    else if (e->out_vec) {
        fputs("value     [", out);
        for (int i = 0; i < e->nout; i++) fprintf(out, "%s%s", i ? ", " : "", fmtpeople(e, e->val[i], b));
        fputs("]\n", out);
    } else {
        fputs("value     ", out);
        text_mat_at(e, out, ind, e->val, e->out_rows, e->out_cols, 1);
    }
    if (scalar_result(e) && numbers_only(e)) {
        for (int j = 0; j < e->nwrt; j++)
            fprintf(out, "%s d/d%s = %s\n", j ? "         " : "gradient ", e->vars[e->wrt[j]], fmtpeople(e, e->jac[j], b));
        if (!e->nwrt) fputs("gradient  (no variables)\n", out);
    } else if (scalar_result(e)) {
        fputs("gradient  ", out);
        text_grads(e, out, ind, 0);
    } else if (numbers_only(e)) {
        if (e->out_vec) fprintf(out, "Jacobian  (rows: the %d output%s; columns: ", e->nout, e->nout == 1 ? "" : "s");
        else fprintf(out, "Jacobian  (rows: the %d entries of the %d x %d value, row by row; columns: ", e->nout, e->out_rows,
                     e->out_cols);
        text_names(out, e->vars, e->wrt, e->nwrt);
        fputs(")\n", out);
        text_mat(e, out, ind, e->jac, e->nout, e->nwrt);
    } else {
        fputs("Jacobian  (each entry of the value, and its derivatives shaped like the variables)\n", out);
        for (int k = 0; k < e->nout; k++) {
            char head[64];
            int n = snprintf(head, sizeof head, "  [%d][%d] = %s:  ", k / e->out_cols, k % e->out_cols, fmtpeople(e, e->val[k], b));
            char pad[96];
            snprintf(pad, sizeof pad, "%*s", n, "");
            fputs(head, out);
            text_grads(e, out, pad, k);
        }
    }
    kink_notes(e, out);
    return io(out, err);
}

bp_status bp_expr_write_chain(const bp_expr *e, FILE *out, bp_error *err)
{
    if (need_eval(e, err)) return err ? err->status : BP_E_ARG;
    if (!bp_expr_is_composition(e))
        return bp_err(err, BP_E_ARG, "--chain needs a composition F(G(...)) whose outer function F is a definition");
    if (!e->jf) return bp_err(err, BP_E_ARG, "--chain writes out the chain rule for numbers and vectors, not for matrices");
    const anode *R = &e->ast[e->root];
    const edef *D = &e->defs[R->idx];
    char b[32];
    /* the inner function's name when the argument is one call G(...) */
    const char *inner = R->nkid == 1 && e->ast[R->kid[0]].k == A_CALL ? e->defs[e->ast[R->kid[0]].idx].name : "G";
    fprintf(out, "chain rule for %.*s:  J = J_%s(%s) . J_%s\n\n", R->end - R->start, e->src + R->start, D->name,
            inner, inner);
    fprintf(out, "  %s = [", inner);
    for (int i = 0; i < e->nargs; i++) fprintf(out, "%s%s", i ? ", " : "", fmtpeople(e, val1(e->g, e->args[i]), b));
    fprintf(out, "]   (the arguments of %s, bound to its parameters ", D->name);
    text_names(out, D->params, NULL, D->nparams);
    fprintf(out, ")\n\n  J_%s at %s   (rows: the %d outputs of %s; columns: ", D->name, inner, e->nout, D->name);
    text_names(out, D->params, NULL, D->nparams);
    fputs(")\n", out);
    text_mat(e, out, "    ", e->jf, e->nout, e->nargs);
    fprintf(out, "\n  J_%s   (rows: ", inner);
    text_names(out, D->params, NULL, D->nparams);
    fputs("; columns: ", out);
    text_names(out, e->vars, e->wrt, e->nwrt);
    fputs(")\n", out);
    text_mat(e, out, "    ", e->jg, e->nargs, e->nwrt);
    fprintf(out, "\n  J_%s . J_%s   (rows: outputs; columns: ", D->name, inner);
    text_names(out, e->vars, e->wrt, e->nwrt);
    fputs(")\n", out);
    text_mat(e, out, "    ", e->jp, e->nout, e->nwrt);
    double worst = 0;
    for (int i = 0; i < e->nout * e->nwrt; i++) {
        double d = fabs(e->jp[i] - e->jac[i]) / (1 + fabs(e->jac[i]));
        if (d > worst || isnan(d)) worst = d;
    }
    fprintf(out, "\n  backprop through the whole graph gives the same Jacobian: %s (largest relative difference %.3g)\n\n",
            worst <= 1e-12 ? "yes" : "NO", worst);
    return io(out, err);
}
