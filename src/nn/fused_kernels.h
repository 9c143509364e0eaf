/* nn/fused_kernels.h - the fused training step for one dtype (a template:
 * fused.c includes it with T = float, SFX(x) = x##_f32 and T = double,
 * SFX(x) = x##_f64).
 *
 * The same mathematics as the graph (ops_kernels.h), layer by layer, with
 * bias and activation fused into one pass after the matrix product and the
 * activation derivative fused into the backward pass:
 *   forward   Z = A W^T + b (out_in) or A W + b (in_out);  A = g(Z)
 *   output    G = dL/dZ_L: s (yhat S - y) for softmax+CE, s (yhat - y) for
 *             sigmoid+BCE, s c (yhat - y) (x) g'(Z_L) for (half) squared
 *   backward  dW = G^T A_prev (out_in) or A_prev^T G (in_out); db = sum_i G_i;
 *             dA_prev = G W (out_in) or G W^T (in_out); G_prev = dA_prev (x) g'(Z_prev)
 * Small products run as plain loops (a BLAS call costs more than the work);
 * large ones go to big_mm (fused.c: the own kernel of sgemm.c for f32 on
 * AVX-512 and AVX2 CPUs, else OpenBLAS). fused_pass is BP_HOT (built for
 * AVX-512, AVX2 and baseline x86-64, core/base.h) and its helpers are forced
 * inline so that their loops are vectorised for the CPU at hand.
 */

/* C (m x n) = A (m x k) op(B) [+ C], op(B) = B^T when tb (B is n x k) else B
 * (k x n); or with ta, C = A^T B where A is k x m. Row-major, dense; X (the
 * input batch) may appear as A or B given by its rows (xrows, see fused.c). */
BP_INLINE void SFX(mm)(struct bp_fused *f, int ta, int tb, int m, int n, int k, const T *A, const T *B, T *C,
                       int accumulate)
{
    if (big_product(m, n, k)) {
        SFX(big_mm)(f, ta, tb, m, n, k, A, B, C, accumulate);
        return;
    }
    /* three plain loops, one per transpose case, so each inner loop is simple */
    if (ta) {        /* C = A^T B: A is k x m, B is k x n */
        for (size_t i = 0; i < (size_t)m * n; i++) C[i] = accumulate ? C[i] : 0;
        for (int p = 0; p < k; p++)
            for (int i = 0; i < m; i++) {
                T a = A[(size_t)p * m + i];
                for (int j = 0; j < n; j++) C[(size_t)i * n + j] += a * B[(size_t)p * n + j];
            }
    } else if (tb) { /* C = A B^T: dot products of rows */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                T s = accumulate ? C[(size_t)i * n + j] : 0;
                for (int p = 0; p < k; p++) s += A[(size_t)i * k + p] * B[(size_t)j * k + p];
                C[(size_t)i * n + j] = s;
            }
    } else {         /* C = A B */
        for (int i = 0; i < m; i++) {
            T *c = C + (size_t)i * n;
            if (!accumulate) for (int j = 0; j < n; j++) c[j] = 0;
            for (int p = 0; p < k; p++) {
                T a = A[(size_t)i * k + p];
                for (int j = 0; j < n; j++) c[j] += a * B[(size_t)p * n + j];
            }
        }
    }
}

/* Z += b (row broadcast) and A = g(Z), in one pass. */
BP_INLINE void SFX(bias_act)(T *Z, T *A, const T *b, int m, int u, bp_act act)
{
    for (int i = 0; i < m; i++) {
        T *z = Z + (size_t)i * u, *a = A + (size_t)i * u;
        if (b)
            for (int j = 0; j < u; j++) z[j] += b[j];
        switch (act) {
        case BP_ACT_SIGMOID:
            for (int j = 0; j < u; j++) a[j] = SFX(bp_sigmoid)(z[j]);
            break;
        case BP_ACT_RELU:
            for (int j = 0; j < u; j++) a[j] = z[j] > 0 ? z[j] : 0;
            break;
        case BP_ACT_TANH:
            for (int j = 0; j < u; j++) a[j] = TANH(z[j]);
            break;
        case BP_ACT_STEP:
            for (int j = 0; j < u; j++) a[j] = z[j] > 0 ? 1 : 0;
            break;
        case BP_ACT_SOFTMAX: {
            T mx = z[0], s = 0;
            for (int j = 1; j < u; j++) if (z[j] > mx) mx = z[j];
            for (int j = 0; j < u; j++) s += (a[j] = EXP(z[j] - mx));
            for (int j = 0; j < u; j++) a[j] /= s;
            break;
        }
        default: /* linear: A is Z */
            break;
        }
    }
}

