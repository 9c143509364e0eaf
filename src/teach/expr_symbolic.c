/* teach/expr_symbolic.c - `expr --symbolic` (teach/expr.h): each output of an
 * expression program and its derivatives as formulas of the expression
 * language itself, from the parsed AST (not from the graph).
 *
 * The AST is turned into scalar formulas, one per output, definitions inlined
 * and vectors flattened as expr_graph.c does; every formula is a node of a
 * hash-consed DAG (equal formulas are one node), built by constructors that
 * fold constants and drop the 0 and 1 identities: 0 + a, 1 * a, 0 * a, a^1,
 * a^0, a/1, and that merge like terms (2*x + 3*x) and like factors (x * x^2).
 * Derivatives follow the rules of the op kernels (ops_kernels.h), memoised per
 * node, kinks included at the expression's convention (bp_kinks): relu' is
 * step(u), or (u >= 0) with relu'(0) = 1; abs' is (u > 0) - (u < 0); max and
 * min weigh each argument by comparisons, ((a > b) + (a >= b))/2 for a tie
 * split half and half, (a >= b) and (b > a) for one given to the first. A
 * formula that is a polynomial in the variables (numbers, +, -, *, division by
 * a number, non-negative integer powers) is then expanded and its terms
 * collected, highest degree first:
 *     G(a,b) = [a-5*b, a*b, a-b]; F(c,d,e) = [3*c*d, d-e]; F(G(a,b))
 * has the Jacobian [[6*a*b - 15*b^2, 3*a^2 - 30*a*b], [b - 1, a + 1]].
 *
 * Matrices (@, ^T, [[...]], reductions such as sum or softmax) are refused
 * with one line naming the place. Everything printed parses back (tests
 * evaluate every formula against the numeric derivative at random points and
 * at the kinks). */
#include "teach/expr.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SYM_BUDGET 2000         /* scalar operations when the AST is inlined      */
#define SYM_MAX_NODES 1000000   /* formula nodes, derivatives and forms included */
#define SYM_MAX_KIDS 20000000   /* their operands, in all                        */
#define SYM_MAX_TEXT 100000     /* characters of one printed formula             */
#define POLY_MAX_TERMS 200      /* a polynomial expanded further is left as it is */
#define POLY_MAX_EXP 64
#define POLY_MAX_POW 32         /* (p)^k expanded for integer k up to this        */

enum { Y_NUM, Y_VAR, Y_ADD, Y_MUL, Y_DIV, Y_POW, Y_FN, Y_CMP };

/* A formula node. ADD and MUL have n >= 2 kids; a MUL's number, if any, is its
 * first kid (the coefficient) and no kid is a MUL; there is no negation node
 * (-a is (-1)*a). DIV, POW and CMP (a comparison: 1 or 0) have 2 kids, FN 1
 * or 2. */
typedef struct ynode {
    int k;
    int op;           /* Y_FN: the builtin (BI_EXP, ...); Y_CMP: '>', 'g' (>=),
                         '<' or 'l' (<=)                                      */
    int var;          /* Y_VAR: index into e->vars                            */
    double num;       /* Y_NUM                                                */
    int n;            /* number of kids                                       */
    size_t kid;       /* they are S->kids[kid .. kid + n)                     */
    int ast;          /* Y_FN: the AST node it was made from (messages), -1   */
} ynode;

typedef struct poly { int nt; double *c; int *ex; } poly;   /* nt terms: c[t] x^ex[t * nv ...] */
#define NOT_POLY ((poly *)1)

typedef struct sym {
    const bp_expr *e;
    ynode *nd;
    int nn, capn;
    int *kids;
    size_t nk, capk;
    int *ht;          /* hash table: node + 1, 0 empty                        */
    size_t htcap;
    int *memo;        /* derivative by the current variable: node -> d + 1    */
    int nmemo, wv;
    poly **pm;        /* polynomial of a node, NULL unknown, NOT_POLY         */
    int npm;
    int budget;
    bp_status st;
    int where;
    bp_error *err;
} sym;

struct bp_symbolic {
    int nout, nwrt, isvec;
    char **wrt;       /* the variables of the columns (owned)                  */
    char **text;      /* nout x (1 + nwrt): output i, then d output_i / d wrt_j */
};

static int fail(sym *S, bp_status st, int where, const char *fmt, ...) BP_PRINTF(4, 5);
static int fail(sym *S, bp_status st, int where, const char *fmt, ...)
{
    if (S->st) return 0;
    va_list ap;
    va_start(ap, fmt);
    char msg[BP_ERROR_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    S->st = bp_err(S->err, st, "%s", msg);
    S->where = where;
    return 0;
}

/* ---- the nodes: hash-consed, so equal formulas are one node ---------------------- */

static uint64_t mix(uint64_t h, uint64_t v) { h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2); return h; }

static uint64_t hash_of(int k, int op, int var, double num, const int *kids, int n)
{
    uint64_t b;
    memcpy(&b, &num, sizeof b);
    uint64_t h = mix(mix(mix(mix((uint64_t)k, (uint64_t)op), (uint64_t)var), b), (uint64_t)n);
    for (int i = 0; i < n; i++) h = mix(h, (uint64_t)kids[i]);
    return h;
}

static int same(const sym *S, int i, int k, int op, int var, double num, const int *kids, int n)
{
    const ynode *y = &S->nd[i];
    return y->k == k && y->op == op && y->var == var && y->n == n && !memcmp(&y->num, &num, sizeof num) &&
           (!n || !memcmp(&S->kids[y->kid], kids, (size_t)n * sizeof *kids));
}

static int grow_table(sym *S)
{
    size_t cap = S->htcap ? 2 * S->htcap : 1024;
    int *t = calloc(cap, sizeof *t);
    if (!t) return fail(S, BP_E_NOMEM, -1, "out of memory"), -1;
    for (int i = 0; i < S->nn; i++) {
        const ynode *y = &S->nd[i];
        size_t h = (size_t)hash_of(y->k, y->op, y->var, y->num, &S->kids[y->kid], y->n) & (cap - 1);
        while (t[h]) h = (h + 1) & (cap - 1);
        t[h] = i + 1;
    }
    free(S->ht);
    S->ht = t;
    S->htcap = cap;
    return 0;
}

