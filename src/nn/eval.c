/* nn/eval.c - loss and metrics of a network on a dataset, and its
 * predictions: the one batched evaluation loop, used by `eval` and by the
 * trainer's validation pass, and the one scoring rule (eval.h).
 *
 * Samples go through the network `batch` rows at a time.  The loss is the
 * network's own loss over the whole set with its reduction: for a mean, the
 * batch means weighted by batch size (= total / n); for a sum, the total.
 *
 * Classification (d->nclasses > 0, labels present; eval.h): the network's
 * classes are its outputs, or 2 for a single output unit (class 1 iff
 * output >= 0.5).  The
 * targets fed to the loss are built from the labels (one-hot over the
 * network's classes, or the label itself for a single unit), so a data set
 * whose labels happen to use fewer classes than the network still works.
 * Regression: the dataset's targets must have the network's output width. */
#include "nn/eval.h"
#include "core/mat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BATCH 256

int bp_predicted_class(const bp_mat *a, int i)
{
    if (a->cols == 1) return bp_mat_get(a, i, 0) >= 0.5;
    int best = 0;
    if (a->dtype == BP_F32) { /* the trainer counts every batch: no per-element accessor calls */
        const float *r = (const float *)a->data + (size_t)i * a->cols;
        for (int j = 1; j < a->cols; j++)
            if (r[j] > r[best]) best = j;
        return best;
    }
    const double *r = (const double *)a->data + (size_t)i * a->cols;
    for (int j = 1; j < a->cols; j++)
        if (r[j] > r[best]) best = j;
    return best;
}

long bp_count_correct(const bp_mat *a, const int *labels, const int *rows, int m)
{
    long correct = 0;
    for (int i = 0; i < m; i++) correct += bp_predicted_class(a, i) == labels[rows ? rows[i] : i];
    return correct;
}

/* The accuracy and per-class accuracies of a confusion matrix holding n
 * samples of which `correct` on its diagonal. */
static void class_rates(bp_metrics *out, long correct, int n, int nclasses)
{
    out->accuracy = (double)correct / n;
    for (int c = 0; c < nclasses; c++) {
        long row = 0;
        for (int p = 0; p < nclasses; p++) row += out->confusion[(size_t)c * nclasses + p];
        out->class_acc[c] = row ? (double)out->confusion[(size_t)c * nclasses + c] / row : NAN;
    }
}

bp_status bp_metrics_of_classes(const int *labels, const int *pred, int n, int k, bp_metrics *out, bp_error *err)
{
    memset(out, 0, sizeof *out);
    out->loss = out->accuracy = out->mse = out->mae = NAN;
    if (n < 1) return bp_err(err, BP_E_ARG, "the data has no samples");
    out->class_acc = bp_calloc((size_t)k, sizeof *out->class_acc, err);
    out->confusion = bp_calloc((size_t)k * k, sizeof *out->confusion, err);
    if (!out->class_acc || !out->confusion) { bp_metrics_free(out); return BP_E_NOMEM; }
    long correct = 0;
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= k || pred[i] < 0 || pred[i] >= k) {
            bp_metrics_free(out);
            return bp_err(err, BP_E_VALUE, "sample %d: label %d is outside the classes 0..%d", i + 1, labels[i], k - 1);
        }
        out->confusion[(size_t)labels[i] * k + pred[i]]++;
        correct += labels[i] == pred[i];
    }
    out->n = n;
    out->nclasses = k;
    class_rates(out, correct, n, k);
    return BP_OK;
}

/* Features, targets and batch size checks shared by evaluate and predict. */
static bp_status check_inputs(bp_net *net, const bp_dataset *d, int *batch, bp_error *err)
{
    const bp_net_spec *s = bp_net_get_spec(net);
    if (d->n < 1) return bp_err(err, BP_E_ARG, "the data has no samples");
    if (d->features != s->inputs)
        return bp_err(err, BP_E_SHAPE, "the model has %d input%s, the data has %d feature%s", s->inputs,
                      s->inputs == 1 ? "" : "s", d->features, d->features == 1 ? "" : "s");
    if (*batch <= 0) *batch = DEFAULT_BATCH;
    if (*batch > d->n) *batch = d->n;
    return BP_OK;
}

