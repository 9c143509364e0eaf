/* nn/train.c - mini-batch gradient descent: the trainer's loop, its stop
 * rules and its history.
 *
 * One step on a batch B of m samples:
 *   forward + backward (the network's step, net.c)   g = dL/dtheta over B (1/m for mean)
 *   the optimizer (optim.c)                          weight decay, then theta -= lr d(g)
 * An epoch visits the samples in the order of a permutation drawn from
 * (seed, epoch), so a run resumed from a checkpoint (checkpoint.c) visits
 * them in the same order as an uninterrupted one and ends with the same bits.
 * After each epoch: validation (bp_evaluate, eval.c), the history entry, then
 * the stop rules: epochs, |L(epoch) - L(epoch - 1)| < tol (the notes' rule),
 * early stopping on the validation loss.
 */
#include "nn/trainer.h"
#include "nn/eval.h"
#include "nn/net.h"
#include "core/mat.h"
#include "core/runtime.h"
#include "data/dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

void bp_train_options_init(bp_train_options *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 10;
    o->batch = 32;
    o->lr = 0.01;
    o->momentum = 0.9;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->adam_eps = 1e-8;
    o->step_size = 10;
    o->gamma = 0.1;
    o->seed = 1;
    o->shuffle = 1;
}

const char *const bp_stop_reasons[] = {"not started", "max epochs", STOP_TOL, STOP_EARLY, "interrupted", "diverged"};
const int bp_nstop_reasons = (int)(sizeof bp_stop_reasons / sizeof *bp_stop_reasons);

bp_status bp_trainer_new(bp_net *net, const bp_train_options *opt, bp_trainer **out, bp_error *err)
{
    *out = NULL;
    if (opt->epochs < 1) return bp_err(err, BP_E_ARG, "epochs must be at least 1, got %d", opt->epochs);
    if (opt->batch < 1) return bp_err(err, BP_E_ARG, "batch must be at least 1, got %d", opt->batch);
    if (!(opt->lr > 0) || !isfinite(opt->lr)) return bp_err(err, BP_E_ARG, "the learning rate must be positive, got %g", opt->lr);
    if (!(opt->momentum >= 0 && opt->momentum < 1)) return bp_err(err, BP_E_ARG, "momentum must be in [0, 1), got %g", opt->momentum);
    if (!(opt->weight_decay >= 0)) return bp_err(err, BP_E_ARG, "weight decay must be >= 0, got %g", opt->weight_decay);
    const bp_net_spec *spec = bp_net_get_spec(net);
    if (spec->loss == BP_LOSS_NONE) return bp_err(err, BP_E_ARG, "the network has no loss to train on");
    bp_status st = bp_net_spec_trainable(spec, err);
    if (st) return st;
    if (spec->layers[spec->nlayers - 1].act == BP_ACT_SOFTMAX && bp_net_outputs(net) == 1)
        return bp_err(err, BP_E_ARG, "a softmax output of one unit is always 1, so there is nothing to learn: use one "
                      "unit per class (two for two classes), or one sigmoid unit with bce");
    bp_trainer *t = bp_calloc(1, sizeof *t, err);
    if (!t) return BP_E_NOMEM;
    t->net = net;
    t->o = *opt;
    t->np = bp_net_nparams(net);
    t->best = bp_calloc(t->np, bp_dtype_size(bp_net_dtype(net)), err);
    if (!t->best || bp_optim_init(&t->opt, net, &t->o, err)) { bp_trainer_free(t); return BP_E_NOMEM; }
    t->prev_loss = NAN;
    t->best_val = INFINITY;
    t->perm_epoch = -1;
    t->stop_reason = "not started";
    *out = t;
    return BP_OK;
}

void bp_trainer_free(bp_trainer *t)
{
    if (!t) return;
    bp_optim_free(&t->opt);
    free(t->best);
    free(t->hist); free(t->perm); free(t->yb);
    free(t);
}

int bp_trainer_history(const bp_trainer *t, const bp_epoch_stats **stats)
{
    *stats = t->hist;
    return t->nhist;
}

const char *bp_trainer_stop_reason(const bp_trainer *t) { return t->stop_reason; }

/* ---- the run's data, for its checkpoints ---------------------------------------- */
static uLong crc_bytes(uLong crc, const void *p, size_t n)
{
    for (size_t done = 0; done < n;) {
        size_t chunk = n - done > (1u << 30) ? (1u << 30) : n - done;
        crc = crc32(crc, (const Bytef *)p + done, (uInt)chunk);
        done += chunk;
    }
    return crc;
}

