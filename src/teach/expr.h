/* teach/expr.h - the `expr` language: the internal layout of a parsed
 * expression program and what its stages share. Users see only the opaque
 * bp_expr of backprop.h. Not part of the public API.
 *
 * The stages, one file each, each using only the ones before it:
 *   expr_parse.c   tokens, the AST with the text span of every node, the
 *                  recursive-descent parser (definitions included), the
 *                  object's life (bp_expr_parse, bp_expr_free)
 *   expr_graph.c   compiling onto the autodiff graph: 1x1 nodes in f64,
 *                  definitions inlined, each node evaluated as it is made (so
 *                  a domain error names its sub-expression); Jacobians by one
 *                  bp_graph_backward per output
 *   expr_eval.c    the point (variables' values, --wrt), bp_expr_eval: value,
 *                  Jacobian, and for a composition F(G(...)) the chain rule's
 *                  factors J_F(G), J_G and their product
 *   expr_report.c  values and Jacobians as text and JSON, the chain rule
 *   expr_draw.c    the forward and backward passes node by node, Graphviz DOT
 *   expr_symbolic.c  the outputs and their derivatives as formulas (--symbolic),
 *                  from the AST alone
 *
 * Grammar (whitespace, newlines included, is ignored between tokens):
 *   program := { def ';' } expr [';']
 *   def     := NAME '(' [NAME {',' NAME}] ')' '=' expr
 *   expr    := sum [ ('<' | '<=' | '>' | '>=') sum ]
 *   sum     := term { ('+' | '-') term }
 *   term    := unary { ('@' | '*' | '/') unary }
 *   unary   := ('-' | '+') unary | power
 *   power   := primary { '^' 'T' } [ '^' unary ]  (right-associative)
 *   primary := NUMBER | NAME | NAME '(' [expr {',' expr}] ')'
 *            | '(' expr ')' | '[' expr {',' expr} ']'
 * A NAME may end in one prime (sigmoid', g') and carry an index written
 * against it (W[1], g[3z], dL_dW[2]: a '[' that starts with a digit).
 *
 * Values (expr_graph.c): every value is a matrix. A built value is a list of
 * items, each one graph node: a scalar is one 1x1 node; a vector [e1, ...,
 * en] of scalars is n 1x1 items (a column vector, built entry by entry as the
 * vector functions have always been); anything else (a matrix variable, a
 * matrix literal [[1, 2], [3, 4]], a product @, a transpose) is one node of
 * its own shape. Elementwise operations on items of numbers work item by
 * item; where a matrix meets a list of numbers, the list is stacked into one
 * n x 1 node first ("gathered"). The parser's anode.len counts items with
 * every variable one item, so it is an upper bound of the items built.
 */
#ifndef BP_EXPR_H
#define BP_EXPR_H

#include "autodiff/graph.h"
#include "core/numfmt.h"

#include <stdio.h>

typedef enum akind {
    A_NUM,      /* a number: num                                          */
    A_VAR,      /* a variable of the main expression: idx into vars       */
    A_PARAM,    /* a parameter inside a definition's body: idx            */
    A_NEG,      /* -kid[0]                                                */
    A_BIN,      /* kid[0] op kid[1], op one of + - * / ^                  */
    A_FN,       /* builtin function idx applied to its kids               */
    A_CALL,     /* definition idx applied to its (flattened) kids         */
    A_VEC,      /* [kid...], flattened                                    */
    A_TRANS,    /* kid[0]^T                                               */
    A_ROWS      /* [[...], [...]]: a matrix given by rows, kids the rows  */
} akind;

/* The builtin functions (expr_parse.c's table), in the table's order. */
enum {
    BI_EXP, BI_LOG, BI_SQRT, BI_SIGMOID, BI_TANH, BI_RELU, BI_ABS, BI_MAX, BI_MIN,
    BI_STEP, BI_DSIGMOID, BI_DTANH, BI_DRELU, BI_SOFTMAX, BI_SUM, BI_ROWSUM, BI_COLSUM, BI_MEAN,
    BI_ROWMEAN, BI_COLMEAN, BI_DIAG, BI_EYE, BI_ONES, BI_SAMPLESUM, BI_IDENTITY, BI_DLINEAR, BI_DSTEP
};

