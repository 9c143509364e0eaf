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

enum { T_END = 0, T_NUM = 256, T_NAME, T_LE, T_GE };

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
    const bp_expr_host *host;
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
        if (s[j] == '[' && isdigit((unsigned char)s[j + 1])) {   /* an index: W[1], g[3z] */
            int k = j + 1;
            while (isalnum((unsigned char)s[k])) k++;
            if (s[k] == ']') j = k + 1;
        }
        if (s[j] == '\'') j++;                                   /* a prime: sigmoid', g' */
        p->tok = T_NAME;
        p->tend = j;
        return BP_OK;
    }
    if ((c == '<' || c == '>') && s[i + 1] == '=') { p->tok = c == '<' ? T_LE : T_GE; p->tend = i + 2; return BP_OK; }
    if (strchr("+-*/^()[],;=@<>", c)) { p->tok = c; p->tend = i + 1; return BP_OK; }
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

/* The builtin functions. The first nine keep their places (their order is
 * that of the first version of the language); elementwise ones give as many
 * items as their arguments; hidden ones are not callable by name (what g and
 * g' of a linear layer mean in `check`). */
static const struct {
    const char *name;
    int arity;
    bp_op op;           /* the graph op of a plain elementwise function; LEAF: built by expr_graph.c */
    int elementwise, hidden;
} BUILTINS[] = {
    [BI_EXP] = {"exp", 1, BP_OP_EXP, 1, 0},             [BI_LOG] = {"log", 1, BP_OP_LOG, 1, 0},
    [BI_SQRT] = {"sqrt", 1, BP_OP_SQRT, 1, 0},          [BI_SIGMOID] = {"sigmoid", 1, BP_OP_SIGMOID, 1, 0},
    [BI_TANH] = {"tanh", 1, BP_OP_TANH, 1, 0},          [BI_RELU] = {"relu", 1, BP_OP_RELU, 1, 0},
    [BI_ABS] = {"abs", 1, BP_OP_ABS, 1, 0},             [BI_MAX] = {"max", 2, BP_OP_MAX, 1, 0},
    [BI_MIN] = {"min", 2, BP_OP_MIN, 1, 0},             [BI_STEP] = {"step", 1, BP_OP_STEP, 1, 0},
    [BI_DSIGMOID] = {"sigmoid'", 1, BP_OP_LEAF, 1, 0},  [BI_DTANH] = {"tanh'", 1, BP_OP_LEAF, 1, 0},
    [BI_DRELU] = {"relu'", 1, BP_OP_STEP, 1, 0},        [BI_SOFTMAX] = {"softmax", 1, BP_OP_LEAF, 0, 0},
    [BI_SUM] = {"sum", 1, BP_OP_SUM, 0, 0},             [BI_ROWSUM] = {"rowsum", 1, BP_OP_ROWSUM, 0, 0},
    [BI_COLSUM] = {"colsum", 1, BP_OP_COLSUM, 0, 0},    [BI_MEAN] = {"mean", 1, BP_OP_MEAN, 0, 0},
    [BI_ROWMEAN] = {"rowmean", 1, BP_OP_LEAF, 0, 0},    [BI_COLMEAN] = {"colmean", 1, BP_OP_LEAF, 0, 0},
    [BI_DIAG] = {"diag", 1, BP_OP_LEAF, 0, 0},          [BI_EYE] = {"eye", 1, BP_OP_LEAF, 0, 0},
    [BI_ONES] = {"ones", 2, BP_OP_LEAF, 0, 0},          [BI_SAMPLESUM] = {"samplesum", 1, BP_OP_LEAF, 0, 0},
    [BI_IDENTITY] = {"identity", 1, BP_OP_LEAF, 1, 1},  [BI_DLINEAR] = {"identity'", 1, BP_OP_LEAF, 1, 1},
    [BI_DSTEP] = {"step'", 1, BP_OP_LEAF, 1, 0},
};
#define NBUILTINS ((int)(sizeof BUILTINS / sizeof *BUILTINS))

bp_op bp_expr_builtin_op(int i) { return BUILTINS[i].op; }
int bp_expr_builtin_arity(int i) { return BUILTINS[i].arity; }
int bp_expr_builtin_elementwise(int i) { return BUILTINS[i].elementwise; }
const char *bp_expr_builtin_name(int i) { return BUILTINS[i].name; }

static int find_builtin(const char *s, int n, int hidden)
{
    for (int i = 0; i < NBUILTINS; i++)
        if ((!BUILTINS[i].hidden || hidden) && (int)strlen(BUILTINS[i].name) == n && !strncmp(BUILTINS[i].name, s, (size_t)n))
            return i;
    return -1;
}
static int builtin(const char *s, int n) { return find_builtin(s, n, 0); }
int bp_expr_builtin_find(const char *name, int len) { return find_builtin(name, len, 1); }

