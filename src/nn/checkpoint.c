/* nn/checkpoint.c - a trainer saved and restored (bp_trainer_save / load):
 * the network's parameters, the optimizer's state, the position in the run
 * and the history, in one safetensors file written atomically, so that a
 * resumed run ends with the same bits as an uninterrupted one.
 *
 * A checkpoint is a safetensors file: "params" (the parameter block in the
 * net's dtype), "m1", "m2" (optimizer state, the same dtype), "best" (best
 * parameters) and "history" (nhist x 7 F64), with the position in
 * __metadata__. It is tied to its run: "run" spells out the network and
 * every option that changes the result, "data_crc32" is a CRC-32 of the
 * training and validation data (after any scaling), "samples" their count;
 * a resumed run must agree on all three ("run" names relu'(0) = 1 when the
 * network takes that convention, which "relu_grad_at_zero" = "1" records for
 * bp_checkpoint_kinks). Loading trusts nothing: every field
 * is parsed whole and range-checked, every tensor must be finite. */
#include "nn/trainer.h"
#include "nn/net.h"
#include "core/mat.h"
#include "core/safetensors.h"

#include <jansson.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define HIST_COLS 7
#define FORMAT "backprop-checkpoint"
#define MAX_STEP 9007199254740992.0   /* 2^53: a step count that is exact in a double */

/* What a resumed run must share with the checkpoint: the network's shape,
 * dtype and loss, and every option that changes the result (the numbers in
 * %a, so that "the same" means the same bits). */
static void run_signature(const bp_trainer *t, char *buf, size_t cap)
{
    const bp_net_spec *s = bp_net_get_spec(t->net);
    const bp_train_options *o = &t->o;
    size_t k = (size_t)snprintf(buf, cap, "%d", s->inputs);
    for (int l = 0; l < s->nlayers && k < cap; l++)
        k += (size_t)snprintf(buf + k, cap - k, "-%d%s%s", s->layers[l].units, bp_act_name(s->layers[l].act),
                              s->layers[l].bias_trick ? "/trick" : s->layers[l].bias ? "" : "/nobias");
    if (k < cap)
        k += (size_t)snprintf(buf + k, cap - k, " %s %s %s %s, %s, batch %d, seed %llu%s", bp_layout_name(s->layout),
                              bp_loss_name(s->loss), bp_reduction_name(s->reduction),
                              bp_dtype_name(bp_net_dtype(t->net)), bp_optimizer_name(o->optimizer), o->batch,
                              (unsigned long long)o->seed, o->shuffle ? "" : ", no shuffle");
    if (k < cap && bp_trainer_reducer(t) && o->shard) k += (size_t)snprintf(buf + k, cap - k, ", shard");
    if (k < cap)
        snprintf(buf + k, cap - k, ", epochs %d, lr %a, momentum %a, betas %a %a, eps %a, weight decay %a, %s "
                 "schedule (step %d, gamma %a), tol %a, patience %d%s", o->epochs, o->lr, o->momentum, o->beta1,
                 o->beta2, o->adam_eps, o->weight_decay, bp_schedule_name(o->schedule), o->step_size, o->gamma,
                 o->tol, o->patience, o->keep_best ? ", keep best" : "");
    k = strlen(buf);
    if (t->net->kinks.relu_at_zero && k < cap) snprintf(buf + k, cap - k, ", relu'(0) = 1");
}

/* The options of the run as compact JSON (numbers exact: jansson writes 17
 * digits), so that a resumed run can take them from the checkpoint. */
