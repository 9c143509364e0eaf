/* data/idx.c - IDX files (the MNIST format), plain or gzip-compressed
 * (zlib), and the datasets known by name (Fashion-MNIST from the Debian
 * package dataset-fashion-mnist). */
#define _POSIX_C_SOURCE 200809L
#include "data/dataset.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* ------------------------------------------------------------------------ */
/* IDX                                                                       */
/* ------------------------------------------------------------------------ */

/* The most pixels an IDX file may claim (4 GiB as floats): checked before
 * anything is allocated, so a small gzip that expands to gigabytes, or a
 * header that lies, is refused at once. */
#define IDX_MAX_PIXELS (1ULL << 30)

/* A gzip or plain file read through zlib, with the uncompressed offset. */
typedef struct idx_file {
    gzFile f;
    const char *path;
    size_t off;
    int cut;   /* zlib reported the end of a gzip stream without its trailer */
} idx_file;

static bp_status idx_open(idx_file *in, const char *path, bp_error *err)
{
    in->path = path;
    in->off = 0;
    in->cut = 0;
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
            if (code == Z_BUF_ERROR) in->cut = 1;   /* the stream ends without its trailer */
            if (code == Z_OK || code == Z_BUF_ERROR) break;   /* the end (cut short: checked by idx_expect_end) */
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
    if (in->cut)
        return bp_err(err, BP_E_FORMAT, "%s: the gzip stream is cut short after its %zu bytes of data: the trailer "
                      "that checks them (CRC-32 and length) is missing or incomplete; the file is truncated",
                      in->path, in->off);
    return BP_OK;
}

/* The rows of n that share si of sc keeps (i % sc == si; sc <= 1: all). */
static size_t shard_rows(int n, int si, int sc) { return sc <= 1 ? (size_t)n : n > si ? (size_t)(n - si - 1) / sc + 1 : 0; }

/* Pixels: n x features bytes -> x (the kept rows x features floats in [0,
 * 1]; rows i with i % sc == si when sc > 1).  x grows as data arrives, so a
 * lying header on a short file cannot force a huge allocation before the
 * truncation is seen. */
static bp_status idx_pixels(idx_file *in, int n, int features, int si, int sc, float **xout, bp_error *err)
{
    size_t total = (size_t)n * features, done = 0, cap = 0, kept = 0, own = shard_rows(n, si, sc) * features;
    float *x = NULL;
    unsigned char chunk[1 << 16];
    bp_status st = BP_OK;
    while (done < total) {
        size_t want = total - done < sizeof chunk ? total - done : sizeof chunk, got;
        if ((st = idx_read(in, chunk, want, &got, err))) goto fail;
        size_t need = kept + got < own ? kept + got : own;
        if (need > cap) {
            size_t ncap = cap ? cap : ((size_t)1 << 20);
            while (ncap < need) ncap *= 2;
            if (ncap > own) ncap = own;
            float *nx = realloc(x, ncap * sizeof(float));
            if (!nx) { st = bp_err(err, BP_E_NOMEM, "%s: out of memory", in->path); goto fail; }
            x = nx;
            cap = ncap;
        }
        if (sc <= 1) {
            for (size_t i = 0; i < got; i++) x[done + i] = chunk[i] / 255.0f;
            kept += got;
        } else {   /* the pieces of rows this share keeps */
            for (size_t p = done, end = done + got; p < end;) {
                size_t row = p / (size_t)features, seg = (size_t)features - p % (size_t)features;
                if (seg > end - p) seg = end - p;
                if ((int)(row % (size_t)sc) == si)
                    for (size_t k = 0; k < seg; k++) x[kept++] = chunk[p - done + k] / 255.0f;
                p += seg;
            }
        }
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

/* Labels: n bytes, each < fixed_k when fixed_k > 0; those of the rows the
 * share keeps (as idx_pixels) into labels, the largest of all in *maxlabel. */
static bp_status idx_labels(idx_file *in, int n, int fixed_k, int si, int sc, int *labels, int *maxlabel,
                            bp_error *err)
{
    int kept = 0;
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
            if (sc <= 1 || done % sc == si) labels[kept++] = chunk[i];
            if (chunk[i] > *maxlabel) *maxlabel = chunk[i];
        }
        if (got < want)
            return bp_err(err, BP_E_FORMAT, "%s: truncated: expected %d bytes of label data, got %d",
                          in->path, n, done);
    }
    return idx_expect_end(in, "label data", err);
}

