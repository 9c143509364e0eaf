/* teach/step.c - `backprop step`: full-batch gradient-descent steps on a
 * model's own data with the optimizers of nn/optim.c (one implementation of
 * each rule, torch.optim's semantics), every number recorded (step.h); the
 * record as JSON, and a student's new weights checked against it with the
 * machinery of compare.c and the slips of an update step (its sign, a missing
 * learning rate, the 1/m of a mean). The same record written out for people
 * is explain.c's (bp_write_steps). */
#include "teach/step.h"
#include "teach/compare.h"
#include "core/mat.h"
#include "core/numfmt.h"
#include "nn/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The most numbers a record may hold: 2^27 doubles (1 GiB). */
#define STEPS_MAX_NUMBERS (1UL << 27)

void bp_steps_free(bp_steps *s)
{
    if (!s) return;
    free(s->theta); free(s->grad); free(s->m1); free(s->m2); free(s->loss);
    free(s);
}

int bp_steps_count(const bp_steps *s) { return s->n; }
int bp_steps_stopped(const bp_steps *s) { return s->stopped; }
double bp_steps_loss(const bp_steps *s, int t) { return t >= 0 && t <= s->n ? s->loss[t] : NAN; }

bp_mat bp_steps_view(const bp_steps *s, bp_steps_array a, int t, int l, int bias)
{
    bp_mat none = {0, 0, BP_F64, NULL};
    const double *base = a == BP_STEPS_THETA ? s->theta : a == BP_STEPS_GRAD ? s->grad : a == BP_STEPS_M1 ? s->m1 : s->m2;
    if (!base || l < 0 || l >= s->spec.nlayers || (bias && !s->spec.layers[l].bias)) return none;
    int u = s->spec.layers[l].units, fi = l ? s->spec.layers[l - 1].units : s->spec.inputs;
    bp_mat v = {1, u, BP_F64, (void *)(base + (size_t)t * s->np + (bias ? s->boff[l] : s->woff[l]))};
    if (!bias) {
        v.rows = s->spec.layout == BP_OUT_IN ? u : fi;
        v.cols = s->spec.layout == BP_OUT_IN ? fi : u;
    }
    return v;
}

/* n values of dtype dt at src, as doubles at dst (and back). */
static void to_f64(double *dst, const void *src, bp_dtype dt, size_t n)
{
    if (dt == BP_F64) { memcpy(dst, src, n * sizeof *dst); return; }
    for (size_t i = 0; i < n; i++) dst[i] = ((const float *)src)[i];
}
static void from_f64(void *dst, const double *src, bp_dtype dt, size_t n)
{
    if (dt == BP_F64) { memcpy(dst, src, n * sizeof *src); return; }
    for (size_t i = 0; i < n; i++) ((float *)dst)[i] = (float)src[i];
}

static bp_status check_options(const bp_train_options *o, int steps, bp_error *err)
{
    if (steps < 1) return bp_err(err, BP_E_ARG, "the number of steps must be at least 1, got %d", steps);
    if (!(o->lr > 0) || !isfinite(o->lr)) return bp_err(err, BP_E_ARG, "the learning rate must be positive, got %g", o->lr);
    if (!(o->tol >= 0) || !isfinite(o->tol)) return bp_err(err, BP_E_ARG, "tol must be a number >= 0, got %g", o->tol);
    if ((unsigned)o->optimizer > BP_OPT_ADAM) return bp_err(err, BP_E_ARG, "unknown optimizer %d", (int)o->optimizer);
    if ((o->optimizer == BP_OPT_MOMENTUM || o->optimizer == BP_OPT_NESTEROV) && !(o->momentum >= 0 && o->momentum < 1))
        return bp_err(err, BP_E_ARG, "momentum must be in [0, 1), got %g", o->momentum);
    if (o->optimizer == BP_OPT_NESTEROV && !(o->momentum > 0))
        return bp_err(err, BP_E_ARG, "nesterov needs a momentum above 0 (as torch.optim.SGD)");
    if (o->optimizer == BP_OPT_ADAM) {
        if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1))
            return bp_err(err, BP_E_ARG, "Adam's betas must be in [0, 1), got %g and %g", o->beta1, o->beta2);
        if (!(o->adam_eps >= 0) || !isfinite(o->adam_eps))
            return bp_err(err, BP_E_ARG, "Adam's eps must be a number >= 0, got %g", o->adam_eps);
    }
    return BP_OK;
}

