/* autodiff/ops_kernels.h - every op's forward and backward function, side by side.
 *
 * This file is a template: ops.c includes it twice, once with T = double and
 * SFX(name) = name##_f64, once with T = float and SFX(name) = name##_f32.
 * Each op is a pair fwd_X / bwd_X; the first line states the math in the
 * notation of the course notes (the gates as in CS577 Assignment 2). Forward
 * writes n->val. Backward ADDS (+=) into the gradients of the inputs that
 * require one (gradient pointer not NULL); g = n->grad is the upstream
 * gradient dL/d(this node).
 *
 * Shapes: a is the first input (rows x cols of that node), b the second.
 */

#define VAL(i) ((T *)g->nodes[(i)].val)
#define GRD(i) ((T *)g->nodes[(i)].grad)
#define SIZE(i) ((size_t)g->nodes[(i)].rows * (size_t)g->nodes[(i)].cols)
/* The shares of a max/min tie (bp_kinks.tie) and relu'(0) (bp_kinks.relu_at_zero). */
#define TIE_A(d) (g->kinks.tie == BP_TIE_FIRST ? (d) : (d) / 2)
#define TIE_B(d) (g->kinks.tie == BP_TIE_FIRST ? 0 : (d) / 2)
#define RELU_AT_ZERO (g->kinks.relu_at_zero)

/* ---- leaves: nothing to compute ---------------------------------------- */
static bp_status SFX(fwd_leaf)(bp_graph *g, bp_gnode *n, bp_error *err)
{ (void)g; (void)n; (void)err; return BP_OK; }
static void SFX(bwd_leaf)(bp_graph *g, bp_gnode *n) { (void)g; (void)n; }

/* ---- matmul: C = op(A) op(B);  dA = dC op(B)^T,  dB = op(A)^T dC --------- */
static bp_status SFX(fwd_matmul)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    (void)err;
    const bp_gnode *A = &g->nodes[n->in[0]], *B = &g->nodes[n->in[1]];
    int k = n->trans_a ? A->rows : A->cols;
    SFX(bp_gemm)(n->trans_a, n->trans_b, n->rows, n->cols, k, 1, A->val, A->cols,
                 B->val, B->cols, 0, n->val, n->cols);
    return BP_OK;
}
static void SFX(bwd_matmul)(bp_graph *g, bp_gnode *n)
{
    const bp_gnode *A = &g->nodes[n->in[0]], *B = &g->nodes[n->in[1]];
    int m = n->rows, nn = n->cols, k = n->trans_a ? A->rows : A->cols;
    if (A->grad) {
        if (!n->trans_a) /* dA (m x k) += dC (m x n) . op(B)^T (n x k) */
            SFX(bp_gemm)(0, !n->trans_b, m, k, nn, 1, n->grad, nn, B->val, B->cols, 1,
                         A->grad, A->cols);
        else             /* dA (k x m) += op(B) (k x n) . dC^T (n x m) */
            SFX(bp_gemm)(n->trans_b, 1, k, m, nn, 1, B->val, B->cols, n->grad, nn, 1,
                         A->grad, A->cols);
    }
    if (B->grad) {
        if (!n->trans_b) /* dB (k x n) += op(A)^T (k x m) . dC (m x n) */
            SFX(bp_gemm)(!n->trans_a, 0, k, nn, m, 1, A->val, A->cols, n->grad, nn, 1,
                         B->grad, B->cols);
        else             /* dB (n x k) += dC^T (n x m) . op(A) (m x k) */
            SFX(bp_gemm)(1, n->trans_a, nn, k, m, 1, n->grad, nn, A->val, A->cols, 1,
                         B->grad, B->cols);
    }
}

/* ---- bias add: z = x + b (b broadcast over rows); dx = dz, db = sum_i dz_i */
static bp_status SFX(fwd_bias_add)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    (void)err;
    const T *x = VAL(n->in[0]), *b = VAL(n->in[1]);
    T *z = n->val;
    for (int i = 0; i < n->rows; i++)
        for (int j = 0; j < n->cols; j++) z[(size_t)i * n->cols + j] = x[(size_t)i * n->cols + j] + b[j];
    return BP_OK;
}
static void SFX(bwd_bias_add)(bp_graph *g, bp_gnode *n)
{
    T *gx = GRD(n->in[0]), *gb = GRD(n->in[1]), *dz = n->grad;
    for (int i = 0; i < n->rows; i++)
        for (int j = 0; j < n->cols; j++) {
            T d = dz[(size_t)i * n->cols + j];
            if (gx) gx[(size_t)i * n->cols + j] += d;
            if (gb) gb[j] += d;
        }
}

