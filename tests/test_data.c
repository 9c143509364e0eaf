/* test_data.c - datasets: IDX (plain and gzip), CSV edge cases, named
 * datasets, the scaler, shuffling, splitting.  Fixtures are written to a
 * temporary directory.  The last line printed is "N passed, M failed". */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "backprop.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* The call failed with `status` and a message containing `part`. */
#define CHECK_ERR(call, status, part)                                        \
    do {                                                                     \
        bp_error e_ = {BP_OK, ""};                                           \
        bp_status s_ = (call);                                               \
        CHECK(s_ == (status) && strstr(e_.msg, (part)), "%s\n  status %s, message '%s', wanted '%s'", \
              #call, bp_status_name(s_), e_.msg, (part));                    \
    } while (0)

/* The call succeeded. */
#define CHECK_OK(call)                                                       \
    do {                                                                     \
        bp_error e_ = {BP_OK, ""};                                           \
        bp_status s_ = (call);                                               \
        CHECK(s_ == BP_OK, "%s\n  %s", #call, e_.msg);                      \
    } while (0)

/* ---- fixtures in a temporary directory ---------------------------------- */

static const char *write_text(const char *name, const char *text)
{
    const char *p = check_path(name);
    check_write(p, text, strlen(text));
    return p;
}

/* An IDX file: magic, big-endian dims, then `len` data bytes; gzip if gz. */
static const char *write_idx(const char *name, int gz, uint32_t magic, const uint32_t *dims,
                             int ndims, const unsigned char *data, size_t len)
{
    unsigned char h[16];
    size_t hn = 0;
    for (int i = -1; i < ndims; i++) {
        uint32_t v = i < 0 ? magic : dims[i];
        h[hn++] = v >> 24; h[hn++] = v >> 16; h[hn++] = v >> 8; h[hn++] = v;
    }
    const char *p = check_path(name);
    if (gz) {
        gzFile f = gzopen(p, "wb");
        gzwrite(f, h, (unsigned)hn);
        if (len) gzwrite(f, data, (unsigned)len);
        gzclose(f);
    } else {
        FILE *f = fopen(p, "wb");
        fwrite(h, 1, hn, f);
        fwrite(data, 1, len, f);
        fclose(f);
    }
    return p;
}

static const char *make_dir(const char *name)
{
    const char *p = check_path(name);
    mkdir(p, 0700);
    return p;
}

/* ---- IDX ---------------------------------------------------------------- */

/* 3 images of 2x2 pixels and their labels. */
static const unsigned char pix[12] = {0, 255, 51, 102, 1, 2, 3, 254, 128, 127, 200, 100};
static const unsigned char lab[3] = {3, 0, 9};
static const uint32_t idims[3] = {3, 2, 2}, ldims[1] = {3};

static void check_idx_dataset(const bp_dataset *d, int nclasses)
{
    CHECK_EXPR(d->n == 3 && d->features == 4 && d->nclasses == nclasses && d->outputs == nclasses);
    int same = 1;
    for (int i = 0; i < 12; i++) same &= d->x[i] == pix[i] / 255.0f;
    CHECK_EXPR(same);
    CHECK_EXPR(d->x[0] == 0.0f && d->x[1] == 1.0f);
    CHECK_EXPR(d->labels && d->labels[0] == 3 && d->labels[1] == 0 && d->labels[2] == 9);
    int onehot = 1;
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < nclasses; k++)
            onehot &= d->y[i * nclasses + k] == (k == d->labels[i] ? 1.0f : 0.0f);
    CHECK_EXPR(onehot);
}

static void test_idx(void)
{
    bp_dataset d = {0};
    const char *img = write_idx("img.idx", 0, 0x803, idims, 3, pix, 12);
    const char *lbl = write_idx("lbl.idx", 0, 0x801, ldims, 1, lab, 3);
    CHECK_OK(bp_idx_load(img, lbl, &d, &e_));
    check_idx_dataset(&d, 10);
    bp_dataset_free(&d);
    CHECK_EXPR(d.x == NULL && d.n == 0);

    /* gzip: the same values; make sure the files really are compressed */
    const char *imgz = write_idx("img.idx.gz", 1, 0x803, idims, 3, pix, 12);
    const char *lblz = write_idx("lbl.idx.gz", 1, 0x801, ldims, 1, lab, 3);
    FILE *f = fopen(imgz, "rb");
    int c0 = fgetc(f), c1 = fgetc(f);
    fclose(f);
    CHECK_EXPR(c0 == 0x1f && c1 == 0x8b);
    CHECK_OK(bp_idx_load(imgz, lblz, &d, &e_));
    check_idx_dataset(&d, 10);
    bp_dataset_free(&d);

    /* mixed: gzip images, plain labels */
    CHECK_OK(bp_idx_load(imgz, lbl, &d, &e_));
    check_idx_dataset(&d, 10);
    bp_dataset_free(&d);

    /* no labels */
    CHECK_OK(bp_idx_load(img, NULL, &d, &e_));
    CHECK_EXPR(d.n == 3 && d.features == 4 && !d.y && !d.labels && d.outputs == 0 && d.nclasses == 0);
    bp_dataset_free(&d);

    /* a label above 9: nclasses = max + 1 */
    const unsigned char lab12[3] = {3, 12, 0};
    const char *l12 = write_idx("l12.idx", 0, 0x801, ldims, 1, lab12, 3);
    CHECK_OK(bp_idx_load(img, l12, &d, &e_));
    CHECK_EXPR(d.nclasses == 13 && d.outputs == 13 && d.y[13 + 12] == 1.0f);
    bp_dataset_free(&d);

    /* errors name the file */
    char want[512];
    const char *trunc = write_idx("trunc.idx", 0, 0x803, idims, 3, pix, 8);
    snprintf(want, sizeof want, "%s: truncated: expected 12 bytes of pixel data, got 8", trunc);
    CHECK_ERR(bp_idx_load(trunc, lbl, &d, &e_), BP_E_FORMAT, want);
    CHECK_EXPR(d.x == NULL && d.n == 0);

    const char *truncz = write_idx("trunc.idx.gz", 1, 0x803, idims, 3, pix, 8);
    snprintf(want, sizeof want, "%s: truncated", truncz);
    CHECK_ERR(bp_idx_load(truncz, lbl, &d, &e_), BP_E_FORMAT, want);

    /* a gzip stream cut in the middle */
    FILE *in = fopen(imgz, "rb");
    unsigned char gzbuf[256];
    size_t gzlen = fread(gzbuf, 1, sizeof gzbuf, in);
    fclose(in);
    const char *cut = check_path("cut.idx.gz");
    FILE *out = fopen(cut, "wb");
    fwrite(gzbuf, 1, gzlen - 12, out);
    fclose(out);
    snprintf(want, sizeof want, "%s: ", cut);
    CHECK_ERR(bp_idx_load(cut, lbl, &d, &e_), BP_E_FORMAT, want);

    /* every cut inside the 8-byte trailer (CRC-32, length) is refused: the data may be whole, but unchecked */
    for (size_t c = 1; c <= 8; c++) {
        out = fopen(cut, "wb");
        fwrite(gzbuf, 1, gzlen - c, out);
        fclose(out);
        snprintf(want, sizeof want, "%s: the gzip stream is cut short", cut);
        CHECK_ERR(bp_idx_load(cut, NULL, &d, &e_), BP_E_FORMAT, want);
    }
    /* a header that claims more pixels than the limit is refused before anything is allocated */
    const uint32_t huge[3] = {2000000, 28, 28};
    const char *claim = write_idx("claim.idx.gz", 1, 0x803, huge, 3, pix, 12);
    snprintf(want, sizeof want, "%s: the header claims 2000000 images of 28 x 28 pixels, 1568000000 pixels in all", claim);
    CHECK_ERR(bp_idx_load(claim, NULL, &d, &e_), BP_E_FORMAT, want);

    const char *bad = write_idx("bad.idx", 0, 0x12345678, idims, 3, pix, 12);
    snprintf(want, sizeof want, "%s: byte 0: bad magic 0x12345678, expected 0x00000803", bad);
    CHECK_ERR(bp_idx_load(bad, lbl, &d, &e_), BP_E_FORMAT, want);
    /* images and labels swapped */
    snprintf(want, sizeof want, "%s: byte 0: bad magic 0x00000801", lbl);
    CHECK_ERR(bp_idx_load(lbl, img, &d, &e_), BP_E_FORMAT, want);

    const char *empty = write_text("empty.idx", "");
    snprintf(want, sizeof want, "%s: not an IDX file", empty);
    CHECK_ERR(bp_idx_load(empty, NULL, &d, &e_), BP_E_FORMAT, want);

    const char *shorthdr = check_path("shorthdr.idx");
    FILE *sh = fopen(shorthdr, "wb");
    fwrite("\0\0\x08\x03\0\0", 1, 6, sh);
    fclose(sh);
    snprintf(want, sizeof want, "%s: truncated: expected 16 bytes of header, got 6", shorthdr);
    CHECK_ERR(bp_idx_load(shorthdr, NULL, &d, &e_), BP_E_FORMAT, want);

    const uint32_t zero[3] = {3, 0, 2};
    const char *zd = write_idx("zero.idx", 0, 0x803, zero, 3, pix, 0);
    snprintf(want, sizeof want, "%s: byte 8: dimension 2 is 0", zd);
    CHECK_ERR(bp_idx_load(zd, NULL, &d, &e_), BP_E_FORMAT, want);

    const char *longer = write_idx("long.idx", 0, 0x803, idims, 3, pix, 12);
    FILE *lf = fopen(longer, "ab");
    fputc(7, lf);
    fclose(lf);
    snprintf(want, sizeof want, "%s: byte 28: unexpected data after", longer);
    CHECK_ERR(bp_idx_load(longer, NULL, &d, &e_), BP_E_FORMAT, want);

    const uint32_t four[1] = {4};
    const char *l4 = write_idx("l4.idx", 0, 0x801, four, 1, (const unsigned char *)"\1\2\3\4", 4);
    snprintf(want, sizeof want, "%s: 4 labels, but %s has 3 images", l4, img);
    CHECK_ERR(bp_idx_load(img, l4, &d, &e_), BP_E_SHAPE, want);

    const char *ltr = write_idx("ltrunc.idx", 0, 0x801, ldims, 1, lab, 2);
    snprintf(want, sizeof want, "%s: truncated: expected 3 bytes of label data, got 2", ltr);
    CHECK_ERR(bp_idx_load(img, ltr, &d, &e_), BP_E_FORMAT, want);

    const char *missing = check_path("missing.idx");
    snprintf(want, sizeof want, "%s: cannot open", missing);
    CHECK_ERR(bp_idx_load(missing, NULL, &d, &e_), BP_E_IO, want);
    CHECK_ERR(bp_idx_load(img, missing, &d, &e_), BP_E_IO, want);
    CHECK_EXPR(d.x == NULL);
}

/* ---- named datasets ------------------------------------------------------ */

static void test_named(void)
{
    bp_dataset d = {0};
    char want[512];
    const char *saved = getenv("BACKPROP_DATA_DIR");
    char *saved_copy = saved ? strdup(saved) : NULL;

    CHECK_ERR(bp_dataset_named("cifar-99", 0, &d, &e_), BP_E_VALUE, "unknown dataset 'cifar-99'");

    /* a fake data directory: 3 images of 28 x 28 (pix in the first 12 pixels) */
    const char *root = make_dir("data");
    make_dir("data/fashion-mnist");
    static unsigned char pix28[3 * 784];
    static const uint32_t dims28[3] = {3, 28, 28};
    for (int i = 0; i < 12; i++) pix28[i] = pix[i];
    write_idx("data/fashion-mnist/t10k-images-idx3-ubyte.gz", 1, 0x803, dims28, 3, pix28, sizeof pix28);
    write_idx("data/fashion-mnist/t10k-labels-idx1-ubyte.gz", 1, 0x801, ldims, 1, lab, 3);
    const unsigned char badlab[3] = {1, 2, 10};
    const char *trl = write_idx("data/fashion-mnist/train-labels-idx1-ubyte.gz", 1, 0x801, ldims, 1, badlab, 3);
    write_idx("data/fashion-mnist/train-images-idx3-ubyte.gz", 1, 0x803, dims28, 3, pix28, sizeof pix28);
    setenv("BACKPROP_DATA_DIR", root, 1);
    CHECK_OK(bp_dataset_named("fashion-mnist", 1, &d, &e_));
    CHECK_EXPR(d.n == 3 && d.features == 784 && d.nclasses == 10 && d.x[1] == 1.0f && d.labels[2] == 9);
    CHECK_EXPR(d.class_names && strcmp(d.class_names[9], "Ankle boot") == 0);
    bp_dataset_free(&d);
    /* images of another size are not Fashion-MNIST */
    static const uint32_t dims_odd[3] = {3, 14, 56};
    const char *odd = write_idx("data/fashion-mnist/t10k-images-idx3-ubyte.gz", 1, 0x803, dims_odd, 3, pix28,
                                sizeof pix28);
    snprintf(want, sizeof want, "%s: images of 14 x 56 pixels; this dataset's are 28 x 28", odd);
    CHECK_ERR(bp_dataset_named("fashion-mnist", 1, &d, &e_), BP_E_FORMAT, want);
    write_idx("data/fashion-mnist/t10k-images-idx3-ubyte.gz", 1, 0x803, dims28, 3, pix28, sizeof pix28);
    snprintf(want, sizeof want, "%s: record 2 (byte 10): label 10 is out of range 0..9", trl);
    CHECK_ERR(bp_dataset_named("fashion-mnist", 0, &d, &e_), BP_E_VALUE, want);

    setenv("BACKPROP_DATA_DIR", "/nonexistent/backprop-data", 1);
    CHECK_ERR(bp_dataset_named("fashion-mnist", 1, &d, &e_), BP_E_IO,
              "install the Debian package dataset-fashion-mnist");

    /* the real thing, when installed */
    unsetenv("BACKPROP_DATA_DIR");
    struct stat sb;
    if (stat("/usr/share/datasets/fashion-mnist", &sb) == 0) {
        CHECK_OK(bp_dataset_named("fashion-mnist", 1, &d, &e_));
        CHECK_EXPR(d.n == 10000 && d.features == 784 && d.outputs == 10 && d.nclasses == 10);
        int ok = d.labels != NULL, count[10] = {0};
        for (int i = 0; ok && i < d.n; i++) {
            ok &= d.labels[i] >= 0 && d.labels[i] <= 9;
            if (ok) count[d.labels[i]]++;
        }
        CHECK_EXPR(ok && count[0] == 1000 && count[9] == 1000);   /* balanced: 1000 per class */
        float lo = 1, hi = 0;
        for (size_t i = 0; i < (size_t)d.n * d.features; i++) {
            if (d.x[i] < lo) lo = d.x[i];
            if (d.x[i] > hi) hi = d.x[i];
        }
        CHECK_EXPR(lo == 0.0f && hi == 1.0f);
        bp_dataset_free(&d);
    } else {
        printf("skip: /usr/share/datasets/fashion-mnist not installed\n");
    }
    if (saved_copy) setenv("BACKPROP_DATA_DIR", saved_copy, 1);
    free(saved_copy);
}

/* ---- CSV ----------------------------------------------------------------- */

static bp_csv_options csv_opts(bp_csv_header h, bp_csv_target t, int label_col)
{
    bp_csv_options o;
    bp_csv_options_init(&o);
    o.header = h;
    o.target = t;
    o.label_col = label_col;
    return o;
}

static int floats_eq(const float *a, const float *b, int n)
{
    for (int i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

static void test_csv(void)
{
    bp_dataset d = {0};
    char want[512];
    bp_csv_options o;

    /* header auto-detected, defaults: label last, one-hot */
    const char *h = write_text("h.csv", "a,b,label\n1,2,0\n3.5,-4e1,2\n");
    CHECK_OK(bp_csv_load(h, NULL, &d, &e_));
    const float hx[] = {1, 2, 3.5f, -40}, hy[] = {1, 0, 0, 0, 0, 1};
    CHECK_EXPR(d.n == 2 && d.features == 2 && d.nclasses == 3 && d.outputs == 3);
    CHECK_EXPR(floats_eq(d.x, hx, 4) && floats_eq(d.y, hy, 6));
    CHECK_EXPR(d.labels[0] == 0 && d.labels[1] == 2);
    bp_dataset_free(&d);

    /* no header: the first row is data */
    const char *nh = write_text("nh.csv", "1,2,0\n3,4,1\n");
    CHECK_OK(bp_csv_load(nh, NULL, &d, &e_));
    CHECK_EXPR(d.n == 2 && d.x[0] == 1);
    bp_dataset_free(&d);

    /* forced header on a numeric first row; forced no-header on a header */
    o = csv_opts(BP_CSV_HEADER_YES, BP_CSV_CLASSES, -1);
    CHECK_OK(bp_csv_load(nh, &o, &d, &e_));
    CHECK_EXPR(d.n == 1 && d.x[0] == 3 && d.nclasses == 2);
    bp_dataset_free(&d);
    o = csv_opts(BP_CSV_HEADER_NO, BP_CSV_CLASSES, -1);
    snprintf(want, sizeof want, "%s:1:1: field 1: expected a number, got 'a'", h);
    CHECK_ERR(bp_csv_load(h, &o, &d, &e_), BP_E_PARSE, want);

    /* CRLF, blank lines (also blank-looking ones), spaces, no final newline */
    const char *crlf = write_text("crlf.csv", "x,y,c\r\n\r\n 1 , 2 ,1\r\n   \r\n\n3,4,0");
    CHECK_OK(bp_csv_load(crlf, NULL, &d, &e_));
    const float cx[] = {1, 2, 3, 4};
    CHECK_EXPR(d.n == 2 && d.features == 2 && floats_eq(d.x, cx, 4) && d.labels[0] == 1 && d.labels[1] == 0);
    bp_dataset_free(&d);

    /* label in column 0 */
    const char *l0 = write_text("l0.csv", "2,1.5,2.5\n0,3,4\n");
    o = csv_opts(BP_CSV_HEADER_AUTO, BP_CSV_CLASSES, 0);
    CHECK_OK(bp_csv_load(l0, &o, &d, &e_));
    const float l0x[] = {1.5f, 2.5f, 3, 4};
    CHECK_EXPR(d.n == 2 && d.features == 2 && d.nclasses == 3 && floats_eq(d.x, l0x, 4));
    CHECK_EXPR(d.labels[0] == 2 && d.labels[1] == 0 && d.y[2] == 1 && d.y[3] == 1);
    bp_dataset_free(&d);

    /* a given class count: wider one-hot; a label beyond it is an error */
    o = csv_opts(BP_CSV_HEADER_AUTO, BP_CSV_CLASSES, 0);
    o.nclasses = 5;
    CHECK_OK(bp_csv_load(l0, &o, &d, &e_));
    CHECK_EXPR(d.nclasses == 5 && d.outputs == 5 && d.y[2] == 1 && d.y[5] == 1);
    bp_dataset_free(&d);
    o.nclasses = 2;
    snprintf(want, sizeof want, "%s:1:1: field 1: class label 2 is out of range 0..1", l0);
    CHECK_ERR(bp_csv_load(l0, &o, &d, &e_), BP_E_VALUE, want);

    /* regression: one target, then two */
    const char *rg = write_text("rg.csv", "1,2,0.25,-3\n4,5,6,7.5\n");
    o = csv_opts(BP_CSV_HEADER_AUTO, BP_CSV_REGRESSION, -1);
    CHECK_OK(bp_csv_load(rg, &o, &d, &e_));
    const float r1x[] = {1, 2, 0.25f, 4, 5, 6}, r1y[] = {-3, 7.5f};
    CHECK_EXPR(d.n == 2 && d.features == 3 && d.outputs == 1 && d.nclasses == 0 && !d.labels);
    CHECK_EXPR(floats_eq(d.x, r1x, 6) && floats_eq(d.y, r1y, 2));
    bp_dataset_free(&d);
    o.label_col = -2;
    o.ntargets = 2;
    CHECK_OK(bp_csv_load(rg, &o, &d, &e_));
    const float r2x[] = {1, 2, 4, 5}, r2y[] = {0.25f, -3, 6, 7.5f};
    CHECK_EXPR(d.features == 2 && d.outputs == 2 && floats_eq(d.x, r2x, 4) && floats_eq(d.y, r2y, 4));
    bp_dataset_free(&d);
    o.label_col = 1;   /* targets in the middle: columns 1 and 2 */
    CHECK_OK(bp_csv_load(rg, &o, &d, &e_));
    const float r3x[] = {1, -3, 4, 7.5f}, r3y[] = {2, 0.25f, 5, 6};
    CHECK_EXPR(floats_eq(d.x, r3x, 4) && floats_eq(d.y, r3y, 4));
    bp_dataset_free(&d);

    /* unlabeled: every column a feature; tab-separated */
    const char *tsv = write_text("u.tsv", "1\t2\t3\n4\t5\t6\n");
    o = csv_opts(BP_CSV_HEADER_AUTO, BP_CSV_UNLABELED, -1);
    o.delim = '\t';
    CHECK_OK(bp_csv_load(tsv, &o, &d, &e_));
    CHECK_EXPR(d.n == 2 && d.features == 3 && d.outputs == 0 && !d.y && !d.labels && d.x[5] == 6);
    bp_dataset_free(&d);

    /* errors: line:column, field number, the bad text */
    const char *bn = write_text("bn.csv", "a,b,c\n1,2,0\n\n3,abc,1\n");
    snprintf(want, sizeof want, "%s:4:3: field 2: expected a number, got 'abc'", bn);
    CHECK_ERR(bp_csv_load(bn, NULL, &d, &e_), BP_E_PARSE, want);
    CHECK_EXPR(d.x == NULL && d.n == 0);
    const char *ef = write_text("ef.csv", "1,2,0\n1,,0\n");
    snprintf(want, sizeof want, "%s:2:3: field 2: expected a number, got ''", ef);
    CHECK_ERR(bp_csv_load(ef, NULL, &d, &e_), BP_E_PARSE, want);
    const char *rr = write_text("rr.csv", "1,2,0\r\n3,4,5,1\r\n");
    snprintf(want, sizeof want, "%s:2: expected 3 fields, got 4", rr);
    CHECK_ERR(bp_csv_load(rr, NULL, &d, &e_), BP_E_PARSE, want);
    const char *rs = write_text("rs.csv", "a,b,c\n1,2,0\n3,4\n");
    snprintf(want, sizeof want, "%s:3: expected 3 fields, got 2", rs);
    CHECK_ERR(bp_csv_load(rs, NULL, &d, &e_), BP_E_PARSE, want);
    const char *nan = write_text("nan.csv", "1,nan,0\n");
    snprintf(want, sizeof want, "%s:1:3: field 2: expected a finite number", nan);
    CHECK_ERR(bp_csv_load(nan, NULL, &d, &e_), BP_E_VALUE, want);
    const char *inf = write_text("inf.csv", "1,2,0\n-inf,2,0\n");
    snprintf(want, sizeof want, "%s:2:1: field 1: expected a finite number", inf);
    CHECK_ERR(bp_csv_load(inf, NULL, &d, &e_), BP_E_VALUE, want);
    const char *big = write_text("big.csv", "1,1e39,0\n");   /* finite double, Inf as float */
    CHECK_ERR(bp_csv_load(big, NULL, &d, &e_), BP_E_VALUE, "got '1e39'");
    const char *em = write_text("em.csv", "");
    snprintf(want, sizeof want, "%s: empty file", em);
    CHECK_ERR(bp_csv_load(em, NULL, &d, &e_), BP_E_PARSE, want);
    const char *bl = write_text("bl.csv", "\n \r\n\n");
    snprintf(want, sizeof want, "%s: empty file", bl);
    CHECK_ERR(bp_csv_load(bl, NULL, &d, &e_), BP_E_PARSE, want);
    const char *ho = write_text("ho.csv", "a,b,label\n");
    snprintf(want, sizeof want, "%s: no data rows", ho);
    CHECK_ERR(bp_csv_load(ho, NULL, &d, &e_), BP_E_PARSE, want);
    const char *h1 = write_text("h1.csv", "1,2,x\n");   /* a lone row with a word: taken as header */
    CHECK_ERR(bp_csv_load(h1, NULL, &d, &e_), BP_E_PARSE, "taken as a header because field 3 is not a number");
    const char *lg = write_text("lg.csv", "1,2,0\n1,  0123456789012345678901234567890123456789abc  ,0\n");
    snprintf(want, sizeof want, "%s:2:5: field 2: expected a number, got '0123456789012345678901234567890123456789...'", lg);
    CHECK_ERR(bp_csv_load(lg, NULL, &d, &e_), BP_E_PARSE, want);
    const char *neg = write_text("neg.csv", "1,2,0\n3,4,-1\n");
    snprintf(want, sizeof want, "%s:2:5: field 3: expected a class label (an integer >= 0, or a name), got '-1'; if the targets are numbers to predict, use --regression", neg);
    CHECK_ERR(bp_csv_load(neg, NULL, &d, &e_), BP_E_VALUE, want);
    const char *frac = write_text("frac.csv", "1,2,0.5\n");
    CHECK_ERR(bp_csv_load(frac, NULL, &d, &e_), BP_E_VALUE, "got '0.5'");
    const char *huge = write_text("huge.csv", "1,2,1e9\n");
    CHECK_ERR(bp_csv_load(huge, NULL, &d, &e_), BP_E_VALUE, "too large");
    o = csv_opts(BP_CSV_HEADER_AUTO, BP_CSV_CLASSES, 3);
    snprintf(want, sizeof want, "%s:1: label column 4 is outside the 3 columns", nh);   /* counted from 1 */
    CHECK_ERR(bp_csv_load(nh, &o, &d, &e_), BP_E_ARG, want);
    o.label_col = -4;
    CHECK_ERR(bp_csv_load(nh, &o, &d, &e_), BP_E_ARG, "label column -4 is outside the 3 columns");
    o = csv_opts(BP_CSV_HEADER_AUTO, BP_CSV_REGRESSION, -1);
    o.ntargets = 2;
    CHECK_ERR(bp_csv_load(nh, &o, &d, &e_), BP_E_ARG, "2 target columns from column -1 do not fit");
    const char *one = write_text("one.csv", "1\n2\n");
    CHECK_ERR(bp_csv_load(one, NULL, &d, &e_), BP_E_SHAPE, "no feature columns");
    const char *missing = check_path("missing.csv");
    snprintf(want, sizeof want, "%s: cannot open", missing);
    CHECK_ERR(bp_csv_load(missing, NULL, &d, &e_), BP_E_IO, want);
}

/* ---- scaler, shuffle, split ---------------------------------------------- */

static void test_scaler(void)
{
    bp_dataset d = {0}, other = {0};
    const char *p = write_text("sc.csv", "1,10,0\n3,10,1\n5,10,0\n");
    bp_csv_options o;
    bp_csv_options_init(&o);
    CHECK_OK(bp_csv_load(p, &o, &d, &e_));
    bp_scaler s = {0};
    CHECK_OK(bp_scaler_fit(&s, &d, &e_));
    CHECK_EXPR(s.features == 2 && s.mean[0] == 3 && s.mean[1] == 10);
    CHECK_EXPR(fabsf(s.std[0] - sqrtf(8.0f / 3)) < 1e-6f && s.std[1] == 1);   /* constant column */
    CHECK_OK(bp_scaler_apply(&s, &d, &e_));
    float z = 2 / sqrtf(8.0f / 3);
    CHECK_EXPR(fabsf(d.x[0] + z) < 1e-6f && d.x[2] == 0 && fabsf(d.x[4] - z) < 1e-6f);
    CHECK_EXPR(d.x[1] == 0 && d.x[3] == 0 && d.x[5] == 0);
    /* applied to another dataset: its own numbers, the training statistics */
    const char *q = write_text("sc2.csv", "7,12,1\n");
    CHECK_OK(bp_csv_load(q, &o, &other, &e_));
    CHECK_OK(bp_scaler_apply(&s, &other, &e_));
    CHECK_EXPR(fabsf(other.x[0] - 4 / sqrtf(8.0f / 3)) < 1e-6f && other.x[1] == 2);
    bp_dataset_free(&other);
    o.target = BP_CSV_UNLABELED;
    CHECK_OK(bp_csv_load(q, &o, &other, &e_));
    CHECK_ERR(bp_scaler_apply(&s, &other, &e_), BP_E_SHAPE, "the scaler is for 2 features, the dataset has 3");
    bp_dataset_free(&other);
    bp_scaler_free(&s);
    CHECK_EXPR(s.mean == NULL && s.features == 0);
    bp_dataset empty = {0};
    CHECK_ERR(bp_scaler_fit(&s, &empty, &e_), BP_E_ARG, "empty dataset");
    bp_scaler_free(&s);
    bp_dataset_free(&d);
}

/* n samples: x[i] = {10i, 10i+1, 10i+2}, label i % 7, one-hot y. */
static void make_seq(bp_dataset *d, int n)
{
    d->n = n; d->features = 3; d->nclasses = d->outputs = 7;
    d->x = malloc(sizeof(float) * n * 3);
    d->y = calloc((size_t)n * 7, sizeof(float));
    d->labels = malloc(sizeof(int) * n);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++) d->x[i * 3 + k] = (float)(10 * i + k);
        d->labels[i] = i % 7;
        d->y[i * 7 + i % 7] = 1;
    }
}

/* Every row still holds one original sample intact (x, y and label agree),
 * each original sample appears once; perm (if given) says where from. */
static int is_permutation_of_seq(const bp_dataset *d, const int *perm)
{
    int *seen = calloc((size_t)d->n, sizeof(int)), ok = 1;
    for (int i = 0; i < d->n; i++) {
        int src = (int)d->x[i * 3] / 10;
        ok &= src >= 0 && src < d->n && !seen[src];
        if (!ok) break;
        seen[src] = 1;
        ok &= d->x[i * 3 + 1] == 10 * src + 1 && d->x[i * 3 + 2] == 10 * src + 2;
        ok &= d->labels[i] == src % 7 && d->y[i * 7 + src % 7] == 1;
        if (perm) ok &= perm[i] == src;
    }
    free(seen);
    return ok;
}

static void test_shuffle_split(void)
{
    bp_dataset a = {0}, b = {0}, c = {0};
    make_seq(&a, 50);
    make_seq(&b, 50);
    make_seq(&c, 50);
    bp_dataset_shuffle(&a, 42);
    bp_dataset_shuffle(&b, 42);
    bp_dataset_shuffle(&c, 43);
    int perm[50];
    bp_permutation(perm, 50, 42);
    CHECK_EXPR(is_permutation_of_seq(&a, perm));
    CHECK_EXPR(is_permutation_of_seq(&c, NULL));
    CHECK_EXPR(memcmp(a.x, b.x, sizeof(float) * 150) == 0 && memcmp(a.labels, b.labels, sizeof(int) * 50) == 0);
    CHECK_EXPR(memcmp(a.x, c.x, sizeof(float) * 150) != 0);   /* another seed, another order */
    int moved = 0;
    for (int i = 0; i < 50; i++) moved += perm[i] != i;
    CHECK_EXPR(moved > 25);

    /* split: last 20% is validation */
    bp_dataset tr = {0}, va = {0};
    CHECK_OK(bp_dataset_split(&a, 0.2, &tr, &va, &e_));
    CHECK_EXPR(tr.n == 40 && va.n == 10 && tr.features == 3 && va.outputs == 7 && va.nclasses == 7);
    CHECK_EXPR(memcmp(va.x, a.x + 40 * 3, sizeof(float) * 30) == 0 && va.labels[0] == a.labels[40]);
    CHECK_EXPR(memcmp(tr.y, a.y, sizeof(float) * 40 * 7) == 0);
    bp_dataset_free(&tr);
    bp_dataset_free(&va);
    CHECK_OK(bp_dataset_split(&a, 0.0, &tr, &va, &e_));
    CHECK_EXPR(tr.n == 50 && va.n == 0);
    bp_dataset_free(&tr);
    bp_dataset_free(&va);
    CHECK_ERR(bp_dataset_split(&a, 1.0, &tr, &va, &e_), BP_E_ARG, "outside [0, 1)");
    CHECK_ERR(bp_dataset_split(&a, 0.999, &tr, &va, &e_), BP_E_ARG, "leaves no training samples");
    CHECK_EXPR(tr.x == NULL && va.x == NULL);

    /* subset and views */
    bp_dataset s = {0};
    CHECK_OK(bp_dataset_subset(&a, 5, 3, &s, &e_));
    CHECK_EXPR(s.n == 3 && memcmp(s.x, a.x + 15, sizeof(float) * 9) == 0 && s.labels[2] == a.labels[7]);
    bp_dataset_free(&s);
    CHECK_ERR(bp_dataset_subset(&a, 48, 3, &s, &e_), BP_E_ARG, "outside the 50 samples");
    bp_mat vx = bp_dataset_x(&a, 10, 4), vy = bp_dataset_y(&a, 10, 4);
    CHECK_EXPR(vx.rows == 4 && vx.cols == 3 && vx.dtype == BP_F32 && (float *)vx.data == a.x + 30);
    CHECK_EXPR(vy.rows == 4 && vy.cols == 7 && (float *)vy.data == a.y + 70);
    bp_dataset_free(&a);
    bp_dataset_free(&b);
    bp_dataset_free(&c);
    bp_mat ny = bp_dataset_y(&a, 0, 0);
    CHECK_EXPR(ny.rows == 0 && ny.data == NULL);
}

/* CSV as people have it: quoted fields, other delimiters, class names, the
 * label column by header name. */
static void test_csv_dialects(void)
{
    bp_dataset d = {0};
    char want[512];
    bp_csv_options o;

    /* iris-like: string labels become the sorted names 0..K-1 */
    const char *ir = write_text("iris.csv", "sepal_length,sepal_width,species\n"
                                "5.1,3.5,setosa\n6.3,3.3,virginica\n5.9,3.0,versicolor\n4.9,3.1,setosa\n");
    CHECK_OK(bp_csv_load(ir, NULL, &d, &e_));
    CHECK_EXPR(d.n == 4 && d.features == 2 && d.nclasses == 3 && d.class_names && d.names_owned);
    if (d.class_names) {
        CHECK_EXPR(!strcmp(d.class_names[0], "setosa") && !strcmp(d.class_names[1], "versicolor") &&
                   !strcmp(d.class_names[2], "virginica"));
        CHECK_EXPR(d.labels[0] == 0 && d.labels[1] == 2 && d.labels[2] == 1 && d.labels[3] == 0);
        CHECK_EXPR(d.y[0 * 3 + 0] == 1 && d.y[1 * 3 + 2] == 1 && d.y[2 * 3 + 1] == 1);
    }
    /* subsets and splits own a copy of the names */
    bp_dataset a = {0}, b = {0};
    CHECK_OK(bp_dataset_split(&d, 0.5, &a, &b, &e_));
    bp_dataset_free(&d);
    CHECK_EXPR(a.class_names && b.class_names && a.names_owned != b.names_owned);
    if (b.class_names) CHECK_EXPR(!strcmp(b.class_names[2], "virginica") && b.nclasses == 3);
    bp_dataset_free(&a);
    bp_dataset_free(&b);

    /* a model's class names give the order; a name outside them is an error */
    static const char *const order[] = {"virginica", "setosa", "versicolor"};
    bp_csv_options_init(&o);
    o.class_names = order;
    o.nclasses = 3;
    CHECK_OK(bp_csv_load(ir, &o, &d, &e_));
    CHECK_EXPR(d.nclasses == 3 && d.labels[0] == 1 && d.labels[1] == 0 && d.labels[2] == 2);
    if (d.class_names) CHECK_EXPR(!strcmp(d.class_names[0], "virginica"));
    bp_dataset_free(&d);
    static const char *const two[] = {"setosa", "virginica"};
    o.class_names = two;
    o.nclasses = 2;
    snprintf(want, sizeof want, "%s:4:9: field 3: ", ir);
    CHECK_ERR(bp_csv_load(ir, &o, &d, &e_), BP_E_VALUE, want);
    CHECK_ERR(bp_csv_load(ir, &o, &d, &e_), BP_E_VALUE, "'versicolor'");

    /* RFC 4180 quoting: a quoted delimiter, a doubled quote, a line break */
    const char *q = write_text("q.csv", "\"x,\nfirst\",\"say \"\"y\"\"\",label\r\n"
                               "1,\"2.5\",\"Iris \"\"big\"\"\"\r\n3,4,two\r\n");
    CHECK_OK(bp_csv_load(q, NULL, &d, &e_));
    CHECK_EXPR(d.n == 2 && d.features == 2 && d.x[1] == 2.5f && d.x[2] == 3 && d.nclasses == 2);
    if (d.class_names && d.nclasses == 2)
        CHECK_EXPR(!strcmp(d.class_names[0], "Iris \"big\"") && !strcmp(d.class_names[1], "two"));
    bp_dataset_free(&d);
    const char *ql = write_text("ql.csv", "1,2,cat\n3,4,\"two\nlines\"\n");
    snprintf(want, sizeof want, "%s:2:5: field 3: the class name 'two lines' holds a line break", ql);
    CHECK_ERR(bp_csv_load(ql, NULL, &d, &e_), BP_E_VALUE, want);
    const char *le = write_text("le.csv", "1,2,cat\n3,4,\n");
    snprintf(want, sizeof want, "%s:2:5: field 3: the class label is empty", le);
    CHECK_ERR(bp_csv_load(le, NULL, &d, &e_), BP_E_VALUE, want);
    const char *qn = write_text("qn.csv", "\"a\nb\",c,d\n1,2,0\n3,x,1\n");   /* lines count inside quotes */
    snprintf(want, sizeof want, "%s:4:3: field 2: expected a number, got 'x'", qn);
    CHECK_ERR(bp_csv_load(qn, NULL, &d, &e_), BP_E_PARSE, want);
    const char *uq = write_text("uq.csv", "1,2,0\n3,\"4,0\n");
    snprintf(want, sizeof want, "%s:2:3: field 2: the quote that opens it is never closed", uq);
    CHECK_ERR(bp_csv_load(uq, NULL, &d, &e_), BP_E_PARSE, want);
    const char *aq = write_text("aq.csv", "1,2,0\n3,\"4\"x,0\n");
    snprintf(want, sizeof want, "%s:2:6: field 2: after its closing quote, expected ',' or the end of the row", aq);
    CHECK_ERR(bp_csv_load(aq, NULL, &d, &e_), BP_E_PARSE, want);

    /* the delimiter is detected: ';' (with decimal points), tab; or given */
    const char *sc = write_text("sc.csv", "a;b;label\n1.5;2;0\n3;4;1\n");
    CHECK_OK(bp_csv_load(sc, NULL, &d, &e_));
    CHECK_EXPR(d.n == 2 && d.features == 2 && d.x[0] == 1.5f && d.x[3] == 4);
    bp_dataset_free(&d);
    const char *tb = write_text("tb.tsv", "a\tb\tlabel\n1\t2\tcat\n3\t4\tdog\n");
    CHECK_OK(bp_csv_load(tb, NULL, &d, &e_));
    CHECK_EXPR(d.n == 2 && d.features == 2 && d.nclasses == 2 && d.class_names);
    bp_dataset_free(&d);
    bp_csv_options_init(&o);
    o.delim = ';';
    CHECK_OK(bp_csv_load(sc, &o, &d, &e_));
    CHECK_EXPR(d.n == 2);
    bp_dataset_free(&d);

    /* the label column by its header name, anywhere in the row */
    const char *nm = write_text("nm.csv", "id,species,w\n1,cat,0.5\n2,dog,0.25\n");
    bp_csv_options_init(&o);
    o.label_name = "species";
    CHECK_OK(bp_csv_load(nm, &o, &d, &e_));
    CHECK_EXPR(d.n == 2 && d.features == 2 && d.x[1] == 0.5f && d.x[2] == 2 && d.labels[1] == 1);
    bp_dataset_free(&d);
    o.label_name = "kind";
    snprintf(want, sizeof want, "%s:1: no column named 'kind' in the header (its columns: id, species, w)", nm);
    CHECK_ERR(bp_csv_load(nm, &o, &d, &e_), BP_E_ARG, want);

    /* a header over integer labels is still a header */
    const char *hl = write_text("hl.csv", "1,2,label\n1,2,0\n3,4,1\n");
    CHECK_OK(bp_csv_load(hl, NULL, &d, &e_));
    CHECK_EXPR(d.n == 2 && d.nclasses == 2 && !d.class_names);
    bp_dataset_free(&d);
}

int main(void)
{
    if (!check_tmpdir("bp_test_data")) return 1;
    test_idx();
    test_named();
    test_csv();
    test_csv_dialects();
    test_scaler();
    test_shuffle_split();
    check_remove_tree(check_dir());
    return check_done();
}
