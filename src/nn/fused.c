/* nn/fused.c - the fused training step: forward, loss and backward of an MLP
 * without building a graph, with bias+activation and their derivatives fused
 * into the passes over memory (fused_kernels.h, instantiated for f32 and
 * f64). Called by the network only (net.c: bp_net_train_step, and
 * bp_net_step_rows for the trainer); the graph path (net.c) stays the
 * reference, and tests/test_fused.c checks one against the other. Buffers
 * are sized for the largest batch seen, so a training step allocates nothing
 * after the first batch.
 *
 * Large f32 products go to the own kernel (core/sgemm.c) on CPUs with
 * AVX-512 or AVX2 + FMA, with packing space kept here. The trainer can then hand over the
 * batch as row numbers into the dataset (bp_fused_backprop_rows): the
 * products that read X take it straight from the dataset, with no gather
 * copy.
 *
 * In a data-parallel step (a bp_step_share, nn/net.h) the rows are one
 * process's share of a larger batch: the mean divides by the whole batch's
 * rows, and each layer's gradient block goes to the reducer the moment the
 * backward pass has finished it (share_layer), so that its sum over the
 * processes travels while the layers below are computed. */
#include "nn/fused.h"
#include "core/gemm.h"
#include "core/pool.h"
#include "core/runtime.h"
#include "core/sgemm.h"
#include "core/stable.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct bp_fused {
    int cap;                     /* rows the buffers hold                   */
    void *z[BP_MAX_LAYERS];      /* cap x units: pre-activations           */
    void *a[BP_MAX_LAYERS];      /* cap x units: activations (= z if linear) */
    void *g[2];                  /* cap x max units: dL/dz, ping-pong       */
    void *x, *y;                 /* x, y converted to the net's dtype       */
    int m;                       /* rows of the last pass                   */
    float *ws;                   /* packing space of the own sgemm, or NULL */
    size_t ws_n;                 /* its floats                              */
    int ws_m, ws_t;              /* the batch size and threads it was checked for */
    const void *xs;              /* X of this pass when given by rows:      */
    size_t ldx;                  /*   row i is xs + xrows[i] * ldx          */
    const int *xrows;
    bp_step_share *share;        /* this pass's share of a data-parallel step, or NULL */
};

void bp_fused_free(struct bp_fused *f)
{
    if (!f) return;
    for (int l = 0; l < BP_MAX_LAYERS; l++) {
        if (f->a[l] != f->z[l]) free(f->a[l]);
        free(f->z[l]);
    }
    free(f->g[0]); free(f->g[1]); free(f->x); free(f->y); free(f->ws);
    free(f);
}

/* Does the net's step use the own sgemm (f32, a CPU with AVX-512 or AVX2 + FMA; BP_SGEMM=blas says no)? */
static int own_sgemm(const bp_net *net) { return net->dtype == BP_F32 && bp_sgemm_available(); }
/* It runs on the threads of bp_set_threads (core/pool.h), with packing space for each. */
static int own_sgemm_now(const struct bp_fused *f) { return f && f->ws; }

/* Floats of packing space the step's products need at batch size m. Not
 * monotone in m (a product whose k is m is cut into k blocks by size), so it
 * is checked for every new batch size, not only for a larger one. */
static size_t ws_need(const bp_net *net, int m)
{
    const bp_net_spec *s = &net->spec;
    size_t ws = 0;
    for (int l = 0; l < s->nlayers; l++) {
        int k = bp_fan_in(s, l), u = s->layers[l].units;
        size_t w[4] = {bp_sgemm_ws_floats(m, u, k), bp_sgemm_ws_floats(u, k, m), bp_sgemm_ws_floats(k, u, m),
                       bp_sgemm_ws_floats(m, k, u)};
        for (int i = 0; i < 4; i++) ws = w[i] > ws ? w[i] : ws;
    }
    return ws;
}

/* The packing space for batch size m on the current threads: f->ws holds at
 * least ws_need(m) floats for each. */
