/* checkpoint_setup.h - the one run fuzz_checkpoint.c resumes and
 * gen_checkpoint.c writes its seed checkpoints from: a 2-3-1 sigmoid net
 * with BCE (f32), Adam, batch 2, on the four rows of XOR.  A checkpoint
 * carries a signature of exactly these, so both must build the same. */
#ifndef BP_FUZZ_CHECKPOINT_SETUP_H
#define BP_FUZZ_CHECKPOINT_SETUP_H

#include "backprop.h"

#include <stdlib.h>

static float ck_x[8] = {0, 0, 0, 1, 1, 0, 1, 1};
static float ck_y[4] = {0, 1, 1, 0};

/* The XOR rows as a regression dataset (one target column); not owned. */
static bp_dataset ck_data(void)
{
    bp_dataset d = {0};
    d.n = 4;
    d.features = 2;
    d.outputs = 1;
    d.x = ck_x;
    d.y = ck_y;
    return d;
}

static void ck_options(bp_train_options *o)
{
    bp_train_options_init(o);
    o->epochs = 3;
    o->batch = 2;
    o->lr = 0.1;
    o->optimizer = BP_OPT_ADAM;
    o->seed = 7;
}

/* The net, initialised; NULL on failure. */
static bp_net *ck_net(void)
{
    bp_net_spec s = {0};
    s.inputs = 2;
    s.nlayers = 2;
    s.layers[0] = (bp_layer_spec){3, BP_ACT_SIGMOID, 1, 0};
    s.layers[1] = (bp_layer_spec){1, BP_ACT_SIGMOID, 1, 0};
    s.layout = BP_OUT_IN;
    s.loss = BP_LOSS_BCE;
    s.reduction = BP_MEAN;
    bp_net *net = NULL;
    bp_error err;
    if (bp_net_new(&s, BP_F32, &net, &err) != BP_OK) return NULL;
    bp_net_init(net, BP_INIT_XAVIER, 1);
    return net;
}

#endif
