/* io/model_json.c - JSON model files: the description of a network, its
 * weights, the scaling of its inputs and optionally its data, read
 * (bp_model_load, bp_model_parse) and written (bp_model_save,
 * bp_model_save_json). Parsing is strict: every problem is reported with the
 * file name and the JSON path (or line:column for malformed JSON). Numbers
 * are written so that they read back as the same bits.
 *
 * A model with a scaler holds its data twice: as given (data.x, --x: what is
 * written back) and scaled (what the network sees, bp_model_data). */
#include "core/error.h"
#include "core/file.h"
#include "core/mat.h"
#include "core/numfmt.h"

#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct bp_model {
    bp_net *net;
    double *x, *y;     /* m x inputs (scaled), m x outputs (f64, owned); NULL if absent */
    double *xraw;      /* x as given, when there is a scaler; else NULL      */
    int m, ym;         /* rows of x and of y                                 */
    bp_scaler sc;      /* the inputs' scaling (features 0: none)             */
};

bp_net *bp_model_net(bp_model *m) { return m->net; }
const bp_scaler *bp_model_scaler(const bp_model *m) { return m->sc.features ? &m->sc : NULL; }

/* x = the scaled copy of xraw (xraw made from x first if there is none). */
static bp_status scale_x(bp_model *m, bp_error *err)
{
    const bp_scaler *s = &m->sc;
    if (!s->features || !m->x) return BP_OK;
    int f = bp_net_get_spec(m->net)->inputs;
    size_t n = (size_t)m->m * f;
    if (!m->xraw) {
        if (!(m->xraw = bp_malloc(n * sizeof *m->xraw, err))) return BP_E_NOMEM;
        memcpy(m->xraw, m->x, n * sizeof *m->xraw);
    }
    for (size_t i = 0; i < n; i++) {
        double v = m->xraw[i];
        int j = (int)(i % (size_t)f);
        if (s->divide > 0) v /= s->divide;
        if (s->mean) v = (v - s->mean[j]) / s->std[j];
        m->x[i] = v;
    }
    return BP_OK;
}

bp_status bp_model_from_net(bp_net *net, const bp_scaler *scaler, bp_model **out, bp_error *err)
{
    *out = NULL;
    bp_model *m = bp_calloc(1, sizeof *m, err);
    if (!m) return BP_E_NOMEM;
    if (scaler && scaler->features > 0) {
        int f = scaler->features;
        if (f != bp_net_get_spec(net)->inputs) {
            free(m);
            return bp_err(err, BP_E_SHAPE, "the scaler has %d features, the network %d inputs", f,
                          bp_net_get_spec(net)->inputs);
        }
        m->sc = *scaler;
        m->sc.mean = m->sc.std = NULL;
        if (scaler->mean) {
            m->sc.mean = bp_malloc((size_t)f * sizeof(float), err);
            m->sc.std = bp_malloc((size_t)f * sizeof(float), err);
            if (!m->sc.mean || !m->sc.std) { bp_scaler_free(&m->sc); free(m); return BP_E_NOMEM; }
            memcpy(m->sc.mean, scaler->mean, (size_t)f * sizeof(float));
            memcpy(m->sc.std, scaler->std, (size_t)f * sizeof(float));
        }
    }
    m->net = net;
    *out = m;
    return BP_OK;
}

int bp_model_data(bp_model *m, bp_mat *x, bp_mat *y)
{
    const bp_net_spec *s = bp_net_get_spec(m->net);
    bp_mat none = {0, bp_net_outputs(m->net), BP_F64, NULL};
    if (x) { x->rows = m->x ? m->m : 0; x->cols = s->inputs; x->dtype = BP_F64; x->data = m->x; }
    if (y) {
        *y = none;
        if (m->y) { y->rows = m->ym; y->data = m->y; }
    }
    return m->x != NULL;
}

void bp_model_free(bp_model *m)
{
    if (!m) return;
    bp_net_free(m->net);
    free(m->x);
    free(m->xraw);
    free(m->y);
    bp_scaler_free(&m->sc);
    free(m);
}

/* ---- parsing helpers ---------------------------------------------------------- */
typedef struct ctx {
    const char *file;
    bp_error *err;
    int f32;        /* the numbers become float32: they must fit its range */
} ctx;

