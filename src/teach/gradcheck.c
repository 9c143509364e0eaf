/* teach/gradcheck.c - central finite differences against backprop.
 *   dL/dw ~ (L(w-2h) - 8 L(w-h) + 8 L(w+h) - L(w+2h)) / (12 h)
 * (the five-point central stencil: its truncation error is O(h^4), so a
 * larger h keeps rounding noise small) for every weight, bias and input, in
 * f64. An entry whose +-eps evaluations
 * put some ReLU or step pre-activation on a different side of its kink than
 * the unperturbed pass, or (0-1 loss) change a predicted class, is skipped:
 * there the difference quotient is not the derivative. */
#include "core/error.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Relative error, with a floor under the denominator: the rounding noise of
 * the loss, about |L| ulp, divided by the step, makes difference quotients
 * meaningless below ~1e6 ulp |L| / eps; entries that small are compared
 * against the floor instead of against themselves. */
static double rel_err(double a, double n, double floor)
{
    double d = fabs(a - n), s = fmax(fmax(fabs(a), fabs(n)), floor);
    return d / s;
}

/* Sign pattern of every ReLU and step pre-activation (-1, 0, 1), and with
 * the 0-1 loss the predicted classes (1 where an output is its row's first
 * largest, or >= 0.5 for one output), written to sig. */
static size_t relu_signs(bp_net *net, signed char *sig)
{
    const bp_net_spec *s = bp_net_get_spec(net);
    size_t k = 0;
    if (s->loss == BP_LOSS_ZERO_ONE) {
        bp_mat a = bp_net_a(net, s->nlayers - 1);
        for (int i = 0; i < a.rows; i++) {
            int c = 0;
            for (int j = 1; j < a.cols; j++) c = bp_mat_get(&a, i, j) > bp_mat_get(&a, i, c) ? j : c;
            for (int j = 0; j < a.cols; j++, k++)
                if (sig) sig[k] = (signed char)(a.cols == 1 ? bp_mat_get(&a, i, 0) >= 0.5 : j == c);
        }
    }
    for (int l = 0; l < s->nlayers; l++) {
        if (s->layers[l].act != BP_ACT_RELU && s->layers[l].act != BP_ACT_STEP) continue;
        bp_mat z = bp_net_z(net, l);
        for (int i = 0; i < z.rows; i++)
            for (int j = 0; j < z.cols; j++) {
                double v = bp_mat_get(&z, i, j);
                if (sig) sig[k] = (signed char)((v > 0) - (v < 0));
                k++;
            }
    }
    return k;
}

typedef struct probe {
    bp_net *net;
    bp_mat x, y;
    signed char *base, *tmp;
    size_t nsig;
    double floor;      /* denominator floor of rel_err */
    size_t kinked;     /* entries skipped at a ReLU kink, so far */
} probe;

/* Loss at the current parameters; *same = 1 if no ReLU changed side. */
static bp_status eval(probe *p, double *loss, int *same, bp_error *err)
{
    bp_status st = bp_net_loss_value(p->net, &p->x, &p->y, loss, err);
    if (st) return st;
    relu_signs(p->net, p->tmp);
    *same = memcmp(p->tmp, p->base, p->nsig) == 0;
    return BP_OK;
}

/* Check n entries at `w` (parameters or inputs) against `analytic`. */
static bp_status check(probe *p, double *w, const double *analytic, size_t n, double eps, double *worst,
                       size_t *skipped, int *nonzero, bp_error *err)
{
    *worst = 0;
    *skipped = 0;
    *nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        static const double step[4] = {-2, -1, 1, 2};
        double keep = w[i], l[4];
        int same = 1, s;
        bp_status st = BP_OK;
        for (int k = 0; k < 4 && !st; k++) {
            w[i] = keep + step[k] * eps;
            st = eval(p, &l[k], &s, err);
            same &= s;
        }
        w[i] = keep;
        if (st) return st;
        if (!same) { (*skipped)++; continue; }
        /* differences first, so equal losses give exactly 0 */
        double num = (8 * (l[2] - l[1]) - (l[3] - l[0])) / (12 * eps);
        double e = rel_err(analytic[i], num, p->floor);
        if (analytic[i] != 0 || num != 0) *nonzero = 1;
        if (e > *worst || isnan(e)) *worst = isnan(e) ? INFINITY : e;
    }
    return BP_OK;
}