/* Elementwise binary ops share one loop shape. */
#define BINARY_FWD(NAME, EXPR)                                              \
    static bp_status SFX(fwd_##NAME)(bp_graph *g, bp_gnode *n, bp_error *err) \
    {                                                                       \
        (void)err;                                                          \
        const T *A = VAL(n->in[0]), *B = VAL(n->in[1]);                     \
        T *y = n->val;                                                      \
        for (size_t i = 0, N = SIZE(n - g->nodes); i < N; i++) {            \
            T a = A[i], b = B[i];                                           \
            y[i] = (EXPR);                                                  \
        }                                                                   \
        return BP_OK;                                                       \
    }
#define BINARY_BWD(NAME, DA, DB)                                            \
    static void SFX(bwd_##NAME)(bp_graph *g, bp_gnode *n)                   \
    {                                                                       \
        const T *A = VAL(n->in[0]), *B = VAL(n->in[1]), *dy = n->grad;      \
        T *ga = GRD(n->in[0]), *gb = GRD(n->in[1]);                         \
        for (size_t i = 0, N = SIZE(n - g->nodes); i < N; i++) {            \
            T a = A[i], b = B[i], d = dy[i];                                \
            (void)a; (void)b;                                               \
            if (ga) ga[i] += (DA);                                          \
            if (gb) gb[i] += (DB);                                          \
        }                                                                   \
    }

/* add gate: y = a + b; passes the gradient unchanged to both inputs */
BINARY_FWD(add, a + b)
BINARY_BWD(add, d, d)
/* y = a - b; da = d, db = -d */
BINARY_FWD(sub, a - b)
BINARY_BWD(sub, d, -d)
/* mul gate: y = a * b (Hadamard); each input gets the other's value times d */
BINARY_FWD(mul, a * b)
BINARY_BWD(mul, d * b, d * a)
/* max gate: y = max(a, b); routes d to the larger input; on a tie half each (as PyTorch,
 * tie = half) or all to a (tie = first): the graph's convention, g->kinks */
BINARY_FWD(max, a >= b ? a : b)
BINARY_BWD(max, a > b ? d : (a == b ? TIE_A(d) : 0), b > a ? d : (a == b ? TIE_B(d) : 0))
/* min gate: y = min(a, b); routes d to the smaller input; a tie as for max */
BINARY_FWD(min, a <= b ? a : b)
BINARY_BWD(min, a < b ? d : (a == b ? TIE_A(d) : 0), b < a ? d : (a == b ? TIE_B(d) : 0))

/* A step is flat wherever it has a slope: its inputs receive nothing (da = db = 0). */
#define FLAT_BWD(NAME) static void SFX(bwd_##NAME)(bp_graph *g, bp_gnode *n) { (void)g; (void)n; }
/* comparisons: y = 1 where a > b (a >= b), else 0; da = db = 0 */
BINARY_FWD(gt, a > b ? 1 : 0)
FLAT_BWD(gt)
BINARY_FWD(ge, a >= b ? 1 : 0)
FLAT_BWD(ge)

/* y = a / b; da = d / b, db = -d a / b^2 (b = 0 is a domain error) */
static bp_status SFX(fwd_div)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    const T *A = VAL(n->in[0]), *B = VAL(n->in[1]);
    T *y = n->val;
    for (size_t i = 0, N = SIZE(n - g->nodes); i < N; i++) {
        if (B[i] == 0)
            return bp_err(err, BP_E_DOMAIN, "division by zero in node %d (%s / %s)",
                          (int)(n - g->nodes), bp_graph_node_label(g, n->in[0]),
                          bp_graph_node_label(g, n->in[1]));
        y[i] = A[i] / B[i];
    }
    return BP_OK;
}
BINARY_BWD(div, d / b, -d * a / (b * b))

/* Elementwise unary ops: y = f(a), da = d * f'(a) written with a and y. */
#define UNARY_FWD(NAME, EXPR)                                               \
    static bp_status SFX(fwd_##NAME)(bp_graph *g, bp_gnode *n, bp_error *err) \
    {                                                                       \
        (void)err;                                                          \
        const T *A = VAL(n->in[0]);                                         \
        T *y = n->val;                                                      \
        const T c = (T)n->c; (void)c;                                       \
        for (size_t i = 0, N = SIZE(n - g->nodes); i < N; i++) {            \
            T a = A[i];                                                     \
            y[i] = (EXPR);                                                  \
        }                                                                   \
        return BP_OK;                                                       \
    }
#define UNARY_BWD(NAME, DA)                                                 \
    static void SFX(bwd_##NAME)(bp_graph *g, bp_gnode *n)                   \
    {                                                                       \
        const T *A = VAL(n->in[0]), *Y = n->val, *dy = n->grad;             \
        T *ga = GRD(n->in[0]);                                              \
        const T c = (T)n->c; (void)c;                                       \
        if (!ga) return;                                                    \
        for (size_t i = 0, N = SIZE(n - g->nodes); i < N; i++) {            \
            T a = A[i], y = Y[i], d = dy[i];                                \
            (void)a; (void)y;                                               \
            ga[i] += (DA);                                                  \
        }                                                                   \
    }

/* y = -a; da = -d */
UNARY_FWD(neg, -a)
UNARY_BWD(neg, -d)
/* y = c a; da = c d */
UNARY_FWD(scale, c * a)
UNARY_BWD(scale, c * d)
/* y = a^2; da = 2 a d */
UNARY_FWD(square, a * a)
UNARY_BWD(square, 2 * a * d)
/* y = e^a; da = e^a d = y d */
UNARY_FWD(exp, EXP(a))
UNARY_BWD(exp, y * d)
/* y = |a|; da = sign(a) d, sign(0) = 0 (as PyTorch) */
UNARY_FWD(abs, a < 0 ? -a : a)
UNARY_BWD(abs, a > 0 ? d : (a < 0 ? -d : 0))
/* sigmoid: y = 1 / (1 + e^-a); da = y (1 - y) d (core/stable.h: e^x never overflows) */
UNARY_FWD(sigmoid, SFX(bp_sigmoid)(a))
UNARY_BWD(sigmoid, y * (1 - y) * d)
/* ReLU: y = max(a, 0); da = d if a > 0, 0 if a < 0; at a = 0, relu'(0) d with relu'(0) = 0
 * (as PyTorch) or 1 (the z >= 0 of HW Backprop): the graph's convention, g->kinks */
UNARY_FWD(relu, a > 0 ? a : 0)
UNARY_BWD(relu, a > 0 || (a == 0 && RELU_AT_ZERO) ? d : 0)
/* y = tanh a; da = (1 - y^2) d */
UNARY_FWD(tanh, TANH(a))
UNARY_BWD(tanh, (1 - y * y) * d)
/* step: y = 1[a > 0]; da = 0 (flat on both sides of 0; no derivative at 0, taken as 0) */
UNARY_FWD(step, a > 0 ? 1 : 0)
static void SFX(bwd_step)(bp_graph *g, bp_gnode *n) { (void)g; (void)n; }   /* da += 0 */

/* y = ln a; da = d / a (a <= 0 is a domain error) */
static bp_status SFX(fwd_log)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    const T *A = VAL(n->in[0]);
    T *y = n->val;
    for (size_t i = 0, N = SIZE(n - g->nodes); i < N; i++) {
        if (!(A[i] > 0))
            return bp_err(err, BP_E_DOMAIN, "log of a non-positive value (%.17g) in node %d (log(%s))",
                          (double)A[i], (int)(n - g->nodes), bp_graph_node_label(g, n->in[0]));
        y[i] = LOG(A[i]);
    }
    return BP_OK;
}
UNARY_BWD(log, d / a)

/* y = sqrt a; da = d / (2 y) (a < 0 is a domain error) */
static bp_status SFX(fwd_sqrt)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    const T *A = VAL(n->in[0]);
    T *y = n->val;
    for (size_t i = 0, N = SIZE(n - g->nodes); i < N; i++) {
        if (A[i] < 0)
            return bp_err(err, BP_E_DOMAIN, "sqrt of a negative value (%.17g) in node %d (sqrt(%s))",
                          (double)A[i], (int)(n - g->nodes), bp_graph_node_label(g, n->in[0]));
        y[i] = SQRT(A[i]);
    }
    return BP_OK;
}
UNARY_BWD(sqrt, d / (2 * y))

/* y = a^p; da = p a^(p-1) d (a < 0 with non-integer p, or 0 to a negative p, is a domain error) */
static bp_status SFX(fwd_pow)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    const T *A = VAL(n->in[0]);
    T *y = n->val;
    double p = n->c;
    int integral = p == floor(p);
    for (size_t i = 0, N = SIZE(n - g->nodes); i < N; i++) {
        if ((A[i] < 0 && !integral) || (A[i] == 0 && p < 0))
            return bp_err(err, BP_E_DOMAIN, "%.17g ^ %.17g is undefined in node %d (%s ^ %g)",
                          (double)A[i], p, (int)(n - g->nodes), bp_graph_node_label(g, n->in[0]), p);
        y[i] = (T)pow((double)A[i], p);
    }
    return BP_OK;
}
UNARY_BWD(pow, c == 0 ? 0 : (T)(c * pow((double)a, (double)c - 1)) * d)

