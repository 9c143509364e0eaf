/* teach/expr_eval.c - the third stage of `expr` (teach/expr.h): the point
 * (variables' values, the variables to differentiate by), and the
 * evaluation: value and Jacobian from the compiled graph, and for a
 * composition F(G(...)) the chain rule's factors J_F at G, J_G and their
 * product, each by its own backward passes. */
#include "teach/expr.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- accessors and the point -------------------------------------------------- */

int bp_expr_nwrt(const bp_expr *e) { return e->nwrt; }
const char *bp_expr_wrt(const bp_expr *e, int j) { return j >= 0 && j < e->nwrt ? e->vars[e->wrt[j]] : NULL; }
const bp_graph *bp_expr_graph(const bp_expr *e) { return e->g; }
double bp_expr_value(const bp_expr *e, int i) { return e->evaluated && i >= 0 && i < e->nout ? e->val[i] : NAN; }
double bp_expr_jacobian(const bp_expr *e, int i, int j)
{
    return e->evaluated && i >= 0 && i < e->nout && j >= 0 && j < e->nwrt ? e->jac[i * e->nwrt + j] : NAN;
}

/* "x, y" into buf: the variables, for messages. */
static const char *var_list(const bp_expr *e, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < e->nvars && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? ", " : "", e->vars[i]);
    if (!e->nvars) snprintf(buf, n, "none");
    return buf;
}

static int var_index(const bp_expr *e, const char *s, size_t n)
{
    for (int i = 0; i < e->nvars; i++)
        if (strlen(e->vars[i]) == n && !strncmp(e->vars[i], s, n)) return i;
    return -1;
}

static bp_status no_var(const bp_expr *e, const char *s, size_t n, bp_error *err)
{
    char vl[256];
    return bp_err(err, BP_E_VALUE, "the expression has no variable '%.*s' (its variables: %s)",
                  (int)(n > 60 ? 60 : n), s, var_list(e, vl, sizeof vl));
}

bp_status bp_expr_set(bp_expr *e, const char *name, double v, bp_error *err)
{
    int i = var_index(e, name, strlen(name));
    if (i < 0) return no_var(e, name, strlen(name), err);
    if (!isfinite(v)) return bp_err(err, BP_E_VALUE, "value of '%s' is not finite", name);
    e->var_val[i] = v;
    e->var_set[i] = 1;
    return BP_OK;
}

static const char *skip_ws(const char *s) { while (*s == ' ' || *s == '\t') s++; return s; }

bp_status bp_expr_set_point(bp_expr *e, const char *a, bp_error *err)
{
    const char *s = a;
    unsigned char *seen = calloc(nz(e->nvars), 1);   /* a name given twice in one list is a mistake */
    if (!seen) return bp_err(err, BP_E_NOMEM, "out of memory");
    bp_status st = BP_OK;
    for (;;) {
        s = skip_ws(s);
        const char *n0 = s;
        while (isalnum((unsigned char)*s) || *s == '_') s++;
        size_t nl = (size_t)(s - n0);
        s = skip_ws(s);
        if (!nl || *s != '=') {
            st = bp_err(err, BP_E_PARSE, "expected NAME=NUMBER at '%.40s' in '%.200s'", n0, a);
            break;
        }
        char *end;
        errno = 0;
        double v = strtod(s + 1, &end);
        int range = errno == ERANGE;
        const char *after = skip_ws(end);
        if (end == s + 1 || (*after && *after != ',')) {
            st = bp_err(err, BP_E_PARSE, "expected a number after '%.*s=' in '%.200s'", (int)(nl > 60 ? 60 : nl), n0, a);
            break;
        }
        int i = var_index(e, n0, nl);
        if (i < 0) { st = no_var(e, n0, nl, err); break; }
        if (!isfinite(v)) { st = bp_err(err, BP_E_VALUE, "value of '%s' is not finite", e->vars[i]); break; }
        if (range && v == 0) {
            st = bp_err(err, BP_E_VALUE, "value of '%s' ('%.*s') is too small for a double: it would be 0", e->vars[i],
                        (int)(end - s - 1 > 40 ? 40 : end - s - 1), s + 1);
            break;
        }
        if (seen[i]) { st = bp_err(err, BP_E_VALUE, "'%s' is given twice in '%.200s'", e->vars[i], a); break; }
        seen[i] = 1;
        e->var_val[i] = v;
        e->var_set[i] = 1;
        if (!*after) break;
        s = after + 1;
    }
    free(seen);
    return st;
}

