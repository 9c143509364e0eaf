/* nn/multiclass.c - one-vs-rest and one-vs-one (CS577 Assignment 2, question
 * 15): k classes told apart by binary networks (one sigmoid output, bce),
 * trained on relabelled data, and the rules that combine their outputs
 * (backprop.h): the largest score or signed distance, or the majority vote
 * with ties broken by the summed confidences. */
#include "nn/multiclass.h"
#include "nn/eval.h"
#include "nn/net.h"
#include "data/dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const scheme_names[] = {"ovr", "ovo"};
const char *bp_multiclass_scheme_name(bp_multiclass_scheme s) { return BP_NAME_OF(scheme_names, s); }
BP_NAME_PARSER(bp_multiclass_scheme_parse, bp_multiclass_scheme, scheme_names)

bp_multiclass_scheme bp_multiclass_get_scheme(const bp_multiclass *mc) { return mc->scheme; }
int bp_multiclass_classes(const bp_multiclass *mc) { return mc->k; }
int bp_multiclass_models(const bp_multiclass *mc) { return mc->nmodels; }
bp_net *bp_multiclass_model(bp_multiclass *mc, int i) { return i >= 0 && i < mc->nmodels ? mc->nets[i] : NULL; }
const char *const *bp_multiclass_class_names(const bp_multiclass *mc) { return (const char *const *)mc->class_names; }
void bp_multiclass_pair(const bp_multiclass *mc, int i, int *positive, int *negative)
{
    *positive = i >= 0 && i < mc->nmodels ? mc->pos[i] : -1;
    *negative = i >= 0 && i < mc->nmodels ? mc->neg[i] : -1;
}

void bp_multiclass_free(bp_multiclass *mc)
{
    if (!mc) return;
    for (int i = 0; i < mc->nmodels; i++) bp_net_free(mc->nets[i]);
    free(mc->nets);
    free(mc->pos);
    free(mc->neg);
    free(mc->class_names);
    free(mc);
}

/* Is spec a binary classifier: one sigmoid output unit, loss bce? */
static bp_status binary_spec(const bp_net_spec *s, bp_error *err)
{
    const bp_layer_spec *L = &s->layers[s->nlayers - 1];
    if (L->units != 1 || L->act != BP_ACT_SIGMOID || s->loss != BP_LOSS_BCE)
        return bp_err(err, BP_E_VALUE, "one-vs-rest and one-vs-one combine binary networks: one sigmoid output unit "
                      "and loss bce (end --arch with -1 and give --loss bce), not %d %s output%s with loss %s",
                      L->units, bp_act_name(L->act), bp_s(L->units), bp_loss_name(s->loss));
    return BP_OK;
}

static int models_of(bp_multiclass_scheme scheme, int k) { return scheme == BP_OVR ? k : k * (k - 1) / 2; }