/* softmax (row-wise): y_j = e^{a_j} / sum_k e^{a_k}; da_j = y_j (d_j - sum_k d_k y_k)
 * (the full Jacobian-vector product, not the diagonal alone). Max subtracted. */
static void SFX(softmax_rows)(const T *a, T *y, int rows, int cols)
{
    for (int i = 0; i < rows; i++) {
        const T *ai = a + (size_t)i * cols;
        T *yi = y + (size_t)i * cols, mx = ai[0], s = 0;
        for (int j = 1; j < cols; j++) if (ai[j] > mx) mx = ai[j];
        for (int j = 0; j < cols; j++) s += (yi[j] = EXP(ai[j] - mx));
        for (int j = 0; j < cols; j++) yi[j] /= s;
    }
}
static bp_status SFX(fwd_softmax)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    (void)err;
    SFX(softmax_rows)(VAL(n->in[0]), n->val, n->rows, n->cols);
    return BP_OK;
}
static void SFX(bwd_softmax)(bp_graph *g, bp_gnode *n)
{
    T *ga = GRD(n->in[0]);
    const T *y = n->val, *d = n->grad;
    if (!ga) return;
    for (int i = 0; i < n->rows; i++) {
        size_t o = (size_t)i * n->cols;
        T dot = 0;
        for (int j = 0; j < n->cols; j++) dot += d[o + j] * y[o + j];
        for (int j = 0; j < n->cols; j++) ga[o + j] += y[o + j] * (d[o + j] - dot);
    }
}