static bp_status ensure_ws(bp_net *net, struct bp_fused *f, int m, bp_error *err)
{
    if (!own_sgemm(net)) return BP_OK;
    int t = bp_threads();
    if (f->ws_m == m && f->ws_t == t) return BP_OK;
    size_t need = ws_need(net, m) * (size_t)t;
    if (need > f->ws_n) {
        free(f->ws);
        f->ws_n = 0;
        f->ws = aligned_alloc(64, (need * sizeof(float) + 63) / 64 * 64);
        if (!f->ws) return bp_err(err, BP_E_NOMEM, "out of memory (%zu bytes)", need * sizeof(float));
        f->ws_n = need;
    }
    f->ws_m = m;
    f->ws_t = t;
    return BP_OK;
}

static bp_status ensure(bp_net *net, int m, bp_error *err)
{
    struct bp_fused *f = net->fused;
    if (f && f->cap >= m) return ensure_ws(net, f, m, err);
    bp_fused_free(f);
    net->fused = f = bp_calloc(1, sizeof *f, err);
    if (!f) return BP_E_NOMEM;
    const bp_net_spec *s = &net->spec;
    size_t es = bp_dtype_size(net->dtype);
    int widest = net->widest;
    for (int l = 0; l < s->nlayers; l++) {
        int u = s->layers[l].units;
        if (!(f->z[l] = bp_malloc((size_t)m * u * es, err))) goto fail;
        f->a[l] = s->layers[l].act == BP_ACT_LINEAR ? f->z[l] : bp_malloc((size_t)m * u * es, err);
        if (!f->a[l]) goto fail;
    }
    if (!(f->g[0] = bp_malloc((size_t)m * widest * es, err)) || !(f->g[1] = bp_malloc((size_t)m * widest * es, err)) ||
        !(f->x = bp_malloc((size_t)m * s->inputs * es, err)) ||
        !(f->y = bp_malloc((size_t)m * s->layers[s->nlayers - 1].units * es, err)))
        goto fail;
    if (ensure_ws(net, f, m, err)) goto fail;
    f->cap = m;
    return BP_OK;
fail:
    bp_fused_free(f);
    net->fused = NULL;
    return BP_E_NOMEM;
}

/* m's data converted to dtype dt in buf; returns buf. */
static __attribute__((noinline)) const void *convert(const bp_mat *m, bp_dtype dt, void *buf)
{
    bp_mat d = {m->rows, m->cols, dt, buf};
    for (int i = 0; i < m->rows; i++)
        for (int j = 0; j < m->cols; j++) bp_mat_set(&d, i, j, bp_mat_get(m, i, j));
    return buf;
}

/* A pointer to m's data in the net's dtype: itself (inline: a tiny step's
 * usual case), or a converted copy in buf. */
static inline const void *as_dtype(const bp_mat *m, bp_dtype dt, void *buf)
{
    return m->dtype == dt ? m->data : convert(m, dt, buf);
}

/* Networks whose every width is at most SMALL_W go through small_pass
 * (fused_kernels.h) for batches of at most SMALL_M rows. */
enum { SMALL_W = 16, SMALL_M = 16 };
static int small_net(const bp_net *net, int m)
{
    return m <= SMALL_M && net->widest <= SMALL_W;
}

/* Values per thread below which an elementwise pass stays on one thread
 * (waking the pool costs about a microsecond). */
#define EW_MIN 16384.0

/* A product of m x n x k large enough for a matrix-product library (a call
 * costs more than the work below this); smaller ones run as plain loops. */
static int big_product(int m, int n, int k) { return (double)m * n * k >= 32768; }

/* The large products of the step (fused_kernels.h, mm). f64: OpenBLAS. */
static void big_mm_f64(struct bp_fused *f, int ta, int tb, int m, int n, int k, const double *A, const double *B,
                       double *C, int acc)
{
    (void)f;
    bp_gemm_f64(ta, tb, m, n, k, 1, A, ta ? m : k, B, tb ? k : n, acc, C, n);
}

/* f32: the own kernel when the step has packing space (own_sgemm), on the
 * threads it was sized for, else OpenBLAS. An operand that is the pass's X
 * given by rows is read through its row numbers. */
