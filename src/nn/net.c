/* nn/net.c - multi-layer networks built on the autodiff graph.
 *
 * Layer l (0-based) of a network computes, for a batch a^[l-1] (m x fan_in):
 *   z^[l] = a^[l-1] W^T + b   (out_in layout: W is units x fan_in)
 *   z^[l] = a^[l-1] W   + b   (in_out layout: W is fan_in x units)
 *   a^[l] = g(z^[l])          (sigmoid, relu, tanh, linear, softmax, step)
 * and the loss node reduces over the batch:
 *   squared:       L = s * sum_i sum_k (a_ik - y_ik)^2
 *   half_squared:  L = s * 1/2 sum_i sum_k (a_ik - y_ik)^2
 *   bce:           L = s * sigmoid_bce(z, y)      (fused; dL/dz = s (yhat - y))
 *   cross_entropy: L = s * softmax_ce(z, y)       (fused; dL/dz = s (yhat - y))
 *   zero_one:      L = s * zero_one(a, y)         (misclassified samples; gradient 0)
 * with s = 1/m for reduction mean and 1 for sum.
 *
 * All parameters live in one block (W then b, layer after layer), their
 * gradients in a second block of the same layout; the graph's parameter
 * leaves are views into those blocks. The graph is rebuilt only when the
 * batch size or the want-dx flag changes.
 */
#include "nn/net.h"
#include "nn/fused.h"
#include "data/dataset.h"
#include "core/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


bp_status bp_net_new(const bp_net_spec *spec, bp_dtype dtype, bp_net **out, bp_error *err)
{
    *out = NULL;
    bp_status st = bp_net_spec_check(spec, err);
    if (st) return st;
    bp_net *net = bp_calloc(1, sizeof *net, err);
    if (!net) return BP_E_NOMEM;
    net->spec = *spec;
    net->dtype = dtype;
    size_t off = 0;
    net->widest = spec->inputs;
    for (int l = 0; l < spec->nlayers; l++) {
        if (spec->layers[l].units > net->widest) net->widest = spec->layers[l].units;
        net->w_off[l] = off;
        off += (size_t)spec->layers[l].units * bp_w_fan_in(spec, l);
        net->b_off[l] = off;
        if (spec->layers[l].bias) off += spec->layers[l].units;
    }
    net->nparams = off;
    net->params = bp_calloc(off, bp_dtype_size(dtype), err);
    net->grads = bp_calloc(off, bp_dtype_size(dtype), err);
    if (!net->params || !net->grads) { bp_net_free(net); return BP_E_NOMEM; }
    net->m = -1;
    *out = net;
    return BP_OK;
}

void bp_net_free(bp_net *net)
{
    if (!net) return;
    bp_graph_free(net->g);
    for (int i = 0; i < BP_GRAPH_CACHE; i++) bp_graph_free(net->cache[i].g);
    bp_fused_free(net->fused);
    free(net->params);
    free(net->grads);
    free(net->class_names);
    free(net->trick_x);
    free(net);
}

bp_status bp_net_clone(const bp_net *src, bp_dtype dtype, bp_net **out, bp_error *err)
{
    bp_status st = bp_net_new(&src->spec, dtype, out, err);
    if (st) return st;
    for (size_t i = 0; i < src->nparams; i++) {
        double v = src->dtype == BP_F64 ? ((double *)src->params)[i] : ((float *)src->params)[i];
        if (dtype == BP_F64) ((double *)(*out)->params)[i] = v;
        else ((float *)(*out)->params)[i] = (float)v;
    }
    (*out)->kinks = src->kinks;
    if (src->class_names &&
        (st = bp_net_set_class_names(*out, (const char *const *)src->class_names, bp_net_classes(src), err))) {
        bp_net_free(*out);
        *out = NULL;
    }
    return st;
}

int bp_net_classes(const bp_net *net)
{
    int k = bp_net_outputs(net);
    return k == 1 ? 2 : k;
}

bp_status bp_net_set_class_names(bp_net *net, const char *const *names, int k, bp_error *err)
{
    if (!names) {
        free(net->class_names);
        net->class_names = NULL;
        return BP_OK;
    }
    if (k != bp_net_classes(net))
        return bp_err(err, BP_E_SHAPE, "%d class names for a network of %d classes", k, bp_net_classes(net));
    for (int i = 0; i < k; i++) {
        const char *bad = bp_class_name_problem(names[i], strlen(names[i]));
        if (bad) return bp_err(err, BP_E_VALUE, "class name %d %s", i, bad);
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j]))
                return bp_err(err, BP_E_VALUE, "classes %d and %d have the same name, \"%s\"", j, i, names[i]);
    }
    char **block = bp_strings_copy(names, k, err);
    if (!block) return BP_E_NOMEM;
    free(net->class_names);
    net->class_names = block;
    return BP_OK;
}

