/* expr.c - `backprop expr`: an expression language compiled onto the autodiff
 * graph.  A tokenizer and a recursive-descent parser produce an AST with the
 * text span of every node; evaluation inlines definitions and builds 1x1 graph
 * nodes (evaluating each as it is made, so a domain error is caught at the
 * sub-expression that caused it); the gradient or Jacobian is one
 * bp_graph_backward per output.  Reports (text, JSON, steps, chain rule, DOT)
 * are written to a caller's FILE*. */
#include "expr.h"
#include "graph.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES 250000    /* inlining can multiply nodes: stop runaway programs */
#define MAX_DEPTH 500       /* nesting depth of the parser (stack safety)         */
#define MAX_LEVELS 1000     /* depth of the tree build() walks, definitions inlined
                             * (stack safety; a flat chain x+x+...+x is 2 levels) */

/* ---- locations ------------------------------------------------------------ */

/* "column C" or, for text with several lines, "line L, column C". */
static const char *loc(const char *src, int off, char *buf, size_t n)
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

/* Shortest text that reads back as exactly v. */
static const char *fmtnum(double v, char buf[32])
{
    if (v == 0) return "0";                    /* also -0 */
    if (isnan(v)) return "nan";
    if (isinf(v)) return v > 0 ? "inf" : "-inf";
    for (int p = 15; p <= 17; p++) {
        snprintf(buf, 32, "%.*g", p, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}

/* A count for malloc: at least 1, so a zero-size request never returns NULL. */
static size_t nz(int n) { return n > 0 ? (size_t)n : 1; }

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) { memcpy(d, s, n); d[n] = 0; }
    return d;
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
    snprintf(at, sizeof at, "at %s", loc(p->s, off, l, sizeof l));
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
        char *t = dupn(s + i, (size_t)(j - i));
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
        if (!(e->vars[v] = dupn(name, (size_t)nlen))) { bp_err(p->err, BP_E_NOMEM, "out of memory"); return -1; }
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
    if (!(D->name = dupn(p->s + start, (size_t)nlen))) return bp_err(p->err, BP_E_NOMEM, "out of memory");
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
        if (!(D->params[D->nparams] = dupn(p->s + ps, (size_t)pl))) return bp_err(p->err, BP_E_NOMEM, "out of memory");
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

/* ---- public: parse, accessors, point ---------------------------------------- */

void bp_expr_free(bp_expr *e);

bp_status bp_expr_parse(const char *text, bp_expr **out, int *where, bp_error *err)
{
    bp_error scratch;
    if (!err) err = &scratch;
    if (where) *where = -1;
    *out = NULL;
    bp_expr *e = calloc(1, sizeof *e);
    if (!e || !(e->src = dupn(text, strlen(text)))) {
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
    *out = e;
    return BP_OK;
}

static void clear_eval(bp_expr *e)
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
    clear_eval(e);
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

int bp_expr_nvars(const bp_expr *e) { return e->nvars; }
const char *bp_expr_var(const bp_expr *e, int i) { return i >= 0 && i < e->nvars ? e->vars[i] : NULL; }
int bp_expr_noutputs(const bp_expr *e) { return e->ast[e->root].len; }
int bp_expr_is_vector(const bp_expr *e) { return e->ast[e->root].isvec; }
int bp_expr_is_composition(const bp_expr *e) { return e->ast[e->root].k == A_CALL; }
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
    for (;;) {
        s = skip_ws(s);
        const char *n0 = s;
        while (isalnum((unsigned char)*s) || *s == '_') s++;
        size_t nl = (size_t)(s - n0);
        s = skip_ws(s);
        if (!nl || *s != '=')
            return bp_err(err, BP_E_PARSE, "expected NAME=NUMBER at '%.40s' in '%.200s'", n0, a);
        char *end;
        double v = strtod(s + 1, &end);
        const char *after = skip_ws(end);
        if (end == s + 1 || (*after && *after != ','))
            return bp_err(err, BP_E_PARSE, "expected a number after '%.*s=' in '%.200s'", (int)(nl > 60 ? 60 : nl), n0, a);
        int i = var_index(e, n0, nl);
        if (i < 0) return no_var(e, n0, nl, err);
        if (!isfinite(v)) return bp_err(err, BP_E_VALUE, "value of '%s' is not finite", e->vars[i]);
        e->var_val[i] = v;
        e->var_set[i] = 1;
        if (!*after) return BP_OK;
        s = after + 1;
    }
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

/* ---- building the graph ------------------------------------------------------ */

typedef struct builder {
    bp_expr *e;
    bp_graph *g;
    int *node_ast, cap;
    const int *var_node;
    int want_args;      /* record the outer call's argument nodes          */
    int *args;
    int where;
} builder;

static double val1(const bp_graph *g, int n) { bp_mat m = bp_graph_value(g, n); return bp_mat_get(&m, 0, 0); }
/* d root / d n after bp_graph_backward(g, root).  A node made after the root
 * cannot be one of its inputs; backward leaves such nodes' gradients as they
 * were, so they read 0 here. */
static double grad1(const bp_graph *g, int n, int root)
{
    bp_mat m = bp_graph_grad(g, n);
    return m.rows && n <= root ? bp_mat_get(&m, 0, 0) : 0;
}

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
    if (bp_op_table(b->g->dtype)[n->op].forward(b->g, n, err) == BP_OK) return id;
    /* The engine names the node; name the text instead. */
    char msg[BP_ERROR_MAX], l[48], *cut;
    snprintf(msg, sizeof msg, "%s", err->msg);
    if ((cut = strstr(msg, " in node "))) *cut = 0;
    const anode *A = &b->e->ast[ai];
    int len = A->end - A->start;
    const char *hint = A->k == A_BIN && A->op == '^' && n->op == BP_OP_LOG
                           ? " (a power whose exponent depends on a variable needs a positive base)" : "";
    const char *in = A->def >= 0 ? " in the body of " : "", *dn = A->def >= 0 ? b->e->defs[A->def].name : "";
    bp_err(err, BP_E_DOMAIN, "domain error at %s: %s in '%.*s'%s%s (node n%d)%s", loc(src, A->start, l, sizeof l), msg,
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
            id = fin(b, lb ? bp_op_binary(g, BUILTINS[A->idx].op, x, y, err)
                           : bp_op_unary(g, BUILTINS[A->idx].op, x, err), ai, err);
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

/* J[k][j] = d outs[k] / d cols[j]: one backward pass per output. */
static bp_status jacobian(bp_graph *g, const int *outs, int nout, const int *cols, int ncol, double *J, bp_error *err)
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

/* J_F at G: F's body on its own graph, its parameters as leaves valued G. */
static bp_status chain_outer(bp_expr *e, bp_error *err)
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
    if (!s) s = jacobian(b.g, outs, no, prm, np, e->jf, err);
    bp_graph_free(b.g);
    free(b.node_ast);
    free(prm);
    free(outs);
    return s;
}

bp_status bp_expr_eval(bp_expr *e, int *where, bp_error *err)
{
    bp_error scratch;
    if (!err) err = &scratch;
    if (where) *where = -1;
    clear_eval(e);
    for (int i = 0; i < e->nvars; i++)
        if (!e->var_set[i]) {
            char l[48];
            if (where) *where = e->var_pos[i];
            return bp_err(err, BP_E_VALUE, "no value given for variable '%s' (first used at %s)", e->vars[i],
                          loc(e->src, e->var_pos[i], l, sizeof l));
        }
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
    if (s) {
        if (where) *where = b.where;
        clear_eval(e);
        return s;
    }
    for (int k = 0; k < no; k++) e->val[k] = val1(e->g, e->out[k]);
    int *cols = malloc(nz(nw) * sizeof *cols);
    if (!cols) s = bp_err(err, BP_E_NOMEM, "out of memory");
    for (int j = 0; !s && j < nw; j++) cols[j] = e->var_node[e->wrt[j]];
    if (!s) s = jacobian(e->g, e->out, no, cols, nw, e->jac, err);
    if (!s && comp) {
        /* chain rule: J_F at G (outputs x args), J_G (args x wrt), their product */
        int na = e->nargs = e->defs[e->ast[e->root].idx].nparams;
        e->jf = malloc(nz(no * na) * sizeof *e->jf);
        e->jg = malloc(nz(na * nw) * sizeof *e->jg);
        e->jp = calloc(nz(no * nw), sizeof *e->jp);
        if (!e->args || !e->jf || !e->jg || !e->jp) s = bp_err(err, BP_E_NOMEM, "out of memory");
        if (!s) s = jacobian(e->g, e->args, na, cols, nw, e->jg, err);
        if (!s) s = chain_outer(e, err);
        for (int i = 0; !s && i < no; i++)
            for (int j = 0; j < nw; j++)
                for (int k = 0; k < na; k++) e->jp[i * nw + j] += e->jf[i * na + k] * e->jg[k * nw + j];
    }
    free(cols);
    if (s) { clear_eval(e); return s; }
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

/* ---- reports ------------------------------------------------------------------- */

static bp_status io(FILE *out, bp_error *err)
{
    return ferror(out) ? bp_err(err, BP_E_IO, "could not write the report") : BP_OK;
}

static bp_status need_eval(const bp_expr *e, bp_error *err)
{
    return e->evaluated ? BP_OK : bp_err(err, BP_E_ARG, "the expression has not been evaluated");
}

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
static void text_mat(FILE *out, const char *indent, const double *m, int rows, int cols)
{
    char b[32];
    int w[256] = {0};
    for (int j = 0; j < cols && j < 256; j++)
        for (int i = 0; i < rows; i++) {
            int l = (int)strlen(fmtnum(m[(size_t)i * cols + j], b));
            if (l > w[j]) w[j] = l;
        }
    for (int i = 0; i < rows; i++) {
        fprintf(out, "%s[", indent);
        for (int j = 0; j < cols; j++) fprintf(out, " %*s", j < 256 ? w[j] : 0, fmtnum(m[(size_t)i * cols + j], b));
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
        fprintf(out, "value     %s\n", fmtnum(e->val[0], b));
        for (int j = 0; j < e->nwrt; j++)
            fprintf(out, "%s d/d%s = %s\n", j ? "         " : "gradient ", e->vars[e->wrt[j]], fmtnum(e->jac[j], b));
        if (!e->nwrt) fputs("gradient  (no variables)\n", out);
    } else {
        fputs("value     [", out);
        for (int i = 0; i < e->nout; i++) fprintf(out, "%s%s", i ? ", " : "", fmtnum(e->val[i], b));
        fprintf(out, "]\nJacobian  (rows: the %d outputs; columns: ", e->nout);
        text_names(out, e->vars, e->wrt, e->nwrt);
        fputs(")\n", out);
        text_mat(out, "          ", e->jac, e->nout, e->nwrt);
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
    for (int i = 0; i < e->nargs; i++) fprintf(out, "%s%s", i ? ", " : "", fmtnum(val1(e->g, e->args[i]), b));
    fprintf(out, "]   (the arguments of %s, bound to its parameters ", D->name);
    text_names(out, D->params, NULL, D->nparams);
    fprintf(out, ")\n\n  J_%s at %s   (rows: the %d outputs of %s; columns: ", D->name, inner, e->nout, D->name);
    text_names(out, D->params, NULL, D->nparams);
    fputs(")\n", out);
    text_mat(out, "    ", e->jf, e->nout, e->nargs);
    fprintf(out, "\n  J_%s   (rows: ", inner);
    text_names(out, D->params, NULL, D->nparams);
    fputs("; columns: ", out);
    text_names(out, e->vars, e->wrt, e->nwrt);
    fputs(")\n", out);
    text_mat(out, "    ", e->jg, e->nargs, e->nwrt);
    fprintf(out, "\n  J_%s . J_%s   (rows: outputs; columns: ", D->name, inner);
    text_names(out, e->vars, e->wrt, e->nwrt);
    fputs(")\n", out);
    text_mat(out, "    ", e->jp, e->nout, e->nwrt);
    double worst = 0;
    for (int i = 0; i < e->nout * e->nwrt; i++) {
        double d = fabs(e->jp[i] - e->jac[i]) / (1 + fabs(e->jac[i]));
        if (d > worst || isnan(d)) worst = d;
    }
    fprintf(out, "\n  backprop through the whole graph gives the same Jacobian: %s (largest relative difference %.3g)\n\n",
            worst <= 1e-12 ? "yes" : "NO", worst);
    return io(out, err);
}

/* ---- steps and drawing -------------------------------------------------------- */

/* Mark the nodes that `root` depends on (or every output's, root < 0). */
static char *reachable(const bp_expr *e, int root)
{
    int n = bp_graph_size(e->g);
    char *r = calloc((size_t)(n ? n : 1), 1);
    if (!r) return NULL;
    for (int k = 0; k < e->nout; k++)
        if (root < 0 || e->out[k] == root) r[e->out[k]] = 1;
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

bp_status bp_expr_write_steps(bp_expr *e, FILE *out, bp_error *err)
{
    if (need_eval(e, err)) return err ? err->status : BP_E_ARG;
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
        if (*t) fprintf(out, "  n%-3d %-18s = %-12s %s\n", i, d, fmtnum(val1(g, i), b1), t);
        else fprintf(out, "  n%-3d %-18s = %s\n", i, d, fmtnum(val1(g, i), b1));
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
                        fmtnum(up, b1));
                continue;
            }
            bp_node in[2];
            double lg[2];
            bp_graph_node_inputs(g, i, in);
            local_grads(g, i, lg);
            fprintf(out, "  n%-3d %-18s upstream d%s/dn%d = %s\n", i, node_desc(e, i, d, sizeof d), ylab, i, fmtnum(up, b1));
            for (int j = 0; j < 2; j++) {
                if (in[j] < 0 || isnan(lg[j])) continue;
                const char *note = "";
                if (op == BP_OP_MAX || op == BP_OP_MIN) {
                    double a = val1(g, in[0]), bb = val1(g, in[1]);
                    note = a == bb ? "   (tie: the gradient is split half and half)"
                         : (j == 0) == ((op == BP_OP_MAX) == (a > bb)) ? "   (the winner takes the gradient)"
                                                                       : "   (the loser gets nothing)";
                } else if (in[1] == in[0]) note = "   (both operands are this node)";
                fprintf(out, "         -> n%-3d local dn%d/dn%d = %-10s product %s x %s = %s%s\n", in[j], i, in[j],
                        fmtnum(lg[j], b1), fmtnum(up, b2), fmtnum(lg[j], b3), fmtnum(up * lg[j], t), note);
            }
        }
        free(r);
        fprintf(out, "  gradient of %s: ", ylab);
        for (int j = 0; j < e->nwrt; j++)
            fprintf(out, "%sd/d%s = %s", j ? ", " : "", e->vars[e->wrt[j]], fmtnum(grad1(g, e->var_node[e->wrt[j]], root), b1));
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
    if (need_eval(e, err)) return err ? err->status : BP_E_ARG;
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
        if (op != BP_OP_LEAF || isvar) fprintf(out, "\\nvalue %s", fmtnum(val1(g, i), b1));
        if (bp_graph_node_requires_grad(g, i)) {
            fputs("\\ngrad ", out);
            if (no > 1) fputc('[', out);
            for (int k = 0; k < no; k++) fprintf(out, "%s%s", k ? ", " : "", fmtnum(G[(size_t)i * no + k], b1));
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