static bp_status fail(ctx *c, bp_status s, const char *path, const char *fmt, ...) BP_PRINTF(4, 5);
static bp_status fail(ctx *c, bp_status s, const char *path, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return bp_err(c->err, s, "%s: %s: %s", c->file, path, msg);
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* Reject keys of `obj` not in the NULL-terminated list `allowed`. */
static bp_status check_keys(ctx *c, json_t *obj, const char *path, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++) ok |= strcmp(*a, key) == 0;
        if (!ok) {
            char list[256] = "";
            for (const char *const *a = allowed; *a; a++) {
                strncat(list, *a, sizeof list - strlen(list) - 1);
                if (a[1]) strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            return fail(c, BP_E_VALUE, path, "unknown key \"%s\" (expected one of: %s)", key, list);
        }
    }
    return BP_OK;
}

static bp_status get_int(ctx *c, json_t *v, const char *path, long long lo, long long *out)
{
    if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) && fabs(json_real_value(v)) < 1e15)
        *out = (long long)json_real_value(v);
    else if (json_is_integer(v)) *out = json_integer_value(v);
    else return fail(c, BP_E_VALUE, path, "expected an integer, got %s", type_name(v));
    if (*out < lo) return fail(c, BP_E_VALUE, path, "must be at least %lld, got %lld", lo, *out);
    return BP_OK;
}

static bp_status get_number(ctx *c, json_t *v, const char *path, double *out)
{
    if (!json_is_number(v)) return fail(c, BP_E_VALUE, path, "expected a number, got %s", type_name(v));
    *out = json_number_value(v);
    if (!isfinite(*out)) return fail(c, BP_E_VALUE, path, "not a finite number");
    if (c->f32 && fabs(*out) > FLT_MAX)
        return fail(c, BP_E_VALUE, path, "%g does not fit float32 (at most %g): use --dtype f64", *out, FLT_MAX);
    return BP_OK;
}

static bp_status get_name(ctx *c, json_t *v, const char *path, int (*parse)(const char *, void *),
                          const char *choices, int *out)
{
    if (!json_is_string(v)) return fail(c, BP_E_VALUE, path, "expected a string (one of: %s), got %s", choices, type_name(v));
    int tmp;
    if (parse(json_string_value(v), &tmp))
        return fail(c, BP_E_VALUE, path, "unknown name \"%s\" (expected one of: %s)", json_string_value(v), choices);
    *out = tmp;
    return BP_OK;
}
#define NAME(parser) ((int (*)(const char *, void *))(parser))

/* A rows x cols matrix of finite numbers into out (row-major doubles).
 * rows < 0: any number of rows >= 1 (returned in *rows_out). */
static bp_status get_matrix(ctx *c, json_t *v, const char *path, int rows, int cols, const char *what,
                            double **out, int *rows_out)
{
    char p[160];
    if (!json_is_array(v)) return fail(c, BP_E_VALUE, path, "expected an array of rows, got %s", type_name(v));
    int n = (int)json_array_size(v);
    if (n == 0) return fail(c, BP_E_SHAPE, path, "empty: expected %s", what);
    if (rows >= 0 && n != rows) return fail(c, BP_E_SHAPE, path, "expected %d row%s (%s), got %d", rows, bp_s(rows), what, n);
    double *m = bp_malloc((size_t)n * cols * sizeof *m, c->err);
    if (!m) return BP_E_NOMEM;
    for (int i = 0; i < n; i++) {
        json_t *row = json_array_get(v, i);
        snprintf(p, sizeof p, "%s[%d]", path, i);
        bp_status st = BP_OK;
        if (!json_is_array(row)) st = fail(c, BP_E_VALUE, p, "expected a row (an array of %d numbers), got %s", cols, type_name(row));
        else if ((int)json_array_size(row) != cols)
            st = fail(c, BP_E_SHAPE, p, "expected %d numbers (%s), got %d", cols, what, (int)json_array_size(row));
        for (int j = 0; !st && j < cols; j++) {
            char q[176];
            snprintf(q, sizeof q, "%s[%d]", p, j);
            st = get_number(c, json_array_get(row, j), q, &m[(size_t)i * cols + j]);
        }
        if (st) { free(m); return st; }
    }
    *out = m;
    if (rows_out) *rows_out = n;
    return BP_OK;
}