bp_status bp_steps_run(bp_net *net, const bp_mat *x, const bp_mat *y, const bp_train_options *o, int steps,
                       bp_steps **out, bp_error *err)
{
    *out = NULL;
    bp_status st = check_options(o, steps, err);
    if (st) return st;
    size_t np = bp_net_nparams(net);
    int moments = o->optimizer == BP_OPT_ADAM ? 2 : o->optimizer == BP_OPT_SGD ? 0 : 1;
    double numbers = ((double)steps + 1) * np + (double)steps * np * (1 + moments);
    if (numbers > (double)STEPS_MAX_NUMBERS)
        return bp_err(err, BP_E_ARG, "%d steps of a network of %zu parameters would record %.0f numbers, more than "
                                     "the %lu allowed: ask for fewer steps", steps, np, numbers, STEPS_MAX_NUMBERS);
    bp_steps *s = bp_calloc(1, sizeof *s, err);
    if (!s) return BP_E_NOMEM;
    s->spec = *bp_net_get_spec(net);
    s->o = *o;
    s->o.on_batch = NULL;
    s->o.on_epoch = NULL;
    s->o.user = NULL;
    s->o.stop = NULL;
    s->m = x->rows;
    s->cap = steps;
    s->np = np;
    bp_dtype dt = bp_net_dtype(net);
    size_t es = bp_dtype_size(dt);
    for (int l = 0; l < s->spec.nlayers; l++) {
        s->woff[l] = (size_t)((char *)bp_net_weight(net, l).data - (char *)bp_net_params(net)) / es;
        bp_mat b = bp_net_bias(net, l);
        s->boff[l] = b.rows ? (size_t)((char *)b.data - (char *)bp_net_params(net)) / es : 0;
    }
    s->theta = bp_malloc(((size_t)steps + 1) * np * sizeof *s->theta + 1, err);
    s->grad = bp_malloc((size_t)steps * np * sizeof *s->grad + 1, err);
    s->loss = bp_malloc(((size_t)steps + 1) * sizeof *s->loss, err);
    if (moments >= 1) s->m1 = bp_malloc((size_t)steps * np * sizeof *s->m1 + 1, err);
    if (moments == 2) s->m2 = bp_malloc((size_t)steps * np * sizeof *s->m2 + 1, err);
    bp_optim op;
    memset(&op, 0, sizeof op);
    if (!s->theta || !s->grad || !s->loss || (moments >= 1 && !s->m1) || (moments == 2 && !s->m2) ||
        bp_optim_init(&op, net, &s->o, err)) {
        bp_steps_free(s);
        return BP_E_NOMEM;
    }
    void *P = bp_net_params(net), *G = bp_net_grads(net);
    double L;
    if ((st = bp_net_backprop(net, x, y, 0, &L, err))) goto fail;
    if (!isfinite(L)) { st = bp_err(err, BP_E_DIVERGED, "the loss before the first step is %g", L); goto fail; }
    s->loss[0] = L;
    for (int t = 0; t < steps; t++) {
        to_f64(s->theta + (size_t)t * np, P, dt, np);
        to_f64(s->grad + (size_t)t * np, G, dt, np);
        double gmax = bp_max_abs(G, dt, np);
        if (!isfinite(gmax)) { st = bp_err(err, BP_E_DIVERGED, "step %d: a gradient is Inf or NaN", t + 1); goto fail; }
        if (!bp_optim_step(&op, o->lr, gmax)) {
            from_f64(P, s->theta + (size_t)t * np, dt, np);
            st = bp_err(err, BP_E_DIVERGED, "step %d: a parameter became Inf or NaN (is the learning rate too large?)", t + 1);
            goto fail;
        }
        if (s->m1) to_f64(s->m1 + (size_t)t * np, op.m1, dt, np);
        if (s->m2) to_f64(s->m2 + (size_t)t * np, op.m2, dt, np);
        if ((st = bp_net_backprop(net, x, y, 0, &L, err))) goto fail;
        if (!isfinite(L)) {
            from_f64(P, s->theta + (size_t)t * np, dt, np);
            st = bp_err(err, BP_E_DIVERGED, "step %d: the loss after it is %g (is the learning rate too large?)", t + 1, L);
            goto fail;
        }
        s->loss[t + 1] = L;
        s->n = t + 1;
        if (o->tol > 0 && fabs(L - s->loss[t]) < o->tol) { s->stopped = 1; break; }
    }
    to_f64(s->theta + (size_t)s->n * np, P, dt, np);
    bp_optim_free(&op);
    *out = s;
    return BP_OK;
fail:
    bp_optim_free(&op);
    bp_steps_free(s);
    return st;
}