typedef struct anode {
    akind k;
    int op;             /* A_BIN: the operator character: + - * / ^ @, < > ,
                         * 'l' (<=), 'g' (>=), 'P' (a product read from its
                         * shapes: LaTeX's juxtaposition, \cdot, \times)     */
    int idx;            /* A_VAR/A_PARAM/A_FN/A_CALL: see above           */
    double num;         /* A_NUM                                          */
    int *kid, nkid;     /* children (indices into the pool)               */
    int start, end;     /* the text it was parsed from: src[start, end)   */
    int len;            /* number of scalars it yields                    */
    int isvec;          /* is its result a vector (even of length 1)?     */
    int def;            /* definition whose body holds it, -1 for main    */
    int depth;          /* build() frames needed to build it (stack use):
                         * 1 for a leaf; 1 + the deepest child, where a
                         * call's children include its definition's body
                         * and the left operand of an A_BIN costs nothing
                         * (build walks left-deep chains a+b+c+... in a
                         * loop)                                          */
    int oppos, oplen;   /* A_BIN, A_TRANS: the operator's text (oplen 0: none,
                         * a juxtaposition), for shape errors               */
} anode;

/* What the names of a formula mean, given by the program that owns them
 * (teach/check.c gives a network's quantities); NULL for `backprop expr`. */
typedef struct bp_expr_host {
    void *ctx;
    int samples_rows;   /* per sample = per row (1) or per column (0): softmax, samplesum */
    int nsamples;       /* m, for samplesum (0: there are no samples)        */
    /* Is the variable `name` one value per sample (x, a[l], ...)? */
    int (*per_sample)(void *ctx, const char *name);
    /* What g(arg) (prime 0) or g'(arg) (prime 1) is for the quantity named
     * `arg`: a builtin function's name, or NULL with err filled. */
    const char *(*activation)(void *ctx, const char *arg, int prime, bp_error *err);
} bp_expr_host;

typedef struct edef {
    char *name;
    int nparams;
    char **params;
    int body;           /* ast index                                      */
} edef;

struct bp_expr {
    char *src;
    anode *ast;
    int nast, capast;
    edef *defs;
    int ndefs, capdefs;
    char **vars;        /* variables in order of first appearance         */
    int *var_pos;       /* byte offset of each one's first use            */
    double *var_val;
    unsigned char *var_set;
    int nvars, capvars;
    int *wrt, nwrt;     /* indices into vars: the Jacobian's columns      */
    int digits;         /* significant digits in the reports for people (0: exact) */
    bp_kinks kinks;     /* the convention at kinks of its graphs (bp_expr_set_kinks) */
    int root;           /* ast index of the final expression              */
    double **var_mat;   /* per variable: its matrix (rows x cols, row-major), or
                         * NULL when it is the number var_val              */
    int *var_rows, *var_cols;
    const bp_expr_host *host;   /* NULL for `backprop expr`                  */

    /* State of the last evaluation (bp_expr_eval). */
    int evaluated;
    bp_graph *g;
    int *node_ast;      /* per graph node: its ast index, -1 for variables */
    int *var_node;      /* per variable: its leaf                         */
    int *out, nout;     /* output nodes                                   */
    double *val;        /* nout values                                    */
    double *jac;        /* nout x nwrt                                    */
    int *args, nargs;   /* composition: the argument nodes of the outer F */
    double *jf, *jg, *jp; /* chain factors: nout x nargs, nargs x nwrt, nout x nwrt */
    /* Matrices: nout counts entries; the result is out_rows x out_cols (a
     * list of n numbers is n x 1); column j of jac runs over the entries of
     * the wrt variables, variable wrt[k]'s from jcol[k] (jcol[nwrt] = width). */
    int out_rows, out_cols, out_vec;   /* out_vec: printed as a vector      */
    int *jcol;
    int matrix;         /* a matrix somewhere (a variable, the result, a node):
                         * the reports show shapes, --steps/--graph/--chain refuse */
    int *reading;       /* per ast node, three ints, for 'P': how it was read
                         * (0 unused, 1 matrix product, 2 scaling, 3
                         * elementwise: the shapes decided) and the rows and
                         * columns of its left operand                       */
};

#define MAX_NODES 250000    /* inlining can multiply nodes: stop runaway programs */
#define MAX_DEPTH 500       /* nesting depth of the parser (stack safety)         */
#define MAX_LEVELS 1000     /* depth of the tree build() walks, definitions inlined
                             * (stack safety; a flat chain x+x+...+x is 2 levels) */
#define MAX_WORK 50000000.0 /* outputs x graph nodes: the Jacobian takes one backward
                             * pass over the graph per output, and --graph prints a
                             * gradient per node and output */

/* ---- expr_parse.c ---- */
/* bp_expr_parse with the names' meanings given by a host (may be NULL). */
bp_status bp_expr_parse_host(const char *text, const bp_expr_host *host, bp_expr **out, int *where, bp_error *err);
/* Building an AST from another front end (teach/latex.c): a new program
 * over `text` (copied), its nodes (bp_expr_node: spanning [start, end), len
 * 1; bp_expr_var_node: the variable `name`, made on its first use), then
 * bp_expr_finish with the root. -1 / NULL when out of memory. */
