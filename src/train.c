/* train.c - mini-batch gradient descent.
 *
 * One step on a batch B of m samples:
 *   forward + backward (net.c)        g = dL/dtheta over B (with 1/m for mean)
 *   weight decay (weights only)       g_W += lambda W
 *   sgd:       theta -= lr g
 *   momentum:  v = mu v + g;           theta -= lr v
 *   nesterov:  v = mu v + g;           theta -= lr (g + mu v)
 *   adam:      m1 = b1 m1 + (1-b1) g;  m2 = b2 m2 + (1-b2) g^2;
 *              theta -= lr (m1 / (1-b1^t)) / (sqrt(m2 / (1-b2^t)) + eps)
 * The optimizer is a flat loop over the network's contiguous parameter and
 * gradient blocks. An epoch visits the samples in the order of a permutation
 * drawn from (seed, epoch), so a run resumed from a checkpoint visits them in
 * the same order as an uninterrupted one and ends with the same bits.
 */
#define _POSIX_C_SOURCE 200809L
#include "net_internal.h"
#include "safetensors.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const opt_names[] = {"sgd", "momentum", "nesterov", "adam"};
static const char *const sched_names[] = {"constant", "step", "cosine"};

const char *bp_optimizer_name(bp_optimizer o) { return BP_NAME_OF(opt_names, o); }
const char *bp_schedule_name(bp_schedule s) { return BP_NAME_OF(sched_names, s); }
BP_NAME_PARSER(bp_optimizer_parse, bp_optimizer, opt_names)
BP_NAME_PARSER(bp_schedule_parse, bp_schedule, sched_names)

void bp_set_threads(int n) { openblas_set_num_threads(n > 0 ? n : 1); }
int bp_threads(void) { return openblas_get_num_threads(); }

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

static double max_abs(const void *data, bp_dtype dt, size_t n);

/* Why a run ended (bp_trainer_stop_reason). */
#define STOP_TOL "tol (the change in loss fell below the tolerance)"
#define STOP_EARLY "early stopping (validation loss did not improve)"
static const char *const STOP_REASONS[] = {"not started", "max epochs", STOP_TOL, STOP_EARLY, "interrupted", "diverged"};

struct bp_trainer {
    bp_net *net;
    bp_train_options o;
    size_t np;
    void *m1, *m2;            /* optimizer state (velocity, or Adam moments), net dtype */
    void *backup;             /* parameters before a step that might overflow    */
    double pmax, vmax;        /* bounds on max |theta| and max |velocity|        */
    int resume_n;             /* samples of the run a checkpoint came from       */
    void *best;               /* parameters of the best validation loss          */
    long step;                /* optimizer steps taken (Adam's t)                */
    int epoch;                /* epochs completed                                */
    int batch_pos;            /* batches completed in the current epoch          */
    double ep_loss, ep_correct, ep_seen, ep_seconds;   /* partial-epoch sums      */
    double prev_loss, best_val;
    int bad_epochs, has_best, done;
    bp_epoch_stats *hist;
    int nhist;
    const char *stop_reason;
    int *perm;
    float *yb;                /* the batch's targets                             */
    int perm_n, buf_m, perm_epoch;
};


