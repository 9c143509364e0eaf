/* data/csv.c - numeric CSV files: datasets (bp_csv_load: header, label
 * column, one-hot classes or regression targets) and plain matrices
 * (bp_csv_read_matrix: the --x / --y files of grad, explain and gradcheck).
 * Both readers stand on one tokenizer: lines (LF or CRLF, blank lines
 * skipped, numbered from 1), fields (split at the delimiter, blanks around
 * them ignored, columns counted from 1) and one number parser. */
#include "data/dataset.h"
#include "core/file.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the tokenizer ------------------------------------------------------- */

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* The lines of a text buffer, in order. */
typedef struct csv_lines {
    char *p, *end;   /* the rest of the text                                 */
    int lineno;      /* 1-based number of the line last returned             */
} csv_lines;

/* The next line that is not blank, as [*s, *e) without its LF or CRLF; 0 at
 * the end of the text. */
static int next_line(csv_lines *c, char **s, char **e)
{
    while (c->p < c->end) {
        char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
        char *b = c->p, *x = nl ? nl : c->end;
        c->p = nl ? nl + 1 : c->end;
        if (x > b && x[-1] == '\r') x--;
        c->lineno++;
        char *q = b;
        while (q < x && is_blank(*q)) q++;
        if (q < x) { *s = b; *e = x; return 1; }
    }
    return 0;
}

/* The text of a file just read: after a UTF-8 byte order mark (which
 * spreadsheets write first, and which would make the first field no number),
 * with no NUL byte anywhere (binary data is no CSV). */
static bp_status text_lines(const char *path, char *buf, size_t len, csv_lines *lines, bp_error *err)
{
    char *p = buf, *end = buf + len;
    if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3;
    char *nul = memchr(p, '\0', (size_t)(end - p));
    if (nul) {
        int line = 1, col = 1;
        for (char *q = p; q < nul; q++) {
            if (*q == '\n') { line++; col = 1; }
            else col++;
        }
        return bp_err(err, BP_E_PARSE, "%s:%d:%d: a NUL byte: this is not a text file", path, line, col);
    }
    *lines = (csv_lines){p, end, 0};
    return BP_OK;
}

/* Number of fields of the line [p, e). */
static int count_fields(const char *p, const char *e, char delim)
{
    int n = 1;
    for (; p < e; p++) n += *p == delim;
    return n;
}

/* The end of the field starting at f on a line ending at e. */
static char *field_end(char *f, char *e, char delim)
{
    char *fe = memchr(f, delim, (size_t)(e - f));
    return fe ? fe : e;
}

static const char *skip_blank(const char *s, const char *e)
{
    while (s < e && is_blank(*s)) s++;
    return s;
}

/* How a field reads as a number. */
enum { NUM_OK = 0, NUM_BAD, NUM_INFINITE, NUM_UNDERFLOW };

/* Parse the whole field [s, e) (blanks around it ignored; *e is made NUL
 * while parsing) as a double: NUM_OK; NUM_BAD (not a number); NUM_INFINITE
 * (nan, inf, or beyond the double range); NUM_UNDERFLOW (a finite value that
 * strtod flags as out of range: smaller than the normal doubles). */
static int parse_number(const char *s, char *e, double *v)
{
    s = skip_blank(s, e);
    const char *t = e;
    while (t > s && is_blank(t[-1])) t--;
    if (s == t) return NUM_BAD;
    char save = *e, *end;
    *e = '\0';
    errno = 0;
    *v = strtod(s, &end);
    int range = errno == ERANGE;
    *e = save;
    if (end != t) return NUM_BAD;
    if (!isfinite(*v)) return NUM_INFINITE;
    return range ? NUM_UNDERFLOW : NUM_OK;
}

/* A field for an error message, at most 40 characters, without the blanks
 * around it. */
#define FIELD_FMT "'%.*s%s'"
#define FIELD_ARGS(s, e) shown_len(s, e), skip_blank(s, e), (trimmed_len(s, e) > 40 ? "..." : "")
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

/* ---- datasets ------------------------------------------------------------ */

#define CSV_MAX_AUTO_CLASSES 65536 /* guards the one-hot y against a stray 1e9 */

void bp_csv_options_init(bp_csv_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->header = BP_CSV_HEADER_AUTO;
    opt->target = BP_CSV_CLASSES;
    opt->label_col = -1;
    opt->delim = ',';
}

/* A dataset field as a number: 0 ok; 1 not a number; 2 not finite in
 * float32 (nan, inf, 1e39). */