/* y = sum_i a_i; da_i = d */
static bp_status SFX(fwd_sum)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    (void)err;
    const T *A = VAL(n->in[0]);
    double s = 0;   /* accumulate in double: the loss is reported to full precision */
    for (size_t i = 0, N = SIZE(n->in[0]); i < N; i++) s += A[i];
    ((T *)n->val)[0] = (T)s;
    return BP_OK;
}
static void SFX(bwd_sum)(bp_graph *g, bp_gnode *n)
{
    T *ga = GRD(n->in[0]), d = ((T *)n->grad)[0];
    if (ga) for (size_t i = 0, N = SIZE(n->in[0]); i < N; i++) ga[i] += d;
}

/* y = (1/N) sum_i a_i; da_i = d / N */
static bp_status SFX(fwd_mean)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    (void)err;
    const T *A = VAL(n->in[0]);
    double s = 0;
    size_t N = SIZE(n->in[0]);
    for (size_t i = 0; i < N; i++) s += A[i];
    ((T *)n->val)[0] = (T)(s / (double)N);
    return BP_OK;
}
static void SFX(bwd_mean)(bp_graph *g, bp_gnode *n)
{
    size_t N = SIZE(n->in[0]);
    T *ga = GRD(n->in[0]), d = ((T *)n->grad)[0] / (T)N;
    if (ga) for (size_t i = 0; i < N; i++) ga[i] += d;
}

/* softmax + cross-entropy, fused: L = sum_i -sum_j y_ij log softmax(z_i)_j
 *   = sum_i [ (sum_j y_ij) lse(z_i) - sum_j y_ij z_ij ],  lse = log sum_k e^{z_ik};
 * dz_ij = d (yhat_ij sum_k y_ik - y_ij)  (= yhat - y for rows of y summing to 1);
 * dy_ij = d (lse(z_i) - z_ij) = -d log yhat_ij. No log(0), no overflow. */