/* The node (k, op, var, num, kids); 0 (the number 0) once something failed. */
static int mk(sym *S, int k, int op, int var, double num, const int *kids, int n, int ast)
{
    if (S->st) return 0;
    if (num == 0) num = 0;   /* -0 is 0 */
    uint64_t hv = hash_of(k, op, var, num, kids, n);
    if (S->htcap) {
        for (size_t h = (size_t)hv & (S->htcap - 1); S->ht[h]; h = (h + 1) & (S->htcap - 1))
            if (same(S, S->ht[h] - 1, k, op, var, num, kids, n)) return S->ht[h] - 1;
    }
    if (S->nn >= SYM_MAX_NODES)
        return fail(S, BP_E_VALUE, -1, "--symbolic: the formulas need more than %d nodes: too large to write out",
                    SYM_MAX_NODES);
    if (S->nn == S->capn) {
        int cap = S->capn ? 2 * S->capn : 256;
        ynode *nd = realloc(S->nd, (size_t)cap * sizeof *nd);
        if (!nd) return fail(S, BP_E_NOMEM, -1, "out of memory");
        S->nd = nd;
        S->capn = cap;
    }
    if (S->nk + (size_t)n > SYM_MAX_KIDS)
        return fail(S, BP_E_VALUE, -1, "--symbolic: the formulas need more than %d operands: too large to write out",
                    SYM_MAX_KIDS);
    if (S->nk + (size_t)n > S->capk) {
        /* kids may lie in S->kids itself (split passes a MUL's own kids): keep their place */
        ptrdiff_t inside = -1;
        if (n && S->kids) {
            uintptr_t at = (uintptr_t)kids, lo = (uintptr_t)S->kids, hi = lo + S->capk * sizeof *S->kids;
            if (at >= lo && at < hi) inside = (ptrdiff_t)((at - lo) / sizeof *kids);
        }
        size_t cap = S->capk ? 2 * S->capk : 1024;
        while (cap < S->nk + (size_t)n) cap *= 2;
        int *kp = realloc(S->kids, cap * sizeof *kp);
        if (!kp) return fail(S, BP_E_NOMEM, -1, "out of memory");
        S->kids = kp;
        S->capk = cap;
        if (inside >= 0) kids = kp + inside;
    }
    if (2 * (size_t)(S->nn + 1) > S->htcap && grow_table(S)) return 0;
    ynode *y = &S->nd[S->nn];
    *y = (ynode){k, op, var, num, n, S->nk, ast};
    if (n) memcpy(&S->kids[S->nk], kids, (size_t)n * sizeof *kids);
    S->nk += (size_t)n;
    size_t h = (size_t)hv & (S->htcap - 1);
    while (S->ht[h]) h = (h + 1) & (S->htcap - 1);
    S->ht[h] = S->nn + 1;
    return S->nn++;
}

static const int *kids_of(const sym *S, int a) { return &S->kids[S->nd[a].kid]; }
static int kid(const sym *S, int a, int i) { return S->kids[S->nd[a].kid + (size_t)i]; }
static int is_num(const sym *S, int a, double v) { return S->nd[a].k == Y_NUM && S->nd[a].num == v; }

static int num(sym *S, double v)
{
    if (!isfinite(v)) return fail(S, BP_E_DOMAIN, -1, "--symbolic: a constant of the formulas overflows a double");
    return mk(S, Y_NUM, 0, 0, v, NULL, 0, -1);
}
static int var(sym *S, int i) { return mk(S, Y_VAR, 0, i, 0, NULL, 0, -1); }

/* ---- constructors that simplify ------------------------------------------------------ */

/* A growable list of node ids. */
typedef struct list { int *v, n, cap; } list;
static void push(sym *S, list *l, int x)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 8, *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) { fail(S, BP_E_NOMEM, -1, "out of memory"); return; }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
}

static int mul(sym *S, const int *t, int n);
static int mul2(sym *S, int a, int b) { return mul(S, (int[]){a, b}, 2); }
static int pow2(sym *S, int a, int b);
static int divide(sym *S, int a, int b);
static void split(sym *S, int a, double *c, int *rest);

/* A factor of a product: base^p, and where it stood (the sorts below keep
 * the order of the factors they do not tell apart). */
typedef struct fac { int base; double p; int pos; int cls, k1; double k2; } fac;

static int by_base(const void *x, const void *y)
{
    const fac *a = x, *b = y;
    return a->base != b->base ? (a->base < b->base ? -1 : 1) : a->pos - b->pos;
}

/* The order of a product's factors: the variables (and their powers) first,
 * by variable, higher powers first; then everything else in the order the
 * formulas were made. */
static int by_key(const void *x, const void *y)
{
    const fac *a = x, *b = y;
    if (a->cls != b->cls) return a->cls - b->cls;
    if (a->k1 != b->k1) return a->k1 < b->k1 ? -1 : 1;
    if (a->k2 != b->k2) return a->k2 > b->k2 ? -1 : 1;
    return a->pos - b->pos;
}

static void factor_key(const sym *S, fac *f, int node)
{
    const ynode *y = &S->nd[node];
    f->base = node;
    if (y->k == Y_VAR) { f->cls = 0; f->k1 = y->var; f->k2 = 1; return; }
    if (y->k == Y_POW && S->nd[kid(S, node, 0)].k == Y_VAR && S->nd[kid(S, node, 1)].k == Y_NUM) {
        f->cls = 0; f->k1 = S->nd[kid(S, node, 0)].var; f->k2 = S->nd[kid(S, node, 1)].num; return;
    }
    f->cls = 1; f->k1 = node; f->k2 = 0;   /* by when it was made: a*b and b*a are one node */
}

/* The product of t[0..n): numbers folded into one leading coefficient,
 * products flattened, equal bases with number exponents merged (x * x^2 =
 * x^3), 0 and 1 dropped, quotients made one (x*(1/y) = x/y); the factors in
 * the order of by_key. */
static int mul(sym *S, const int *t, int n)
{
    double c = 1;
    fac *fs = NULL;
    int nf = 0, capf = 0, r = 0, ndiv = 0;
    list stack = {0};
    for (int i = n - 1; i >= 0; i--) push(S, &stack, t[i]);
    while (stack.n && !S->st) {   /* flatten into (base, exponent) pairs */
        int a = stack.v[--stack.n];
        const ynode *y = &S->nd[a];
        if (y->k == Y_NUM) { c *= y->num; continue; }
        if (y->k == Y_MUL) {
            for (int i = y->n - 1; i >= 0; i--) push(S, &stack, kid(S, a, i));
            continue;
        }
        if (nf == capf) {
            capf = capf ? 2 * capf : 8;
            fac *nfs = realloc(fs, (size_t)capf * sizeof *nfs);
            if (!nfs) { fail(S, BP_E_NOMEM, -1, "out of memory"); break; }
            fs = nfs;
        }
        fac *f = &fs[nf];
        f->base = a;
        f->p = 1;
        f->pos = nf++;
        if (y->k == Y_POW && S->nd[kid(S, a, 1)].k == Y_NUM) { f->base = kid(S, a, 0); f->p = S->nd[kid(S, a, 1)].num; }
    }
    free(stack.v);
    if (!isfinite(c)) fail(S, BP_E_DOMAIN, -1, "--symbolic: a constant of the formulas overflows a double");
    if (S->st || c == 0) goto done;
    if (nf > 1) qsort(fs, (size_t)nf, sizeof *fs, by_base);
    int w = 0;
    for (int i = 0; i < nf; i++) {   /* merge equal bases, then make each base^p */
        if (w && fs[w - 1].base == fs[i].base) { fs[w - 1].p += fs[i].p; continue; }
        fs[w++] = fs[i];
    }
    int m = 0;
    for (int i = 0; i < w && !S->st; i++) {
        if (fs[i].p == 0) continue;
        int x = fs[i].p == 1 ? fs[i].base : pow2(S, fs[i].base, num(S, fs[i].p));
        if (S->nd[x].k == Y_NUM) { c *= S->nd[x].num; continue; }   /* a power that folded */
        int pos = fs[i].pos;
        factor_key(S, &fs[m], x);
        fs[m++].pos = pos;
        ndiv += S->nd[x].k == Y_DIV;
    }
    if (S->st || c == 0) goto done;
    if (ndiv) {   /* a product with quotients is one quotient */
        list up = {0}, down = {0};
        push(S, &up, num(S, c));
        for (int j = 0; j < m; j++) {
            int q = fs[j].base;
            if (S->nd[q].k == Y_DIV) { push(S, &up, kid(S, q, 0)); push(S, &down, kid(S, q, 1)); }
            else push(S, &up, q);
        }
        int u = mul(S, up.v, up.n), d = mul(S, down.v, down.n);
        free(up.v);
        free(down.v);
        r = divide(S, u, d);
        goto done;
    }
    if (m > 1) qsort(fs, (size_t)m, sizeof *fs, by_key);
    if (!m) { r = num(S, c); goto done; }
    if (c == 1 && m == 1) { r = fs[0].base; goto done; }
    list all = {0};
    if (c != 1) push(S, &all, num(S, c));
    for (int i = 0; i < m; i++) push(S, &all, fs[i].base);
    r = mk(S, Y_MUL, 0, 0, 0, all.v, all.n, -1);
    free(all.v);
done:
    free(fs);
    return S->st ? 0 : r;
}

