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

bp_status bp_net_save(const bp_net *cnet, const bp_scaler *scaler, const char *path, bp_error *err)
{
    if (!cnet || !path) return bp_err(err, BP_E_ARG, "bp_net_save: %s is NULL", cnet ? "path" : "net");
    bp_net *net = (bp_net *)cnet; /* the accessors only read */
    const bp_net_spec *s = bp_net_get_spec(net);
    bp_dtype dt = bp_net_dtype(net);
    size_t es = bp_dtype_size(dt);
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

    bp_st_tensor t[2 * BP_MAX_LAYERS + 2];
    char names[2 * BP_MAX_LAYERS][32];
    void *copies[BP_MAX_LAYERS] = {0};
    int n = 0;
    bp_status st = BP_OK;
    char *arch = NULL, *cnames = NULL;
    memset(t, 0, sizeof t);
    for (int l = 0; l < s->nlayers; l++) {
        bp_mat W = bp_net_weight(net, l), B = bp_net_bias(net, l);
        int u = s->layers[l].units, fi = bp_w_fan_in(s, l);   /* the bias trick's column included */
        for (size_t i = 0; i < (size_t)W.rows * W.cols; i++) {
            int r = (int)(i / (size_t)W.cols), c = (int)(i % (size_t)W.cols);
            double v = bp_mat_get(&W, r, c);
            if (!isfinite(v)) {
                st = bp_err(err, BP_E_VALUE, "%s: layer %d: weight W[%d][%d] is %g; refusing to save a non-finite weight",
                            path, l, r, c, v);
                goto done;
            }
        }
        for (int j = 0; j < B.rows * B.cols; j++)
            if (!isfinite(bp_mat_get(&B, 0, j))) {
                st = bp_err(err, BP_E_VALUE, "%s: layer %d: bias b[%d] is %g; refusing to save a non-finite bias",
                            path, l, j, bp_mat_get(&B, 0, j));
                goto done;
            }
        const void *wdata = W.data;
        if (s->layout == BP_IN_OUT) { /* fan_in x units -> units x fan_in */
            if (!(copies[l] = bp_malloc((size_t)u * fi * es, err))) { st = BP_E_NOMEM; goto done; }
            bp_mat T = {u, fi, dt, copies[l]};
            for (int r = 0; r < u; r++)
                for (int c = 0; c < fi; c++) bp_mat_set(&T, r, c, bp_mat_get(&W, c, r));
            wdata = copies[l];
        }
        snprintf(names[n], sizeof names[n], "layers.%d.weight", l);
        t[n] = (bp_st_tensor){names[n], dt, 2, {u, fi}, wdata, (size_t)u * fi * es};
        n++;
        if (B.rows > 0) {
            snprintf(names[n], sizeof names[n], "layers.%d.bias", l);
            t[n] = (bp_st_tensor){names[n], dt, 1, {u}, B.data, (size_t)u * es};
            n++;
        }
    }
    if (standardize) {
        size_t nb = (size_t)scaler->features * sizeof(float);
        t[n++] = (bp_st_tensor){"scaler.mean", BP_F32, 1, {scaler->features}, scaler->mean, nb};
        t[n++] = (bp_st_tensor){"scaler.std", BP_F32, 1, {scaler->features}, scaler->std, nb};
    }
    if (!(arch = bp_spec_json(s, err))) { st = BP_E_NOMEM; goto done; }
    /* how inputs are scaled before the first layer, for readers other than us */
    const char *scaling = scaling_text(divide, standardize);
    char dv[32], rg[64];
    snprintf(dv, sizeof dv, "%.9g", divide ? scaler->divide : 0.0);
    snprintf(rg, sizeof rg, "%a %a", range ? scaler->lo : 0.0, range ? scaler->hi : 0.0);
    const char *keys[7] = {"format", "version", "architecture", "input_scaling"};
    const char *values[7] = {"backprop", MODEL_VERSION, arch, scaling};
    int nm = 4;
    if (divide) { keys[nm] = "input_divide"; values[nm++] = dv; }
    if (range) { keys[nm] = "input_range"; values[nm++] = rg; }
    if ((cnames = names_json(net, &st, err))) { keys[nm] = "class_names"; values[nm++] = cnames; }
    if (!st) st = bp_st_write(path, t, n, keys, values, nm, err);
done:
    for (int l = 0; l < BP_MAX_LAYERS; l++) free(copies[l]);
    free(arch);
    free(cnames);
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
    const char *format = bp_st_meta(f, "format"), *version = bp_st_meta(f, "version");
    const char *arch = bp_st_meta(f, "architecture");
    if (!format || strcmp(format, "backprop")) { st = not_ours(path, f, format, err); goto done; }
    if (!version || strcmp(version, MODEL_VERSION)) {
        st = version ? bp_err(err, F, "%s: __metadata__.version is \"%.40s\"; this backprop reads version %s (a newer program wrote it?)",
                              path, version, MODEL_VERSION)
                     : bp_err(err, F, "%s: __metadata__.version is missing", path);
        goto done;
    }
    if (!arch) { st = bp_err(err, F, "%s: __metadata__.architecture is missing", path); goto done; }
    for (int i = 0; i < bp_st_meta_count(f); i++) {   /* a damaged key (the checksum's, say) is not ignored */
        static const char *const known[] = {"format", "version", "architecture", "input_scaling", "input_divide",
                                            "input_range", "class_names", BP_ST_CHECKSUM_KEY};
        const char *key = NULL;
        bp_st_meta_at(f, i, &key, NULL);
        int ok = 0;
        for (size_t k = 0; k < sizeof known / sizeof *known; k++) ok |= !strcmp(key, known[k]);
        if (!ok) {
            st = bp_err(err, F, "%s: __metadata__ has the unknown key \"%.40s\" (a damaged file, or written by another "
                        "version of backprop)", path, key);
            goto done;
        }
    }
    if ((st = bp_spec_parse_json(path, "__metadata__.architecture", arch, &s, err))) goto done;

    /* every tensor present, of the right shape, finite; nothing else */
    const bp_st_tensor *W[BP_MAX_LAYERS], *B[BP_MAX_LAYERS] = {0}, *mean = NULL, *sd = NULL;
    int expected = 0;
    char name[32], what[96];
    for (int l = 0; l < s.nlayers; l++) {
        int u = s.layers[l].units, fi = bp_w_fan_in(&s, l);
        snprintf(name, sizeof name, "layers.%d.weight", l);
        snprintf(what, sizeof what, s.layers[l].bias_trick ? "units x (1 + fan_in) of layer %d, the bias first"
                                                           : "units x fan_in of layer %d", l);
        if ((st = want_tensor(path, f, name, u, fi, what, &W[l], err))) goto done;
        snprintf(name, sizeof name, "layers.%d.bias", l);
        if (s.layers[l].bias) {
            snprintf(what, sizeof what, "one per unit of layer %d", l);
            if ((st = want_tensor(path, f, name, u, -1, what, &B[l], err))) goto done;
        } else if (bp_st_find(f, name)) {
            st = bp_err(err, F, "%s: tensor '%s' is present but the architecture says layer %d has no bias", path, name, l);
            goto done;
        }
        expected += 1 + s.layers[l].bias;
    }
    if (bp_st_find(f, "scaler.mean") || bp_st_find(f, "scaler.std")) {
        if ((st = want_tensor(path, f, "scaler.mean", s.inputs, -1, "one per input", &mean, err)) ||
            (st = want_tensor(path, f, "scaler.std", s.inputs, -1, "one per input", &sd, err)))
            goto done;
        expected += 2;
    }
    if (bp_st_count(f) != expected) { /* some tensor is not ours: name it */
        for (int i = 0; i < bp_st_count(f); i++) {
            const char *nm = bp_st_get(f, i)->name;
            int ok = !strcmp(nm, "scaler.mean") || !strcmp(nm, "scaler.std");
            for (int l = 0; !ok && l < s.nlayers; l++) ok = bp_st_get(f, i) == W[l] || bp_st_get(f, i) == B[l];
            if (!ok) {
                st = bp_err(err, F, "%s: unexpected tensor '%.100s' (a backprop model of this architecture has "
                            "only layers.L.weight, layers.L.bias and scaler.mean/std)", path, nm);
                goto done;
            }
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
    const bp_st_tensor *all[2 * BP_MAX_LAYERS + 2];
    int nall = 0;
    for (int l = 0; l < s.nlayers; l++) {
        all[nall++] = W[l];
        if (B[l]) all[nall++] = B[l];
    }
    if (mean) { all[nall++] = mean; all[nall++] = sd; }
    for (int k = 0; k < nall; k++) {
        long long bad = first_bad(all[k], dtype == BP_F32 || (mean && k >= nall - 2));   /* the scaler is float */
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
    for (int j = 0; sd && j < s.inputs; j++)
        if (!(tensor_at(sd, j) > 0)) {
            st = bp_err(err, F, "%s: tensor 'scaler.std' element [%d] is %g; standard deviations must be positive", path, j,
                        tensor_at(sd, j));
            goto done;
        }

    if ((st = bp_net_new(&s, dtype, &net, err))) goto done;
    for (int l = 0; l < s.nlayers; l++) {
        bp_mat Wm = bp_net_weight(net, l), Bm = bp_net_bias(net, l);
        int u = s.layers[l].units, fi = bp_w_fan_in(&s, l);
        for (int r = 0; r < u; r++)
            for (int c = 0; c < fi; c++) {
                double v = tensor_at(W[l], (size_t)r * fi + c);
                if (s.layout == BP_OUT_IN) bp_mat_set(&Wm, r, c, v);
                else bp_mat_set(&Wm, c, r, v);
            }
        for (int j = 0; B[l] && j < u; j++) bp_mat_set(&Bm, 0, j, tensor_at(B[l], j));
    }
    if (mean && scaler) {
        scaler->mean = bp_malloc((size_t)s.inputs * sizeof(float), err);
        scaler->std = bp_malloc((size_t)s.inputs * sizeof(float), err);
        if (!scaler->mean || !scaler->std) { bp_scaler_free(scaler); st = BP_E_NOMEM; goto done; }
        for (int j = 0; j < s.inputs; j++) {
            scaler->mean[j] = (float)tensor_at(mean, j);
            scaler->std[j] = (float)tensor_at(sd, j);
        }
    }
    if (scaler && (mean || dvs || rgs)) {
        scaler->features = s.inputs;
        scaler->divide = (float)divide;
        scaler->lo = (float)lo;
        scaler->hi = (float)hi;
    }
    const char *cn = bp_st_meta(f, "class_names");
    if (cn && (st = names_parse(path, cn, net, err))) {
        if (scaler) bp_scaler_free(scaler);
        goto done;
    }
done:
    bp_st_free(f);
    if (st) bp_net_free(net);
    else *out = net;
    return st;
}
#undef F
