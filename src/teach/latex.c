/* teach/latex.c - a formula as the course notes write it in LaTeX, read into
 * the AST of the expression language (teach/expr.h): the same meaning and
 * the same precedence as the ASCII form, so the rest of the way (the graph,
 * its values and derivatives) is the expression language's.
 *
 *   quantities   W^{[l]} b^{[l]} z^{[l]} a^{[l]} (also ^{[l]T}, ^{[l]\top},
 *                ^{(l)}, _{l}; w for W), x, y, \hat{y}, m, \delta^{[l]},
 *                g^{[la]} g^{[lz]} g^{[lW]} g^{[lb]}; the derivatives
 *                \frac{\partial L}{\partial Q}, \partial L / \partial Q,
 *                \frac{dL}{dQ} (the loss L, l, J, \mathcal{L}, \mathcal{J},
 *                with an argument list or not) for Q = W, b, z, a, x, \hat{y}
 *   products     \odot \circ * elementwise; juxtaposition, \cdot, \times read
 *                from the shapes (op 'P' in expr_graph.c); / and \frac{a}{b}
 *   postfix      ^T ^{T} ^\top ^{\top} transpose, ^{p} power; a subscript
 *                _{3 \times 1} (a shape written under a factor) is skipped
 *   functions    \sigma \sigma' g g' \tanh \exp e^{...} \log \ln \sqrt
 *                \mathrm{ReLU} \text{ReLU} \operatorname{relu} (and a prime)
 *                \max \min; the argument in parentheses, or the next factor
 *   indicators   \mathbb{1}[...], \mathbf{1}(...), 1\{...\} around > \geq \ge
 *                < \leq \le
 *   sums         \sum_{i=1}^{m} T: T for each sample on its own, added up
 *                (up to the next + or - at its level, or the closing bracket)
 *   ignored      $ $$ \[ \] & \\ \left \right \big... spacing, a trailing , or .
 *
 * Every name becomes the ASCII language's (W[1], dL_dW[1], yhat, g[3z]); the
 * nodes keep their LaTeX spans, so messages quote the formula as written.
 * Anything else is refused with one line naming the command. */
#include "teach/expr.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { L_END = 0, L_NUM = 256, L_SYM, L_CMD, L_LE, L_GE, L_LSET, L_RSET };

typedef struct lx {
    bp_expr *e;
    const char *s;
    int pos, tend, tok;     /* the current token: s[pos, tend)              */
    int prev_end;           /* the end of the token before it              */
    double num;
    int depth;
    int where;
    int sigma;              /* the index letter of the \sum being read, or 0 */
    bp_error *err;
} lx;

static int perr(lx *p, int off, const char *fmt, ...) BP_PRINTF(3, 4);
static int perr(lx *p, int off, const char *fmt, ...)
{
    char msg[600], l[48];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->where = off;
    bp_err(p->err, BP_E_PARSE, "%s at %s", msg, bp_expr_loc(p->s, off, l, sizeof l));
    return -1;
}

/* ---- tokens ------------------------------------------------------------------ */

/* Commands that only space, size or delimit: read as nothing. */
static const char *const QUIET[] = {"quad", "qquad", "left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr",
                                    "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr", "displaystyle", "textstyle",
                                    "nonumber", "notag", "limits", "middle"};

/* The length of the command name at s (after the backslash). */
static int cmdlen(const char *s)
{
    int n = 0;
    while (isalpha((unsigned char)s[n])) n++;
    return n;
}

static int quiet(const char *s, int n)
{
    for (size_t i = 0; i < sizeof QUIET / sizeof *QUIET; i++)
        if ((int)strlen(QUIET[i]) == n && !strncmp(QUIET[i], s, (size_t)n)) return 1;
    return 0;
}

/* Where the next thing that is not read as nothing starts, from i. */
static int skip(const char *s, int i)
{
    for (;;) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '$' || c == '&') { i++; continue; }
        if (c == '\\') {
            char d = s[i + 1];
            if (d == '\\' || d == ',' || d == ';' || d == ':' || d == '!' || d == ' ' || d == '[' || d == ']') { i += 2; continue; }
            int n = cmdlen(s + i + 1);
            if (n && quiet(s + i + 1, n)) { i += 1 + n; continue; }
        }
        return i;
    }
}

/* Is there nothing but a trailing , or . and ignorable text from i on? */
static int trailing(const char *s, int i)
{
    if (s[i] != ',' && s[i] != '.') return 0;
    i = skip(s, i + 1);
    while (s[i] == ',' || s[i] == '.') i = skip(s, i + 1);
    return !s[i];
}