bp_status bp_model_steps(bp_model *m, const bp_train_options *o, int steps, bp_steps **out, bp_error *err)
{
    double loss;
    *out = NULL;
    bp_status st = bp_model_pass(m, &loss, err);   /* validates data, y and loss */
    if (st) return st;
    bp_mat x, y;
    bp_model_data(m, &x, &y);
    return bp_steps_run(bp_model_net(m), &x, &y, o, steps, out, err);
}

/* ---- JSON --------------------------------------------------------------------------- */
bp_status bp_write_steps_json(const bp_steps *s, FILE *out, bp_error *err)
{
    fputs("{\"steps\": [", out);
    for (int t = 0; t < s->n; t++) {
        fputs(t ? ", {\"loss\": " : "{\"loss\": ", out);
        bp_json_num(out, s->loss[t]);
        fputs(", \"layers\": [", out);
        for (int l = 0; l < s->spec.nlayers; l++) {
            bp_mat W = bp_steps_view(s, BP_STEPS_THETA, t + 1, l, 0), b = bp_steps_view(s, BP_STEPS_THETA, t + 1, l, 1);
            fputs(l ? ", {\"W\": " : "{\"W\": ", out);
            bp_json_mat(out, &W);
            fputs(", \"b\": ", out);
            if (b.rows) bp_json_row(out, &b);
            else fputs("null", out);
            fputc('}', out);
        }
        fputs("], \"loss_after\": ", out);
        bp_json_num(out, s->loss[t + 1]);
        fputs(", \"delta_loss\": ", out);
        bp_json_num(out, s->loss[t + 1] - s->loss[t]);
        fputc('}', out);
    }
    fputs("]}\n", out);
    return ferror(out) ? bp_err(err, BP_E_IO, "write error on output") : BP_OK;
}

/* ---- --compare ---------------------------------------------------------------------- */
typedef struct sfield {
    int t, l, bias;     /* step, layer (-1: a loss), b or W                     */
    const char *key;    /* "loss", "loss_after", "delta_loss", "W", "b"          */
} sfield;

