/* teach/expr_parse.c - the first stage of `expr` (teach/expr.h): tokens, the
 * AST with the text span of every node, and a recursive-descent parser over
 * the grammar in expr.h, definitions included; the expression object's
 * life (bp_expr_parse, bp_expr_free). */
#include "teach/expr.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- locations ------------------------------------------------------------ */

/* "column C" or, for text with several lines, "line L, column C". */
const char *bp_expr_loc(const char *src, int off, char *buf, size_t n)
{
    int line = 1, col = 1, multi = strchr(src, '\n') != NULL;
    for (int i = 0; i < off && src[i]; i++) {
        if (src[i] == '\n') { line++; col = 1; }
        else col++;
    }
    if (multi) snprintf(buf, n, "line %d, column %d", line, col);
    else snprintf(buf, n, "column %d", col);
    return buf;
}

/* ---- tokens ----------------------------------------------------------------- */

enum { T_END = 0, T_NUM = 256, T_NAME };

typedef struct parser {
    bp_expr *e;
    const char *s;
    int pos;            /* byte offset of the current token              */
    int tok, tend;      /* its kind and end                              */
    int prev_end;       /* end of the previous token                     */
    double num;
    int def;            /* definition being parsed, -1 for main          */
    int depth;
    int where;
    bp_error *err;
} parser;

/* A parse error at byte `off`: the message says "at column C" where the
 * format has "@@", or at its end. */
static bp_status perr(parser *p, int off, const char *fmt, ...) BP_PRINTF(3, 4);
static bp_status perr(parser *p, int off, const char *fmt, ...)
{
    char l[48], at[64], msg[600], *m;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(at, sizeof at, "at %s", bp_expr_loc(p->s, off, l, sizeof l));
    p->where = off;
    if ((m = strstr(msg, "@@"))) {
        *m = 0;
        return bp_err(p->err, BP_E_PARSE, "%s%s%s", msg, at, m + 2);
    }
    return bp_err(p->err, BP_E_PARSE, "%s %s", msg, at);
}

/* What the current token looks like, for messages. */
static const char *tokdesc(parser *p, char *buf, size_t n)
{
    if (p->tok == T_END) return "the end of the expression";
    snprintf(buf, n, "'%.*s'", p->tend - p->pos > 30 ? 30 : p->tend - p->pos, p->s + p->pos);
    return buf;
}

/* Read the token at or after `from`. */
static bp_status lex(parser *p, int from)
{
    const char *s = p->s;
    int i = from;
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') i++;
    p->pos = i;
    unsigned char c = (unsigned char)s[i];
    if (!c) { p->tok = T_END; p->tend = i; return BP_OK; }
    if (isdigit(c) || (c == '.' && isdigit((unsigned char)s[i + 1]))) {
        int j = i;
        while (isdigit((unsigned char)s[j])) j++;
        if (s[j] == '.') { j++; while (isdigit((unsigned char)s[j])) j++; }
        if (s[j] == 'e' || s[j] == 'E') {
            int k = j + 1;
            if (s[k] == '+' || s[k] == '-') k++;
            if (!isdigit((unsigned char)s[k])) {
                char t[48];
                snprintf(t, sizeof t, "%.*s", k - i > 40 ? 40 : k - i, s + i);
                return perr(p, i, "malformed number '%s' (an exponent needs digits)", t);
            }
            while (isdigit((unsigned char)s[k])) k++;
            j = k;
        }
        char *t = bp_strndup(s + i, (size_t)(j - i));
        if (!t) return bp_err(p->err, BP_E_NOMEM, "out of memory");
        p->num = strtod(t, NULL);
        free(t);
        if (!isfinite(p->num)) return perr(p, i, "number too large");
        p->tok = T_NUM;
        p->tend = j;
        return BP_OK;
    }
    if (isalpha(c) || c == '_') {
        int j = i;
        while (isalnum((unsigned char)s[j]) || s[j] == '_') j++;
        p->tok = T_NAME;
        p->tend = j;
        return BP_OK;
    }
    if (strchr("+-*/^()[],;=", c)) { p->tok = c; p->tend = i + 1; return BP_OK; }
    char ch[8];
    snprintf(ch, sizeof ch, isprint(c) ? "%c" : "\\x%02x", c);
    return perr(p, i, "unexpected character '%s'", ch);
}

