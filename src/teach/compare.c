/* teach/compare.c - `grad --compare`: a student's hand-derived values against the
 * true ones. Fields are visited in the order of the derivation (forward:
 * z, a of each layer, output, loss; backward: dL/da, dL/dz, dL/dW, dL/db from
 * the last layer down, then dL/dx), so the first wrong field is the first
 * step to re-derive. For a wrong field it also tries the usual slips: a sign,
 * a missing 1/m, a factor 2 (squared vs half squared), a transposed matrix
 * (square ones too), g'(z) left out (dL/dz given as dL/da, or dL/dW and dL/db
 * made from dL/da), the softmax derivative taken as diagonal. */
#include "teach/compare.h"
#include "core/file.h"
#include "core/numfmt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct field {
    char path[48];       /* JSON path in the grad --json object          */
    char what[96];       /* the notation, e.g. g^[2z] = dL/dz^[2]         */
    bp_mat truth;        /* true values (rows x cols)                     */
    int layer;           /* 0-based layer, -1 for loss/output/dL_dx       */
    int backward;        /* 1 for gradients                               */
    int is_row;          /* written as a flat list (dL_db), or a scalar   */
    int is_scalar;
} field;

int bp_cmp_values(json_t *v, const char *file, const char *path, double **out, int *r, int *c, int want_row,
                  bp_error *err)
{
    *out = NULL;
    if (json_is_number(v)) {
        *r = *c = 1;
        *out = malloc(sizeof **out);
        if (!*out) return bp_err(err, BP_E_NOMEM, "out of memory"), -1;
        **out = json_number_value(v);
        return 0;
    }
    if (!json_is_array(v)) {
        bp_err(err, BP_E_VALUE, "%s: %s: expected a number or an array of numbers", file, path);
        return -1;
    }
    size_t n = json_array_size(v);
    int nested = n > 0 && json_is_array(json_array_get(v, 0));
    size_t cols = nested ? json_array_size(json_array_get(v, 0)) : n;
    size_t rows = nested ? n : 1;
    if (want_row && nested) {
        bp_err(err, BP_E_VALUE, "%s: %s: expected a flat list of numbers (one per unit)", file, path);
        return -1;
    }
    double *d = malloc((rows * cols + 1) * sizeof *d);
    if (!d) return bp_err(err, BP_E_NOMEM, "out of memory"), -1;
    for (size_t i = 0; i < rows; i++) {
        json_t *row = nested ? json_array_get(v, i) : v;
        if (!json_is_array(row) || json_array_size(row) != cols) {
            bp_err(err, BP_E_VALUE, "%s: %s[%zu]: expected a row of %zu numbers like the first row", file, path, i, cols);
            free(d);
            return -1;
        }
        for (size_t j = 0; j < cols; j++) {
            json_t *e = json_array_get(row, j);
            if (json_is_null(e)) d[i * cols + j] = NAN;
            else if (json_is_number(e)) d[i * cols + j] = json_number_value(e);
            else {
                if (nested) bp_err(err, BP_E_VALUE, "%s: %s[%zu][%zu]: expected a number", file, path, i, j);
                else bp_err(err, BP_E_VALUE, "%s: %s[%zu]: expected a number", file, path, j);
                free(d);
                return -1;
            }
        }
    }
    *out = d;
    *r = (int)rows;
    *c = (int)cols;
    return 0;
}

json_t *bp_cmp_load(const char *mine, bp_error *err)
{
    json_error_t je;
    char *text;
    size_t len;
    if (bp_read_file(mine, BP_LIMIT_TEXT, "a --compare file", &text, &len, err)) return NULL;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!root) {
        if (je.line < 0) bp_err(err, BP_E_PARSE, "%s: %s", mine, je.text);
        else bp_err(err, BP_E_PARSE, "%s:%d:%d: invalid JSON: %s", mine, je.line, je.column, je.text);
    }
    return root;
}

static int close_to(double a, double b, double rtol)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);  /* null matches a non-finite truth */
    return fabs(a - b) <= rtol * fmax(fabs(a), fabs(b)) + 1e-9;
}

