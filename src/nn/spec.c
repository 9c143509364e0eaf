/* nn/spec.c - the shape of a network (bp_net_spec): the names of its
 * activations, losses, reductions, layouts and initialisations, the checks
 * of a spec, and whether a batch fits a network. Used by the graph path
 * (net.c), the fused step (fused.c) and every reader of model files. */
#include "nn/net.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_MAX_UNITS 100000000

/* ---- names ---------------------------------------------------------------- */
static const char *const act_names[] = {"linear", "sigmoid", "relu", "tanh", "softmax", "step"};
static const char *const loss_names[] = {"none", "squared", "half_squared", "bce", "cross_entropy", "zero_one"};
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
        if ((unsigned)L->act > BP_ACT_STEP) return bp_err(err, BP_E_VALUE, "layers[%d]: unknown activation", l);
        if (L->act == BP_ACT_SOFTMAX && l != s->nlayers - 1)
            return bp_err(err, BP_E_VALUE, "layers[%d]: softmax is allowed on the last layer only", l);
        if (L->bias && L->bias_trick)
            return bp_err(err, BP_E_VALUE, "layers[%d]: a bias b and the bias trick (the bias in W) at once", l);
    }
    /* every parameter, and every activation of one sample, must fit: a
     * model file of a few bytes must not ask for gigabytes */
    double nparams = 0;
    for (int l = 0; l < s->nlayers; l++)
        nparams += ((double)(l ? s->layers[l - 1].units : s->inputs) + 1) * s->layers[l].units;   /* bias or trick */
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

bp_status bp_net_spec_trainable(const bp_net_spec *s, bp_error *err)
{
    if (s->loss == BP_LOSS_ZERO_ONE)
        return bp_err(err, BP_E_VALUE, "the loss zero_one counts the misclassified samples: it is piecewise constant, "
                                       "so its gradient is 0 wherever it exists and gradient descent cannot move any "
                                       "weight (the empirical error cannot be minimised by gradient descent); train "
                                       "with bce or cross_entropy, and eval reports the 0-1 loss");
    for (int l = s->nlayers - 1; l >= 0; l--) {
        if (s->layers[l].act != BP_ACT_STEP) continue;
        char which[64];
        if (l == 0) snprintf(which, sizeof which, "the weights of layer 1 (W^[1]%s)", s->layers[0].bias ? ", b^[1]" : "");
        else snprintf(which, sizeof which, "the weights of layers 1 to %d", l + 1);
        return bp_err(err, BP_E_VALUE, "layer %d (layers[%d]) uses the step activation: its derivative is 0 wherever "
                                       "it exists (and undefined at z = 0), so every path from the loss to %s passes a "
                                       "step unit and their gradients are 0: gradient descent cannot move those weights "
                                       "(the perceptron's threshold unit); use sigmoid or tanh to train",
                      l + 1, l, which);
    }
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

/* ---- the architecture as JSON (model files, checkpoints) ------------------------------ */

char *bp_spec_json(const bp_net_spec *s, bp_error *err)
{
    json_t *root = json_object(), *layers = json_array();
    int bad = !root || !layers;
    bad |= json_object_set_new(root, "inputs", json_integer(s->inputs));
    bad |= json_object_set_new(root, "weight_layout", json_string(bp_layout_name(s->layout)));
    for (int l = 0; !bad && l < s->nlayers; l++) {
        json_t *L = json_object();
        bad |= !L;
        bad |= json_object_set_new(L, "units", json_integer(s->layers[l].units));
        bad |= json_object_set_new(L, "activation", json_string(bp_act_name(s->layers[l].act)));
        bad |= json_object_set_new(L, "bias", s->layers[l].bias_trick ? json_string("trick") : json_boolean(s->layers[l].bias));
        bad |= json_array_append_new(layers, L);
    }
    bad |= json_object_set(root, "layers", layers);
    bad |= json_object_set_new(root, "loss", json_string(bp_loss_name(s->loss)));
    bad |= json_object_set_new(root, "reduction", json_string(bp_reduction_name(s->reduction)));
    char *text = bad ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(layers);
    json_decref(root);
    if (!text) bp_err(err, BP_E_NOMEM, "out of memory");
    return text;
}

typedef struct arch_ctx { const char *file, *key; bp_error *err; } arch_ctx;

static bp_status arch_fail(const arch_ctx *c, const char *where, const char *fmt, ...) BP_PRINTF(3, 4);
static bp_status arch_fail(const arch_ctx *c, const char *where, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return bp_err(c->err, BP_E_FORMAT, "%s: %s: %s: %s", c->file, c->key, where, msg);
}

/* Every key of `obj` must be in `keys` and every one of `keys` present. */
static bp_status exact_keys(const arch_ctx *c, json_t *obj, const char *where, const char *const *keys)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        int ok = 0;
        for (const char *const *a = keys; *a; a++) ok |= !strcmp(*a, k);
        if (!ok) return arch_fail(c, where, "unknown key \"%s\"", k);
    }
    for (const char *const *a = keys; *a; a++)
        if (!json_object_get(obj, *a)) return arch_fail(c, where, "missing key \"%s\"", *a);
    return BP_OK;
}

