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
void bp_expr_set_kinks(bp_expr *e, const bp_kinks *k)
{
    e->kinks = bp_kinks_or_default(k);
    e->evaluated = 0;
}
double bp_expr_value(const bp_expr *e, int i) { return e->evaluated && i >= 0 && i < e->nout ? e->val[i] : NAN; }
double bp_expr_jacobian(const bp_expr *e, int i, int j) { return bp_expr_derivative(e, i, j, 0, 0); }
double bp_expr_derivative(const bp_expr *e, int i, int j, int r, int c)
{
    if (!e->evaluated || i < 0 || i >= e->nout || j < 0 || j >= e->nwrt) return NAN;
    int v = e->wrt[j], rows = e->var_mat[v] ? e->var_rows[v] : 1, cols = e->var_mat[v] ? e->var_cols[v] : 1;
    if (r < 0 || c < 0 || r >= rows || c >= cols) return NAN;
    return e->jac[(size_t)i * e->jcol[e->nwrt] + e->jcol[j] + (size_t)r * cols + c];
}
void bp_expr_shape(const bp_expr *e, int *rows, int *cols)
{
    *rows = e->evaluated ? e->out_rows : e->ast[e->root].len;
    *cols = e->evaluated ? e->out_cols : 1;
}
void bp_expr_var_shape(const bp_expr *e, int j, int *rows, int *cols)
{
    int v = j >= 0 && j < e->nwrt ? e->wrt[j] : -1;
    *rows = v >= 0 && e->var_mat[v] ? e->var_rows[v] : v >= 0;
    *cols = v >= 0 && e->var_mat[v] ? e->var_cols[v] : v >= 0;
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

/* Give variable i the rows x cols values d (copied; a 1x1 is a number). */
static bp_status set_var(bp_expr *e, int i, int rows, int cols, const double *d, bp_error *err)
{
    for (size_t k = 0; k < (size_t)rows * cols; k++)
        if (!isfinite(d[k])) return bp_err(err, BP_E_VALUE, "value of '%s' is not finite", e->vars[i]);
    free(e->var_mat[i]);
    e->var_mat[i] = NULL;
    e->var_rows[i] = rows;
    e->var_cols[i] = cols;
    if (rows == 1 && cols == 1) e->var_val[i] = d[0];
    else {
        if (!(e->var_mat[i] = malloc((size_t)rows * cols * sizeof *d))) return bp_err(err, BP_E_NOMEM, "out of memory");
        memcpy(e->var_mat[i], d, (size_t)rows * cols * sizeof *d);
    }
    e->var_set[i] = 1;
    return BP_OK;
}

bp_status bp_expr_set(bp_expr *e, const char *name, double v, bp_error *err)
{
    return bp_expr_set_matrix(e, name, 1, 1, &v, err);
}

bp_status bp_expr_set_matrix(bp_expr *e, const char *name, int rows, int cols, const double *data, bp_error *err)
{
    int i = var_index(e, name, strlen(name));
    if (i < 0) return no_var(e, name, strlen(name), err);
    if (rows < 1 || cols < 1) return bp_err(err, BP_E_VALUE, "value of '%s' is empty (%d x %d)", name, rows, cols);
    return set_var(e, i, rows, cols, data, err);
}

static const char *skip_ws(const char *s) { while (*s == ' ' || *s == '\t') s++; return s; }

/* The end of a variable's name at s (as the lexer reads one: an index W[1]
 * and a prime g' included). */
static const char *name_end(const char *s)
{
    while (isalnum((unsigned char)*s) || *s == '_') s++;
    if (*s == '[' && isdigit((unsigned char)s[1])) {
        const char *k = s + 1;
        while (isalnum((unsigned char)*k)) k++;
        if (*k == ']') s = k + 1;
    }
    if (*s == '\'') s++;
    return s;
}

/* A growing list of numbers. */
typedef struct numlist { double *v; int n, cap; } numlist;
static int push(numlist *l, double v)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        double *nv = cap > (1 << 26) ? NULL : realloc(l->v, (size_t)cap * sizeof *nv);
        if (!nv) return -1;
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
    return 0;
}

/* A value "1.5", "[1, 2]" (a column) or "[[1, 2], [3, 4]]" (by rows) for the
 * variable named n0 (nl bytes) at *ps; its numbers into l, its shape into
 * *rows x *cols; *ps moves past it. */
