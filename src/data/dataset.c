/* data/dataset.c - the dataset container: row views, one-hot targets,
 * standardisation, shuffling, splitting, subsets. The readers are csv.c and
 * idx.c; the contracts are in the Datasets section of backprop.h. */
#include "data/dataset.h"
#include "core/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Datasets                                                                  */
/* ------------------------------------------------------------------------ */

void bp_dataset_free(bp_dataset *d)
{
    if (!d) return;
    free(d->x);
    free(d->y);
    free(d->labels);
    free(d->names_owned);
    memset(d, 0, sizeof *d);
}

const char *bp_class_name_problem(const char *s, size_t len)
{
    if (len == 0) return "is empty";
    if (len > BP_MAX_CLASS_NAME) return "is longer than 100 bytes";
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p;
        if (c < 32 || c == 127) return "holds a line break or a control character";
        int n = c < 0x80 ? 0 : c >= 0xc2 && c < 0xe0 ? 1 : c >= 0xe0 && c < 0xf0 ? 2 : c >= 0xf0 && c < 0xf5 ? 3 : -1;
        if (n < 0 || end - p <= n) return "is not UTF-8 text";
        unsigned cp = n ? c & (0x3f >> n) : c;
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80) return "is not UTF-8 text";
            cp = cp << 6 | (p[i] & 0x3f);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return "is not UTF-8 text";
        p += n + 1;
    }
    return NULL;
}

bp_status bp_dataset_set_names(bp_dataset *d, const char *const *names, int k, bp_error *err)
{
    char **block = bp_strings_copy(names, k, err);
    if (!block) return BP_E_NOMEM;
    free(d->names_owned);
    d->names_owned = block;
    d->class_names = (const char *const *)block;
    return BP_OK;
}

bp_mat bp_dataset_x(const bp_dataset *d, int start, int count)
{
    bp_mat m = {count, d->features, BP_F32, NULL};
    if (d->x) m.data = d->x + (size_t)start * d->features;
    return m;
}

bp_mat bp_dataset_y(const bp_dataset *d, int start, int count)
{
    bp_mat m = {0, d->outputs, BP_F32, NULL};
    if (d->y) {
        m.rows = count;
        m.data = d->y + (size_t)start * d->outputs;
    }
    return m;
}

/* Allocate the arrays of an n-sample dataset with the shape of `like`
 * (features, outputs, nclasses, labels present or not). */
static bp_status dataset_alloc(bp_dataset *out, const bp_dataset *like, int n, bp_error *err)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    out->features = like->features;
    out->outputs = like->outputs;
    out->nclasses = like->nclasses;
    out->class_names = like->class_names;
    if (like->names_owned && bp_dataset_set_names(out, like->class_names, like->nclasses, err))
        goto fail;
    out->x = bp_malloc((size_t)n * like->features * sizeof(float), err);
    if (!out->x) goto fail;
    if (like->y && !(out->y = bp_malloc((size_t)n * like->outputs * sizeof(float), err)))
        goto fail;
    if (like->labels && !(out->labels = bp_malloc((size_t)n * sizeof(int), err)))
        goto fail;
    return BP_OK;
fail:
    bp_dataset_free(out);
    return BP_E_NOMEM;
}

bp_status bp_dataset_one_hot(bp_dataset *d, int k, bp_error *err)
{
    if ((double)d->n * k > BP_MAX_ONE_HOT)
        return bp_err(err, BP_E_VALUE, "one-hot targets of %d samples over %d classes would take %.1f GiB", d->n, k,
                      (double)d->n * k * sizeof(float) / (1 << 30));
    d->nclasses = d->outputs = k;
    d->y = bp_calloc((size_t)d->n * k, sizeof(float), err);
    if (!d->y) return BP_E_NOMEM;
    for (int i = 0; i < d->n; i++) d->y[(size_t)i * k + d->labels[i]] = 1.0f;
    return BP_OK;
}

/* ------------------------------------------------------------------------ */
/* Standardisation                                                           */
/* ------------------------------------------------------------------------ */

/* The standardisation of d's x, or (with R) of the rows of every process of
 * R, each passing its own: the sums of the two passes are reduced over the
 * processes (in rank order, the same bits on every process). */
