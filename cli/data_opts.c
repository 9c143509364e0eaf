/* data_opts.c - the dataset options shared by train, eval and predict. */
#define _GNU_SOURCE
#include "data_opts.h"
#include "cli.h"
#include "core/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void data_opts_init(data_opts *o)
{
    memset(o, 0, sizeof *o);
    o->label_col = -1;
    o->header = BP_CSV_HEADER_AUTO;
    o->targets = 1;
    o->split = -1;
}

static int parse_int(const char *opt, const char *s, int min, int *out)
{
    long v;
    if (cli_long(s, min, 1000000000L, &v)) {
        cli_failf("%s: expected an integer%s, got '%s'", opt, min > 0 ? " >= 1" : "", s);
        return -1;
    }
    *out = (int)v;
    return 1;
}

int data_opt(int c, const char *arg, data_opts *o)
{
    switch (c) {
    case DOPT_DATA: o->data = arg; return 1;
    case DOPT_LABELS: o->labels = arg; return 1;
    case DOPT_LABEL_COL: {   /* columns count from 1, like the fields of the messages; negative from the end */
        long v;
        if (cli_long(arg, -1000000000L, 1000000000L, &v)) {   /* not a number: a header name */
            if (!*arg) { cli_failf("--label-col: expected a column number or a header name, got ''"); return -1; }
            o->label_name = arg;
            o->label_col_set = 1;
            return 1;
        }
        o->label_name = NULL;
        int r = parse_int("--label-col", arg, -1000000000, &o->label_col);
        if (r < 0) return r;
        if (o->label_col == 0) {
            cli_failf("--label-col: columns count from 1 (the first column is 1, the last -1), got 0");
            return -1;
        }
        if (o->label_col > 0) o->label_col--;
        o->label_col_set = 1;
        return 1;
    }
    case DOPT_DELIMITER:
        if (!strcmp(arg, ",") || !strcmp(arg, "comma")) o->delim = ',';
        else if (!strcmp(arg, ";") || !strcmp(arg, "semicolon")) o->delim = ';';
        else if (!strcmp(arg, "tab") || !strcmp(arg, "\t") || !strcmp(arg, "\\t")) o->delim = '\t';
        else if (!strcmp(arg, "auto")) o->delim = 0;
        else { cli_failf("--delimiter: expected ',', ';', tab or auto, got '%s'", arg); return -1; }
        return 1;
    case DOPT_TARGETS: return parse_int("--targets", arg, 1, &o->targets);
    case DOPT_REGRESSION: o->regression = 1; return 1;
    case DOPT_NO_LABELS: o->no_labels = 1; return 1;
    case DOPT_TEST: o->split = 1; return 1;
    case DOPT_SPLIT:
        if (!strcmp(arg, "train")) o->split = 0;
        else if (!strcmp(arg, "test")) o->split = 1;
        else { cli_failf("--split: expected train or test, got '%s'", arg); return -1; }
        return 1;
    case DOPT_HEADER:
        if (!strcmp(arg, "yes")) o->header = BP_CSV_HEADER_YES;
        else if (!strcmp(arg, "no")) o->header = BP_CSV_HEADER_NO;
        else if (!strcmp(arg, "auto")) o->header = BP_CSV_HEADER_AUTO;
        else { cli_failf("--header: expected yes, no or auto, got '%s'", arg); return -1; }
        return 1;
    default: return 0;
    }
}

int data_net_is_classifier(const bp_net *net)
{
    const bp_net_spec *s = bp_net_get_spec(net);
    bp_act out = s->layers[s->nlayers - 1].act;
    return s->loss == BP_LOSS_CE || s->loss == BP_LOSS_BCE || s->loss == BP_LOSS_ZERO_ONE || out == BP_ACT_SOFTMAX ||
           out == BP_ACT_SIGMOID || out == BP_ACT_STEP;
}

typedef enum source { SRC_CSV, SRC_STDIN, SRC_IDX, SRC_NAMED } source;

/* Decide what --data names: sniff an existing file's first bytes. */
static source data_source(const char *data)
{
    if (!strcmp(data, "-")) return SRC_STDIN;
    FILE *f = fopen(data, "rb");
    if (!f) return strchr(data, '/') || strchr(data, '.') ? SRC_CSV : SRC_NAMED;
    unsigned char m[4] = {0};
    size_t n = fread(m, 1, 4, f);
    fclose(f);
    if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) return SRC_IDX;
    if (n == 4 && m[0] == 0 && m[1] == 0 && m[2] == 8 && m[3] == 3) return SRC_IDX;
    return SRC_CSV;
}

int data_is_csv(const data_opts *o)
{
    source src = data_source(o->data);
    return src == SRC_CSV || src == SRC_STDIN;
}

static int split_of(const data_opts *o, data_purpose p) { return o->split >= 0 ? o->split : p != DATA_TRAIN; }

const char *data_describe(const data_opts *o, data_purpose purpose)
{
    static char buf[512];
    switch (data_source(o->data)) {
    case SRC_STDIN: return "stdin";
    case SRC_NAMED:
        snprintf(buf, sizeof buf, "%s, %s split", o->data, split_of(o, purpose) ? "test" : "train");
        return buf;
    default: return o->data;
    }
}