static bp_status SFX(fwd_softmax_ce)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    (void)err;
    const bp_gnode *Z = &g->nodes[n->in[0]];
    const T *z = Z->val, *y = VAL(n->in[1]);
    T *p = n->aux;   /* softmax probabilities, kept for backward */
    int rows = Z->rows, cols = Z->cols;
    double L = 0;
    for (int i = 0; i < rows; i++) {
        const T *zi = z + (size_t)i * cols, *yi = y + (size_t)i * cols;
        T *pi = p + (size_t)i * cols, mx = zi[0];
        for (int j = 1; j < cols; j++) if (zi[j] > mx) mx = zi[j];
        double s = 0;
        for (int j = 0; j < cols; j++) s += (pi[j] = EXP(zi[j] - mx));
        for (int j = 0; j < cols; j++) pi[j] = (T)(pi[j] / s);
        double lse = mx + log(s), ysum = 0, yz = 0;
        for (int j = 0; j < cols; j++) { ysum += yi[j]; if (yi[j] != 0) yz += (double)yi[j] * zi[j]; }
        L += ysum * lse - yz;
    }
    ((T *)n->val)[0] = (T)L;
    return BP_OK;
}
static void SFX(bwd_softmax_ce)(bp_graph *g, bp_gnode *n)
{
    const bp_gnode *Z = &g->nodes[n->in[0]];
    const T *z = Z->val, *y = VAL(n->in[1]), *p = n->aux;
    T *gz = GRD(n->in[0]), *gy = GRD(n->in[1]), d = ((T *)n->grad)[0];
    int rows = Z->rows, cols = Z->cols;
    for (int i = 0; i < rows; i++) {
        size_t o = (size_t)i * cols;
        T ysum = 0;
        for (int j = 0; j < cols; j++) ysum += y[o + j];
        if (gz) for (int j = 0; j < cols; j++) gz[o + j] += d * (p[o + j] * ysum - y[o + j]);
        if (gy) {
            T mx = z[o];
            for (int j = 1; j < cols; j++) if (z[o + j] > mx) mx = z[o + j];
            T s = 0;
            for (int j = 0; j < cols; j++) s += EXP(z[o + j] - mx);
            T lse = mx + LOG(s);
            for (int j = 0; j < cols; j++) gy[o + j] += d * (lse - z[o + j]);
        }
    }
}

/* sigmoid + binary cross-entropy, fused: L = sum -[y log s(z) + (1-y) log(1-s(z))]
 *   = sum [ max(z, 0) - z y + log(1 + e^-|z|) ];  dz = d (s(z) - y) = d (yhat - y);
 * dy = -d z. Stable for any |z|. */
static bp_status SFX(fwd_sigmoid_bce)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    (void)err;
    const T *z = VAL(n->in[0]), *y = VAL(n->in[1]);
    double L = 0;
    for (size_t i = 0, N = SIZE(n->in[0]); i < N; i++) L += bp_bce_logit(z[i], y[i]);
    ((T *)n->val)[0] = (T)L;
    return BP_OK;
}
static void SFX(bwd_sigmoid_bce)(bp_graph *g, bp_gnode *n)
{
    const T *z = VAL(n->in[0]), *y = VAL(n->in[1]);
    T *gz = GRD(n->in[0]), *gy = GRD(n->in[1]), d = ((T *)n->grad)[0];
    for (size_t i = 0, N = SIZE(n->in[0]); i < N; i++) {
        T s = SFX(bp_sigmoid)(z[i]);
        if (gz) gz[i] += d * (s - y[i]);
        if (gy) gy[i] += -d * z[i];
    }
}

/* 0-1 loss: L = sum_i 1[class(a_i) != class(y_i)], the class of a row its first
 * largest entry, or 1[v >= 0.5] for one column (the scoring rule of nn/eval.c);
 * da = dy = 0: piecewise constant, its derivative is 0 wherever it exists. */
