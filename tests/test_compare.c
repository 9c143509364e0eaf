/* test_compare.c - `grad --compare` recognises the usual slips: the softmax
 * derivative taken as diagonal (the slip of the untitled course notes on a
 * 3-layer softmax network: the student's dL/dz is dL/dyhat * yhat (1 - yhat)
 * instead of yhat - y); a transposed matrix, square ones included; g'(z)
 * left out (dL/dz given as dL/da, or dL/dW and dL/db computed from dL/da, as
 * HW Backprop's dL/dW^[1] drops the first layer's ReLU factor); and it says
 * how many differing entries it did not list. */
#define _GNU_SOURCE
#include "backprop.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

/* Compare `mine` (JSON text) on model m; the report (malloc'd) and *right. */
static char *compare(bp_model *m, const char *mine, int *right)
{
    const char *path = "/tmp/bp_test_compare_slip.json";
    FILE *f = fopen(path, "w");
    fputs(mine, f);
    fclose(f);
    double loss;
    bp_error err;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    CHECK(bp_model_pass(m, &loss, &err) == BP_OK, "%s", err.msg);
    CHECK(bp_compare(m, loss, path, 1e-4, out, right, &err) == BP_OK, "%s", err.msg);
    fclose(out);
    remove(path);
    return buf;
}

/* "[[a, b], [c, d]]" of an m x n array (transposed: of its transpose). */
static char *json_of(const double *v, int rows, int cols, int transposed)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int r = transposed ? cols : rows, c = transposed ? rows : cols;
    fputc('[', f);
    for (int i = 0; i < r; i++) {
        fputs(i ? ", [" : "[", f);
        for (int j = 0; j < c; j++) fprintf(f, "%s%.17g", j ? ", " : "", transposed ? v[j * cols + i] : v[i * cols + j]);
        fputc(']', f);
    }
    fputc(']', f);
    fclose(f);
    return buf;
}

static double *values(bp_mat mt)
{
    double *v = malloc(((size_t)mt.rows * mt.cols + 1) * sizeof *v);
    for (int i = 0; i < mt.rows * mt.cols; i++) v[i] = bp_mat_get(&mt, i / mt.cols, i % mt.cols);
    return v;
}

/* Expect the verdict wrong and the report to contain `want`. */
static void slip(bp_model *m, const char *mine, const char *want, const char *what)
{
    int right = -1;
    char *r = compare(m, mine, &right);
    CHECK(right == 0 && r && strstr(r, want), "%s: wanted '%s' in:\n%s", what, want, r ? r : "");
    free(r);
}

/* A 2-2-1 sigmoid network on 5 samples: W^[1] and dL/dW^[1] are 2 x 2. */
static const char SQUARE[] =
    "{\"inputs\": 2, \"layers\": [{\"units\": 2, \"activation\": \"sigmoid\", \"W\": [[0.5, -1.5], [2, 0.25]], "
    "\"b\": [0.1, -0.3]}, {\"units\": 1, \"activation\": \"linear\", \"W\": [[1.5, -2]], \"b\": [0.2]}], "
    "\"loss\": \"squared\", \"reduction\": \"mean\", \"data\": {\"x\": [[1, 2], [-1, 0.5], [0.3, -2], [2, 1], [0, -1]], "
    "\"y\": [[1], [0], [2], [-1], [0.5]]}}";