static bp_status arch_int(const arch_ctx *c, json_t *v, const char *where, int *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > SPEC_MAX_UNITS)
        return arch_fail(c, where, "expected an integer from 1 to %d", SPEC_MAX_UNITS);
    *out = (int)json_integer_value(v);
    return BP_OK;
}

static bp_status arch_name(const arch_ctx *c, json_t *v, const char *where, int (*parse)(const char *, void *), int *out)
{
    int tmp;
    if (!json_is_string(v)) return arch_fail(c, where, "expected a string");
    if (parse(json_string_value(v), &tmp)) return arch_fail(c, where, "unknown name \"%s\"", json_string_value(v));
    *out = tmp;
    return BP_OK;
}
#define PARSER(p) ((int (*)(const char *, void *))(p))

bp_status bp_spec_parse_json(const char *file, const char *key, const char *text, bp_net_spec *s, bp_error *err)
{
    arch_ctx cx = {file, key, err}, *c = &cx;
    static const char *const ROOT[] = {"inputs", "weight_layout", "layers", "loss", "reduction", NULL};
    static const char *const LAYER[] = {"units", "activation", "bias", NULL};
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root) return bp_err(err, BP_E_FORMAT, "%s: %s: invalid JSON at column %d: %s", file, key, je.column, je.text);
    bp_status st;
    int tmp = 0;
    char where[64];
    memset(s, 0, sizeof *s);
    json_t *layers = json_object_get(root, "layers");
    if (!json_is_object(root)) { st = arch_fail(c, "$", "expected an object"); goto done; }
    if ((st = exact_keys(c, root, "$", ROOT)) || (st = arch_int(c, json_object_get(root, "inputs"), "inputs", &s->inputs)))
        goto done;
    if ((st = arch_name(c, json_object_get(root, "weight_layout"), "weight_layout", PARSER(bp_layout_parse), &tmp))) goto done;
    s->layout = (bp_layout)tmp;
    if ((st = arch_name(c, json_object_get(root, "loss"), "loss", PARSER(bp_loss_parse), &tmp))) goto done;
    s->loss = (bp_loss)tmp;
    if ((st = arch_name(c, json_object_get(root, "reduction"), "reduction", PARSER(bp_reduction_parse), &tmp))) goto done;
    s->reduction = (bp_reduction)tmp;
    if (!json_is_array(layers) || json_array_size(layers) < 1 || json_array_size(layers) > BP_MAX_LAYERS) {
        st = arch_fail(c, "layers", "expected an array of 1 to %d layers", BP_MAX_LAYERS);
        goto done;
    }
    s->nlayers = (int)json_array_size(layers);
    for (int l = 0; l < s->nlayers; l++) {
        json_t *L = json_array_get(layers, l);
        snprintf(where, sizeof where, "layers[%d]", l);
        if (!json_is_object(L)) { st = arch_fail(c, where, "expected an object"); goto done; }
        if ((st = exact_keys(c, L, where, LAYER))) goto done;
        snprintf(where, sizeof where, "layers[%d].units", l);
        if ((st = arch_int(c, json_object_get(L, "units"), where, &s->layers[l].units))) goto done;
        snprintf(where, sizeof where, "layers[%d].activation", l);
        if ((st = arch_name(c, json_object_get(L, "activation"), where, PARSER(bp_act_parse), &tmp))) goto done;
        s->layers[l].act = (bp_act)tmp;
        snprintf(where, sizeof where, "layers[%d].bias", l);
        json_t *bias = json_object_get(L, "bias");
        if (json_is_string(bias) && !strcmp(json_string_value(bias), "trick")) {
            s->layers[l].bias_trick = 1;
        } else if (!json_is_boolean(bias)) {
            st = arch_fail(c, where, "expected true, false or \"trick\"");
            goto done;
        }
        s->layers[l].bias = json_is_true(bias);
    }
    bp_error e2;
    if (bp_net_spec_check(s, &e2)) st = bp_err(err, BP_E_FORMAT, "%s: %s: %s", file, key, e2.msg);
done:
    json_decref(root);
    return st;
}