static int SFX(row_class)(const T *r, int cols)
{
    if (cols == 1) return r[0] >= (T)0.5;
    int best = 0;
    for (int j = 1; j < cols; j++)
        if (r[j] > r[best]) best = j;
    return best;
}
static bp_status SFX(fwd_zero_one)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    (void)err;
    const bp_gnode *A = &g->nodes[n->in[0]];
    const T *a = A->val, *y = VAL(n->in[1]);
    double L = 0;
    for (int i = 0; i < A->rows; i++)
        L += SFX(row_class)(a + (size_t)i * A->cols, A->cols) != SFX(row_class)(y + (size_t)i * A->cols, A->cols);
    ((T *)n->val)[0] = (T)L;
    return BP_OK;
}
static void SFX(bwd_zero_one)(bp_graph *g, bp_gnode *n) { (void)g; (void)n; }
/* ---- the bias trick: y = [1, a] (m x (n+1)); da = dy without its first column */
static bp_status SFX(fwd_prepend_one)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    (void)err;
    const T *a = VAL(n->in[0]);
    T *y = n->val;
    int c = n->cols - 1;
    for (int i = 0; i < n->rows; i++) {
        y[(size_t)i * n->cols] = 1;
        for (int j = 0; j < c; j++) y[(size_t)i * n->cols + 1 + j] = a[(size_t)i * c + j];
    }
    return BP_OK;
}
static void SFX(bwd_prepend_one)(bp_graph *g, bp_gnode *n)
{
    T *ga = GRD(n->in[0]), *dy = n->grad;
    int c = n->cols - 1;
    if (!ga) return;
    for (int i = 0; i < n->rows; i++)
        for (int j = 0; j < c; j++) ga[(size_t)i * c + j] += dy[(size_t)i * n->cols + 1 + j];
}

/* ---- shape ops: the matrix language of `expr` and `check` ------------------ */

/* transpose: y (n x m) = a^T (a: m x n); da = d^T */
static bp_status SFX(fwd_transpose)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    (void)err;
    const T *a = VAL(n->in[0]);
    T *y = n->val;
    for (int i = 0; i < n->rows; i++)
        for (int j = 0; j < n->cols; j++) y[(size_t)i * n->cols + j] = a[(size_t)j * n->rows + i];
    return BP_OK;
}
static void SFX(bwd_transpose)(bp_graph *g, bp_gnode *n)
{
    T *ga = GRD(n->in[0]);
    const T *d = n->grad;
    if (!ga) return;
    for (int i = 0; i < n->rows; i++)
        for (int j = 0; j < n->cols; j++) ga[(size_t)j * n->rows + i] += d[(size_t)i * n->cols + j];
}

/* broadcast: y_ij = a_(i or 0)(j or 0) (a: 1 x 1, 1 x n over the rows, m x 1 over the
 * columns); da = d summed over the repeated axes (each copy passes its gradient back) */
static bp_status SFX(fwd_broadcast)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    (void)err;
    const bp_gnode *A = &g->nodes[n->in[0]];
    const T *a = A->val;
    T *y = n->val;
    for (int i = 0; i < n->rows; i++)
        for (int j = 0; j < n->cols; j++)
            y[(size_t)i * n->cols + j] = a[(size_t)(A->rows == 1 ? 0 : i) * A->cols + (A->cols == 1 ? 0 : j)];
    return BP_OK;
}
static void SFX(bwd_broadcast)(bp_graph *g, bp_gnode *n)
{
    const bp_gnode *A = &g->nodes[n->in[0]];
    T *ga = A->grad;
    const T *d = n->grad;
    if (!ga) return;
    for (int i = 0; i < n->rows; i++)
        for (int j = 0; j < n->cols; j++)
            ga[(size_t)(A->rows == 1 ? 0 : i) * A->cols + (A->cols == 1 ? 0 : j)] += d[(size_t)i * n->cols + j];
}

/* row sums: y_i = sum_j a_ij (m x 1); da_ij = d_i */
static bp_status SFX(fwd_rowsum)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    (void)err;
    const bp_gnode *A = &g->nodes[n->in[0]];
    const T *a = A->val;
    for (int i = 0; i < A->rows; i++) {
        double s = 0;
        for (int j = 0; j < A->cols; j++) s += a[(size_t)i * A->cols + j];
        ((T *)n->val)[i] = (T)s;
    }
    return BP_OK;
}
static void SFX(bwd_rowsum)(bp_graph *g, bp_gnode *n)
{
    const bp_gnode *A = &g->nodes[n->in[0]];
    T *ga = A->grad;
    const T *d = n->grad;
    if (!ga) return;
    for (int i = 0; i < A->rows; i++)
        for (int j = 0; j < A->cols; j++) ga[(size_t)i * A->cols + j] += d[i];
}