static void big_mm_f32(struct bp_fused *f, int ta, int tb, int m, int n, int k, const float *A, const float *B,
                       float *C, int acc)
{
    if (!own_sgemm_now(f)) {
        bp_gemm_f32(ta, tb, m, n, k, 1, A, ta ? m : k, B, tb ? k : n, acc, C, n);
        return;
    }
    bp_sview a = {A, (size_t)(ta ? m : k), NULL, ta}, b = {B, (size_t)(tb ? k : n), NULL, tb};
    if (f->xrows && (const void *)A == f->xs) { a.ld = f->ldx; a.rows = f->xrows; }
    if (f->xrows && (const void *)B == f->xs) { b.ld = f->ldx; b.rows = f->xrows; }
    bp_sgemm(m, n, k, a, b, C, (size_t)n, acc, f->ws, BP_SGEMM_AUTO, f->ws_t);
}

/* ---- a data-parallel step's share (net.h): the reducer's calls -------------- */

/* Layer l's gradient block (its W, then its b: contiguous) to the reducer. */
static void start_layer(bp_net *net, bp_step_share *sh, int l)
{
    const bp_net_spec *s = &net->spec;
    size_t n = (size_t)s->layers[l].units * bp_w_fan_in(s, l) + (s->layers[l].bias ? (size_t)s->layers[l].units : 0);
    void *buf = (char *)net->grads + net->w_off[l] * bp_dtype_size(net->dtype);
    bp_status st = sh->r->start(sh->r->ctx, l, buf, n, net->dtype, sh->err);
    if (st && !sh->st) sh->st = st;
}

/* In a pass: layer l's gradient is final. */
static void share_layer(bp_net *net, int l)
{
    if (net->fused->share) start_layer(net, net->fused->share, l);
}

static void share_progress(struct bp_fused *f)
{
    if (f->share && f->share->r->progress) f->share->r->progress(f->share->r->ctx);
}

/* Every layer's block, last first: after a pass that finishes them together (small_pass). */
static void share_all(bp_net *net)
{
    for (int l = net->spec.nlayers - 1; l >= 0; l--) share_layer(net, l);
}

void bp_fused_share_layers(bp_net *net, bp_step_share *share)
{
    for (int l = net->spec.nlayers - 1; l >= 0; l--) start_layer(net, share, l);
}

void bp_fused_share_empty(bp_net *net, bp_step_share *share)
{
    memset(net->grads, 0, net->nparams * bp_dtype_size(net->dtype));
    bp_fused_share_layers(net, share);
}

#define T double
#define SFX(x) x##_f64
#define EXP exp
#define TANH tanh
#include "nn/fused_kernels.h"
#undef T
#undef SFX
#undef EXP
#undef TANH
#define T float
#define SFX(x) x##_f32
#define EXP expf
#define TANH tanhf
#include "nn/fused_kernels.h"
#undef T
#undef SFX
#undef EXP
#undef TANH

/* The checks of a step on (x, y) (x's data is not read) and its buffers. */
static bp_status check_and_ensure(bp_net *net, const bp_mat *x, const bp_mat *y, bp_error *err)
{
    if (net->spec.loss == BP_LOSS_NONE) return bp_err(err, BP_E_ARG, "the network has no loss");
    if (!y) return bp_err(err, BP_E_ARG, "no targets y for the loss");
    if (bp_spec_has_trick(&net->spec))   /* such a net takes the graph path (net.c) */
        return bp_err(err, BP_E_ARG, "the fused step has no bias trick");
    bp_status st = bp_net_check_xy(net, x, y, err);
    return st ? st : ensure(net, x->rows, err);
}

/* check_and_ensure, then X, Y: x's and y's data in the net's dtype. */
static bp_status prepare(bp_net *net, const bp_mat *x, const bp_mat *y, const void **X, const void **Y, bp_error *err)
{
    bp_status st = check_and_ensure(net, x, y, err);
    if (st) return st;
    struct bp_fused *f = net->fused;
    *X = as_dtype(x, net->dtype, f->x);
    *Y = as_dtype(y, net->dtype, f->y);
    f->xrows = NULL;
    f->m = x->rows;
    f->share = NULL;
    return BP_OK;
}

