/* cmd_eval.c - `backprop eval MODEL --data ...`: loss and metrics of a saved
 * network on a dataset. */
#define _GNU_SOURCE
#include "cli.h"
#include "data_opts.h"
#include "model_opts.h"
#include "core/numfmt.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_eval(int argc, char **argv);

static const char HELP[] =
    "usage: backprop eval MODEL --data NAME|FILE [options]\n"
    "\n"
    "The loss and metrics of a saved network on a dataset.  For a classifier: accuracy,\n"
    "the 0-1 loss beside it (the misclassified samples: their number, and its mean),\n"
    "accuracy per class and the confusion matrix (rows: true class, columns: predicted\n"
    "class; the predicted class is the output with the largest value, or for a single\n"
    "output unit class 1 iff the output is >= 0.5).  For regression: the mean squared\n"
    "and the mean absolute error over samples and outputs.  The loss is the model's own,\n"
    "reduced over the whole set like its reduction (mean: per sample; sum: the total).\n"
    "\n"
    "The model is a classifier if its loss is cross_entropy, bce or zero_one or its output\n"
    "is softmax, sigmoid or step; then the CSV targets are class labels 0..K-1 and K is the\n"
    "model's number of outputs (2 for a single output).  Otherwise the CSV has as many\n"
    "target columns as the model has outputs: the last ones, or from --label-col.  The model\n"
    "(JSON or safetensors) scales the features as its training data was scaled (pixels / 255,\n"
    "the standardisation of CSV features), from the data as given; a warning says when they\n"
    "then lie far from the training range.  A named dataset gives its test split unless\n"
    "--split train.\n"
    "\n"
    "  --json              print one JSON object: {\"model\", \"data\", \"n\", \"loss\", and\n"
    "                      \"accuracy\", \"zero_one\", \"zero_one_mean\", \"class_accuracy\",\n"
    "                      \"class_names\", \"confusion\" (classifiers) or \"mse\", \"mae\"\n"
    "                      (regression)}; NaN is null\n"
    MODEL_OPTIONS_HELP
    "  -h, --help          this help\n"
    "\n" DATA_OPTIONS_HELP
    "  (--no-labels does not apply: eval needs targets)\n"
    "\n"
    "Exit status: 0 on success, 2 on bad input (the message names the file).\n";

static void print_json(const char *model, const char *data, const bp_metrics *m, const bp_dataset *d,
                       const char *scheme, const char *rule)
{
    int k = m->nclasses;
    printf("{\"model\": ");
    bp_json_str(stdout, model);
    if (scheme) printf(", \"multiclass\": \"%s\", \"rule\": \"%s\"", scheme, rule);
    printf(", \"data\": ");
    bp_json_str(stdout, data);
    printf(", \"n\": %d, \"loss\": ", m->n);
    bp_json_num(stdout, m->loss);
    if (k) {
        long correct = 0;
        for (int c = 0; c < k; c++) correct += m->confusion[(size_t)c * k + c];
        printf(", \"accuracy\": ");
        bp_json_num(stdout, m->accuracy);
        printf(", \"zero_one\": %ld, \"zero_one_mean\": ", m->n - correct);
        bp_json_num(stdout, (double)(m->n - correct) / m->n);
        printf(", \"class_accuracy\": [");
        for (int c = 0; c < k; c++) {
            if (c) printf(", ");
            bp_json_num(stdout, m->class_acc[c]);
        }
        printf("], \"class_names\": ");
        if (d->class_names) {
            printf("[");
            for (int c = 0; c < k; c++) {
                if (c) printf(", ");
                if (c < d->nclasses) bp_json_str(stdout, d->class_names[c]);
                else printf("null");
            }
            printf("]");
        } else {
            printf("null");
        }
        printf(", \"confusion\": [");
        for (int t = 0; t < k; t++) {
            printf("%s[", t ? ", " : "");
            for (int p = 0; p < k; p++) printf("%s%ld", p ? ", " : "", m->confusion[(size_t)t * k + p]);
            printf("]");
        }
        printf("]");
    } else {
        printf(", \"mse\": ");
        bp_json_num(stdout, m->mse);
        printf(", \"mae\": ");
        bp_json_num(stdout, m->mae);
    }
    printf("}\n");
}

