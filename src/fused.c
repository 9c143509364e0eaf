/* fused.c - the fused training step: forward, loss and backward of an MLP
 * without building a graph, with bias+activation and their derivatives fused
 * into the passes over memory (fused_kernels.h, instantiated for f32 and
 * f64). Used by the trainer and bp_net_train_step; the graph path (net.c)
 * stays the reference, and tests/test_fused.c checks one against the other.
 * Buffers are sized for the largest batch seen, so a training step allocates
 * nothing after the first batch. */
#include "net_internal.h"

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
};

void bp_fused_free(struct bp_fused *f)
{
    if (!f) return;
    for (int l = 0; l < BP_MAX_LAYERS; l++) {
        if (f->a[l] != f->z[l]) free(f->a[l]);
        free(f->z[l]);
    }
    free(f->g[0]); free(f->g[1]); free(f->x); free(f->y);
    free(f);
}

static bp_status ensure(bp_net *net, int m, bp_error *err)
{
    struct bp_fused *f = net->fused;
    if (f && f->cap >= m) return BP_OK;
    bp_fused_free(f);
    net->fused = f = bp_calloc(1, sizeof *f, err);
    if (!f) return BP_E_NOMEM;
    const bp_net_spec *s = &net->spec;
    size_t es = bp_dtype_size(net->dtype);
    int widest = s->inputs;
    for (int l = 0; l < s->nlayers; l++) {
        int u = s->layers[l].units;
        if (u > widest) widest = u;
        if (!(f->z[l] = bp_malloc((size_t)m * u * es, err))) goto fail;
        f->a[l] = s->layers[l].act == BP_ACT_LINEAR ? f->z[l] : bp_malloc((size_t)m * u * es, err);
        if (!f->a[l]) goto fail;
    }
    if (!(f->g[0] = bp_malloc((size_t)m * widest * es, err)) || !(f->g[1] = bp_malloc((size_t)m * widest * es, err)) ||
        !(f->x = bp_malloc((size_t)m * s->inputs * es, err)) ||
        !(f->y = bp_malloc((size_t)m * s->layers[s->nlayers - 1].units * es, err)))
        goto fail;
    f->cap = m;
    return BP_OK;
fail:
    bp_fused_free(f);
    net->fused = NULL;
    return BP_E_NOMEM;
}

/* A pointer to m's data in the net's dtype: itself, or a converted copy in buf. */
static const void *as_dtype(const bp_mat *m, bp_dtype dt, void *buf)
{
    if (m->dtype == dt) return m->data;
    bp_mat d = {m->rows, m->cols, dt, buf};
    for (int i = 0; i < m->rows; i++)
        for (int j = 0; j < m->cols; j++) bp_mat_set(&d, i, j, bp_mat_get(m, i, j));
    return buf;
}

#define T double
#define SFX(x) x##_f64
#define EXP exp
#define TANH tanh
#include "fused_kernels.h"
#undef T
#undef SFX
#undef EXP
#undef TANH
#define T float
#define SFX(x) x##_f32
#define EXP expf
#define TANH tanhf
#include "fused_kernels.h"
#undef T
#undef SFX
#undef EXP
#undef TANH

bp_status bp_fused_backprop(bp_net *net, const bp_mat *x, const bp_mat *y, double *loss, bp_error *err)
{
    const bp_net_spec *s = &net->spec;
    if (s->loss == BP_LOSS_NONE) return bp_err(err, BP_E_ARG, "the network has no loss");
    if (!y) return bp_err(err, BP_E_ARG, "no targets y for the loss");
    bp_status st = bp_net_check_xy(net, x, y, err);
    if (!st) st = ensure(net, x->rows, err);
    if (st) return st;
    struct bp_fused *f = net->fused;
    const void *X = as_dtype(x, net->dtype, f->x), *Y = as_dtype(y, net->dtype, f->y);
    double l;
    if (net->dtype == BP_F64) fused_pass_f64(net, X, Y, x->rows, &l);
    else fused_pass_f32(net, X, Y, x->rows, &l);
    f->m = x->rows;
    if (loss) *loss = l;
    return BP_OK;
}

bp_mat bp_fused_output(const bp_net *net)
{
    bp_mat m = {0, 0, net->dtype, NULL};
    if (!net->fused) return m;
    m.rows = net->fused->m;
    m.cols = bp_net_outputs(net);
    m.data = net->fused->a[net->spec.nlayers - 1];
    return m;
}
