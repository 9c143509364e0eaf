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
 *
 * Grammar (whitespace, newlines included, is ignored between tokens):
 *   program := { def ';' } expr [';']
 *   def     := NAME '(' [NAME {',' NAME}] ')' '=' expr
 *   expr    := term { ('+' | '-') term }
 *   term    := unary { ('*' | '/') unary }
 *   unary   := ('-' | '+') unary | power
 *   power   := primary [ '^' unary ]            (right-associative)
 *   primary := NUMBER | NAME | NAME '(' [expr {',' expr}] ')'
 *            | '(' expr ')' | '[' expr {',' expr} ']'
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
    A_VEC       /* [kid...], flattened                                    */
} akind;

typedef struct anode {
    akind k;
    int op;             /* A_BIN: the operator character                  */
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
} anode;

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
    int root;           /* ast index of the final expression              */

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
};

#define MAX_NODES 250000    /* inlining can multiply nodes: stop runaway programs */
#define MAX_DEPTH 500       /* nesting depth of the parser (stack safety)         */
#define MAX_LEVELS 1000     /* depth of the tree build() walks, definitions inlined
                             * (stack safety; a flat chain x+x+...+x is 2 levels) */
#define MAX_WORK 50000000.0 /* outputs x graph nodes: the Jacobian takes one backward
                             * pass over the graph per output, and --graph prints a
                             * gradient per node and output */

/* ---- expr_parse.c ---- */
/* "column C" or, for text with several lines, "line L, column C", of byte
 * offset `off` of src. */
const char *bp_expr_loc(const char *src, int off, char *buf, size_t n);
/* The graph op of builtin function i (anode.idx of an A_FN). */
bp_op bp_expr_builtin_op(int i);
/* Free the state of the last evaluation (graph, values, Jacobians). */
void bp_expr_clear_eval(bp_expr *e);

/* ---- expr_graph.c ---- */
/* Build the main expression at the point: a leaf per variable, then the
 * root's nodes (e->g, node_ast, var_node, out, nout, args for a composition).
 * On error *where is the offset of the sub-expression at fault. */
bp_status bp_expr_compile(bp_expr *e, int *where, bp_error *err);
/* J_F at G for a composition: the outer definition's body on a graph of its
 * own, its parameters leaves valued at the arguments (e->args); into e->jf. */
bp_status bp_expr_compile_outer(bp_expr *e, bp_error *err);
/* J[k][j] = d outs[k] / d cols[j]: one backward pass per output. */
bp_status bp_expr_graph_jacobian(bp_graph *g, const int *outs, int nout, const int *cols, int ncol, double *J,
                                 bp_error *err);

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