static char *options_json(const bp_train_options *o, bp_error *err)
{
    json_t *j = json_pack("{s:i, s:i, s:f, s:s, s:f, s:f, s:f, s:f, s:f, s:s, s:i, s:f, s:f, s:i, s:b, s:I, s:b, s:b}",
                          "epochs", o->epochs, "batch", o->batch, "lr", o->lr, "optimizer", bp_optimizer_name(o->optimizer),
                          "momentum", o->momentum, "beta1", o->beta1, "beta2", o->beta2, "adam_eps", o->adam_eps,
                          "weight_decay", o->weight_decay, "schedule", bp_schedule_name(o->schedule), "step_size",
                          o->step_size, "gamma", o->gamma, "tol", o->tol, "patience", o->patience, "keep_best",
                          o->keep_best, "seed", (json_int_t)o->seed, "shuffle", o->shuffle, "shard", o->shard != 0);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!text) bp_err(err, BP_E_NOMEM, "out of memory");
    return text;
}

bp_status bp_trainer_save(const bp_trainer *t, const bp_scaler *scaler, const char *path, bp_error *err)
{
    if (!t->has_run)
        return bp_err(err, BP_E_ARG, "%s: a checkpoint needs a run to belong to: call bp_trainer_run first", path);
    bp_dtype dt = bp_net_dtype(t->net);
    size_t es = bp_dtype_size(dt);
    double *hist = bp_malloc((size_t)(t->nhist ? t->nhist : 1) * HIST_COLS * sizeof *hist, err);
    if (!hist) return BP_E_NOMEM;
    for (int i = 0; i < t->nhist; i++) {
        const bp_epoch_stats *h = &t->hist[i];
        double row[HIST_COLS] = {h->epoch, h->train_loss, h->train_acc, h->val_loss, h->val_acc, h->seconds, h->lr};
        memcpy(hist + (size_t)i * HIST_COLS, row, sizeof row);
    }
    int nscal = scaler && scaler->features > 0 && scaler->mean ? 2 : 0;   /* the standardisation, if any */
    bp_st_tensor ts[7] = {
        {"params", dt, 1, {(int64_t)t->np}, bp_net_params(t->net), t->np * es},
        {"m1", dt, 1, {(int64_t)t->np}, t->opt.m1, t->np * es},
        {"m2", dt, 1, {(int64_t)t->np}, t->opt.m2, t->np * es},
        {"best", dt, 1, {(int64_t)t->np}, t->best, t->np * es},
        {"history", BP_F64, 2, {t->nhist, HIST_COLS}, hist, (size_t)t->nhist * HIST_COLS * sizeof(double)},
    };
    if (nscal) {
        ts[5] = (bp_st_tensor){"scaler.mean", BP_F32, 1, {scaler->features}, scaler->mean, (size_t)scaler->features * 4};
        ts[6] = (bp_st_tensor){"scaler.std", BP_F32, 1, {scaler->features}, scaler->std, (size_t)scaler->features * 4};
    }
    char v[10][64], run[768];
    run_signature(t, run, sizeof run);
    snprintf(v[0], 64, "%ld", t->opt.step);
    snprintf(v[1], 64, "%d", t->epoch);
    snprintf(v[2], 64, "%d", t->batch_pos);
    snprintf(v[3], 64, "%a %a %a %a", t->ep_loss, t->ep_correct, t->ep_seen, t->ep_seconds);
    snprintf(v[4], 64, "%a %a", t->prev_loss, t->best_val);
    snprintf(v[5], 64, "%d %d %d", t->bad_epochs, t->has_best, t->done);
    snprintf(v[6], 64, "%zu", t->np);
    snprintf(v[7], 64, "%s", bp_dtype_name(dt));
    snprintf(v[8], 64, "%08lx", t->data_crc);
    snprintf(v[9], 64, "%d", bp_trainer_reducer(t) ? bp_trainer_reducer(t)->size : 1);
    char nbuf[32];
    snprintf(nbuf, sizeof nbuf, "%d", t->crc_n);
    char *arch = bp_spec_json(bp_net_get_spec(t->net), err), *opts = arch ? options_json(&t->o, err) : NULL;
    bp_status st = BP_E_NOMEM;
    if (opts) {
        const char *keys[] = {"format", "step", "epoch", "batch_pos", "epoch_sums", "losses", "flags", "nparams",
                              "dtype", "run", "samples", "stop_reason", "data_crc32", "architecture", "options",
                              "processes", "relu_grad_at_zero"};
        const char *vals[] = {FORMAT, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], run, nbuf, t->stop_reason, v[8],
                              arch, opts, v[9], "1"};
        /* relu_grad_at_zero only when it is not the default: a default run's file is as before */
        st = bp_st_write(path, ts, 5 + nscal, keys, vals, t->net->kinks.relu_at_zero ? 17 : 16, err);
    }
    free(arch);
    free(opts);
    free(hist);
    return st;
}