static void report(FILE *out, const char *name, int rows, int cols, double worst, size_t skipped, int nonzero,
                   size_t n)
{
    if (!out) return;
    fprintf(out, "%-6s %4d x %-4d  worst relative error %.3e", name, rows, cols, worst);
    if (skipped) fprintf(out, "  (%zu of %zu entr%s at a kink, not compared)", skipped, n, skipped == 1 ? "y" : "ies");
    if (!nonzero && skipped < n) fprintf(out, "  (all gradients are zero)");
    fputc('\n', out);
}

bp_status bp_gradcheck(bp_model *m, double eps, FILE *out, double *worst, bp_error *err)
{
    bp_mat x, y;
    if (!bp_model_data(m, &x, &y)) return bp_err(err, BP_E_VALUE, "no data to check the gradient on");
    if (y.rows == 0) return bp_err(err, BP_E_VALUE, "no targets y to check the gradient on");
    if (!(eps > 0)) return bp_err(err, BP_E_ARG, "eps must be positive");
    probe p = {0};
    bp_status st = bp_net_clone(bp_model_net(m), BP_F64, &p.net, err);
    if (st) return st;
    const bp_net_spec *s = bp_net_get_spec(p.net);
    size_t np = bp_net_nparams(p.net), nx = (size_t)x.rows * x.cols;
    double *an = NULL, *adx = NULL, *xs = NULL, loss;
    p.y = y;
    p.x = x;
    if (!(xs = bp_malloc(nx * sizeof *xs, err)) || !(an = bp_malloc(np * sizeof *an, err)) ||
        !(adx = bp_malloc(nx * sizeof *adx, err))) { st = BP_E_NOMEM; goto done; }
    memcpy(xs, x.data, nx * sizeof *xs);
    p.x.data = xs;
    if ((st = bp_net_backprop(p.net, &p.x, &p.y, 1, &loss, err))) goto done;
    memcpy(an, bp_net_grads(p.net), np * sizeof *an);
    p.floor = fmax(1e-7, 1e6 * DBL_EPSILON * fmax(1, fabs(loss)) / eps);
    bp_mat dx = bp_net_dx(p.net);
    memcpy(adx, dx.data, nx * sizeof *adx);
    p.nsig = relu_signs(p.net, NULL);
    if (!(p.base = bp_malloc(p.nsig + 1, err)) || !(p.tmp = bp_malloc(p.nsig + 1, err))) { st = BP_E_NOMEM; goto done; }
    relu_signs(p.net, p.base);

    *worst = 0;
    double *params = bp_net_params(p.net), e;
    size_t skipped;
    int nonzero;
    char name[16];
    for (int l = 0; l < s->nlayers; l++) {
        bp_mat W = bp_net_weight(p.net, l), B = bp_net_bias(p.net, l);
        size_t off = (size_t)((double *)W.data - params), nw = (size_t)W.rows * W.cols;
        if ((st = check(&p, params + off, an + off, nw, eps, &e, &skipped, &nonzero, err))) goto done;
        snprintf(name, sizeof name, "W%d", l + 1);
        report(out, name, W.rows, W.cols, e, skipped, nonzero, nw);
        p.kinked += skipped;
        *worst = fmax(*worst, e);
        if (B.rows) {
            off = (size_t)((double *)B.data - params);
            if ((st = check(&p, params + off, an + off, (size_t)B.cols, eps, &e, &skipped, &nonzero, err))) goto done;
            snprintf(name, sizeof name, "b%d", l + 1);
            report(out, name, 1, B.cols, e, skipped, nonzero, (size_t)B.cols);
            p.kinked += skipped;
            *worst = fmax(*worst, e);
        }
    }
    if ((st = check(&p, xs, adx, nx, eps, &e, &skipped, &nonzero, err))) goto done;
    report(out, "x", x.rows, x.cols, e, skipped, nonzero, nx);
    *worst = fmax(*worst, e);
    p.kinked += skipped;
    if (out && p.kinked)
        fprintf(out, "%zu entr%s at a kink, not compared: a step of up to 2 eps moves some ReLU or step pre-activation z "
                "onto or across 0 (or, with the 0-1 loss, changes a predicted class), where the loss has no derivative "
                "and a difference quotient mixes the slopes of both sides (backprop takes relu'(0) = %d, %s)\n",
                p.kinked, p.kinked == 1 ? "y" : "ies", bp_net_kinks(p.net).relu_at_zero,
                bp_net_kinks(p.net).relu_at_zero ? "--relu-grad-at-zero 1" : "as PyTorch; --relu-grad-at-zero 1 takes 1");
done:
    free(an); free(adx); free(xs); free(p.base); free(p.tmp);
    bp_net_free(p.net);
    return st;
}