bp_status bp_trainer_new(bp_net *net, const bp_train_options *opt, bp_trainer **out, bp_error *err)
{
    *out = NULL;
    if (opt->epochs < 1) return bp_err(err, BP_E_ARG, "epochs must be at least 1, got %d", opt->epochs);
    if (opt->batch < 1) return bp_err(err, BP_E_ARG, "batch must be at least 1, got %d", opt->batch);
    if (!(opt->lr > 0) || !isfinite(opt->lr)) return bp_err(err, BP_E_ARG, "the learning rate must be positive, got %g", opt->lr);
    size_t es = bp_dtype_size(bp_net_dtype(net));
    if (!(opt->momentum >= 0 && opt->momentum < 1)) return bp_err(err, BP_E_ARG, "momentum must be in [0, 1), got %g", opt->momentum);
    if (!(opt->weight_decay >= 0)) return bp_err(err, BP_E_ARG, "weight decay must be >= 0, got %g", opt->weight_decay);
    if (bp_net_get_spec(net)->loss == BP_LOSS_NONE) return bp_err(err, BP_E_ARG, "the network has no loss to train on");
    bp_trainer *t = bp_calloc(1, sizeof *t, err);
    if (!t) return BP_E_NOMEM;
    t->net = net;
    t->o = *opt;
    t->np = bp_net_nparams(net);
    t->m1 = bp_calloc(t->np, es, err);
    t->m2 = bp_calloc(t->np, es, err);
    t->backup = bp_calloc(t->np, es, err);
    t->best = bp_calloc(t->np, es, err);
    if (!t->m1 || !t->m2 || !t->backup || !t->best) { bp_trainer_free(t); return BP_E_NOMEM; }
    t->prev_loss = NAN;
    t->pmax = max_abs(bp_net_params(net), bp_net_dtype(net), t->np);
    t->best_val = INFINITY;
    t->perm_epoch = -1;
    t->stop_reason = "not started";
    *out = t;
    return BP_OK;
}

void bp_trainer_free(bp_trainer *t)
{
    if (!t) return;
    free(t->m1); free(t->m2); free(t->backup); free(t->best);
    free(t->hist); free(t->perm); free(t->yb);
    free(t);
}

int bp_trainer_history(const bp_trainer *t, const bp_epoch_stats **stats)
{
    *stats = t->hist;
    return t->nhist;
}

const char *bp_trainer_stop_reason(const bp_trainer *t) { return t->stop_reason; }

static double lr_at(const bp_train_options *o, int epoch)
{
    switch (o->schedule) {
    case BP_SCHED_STEP: return o->lr * pow(o->gamma, (double)(epoch / (o->step_size > 0 ? o->step_size : 1)));
    case BP_SCHED_COSINE: return o->lr * 0.5 * (1 + cos(3.14159265358979323846 * epoch / o->epochs));
    default: return o->lr;
    }
}

/* g_W += lambda W: weight decay applies to weights only, not biases. */
BP_HOT static void weight_decay(bp_trainer *t)
{
    bp_net *net = t->net;
    const bp_net_spec *s = bp_net_get_spec(net);
    for (int l = 0; l < s->nlayers; l++) {
        bp_mat W = bp_net_weight(net, l), G = bp_net_weight_grad(net, l);
        size_t n = (size_t)W.rows * W.cols;
        if (W.dtype == BP_F64) {
            const double *w = W.data;
            double *g = G.data;
            for (size_t i = 0; i < n; i++) g[i] += t->o.weight_decay * w[i];
        } else {
            const float *w = W.data;
            float *g = G.data;
            float wd = (float)t->o.weight_decay;
            for (size_t i = 0; i < n; i++) g[i] += wd * w[i];
        }
    }
}

/* theta -= lr d(g): the optimizer's flat loop, one per optimizer so that each
 * loop vectorises; state m1, m2 in the net's dtype. Returns the largest |theta|
 * after the step (+Inf if a parameter is not finite), computed on the bits
 * (|x| orders like its bit pattern without the sign), which vectorises. */