bp_status bp_expr_set_wrt(bp_expr *e, const char *names, bp_error *err)
{
    int n = 0;
    const char *s = names;
    int *w = malloc(nz(e->nvars) * sizeof *w);
    if (!w) return bp_err(err, BP_E_NOMEM, "out of memory");
    for (;;) {
        s = skip_ws(s);
        const char *n0 = s;
        while (*s && *s != ',' && *s != ' ' && *s != '\t') s++;
        size_t nl = (size_t)(s - n0);
        s = skip_ws(s);
        int i = nl ? var_index(e, n0, nl) : -1;
        bp_status st = BP_OK;
        if (!nl) st = bp_err(err, BP_E_VALUE, "empty name in the variable list '%.200s'", names);
        else if (i < 0) st = no_var(e, n0, nl, err);
        for (int j = 0; !st && j < n; j++)
            if (w[j] == i) st = bp_err(err, BP_E_VALUE, "variable '%s' is listed twice", e->vars[i]);
        if (st) { free(w); return st; }
        w[n++] = i;
        if (!*s) break;
        if (*s != ',') { free(w); return bp_err(err, BP_E_VALUE, "expected ',' in the variable list '%.200s'", names); }
        s++;
    }
    free(e->wrt);
    e->wrt = w;
    e->nwrt = n;
    e->evaluated = 0;
    return BP_OK;
}

/* ---- evaluation ------------------------------------------------------------------ */

bp_status bp_expr_eval(bp_expr *e, int *where, bp_error *err)
{
    bp_error scratch;
    if (!err) err = &scratch;
    if (where) *where = -1;
    bp_expr_clear_eval(e);
    for (int i = 0; i < e->nvars; i++)
        if (!e->var_set[i]) {
            char l[48];
            if (where) *where = e->var_pos[i];
            return bp_err(err, BP_E_VALUE, "no value given for variable '%s' (first used at %s)", e->vars[i],
                          bp_expr_loc(e->src, e->var_pos[i], l, sizeof l));
        }
    int no = e->ast[e->root].len, nw = e->nwrt, comp = bp_expr_is_composition(e);
    bp_status s = bp_expr_compile(e, where, err);
    if (s) {
        bp_expr_clear_eval(e);
        return s;
    }
    int nodes = bp_graph_size(e->g);
    double work = (double)no * nodes;
    if (work > MAX_WORK) {
        bp_expr_clear_eval(e);
        return bp_err(err, BP_E_VALUE, "the Jacobian of %d outputs over a graph of %d nodes is %.3g steps of work, "
                      "more than the limit of %.0f (deeply nested vector definitions?)", no, nodes, work, MAX_WORK);
    }
    for (int k = 0; k < no; k++) e->val[k] = val1(e->g, e->out[k]);
    int *cols = malloc(nz(nw) * sizeof *cols);
    if (!cols) s = bp_err(err, BP_E_NOMEM, "out of memory");
    for (int j = 0; !s && j < nw; j++) cols[j] = e->var_node[e->wrt[j]];
    if (!s) s = bp_expr_graph_jacobian(e->g, e->out, no, cols, nw, e->jac, err);
    if (!s && comp) {
        /* chain rule: J_F at G (outputs x args), J_G (args x wrt), their product */
        int na = e->nargs = e->defs[e->ast[e->root].idx].nparams;
        e->jf = malloc(nz(no * na) * sizeof *e->jf);
        e->jg = malloc(nz(na * nw) * sizeof *e->jg);
        e->jp = calloc(nz(no * nw), sizeof *e->jp);
        if (!e->args || !e->jf || !e->jg || !e->jp) s = bp_err(err, BP_E_NOMEM, "out of memory");
        if (!s) s = bp_expr_graph_jacobian(e->g, e->args, na, cols, nw, e->jg, err);
        if (!s) s = bp_expr_compile_outer(e, err);
        for (int i = 0; !s && i < no; i++)
            for (int j = 0; j < nw; j++)
                for (int k = 0; k < na; k++) e->jp[i * nw + j] += e->jf[i * na + k] * e->jg[k * nw + j];
    }
    free(cols);
    if (s) { bp_expr_clear_eval(e); return s; }
    e->evaluated = 1;
    return BP_OK;
}

bp_status bp_expr_chain(const bp_expr *e, bp_mat *jf, bp_mat *jg, bp_mat *product, bp_error *err)
{
    if (!e->evaluated) return bp_err(err, BP_E_ARG, "the expression has not been evaluated");
    if (!bp_expr_is_composition(e))
        return bp_err(err, BP_E_ARG, "the chain rule needs a composition F(G(...)) of a definition F");
    *jf = (bp_mat){e->nout, e->nargs, BP_F64, e->jf};
    *jg = (bp_mat){e->nargs, e->nwrt, BP_F64, e->jg};
    *product = (bp_mat){e->nout, e->nwrt, BP_F64, e->jp};
    return BP_OK;
}
