/* nn/net.h - the layout of bp_net, shared by the files of the network:
 * spec.c (its shape), net.c (construction and the graph path) and fused.c
 * (the fused training step), and the network's interface to the trainer.
 * Users see only the opaque bp_net. Not part of the public API. */
#ifndef BP_NN_NET_H
#define BP_NN_NET_H

#include "autodiff/graph.h"

#define BP_GRAPH_CACHE 4

struct bp_fused;

struct bp_net {
    bp_net_spec spec;
    bp_dtype dtype;
    size_t nparams;
    void *params, *grads;          /* owned, nparams elements each        */
    size_t w_off[BP_MAX_LAYERS], b_off[BP_MAX_LAYERS];
    int widest;                    /* the most units of the inputs or any layer */
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
    bp_kinks kinks;                /* the convention at kinks of every pass */
    char **class_names;            /* bp_net_classes names in one owned
                                      block (pointers, then text), or NULL */
    void *trick_x;                 /* a net with the bias trick: the batch
                                      gathered for the graph path, trick_cap
                                      rows of f32 (the trainer's step)      */
    int trick_cap;
};

/* Fan-in of layer l, and the number of outputs. */
static inline int bp_fan_in(const bp_net_spec *s, int l) { return l == 0 ? s->inputs : s->layers[l - 1].units; }
static inline int bp_spec_outputs(const bp_net_spec *s) { return s->layers[s->nlayers - 1].units; }
/* The inputs W^[l] reads: fan_in, and the leading 1 of the bias trick. */
static inline int bp_w_fan_in(const bp_net_spec *s, int l) { return bp_fan_in(s, l) + (s->layers[l].bias_trick != 0); }
/* Does some layer use the bias trick? (The fused step does not: such a net
 * trains on the graph path.) */
static inline int bp_spec_has_trick(const bp_net_spec *s)
{
    for (int l = 0; l < s->nlayers; l++)
        if (s->layers[l].bias_trick) return 1;
    return 0;
}

/* x (m x inputs, m >= 1) and y (m x outputs, may be NULL) fit the network?
 * (spec.c) */
bp_status bp_net_check_xy(const bp_net *net, const bp_mat *x, const bp_mat *y, bp_error *err);

/* The architecture of a spec as compact JSON {"inputs", "weight_layout",
 * "layers": [{"units", "activation", "bias"}], "loss", "reduction"} (a new
 * string, caller frees; NULL and BP_E_NOMEM on failure), and back: every key
 * present and known, the spec checked; messages "FILE: KEY: place: problem"
 * (spec.c). */
char *bp_spec_json(const bp_net_spec *s, bp_error *err);
bp_status bp_spec_parse_json(const char *file, const char *key, const char *text, bp_net_spec *s, bp_error *err);

/* One process's share of a data-parallel step (train.c): its rows are part of
 * a batch of `total` rows over all processes, whose mean the loss takes; each
 * layer's gradient block (W then b, contiguous) is handed to r->start (slot
 * l) as soon as the backward pass has finished it, last layer first, and
 * r->progress runs between the products. The first failure of r->start is
 * kept in st (the pass goes on; the trainer looks after r->wait). */
typedef struct bp_step_share {
    int total;                 /* rows of the whole batch: the mean divides by it */
    const bp_reducer *r;
    bp_status st;              /* filled: BP_OK or start's first failure          */
    bp_error *err;             /* where that failure is told                      */
} bp_step_share;

/* The trainer's step (net.c, by the fused step of fused.c): forward, loss and
 * backward for the batch of rows `rows` (m of them) of a dataset's f32 inputs
 * X (row r at X + r * features), gradients into the net's gradient block;
 * *loss (may be NULL) the batch's reduced loss. The rows are read in place
 * where the products allow it. With a share (NULL: one process), the loss and
 * gradients are this process's part of the whole batch's, and the layers'
 * gradients are handed to the reducer as they become final.
 * bp_net_step_output: the output activations (m x outputs) of that pass, a
 * view owned by the net. */
bp_status bp_net_step_rows(bp_net *net, const float *X, int features, const int *rows, int m, const bp_mat *y,
                           double *loss, bp_step_share *share, bp_error *err);
/* A share of no rows: zero gradients, handed to the reducer layer by layer in
 * the order of a step (a process whose share of a small batch is empty). */
void bp_net_step_empty(bp_net *net, bp_step_share *share);
bp_mat bp_net_step_output(const bp_net *net);

#endif
