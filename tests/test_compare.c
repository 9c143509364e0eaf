/* test_compare.c - `grad --compare` recognises the softmax derivative taken
 * as diagonal (the slip of the untitled course notes on a 3-layer softmax
 * network): the student's dL/dz is dL/dyhat * yhat (1 - yhat) instead of
 * yhat - y. */
#define _GNU_SOURCE
#include "backprop.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

int main(void)
{
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
