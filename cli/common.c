/* common.c - loading a model file with optional --x/--y CSV overrides. */
#include "cli.h"

#include <stdlib.h>

static int load_csv(const char *path, bp_mat *m)
{
    bp_error err;
    if (bp_csv_read_matrix(path, m, &err)) return cli_fail(&err);
    return 0;
}

int cli_load_model(const char *path, bp_dtype dtype, const char *xcsv, const char *ycsv, bp_model **out)
{
    bp_error err;
    bp_mat x = {0}, y = {0};
    *out = NULL;
    if (bp_model_load(path, dtype, out, &err)) return cli_fail(&err);
    int rc = 0;
    if (xcsv && (rc = load_csv(xcsv, &x))) goto done;
    if (ycsv && (rc = load_csv(ycsv, &y))) goto done;
    if ((xcsv || ycsv) && bp_model_set_data(*out, xcsv ? &x : NULL, ycsv ? &y : NULL, &err)) {
        rc = cli_failf("%s%s%s: %s", xcsv ? xcsv : "", xcsv && ycsv ? ", " : "", ycsv ? ycsv : "", err.msg);
        goto done;
    }
done:
    free(x.data);
    free(y.data);
    if (rc) { bp_model_free(*out); *out = NULL; }
    return rc;
}