static bp_status scaler_fit(bp_scaler *s, const bp_dataset *d, const bp_reducer *R, bp_error *err)
{
    memset(s, 0, sizeof *s);
    int f = d->features;
    if ((d->n < 1 && !R) || f < 1) return bp_err(err, BP_E_ARG, "cannot fit a scaler to an empty dataset");
    double *sum = bp_calloc((size_t)f * 2, sizeof(double), err);
    s->mean = bp_malloc((size_t)f * sizeof(float), err);
    s->std = bp_malloc((size_t)f * sizeof(float), err);
    bp_status st = !sum || !s->mean || !s->std ? BP_E_NOMEM : BP_OK;
    if (R) st = R->agree(R->ctx, st, err);   /* every process is here before the first sum */
    if (st) {
        free(sum);
        bp_scaler_free(s);
        return st;
    }
    double *mean = sum, *var = sum + f, n = d->n;
    /* two passes (mean, then squared deviations): exact 0 for a constant column */
    for (int i = 0; i < d->n; i++)
        for (int j = 0; j < f; j++) mean[j] += d->x[(size_t)i * f + j];
    if (R && ((st = R->allreduce(R->ctx, mean, f, BP_REDUCE_SUM, err)) ||
              (st = R->allreduce(R->ctx, &n, 1, BP_REDUCE_SUM, err))))
        goto done;
    if (n < 1) { st = bp_err(err, BP_E_ARG, "cannot fit a scaler to an empty dataset"); goto done; }
    for (int j = 0; j < f; j++) mean[j] /= n;
    for (int i = 0; i < d->n; i++)
        for (int j = 0; j < f; j++) {
            double dv = d->x[(size_t)i * f + j] - mean[j];
            var[j] += dv * dv;
        }
    if (R && (st = R->allreduce(R->ctx, var, f, BP_REDUCE_SUM, err))) goto done;
    for (int j = 0; j < f; j++) {
        double sd = sqrt(var[j] / n);
        s->mean[j] = (float)mean[j];
        s->std[j] = sd > 1e-12 ? (float)sd : 1.0f;   /* constant column: leave it centred */
    }
    s->features = f;
done:
    free(sum);
    if (st) bp_scaler_free(s);
    return st;
}

bp_status bp_scaler_fit(bp_scaler *s, const bp_dataset *d, bp_error *err) { return scaler_fit(s, d, NULL, err); }

bp_status bp_scaler_fit_shards(bp_scaler *s, const bp_dataset *d, const bp_reducer *R, bp_error *err)
{
    return scaler_fit(s, d, R, err);
}

bp_status bp_scaler_apply_to(const bp_scaler *s, bp_dataset *d, int skip_divide, bp_error *err)
{
    if (s->features == 0) return BP_OK;
    if (s->features != d->features)
        return bp_err(err, BP_E_SHAPE, "the scaler is for %d features, the dataset has %d", s->features, d->features);
    float dv = skip_divide ? 0 : s->divide;
    for (int i = 0; i < d->n; i++) {
        float *row = d->x + (size_t)i * d->features;
        if (dv > 0)
            for (int j = 0; j < d->features; j++) row[j] = row[j] / dv;
        if (s->mean)
            for (int j = 0; j < d->features; j++) row[j] = (row[j] - s->mean[j]) / s->std[j];
    }
    return BP_OK;
}

bp_status bp_scaler_apply(const bp_scaler *s, bp_dataset *d, bp_error *err) { return bp_scaler_apply_to(s, d, 0, err); }

/* The smallest and largest x of d. */
static void x_range(const bp_dataset *d, double *lo, double *hi)
{
    size_t n = (size_t)d->n * d->features;
    float a = n ? d->x[0] : 0, b = a;
    for (size_t i = 1; i < n; i++) {
        if (d->x[i] < a) a = d->x[i];
        if (d->x[i] > b) b = d->x[i];
    }
    *lo = a;
    *hi = b;
}

void bp_scaler_note_range(bp_scaler *s, const bp_dataset *d)
{
    double lo, hi;
    x_range(d, &lo, &hi);
    if (!s->features) s->features = d->features;
    s->lo = (float)lo;
    s->hi = (float)hi;
}

bp_status bp_scaler_note_range_shards(bp_scaler *s, const bp_dataset *d, const bp_reducer *R, bp_error *err)
{
    double v[2];
    x_range(d, &v[1], &v[0]);
    v[1] = d->n > 0 ? -v[1] : -INFINITY;   /* a process without rows has no say */
    v[0] = d->n > 0 ? v[0] : -INFINITY;
    bp_status st = R ? R->allreduce(R->ctx, v, 2, BP_REDUCE_MAX, err) : BP_OK;
    if (st) return st;
    if (!s->features) s->features = d->features;
    s->lo = (float)-v[1];
    s->hi = (float)v[0];
    return BP_OK;
}