/* A term as coefficient times the rest (rest -1: the term is a number). */
static void split(sym *S, int a, double *c, int *rest)
{
    const ynode *y = &S->nd[a];
    if (y->k == Y_NUM) { *c = y->num; *rest = -1; return; }
    if (y->k == Y_MUL && S->nd[kid(S, a, 0)].k == Y_NUM) {
        *c = S->nd[kid(S, a, 0)].num;
        *rest = y->n == 2 ? kid(S, a, 1) : mk(S, Y_MUL, 0, 0, 0, kids_of(S, a) + 1, y->n - 1, -1);
        return;
    }
    *c = 1;
    *rest = a;
}

/* The sum of t[0..n): sums flattened, like terms merged (2*x + 3*x = 5*x),
 * the numbers folded into one (where the first of them stood), zeros dropped. */
static int add(sym *S, const int *t, int n)
{
    list rest = {0}, stack = {0};
    double *coef = NULL;
    int ncoef = 0, r = 0;
    for (int i = n - 1; i >= 0; i--) push(S, &stack, t[i]);
    while (stack.n && !S->st) {
        int a = stack.v[--stack.n];
        if (S->nd[a].k == Y_ADD) {
            for (int i = S->nd[a].n - 1; i >= 0; i--) push(S, &stack, kid(S, a, i));
            continue;
        }
        double c;
        int rs;
        split(S, a, &c, &rs);
        int j = 0;
        while (j < rest.n && rest.v[j] != rs) j++;
        if (j < rest.n) { coef[j] += c; continue; }
        double *nc = realloc(coef, (size_t)(ncoef + 1) * sizeof *nc);
        if (!nc) { fail(S, BP_E_NOMEM, -1, "out of memory"); break; }
        coef = nc;
        coef[ncoef++] = c;
        push(S, &rest, rs);
    }
    free(stack.v);
    list terms = {0};
    for (int i = 0; i < rest.n && !S->st; i++) {
        if (coef[i] == 0) continue;
        if (!isfinite(coef[i])) { fail(S, BP_E_DOMAIN, -1, "--symbolic: a constant of the formulas overflows a double"); break; }
        push(S, &terms, rest.v[i] < 0 ? num(S, coef[i]) : mul2(S, num(S, coef[i]), rest.v[i]));
    }
    if (!S->st) r = !terms.n ? num(S, 0) : terms.n == 1 ? terms.v[0] : mk(S, Y_ADD, 0, 0, 0, terms.v, terms.n, -1);
    free(rest.v); free(coef); free(terms.v);
    return S->st ? 0 : r;
}

static int add2(sym *S, int a, int b) { return add(S, (int[]){a, b}, 2); }
static int neg(sym *S, int a) { return mul2(S, num(S, -1), a); }
static int sub(sym *S, int a, int b) { return add2(S, a, neg(S, b)); }

/* Is v a number that prints short (at most 12 significant digits at %.15g)? */
static int short_number(double v)
{
    char b[40];
    snprintf(b, sizeof b, "%.15g", v);
    int digits = 0;
    for (const char *p = b; *p && *p != 'e'; p++) digits += *p >= '0' && *p <= '9';
    return isfinite(v) && digits <= 12;
}

/* a / b: by a number, a multiplication when 1/b is short; the coefficients of
 * a and b cancelled (2*x/(2*y) = x/y); quotients in a or b merged. */
static int divide(sym *S, int a, int b)
{
    const ynode *B = &S->nd[b];
    if (is_num(S, b, 1)) return a;
    if (is_num(S, a, 0) && !is_num(S, b, 0)) return a;
    if (a == b && !is_num(S, b, 0)) return num(S, 1);
    if (B->k == Y_NUM && B->num != 0) {   /* (c r)/d = (c/d) r when c/d is short: 3*x^2/3 = x^2 */
        double ca;
        int ra;
        split(S, a, &ca, &ra);
        if (short_number(ca / B->num)) return ra < 0 ? num(S, ca / B->num) : mul2(S, num(S, ca / B->num), ra);
    }
    if (S->nd[a].k == Y_DIV) return divide(S, kid(S, a, 0), mul2(S, kid(S, a, 1), b));   /* (p/q)/b = p/(q b) */
    if (B->k == Y_DIV) return divide(S, mul2(S, a, kid(S, b, 1)), kid(S, b, 0));          /* a/(p/q) = a q/p   */
    if (B->k == Y_MUL && S->nd[kid(S, b, 0)].k == Y_NUM) {
        double ca, cb;
        int ra, rb;
        split(S, a, &ca, &ra);
        split(S, b, &cb, &rb);
        if (short_number(ca / cb)) return mul2(S, num(S, ca / cb), divide(S, ra < 0 ? num(S, 1) : ra, rb));
    }
    return mk(S, Y_DIV, 0, 0, 0, (int[]){a, b}, 2, -1);
}

static int pow2(sym *S, int a, int b)
{
    const ynode *A = &S->nd[a], *B = &S->nd[b];
    if (B->k == Y_NUM) {
        double p = B->num;
        if (p == 0) return num(S, 1);
        if (p == 1) return a;
        if (A->k == Y_NUM) {
            double v = pow(A->num, p);
            if ((A->num > 0 || p == floor(p)) && !(A->num == 0 && p < 0) && short_number(v)) return num(S, v);
        }
        /* (c r)^p = c^p r^p for an integer p: (-x)^3 = -x^3 */
        if (A->k == Y_MUL && p == floor(p) && S->nd[kid(S, a, 0)].k == Y_NUM) {
            double c;
            int rest;
            split(S, a, &c, &rest);
            if (short_number(pow(c, p))) return mul2(S, num(S, pow(c, p)), pow2(S, rest, b));
        }
        /* (x^q)^p = x^(q p) for an integer p */
        if (A->k == Y_POW && p == floor(p) && S->nd[kid(S, a, 1)].k == Y_NUM)
            return pow2(S, kid(S, a, 0), num(S, S->nd[kid(S, a, 1)].num * p));
    }
    if (is_num(S, a, 1)) return a;
    return mk(S, Y_POW, 0, 0, 0, (int[]){a, b}, 2, -1);
}

