/* autodiff/graph.h - the internal layout of the autodiff graph (graph.c)
 * shared with the op kernels (ops.c) and the teaching tools that walk a graph
 * (teach/expr_*.c). Users see only the opaque bp_graph of backprop.h. */
#ifndef BP_GRAPH_H
#define BP_GRAPH_H

#include "core/error.h"
#include "core/mat.h"

enum {
    NODE_REQ_GRAD = 1,   /* backward computes this node's gradient        */
    NODE_OWN_VAL = 2,    /* val was allocated by the graph                */
    NODE_OWN_GRAD = 4    /* grad was allocated by the graph               */
};

typedef struct bp_gnode {
    bp_op op;
    int in[2];           /* input nodes, -1 where absent                  */
    int rows, cols;      /* shape of val and grad                         */
    int flags;
    int trans_a, trans_b;/* MATMUL: transpose flags                       */
    double c;            /* SCALE: the factor; POW: the exponent          */
    int at[2];           /* ENTRY: the row and column it picks            */
    void *val;           /* rows x cols elements of the graph's dtype     */
    void *grad;          /* same shape; NULL unless NODE_REQ_GRAD         */
    void *aux;           /* op scratch owned by the node (softmax probs)  */
    char *name;          /* owned copy, may be NULL                       */
} bp_gnode;

struct bp_graph {
    bp_dtype dtype;
    int n, cap;
    bp_gnode *nodes;
    bp_kinks kinks;      /* the convention at kinks of the backward kernels */
};

/* Op table entry: forward computes n->val from its inputs; backward adds the
 * node's contribution to its inputs' gradients (+=). */
typedef struct bp_op_def {
    const char *name;
    int arity;
    bp_status (*forward)(bp_graph *g, bp_gnode *n, bp_error *err);
    void (*backward)(bp_graph *g, bp_gnode *n);
} bp_op_def;


/* *k with relu_at_zero as 0 or 1, or the default (PyTorch's) when k is NULL. */
static inline bp_kinks bp_kinks_or_default(const bp_kinks *k)
{
    bp_kinks r = {0, BP_TIE_HALF};
    if (k) {
        r.relu_at_zero = k->relu_at_zero != 0;
        r.tie = k->tie == BP_TIE_FIRST ? BP_TIE_FIRST : BP_TIE_HALF;
    }
    return r;
}

/* The kernels for one dtype, indexed by bp_op (ops.c). */
const bp_op_def *bp_op_table(bp_dtype t);

/* A node's name, or its op's name when it has none (for messages). */
static inline const char *bp_graph_node_label(const bp_graph *g, int n)
{
    const bp_gnode *x = &g->nodes[n];
    return x->name ? x->name : bp_op_name(x->op);
}

#endif
