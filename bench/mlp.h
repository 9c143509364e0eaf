/*
 * mlp.h - the benchmark's network and training recipe, shared by bp_mlp.c
 * and bp_threads.c (torch_mlp.py is its PyTorch side): an MLP given as
 * "I-H1-...-K", ReLU hidden layers, softmax output, cross-entropy (mean),
 * out_in layout; SGD with momentum 0.9, shuffled batches.
 */
#ifndef BENCH_MLP_H
#define BENCH_MLP_H

#include <backprop.h>

#include <stdlib.h>
#include <string.h>

/* "784-256-128-10" into sizes (inputs first); returns the count, or -1. */
static int parse_arch(const char *a, int *sz, int most)
{
    int n = 0;
    while (*a) {
        char *end;
        long v = strtol(a, &end, 10);
        if (end == a || v < 1 || v > 1 << 20 || n == most) return -1;
        sz[n++] = (int)v;
        a = *end == '-' ? end + 1 : end;
        if (*end && *end != '-') return -1;
    }
    return n >= 2 ? n : -1;
}

/* The network of sizes sz[0..nsz-1]. */
static bp_net_spec mlp_spec(const int *sz, int nsz)
{
    bp_net_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.inputs = sz[0];
    spec.nlayers = nsz - 1;
    for (int l = 0; l + 1 < nsz; l++)
        spec.layers[l] = (bp_layer_spec){sz[l + 1], l + 2 < nsz ? BP_ACT_RELU : BP_ACT_SOFTMAX, 1, 0};
    spec.layout = BP_OUT_IN;
    spec.loss = BP_LOSS_CE;
    spec.reduction = BP_MEAN;
    return spec;
}

/* The training options of the recipe. */
static void mlp_options(bp_train_options *o, int epochs, int batch, double lr, unsigned long long seed)
{
    bp_train_options_init(o);
    o->epochs = epochs;
    o->batch = batch;
    o->lr = lr;
    o->optimizer = BP_OPT_MOMENTUM;
    o->momentum = 0.9;
    o->seed = seed;
    o->shuffle = 1;
}

#endif
