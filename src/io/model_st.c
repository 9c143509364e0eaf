/* io/model_st.c - a network on disk as a safetensors model file (bp_net_save
 * / bp_net_load); the format itself is core/safetensors.c.
 *
 * A safetensors model holds "layers.L.weight" (units x fan_in, whatever the
 * net's layout; units x (1 + fan_in), the bias first, for a layer with the
 * bias trick), "layers.L.bias" when layer L has one, and optionally
 * "scaler.mean" / "scaler.std" (F32, [inputs]); __metadata__ has format =
 * "backprop", version = "1" and architecture = the compact JSON
 * {"inputs", "weight_layout", "layers": [{"units", "activation", "bias"}],
 * "loss", "reduction"}, and class_names (a JSON array) when the net has them.
 * Loading trusts nothing: every problem with the file
 * is BP_E_FORMAT with a message naming the file and the place. */
#include "core/error.h"
#include "core/mat.h"
#include "core/safetensors.h"
#include "nn/net.h"
#include "nn/multiclass.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_VERSION "1"
#define SCALING_STANDARDIZE "standardize: x' = (x - scaler.mean) / scaler.std"
#define SCALING_DIVIDE "divide: x' = x / input_divide"

/* The text of __metadata__.input_scaling for a scaler with (or without) a
 * divisor and a standardisation: for other readers, and checked on load. */
static const char *scaling_text(int divide, int standardize)
{
    if (divide && standardize) return SCALING_DIVIDE ", then " SCALING_STANDARDIZE;
    if (divide) return SCALING_DIVIDE;
    return standardize ? SCALING_STANDARDIZE : "none";
}
#define MAX_UNITS 100000000


/* ---- class names: __metadata__.class_names = a JSON array of strings ------ */

/* The net's class names as compact JSON (a new string), or NULL with *st = 0
 * when it has none. */
static char *names_json(const bp_net *net, bp_status *st, bp_error *err)
{
    const char *const *names = bp_net_class_names(net);
    *st = BP_OK;
    if (!names) return NULL;
    json_t *a = json_array();
    for (int i = 0; a && i < bp_net_classes(net); i++)
        if (json_array_append_new(a, json_string(names[i]))) { json_decref(a); a = NULL; }
    char *text = a ? json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(a);
    if (!text) *st = bp_err(err, BP_E_NOMEM, "out of memory");
    return text;
}

/* Read __metadata__.class_names (text) into the net. */
static bp_status names_parse(const char *path, const char *text, bp_net *net, bp_error *err)
{
    json_error_t je;
    json_t *a = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    int k = bp_net_classes(net);
    bp_status st = BP_OK;
    const char **names = NULL;
    if (!json_is_array(a) || (int)json_array_size(a) != k) {
        st = bp_err(err, BP_E_FORMAT, "%s: __metadata__.class_names is not a JSON array of %d names (one per class)",
                    path, k);
    } else if (!(names = bp_malloc((size_t)k * sizeof *names, err))) {
        st = BP_E_NOMEM;
    } else {
        for (int i = 0; !st && i < k; i++)
            if (!(names[i] = json_string_value(json_array_get(a, i))))
                st = bp_err(err, BP_E_FORMAT, "%s: __metadata__.class_names[%d] is not a string", path, i);
        bp_error e2;
        if (!st && bp_net_set_class_names(net, names, k, &e2))
            st = bp_err(err, BP_E_FORMAT, "%s: __metadata__.class_names: %s", path, e2.msg);
    }
    free(names);
    json_decref(a);
    return st;
}

/* ---- save ----------------------------------------------------------------- */

/* What a file of nets is made of: the tensors (names owned here), the copies
 * of in_out weights turned to units x fan_in, and the metadata. */
typedef struct parts {
    bp_st_tensor *t;
    char (*names)[64];
    void **copies;
    int n, cap, ncopies;
    const char *keys[12], *values[12];
    int nm;
    char *arch, *extra, dv[32], rg[64];
} parts;

static void parts_free(parts *p)
{
    for (int i = 0; i < p->ncopies; i++) free(p->copies[i]);
    free(p->copies);
    free(p->t);
    free(p->names);
    free(p->arch);
    free(p->extra);
}