static bp_status get_vector(ctx *c, json_t *v, const char *path, int n, const char *what, double *out)
{
    char p[160];
    if (!json_is_array(v)) return fail(c, BP_E_VALUE, path, "expected an array of %d numbers, got %s", n, type_name(v));
    if ((int)json_array_size(v) != n)
        return fail(c, BP_E_SHAPE, path, "expected %d numbers (%s), got %d", n, what, (int)json_array_size(v));
    for (int j = 0; j < n; j++) {
        snprintf(p, sizeof p, "%s[%d]", path, j);
        bp_status st = get_number(c, json_array_get(v, j), p, &out[j]);
        if (st) return st;
    }
    return BP_OK;
}

/* ---- the model ------------------------------------------------------------------ */
static const char *const ROOT_KEYS[] = {"inputs", "weight_layout", "layers", "loss", "reduction",
                                        "init", "seed", "scaler", "class_names", "data", "description", NULL};
static const char *const SCALER_KEYS[] = {"divide", "mean", "std", "range", NULL};
static const char *const LAYER_KEYS[] = {"units", "activation", "bias", "W", "b", NULL};
static const char *const DATA_KEYS[] = {"x", "y", NULL};

/* "class_names": ["setosa", ...], one per class of the network. */
static bp_status parse_class_names(ctx *c, json_t *v, bp_net *net)
{
    int k = bp_net_classes(net);
    if (!json_is_array(v))
        return fail(c, BP_E_VALUE, "class_names", "expected an array of %d names (one per class), got %s", k,
                    type_name(v));
    if ((int)json_array_size(v) != k)
        return fail(c, BP_E_VALUE, "class_names", "expected %d names (one per class), got %d", k,
                    (int)json_array_size(v));
    const char **names = bp_malloc((size_t)k * sizeof *names, c->err);
    if (!names) return BP_E_NOMEM;
    bp_status st = BP_OK;
    for (int i = 0; !st && i < k; i++) {
        char p[32];
        snprintf(p, sizeof p, "class_names[%d]", i);
        json_t *e = json_array_get(v, i);
        if (!(names[i] = json_string_value(e))) st = fail(c, BP_E_VALUE, p, "expected a string, got %s", type_name(e));
    }
    bp_error e2;
    if (!st && bp_net_set_class_names(net, names, k, &e2)) st = fail(c, BP_E_VALUE, "class_names", "%s", e2.msg);
    free(names);
    return st;
}

/* "scaler": {"divide": D, "mean": [...], "std": [...], "range": [lo, hi]}, each optional (mean and std together). */
static bp_status parse_scaler(ctx *c, json_t *v, int inputs, bp_scaler *s)
{
    bp_status st;
    if (!json_is_object(v)) return fail(c, BP_E_VALUE, "scaler", "expected an object {\"mean\": [...], \"std\": [...]}, got %s", type_name(v));
    if ((st = check_keys(c, v, "scaler", SCALER_KEYS))) return st;
    json_t *dv = json_object_get(v, "divide"), *mean = json_object_get(v, "mean"), *sd = json_object_get(v, "std");
    json_t *rg = json_object_get(v, "range");
    if (!mean != !sd) return fail(c, BP_E_VALUE, mean ? "scaler.std" : "scaler.mean", "missing (mean and std go together)");
    int f32 = c->f32;
    c->f32 = 1;   /* the scaler is float */
    double d = 0, r[2] = {0, 0}, *buf = NULL;
    if (dv && !(st = get_number(c, dv, "scaler.divide", &d)) && !(d > 0)) st = fail(c, BP_E_VALUE, "scaler.divide", "must be positive, got %g", d);
    if (!st && rg && !(st = get_vector(c, rg, "scaler.range", 2, "lo and hi", r)) && r[0] > r[1])
        st = fail(c, BP_E_VALUE, "scaler.range", "lo %g is above hi %g", r[0], r[1]);
    if (!st && mean) {
        if (!(buf = bp_malloc((size_t)inputs * 2 * sizeof *buf, c->err))) st = BP_E_NOMEM;
        if (!st) st = get_vector(c, mean, "scaler.mean", inputs, "one per input", buf);
        if (!st) st = get_vector(c, sd, "scaler.std", inputs, "one per input", buf + inputs);
        for (int j = 0; !st && j < inputs; j++)
            if (!(buf[inputs + j] > 0)) {
                char p[64];
                snprintf(p, sizeof p, "scaler.std[%d]", j);
                st = fail(c, BP_E_VALUE, p, "must be positive, got %g", buf[inputs + j]);
            }
    }
    c->f32 = f32;
    if (st) { free(buf); return st; }
    s->features = inputs;
    s->divide = (float)d;
    s->lo = (float)r[0];
    s->hi = (float)r[1];
    if (buf) {
        s->mean = bp_malloc((size_t)inputs * sizeof(float), c->err);
        s->std = bp_malloc((size_t)inputs * sizeof(float), c->err);
        if (!s->mean || !s->std) { free(buf); bp_scaler_free(s); return BP_E_NOMEM; }
        for (int j = 0; j < inputs; j++) {
            s->mean[j] = (float)buf[j];
            s->std[j] = (float)buf[inputs + j];
        }
        free(buf);
    }
    return BP_OK;
}

