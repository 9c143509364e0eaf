/* common.c - loading a model file with optional --x/--y CSV overrides, and
 * the check that no output of a command overwrites one of its inputs. */
#include "cli.h"
#include "data_opts.h"
#include "core/file.h"

#include <stdio.h>
#include <string.h>

#include <stdlib.h>

static int load_csv(const char *path, bp_mat *m)
{
    bp_error err;
    if (bp_csv_read_matrix(path, m, &err)) return cli_fail(&err);
    return 0;
}

/* A single column of class labels 0..K-1 for a classifier of K > 1 outputs
 * (what train reads) becomes the one-hot y the model's data holds. */
static int labels_to_one_hot(const char *path, const bp_net *net, bp_mat *y)
{
    int k = bp_net_outputs(net);
    if (y->cols != 1 || k < 2 || !data_net_is_classifier(net)) return 0;
    for (int i = 0; i < y->rows; i++) {
        double v = ((double *)y->data)[i];
        if (v < 0 || v >= k || v != (int)v)
            return cli_failf("%s: row %d: %g is not a class label 0..%d (one column of y holds the class of each "
                             "sample; %d columns hold the targets)", path, i + 1, v, k - 1, k);
    }
    double *oh = calloc((size_t)y->rows * k, sizeof *oh);
    if (!oh) return cli_failf("out of memory");
    for (int i = 0; i < y->rows; i++) oh[(size_t)i * k + (int)((double *)y->data)[i]] = 1;
    free(y->data);
    y->data = oh;
    y->cols = k;
    return 0;
}

/* "backprop: MESSAGE", then the line of `text` holding byte `where` with a caret under it. */
int cli_fail_at(const char *text, int where, const bp_error *err)
{
    cli_fail(err);
    if (where < 0) return EXIT_BAD;
    int ls = where, le = where;
    while (ls > 0 && text[ls - 1] != '\n') ls--;
    while (text[le] && text[le] != '\n') le++;
    fprintf(stderr, "  %.*s\n  ", le - ls, text + ls);
    for (int i = ls; i < where; i++) fputc(text[i] == '\t' ? '\t' : ' ', stderr);
    fputs("^\n", stderr);
    return EXIT_BAD;
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
    if (ycsv && bp_csv_read_matrix(ycsv, &y, &err)) {   /* class names are for data files; y takes numbers */
        const char *const *names = bp_net_class_names(bp_model_net(*out));
        if (err.status == BP_E_PARSE && names)
            rc = cli_failf("%s; y holds numbers: the class labels 0..%d (0 is %s, 1 is %s%s)", err.msg,
                           bp_net_classes(bp_model_net(*out)) - 1, names[0], names[1],
                           bp_net_classes(bp_model_net(*out)) > 2 ? ", ..." : "");
        else
            rc = cli_fail(&err);
        goto done;
    }
    if (ycsv && (rc = labels_to_one_hot(ycsv, bp_model_net(*out), &y))) goto done;
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

int cli_relu_at_zero(const char *arg, bp_kinks *k)
{
    if (strcmp(arg, "0") && strcmp(arg, "1"))
        return cli_failf("--relu-grad-at-zero: expected 0 (as PyTorch) or 1 (z >= 0), got '%s'", arg);
    k->relu_at_zero = arg[0] == '1';
    return 0;
}

int cli_tie(const char *arg, bp_kinks *k)
{
    if (bp_tie_parse(arg, &k->tie)) return cli_failf("--tie: expected half (as PyTorch) or first, got '%s'", arg);
    return 0;
}