const char *const *bp_net_class_names(const bp_net *net) { return (const char *const *)net->class_names; }

const bp_net_spec *bp_net_get_spec(const bp_net *net) { return &net->spec; }
bp_dtype bp_net_dtype(const bp_net *net) { return net->dtype; }
int bp_net_outputs(const bp_net *net) { return net->spec.layers[net->spec.nlayers - 1].units; }
size_t bp_net_nparams(const bp_net *net) { return net->nparams; }
void *bp_net_params(bp_net *net) { return net->params; }
void *bp_net_grads(bp_net *net) { return net->grads; }
const bp_graph *bp_net_graph(const bp_net *net) { return net->g; }

void bp_net_set_kinks(bp_net *net, const bp_kinks *k) { net->kinks = bp_kinks_or_default(k); }
bp_kinks bp_net_kinks(const bp_net *net) { return net->kinks; }

static void set_param(bp_net *net, size_t i, double v)
{
    if (net->dtype == BP_F64) ((double *)net->params)[i] = v;
    else ((float *)net->params)[i] = (float)v;
}

void bp_net_init(bp_net *net, bp_init init, uint64_t seed)
{
    bp_rng rng;
    bp_rng_seed(&rng, seed);
    const bp_net_spec *s = &net->spec;
    for (int l = 0; l < s->nlayers; l++) {
        int fi = bp_fan_in(s, l), fo = s->layers[l].units, trick = s->layers[l].bias_trick, oi = s->layout == BP_OUT_IN;
        size_t nw = (size_t)fi * fo;
        for (size_t i = 0; i < nw; i++) {
            double v;
            if (init == BP_INIT_XAVIER) v = (2 * bp_rng_uniform(&rng) - 1) * sqrt(6.0 / (fi + fo));
            else if (init == BP_INIT_HE) v = bp_rng_normal(&rng) * sqrt(2.0 / fi);
            else v = (2 * bp_rng_uniform(&rng) - 1) * 0.01;
            /* the bias trick: entry i of the fan_in-wide W goes after the bias column (out_in) or row (in_out) */
            size_t at = !trick ? i : oi ? i / fi * (fi + 1) + i % fi + 1 : i + fo;
            set_param(net, net->w_off[l] + at, v);
        }
        if (s->layers[l].bias || trick)
            for (int j = 0; j < fo; j++)
                set_param(net, trick ? net->w_off[l] + (oi ? (size_t)j * (fi + 1) : (size_t)j) : net->b_off[l] + j,
                          init == BP_INIT_SMALL_UNIFORM ? (2 * bp_rng_uniform(&rng) - 1) * 0.01 : 0);
    }
}

static bp_mat view(bp_net *net, void *block, size_t off, int rows, int cols)
{
    bp_mat m = {rows, cols, net->dtype, (char *)block + off * bp_dtype_size(net->dtype)};
    return m;
}

static void weight_shape(const bp_net *net, int l, int *rows, int *cols)
{
    int fi = bp_w_fan_in(&net->spec, l), u = net->spec.layers[l].units;
    *rows = net->spec.layout == BP_OUT_IN ? u : fi;
    *cols = net->spec.layout == BP_OUT_IN ? fi : u;
}

static bp_mat weight_view(bp_net *net, void *block, int l)
{
    bp_mat none = {0, 0, net->dtype, NULL};
    if (l < 0 || l >= net->spec.nlayers) return none;
    int r, c;
    weight_shape(net, l, &r, &c);
    return view(net, block, net->w_off[l], r, c);
}

static bp_mat bias_view(bp_net *net, void *block, int l)
{
    bp_mat none = {0, 0, net->dtype, NULL};
    if (l < 0 || l >= net->spec.nlayers || !net->spec.layers[l].bias) return none;
    return view(net, block, net->b_off[l], 1, net->spec.layers[l].units);
}

bp_mat bp_net_weight(bp_net *net, int l) { return weight_view(net, net->params, l); }
bp_mat bp_net_bias(bp_net *net, int l) { return bias_view(net, net->params, l); }
bp_mat bp_net_weight_grad(bp_net *net, int l) { return weight_view(net, net->grads, l); }
bp_mat bp_net_bias_grad(bp_net *net, int l) { return bias_view(net, net->grads, l); }