static uLong crc_dataset(uLong crc, const bp_dataset *d)
{
    if (!d || d->n <= 0) return crc;
    int shape[3] = {d->n, d->features, d->outputs};
    crc = crc_bytes(crc, shape, sizeof shape);
    if (d->x) crc = crc_bytes(crc, d->x, (size_t)d->n * d->features * sizeof(float));
    if (d->y) crc = crc_bytes(crc, d->y, (size_t)d->n * d->outputs * sizeof(float));
    return crc;
}

unsigned long bp_trainer_data_crc(const bp_dataset *train, const bp_dataset *val)
{
    uLong crc = crc_dataset(crc32(0L, Z_NULL, 0), train);
    return crc_dataset(crc, val && val->n > 0 ? val : NULL);
}

/* The validation pass: loss and accuracy of the net on d, by bp_evaluate in
 * batches of at least 256 rows (the training batch if larger). */
static bp_status validate(bp_trainer *t, const bp_dataset *d, double *loss, double *acc, bp_error *err)
{
    bp_metrics m;
    bp_status st = bp_evaluate(t->net, d, t->o.batch < 256 ? 256 : t->o.batch, &m, err);
    if (st) return st;
    *loss = m.loss;
    *acc = m.accuracy;
    bp_metrics_free(&m);
    return BP_OK;
}

/* The epoch's loss so far, reduced like the net's loss: the mean per sample,
 * or the sum over the samples. */
static double epoch_loss(const bp_trainer *t, const bp_net_spec *s)
{
    return s->reduction == BP_MEAN ? t->ep_loss / t->ep_seen : t->ep_loss;
}

/* The batch's targets (rows scattered over the dataset) into yb; its inputs
 * are read in place by the step (bp_net_step_rows). */
static void gather_y(bp_trainer *t, const bp_dataset *d, const int *rows, int m)
{
    size_t K = (size_t)d->outputs;
    for (int i = 0; i < m; i++) memcpy(t->yb + i * K, d->y + (size_t)rows[i] * K, K * sizeof(float));
}

static bp_status ensure_buffers(bp_trainer *t, const bp_dataset *d, bp_error *err)
{
    int B = t->o.batch < d->n ? t->o.batch : d->n;
    if (t->perm_n != d->n) {
        free(t->perm);
        if (!(t->perm = bp_malloc((size_t)d->n * sizeof *t->perm, err))) { t->perm_n = 0; return BP_E_NOMEM; }
        t->perm_n = d->n;
        t->perm_epoch = -1;
    }
    if (t->buf_m < B) {
        free(t->yb);
        t->yb = bp_malloc((size_t)B * (d->outputs ? d->outputs : 1) * sizeof(float), err);
        if (!t->yb) { t->buf_m = 0; return BP_E_NOMEM; }
        t->buf_m = B;
    }
    return BP_OK;
}

