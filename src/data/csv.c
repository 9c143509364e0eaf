/* data/csv.c - CSV files as people have them: datasets (bp_csv_load: a
 * header, the label column by position or by name, class labels as numbers
 * or names, regression targets) and plain matrices (bp_csv_read_matrix: the
 * --x / --y files of grad, explain and gradcheck).
 *
 * Both readers stand on one tokenizer, RFC 4180's records: rows separated by
 * LF or CRLF (numbered from 1), fields split at the delimiter (detected when
 * not given), a field may be quoted ("a, b", "" for a quote, line breaks
 * inside), blanks around an unquoted field are ignored, blank lines skipped,
 * a UTF-8 byte order mark skipped, a NUL byte refused; and one number parser. */
#include "data/dataset.h"
#include "core/file.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the tokenizer ------------------------------------------------------- */

/* One field of a record: its text [s, e) (unquoted in place), where it
 * starts (1-based column of its line), whether it was quoted. */
typedef struct csv_field {
    char *s, *e;
    int col, quoted;
} csv_field;

/* The records of a text buffer, in order. */
typedef struct csv_reader {
    const char *path;
    char *p, *end;    /* the rest of the text                                */
    int lineno;       /* the line the next record starts on, from 1          */
    char delim;
    csv_field *f;     /* the fields of the record last read (owned)          */
    int nf, cap;
} csv_reader;

static int is_blank(char c, char delim) { return (c == ' ' || c == '\t') && c != delim; }

/* Read the next record that is not blank into r->f (r->nf fields); 0 at the
 * end of the text (or an error: *st set). *line receives its first line. */
static int next_record(csv_reader *r, int *line, bp_status *st, bp_error *err)
{
    char d = r->delim;
    for (;;) {   /* blank lines */
        if (r->p >= r->end) return 0;
        char *q = r->p;
        while (q < r->end && is_blank(*q, d)) q++;
        if (q < r->end && *q == '\r' && q + 1 < r->end && q[1] == '\n') q++;
        if (q < r->end && *q != '\n') break;
        r->p = q < r->end ? q + 1 : q;
        r->lineno++;
    }
    *line = r->lineno;
    char *linestart = r->p;
    r->nf = 0;
    for (;;) {
        if (r->nf == r->cap) {
            int cap = r->cap ? 2 * r->cap : 16;
            csv_field *nfs = realloc(r->f, (size_t)cap * sizeof *nfs);
            if (!nfs) { *st = bp_err(err, BP_E_NOMEM, "%s: out of memory", r->path); return 0; }
            r->f = nfs;
            r->cap = cap;
        }
        csv_field *f = &r->f[r->nf++];
        char *p = r->p;
        while (p < r->end && is_blank(*p, d)) p++;
        f->col = (int)(p - linestart) + 1;
        f->quoted = p < r->end && *p == '"';
        if (f->quoted) {
            char *w = p, *q = p + 1;
            for (;;) {
                if (q >= r->end) {
                    *st = bp_err(err, BP_E_PARSE, "%s:%d:%d: field %d: the quote that opens it is never closed",
                                 r->path, *line, f->col, r->nf);
                    return 0;
                }
                if (*q == '"') {
                    if (q + 1 < r->end && q[1] == '"') { *w++ = '"'; q += 2; continue; }
                    q++;
                    break;
                }
                if (*q == '\n') { r->lineno++; linestart = q + 1; }
                *w++ = *q++;
            }
            f->s = p;
            f->e = w;
            while (q < r->end && is_blank(*q, d)) q++;
            if (q < r->end && *q == '\r' && q + 1 < r->end && q[1] == '\n') q++;
            if (q < r->end && *q != d && *q != '\n') {
                char dname[8] = "a tab";
                if (d != '\t') snprintf(dname, sizeof dname, "'%c'", d);
                *st = bp_err(err, BP_E_PARSE, "%s:%d:%d: field %d: after its closing quote, expected %s or the end of the row",
                             r->path, r->lineno, (int)(q - linestart) + 1, r->nf, dname);
                return 0;
            }
            p = q;
        } else {
            f->s = p;
            while (p < r->end && *p != d && *p != '\n') p++;
            char *e = p;
            if (e > f->s && e[-1] == '\r' && (p == r->end || *p == '\n')) e--;
            while (e > f->s && is_blank(e[-1], d)) e--;
            f->e = e;
        }
        if (p < r->end && *p == d) { r->p = p + 1; continue; }
        r->p = p < r->end ? p + 1 : p;   /* the end of the record */
        r->lineno++;
        return 1;
    }
}