/* column sums: y_j = sum_i a_ij (1 x n); da_ij = d_j */
static bp_status SFX(fwd_colsum)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    (void)err;
    const bp_gnode *A = &g->nodes[n->in[0]];
    const T *a = A->val;
    for (int j = 0; j < A->cols; j++) {
        double s = 0;
        for (int i = 0; i < A->rows; i++) s += a[(size_t)i * A->cols + j];
        ((T *)n->val)[j] = (T)s;
    }
    return BP_OK;
}
static void SFX(bwd_colsum)(bp_graph *g, bp_gnode *n)
{
    const bp_gnode *A = &g->nodes[n->in[0]];
    T *ga = A->grad;
    const T *d = n->grad;
    if (!ga) return;
    for (int i = 0; i < A->rows; i++)
        for (int j = 0; j < A->cols; j++) ga[(size_t)i * A->cols + j] += d[j];
}

/* entry: y = a_ij (1 x 1); da_ij = d, every other entry of da 0 */
static bp_status SFX(fwd_entry)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    (void)err;
    const bp_gnode *A = &g->nodes[n->in[0]];
    ((T *)n->val)[0] = ((const T *)A->val)[(size_t)n->at[0] * A->cols + n->at[1]];
    return BP_OK;
}
static void SFX(bwd_entry)(bp_graph *g, bp_gnode *n)
{
    const bp_gnode *A = &g->nodes[n->in[0]];
    if (A->grad) ((T *)A->grad)[(size_t)n->at[0] * A->cols + n->at[1]] += ((T *)n->grad)[0];
}

/* stacking: y = [a; b] (rows of a, then rows of b); da = the top rows of d, db the rest */
static bp_status SFX(fwd_vcat)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    (void)err;
    size_t na = SIZE(n->in[0]), nb = SIZE(n->in[1]);
    memcpy(n->val, VAL(n->in[0]), na * sizeof(T));
    memcpy((T *)n->val + na, VAL(n->in[1]), nb * sizeof(T));
    return BP_OK;
}
static void SFX(bwd_vcat)(bp_graph *g, bp_gnode *n)
{
    T *ga = GRD(n->in[0]), *gb = GRD(n->in[1]);
    const T *d = n->grad;
    size_t na = SIZE(n->in[0]), nb = SIZE(n->in[1]);
    if (ga) for (size_t i = 0; i < na; i++) ga[i] += d[i];
    if (gb) for (size_t i = 0; i < nb; i++) gb[i] += d[na + i];
}

/* side by side: y = [a b] (the columns of a, then those of b); da, db: d's left and right columns */
static bp_status SFX(fwd_hcat)(bp_graph *g, bp_gnode *n, bp_error *err)
{
    (void)err;
    const bp_gnode *A = &g->nodes[n->in[0]], *B = &g->nodes[n->in[1]];
    T *y = n->val;
    for (int i = 0; i < n->rows; i++) {
        memcpy(y + (size_t)i * n->cols, (const T *)A->val + (size_t)i * A->cols, (size_t)A->cols * sizeof(T));
        memcpy(y + (size_t)i * n->cols + A->cols, (const T *)B->val + (size_t)i * B->cols, (size_t)B->cols * sizeof(T));
    }
    return BP_OK;
}
static void SFX(bwd_hcat)(bp_graph *g, bp_gnode *n)
{
    const bp_gnode *A = &g->nodes[n->in[0]], *B = &g->nodes[n->in[1]];
    T *ga = A->grad, *gb = B->grad;
    const T *d = n->grad;
    for (int i = 0; i < n->rows; i++) {
        if (ga) for (int j = 0; j < A->cols; j++) ga[(size_t)i * A->cols + j] += d[(size_t)i * n->cols + j];
        if (gb) for (int j = 0; j < B->cols; j++) gb[(size_t)i * B->cols + j] += d[(size_t)i * n->cols + A->cols + j];
    }
}