int bp_cmp_all_close(const double *u, const bp_mat *t, double factor, int transposed, double rtol)
{
    for (int i = 0; i < t->rows; i++)
        for (int j = 0; j < t->cols; j++) {
            double uv = transposed ? u[(size_t)j * t->rows + i] : u[(size_t)i * t->cols + j];
            if (!close_to(uv, factor * bp_mat_get(t, i, j), rtol)) return 0;
        }
    return 1;
}

static void print_mat(FILE *out, const double *d, int rows, int cols)
{
    fputc('[', out);
    for (int i = 0; i < rows; i++) {
        if (rows > 1) fputs(i ? ", [" : "[", out);
        for (int j = 0; j < cols; j++) {
            double v = d[(size_t)i * cols + j];
            char b[BP_NUM_MAX];
            if (isfinite(v)) fprintf(out, j ? ", %s" : "%s", bp_num_short(b, v, 8));
            else fputs(j ? ", null" : "null", out);
        }
        if (rows > 1) fputc(']', out);
    }
    fputc(']', out);
}

int bp_cmp_field(FILE *out, const char *path, const char *what, const double *u, int ur, int uc, const bp_mat *t,
                 double rtol, int first[2])
{
    if (first) first[0] = first[1] = -1;
    if (ur == t->rows && uc == t->cols && bp_cmp_all_close(u, t, 1, 0, rtol)) {
        fprintf(out, "right  %-18s %s\n", path, what);
        return 1;
    }
    fprintf(out, "WRONG  %-18s %s\n", path, what);
    if (ur != t->rows || uc != t->cols)
        fprintf(out, "         shape: yours is %d x %d, expected %d x %d\n", ur, uc, t->rows, t->cols);
    fputs("         yours:    ", out);
    print_mat(out, u, ur, uc);
    fputs("\n         expected: ", out);
    double *tv = malloc(((size_t)t->rows * t->cols + 1) * sizeof *tv);
    if (tv) {
        for (int r = 0; r < t->rows; r++)
            for (int c = 0; c < t->cols; c++) tv[(size_t)r * t->cols + c] = bp_mat_get(t, r, c);
        print_mat(out, tv, t->rows, t->cols);
        free(tv);
    }
    fputc('\n', out);
    if (ur == t->rows && uc == t->cols) {
        int shown = 0, total = 0;
        for (int r = 0; r < t->rows; r++)
            for (int c = 0; c < t->cols; c++) {
                double uv = u[(size_t)r * uc + c], tvv = bp_mat_get(t, r, c);
                if (close_to(uv, tvv, rtol)) continue;
                if (first && first[0] < 0) first[0] = r, first[1] = c;
                total++;
                char b1[BP_NUM_MAX], b2[BP_NUM_MAX];
                if (shown == 8) continue;
                shown++;
                fprintf(out, "         differs at [%d][%d]: yours %s, expected %s\n", r, c,
                        bp_num_short(b1, uv, 8), bp_num_short(b2, tvv, 8));
            }
        if (total > shown)
            fprintf(out, "         ... and %d more entr%s differ%s (%d of %d differ)\n", total - shown,
                    total - shown == 1 ? "y" : "ies", total - shown == 1 ? "s" : "", total, t->rows * t->cols);
    }
    return 0;
}

/* Do u (rows x cols) and v agree entry by entry? */
static int same_values(const double *u, const double *v, size_t n, double rtol)
{
    for (size_t i = 0; i < n; i++)
        if (!close_to(u[i], v[i], rtol)) return 0;
    return 1;
}

/* The true g^[la] = dL/da of layer l (dL/dyhat as written for the last), into
 * a new m x units array; NULL when out of memory. */
static double *true_da(bp_model *m, int l)
{
    bp_net *net = bp_model_net(m);
    bp_mat a = bp_net_a(net, l), x, y;
    double *d = malloc(((size_t)a.rows * a.cols + 1) * sizeof *d);
    if (!d) return NULL;
    if (l == bp_net_get_spec(net)->nlayers - 1) {
        bp_model_data(m, &x, &y);
        bp_net_dloss_dyhat(net, &y, d);
    } else {
        bp_mat da = bp_net_da(net, l);
        for (int i = 0; i < a.rows * a.cols; i++) d[i] = bp_mat_get(&da, i / a.cols, i % a.cols);
    }
    return d;
}

