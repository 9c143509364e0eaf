/* io/model_read.c - a model from either kind of file (bp_model_read): a JSON
 * model file (model_json.c) or a safetensors model (model_st.c), told apart
 * by their first bytes, with one line for a file that is neither (a CSV given
 * where the model belongs, say). */
#include "core/error.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
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