/* ---- the graph of one pass -------------------------------------------------- */
static const bp_op act_op[] = {BP_OP_LEAF, BP_OP_SIGMOID, BP_OP_RELU, BP_OP_TANH, BP_OP_SOFTMAX, BP_OP_STEP};

#define TRY(expr) do { if ((expr) < 0) goto fail; } while (0)

/* Make the graph for (m, want_dx) current: from the cache if it is there
 * (the current graph takes its slot), else built anew (the current graph goes
 * to the cache, evicting the oldest). */
static bp_status build_graph(bp_net *net, int m, int want_dx, bp_error *err);
static bp_status use_graph(bp_net *net, int m, int want_dx, bp_error *err)
{
    for (int i = 0; i < BP_GRAPH_CACHE; i++)
        if (net->cache[i].g && net->cache[i].m == m && net->cache[i].want_dx == want_dx) {
            bp_graph *g = net->cache[i].g;
            net->cache[i].g = net->g;
            net->cache[i].m = net->m;
            net->cache[i].want_dx = net->want_dx;
            net->g = g;
            net->m = m;
            net->want_dx = want_dx;
            return BP_OK;
        }
    if (net->g) {
        bp_graph_free(net->cache[BP_GRAPH_CACHE - 1].g);
        memmove(&net->cache[1], &net->cache[0], (BP_GRAPH_CACHE - 1) * sizeof net->cache[0]);
        net->cache[0].g = net->g;
        net->cache[0].m = net->m;
        net->cache[0].want_dx = net->want_dx;
        net->g = NULL;
    }
    return build_graph(net, m, want_dx, err);
}

static bp_status build_graph(bp_net *net, int m, int want_dx, bp_error *err)
{
    const bp_net_spec *s = &net->spec;
    bp_graph_free(net->g);
    net->g = bp_graph_new(net->dtype);
    net->m = -1;
    if (!net->g) return bp_err(err, BP_E_NOMEM, "out of memory");
    bp_graph *g = net->g;
    char name[32];
    TRY(net->x = bp_graph_leaf(g, m, s->inputs, want_dx, "x", err));
    bp_node a = net->x;
    for (int l = 0; l < s->nlayers; l++) {
        int r, c;
        weight_shape(net, l, &r, &c);
        snprintf(name, sizeof name, "W%d", l + 1);
        TRY(net->W[l] = bp_graph_leaf_view(g, r, c, (char *)net->params + net->w_off[l] * bp_dtype_size(net->dtype),
                                           (char *)net->grads + net->w_off[l] * bp_dtype_size(net->dtype), name, err));
        bp_node z;
        if (s->layers[l].bias_trick) TRY(a = bp_op_unary(g, BP_OP_PREPEND_ONE, a, err));   /* [1, a^[l-1]] */
        TRY(z = bp_op_matmul(g, a, net->W[l], 0, s->layout == BP_OUT_IN, err));
        net->b[l] = -1;
        if (s->layers[l].bias) {
            snprintf(name, sizeof name, "b%d", l + 1);
            TRY(net->b[l] = bp_graph_leaf_view(g, 1, s->layers[l].units,
                                               (char *)net->params + net->b_off[l] * bp_dtype_size(net->dtype),
                                               (char *)net->grads + net->b_off[l] * bp_dtype_size(net->dtype), name, err));
            TRY(z = bp_op_binary(g, BP_OP_BIAS_ADD, z, net->b[l], err));
        }
        net->z[l] = z;
        bp_act act = s->layers[l].act;
        net->a[l] = act == BP_ACT_LINEAR ? z : bp_op_unary(g, act_op[act], z, err);
        TRY(net->a[l]);
        a = net->a[l];
    }
    net->y = net->loss = -1;
    if (s->loss != BP_LOSS_NONE) {
        int L = s->nlayers - 1;
        double scale = s->reduction == BP_MEAN ? 1.0 / m : 1.0;
        bp_node sum;
        TRY(net->y = bp_graph_leaf(g, m, s->layers[L].units, 0, "y", err));
        if (s->loss == BP_LOSS_CE) TRY(sum = bp_op_binary(g, BP_OP_SOFTMAX_CE, net->z[L], net->y, err));
        else if (s->loss == BP_LOSS_BCE) TRY(sum = bp_op_binary(g, BP_OP_SIGMOID_BCE, net->z[L], net->y, err));
        else if (s->loss == BP_LOSS_ZERO_ONE) TRY(sum = bp_op_binary(g, BP_OP_ZERO_ONE, net->a[L], net->y, err));
        else {
            bp_node d, sq;
            TRY(d = bp_op_binary(g, BP_OP_SUB, net->a[L], net->y, err));
            TRY(sq = bp_op_unary(g, BP_OP_SQUARE, d, err));
            TRY(sum = bp_op_unary(g, BP_OP_SUM, sq, err));
            if (s->loss == BP_LOSS_HALF_SQUARED) scale *= 0.5;
        }
        TRY(net->loss = bp_op_scale(g, sum, scale, err));
    }
    net->m = m;
    net->want_dx = want_dx;
    return BP_OK;
fail:
    bp_graph_free(net->g);
    net->g = NULL;
    return err ? err->status : BP_E_NOMEM;
}

