/* nn/checkpoint.c - a trainer saved and restored (bp_trainer_save / load):
 * the network's parameters, the optimizer's state, the position in the run
 * and the history, in one safetensors file written atomically, so that a
 * resumed run ends with the same bits as an uninterrupted one. */
#include "nn/trainer.h"
#include "core/mat.h"
#include "core/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A checkpoint is a safetensors file: "params" (the parameter block in the net's
 * dtype), "m1", "m2" (optimizer state, the same dtype), "best" (best parameters) and
 * "history" (nhist x 7 F64), with the position in __metadata__. */

#define HIST_COLS 7

/* What a resumed run must share with the checkpoint: the network's shape,
 * dtype and loss, and the options that decide the order of the steps. */
static void run_signature(const bp_trainer *t, char *buf, size_t cap)
{
    const bp_net_spec *s = bp_net_get_spec(t->net);
    const bp_train_options *o = &t->o;
    size_t k = (size_t)snprintf(buf, cap, "%d", s->inputs);
    for (int l = 0; l < s->nlayers && k < cap; l++)
        k += (size_t)snprintf(buf + k, cap - k, "-%d%s%s", s->layers[l].units, bp_act_name(s->layers[l].act),
                              s->layers[l].bias ? "" : "/nobias");
    if (k < cap)
        snprintf(buf + k, cap - k, " %s %s %s %s, %s, batch %d, seed %llu%s", bp_layout_name(s->layout),
                 bp_loss_name(s->loss), bp_reduction_name(s->reduction), bp_dtype_name(bp_net_dtype(t->net)),
                 bp_optimizer_name(o->optimizer), o->batch, (unsigned long long)o->seed, o->shuffle ? "" : ", no shuffle");
}

bp_status bp_trainer_save(const bp_trainer *t, const bp_scaler *scaler, const char *path, bp_error *err)
{
    bp_dtype dt = bp_net_dtype(t->net);
    size_t es = bp_dtype_size(dt);
    double *hist = bp_malloc((size_t)(t->nhist ? t->nhist : 1) * HIST_COLS * sizeof *hist, err);
    if (!hist) return BP_E_NOMEM;
    for (int i = 0; i < t->nhist; i++) {
        const bp_epoch_stats *h = &t->hist[i];
        double row[HIST_COLS] = {h->epoch, h->train_loss, h->train_acc, h->val_loss, h->val_acc, h->seconds, h->lr};
        memcpy(hist + (size_t)i * HIST_COLS, row, sizeof row);
    }
    int nscal = scaler && scaler->features > 0 ? 2 : 0;
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
    char v[8][64], run[512];
    run_signature(t, run, sizeof run);
    snprintf(v[0], 64, "%ld", t->opt.step);
    snprintf(v[1], 64, "%d", t->epoch);
    snprintf(v[2], 64, "%d", t->batch_pos);
    snprintf(v[3], 64, "%a %a %a %a", t->ep_loss, t->ep_correct, t->ep_seen, t->ep_seconds);
    snprintf(v[4], 64, "%a %a", t->prev_loss, t->best_val);
    snprintf(v[5], 64, "%d %d %d", t->bad_epochs, t->has_best, t->done);
    snprintf(v[6], 64, "%zu", t->np);
    snprintf(v[7], 64, "%s", bp_dtype_name(dt));
    char nbuf[32];
    snprintf(nbuf, sizeof nbuf, "%d", t->perm_n);
    const char *keys[] = {"format", "step", "epoch", "batch_pos", "epoch_sums", "losses", "flags", "nparams", "dtype",
                          "run", "samples", "stop_reason"};
    const char *vals[] = {"backprop-checkpoint", v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], run, nbuf,
                          t->stop_reason};
    bp_status st = bp_st_write(path, ts, 5 + nscal, keys, vals, 12, err);
    free(hist);
    return st;
}

static bp_status ck_tensor(const bp_st_file *f, const char *path, const char *name, bp_dtype dt, size_t n,
                           const bp_st_tensor **out, bp_error *err)
{
    const bp_st_tensor *x = bp_st_find(f, name);
    if (!x) return bp_err(err, BP_E_FORMAT, "%s: checkpoint has no tensor '%s'", path, name);
    if (x->dtype != dt || x->nbytes != n * bp_dtype_size(dt))
        return bp_err(err, BP_E_FORMAT, "%s: tensor '%s' does not fit this network (%zu bytes of %s expected)", path,
                      name, n * bp_dtype_size(dt), bp_dtype_name(dt));
    *out = x;
    return BP_OK;
}