/* g'(z^[l]) left out: is the user's g^[lz] the true g^[la] (or their own given
 * g^[la], user_da, may be NULL), or their g^[lW] / g^[lb] what the true g^[la]
 * in place of g^[lz] would give?  Only for layers whose g' is not 1. */
static const char *gprime_missing(bp_model *m, const field *f, const double *u, const double *user_da, double rtol)
{
    bp_net *net = bp_model_net(m);
    const bp_net_spec *s = bp_net_get_spec(net);
    int l = f->layer, dz = strstr(f->path, "dL_dz") != NULL, dw = strstr(f->path, "dL_dW") != NULL;
    if (!f->backward || l < 0 || s->layers[l].act == BP_ACT_LINEAR || (!dz && !dw && !strstr(f->path, "dL_db")))
        return NULL;
    bp_mat x, y;
    bp_model_data(m, &x, &y);
    bp_mat a = bp_net_a(net, l), ap = l ? bp_net_a(net, l - 1) : x;   /* a^[l] and a^[l-1] */
    size_t n = (size_t)a.rows * a.cols;
    double *da = true_da(m, l), *w = NULL;
    const char *slip = NULL;
    if (!da) return NULL;
    if (dz && (same_values(u, da, n, rtol) || (user_da && same_values(u, user_da, n, rtol))))
        slip = "this is g^[la] = dL/da itself: the factor g'(z^[l]) is missing; g^[lz] = g^[la] (Hadamard) g'(z^[l])";
    else if (!dz && (w = calloc((size_t)f->truth.rows * f->truth.cols + 1, sizeof *w))) {
        /* what g^[lW] = (g^[la])^T a^[l-1] (out_in) or (a^[l-1])^T g^[la], and g^[lb] = sum_i g^[la]_i, would be */
        int units = a.cols, fan = ap.cols, oi = s->layout == BP_OUT_IN;
        for (int i = 0; i < a.rows; i++)
            for (int j = 0; j < units; j++) {
                double d = da[(size_t)i * units + j];
                if (!dw) { w[j] += d; continue; }
                for (int k = 0; k < fan; k++)
                    w[oi ? (size_t)j * fan + k : (size_t)k * units + j] += d * bp_mat_get(&ap, i, k);
            }
        if (same_values(u, w, (size_t)f->truth.rows * f->truth.cols, rtol))
            slip = dw ? "this is g^[la] in place of g^[lz]: the factor g'(z^[l]) is missing from g^[lz] = g^[la] (Hadamard) "
                        "g'(z^[l]) before g^[lW]"
                      : "this is the sum of g^[la] in place of g^[lz]: the factor g'(z^[l]) is missing from g^[lz] = "
                        "g^[la] (Hadamard) g'(z^[l]) before g^[lb]";
    }
    free(w);
    free(da);
    return slip;
}

/* The slip that explains a wrong field, or NULL; user_da: the user's own
 * g^[la] of the field's layer when they gave it with the right shape. */