bp_status bp_trainer_run(bp_trainer *t, const bp_dataset *train, const bp_dataset *val, bp_error *err)
{
    bp_net *net = t->net;
    const bp_net_spec *s = bp_net_get_spec(net);
    const bp_train_options *o = &t->o;
    if (train->n < 1) return bp_err(err, BP_E_VALUE, "no training samples");
    if (train->features != s->inputs)
        return bp_err(err, BP_E_SHAPE, "the network has %d inputs, the data has %d features", s->inputs, train->features);
    if (train->outputs != bp_net_outputs(net))
        return bp_err(err, BP_E_SHAPE, "the network has %d outputs, the data has %d target columns%s", bp_net_outputs(net),
                      train->outputs, train->nclasses ? " (one-hot classes)" : "");
    if (val && val->n > 0 && (val->features != train->features || val->outputs != train->outputs))
        return bp_err(err, BP_E_SHAPE, "validation data has a different shape from the training data");
    if (t->resume_n && t->resume_n != train->n)
        return bp_err(err, BP_E_VALUE, "the checkpoint was made with %d training samples, this data has %d: resume "
                      "with the same data", t->resume_n, train->n);
    bp_status st = ensure_buffers(t, train, err);
    if (st) return st;
    t->data_crc = bp_trainer_data_crc(train, val);   /* 0.1 s for Fashion-MNIST; the data may have changed */
    t->crc_n = train->n;
    t->has_run = 1;
    if (t->resume_crc_set && t->resume_crc != t->data_crc)
        return bp_err(err, BP_E_VALUE, "the checkpoint was made on other data (CRC-32 %08lx, this data %08lx: other "
                      "rows, another split or scaling): resume with the same data and options", t->resume_crc,
                      t->data_crc);
    size_t es = bp_dtype_size(bp_net_dtype(net));
    int B = o->batch < train->n ? o->batch : train->n;
    int nb = (train->n + B - 1) / B;
    int F = train->features, K = train->outputs;
    int have_val = val && val->n > 0, classify = bp_dataset_classifies(train);
    if (t->batch_pos > nb) return bp_err(err, BP_E_VALUE, "the checkpoint is at batch %d, an epoch has %d", t->batch_pos, nb);

    while (!t->done && t->epoch < o->epochs) {
        double lr = bp_optim_lr(o, t->epoch);
        if (t->perm_epoch != t->epoch) {
            if (o->shuffle) bp_permutation(t->perm, train->n, o->seed * 1000003u + (uint64_t)t->epoch);
            else for (int i = 0; i < train->n; i++) t->perm[i] = i;
            t->perm_epoch = t->epoch;
        }
        if (t->batch_pos == 0) t->ep_loss = t->ep_correct = t->ep_seen = t->ep_seconds = 0;
        double t0 = bp_now();
        for (int b = t->batch_pos; b < nb; b++) {
            int start = b * B, m = train->n - start < B ? train->n - start : B;
            const int *rows = t->perm + start;
            gather_y(t, train, rows, m);
            bp_mat y = {m, K, BP_F32, t->yb};
            double loss;
            if ((st = bp_net_step_rows(net, train->x, F, rows, m, &y, &loss, err))) return st;
            if (o->weight_decay > 0) bp_optim_weight_decay(&t->opt);
            double gmax = bp_max_abs(bp_net_grads(net), bp_net_dtype(net), t->np);
            if (!isfinite(loss) || !isfinite(gmax)) {
                t->stop_reason = "diverged";
                return bp_err(err, BP_E_DIVERGED,
                              "training diverged at epoch %d, batch %d of %d: the loss is %g; the weights before "
                              "this batch are kept (try a smaller learning rate)",
                              t->epoch + 1, b + 1, nb, loss);
            }
            bp_mat out = bp_net_step_output(net);
            double correct = classify ? (double)bp_count_correct(&out, train->labels, rows, m) : NAN;
            if (!bp_optim_step(&t->opt, lr, gmax)) {
                t->stop_reason = "diverged";
                return bp_err(err, BP_E_DIVERGED,
                              "training diverged at epoch %d, batch %d of %d: a weight became infinite; the weights "
                              "before this batch are kept (try a smaller learning rate)", t->epoch + 1, b + 1, nb);
            }
            t->ep_loss += s->reduction == BP_MEAN ? loss * m : loss;
            t->ep_correct += correct;
            t->ep_seen += m;
            t->batch_pos = b + 1;
            if (o->on_batch) {
                double el = t->ep_seconds + (bp_now() - t0);
                bp_batch_progress p = {t->epoch + 1, o->epochs, b + 1, nb, epoch_loss(t, s),
                                       t->ep_correct / t->ep_seen, el > 0 ? t->ep_seen / el : 0, el};
                o->on_batch(o->user, &p);
            }
            if (o->stop && *o->stop && b + 1 < nb) {
                t->ep_seconds += bp_now() - t0;
                t->stop_reason = "interrupted";
                return bp_err(err, BP_E_INTERRUPTED, "interrupted at epoch %d, batch %d of %d", t->epoch + 1, b + 1, nb);
            }
        }
        t->ep_seconds += bp_now() - t0;

        bp_epoch_stats es_ = {t->epoch + 1, epoch_loss(t, s), t->ep_correct / t->ep_seen, NAN, NAN,
                              t->ep_seconds, lr};
        if (have_val && (st = validate(t, val, &es_.val_loss, &es_.val_acc, err))) return st;
        bp_epoch_stats *h = realloc(t->hist, (size_t)(t->nhist + 1) * sizeof *h);
        if (!h) return bp_err(err, BP_E_NOMEM, "out of memory");
        t->hist = h;
        t->hist[t->nhist++] = es_;
        t->epoch++;
        t->batch_pos = 0;
        if (o->on_epoch) o->on_epoch(o->user, &es_);

        t->stop_reason = "max epochs";
        if (have_val) {
            if (es_.val_loss < t->best_val) {
                t->best_val = es_.val_loss;
                t->bad_epochs = 0;
                t->has_best = 1;
                memcpy(t->best, bp_net_params(net), t->np * es);
            } else if (o->patience > 0 && ++t->bad_epochs >= o->patience) {
                t->stop_reason = STOP_EARLY;
                t->done = 1;
            }
        }
        if (o->tol > 0 && isfinite(t->prev_loss) && fabs(es_.train_loss - t->prev_loss) < o->tol) {
            t->stop_reason = STOP_TOL;
            t->done = 1;
        }
        t->prev_loss = es_.train_loss;
        if (o->stop && *o->stop && t->epoch < o->epochs && !t->done) {
            t->stop_reason = "interrupted";
            return bp_err(err, BP_E_INTERRUPTED, "interrupted after epoch %d", t->epoch);
        }
    }
    t->done = 1;
    if (o->keep_best && t->has_best) memcpy(bp_net_params(net), t->best, t->np * es);
    return BP_OK;
}