bp_status bp_trainer_load(bp_trainer *t, const char *path, bp_error *err)
{
    bp_st_file *f;
    bp_status st = bp_st_read(path, &f, err);
    if (st) return st;
    const char *fmt = bp_st_meta(f, "format");
    bp_dtype dt = bp_net_dtype(t->net);
    const bp_st_tensor *p = NULL, *m1 = NULL, *m2 = NULL, *best = NULL, *hist = NULL;
    const char *keys[] = {"step", "epoch", "batch_pos", "epoch_sums", "losses", "flags", "run", "samples"};
    char run[512];
    if (!fmt || strcmp(fmt, "backprop-checkpoint")) {
        st = bp_err(err, BP_E_FORMAT, "%s: not a backprop checkpoint (no __metadata__.format = backprop-checkpoint)", path);
        goto done;
    }
    for (int i = 0; i < 8; i++)
        if (!bp_st_meta(f, keys[i])) { st = bp_err(err, BP_E_FORMAT, "%s: checkpoint metadata lacks '%s'", path, keys[i]); goto done; }
    run_signature(t, run, sizeof run);
    if (strcmp(bp_st_meta(f, "run"), run)) {
        st = bp_err(err, BP_E_VALUE, "%s: the checkpoint is of another run (%s); this one is %s: resume with the same "
                    "network, batch, optimizer, seed and data", path, bp_st_meta(f, "run"), run);
        goto done;
    }
    if ((st = ck_tensor(f, path, "params", dt, t->np, &p, err)) || (st = ck_tensor(f, path, "m1", dt, t->np, &m1, err)) ||
        (st = ck_tensor(f, path, "m2", dt, t->np, &m2, err)) || (st = ck_tensor(f, path, "best", dt, t->np, &best, err)))
        goto done;
    hist = bp_st_find(f, "history");
    if (!hist || hist->dtype != BP_F64 || hist->ndim != 2 || hist->shape[1] != HIST_COLS) {
        st = bp_err(err, BP_E_FORMAT, "%s: checkpoint history is missing or malformed", path);
        goto done;
    }
    long step;
    int epoch, bpos, bad, hb, dn;
    double s[4], l[2];
    if (sscanf(bp_st_meta(f, "step"), "%ld", &step) != 1 || sscanf(bp_st_meta(f, "epoch"), "%d", &epoch) != 1 ||
        sscanf(bp_st_meta(f, "batch_pos"), "%d", &bpos) != 1 ||
        sscanf(bp_st_meta(f, "epoch_sums"), "%la %la %la %la", &s[0], &s[1], &s[2], &s[3]) != 4 ||
        sscanf(bp_st_meta(f, "losses"), "%la %la", &l[0], &l[1]) != 2 ||
        sscanf(bp_st_meta(f, "flags"), "%d %d %d", &bad, &hb, &dn) != 3 || step < 0 || epoch < 0 || bpos < 0) {
        st = bp_err(err, BP_E_FORMAT, "%s: checkpoint metadata is malformed", path);
        goto done;
    }
    int nh = (int)hist->shape[0];
    bp_epoch_stats *h = nh ? malloc((size_t)nh * sizeof *h) : NULL;
    if (nh && !h) { st = bp_err(err, BP_E_NOMEM, "out of memory"); goto done; }
    for (int i = 0; i < nh; i++) {
        const double *r = (const double *)hist->data + (size_t)i * HIST_COLS;
        if (!(r[0] >= 1 && r[0] <= 1e9)) {
            free(h);
            st = bp_err(err, BP_E_FORMAT, "%s: checkpoint history row %d has a bad epoch number", path, i);
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
    t->nhist = nh;
    t->opt.step = step;
    t->epoch = epoch;
    t->batch_pos = bpos;
    t->ep_loss = s[0]; t->ep_correct = s[1]; t->ep_seen = s[2]; t->ep_seconds = s[3];
    t->prev_loss = l[0]; t->best_val = l[1];
    t->bad_epochs = bad; t->has_best = hb; t->done = dn;
    t->resume_n = atoi(bp_st_meta(f, "samples"));
    const char *why = bp_st_meta(f, "stop_reason");
    t->stop_reason = "interrupted";
    for (int i = 0; why && i < bp_nstop_reasons; i++)
        if (!strcmp(why, bp_stop_reasons[i])) t->stop_reason = bp_stop_reasons[i];
    t->perm_epoch = -1;
done:
    bp_st_free(f);
    return st;
}