/* fn(x[, y]) for builtin bi, with the exact values of numbers folded (exp(0)
 * = 1, relu(-2) = 0, ...) and the functions that are others written as
 * those (relu' is step, or x >= 0 with relu'(0) = 1; identity(x) is x,
 * identity'(x) and step'(x) are 1 and 0). */
static int cmp(sym *S, int op, int a, int b);

static int fn(sym *S, int bi, int x, int y, int ast)
{
    switch (bi) {
    case BI_DRELU:
        if (S->e->kinks.relu_at_zero) return cmp(S, 'g', x, num(S, 0));
        bi = BI_STEP;
        break;
    case BI_IDENTITY: return x;
    case BI_DLINEAR: return num(S, 1);
    case BI_DSTEP: return num(S, 0);
    default: break;
    }
    const ynode *X = &S->nd[x];
    if (X->k == Y_NUM) {
        double v = X->num;
        switch (bi) {
        case BI_EXP: if (v == 0) return num(S, 1); break;
        case BI_LOG: if (v == 1) return num(S, 0); break;
        case BI_SQRT: if (v == 0 || v == 1) return x; break;
        case BI_TANH: if (v == 0) return x; break;
        case BI_SIGMOID: if (v == 0) return num(S, 0.5); break;
        case BI_DTANH: if (v == 0) return num(S, 1); break;
        case BI_DSIGMOID: if (v == 0) return num(S, 0.25); break;
        case BI_RELU: return num(S, v > 0 ? v : 0);
        case BI_STEP: return num(S, v > 0);
        case BI_ABS: return num(S, fabs(v));
        case BI_MAX: if (S->nd[y].k == Y_NUM) return num(S, fmax(v, S->nd[y].num)); break;
        case BI_MIN: if (S->nd[y].k == Y_NUM) return num(S, fmin(v, S->nd[y].num)); break;
        default: break;
        }
    }
    return y >= 0 ? mk(S, Y_FN, bi, 0, 0, (int[]){x, y}, 2, ast) : mk(S, Y_FN, bi, 0, 0, &x, 1, ast);
}

/* The comparison a op b ('>', 'g' for >=, '<', 'l' for <=): 1 or 0, folded for numbers. */
static int cmp(sym *S, int op, int a, int b)
{
    if (S->nd[a].k == Y_NUM && S->nd[b].k == Y_NUM) {
        double x = S->nd[a].num, y = S->nd[b].num;
        return num(S, op == '>' ? x > y : op == 'g' ? x >= y : op == '<' ? x < y : x <= y);
    }
    return mk(S, Y_CMP, op, 0, 0, (int[]){a, b}, 2, -1);
}

/* ---- the AST as formulas ---------------------------------------------------------- */

static int conv(sym *S, int ai, const int *env, int *out);

/* a op b for the AST operator op. */
static int binop(sym *S, int op, int a, int b)
{
    switch (op) {
    case '+': return add2(S, a, b);
    case '-': return sub(S, a, b);
    case '*': return mul2(S, a, b);
    case '/': return divide(S, a, b);
    case '^': return pow2(S, a, b);
    default: return cmp(S, op, a, b);
    }
}

/* An A_BIN chain a+b+c+... walked along its left operands in a loop, as
 * expr_graph.c's build_chain does: only right operands recurse. A run of + and
 * - (or of *) is gathered and made one sum (product) at its end, so that a long
 * chain costs no more than its length. */
static int conv_chain(sym *S, int ai, const int *env, int *out)
{
    const anode *ast = S->e->ast;
    int ns = 0, k;
    for (k = ai; ast[k].k == A_BIN; k = ast[k].kid[0]) ns++;
    int *spine = malloc((size_t)ns * sizeof *spine), lc = ast[k].len, run = 0;   /* run: '+' or '*' */
    list *pend = calloc((size_t)ast[ai].len, sizeof *pend);                     /* per output */
    int *cur = malloc((size_t)ast[ai].len * sizeof *cur), *rb = malloc((size_t)ast[ai].len * sizeof *rb);
    if (!spine || !cur || !rb || !pend) {
        free(spine); free(cur); free(rb); free(pend);
        return fail(S, BP_E_NOMEM, -1, "out of memory"), -1;
    }
    for (int i = 0, j = ai; i < ns; i++, j = ast[j].kid[0]) spine[i] = j;
    int bad = conv(S, k, env, cur);
    for (int i = ns - 1; !bad && i >= 0; i--) {
        const anode *A = &ast[spine[i]];
        int lb = ast[A->kid[1]].len, cls = A->op == '+' || A->op == '-' ? '+' : A->op == '*' ? '*' : 0;
        if (!strchr("+-*/^<>lg", A->op)) {   /* @ and the products read from shapes: matrices */
            int len = A->oplen > 0 ? A->oplen : 1;
            fail(S, BP_E_VALUE, A->oplen > 0 ? A->oppos : A->start, "--symbolic works on scalar and vector expressions "
                 "(numbers, variables, + - * / ^, comparisons, elementwise functions, vectors, definitions); '%.*s' is "
                 "a matrix operator", len > 20 ? 20 : len, A->oplen > 0 ? S->e->src + A->oppos : "juxtaposition");
            bad = -1;
            break;
        }
        if (run && (cls != run || A->len != lc)) {   /* the run ends: its sum or product */
            for (int j = 0; j < lc; j++) cur[j] = run == '+' ? add(S, pend[j].v, pend[j].n) : mul(S, pend[j].v, pend[j].n);
            run = 0;
        }
        if (lc == 1 && A->len > 1)   /* a number against a vector: broadcast it */
            for (int j = 1; j < A->len; j++) cur[j] = cur[0];
        lc = A->len;
        if ((bad = conv(S, A->kid[1], env, rb))) break;
        for (int j = 0; j < lc && !S->st; j++) {
            int y = rb[lb == 1 ? 0 : j];
            if (!cls) { cur[j] = binop(S, A->op, cur[j], y); continue; }
            if (!run) { pend[j].n = 0; push(S, &pend[j], cur[j]); }
            push(S, &pend[j], A->op == '-' ? neg(S, y) : y);
        }
        run = cls;
    }
    if (run && !bad)
        for (int j = 0; j < lc; j++) cur[j] = run == '+' ? add(S, pend[j].v, pend[j].n) : mul(S, pend[j].v, pend[j].n);
    if (!bad && !S->st) memcpy(out, cur, (size_t)lc * sizeof *out);
    for (int j = 0; j < ast[ai].len; j++) free(pend[j].v);
    free(pend); free(cur); free(rb); free(spine);
    return bad || S->st ? -1 : 0;
}

/* AST node ai as A->len formulas into out; env: the formulas of the
 * parameters of the definition whose body it is in. */
