/* nn/fused.h - the fused training step (fused.c): forward, loss and backward
 * of the whole network without the graph, gradients into net->grads, like
 * bp_net_backprop without dL/dx. The optimised twin of the graph path;
 * tests/test_fused.c holds them to each other. The network (net.c) is its
 * only caller in the library. Not part of the public API. */
#ifndef BP_NN_FUSED_H
#define BP_NN_FUSED_H

#include "nn/net.h"

/* The step on a dense batch x (m x inputs), y (m x outputs). Tiny networks
 * take a per-sample path (small_pass). When loss is NULL the loss value is
 * not computed. A net with the bias trick is refused (BP_E_ARG): the
 * network trains such a net on the graph path. */
bp_status bp_fused_backprop(bp_net *net, const bp_mat *x, const bp_mat *y, double *loss, bp_error *err);
/* bp_fused_backprop for the batch of rows `rows` (m of them) of a dataset's f32
 * inputs X (row r at X + r * features), read in place by the products that
 * use it when the own sgemm runs the step, else gathered first; with a share
 * (NULL: one process), a process's part of a data-parallel step (net.h). */
bp_status bp_fused_backprop_rows(bp_net *net, const float *X, int features, const int *rows, int m, const bp_mat *y,
                                 double *loss, bp_step_share *share, bp_error *err);
/* Every layer's gradient block to the share's reducer, the last layer first
 * (after a pass that finished them all at once); bp_net_step_empty: zero
 * gradients handed over the same way. */
void bp_fused_share_layers(bp_net *net, bp_step_share *share);
void bp_fused_share_empty(bp_net *net, bp_step_share *share);
/* One plain SGD step, theta -= lr dL/dtheta (bp_net_train_step); for a tiny
 * network and one sample the update happens inside the pass. */
bp_status bp_fused_sgd_step(bp_net *net, const bp_mat *x, const bp_mat *y, double lr, double *loss, bp_error *err);
/* The output activations (m x outputs) of the last fused pass. */
bp_mat bp_fused_output(const bp_net *net);
void bp_fused_free(struct bp_fused *f);

#endif