static int lex(lx *p, int from)
{
    const char *s = p->s;
    int i = skip(s, from);
    if (trailing(s, i)) i = (int)strlen(s);
    p->pos = i;
    unsigned char c = (unsigned char)s[i];
    if (!c) { p->tok = L_END; p->tend = i; return 0; }
    if (isdigit(c) || (c == '.' && isdigit((unsigned char)s[i + 1]))) {   /* digits [. digits]: no exponent in LaTeX */
        int j = i;
        char buf[64];
        while (isdigit((unsigned char)s[j])) j++;
        if (s[j] == '.' && isdigit((unsigned char)s[j + 1])) { j++; while (isdigit((unsigned char)s[j])) j++; }
        if (j - i > 60) return perr(p, i, "number too long");
        snprintf(buf, sizeof buf, "%.*s", j - i, s + i);
        p->num = strtod(buf, NULL);
        p->tok = L_NUM;
        p->tend = j;
        return 0;
    }
    if (isalpha(c)) { p->tok = L_SYM; p->tend = i + 1; return 0; }
    if (c == '\\') {
        if (s[i + 1] == '{' || s[i + 1] == '}') { p->tok = s[i + 1] == '{' ? L_LSET : L_RSET; p->tend = i + 2; return 0; }
        int n = cmdlen(s + i + 1);
        if (!n) return perr(p, i, "unexpected '\\%c'", s[i + 1] ? s[i + 1] : ' ');
        p->tok = L_CMD;
        p->tend = i + 1 + n;
        return 0;
    }
    if ((c == '<' || c == '>') && s[i + 1] == '=') { p->tok = c == '<' ? L_LE : L_GE; p->tend = i + 2; return 0; }
    if (strchr("^_{}()[]+-/=<>',*|", c)) { p->tok = c; p->tend = i + 1; return 0; }
    char ch[8];
    snprintf(ch, sizeof ch, isprint(c) ? "%c" : "\\x%02x", c);
    return perr(p, i, "unexpected character '%s'", ch);
}

static int next(lx *p)
{
    p->prev_end = p->tend;
    return lex(p, p->tend);
}

/* Is the current token the command \name? */
static int is_cmd(const lx *p, const char *name)
{
    return p->tok == L_CMD && (int)strlen(name) == p->tend - p->pos - 1 && !strncmp(p->s + p->pos + 1, name, strlen(name));
}
static int is_sym(const lx *p, char c) { return p->tok == L_SYM && p->s[p->pos] == c; }

static const char *tokdesc(const lx *p, char *buf, size_t n)
{
    if (p->tok == L_END) return "the end of the formula";
    snprintf(buf, n, "'%.*s'", p->tend - p->pos > 30 ? 30 : p->tend - p->pos, p->s + p->pos);
    return buf;
}

static int expect(lx *p, int tok, const char *what)
{
    if (p->tok == tok) return next(p);
    char d[48];
    return perr(p, p->pos, "expected %s, found %s", what, tokdesc(p, d, sizeof d));
}

/* ---- nodes --------------------------------------------------------------------- */

static int mk(lx *p, akind k, int start, const int *kids, int nkid)
{
    int a = bp_expr_node(p->e, k, start, p->prev_end, -1, kids, nkid, p->err);
    if (a >= 0 && p->e->ast[a].depth > MAX_LEVELS) return perr(p, start, "formula too deep (more than %d levels)", MAX_LEVELS);
    return a;
}

static int mkvar(lx *p, const char *name, int start)
{
    int a = bp_expr_var_node(p->e, name, (int)strlen(name), start, p->err);
    if (a >= 0) p->e->ast[a].end = p->prev_end;
    return a;
}

static int mkfn(lx *p, const char *fname, int start, int kid)
{
    int bi = bp_expr_builtin_find(fname, (int)strlen(fname));
    if (bi < 0) return perr(p, start, "no function %s", fname);
    int a = mk(p, A_FN, start, &kid, 1);
    if (a >= 0) p->e->ast[a].idx = bi;
    return a;
}

static int mkbin(lx *p, int op, int start, int a, int b, int oppos, int oplen)
{
    int k[2] = {a, b}, n = mk(p, A_BIN, start, k, 2);
    if (n < 0) return -1;
    anode *N = &p->e->ast[n];
    N->op = op;
    N->oppos = oppos;
    N->oplen = oplen;
    return n;
}

static int lx_expr(lx *p);
static int lx_term(lx *p);
static int lx_unary(lx *p);
static int lx_power(lx *p);
static int lx_primary(lx *p);

/* ---- groups and superscripts ------------------------------------------------- */