bp_status bp_multiclass_new(bp_multiclass_scheme scheme, int k, bp_net **nets, int nmodels, const char *const *names,
                            bp_multiclass **out, bp_error *err)
{
    *out = NULL;
    bp_status st = BP_OK;
    bp_multiclass *mc = NULL;
    if ((unsigned)scheme > BP_OVO || k < 3 || k > 1000 || nmodels != models_of(scheme, k))
        st = bp_err(err, BP_E_ARG, "a %s set of %d classes needs %d models, not %d", BP_NAME_OF(scheme_names, scheme), k,
                    k >= 0 && k <= 1000 ? models_of(scheme, k) : 0, nmodels);
    for (int i = 0; !st && i < nmodels; i++) {
        if (!nets[i]) st = bp_err(err, BP_E_ARG, "model %d is missing", i);
        else if ((st = binary_spec(bp_net_get_spec(nets[i]), err))) break;
        else if (i && (bp_net_get_spec(nets[i])->inputs != bp_net_get_spec(nets[0])->inputs ||
                       bp_net_dtype(nets[i]) != bp_net_dtype(nets[0])))
            st = bp_err(err, BP_E_SHAPE, "model %d has %d inputs in %s, model 0 %d in %s", i,
                        bp_net_get_spec(nets[i])->inputs, bp_dtype_name(bp_net_dtype(nets[i])),
                        bp_net_get_spec(nets[0])->inputs, bp_dtype_name(bp_net_dtype(nets[0])));
    }
    for (int c = 0; !st && names && c < k; c++) {   /* as bp_net_set_class_names */
        const char *bad = bp_class_name_problem(names[c], strlen(names[c]));
        if (bad) st = bp_err(err, BP_E_VALUE, "class name %d %s", c, bad);
        for (int d = 0; !st && d < c; d++)
            if (!strcmp(names[c], names[d]))
                st = bp_err(err, BP_E_VALUE, "classes %d and %d have the same name, \"%s\"", d, c, names[c]);
    }
    if (!st && !(mc = bp_calloc(1, sizeof *mc, err))) st = BP_E_NOMEM;
    if (!st) {
        mc->scheme = scheme;
        mc->k = k;
        mc->nets = bp_calloc((size_t)nmodels, sizeof *mc->nets, err);
        mc->pos = bp_malloc((size_t)nmodels * sizeof *mc->pos, err);
        mc->neg = bp_malloc((size_t)nmodels * sizeof *mc->neg, err);
        if (!mc->nets || !mc->pos || !mc->neg) st = BP_E_NOMEM;
        else mc->nmodels = nmodels;
    }
    if (!st) {
        for (int i = 0, m = 0; i < k; i++) {
            if (scheme == BP_OVR) { mc->pos[m] = i; mc->neg[m++] = -1; continue; }
            for (int j = i + 1; j < k; j++) { mc->pos[m] = i; mc->neg[m++] = j; }
        }
        memcpy(mc->nets, nets, (size_t)nmodels * sizeof *nets);
        memset(nets, 0, (size_t)nmodels * sizeof *nets);
        if (names && !(mc->class_names = bp_strings_copy(names, k, err))) st = BP_E_NOMEM;
    }
    if (st) {
        for (int i = 0; i < nmodels; i++) bp_net_free(nets[i]);
        bp_multiclass_free(mc);
        return st;
    }
    *out = mc;
    return BP_OK;
}

/* ---- the combination rules ---------------------------------------------------- */

int bp_mc_combine(bp_multiclass_scheme scheme, int k, int nmodels, const int *pos, const int *neg, const double *p,
                  const double *dist, double *scratch, double *conf)
{
    int best = 0;
    if (scheme == BP_OVR) {   /* the largest score, or signed distance; the first on a tie */
        const double *s = dist ? dist : p;
        for (int c = 1; c < k; c++)
            if (s[c] > s[best]) best = c;
        if (conf) *conf = s[best];
        return best;
    }
    double *votes = scratch, *sum = scratch + k;
    for (int c = 0; c < 2 * k; c++) scratch[c] = 0;
    for (int m = 0; m < nmodels; m++) {
        votes[p[m] >= 0.5 ? pos[m] : neg[m]] += 1;
        sum[pos[m]] += p[m];
        sum[neg[m]] += 1 - p[m];
    }
    for (int c = 1; c < k; c++)
        if (votes[c] > votes[best] || (votes[c] == votes[best] && sum[c] > sum[best])) best = c;
    if (conf) *conf = votes[best] / (k - 1);
    return best;
}

/* |theta| of each model's output unit for x as the data gives it (the
 * scaler's divide and std folded in), for the distance rule; models without
 * hidden layers only. */
static bp_status norms(bp_multiclass *mc, const bp_scaler *sc, double *nrm, bp_error *err)
{
    for (int m = 0; m < mc->nmodels; m++) {
        bp_net *net = mc->nets[m];
        const bp_net_spec *s = bp_net_get_spec(net);
        if (s->nlayers != 1)
            return bp_err(err, BP_E_VALUE, "the distance rule needs linear models (no hidden layers): model %d has %d "
                          "hidden layer%s; use the score rule", m, s->nlayers - 1, bp_s(s->nlayers - 1));
        bp_mat W = bp_net_weight(net, 0);
        int trick = s->layers[0].bias_trick;
        double q = 0;
        for (int i = 0; i < s->inputs; i++) {
            double t = bp_mat_get(&W, s->layout == BP_OUT_IN ? 0 : i + trick, s->layout == BP_OUT_IN ? i + trick : 0);
            if (sc && sc->features == s->inputs) t /= (sc->divide > 0 ? sc->divide : 1) * (sc->mean ? sc->std[i] : 1);
            q += t * t;
        }
        nrm[m] = sqrt(q);
    }
    return BP_OK;
}