static bp_status parse_model(ctx *c, json_t *root, bp_dtype dtype, bp_model *model)
{
    bp_status st;
    bp_net_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.reduction = BP_MEAN;
    spec.layout = BP_OUT_IN;
    spec.loss = BP_LOSS_NONE;
    if (!json_is_object(root)) return fail(c, BP_E_VALUE, "$", "expected a JSON object, got %s", type_name(root));
    if ((st = check_keys(c, root, "$", ROOT_KEYS))) return st;

    json_t *v;
    long long ll;
    if (!(v = json_object_get(root, "inputs"))) return fail(c, BP_E_VALUE, "inputs", "missing (the number of input features)");
    if ((st = get_int(c, v, "inputs", 1, &ll))) return st;
    if (ll > 100000000) return fail(c, BP_E_VALUE, "inputs", "%lld is too large", ll);
    spec.inputs = (int)ll;
    int tmp;
    if ((v = json_object_get(root, "weight_layout"))) {
        if ((st = get_name(c, v, "weight_layout", NAME(bp_layout_parse), "out_in, in_out", &tmp))) return st;
        spec.layout = (bp_layout)tmp;
    }
    if ((v = json_object_get(root, "loss"))) {
        if ((st = get_name(c, v, "loss", NAME(bp_loss_parse), "squared, half_squared, bce, cross_entropy, zero_one", &tmp))) return st;
        spec.loss = (bp_loss)tmp;
    }
    if ((v = json_object_get(root, "reduction"))) {
        if ((st = get_name(c, v, "reduction", NAME(bp_reduction_parse), "mean, sum", &tmp))) return st;
        spec.reduction = (bp_reduction)tmp;
    }
    bp_init init = BP_INIT_SMALL_UNIFORM;
    uint64_t seed = 0;
    if ((v = json_object_get(root, "init"))) {
        if ((st = get_name(c, v, "init", NAME(bp_init_parse), "small_uniform, xavier, he", &tmp))) return st;
        init = (bp_init)tmp;
    }
    if ((v = json_object_get(root, "seed"))) {
        if ((st = get_int(c, v, "seed", 0, &ll))) return st;
        seed = (uint64_t)ll;
    }
    if ((v = json_object_get(root, "description")) && !json_is_string(v))
        return fail(c, BP_E_VALUE, "description", "expected a string, got %s", type_name(v));

    json_t *layers = json_object_get(root, "layers");
    if (!layers) return fail(c, BP_E_VALUE, "layers", "missing (an array of layers)");
    if (!json_is_array(layers)) return fail(c, BP_E_VALUE, "layers", "expected an array of layers, got %s", type_name(layers));
    if (json_array_size(layers) == 0) return fail(c, BP_E_VALUE, "layers", "empty: a network needs at least one layer");
    if (json_array_size(layers) > BP_MAX_LAYERS)
        return fail(c, BP_E_VALUE, "layers", "%zu layers: at most %d are supported", json_array_size(layers), BP_MAX_LAYERS);
    spec.nlayers = (int)json_array_size(layers);
    char p[128];
    for (int l = 0; l < spec.nlayers; l++) {
        json_t *L = json_array_get(layers, l);
        snprintf(p, sizeof p, "layers[%d]", l);
        if (!json_is_object(L)) return fail(c, BP_E_VALUE, p, "expected an object, got %s", type_name(L));
        if ((st = check_keys(c, L, p, LAYER_KEYS))) return st;
        snprintf(p, sizeof p, "layers[%d].units", l);
        if (!(v = json_object_get(L, "units"))) return fail(c, BP_E_VALUE, p, "missing (the number of units)");
        if ((st = get_int(c, v, p, 1, &ll))) return st;
        if (ll > 100000000) return fail(c, BP_E_VALUE, p, "%lld is too large", ll);
        spec.layers[l].units = (int)ll;
        snprintf(p, sizeof p, "layers[%d].activation", l);
        if (!(v = json_object_get(L, "activation")))
            return fail(c, BP_E_VALUE, p, "missing (one of: sigmoid, relu, tanh, linear, softmax, step)");
        if ((st = get_name(c, v, p, NAME(bp_act_parse), "sigmoid, relu, tanh, linear, softmax, step", &tmp))) return st;
        spec.layers[l].act = (bp_act)tmp;
        if (spec.layers[l].act == BP_ACT_SOFTMAX && l != spec.nlayers - 1)
            return fail(c, BP_E_VALUE, p, "softmax is allowed on the last layer only (this is layer %d of %d)", l + 1, spec.nlayers);
        spec.layers[l].bias = 1;
        snprintf(p, sizeof p, "layers[%d].bias", l);
        if ((v = json_object_get(L, "bias"))) {
            if (json_is_string(v) && !strcmp(json_string_value(v), "trick")) {
                spec.layers[l].bias_trick = 1;   /* the bias is W's first column (out_in) or row (in_out) */
                spec.layers[l].bias = 0;
            } else if (!json_is_boolean(v)) {
                return fail(c, BP_E_VALUE, p, "expected true, false or \"trick\", got %s", type_name(v));
            } else {
                spec.layers[l].bias = json_is_true(v);
            }
        }
        if (!spec.layers[l].bias && json_object_get(L, "b")) {
            snprintf(p, sizeof p, "layers[%d].b", l);
            if (spec.layers[l].bias_trick)
                return fail(c, BP_E_VALUE, p, "given, but the layer has \"bias\": \"trick\" (the bias is W's first %s)",
                            spec.layout == BP_OUT_IN ? "column" : "row");
            return fail(c, BP_E_VALUE, p, "given, but the layer has \"bias\": false");
        }
    }
    int out_units = spec.layers[spec.nlayers - 1].units;
    bp_act out_act = spec.layers[spec.nlayers - 1].act;
    if (spec.loss == BP_LOSS_BCE && out_act != BP_ACT_SIGMOID)
        return fail(c, BP_E_VALUE, "loss", "bce needs a sigmoid output layer, but layers[%d].activation is %s",
                    spec.nlayers - 1, bp_act_name(out_act));
    if (spec.loss == BP_LOSS_CE && out_act != BP_ACT_SOFTMAX)
        return fail(c, BP_E_VALUE, "loss", "cross_entropy needs a softmax output layer, but layers[%d].activation is %s",
                    spec.nlayers - 1, bp_act_name(out_act));
    if ((st = bp_net_new(&spec, dtype, &model->net, c->err))) return fail(c, st, "layers", "%s", c->err ? c->err->msg : "");
    bp_net_init(model->net, init, seed);

    for (int l = 0; l < spec.nlayers; l++) {
        json_t *L = json_array_get(layers, l);
        int fi = l == 0 ? spec.inputs : spec.layers[l - 1].units, u = spec.layers[l].units;
        bp_mat W = bp_net_weight(model->net, l);
        if ((v = json_object_get(L, "W"))) {
            char what[96];
            snprintf(p, sizeof p, "layers[%d].W", l);
            if (spec.layers[l].bias_trick && spec.layout == BP_OUT_IN)
                snprintf(what, sizeof what, "out_in, bias trick: units %d x (1 + fan_in %d), the bias first", u, fi);
            else if (spec.layers[l].bias_trick)
                snprintf(what, sizeof what, "in_out, bias trick: (1 + fan_in %d) x units %d, the bias first", fi, u);
            else if (spec.layout == BP_OUT_IN) snprintf(what, sizeof what, "out_in: units %d x fan_in %d", u, fi);
            else snprintf(what, sizeof what, "in_out: fan_in %d x units %d", fi, u);
            double *w;
            if ((st = get_matrix(c, v, p, W.rows, W.cols, what, &w, NULL))) return st;
            for (int i = 0; i < W.rows; i++)
                for (int j = 0; j < W.cols; j++) bp_mat_set(&W, i, j, w[(size_t)i * W.cols + j]);
            free(w);
        }
        if ((v = json_object_get(L, "b"))) {
            bp_mat B = bp_net_bias(model->net, l);
            double *b = bp_malloc((size_t)u * sizeof *b, c->err);
            if (!b) return BP_E_NOMEM;
            snprintf(p, sizeof p, "layers[%d].b", l);
            st = get_vector(c, v, p, u, "one per unit", b);
            for (int j = 0; !st && j < u; j++) bp_mat_set(&B, 0, j, b[j]);
            free(b);
            if (st) return st;
        }
    }

    json_t *sc = json_object_get(root, "scaler");
    if (sc && (st = parse_scaler(c, sc, spec.inputs, &model->sc))) return st;
    json_t *cn = json_object_get(root, "class_names");
    if (cn && (st = parse_class_names(c, cn, model->net))) return st;

    json_t *data = json_object_get(root, "data");
    if (data) {
        if (!json_is_object(data)) return fail(c, BP_E_VALUE, "data", "expected an object {\"x\": ..., \"y\": ...}, got %s", type_name(data));
        if ((st = check_keys(c, data, "data", DATA_KEYS))) return st;
        json_t *x = json_object_get(data, "x"), *y = json_object_get(data, "y");
        if (!x) return fail(c, BP_E_VALUE, "data.x", "missing (the inputs, one row per sample)");
        char what[64];
        snprintf(what, sizeof what, "one per input");
        if ((st = get_matrix(c, x, "data.x", -1, spec.inputs, what, &model->x, &model->m))) return st;
        if (y) {
            snprintf(what, sizeof what, "one per output unit");
            if ((st = get_matrix(c, y, "data.y", model->m, out_units, what, &model->y, &model->ym))) return st;
        }
    }
    return scale_x(model, c->err);
}