/* ---- loading: every field parsed whole and checked ---------------------------- */

typedef struct ck {
    const bp_st_file *f;
    const char *path;
    bp_error *err;
} ck;

static bp_status bad(ck *c, const char *key, const char *why)
{
    return bp_err(c->err, BP_E_FORMAT, "%s: checkpoint field '%s' %s", c->path, key, why);
}

/* An integer in [lo, hi], the whole string. */
static bp_status get_int(ck *c, const char *key, double lo, double hi, long long *out)
{
    const char *s = bp_st_meta(c->f, key);
    if (!s) return bad(c, key, "is missing");
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || (double)v < lo || (double)v > hi) {
        char why[160];
        snprintf(why, sizeof why, "is '%.40s', not an integer from %.0f to %.0f", s, lo, hi);
        return bad(c, key, why);
    }
    *out = v;
    return BP_OK;
}

/* n numbers separated by single spaces (%a as written), the whole string. */
static bp_status get_numbers(ck *c, const char *key, int n, double *out)
{
    const char *s = bp_st_meta(c->f, key);
    if (!s) return bad(c, key, "is missing");
    const char *p = s;
    for (int i = 0; i < n; i++) {
        char *end;
        if (i && *p++ != ' ') return bad(c, key, "is malformed");
        out[i] = strtod(p, &end);
        if (end == p) return bad(c, key, "is malformed");
        p = end;
    }
    return *p ? bad(c, key, "is malformed") : BP_OK;
}

/* Tensor `name` of n elements of dtype dt, every element finite (and >= 0
 * when nonneg). */
static bp_status get_tensor(ck *c, const char *name, bp_dtype dt, size_t n, int nonneg, const bp_st_tensor **out)
{
    const bp_st_tensor *x = bp_st_find(c->f, name);
    if (!x) return bp_err(c->err, BP_E_FORMAT, "%s: checkpoint has no tensor '%s'", c->path, name);
    if (x->dtype != dt || x->nbytes != n * bp_dtype_size(dt))
        return bp_err(c->err, BP_E_FORMAT, "%s: tensor '%s' does not fit this network (%zu bytes of %s expected)",
                      c->path, name, n * bp_dtype_size(dt), bp_dtype_name(dt));
    for (size_t i = 0; i < n; i++) {
        double v = dt == BP_F64 ? ((const double *)x->data)[i] : ((const float *)x->data)[i];
        if (!isfinite(v) || (nonneg && v < 0))
            return bp_err(c->err, BP_E_FORMAT, "%s: tensor '%s' element %zu is %g; a checkpoint must hold %s numbers",
                          c->path, name, i, v, nonneg ? "finite non-negative" : "finite");
    }
    *out = x;
    return BP_OK;
}

