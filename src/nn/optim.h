/* nn/optim.h - gradient descent on a network's parameter block: the
 * optimizers (SGD, momentum, Nesterov, Adam), weight decay, learning-rate
 * schedules and the finiteness bounds of a step. Used by the trainer
 * (train.c) and its checkpoints (checkpoint.c). Not part of the public API.
 *
 *   weight decay (weights only)       g_W += lambda W
 *   sgd:       theta -= lr g
 *   momentum:  v = mu v + g;           theta -= lr v
 *   nesterov:  v = mu v + g;           theta -= lr (g + mu v)
 *   adam:      m1 = b1 m1 + (1-b1) g;  m2 = b2 m2 + (1-b2) g^2;
 *              theta -= lr (m1 / (1-b1^t)) / (sqrt(m2 / (1-b2^t)) + eps)
 * One flat loop over the parameter and gradient blocks (BP_HOT). */
#ifndef BP_NN_OPTIM_H
#define BP_NN_OPTIM_H

#include "core/error.h"

/* The optimizer's state for one network (owned; bp_optim_free). */
typedef struct bp_optim {
    bp_net *net;                /* borrowed: its parameters are updated in place */
    const bp_train_options *o;  /* borrowed: optimizer, momentum, betas, eps, weight decay */
    size_t np;                  /* parameters                                   */
    void *m1, *m2;              /* velocity, or Adam's moments (net dtype)      */
    void *backup;               /* parameters before a step that might overflow */
    double pmax, vmax;          /* bounds on max |theta| and max |velocity|     */
    long step;                  /* steps taken (Adam's t)                       */
} bp_optim;

/* State for `net` with hyperparameters `o` (both borrowed, kept alive by the
 * caller): zero moments, no steps. */
bp_status bp_optim_init(bp_optim *op, bp_net *net, const bp_train_options *o, bp_error *err);
void bp_optim_free(bp_optim *op);

/* The learning rate of 0-based epoch `epoch` under o's schedule. */
double bp_optim_lr(const bp_train_options *o, int epoch);
/* g_W += lambda W on the net's gradient block (weights only, not biases). */
void bp_optim_weight_decay(bp_optim *op);
/* One step theta -= lr d(g) with gradients of largest magnitude gmax
 * (finite). Returns 1, or 0 when a parameter became non-finite: the weights
 * are then as before the step. */
int bp_optim_step(bp_optim *op, double lr, double gmax);
/* Recompute the bounds after the state was replaced (a checkpoint). */
void bp_optim_rebound(bp_optim *op);

/* The largest |x| of n values of dtype dt, +Inf if one is not finite. */
double bp_max_abs(const void *data, bp_dtype dt, size_t n);

#endif