static bp_status next(parser *p)
{
    p->prev_end = p->tend;
    return lex(p, p->tend);
}

static bp_status expect(parser *p, int tok)
{
    if (p->tok == tok) return next(p);
    char d[48];
    return perr(p, p->pos, "expected '%c' @@, found %s", tok, tokdesc(p, d, sizeof d));
}

/* ---- the AST ------------------------------------------------------------------- */

static const struct { const char *name; int arity; bp_op op; } BUILTINS[] = {
    {"exp", 1, BP_OP_EXP},         {"log", 1, BP_OP_LOG},   {"sqrt", 1, BP_OP_SQRT},
    {"sigmoid", 1, BP_OP_SIGMOID}, {"tanh", 1, BP_OP_TANH}, {"relu", 1, BP_OP_RELU},
    {"abs", 1, BP_OP_ABS},         {"max", 2, BP_OP_MAX},   {"min", 2, BP_OP_MIN},
};
#define NBUILTINS ((int)(sizeof BUILTINS / sizeof *BUILTINS))

bp_op bp_expr_builtin_op(int i) { return BUILTINS[i].op; }

static int builtin(const char *s, int n)
{
    for (int i = 0; i < NBUILTINS; i++)
        if ((int)strlen(BUILTINS[i].name) == n && !strncmp(BUILTINS[i].name, s, (size_t)n)) return i;
    return -1;
}

static int find_def(const bp_expr *e, const char *s, int n)
{
    for (int i = 0; i < e->ndefs; i++)
        if ((int)strlen(e->defs[i].name) == n && !strncmp(e->defs[i].name, s, (size_t)n)) return i;
    return -1;
}

/* Refuse node a when building it would nest more than MAX_LEVELS deep. */
static int check_depth(parser *p, int a)
{
    if (p->e->ast[a].depth <= MAX_LEVELS) return a;
    perr(p, p->e->ast[a].start, "expression too deep (more than %d levels)", MAX_LEVELS);
    return -1;
}

/* A new AST node (index) spanning [start, end) with kids copied; its depth
 * from its kids' (see anode.depth; a call adds its body's afterwards). */
static int mknode(parser *p, akind k, int start, const int *kids, int nkid)
{
    bp_expr *e = p->e;
    if (e->nast == e->capast) {
        int cap = e->capast ? 2 * e->capast : 64;
        anode *a = realloc(e->ast, (size_t)cap * sizeof *a);
        if (!a) { bp_err(p->err, BP_E_NOMEM, "out of memory"); return -1; }
        e->ast = a;
        e->capast = cap;
    }
    anode *a = &e->ast[e->nast];
    memset(a, 0, sizeof *a);
    a->k = k;
    a->start = start;
    a->end = p->prev_end;  /* the end of the last token read */
    a->def = p->def;
    a->len = 1;
    if (nkid) {
        if (!(a->kid = malloc((size_t)nkid * sizeof *a->kid))) { bp_err(p->err, BP_E_NOMEM, "out of memory"); return -1; }
        memcpy(a->kid, kids, (size_t)nkid * sizeof *kids);
        a->nkid = nkid;
    }
    int d = 0;
    for (int i = 0; i < nkid; i++) {
        int kd = e->ast[kids[i]].depth;
        if (k == A_BIN && i == 0 && e->ast[kids[0]].k == A_BIN) kd--;   /* the same loop builds it */
        if (kd > d) d = kd;
    }
    a->depth = 1 + d;
    return check_depth(p, e->nast++);
}

/* Lengths of an elementwise op's operands must match, or one must be 1. */
static int bcast(parser *p, int at, const char *what, int la, int lb)
{
    if (la == lb || la == 1 || lb == 1) return la > lb ? la : lb;
    perr(p, at, "%s of vectors of different lengths (%d and %d)", what, la, lb);
    return -1;
}

static int parse_expr(parser *p);