int bp_scaler_check(const bp_scaler *s, const bp_dataset *d, double *lo, double *hi)
{
    x_range(d, lo, hi);
    if (!(s->lo < s->hi) || d->n < 1) return 0;
    double w = (double)s->hi - s->lo;
    return *lo < s->lo - w || *hi > s->hi + w || (*hi - *lo) < w / 100;
}

void bp_scaler_free(bp_scaler *s)
{
    if (!s) return;
    free(s->mean);
    free(s->std);
    memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------------------ */
/* Shuffling, splitting, subsets                                             */
/* ------------------------------------------------------------------------ */

bp_status bp_dataset_keep_shard(bp_dataset *d, int index, int count, const char *path, bp_error *err)
{
    if (count <= 1) return BP_OK;
    if (index < 0 || index >= count) return bp_err(err, BP_E_ARG, "%s: share %d of %d does not exist", path, index, count);
    if (d->n <= index)
        return bp_err(err, BP_E_VALUE, "%s: %d row%s for %d processes: each needs one at least (use at most %d)", path,
                      d->n, d->n == 1 ? "" : "s", count, d->n);
    int kept = 0;
    size_t F = (size_t)d->features, K = (size_t)d->outputs;
    for (int i = index; i < d->n; i += count, kept++) {   /* row i moves down to row kept <= i */
        memmove(d->x + kept * F, d->x + (size_t)i * F, F * sizeof *d->x);
        if (d->y) memmove(d->y + kept * K, d->y + (size_t)i * K, K * sizeof *d->y);
        if (d->labels) d->labels[kept] = d->labels[i];
    }
    d->n = kept;
    return BP_OK;
}

/* Uniform integer in 0..bound-1 (bound >= 1). */
static int rng_below(bp_rng *r, int bound)
{
    int k = (int)(bp_rng_uniform(r) * bound);
    return k < bound ? k : bound - 1;
}

static void swap_floats(float *a, float *b, int n)
{
    for (int k = 0; k < n; k++) { float t = a[k]; a[k] = b[k]; b[k] = t; }
}

void bp_permutation(int *perm, int n, uint64_t seed)
{
    bp_rng r;
    bp_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {   /* the same swaps as bp_dataset_shuffle */
        int j = rng_below(&r, i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void bp_dataset_shuffle(bp_dataset *d, uint64_t seed)
{
    bp_rng r;
    bp_rng_seed(&r, seed);
    for (int i = d->n - 1; i > 0; i--) {
        int j = rng_below(&r, i + 1);
        if (j == i) continue;
        swap_floats(d->x + (size_t)i * d->features, d->x + (size_t)j * d->features, d->features);
        if (d->y) swap_floats(d->y + (size_t)i * d->outputs, d->y + (size_t)j * d->outputs, d->outputs);
        if (d->labels) { int t = d->labels[i]; d->labels[i] = d->labels[j]; d->labels[j] = t; }
    }
}

bp_status bp_dataset_subset(const bp_dataset *d, int start, int count, bp_dataset *out,
                            bp_error *err)
{
    memset(out, 0, sizeof *out);
    if (start < 0 || count < 0 || start > d->n || count > d->n - start)
        return bp_err(err, BP_E_ARG, "subset [%d, %d + %d) is outside the %d samples",
                      start, start, count, d->n);
    bp_status st = dataset_alloc(out, d, count, err);
    if (st) return st;
    if (count == 0) return BP_OK;
    memcpy(out->x, d->x + (size_t)start * d->features, (size_t)count * d->features * sizeof(float));
    if (d->y) memcpy(out->y, d->y + (size_t)start * d->outputs, (size_t)count * d->outputs * sizeof(float));
    if (d->labels) memcpy(out->labels, d->labels + start, (size_t)count * sizeof(int));
    return BP_OK;
}

bp_status bp_dataset_split(const bp_dataset *all, double val_fraction, bp_dataset *train,
                           bp_dataset *val, bp_error *err)
{
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    if (!(val_fraction >= 0 && val_fraction < 1))
        return bp_err(err, BP_E_ARG, "validation fraction %g is outside [0, 1)", val_fraction);
    int nval = (int)floor(all->n * val_fraction + 0.5);
    if (all->n - nval < 1)
        return bp_err(err, BP_E_ARG, "validation fraction %g of %d samples leaves no training samples",
                      val_fraction, all->n);
    bp_status st = bp_dataset_subset(all, 0, all->n - nval, train, err);
    if (!st && (st = bp_dataset_subset(all, all->n - nval, nval, val, err))) bp_dataset_free(train);
    return st;
}