static void print_classes(const bp_metrics *m, const bp_dataset *d);

static void print_text(const char *model, const char *data, const bp_metrics *m, const bp_dataset *d,
                       const bp_net *net)
{
    const bp_net_spec *s = bp_net_get_spec(net);
    int k = m->nclasses;
    int k_out = bp_net_outputs(net);
    printf("model     %s (%d input%s, %d output%s)\n", model, s->inputs, s->inputs == 1 ? "" : "s", k_out,
           k_out == 1 ? "" : "s");
    printf("data      %s (%d sample%s)\n", data, m->n, m->n == 1 ? "" : "s");
    char b1[BP_NUM_MAX], b2[BP_NUM_MAX];
    if (isnan(m->loss)) printf("loss      none (the model has no loss)\n");
    else printf("loss      %s (%s, %s)\n", bp_num_short(b1, m->loss, 6), bp_loss_name(s->loss),
                s->reduction == BP_MEAN ? "mean per sample" : "sum over samples");
    if (!k) {
        printf("mse       %s\nmae       %s\n", bp_num_short(b1, m->mse, 6), bp_num_short(b2, m->mae, 6));
        return;
    }
    print_classes(m, d);
}

/* Accuracy, per-class accuracy and the confusion matrix. */
static void print_classes(const bp_metrics *m, const bp_dataset *d)
{
    int k = m->nclasses;
    long correct = 0;
    for (int c = 0; c < k; c++) correct += m->confusion[(size_t)c * k + c];
    printf("accuracy  %.4f (%ld/%d)\n", m->accuracy, correct, m->n);
    char b1[BP_NUM_MAX];
    printf("0-1 loss  %ld misclassified (sum), %s (mean)\n\nper-class accuracy\n", m->n - correct,
           bp_num_short(b1, (double)(m->n - correct) / m->n, 6));
    int w = 5;   /* width of the name column */
    for (int c = 0; d->class_names && c < k && c < d->nclasses; c++) {
        int len = (int)strlen(d->class_names[c]);
        if (len > w) w = len;
    }
    for (int c = 0; c < k; c++) {
        long row = 0;
        for (int p = 0; p < k; p++) row += m->confusion[(size_t)c * k + p];
        const char *name = d->class_names && c < d->nclasses ? d->class_names[c] : "";
        printf("  %4d  %-*s  ", c, d->class_names ? w : 0, name);
        if (row) printf("%.4f  (%ld/%ld)\n", m->class_acc[c], m->confusion[(size_t)c * k + c], row);
        else printf("     -  (no samples)\n");
    }
    /* column width: the widest count, at least 4 */
    long big = 0;
    for (size_t i = 0; i < (size_t)k * k; i++)
        if (m->confusion[i] > big) big = m->confusion[i];
    int cw = snprintf(NULL, 0, "%ld", big);
    if (cw < 4) cw = 4;
    printf("\nconfusion matrix (rows: true class, columns: predicted class)\n      ");
    for (int p = 0; p < k; p++) printf(" %*d", cw, p);
    printf("\n");
    for (int t = 0; t < k; t++) {
        printf("  %4d", t);
        for (int p = 0; p < k; p++) printf(" %*ld", cw, m->confusion[(size_t)t * k + p]);
        printf("\n");
    }
}

void model_opts_init(model_opts *o)
{
    o->dtype = BP_F32;
    o->batch = 256;
    o->rule = BP_OVR_SCORE;
}

int model_opt(int c, const char *optarg, model_opts *o)
{
    switch (c) {
    case 't':
        if (cli_dtype(optarg, &o->dtype)) {
            cli_failf("--dtype: expected f32 or f64, got '%s'", optarg);
            return -1;
        }
        return 1;
    case 'b': {
        long v;
        if (cli_long(optarg, 1, 1 << 24, &v)) {
            cli_failf("--batch: expected an integer >= 1, got '%s'", optarg);
            return -1;
        }
        o->batch = (int)v;
        return 1;
    }
    case 'R':
        if (!strcmp(optarg, "score")) o->rule = BP_OVR_SCORE;
        else if (!strcmp(optarg, "distance")) o->rule = BP_OVR_DISTANCE;
        else {
            cli_failf("--ovr-rule: expected score or distance, got '%s'", optarg);
            return -1;
        }
        return 1;
    default: return 0;
    }
}

