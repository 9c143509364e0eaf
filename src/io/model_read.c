/* io/model_read.c - a model from either kind of file (bp_model_read): a JSON
 * model file (model_json.c) or a safetensors model (model_st.c), told apart
 * by their first bytes, with one line for a file that is neither (a CSV given
 * where the model belongs, say). */
#include "core/error.h"
#include "data/dataset.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What the first bytes of a file look like. */
enum { LOOKS_JSON, LOOKS_TEXT, LOOKS_BINARY };
static int sniff(const char *path)
{
    unsigned char b[512];
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(b, 1, sizeof b, f) : 0;
    if (f) fclose(f);
    size_t i = 0;
    while (i < n && isspace(b[i])) i++;
    if (i < n && (b[i] == '{' || b[i] == '[')) return LOOKS_JSON;
    size_t text = 0;
    for (size_t k = 0; k < n; k++) text += isprint(b[k]) || isspace(b[k]);
    return n >= 8 && text == n ? LOOKS_TEXT : LOOKS_BINARY;
}

/* Does the text start like a CSV row (numbers and separators)? */
static int csv_like(const char *path)
{
    char b[256];
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(b, 1, sizeof b - 1, f) : 0;
    if (f) fclose(f);
    b[n] = 0;
    size_t line = strcspn(b, "\n");
    b[line] = 0;
    return strpbrk(b, ",;\t") != NULL;
}

bp_status bp_model_read(const char *path, bp_dtype dtype, bp_model **out, bp_error *err)
{
    *out = NULL;
    struct stat st_;
    if (stat(path, &st_) != 0) return bp_err(err, BP_E_IO, "%s: cannot open: %s", path, strerror(errno));
    /* a pipe or device cannot be read twice: only a JSON model can come that way */
    if (!S_ISREG(st_.st_mode)) return bp_model_load(path, dtype, out, err);
    int kind = sniff(path);
    if (kind != LOOKS_BINARY) {
        bp_status st = bp_model_load(path, dtype, out, err);
        if (st == BP_E_PARSE && kind == LOOKS_TEXT && csv_like(path))
            return bp_err(err, BP_E_FORMAT, "%s: this looks like a CSV file, not a model (a JSON model starts with '{', "
                          "a safetensors model is binary); the model file comes first, the data after --data", path);
        return st;
    }
    bp_net *net = NULL;
    bp_scaler sc = {0};
    bp_status st = bp_net_load(path, dtype, &net, &sc, err);
    if (!st) st = bp_model_from_net(net, &sc, out, err);
    if (st && !*out) bp_net_free(net);
    bp_scaler_free(&sc);
    return st;
}

/* Row i of y as a class: 0/1 for one column, the column of the 1 of a one-hot
 * row; -1 when the row is neither. */
static int row_label(const bp_mat *y, int i)
{
    if (y->cols == 1) {
        double v = bp_mat_get(y, i, 0);
        return v == 0 ? 0 : v == 1 ? 1 : -1;
    }
    int one = -1;
    for (int j = 0; j < y->cols; j++) {
        double v = bp_mat_get(y, i, j);
        if (v == 1 && one < 0) one = j;
        else if (v != 0) return -1;
    }
    return one;
}

bp_status bp_model_dataset(bp_model *m, bp_dataset *out, bp_error *err)
{
    memset(out, 0, sizeof *out);
    bp_mat x, y;
    if (!bp_model_data(m, &x, &y))
        return bp_err(err, BP_E_VALUE, "no data: the model file has no \"data\" (a safetensors model never has)");
    if (y.rows == 0) return bp_err(err, BP_E_VALUE, "no targets: the model file has data.x but no data.y");
    bp_net *net = bp_model_net(m);
    const bp_net_spec *s = bp_net_get_spec(net);
    bp_act oa = s->layers[s->nlayers - 1].act;
    int classifier = s->loss == BP_LOSS_CE || s->loss == BP_LOSS_BCE || s->loss == BP_LOSS_ZERO_ONE ||
                     oa == BP_ACT_SOFTMAX || oa == BP_ACT_SIGMOID || oa == BP_ACT_STEP;
    out->n = x.rows;
    out->features = x.cols;
    out->outputs = y.cols;
    out->x = bp_malloc((size_t)x.rows * x.cols * sizeof(float) + 1, err);
    out->y = bp_malloc((size_t)y.rows * y.cols * sizeof(float) + 1, err);
    out->labels = classifier ? bp_malloc((size_t)x.rows * sizeof(int), err) : NULL;
    if (!out->x || !out->y || (classifier && !out->labels)) { bp_dataset_free(out); return BP_E_NOMEM; }
    for (int i = 0; i < x.rows; i++) {
        for (int j = 0; j < x.cols; j++) out->x[(size_t)i * x.cols + j] = (float)bp_mat_get(&x, i, j);
        for (int j = 0; j < y.cols; j++) out->y[(size_t)i * y.cols + j] = (float)bp_mat_get(&y, i, j);
        if (out->labels && (out->labels[i] = row_label(&y, i)) < 0) {   /* targets that are not classes */
            free(out->labels);
            out->labels = NULL;
        }
    }
    if (out->labels) {
        out->nclasses = bp_net_classes(net);
        const char *const *names = bp_net_class_names(net);
        if (names && bp_dataset_set_names(out, names, out->nclasses, err)) { bp_dataset_free(out); return BP_E_NOMEM; }
    }
    return BP_OK;
}