static int conv(sym *S, int ai, const int *env, int *out)
{
    const anode *A = &S->e->ast[ai];
    if (S->st) return -1;
    if ((S->budget -= A->len) < 0)
        return fail(S, BP_E_VALUE, -1, "--symbolic: the expression is too large to write out as formulas (more "
                    "than %d operations once its definitions are inlined)", SYM_BUDGET), -1;
    int *t = NULL, bad = 0;
    switch (A->k) {
    case A_NUM: out[0] = num(S, A->num); break;
    case A_VAR: out[0] = var(S, A->idx); break;
    case A_PARAM: out[0] = env[A->idx]; break;
    case A_NEG:
        bad = conv(S, A->kid[0], env, out);
        for (int i = 0; !bad && i < A->len; i++) out[i] = neg(S, out[i]);
        break;
    case A_VEC:
    case A_CALL: {
        int total = 0;
        for (int i = 0; i < A->nkid; i++) total += S->e->ast[A->kid[i]].len;
        int *dst = out;
        if (A->k == A_CALL && !(dst = t = malloc((size_t)total * sizeof *t))) return fail(S, BP_E_NOMEM, -1, "out of memory"), -1;
        for (int i = 0, k = 0; !bad && i < A->nkid; k += S->e->ast[A->kid[i]].len, i++) bad = conv(S, A->kid[i], env, dst + k);
        if (!bad && A->k == A_CALL) bad = conv(S, S->e->defs[A->idx].body, t, out);
        break;
    }
    case A_BIN: return conv_chain(S, ai, env, out);
    case A_FN: {
        if (!bp_expr_builtin_elementwise(A->idx) || bp_expr_builtin_arity(A->idx) != A->nkid || A->nkid > 2) goto beyond;
        int la = S->e->ast[A->kid[0]].len, lb = A->nkid > 1 ? S->e->ast[A->kid[1]].len : 0;
        if (!(t = malloc((size_t)(la + lb) * sizeof *t))) return fail(S, BP_E_NOMEM, -1, "out of memory"), -1;
        bad = conv(S, A->kid[0], env, t);
        if (!bad && lb) bad = conv(S, A->kid[1], env, t + la);
        for (int i = 0; !bad && i < A->len; i++)
            out[i] = fn(S, A->idx, t[la == 1 ? 0 : i], lb ? t[la + (lb == 1 ? 0 : i)] : -1, ai);
        break;
    }
    default:
    beyond: {
        int len = A->end - A->start;
        fail(S, BP_E_VALUE, A->start, "--symbolic works on scalar and vector expressions (numbers, variables, "
             "+ - * / ^, comparisons, elementwise functions, vectors, definitions); '%.*s' is beyond them",
             len > 60 ? 60 : len, S->e->src + A->start);
        bad = -1;
    }
    }
    free(t);
    return bad || S->st ? -1 : 0;
}

/* ---- derivatives ---------------------------------------------------------------------- */

/* The weight of the first argument of max (mx) or min at the expression's
 * convention (bp_kinks.tie): 1 where it wins, at a tie 1/2 (half) or 1
 * (first); the second argument's weight is this with the arguments swapped
 * and `second` set: 1/2 or 0 at a tie. Written with comparisons:
 * ((a > b) + (a >= b))/2, (a >= b), (b > a). */
static int win(sym *S, int mx, int a, int b, int second)
{
    int strict = cmp(S, mx ? '>' : '<', a, b), weak = cmp(S, mx ? 'g' : 'l', a, b);
    if (S->e->kinks.tie == BP_TIE_FIRST) return second ? strict : weak;
    return mul2(S, num(S, 0.5), add2(S, strict, weak));
}

/* d a / d (variable S->wv), memoised (a node's derivative is asked for by every use). */
static int deriv(sym *S, int a)
{
    if (S->st) return 0;
    if (a < S->nmemo && S->memo[a]) return S->memo[a] - 1;
    const ynode y = S->nd[a];
    int r = 0;
    switch (y.k) {
    case Y_NUM: r = num(S, 0); break;
    case Y_VAR: r = num(S, y.var == S->wv); break;
    case Y_ADD: {
        list d = {0};
        for (int i = 0; i < y.n; i++) push(S, &d, deriv(S, kid(S, a, i)));
        r = add(S, d.v, d.n);
        free(d.v);
        break;
    }
    case Y_MUL: {   /* sum over i of (d k_i) times the other factors */
        list terms = {0}, f = {0};
        for (int i = 0; i < y.n && !S->st; i++) {
            int di = deriv(S, kid(S, a, i));
            if (is_num(S, di, 0)) continue;
            f.n = 0;
            for (int j = 0; j < y.n; j++) push(S, &f, j == i ? di : kid(S, a, j));
            push(S, &terms, mul(S, f.v, f.n));
        }
        r = add(S, terms.v, terms.n);
        free(terms.v);
        free(f.v);
        break;
    }
    case Y_DIV: {   /* (a/b)' = a'/b - a b'/b^2 */
        int p = kid(S, a, 0), q = kid(S, a, 1), dp = deriv(S, p), dq = deriv(S, q);
        if (is_num(S, dq, 0)) r = divide(S, dp, q);
        else r = sub(S, divide(S, dp, q), divide(S, mul2(S, p, dq), pow2(S, q, num(S, 2))));
        break;
    }
    case Y_POW: {   /* (a^p)' = p a^(p-1) a'; with p depending on the variable, a^p (p' log a + p a'/a) */
        int p = kid(S, a, 0), q = kid(S, a, 1), dp = deriv(S, p), dq = deriv(S, q);
        if (is_num(S, dq, 0)) r = mul(S, (int[]){q, pow2(S, p, sub(S, q, num(S, 1))), dp}, 3);
        else r = mul2(S, a, add2(S, mul2(S, dq, fn(S, BI_LOG, p, -1, -1)), divide(S, mul2(S, q, dp), p)));
        break;
    }
    case Y_CMP: r = num(S, 0); break;   /* a comparison is 1 or 0: its gradient is 0 */
    case Y_FN: {
        int x = kid(S, a, 0), dx = deriv(S, x);
        switch (y.op) {
        case BI_EXP: r = mul2(S, a, dx); break;                                     /* e^x x'            */
        case BI_LOG: r = divide(S, dx, x); break;                                   /* x'/x              */
        case BI_SQRT: r = divide(S, dx, mul2(S, num(S, 2), a)); break;              /* x'/(2 sqrt x)     */
        case BI_SIGMOID: r = mul(S, (int[]){a, sub(S, num(S, 1), a), dx}, 3); break;      /* s(1-s) x'    */
        case BI_TANH: r = mul2(S, sub(S, num(S, 1), pow2(S, a, num(S, 2))), dx); break;   /* (1-t^2) x'   */
        case BI_DSIGMOID:   /* (s(1-s))' = s(1-s)(1-2s) x' */
            r = mul(S, (int[]){a, sub(S, num(S, 1), mul2(S, num(S, 2), fn(S, BI_SIGMOID, x, -1, -1))), dx}, 3);
            break;
        case BI_DTANH:      /* (1-t^2)' = -2 t (1-t^2) x' */
            r = mul(S, (int[]){num(S, -2), fn(S, BI_TANH, x, -1, -1), a, dx}, 4);
            break;
        case BI_STEP: r = num(S, 0); break;                                          /* 0                 */
        case BI_RELU:       /* step(x) x', or (x >= 0) x' with relu'(0) = 1: the convention of bp_kinks */
            r = mul2(S, S->e->kinks.relu_at_zero ? cmp(S, 'g', x, num(S, 0)) : fn(S, BI_STEP, x, -1, -1), dx);
            break;
        case BI_ABS:        /* ((x > 0) - (x < 0)) x', abs'(0) = 0 */
            r = mul2(S, sub(S, cmp(S, '>', x, num(S, 0)), cmp(S, '<', x, num(S, 0))), dx);
            break;
        default: {          /* max, min: each argument's derivative by its weight (win) */
            int z = kid(S, a, 1), dz = deriv(S, z), mx = y.op == BI_MAX;
            r = add2(S, is_num(S, dx, 0) ? num(S, 0) : mul2(S, win(S, mx, x, z, 0), dx),
                     is_num(S, dz, 0) ? num(S, 0) : mul2(S, win(S, mx, z, x, 1), dz));
        }
        }
        break;
    }
    }
    if (S->st) return 0;
    if (a < S->nmemo) S->memo[a] = r + 1;
    return r;
}