static bp_status read_value(const char **ps, const char *n0, size_t nl, const char *all, numlist *l, int *rows, int *cols,
                            bp_error *err)
{
    const char *s = skip_ws(*ps);
    int nm = (int)(nl > 60 ? 60 : nl), depth = *s == '[' ? (*skip_ws(s + 1) == '[' ? 2 : 1) : 0;
    *rows = *cols = 0;
    if (depth) s = skip_ws(s + 1);
    for (int r = 0;; r++) {
        int c = 0;
        if (depth == 2) {
            if (*s != '[') return bp_err(err, BP_E_PARSE, "expected '[' to start row %d of '%.*s' in '%.200s'", r + 1, nm, n0, all);
            s = skip_ws(s + 1);
        }
        for (;; c++) {
            char *end;
            errno = 0;
            double v = strtod(s, &end);
            if (end == s) return bp_err(err, BP_E_PARSE, "expected a number after '%.*s=' in '%.200s'", nm, n0, all);
            if (errno == ERANGE && v == 0)
                return bp_err(err, BP_E_VALUE, "value of '%.*s' ('%.*s') is too small for a double: it would be 0", nm, n0,
                              (int)(end - s > 40 ? 40 : end - s), s);
            if (!isfinite(v)) return bp_err(err, BP_E_VALUE, "value of '%.*s' is not finite", nm, n0);
            if (push(l, v)) return bp_err(err, BP_E_NOMEM, "out of memory (the value of '%.*s' is too long)", nm, n0);
            s = skip_ws(end);
            if (!depth || *s != ',') break;
            s = skip_ws(s + 1);
        }
        c++;
        if (depth && *s != ']')
            return bp_err(err, BP_E_PARSE, "expected ',' or ']' in the value of '%.*s' at '%.20s' in '%.200s'", nm, n0, s, all);
        if (depth) s = skip_ws(s + 1);
        if (depth < 2) { *rows = depth ? c : 1; *cols = 1; break; }
        if (r == 0) *cols = c;
        else if (c != *cols)
            return bp_err(err, BP_E_VALUE, "the value of '%.*s': row %d has %d numbers, row 1 has %d", nm, n0, r + 1, c, *cols);
        *rows = r + 1;
        if (*s == ',') { s = skip_ws(s + 1); continue; }
        if (*s != ']') return bp_err(err, BP_E_PARSE, "expected ',' or ']' after row %d of '%.*s' in '%.200s'", r + 1, nm, n0, all);
        s = skip_ws(s + 1);
        break;
    }
    *ps = s;
    return BP_OK;
}

bp_status bp_expr_set_point(bp_expr *e, const char *a, bp_error *err)
{
    const char *s = a;
    unsigned char *seen = calloc(nz(e->nvars), 1);   /* a name given twice in one list is a mistake */
    numlist l = {0};
    if (!seen) return bp_err(err, BP_E_NOMEM, "out of memory");
    bp_status st = BP_OK;
    for (;;) {
        s = skip_ws(s);
        const char *n0 = s;
        s = name_end(s);
        size_t nl = (size_t)(s - n0);
        s = skip_ws(s);
        if (!nl || *s != '=') {
            st = bp_err(err, BP_E_PARSE, "expected NAME=NUMBER at '%.40s' in '%.200s'", n0, a);
            break;
        }
        int i = var_index(e, n0, nl), rows, cols;
        s++;
        l.n = 0;
        if ((st = read_value(&s, n0, nl, a, &l, &rows, &cols, err))) break;
        if (*s && *s != ',') {
            st = bp_err(err, BP_E_PARSE, "expected a number after '%.*s=' in '%.200s'", (int)(nl > 60 ? 60 : nl), n0, a);
            break;
        }
        if (i < 0) { st = no_var(e, n0, nl, err); break; }
        if (seen[i]) { st = bp_err(err, BP_E_VALUE, "'%s' is given twice in '%.200s'", e->vars[i], a); break; }
        seen[i] = 1;
        if ((st = set_var(e, i, rows, cols, l.v, err))) break;
        if (!*s) break;
        s++;
    }
    free(l.v);
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
    int nw = e->nwrt, comp = bp_expr_is_composition(e);
    bp_status s = bp_expr_compile(e, where, err);
    if (s) {
        bp_expr_clear_eval(e);
        return s;
    }
    int no = e->nout, nodes = bp_graph_size(e->g);
    double work = (double)no * nodes;
    if (work > MAX_WORK) {
        bp_expr_clear_eval(e);
        return bp_err(err, BP_E_VALUE, "the Jacobian of %d outputs over a graph of %d nodes is %.3g steps of work, "
                      "more than the limit of %.0f (deeply nested vector definitions?)", no, nodes, work, MAX_WORK);
    }
    int *cols = malloc(nz(nw) * sizeof *cols);
    e->jcol = malloc((size_t)(nw + 1) * sizeof *e->jcol);
    e->val = malloc((size_t)no * sizeof *e->val);
    if (!cols || !e->jcol || !e->val) s = bp_err(err, BP_E_NOMEM, "out of memory");
    for (int j = 0, w = 0; !s && j <= nw; j++) {
        e->jcol[j] = w;
        if (j < nw) {
            int v = e->wrt[j];
            cols[j] = e->var_node[v];
            w += e->var_mat[v] ? e->var_rows[v] * e->var_cols[v] : 1;
        }
    }
    if (!s && !(e->jac = malloc(nz(no) * nz(e->jcol[nw]) * sizeof *e->jac))) s = bp_err(err, BP_E_NOMEM, "out of memory");
    for (int k = 0; !s && k < no; k++) e->val[k] = val1(e->g, e->out[k]);
    if (!s) s = bp_expr_graph_jacobian(e->g, e->out, no, cols, nw, e->jac, err);
    if (!s && comp && !e->matrix) {
        /* chain rule: J_F at G (outputs x args), J_G (args x wrt), their product */
        int na = e->nargs;
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
    if (!e->jf) return bp_err(err, BP_E_ARG, "the chain rule is written out for numbers and vectors, not for matrices");
    *jf = (bp_mat){e->nout, e->nargs, BP_F64, e->jf};
    *jg = (bp_mat){e->nargs, e->nwrt, BP_F64, e->jg};
    *product = (bp_mat){e->nout, e->nwrt, BP_F64, e->jp};
    return BP_OK;
}