static const char *diagnose(bp_model *m, const field *f, const double *u, int ur, int uc, const double *user_da,
                            double rtol)
{
    bp_net *net = bp_model_net(m);
    const bp_net_spec *s = bp_net_get_spec(net);
    const bp_mat *t = &f->truth;
    int mrows = bp_net_a(net, 0).rows;
    /* transposed: for a square matrix too (right where it is symmetric, so some entries differ) */
    if (ur == t->cols && uc == t->rows && bp_cmp_all_close(u, t, 1, 1, rtol))
        return strstr(f->path, "dL_dW")
                   ? "the values are right but transposed: check the weight layout (out_in: W is units x fan_in; "
                     "in_out: W is fan_in x units)"
                   : "the values are right but transposed: the rows are the samples (m x units)";
    if (ur != t->rows || uc != t->cols) return NULL;
    const char *gp = gprime_missing(m, f, u, user_da, rtol);
    if (gp) return gp;
    if (bp_cmp_all_close(u, t, -1, 0, rtol)) return "every entry has the wrong sign";
    if (mrows > 1 && bp_cmp_all_close(u, t, mrows, 0, rtol))
        return "every entry is m times too large: the 1/m of the mean reduction is missing";
    if (mrows > 1 && bp_cmp_all_close(u, t, 1.0 / mrows, 0, rtol))
        return "every entry is m times too small: a 1/m was applied where the reduction is a sum (or twice)";
    if (bp_cmp_all_close(u, t, 2, 0, rtol)) return "every entry is twice the true value (squared vs half squared loss?)";
    if (bp_cmp_all_close(u, t, 0.5, 0, rtol)) return "every entry is half the true value (half squared vs squared loss?)";
    /* softmax taken as elementwise: g_z = g_a * a (1 - a) instead of the full Jacobian */
    if (f->backward && f->layer >= 0 && strstr(f->path, "dL_dz") && s->layers[f->layer].act == BP_ACT_SOFTMAX) {
        bp_mat a = bp_net_a(net, f->layer);
        double *dy = true_da(m, f->layer);
        int diag = dy != NULL;
        for (int i = 0; i < a.rows && diag; i++)
            for (int j = 0; j < a.cols && diag; j++) {
                double av = bp_mat_get(&a, i, j);
                diag = close_to(u[(size_t)i * a.cols + j], dy[(size_t)i * a.cols + j] * av * (1 - av), rtol);
            }
        free(dy);
        if (diag)
            return "this is dL/da times a(1-a), the softmax derivative taken as diagonal; softmax needs the full "
                   "Jacobian: dL/dz_j = a_j (dL/da_j - sum_k dL/da_k a_k), which with cross-entropy is yhat - y";
    }
    return NULL;
}

static const char *rederive_hint(const bp_net_spec *s, const field *f)
{
    if (!f->backward) return "recompute this forward value from the layer below";
    if (strstr(f->path, "dL_da") && f->layer == s->nlayers - 1) return "dL/dyhat: differentiate the loss as written (with 1/m for a mean)";
    if (strstr(f->path, "dL_da")) return "g^[la] = g^[l+1,z] W^[l+1] (out_in) or g^[l+1,z] (W^[l+1])^T (in_out)";
    if (strstr(f->path, "dL_dz")) return "g^[lz] = g^[la] (Hadamard) g'(z^[l]), or yhat - y where softmax+CE / sigmoid+BCE meet";
    if (strstr(f->path, "dL_dW")) return "g^[lW] = (g^[lz])^T a^[l-1] (out_in) or (a^[l-1])^T g^[lz] (in_out), summed over samples";
    if (strstr(f->path, "dL_db")) return "g^[lb] = g^[lz] summed over the samples";
    return "dL/dx = g^[1z] W^[1] (out_in) or g^[1z] (W^[1])^T (in_out)";
}

static int add_field(field *fs, int *n, const char *path, const char *what, bp_mat t, int layer, int backward,
                     int is_row)
{
    field *f = &fs[(*n)++];
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->what, sizeof f->what, "%s", what);
    f->truth = t;
    f->layer = layer;
    f->backward = backward;
    f->is_row = is_row;
    return 0;
}

/* The user's layers[l].key, or NULL. */
static json_t *lookup_key(json_t *root, int l, const char *key)
{
    json_t *L = json_array_get(json_object_get(root, "layers"), (size_t)l);
    return json_is_object(L) ? json_object_get(L, key) : NULL;
}

/* Look up a user's field by path ("loss", "output", "dL_dx", "layers[i].key"). */
static json_t *lookup(json_t *root, const field *f)
{
    if (f->layer < 0) return json_object_get(root, f->path);
    return lookup_key(root, f->layer, strchr(f->path, '.') + 1);
}