int model_load(const char *cmd, int argc, char **argv, const model_opts *o, const data_opts *dopt,
               data_purpose purpose, bp_net **net, bp_scaler *scaler, bp_dataset *d)
{
    bp_error err;
    *net = NULL;
    memset(scaler, 0, sizeof *scaler);
    memset(d, 0, sizeof *d);
    if (optind != argc - 1) return cli_failf("%s: expected one model file (see `backprop %s --help`)", cmd, cmd);
    bp_model *m = NULL;   /* a JSON or a safetensors model: its network and scaler are copied out */
    if (bp_model_read(argv[optind], o->dtype, &m, &err)) return cli_fail(&err);
    const bp_scaler *ms = bp_model_scaler(m);
    if (bp_net_clone(bp_model_net(m), o->dtype, net, &err)) { bp_model_free(m); return cli_fail(&err); }
    if (ms) {
        *scaler = *ms;
        scaler->mean = scaler->std = NULL;
        if (ms->mean) {
            size_t nb = (size_t)ms->features * sizeof(float);
            if (!(scaler->mean = malloc(nb)) || !(scaler->std = malloc(nb))) {
                bp_scaler_free(scaler);
                bp_model_free(m);
                bp_net_free(*net);
                *net = NULL;
                return cli_failf("out of memory");
            }
            memcpy(scaler->mean, ms->mean, nb);
            memcpy(scaler->std, ms->std, nb);
        }
    }
    bp_model_free(m);
    int rc = data_load(dopt, purpose, *net, scaler, d);
    if (!rc && bp_net_class_names(*net)) {   /* the model's names are the classes' (the data may have none) */
        d->class_names = bp_net_class_names(*net);
        if (!d->nclasses) d->nclasses = bp_net_classes(*net);
    }
    if (rc) {
        bp_scaler_free(scaler);
        bp_net_free(*net);
        *net = NULL;
    }
    return rc;
}

bp_net *model_set_stand_in(bp_multiclass *mc)
{
    int k = bp_multiclass_classes(mc);
    bp_net_spec s;
    memset(&s, 0, sizeof s);
    s.inputs = bp_net_get_spec(bp_multiclass_model(mc, 0))->inputs;
    s.nlayers = 1;
    s.layers[0] = (bp_layer_spec){k, BP_ACT_SOFTMAX, 1, 0};
    s.loss = BP_LOSS_CE;
    bp_net *stand_in = NULL;
    bp_error err;
    if (bp_net_new(&s, BP_F32, &stand_in, &err) ||
        bp_net_set_class_names(stand_in, bp_multiclass_class_names(mc), bp_multiclass_class_names(mc) ? k : 0, &err)) {
        bp_net_free(stand_in);
        cli_fail(&err);
        return NULL;
    }
    return stand_in;
}

int model_set_load(const char *cmd, int argc, char **argv, const model_opts *o, const data_opts *dopt,
                   data_purpose purpose, bp_multiclass **mc, bp_scaler *scaler, bp_dataset *d)
{
    bp_error err;
    *mc = NULL;
    memset(d, 0, sizeof *d);
    if (optind != argc - 1) return cli_failf("%s: expected one model file (see `backprop %s --help`)", cmd, cmd);
    if (bp_multiclass_load(argv[optind], o->dtype, mc, scaler, &err)) return cli_fail(&err);
    int k = bp_multiclass_classes(*mc), rc = 0;
    bp_net *stand_in = model_set_stand_in(*mc);
    if (!stand_in) rc = EXIT_BAD;
    if (!rc) rc = data_load(dopt, purpose, stand_in, scaler, d);
    if (!rc && bp_multiclass_class_names(*mc)) {
        d->class_names = bp_multiclass_class_names(*mc);
        if (!d->nclasses) d->nclasses = k;
    }
    bp_net_free(stand_in);
    if (rc) {
        bp_multiclass_free(*mc);
        *mc = NULL;
        bp_scaler_free(scaler);
    }
    return rc;
}

