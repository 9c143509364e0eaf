/* expr.h - the internal layout of a parsed expression program (expr.c).
 * Users see only the opaque bp_expr of backprop.h.
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

#include "util.h"

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

#endif
