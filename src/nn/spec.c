/* nn/spec.c - the shape of a network (bp_net_spec): the names of its
 * activations, losses, reductions, layouts and initialisations, the checks
 * of a spec, and whether a batch fits a network. Used by the graph path
 * (net.c), the fused step (fused.c) and every reader of model files. */
#include "nn/net.h"

#include <string.h>

/* ---- names ---------------------------------------------------------------- */
static const char *const act_names[] = {"linear", "sigmoid", "relu", "tanh", "softmax"};
static const char *const loss_names[] = {"none", "squared", "half_squared", "bce", "cross_entropy"};
static const char *const red_names[] = {"mean", "sum"};
static const char *const layout_names[] = {"out_in", "in_out"};
static const char *const init_names[] = {"small_uniform", "xavier", "he"};

const char *bp_act_name(bp_act a) { return BP_NAME_OF(act_names, a); }
const char *bp_loss_name(bp_loss l) { return BP_NAME_OF(loss_names, l); }
const char *bp_reduction_name(bp_reduction r) { return BP_NAME_OF(red_names, r); }
const char *bp_layout_name(bp_layout l) { return BP_NAME_OF(layout_names, l); }
const char *bp_init_name(bp_init i) { return BP_NAME_OF(init_names, i); }

BP_NAME_PARSER(bp_act_parse, bp_act, act_names)
BP_NAME_PARSER(bp_loss_parse, bp_loss, loss_names)
BP_NAME_PARSER(bp_reduction_parse, bp_reduction, red_names)
BP_NAME_PARSER(bp_layout_parse, bp_layout, layout_names)
BP_NAME_PARSER(bp_init_parse, bp_init, init_names)

/* ---- checks --------------------------------------------------------------------- */
bp_status bp_net_spec_check(const bp_net_spec *s, bp_error *err)
{
    if (s->inputs < 1) return bp_err(err, BP_E_VALUE, "inputs must be at least 1, got %d", s->inputs);
    if (s->nlayers < 1) return bp_err(err, BP_E_VALUE, "a network needs at least one layer");
    if (s->nlayers > BP_MAX_LAYERS)
        return bp_err(err, BP_E_VALUE, "%d layers: at most %d are supported", s->nlayers, BP_MAX_LAYERS);
    for (int l = 0; l < s->nlayers; l++) {
        const bp_layer_spec *L = &s->layers[l];
        if (L->units < 1) return bp_err(err, BP_E_VALUE, "layers[%d].units must be at least 1, got %d", l, L->units);
        if ((unsigned)L->act > BP_ACT_SOFTMAX) return bp_err(err, BP_E_VALUE, "layers[%d]: unknown activation", l);
        if (L->act == BP_ACT_SOFTMAX && l != s->nlayers - 1)
            return bp_err(err, BP_E_VALUE, "layers[%d]: softmax is allowed on the last layer only", l);
    }
    /* every parameter, and every activation of one sample, must fit: a
     * model file of a few bytes must not ask for gigabytes */
    double nparams = 0;
    for (int l = 0; l < s->nlayers; l++)
        nparams += ((double)(l ? s->layers[l - 1].units : s->inputs) + 1) * s->layers[l].units;
    if (nparams > BP_MAX_PARAMS)
        return bp_err(err, BP_E_VALUE, "the network would have %.0f parameters; at most %.0f are supported", nparams,
                      (double)BP_MAX_PARAMS);
    bp_act out = s->layers[s->nlayers - 1].act;
    if (s->loss == BP_LOSS_BCE && out != BP_ACT_SIGMOID)
        return bp_err(err, BP_E_VALUE, "loss bce needs a sigmoid output layer, not %s", bp_act_name(out));
    if (s->loss == BP_LOSS_CE && out != BP_ACT_SOFTMAX)
        return bp_err(err, BP_E_VALUE, "loss cross_entropy needs a softmax output layer, not %s", bp_act_name(out));
    return BP_OK;
}

bp_status bp_net_check_xy(const bp_net *net, const bp_mat *x, const bp_mat *y, bp_error *err)
{
    if (!x || x->rows < 1) return bp_err(err, BP_E_SHAPE, "no samples: x has no rows");
    if (x->cols != net->spec.inputs)
        return bp_err(err, BP_E_SHAPE, "x has %d column%s, the network has %d input%s", x->cols, bp_s(x->cols),
                      net->spec.inputs, bp_s(net->spec.inputs));
    if (y && y->cols != bp_spec_outputs(&net->spec))
        return bp_err(err, BP_E_SHAPE, "y has %d column%s, the network has %d output%s", y->cols, bp_s(y->cols),
                      bp_spec_outputs(&net->spec), bp_s(bp_spec_outputs(&net->spec)));
    if (y && y->rows != x->rows)
        return bp_err(err, BP_E_SHAPE, "y has %d row%s, x has %d", y->rows, bp_s(y->rows), x->rows);
    return BP_OK;
}
