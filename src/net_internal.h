/* net_internal.h - the layout of bp_net, shared by net.c (the graph path)
 * and fused.c (the fused training step). Users see only the opaque bp_net. */
#ifndef BP_NET_INTERNAL_H
#define BP_NET_INTERNAL_H

#include "graph.h"
#include "sgemm.h"

#define BP_GRAPH_CACHE 4

struct bp_net {
    bp_net_spec spec;
    bp_dtype dtype;
    size_t nparams;
    void *params, *grads;          /* owned, nparams elements each        */
    size_t w_off[BP_MAX_LAYERS], b_off[BP_MAX_LAYERS];
    /* graph state of the last pass; graphs for other batch sizes are kept
     * in a small cache so that alternating sizes (the last partial batch of
     * an epoch, a validation pass) do not allocate. Node ids depend only on
     * the network's structure, so they are the same in every graph. */
    bp_graph *g;
    int m, want_dx;
    struct { bp_graph *g; int m, want_dx; } cache[BP_GRAPH_CACHE];
    bp_node x, y, loss;
    bp_node W[BP_MAX_LAYERS], b[BP_MAX_LAYERS], z[BP_MAX_LAYERS], a[BP_MAX_LAYERS];
    struct bp_fused *fused;        /* buffers of the fused step (fused.c)  */
};

/* Fan-in of layer l. */
static inline int bp_fan_in(const bp_net_spec *s, int l) { return l == 0 ? s->inputs : s->layers[l - 1].units; }

/* x (m x inputs, m >= 1) and y (m x outputs, may be NULL) fit the network? */
bp_status bp_net_check_xy(const bp_net *net, const bp_mat *x, const bp_mat *y, bp_error *err);

/* The fused step (fused.c): forward, loss and backward of the whole network
 * without the graph: gradients into net->grads, like bp_net_backprop without
 * dL/dx. The optimised twin of the graph path; tests/test_fused.c holds them
 * to each other. Tiny networks take a per-sample path (small_pass). When
 * loss is NULL the loss value is not computed. */
bp_status bp_fused_backprop(bp_net *net, const bp_mat *x, const bp_mat *y, double *loss, bp_error *err);
/* The threads of the matrix products (bp_set_threads; OpenBLAS's pool). */
int bp_threads(void);
/* bp_fused_backprop for the batch of rows `rows` (m of them) of a dataset's f32
 * inputs X (row r at X + r * features), read in place by the products that
 * use it when the own sgemm runs the step (fused.c), else gathered first. */
bp_status bp_fused_backprop_rows(bp_net *net, const float *X, int features, const int *rows, int m, const bp_mat *y,
                                 double *loss, bp_error *err);
/* One plain SGD step, theta -= lr dL/dtheta (bp_net_train_step); for a tiny
 * network and one sample the update happens inside the pass. */
bp_status bp_fused_sgd_step(bp_net *net, const bp_mat *x, const bp_mat *y, double lr, double *loss, bp_error *err);
/* The fused step's output activations (m x outputs) of its last pass. */
bp_mat bp_fused_output(const bp_net *net);
void bp_fused_free(struct bp_fused *f);

#endif