/* The student's file: {"steps": [{"loss", "layers": [{"W", "b"}], "loss_after", "delta_loss"}]}, any part left out. */
static bp_status check_keys(json_t *root, const char *file, const bp_steps *s, bp_error *err)
{
    static const char *const per[] = {"loss", "layers", "loss_after", "delta_loss"};
    const char *key;
    json_t *v, *steps = json_object_get(root, "steps");
    if (!json_is_object(root)) return bp_err(err, BP_E_VALUE, "%s: expected a JSON object like step --json's", file);
    json_object_foreach(root, key, v)
        if (strcmp(key, "steps")) return bp_err(err, BP_E_VALUE, "%s: unknown field \"%s\" (expected steps)", file, key);
    if (!json_is_array(steps)) return bp_err(err, BP_E_VALUE, "%s: steps: expected an array with one object per step", file);
    if ((int)json_array_size(steps) > s->n)
        return bp_err(err, BP_E_VALUE, "%s: steps: the file gives %zu steps, the run took %d (ask for more with --steps)",
                      file, json_array_size(steps), s->n);
    for (size_t t = 0; t < json_array_size(steps); t++) {
        json_t *S = json_array_get(steps, t), *layers;
        if (json_is_null(S)) continue;
        if (!json_is_object(S)) return bp_err(err, BP_E_VALUE, "%s: steps[%zu]: expected an object", file, t);
        json_object_foreach(S, key, v) {
            int ok = 0;
            for (size_t i = 0; i < 4; i++) ok |= !strcmp(key, per[i]);
            if (!ok)
                return bp_err(err, BP_E_VALUE, "%s: steps[%zu]: unknown field \"%s\" (expected loss, layers, loss_after, "
                                               "delta_loss)", file, t, key);
        }
        if (!(layers = json_object_get(S, "layers"))) continue;
        if (!json_is_array(layers) || (int)json_array_size(layers) != s->spec.nlayers)
            return bp_err(err, BP_E_VALUE, "%s: steps[%zu].layers: expected an array of %d layer%s (use {} for a layer "
                                           "you skip)", file, t, s->spec.nlayers, bp_s(s->spec.nlayers));
        for (size_t l = 0; l < json_array_size(layers); l++) {
            json_t *L = json_array_get(layers, l);
            if (json_is_null(L)) continue;
            if (!json_is_object(L)) return bp_err(err, BP_E_VALUE, "%s: steps[%zu].layers[%zu]: expected an object", file, t, l);
            json_object_foreach(L, key, v)
                if (strcmp(key, "W") && strcmp(key, "b"))
                    return bp_err(err, BP_E_VALUE, "%s: steps[%zu].layers[%zu]: unknown field \"%s\" (expected W, b)",
                                  file, t, l, key);
        }
    }
    return BP_OK;
}

static json_t *lookup(json_t *root, const sfield *f)
{
    json_t *S = json_array_get(json_object_get(root, "steps"), (size_t)f->t);
    if (f->l < 0) return json_object_get(S, f->key);
    return json_object_get(json_array_get(json_object_get(S, "layers"), (size_t)f->l), f->key);
}

/* c1 x + c2 y elementwise into out (a view over buf). */
static bp_mat combine(double *buf, const bp_mat *x, double c1, const bp_mat *y, double c2)
{
    for (int i = 0; i < x->rows * x->cols; i++)
        buf[i] = c1 * ((double *)x->data)[i] + (y ? c2 * ((double *)y->data)[i] : 0);
    return (bp_mat){x->rows, x->cols, BP_F64, buf};
}

/* The slip that explains wrong new parameters, or NULL: with theta the
 * parameter before the step, D = theta_new - theta the true change, eta the
 * learning rate and g the gradient. */