/* Fields of the record at p, read without changing the text (quotes
 * respected); -1 for a blank line; *next receives the start of the next. */
static int count_record(const char *p, const char *end, char d, const char **next)
{
    const char *q = p;
    while (q < end && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
    if (q >= end || *q == '\n') { *next = q < end ? q + 1 : q; return -1; }
    int n = 1, quoted = 0;
    for (q = p; q < end; q++) {
        if (*q == '"') quoted = !quoted;
        else if (!quoted && *q == d) n++;
        else if (!quoted && *q == '\n') break;
    }
    *next = q < end ? q + 1 : q;
    return n;
}

/* The delimiter of a text whose caller gave none: the first of tab, ';' and
 * ',' that splits each of the first 20 rows into the same number (>= 2) of
 * fields; ',' when none does (a single column). */
static char detect_delimiter(const char *p, const char *end)
{
    static const char cands[] = {'\t', ';', ','};
    for (int c = 0; c < 3; c++) {
        const char *q = p;
        int want = -1, rows = 0, ok = 1;
        while (ok && q < end && rows < 20) {
            int n = count_record(q, end, cands[c], &q);
            if (n < 0) continue;
            if (want < 0) want = n;
            ok = n == want && n >= 2;
            rows++;
        }
        if (ok && rows > 0) return cands[c];
    }
    return ',';
}

/* The text of a file just read: after a UTF-8 byte order mark (which
 * spreadsheets write first, and which would make the first field no number),
 * with no NUL byte anywhere (binary data is no CSV). */
static bp_status text_reader(const char *path, char *buf, size_t len, char delim, csv_reader *r, bp_error *err)
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
    *r = (csv_reader){path, p, end, 1, delim ? delim : detect_delimiter(p, end), NULL, 0, 0};
    return BP_OK;
}

/* How a field reads as a number. */
enum { NUM_OK = 0, NUM_BAD, NUM_INFINITE, NUM_UNDERFLOW };

/* Parse the whole field [s, e) (*e is made NUL while parsing) as a double:
 * NUM_OK; NUM_BAD (not a number); NUM_INFINITE (nan, inf, or beyond the
 * double range); NUM_UNDERFLOW (a finite value that strtod flags as out of
 * range: smaller than the normal doubles). */
static int parse_number(const char *s, char *e, double *v)
{
    if (s == e) return NUM_BAD;
    char save = *e, *end;
    *e = '\0';
    errno = 0;
    *v = strtod(s, &end);
    int range = errno == ERANGE;
    *e = save;
    if (end != e) return NUM_BAD;
    if (!isfinite(*v)) return NUM_INFINITE;
    return range ? NUM_UNDERFLOW : NUM_OK;
}

/* A field for an error message: at most 40 characters. */
#define FIELD_FMT "'%.*s%s'"
#define FIELD_ARGS(f) ((f)->e - (f)->s > 40 ? 40 : (int)((f)->e - (f)->s)), (f)->s, ((f)->e - (f)->s > 40 ? "..." : "")

/* ---- datasets ------------------------------------------------------------ */

#define CSV_MAX_AUTO_CLASSES 65536 /* guards the one-hot y against a stray 1e9 */

void bp_csv_options_init(bp_csv_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->header = BP_CSV_HEADER_AUTO;
    opt->target = BP_CSV_CLASSES;
    opt->label_col = -1;
    opt->delim = 0;   /* detected */
}

/* A dataset field as a number: 0 ok; 1 not a number; 2 not finite in
 * float32 (nan, inf, 1e39). */
static int dataset_number(csv_field *f, double *v)
{
    int r = parse_number(f->s, f->e, v);
    if (r == NUM_BAD) return 1;
    if (r == NUM_INFINITE || !isfinite((float)*v)) return 2;
    return 0;
}

/* Growing storage for rows of parsed values. */
typedef struct csv_rows {
    int n, cap;
    float *x, *t;     /* n x features, n x ntargets                         */
    csv_field *lab;   /* n: each row's label field (classification)         */
    int *lab_line;    /* n: its line                                        */
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
    csv_field *l = classes ? realloc(r->lab, (size_t)cap * sizeof *l) : r->lab;
    if (l) r->lab = l;
    int *ll = classes ? realloc(r->lab_line, (size_t)cap * sizeof *ll) : r->lab_line;
    if (ll) r->lab_line = ll;
    if (!x || (nt && !t) || (classes && (!l || !ll)))
        return bp_err(err, BP_E_NOMEM, "out of memory (%d rows)", cap);
    r->cap = cap;
    return BP_OK;
}

