/* cmd_predict.c - `backprop predict MODEL --data ...`: the outputs of a saved
 * network for every sample, as CSV. */
#define _GNU_SOURCE
#include "cli.h"
#include "data_opts.h"
#include "model_opts.h"
#include "core/file.h"
#include "core/numfmt.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_predict(int argc, char **argv);

static const char HELP[] =
    "usage: backprop predict MODEL --data NAME|FILE|- [--out PREDS.csv] [options]\n"
    "\n"
    "The outputs of a saved network for every sample of a dataset, one CSV row per sample\n"
    "in the order of the data, after a header line.  For a classifier (loss cross_entropy\n"
    "or bce, or a softmax or sigmoid output) the columns are `class,probability`: the\n"
    "predicted class (the largest output; for a single output unit, 1 iff it is >= 0.5)\n"
    "and the network's output for that class (1 - output for class 0 of a single unit); a\n"
    "model trained on named classes (setosa, ...) adds their name: `class,name,probability`.\n"
    "With --outputs, a classifier's columns are its outputs, one per class, named by the class\n"
    "(its name, else class_0,...,class_9); a regression's are output_1,...,output_K.\n"
    "Classes are their labels (0..K-1, as in the data); samples, layers and CSV columns count\n"
    "from 1.\n"
    "\n"
    "A CSV (--data -: from standard input) holds the features only; one that also has the\n"
    "target column(s) (--label-col, default the last; --regression --targets K) is\n"
    "recognised by its width and those columns are left out, whatever they hold;\n"
    "--no-labels insists on features only.  The model scales the features as its training\n"
    "data was scaled, from the data as given.  A named dataset gives its test split unless\n"
    "--split train.\n"
    "\n"
    "A one-vs-rest or one-vs-one model set (train --multiclass) gives `class,confidence`\n"
    "(`class,name,confidence` with class names): the combined class and, one-vs-rest, the\n"
    "winning model's output (or its signed distance with --ovr-rule distance), one-vs-one\n"
    "the winner's share of the k-1 votes; with --outputs, every model's output, in columns\n"
    "named POS_vs_rest or POS_vs_NEG.\n"
    "\n"
    "  --out FILE          write the CSV to FILE (atomically) instead of standard output\n"
    "  --outputs           every output, also for a classifier\n"
    MODEL_OPTIONS_HELP
    "  -h, --help          this help\n"
    "\n" DATA_OPTIONS_HELP
    "\n"
    "Example: cat x.csv | backprop predict model.safetensors --data - > preds.csv\n"
    "Exit status: 0 on success, 2 on bad input (the message names the file).\n";

/* The columns: class,probability for a classifier; with --outputs the output
 * of each class, named by the class (the dataset's class name, else class_L
 * for label L; class_1 for a single sigmoid unit, the probability of class 1);
 * output_1..output_K for a regression. */
