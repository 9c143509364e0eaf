/* nn/optim.c - gradient descent on a network's parameter block (the update
 * rules are in optim.h): the optimizers' flat loops, weight decay, the
 * learning-rate schedules, and the bounds that keep a step from leaving a
 * non-finite weight behind. */
#include "nn/optim.h"
#include "core/mat.h"
#include "core/pool.h"
#include "core/runtime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const opt_names[] = {"sgd", "momentum", "nesterov", "adam"};
static const char *const sched_names[] = {"constant", "step", "cosine"};

const char *bp_optimizer_name(bp_optimizer o) { return BP_NAME_OF(opt_names, o); }
const char *bp_schedule_name(bp_schedule s) { return BP_NAME_OF(sched_names, s); }
BP_NAME_PARSER(bp_optimizer_parse, bp_optimizer, opt_names)
BP_NAME_PARSER(bp_schedule_parse, bp_schedule, sched_names)

bp_status bp_optim_init(bp_optim *op, bp_net *net, const bp_train_options *o, bp_error *err)
{
    memset(op, 0, sizeof *op);
    size_t es = bp_dtype_size(bp_net_dtype(net));
    op->net = net;
    op->o = o;
    op->np = bp_net_nparams(net);
    op->m1 = bp_calloc(op->np, es, err);
    op->m2 = bp_calloc(op->np, es, err);
    op->backup = bp_calloc(op->np, es, err);
    if (!op->m1 || !op->m2 || !op->backup) { bp_optim_free(op); return BP_E_NOMEM; }
    op->pmax = bp_max_abs(bp_net_params(net), bp_net_dtype(net), op->np);
    return BP_OK;
}

void bp_optim_free(bp_optim *op)
{
    free(op->m1); free(op->m2); free(op->backup);
    op->m1 = op->m2 = op->backup = NULL;
}

void bp_optim_rebound(bp_optim *op)
{
    bp_dtype dt = bp_net_dtype(op->net);
    op->pmax = bp_max_abs(bp_net_params(op->net), dt, op->np);
    op->vmax = bp_max_abs(op->m1, dt, op->np);
}

double bp_optim_lr(const bp_train_options *o, int epoch)
{
    switch (o->schedule) {
    case BP_SCHED_STEP: return o->lr * pow(o->gamma, (double)(epoch / (o->step_size > 0 ? o->step_size : 1)));
    case BP_SCHED_COSINE: return o->lr * 0.5 * (1 + cos(3.14159265358979323846 * epoch / o->epochs));
    default: return o->lr;
    }
}

/* g_W += lambda W: weight decay applies to weights only, not biases (nor to
 * the bias column, out_in, or row, in_out, of the bias trick): runs of `len`
 * entries from `first`, every `period`. */
BP_HOT void bp_optim_weight_decay(bp_optim *op)
{
    bp_net *net = op->net;
    const bp_net_spec *s = bp_net_get_spec(net);
    for (int l = 0; l < s->nlayers; l++) {
        bp_mat W = bp_net_weight(net, l), G = bp_net_weight_grad(net, l);
        size_t n = (size_t)W.rows * W.cols, first = 0, period = n, len = n, cols = (size_t)W.cols;
        if (s->layers[l].bias_trick && s->layout == BP_OUT_IN) { first = 1; period = cols; len = cols - 1; }
        else if (s->layers[l].bias_trick) { first = cols; len = n - cols; }
        for (size_t r = first; r < n; r += period) {
            if (W.dtype == BP_F64) {
                const double *w = (const double *)W.data + r;
                double *g = (double *)G.data + r;
                for (size_t i = 0; i < len; i++) g[i] += op->o->weight_decay * w[i];
            } else {
                const float *w = (const float *)W.data + r;
                float *g = (float *)G.data + r;
                float wd = (float)op->o->weight_decay;
                for (size_t i = 0; i < len; i++) g[i] += wd * w[i];
            }
        }
    }
}

/* theta -= lr d(g) on the parameters lo..hi-1: the optimizer's flat loop, one
 * per optimizer so that each loop vectorises; state m1, m2 in the net's
 * dtype. Returns the bits of the largest |theta| after the step (|x| orders
 * like its bit pattern without the sign, which vectorises; a non-finite
 * value has the largest). */
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
    BP_HOT static UINT_##T update_##T(bp_optim *op, size_t lo, size_t hi, double lr_d, double c1, double c2) \
    {                                                                                              \
        const bp_train_options *o = op->o;                                                         \
        T *restrict p = (T *)bp_net_params(op->net) + lo, *restrict m1 = (T *)op->m1 + lo;        \
        T *restrict m2 = (T *)op->m2 + lo;                                                         \
        const T *restrict g = (const T *)bp_net_grads(op->net) + lo;                               \
        const T lr = (T)lr_d, mu = (T)o->momentum, b1 = (T)o->beta1, b2 = (T)o->beta2;             \
        const T eps = (T)o->adam_eps, ic1 = (T)(1 / c1), ic2 = (T)(1 / c2);                        \
        size_t n = hi - lo;                                                                        \
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
        return top;                                                                                \
    }