static bp_status check_user_keys(json_t *root, const char *file, int nlayers, bp_error *err)
{
    static const char *const top[] = {"loss", "output", "layers", "dL_dx"};
    static const char *const per[] = {"z", "a", "dL_da", "dL_dz", "dL_dW", "dL_db"};
    const char *key;
    json_t *v;
    if (!json_is_object(root)) return bp_err(err, BP_E_VALUE, "%s: expected a JSON object with fields of grad --json", file);
    json_object_foreach(root, key, v) {
        int ok = 0;
        for (size_t i = 0; i < 4; i++) ok |= !strcmp(key, top[i]);
        if (!ok)
            return bp_err(err, BP_E_VALUE, "%s: unknown field \"%s\" (expected loss, output, layers, dL_dx)", file, key);
    }
    json_t *layers = json_object_get(root, "layers");
    if (!layers) return BP_OK;
    if (!json_is_array(layers)) return bp_err(err, BP_E_VALUE, "%s: layers: expected an array with one object per layer", file);
    if ((int)json_array_size(layers) != nlayers)
        return bp_err(err, BP_E_VALUE, "%s: layers: the network has %d layers, the file gives %zu (use {} for a layer you skip)",
                      file, nlayers, json_array_size(layers));
    for (size_t l = 0; l < json_array_size(layers); l++) {
        json_t *L = json_array_get(layers, l);
        if (json_is_null(L)) continue;
        if (!json_is_object(L)) return bp_err(err, BP_E_VALUE, "%s: layers[%zu]: expected an object", file, l);
        json_object_foreach(L, key, v) {
            int ok = 0;
            for (size_t i = 0; i < 6; i++) ok |= !strcmp(key, per[i]);
            if (!ok)
                return bp_err(err, BP_E_VALUE, "%s: layers[%zu]: unknown field \"%s\" (expected z, a, dL_da, dL_dz, dL_dW, dL_db)",
                              file, l, key);
        }
    }
    return BP_OK;
}

