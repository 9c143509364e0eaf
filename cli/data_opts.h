/* data_opts.h - the dataset options shared by train, eval and predict.
 *
 * A command appends DATA_OPTIONS to its getopt_long table, hands every option
 * code to data_opt() first, prints DATA_OPTIONS_HELP in its --help, and calls
 * data_load() once the options are parsed:
 *
 *     static const struct option opts[] = {..., DATA_OPTIONS, {0, 0, 0, 0}};
 *     data_opts d; data_opts_init(&d);
 *     while ((c = getopt_long(...)) != -1) {
 *         int r = data_opt(c, optarg, &d);
 *         if (r < 0) return EXIT_BAD;
 *         if (r) continue;
 *         switch (c) { ... }
 *     }
 *
 * --data NAME|FILE is one of:
 *   -                    CSV text read from standard input
 *   a file               sniffed: gzip or IDX magic (0x00000803) -> IDX images
 *                        (labels from --labels FILE); anything else -> CSV
 *   a name               a named dataset (bp_dataset_named: "fashion-mnist")
 */
#ifndef BP_DATA_OPTS_H
#define BP_DATA_OPTS_H

#include "backprop.h"
#include <getopt.h>

enum {
    DOPT_DATA = 1000, DOPT_LABELS, DOPT_LABEL_COL, DOPT_HEADER, DOPT_REGRESSION, DOPT_TARGETS,
    DOPT_NO_LABELS, DOPT_TEST, DOPT_SPLIT, DOPT_DELIMITER
};

#define DATA_OPTIONS                                                                                  \
    {"data", required_argument, 0, DOPT_DATA}, {"labels", required_argument, 0, DOPT_LABELS},         \
    {"label-col", required_argument, 0, DOPT_LABEL_COL}, {"header", required_argument, 0, DOPT_HEADER}, \
    {"regression", no_argument, 0, DOPT_REGRESSION}, {"targets", required_argument, 0, DOPT_TARGETS},  \
    {"no-labels", no_argument, 0, DOPT_NO_LABELS}, {"test", no_argument, 0, DOPT_TEST},               \
    {"split", required_argument, 0, DOPT_SPLIT}, {"delimiter", required_argument, 0, DOPT_DELIMITER}

#define DATA_OPTIONS_HELP                                                                             \
    "data:\n"                                                                                         \
    "  --data NAME|FILE    a dataset name (fashion-mnist), a CSV file (- for standard input), or an\n" \
    "                      IDX images file (...-idx3-ubyte, optionally .gz; recognised by its magic)\n" \
    "  --labels FILE       the IDX labels file (...-idx1-ubyte[.gz]) that goes with IDX images\n"     \
    "  --label-col N|NAME  CSV: the (first) target column, by its header name or by position\n"     \
    "                      counting from 1 (as the fields of messages do); negative counts from\n"   \
    "                      the end, -1 the last (default: the last column, or the last K with\n"     \
    "                      --targets K)\n"                                                           \
    "  --header yes|no|auto  CSV: whether the first row is a header (default auto: it is if a\n"      \
    "                      field of it that must be a number is not)\n"                             \
    "  --delimiter D       CSV: the field separator: ',', ';' or tab (default: detected from the\n"  \
    "                      first rows); fields may be quoted as RFC 4180 says (\"a, b\")\n"          \
    "  --regression        CSV: the targets are numbers to predict, not class labels (integers\n"    \
    "                      0..K-1, or names such as setosa: the classes are then the sorted names)\n" \
    "  --targets K         CSV with --regression: K target columns from --label-col (default 1)\n"    \
    "  --no-labels         CSV: every column is a feature (no targets)\n"                             \
    "  --split train|test  named datasets: which split (--test = --split test)\n"

/* What the data is loaded for; decides defaults (see data_load). */
typedef enum data_purpose { DATA_TRAIN = 0, DATA_EVAL, DATA_PREDICT } data_purpose;

typedef struct data_opts {
    const char *data, *labels;
    int label_col, label_col_set;
    const char *label_name;  /* --label-col NAME, or NULL */
    char delim;              /* --delimiter, 0 detect */
    bp_csv_header header;
    int regression, targets, no_labels;
    int split;            /* -1 unset (default per purpose), 0 train, 1 test */
    int shard_index, shard_count;   /* train --shard: keep rows i % count == index (count <= 1: all) */
} data_opts;

void data_opts_init(data_opts *o);
/* Handle option code c: 1 if consumed, 0 if not a data option, -1 on a bad
 * value (the error is printed). */
int data_opt(int c, const char *optarg, data_opts *o);

/* Is `net` a classifier?  Yes if its loss is cross_entropy, bce or zero_one
 * or its output activation is softmax, sigmoid or step; otherwise (a linear,
 * tanh or relu output with a squared loss) it is a regression net. */
int data_net_is_classifier(const bp_net *net);

/* Load the data of the options into `d` (zeroed on failure); print the error
 * and return EXIT_BAD on failure, 0 on success.
 *  - DATA_TRAIN: net is NULL; classes unless --regression; a named dataset
 *    gives its training split unless --split test.
 *  - DATA_EVAL: net and scaler from the model file: targets are needed;
 *    classes iff data_net_is_classifier(net) and not --regression (with the
 *    net's class count, so a label the net cannot output is an error);
 *    named datasets default to the test split.
 *    With a model that has class names, CSV labels are those names (or
 *    class indices); labels that are names need a model that has them.
 *  - DATA_PREDICT: only features are used: a CSV is read as features, and
 *    when it has the net's inputs plus the target columns (--label-col,
 *    --targets) those are left out, whatever they hold; --no-labels insists
 *    on features only.
 *    Named datasets default to the test split.
 * With a net, the feature count must match its inputs; a scaler with
 * features > 0 (the model's) is then applied, whatever the data source. */
int data_load(const data_opts *o, data_purpose purpose, const bp_net *net, const bp_scaler *scaler,
              bp_dataset *d);

/* A short description of the loaded data for reports: "FILE", "stdin",
 * "fashion-mnist (test split)". */
const char *data_describe(const data_opts *o, data_purpose purpose);

/* Is --data a CSV (a file that is not IDX, or standard input)? */
int data_is_csv(const data_opts *o);

#endif