bp_status bp_model_parse(const char *text, size_t len, const char *name, bp_dtype dtype, bp_model **out,
                         bp_error *err)
{
    *out = NULL;
    ctx c = {name, err, dtype == BP_F32};
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (je.line < 0) return bp_err(err, BP_E_PARSE, "%s: invalid JSON: %s", name, je.text);
        return bp_err(err, BP_E_PARSE, "%s:%d:%d: invalid JSON: %s", name, je.line, je.column, je.text);
    }
    bp_model *m = bp_calloc(1, sizeof *m, err);
    if (!m) { json_decref(root); return BP_E_NOMEM; }
    bp_status st = parse_model(&c, root, dtype, m);
    json_decref(root);
    if (st) { bp_model_free(m); return st; }
    *out = m;
    return BP_OK;
}

bp_status bp_model_load(const char *path, bp_dtype dtype, bp_model **out, bp_error *err)
{
    char *text;
    size_t len;
    *out = NULL;
    bp_status st = bp_read_file(path, BP_LIMIT_MODEL, "a JSON model file", &text, &len, err);
    if (st) return st;
    st = bp_model_parse(text, len, path, dtype, out, err);
    free(text);
    return st;
}

static bp_status copy_mat(const bp_mat *src, double **dst, int f32, bp_error *err)
{
    double *d = bp_malloc((size_t)src->rows * src->cols * sizeof *d, err);
    if (!d) return BP_E_NOMEM;
    for (int i = 0; i < src->rows; i++)
        for (int j = 0; j < src->cols; j++) {
            double v = bp_mat_get(src, i, j);
            if (!isfinite(v)) { free(d); return bp_err(err, BP_E_VALUE, "row %d, column %d: not a finite number", i + 1, j + 1); }
            if (f32 && fabs(v) > FLT_MAX) {
                free(d);
                return bp_err(err, BP_E_VALUE, "row %d, column %d: %g does not fit float32 (at most %g): use --dtype f64",
                              i + 1, j + 1, v, FLT_MAX);
            }
            d[(size_t)i * src->cols + j] = v;
        }
    free(*dst);
    *dst = d;
    return BP_OK;
}

