/* common.c - loading a model file with optional --x/--y CSV overrides, and
 * the check that no output of a command overwrites one of its inputs. */
#include "cli.h"
#include "core/file.h"

#include <string.h>

#include <stdlib.h>

static int load_csv(const char *path, bp_mat *m)
{
    bp_error err;
    if (bp_csv_read_matrix(path, m, &err)) return cli_fail(&err);
    return 0;
}

int cli_distinct(const cli_file *f, int n)
{
    for (int i = 0; i < n; i++) {
        if (!f[i].out || !f[i].path || !strcmp(f[i].path, "-")) continue;
        for (int j = 0; j < n; j++) {
            if (j == i || !f[j].path || !strcmp(f[j].path, "-") || (f[j].out && j < i)) continue;
            if (!bp_same_file(f[i].path, f[j].path)) continue;
            if (f[j].out && bp_is_special_file(f[i].path)) continue;   /* /dev/null takes any number */
            if (!f[j].out)
                return cli_failf("%s %s is the same file as %s %s: writing it would destroy an input; nothing was done",
                                 f[i].opt, f[i].path, f[j].opt, f[j].path);
            return cli_failf("%s %s is the same file as %s %s: one output would overwrite the other; nothing was done",
                             f[i].opt, f[i].path, f[j].opt, f[j].path);
        }
    }
    return 0;
}

int cli_load_model(const char *path, bp_dtype dtype, const char *xcsv, const char *ycsv, bp_model **out)
{
    bp_error err;
    bp_mat x = {0}, y = {0};
    *out = NULL;
    if (!strcmp(path, "-")) {   /* a JSON model on standard input */
        char *text = NULL;
        size_t len;
        if (bp_read_file("/dev/stdin", BP_LIMIT_MODEL, "a JSON model file", &text, &len, &err) ||
            bp_model_parse(text, len, "stdin", dtype, out, &err)) {
            free(text);
            char *p = strstr(err.msg, "/dev/stdin");   /* name it as the user did */
            if (p) memmove(p, p + 5, strlen(p + 5) + 1);
            return cli_fail(&err);
        }
        free(text);
    } else if (bp_model_read(path, dtype, out, &err)) {
        return cli_fail(&err);
    }
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