bp_status bp_compare(bp_model *m, double loss, const char *mine, double rtol, FILE *out, int *all_right,
                     bp_error *err)
{
    bp_net *net = bp_model_net(m);
    const bp_net_spec *s = bp_net_get_spec(net);
    int L = s->nlayers - 1;
    json_t *root = bp_cmp_load(mine, err);
    if (!root) return err ? err->status : BP_E_PARSE;
    bp_status st = check_user_keys(root, mine, s->nlayers, err);
    if (st) { json_decref(root); return st; }

    /* the true values, in the order of the derivation */
    bp_mat x, y;
    bp_model_data(m, &x, &y);
    bp_mat a_out = bp_net_a(net, L);
    double *dyhat = bp_malloc((size_t)a_out.rows * a_out.cols * sizeof *dyhat, err);
    field *fs = bp_calloc((size_t)s->nlayers * 6 + 4, sizeof *fs, err);
    if (!dyhat || !fs) { free(dyhat); free(fs); json_decref(root); return BP_E_NOMEM; }
    bp_net_dloss_dyhat(net, &y, dyhat);
    double loss_v = loss;
    int n = 0;
    char p[48], w[96];
    for (int l = 0; l <= L; l++) {
        snprintf(p, sizeof p, "layers[%d].z", l);
        snprintf(w, sizeof w, "z^[%d]", l + 1);
        add_field(fs, &n, p, w, bp_net_z(net, l), l, 0, 0);
        snprintf(p, sizeof p, "layers[%d].a", l);
        snprintf(w, sizeof w, "a^[%d]", l + 1);
        add_field(fs, &n, p, w, bp_net_a(net, l), l, 0, 0);
    }
    add_field(fs, &n, "output", "yhat", a_out, -1, 0, 0);
    add_field(fs, &n, "loss", "L", (bp_mat){1, 1, BP_F64, &loss_v}, -1, 0, 0);
    fs[n - 1].is_scalar = 1;
    for (int l = L; l >= 0; l--) {
        snprintf(p, sizeof p, "layers[%d].dL_da", l);
        snprintf(w, sizeof w, "g^[%da] = dL/da^[%d]", l + 1, l + 1);
        add_field(fs, &n, p, w, l == L ? (bp_mat){a_out.rows, a_out.cols, BP_F64, dyhat} : bp_net_da(net, l), l, 1, 0);
        snprintf(p, sizeof p, "layers[%d].dL_dz", l);
        snprintf(w, sizeof w, "g^[%dz] = dL/dz^[%d]", l + 1, l + 1);
        add_field(fs, &n, p, w, bp_net_dz(net, l), l, 1, 0);
        snprintf(p, sizeof p, "layers[%d].dL_dW", l);
        snprintf(w, sizeof w, "g^[%dW] = dL/dW^[%d]", l + 1, l + 1);
        add_field(fs, &n, p, w, bp_net_weight_grad(net, l), l, 1, 0);
        if (s->layers[l].bias) {
            snprintf(p, sizeof p, "layers[%d].dL_db", l);
            snprintf(w, sizeof w, "g^[%db] = dL/db^[%d]", l + 1, l + 1);
            add_field(fs, &n, p, w, bp_net_bias_grad(net, l), l, 1, 1);
        }
    }
    add_field(fs, &n, "dL_dx", "dL/dx", bp_net_dx(net), -1, 1, 0);

    int given = 0, wrong = 0, first_wrong = -1;
    for (int i = 0; i < n && !st; i++) {
        field *f = &fs[i];
        json_t *v = lookup(root, f);
        if (!v) continue;
        if (json_is_null(v) && !strcmp(strchr(f->path, '.') ? strchr(f->path, '.') + 1 : f->path, "dL_db")) continue;
        double *u;
        int ur, uc;
        if (bp_cmp_values(v, mine, f->path, &u, &ur, &uc, f->is_row, err)) { st = err ? err->status : BP_E_VALUE; break; }
        given++;
        if (!bp_cmp_field(out, f->path, f->what, u, ur, uc, &f->truth, rtol, NULL)) {
            wrong++;
            if (first_wrong < 0) first_wrong = i;
            double *uda = NULL;   /* the user's own g^[la] of this layer, for g'(z) left out */
            int dr, dc;
            json_t *jda = f->layer >= 0 && strstr(f->path, "dL_dz") ? lookup_key(root, f->layer, "dL_da") : NULL;
            if (jda && bp_cmp_values(jda, mine, f->path, &uda, &dr, &dc, 0, NULL) == 0 && (dr != ur || dc != uc)) {
                free(uda);
                uda = NULL;
            }
            const char *why = diagnose(m, f, u, ur, uc, uda, rtol);
            free(uda);
            if (why) fprintf(out, "         likely slip: %s\n", why);
        }
        free(u);
    }
    if (!st) {
        if (given == 0) {
            st = bp_err(err, BP_E_VALUE, "%s: no fields to check (give any of: loss, output, layers[i].z/a/dL_da/dL_dz/dL_dW/dL_db, dL_dx)", mine);
        } else if (wrong == 0) {
            fprintf(out, "\nall %d given value%s right (relative tolerance %g)\n", given, given == 1 ? " is" : "s are", rtol);
        } else {
            const field *f = &fs[first_wrong];
            fprintf(out, "\n%d of %d given values wrong (relative tolerance %g)\n", wrong, given, rtol);
            fprintf(out, "first wrong step: %s (%s): %s\n", f->path, f->what, rederive_hint(s, f));
            fprintf(out, "re-derive from there; values after it that depend on it will change too\n");
        }
        *all_right = wrong == 0;
    }
    free(dyhat);
    free(fs);
    json_decref(root);
    return st;
}

const char *bp_compare_hint(bp_model *m, const char *path, const bp_mat *truth, const double *u, int ur, int uc,
                            double rtol)
{
    field f;
    memset(&f, 0, sizeof f);
    snprintf(f.path, sizeof f.path, "%s", path);
    f.truth = *truth;
    if (sscanf(path, "layers[%d]", &f.layer) != 1) f.layer = -1;
    f.backward = strstr(path, "dL_") != NULL;
    return diagnose(m, &f, u, ur, uc, NULL, rtol);
}