/* Copy a caller's matrix (any dtype) into a graph leaf. */
static void load_leaf(bp_net *net, bp_node id, const bp_mat *src)
{
    bp_mat dst = bp_graph_value(net->g, id);
    if (src->dtype == dst.dtype) {
        memcpy(dst.data, src->data, (size_t)src->rows * src->cols * bp_dtype_size(src->dtype));
        return;
    }
    for (int i = 0; i < src->rows; i++)
        for (int j = 0; j < src->cols; j++) bp_mat_set(&dst, i, j, bp_mat_get(src, i, j));
}

static bp_status prepare(bp_net *net, const bp_mat *x, const bp_mat *y, int want_dx, bp_error *err)
{
    bp_status st = bp_net_check_xy(net, x, y, err);
    if (st) return st;
    if (!net->g || net->m != x->rows || net->want_dx != want_dx) {
        if ((st = use_graph(net, x->rows, want_dx, err))) return st;
    }
    bp_graph_set_kinks(net->g, &net->kinks);
    load_leaf(net, net->x, x);
    if (y && net->y >= 0) load_leaf(net, net->y, y);
    return BP_OK;
}

bp_status bp_net_forward(bp_net *net, const bp_mat *x, bp_error *err)
{
    bp_status st = prepare(net, x, NULL, net->g ? net->want_dx : 0, err);
    return st ? st : bp_graph_forward(net->g, err);
}

bp_status bp_net_backprop(bp_net *net, const bp_mat *x, const bp_mat *y, int want_dx, double *loss,
                          bp_error *err)
{
    if (net->spec.loss == BP_LOSS_NONE) return bp_err(err, BP_E_ARG, "the network has no loss");
    if (!y) return bp_err(err, BP_E_ARG, "no targets y for the loss");
    bp_status st = prepare(net, x, y, want_dx != 0, err);
    if (!st) st = bp_graph_forward(net->g, err);
    if (!st) st = bp_graph_backward(net->g, net->loss, err);
    if (!st && loss) *loss = bp_mat_get(&(bp_mat){1, 1, net->dtype, bp_graph_value(net->g, net->loss).data}, 0, 0);
    return st;
}

static bp_mat node_val(bp_net *net, bp_node n, int grad)
{
    bp_mat none = {0, 0, net->dtype, NULL};
    if (!net->g || n < 0) return none;
    return grad ? bp_graph_grad(net->g, n) : bp_graph_value(net->g, n);
}
static int layer_ok(const bp_net *net, int l) { return l >= 0 && l < net->spec.nlayers; }

bp_mat bp_net_z(bp_net *net, int l) { return node_val(net, layer_ok(net, l) ? net->z[l] : -1, 0); }
bp_mat bp_net_a(bp_net *net, int l) { return node_val(net, layer_ok(net, l) ? net->a[l] : -1, 0); }
bp_mat bp_net_da(bp_net *net, int l) { return node_val(net, layer_ok(net, l) ? net->a[l] : -1, 1); }
bp_mat bp_net_dz(bp_net *net, int l) { return node_val(net, layer_ok(net, l) ? net->z[l] : -1, 1); }
bp_mat bp_net_dx(bp_net *net) { return node_val(net, net->want_dx ? net->x : -1, 1); }