bp_status bp_evaluate(bp_net *net, const bp_dataset *d, int batch, bp_metrics *out, bp_error *err)
{
    memset(out, 0, sizeof *out);
    out->loss = out->accuracy = out->mse = out->mae = NAN;
    bp_status st = check_inputs(net, d, &batch, err);
    if (st) return st;
    int k = bp_net_outputs(net);
    int classify = bp_dataset_classifies(d);
    int nclasses = classify ? (k == 1 ? 2 : k) : 0;
    if (classify && d->nclasses > nclasses)
        return bp_err(err, BP_E_SHAPE, "the model has %d output%s (%d classes), the data has %d classes", k,
                      k == 1 ? "" : "s", nclasses, d->nclasses);
    if (!classify && d->outputs == 0)
        return bp_err(err, BP_E_ARG, "the data has no targets to evaluate against");
    if (!classify && d->outputs != k)
        return bp_err(err, BP_E_SHAPE, "the model has %d output%s, the data has %d target%s", k,
                      k == 1 ? "" : "s", d->outputs, d->outputs == 1 ? "" : "s");
    int has_loss = bp_net_get_spec(net)->loss != BP_LOSS_NONE;
    float *ybuf = NULL;
    if (classify) {
        out->class_acc = bp_calloc((size_t)nclasses, sizeof *out->class_acc, err);
        out->confusion = bp_calloc((size_t)nclasses * nclasses, sizeof *out->confusion, err);
        ybuf = bp_malloc((size_t)batch * k * sizeof *ybuf, err);
        if (!out->class_acc || !out->confusion || !ybuf) { st = BP_E_NOMEM; goto done; }
    }
    out->n = d->n;
    out->nclasses = nclasses;
    double total = 0, se = 0, ae = 0;
    long correct = 0;
    for (int start = 0; start < d->n; start += batch) {
        int m = d->n - start < batch ? d->n - start : batch;
        bp_mat x = bp_dataset_x(d, start, m), y = bp_dataset_y(d, start, m);
        if (classify) {
            const int *lab = d->labels + start;
            memset(ybuf, 0, (size_t)m * k * sizeof *ybuf);
            for (int i = 0; i < m; i++) {
                if (lab[i] < 0 || lab[i] >= nclasses) {
                    st = bp_err(err, BP_E_VALUE, "sample %d: label %d is outside the model's classes 0..%d",
                                start + i + 1, lab[i], nclasses - 1);
                    goto done;
                }
                if (k == 1) ybuf[i] = (float)lab[i];
                else ybuf[(size_t)i * k + lab[i]] = 1.0f;
            }
            y = (bp_mat){m, k, BP_F32, ybuf};
        }
        double loss = 0;
        st = has_loss ? bp_net_loss_value(net, &x, &y, &loss, err) : bp_net_forward(net, &x, err);
        if (st) goto done;
        total += bp_net_get_spec(net)->reduction == BP_MEAN ? loss * m : loss;
        bp_mat a = bp_net_a(net, bp_net_get_spec(net)->nlayers - 1);
        for (int i = 0; i < m; i++) {
            if (classify) {
                int t = d->labels[start + i], p = bp_predicted_class(&a, i);
                out->confusion[(size_t)t * nclasses + p]++;
                correct += t == p;
            } else {
                for (int j = 0; j < k; j++) {
                    double e = bp_mat_get(&a, i, j) - bp_mat_get(&y, i, j);
                    se += e * e;
                    ae += fabs(e);
                }
            }
        }
    }
    if (has_loss) out->loss = bp_net_get_spec(net)->reduction == BP_MEAN ? total / d->n : total;
    if (classify) {
        class_rates(out, correct, d->n, nclasses);
    } else {
        out->mse = se / ((double)d->n * k);
        out->mae = ae / ((double)d->n * k);
    }
done:
    free(ybuf);
    if (st) bp_metrics_free(out);
    return st;
}

void bp_metrics_free(bp_metrics *m)
{
    if (!m) return;
    free(m->class_acc);
    free(m->confusion);
    m->class_acc = NULL;
    m->confusion = NULL;
}

bp_status bp_predict(bp_net *net, const bp_dataset *d, int batch, float *out, bp_error *err)
{
    bp_status st = check_inputs(net, d, &batch, err);
    if (st) return st;
    int k = bp_net_outputs(net);
    for (int start = 0; start < d->n; start += batch) {
        int m = d->n - start < batch ? d->n - start : batch;
        bp_mat x = bp_dataset_x(d, start, m);
        if ((st = bp_net_forward(net, &x, err))) return st;
        bp_mat a = bp_net_a(net, bp_net_get_spec(net)->nlayers - 1);
        bp_mat o = {m, k, BP_F32, out + (size_t)start * k};
        for (int i = 0; i < m; i++)
            for (int j = 0; j < k; j++) bp_mat_set(&o, i, j, bp_mat_get(&a, i, j));
    }
    return BP_OK;
}