bp_status bp_trainer_load(bp_trainer *t, const char *path, bp_error *err)
{
    bp_st_file *f;
    bp_status st = bp_st_read(path, &f, err);
    if (st) return st;
    ck c = {f, path, err};
    const char *fmt = bp_st_meta(f, "format");
    bp_dtype dt = bp_net_dtype(t->net);
    const bp_train_options *o = &t->o;
    const bp_st_tensor *p = NULL, *m1 = NULL, *m2 = NULL, *best = NULL, *hist = NULL;
    static const char *const known[] = {"format", "step", "epoch", "batch_pos", "epoch_sums", "losses", "flags",
                                        "nparams", "dtype", "run", "samples", "stop_reason", "data_crc32",
                                        "architecture", "options", "processes", "relu_grad_at_zero", BP_ST_CHECKSUM_KEY};
    char run[768];
    bp_epoch_stats *h = NULL;
    if (!fmt || strcmp(fmt, FORMAT)) {
        st = bp_err(err, BP_E_FORMAT, "%s: not a backprop checkpoint (no __metadata__.format = " FORMAT ")", path);
        goto done;
    }
    for (int i = 0; i < bp_st_meta_count(f); i++) {
        const char *key = NULL;
        bp_st_meta_at(f, i, &key, NULL);
        int ok = 0;
        for (size_t k = 0; k < sizeof known / sizeof *known; k++) ok |= !strcmp(key, known[k]);
        if (!ok) { st = bad(&c, key, "is not a field of a checkpoint (a damaged file?)"); goto done; }
    }
    if (!bp_st_meta(f, BP_ST_CHECKSUM_KEY) || !bp_st_meta(f, "data_crc32")) {
        st = bp_err(err, BP_E_FORMAT, "%s: the checkpoint has no checksum or no record of its data (made by an older "
                    "backprop?): start the run again", path);
        goto done;
    }
    const char *rs = bp_st_meta(f, "run"), *dts = bp_st_meta(f, "dtype");
    if (!rs) { st = bad(&c, "run", "is missing"); goto done; }
    run_signature(t, run, sizeof run);
    if (strcmp(rs, run)) {
        st = bp_err(err, BP_E_VALUE, "%s: the checkpoint is of another run (%s); this one is %s: resume with the same "
                    "network, data and options", path, rs, run);
        goto done;
    }
    long long np, step, epoch, bpos, samples, procs = 1;
    double sums[4], losses[2], flags[3];
    if ((st = get_int(&c, "nparams", 1, 1e15, &np))) goto done;
    if (np != (long long)t->np || !dts || strcmp(dts, bp_dtype_name(dt))) {
        st = bp_err(err, BP_E_FORMAT, "%s: the checkpoint holds %lld %s parameters; this network has %zu %s", path, np,
                    dts ? dts : "?", t->np, bp_dtype_name(dt));
        goto done;
    }
    if ((st = get_int(&c, "step", 0, MAX_STEP, &step)) || (st = get_int(&c, "epoch", 0, o->epochs, &epoch)) ||
        (st = get_int(&c, "batch_pos", 0, 1e9, &bpos)) || (st = get_int(&c, "samples", 1, 2147483647.0, &samples)) ||
        (st = get_numbers(&c, "epoch_sums", 4, sums)) || (st = get_numbers(&c, "losses", 2, losses)) ||
        (st = get_numbers(&c, "flags", 3, flags)) ||
        (bp_st_meta(f, "processes") && (st = get_int(&c, "processes", 1, 1e7, &procs))))   /* older ones: 1 */
        goto done;
    /* the epoch's sums: loss >= 0, correct NaN (no labels) or within seen, seen a count, seconds >= 0 */
    if (!(isfinite(sums[0]) && sums[0] >= 0) || !(sums[2] >= 0 && sums[2] <= 2147483647.0 && sums[2] == floor(sums[2])) ||
        !(isnan(sums[1]) || (sums[1] >= 0 && sums[1] <= sums[2] && sums[1] == floor(sums[1]))) ||
        !(isfinite(sums[3]) && sums[3] >= 0)) {
        st = bad(&c, "epoch_sums", "holds numbers out of range (loss, correct, seen, seconds)");
        goto done;
    }
    if (!(isnan(losses[0]) || isfinite(losses[0])) || !(isfinite(losses[1]) || losses[1] == INFINITY)) {
        st = bad(&c, "losses", "holds numbers out of range (the previous loss, the best validation loss)");
        goto done;
    }
    if (!(flags[0] >= 0 && flags[0] <= o->epochs && flags[0] == floor(flags[0])) || (flags[1] != 0 && flags[1] != 1) ||
        (flags[2] != 0 && flags[2] != 1)) {
        st = bad(&c, "flags", "holds numbers out of range (epochs without improvement, has best, done)");
        goto done;
    }
    const char *why = bp_st_meta(f, "stop_reason");
    int reason = -1;
    for (int i = 0; why && i < bp_nstop_reasons; i++)
        if (!strcmp(why, bp_stop_reasons[i])) reason = i;
    if (reason < 0) { st = bad(&c, "stop_reason", "is not one of the reasons a run ends"); goto done; }
    char *end;
    const char *dcrc = bp_st_meta(f, "data_crc32");
    unsigned long crc = strtoul(dcrc, &end, 16);
    if (strlen(dcrc) != 8 || *end) { st = bad(&c, "data_crc32", "is not 8 hex digits"); goto done; }
    if ((st = get_tensor(&c, "params", dt, t->np, 0, &p)) || (st = get_tensor(&c, "m1", dt, t->np, 0, &m1)) ||
        (st = get_tensor(&c, "m2", dt, t->np, 1, &m2)) || (st = get_tensor(&c, "best", dt, t->np, 0, &best)))
        goto done;
    hist = bp_st_find(f, "history");
    if (!hist || hist->dtype != BP_F64 || hist->ndim != 2 || hist->shape[1] != HIST_COLS || hist->shape[0] != epoch) {
        st = bp_err(err, BP_E_FORMAT, "%s: checkpoint history is missing or malformed (expected %lld rows of %d)", path,
                    epoch, HIST_COLS);
        goto done;
    }
    int nh = (int)hist->shape[0];
    h = nh ? malloc((size_t)nh * sizeof *h) : NULL;
    if (nh && !h) { st = bp_err(err, BP_E_NOMEM, "out of memory"); goto done; }
    for (int i = 0; i < nh; i++) {
        const double *r = (const double *)hist->data + (size_t)i * HIST_COLS;
        /* epoch i + 1; a finite loss; accuracies and validation numbers finite or NaN; seconds >= 0; lr > 0 */
        int okrow = r[0] == i + 1 && isfinite(r[1]) && !isinf(r[2]) && !isinf(r[3]) && !isinf(r[4]) &&
                    isfinite(r[5]) && r[5] >= 0 && isfinite(r[6]) && r[6] > 0;
        if (!okrow) {
            st = bp_err(err, BP_E_FORMAT, "%s: checkpoint history row %d is malformed", path, i);
            goto done;
        }
        h[i] = (bp_epoch_stats){(int)r[0], r[1], r[2], r[3], r[4], r[5], r[6]};
    }
    size_t es = bp_dtype_size(dt);
    memcpy(bp_net_params(t->net), p->data, t->np * es);
    memcpy(t->opt.m1, m1->data, t->np * es);
    memcpy(t->opt.m2, m2->data, t->np * es);
    bp_optim_rebound(&t->opt);
    memcpy(t->best, best->data, t->np * es);
    free(t->hist);
    t->hist = h;
    h = NULL;
    t->nhist = nh;
    t->opt.step = (long)step;
    t->epoch = (int)epoch;
    t->batch_pos = (int)bpos;
    t->ep_loss = sums[0]; t->ep_correct = sums[1]; t->ep_seen = sums[2]; t->ep_seconds = sums[3];
    t->prev_loss = losses[0]; t->best_val = losses[1];
    t->bad_epochs = (int)flags[0]; t->has_best = (int)flags[1]; t->done = (int)flags[2];
    t->resume_n = (int)samples;
    t->resume_crc = crc;
    t->resume_crc_set = 1;
    t->resume_procs = (int)procs;
    t->stop_reason = bp_stop_reasons[reason];
    t->perm_epoch = -1;
done:
    free(h);
    bp_st_free(f);
    return st;
}