/* bp_idx_load_shard with a fixed class count (0: max(10, largest label + 1)). */
static bp_status idx_load(const char *images_path, const char *labels_path, int fixed_k, const uint32_t *want,
                          int si, int sc, bp_dataset *out, bp_error *err)
{
    memset(out, 0, sizeof *out);
    idx_file in = {NULL, NULL, 0, 0};
    uint32_t dims[3];
    bp_status st;
    if ((st = idx_open(&in, images_path, err))) return st;
    if ((st = idx_header(&in, 3, "images", dims, err))) goto done;
    if ((uint64_t)dims[1] * dims[2] > INT_MAX) {
        st = bp_err(err, BP_E_FORMAT, "%s: images of %lu x %lu pixels are too large", images_path,
                    (unsigned long)dims[1], (unsigned long)dims[2]);
        goto done;
    }
    if ((uint64_t)dims[0] * dims[1] * dims[2] > IDX_MAX_PIXELS) {
        st = bp_err(err, BP_E_FORMAT, "%s: the header claims %lu images of %lu x %lu pixels, %llu pixels in all: more "
                    "than the limit of %llu (4 GiB as floats)", images_path, (unsigned long)dims[0],
                    (unsigned long)dims[1], (unsigned long)dims[2],
                    (unsigned long long)dims[0] * dims[1] * dims[2], IDX_MAX_PIXELS);
        goto done;
    }
    if (want && (dims[1] != want[0] || dims[2] != want[1])) {
        st = bp_err(err, BP_E_FORMAT, "%s: images of %lu x %lu pixels; this dataset's are %lu x %lu", images_path,
                    (unsigned long)dims[1], (unsigned long)dims[2], (unsigned long)want[0], (unsigned long)want[1]);
        goto done;
    }
    int n = (int)dims[0];
    out->n = (int)shard_rows(n, si, sc);
    out->features = (int)(dims[1] * dims[2]);
    if (out->n == 0) {
        st = bp_err(err, BP_E_ARG, "%s: %d image%s for %d processes: each needs one at least (use at most %d)",
                    images_path, n, n == 1 ? "" : "s", sc, n);
        goto done;
    }
    if ((st = idx_pixels(&in, n, out->features, si, sc, &out->x, err))) goto done;
    gzclose(in.f);
    in.f = NULL;
    if (!labels_path) return BP_OK;

    if ((st = idx_open(&in, labels_path, err))) goto done;
    if ((st = idx_header(&in, 1, "labels", dims, err))) goto done;
    if ((int)dims[0] != n) {
        st = bp_err(err, BP_E_SHAPE, "%s: %lu labels, but %s has %d images", labels_path,
                    (unsigned long)dims[0], images_path, n);
        goto done;
    }
    int maxlabel;
    if (!(out->labels = bp_malloc((size_t)out->n * sizeof(int), err))) { st = BP_E_NOMEM; goto done; }
    if ((st = idx_labels(&in, n, fixed_k, si, sc, out->labels, &maxlabel, err))) goto done;
    st = bp_dataset_one_hot(out, fixed_k ? fixed_k : maxlabel + 1 > 10 ? maxlabel + 1 : 10, err);
done:
    if (in.f) gzclose(in.f);
    if (st) bp_dataset_free(out);
    return st;
}

bp_status bp_idx_load(const char *images_path, const char *labels_path, bp_dataset *out,
                      bp_error *err)
{
    return idx_load(images_path, labels_path, 0, NULL, 0, 1, out, err);
}

bp_status bp_idx_load_shard(const char *images_path, const char *labels_path, int shard_index, int shard_count,
                            bp_dataset *out, bp_error *err)
{
    memset(out, 0, sizeof *out);
    if (shard_count > 1 && (shard_index < 0 || shard_index >= shard_count))
        return bp_err(err, BP_E_ARG, "share %d of %d does not exist", shard_index, shard_count);
    return idx_load(images_path, labels_path, 0, NULL, shard_index, shard_count, out, err);
}

/* ------------------------------------------------------------------------ */
/* Named datasets                                                            */
/* ------------------------------------------------------------------------ */

static const char *const fashion_mnist_classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

bp_status bp_dataset_named(const char *name, int test_split, bp_dataset *out, bp_error *err)
{
    return bp_dataset_named_shard(name, test_split, 0, 1, out, err);
}

bp_status bp_dataset_named_shard(const char *name, int test_split, int shard_index, int shard_count, bp_dataset *out,
                                 bp_error *err)
{
    memset(out, 0, sizeof *out);
    if (shard_count > 1 && (shard_index < 0 || shard_index >= shard_count))
        return bp_err(err, BP_E_ARG, "share %d of %d does not exist", shard_index, shard_count);
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
    static const uint32_t fashion_dims[2] = {28, 28};
    bp_status st = idx_load(images, labels, 10, fashion_dims, shard_index, shard_count, out, err);
    if (!st) out->class_names = fashion_mnist_classes;
    return st;
}