static int cmp_field(const void *a, const void *b)
{
    const csv_field *x = a, *y = b;
    size_t nx = (size_t)(x->e - x->s), ny = (size_t)(y->e - y->s);
    int c = memcmp(x->s, y->s, nx < ny ? nx : ny);
    return c ? c : (nx > ny) - (nx < ny);
}

static int field_is(const csv_field *f, const char *s)
{
    size_t n = strlen(s);
    return (size_t)(f->e - f->s) == n && !memcmp(f->s, s, n);
}

/* The rows' labels as classes: indices 0..K-1 when every label is such an
 * integer (then K = opt->nclasses or the largest + 1), else names: opt's
 * names in their order, or the sorted distinct names of the file, stored in
 * d's names_owned. labels[i] receives row i's class. */
static bp_status resolve_labels(const char *path, const bp_csv_options *opt, csv_rows *r, int label_field,
                                int *labels, int *k, bp_dataset *d, bp_error *err)
{
    int names = 0;
    for (int i = 0; i < r->n && !names; i++) {
        double v;
        names = dataset_number(&r->lab[i], &v) == 1;
    }
    if (!names) {
        int kmax = opt->nclasses ? opt->nclasses : CSV_MAX_AUTO_CLASSES, maxlabel = -1;
        for (int i = 0; i < r->n; i++) {
            csv_field *f = &r->lab[i];
            double v = 0;
            int bad = dataset_number(f, &v);
            if (bad)
                return bp_err(err, BP_E_VALUE, "%s:%d:%d: field %d: expected a finite number (float32 range), got " FIELD_FMT,
                              path, r->lab_line[i], f->col, label_field, FIELD_ARGS(f));
            if (v < 0 || v != floor(v))
                return bp_err(err, BP_E_VALUE, "%s:%d:%d: field %d: expected a class label (an integer >= 0, or a "
                              "name), got " FIELD_FMT "%s", path, r->lab_line[i], f->col, label_field, FIELD_ARGS(f),
                              opt->target == BP_CSV_CLASSES ? "; if the targets are numbers to predict, use --regression" : "");
            if (v >= kmax) {
                if (opt->nclasses)
                    return bp_err(err, BP_E_VALUE, "%s:%d:%d: field %d: class label %.0f is out of range 0..%d", path,
                                  r->lab_line[i], f->col, label_field, v, kmax - 1);
                return bp_err(err, BP_E_VALUE, "%s:%d:%d: field %d: class label %.0f is too large (at most %d classes)",
                              path, r->lab_line[i], f->col, label_field, v, kmax);
            }
            labels[i] = (int)v;
            if ((int)v > maxlabel) maxlabel = (int)v;
        }
        *k = opt->nclasses ? opt->nclasses : maxlabel + 1;
        return BP_OK;
    }
    for (int i = 0; i < r->n; i++) {   /* names that print on one line */
        const csv_field *f = &r->lab[i];
        const char *bad = bp_class_name_problem(f->s, (size_t)(f->e - f->s));
        if (f->s == f->e)
            return bp_err(err, BP_E_VALUE, "%s:%d:%d: field %d: the class label is empty", path, r->lab_line[i],
                          f->col, label_field);
        if (bad)
            return bp_err(err, BP_E_VALUE, "%s:%d:%d: field %d: the class name " FIELD_FMT " %s", path,
                          r->lab_line[i], f->col, label_field, FIELD_ARGS(f), bad);
    }
    if (opt->class_names) {   /* the model's classes, in its order */
        for (int i = 0; i < r->n; i++) {
            int c = -1;
            for (int j = 0; j < opt->nclasses && c < 0; j++)
                if (field_is(&r->lab[i], opt->class_names[j])) c = j;
            if (c < 0) {
                char list[256] = "";
                for (int j = 0; j < opt->nclasses && strlen(list) < 200; j++)
                    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", j ? ", " : "", opt->class_names[j]);
                return bp_err(err, BP_E_VALUE, "%s:%d:%d: field %d: class " FIELD_FMT " is not one of the model's (%s)",
                              path, r->lab_line[i], r->lab[i].col, label_field, FIELD_ARGS(&r->lab[i]), list);
            }
            labels[i] = c;
        }
        *k = opt->nclasses;
        return bp_dataset_set_names(d, opt->class_names, opt->nclasses, err);
    }
    csv_field *u = malloc((size_t)r->n * sizeof *u);   /* the distinct names, sorted */
    if (!u) return bp_err(err, BP_E_NOMEM, "%s: out of memory", path);
    memcpy(u, r->lab, (size_t)r->n * sizeof *u);
    qsort(u, (size_t)r->n, sizeof *u, cmp_field);
    int nu = 0;
    for (int i = 0; i < r->n; i++)
        if (!nu || cmp_field(&u[nu - 1], &u[i])) u[nu++] = u[i];
    if (opt->nclasses && nu > opt->nclasses) {
        free(u);
        return bp_err(err, BP_E_VALUE, "%s: field %d holds %d different class names, more than the %d classes", path,
                      label_field, nu, opt->nclasses);
    }
    if (nu > CSV_MAX_AUTO_CLASSES) {
        free(u);
        return bp_err(err, BP_E_VALUE, "%s: field %d holds %d different class names (at most %d): is it the column of "
                      "labels?", path, label_field, nu, CSV_MAX_AUTO_CLASSES);
    }
    for (int i = 0; i < r->n; i++) {
        csv_field *hit = bsearch(&r->lab[i], u, (size_t)nu, sizeof *u, cmp_field);
        labels[i] = (int)(hit - u);
    }
    const char **nm = malloc((size_t)nu * sizeof *nm);
    char *text = NULL;
    size_t total = 0;
    for (int i = 0; i < nu; i++) total += (size_t)(u[i].e - u[i].s) + 1;
    bp_status st = BP_OK;
    if (!nm || !(text = malloc(total))) st = bp_err(err, BP_E_NOMEM, "%s: out of memory", path);
    for (size_t i = 0, at = 0; !st && i < (size_t)nu; i++) {
        size_t n = (size_t)(u[i].e - u[i].s);
        memcpy(text + at, u[i].s, n);
        text[at + n] = 0;
        nm[i] = text + at;
        at += n + 1;
    }
    if (!st) st = bp_dataset_set_names(d, nm, nu, err);
    *k = nu;
    free(nm);
    free(text);
    free(u);
    return st;
}

