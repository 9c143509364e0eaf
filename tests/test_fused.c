/* test_fused.c - the fused training step (src/fused.c) against the graph
 * path (the reference) on every golden network and example: the same loss,
 * the same gradients (1e-12 relative in f64, 1e-4 in f32), the same outputs. */
#define _DEFAULT_SOURCE
#include "backprop.h"
#include "check.h"
#include "net_internal.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int close_to(double a, double b, double rtol, double atol)
{
    return fabs(a - b) <= rtol * fmax(fabs(a), fabs(b)) + atol;
}

static void run(const char *path, bp_dtype dt)
{
    bp_model *m;
    bp_error err;
    if (bp_model_load(path, dt, &m, &err)) { CHECK(0, "%s", err.msg); return; }
    bp_net *net = bp_model_net(m);
    bp_mat x, y;
    bp_model_data(m, &x, &y);
    double rtol = dt == BP_F64 ? 1e-12 : 2e-4, atol = dt == BP_F64 ? 1e-13 : 1e-5;
    size_t n = bp_net_nparams(net), es = dt == BP_F64 ? 8 : 4;
    double lg, lf;
    CHECK(bp_net_backprop(net, &x, &y, 0, &lg, &err) == BP_OK, "%s: graph: %s", path, err.msg);
    void *g = malloc(n * es);
    memcpy(g, bp_net_grads(net), n * es);
    bp_mat out_g = bp_net_a(net, bp_net_get_spec(net)->nlayers - 1);
    memset(bp_net_grads(net), 0x7f, n * es);   /* the fused step must overwrite every gradient */
    CHECK(bp_fused_backprop(net, &x, &y, &lf, &err) == BP_OK, "%s: fused: %s", path, err.msg);
    CHECK(close_to(lg, lf, rtol, atol), "%s (%s): loss graph %.17g fused %.17g", path, bp_dtype_name(dt), lg, lf);
    bp_mat gm = {1, (int)n, dt, g}, fm = {1, (int)n, dt, bp_net_grads(net)};
    int bad = -1;
    for (size_t i = 0; i < n && bad < 0; i++)
        if (!close_to(bp_mat_get(&gm, 0, (int)i), bp_mat_get(&fm, 0, (int)i), rtol, atol)) bad = (int)i;
    CHECK(bad < 0, "%s (%s): gradient %d: graph %.17g fused %.17g", path, bp_dtype_name(dt), bad,
          bad >= 0 ? bp_mat_get(&gm, 0, bad) : 0, bad >= 0 ? bp_mat_get(&fm, 0, bad) : 0);
    bp_mat out_f = bp_fused_output(net);
    int same = out_f.rows == out_g.rows && out_f.cols == out_g.cols;
    for (int i = 0; same && i < out_g.rows; i++)
        for (int j = 0; j < out_g.cols; j++)
            same &= close_to(bp_mat_get(&out_g, i, j), bp_mat_get(&out_f, i, j), rtol, atol);
    CHECK(same, "%s (%s): outputs differ", path, bp_dtype_name(dt));
    free(g);
    bp_model_free(m);
}

static int run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d) return 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".json") || strstr(e->d_name, ".expected.")) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        run(path, BP_F64);
        run(path, BP_F32);
        n++;
    }
    closedir(d);
    return n;
}

int main(void)
{
    int n = run_dir("tests/golden/cases") + run_dir("examples");
    CHECK(n >= 86, "expected the 80 golden cases and 6 examples, found %d", n);
    return check_done();
}