/* G = dA (x) g'(Z) in place (G holds dA on entry), written with A; ReLU with
 * relu'(0) = 1 (at0, the net's bp_kinks) reads Z, where A cannot tell z = 0
 * from z < 0 (Z may be NULL otherwise). */
BP_INLINE void SFX(act_backward)(T *G, const T *A, const T *Z, int m, int u, bp_act act, int at0)
{
    size_t n = (size_t)m * u;
    switch (act) {
    case BP_ACT_SIGMOID: for (size_t i = 0; i < n; i++) G[i] *= A[i] * (1 - A[i]); break;
    case BP_ACT_RELU:   /* 1[z > 0] (A > 0 is z > 0), or 1[z >= 0] */
        if (at0) for (size_t i = 0; i < n; i++) G[i] = Z[i] >= 0 ? G[i] : 0;
        else for (size_t i = 0; i < n; i++) G[i] = A[i] > 0 ? G[i] : 0;
        break;
    case BP_ACT_TANH: for (size_t i = 0; i < n; i++) G[i] *= 1 - A[i] * A[i]; break;
    case BP_ACT_STEP: for (size_t i = 0; i < n; i++) G[i] = 0; break;   /* g' = 0: no gradient passes */
    case BP_ACT_SOFTMAX: /* the full Jacobian: g_j = a_j (d_j - sum_k d_k a_k) */
        for (int i = 0; i < m; i++) {
            T *g = G + (size_t)i * u, dot = 0;
            const T *a = A + (size_t)i * u;
            for (int j = 0; j < u; j++) dot += g[j] * a[j];
            for (int j = 0; j < u; j++) g[j] = a[j] * (g[j] - dot);
        }
        break;
    default: break;
    }
}

/* Loss of the output layer and G = dL/dZ_L over m rows. Returns the reduced
 * loss. A mean divides by mn: m, or the rows of the whole batch when these m
 * are one process's share of it (a data-parallel step, whose shares' sums add
 * up to the batch's mean). */
BP_INLINE double SFX(output_grad)(const bp_net *net, const T *Z, const T *A, const T *Y, T *G, int m, int mn, int u,
                                  int want_loss)
{
    const bp_net_spec *s = &net->spec;
    double L = 0;
    T sc = s->reduction == BP_MEAN ? (T)(1.0 / mn) : 1;
    bp_act act = s->layers[s->nlayers - 1].act;
    size_t n = (size_t)m * u;
    switch (s->loss) {
    case BP_LOSS_CE: /* per row: (sum_j y_j) lse(z) - sum_j y_j z_j; G = s (yhat S - y) */
        for (int i = 0; i < m; i++) {
            const T *z = Z + (size_t)i * u, *y = Y + (size_t)i * u, *a = A + (size_t)i * u;
            T *g = G + (size_t)i * u, mx = z[0];
            double se = 0, ysum = 0, yz = 0;
            for (int j = 1; j < u; j++) if (z[j] > mx) mx = z[j];
            for (int j = 0; j < u; j++) se += EXP(z[j] - mx);
            for (int j = 0; j < u; j++) { ysum += y[j]; if (y[j] != 0) yz += (double)y[j] * z[j]; }
            if (want_loss) L += ysum * (mx + log(se)) - yz;
            for (int j = 0; j < u; j++) g[j] = sc * (a[j] * (T)ysum - y[j]);
        }
        break;
    case BP_LOSS_BCE: /* max(z,0) - z y + log(1 + e^-|z|); G = s (yhat - y) */
        for (size_t i = 0; i < n; i++) {
            double z = Z[i];
            if (want_loss) L += bp_bce_logit(z, Y[i]);
            G[i] = sc * (A[i] - Y[i]);
        }
        break;
    case BP_LOSS_ZERO_ONE: /* misclassified rows (the rule of ops_kernels.h); G = 0 */
        for (int i = 0; i < m; i++) {
            const T *a = A + (size_t)i * u, *y = Y + (size_t)i * u;
            int ca = 0, cy = 0;
            if (u == 1) { ca = a[0] >= (T)0.5; cy = y[0] >= (T)0.5; }
            for (int j = 1; j < u; j++) { ca = a[j] > a[ca] ? j : ca; cy = y[j] > y[cy] ? j : cy; }
            L += ca != cy;
        }
        for (size_t i = 0; i < n; i++) G[i] = 0;
        break;
    default: { /* (half) squared: (yhat - y)^2; dA = 2 s (yhat - y) or s (yhat - y) */
        T c = s->loss == BP_LOSS_HALF_SQUARED ? sc : 2 * sc;
        for (size_t i = 0; i < n; i++) {
            T d = A[i] - Y[i];
            L += (double)d * d;
            G[i] = c * d;
        }
        if (s->loss == BP_LOSS_HALF_SQUARED) L *= 0.5;
        SFX(act_backward)(G, A, Z, m, u, act, net->kinks.relu_at_zero);
    }
    }
    return L * (s->reduction == BP_MEAN ? 1.0 / mn : 1.0);
}