/* eval of a model set: its combined classifier's metrics. */
static int eval_set(int argc, char **argv, const model_opts *mo, const data_opts *dopt, int json)
{
    bp_multiclass *mc;
    bp_scaler scaler;
    bp_dataset d;
    int rc = model_set_load("eval", argc, argv, mo, dopt, DATA_EVAL, &mc, &scaler, &d);
    if (rc) return rc;
    const char *path = argv[optind], *desc = data_describe(dopt, DATA_EVAL);
    bp_error err;
    bp_metrics m = {0};
    int ovr = bp_multiclass_get_scheme(mc) == BP_OVR;
    const char *rule = !ovr ? "vote" : mo->rule == BP_OVR_DISTANCE ? "distance" : "score";
    if (bp_multiclass_evaluate(mc, &scaler, mo->rule, &d, mo->batch, &m, &err)) {
        rc = cli_failf("%s: %s", desc, err.msg);
    } else if (json) {
        print_json(path, desc, &m, &d, bp_multiclass_scheme_name(bp_multiclass_get_scheme(mc)), rule);
    } else {
        int in = bp_net_get_spec(bp_multiclass_model(mc, 0))->inputs;
        printf("model     %s (%s: %d binary networks of %d input%s, %d classes)\n", path,
               ovr ? "one-vs-rest" : "one-vs-one", bp_multiclass_models(mc), in, in == 1 ? "" : "s",
               bp_multiclass_classes(mc));
        printf("data      %s (%d sample%s)\n", desc, m.n, m.n == 1 ? "" : "s");
        printf("rule      %s\n", !ovr ? "the majority vote of the pairs (ties: the larger summed confidence)"
                                 : mo->rule == BP_OVR_DISTANCE ? "the largest signed distance g(x)/|theta|"
                                                               : "the largest score");
        print_classes(&m, &d);
    }
    if (!rc && (fflush(stdout) || ferror(stdout))) rc = cli_failf("stdout: write error");
    bp_metrics_free(&m);
    bp_dataset_free(&d);
    bp_scaler_free(&scaler);
    bp_multiclass_free(mc);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, 0, 'j'}, MODEL_OPTIONS,
        {"help", no_argument, 0, 'h'}, DATA_OPTIONS, {0, 0, 0, 0}};
    data_opts dopt;
    data_opts_init(&dopt);
    model_opts mo;
    model_opts_init(&mo);
    int json = 0, c;
    optind = 1;
    opterr = 0;   /* bad options are reported in one line by cli_bad_option */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = data_opt(c, optarg, &dopt);
        if (!r) r = model_opt(c, optarg, &mo);
        if (r < 0) return EXIT_BAD;
        if (r) continue;
        switch (c) {
        case 'j': json = 1; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_bad_option("eval", argv);
        }
    }
    if (optind == argc - 1 && bp_multiclass_file(argv[optind])) return eval_set(argc, argv, &mo, &dopt, json);
    bp_net *net;
    bp_scaler scaler;
    bp_dataset d;
    int rc = model_load("eval", argc, argv, &mo, &dopt, DATA_EVAL, &net, &scaler, &d);
    if (rc) return rc;
    const char *path = argv[optind];
    bp_error err;
    bp_metrics m = {0};
    const char *desc = data_describe(&dopt, DATA_EVAL);
    if (bp_evaluate(net, &d, mo.batch, &m, &err)) rc = cli_failf("%s: %s", desc, err.msg);
    else if (json) print_json(path, desc, &m, &d, NULL, NULL);
    else print_text(path, desc, &m, &d, net);
    if (!rc && (fflush(stdout) || ferror(stdout))) rc = cli_failf("stdout: write error");
    bp_metrics_free(&m);
    bp_dataset_free(&d);
    bp_scaler_free(&scaler);
    bp_net_free(net);
    return rc;
}
