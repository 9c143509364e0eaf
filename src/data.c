/* data.c - datasets: CSV and IDX loading, named datasets, standardisation,
 * shuffling, splitting.  See data.h for the contracts. */
#define _POSIX_C_SOURCE 200809L
#include "data.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* ------------------------------------------------------------------------ */
/* Datasets                                                                  */
/* ------------------------------------------------------------------------ */

void bp_dataset_free(bp_dataset *d)
{
    if (!d) return;
    free(d->x);
    free(d->y);
    free(d->labels);
    memset(d, 0, sizeof *d);
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

/* One-hot rows from labels: y (n x k) = 0 except y[i][labels[i]] = 1. */
static bp_status one_hot(bp_dataset *d, int k, bp_error *err)
{
    d->nclasses = d->outputs = k;
    d->y = bp_calloc((size_t)d->n * k, sizeof(float), err);
    if (!d->y) return BP_E_NOMEM;
    for (int i = 0; i < d->n; i++) d->y[(size_t)i * k + d->labels[i]] = 1.0f;
    return BP_OK;
}

/* ------------------------------------------------------------------------ */
/* CSV                                                                       */
/* ------------------------------------------------------------------------ */

#define CSV_MAX_AUTO_CLASSES 65536 /* guards the one-hot y against a stray 1e9 */

void bp_csv_options_init(bp_csv_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->header = BP_CSV_HEADER_AUTO;
    opt->target = BP_CSV_CLASSES;
    opt->label_col = -1;
    opt->delim = ',';
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Parse one whole field [s, e) (NUL at e) as a number.  0: ok; 1: not a
 * number; 2: not finite in float32 (nan, inf, 1e39). */
static int parse_number(const char *s, const char *e, double *v)
{
    while (s < e && is_blank(*s)) s++;
    while (e > s && is_blank(e[-1])) e--;
    if (s == e) return 1;
    char *end;
    *v = strtod(s, &end);
    if (end != e) return 1;
    if (!isfinite(*v) || !isfinite((float)*v)) return 2;
    return 0;
}

/* Growing storage for rows of parsed values. */
typedef struct csv_rows {
    int n, cap;
    float *x, *t;   /* n x features, n x ntargets */
    int *labels;    /* n (classification) */
} csv_rows;

static bp_status csv_grow(csv_rows *r, int features, int nt, int classes, bp_error *err)
{
    if (r->n < r->cap) return BP_OK;
    if (r->cap > INT_MAX / 2) return bp_err(err, BP_E_NOMEM, "too many rows");
    int cap = r->cap ? 2 * r->cap : 256;
    float *x = realloc(r->x, (size_t)cap * features * sizeof(float));
    if (x) r->x = x;
    float *t = nt ? realloc(r->t, (size_t)cap * nt * sizeof(float)) : r->t;
    if (t) r->t = t;
    int *l = classes ? realloc(r->labels, (size_t)cap * sizeof(int)) : r->labels;
    if (l) r->labels = l;
    if (!x || (nt && !t) || (classes && !l))
        return bp_err(err, BP_E_NOMEM, "out of memory (%d rows)", cap);
    r->cap = cap;
    return BP_OK;
}

/* Number of fields of the line [p, e). */
static int count_fields(const char *p, const char *e, char delim)
{
    int n = 1;
    for (; p < e; p++) n += *p == delim;
    return n;
}

/* A field for an error message, at most 40 characters, without the blanks
 * around it. */
#define FIELD_FMT "'%.*s%s'"
#define FIELD_ARGS(s, e) shown_len(s, e), skip_blank(s, e), (trimmed_len(s, e) > 40 ? "..." : "")
static const char *skip_blank(const char *s, const char *e)
{
    while (s < e && is_blank(*s)) s++;
    return s;
}
static size_t trimmed_len(const char *s, const char *e)
{
    s = skip_blank(s, e);
    while (e > s && is_blank(e[-1])) e--;
    return (size_t)(e - s);
}
static int shown_len(const char *s, const char *e)
{
    size_t n = trimmed_len(s, e);
    return n > 40 ? 40 : (int)n;
}

bp_status bp_csv_load(const char *path, const bp_csv_options *opt, bp_dataset *out,
                      bp_error *err)
{
    bp_csv_options defaults;
    if (!opt) { bp_csv_options_init(&defaults); opt = &defaults; }
    memset(out, 0, sizeof *out);
    char delim = opt->delim ? opt->delim : ',';
    int classes = opt->target == BP_CSV_CLASSES;
    int nt = opt->target == BP_CSV_UNLABELED ? 0
           : opt->target == BP_CSV_REGRESSION && opt->ntargets > 0 ? opt->ntargets : 1;
    if (opt->nclasses < 0) return bp_err(err, BP_E_ARG, "%s: nclasses %d is negative", path, opt->nclasses);

    char *buf;
    size_t len;
    bp_status st = bp_read_file(path, &buf, &len, err);
    if (st) return st;

    csv_rows r = {0, 0, NULL, NULL, NULL};
    int ncols = -1, lc = 0, features = 0, maxlabel = -1, header_field = 0;
    char *end = buf + len;
    int lineno = 0;
    for (char *p = buf; p < end; ) {
        /* one line [p, e), without its LF or CRLF */
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end, *next = nl ? nl + 1 : end;
        if (e > p && e[-1] == '\r') e--;
        lineno++;
        if (skip_blank(p, e) == e) { p = next; continue; }
        int nf = count_fields(p, e, delim);

        if (ncols < 0) {
            /* First row: fixes the column count, the header and the targets. */
            ncols = nf;
            int header = opt->header == BP_CSV_HEADER_YES;
            if (opt->header == BP_CSV_HEADER_AUTO) {
                for (char *f = p; f <= e && !header; header_field++) {
                    char *fe = memchr(f, delim, (size_t)(e - f));
                    if (!fe) fe = e;
                    char save = *fe;
                    double v;
                    *fe = '\0';
                    header = parse_number(f, fe, &v) == 1;
                    *fe = save;
                    f = fe + 1;
                }
                if (!header) header_field = 0;
            }
            lc = opt->label_col < 0 ? ncols + opt->label_col : opt->label_col;
            if (nt && (lc < 0 || lc + nt > ncols)) {
                if (nt == 1)
                    st = bp_err(err, BP_E_ARG, "%s:%d: label column %d is outside the %d columns",
                                path, lineno, opt->label_col, ncols);
                else
                    st = bp_err(err, BP_E_ARG, "%s:%d: %d target columns from column %d do not fit in the %d columns",
                                path, lineno, nt, opt->label_col, ncols);
                goto done;
            }
            features = ncols - nt;
            if (features < 1) {
                st = bp_err(err, BP_E_SHAPE, "%s:%d: no feature columns: %d columns, %d used as targets",
                            path, lineno, ncols, nt);
                goto done;
            }
            if (header) { p = next; continue; }
        }
        if (nf != ncols) {
            st = bp_err(err, BP_E_PARSE, "%s:%d: expected %d fields, got %d", path, lineno, ncols, nf);
            goto done;
        }
        if ((st = csv_grow(&r, features, classes ? 0 : nt, classes, err))) goto done;

        /* Parse each field in place (its delimiter becomes a NUL). */
        float *xr = r.x + (size_t)r.n * features, *tr = r.t ? r.t + (size_t)r.n * nt : NULL;
        char *f = p;
        for (int j = 0; j < ncols; j++) {
            char *fe = memchr(f, delim, (size_t)(e - f));
            if (!fe) fe = e;
            *fe = '\0';
            int col = (int)(skip_blank(f, fe) - p) + 1;   /* 1-based, first non-blank */
            double v;
            int bad = parse_number(f, fe, &v);
            if (bad == 1) {
                st = bp_err(err, BP_E_PARSE, "%s:%d:%d: field %d: expected a number, got " FIELD_FMT,
                            path, lineno, col, j + 1, FIELD_ARGS(f, fe));
                goto done;
            }
            if (bad == 2) {
                st = bp_err(err, BP_E_VALUE, "%s:%d:%d: field %d: expected a finite number (float32 range), got " FIELD_FMT,
                            path, lineno, col, j + 1, FIELD_ARGS(f, fe));
                goto done;
            }
            int t = j - lc;   /* index among the target columns */
            if (nt && t >= 0 && t < nt) {
                if (classes) {
                    int kmax = opt->nclasses ? opt->nclasses : CSV_MAX_AUTO_CLASSES;
                    if (v < 0 || v != floor(v)) {
                        st = bp_err(err, BP_E_VALUE, "%s:%d:%d: field %d: expected a class label (an integer >= 0), got " FIELD_FMT,
                                    path, lineno, col, j + 1, FIELD_ARGS(f, fe));
                        goto done;
                    }
                    if (v >= kmax) {
                        if (opt->nclasses)
                            st = bp_err(err, BP_E_VALUE, "%s:%d:%d: field %d: class label %.0f is out of range 0..%d",
                                        path, lineno, col, j + 1, v, kmax - 1);
                        else
                            st = bp_err(err, BP_E_VALUE, "%s:%d:%d: field %d: class label %.0f is too large (at most %d classes)",
                                        path, lineno, col, j + 1, v, kmax);
                        goto done;
                    }
                    r.labels[r.n] = (int)v;
                    if ((int)v > maxlabel) maxlabel = (int)v;
                } else {
                    tr[t] = (float)v;
                }
            } else {
                *xr++ = (float)v;
            }
            f = fe + 1;
        }
        r.n++;
        p = next;
    }

    if (ncols < 0) { st = bp_err(err, BP_E_PARSE, "%s: empty file: no rows", path); goto done; }
    if (r.n == 0) {
        if (header_field)   /* auto-detected: say why, since the row may have been meant as data */
            st = bp_err(err, BP_E_PARSE, "%s: no data rows after the header (the first row was taken as a header because field %d is not a number)",
                        path, header_field);
        else
            st = bp_err(err, BP_E_PARSE, "%s: no data rows after the header", path);
        goto done;
    }

    out->n = r.n;
    out->features = features;
    out->x = r.x;
    r.x = NULL;
    if (classes) {
        out->labels = r.labels;
        r.labels = NULL;
        if ((st = one_hot(out, opt->nclasses ? opt->nclasses : maxlabel + 1, err))) {
            bp_dataset_free(out);
            goto done;
        }
    } else if (nt) {
        out->outputs = nt;
        out->y = r.t;
        r.t = NULL;
    }
done:
    free(r.x);
    free(r.t);
    free(r.labels);
    free(buf);
    return st;
}

/* ------------------------------------------------------------------------ */
/* IDX                                                                       */
/* ------------------------------------------------------------------------ */

/* A gzip or plain file read through zlib, with the uncompressed offset. */
typedef struct idx_file {
    gzFile f;
    const char *path;
    size_t off;
} idx_file;

static bp_status idx_open(idx_file *in, const char *path, bp_error *err)
{
    in->path = path;
    in->off = 0;
    errno = 0;
    in->f = gzopen(path, "rb");
    if (!in->f)
        return bp_err(err, errno ? BP_E_IO : BP_E_NOMEM, "%s: cannot open: %s", path,
                      errno ? strerror(errno) : "out of memory");
    return BP_OK;
}

/* Read up to n bytes; *got receives how many.  A short count is the end of
 * the data (a gzip stream cut short counts as the end too); other read or
 * decompression errors fail. */
static bp_status idx_read(idx_file *in, void *buf, size_t n, size_t *got, bp_error *err)
{
    *got = 0;
    while (*got < n) {
        size_t want = n - *got > (1u << 30) ? (1u << 30) : n - *got;
        int r = gzread(in->f, (char *)buf + *got, (unsigned)want);
        if (r <= 0) {
            int code;
            const char *msg = gzerror(in->f, &code);
            if (code == Z_OK || code == Z_BUF_ERROR) break;   /* end, or truncated gzip */
            if (code == Z_ERRNO)
                return bp_err(err, BP_E_IO, "%s: read error: %s", in->path, strerror(errno));
            return bp_err(err, BP_E_FORMAT, "%s: byte %zu: corrupt gzip data: %s", in->path,
                          in->off + *got, msg);
        }
        *got += (size_t)r;
    }
    in->off += *got;
    return BP_OK;
}

/* Read and check the header: magic 0x0000 08 <ndims> (unsigned bytes), then
 * ndims big-endian uint32 sizes, each 1..INT_MAX. */
static bp_status idx_header(idx_file *in, int ndims, const char *what, uint32_t *dims,
                            bp_error *err)
{
    unsigned char h[4 + 4 * 3];
    size_t want = 4 + 4 * (size_t)ndims, got;
    bp_status st = idx_read(in, h, want, &got, err);
    if (st) return st;
    uint32_t expect = 0x800u | (uint32_t)ndims, magic;
    if (got < 4)
        return bp_err(err, BP_E_FORMAT, "%s: not an IDX file: %zu bytes, too short for the magic number",
                      in->path, got);
    magic = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (magic != expect)
        return bp_err(err, BP_E_FORMAT, "%s: byte 0: bad magic 0x%08lx, expected 0x%08lx (IDX %s: unsigned bytes, %d dimension%s)",
                      in->path, (unsigned long)magic, (unsigned long)expect, what, ndims,
                      ndims == 1 ? "" : "s");
    if (got < want)
        return bp_err(err, BP_E_FORMAT, "%s: truncated: expected %zu bytes of header, got %zu",
                      in->path, want, got);
    for (int i = 0; i < ndims; i++) {
        const unsigned char *b = h + 4 + 4 * i;
        dims[i] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        if (dims[i] == 0 || dims[i] > INT_MAX)
            return bp_err(err, BP_E_FORMAT, "%s: byte %d: dimension %d is %lu, expected 1..%d",
                          in->path, 4 + 4 * i, i + 1, (unsigned long)dims[i], INT_MAX);
    }
    return BP_OK;
}

/* After the expected data: anything more means the header is wrong. */
static bp_status idx_expect_end(idx_file *in, const char *what, bp_error *err)
{
    unsigned char c;
    size_t got;
    bp_status st = idx_read(in, &c, 1, &got, err);
    if (st) return st;
    if (got)
        return bp_err(err, BP_E_FORMAT, "%s: byte %zu: unexpected data after the %zu bytes of %s",
                      in->path, in->off - 1, in->off - 1, what);
    return BP_OK;
}

/* Pixels: n x features bytes -> x (n x features floats in [0, 1]).  x grows as
 * data arrives, so a lying header on a short file cannot force a huge
 * allocation before the truncation is seen. */
static bp_status idx_pixels(idx_file *in, int n, int features, float **xout, bp_error *err)
{
    size_t total = (size_t)n * features, done = 0, cap = 0;
    float *x = NULL;
    unsigned char chunk[1 << 16];
    bp_status st = BP_OK;
    while (done < total) {
        size_t want = total - done < sizeof chunk ? total - done : sizeof chunk, got;
        if ((st = idx_read(in, chunk, want, &got, err))) goto fail;
        if (done + got > cap) {
            size_t ncap = cap ? cap : ((size_t)1 << 20);
            while (ncap < done + got) ncap *= 2;
            if (ncap > total) ncap = total;
            float *nx = realloc(x, ncap * sizeof(float));
            if (!nx) { st = bp_err(err, BP_E_NOMEM, "%s: out of memory", in->path); goto fail; }
            x = nx;
            cap = ncap;
        }
        for (size_t i = 0; i < got; i++) x[done + i] = chunk[i] / 255.0f;
        done += got;
        if (got < want) {
            st = bp_err(err, BP_E_FORMAT, "%s: truncated: expected %zu bytes of pixel data, got %zu",
                        in->path, total, done);
            goto fail;
        }
    }
    if ((st = idx_expect_end(in, "pixel data", err))) goto fail;
    *xout = x;
    return BP_OK;
fail:
    free(x);
    return st;
}

/* Labels: n bytes, each < fixed_k when fixed_k > 0. */
static bp_status idx_labels(idx_file *in, int n, int fixed_k, int *labels, int *maxlabel,
                            bp_error *err)
{
    unsigned char chunk[1 << 16];
    size_t start = in->off;
    *maxlabel = 0;
    for (int done = 0; done < n; ) {
        size_t want = (size_t)(n - done) < sizeof chunk ? (size_t)(n - done) : sizeof chunk, got;
        bp_status st = idx_read(in, chunk, want, &got, err);
        if (st) return st;
        for (size_t i = 0; i < got; i++, done++) {
            if (fixed_k && chunk[i] >= fixed_k)
                return bp_err(err, BP_E_VALUE, "%s: record %d (byte %zu): label %d is out of range 0..%d",
                              in->path, done, start + (size_t)done, chunk[i], fixed_k - 1);
            labels[done] = chunk[i];
            if (chunk[i] > *maxlabel) *maxlabel = chunk[i];
        }
        if (got < want)
            return bp_err(err, BP_E_FORMAT, "%s: truncated: expected %d bytes of label data, got %d",
                          in->path, n, done);
    }
    return idx_expect_end(in, "label data", err);
}

/* bp_idx_load with a fixed class count (0: max(10, largest label + 1)). */
static bp_status idx_load(const char *images_path, const char *labels_path, int fixed_k,
                          bp_dataset *out, bp_error *err)
{
    memset(out, 0, sizeof *out);
    idx_file in = {NULL, NULL, 0};
    uint32_t dims[3];
    bp_status st;
    if ((st = idx_open(&in, images_path, err))) return st;
    if ((st = idx_header(&in, 3, "images", dims, err))) goto done;
    if ((uint64_t)dims[1] * dims[2] > INT_MAX) {
        st = bp_err(err, BP_E_FORMAT, "%s: images of %lu x %lu pixels are too large", images_path,
                    (unsigned long)dims[1], (unsigned long)dims[2]);
        goto done;
    }
    out->n = (int)dims[0];
    out->features = (int)(dims[1] * dims[2]);
    if ((st = idx_pixels(&in, out->n, out->features, &out->x, err))) goto done;
    gzclose(in.f);
    in.f = NULL;
    if (!labels_path) return BP_OK;

    if ((st = idx_open(&in, labels_path, err))) goto done;
    if ((st = idx_header(&in, 1, "labels", dims, err))) goto done;
    if ((int)dims[0] != out->n) {
        st = bp_err(err, BP_E_SHAPE, "%s: %lu labels, but %s has %d images", labels_path,
                    (unsigned long)dims[0], images_path, out->n);
        goto done;
    }
    int maxlabel;
    if (!(out->labels = bp_malloc((size_t)out->n * sizeof(int), err))) { st = BP_E_NOMEM; goto done; }
    if ((st = idx_labels(&in, out->n, fixed_k, out->labels, &maxlabel, err))) goto done;
    st = one_hot(out, fixed_k ? fixed_k : maxlabel + 1 > 10 ? maxlabel + 1 : 10, err);
done:
    if (in.f) gzclose(in.f);
    if (st) bp_dataset_free(out);
    return st;
}

bp_status bp_idx_load(const char *images_path, const char *labels_path, bp_dataset *out,
                      bp_error *err)
{
    return idx_load(images_path, labels_path, 0, out, err);
}

/* ------------------------------------------------------------------------ */
/* Named datasets                                                            */
/* ------------------------------------------------------------------------ */

static const char *const fashion_mnist_classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

bp_status bp_dataset_named(const char *name, int test_split, bp_dataset *out, bp_error *err)
{
    memset(out, 0, sizeof *out);
    if (!name || strcmp(name, "fashion-mnist") != 0)
        return bp_err(err, BP_E_VALUE, "unknown dataset '%s' (known: fashion-mnist)",
                      name ? name : "(null)");
    const char *env = getenv("BACKPROP_DATA_DIR");
    const char *base = env && *env ? env : "/usr/share/datasets";
    char dir[4096], images[4200], labels[4200];
    struct stat sb;
    if ((size_t)snprintf(dir, sizeof dir, "%s/%s", base, name) >= sizeof dir)
        return bp_err(err, BP_E_ARG, "%s: data directory name too long", name);
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return bp_err(err, BP_E_IO, "%s: directory %s not found%s; install the Debian package dataset-fashion-mnist%s",
                      name, dir, env && *env ? " (from BACKPROP_DATA_DIR)" : "",
                      env && *env ? " or fix BACKPROP_DATA_DIR" : "");
    const char *split = test_split ? "t10k" : "train";
    snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte.gz", dir, split);
    snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte.gz", dir, split);
    bp_status st = idx_load(images, labels, 10, out, err);
    if (!st) out->class_names = fashion_mnist_classes;
    return st;
}

/* ------------------------------------------------------------------------ */
/* Standardisation                                                           */
/* ------------------------------------------------------------------------ */

bp_status bp_scaler_fit(bp_scaler *s, const bp_dataset *d, bp_error *err)
{
    memset(s, 0, sizeof *s);
    if (d->n < 1 || d->features < 1)
        return bp_err(err, BP_E_ARG, "cannot fit a scaler to an empty dataset");
    int f = d->features;
    double *sum = bp_calloc((size_t)f * 2, sizeof(double), err);
    s->mean = bp_malloc((size_t)f * sizeof(float), err);
    s->std = bp_malloc((size_t)f * sizeof(float), err);
    if (!sum || !s->mean || !s->std) {
        free(sum);
        bp_scaler_free(s);
        return BP_E_NOMEM;
    }
    double *mean = sum, *var = sum + f;
    /* two passes (mean, then squared deviations): exact 0 for a constant column */
    for (int i = 0; i < d->n; i++)
        for (int j = 0; j < f; j++) mean[j] += d->x[(size_t)i * f + j];
    for (int j = 0; j < f; j++) mean[j] /= d->n;
    for (int i = 0; i < d->n; i++)
        for (int j = 0; j < f; j++) {
            double dv = d->x[(size_t)i * f + j] - mean[j];
            var[j] += dv * dv;
        }
    for (int j = 0; j < f; j++) {
        double sd = sqrt(var[j] / d->n);
        s->mean[j] = (float)mean[j];
        s->std[j] = sd > 1e-12 ? (float)sd : 1.0f;   /* constant column: leave it centred */
    }
    s->features = f;
    free(sum);
    return BP_OK;
}

bp_status bp_scaler_apply(const bp_scaler *s, bp_dataset *d, bp_error *err)
{
    if (s->features != d->features)
        return bp_err(err, BP_E_SHAPE, "scaler was fitted to %d features, dataset has %d",
                      s->features, d->features);
    for (int i = 0; i < d->n; i++) {
        float *row = d->x + (size_t)i * d->features;
        for (int j = 0; j < d->features; j++) row[j] = (row[j] - s->mean[j]) / s->std[j];
    }
    return BP_OK;
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