/* ( expr ), [ expr ] or { expr }: the expression, its span widened to the brackets. */
static int group(lx *p)
{
    int start = p->pos, open = p->tok, close = open == '(' ? ')' : open == '[' ? ']' : open == '{' ? '}' : L_RSET;
    const char *what = close == ')' ? "')'" : close == ']' ? "']'" : close == '}' ? "'}'" : "'\\}'";
    if (next(p)) return -1;
    int a = lx_expr(p);
    if (a < 0 || expect(p, close, what)) return -1;
    p->e->ast[a].start = start;
    p->e->ast[a].end = p->prev_end;
    return a;
}

/* A copy of the reader to look ahead with; its errors go nowhere. */
typedef struct look { lx q; bp_error scratch; } look;
static lx *ahead(const lx *p, look *k)
{
    k->q = *p;
    k->q.err = &k->scratch;
    return &k->q;
}
/* Go on from where the copy q got to. */
static void commit(lx *p, const lx *q)
{
    bp_error *err = p->err;
    *p = *q;
    p->err = err;
}

/* A layer's number: a whole number from 0 to 10^6 (larger ones are refused
 * by the names' check as out of range, without an int overflow here). */
static int whole(double v) { return v >= 0 && v <= 1e6 && v == (int)v; }

/* The layer written after W, b, z, a, \delta: ^{[l]} (with T or \top before
 * the brace: *trans), ^{(l)} or _{l} / _l; -1 when there is none (nothing read). */
static int layer(lx *p, int *trans)
{
    look k;
    lx *q = ahead(p, &k);
    *trans = -1;
    if (q->tok == '_') {
        if (next(q)) return -1;
        int braced = q->tok == '{';
        if (braced && next(q)) return -1;
        if (q->tok != L_NUM || !whole(q->num)) return -1;
        int l = (int)q->num;
        if (next(q) || (braced && (q->tok != '}' || next(q)))) return -1;
        commit(p, q);
        return l;
    }
    if (q->tok != '^' || next(q) || q->tok != '{' || next(q) || (q->tok != '[' && q->tok != '(')) return -1;
    int close = q->tok == '[' ? ']' : ')';
    if (next(q) || q->tok != L_NUM || !whole(q->num)) return -1;
    int l = (int)q->num;
    if (next(q) || q->tok != close || next(q)) return -1;
    if (is_sym(q, 'T') || is_cmd(q, "top") || is_cmd(q, "intercal")) {
        *trans = q->pos;
        if (next(q)) return -1;
    }
    if (q->tok != '}' || next(q)) return -1;
    commit(p, q);
    return l;
}

/* Wrap a in a transpose whose operator is at `at` (2 bytes, or the command). */
static int transpose(lx *p, int start, int a, int at)
{
    int t = mk(p, A_TRANS, start, &a, 1);
    if (t >= 0) {
        p->e->ast[t].oppos = at;
        p->e->ast[t].oplen = p->s[at] == '\\' ? 1 + cmdlen(p->s + at + 1) : 1;
    }
    return t;
}

/* A named quantity: W b z a (with a layer), x y m, \hat{y}, \delta^{[l]}. The
 * current token is its letter or command; sets *name. 0, or -1 (error). */
static int quantity(lx *p, char *name, size_t n, int *trans)
{
    int start = p->pos;
    *trans = -1;
    if (is_cmd(p, "hat")) {
        if (next(p)) return -1;
        int braced = p->tok == '{';
        if ((braced && next(p)) || !is_sym(p, 'y') || next(p) || (braced && expect(p, '}', "'}'")))
            return perr(p, start, "\\hat is understood on y only: \\hat{y}");
        snprintf(name, n, "yhat");
        return 0;
    }
    int delta = is_cmd(p, "delta");
    char c = delta ? 'd' : p->s[p->pos];
    if (p->tok != L_SYM && !delta) return perr(p, start, "expected a quantity");
    if (next(p)) return -1;
    if (c == 'x' || c == 'y' || c == 'm') { snprintf(name, n, "%c", c); return 0; }
    if (!strchr("Wwbzad", c)) return perr(p, start, "expected a quantity (W, b, z, a with their layer, x, y, \\hat{y})");
    int l = layer(p, trans);
    if (l < 0)
        return perr(p, start, "%s needs its layer, as %s^{[1]}%s", delta ? "\\delta" : (char[]){c, 0},
                    delta ? "\\delta" : (char[]){c, 0}, p->tok == '^' ? " (a plain superscript is a power)" : "");
    snprintf(name, n, "%s[%d]", delta ? "delta" : c == 'w' ? "W" : (char[]){c, 0}, l);
    return 0;
}