static inline uint32_t bits32(float x) { uint32_t b; memcpy(&b, &x, 4); return b & 0x7fffffffu; }
static inline uint64_t bits64(double x) { uint64_t b; memcpy(&b, &x, 8); return b & 0x7fffffffffffffffull; }
static double from_bits_float(uint32_t b) { float x; if (b >= 0x7f800000u) return INFINITY; memcpy(&x, &b, 4); return x; }
static double from_bits_double(uint64_t b) { double x; if (b >= 0x7ff0000000000000ull) return INFINITY; memcpy(&x, &b, 8); return x; }
#define BITS_float bits32
#define BITS_double bits64
#define UINT_float uint32_t
#define UINT_double uint64_t
#define SQRT_float sqrtf
#define SQRT_double sqrt
#define TRACK(T, x) do { UINT_##T b_ = BITS_##T(x); top = b_ > top ? b_ : top; } while (0)
#define UPDATE_FN(T)                                                                               \
    BP_HOT static double update_##T(bp_trainer *t, double lr_d, double c1, double c2)              \
    {                                                                                              \
        const bp_train_options *o = &t->o;                                                         \
        T *restrict p = bp_net_params(t->net), *restrict m1 = t->m1, *restrict m2 = t->m2;        \
        const T *restrict g = bp_net_grads(t->net);                                                \
        const T lr = (T)lr_d, mu = (T)o->momentum, b1 = (T)o->beta1, b2 = (T)o->beta2;             \
        const T eps = (T)o->adam_eps, ic1 = (T)(1 / c1), ic2 = (T)(1 / c2);                        \
        size_t n = t->np;                                                                          \
        UINT_##T top = 0;                                                                          \
        switch (o->optimizer) {                                                                    \
        case BP_OPT_MOMENTUM: /* v = mu v + g; theta -= lr v */                                    \
            for (size_t i = 0; i < n; i++) {                                                       \
                T v = mu * m1[i] + g[i];                                                           \
                m1[i] = v;                                                                         \
                p[i] -= lr * v;                                                                    \
                TRACK(T, p[i]);                                                                    \
            }                                                                                      \
            break;                                                                                 \
        case BP_OPT_NESTEROV: /* v = mu v + g; theta -= lr (g + mu v) */                           \
            for (size_t i = 0; i < n; i++) {                                                       \
                T v = mu * m1[i] + g[i];                                                           \
                m1[i] = v;                                                                         \
                p[i] -= lr * (g[i] + mu * v);                                                      \
                TRACK(T, p[i]);                                                                    \
            }                                                                                      \
            break;                                                                                 \
        case BP_OPT_ADAM: /* moments m1, m2; theta -= lr m1^ / (sqrt(m2^) + eps) */                \
            for (size_t i = 0; i < n; i++) {                                                       \
                T a = b1 * m1[i] + (1 - b1) * g[i], b = b2 * m2[i] + (1 - b2) * g[i] * g[i];       \
                m1[i] = a;                                                                         \
                m2[i] = b;                                                                         \
                p[i] -= lr * (a * ic1) / (SQRT_##T(b * ic2) + eps);                                \
                TRACK(T, p[i]);                                                                    \
            }                                                                                      \
            break;                                                                                 \
        default: /* theta -= lr g */                                                               \
            for (size_t i = 0; i < n; i++) {                                                       \
                p[i] -= lr * g[i];                                                                 \
                TRACK(T, p[i]);                                                                    \
            }                                                                                      \
        }                                                                                          \
        return from_bits_##T(top);                                                                 \
    }
UPDATE_FN(float)
UPDATE_FN(double)

/* The largest |x| of n values, +Inf if one is not finite. */
BP_HOT static double max_abs_f64(const double *d, size_t n)
{
    uint64_t top = 0;
    for (size_t i = 0; i < n; i++) TRACK(double, d[i]);
    return from_bits_double(top);
}

BP_HOT static double max_abs_f32(const float *d, size_t n)
{
    uint32_t top = 0;
    for (size_t i = 0; i < n; i++) TRACK(float, d[i]);
    return from_bits_float(top);
}

static double max_abs(const void *data, bp_dtype dt, size_t n)
{
    return dt == BP_F64 ? max_abs_f64(data, n) : max_abs_f32(data, n);
}

/* One optimizer step with gradients of largest magnitude gmax (finite).
 * Keeping the last good weights would take a copy of every parameter per
 * step; instead a bound on the step, max|theta| + lr max|d|, decides whether
 * a parameter could overflow, and only then are the weights copied first.
 * Returns 0 (weights restored) if a parameter became non-finite. */
static int update(bp_trainer *t, double lr, double gmax)
{
    const bp_train_options *o = &t->o;
    int f64 = bp_net_dtype(t->net) == BP_F64;
    size_t es = f64 ? 8 : 4;
    double c1 = 1 - pow(o->beta1, (double)(t->step + 1)), c2 = 1 - pow(o->beta2, (double)(t->step + 1));
    double vmax = o->momentum * t->vmax + gmax, dmax;
    switch (o->optimizer) {
    case BP_OPT_MOMENTUM: dmax = vmax; break;
    case BP_OPT_NESTEROV: dmax = gmax + o->momentum * vmax; break;
    case BP_OPT_ADAM: /* |m1^ / sqrt(m2^)| <= K sqrt(c2) / c1 when b1^2 < b2 (Cauchy-Schwarz) */
        dmax = o->beta1 * o->beta1 < o->beta2 && gmax < (f64 ? 1e150 : 1e18)
                   ? (1 - o->beta1) / sqrt((1 - o->beta2) * (1 - o->beta1 * o->beta1 / o->beta2)) * sqrt(c2) / c1
                   : INFINITY;
        break;
    default: dmax = gmax;
    }
    int backed_up = !(t->pmax + lr * dmax < (f64 ? 1e300 : 1e37));
    if (backed_up) memcpy(t->backup, bp_net_params(t->net), t->np * es);
    t->step++;
    t->vmax = vmax;
    t->pmax = f64 ? update_double(t, lr, c1, c2) : update_float(t, lr, c1, c2);
    if (isfinite(t->pmax)) return 1;
    if (backed_up) memcpy(bp_net_params(t->net), t->backup, t->np * es);
    return 0;
}

/* Correct predictions in a batch: argmax vs label for classifiers; for one
 * sigmoid output, (yhat >= 0.5) == (y >= 0.5). Returns NaN when not a classifier. */
static double count_correct(bp_net *net, const bp_mat *out, const bp_dataset *d, const int *rows, int m, const float *yb)
{
    const bp_mat a = *out;
    int k = a.cols;
    double correct = 0;
    if (d->labels && k == d->nclasses && k > 1) {
        for (int i = 0; i < m; i++) correct += bp_predicted_class(&a, i) == d->labels[rows[i]];
        return correct;
    }
    if (k == 1 && bp_net_get_spec(net)->loss == BP_LOSS_BCE) {
        for (int i = 0; i < m; i++) correct += (bp_mat_get(&a, i, 0) >= 0.5) == (yb[i] >= 0.5f);
        return correct;
    }
    return NAN;
}

/* Per-sample mean loss and accuracy of the net on d (in batches). */
static bp_status evaluate(bp_trainer *t, const bp_dataset *d, double *loss, double *acc, bp_error *err)
{
    int B = t->o.batch < 256 ? 256 : t->o.batch;
    if (B > d->n) B = d->n;
    double total = 0, correct = 0;
    int *rows = bp_malloc((size_t)B * sizeof *rows, err);
    if (!rows) return BP_E_NOMEM;
    const bp_net_spec *s = bp_net_get_spec(t->net);
    bp_status st = BP_OK;
    for (int start = 0; start < d->n && !st; start += B) {
        int m = d->n - start < B ? d->n - start : B;
        bp_mat x = bp_dataset_x(d, start, m), y = bp_dataset_y(d, start, m);
        double l;
        if ((st = bp_net_loss_value(t->net, &x, &y, &l, err))) break;
        total += s->reduction == BP_MEAN ? l * m : l;
        for (int i = 0; i < m; i++) rows[i] = start + i;
        bp_mat out = bp_net_a(t->net, s->nlayers - 1);
        correct += count_correct(t->net, &out, d, rows, m, y.data);
    }
    free(rows);
    *loss = s->reduction == BP_MEAN ? total / d->n : total;
    *acc = correct / d->n;
    return st;
}

/* The epoch's loss so far, reduced like the net's loss: the mean per sample,
 * or the sum over the samples. */
static double epoch_loss(const bp_trainer *t, const bp_net_spec *s)
{
    return s->reduction == BP_MEAN ? t->ep_loss / t->ep_seen : t->ep_loss;
}

/* The batch's targets (rows scattered over the dataset) into yb; its inputs
 * are read in place by the step (bp_fused_backprop_rows). */
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
    size_t es = bp_dtype_size(bp_net_dtype(net));
    int B = o->batch < train->n ? o->batch : train->n;
    int nb = (train->n + B - 1) / B;
    int F = train->features, K = train->outputs;
    int have_val = val && val->n > 0;
    if (t->batch_pos > nb) return bp_err(err, BP_E_VALUE, "the checkpoint is at batch %d, an epoch has %d", t->batch_pos, nb);

    while (!t->done && t->epoch < o->epochs) {
        double lr = lr_at(o, t->epoch);
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
            if ((st = bp_fused_backprop_rows(net, train->x, F, rows, m, &y, &loss, err))) return st;
            if (o->weight_decay > 0) weight_decay(t);
            double gmax = max_abs(bp_net_grads(net), bp_net_dtype(net), t->np);
            if (!isfinite(loss) || !isfinite(gmax)) {
                t->stop_reason = "diverged";
                return bp_err(err, BP_E_DIVERGED,
                              "training diverged at epoch %d, batch %d of %d: the loss is %g; the weights before "
                              "this batch are kept (try a smaller learning rate)",
                              t->epoch + 1, b + 1, nb, loss);
            }
            bp_mat out = bp_fused_output(net);
            double correct = count_correct(net, &out, train, rows, m, t->yb);
            if (!update(t, lr, gmax)) {
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
        if (have_val && (st = evaluate(t, val, &es_.val_loss, &es_.val_acc, err))) return st;
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

/* ---- checkpoints ------------------------------------------------------------------ */
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
        {"m1", dt, 1, {(int64_t)t->np}, t->m1, t->np * es},
        {"m2", dt, 1, {(int64_t)t->np}, t->m2, t->np * es},
        {"best", dt, 1, {(int64_t)t->np}, t->best, t->np * es},
        {"history", BP_F64, 2, {t->nhist, HIST_COLS}, hist, (size_t)t->nhist * HIST_COLS * sizeof(double)},
    };
    if (nscal) {
        ts[5] = (bp_st_tensor){"scaler.mean", BP_F32, 1, {scaler->features}, scaler->mean, (size_t)scaler->features * 4};
        ts[6] = (bp_st_tensor){"scaler.std", BP_F32, 1, {scaler->features}, scaler->std, (size_t)scaler->features * 4};
    }
    char v[8][64], run[512];
    run_signature(t, run, sizeof run);
    snprintf(v[0], 64, "%ld", t->step);
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
    memcpy(t->m1, m1->data, t->np * es);
    memcpy(t->m2, m2->data, t->np * es);
    t->pmax = max_abs(bp_net_params(t->net), dt, t->np);
    t->vmax = max_abs(t->m1, dt, t->np);
    memcpy(t->best, best->data, t->np * es);
    free(t->hist);
    t->hist = h;
    t->nhist = nh;
    t->step = step;
    t->epoch = epoch;
    t->batch_pos = bpos;
    t->ep_loss = s[0]; t->ep_correct = s[1]; t->ep_seen = s[2]; t->ep_seconds = s[3];
    t->prev_loss = l[0]; t->best_val = l[1];
    t->bad_epochs = bad; t->has_best = hb; t->done = dn;
    t->resume_n = atoi(bp_st_meta(f, "samples"));
    const char *why = bp_st_meta(f, "stop_reason");
    t->stop_reason = "interrupted";
    for (size_t i = 0; why && i < sizeof STOP_REASONS / sizeof *STOP_REASONS; i++)
        if (!strcmp(why, STOP_REASONS[i])) t->stop_reason = STOP_REASONS[i];
    t->perm_epoch = -1;
done:
    bp_st_free(f);
    return st;
}