bp_expr *bp_expr_new(const char *text, const bp_expr_host *host, bp_error *err);
int bp_expr_node(bp_expr *e, akind k, int start, int end, int def, const int *kids, int nkid, bp_error *err);
int bp_expr_var_node(bp_expr *e, const char *name, int nlen, int start, bp_error *err);
bp_status bp_expr_finish(bp_expr *e, int root, bp_error *err);
/* Builtin functions by name (a prime included): the index, or -1. */
int bp_expr_builtin_find(const char *name, int len);
/* The number of arguments of builtin i, and whether it is elementwise (its
 * result has as many items as its argument). */
int bp_expr_builtin_arity(int i);
int bp_expr_builtin_elementwise(int i);
const char *bp_expr_builtin_name(int i);
/* "column C" or, for text with several lines, "line L, column C", of byte
 * offset `off` of src. */
const char *bp_expr_loc(const char *src, int off, char *buf, size_t n);
/* The graph op of builtin function i (anode.idx of an A_FN). */
bp_op bp_expr_builtin_op(int i);
/* Free the state of the last evaluation (graph, values, Jacobians). */
void bp_expr_clear_eval(bp_expr *e);

/* ---- latex.c ---- */
/* A formula in the LaTeX of the course notes (latex.c's comment lists what
 * is read) as an expression program with host's names; errors as
 * bp_expr_parse's (BP_E_PARSE, *where the byte offset). */
bp_status bp_latex_parse(const char *text, const bp_expr_host *host, bp_expr **out, int *where, bp_error *err);

/* ---- expr_graph.c ---- */
/* Build the main expression at the point: a leaf per variable, then the
 * root's nodes (e->g, node_ast, var_node, out, nout, args for a composition).
 * On error *where is the offset of the sub-expression at fault. */
bp_status bp_expr_compile(bp_expr *e, int *where, bp_error *err);
/* J_F at G for a composition: the outer definition's body on a graph of its
 * own, its parameters leaves valued at the arguments (e->args); into e->jf. */
bp_status bp_expr_compile_outer(bp_expr *e, bp_error *err);
/* J[k][j] = d outs[k] / d (entry j of cols): one backward pass per output
 * (outs are 1x1 nodes); the entries of cols[0], then cols[1], ..., each row
 * by row, so a row of J is as wide as all of cols together. */
bp_status bp_expr_graph_jacobian(bp_graph *g, const int *outs, int nout, const int *cols, int ncol, double *J,
                                 bp_error *err);

/* ---- expr_report.c ---- */
/* Is graph node i at a kink (a relu of exactly 0, a max or min of two equal
 * values, on a path from a variable)?  Then the convention of e->kinks at
 * that node in a few words ("relu'(0) = 0, as PyTorch"), else NULL. */
const char *bp_expr_kink(const bp_expr *e, int i);

/* ---- shared helpers ---- */
/* A count for malloc: at least 1, so a zero-size request never returns NULL. */
static inline size_t nz(int n) { return n > 0 ? (size_t)n : 1; }
/* The value of 1x1 node n. */
static inline double val1(const bp_graph *g, int n) { bp_mat m = bp_graph_value(g, n); return bp_mat_get(&m, 0, 0); }
/* d root / d n after bp_graph_backward(g, root).  A node made after the root
 * cannot be one of its inputs; backward leaves such nodes' gradients as they
 * were, so they read 0 here. */
static inline double grad1(const bp_graph *g, int n, int root)
{
    bp_mat m = bp_graph_grad(g, n);
    return m.rows && n <= root ? bp_mat_get(&m, 0, 0) : 0;
}
/* A number as expr prints it for machines (JSON, the literals of the
 * program): exactly (core/numfmt.h), either zero as "0". */
static inline const char *fmtnum(double v, char buf[BP_NUM_MAX]) { return v == 0 ? "0" : bp_num_exact(buf, v); }
/* A number as expr prints it for people (text, steps, the graph): e->digits
 * significant digits, or exactly when digits is 0. */
static inline const char *fmtpeople(const bp_expr *e, double v, char buf[BP_NUM_MAX])
{
    return e->digits > 0 ? bp_num_short(buf, v, e->digits) : fmtnum(v, buf);
}
/* The reports need a successful bp_expr_eval; a write that failed is an error. */
static inline bp_status need_eval(const bp_expr *e, bp_error *err)
{
    return e->evaluated ? BP_OK : bp_err(err, BP_E_ARG, "the expression has not been evaluated");
}
static inline bp_status io(FILE *out, bp_error *err)
{
    return ferror(out) ? bp_err(err, BP_E_IO, "could not write the report") : BP_OK;
}

#endif