/* The loss in a derivative's numerator: L, l, J, \ell, \mathcal{L}, \mathcal{J},
 * with an argument list after it, (\hat{y}, y), or not. 1 if one was read. */
static int loss(lx *p)
{
    look k;
    lx *q = ahead(p, &k);
    if (is_cmd(q, "mathcal")) {
        if (next(q) || q->tok != '{' || next(q) || !(is_sym(q, 'L') || is_sym(q, 'J')) || next(q) || q->tok != '}') return 0;
    } else if (!(is_sym(q, 'L') || is_sym(q, 'l') || is_sym(q, 'J') || is_cmd(q, "ell"))) return 0;
    if (next(q)) return 0;
    if (q->tok == '(') {                       /* L(\hat{y}, y), l(\theta): skipped */
        int d = 0;
        do {
            d += q->tok == '(' ? 1 : q->tok == ')' ? -1 : 0;
            if (q->tok == L_END || next(q)) return 0;
        } while (d > 0);
    }
    commit(p, q);
    return 1;
}

/* After \partial or d: the quantity, as the name of the loss's derivative. */
static int wrt(lx *p, char *name, size_t n)
{
    int start = p->pos, trans;
    char q[32];
    if (quantity(p, q, sizeof q, &trans)) return -1;
    if (trans >= 0) return perr(p, trans, "a transpose in a derivative's denominator is not understood");
    if (!strcmp(q, "yhat")) snprintf(name, n, "dL_dyhat");
    else if (!strcmp(q, "x")) snprintf(name, n, "dL_dx");
    else if (q[0] == 'W' || q[0] == 'b' || q[0] == 'z' || q[0] == 'a') snprintf(name, n, "dL_d%s", q);
    else return perr(p, start, "a derivative of the loss is taken with respect to W, b, z, a, x or \\hat{y}");
    if (p->tok == '_') return perr(p, p->pos, "a derivative with respect to one entry is not understood: write it for the whole matrix");
    return 0;
}

/* "\partial" or "d" starting a derivative? */
static int is_d(const lx *p) { return is_cmd(p, "partial") || is_sym(p, 'd'); }

/* \frac{NUM}{DEN}: the derivative of the loss, or a quotient. */
static int frac(lx *p)
{
    int start = p->pos;
    if (next(p) || p->tok != '{') return perr(p, p->pos, "expected '{' after \\frac");
    look k;
    lx *q = ahead(p, &k);
    if (!next(q) && is_d(q)) {
        int d_at = q->pos;
        if (!next(q) && q->tok == '}') {
            return perr(p, d_at, "\\frac{d}{d...} (a derivative operator) is not understood: write the derivative itself, "
                        "as \\sigma'(z^{[1]}) or \\frac{\\partial L}{\\partial z^{[1]}}");
        }
        q = ahead(p, &k);
        next(q);
        next(q);
        if (loss(q) && q->tok == '}') {        /* \frac{\partial L}{\partial Q} */
            commit(p, q);
            char name[40];
            if (next(p) || p->tok != '{' || next(p)) return perr(p, p->pos, "expected '{' for the denominator of the derivative");
            if (!is_d(p)) return perr(p, p->pos, "expected \\partial or d in the denominator of the derivative");
            if (next(p) || wrt(p, name, sizeof name) || expect(p, '}', "'}' after the derivative's denominator")) return -1;
            return mkvar(p, name, start);
        }
    }
    int a = group(p);
    if (a < 0) return -1;
    if (p->tok != '{') return perr(p, p->pos, "expected '{' for the denominator of \\frac");
    int b = group(p);
    return b < 0 ? -1 : mkbin(p, '/', start, a, b, start, 5);
}

/* The argument of a function: in brackets, or the next factor. */
static int argument(lx *p)
{
    if (p->tok == '(' || p->tok == '[' || p->tok == '{') return group(p);
    if (p->tok == L_END) return perr(p, p->pos, "expected the function's argument");
    return lx_power(p);
}

/* A function applied: `base` (a builtin's name), a prime after it read here. */
static int apply(lx *p, const char *base, int start)
{
    char f[32];
    int prime = p->tok == '\'';
    if (prime && next(p)) return -1;
    snprintf(f, sizeof f, "%s%s", base, prime ? "'" : "");
    if (bp_expr_builtin_find(f, (int)strlen(f)) < 0)
        return perr(p, start, "the derivative of %s is not a function of the language; write it out", base);
    int a = argument(p);
    return a < 0 ? -1 : mkfn(p, f, start, a);
}