static bp_status parts_init(parts *p, int cap, bp_error *err)
{
    memset(p, 0, sizeof *p);
    p->cap = cap;
    p->t = bp_calloc((size_t)cap, sizeof *p->t, err);
    p->names = bp_calloc((size_t)cap, sizeof *p->names, err);
    p->copies = bp_calloc((size_t)cap, sizeof *p->copies, err);
    if (!p->t || !p->names || !p->copies) { parts_free(p); return BP_E_NOMEM; }
    return BP_OK;
}

/* The tensors of net's layers, named PREFIX "layers.L.weight" / ".bias";
 * `which` names the net in messages ("layer 2", "model 1, layer 2"). */
static bp_status net_tensors(const bp_net *cnet, const char *prefix, const char *which, const char *path, parts *p,
                             bp_error *err)
{
    bp_net *net = (bp_net *)cnet; /* the accessors only read */
    const bp_net_spec *s = bp_net_get_spec(net);
    bp_dtype dt = bp_net_dtype(net);
    size_t es = bp_dtype_size(dt);
    for (int l = 0; l < s->nlayers; l++) {
        bp_mat W = bp_net_weight(net, l), B = bp_net_bias(net, l);
        int u = s->layers[l].units, fi = bp_w_fan_in(s, l);   /* the bias trick's column included */
        for (size_t i = 0; i < (size_t)W.rows * W.cols; i++) {
            int r = (int)(i / (size_t)W.cols), c = (int)(i % (size_t)W.cols);
            double v = bp_mat_get(&W, r, c);
            if (!isfinite(v))
                return bp_err(err, BP_E_VALUE, "%s: %slayer %d: weight W[%d][%d] is %g; refusing to save a non-finite "
                              "weight", path, which, l, r, c, v);
        }
        for (int j = 0; j < B.rows * B.cols; j++)
            if (!isfinite(bp_mat_get(&B, 0, j)))
                return bp_err(err, BP_E_VALUE, "%s: %slayer %d: bias b[%d] is %g; refusing to save a non-finite bias",
                              path, which, l, j, bp_mat_get(&B, 0, j));
        const void *wdata = W.data;
        if (s->layout == BP_IN_OUT) { /* fan_in x units -> units x fan_in */
            void *cp = bp_malloc((size_t)u * fi * es, err);
            if (!cp) return BP_E_NOMEM;
            p->copies[p->ncopies++] = cp;
            bp_mat T = {u, fi, dt, cp};
            for (int r = 0; r < u; r++)
                for (int c = 0; c < fi; c++) bp_mat_set(&T, r, c, bp_mat_get(&W, c, r));
            wdata = cp;
        }
        snprintf(p->names[p->n], sizeof p->names[0], "%slayers.%d.weight", prefix, l);
        p->t[p->n] = (bp_st_tensor){p->names[p->n], dt, 2, {u, fi}, wdata, (size_t)u * fi * es};
        p->n++;
        if (B.rows > 0) {
            snprintf(p->names[p->n], sizeof p->names[0], "%slayers.%d.bias", prefix, l);
            p->t[p->n] = (bp_st_tensor){p->names[p->n], dt, 1, {u}, B.data, (size_t)u * es};
            p->n++;
        }
    }
    return BP_OK;
}

/* The scaler's tensors and the metadata every file of nets has: format,
 * version, architecture (of spec s), input_scaling, input_divide, input_range. */