UPDATE_FN(float)
UPDATE_FN(double)

/* The bits of the largest |x| of n values. */
BP_HOT static uint64_t max_abs_f64(const double *d, size_t n)
{
    uint64_t top = 0;
    for (size_t i = 0; i < n; i++) TRACK(double, d[i]);
    return top;
}

BP_HOT static uint32_t max_abs_f32(const float *d, size_t n)
{
    uint32_t top = 0;
    for (size_t i = 0; i < n; i++) TRACK(float, d[i]);
    return top;
}

/* ---- the flat loops on the threads of the products ---------------------------
 * On several threads (bp_set_threads) the loops over the parameter block are
 * cut into one contiguous range per thread (core/pool.h). Each value is
 * computed as on one thread and a maximum does not depend on its order, so
 * the results have the same bits for any number of threads. Besides the
 * arithmetic, this moves the gradients: the products wrote them on both
 * threads, and one thread reading all of them fetches half from the other
 * core's cache (on the Intel Xeon of docs/performance.md, the update on one
 * thread took a quarter of a two-thread step at batch 128). */

/* Below this many values per thread, waking the pool costs more than it saves. */
#define PAR_MIN 32768.0

/* Each part's range of the values: whole cache lines of float (and pairs of lines of double). */
enum { PAR_UNIT = 16 };

typedef struct {
    const void *data;   /* bp_max_abs: the values                      */
    bp_optim *op;       /* bp_optim_step: the optimizer                */
    double lr, c1, c2;
    int f64;
    size_t n;
    uint64_t top[BP_POOL_MAX];   /* each part's largest |x|, as bits  */
} par_job;

static void max_abs_part(void *arg, int t, int nt)
{
    par_job *j = arg;
    size_t lo, hi;
    bp_pool_part(j->n, PAR_UNIT, t, nt, &lo, &hi);
    j->top[t] = j->f64 ? max_abs_f64((const double *)j->data + lo, hi - lo)
                       : max_abs_f32((const float *)j->data + lo, hi - lo);
}

static void update_part(void *arg, int t, int nt)
{
    par_job *j = arg;
    size_t lo, hi;
    bp_pool_part(j->n, PAR_UNIT, t, nt, &lo, &hi);
    j->top[t] = j->f64 ? update_double(j->op, lo, hi, j->lr, j->c1, j->c2)
                       : update_float(j->op, lo, hi, j->lr, j->c1, j->c2);
}

/* Run fn's parts on the threads j->n values are worth; the largest |x| as a number
 * (+Inf if one is not finite). */
static double par_run(bp_pool_fn fn, par_job *j)
{
    int nt = bp_pool_threads(bp_threads(), (double)j->n, PAR_MIN);
    bp_pool_run(nt, fn, j);
    uint64_t top = 0;
    for (int t = 0; t < nt; t++) top = j->top[t] > top ? j->top[t] : top;
    return j->f64 ? from_bits_double(top) : from_bits_float((uint32_t)top);
}

double bp_max_abs(const void *data, bp_dtype dt, size_t n)
{
    par_job j = {.data = data, .f64 = dt == BP_F64, .n = n};
    return par_run(max_abs_part, &j);
}

/* One optimizer step with gradients of largest magnitude gmax (finite).
 * Keeping the last good weights would take a copy of every parameter per
 * step; instead a bound on the step, max|theta| + lr max|d|, decides whether
 * a parameter could overflow, and only then are the weights copied first.
 * Returns 0 (weights restored) if a parameter became non-finite. */
int bp_optim_step(bp_optim *op, double lr, double gmax)
{
    const bp_train_options *o = op->o;
    int f64 = bp_net_dtype(op->net) == BP_F64;
    size_t es = f64 ? 8 : 4;
    double c1 = 1 - pow(o->beta1, (double)(op->step + 1)), c2 = 1 - pow(o->beta2, (double)(op->step + 1));
    double vmax = o->momentum * op->vmax + gmax, dmax;
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
    int backed_up = !(op->pmax + lr * dmax < (f64 ? 1e300 : 1e37));
    if (backed_up) memcpy(op->backup, bp_net_params(op->net), op->np * es);
    op->step++;
    op->vmax = vmax;
    par_job j = {.op = op, .lr = lr, .c1 = c1, .c2 = c2, .f64 = f64, .n = op->np};
    op->pmax = par_run(update_part, &j);
    if (isfinite(op->pmax)) return 1;
    if (backed_up) memcpy(bp_net_params(op->net), op->backup, op->np * es);
    return 0;
}