/* g(z^{[l]}), g'(z^{[l]}) (g_h, g_o as the notes write them): what the layer's activation is. */
static int activation(lx *p, int start)
{
    int prime = 0, sub = 0;
    for (;;) {                                         /* g', g_h, g'_o, g_{o}': which kind of layer; the argument says which one */
        if (p->tok == '\'' && !prime) { prime = 1; if (next(p)) return -1; continue; }
        if (p->tok == '_' && !sub) {
            sub = 1;
            if (next(p)) return -1;
            if (p->tok == '{') { if (next(p) || p->tok != L_SYM || next(p) || expect(p, '}', "'}'")) return -1; }
            else if (p->tok != L_SYM || next(p)) return -1;
            continue;
        }
        break;
    }
    int a = argument(p);
    if (a < 0) return -1;
    const anode *A = &p->e->ast[a];
    const bp_expr_host *h = p->e->host;
    if (A->k != A_VAR || !h || !h->activation)
        return perr(p, start, "g%s(...) needs one quantity that names its layer, as g%s(z^{[2]})", prime ? "'" : "", prime ? "'" : "");
    bp_error herr = {BP_OK, ""};
    const char *f = h->activation(h->ctx, p->e->vars[A->idx], prime, &herr);
    if (!f) return perr(p, start, "%s", herr.msg);
    return mkfn(p, f, start, a);
}

/* \mathbb{1}[...], \mathbf{1}(...), 1\{...\}: the comparison inside, 1 or 0. */
static int indicator(lx *p, int start)
{
    if (p->tok != '[' && p->tok != '(' && p->tok != L_LSET)
        return perr(p, p->pos, "expected the condition of the indicator in brackets: \\mathbb{1}[z^{[1]} > 0]");
    int a = group(p);
    if (a >= 0) { p->e->ast[a].start = start; p->e->ast[a].end = p->prev_end; }
    return a;
}

/* \sum_{i=1}^{m} T: T for each sample alone, summed. */
static int sum(lx *p)
{
    int start = p->pos;
    const char *only = "only \\sum_{i=1}^{m}, the sum over the samples, is understood";
    if (next(p) || p->tok != '_' || next(p) || p->tok != '{' || next(p) || p->tok != L_SYM) return perr(p, start, "%s", only);
    char idx = p->s[p->pos];
    if (next(p) || p->tok != '=' || next(p) || p->tok != L_NUM || p->num != 1 || next(p) || p->tok != '}' || next(p) ||
        p->tok != '^' || next(p))
        return perr(p, start, "%s", only);
    int braced = p->tok == '{';
    if ((braced && next(p)) || !is_sym(p, 'm') || next(p) || (braced && (p->tok != '}' || next(p))))
        return perr(p, start, "%s", only);
    if (p->sigma) return perr(p, start, "a sum over the samples inside another one is not understood");
    p->sigma = idx;
    int body = lx_term(p);
    p->sigma = 0;
    if (body < 0) return -1;
    int bi = bp_expr_builtin_find("samplesum", 9);
    int a = mk(p, A_FN, start, &body, 1);
    if (a >= 0) p->e->ast[a].idx = bi;
    return a;
}

/* A word in \mathrm{...}, \text{...}, \operatorname{...}: a function. */
static int word(lx *p, int start)
{
    if (next(p) || p->tok != '{') return perr(p, p->pos, "expected '{'");
    int w0 = p->tend;
    while (p->s[w0] == ' ') w0++;
    int w1 = w0;
    while (isalpha((unsigned char)p->s[w1])) w1++;
    char w[32];
    snprintf(w, sizeof w, "%.*s", w1 - w0 > 30 ? 30 : w1 - w0, p->s + w0);
    for (char *c = w; *c; c++) *c = (char)tolower((unsigned char)*c);
    int j = w1;
    while (p->s[j] == ' ') j++;
    if (p->s[j] != '}') return perr(p, start, "\\%.*s{...} is understood for one word: ReLU, sigmoid, softmax, diag",
                                    cmdlen(p->s + start + 1), p->s + start + 1);
    p->tend = j + 1;
    if (next(p)) return -1;
    const char *f = !strcmp(w, "relu") ? "relu" : !strcmp(w, "sigmoid") ? "sigmoid" : !strcmp(w, "softmax") ? "softmax"
                  : !strcmp(w, "diag") ? "diag" : !strcmp(w, "tanh") ? "tanh" : NULL;
    if (!f) return perr(p, start, "the function '%s' is not understood (ReLU, sigmoid, softmax, tanh, diag are)", w);
    return apply(p, f, start);
}