static bp_status common_parts(const bp_net_spec *s, const bp_scaler *scaler, const char *path, parts *p, bp_error *err)
{
    int with_scaler = scaler && scaler->features > 0, standardize = with_scaler && scaler->mean;
    int divide = with_scaler && scaler->divide > 0, range = with_scaler && scaler->lo < scaler->hi;
    if (with_scaler && scaler->features != s->inputs)
        return bp_err(err, BP_E_ARG, "%s: the scaler has %d features but the network has %d inputs", path,
                      scaler->features, s->inputs);
    if (divide && !isfinite(scaler->divide))
        return bp_err(err, BP_E_ARG, "%s: the scaler divides by %g", path, scaler->divide);
    if (range && !(isfinite(scaler->lo) && isfinite(scaler->hi)))
        return bp_err(err, BP_E_ARG, "%s: the scaler's range [%g, %g] is not finite", path, scaler->lo, scaler->hi);
    for (int j = 0; standardize && j < scaler->features; j++)
        if (!isfinite(scaler->mean[j]) || !(scaler->std[j] > 0) || !isfinite(scaler->std[j]))
            return bp_err(err, BP_E_ARG, "%s: scaler feature %d: mean %g, std %g (need a finite mean and std > 0)",
                          path, j, scaler->mean[j], scaler->std[j]);
    if (standardize) {
        size_t nb = (size_t)scaler->features * sizeof(float);
        p->t[p->n++] = (bp_st_tensor){"scaler.mean", BP_F32, 1, {scaler->features}, scaler->mean, nb};
        p->t[p->n++] = (bp_st_tensor){"scaler.std", BP_F32, 1, {scaler->features}, scaler->std, nb};
    }
    if (!(p->arch = bp_spec_json(s, err))) return BP_E_NOMEM;
    /* how inputs are scaled before the first layer, for readers other than us */
    snprintf(p->dv, sizeof p->dv, "%.9g", divide ? scaler->divide : 0.0);
    snprintf(p->rg, sizeof p->rg, "%a %a", range ? scaler->lo : 0.0, range ? scaler->hi : 0.0);
    const char *keys[4] = {"format", "version", "architecture", "input_scaling"};
    const char *values[4] = {"backprop", MODEL_VERSION, p->arch, scaling_text(divide, standardize)};
    for (int i = 0; i < 4; i++) { p->keys[p->nm] = keys[i]; p->values[p->nm++] = values[i]; }
    if (divide) { p->keys[p->nm] = "input_divide"; p->values[p->nm++] = p->dv; }
    if (range) { p->keys[p->nm] = "input_range"; p->values[p->nm++] = p->rg; }
    return BP_OK;
}

bp_status bp_net_save(const bp_net *net, const bp_scaler *scaler, const char *path, bp_error *err)
{
    if (!net || !path) return bp_err(err, BP_E_ARG, "bp_net_save: %s is NULL", net ? "path" : "net");
    parts p;
    bp_status st = parts_init(&p, 2 * BP_MAX_LAYERS + 2, err);
    if (st) return st;
    if (!(st = common_parts(bp_net_get_spec(net), scaler, path, &p, err)) &&
        !(st = net_tensors(net, "", "", path, &p, err))) {
        if ((p.extra = names_json(net, &st, err))) { p.keys[p.nm] = "class_names"; p.values[p.nm++] = p.extra; }
        if (!st) st = bp_st_write(path, p.t, p.n, p.keys, p.values, p.nm, err);
    }
    parts_free(&p);
    return st;
}

bp_status bp_multiclass_save(const bp_multiclass *mc, const bp_scaler *scaler, const char *path, bp_error *err)
{
    if (!mc || !path) return bp_err(err, BP_E_ARG, "bp_multiclass_save: %s is NULL", mc ? "path" : "set");
    const bp_net_spec *s = bp_net_get_spec(mc->nets[0]);
    parts p;
    bp_status st = parts_init(&p, mc->nmodels * 2 * s->nlayers + 2, err);
    if (st) return st;
    st = common_parts(s, scaler, path, &p, err);
    for (int m = 0; !st && m < mc->nmodels; m++) {
        char prefix[32], which[32];
        snprintf(prefix, sizeof prefix, "models.%d.", m);
        snprintf(which, sizeof which, "model %d, ", m);
        st = net_tensors(mc->nets[m], prefix, which, path, &p, err);
    }
    /* "multiclass": {"scheme", "classes", "class_names", "models": [{"positive", "negative"}]} */
    json_t *j = st ? NULL : json_object(), *models = json_array();
    int bad = !j || !models;
    bad |= j && json_object_set_new(j, "scheme", json_string(bp_multiclass_scheme_name(mc->scheme)));
    bad |= j && json_object_set_new(j, "classes", json_integer(mc->k));
    if (j && mc->class_names) {
        json_t *a = json_array();
        for (int c = 0; a && c < mc->k; c++) bad |= json_array_append_new(a, json_string(mc->class_names[c]));
        bad |= !a || json_object_set_new(j, "class_names", a);
    }
    for (int m = 0; j && models && m < mc->nmodels; m++)
        bad |= json_array_append_new(models, json_pack("{s:i, s:o}", "positive", mc->pos[m], "negative",
                                                       mc->neg[m] < 0 ? json_string("rest") : json_integer(mc->neg[m])));
    bad |= j && json_object_set(j, "models", models);
    if (j && !bad && !(p.extra = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII))) bad = 1;
    json_decref(models);
    json_decref(j);
    if (!st && bad) st = bp_err(err, BP_E_NOMEM, "out of memory");
    if (!st) {
        p.keys[p.nm] = "multiclass";
        p.values[p.nm++] = p.extra;
        st = bp_st_write(path, p.t, p.n, p.keys, p.values, p.nm, err);
    }
    parts_free(&p);
    return st;
}