bp_status bp_checkpoint_info(const char *path, bp_net_spec *spec, bp_dtype *dtype, bp_train_options *opt, bp_error *err)
{
    bp_st_file *f;
    bp_status st = bp_st_read(path, &f, err);
    if (st) return st;
    const char *fmt = bp_st_meta(f, "format"), *arch = bp_st_meta(f, "architecture"), *opts = bp_st_meta(f, "options");
    const char *dts = bp_st_meta(f, "dtype");
    json_t *j = NULL;
    if (!fmt || strcmp(fmt, FORMAT)) {
        st = bp_err(err, BP_E_FORMAT, "%s: not a backprop checkpoint (no __metadata__.format = " FORMAT ")", path);
        goto done;
    }
    if (!arch || !opts || !dts) {
        st = bp_err(err, BP_E_FORMAT, "%s: the checkpoint does not record its network and options (made by an older "
                    "backprop?): give --arch and the options of the run", path);
        goto done;
    }
    if ((st = bp_spec_parse_json(path, "__metadata__.architecture", arch, spec, err))) goto done;
    if (strcmp(dts, "f32") && strcmp(dts, "f64")) { st = bp_err(err, BP_E_FORMAT, "%s: dtype '%.20s'", path, dts); goto done; }
    *dtype = strcmp(dts, "f64") ? BP_F32 : BP_F64;
    json_error_t je;
    j = json_loads(opts, JSON_REJECT_DUPLICATES, &je);
    bp_train_options_init(opt);
    const char *optn = NULL, *sched = NULL;
    json_int_t seed = 0;
    int keep = 0, shuf = 0, shard = 0;
    if (!j || json_unpack_ex(j, &je, JSON_STRICT, "{s:i, s:i, s:F, s:s, s:F, s:F, s:F, s:F, s:F, s:s, s:i, s:F, s:F, s:i, s:b, s:I, s:b, s?b}",
                             "epochs", &opt->epochs, "batch", &opt->batch, "lr", &opt->lr, "optimizer", &optn,
                             "momentum", &opt->momentum, "beta1", &opt->beta1, "beta2", &opt->beta2, "adam_eps",
                             &opt->adam_eps, "weight_decay", &opt->weight_decay, "schedule", &sched, "step_size",
                             &opt->step_size, "gamma", &opt->gamma, "tol", &opt->tol, "patience", &opt->patience,
                             "keep_best", &keep, "seed", &seed, "shuffle", &shuf, "shard", &shard) ||
        bp_optimizer_parse(optn, &opt->optimizer) || bp_schedule_parse(sched, &opt->schedule)) {
        st = bp_err(err, BP_E_FORMAT, "%s: __metadata__.options is malformed: %s", path, je.text);
        goto done;
    }
    opt->keep_best = keep;
    opt->shuffle = shuf;
    opt->shard = shard;
    opt->seed = (uint64_t)seed;
done:
    json_decref(j);
    bp_st_free(f);
    return st;
}

bp_status bp_checkpoint_kinks(const char *path, bp_kinks *kinks, bp_error *err)
{
    bp_st_file *f;
    bp_status st = bp_st_read(path, &f, err);
    if (st) return st;
    const char *fmt = bp_st_meta(f, "format"), *r0 = bp_st_meta(f, "relu_grad_at_zero");
    *kinks = bp_kinks_or_default(NULL);
    if (!fmt || strcmp(fmt, FORMAT))
        st = bp_err(err, BP_E_FORMAT, "%s: not a backprop checkpoint (no __metadata__.format = " FORMAT ")", path);
    else if (r0 && strcmp(r0, "0") && strcmp(r0, "1"))
        st = bp_err(err, BP_E_FORMAT, "%s: checkpoint field 'relu_grad_at_zero' is not 0 or 1", path);
    else if (r0)   /* absent in checkpoints of older versions: the default */
        kinks->relu_at_zero = r0[0] == '1';
    bp_st_free(f);
    return st;
}
