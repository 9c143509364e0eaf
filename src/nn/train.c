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
    t->resume_procs = 1;
    t->stop_reason = "not started";
    *out = t;
    return BP_OK;
}

void bp_trainer_free(bp_trainer *t)
{
    if (!t) return;
    bp_optim_free(&t->opt);
    free(t->best);
    free(t->hist); free(t->perm); free(t->yb); free(t->counts);
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

/* A view of rows [start, start + n) of d (its arrays borrowed; never freed). */
static bp_dataset rows_view(const bp_dataset *d, int start, int n)
{
    bp_dataset v = *d;
    v.n = n;
    v.x = d->x + (size_t)start * d->features;
    if (d->y) v.y = d->y + (size_t)start * d->outputs;
    if (d->labels) v.labels = d->labels + start;
    v.names_owned = NULL;
    return v;
}

/* The validation pass: loss and accuracy of the net on d, by bp_evaluate in
 * batches of at least 256 rows (the training batch if larger). In a
 * data-parallel run each process evaluates its share of d (its own rows with
 * --shard, else a contiguous 1/size of them) and the loss's total, the
 * correct count and the rows are summed over the processes; a failure on any
 * process is every process's. */
static bp_status validate(bp_trainer *t, const bp_dataset *d, double *loss, double *acc, bp_error *err)
{
    const bp_reducer *R = bp_trainer_reducer(t);
    int mean = bp_net_get_spec(t->net)->reduction == BP_MEAN;
    bp_dataset part = *d;
    if (R && !t->o.shard) {
        int lo = (int)((long long)d->n * R->rank / R->size), hi = (int)((long long)d->n * (R->rank + 1) / R->size);
        part = rows_view(d, lo, hi - lo);
    }
    bp_metrics m;
    double v[4] = {0, bp_dataset_classifies(d) ? 0 : NAN, part.n, 0};   /* loss total, correct, rows, failed */
    bp_status st = BP_OK;
    if (part.n > 0) {
        st = bp_evaluate(t->net, &part, t->o.batch < 256 ? 256 : t->o.batch, &m, err);
        if (st && !R) return st;
        if (!st && !R) {
            *loss = m.loss;
            *acc = m.accuracy;
        }
        if (!st) {
            v[0] = mean ? m.loss * part.n : m.loss;
            v[1] = isnan(m.accuracy) ? NAN : round(m.accuracy * part.n);
            bp_metrics_free(&m);
        }
        if (!R) return BP_OK;
    }
    v[3] = st != BP_OK;
    bp_status rs = R->allreduce(R->ctx, v, 4, BP_REDUCE_SUM, err);
    if (rs) return rs;
    if (v[3] > 0) return R->agree(R->ctx, st, err);
    *loss = mean ? v[0] / v[2] : v[0];
    *acc = v[1] / v[2];
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

static bp_status ensure_buffers(bp_trainer *t, const bp_dataset *d, int B, bp_error *err)
{
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

/* ---- a data-parallel run --------------------------------------------------------- */

/* What a data-parallel run settles before its first step (collective, after
 * the processes agreed that each is ready): the rows of all processes
 * (*n_all) and every process's count (--shard, into t->counts, allocated for
 * R->size); that the processes were given the same data (default) or the
 * CRC-32 of all shards' CRCs in rank order (--shard), in t->data_crc. */
static bp_status dist_setup(bp_trainer *t, const bp_reducer *R, const bp_dataset *train, long long *n_all,
                            bp_error *err)
{
    bp_status st;
    if (!t->o.shard) {   /* one dataset: the same on every process */
        double v[2] = {(double)t->data_crc, -(double)t->data_crc};
        if ((st = R->allreduce(R->ctx, v, 2, BP_REDUCE_MAX, err))) return st;
        if (v[0] != -v[1])
            return bp_err(err, BP_E_VALUE, "the processes were given different data (CRC-32 %08lx on one, %08lx on "
                          "another): each process reads the same data unless --shard", (unsigned long)-v[1],
                          (unsigned long)v[0]);
        *n_all = train->n;
        return BP_OK;
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    *n_all = 0;
    for (int base = 0; base < R->size; base += 32) {   /* (rows, CRC) of 32 processes at a time */
        double v[64] = {0};
        int k = R->size - base < 32 ? R->size - base : 32;
        if (R->rank >= base && R->rank < base + k) {
            v[2 * (R->rank - base)] = train->n;
            v[2 * (R->rank - base) + 1] = (double)t->data_crc;
        }
        if ((st = R->allreduce(R->ctx, v, 2 * k, BP_REDUCE_SUM, err))) return st;
        for (int i = 0; i < k; i++) {
            unsigned long c = (unsigned long)v[2 * i + 1];
            unsigned char b[4] = {(unsigned char)(c >> 24), (unsigned char)(c >> 16), (unsigned char)(c >> 8),
                                  (unsigned char)c};
            t->counts[base + i] = (int)v[2 * i];
            *n_all += t->counts[base + i];
            crc = crc32(crc, b, 4);
        }
    }
    if (*n_all > 2147483647LL) return bp_err(err, BP_E_VALUE, "%lld training rows over all processes: at most 2^31 - 1", *n_all);
    t->data_crc = crc;
    return BP_OK;
}

/* Rows [lo, hi) of n cut into `parts` near-equal pieces: piece p. */
static int piece(long long n, int p, int parts) { return (int)(n * p / parts); }

/* The setup of a run: the checks of the data and of a loaded checkpoint, the
 * buffers, the data's CRC; *n_all receives the training rows of all
 * processes, *B the batch size. In a data-parallel run the processes first
 * agree that each passed its own checks (an error anywhere is everyone's),
 * then settle the data together (dist_setup); the checks after that see the
 * same numbers on every process. */
static bp_status run_setup(bp_trainer *t, const bp_dataset *train, const bp_dataset *val, long long *n_all, int *B,
                           bp_error *err)
{
    bp_net *net = t->net;
    const bp_net_spec *s = bp_net_get_spec(net);
    const bp_reducer *R = bp_trainer_reducer(t);
    int procs = R ? R->size : 1;
    bp_status st = BP_OK;
    if (train->n < 1)
        st = R && t->o.shard ? bp_err(err, BP_E_VALUE, "no training samples in this process's shard: use fewer "
                                      "processes than rows")
                             : bp_err(err, BP_E_VALUE, "no training samples");
    else if (train->features != s->inputs)
        st = bp_err(err, BP_E_SHAPE, "the network has %d inputs, the data has %d features", s->inputs, train->features);
    else if (train->outputs != bp_net_outputs(net))
        st = bp_err(err, BP_E_SHAPE, "the network has %d outputs, the data has %d target columns%s",
                    bp_net_outputs(net), train->outputs, train->nclasses ? " (one-hot classes)" : "");
    else if (val && val->n > 0 && (val->features != train->features || val->outputs != train->outputs))
        st = bp_err(err, BP_E_SHAPE, "validation data has a different shape from the training data");
    else if (t->resume_crc_set && t->resume_procs != procs)
        st = bp_err(err, BP_E_VALUE, "the checkpoint was made by %d process%s, this run has %d: resume with the same "
                    "number (mpirun -np %d)", t->resume_procs, t->resume_procs == 1 ? "" : "es", procs, t->resume_procs);
    else
        st = ensure_buffers(t, train, t->o.batch < train->n ? t->o.batch : train->n, err);
    if (!st && R && t->o.shard && t->ncounts != R->size) {
        free(t->counts);
        t->ncounts = 0;
        if ((t->counts = bp_malloc((size_t)R->size * sizeof *t->counts, err))) t->ncounts = R->size;
        else st = BP_E_NOMEM;
    }
    if (R) st = R->agree(R->ctx, st, err);
    if (st) return st;
    t->data_crc = bp_trainer_data_crc(train, val);   /* 0.1 s for Fashion-MNIST; the data may have changed */
    *n_all = train->n;
    if (R && (st = dist_setup(t, R, train, n_all, err))) return st;
    *B = t->o.batch < *n_all ? t->o.batch : (int)*n_all;
    t->crc_n = (int)*n_all;
    t->has_run = 1;
    if (t->resume_n && t->resume_n != *n_all)
        return bp_err(err, BP_E_VALUE, "the checkpoint was made with %d training samples, this data has %lld: resume "
                      "with the same data", t->resume_n, *n_all);
    if (t->resume_crc_set && t->resume_crc != t->data_crc)
        return bp_err(err, BP_E_VALUE, "the checkpoint was made on other data (CRC-32 %08lx, this data %08lx: other "
                      "rows, another split or scaling): resume with the same data and options", t->resume_crc,
                      t->data_crc);
    int nb = (int)((*n_all + *B - 1) / *B);
    if (t->batch_pos > nb) return bp_err(err, BP_E_VALUE, "the checkpoint is at batch %d, an epoch has %d", t->batch_pos, nb);
    if (R) {   /* every process must see the same validation question */
        double v[2] = {val && val->n > 0, -(double)(val && val->n > 0)};
        if ((st = R->allreduce(R->ctx, v, 2, BP_REDUCE_MAX, err))) return st;
        if (v[0] != -v[1]) return bp_err(err, BP_E_VALUE, "some processes have validation data and some have none");
    }
    return BP_OK;
}

/* The CRC-32 of the parameters, as a double (for a reduction). */
static double params_crc(bp_trainer *t)
{
    size_t n = t->np * bp_dtype_size(bp_net_dtype(t->net));
    return (double)crc_bytes(crc32(0L, Z_NULL, 0), bp_net_params(t->net), n);
}

bp_status bp_trainer_run(bp_trainer *t, const bp_dataset *train, const bp_dataset *val, bp_error *err)
{
    bp_net *net = t->net;
    const bp_net_spec *s = bp_net_get_spec(net);
    const bp_train_options *o = &t->o;
    const bp_reducer *R = bp_trainer_reducer(t);
    int shard = R && o->shard;
    long long n_all = 0;
    int B = 0;
    bp_status st = run_setup(t, train, val, &n_all, &B, err);
    if (st) return st;
    size_t es = bp_dtype_size(bp_net_dtype(net));
    int nb = (int)((n_all + B - 1) / B);
    int F = train->features, K = train->outputs;
    int have_val = val && val->n > 0, classify = bp_dataset_classifies(train);

    while (!t->done && t->epoch < o->epochs) {
        double lr = bp_optim_lr(o, t->epoch);
        if (t->perm_epoch != t->epoch) {
            /* one permutation for every process; with --shard, each its own within its rows */
            uint64_t seed = o->seed * 1000003u + (uint64_t)t->epoch + (shard ? (uint64_t)R->rank * 0x9E3779B97F4A7C15u : 0);
            if (o->shuffle) bp_permutation(t->perm, train->n, seed);
            else for (int i = 0; i < train->n; i++) t->perm[i] = i;
            t->perm_epoch = t->epoch;
        }
        if (t->batch_pos == 0) t->ep_loss = t->ep_correct = t->ep_seen = t->ep_seconds = 0;
        double t0 = bp_now();
        for (int b = t->batch_pos; b < nb; b++) {
            /* the batch: m rows of all processes; this process's share: ml rows at `rows` */
            int m, ml;
            const int *rows;
            if (!R) {
                int start = b * B;
                m = ml = (int)(n_all - start < B ? n_all - start : B);
                rows = t->perm + start;
            } else if (!shard) {
                int start = b * B;
                m = (int)(n_all - start < B ? n_all - start : B);
                int lo = piece(m, R->rank, R->size);
                ml = piece(m, R->rank + 1, R->size) - lo;
                rows = t->perm + start + lo;
            } else {
                m = 0;
                for (int r = 0; r < R->size; r++) m += piece(t->counts[r], b + 1, nb) - piece(t->counts[r], b, nb);
                int lo = piece(train->n, b, nb);
                ml = piece(train->n, b + 1, nb) - lo;
                rows = t->perm + lo;
            }
            double loss = 0, correct = classify ? 0 : NAN;
            bp_step_share share = {m, R, BP_OK, err};
            st = BP_OK;
            if (ml > 0) {
                gather_y(t, train, rows, ml);
                bp_mat y = {ml, K, BP_F32, t->yb};
                st = bp_net_step_rows(net, train->x, F, rows, ml, &y, &loss, R ? &share : NULL, err);
                if (!R && st) return st;
                if (!st && classify) {
                    bp_mat out = bp_net_step_output(net);
                    correct = (double)bp_count_correct(&out, train->labels, rows, ml);
                }
            }
            if (R) {   /* the shares' gradients summed; the loss, counts and stop flag too */
                if (ml == 0 || st) bp_net_step_empty(net, &share);   /* a failed step still takes part */
                bp_status ws = R->wait(R->ctx, err);
                if (!st) st = share.st ? share.st : ws;
                double v[4] = {loss, correct, o->stop && *o->stop, st != BP_OK};
                bp_status rs = R->allreduce(R->ctx, v, 4, BP_REDUCE_SUM, err);
                if (rs) return rs;
                if (v[3] > 0) return R->agree(R->ctx, st, err);
                loss = v[0];
                correct = v[1];
                t->agreed_stop = v[2] > 0;
            }
            if (o->weight_decay > 0) bp_optim_weight_decay(&t->opt);
            double gmax = bp_max_abs(bp_net_grads(net), bp_net_dtype(net), t->np);
            if (!isfinite(loss) || !isfinite(gmax)) {
                t->stop_reason = "diverged";
                return bp_err(err, BP_E_DIVERGED,
                              "training diverged at epoch %d, batch %d of %d: the loss is %g; the weights before "
                              "this batch are kept (try a smaller learning rate)",
                              t->epoch + 1, b + 1, nb, loss);
            }
            if (!bp_optim_step(&t->opt, lr, gmax)) {
                t->stop_reason = "diverged";
                return bp_err(err, BP_E_DIVERGED,
                              "training diverged at epoch %d, batch %d of %d: a weight became infinite; the weights "
                              "before this batch are kept (try a smaller learning rate)", t->epoch + 1, b + 1, nb);
            }
            if (R && o->check_replicas) {   /* the same parameters everywhere, bit for bit */
                double v[2] = {params_crc(t), 0};
                v[1] = -v[0];
                if ((st = R->allreduce(R->ctx, v, 2, BP_REDUCE_MAX, err))) return st;
                if (v[0] != -v[1])
                    return bp_err(err, BP_E_VALUE, "the processes' parameters differ after step %ld (epoch %d, batch "
                                  "%d): CRC-32 %08lx on one, %08lx on another", t->opt.step, t->epoch + 1, b + 1,
                                  (unsigned long)-v[1], (unsigned long)v[0]);
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
            if ((R ? t->agreed_stop : o->stop && *o->stop) && b + 1 < nb) {
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
        if (o->on_checkpoint) o->on_checkpoint(o->user, t);
        if ((R ? t->agreed_stop : o->stop && *o->stop) && t->epoch < o->epochs && !t->done) {
            t->stop_reason = "interrupted";
            return bp_err(err, BP_E_INTERRUPTED, "interrupted after epoch %d", t->epoch);
        }
    }
    t->done = 1;
    if (o->keep_best && t->has_best) memcpy(bp_net_params(net), t->best, t->np * es);
    return BP_OK;
}

long bp_trainer_steps(const bp_trainer *t) { return t->opt.step; }