/* A CSV field: quoted (RFC 4180) when it holds a comma, a quote or spaces at an end. */
static void put_field(FILE *f, const char *s)
{
    size_t n = strlen(s);
    if (!strpbrk(s, ",\";\t") && n && s[0] != ' ' && s[n - 1] != ' ') { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void write_preds(FILE *f, const float *out, int n, int k, int classes, int classifier,
                        const char *const *names, int nnames)
{
    char b[BP_NUM_MAX];
    if (!(nnames == (k == 1 ? 2 : k))) names = NULL;
    if (classes) fputs(names ? "class,name,probability\n" : "class,probability\n", f);
    else
        for (int j = 0; j < k; j++) {
            if (!classifier) fprintf(f, "output_%d", j + 1);
            else if (names) put_field(f, names[k == 1 ? 1 : j]);
            else fprintf(f, "class_%d", k == 1 ? 1 : j);
            fputs(j + 1 < k ? "," : "\n", f);
        }
    for (int i = 0; i < n; i++) {
        const float *o = out + (size_t)i * k;
        if (!classes) {
            for (int j = 0; j < k; j++) fprintf(f, "%s%s", bp_num_exact_f32(b, o[j]), j + 1 < k ? "," : "\n");
            continue;
        }
        int c = 0;
        float p;
        if (k == 1) {
            c = o[0] >= 0.5f;
            p = c ? o[0] : 1 - o[0];
        } else {
            for (int j = 1; j < k; j++)
                if (o[j] > o[c]) c = j;
            p = o[c];
        }
        fprintf(f, "%d,", c);
        if (names) {
            put_field(f, names[c]);
            fputc(',', f);
        }
        fprintf(f, "%s\n", bp_num_exact_f32(b, p));
    }
}

/* A model set's predictions: class[,name],confidence, or with --outputs every model's output. */
static void write_set_preds(FILE *f, bp_multiclass *mc, const int *cls, const double *conf, const float *outs, int n,
                            const char *const *names)
{
    char b[BP_NUM_MAX];
    int nm = bp_multiclass_models(mc);
    if (outs) {
        for (int j = 0; j < nm; j++) {
            int p, q;
            bp_multiclass_pair(mc, j, &p, &q);
            if (q < 0) fprintf(f, "%d_vs_rest%s", p, j + 1 < nm ? "," : "\n");
            else fprintf(f, "%d_vs_%d%s", p, q, j + 1 < nm ? "," : "\n");
        }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < nm; j++) fprintf(f, "%s%s", bp_num_exact_f32(b, outs[(size_t)i * nm + j]), j + 1 < nm ? "," : "\n");
        return;
    }
    fputs(names ? "class,name,confidence\n" : "class,confidence\n", f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%d,", cls[i]);
        if (names) {
            put_field(f, names[cls[i]]);
            fputc(',', f);
        }
        fprintf(f, "%s\n", bp_num_exact(b, conf[i]));
    }
}

static int predict_set(int argc, char **argv, const model_opts *mo, const data_opts *dopt, const char *outpath, int raw)
{
    bp_multiclass *mc;
    bp_scaler scaler;
    bp_dataset d;
    bp_error err;
    int rc = model_set_load("predict", argc, argv, mo, dopt, DATA_PREDICT, &mc, &scaler, &d);
    if (rc) return rc;
    int nm = bp_multiclass_models(mc);
    int *cls = malloc((size_t)d.n * sizeof *cls + 1);
    double *conf = malloc((size_t)d.n * sizeof *conf + 1);
    float *outs = raw ? malloc((size_t)d.n * nm * sizeof *outs + 1) : NULL;
    if (!cls || !conf || (raw && !outs)) { rc = cli_failf("out of memory"); goto done; }
    if (bp_multiclass_predict(mc, &scaler, mo->rule, &d, mo->batch, cls, conf, &err)) {
        rc = cli_failf("%s: %s", data_describe(dopt, DATA_PREDICT), err.msg);
        goto done;
    }
    float *col = raw ? malloc((size_t)d.n * sizeof *col + 1) : NULL;
    for (int j = 0; raw && j < nm && !rc; j++) {   /* each model's output */
        if (!col) { rc = cli_failf("out of memory"); break; }
        if (bp_predict(bp_multiclass_model(mc, j), &d, mo->batch, col, &err)) rc = cli_fail(&err);
        for (int i = 0; !rc && i < d.n; i++) outs[(size_t)i * nm + j] = col[i];
    }
    free(col);
    if (rc) goto done;
    const char *const *names = bp_multiclass_class_names(mc);
    if (outpath) {
        bp_atomic_file af;
        if (bp_atomic_open(&af, outpath, &err)) { rc = cli_fail(&err); goto done; }
        write_set_preds(af.fp, mc, cls, conf, outs, d.n, names);
        if (bp_atomic_commit(&af, &err)) rc = cli_fail(&err);
    } else {
        write_set_preds(stdout, mc, cls, conf, outs, d.n, names);
        if (fflush(stdout) || ferror(stdout)) rc = cli_failf("stdout: write error");
    }
done:
    free(cls);
    free(conf);
    free(outs);
    bp_dataset_free(&d);
    bp_scaler_free(&scaler);
    bp_multiclass_free(mc);
    return rc;
}

int cmd_predict(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'}, {"outputs", no_argument, 0, 'O'}, MODEL_OPTIONS,
        {"help", no_argument, 0, 'h'}, DATA_OPTIONS, {0, 0, 0, 0}};
    data_opts dopt;
    data_opts_init(&dopt);
    model_opts mo;
    model_opts_init(&mo);
    int raw = 0, c;
    const char *outpath = NULL;
    optind = 1;
    opterr = 0;   /* bad options are reported in one line by cli_bad_option */
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        int r = data_opt(c, optarg, &dopt);
        if (!r) r = model_opt(c, optarg, &mo);
        if (r < 0) return EXIT_BAD;
        if (r) continue;
        switch (c) {
        case 'o': outpath = strcmp(optarg, "-") ? optarg : NULL; break;
        case 'O': raw = 1; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_bad_option("predict", argv);
        }
    }
    const cli_file files[] = {{"MODEL", optind < argc ? argv[optind] : NULL, 0}, {"--data", dopt.data, 0},
                              {"--labels", dopt.labels, 0}, {"--out", outpath, 1}};
    if (cli_distinct(files, 4)) return EXIT_BAD;
    if (optind == argc - 1 && bp_multiclass_file(argv[optind])) return predict_set(argc, argv, &mo, &dopt, outpath, raw);
    bp_error err;
    bp_net *net;
    bp_scaler scaler;
    bp_dataset d;
    float *out = NULL;
    int rc = model_load("predict", argc, argv, &mo, &dopt, DATA_PREDICT, &net, &scaler, &d);
    if (rc) return rc;
    int k = bp_net_outputs(net), classifier = !dopt.regression && data_net_is_classifier(net), classes = !raw && classifier;
    if (!(out = malloc((size_t)d.n * k * sizeof *out))) { rc = cli_failf("out of memory"); goto done; }
    if (bp_predict(net, &d, mo.batch, out, &err)) {
        rc = cli_failf("%s: %s", data_describe(&dopt, DATA_PREDICT), err.msg);
    } else if (outpath) {
        bp_atomic_file af;
        if (bp_atomic_open(&af, outpath, &err)) { rc = cli_fail(&err); goto done; }
        write_preds(af.fp, out, d.n, k, classes, classifier, d.class_names, d.nclasses);
        if (bp_atomic_commit(&af, &err)) rc = cli_fail(&err);
    } else {
        write_preds(stdout, out, d.n, k, classes, classifier, d.class_names, d.nclasses);
        if (fflush(stdout) || ferror(stdout)) rc = cli_failf("stdout: write error");
    }
done:
    free(out);
    bp_dataset_free(&d);
    bp_scaler_free(&scaler);
    bp_net_free(net);
    return rc;
}