bp_status bp_model_set_data(bp_model *m, const bp_mat *x, const bp_mat *y, bp_error *err)
{
    const bp_net_spec *s = bp_net_get_spec(m->net);
    int rows = x ? x->rows : m->m, f32 = bp_net_dtype(m->net) == BP_F32;
    if (x && x->cols != s->inputs)
        return bp_err(err, BP_E_SHAPE, "x has %d column%s, the network has %d input%s", x->cols, bp_s(x->cols), s->inputs,
                      bp_s(s->inputs));
    if (y && y->cols != bp_net_outputs(m->net))
        return bp_err(err, BP_E_SHAPE, "y has %d column%s, the network has %d output%s", y->cols, bp_s(y->cols),
                      bp_net_outputs(m->net), bp_s(bp_net_outputs(m->net)));
    if (y && x && y->rows != x->rows)
        return bp_err(err, BP_E_SHAPE, "y has %d row%s, x has %d", y->rows, bp_s(y->rows), x->rows);
    if (y && !x && y->rows != m->m) return bp_err(err, BP_E_SHAPE, "y has %d row%s, x has %d", y->rows, bp_s(y->rows), m->m);
    if (x && !y && m->y && m->ym != rows)
        return bp_err(err, BP_E_SHAPE, "x has %d rows, the model file's data.y %d: give y for these rows too",
                      rows, m->ym);
    bp_status st;
    if (x) {
        if ((st = copy_mat(x, &m->x, f32, err))) return st;
        m->m = x->rows;
        free(m->xraw);
        m->xraw = NULL;
        if ((st = scale_x(m, err))) return st;
    }
    if (y) {
        if ((st = copy_mat(y, &m->y, f32, err))) return st;
        m->ym = y->rows;
    }
    return BP_OK;
}