static int command(lx *p)
{
    int start = p->pos;
    char name[40], c[24];
    snprintf(c, sizeof c, "%.*s", p->tend - p->pos - 1 > 20 ? 20 : p->tend - p->pos - 1, p->s + p->pos + 1);
    if (!strcmp(c, "frac") || !strcmp(c, "dfrac") || !strcmp(c, "tfrac")) return frac(p);
    if (!strcmp(c, "hat") || !strcmp(c, "delta")) {
        int trans;
        if (quantity(p, name, sizeof name, &trans)) return -1;
        int a = mkvar(p, name, start);
        return a < 0 || trans < 0 ? a : transpose(p, start, a, trans);
    }
    if (!strcmp(c, "partial")) {                       /* \partial L / \partial Q */
        if (next(p) || !loss(p) || p->tok != '/' || next(p) || !is_cmd(p, "partial"))
            return perr(p, start, "\\partial is understood in the derivative of the loss: \\partial L / \\partial W^{[1]}");
        if (next(p) || wrt(p, name, sizeof name)) return -1;
        return mkvar(p, name, start);
    }
    if (!strcmp(c, "sigma") || !strcmp(c, "tanh") || !strcmp(c, "exp") || !strcmp(c, "log") || !strcmp(c, "ln") ||
        !strcmp(c, "sqrt")) {
        if (next(p)) return -1;
        return apply(p, !strcmp(c, "sigma") ? "sigmoid" : !strcmp(c, "ln") ? "log" : c, start);
    }
    if (!strcmp(c, "max") || !strcmp(c, "min")) {
        if (next(p) || p->tok != '(' || next(p)) return perr(p, start, "\\%s takes two arguments in parentheses", c);
        int a = lx_expr(p), b = a < 0 || expect(p, ',', "','") ? -1 : lx_expr(p);
        if (b < 0 || expect(p, ')', "')'")) return -1;
        int k[2] = {a, b}, n = mk(p, A_FN, start, k, 2);
        if (n >= 0) p->e->ast[n].idx = bp_expr_builtin_find(c, 3);
        return n;
    }
    if (!strcmp(c, "mathrm") || !strcmp(c, "text") || !strcmp(c, "operatorname") || !strcmp(c, "textrm") ||
        !strcmp(c, "mathit") || !strcmp(c, "textnormal"))
        return word(p, start);
    if (!strcmp(c, "mathbb") || !strcmp(c, "mathbf") || !strcmp(c, "mathds") || !strcmp(c, "boldsymbol") ||
        !strcmp(c, "mathbbm")) {
        if (next(p) || p->tok != '{' || next(p) || p->tok != L_NUM || p->num != 1 || next(p) || p->tok != '}' || next(p))
            return perr(p, start, "\\%s is understood for the indicator \\%s{1}[...]", c, c);
        return indicator(p, start);
    }
    if (!strcmp(c, "sum")) return sum(p);
    if (!strcmp(c, "mathcal") || !strcmp(c, "ell"))
        return perr(p, start, "the loss itself is not a quantity here; its derivatives are, as \\frac{\\partial L}{\\partial W^{[1]}}");
    if (!strcmp(c, "nabla"))
        return perr(p, start, "\\nabla is not understood; write the gradient as \\frac{\\partial L}{\\partial W^{[l]}}");
    if (!strcmp(c, "begin"))
        return perr(p, start, "\\begin{...} is not understood: a matrix written entry by entry is not read; write it with "
                    "the named quantities (W^{[l]}, a^{[l]}, ...)");
    if (!strcmp(c, "cdots") || !strcmp(c, "ldots") || !strcmp(c, "dots") || !strcmp(c, "vdots"))
        return perr(p, start, "an ellipsis (\\%s) is not understood: write the whole formula", c);
    if (!strcmp(c, "underbrace") || !strcmp(c, "overbrace"))
        return perr(p, start, "\\%s is not understood: remove the brace and its label", c);
    if (!strcmp(c, "cdot") || !strcmp(c, "times") || !strcmp(c, "odot") || !strcmp(c, "circ"))
        return perr(p, start, "expected a factor before \\%s", c);
    return perr(p, start, "\\%s is not understood (see `backprop check --help` for the LaTeX that check reads)", c);
}