/* A comma-separated list up to `close`; kids into *out (malloc'd). */
static int parse_list(parser *p, int close, int **out)
{
    int n = 0, cap = 0, *k = NULL;
    *out = NULL;
    if (p->tok != close) {
        for (;;) {
            int x = parse_expr(p);
            if (x < 0) { free(k); return -1; }
            if (n == cap) {
                cap = cap ? 2 * cap : 4;
                int *nk = realloc(k, (size_t)cap * sizeof *nk);
                if (!nk) { free(k); bp_err(p->err, BP_E_NOMEM, "out of memory"); return -1; }
                k = nk;
            }
            k[n++] = x;
            if (p->tok != ',') break;
            if (next(p)) { free(k); return -1; }
        }
    }
    if (expect(p, close)) { free(k); return -1; }
    *out = k;
    return n;
}

static int parse_primary(parser *p)
{
    int start = p->pos;
    char d[48];
    if (p->tok == T_NUM) {
        int a = mknode(p, A_NUM, start, NULL, 0);
        if (a < 0) return -1;
        p->e->ast[a].num = p->num;
        p->e->ast[a].end = p->tend;
        return next(p) ? -1 : a;
    }
    if (p->tok == '(') {
        if (next(p)) return -1;
        int a = parse_expr(p);
        if (a < 0 || expect(p, ')')) return -1;
        p->e->ast[a].start = start;          /* the span includes the parentheses */
        p->e->ast[a].end = p->prev_end;
        return a;
    }
    if (p->tok == '[') {
        if (next(p)) return -1;
        int *k, n = parse_list(p, ']', &k);
        if (n < 0) return -1;
        if (n == 0) { free(k); return perr(p, start, "empty vector"), -1; }
        int a = mknode(p, A_VEC, start, k, n);
        free(k);
        if (a < 0) return -1;
        anode *A = &p->e->ast[a];
        A->len = 0;
        for (int i = 0; i < n; i++) A->len += p->e->ast[A->kid[i]].len;
        A->isvec = 1;
        A->end = p->prev_end;
        return a;
    }
    if (p->tok != T_NAME) {
        return perr(p, start, "expected a number, a name, '(' or '[' @@, found %s", tokdesc(p, d, sizeof d)), -1;
    }
    const char *name = p->s + start;
    int nlen = p->tend - start;
    char nm[80];
    snprintf(nm, sizeof nm, "%.*s", nlen > 60 ? 60 : nlen, name);
    if (next(p)) return -1;
    int bi = builtin(name, nlen), di = find_def(p->e, name, nlen);
    if (p->tok == '(') {                                   /* a call */
        if (bi < 0 && di < 0) {
            if (p->def >= 0 && !strcmp(nm, p->e->defs[p->def].name))
                return perr(p, start, "'%s' calls itself @@ (definitions cannot be recursive)", nm), -1;
            return perr(p, start, "unknown function '%s' @@ (functions: exp, log, sqrt, sigmoid, tanh, relu, "
                                  "abs, max, min and your definitions)", nm), -1;
        }
        if (next(p)) return -1;
        int *k, n = parse_list(p, ')', &k);
        if (n < 0) return -1;
        int a = mknode(p, bi >= 0 ? A_FN : A_CALL, start, k, n);
        free(k);
        if (a < 0) return -1;
        anode *A = &p->e->ast[a];
        A->end = p->prev_end;
        A->idx = bi >= 0 ? bi : di;
        int total = 0;
        for (int i = 0; i < n; i++) {
            total += p->e->ast[A->kid[i]].len;
            A->isvec |= p->e->ast[A->kid[i]].isvec;
        }
        if (bi >= 0) {
            if (n != BUILTINS[bi].arity)
                return perr(p, start, "%s takes %d argument%s, got %d", nm, BUILTINS[bi].arity,
                            BUILTINS[bi].arity > 1 ? "s" : "", n), -1;
            A->len = n == 1 ? total : bcast(p, start, nm, p->e->ast[A->kid[0]].len, p->e->ast[A->kid[1]].len);
            if (A->len < 0) return -1;
        } else {
            const edef *D = &p->e->defs[di];
            if (total != D->nparams)
                return perr(p, start, "%s takes %d argument%s, got %d", nm, D->nparams,
                            D->nparams == 1 ? "" : "s", total), -1;
            A->len = p->e->ast[D->body].len;
            A->isvec = p->e->ast[D->body].isvec;
            if (A->depth < 1 + p->e->ast[D->body].depth) A->depth = 1 + p->e->ast[D->body].depth;
            return check_depth(p, a);
        }
        return a;
    }
    /* a name on its own: a parameter or a variable */
    if (bi >= 0 || di >= 0)
        return perr(p, start, "'%s' @@ is a function: call it as %s(...)", nm, nm), -1;
    if (p->def >= 0) {
        const edef *D = &p->e->defs[p->def];
        for (int i = 0; i < D->nparams; i++)
            if ((int)strlen(D->params[i]) == nlen && !strncmp(D->params[i], name, (size_t)nlen)) {
                int a = mknode(p, A_PARAM, start, NULL, 0);
                if (a < 0) return -1;
                p->e->ast[a].idx = i;
                p->e->ast[a].end = start + nlen;
                return a;
            }
        return perr(p, start, "unknown variable '%s' @@: the body of %s can use only its parameters", nm,
                    D->name), -1;
    }
    bp_expr *e = p->e;
    int v = 0;
    while (v < e->nvars && !((int)strlen(e->vars[v]) == nlen && !strncmp(e->vars[v], name, (size_t)nlen))) v++;
    if (v == e->nvars) {
        if (e->nvars == e->capvars) {
            int cap = e->capvars ? 2 * e->capvars : 8;
            char **nv = realloc(e->vars, (size_t)cap * sizeof *nv);
            if (nv) e->vars = nv;
            int *np = realloc(e->var_pos, (size_t)cap * sizeof *np);
            if (np) e->var_pos = np;
            double *vv = realloc(e->var_val, (size_t)cap * sizeof *vv);
            if (vv) e->var_val = vv;
            unsigned char *vs = realloc(e->var_set, (size_t)cap);
            if (vs) e->var_set = vs;
            if (!nv || !np || !vv || !vs) { bp_err(p->err, BP_E_NOMEM, "out of memory"); return -1; }
            e->capvars = cap;
        }
        if (!(e->vars[v] = bp_strndup(name, (size_t)nlen))) { bp_err(p->err, BP_E_NOMEM, "out of memory"); return -1; }
        e->var_pos[v] = start;
        e->var_val[v] = 0;
        e->var_set[v] = 0;
        e->nvars++;
    }
    int a = mknode(p, A_VAR, start, NULL, 0);
    if (a < 0) return -1;
    e->ast[a].idx = v;
    e->ast[a].end = start + nlen;
    return a;
}

