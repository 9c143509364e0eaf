/* model_opts.h - what eval and predict share: the --dtype and --batch options
 * and loading the model file (the one operand) and the data for it.
 *
 *     static const struct option opts[] = {..., MODEL_OPTIONS, ..., DATA_OPTIONS, {0, 0, 0, 0}};
 *     model_opts mo; model_opts_init(&mo);
 *     while ((c = getopt_long(...)) != -1) {
 *         int r = data_opt(c, optarg, &dopt);
 *         if (!r) r = model_opt(c, optarg, &mo);
 *         if (r < 0) return EXIT_BAD;
 *         if (r) continue;
 *         switch (c) { ... }
 *     }
 *     int rc = model_load("eval", argc, argv, &mo, &dopt, DATA_EVAL, &net, &scaler, &d);
 *
 * The code is in cmd_eval.c. */
#ifndef BP_MODEL_OPTS_H
#define BP_MODEL_OPTS_H

#include "data_opts.h"

#define MODEL_OPTIONS {"dtype", required_argument, 0, 't'}, {"batch", required_argument, 0, 'b'}, \
    {"ovr-rule", required_argument, 0, 'R'}

#define MODEL_OPTIONS_HELP                                                                            \
    "  --dtype T           compute in f32 (default) or f64\n"                                         \
    "  --batch N           samples per forward pass (default 256)\n"                                  \
    "  --ovr-rule R        a one-vs-rest model set: the class with the largest score (default),\n"   \
    "                      or with the largest signed distance g(x)/|theta| from its model's\n"     \
    "                      boundary (distance; models without hidden layers)\n"

typedef struct model_opts {
    bp_dtype dtype;   /* --dtype, default BP_F32 */
    int batch;        /* --batch, default 256 */
    bp_ovr_rule rule; /* --ovr-rule, default score */
} model_opts;

void model_opts_init(model_opts *o);
/* Handle option code c: 1 if consumed, 0 if not a model option, -1 on a bad
 * value (the error is printed). */
int model_opt(int c, const char *optarg, model_opts *o);

/* After getopt_long: argv[optind] must be the only operand, the model file of
 * command `cmd`.  Load it in o->dtype (with its scaler) into *net and *scaler,
 * then the data of `dopt` for `purpose` into *d.  0 on success; otherwise the
 * error is printed, nothing is left to free (*net NULL, *scaler and *d empty)
 * and EXIT_BAD is returned. */
int model_load(const char *cmd, int argc, char **argv, const model_opts *o, const data_opts *dopt,
               data_purpose purpose, bp_net **net, bp_scaler *scaler, bp_dataset *d);
/* The data of a model set is read as for a classifier of its k classes: a
 * stand-in network of one softmax layer of k units with its class names (NULL
 * and the error printed on failure). */
bp_net *model_set_stand_in(bp_multiclass *mc);
/* The same for a one-vs-rest / one-vs-one model set (bp_multiclass_file): the
 * set into *mc; the data read as for a classifier of its k classes. */
int model_set_load(const char *cmd, int argc, char **argv, const model_opts *o, const data_opts *dopt,
                   data_purpose purpose, bp_multiclass **mc, bp_scaler *scaler, bp_dataset *d);

#endif