void bp_net_dloss_dyhat(bp_net *net, const bp_mat *y, double *out)
{
    bp_mat a = bp_net_a(net, net->spec.nlayers - 1);
    double s = net->spec.reduction == BP_MEAN ? 1.0 / a.rows : 1.0;
    for (int i = 0; i < a.rows; i++)
        for (int j = 0; j < a.cols; j++) {
            double p = bp_mat_get(&a, i, j), t = bp_mat_get(y, i, j), d;
            switch (net->spec.loss) {
            case BP_LOSS_SQUARED: d = 2 * (p - t); break;
            case BP_LOSS_HALF_SQUARED: d = p - t; break;
            /* a term whose factor y (or 1 - y) is exactly 0 is identically 0:
             * it contributes nothing, even where its log is infinite */
            case BP_LOSS_BCE: d = (t != 0 ? -t / p : 0) + (t != 1 ? (1 - t) / (1 - p) : 0); break;
            case BP_LOSS_CE: d = t != 0 ? -t / p : 0; break;
            default: d = 0;   /* zero_one: piecewise constant */
            }
            out[(size_t)i * a.cols + j] = d * s;
        }
}

bp_status bp_net_loss_value(bp_net *net, const bp_mat *x, const bp_mat *y, double *loss, bp_error *err)
{
    if (net->spec.loss == BP_LOSS_NONE) return bp_err(err, BP_E_ARG, "the network has no loss");
    if (!y) return bp_err(err, BP_E_ARG, "no targets y for the loss");
    bp_status st = prepare(net, x, y, net->g ? net->want_dx : 0, err);
    if (!st) st = bp_graph_forward(net->g, err);
    if (!st) *loss = bp_mat_get(&(bp_mat){1, 1, net->dtype, bp_graph_value(net->g, net->loss).data}, 0, 0);
    return st;
}

/* ---- the fast path: the fused step (fused.c) ----------------------------------- */
/* The fused step knows no bias trick: a net with it takes the graph path, the
 * reference, for its training steps too (such nets are for teaching: small). */
bp_status bp_net_train_step(bp_net *net, const bp_mat *x, const bp_mat *y, double lr, double *loss, bp_error *err)
{
    if (!bp_spec_has_trick(&net->spec)) return bp_fused_sgd_step(net, x, y, lr, loss, err);
    bp_status st = bp_net_backprop(net, x, y, 0, loss, err);
    if (st) return st;
    for (size_t i = 0; i < net->nparams; i++) {
        if (net->dtype == BP_F64) ((double *)net->params)[i] -= lr * ((double *)net->grads)[i];
        else ((float *)net->params)[i] -= (float)lr * ((float *)net->grads)[i];
    }
    return BP_OK;
}

bp_status bp_net_step_rows(bp_net *net, const float *X, int features, const int *rows, int m, const bp_mat *y,
                           double *loss, bp_step_share *share, bp_error *err)
{
    if (!bp_spec_has_trick(&net->spec)) return bp_fused_backprop_rows(net, X, features, rows, m, y, loss, share, err);
    if (m > net->trick_cap) {   /* the batch gathered, then the graph's pass */
        free(net->trick_x);
        net->trick_cap = 0;
        if (!(net->trick_x = bp_malloc((size_t)m * features * sizeof(float), err))) return BP_E_NOMEM;
        net->trick_cap = m;
    }
    float *xb = net->trick_x;
    for (int i = 0; i < m; i++) memcpy(xb + (size_t)i * features, X + (size_t)rows[i] * features, (size_t)features * sizeof *xb);
    bp_mat x = {m, features, BP_F32, xb};
    bp_status st = bp_net_backprop(net, &x, y, 0, loss, err);
    if (st || !share) return st;
    /* a share of a data-parallel step: the graph's mean over these m rows becomes the whole batch's, then every
     * layer's gradient goes to the reducer (the graph finishes them all at once) */
    if (net->spec.reduction == BP_MEAN && share->total != m) {
        double f = (double)m / share->total;
        if (loss) *loss *= f;
        if (net->dtype == BP_F64)
            for (size_t i = 0; i < net->nparams; i++) ((double *)net->grads)[i] *= f;
        else
            for (size_t i = 0; i < net->nparams; i++) ((float *)net->grads)[i] *= (float)f;
    }
    bp_fused_share_layers(net, share);
    return BP_OK;
}

void bp_net_step_empty(bp_net *net, bp_step_share *share) { bp_fused_share_empty(net, share); }

bp_mat bp_net_step_output(const bp_net *net)
{
    if (!bp_spec_has_trick(&net->spec)) return bp_fused_output(net);
    return node_val((bp_net *)net, net->a[net->spec.nlayers - 1], 0);
}
