/* teach/step.h - the record of gradient-descent steps (`backprop step`,
 * `explain --lr`): step.c runs the steps with the optimizers of nn/optim.c and
 * records every number; explain.c writes them out for people (text, Markdown,
 * LaTeX), step.c for machines (JSON) and checks a student's values against
 * them. Not part of the public API. */
#ifndef BP_TEACH_STEP_H
#define BP_TEACH_STEP_H

#include "core/error.h"

/* Step t (0-based) goes from theta[t] to theta[t + 1]. Every array holds the
 * parameter block's layout (layer after layer, W then b; woff and boff), as
 * doubles whatever the net's dtype. */
struct bp_steps {
    bp_net_spec spec;
    bp_train_options o;          /* optimizer, lr, momentum, betas, eps, tol (callbacks cleared) */
    int m;                       /* samples of the batch                                          */
    int n, cap;                  /* steps taken; the most asked for                               */
    int stopped;                 /* tol > 0 and |dL| < tol at the last step                       */
    size_t np;                   /* parameters                                                    */
    size_t woff[BP_MAX_LAYERS], boff[BP_MAX_LAYERS];
    double *theta;               /* (n + 1) x np: before step t, after the last at n              */
    double *grad;                /* n x np: dL/dtheta at theta[t]                                 */
    double *m1, *m2;             /* n x np after step t: velocity or Adam's first moment, Adam's
                                    second moment (NULL where the optimizer keeps none)          */
    double *loss;                /* n + 1: at theta[t]                                            */
};

/* Up to `steps` full-batch steps of `net` (updated in place) on x, y with the
 * optimizer of o (its fields as bp_model_steps says), recorded into a new
 * *out (bp_steps_free). */
bp_status bp_steps_run(bp_net *net, const bp_mat *x, const bp_mat *y, const bp_train_options *o, int steps,
                       bp_steps **out, bp_error *err);

/* Views (f64, owned by s) of layer l's W or b (bias != 0) in theta, grad, m1
 * or m2 row t; rows == 0 for a layer without bias or an array s lacks. */
typedef enum { BP_STEPS_THETA, BP_STEPS_GRAD, BP_STEPS_M1, BP_STEPS_M2 } bp_steps_array;
bp_mat bp_steps_view(const bp_steps *s, bp_steps_array a, int t, int l, int bias);

#endif