bp_status bp_csv_load(const char *path, const bp_csv_options *opt, bp_dataset *out,
                      bp_error *err)
{
    bp_csv_options defaults;
    if (!opt) { bp_csv_options_init(&defaults); opt = &defaults; }
    memset(out, 0, sizeof *out);
    int classes = opt->target == BP_CSV_CLASSES, drop = opt->target == BP_CSV_DROP;
    int nt = opt->target == BP_CSV_UNLABELED ? 0 : opt->target != BP_CSV_CLASSES && opt->ntargets > 0 ? opt->ntargets : 1;
    if (opt->nclasses < 0) return bp_err(err, BP_E_ARG, "%s: nclasses %d is negative", path, opt->nclasses);
    if (opt->features < 0) return bp_err(err, BP_E_ARG, "%s: features %d is negative", path, opt->features);

    char *buf;
    size_t len;
    bp_status st = bp_read_file(path, BP_LIMIT_DATA, "a CSV dataset", &buf, &len, err);
    if (st) return st;

    csv_rows r = {0, 0, NULL, NULL, NULL, NULL};
    int ncols = -1, lc = 0, features = 0, header_field = 0, line = 0;
    csv_reader rd = {0};
    if ((st = text_reader(path, buf, len, opt->delim, &rd, err))) goto done;
    while (next_record(&rd, &line, &st, err)) {
        int nf = rd.nf;
        csv_field *fs = rd.f;
        if (ncols < 0) {
            /* First row: fixes the column count, the header and the targets. */
            ncols = nf;
            if (opt->features && nt && ncols == opt->features) nt = 0, classes = drop = 0;   /* no targets here */
            if (opt->features && ncols != opt->features + nt) {
                if (nt)
                    st = bp_err(err, BP_E_SHAPE, "%s:%d: %d column%s; expected %d (the features) or %d (with %d "
                                "target column%s)", path, line, ncols, ncols == 1 ? "" : "s", opt->features,
                                opt->features + nt, nt, nt == 1 ? "" : "s");
                else
                    st = bp_err(err, BP_E_SHAPE, "%s:%d: %d column%s; expected %d (the features)", path, line, ncols,
                                ncols == 1 ? "" : "s", opt->features);
                goto done;
            }
            int header = opt->header == BP_CSV_HEADER_YES || (opt->label_name && opt->header != BP_CSV_HEADER_NO);
            if (opt->label_name) {
                lc = -1;
                for (int j = 0; j < nf && lc < 0; j++)
                    if (field_is(&fs[j], opt->label_name)) lc = j;
                if (lc < 0 || opt->header == BP_CSV_HEADER_NO) {
                    char list[300] = "";
                    for (int j = 0; j < nf && strlen(list) < 240; j++)
                        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%.*s", j ? ", " : "",
                                 (int)(fs[j].e - fs[j].s > 30 ? 30 : fs[j].e - fs[j].s), fs[j].s);
                    st = bp_err(err, BP_E_ARG, "%s:%d: no column named '%s' in the header (its columns: %s)", path,
                                line, opt->label_name, list);
                    goto done;
                }
            } else {
                lc = opt->label_col < 0 ? ncols + opt->label_col : opt->label_col;
            }
            if (nt && (lc < 0 || lc + nt > ncols)) {
                /* positions in messages count from 1, like the fields ("field 2") */
                int shown = opt->label_col < 0 ? opt->label_col : opt->label_col + 1;
                if (nt == 1)
                    st = bp_err(err, BP_E_ARG, "%s:%d: label column %d is outside the %d columns",
                                path, line, shown, ncols);
                else
                    st = bp_err(err, BP_E_ARG, "%s:%d: %d target columns from column %d do not fit in the %d columns",
                                path, line, nt, shown, ncols);
                goto done;
            }
            features = ncols - nt;
            if (features < 1) {
                char dname[8] = "a tab";
                if (rd.delim != '\t') snprintf(dname, sizeof dname, "'%c'", rd.delim);
                if (ncols == 1)
                    st = bp_err(err, BP_E_SHAPE, "%s:%d: one field per row, so no feature columns: are the fields "
                                "separated by %s (the delimiter in use)?", path, line, dname);
                else
                    st = bp_err(err, BP_E_SHAPE, "%s:%d: no feature columns: %d columns, %d used as targets",
                                path, line, ncols, nt);
                goto done;
            }
            if (opt->header == BP_CSV_HEADER_AUTO && !header) {
                /* a header iff a field that must hold a number does not: the features, and
                 * regression targets (class labels may be names) */
                for (int j = 0; j < nf && !header; j++) {
                    double v;
                    int is_label = (classes || drop) && j >= lc && j < lc + nt;
                    if (!is_label && dataset_number(&fs[j], &v) == 1) header_field = j + 1, header = 1;
                }
            }
            if (header) continue;
        }
        if (nf != ncols) {
            st = bp_err(err, BP_E_PARSE, "%s:%d: expected %d fields, got %d", path, line, ncols, nf);
            goto done;
        }
        if ((st = csv_grow(&r, features, classes || drop ? 0 : nt, classes, err))) goto done;

        float *xr = r.x + (size_t)r.n * features, *tr = r.t ? r.t + (size_t)r.n * nt : NULL;
        for (int j = 0; j < ncols; j++) {
            csv_field *f = &fs[j];
            int t = j - lc;   /* index among the target columns */
            if (classes && nt && t >= 0 && t < nt) {   /* a label: a number or a name, decided below */
                r.lab[r.n] = *f;
                r.lab_line[r.n] = line;
                continue;
            }
            if (drop && t >= 0 && t < nt) continue;
            double v;
            int bad = dataset_number(f, &v);
            if (bad == 1) {
                st = bp_err(err, BP_E_PARSE, "%s:%d:%d: field %d: expected a number, got " FIELD_FMT,
                            path, line, f->col, j + 1, FIELD_ARGS(f));
                goto done;
            }
            if (bad == 2) {
                st = bp_err(err, BP_E_VALUE, "%s:%d:%d: field %d: expected a finite number (float32 range), got " FIELD_FMT,
                            path, line, f->col, j + 1, FIELD_ARGS(f));
                goto done;
            }
            if (nt && t >= 0 && t < nt) tr[t] = (float)v;
            else *xr++ = (float)v;
        }
        r.n++;
    }
    if (st) goto done;

    if (ncols < 0) { st = bp_err(err, BP_E_PARSE, "%s: empty file: no rows", path); goto done; }
    if (classes && opt->header == BP_CSV_HEADER_AUTO && !opt->label_name && !header_field && r.n > 0) {
        /* "x1,x2,label" over integer labels: the first row's label is a word and
         * every later one a number, so that row was a header after all */
        double v;
        int later_numbers = 1;
        for (int i = 1; i < r.n && later_numbers; i++) later_numbers = dataset_number(&r.lab[i], &v) != 1;
        if (later_numbers && dataset_number(&r.lab[0], &v) == 1) {
            memmove(r.x, r.x + features, (size_t)(r.n - 1) * features * sizeof *r.x);
            memmove(r.lab, r.lab + 1, (size_t)(r.n - 1) * sizeof *r.lab);
            memmove(r.lab_line, r.lab_line + 1, (size_t)(r.n - 1) * sizeof *r.lab_line);
            r.n--;
            header_field = lc + 1;
        }
    }
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
        int k = 0;
        if (!(out->labels = malloc((size_t)r.n * sizeof *out->labels))) {
            st = bp_err(err, BP_E_NOMEM, "%s: out of memory", path);
        } else if (!(st = resolve_labels(path, opt, &r, lc + 1, out->labels, &k, out, err)) &&
                   (double)r.n * k > BP_MAX_ONE_HOT) {
            st = bp_err(err, BP_E_VALUE, "%s: labels up to %d make %d classes, and one-hot targets of %d rows over them "
                        "would take %.1f GiB: are the targets numbers to predict (--regression)?", path, k - 1, k, r.n,
                        (double)r.n * k * sizeof(float) / (1 << 30));
        }
        if (!st) st = bp_dataset_one_hot(out, k, err);
        if (st) bp_dataset_free(out);
    } else if (nt && !drop) {
        out->outputs = nt;
        out->y = r.t;
        r.t = NULL;
    }
    /* one process's share: the classes were found over every row above */
    if (!st && (st = bp_dataset_keep_shard(out, opt->shard_index, opt->shard_count, path, err))) bp_dataset_free(out);