static void slips(void)
{
    bp_model *m;
    bp_error err;
    double loss;
    CHECK(bp_model_parse(SQUARE, sizeof SQUARE - 1, "square.json", BP_F64, &m, &err) == BP_OK, "%s", err.msg);
    CHECK(bp_model_pass(m, &loss, &err) == BP_OK, "%s", err.msg);
    bp_net *net = bp_model_net(m);
    char mine[4096];
    /* a transposed square matrix */
    double *dW = values(bp_net_weight_grad(net, 0));
    char *t = json_of(dW, 2, 2, 1);
    snprintf(mine, sizeof mine, "{\"layers\": [{\"dL_dW\": %s}, {}]}", t);
    slip(m, mine, "likely slip: the values are right but transposed: check the weight layout", "transposed dL/dW (2 x 2)");
    free(t);
    /* dL/dz given as the true dL/da: g'(z) forgotten */
    double *da = values(bp_net_da(net, 0)), *dz = values(bp_net_dz(net, 0)), *a = values(bp_net_a(net, 0));
    t = json_of(da, 5, 2, 0);
    snprintf(mine, sizeof mine, "{\"layers\": [{\"dL_dz\": %s}, {}]}", t);
    slip(m, mine, "the factor g'(z^[l]) is missing", "dL/dz = dL/da");
    free(t);
    /* the same with the student's own (wrong) dL/da given too */
    double wrong[10];
    for (int i = 0; i < 10; i++) wrong[i] = 3 * da[i] + 1;
    char *t1 = json_of(wrong, 5, 2, 0);
    snprintf(mine, sizeof mine, "{\"layers\": [{\"dL_da\": %s, \"dL_dz\": %s}, {}]}", t1, t1);
    slip(m, mine, "the factor g'(z^[l]) is missing", "dL/dz = their own dL/da");
    free(t1);
    /* dL/dW^[1] and dL/db^[1] from dL/da^[1] in place of dL/dz^[1] */
    double nw[4] = {0}, nb[2] = {0};
    bp_mat x, y;
    bp_model_data(m, &x, &y);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 2; j++) {
            nb[j] += da[i * 2 + j];
            for (int k = 0; k < 2; k++) nw[j * 2 + k] += da[i * 2 + j] * bp_mat_get(&x, i, k);
        }
    t = json_of(nw, 2, 2, 0);
    snprintf(mine, sizeof mine, "{\"layers\": [{\"dL_dW\": %s, \"dL_db\": [%.17g, %.17g]}, {}]}", t, nb[0], nb[1]);
    slip(m, mine, "g'(z^[l]) is missing from g^[lz] = g^[la] (Hadamard) g'(z^[l]) before g^[lW]", "dL/dW from dL/da");
    slip(m, mine, "g'(z^[l]) is missing from g^[lz] = g^[la] (Hadamard) g'(z^[l]) before g^[lb]", "dL/db from dL/da");
    free(t);
    /* more than 8 entries differ: 8 listed, the rest counted */
    for (int i = 0; i < 10; i++) wrong[i] = a[i] + 0.5;
    t = json_of(wrong, 5, 2, 0);
    snprintf(mine, sizeof mine, "{\"layers\": [{\"a\": %s}, {}]}", t);
    slip(m, mine, "... and 2 more entries differ (10 of 10 differ)", "unlisted entries counted");
    free(t);
    wrong[9] = a[9];
    t = json_of(wrong, 5, 2, 0);
    snprintf(mine, sizeof mine, "{\"layers\": [{\"a\": %s}, {}]}", t);
    slip(m, mine, "... and 1 more entry differs (9 of 10 differ)", "one unlisted entry");
    free(t);
    /* right values stay right */
    int right = -1;
    t = json_of(dz, 5, 2, 0);
    snprintf(mine, sizeof mine, "{\"layers\": [{\"dL_dz\": %s}, {}]}", t);
    char *r = compare(m, mine, &right);
    CHECK(right == 1, "the true dL/dz is right: %s", r);
    free(r);
    free(t);
    free(dW); free(da); free(dz); free(a);
    bp_model_free(m);

    /* HW Backprop: dL/dW^[1] without the first layer's ReLU factor (one unit has z < 0) */
    CHECK(bp_model_load("examples/hw_backprop_relu_single.json", BP_F64, &m, &err) == BP_OK, "%s", err.msg);
    CHECK(bp_model_pass(m, &loss, &err) == BP_OK, "%s", err.msg);
    net = bp_model_net(m);
    bp_model_data(m, &x, &y);
    da = values(bp_net_da(net, 0));
    double w1[12] = {0};
    for (int j = 0; j < 3; j++)
        for (int k = 0; k < 4; k++) w1[j * 4 + k] = da[j] * bp_mat_get(&x, 0, k);
    t = json_of(w1, 3, 4, 0);
    snprintf(mine, sizeof mine, "{\"layers\": [{\"dL_dW\": %s}, {}, {}]}", t);
    slip(m, mine, "the factor g'(z^[l]) is missing", "HW Backprop's dL/dW^[1]");
    free(t);
    free(da);
    bp_model_free(m);
}

int main(void)
{
    slips();
    bp_model *m;
    bp_error err;
    double loss;
    CHECK(bp_model_load("examples/softmax_ce_nobias.json", BP_F64, &m, &err) == BP_OK, "%s", err.msg);
    CHECK(bp_model_pass(m, &loss, &err) == BP_OK, "%s", err.msg);
    bp_net *net = bp_model_net(m);
    int L = bp_net_get_spec(net)->nlayers - 1;
    bp_mat a = bp_net_a(net, L), x, y;
    bp_model_data(m, &x, &y);
    double *dy = malloc((size_t)a.rows * a.cols * sizeof *dy);
    bp_net_dloss_dyhat(net, &y, dy);
    const char *path = "/tmp/bp_test_compare_mine.json";
    FILE *f = fopen(path, "w");
    fputs("{\"layers\": [", f);
    for (int l = 0; l < L; l++) fputs("{}, ", f);
    fputs("{\"dL_dz\": [", f);
    for (int i = 0; i < a.rows; i++) {
        fputs(i ? ", [" : "[", f);
        for (int j = 0; j < a.cols; j++) {
            double p = bp_mat_get(&a, i, j);
            fprintf(f, "%s%.17g", j ? ", " : "", dy[i * a.cols + j] * p * (1 - p));
        }
        fputc(']', f);
    }
    fputs("]}]}\n", f);
    fclose(f);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    int right = -1;
    CHECK(bp_compare(m, loss, path, 1e-4, out, &right, &err) == BP_OK, "%s", err.msg);
    fclose(out);
    CHECK(right == 0, "the diagonal softmax derivative is wrong");
    CHECK(buf && strstr(buf, "diagonal"), "names the slip: %s", buf ? buf : "");
    CHECK(buf && strstr(buf, "first wrong step: layers[2].dL_dz"), "first wrong step: %s", buf ? buf : "");
    free(buf);
    free(dy);
    remove(path);
    bp_model_free(m);
    return check_done();
}