/* "exp, log, ..., min": the callable builtins, for messages. */
static const char *builtin_list(char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < NBUILTINS && k < n; i++)
        if (!BUILTINS[i].hidden)
            k +=  (size_t)snprintf(buf + k, n - k, "%s%s", k ? ", " : "", BUILTINS[i].name);
    return buf;
}

static int find_def(const bp_expr *e, const char *s, int n)
{
    for (int i = 0; i < e->ndefs; i++)
        if ((int)strlen(e->defs[i].name) == n && !strncmp(e->defs[i].name, s, (size_t)n)) return i;
    return -1;
}

/* A new AST node (index) spanning [start, end) with kids copied, in the
 * body of definition `def` (-1: the main expression); its depth from its
 * kids' (see anode.depth; a call adds its body's afterwards). -1 when out of
 * memory (err filled). */
int bp_expr_node(bp_expr *e, akind k, int start, int end, int def, const int *kids, int nkid, bp_error *err)
{
    if (e->nast == e->capast) {
        int cap = e->capast ? 2 * e->capast : 64;
        anode *a = realloc(e->ast, (size_t)cap * sizeof *a);
        if (!a) { bp_err(err, BP_E_NOMEM, "out of memory"); return -1; }
        e->ast = a;
        e->capast = cap;
    }
    anode *a = &e->ast[e->nast];
    memset(a, 0, sizeof *a);
    a->k = k;
    a->start = start;
    a->end = end;
    a->def = def;
    a->len = 1;
    if (nkid) {
        if (!(a->kid = malloc((size_t)nkid * sizeof *a->kid))) { bp_err(err, BP_E_NOMEM, "out of memory"); return -1; }
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
    return e->nast++;
}

/* Refuse node a when building it would nest more than MAX_LEVELS deep. */
static int check_depth(parser *p, int a)
{
    if (a < 0 || p->e->ast[a].depth <= MAX_LEVELS) return a;
    perr(p, p->e->ast[a].start, "expression too deep (more than %d levels)", MAX_LEVELS);
    return -1;
}

/* A new AST node spanning from `start` to the end of the last token read. */
static int mknode(parser *p, akind k, int start, const int *kids, int nkid)
{
    return check_depth(p, bp_expr_node(p->e, k, start, p->prev_end, p->def, kids, nkid, p->err));
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
        /* rows written as [...] each, all of one length: a matrix by rows */
        int rows = 1;
        for (int i = 0; i < n && rows; i++) {
            const anode *K = &p->e->ast[k[i]];
            rows = K->k == A_VEC && p->s[K->start] == '[' && K->len == p->e->ast[k[0]].len;
        }
        int a = mknode(p, rows ? A_ROWS : A_VEC, start, k, n);
        free(k);
        if (a < 0) return -1;
        anode *A = &p->e->ast[a];
        A->len = 0;
        for (int i = 0; i < n; i++) A->len += p->e->ast[A->kid[i]].len;
        A->isvec = 1;
        if (rows) { A->len = 1; A->isvec = 0; }
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
    int act = bi < 0 && di < 0 && p->host && p->host->activation && (!strcmp(nm, "g") || !strcmp(nm, "g'"));
    if (p->tok == '(') {                                   /* a call */
        if (bi < 0 && di < 0 && !act) {
            char fl[400];
            if (p->def >= 0 && !strcmp(nm, p->e->defs[p->def].name))
                return perr(p, start, "'%s' calls itself @@ (definitions cannot be recursive)", nm), -1;
            return perr(p, start, "unknown function '%s' @@ (functions: %s and your definitions)", nm,
                        builtin_list(fl, sizeof fl)), -1;
        }
        if (next(p)) return -1;
        int *k, n = parse_list(p, ')', &k);
        if (n < 0) return -1;
        if (act) {                                         /* g(z[l]), g'(z[l]): the host says which function */
            const anode *K = n == 1 ? &p->e->ast[k[0]] : NULL;
            if (!K || K->k != A_VAR) {
                free(k);
                return perr(p, start, "%s(...) @@ needs one quantity that names its layer, as in %s(z[2])", nm, nm), -1;
            }
            bp_error herr = {BP_OK, ""};
            const char *f = p->host->activation(p->host->ctx, p->e->vars[K->idx], nm[1] == '\'', &herr);
            if (!f) { free(k); return perr(p, start, "%s @@", herr.msg), -1; }
            bi = bp_expr_builtin_find(f, (int)strlen(f));
        }
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
            if (!BUILTINS[bi].elementwise) { A->len = 1; A->isvec = 0; }
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
    int a = bp_expr_var_node(p->e, name, nlen, start, p->err);
    if (a >= 0) p->e->ast[a].end = start + nlen;
    return a;
}

int bp_expr_var_node(bp_expr *e, const char *name, int nlen, int start, bp_error *err)
{
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
            double **vm = realloc(e->var_mat, (size_t)cap * sizeof *vm);
            if (vm) e->var_mat = vm;
            int *vr = realloc(e->var_rows, (size_t)cap * sizeof *vr);
            if (vr) e->var_rows = vr;
            int *vc = realloc(e->var_cols, (size_t)cap * sizeof *vc);
            if (vc) e->var_cols = vc;
            if (!nv || !np || !vv || !vs || !vm || !vr || !vc) { bp_err(err, BP_E_NOMEM, "out of memory"); return -1; }
            e->capvars = cap;
        }
        if (!(e->vars[v] = bp_strndup(name, (size_t)nlen))) { bp_err(err, BP_E_NOMEM, "out of memory"); return -1; }
        e->var_pos[v] = start;
        e->var_val[v] = 0;
        e->var_set[v] = 0;
        e->var_mat[v] = NULL;
        e->var_rows[v] = e->var_cols[v] = 1;
        e->nvars++;
    }
    int a = bp_expr_node(e, A_VAR, start, start + nlen, -1, NULL, 0, err);
    if (a >= 0) e->ast[a].idx = v;
    return a;
}