/* ---- writing ------------------------------------------------------------------- */

static void write_row(FILE *fp, const bp_mat *m, int i)
{
    char num[BP_NUM_MAX];
    fputc('[', fp);
    for (int j = 0; j < m->cols; j++)
        fprintf(fp, "%s%s", j ? ", " : "", bp_num_exact(num, bp_mat_get(m, i, j)));
    fputc(']', fp);
}

static void write_matrix(FILE *fp, const char *indent, const char *key, const bp_mat *m)
{
    fprintf(fp, "%s\"%s\": [\n", indent, key);
    for (int i = 0; i < m->rows; i++) {
        fprintf(fp, "%s  ", indent);
        write_row(fp, m, i);
        fputs(i + 1 < m->rows ? ",\n" : "\n", fp);
    }
    fprintf(fp, "%s]", indent);
}

/* Finite everywhere? Otherwise fill err naming `what` and the element. */
static bp_status check_finite(const char *path, const char *what, const bp_mat *m, bp_error *err)
{
    for (int i = 0; i < m->rows; i++)
        for (int j = 0; j < m->cols; j++)
            if (!isfinite(bp_mat_get(m, i, j)))
                return bp_err(err, BP_E_VALUE, "%s: %s[%d][%d] is %g; JSON holds finite numbers only", path, what, i, j,
                              bp_mat_get(m, i, j));
    return BP_OK;
}