/* The table, indexed by bp_op. */
static const bp_op_def SFX(op_table)[BP_OP_COUNT] = {
    [BP_OP_LEAF] = {"leaf", 0, SFX(fwd_leaf), SFX(bwd_leaf)},
    [BP_OP_MATMUL] = {"matmul", 2, SFX(fwd_matmul), SFX(bwd_matmul)},
    [BP_OP_BIAS_ADD] = {"bias_add", 2, SFX(fwd_bias_add), SFX(bwd_bias_add)},
    [BP_OP_ADD] = {"add", 2, SFX(fwd_add), SFX(bwd_add)},
    [BP_OP_SUB] = {"sub", 2, SFX(fwd_sub), SFX(bwd_sub)},
    [BP_OP_MUL] = {"mul", 2, SFX(fwd_mul), SFX(bwd_mul)},
    [BP_OP_DIV] = {"div", 2, SFX(fwd_div), SFX(bwd_div)},
    [BP_OP_MAX] = {"max", 2, SFX(fwd_max), SFX(bwd_max)},
    [BP_OP_MIN] = {"min", 2, SFX(fwd_min), SFX(bwd_min)},
    [BP_OP_NEG] = {"neg", 1, SFX(fwd_neg), SFX(bwd_neg)},
    [BP_OP_SCALE] = {"scale", 1, SFX(fwd_scale), SFX(bwd_scale)},
    [BP_OP_SQUARE] = {"square", 1, SFX(fwd_square), SFX(bwd_square)},
    [BP_OP_POW] = {"pow", 1, SFX(fwd_pow), SFX(bwd_pow)},
    [BP_OP_EXP] = {"exp", 1, SFX(fwd_exp), SFX(bwd_exp)},
    [BP_OP_LOG] = {"log", 1, SFX(fwd_log), SFX(bwd_log)},
    [BP_OP_SQRT] = {"sqrt", 1, SFX(fwd_sqrt), SFX(bwd_sqrt)},
    [BP_OP_ABS] = {"abs", 1, SFX(fwd_abs), SFX(bwd_abs)},
    [BP_OP_SIGMOID] = {"sigmoid", 1, SFX(fwd_sigmoid), SFX(bwd_sigmoid)},
    [BP_OP_RELU] = {"relu", 1, SFX(fwd_relu), SFX(bwd_relu)},
    [BP_OP_TANH] = {"tanh", 1, SFX(fwd_tanh), SFX(bwd_tanh)},
    [BP_OP_SOFTMAX] = {"softmax", 1, SFX(fwd_softmax), SFX(bwd_softmax)},
    [BP_OP_SUM] = {"sum", 1, SFX(fwd_sum), SFX(bwd_sum)},
    [BP_OP_MEAN] = {"mean", 1, SFX(fwd_mean), SFX(bwd_mean)},
    [BP_OP_SOFTMAX_CE] = {"softmax_cross_entropy", 2, SFX(fwd_softmax_ce), SFX(bwd_softmax_ce)},
    [BP_OP_SIGMOID_BCE] = {"sigmoid_bce", 2, SFX(fwd_sigmoid_bce), SFX(bwd_sigmoid_bce)},
    [BP_OP_STEP] = {"step", 1, SFX(fwd_step), SFX(bwd_step)},
    [BP_OP_ZERO_ONE] = {"zero_one", 2, SFX(fwd_zero_one), SFX(bwd_zero_one)},
    [BP_OP_PREPEND_ONE] = {"prepend_one", 1, SFX(fwd_prepend_one), SFX(bwd_prepend_one)},
    [BP_OP_TRANSPOSE] = {"transpose", 1, SFX(fwd_transpose), SFX(bwd_transpose)},
    [BP_OP_BROADCAST] = {"broadcast", 1, SFX(fwd_broadcast), SFX(bwd_broadcast)},
    [BP_OP_ROWSUM] = {"rowsum", 1, SFX(fwd_rowsum), SFX(bwd_rowsum)},
    [BP_OP_COLSUM] = {"colsum", 1, SFX(fwd_colsum), SFX(bwd_colsum)},
    [BP_OP_ENTRY] = {"entry", 1, SFX(fwd_entry), SFX(bwd_entry)},
    [BP_OP_GT] = {"gt", 2, SFX(fwd_gt), SFX(bwd_gt)},
    [BP_OP_GE] = {"ge", 2, SFX(fwd_ge), SFX(bwd_ge)},
    [BP_OP_VCAT] = {"vcat", 2, SFX(fwd_vcat), SFX(bwd_vcat)},
    [BP_OP_HCAT] = {"hcat", 2, SFX(fwd_hcat), SFX(bwd_hcat)},
};

#undef VAL
#undef GRD
#undef SIZE
#undef TIE_A
#undef TIE_B
#undef RELU_AT_ZERO
#undef BINARY_FWD
#undef BINARY_BWD
#undef UNARY_FWD
#undef UNARY_BWD
#undef FLAT_BWD
