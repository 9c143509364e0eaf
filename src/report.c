/* report.c - one pass over a model's data and the `grad` report of it, as
 * JSON (for machines and the golden tests) and as readable tables. */
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bp_status bp_model_pass(bp_model *m, double *loss, bp_error *err)
{
    bp_mat x, y;
    bp_net *net = bp_model_net(m);
    if (!bp_model_data(m, &x, &y))
        return bp_err(err, BP_E_VALUE, "no data: the model file has no \"data\" and no --x was given");
    if (bp_net_get_spec(net)->loss == BP_LOSS_NONE)
        return bp_err(err, BP_E_VALUE, "no \"loss\" in the model file: gradients need one "
                                       "(squared, half_squared, bce, cross_entropy)");
    if (y.rows == 0) return bp_err(err, BP_E_VALUE, "no targets: the model file has no data.y and no --y was given");
    return bp_net_backprop(net, &x, &y, 1, loss, err);
}

/* ---- JSON ------------------------------------------------------------------------ */
static void json_num(FILE *out, double v)
{
    if (!isfinite(v)) fputs("null", out);
    else if (v == 0) fputs(signbit(v) ? "-0.0" : "0.0", out);
    else fprintf(out, "%.17g", v);
}

static void json_mat(FILE *out, const bp_mat *m)
{
    fputc('[', out);
    for (int i = 0; i < m->rows; i++) {
        fputs(i ? ", [" : "[", out);
        for (int j = 0; j < m->cols; j++) {
            if (j) fputs(", ", out);
            json_num(out, bp_mat_get(m, i, j));
        }
        fputc(']', out);
    }
    fputc(']', out);
}

static void json_row(FILE *out, const bp_mat *m)
{
    fputc('[', out);
    for (int j = 0; j < m->cols; j++) {
        if (j) fputs(", ", out);
        json_num(out, bp_mat_get(m, 0, j));
    }
    fputc(']', out);
}

/* dL/dyhat as written, m x outputs doubles (caller frees). */
static double *dyhat(bp_model *m, bp_error *err)
{
    bp_mat x, y;
    bp_net *net = bp_model_net(m);
    bp_model_data(m, &x, &y);
    double *d = bp_malloc((size_t)y.rows * y.cols * sizeof *d, err);
    if (d) bp_net_dloss_dyhat(net, &y, d);
    return d;
}

bp_status bp_write_grad_json(bp_model *m, double loss, FILE *out, bp_error *err)
{
    bp_net *net = bp_model_net(m);
    const bp_net_spec *s = bp_net_get_spec(net);
    int L = s->nlayers - 1;
    double *d = dyhat(m, err);
    if (!d) return BP_E_NOMEM;
    bp_mat a = bp_net_a(net, L);
    bp_mat dmat = {a.rows, a.cols, BP_F64, d};
    fputs("{\"loss\": ", out);
    json_num(out, loss);
    fputs(", \"output\": ", out);
    json_mat(out, &a);
    fputs(", \"layers\": [", out);
    for (int l = 0; l <= L; l++) {
        bp_mat z = bp_net_z(net, l), al = bp_net_a(net, l), da = bp_net_da(net, l), dz = bp_net_dz(net, l);
        bp_mat dW = bp_net_weight_grad(net, l), db = bp_net_bias_grad(net, l);
        fputs(l ? ", {\"z\": " : "{\"z\": ", out);
        json_mat(out, &z);
        fputs(", \"a\": ", out);
        json_mat(out, &al);
        fputs(", \"dL_da\": ", out);
        json_mat(out, l == L ? &dmat : &da);
        fputs(", \"dL_dz\": ", out);
        json_mat(out, &dz);
        fputs(", \"dL_dW\": ", out);
        json_mat(out, &dW);
        fputs(", \"dL_db\": ", out);
        if (db.rows) json_row(out, &db);
        else fputs("null", out);
        fputc('}', out);
    }
    fputs("], \"dL_dx\": ", out);
    bp_mat dx = bp_net_dx(net);
    json_mat(out, &dx);
    fputs("}\n", out);
    free(d);
    return ferror(out) ? bp_err(err, BP_E_IO, "write error on output") : BP_OK;
}

/* ---- text ------------------------------------------------------------------------ */
static void text_mat(FILE *out, const char *title, const bp_mat *m)
{
    fprintf(out, "  %s  (%d x %d)\n", title, m->rows, m->cols);
    for (int i = 0; i < m->rows; i++) {
        fputs("    ", out);
        for (int j = 0; j < m->cols; j++) fprintf(out, " %14.8g", bp_mat_get(m, i, j));
        fputc('\n', out);
    }
}

bp_status bp_write_grad_text(bp_model *m, double loss, FILE *out, bp_error *err)
{
    bp_net *net = bp_model_net(m);
    const bp_net_spec *s = bp_net_get_spec(net);
    int L = s->nlayers - 1;
    double *d = dyhat(m, err);
    if (!d) return BP_E_NOMEM;
    bp_mat a = bp_net_a(net, L);
    bp_mat dmat = {a.rows, a.cols, BP_F64, d};
    fprintf(out, "loss (%s, %s over %d sample%s) = %.10g\n\n", bp_loss_name(s->loss),
            bp_reduction_name(s->reduction), a.rows, a.rows == 1 ? "" : "s", loss);
    text_mat(out, "output yhat", &a);
    for (int l = 0; l <= L; l++) {
        bp_mat z = bp_net_z(net, l), al = bp_net_a(net, l), da = bp_net_da(net, l), dz = bp_net_dz(net, l);
        bp_mat dW = bp_net_weight_grad(net, l), db = bp_net_bias_grad(net, l);
        fprintf(out, "\nlayer %d: %d units, %s%s\n", l + 1, s->layers[l].units, bp_act_name(s->layers[l].act),
                s->layers[l].bias ? "" : ", no bias");
        text_mat(out, "z", &z);
        text_mat(out, "a", &al);
        text_mat(out, l == L ? "dL/da = dL/dyhat" : "dL/da", l == L ? &dmat : &da);
        text_mat(out, "dL/dz", &dz);
        text_mat(out, s->layout == BP_OUT_IN ? "dL/dW (units x fan_in)" : "dL/dW (fan_in x units)", &dW);
        if (db.rows) text_mat(out, "dL/db", &db);
    }
    bp_mat dx = bp_net_dx(net);
    fputc('\n', out);
    text_mat(out, "dL/dx", &dx);
    free(d);
    return ferror(out) ? bp_err(err, BP_E_IO, "write error on output") : BP_OK;
}