/* The elementwise passes of a layer on the threads of the products, each
 * thread a block of rows (whole cache lines of rows apart: rows of 16 or
 * more floats). Each value is computed as on one thread: the same bits for
 * any number of threads. */
typedef struct {
    T *Z, *A;          /* forward: Z += b, A = g(Z); backward: G = Z (x) g'(A's Z) */
    const T *b, *Zs;
    int m, u, backward, at0;
    bp_act act;
} SFX(ew_job);

BP_HOT static void SFX(ew_part)(void *arg, int t, int nt)
{
    const SFX(ew_job) *j = arg;
    size_t lo, hi;
    bp_pool_part((size_t)j->m, 1, t, nt, &lo, &hi);
    size_t o = lo * (size_t)j->u;
    int rows = (int)(hi - lo);
    if (rows <= 0) return;
    if (j->backward) SFX(act_backward)(j->Z + o, j->A + o, j->Zs ? j->Zs + o : NULL, rows, j->u, j->act, j->at0);
    else SFX(bias_act)(j->Z + o, j->A + o, j->b, rows, j->u, j->act);
}

/* Run an elementwise pass on the step's threads (f->ws_t, the own product's)
 * when each gets at least EW_MIN values, else here. */
static void SFX(ew_run)(const struct bp_fused *f, SFX(ew_job) *j)
{
    int nt = bp_pool_threads(own_sgemm_now(f) ? f->ws_t : 1, (double)j->m * j->u, EW_MIN);
    if (nt > j->m) nt = j->m;
    if (nt <= 1) SFX(ew_part)(j, 0, 1);
    else bp_pool_run(nt, SFX(ew_part), j);
}

/* With a share (f->share, a data-parallel step), each layer's dW and db go to
 * the reducer as soon as they are final (share_layer, fused.c), and the
 * reducer may move data between the products (share_progress). */
BP_HOT static void SFX(fused_pass)(bp_net *net, const T *X, const T *Y, int m, double *loss)
{
    const bp_net_spec *s = &net->spec;
    struct bp_fused *f = net->fused;
    int mn = f->share ? f->share->total : m;
    int nl = s->nlayers, out_in = s->layout == BP_OUT_IN;
    T *P = net->params, *D = net->grads;
    const T *Aprev = X;
    for (int l = 0; l < nl; l++) {
        int k = bp_fan_in(s, l), u = s->layers[l].units;
        T *Z = (T *)f->z[l], *A = (T *)f->a[l];
        SFX(mm)(f, 0, out_in, m, u, k, Aprev, P + net->w_off[l], Z, 0);
        SFX(ew_job) ew = {Z, A, s->layers[l].bias ? P + net->b_off[l] : NULL, NULL, m, u, 0, 0, s->layers[l].act};
        SFX(ew_run)(f, &ew);   /* Z += b, A = g(Z) */
        Aprev = A;
    }
    int u = s->layers[nl - 1].units;
    T *G = (T *)f->g[0], *Gp = (T *)f->g[1];
    *loss = SFX(output_grad)(net, (T *)f->z[nl - 1], (T *)f->a[nl - 1], Y, G, m, mn, u, 1);
    for (int l = nl - 1; l >= 0; l--) {
        int k = bp_fan_in(s, l);
        u = s->layers[l].units;
        const T *Ain = l ? (T *)f->a[l - 1] : X;
        if (out_in) SFX(mm)(f, 1, 0, u, k, m, G, Ain, D + net->w_off[l], 0);  /* dW = G^T A_prev  (u x k) */
        else SFX(mm)(f, 1, 0, k, u, m, Ain, G, D + net->w_off[l], 0);         /* dW = A_prev^T G  (k x u) */
        if (s->layers[l].bias) {                                               /* db = sum_i G_i */
            T *db = D + net->b_off[l];
            for (int j = 0; j < u; j++) db[j] = 0;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < u; j++) db[j] += G[(size_t)i * u + j];
        }
        share_layer(net, l);                                                   /* layer l's gradient is final */
        if (l == 0) break;
        SFX(mm)(f, 0, !out_in, m, k, u, G, P + net->w_off[l], Gp, 0);         /* dA_prev = G W or G W^T */
        share_progress(f);
        SFX(ew_job) ew = {Gp, (T *)f->a[l - 1], NULL, (T *)f->z[l - 1], m, k, 1, net->kinks.relu_at_zero,
                          s->layers[l - 1].act};
        SFX(ew_run)(f, &ew);   /* G_prev = dA_prev (x) g'(Z_prev) */
        T *t = G;
        G = Gp;
        Gp = t;
    }
}