done:
    free(rd.f);
    free(r.x);
    free(r.t);
    free(r.lab);
    free(r.lab_line);
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
    int rows = 0, cols = -1, line = 0;
    if (!v) { free(text); return bp_err(err, BP_E_NOMEM, "%s: out of memory", path); }
    csv_reader rd = {0};
    if ((st = text_reader(path, text, len, 0, &rd, err))) goto done;
    int first = 1;
    while (next_record(&rd, &line, &st, err)) {
        int c = rd.nf;
        if (first) {   /* a header: the first row, when no field of it is a number (a typo in a row of
                        * numbers stays an error) */
            first = 0;
            int words = 1;
            for (int j = 0; j < c && words; j++) {
                double x;
                words = parse_number(rd.f[j].s, rd.f[j].e, &x) == NUM_BAD;
            }
            if (words) { cols = c; continue; }
        }
        for (int j = 0; j < c; j++) {
            csv_field *f = &rd.f[j];
            double x;
            if (parse_number(f->s, f->e, &x) != NUM_OK) {
                st = bp_err(err, BP_E_PARSE, "%s:%d:%d: field %d: expected a finite number, got " FIELD_FMT, path,
                            line, f->col, j + 1, FIELD_ARGS(f));
                goto done;
            }
            if (n == cap) {
                double *nv = realloc(v, (cap *= 2) * sizeof *v);
                if (!nv) { st = bp_err(err, BP_E_NOMEM, "%s: out of memory", path); goto done; }
                v = nv;
            }
            v[n++] = x;
        }
        if (cols >= 0 && c != cols) {
            st = bp_err(err, BP_E_SHAPE, "%s:%d: expected %d fields like the rows above, got %d", path, line, cols, c);
            goto done;
        }
        cols = c;
        rows++;
    }
    if (!st && rows == 0) st = bp_err(err, BP_E_VALUE, "%s: no rows of numbers%s", path, cols >= 0 ? " after the header" : "");
done:
    free(rd.f);
    free(text);
    if (st) { free(v); return st; }
    out->rows = rows;
    out->cols = cols;
    out->dtype = BP_F64;
    out->data = v;
    return BP_OK;
}
