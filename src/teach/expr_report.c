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

bp_status bp_expr_write_json(const bp_expr *e, int chain, FILE *out, bp_error *err)
{
    if (need_eval(e, err)) return err ? err->status : BP_E_ARG;
    fputs("{\"variables\": ", out);
    json_names(out, e->vars, e->wrt, e->nwrt);
    fputs(", \"value\": ", out);
    if (bp_expr_is_vector(e)) {
        json_row(out, e->val, e->nout);
        fputs(", \"jacobian\": ", out);
        json_mat(out, e->jac, e->nout, e->nwrt);
    } else {
        json_num(out, e->val[0]);
        fputs(", \"gradient\": ", out);
        json_row(out, e->jac, e->nwrt);
    }
    if (chain && bp_expr_is_composition(e)) {
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

/* A matrix as aligned rows "[ a  b ]", each line starting with `indent`. */
static void text_mat(const bp_expr *e, FILE *out, const char *indent, const double *m, int rows, int cols)
{
    char b[32];
    int w[256] = {0};
    for (int j = 0; j < cols && j < 256; j++)
        for (int i = 0; i < rows; i++) {
            int l = (int)strlen(fmtpeople(e, m[(size_t)i * cols + j], b));
            if (l > w[j]) w[j] = l;
        }
    for (int i = 0; i < rows; i++) {
        fprintf(out, "%s[", indent);
        for (int j = 0; j < cols; j++) fprintf(out, " %*s", j < 256 ? w[j] : 0, fmtpeople(e, m[(size_t)i * cols + j], b));
        fputs(" ]\n", out);
    }
}

static void text_names(FILE *out, char *const *names, const int *idx, int n)
{
    for (int i = 0; i < n; i++) fprintf(out, "%s%s", i ? ", " : "", names[idx ? idx[i] : i]);
}

bp_status bp_expr_write_text(const bp_expr *e, FILE *out, bp_error *err)
{
    if (need_eval(e, err)) return err ? err->status : BP_E_ARG;
    char b[32];
    if (!bp_expr_is_vector(e)) {
        fprintf(out, "value     %s\n", fmtpeople(e, e->val[0], b));
        for (int j = 0; j < e->nwrt; j++)
            fprintf(out, "%s d/d%s = %s\n", j ? "         " : "gradient ", e->vars[e->wrt[j]], fmtpeople(e, e->jac[j], b));
        if (!e->nwrt) fputs("gradient  (no variables)\n", out);
    } else {
        fputs("value     [", out);
        for (int i = 0; i < e->nout; i++) fprintf(out, "%s%s", i ? ", " : "", fmtpeople(e, e->val[i], b));
        fprintf(out, "]\nJacobian  (rows: the %d output%s; columns: ", e->nout, e->nout == 1 ? "" : "s");
        text_names(out, e->vars, e->wrt, e->nwrt);
        fputs(")\n", out);
        text_mat(e, out, "          ", e->jac, e->nout, e->nwrt);
    }
    return io(out, err);
}

bp_status bp_expr_write_chain(const bp_expr *e, FILE *out, bp_error *err)
{
    if (need_eval(e, err)) return err ? err->status : BP_E_ARG;
    if (!bp_expr_is_composition(e))
        return bp_err(err, BP_E_ARG, "--chain needs a composition F(G(...)) whose outer function F is a definition");
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