/* The loops of a narrow layer for one sample. W_jp (unit j, input p) is
 * W[j sj + p sp]; u units, k inputs. Each is written once for any size (the
 * _n form) and called through a switch that gives the widths of the course
 * notes' networks (1 to 4) a constant trip count, so that the compiler
 * unrolls the inner loop whole: in a 4-3-2-1 step the loop control would
 * cost more than the arithmetic. The same sums in the same order for every
 * size. */
#define SMALL_SWITCH(n, CALL)  \
    switch (n) {               \
    case 1: CALL(1); break;    \
    case 2: CALL(2); break;    \
    case 3: CALL(3); break;    \
    case 4: CALL(4); break;    \
    default: CALL(n); break;   \
    }

/* z_j = b_j + sum_p W_jp x_p, added in order of p (b may be NULL: 0) */
BP_INLINE void SFX(affine_n)(const T *W, size_t sj, size_t sp, const T *b, const T *x, T *z, int u, int k)
{
    for (int j = 0; j < u; j++) {
        const T *w = W + j * sj;
        T acc = b ? b[j] : 0;
        for (int p = 0; p < k; p++) acc += w[p * sp] * x[p];
        z[j] = acc;
    }
}
BP_INLINE void SFX(affine)(const T *W, size_t sj, size_t sp, const T *b, const T *x, T *z, int u, int k)
{
#define AFFINE(K) SFX(affine_n)(W, sj, sp, b, x, z, u, K)
    SMALL_SWITCH(k, AFFINE)
#undef AFFINE
}

/* d_p = sum_j g_j W_jp (dA_prev: G W or G W^T), added in order of j */
BP_INLINE void SFX(back_n)(const T *W, size_t sj, size_t sp, const T *g, T *d, int u, int k)
{
    for (int p = 0; p < k; p++) {
        const T *w = W + p * sp;
        T acc = 0;
        for (int j = 0; j < u; j++) acc += g[j] * w[j * sj];
        d[p] = acc;
    }
}
BP_INLINE void SFX(back)(const T *W, size_t sj, size_t sp, const T *g, T *d, int u, int k)
{
#define BACK(U) SFX(back_n)(W, sj, sp, g, d, U, k)
    SMALL_SWITCH(u, BACK)
#undef BACK
}

/* One sample's SGD step of a layer: dW_jp = s g_j x_p, W_jp -= lr dW_jp, and
 * the same for b (B may be NULL) */
BP_INLINE void SFX(sgd_n)(T *W, T *dW, T *B, T *dB, size_t sj, size_t sp, const T *g, T s, const T *x, T lr, int u,
                          int k)
{
    for (int j = 0; j < u; j++) {
        T gj = s * g[j], *w = W + j * sj, *dw = dW + j * sj;
        for (int p = 0; p < k; p++) {
            T d = gj * x[p];
            dw[p * sp] = d;
            w[p * sp] -= lr * d;
        }
        if (B) { dB[j] = gj; B[j] -= lr * gj; }
    }
}
BP_INLINE void SFX(sgd)(T *W, T *dW, T *B, T *dB, size_t sj, size_t sp, const T *g, T s, const T *x, T lr, int u,
                        int k)
{
#define SGD(K) SFX(sgd_n)(W, dW, B, dB, sj, sp, g, s, x, lr, u, K)
    SMALL_SWITCH(k, SGD)
#undef SGD
}
#undef SMALL_SWITCH

/* Narrow networks (every width at most SMALL_W): one sample at a time, every
 * vector on the stack, no pass over memory and no vectorised loop (their
 * set-up costs more than a 4-3-2-1 network's arithmetic). The same
 * mathematics as fused_pass. With lr > 0 (and m == 1) it is a whole SGD step:
 * each layer's parameters are updated, theta -= lr g, as soon as their
 * gradient is known and the layer's weights have been used for dA_prev.
 * Writes the output activations to f->a[last] and the gradients to D.
 * W_jp (unit j, input p) is W[j * sj + p * sp] in either layout. */