static int symbol(lx *p)
{
    int start = p->pos, trans;
    char c = p->s[p->pos], name[40];
    if (strchr("Wwbzaxym", c)) {
        if (quantity(p, name, sizeof name, &trans)) return -1;
        int a = mkvar(p, name, start);
        return a < 0 || trans < 0 ? a : transpose(p, start, a, trans);
    }
    if (next(p)) return -1;
    if (c == 'g') {
        look k;
        lx *q = ahead(p, &k);
        if (q->tok == '^' && !next(q) && q->tok == '{' && !next(q) && q->tok == '[' && !next(q) && q->tok == L_NUM) {
            int l = whole(q->num) ? (int)q->num : -1, at = q->tend;   /* g^{[3z]}: a number, then the letter */
            if (l >= 0 && p->s[at] && strchr("azWwb", p->s[at]) && p->s[at + 1] == ']') {
                char kind = p->s[at] == 'w' ? 'W' : p->s[at];
                q->tend = at + 2;
                if (!next(q) && q->tok == '}' && !next(q)) {
                    commit(p, q);
                    snprintf(name, sizeof name, "g[%d%c]", l, kind);
                    return mkvar(p, name, start);
                }
            }
        }
        if (p->tok == '(' || p->tok == '\'' || p->tok == '_') return activation(p, start);
        return perr(p, start, "g is the activation, g(z^{[1]}) and g'(z^{[1]}), or a gradient, g^{[1z]}");
    }
    if (c == 'e') {
        if (p->tok != '^') {
            int a = mk(p, A_NUM, start, NULL, 0);
            if (a >= 0) p->e->ast[a].num = 2.718281828459045;
            return a;
        }
        if (next(p)) return -1;
        int x = p->tok == '{' ? group(p) : lx_primary(p);
        return x < 0 ? -1 : mkfn(p, "exp", start, x);
    }
    if (c == 'L' || c == 'l' || c == 'J')
        return perr(p, start, "the loss itself is not a quantity here; its derivatives are, as \\frac{\\partial %c}{\\partial W^{[1]}}", c);
    snprintf(name, sizeof name, "%c", c);
    return mkvar(p, name, start);
}

static int lx_primary(lx *p)
{
    int start = p->pos;
    char d[48];
    switch (p->tok) {
    case L_NUM: {
        double v = p->num;
        if (next(p)) return -1;
        if (v == 1 && p->tok == L_LSET) return indicator(p, start);     /* 1\{...\} */
        int a = mk(p, A_NUM, start, NULL, 0);
        if (a >= 0) p->e->ast[a].num = v;
        return a;
    }
    case '(': case '[': case '{': return group(p);
    case L_SYM: return symbol(p);
    case L_CMD: return command(p);
    case '\'': return perr(p, start, "a prime belongs to a function: \\sigma'(z^{[1]}), g'(z^{[1]})");
    }
    return perr(p, start, "expected a number, a quantity, a function or '(', found %s", tokdesc(p, d, sizeof d));
}

/* A subscript that writes a shape under a factor, _{3 \times 1}: skipped. */
static int shape_note(lx *p)
{
    look k;
    lx *q = ahead(p, &k);
    if (next(q) || q->tok != '{' || next(q) || q->tok != L_NUM || next(q) || !is_cmd(q, "times") || next(q) ||
        q->tok != L_NUM || next(q) || q->tok != '}' || next(q))
        return 0;
    commit(p, q);
    return 1;
}

/* The primary and what follows it: ^T, ^{p}, a sample's superscript ^{(i)}
 * inside a sum, a shape written under it. */
static int lx_power(lx *p)
{
    int start = p->pos, a = lx_primary(p);
    while (a >= 0) {
        if (p->tok == '_') {
            if (!shape_note(p)) return perr(p, p->pos, "a subscript is not understood here (the layer goes in a superscript: W^{[1]})");
            continue;
        }
        if (p->tok != '^') break;
        int at = p->pos;
        look k;
        lx *q = ahead(p, &k);
        if (next(q)) return -1;
        int braced = q->tok == '{';
        if (braced && next(q)) return -1;
        if (is_sym(q, 'T') || is_cmd(q, "top") || is_cmd(q, "intercal")) {          /* ^T ^{T} ^\top ^{\top} */
            int tat = q->pos;
            if (!next(q) && (!braced || (q->tok == '}' && !next(q)))) {
                commit(p, q);
                a = transpose(p, start, a, tat);
                continue;
            }
        }
        q = ahead(p, &k);
        next(q);
        if (braced && !next(q) && q->tok == '(' && !next(q) && q->tok == L_SYM) {  /* ^{(i)}: the sample of a sum */
            char idx = q->s[q->pos];
            if (!next(q) && q->tok == ')' && !next(q) && q->tok == '}' && !next(q)) {
                if (idx != p->sigma)
                    return perr(p, at, "^{(%c)}: a sample's index belongs inside \\sum_{%c=1}^{m}", idx, idx);
                commit(p, q);
                continue;
            }
        }
        if (next(p)) return -1;                     /* a power: ^{p}, ^2, ^x */
        int b = p->tok == '{' ? group(p) : lx_primary(p);
        if (b < 0) return -1;
        a = mkbin(p, '^', start, a, b, at, 1);
    }
    return a;
}