/* The step on a dense batch, as a share of a data-parallel step or alone. */
static bp_status dense_step(bp_net *net, const bp_mat *x, const bp_mat *y, double *loss, bp_step_share *share,
                            bp_error *err)
{
    const void *X = NULL, *Y = NULL;
    bp_status st = prepare(net, x, y, &X, &Y, err);
    if (st) return st;
    net->fused->share = share;
    double l;
    int f64 = net->dtype == BP_F64, m = x->rows, mn = share ? share->total : m;
    if (small_net(net, m)) {
        l = f64 ? small_pass_f64(net, X, Y, m, mn, loss != NULL, 0) : small_pass_f32(net, X, Y, m, mn, loss != NULL, 0);
        share_all(net);
    } else if (f64) fused_pass_f64(net, X, Y, m, &l);
    else fused_pass_f32(net, X, Y, m, &l);
    net->fused->share = NULL;
    if (loss) *loss = l;
    return BP_OK;
}

bp_status bp_fused_backprop(bp_net *net, const bp_mat *x, const bp_mat *y, double *loss, bp_error *err)
{
    return dense_step(net, x, y, loss, NULL, err);
}

bp_status bp_fused_sgd_step(bp_net *net, const bp_mat *x, const bp_mat *y, double lr, double *loss, bp_error *err)
{
    if (x && x->rows == 1 && lr > 0 && small_net(net, 1)) { /* the update inside the pass */
        const void *X = NULL, *Y = NULL;
        struct bp_fused *f = net->fused;
        if (f && y && net->spec.loss != BP_LOSS_NONE && x->cols == net->spec.inputs && y->rows == 1 &&
            y->cols == bp_spec_outputs(&net->spec)) {   /* the checks of prepare, passed; one sample needs no new buffer */
            X = as_dtype(x, net->dtype, f->x);
            Y = as_dtype(y, net->dtype, f->y);
            f->xrows = NULL;
            f->m = 1;
            f->share = NULL;
        } else {
            bp_status st = prepare(net, x, y, &X, &Y, err);
            if (st) return st;
        }
        double l = net->dtype == BP_F64 ? small_pass_f64(net, X, Y, 1, 1, loss != NULL, lr)
                                        : small_pass_f32(net, X, Y, 1, 1, loss != NULL, (float)lr);
        if (loss) *loss = l;
        return BP_OK;
    }
    bp_status st = bp_fused_backprop(net, x, y, loss, err);
    if (st) return st;
    if (net->dtype == BP_F64) {
        double *p = net->params;
        const double *g = net->grads;
        for (size_t i = 0; i < net->nparams; i++) p[i] -= lr * g[i];
    } else {
        float *p = net->params, flr = (float)lr;
        const float *g = net->grads;
        for (size_t i = 0; i < net->nparams; i++) p[i] -= flr * g[i];
    }
    return BP_OK;
}

bp_status bp_fused_backprop_rows(bp_net *net, const float *X, int features, const int *rows, int m, const bp_mat *y,
                                 double *loss, bp_step_share *share, bp_error *err)
{
    const bp_net_spec *s = &net->spec;
    bp_mat x = {m, features, BP_F32, NULL};
    bp_status st = check_and_ensure(net, &x, y, err);
    if (st) return st;
    if (!own_sgemm_now(net->fused) || !big_product(m, s->layers[0].units, s->inputs)) { /* gather, then the dense step */
        float *xb = net->dtype == BP_F32 ? net->fused->x : NULL;
        if (!xb) { /* f64: convert while gathering */
            double *d = net->fused->x;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < features; j++) d[(size_t)i * features + j] = X[(size_t)rows[i] * features + j];
            x = (bp_mat){m, features, BP_F64, d};
        } else {
            for (int i = 0; i < m; i++) memcpy(xb + (size_t)i * features, X + (size_t)rows[i] * features, (size_t)features * sizeof *xb);
            x.data = xb;
        }
        return dense_step(net, &x, y, loss, share, err);
    }
    struct bp_fused *f = net->fused;
    f->xs = X;
    f->ldx = (size_t)features;
    f->xrows = rows;
    f->share = share;
    double l;
    fused_pass_f32(net, X, as_dtype(y, BP_F32, f->y), m, &l);
    f->xrows = NULL;
    f->share = NULL;
    f->m = m;
    if (loss) *loss = l;
    return BP_OK;
}

bp_mat bp_fused_output(const bp_net *net)
{
    bp_mat m = {0, 0, net->dtype, NULL};
    if (!net->fused) return m;
    m.rows = net->fused->m;
    m.cols = bp_spec_outputs(&net->spec);
    m.data = net->fused->a[net->spec.nlayers - 1];
    return m;
}