static int parse_unary(parser *p);

static int parse_power(parser *p)
{
    int start = p->pos, a = parse_primary(p);
    if (a < 0 || p->tok != '^') return a;
    int at = p->pos;
    if (next(p)) return -1;
    int b = parse_unary(p);                 /* right-associative; allows x^-1 */
    if (b < 0) return -1;
    int k[2] = {a, b}, n = mknode(p, A_BIN, start, k, 2);
    if (n < 0) return -1;
    anode *N = &p->e->ast[n];
    N->op = '^';
    N->end = p->e->ast[b].end;
    N->isvec = p->e->ast[a].isvec | p->e->ast[b].isvec;
    if ((N->len = bcast(p, at, "'^'", p->e->ast[a].len, p->e->ast[b].len)) < 0) return -1;
    return n;
}

static int parse_unary(parser *p)
{
    if (++p->depth > MAX_DEPTH) return perr(p, p->pos, "expression nested too deeply"), -1;
    int r;
    if (p->tok == '-' || p->tok == '+') {
        int start = p->pos, minus = p->tok == '-';
        if (next(p)) return -1;
        int a = parse_unary(p);
        if (a < 0 || !minus) r = a;
        else if ((r = mknode(p, A_NEG, start, &a, 1)) >= 0) {
            p->e->ast[r].len = p->e->ast[a].len;
            p->e->ast[r].isvec = p->e->ast[a].isvec;
            p->e->ast[r].end = p->e->ast[a].end;
        }
    } else r = parse_power(p);
    p->depth--;
    return r;
}