static int lx_unary(lx *p)
{
    if (++p->depth > MAX_DEPTH) return perr(p, p->pos, "formula nested too deeply");
    int r;
    if (p->tok == '-' || p->tok == '+') {
        int start = p->pos, minus = p->tok == '-';
        if (next(p)) return -1;
        int a = lx_unary(p);
        r = a < 0 || !minus ? a : mk(p, A_NEG, start, &a, 1);
    } else r = lx_power(p);
    p->depth--;
    return r;
}

/* Can the current token start a factor written right after another one? */
static int starts_factor(const lx *p)
{
    static const char *const ops[] = {"cdot", "times", "odot", "circ", "le", "leq", "leqslant", "ge", "geq", "geqslant",
                                      "lt", "gt"};
    if (p->tok == L_NUM || p->tok == L_SYM || p->tok == '(' || p->tok == '[' || p->tok == '{') return 1;
    if (p->tok != L_CMD) return 0;
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) if (is_cmd(p, ops[i])) return 0;
    return 1;
}

/* Factors joined by \cdot \times or juxtaposition (a product read from the
 * shapes), \odot \circ * (elementwise) and /, left to right. */
static int lx_term(lx *p)
{
    int start = p->pos, a = lx_unary(p);
    while (a >= 0) {
        int op, at = p->pos, len = p->tend - p->pos;
        if (is_cmd(p, "cdot") || is_cmd(p, "times")) op = 'P';
        else if (is_cmd(p, "odot") || is_cmd(p, "circ") || p->tok == '*') op = '*';
        else if (p->tok == '/') op = '/';
        else if (starts_factor(p)) { op = 'P'; len = 0; }
        else break;
        if (len && next(p)) return -1;
        int b = lx_unary(p);
        if (b < 0) return -1;
        a = mkbin(p, op, start, a, b, at, len);
    }
    return a;
}

static int lx_sum(lx *p)
{
    int start = p->pos, a = lx_term(p);
    while (a >= 0 && (p->tok == '+' || p->tok == '-')) {
        int op = p->tok, at = p->pos;
        if (next(p)) return -1;
        int b = lx_term(p);
        if (b < 0) return -1;
        a = mkbin(p, op, start, a, b, at, 1);
    }
    return a;
}

/* A sum, or a comparison of two (1 or 0). */
static int lx_expr(lx *p)
{
    if (++p->depth > MAX_DEPTH) return perr(p, p->pos, "formula nested too deeply");
    int start = p->pos, a = lx_sum(p);
    int op = p->tok == '<' || is_cmd(p, "lt") ? '<' : p->tok == '>' || is_cmd(p, "gt") ? '>'
           : p->tok == L_LE || is_cmd(p, "le") || is_cmd(p, "leq") || is_cmd(p, "leqslant") ? 'l'
           : p->tok == L_GE || is_cmd(p, "ge") || is_cmd(p, "geq") || is_cmd(p, "geqslant") ? 'g' : 0;
    if (a >= 0 && op) {
        int at = p->pos, len = p->tend - p->pos;
        int b = next(p) ? -1 : lx_sum(p);
        a = b < 0 ? -1 : mkbin(p, op, start, a, b, at, len);
    }
    p->depth--;
    return a;
}

bp_status bp_latex_parse(const char *text, const bp_expr_host *host, bp_expr **out, int *where, bp_error *err)
{
    bp_error scratch;
    if (!err) err = &scratch;
    if (where) *where = -1;
    *out = NULL;
    bp_expr *e = bp_expr_new(text, host, err);
    if (!e) return err->status;
    lx p = {.e = e, .s = e->src, .where = -1, .err = err};
    int root = lex(&p, 0) ? -1 : p.tok == L_END ? perr(&p, p.pos, "empty formula") : lx_expr(&p);
    if (root >= 0 && p.tok != L_END) {
        char d[48];
        root = p.tok == ')' || p.tok == ']' || p.tok == '}' ? perr(&p, p.pos, "unmatched %s", tokdesc(&p, d, sizeof d))
             : p.tok == '=' ? perr(&p, p.pos, "unexpected '='")
             : perr(&p, p.pos, "unexpected %s", tokdesc(&p, d, sizeof d));
    }
    bp_status s = root < 0 ? err->status : bp_expr_finish(e, root, err);
    if (s) {
        if (where) *where = p.where;
        bp_expr_free(e);
        return s;
    }
    *out = e;
    return BP_OK;
}