static bp_status write_json(const bp_net *cnet, const bp_scaler *sc, const bp_mat *x, const bp_mat *y, const char *path,
                            bp_error *err)
{
    if (!cnet || !path) return bp_err(err, BP_E_ARG, "bp_model_save_json: %s is NULL", cnet ? "path" : "net");
    bp_net *net = (bp_net *)cnet; /* the accessors only read */
    const bp_net_spec *s = bp_net_get_spec(net);
    if (x && x->rows == 0) x = NULL;
    if (y && y->rows == 0) y = NULL;
    if (y && !x) return bp_err(err, BP_E_ARG, "%s: targets y given without inputs x", path);
    if (x && x->cols != s->inputs)
        return bp_err(err, BP_E_SHAPE, "%s: x has %d columns, the network has %d inputs", path, x->cols, s->inputs);
    if (y && (y->cols != bp_net_outputs(net) || y->rows != x->rows))
        return bp_err(err, BP_E_SHAPE, "%s: y is %d x %d; it must be %d x %d (samples x outputs)", path, y->rows, y->cols,
                      x->rows, bp_net_outputs(net));
    bp_status st;
    char what[48];
    for (int l = 0; l < s->nlayers; l++) {
        bp_mat W = bp_net_weight(net, l), B = bp_net_bias(net, l);
        snprintf(what, sizeof what, "layers[%d].W", l);
        if ((st = check_finite(path, what, &W, err))) return st;
        snprintf(what, sizeof what, "layers[%d].b", l);
        if ((st = check_finite(path, what, &B, err))) return st;
    }
    if ((x && (st = check_finite(path, "data.x", x, err))) || (y && (st = check_finite(path, "data.y", y, err)))) return st;

    bp_atomic_file af;
    if ((st = bp_atomic_open(&af, path, err))) return st;
    FILE *fp = af.fp;
    fprintf(fp, "{\n  \"inputs\": %d,\n  \"weight_layout\": \"%s\",\n  \"layers\": [\n", s->inputs, bp_layout_name(s->layout));
    for (int l = 0; l < s->nlayers; l++) {
        const bp_layer_spec *L = &s->layers[l];
        bp_mat W = bp_net_weight(net, l), B = bp_net_bias(net, l);
        fprintf(fp, "    {\n      \"units\": %d,\n      \"activation\": \"%s\",\n      \"bias\": %s,\n", L->units,
                bp_act_name(L->act), L->bias_trick ? "\"trick\"" : L->bias ? "true" : "false");
        write_matrix(fp, "      ", "W", &W);
        if (B.rows) {
            fputs(",\n      \"b\": ", fp);
            write_row(fp, &B, 0);
        }
        fprintf(fp, "\n    }%s\n", l + 1 < s->nlayers ? "," : "");
    }
    fputs("  ]", fp);
    if (s->loss != BP_LOSS_NONE) fprintf(fp, ",\n  \"loss\": \"%s\"", bp_loss_name(s->loss));
    fprintf(fp, ",\n  \"reduction\": \"%s\"", bp_reduction_name(s->reduction));
    if (sc && sc->features > 0) {
        char num[BP_NUM_MAX];
        const char *sep = "";
        fputs(",\n  \"scaler\": {", fp);
        if (sc->divide > 0) { fprintf(fp, "\"divide\": %s", bp_num_exact_f32(num, sc->divide)); sep = ", "; }
        if (sc->lo < sc->hi) {
            fprintf(fp, "%s\"range\": [%s, ", sep, bp_num_exact_f32(num, sc->lo));
            fprintf(fp, "%s]", bp_num_exact_f32(num, sc->hi));
            sep = ", ";
        }
        if (sc->mean) {
            bp_mat mean = {1, sc->features, BP_F32, sc->mean}, sd = {1, sc->features, BP_F32, sc->std};
            fprintf(fp, "%s\n    \"mean\": ", sep);
            write_row(fp, &mean, 0);
            fputs(",\n    \"std\": ", fp);
            write_row(fp, &sd, 0);
            fputs("\n  ", fp);
        }
        fputc('}', fp);
    }
    const char *const *cn = bp_net_class_names(net);
    for (int i = 0; cn && i < bp_net_classes(net); i++) {
        fputs(i ? ", " : ",\n  \"class_names\": [", fp);
        bp_json_str(fp, cn[i]);
        if (i + 1 == bp_net_classes(net)) fputc(']', fp);
    }
    if (x) {
        fputs(",\n  \"data\": {\n", fp);
        write_matrix(fp, "    ", "x", x);
        if (y) {
            fputs(",\n", fp);
            write_matrix(fp, "    ", "y", y);
        }
        fputs("\n  }", fp);
    }
    fputs("\n}\n", fp);
    return bp_atomic_commit(&af, err);
}

bp_status bp_model_save_json(const bp_net *net, const bp_mat *x, const bp_mat *y, const char *path, bp_error *err)
{
    return write_json(net, NULL, x, y, path, err);
}

bp_status bp_model_save(const bp_model *m, const char *path, bp_error *err)
{
    if (!m) return bp_err(err, BP_E_ARG, "bp_model_save: the model is NULL");
    const bp_net_spec *s = bp_net_get_spec(m->net);
    bp_mat x = {m->x ? m->m : 0, s->inputs, BP_F64, m->xraw ? m->xraw : m->x};
    bp_mat y = {m->y ? m->ym : 0, bp_net_outputs(m->net), BP_F64, m->y};
    return write_json(m->net, bp_model_scaler(m), &x, &y, path, err);
}
