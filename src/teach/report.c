/* teach/report.c - one pass over a model's data and the `grad` report of it, as
 * JSON (for machines and the golden tests) and as readable tables. */
#include "core/error.h"
#include "core/numfmt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bp_status bp_model_pass(bp_model *m, double *loss, bp_error *err)
{
    bp_mat x, y;
    bp_net *net = bp_model_net(m);
    if (!bp_model_data(m, &x, &y))
        return bp_err(err, BP_E_VALUE, "no data: the model file has no \"data\" (a safetensors model never has) and no "
                                       "--x was given: give --x X.csv and --y Y.csv");
    if (bp_net_get_spec(net)->loss == BP_LOSS_NONE)
        return bp_err(err, BP_E_VALUE, "no \"loss\" in the model file: gradients need one "
                                       "(squared, half_squared, bce, cross_entropy)");
    if (y.rows == 0) return bp_err(err, BP_E_VALUE, "no targets: the model file has no data.y and no --y was given");
    return bp_net_backprop(net, &x, &y, 1, loss, err);
}

/* ---- what both reports show ------------------------------------------------------- */
typedef struct grad_view {
    bp_net *net;
    const bp_net_spec *s;
    int L;                /* the last layer */
    bp_mat a, dyhat;      /* the output a^[L] and dL/dyhat as written (F64, data malloc'd) */
} grad_view;

/* The net of `m` after bp_model_pass; free v->dyhat.data when done. */
static bp_status grad_view_of(bp_model *m, grad_view *v, bp_error *err)
{
    bp_mat x, y;
    v->net = bp_model_net(m);
    v->s = bp_net_get_spec(v->net);
    v->L = v->s->nlayers - 1;
    bp_model_data(m, &x, &y);
    double *d = bp_malloc((size_t)y.rows * y.cols * sizeof *d, err);
    if (!d) return BP_E_NOMEM;
    bp_net_dloss_dyhat(v->net, &y, d);
    v->a = bp_net_a(v->net, v->L);
    v->dyhat = (bp_mat){v->a.rows, v->a.cols, BP_F64, d};
    return BP_OK;
}

/* The matrices of layer l; dL/da of the last layer is dL/dyhat. */
typedef struct layer_mats { bp_mat z, a, da, dz, dW, db; } layer_mats;

static layer_mats layer_mats_of(const grad_view *v, int l)
{
    layer_mats r = {bp_net_z(v->net, l), bp_net_a(v->net, l), l == v->L ? v->dyhat : bp_net_da(v->net, l),
                    bp_net_dz(v->net, l), bp_net_weight_grad(v->net, l), bp_net_bias_grad(v->net, l)};
    return r;
}

bp_status bp_write_grad_json(bp_model *m, double loss, FILE *out, bp_error *err)
{
    grad_view v;
    if (grad_view_of(m, &v, err)) return BP_E_NOMEM;
    fputs("{\"loss\": ", out);
    bp_json_num(out, loss);
    fputs(", \"output\": ", out);
    bp_json_mat(out, &v.a);
    fputs(", \"layers\": [", out);
    for (int l = 0; l <= v.L; l++) {
        layer_mats g = layer_mats_of(&v, l);
        fputs(l ? ", {\"z\": " : "{\"z\": ", out);
        bp_json_mat(out, &g.z);
        fputs(", \"a\": ", out);
        bp_json_mat(out, &g.a);
        fputs(", \"dL_da\": ", out);
        bp_json_mat(out, &g.da);
        fputs(", \"dL_dz\": ", out);
        bp_json_mat(out, &g.dz);
        fputs(", \"dL_dW\": ", out);
        bp_json_mat(out, &g.dW);
        fputs(", \"dL_db\": ", out);
        if (g.db.rows) bp_json_row(out, &g.db);
        else fputs("null", out);
        fputc('}', out);
    }
    fputs("], \"dL_dx\": ", out);
    bp_mat dx = bp_net_dx(v.net);
    bp_json_mat(out, &dx);
    fputs("}\n", out);
    free(v.dyhat.data);
    return ferror(out) ? bp_err(err, BP_E_IO, "write error on output") : BP_OK;
}

/* ---- text ------------------------------------------------------------------------ */
static void text_mat(FILE *out, const char *title, const bp_mat *m)
{
    fprintf(out, "  %s  (%d x %d)\n", title, m->rows, m->cols);
    for (int i = 0; i < m->rows; i++) {
        fputs("    ", out);
        char b[BP_NUM_MAX];
        for (int j = 0; j < m->cols; j++) fprintf(out, " %14s", bp_num_short(b, bp_mat_get(m, i, j), 8));
        fputc('\n', out);
    }
}

bp_status bp_write_grad_text(bp_model *m, double loss, FILE *out, bp_error *err)
{
    grad_view v;
    if (grad_view_of(m, &v, err)) return BP_E_NOMEM;
    const bp_net_spec *s = v.s;
    char b[BP_NUM_MAX];
    fprintf(out, "loss (%s, %s over %d sample%s) = %s\n", bp_loss_name(s->loss),
            bp_reduction_name(s->reduction), v.a.rows, v.a.rows == 1 ? "" : "s", bp_num_short(b, loss, 10));
    if (s->loss == BP_LOSS_ZERO_ONE)
        fprintf(out, "  the 0-1 loss counts the misclassified samples (the class: the largest output, or output >= 0.5\n"
                     "  for one unit): it is piecewise constant in yhat, so dL/dyhat = 0 wherever it exists and every\n"
                     "  gradient below is 0: gradient descent cannot learn from it\n");
    fputc('\n', out);
    text_mat(out, "output yhat", &v.a);
    for (int l = 0; l <= v.L; l++) {
        layer_mats g = layer_mats_of(&v, l);
        fprintf(out, "\nlayer %d: %d unit%s, %s%s\n", l + 1, s->layers[l].units, bp_s(s->layers[l].units), bp_act_name(s->layers[l].act),
                !s->layers[l].bias_trick ? (s->layers[l].bias ? "" : ", no bias")
                : s->layout == BP_OUT_IN ? ", bias trick (the bias is W's first column)" : ", bias trick (the bias is W's first row)");
        if (s->layers[l].act == BP_ACT_STEP)
            fprintf(out, "  step: a = 1 where z > 0, else 0; its derivative is 0 wherever it exists (z = 0 has none),\n"
                         "  so dL/dz = dL/da (Hadamard) 0 = 0: no gradient reaches W^[%d], b^[%d] or any layer below\n",
                    l + 1, l + 1);
        text_mat(out, "z", &g.z);
        text_mat(out, "a", &g.a);
        text_mat(out, l == v.L ? "dL/da = dL/dyhat" : "dL/da", &g.da);
        text_mat(out, "dL/dz", &g.dz);
        text_mat(out, s->layout == BP_OUT_IN ? (s->layers[l].bias_trick ? "dL/dW (units x (1 + fan_in))" : "dL/dW (units x fan_in)")
                                             : (s->layers[l].bias_trick ? "dL/dW ((1 + fan_in) x units)" : "dL/dW (fan_in x units)"), &g.dW);
        if (g.db.rows) text_mat(out, "dL/db", &g.db);
    }
    bp_mat dx = bp_net_dx(v.net);
    fputc('\n', out);
    text_mat(out, "dL/dx", &dx);
    free(v.dyhat.data);
    return ferror(out) ? bp_err(err, BP_E_IO, "write error on output") : BP_OK;
}