/* Copy standard input to a new temporary file; its path goes to `path`. */
static int spool_stdin(char *path, size_t size)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, size, "%s/backprop-stdin-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        if (fd >= 0) { close(fd); unlink(path); }
        return cli_failf("stdin: cannot create a temporary file in %s", dir && *dir ? dir : "/tmp");
    }
    char buf[65536];
    size_t n;
    unsigned long long total = 0;
    int nul = 0;
    while (!nul && (n = fread(buf, 1, sizeof buf, stdin)) > 0 && (total += n) <= BP_LIMIT_DATA) {
        if ((nul = memchr(buf, '\0', n) != NULL)) break;   /* binary data: no CSV */
        if (fwrite(buf, 1, n, f) != n) break;
    }
    int bad = ferror(stdin) || ferror(f);
    if (fclose(f) || bad || nul || total > BP_LIMIT_DATA) {
        char b[32];
        unlink(path);
        if (nul) return cli_failf("stdin: a NUL byte: this is not CSV text");
        if (total > BP_LIMIT_DATA)
            return cli_failf("stdin: more than %s, the limit for a CSV dataset", bp_bytes_text(BP_LIMIT_DATA, b));
        return cli_failf("stdin: %s", bad ? "read or write error while copying standard input" : "write error");
    }
    return 0;
}

/* Print err's message with every occurrence of `from` shown as `to`. */
static int fail_renamed(const bp_error *err, const char *from, const char *to)
{
    char out[BP_ERROR_MAX + 64];
    size_t k = 0, fl = strlen(from), tl = strlen(to);
    for (const char *p = err->msg; *p && k + tl + 1 < sizeof out;) {
        if (!strncmp(p, from, fl)) { memcpy(out + k, to, tl); k += tl; p += fl; }
        else out[k++] = *p++;
    }
    out[k] = 0;
    return cli_failf("%s", out);
}

int data_load(const data_opts *o, data_purpose purpose, const bp_net *net, const bp_scaler *scaler,
              bp_dataset *d)
{
    memset(d, 0, sizeof *d);
    if (!o->data) return cli_failf("no data: give --data NAME|FILE");
    bp_error err;
    bp_status st = BP_OK;
    source src = data_source(o->data);
    const char *name = src == SRC_STDIN ? "stdin" : o->data;
    int outputs = net ? bp_net_outputs(net) : 0;
    if (purpose == DATA_EVAL && o->no_labels) return cli_failf("--no-labels: eval needs the targets");

    if (src == SRC_NAMED) {
        st = bp_dataset_named_shard(o->data, split_of(o, purpose), o->shard_index, o->shard_count, d, &err);
        if (st == BP_E_VALUE) return cli_failf("%s; no file of that name either", err.msg);
    } else if (src == SRC_IDX) {
        if (purpose == DATA_EVAL && !o->labels)
            return cli_failf("%s: IDX images need their labels for eval: give --labels FILE", o->data);
        st = bp_idx_load_shard(o->data, o->labels, o->shard_index, o->shard_count, d, &err);
    } else {
        bp_csv_options co;
        bp_csv_options_init(&co);
        co.header = o->header;
        co.label_col = o->label_col;
        co.label_name = o->label_name;
        co.ntargets = o->targets;
        co.delim = o->delim;
        co.shard_index = o->shard_index;
        co.shard_count = o->shard_count;
        const char *const *names = net ? bp_net_class_names(net) : NULL;
        if (o->no_labels) {
            co.target = BP_CSV_UNLABELED;
        } else if (purpose == DATA_PREDICT) {   /* targets, if the file has them, are left out */
            co.target = BP_CSV_DROP;
            co.ntargets = o->regression ? o->targets : 1;
            if (net) co.features = bp_net_get_spec(net)->inputs;
        } else if (purpose == DATA_EVAL && (o->regression || !data_net_is_classifier(net))) {
            co.target = BP_CSV_REGRESSION;
            co.ntargets = outputs;
        } else if (purpose == DATA_EVAL) {
            co.nclasses = bp_net_classes(net);
            co.class_names = names;
        } else if (o->regression) {
            co.target = BP_CSV_REGRESSION;
        }
        char tmp[4096];
        const char *path = o->data;
        if (src == SRC_STDIN) {
            if (spool_stdin(tmp, sizeof tmp)) return EXIT_BAD;
            path = tmp;
        }
        if (!o->label_col_set && co.target != BP_CSV_CLASSES) co.label_col = -co.ntargets;  /* the last K */
        st = bp_csv_load(path, &co, d, &err);
        if (src == SRC_STDIN) unlink(tmp);
        if (st) return src == SRC_STDIN ? fail_renamed(&err, tmp, "stdin") : cli_fail(&err);
        if (purpose == DATA_EVAL && co.target == BP_CSV_CLASSES && !names && d->class_names) {
            bp_dataset_free(d);
            return cli_failf("%s: the labels are class names, but the model has none (it was trained on class "
                             "numbers 0..%d): give the labels as those numbers", name, bp_net_classes(net) - 1);
        }
    }
    if (st) return cli_fail(&err);
    if (net) {
        int inputs = bp_net_get_spec(net)->inputs;
        if (d->features != inputs) {
            int f = d->features;
            bp_dataset_free(d);
            return cli_failf("%s: the model has %d input%s, the data has %d feature%s", name, inputs,
                             inputs == 1 ? "" : "s", f, f == 1 ? "" : "s");
        }
    }
    /* the model's scaling, from the data as the user has it (IDX pixels come divided by 255 already) */
    if (scaler && scaler->features > 0 && bp_scaler_apply_to(scaler, d, src == SRC_NAMED || src == SRC_IDX, &err)) {
        bp_dataset_free(d);
        return cli_failf("%s: %s", name, err.msg);
    }
    double lo, hi;
    if (scaler && bp_scaler_check(scaler, d, &lo, &hi))
        fprintf(stderr, "backprop: warning: %s: after the model's scaling the inputs lie in [%g, %g], far from the "
                        "training inputs' [%g, %g]: is the data scaled the way the training data was?\n", name, lo, hi,
                scaler->lo, scaler->hi);
    return 0;
}