bp_status bp_multiclass_predict(bp_multiclass *mc, const bp_scaler *scaler, bp_ovr_rule rule, const bp_dataset *d,
                                int batch, int *classes, double *conf, bp_error *err)
{
    int nm = mc->nmodels, k = mc->k, inputs = bp_net_get_spec(mc->nets[0])->inputs;
    if (d->n < 1) return bp_err(err, BP_E_ARG, "the data has no samples");
    if (d->features != inputs)
        return bp_err(err, BP_E_SHAPE, "the model has %d input%s, the data has %d feature%s", inputs, bp_s(inputs),
                      d->features, bp_s(d->features));
    int distance = mc->scheme == BP_OVR && rule == BP_OVR_DISTANCE;
    if (batch <= 0) batch = 256;
    if (batch > d->n) batch = d->n;
    double *p = bp_malloc((size_t)batch * nm * sizeof *p, err), *dist = bp_malloc((size_t)batch * nm * sizeof *dist, err);
    double *nrm = bp_malloc((size_t)nm * sizeof *nrm, err), *scratch = bp_malloc((size_t)2 * k * sizeof *scratch, err);
    bp_status st = !p || !dist || !nrm || !scratch ? BP_E_NOMEM : BP_OK;
    if (!st && distance) st = norms(mc, scaler, nrm, err);
    for (int start = 0; !st && start < d->n; start += batch) {
        int m = d->n - start < batch ? d->n - start : batch;
        bp_mat x = bp_dataset_x(d, start, m);
        for (int j = 0; !st && j < nm; j++) {
            bp_net *net = mc->nets[j];
            if ((st = bp_net_forward(net, &x, err))) break;
            int L = bp_net_get_spec(net)->nlayers - 1;
            bp_mat a = bp_net_a(net, L), z = bp_net_z(net, L);
            for (int i = 0; i < m; i++) {
                p[(size_t)i * nm + j] = bp_mat_get(&a, i, 0);
                if (distance) dist[(size_t)i * nm + j] = bp_mat_get(&z, i, 0) / nrm[j];
            }
        }
        for (int i = 0; !st && i < m; i++)
            classes[start + i] = bp_mc_combine(mc->scheme, k, nm, mc->pos, mc->neg, p + (size_t)i * nm,
                                               distance ? dist + (size_t)i * nm : NULL, scratch,
                                               conf ? conf + start + i : NULL);
    }
    free(p);
    free(dist);
    free(nrm);
    free(scratch);
    return st;
}

bp_status bp_multiclass_evaluate(bp_multiclass *mc, const bp_scaler *scaler, bp_ovr_rule rule, const bp_dataset *d,
                                 int batch, bp_metrics *out, bp_error *err)
{
    memset(out, 0, sizeof *out);
    out->loss = out->accuracy = out->mse = out->mae = NAN;
    int k = mc->k;
    if (!d->labels || d->nclasses < 1) return bp_err(err, BP_E_ARG, "the data has no class labels to evaluate against");
    if (d->nclasses > k) return bp_err(err, BP_E_SHAPE, "the model set has %d classes, the data %d", k, d->nclasses);
    int *pred = bp_malloc((size_t)(d->n > 0 ? d->n : 1) * sizeof *pred, err);
    if (!pred) return BP_E_NOMEM;
    bp_status st = bp_multiclass_predict(mc, scaler, rule, d, batch, pred, NULL, err);
    if (!st) st = bp_metrics_of_classes(d->labels, pred, d->n, k, out, err);
    free(pred);
    return st;
}

/* ---- training ---------------------------------------------------------------------- */

/* The samples of d for model m, relabelled: one target, 1 for the positive
 * class, 0 for the others (ovo: only the samples of the two classes). */