/* Left-associative binary levels: term (* /) and expr (+ -). */
static int parse_level(parser *p, int level)
{
    int start = p->pos, a = level ? parse_unary(p) : parse_level(p, 1);
    const char *ops = level ? "*/" : "+-";
    while (a >= 0 && p->tok && p->tok < 256 && strchr(ops, p->tok)) {
        int op = p->tok, at = p->pos;
        if (next(p)) return -1;
        int b = level ? parse_unary(p) : parse_level(p, 1);
        if (b < 0) return -1;
        int k[2] = {a, b}, n = mknode(p, A_BIN, start, k, 2);
        if (n < 0) return -1;
        anode *N = &p->e->ast[n];
        char what[8] = {'\'', (char)op, '\'', 0};
        N->op = op;
        N->end = p->e->ast[b].end;
        N->isvec = p->e->ast[a].isvec | p->e->ast[b].isvec;
        if ((N->len = bcast(p, at, what, p->e->ast[a].len, p->e->ast[b].len)) < 0) return -1;
        a = n;
    }
    return a;
}

static int parse_expr(parser *p)
{
    if (++p->depth > MAX_DEPTH) return perr(p, p->pos, "expression nested too deeply"), -1;
    int a = parse_level(p, 0);
    p->depth--;
    return a;
}

/* Is the text at the current token a definition NAME(NAME, ...) = ? */
static int at_definition(parser *p)
{
    if (p->tok != T_NAME) return 0;
    parser q = *p;
    bp_error scratch;
    q.err = &scratch;
    if (next(&q) || q.tok != '(' || next(&q)) return 0;
    while (q.tok == T_NAME) {
        if (next(&q)) return 0;
        if (q.tok == ',' && next(&q)) return 0;
    }
    return q.tok == ')' && !next(&q) && q.tok == '=';
}

static bp_status parse_definition(parser *p)
{
    bp_expr *e = p->e;
    char nm[80];
    int start = p->pos, nlen = p->tend - p->pos;
    snprintf(nm, sizeof nm, "%.*s", nlen > 60 ? 60 : nlen, p->s + start);
    if (builtin(p->s + start, nlen) >= 0) return perr(p, start, "cannot redefine the builtin function '%s'", nm);
    if (find_def(e, p->s + start, nlen) >= 0) return perr(p, start, "'%s' is already defined", nm);
    if (e->ndefs == e->capdefs) {
        int cap = e->capdefs ? 2 * e->capdefs : 4;
        edef *d = realloc(e->defs, (size_t)cap * sizeof *d);
        if (!d) return bp_err(p->err, BP_E_NOMEM, "out of memory");
        e->defs = d;
        e->capdefs = cap;
    }
    edef *D = &e->defs[e->ndefs];
    memset(D, 0, sizeof *D);
    if (!(D->name = bp_strndup(p->s + start, (size_t)nlen))) return bp_err(p->err, BP_E_NOMEM, "out of memory");
    e->ndefs++;    /* counted now so bp_expr_free releases it; not callable until done */
    if (next(p) || next(p)) return p->err->status;          /* NAME '(' */
    while (p->tok == T_NAME) {
        int ps = p->pos, pl = p->tend - p->pos;
        snprintf(nm, sizeof nm, "%.*s", pl > 60 ? 60 : pl, p->s + ps);
        if (builtin(p->s + ps, pl) >= 0 || find_def(e, p->s + ps, pl) >= 0)
            return perr(p, ps, "parameter '%s' has the name of a function", nm);
        for (int i = 0; i < D->nparams; i++)
            if (!strcmp(D->params[i], nm)) return perr(p, ps, "parameter '%s' appears twice", nm);
        char **np = realloc(D->params, (size_t)(D->nparams + 1) * sizeof *np);
        if (!np) return bp_err(p->err, BP_E_NOMEM, "out of memory");
        D->params = np;
        if (!(D->params[D->nparams] = bp_strndup(p->s + ps, (size_t)pl))) return bp_err(p->err, BP_E_NOMEM, "out of memory");
        D->nparams++;
        if (next(p)) return p->err->status;
        if (p->tok == ',' && next(p)) return p->err->status;
    }
    if (next(p) || next(p)) return p->err->status;          /* ')' '=' */
    /* The body may call only earlier definitions: hide this one while parsing. */
    int self = e->ndefs - 1;
    p->def = self;
    e->ndefs--;
    int body = parse_expr(p);
    e->ndefs++;
    p->def = -1;
    if (body < 0) return p->err->status;
    e->defs[self].body = body;
    return BP_OK;
}