static const char *diagnose(const bp_steps *s, const sfield *f, const double *u, int ur, int uc, double rtol)
{
    bp_mat before = bp_steps_view(s, BP_STEPS_THETA, f->t, f->l, f->bias);
    bp_mat after = bp_steps_view(s, BP_STEPS_THETA, f->t + 1, f->l, f->bias);
    bp_mat g = bp_steps_view(s, BP_STEPS_GRAD, f->t, f->l, f->bias);
    int n = after.rows * after.cols, m = s->m;
    double eta = s->o.lr;
    if (ur == after.cols && uc == after.rows && ur != uc && bp_cmp_all_close(u, &after, 1, 1, rtol))
        return "the values are right but transposed: check the weight layout (out_in: W is units x fan_in; "
               "in_out: W is fan_in x units)";
    if (ur != after.rows || uc != after.cols) return NULL;
    double *buf = malloc(((size_t)n + 1) * sizeof *buf), *d = malloc(((size_t)n + 1) * sizeof *d);
    const char *why = NULL;
    if (!buf || !d) goto done;
    bp_mat D = combine(d, &after, 1, &before, -1), c;
#define IS(expr) (c = (expr), bp_cmp_all_close(u, &c, 1, 0, rtol))
    if (IS(combine(buf, &before, 1, NULL, 0)))
        why = "these are the parameters before the step: theta <- theta - eta g changes them";
    else if (IS(combine(buf, &before, 1, &D, -1)))
        why = "the step has the wrong sign: gradient descent goes against the gradient, theta - eta g, not theta + eta g";
    else if (eta != 1 && IS(combine(buf, &before, 1, &D, 1 / eta)))
        why = "the learning rate is missing: the step is eta times the update direction (theta - eta g, not theta - g)";
    else if (eta != 1 && IS(combine(buf, &before, 1, &D, -1 / eta)))
        why = "the step has the wrong sign and no learning rate: theta - eta g, not theta + g";
    else if (m > 1 && s->spec.reduction == BP_MEAN && IS(combine(buf, &before, 1, &D, m)))
        why = "the step is m times too large: the gradient of a mean loss carries 1/m (m = the batch size)";
    else if (m > 1 && IS(combine(buf, &before, 1, &D, 1.0 / m)))
        why = s->spec.reduction == BP_SUM ? "the step is m times too small: the reduction is a sum, so there is no 1/m"
                                          : "the step is m times too small: the 1/m of the mean was applied twice";
    else if (IS(combine(buf, &g, 1, NULL, 0)))
        why = "these are the gradient g, not the new parameters theta - eta g";
    else if (IS(combine(buf, &D, 1, NULL, 0)) || IS(combine(buf, &D, -1, NULL, 0)))
        why = "this is the change of the step, not the new parameters: add it to the parameters before the step";
    else if (s->o.optimizer != BP_OPT_SGD && IS(combine(buf, &before, 1, &g, -eta)))
        why = s->o.optimizer == BP_OPT_ADAM
                  ? "this is a plain gradient step theta - eta g; Adam steps by eta m^ / (sqrt(v^) + eps)"
                  : "this is a plain gradient step theta - eta g; with momentum the step is eta v (nesterov: "
                    "eta (g + mu v)), v = mu v + g";
#undef IS
done:
    free(buf);
    free(d);
    return why;
}

/* How the true value of a field is found. */
static const char *rederive(const bp_steps *s, const sfield *f)
{
    if (f->l < 0) {
        if (!strcmp(f->key, "delta_loss")) return "delta_loss = loss_after - loss (the stop rule compares |delta_loss| with tol)";
        if (!strcmp(f->key, "loss_after")) return "the loss of a forward pass with the new parameters";
        return "the loss of a forward pass with the parameters before the step";
    }
    switch (s->o.optimizer) {
    case BP_OPT_MOMENTUM: return "v <- mu v + g (v starts at 0), then theta <- theta - eta v";
    case BP_OPT_NESTEROV: return "v <- mu v + g (v starts at 0), then theta <- theta - eta (g + mu v)";
    case BP_OPT_ADAM:
        return "m <- b1 m + (1-b1) g, v <- b2 v + (1-b2) g^2, then theta <- theta - eta (m / (1-b1^t)) / "
               "(sqrt(v / (1-b2^t)) + eps)";
    default: return "theta <- theta - eta g, with g = dL/dtheta at the parameters before the step (backprop grad shows it)";
    }
}