static int dataset_number(const char *s, char *e, double *v)
{
    int r = parse_number(s, e, v);
    if (r == NUM_BAD) return 1;
    if (r == NUM_INFINITE || !isfinite((float)*v)) return 2;
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
    bp_status st = bp_read_file(path, BP_LIMIT_DATA, "a CSV dataset", &buf, &len, err);
    if (st) return st;

    csv_rows r = {0, 0, NULL, NULL, NULL};
    int ncols = -1, lc = 0, features = 0, maxlabel = -1, header_field = 0;
    csv_lines lines;
    char *p, *e;
    if ((st = text_lines(path, buf, len, &lines, err))) goto done;
    while (next_line(&lines, &p, &e)) {
        int lineno = lines.lineno, nf = count_fields(p, e, delim);
        if (ncols < 0) {
            /* First row: fixes the column count, the header and the targets. */
            ncols = nf;
            int header = opt->header == BP_CSV_HEADER_YES;
            if (opt->header == BP_CSV_HEADER_AUTO) {
                for (char *f = p; f <= e && !header; header_field++) {
                    char *fe = field_end(f, e, delim);
                    double v;
                    header = dataset_number(f, fe, &v) == 1;
                    f = fe + 1;
                }
                if (!header) header_field = 0;
            }
            lc = opt->label_col < 0 ? ncols + opt->label_col : opt->label_col;
            if (nt && (lc < 0 || lc + nt > ncols)) {
                /* positions in messages count from 1, like the fields ("field 2") */
                int shown = opt->label_col < 0 ? opt->label_col : opt->label_col + 1;
                if (nt == 1)
                    st = bp_err(err, BP_E_ARG, "%s:%d: label column %d is outside the %d columns",
                                path, lineno, shown, ncols);
                else
                    st = bp_err(err, BP_E_ARG, "%s:%d: %d target columns from column %d do not fit in the %d columns",
                                path, lineno, nt, shown, ncols);
                goto done;
            }
            features = ncols - nt;
            if (features < 1) {
                st = bp_err(err, BP_E_SHAPE, "%s:%d: no feature columns: %d columns, %d used as targets",
                            path, lineno, ncols, nt);
                goto done;
            }
            if (header) continue;
        }
        if (nf != ncols) {
            st = bp_err(err, BP_E_PARSE, "%s:%d: expected %d fields, got %d", path, lineno, ncols, nf);
            goto done;
        }
        if ((st = csv_grow(&r, features, classes ? 0 : nt, classes, err))) goto done;

        float *xr = r.x + (size_t)r.n * features, *tr = r.t ? r.t + (size_t)r.n * nt : NULL;
        char *f = p;
        for (int j = 0; j < ncols; j++) {
            char *fe = field_end(f, e, delim);
            int col = (int)(skip_blank(f, fe) - p) + 1;   /* 1-based, first non-blank */
            double v;
            int bad = dataset_number(f, fe, &v);
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
        int k = opt->nclasses ? opt->nclasses : maxlabel + 1;
        if ((double)r.n * k > BP_MAX_ONE_HOT) {
            st = bp_err(err, BP_E_VALUE, "%s: labels up to %d make %d classes, and one-hot targets of %d rows over them "
                        "would take %.1f GiB: are the targets numbers to predict (--regression)?", path, k - 1, k, r.n,
                        (double)r.n * k * sizeof(float) / (1 << 30));
            goto done;
        }
        out->labels = r.labels;
        r.labels = NULL;
        if ((st = bp_dataset_one_hot(out, opt->nclasses ? opt->nclasses : maxlabel + 1, err))) {
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

/* ---- plain matrices ------------------------------------------------------ */

bp_status bp_csv_read_matrix(const char *path, bp_mat *out, bp_error *err)
{
    char *text;
    size_t len;
    memset(out, 0, sizeof *out);
    bp_status st = bp_read_file(path, BP_LIMIT_TEXT, "a CSV matrix", &text, &len, err);
    if (st) return st;
    size_t cap = 64, n = 0;
    double *v = malloc(cap * sizeof *v);
    int rows = 0, cols = -1;
    if (!v) { free(text); return bp_err(err, BP_E_NOMEM, "%s: out of memory", path); }
    csv_lines lines;
    char *p, *e;
    if ((st = text_lines(path, text, len, &lines, err))) goto done;
    while (next_line(&lines, &p, &e)) {
        int c = count_fields(p, e, ',');
        char *f = p;
        for (int j = 0; j < c; j++) {
            char *fe = field_end(f, e, ',');
            double x;
            if (parse_number(f, fe, &x) != NUM_OK) {
                st = bp_err(err, BP_E_PARSE, "%s:%d:%d: field %d: expected a finite number, got " FIELD_FMT, path,
                            lines.lineno, (int)(skip_blank(f, fe) - p) + 1, j + 1, FIELD_ARGS(f, fe));
                goto done;
            }
            if (n == cap) {
                double *nv = realloc(v, (cap *= 2) * sizeof *v);
                if (!nv) { st = bp_err(err, BP_E_NOMEM, "%s: out of memory", path); goto done; }
                v = nv;
            }
            v[n++] = x;
            f = fe + 1;
        }
        if (cols >= 0 && c != cols) {
            st = bp_err(err, BP_E_SHAPE, "%s:%d: expected %d fields like the rows above, got %d", path, lines.lineno,
                        cols, c);
            goto done;
        }
        cols = c;
        rows++;
    }
    if (rows == 0) st = bp_err(err, BP_E_VALUE, "%s: no rows of numbers", path);
done:
    free(text);
    if (st) { free(v); return st; }
    out->rows = rows;
    out->cols = cols;
    out->dtype = BP_F64;
    out->data = v;
    return BP_OK;
}