static bp_status relabel(const bp_dataset *d, int pos, int neg, bp_dataset *out, bp_error *err)
{
    memset(out, 0, sizeof *out);
    int n = 0;
    for (int i = 0; i < d->n; i++) n += neg < 0 || d->labels[i] == pos || d->labels[i] == neg;
    out->x = bp_malloc((size_t)(n ? n : 1) * d->features * sizeof *out->x, err);
    out->y = bp_malloc((size_t)(n ? n : 1) * sizeof *out->y, err);
    out->labels = bp_malloc((size_t)(n ? n : 1) * sizeof *out->labels, err);
    if (!out->x || !out->y || !out->labels) { bp_dataset_free(out); return BP_E_NOMEM; }
    out->n = n;
    out->features = d->features;
    out->outputs = 1;
    out->nclasses = 2;
    for (int i = 0, r = 0; i < d->n; i++) {
        if (!(neg < 0 || d->labels[i] == pos || d->labels[i] == neg)) continue;
        memcpy(out->x + (size_t)r * d->features, d->x + (size_t)i * d->features, (size_t)d->features * sizeof *out->x);
        out->labels[r] = d->labels[i] == pos;
        out->y[r] = (float)out->labels[r];
        r++;
    }
    return BP_OK;
}

bp_status bp_multiclass_train(const bp_net_spec *spec, bp_dtype dtype, bp_init init, bp_multiclass_scheme scheme,
                              const bp_dataset *train, const bp_dataset *val, const bp_train_options *opt,
                              void (*on_model)(void *user, int m, int nmodels, int positive, int negative), void *user,
                              bp_multiclass **out, bp_error *err)
{
    *out = NULL;
    bp_status st = binary_spec(spec, err);
    if (st) return st;
    if ((unsigned)scheme > BP_OVO) return bp_err(err, BP_E_ARG, "unknown multiclass scheme %d", (int)scheme);
    int k = train->nclasses;
    if (!train->labels || k < 3)
        return bp_err(err, BP_E_VALUE, "one-vs-rest and one-vs-one need class labels of at least 3 classes, the data "
                      "has %d (for 2 classes one binary network is the classifier)", train->labels ? k : 0);
    if (k > 1000) return bp_err(err, BP_E_VALUE, "%d classes: at most 1000 are supported", k);
    long *count = bp_calloc((size_t)k, sizeof *count, err);
    if (!count) return BP_E_NOMEM;
    for (int i = 0; i < train->n; i++)
        if (train->labels[i] >= 0 && train->labels[i] < k) count[train->labels[i]]++;
    for (int c = 0; c < k && !st; c++)
        if (!count[c])
            st = bp_err(err, BP_E_VALUE, "class %d%s%s%s has no training samples: its model would have nothing to learn",
                        c, train->class_names ? " (" : "", train->class_names ? train->class_names[c] : "",
                        train->class_names ? ")" : "");
    free(count);
    if (st) return st;
    int nm = models_of(scheme, k);
    bp_net **nets = bp_calloc((size_t)nm, sizeof *nets, err);
    if (!nets) return BP_E_NOMEM;
    int m = 0;
    for (int i = 0; i < k && !st; i++)
        for (int j = scheme == BP_OVR ? -1 : i + 1; j < (scheme == BP_OVR ? 0 : k) && !st; j++, m++) {
            bp_dataset tr = {0}, va = {0};
            bp_train_options o = *opt;
            o.seed = opt->seed + (uint64_t)(m + 1) * 0x9E3779B97F4A7C15ull;
            if (on_model) on_model(user, m, nm, i, j);
            bp_trainer *t = NULL;
            if (!(st = bp_net_new(spec, dtype, &nets[m], err))) bp_net_init(nets[m], init, o.seed);
            if (!st) st = relabel(train, i, j, &tr, err);
            if (!st && val && val->n) st = relabel(val, i, j, &va, err);
            if (!st) st = bp_trainer_new(nets[m], &o, &t, err);
            if (!st) st = bp_trainer_run(t, &tr, va.n ? &va : NULL, err);
            if (st && err && st != BP_E_NOMEM) {   /* say which model */
                char msg[BP_ERROR_MAX];
                snprintf(msg, sizeof msg, "%s", err->msg);
                if (j < 0) bp_err(err, st, "model %d (class %d against the rest): %s", m, i, msg);
                else bp_err(err, st, "model %d (class %d against class %d): %s", m, i, j, msg);
            }
            bp_trainer_free(t);
            bp_dataset_free(&tr);
            bp_dataset_free(&va);
        }
    if (st) {
        for (int i = 0; i < nm; i++) bp_net_free(nets[i]);
        free(nets);
        return st;
    }
    st = bp_multiclass_new(scheme, k, nets, nm, train->class_names, out, err);
    free(nets);
    return st;
}