bp_status bp_steps_compare(const bp_steps *s, const char *mine, double rtol, FILE *out, int *all_right, bp_error *err)
{
    json_t *root = bp_cmp_load(mine, err);
    if (!root) return err ? err->status : BP_E_PARSE;
    bp_status st = check_keys(root, mine, s, err);
    int nl = s->spec.nlayers, given = 0, wrong = 0, first_at[2] = {-1, -1};
    sfield first = {-1, -1, 0, NULL};
    char firstpath[96] = "", path[96], what[96];
    double first_u = 0, first_t = 0;   /* the first wrong entry: the user's value and the true one */
    for (int t = 0; !st && t < s->n; t++)
        for (int i = -1; !st && i <= 2 * nl + 1; i++) {
            /* loss, then W and b of each layer, then loss_after and delta_loss */
            sfield f = {t, -1, 0, "loss"};
            double scalar = s->loss[t];
            if (i == 2 * nl) f.key = "loss_after", scalar = s->loss[t + 1];
            else if (i == 2 * nl + 1) f.key = "delta_loss", scalar = s->loss[t + 1] - s->loss[t];
            else if (i >= 0) f = (sfield){t, i / 2, i % 2, i % 2 ? "b" : "W"};
            json_t *v = lookup(root, &f);
            if (!v || (f.bias && json_is_null(v))) continue;
            bp_mat truth = f.l < 0 ? (bp_mat){1, 1, BP_F64, &scalar} : bp_steps_view(s, BP_STEPS_THETA, t + 1, f.l, f.bias);
            if (f.l >= 0 && f.bias && !truth.rows) {
                st = bp_err(err, BP_E_VALUE, "%s: steps[%d].layers[%d].b: layer %d has no bias", mine, t, f.l, f.l + 1);
                break;
            }
            if (f.l < 0) {
                snprintf(path, sizeof path, "steps[%d].%s", t, f.key);
                snprintf(what, sizeof what, "%s of step %d", !strcmp(f.key, "loss") ? "L before" : !strcmp(f.key, "loss_after")
                                                                ? "L after" : "L after - L before", t + 1);
            } else {
                snprintf(path, sizeof path, "steps[%d].layers[%d].%s", t, f.l, f.key);
                snprintf(what, sizeof what, "%s^[%d] after step %d", f.key, f.l + 1, t + 1);
            }
            double *u;
            int ur, uc, at[2];
            if (bp_cmp_values(v, mine, path, &u, &ur, &uc, f.bias, err)) { st = err ? err->status : BP_E_VALUE; break; }
            given++;
            if (!bp_cmp_field(out, path, what, u, ur, uc, &truth, rtol, at)) {
                const char *why = f.l >= 0 ? diagnose(s, &f, u, ur, uc, rtol)
                                  : !strcmp(f.key, "delta_loss") && bp_cmp_all_close(u, &truth, -1, 0, rtol)
                                      ? "the sign: delta_loss is loss_after - loss (negative when the loss went down)"
                                      : NULL;
                if (why) fprintf(out, "         likely slip: %s\n", why);
                if (!wrong++) {
                    first = f;
                    memcpy(first_at, at, sizeof at);
                    snprintf(firstpath, sizeof firstpath, "%s", path);
                    if (at[0] >= 0) {
                        first_u = u[(size_t)at[0] * uc + at[1]];
                        first_t = bp_mat_get(&truth, at[0], at[1]);
                    }
                }
            }
            free(u);
        }
    if (!st) {
        if (given == 0) {
            st = bp_err(err, BP_E_VALUE, "%s: no values to check (give any of: steps[t].loss, steps[t].layers[l].W / .b, "
                                         "steps[t].loss_after, steps[t].delta_loss)", mine);
        } else if (wrong == 0) {
            fprintf(out, "\nall %d given value%s right (relative tolerance %g)\n", given, given == 1 ? " is" : "s are", rtol);
        } else {
            fprintf(out, "\n%d of %d given values wrong (relative tolerance %g)\n", wrong, given, rtol);
            char b1[BP_NUM_MAX], b2[BP_NUM_MAX];
            if (first.l < 0)
                fprintf(out, "first wrong: step %d, %s (%s)\n", first.t + 1, first.key, firstpath);
            else if (first_at[0] < 0)
                fprintf(out, "first wrong: step %d, layer %d, %s^[%d] (%s: the shape differs)\n", first.t + 1, first.l + 1,
                        first.key, first.l + 1, firstpath);
            else if (first.bias)
                fprintf(out, "first wrong: step %d, layer %d, b^[%d] entry %d (%s[%d]): yours %s, expected %s\n",
                        first.t + 1, first.l + 1, first.l + 1, first_at[1], firstpath, first_at[1],
                        bp_num_short(b1, first_u, 8), bp_num_short(b2, first_t, 8));
            else
                fprintf(out, "first wrong: step %d, layer %d, W^[%d] entry [%d][%d] (%s[%d][%d]): yours %s, expected %s\n",
                        first.t + 1, first.l + 1, first.l + 1, first_at[0], first_at[1], firstpath, first_at[0],
                        first_at[1], bp_num_short(b1, first_u, 8), bp_num_short(b2, first_t, 8));
            fprintf(out, "re-derive it: %s\n", rederive(s, &first));
        }
        *all_right = wrong == 0;
    }
    json_decref(root);
    return st;
}