BP_INLINE double SFX(small_body)(bp_net *net, const T *X, const T *Y, int m, int mn, int want_loss, T lr,
                                 const int out_in)
{
    const bp_net_spec *s = &net->spec;
    int nl = s->nlayers, uo = s->layers[nl - 1].units;
    T *P = net->params, *D = net->grads, sc = s->reduction == BP_MEAN ? (T)(1.0 / mn) : 1;
    T a[BP_MAX_LAYERS][SMALL_W], zl[SMALL_W], gs[2][SMALL_W];
    T zh[BP_MAX_LAYERS][SMALL_W]; /* hidden z, kept apart from a only for relu'(0) = 1 */
    const int at0 = net->kinks.relu_at_zero;
    const T *in[BP_MAX_LAYERS]; /* the input of layer l: x, then a[l] */
    double L = 0;
    for (int i = 0; i < m; i++) {
        T *out = (T *)net->fused->a[nl - 1] + (size_t)i * uo;
        in[0] = X + (size_t)i * s->inputs;
        for (int l = 0; l < nl; l++) {
            int k = bp_fan_in(s, l), u = s->layers[l].units;
            size_t sj = out_in ? (size_t)k : 1, sp = out_in ? 1 : (size_t)u;
            const T *W = P + net->w_off[l], *b = s->layers[l].bias ? P + net->b_off[l] : NULL, *x = in[l];
            T *ao = l == nl - 1 ? out : a[l + 1], *z = l == nl - 1 ? zl : at0 ? zh[l + 1] : ao;
            SFX(affine)(W, sj, sp, b, x, z, u, k);
            SFX(bias_act)(z, ao, NULL, 1, u, s->layers[l].act);
            if (z != ao && s->layers[l].act == BP_ACT_LINEAR)
                for (int j = 0; j < u; j++) ao[j] = z[j];
            if (l + 1 < nl) in[l + 1] = ao;
        }
        T *g = gs[0], *gp = gs[1];   /* dL/dz of layer l, and of layer l - 1 */
        L += SFX(output_grad)(net, zl, out, Y + (size_t)i * uo, g, 1, 1, uo, want_loss);
        for (int l = nl - 1; l >= 0; l--) {
            int k = bp_fan_in(s, l), u = s->layers[l].units;
            size_t sj = out_in ? (size_t)k : 1, sp = out_in ? 1 : (size_t)u;
            T *W = P + net->w_off[l], *dW = D + net->w_off[l];
            T *B = s->layers[l].bias ? P + net->b_off[l] : NULL, *dB = B ? D + net->b_off[l] : NULL;
            const T *x = in[l];
            if (l > 0) { /* dA_prev = G W (out_in) or G W^T, then times g'(Z_prev), with the weights before any update */
                SFX(back)(W, sj, sp, g, gp, u, k); /* column p of W, j in order: the sum of G W's row-by-row form */
                SFX(act_backward)(gp, x, zh[l], 1, k, s->layers[l - 1].act, at0);
            }
            if (lr > 0) /* m == 1: the gradient, then the step */
                SFX(sgd)(W, dW, B, dB, sj, sp, g, sc, x, lr, u, k);
            else
                for (int j = 0; j < u; j++) {
                    T gj = sc * g[j], *dw = dW + j * sj;
                    if (i == 0) {             /* the first sample sets the gradient */
                        for (int p = 0; p < k; p++) dw[p * sp] = gj * x[p];
                        if (B) dB[j] = gj;
                    } else {                  /* the others add to it */
                        for (int p = 0; p < k; p++) dw[p * sp] += gj * x[p];
                        if (B) dB[j] += gj;
                    }
                }
            T *t = g;
            g = gp;
            gp = t;
        }
    }
    return s->reduction == BP_MEAN ? L / mn : L;
}

/* small_body with the layout a constant, so that each version's loops are plain.
 * A mean divides by mn (m, or the whole batch's rows in a data-parallel step). */
BP_SCALAR static double SFX(small_pass)(bp_net *net, const T *X, const T *Y, int m, int mn, int want_loss, T lr)
{
    return net->spec.layout == BP_OUT_IN ? SFX(small_body)(net, X, Y, m, mn, want_loss, lr, 1)
                                         : SFX(small_body)(net, X, Y, m, mn, want_loss, lr, 0);
}