/* ---- the object: parse and free ---------------------------------------------- */

void bp_expr_free(bp_expr *e);

bp_status bp_expr_parse(const char *text, bp_expr **out, int *where, bp_error *err)
{
    bp_error scratch;
    if (!err) err = &scratch;
    if (where) *where = -1;
    *out = NULL;
    bp_expr *e = calloc(1, sizeof *e);
    if (!e || !(e->src = bp_strndup(text, strlen(text)))) {
        free(e);
        return bp_err(err, BP_E_NOMEM, "out of memory");
    }
    parser p = {.e = e, .s = e->src, .def = -1, .where = -1, .err = err};
    bp_status s = lex(&p, 0);
    while (!s && at_definition(&p)) {
        if (!(s = parse_definition(&p)) && p.tok != ';') {
            char d[48];
            s = perr(&p, p.pos, "expected ';' @@ after the definition of %s, found %s", e->defs[e->ndefs - 1].name,
                     tokdesc(&p, d, sizeof d));
        }
        if (!s) s = next(&p);
    }
    if (!s && p.tok == T_END)
        s = perr(&p, p.pos, "%s", e->ndefs ? "expected an expression after the definitions" : "empty expression");
    if (!s && (e->root = parse_expr(&p)) < 0) s = err->status;
    if (!s && p.tok == ';') s = next(&p);
    if (!s && p.tok != T_END) {
        char d[48];
        if (p.tok == '=') s = perr(&p, p.pos, "unexpected '=' @@ (a definition looks like F(a,b) = ...; before the expression)");
        else if (p.tok == ')' || p.tok == ']') s = perr(&p, p.pos, "unmatched %s", tokdesc(&p, d, sizeof d));
        else s = perr(&p, p.pos, "unexpected %s @@ (missing operator?)", tokdesc(&p, d, sizeof d));
    }
    if (s) {
        if (where) *where = p.where;
        bp_expr_free(e);
        return s;
    }
    if (!(e->wrt = malloc(nz(e->nvars) * sizeof *e->wrt))) {
        bp_expr_free(e);
        return bp_err(err, BP_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < e->nvars; i++) e->wrt[i] = i;
    e->nwrt = e->nvars;
    e->digits = 6;
    *out = e;
    return BP_OK;
}

void bp_expr_clear_eval(bp_expr *e)
{
    bp_graph_free(e->g);
    free(e->node_ast); free(e->var_node); free(e->out); free(e->val); free(e->jac);
    free(e->args); free(e->jf); free(e->jg); free(e->jp);
    e->g = NULL;
    e->node_ast = e->var_node = e->out = e->args = NULL;
    e->val = e->jac = e->jf = e->jg = e->jp = NULL;
    e->nout = e->nargs = e->evaluated = 0;
}

void bp_expr_free(bp_expr *e)
{
    if (!e) return;
    bp_expr_clear_eval(e);
    for (int i = 0; i < e->nast; i++) free(e->ast[i].kid);
    for (int i = 0; i < e->ndefs; i++) {
        for (int j = 0; j < e->defs[i].nparams; j++) free(e->defs[i].params[j]);
        free(e->defs[i].params);
        free(e->defs[i].name);
    }
    for (int i = 0; i < e->nvars; i++) free(e->vars[i]);
    free(e->ast); free(e->defs); free(e->vars); free(e->var_pos); free(e->var_val); free(e->var_set);
    free(e->wrt); free(e->src);
    free(e);
}

/* ---- what the program is ------------------------------------------------------ */
int bp_expr_nvars(const bp_expr *e) { return e->nvars; }
const char *bp_expr_var(const bp_expr *e, int i) { return i >= 0 && i < e->nvars ? e->vars[i] : NULL; }
int bp_expr_noutputs(const bp_expr *e) { return e->ast[e->root].len; }
int bp_expr_is_vector(const bp_expr *e) { return e->ast[e->root].isvec; }
int bp_expr_is_composition(const bp_expr *e) { return e->ast[e->root].k == A_CALL; }
void bp_expr_set_digits(bp_expr *e, int digits) { e->digits = digits < 0 ? 0 : digits > 17 ? 17 : digits; }