static int parse_unary(parser *p);

/* Is the current token '^' followed by the name T (a transpose)? */
static int at_transpose(parser *p)
{
    if (p->tok != '^') return 0;
    parser q = *p;
    bp_error scratch;
    q.err = &scratch;
    return !next(&q) && q.tok == T_NAME && q.tend - q.pos == 1 && q.s[q.pos] == 'T';
}

static int parse_power(parser *p)
{
    int start = p->pos, a = parse_primary(p);
    while (a >= 0 && at_transpose(p)) {                 /* A^T, A^T^T */
        int at = p->pos;
        if (next(p) || next(p)) return -1;
        int t = mknode(p, A_TRANS, start, &a, 1);
        if (t < 0) return -1;
        p->e->ast[t].oppos = at;
        p->e->ast[t].oplen = 2;
        a = t;
    }
    if (a < 0 || p->tok != '^') return a;
    int at = p->pos;
    if (next(p)) return -1;
    int b = parse_unary(p);                 /* right-associative; allows x^-1 */
    if (b < 0) return -1;
    int k[2] = {a, b}, n = mknode(p, A_BIN, start, k, 2);
    if (n < 0) return -1;
    anode *N = &p->e->ast[n];
    N->op = '^';
    N->oppos = at;
    N->oplen = 1;
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

/* Left-associative binary levels: term (@ * /) and sum (+ -). */
static int parse_level(parser *p, int level)
{
    int start = p->pos, a = level ? parse_unary(p) : parse_level(p, 1);
    const char *ops = level ? "@*/" : "+-";
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
        N->oppos = at;
        N->oplen = 1;
        N->end = p->e->ast[b].end;
        N->isvec = p->e->ast[a].isvec | p->e->ast[b].isvec;
        if (op == '@') { N->len = 1; N->isvec = 0; }
        else if ((N->len = bcast(p, at, what, p->e->ast[a].len, p->e->ast[b].len)) < 0) return -1;
        a = n;
    }
    return a;
}