/* ---- polynomials: expanded, terms collected ----------------------------------------------- */

static void poly_free(poly *p)
{
    if (p && p != NOT_POLY) { free(p->c); free(p->ex); free(p); }
}

static poly *poly_new(int nt, int nv)
{
    poly *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->c = calloc((size_t)nt + 1, sizeof *p->c);
    p->ex = calloc((size_t)nt * (size_t)nv + 1, sizeof *p->ex);
    if (!p->c || !p->ex) { poly_free(p); return NULL; }
    return p;
}

static int deg(const int *ex, int nv)
{
    int d = 0;
    for (int i = 0; i < nv; i++) d += ex[i];
    return d;
}

/* grlex: the higher total degree first, then the higher power of the variable
 * that comes first. */
static int term_before(const int *a, const int *b, int nv)
{
    int da = deg(a, nv), db = deg(b, nv);
    if (da != db) return da > db;
    for (int i = 0; i < nv; i++)
        if (a[i] != b[i]) return a[i] > b[i];
    return 0;
}

/* Sort the terms, merge equal monomials, drop zero coefficients; NOT_POLY when
 * it has too many terms. */
static poly *poly_norm(poly *p, int nv)
{
    int nt = p->nt;
    for (int i = 1; i < nt; i++)
        for (int j = i; j > 0 && term_before(p->ex + (size_t)j * nv, p->ex + (size_t)(j - 1) * nv, nv); j--) {
            double c = p->c[j]; p->c[j] = p->c[j - 1]; p->c[j - 1] = c;
            for (int k = 0; k < nv; k++) {
                int t = p->ex[(size_t)j * nv + k];
                p->ex[(size_t)j * nv + k] = p->ex[(size_t)(j - 1) * nv + k];
                p->ex[(size_t)(j - 1) * nv + k] = t;
            }
        }
    int w = 0;
    for (int i = 0; i < nt; i++) {
        if (w > 0 && !memcmp(p->ex + (size_t)(w - 1) * nv, p->ex + (size_t)i * nv, (size_t)nv * sizeof *p->ex)) {
            p->c[w - 1] += p->c[i];
            continue;
        }
        if (w != i) {
            p->c[w] = p->c[i];
            memmove(p->ex + (size_t)w * nv, p->ex + (size_t)i * nv, (size_t)nv * sizeof *p->ex);
        }
        w++;
    }
    int z = 0;
    for (int i = 0; i < w; i++) {
        if (p->c[i] == 0) continue;
        if (z != i) {
            p->c[z] = p->c[i];
            memmove(p->ex + (size_t)z * nv, p->ex + (size_t)i * nv, (size_t)nv * sizeof *p->ex);
        }
        z++;
    }
    p->nt = z;
    if (z > POLY_MAX_TERMS) { poly_free(p); return NOT_POLY; }
    for (int i = 0; i < z; i++)
        if (!isfinite(p->c[i])) { poly_free(p); return NOT_POLY; }
    return p;
}

static poly *poly_sum(const poly *a, const poly *b, double sb, int nv)
{
    poly *p = poly_new(a->nt + b->nt, nv);
    if (!p) return NULL;
    for (int i = 0; i < a->nt; i++) {
        p->c[i] = a->c[i];
        memcpy(p->ex + (size_t)i * nv, a->ex + (size_t)i * nv, (size_t)nv * sizeof *p->ex);
    }
    for (int i = 0; i < b->nt; i++) {
        p->c[a->nt + i] = sb * b->c[i];
        memcpy(p->ex + (size_t)(a->nt + i) * nv, b->ex + (size_t)i * nv, (size_t)nv * sizeof *p->ex);
    }
    p->nt = a->nt + b->nt;
    return poly_norm(p, nv);
}

static poly *poly_prod(const poly *a, const poly *b, int nv)
{
    if ((long)a->nt * b->nt > 4 * POLY_MAX_TERMS) return NOT_POLY;
    poly *p = poly_new(a->nt * b->nt, nv);
    if (!p) return NULL;
    for (int i = 0; i < a->nt; i++)
        for (int j = 0; j < b->nt; j++) {
            int t = i * b->nt + j;
            p->c[t] = a->c[i] * b->c[j];
            for (int k = 0; k < nv; k++) {
                int e = a->ex[(size_t)i * nv + k] + b->ex[(size_t)j * nv + k];
                if (e > POLY_MAX_EXP) { poly_free(p); return NOT_POLY; }
                p->ex[(size_t)t * nv + k] = e;
            }
        }
    p->nt = a->nt * b->nt;
    return poly_norm(p, nv);
}

static poly *poly_const(double c, int nv, int v)
{
    poly *p = poly_new(1, nv);
    if (!p) return NULL;
    p->nt = 1;
    p->c[0] = c;
    if (v >= 0) p->ex[v] = 1;
    return poly_norm(p, nv);
}

/* The polynomial of node a in the variables, NOT_POLY if it is none (a
 * function, a division by a formula, a power that is not a small
 * non-negative integer), NULL when out of memory; memoised. */
static poly *topoly(sym *S, int a)
{
    int nv = S->e->nvars;
    if (a >= S->npm) {
        int n = S->nn + 64;
        poly **pm = realloc(S->pm, (size_t)n * sizeof *pm);
        if (!pm) return NULL;
        memset(pm + S->npm, 0, (size_t)(n - S->npm) * sizeof *pm);
        S->pm = pm;
        S->npm = n;
    }
    if (S->pm[a]) return S->pm[a];
    const ynode y = S->nd[a];
    poly *p = NOT_POLY;
    switch (y.k) {
    case Y_NUM: p = poly_const(y.num, nv, -1); break;
    case Y_VAR: p = poly_const(1, nv, y.var); break;
    case Y_ADD:
    case Y_MUL: {
        p = poly_const(y.k == Y_MUL, nv, -1);
        for (int i = 0; i < y.n && p && p != NOT_POLY; i++) {
            poly *k = topoly(S, kid(S, a, i)), *q;
            if (!k || k == NOT_POLY) { poly_free(p); p = k; break; }
            q = y.k == Y_ADD ? poly_sum(p, k, 1, nv) : poly_prod(p, k, nv);
            poly_free(p);
            p = q;
        }
        break;
    }
    case Y_DIV: {
        const ynode *d = &S->nd[kid(S, a, 1)];
        poly *k = d->k == Y_NUM && d->num != 0 ? topoly(S, kid(S, a, 0)) : NOT_POLY, *zero;
        if (!k || k == NOT_POLY) { p = k; break; }
        if (!(zero = poly_const(0, nv, -1))) { p = NULL; break; }
        p = poly_sum(zero, k, 1 / d->num, nv);
        poly_free(zero);
        break;
    }
    case Y_POW: {
        const ynode *x = &S->nd[kid(S, a, 1)];
        if (x->k != Y_NUM || x->num != floor(x->num) || x->num < 0 || x->num > POLY_MAX_POW) break;
        poly *b = topoly(S, kid(S, a, 0));
        if (!b || b == NOT_POLY) { p = b; break; }
        p = poly_const(1, nv, -1);
        for (int i = 0; i < (int)x->num && p && p != NOT_POLY; i++) {
            poly *q = poly_prod(p, b, nv);
            poly_free(p);
            p = q;
        }
        break;
    }
    default: break;
    }
    if (!p) { fail(S, BP_E_NOMEM, -1, "out of memory"); return NULL; }
    S->pm[a] = p;
    return p;
}