/* ---- load ----------------------------------------------------------------- */

#define F BP_E_FORMAT

/* Check tensor `name`: present (unless optional), F32/F64 (bp_st_read allows
 * nothing else), of shape [d0] or [d0, d1] (d1 < 0: one dimension). */
static bp_status want_tensor(const char *file, const bp_st_file *f, const char *name, int d0, int d1,
                             const char *what, const bp_st_tensor **out, bp_error *err)
{
    const bp_st_tensor *t = *out = bp_st_find(f, name);
    if (!t) return bp_err(err, F, "%s: tensor '%s' is missing (%s)", file, name, what);
    int nd = d1 < 0 ? 1 : 2;
    if (t->ndim != nd || t->shape[0] != d0 || (nd == 2 && t->shape[1] != d1)) {
        char got[96] = "[";
        for (int d = 0; d < t->ndim; d++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
        strcat(got, "]");
        if (nd == 1) return bp_err(err, F, "%s: tensor '%s' has shape %s; the architecture needs [%d] (%s)", file, name, got, d0, what);
        return bp_err(err, F, "%s: tensor '%s' has shape %s; the architecture needs [%d, %d] (%s)", file, name, got, d0, d1, what);
    }
    return BP_OK;
}

static double tensor_at(const bp_st_tensor *t, size_t i)
{
    return t->dtype == BP_F64 ? ((const double *)t->data)[i] : ((const float *)t->data)[i];
}

/* The first element of t that is not finite, or (f32: loaded as float)
 * beyond the float32 range, or -1. */
static long long first_bad(const bp_st_tensor *t, int f32)
{
    size_t n = t->nbytes / bp_dtype_size(t->dtype);
    for (size_t i = 0; i < n; i++) {
        double v = tensor_at(t, i);
        if (!isfinite(v) || (f32 && fabs(v) > FLT_MAX)) return (long long)i;
    }
    return -1;
}

static bp_status not_ours(const char *path, const bp_st_file *f, const char *format, bp_error *err)
{
    char list[400] = "";
    int n = bp_st_count(f);
    for (int i = 0; i < n && i < 5; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%.60s", i ? ", " : "", bp_st_get(f, i)->name);
    if (n > 5) snprintf(list + strlen(list), sizeof list - strlen(list), ", ... (%d in all)", n);
    char why[96];
    if (format) snprintf(why, sizeof why, "__metadata__.format is \"%.40s\", not backprop", format);
    else snprintf(why, sizeof why, "no __metadata__.format = backprop");
    return bp_err(err, F, "%s: not a backprop model (%s); it holds %s%s", path, why,
                  n ? "tensors: " : "no tensors", list);
}

/* bp_st_read's message, with a hint when the file looks like JSON text. */
static bp_status read_failed(const char *path, bp_status st, bp_error *err)
{
    if (st != F || !err) return st;
    FILE *fp = fopen(path, "rb");
    int c = ' ';
    while (fp && (c = fgetc(fp)) != EOF && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {}
    if (fp) fclose(fp);
    if (c == '{') {
        bp_err(err, st, "%s: not a safetensors file: it looks like a JSON model file (`backprop convert` turns "
               "one into a safetensors model)", path);
    }
    return st;
}

/* The header of a file of nets: format, version, architecture (into s), and
 * every metadata key one that such a file has (`set`: a model set, with its
 * "multiclass"; else one net, with its "class_names"). */
static bp_status read_header(const char *path, const bp_st_file *f, int set, bp_net_spec *s, bp_error *err)
{
    const char *format = bp_st_meta(f, "format"), *version = bp_st_meta(f, "version");
    const char *arch = bp_st_meta(f, "architecture");
    if (!format || strcmp(format, "backprop")) return not_ours(path, f, format, err);
    if (!version || strcmp(version, MODEL_VERSION))
        return version ? bp_err(err, F, "%s: __metadata__.version is \"%.40s\"; this backprop reads version %s (a newer "
                                "program wrote it?)", path, version, MODEL_VERSION)
                       : bp_err(err, F, "%s: __metadata__.version is missing", path);
    if (!arch) return bp_err(err, F, "%s: __metadata__.architecture is missing", path);
    for (int i = 0; i < bp_st_meta_count(f); i++) {   /* a damaged key (the checksum's, say) is not ignored */
        static const char *const known[] = {"format", "version", "architecture", "input_scaling", "input_divide",
                                            "input_range", BP_ST_CHECKSUM_KEY};
        const char *key = NULL;
        bp_st_meta_at(f, i, &key, NULL);
        int ok = !strcmp(key, set ? "multiclass" : "class_names");
        for (size_t k = 0; k < sizeof known / sizeof *known; k++) ok |= !strcmp(key, known[k]);
        if (!ok && !set && !strcmp(key, "multiclass"))
            return bp_err(err, F, "%s: a one-vs-rest or one-vs-one model set, not one network: eval, predict, boundary "
                          "and plot-boundary take it", path);
        if (!ok)
            return bp_err(err, F, "%s: __metadata__ has the unknown key \"%.40s\" (a damaged file, or written by another "
                          "version of backprop)", path, key);
    }
    return bp_spec_parse_json(path, "__metadata__.architecture", arch, s, err);
}

/* Everything of nnets nets of spec s (set: named "models.M.layers...", else
 * one net, "layers...") and the scaler: every tensor present, of the right
 * shape, finite, nothing else in the file; the scaling metadata agreeing. */
static bp_status read_nets(const char *path, const bp_st_file *f, const bp_net_spec *s, int set, int nnets,
                           bp_dtype dtype, bp_net **nets, bp_scaler *scaler, bp_error *err)
{
    int per = 2 * s->nlayers;
    const bp_st_tensor **all = bp_calloc((size_t)nnets * per + 2, sizeof *all, err), *mean = NULL, *sd = NULL;
    if (!all) return BP_E_NOMEM;
    bp_status st = BP_OK;
    int nall = 0;
    char name[64], what[96];
    for (int m = 0; m < nnets; m++)
        for (int l = 0; l < s->nlayers; l++) {
            int u = s->layers[l].units, fi = bp_w_fan_in(s, l);
            char prefix[32] = "";
            if (set) snprintf(prefix, sizeof prefix, "models.%d.", m);
            snprintf(name, sizeof name, "%slayers.%d.weight", prefix, l);
            snprintf(what, sizeof what, s->layers[l].bias_trick ? "units x (1 + fan_in) of layer %d, the bias first"
                                                                : "units x fan_in of layer %d", l);
            if ((st = want_tensor(path, f, name, u, fi, what, &all[m * per + 2 * l], err))) goto done;
            snprintf(name, sizeof name, "%slayers.%d.bias", prefix, l);
            if (s->layers[l].bias) {
                snprintf(what, sizeof what, "one per unit of layer %d", l);
                if ((st = want_tensor(path, f, name, u, -1, what, &all[m * per + 2 * l + 1], err))) goto done;
            } else if (bp_st_find(f, name)) {
                st = bp_err(err, F, "%s: tensor '%s' is present but the architecture says layer %d has no bias", path, name, l);
                goto done;
            }
        }
    if (bp_st_find(f, "scaler.mean") || bp_st_find(f, "scaler.std")) {
        if ((st = want_tensor(path, f, "scaler.mean", s->inputs, -1, "one per input", &mean, err)) ||
            (st = want_tensor(path, f, "scaler.std", s->inputs, -1, "one per input", &sd, err)))
            goto done;
    }
    nall = nnets * per;
    all[nall] = mean;
    all[nall + 1] = sd;
    for (int i = 0; i < bp_st_count(f); i++) {   /* some tensor is not ours: name it */
        int ok = 0;
        for (int k = 0; k < nall + 2 && !ok; k++) ok = bp_st_get(f, i) == all[k];
        if (!ok) {
            st = bp_err(err, F, "%s: unexpected tensor '%.100s' (a backprop %s of this architecture has only %slayers.L."
                        "weight, %slayers.L.bias and scaler.mean/std)", path, bp_st_get(f, i)->name,
                        set ? "model set" : "model", set ? "models.M." : "", set ? "models.M." : "");
            goto done;
        }
    }
    const char *dvs = bp_st_meta(f, "input_divide"), *rgs = bp_st_meta(f, "input_range");
    double divide = 0, lo = 0, hi = 0;
    char *end;
    if (dvs && (!(divide = strtod(dvs, &end)) || *end || !(divide > 0) || !isfinite(divide) || divide > FLT_MAX)) {
        st = bp_err(err, F, "%s: __metadata__.input_divide is \"%.40s\", not a positive number", path, dvs);
        goto done;
    }
    char tail;
    if (rgs && (sscanf(rgs, "%la %la%c", &lo, &hi, &tail) != 2 || !isfinite(lo) || !isfinite(hi) || lo > hi)) {
        st = bp_err(err, F, "%s: __metadata__.input_range is \"%.60s\", not two numbers lo <= hi", path, rgs);
        goto done;
    }
    const char *scaling = bp_st_meta(f, "input_scaling"), *want = scaling_text(dvs != NULL, mean != NULL);
    if (!scaling || strcmp(scaling, want)) {
        st = scaling ? bp_err(err, F, "%s: __metadata__.input_scaling is \"%.80s\", but the file says \"%s\" by its "
                              "scaler tensors and input_divide", path, scaling, want)
                     : bp_err(err, F, "%s: __metadata__.input_scaling is missing", path);
        goto done;
    }
    for (int k = 0; k < nall + 2; k++) {
        if (!all[k]) continue;
        long long bad = first_bad(all[k], dtype == BP_F32 || k >= nall);   /* the scaler is float */
        if (bad >= 0) {
            const bp_st_tensor *t = all[k];
            double v = tensor_at(t, (size_t)bad);
            const char *why = isfinite(v) ? "; it does not fit float32: load the model with --dtype f64"
                                          : "; a model must be finite";
            char at[64];
            if (t->ndim == 2) snprintf(at, sizeof at, "[%lld, %lld]", bad / t->shape[1], bad % t->shape[1]);
            else snprintf(at, sizeof at, "[%lld]", bad);
            st = bp_err(err, isfinite(v) ? BP_E_VALUE : F, "%s: tensor '%s' element %s is %g%s", path, t->name, at, v,
                        why);
            goto done;
        }
    }
    for (int j = 0; sd && j < s->inputs; j++)
        if (!(tensor_at(sd, j) > 0)) {
            st = bp_err(err, F, "%s: tensor 'scaler.std' element [%d] is %g; standard deviations must be positive", path, j,
                        tensor_at(sd, j));
            goto done;
        }

    for (int m = 0; m < nnets; m++) {
        if ((st = bp_net_new(s, dtype, &nets[m], err))) goto done;
        for (int l = 0; l < s->nlayers; l++) {
            bp_mat Wm = bp_net_weight(nets[m], l), Bm = bp_net_bias(nets[m], l);
            const bp_st_tensor *W = all[m * per + 2 * l], *B = all[m * per + 2 * l + 1];
            int u = s->layers[l].units, fi = bp_w_fan_in(s, l);
            for (int r = 0; r < u; r++)
                for (int c = 0; c < fi; c++) {
                    double v = tensor_at(W, (size_t)r * fi + c);
                    if (s->layout == BP_OUT_IN) bp_mat_set(&Wm, r, c, v);
                    else bp_mat_set(&Wm, c, r, v);
                }
            for (int j = 0; B && j < u; j++) bp_mat_set(&Bm, 0, j, tensor_at(B, j));
        }
    }
    if (mean && scaler) {
        scaler->mean = bp_malloc((size_t)s->inputs * sizeof(float), err);
        scaler->std = bp_malloc((size_t)s->inputs * sizeof(float), err);
        if (!scaler->mean || !scaler->std) { bp_scaler_free(scaler); st = BP_E_NOMEM; goto done; }
        for (int j = 0; j < s->inputs; j++) {
            scaler->mean[j] = (float)tensor_at(mean, j);
            scaler->std[j] = (float)tensor_at(sd, j);
        }
    }
    if (scaler && (mean || dvs || rgs)) {
        scaler->features = s->inputs;
        scaler->divide = (float)divide;
        scaler->lo = (float)lo;
        scaler->hi = (float)hi;
    }
done:
    if (st)
        for (int m = 0; m < nnets; m++) {
            bp_net_free(nets[m]);
            nets[m] = NULL;
        }
    free(all);
    return st;
}

bp_status bp_net_load(const char *path, bp_dtype dtype, bp_net **out, bp_scaler *scaler, bp_error *err)
{
    if (out) *out = NULL;
    if (scaler) memset(scaler, 0, sizeof *scaler);
    if (!out || !path) return bp_err(err, BP_E_ARG, "bp_net_load: %s is NULL", out ? "path" : "out");
    bp_st_file *f = NULL;
    bp_status st = bp_st_read(path, &f, err);
    if (st) return read_failed(path, st, err);
    bp_net_spec s;
    bp_net *net = NULL;
    if (!(st = read_header(path, f, 0, &s, err)) && !(st = read_nets(path, f, &s, 0, 1, dtype, &net, scaler, err))) {
        const char *cn = bp_st_meta(f, "class_names");
        if (cn && (st = names_parse(path, cn, net, err)) && scaler) bp_scaler_free(scaler);
    }
    bp_st_free(f);
    if (st) bp_net_free(net);
    else *out = net;
    return st;
}

/* ---- model sets (one-vs-rest, one-vs-one) --------------------------------- */

int bp_multiclass_file(const char *path)
{
    bp_st_file *f = NULL;
    if (bp_st_read(path, &f, NULL)) return 0;
    int yes = bp_st_meta(f, "multiclass") != NULL;
    bp_st_free(f);
    return yes;
}

/* __metadata__.multiclass: the scheme, k, the names, and the models in the order of the scheme. */
static bp_status read_multiclass(const char *path, const char *text, bp_multiclass_scheme *scheme, int *k,
                                 char ***names, int *nmodels, bp_error *err)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    bp_status st = BP_OK;
    const char *key;
    json_t *v, *models = json_object_get(j, "models"), *cls = json_object_get(j, "classes");
    json_t *cn = json_object_get(j, "class_names"), *sch = json_object_get(j, "scheme");
#define BAD(...) do { st = bp_err(err, F, __VA_ARGS__); goto done; } while (0)
    if (!json_is_object(j)) BAD("%s: __metadata__.multiclass is not a JSON object", path);
    json_object_foreach(j, key, v)
        if (strcmp(key, "scheme") && strcmp(key, "classes") && strcmp(key, "class_names") && strcmp(key, "models"))
            BAD("%s: __metadata__.multiclass: unknown key \"%.40s\"", path, key);
    if (!json_is_string(sch) || bp_multiclass_scheme_parse(json_string_value(sch), scheme))
        BAD("%s: __metadata__.multiclass.scheme: expected \"ovr\" or \"ovo\"", path);
    if (!json_is_integer(cls) || json_integer_value(cls) < 3 || json_integer_value(cls) > 1000)
        BAD("%s: __metadata__.multiclass.classes: expected an integer from 3 to 1000", path);
    *k = (int)json_integer_value(cls);
    *nmodels = *scheme == BP_OVR ? *k : *k * (*k - 1) / 2;
    if (!json_is_array(models) || (int)json_array_size(models) != *nmodels)
        BAD("%s: __metadata__.multiclass.models: expected an array of %d models (%s, %d classes)", path, *nmodels,
            *scheme == BP_OVR ? "one-vs-rest" : "one-vs-one", *k);
    for (int i = 0, m = 0; i < *k; i++)   /* the order of the scheme: (0, rest), (1, rest), ... or (0,1), (0,2), ... */
        for (int c = *scheme == BP_OVR ? -1 : i + 1; c < (*scheme == BP_OVR ? 0 : *k); c++, m++) {
            json_t *e = json_array_get(models, (size_t)m), *ps = json_object_get(e, "positive"), *ng = json_object_get(e, "negative");
            int ok = json_is_object(e) && json_object_size(e) == 2 && json_is_integer(ps) && json_integer_value(ps) == i &&
                     (c < 0 ? json_is_string(ng) && !strcmp(json_string_value(ng), "rest")
                            : json_is_integer(ng) && json_integer_value(ng) == c);
            if (!ok) {
                if (c < 0) BAD("%s: __metadata__.multiclass.models[%d]: expected {\"positive\": %d, \"negative\": \"rest\"}", path, m, i);
                BAD("%s: __metadata__.multiclass.models[%d]: expected {\"positive\": %d, \"negative\": %d}", path, m, i, c);
            }
        }
    *names = NULL;
    if (cn) {
        const char **nv = NULL;
        if (!json_is_array(cn) || (int)json_array_size(cn) != *k)
            BAD("%s: __metadata__.multiclass.class_names: expected an array of %d names", path, *k);
        if (!(nv = bp_calloc((size_t)*k, sizeof *nv, err))) { st = BP_E_NOMEM; goto done; }
        for (int c = 0; c < *k && !st; c++)   /* bp_multiclass_new checks them */
            if (!(nv[c] = json_string_value(json_array_get(cn, (size_t)c))))
                st = bp_err(err, F, "%s: __metadata__.multiclass.class_names[%d] is not a string", path, c);
        if (!st && !(*names = bp_strings_copy(nv, *k, err))) st = BP_E_NOMEM;
        free(nv);
    }
#undef BAD
done:
    if (!j) st = bp_err(err, F, "%s: __metadata__.multiclass: invalid JSON at column %d: %s", path, je.column, je.text);
    json_decref(j);
    return st;
}

bp_status bp_multiclass_load(const char *path, bp_dtype dtype, bp_multiclass **out, bp_scaler *scaler, bp_error *err)
{
    *out = NULL;
    if (scaler) memset(scaler, 0, sizeof *scaler);
    bp_st_file *f = NULL;
    bp_status st = bp_st_read(path, &f, err);
    if (st) return read_failed(path, st, err);
    bp_net_spec s;
    bp_multiclass_scheme scheme = BP_OVR;
    int k = 0, nm = 0;
    char **names = NULL;
    bp_net **nets = NULL;
    const char *mc = bp_st_meta(f, "multiclass");
    if (!mc) st = bp_err(err, F, "%s: a single network, not a one-vs-rest or one-vs-one model set (no "
                         "__metadata__.multiclass)", path);
    if (!st) st = read_header(path, f, 1, &s, err);
    if (!st) st = read_multiclass(path, mc, &scheme, &k, &names, &nm, err);
    if (!st && !(nets = bp_calloc((size_t)nm, sizeof *nets, err))) st = BP_E_NOMEM;
    if (!st) st = read_nets(path, f, &s, 1, nm, dtype, nets, scaler, err);
    bp_error e2;
    if (!st && (st = bp_multiclass_new(scheme, k, nets, nm, (const char *const *)names, out, &e2)))
        st = bp_err(err, F, "%s: %s", path, e2.msg);
    if (st && scaler) bp_scaler_free(scaler);
    free(nets);
    free(names);
    bp_st_free(f);
    return st;
}
#undef F