static int parse_expr(parser *p)
{
    if (++p->depth > MAX_DEPTH) return perr(p, p->pos, "expression nested too deeply"), -1;
    int start = p->pos, a = parse_level(p, 0);
    if (a >= 0 && (p->tok == '<' || p->tok == '>' || p->tok == T_LE || p->tok == T_GE)) {   /* a comparison: 1 or 0 */
        int op = p->tok == T_LE ? 'l' : p->tok == T_GE ? 'g' : p->tok, at = p->pos, len = p->tend - p->pos;
        char what[8];
        snprintf(what, sizeof what, "'%.*s'", len, p->s + at);
        int b = next(p) ? -1 : parse_level(p, 0), k[2] = {a, b};
        if (b < 0 || (a = mknode(p, A_BIN, start, k, 2)) < 0) return -1;
        anode *N = &p->e->ast[a];
        N->op = op;
        N->oppos = at;
        N->oplen = len;
        N->end = p->e->ast[b].end;
        N->isvec = p->e->ast[k[0]].isvec | p->e->ast[b].isvec;
        if ((N->len = bcast(p, at, what, p->e->ast[k[0]].len, p->e->ast[b].len)) < 0) return -1;
        if (p->tok == '<' || p->tok == '>' || p->tok == T_LE || p->tok == T_GE)
            return perr(p, p->pos, "comparisons do not chain @@: write (a < b) * (b < c)"), -1;
    }
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

bp_expr *bp_expr_new(const char *text, const bp_expr_host *host, bp_error *err)
{
    bp_expr *e = calloc(1, sizeof *e);
    if (!e || !(e->src = bp_strndup(text, strlen(text)))) {
        free(e);
        bp_err(err, BP_E_NOMEM, "out of memory");
        return NULL;
    }
    e->host = host;
    e->digits = 6;
    return e;
}

bp_status bp_expr_finish(bp_expr *e, int root, bp_error *err)
{
    e->root = root;
    if (!(e->wrt = malloc(nz(e->nvars) * sizeof *e->wrt))) return bp_err(err, BP_E_NOMEM, "out of memory");
    for (int i = 0; i < e->nvars; i++) e->wrt[i] = i;
    e->nwrt = e->nvars;
    return BP_OK;
}

bp_status bp_expr_parse(const char *text, bp_expr **out, int *where, bp_error *err)
{
    return bp_expr_parse_host(text, NULL, out, where, err);
}

bp_status bp_expr_parse_host(const char *text, const bp_expr_host *host, bp_expr **out, int *where, bp_error *err)
{
    bp_error scratch;
    if (!err) err = &scratch;
    if (where) *where = -1;
    *out = NULL;
    bp_expr *e = bp_expr_new(text, host, err);
    if (!e) return err->status;
    parser p = {.e = e, .s = e->src, .def = -1, .where = -1, .err = err, .host = host};
    bp_status s = lex(&p, 0);
    while (!s && at_definition(&p)) {
        if (!(s = parse_definition(&p)) && p.tok != ';') {
            char d[48];
            s = perr(&p, p.pos, "expected ';' @@ after the definition of %s, found %s", e->defs[e->ndefs - 1].name,
                     tokdesc(&p, d, sizeof d));
        }
        if (!s) s = next(&p);
    }
    int root = -1;
    if (!s && p.tok == T_END)
        s = perr(&p, p.pos, "%s", e->ndefs ? "expected an expression after the definitions" : "empty expression");
    if (!s && (root = parse_expr(&p)) < 0) s = err->status;
    if (!s && p.tok == ';') s = next(&p);
    if (!s && p.tok != T_END) {
        char d[48];
        if (p.tok == '=') s = perr(&p, p.pos, "unexpected '=' @@ (a definition looks like F(a,b) = ...; before the expression)");
        else if (p.tok == ')' || p.tok == ']') s = perr(&p, p.pos, "unmatched %s", tokdesc(&p, d, sizeof d));
        else s = perr(&p, p.pos, "unexpected %s @@ (missing operator?)", tokdesc(&p, d, sizeof d));
    }
    if (!s) s = bp_expr_finish(e, root, err);
    if (s) {
        if (where) *where = p.where;
        bp_expr_free(e);
        return s;
    }
    *out = e;
    return BP_OK;
}

void bp_expr_clear_eval(bp_expr *e)
{
    bp_graph_free(e->g);
    free(e->node_ast); free(e->var_node); free(e->out); free(e->val); free(e->jac);
    free(e->args); free(e->jf); free(e->jg); free(e->jp); free(e->jcol); free(e->reading);
    e->g = NULL;
    e->node_ast = e->var_node = e->out = e->args = e->jcol = e->reading = NULL;
    e->val = e->jac = e->jf = e->jg = e->jp = NULL;
    e->nout = e->nargs = e->evaluated = e->matrix = 0;
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
    for (int i = 0; i < e->nvars; i++) { free(e->vars[i]); free(e->var_mat[i]); }
    free(e->ast); free(e->defs); free(e->vars); free(e->var_pos); free(e->var_val); free(e->var_set);
    free(e->var_mat); free(e->var_rows); free(e->var_cols);
    free(e->wrt); free(e->src);
    free(e);
}

/* ---- what the program is ------------------------------------------------------ */
int bp_expr_nvars(const bp_expr *e) { return e->nvars; }
const char *bp_expr_var(const bp_expr *e, int i) { return i >= 0 && i < e->nvars ? e->vars[i] : NULL; }
int bp_expr_noutputs(const bp_expr *e) { return e->evaluated ? e->nout : e->ast[e->root].len; }
int bp_expr_is_vector(const bp_expr *e) { return e->evaluated ? e->out_vec : e->ast[e->root].isvec; }
int bp_expr_is_composition(const bp_expr *e) { return e->ast[e->root].k == A_CALL; }
void bp_expr_set_digits(bp_expr *e, int digits) { e->digits = digits < 0 ? 0 : digits > 17 ? 17 : digits; }