/* The formula of a polynomial: its terms highest degree first. */
static int frompoly(sym *S, const poly *p)
{
    int nv = S->e->nvars;
    list terms = {0}, f = {0};
    for (int t = 0; t < p->nt; t++) {
        f.n = 0;
        push(S, &f, num(S, p->c[t]));
        for (int k = 0; k < nv; k++) {
            int e = p->ex[(size_t)t * nv + k];
            if (e) push(S, &f, pow2(S, var(S, k), num(S, e)));
        }
        push(S, &terms, mul(S, f.v, f.n));
    }
    int r = add(S, terms.v, terms.n);
    free(terms.v);
    free(f.v);
    return r;
}

/* The form to print: a polynomial expanded, anything else as it is. */
static int finish(sym *S, int a)
{
    poly *p = topoly(S, a);
    return p && p != NOT_POLY && !S->st ? frompoly(S, p) : a;
}

/* ---- printing, in the expression language --------------------------------------------------- */

typedef struct text { char *s; size_t n, cap; int over; } text;

static void put(text *T, const char *s)
{
    size_t l = strlen(s);
    if (T->over || T->n + l > SYM_MAX_TEXT) { T->over = 1; return; }
    if (T->n + l + 1 > T->cap) {
        size_t cap = T->cap ? 2 * T->cap : 64;
        while (cap < T->n + l + 1) cap *= 2;
        char *ns = realloc(T->s, cap);
        if (!ns) { T->over = 2; return; }
        T->s = ns;
        T->cap = cap;
    }
    memcpy(T->s + T->n, s, l + 1);
    T->n += l;
}

/* A number for people: up to 12 significant digits as they are, a longer one
 * as a fraction p/q (q <= 1000) when it is one (1/3), else 15 digits. */
static const char *number(double v, char b[64])
{
    if (v == 0) v = 0;
    if (short_number(v)) { snprintf(b, 64, "%.15g", v); return b; }
    for (int q = 2; q <= 1000; q++) {
        double p = round(v * q);
        if (fabs(p) < 1e15 && fabs(p / q - v) <= 4e-16 * fabs(v)) { snprintf(b, 64, "%.0f/%d", p, q); return b; }
    }
    snprintf(b, 64, "%.15g", v);
    return b;
}

/* How tightly node a binds when printed (negated: neg): 0 a comparison, 1 a
 * sum, 2 a product or quotient (a fraction too), 3 a unary minus, 4 a power,
 * 5 an atom. */
static int level(const sym *S, int a, int neg)
{
    const ynode *y = &S->nd[a];
    switch (y->k) {
    case Y_NUM: {
        char b[64];
        double v = neg ? -y->num : y->num;
        return v < 0 ? 3 : strchr(number(v, b), '/') ? 2 : 5;
    }
    case Y_ADD: return neg ? 3 : 1;
    case Y_CMP: return neg ? 3 : 0;
    case Y_MUL:
    case Y_DIV: return 2;
    case Y_POW: return neg ? 3 : 4;
    default: return neg ? 3 : 5;
    }
}

/* A sum's term is written with " - " when its coefficient is negative. */
static int negative(const sym *S, int a)
{
    const ynode *y = &S->nd[a];
    if (y->k == Y_DIV) return negative(S, kid(S, a, 0));
    return (y->k == Y_NUM && y->num < 0) || (y->k == Y_MUL && S->nd[kid(S, a, 0)].k == Y_NUM && S->nd[kid(S, a, 0)].num < 0);
}

static void print(sym *S, text *T, int a, int neg);

static void print_in(sym *S, text *T, int a, int neg, int min_level)
{
    int paren = level(S, a, neg) < min_level;
    if (paren) put(T, "(");
    print(S, T, a, neg);
    if (paren) put(T, ")");
}

static void print(sym *S, text *T, int a, int neg)
{
    if (T->over) return;
    const ynode *y = &S->nd[a];
    char b[64];
    switch (y->k) {
    case Y_NUM: put(T, number(neg ? -y->num : y->num, b)); return;
    case Y_VAR:
        if (neg) put(T, "-");
        put(T, S->e->vars[y->var]);
        return;
    case Y_ADD:
        if (neg) put(T, "-(");
        for (int i = 0; i < y->n; i++) {
            int k = kid(S, a, i), ng = i && negative(S, k);
            if (i) put(T, ng ? " - " : " + ");
            print_in(S, T, k, ng, 1);
        }
        if (neg) put(T, ")");
        return;
    case Y_MUL: {
        int i = 0;
        double c = 1;
        if (S->nd[kid(S, a, 0)].k == Y_NUM) c = S->nd[kid(S, a, i++)].num;
        if (neg) c = -c;
        if (c == -1) put(T, "-");
        else if (c != 1) { put(T, number(c, b)); put(T, "*"); }
        for (int first = 1; i < y->n; i++, first = 0) {
            if (!first) put(T, "*");
            print_in(S, T, kid(S, a, i), 0, 2);
        }
        return;
    }
    case Y_DIV:
        print_in(S, T, kid(S, a, 0), neg, 2);
        put(T, "/");
        print_in(S, T, kid(S, a, 1), 0, 4);
        return;
    case Y_CMP: {
        static const char *const name[] = {[0] = " > ", [1] = " >= ", [2] = " < ", [3] = " <= "};
        int o = y->op == '>' ? 0 : y->op == 'g' ? 1 : y->op == '<' ? 2 : 3;
        if (neg) put(T, "-(");
        print_in(S, T, kid(S, a, 0), 0, 1);
        put(T, name[o]);
        print_in(S, T, kid(S, a, 1), 0, 1);
        if (neg) put(T, ")");
        return;
    }
    case Y_POW:
        if (neg) put(T, "-");
        print_in(S, T, kid(S, a, 0), 0, 5);
        put(T, "^");
        print_in(S, T, kid(S, a, 1), 0, 3);
        return;
    default:
        if (neg) put(T, "-");
        put(T, bp_expr_builtin_name(y->op));
        put(T, "(");
        for (int i = 0; i < y->n; i++) {
            if (i) put(T, ", ");
            print(S, T, kid(S, a, i), 0);
        }
        put(T, ")");
    }
}

/* The text of formula a (malloc'd), or NULL with the error set. */
static char *write_formula(sym *S, int a, const char *what)
{
    text T = {0};
    print(S, &T, finish(S, a), 0);
    if (S->st) { free(T.s); return NULL; }
    if (T.over == 2) { free(T.s); fail(S, BP_E_NOMEM, -1, "out of memory"); return NULL; }
    if (T.over) {
        free(T.s);
        fail(S, BP_E_VALUE, -1, "--symbolic: %s is longer than %d characters as a formula: too large to write out", what,
             SYM_MAX_TEXT);
        return NULL;
    }
    return T.s;
}

/* ---- the result ----------------------------------------------------------------------------- */

void bp_symbolic_free(bp_symbolic *s)
{
    if (!s) return;
    for (int i = 0; s->text && i < s->nout * (1 + s->nwrt); i++) free(s->text[i]);
    for (int j = 0; s->wrt && j < s->nwrt; j++) free(s->wrt[j]);
    free(s->text);
    free(s->wrt);
    free(s);
}

int bp_symbolic_noutputs(const bp_symbolic *s) { return s->nout; }
int bp_symbolic_nwrt(const bp_symbolic *s) { return s->nwrt; }
const char *bp_symbolic_wrt(const bp_symbolic *s, int j) { return j >= 0 && j < s->nwrt ? s->wrt[j] : NULL; }
const char *bp_symbolic_value(const bp_symbolic *s, int i)
{
    return i >= 0 && i < s->nout ? s->text[(size_t)i * (1 + s->nwrt)] : NULL;
}
const char *bp_symbolic_derivative(const bp_symbolic *s, int i, int j)
{
    return i >= 0 && i < s->nout && j >= 0 && j < s->nwrt ? s->text[(size_t)i * (1 + s->nwrt) + 1 + j] : NULL;
}

bp_status bp_expr_symbolic(const bp_expr *e, bp_symbolic **out, int *where, bp_error *err)
{
    bp_error scratch;
    if (!err) err = &scratch;
    if (where) *where = -1;
    *out = NULL;
    sym S = {.e = e, .err = err, .where = -1, .budget = SYM_BUDGET};
    int no = e->ast[e->root].len, nw = e->nwrt;
    int *outs = malloc(nz(no) * sizeof *outs);
    bp_symbolic *r = calloc(1, sizeof *r);
    if (!outs || !r || !(r->text = calloc(nz(no * (1 + nw)), sizeof *r->text)) ||
        !(r->wrt = calloc(nz(nw), sizeof *r->wrt))) {
        fail(&S, BP_E_NOMEM, -1, "out of memory");
        goto done;
    }
    r->nout = no;
    r->nwrt = nw;
    r->isvec = bp_expr_is_vector(e);
    for (int j = 0; j < nw; j++)
        if (!(r->wrt[j] = bp_strndup(e->vars[e->wrt[j]], strlen(e->vars[e->wrt[j]])))) fail(&S, BP_E_NOMEM, -1, "out of memory");
    num(&S, 0);
    if (conv(&S, e->root, NULL, outs)) goto done;
    char what[160];
    for (int i = 0; i < no && !S.st; i++) {
        snprintf(what, sizeof what, "output %d", i + 1);
        r->text[(size_t)i * (1 + nw)] = write_formula(&S, outs[i], what);
    }
    for (int j = 0; j < nw && !S.st; j++) {
        S.wv = e->wrt[j];
        free(S.memo);
        S.nmemo = S.nn;
        if (!(S.memo = calloc(nz(S.nmemo), sizeof *S.memo))) { fail(&S, BP_E_NOMEM, -1, "out of memory"); break; }
        for (int i = 0; i < no && !S.st; i++) {
            int d = deriv(&S, outs[i]);
            snprintf(what, sizeof what, "the derivative of output %d by %.60s", i + 1, e->vars[e->wrt[j]]);
            if (!S.st) r->text[(size_t)i * (1 + nw) + 1 + j] = write_formula(&S, d, what);
        }
    }
done:
    if (S.st && where) *where = S.where;
    free(outs);
    free(S.nd); free(S.kids); free(S.ht); free(S.memo);
    for (int i = 0; i < S.npm; i++) poly_free(S.pm[i]);
    free(S.pm);
    if (S.st) { bp_symbolic_free(r); return S.st; }
    *out = r;
    return BP_OK;
}

/* ---- the report ------------------------------------------------------------------------------ */

static void json_str(FILE *out, const char *s) { fprintf(out, "\"%s\"", s); }   /* formulas and names need no escapes */

/* Output i's formula (j = -1) or its derivative by wrt_j: set for every cell of a result. */
static const char *cell(const bp_symbolic *s, int i, int j) { return s->text[(size_t)i * (1 + s->nwrt) + 1 + j]; }

bp_status bp_symbolic_write(const bp_symbolic *s, int json, FILE *out, bp_error *err)
{
    int no = s->nout, nw = s->nwrt;
    if (json) {
        fputs("{\"variables\": [", out);
        for (int j = 0; j < nw; j++) { if (j) fputs(", ", out); json_str(out, s->wrt[j]); }
        fputs("], \"value\": ", out);
        if (s->isvec) fputc('[', out);
        for (int i = 0; i < no; i++) { if (i) fputs(", ", out); json_str(out, cell(s, i, -1)); }
        fputs(s->isvec ? "], \"jacobian\": [" : ", \"gradient\": ", out);
        for (int i = 0; i < no; i++) {
            fputs(i ? ", [" : "[", out);
            for (int j = 0; j < nw; j++) { if (j) fputs(", ", out); json_str(out, cell(s, i, j)); }
            fputc(']', out);
        }
        fputs(s->isvec ? "]}\n" : "}\n", out);
        return io(out, err);
    }
    if (!s->isvec) {
        fprintf(out, "f = %s\n", cell(s, 0, -1));
        for (int j = 0; j < nw; j++) fprintf(out, "df/d%s = %s\n", s->wrt[j], cell(s, 0, j));
        if (!nw) { fputs("gradient (no variables)\n", out); return io(out, err); }
        fputs("gradient [", out);
        for (int j = 0; j < nw; j++) fprintf(out, "%s%s", j ? ", " : "", cell(s, 0, j));
        fputs("]\n", out);
        return io(out, err);
    }
    for (int i = 0; i < no; i++) fprintf(out, "f%d = %s\n", i + 1, cell(s, i, -1));
    for (int i = 0; i < no; i++)
        for (int j = 0; j < nw; j++) fprintf(out, "df%d/d%s = %s\n", i + 1, s->wrt[j], cell(s, i, j));
    fprintf(out, "Jacobian (rows: the %d output%s; columns: ", no, no == 1 ? "" : "s");
    for (int j = 0; j < nw; j++) fprintf(out, "%s%s", j ? ", " : "", s->wrt[j]);
    fputs(")\n[", out);
    for (int i = 0; i < no; i++) {
        fputs(i ? ", [" : "[", out);
        for (int j = 0; j < nw; j++) fprintf(out, "%s%s", j ? ", " : "", cell(s, i, j));
        fputc(']', out);
    }
    fputs("]\n", out);
    return io(out, err);
}
