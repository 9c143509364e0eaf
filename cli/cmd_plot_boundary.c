/* cmd_plot_boundary.c - `backprop plot-boundary MODEL --data FILE.csv`: the
 * decision regions of a classifier of two inputs as an SVG picture. */
#define _GNU_SOURCE
#include "cli.h"
#include "data_opts.h"
#include "model_opts.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
    "usage: backprop plot-boundary MODEL --data FILE.csv [--out regions.svg] [options]\n"
    "\n"
    "The decision regions of a classifier of two inputs (a network of any depth, JSON or\n"
    "safetensors, or a one-vs-rest / one-vs-one model set) as an SVG picture: the plane\n"
    "around the samples coloured by the class the model predicts, the samples as dots in\n"
    "their true class's colour (a dark ring on the misclassified), and for a model without\n"
    "hidden layers its boundary lines with their unit normals, pointing to the side where\n"
    "g > 0: one output unit, the line g = 0; k outputs (softmax regression), the pieces of\n"
    "the pairwise lines g_i = g_j between neighbouring regions; a model set, every model's\n"
    "line, dashed. One unit of x1 is as long as one unit of x2, so normals look normal. The\n"
    "axes are the features as the data gives them (a model that standardises its inputs\n"
    "does so itself). The legend names the classes and gives the accuracy on the data.\n"
    "\n"
    "  --out FILE.svg      where to write the picture (default regions.svg; atomically)\n"
    "  --ovr-rule R        a one-vs-rest set: score (default) or distance (see `eval`)\n"
    "  -h, --help          this help\n"
    "\n" DATA_OPTIONS_HELP
    "  (the data's class labels colour the dots; with --no-labels they are grey)\n"
    "\n"
    "Example: backprop plot-boundary softmax.json --data points.csv --out regions.svg\n"
    "Exit status: 0 success, 2 bad input (not two inputs, a bad file).\n";

int cmd_plot_boundary(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'}, {"ovr-rule", required_argument, 0, 'R'}, {"help", no_argument, 0, 'h'},
        DATA_OPTIONS, {0, 0, 0, 0}};
    data_opts dopt;
    data_opts_init(&dopt);
    model_opts mo;
    model_opts_init(&mo);
    const char *out = "regions.svg";
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        int r = data_opt(c, optarg, &dopt);
        if (!r && c == 'R') r = model_opt(c, optarg, &mo);
        if (r < 0) return EXIT_BAD;
        if (r) continue;
        switch (c) {
        case 'o': out = optarg; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_bad_option("plot-boundary", argv);
        }
    }
    if (optind != argc - 1) return cli_failf("plot-boundary: expected one model file (see `backprop plot-boundary --help`)");
    if (!dopt.data) return cli_failf("plot-boundary: no data: give --data FILE.csv (the samples to draw)");
    const char *path = argv[optind];
    const cli_file files[] = {{"MODEL", path, 0}, {"--data", dopt.data, 0}, {"--out", out, 1}};
    if (cli_distinct(files, 3)) return EXIT_BAD;
    bp_error err;
    bp_model *m = NULL;
    bp_multiclass *mc = NULL;
    bp_net *stand_in = NULL;
    bp_scaler sc = {0};
    bp_dataset d = {0};
    int rc = 0;
    if (bp_multiclass_file(path)) {
        if (bp_multiclass_load(path, BP_F64, &mc, &sc, &err)) rc = cli_fail(&err);
        else if (!(stand_in = model_set_stand_in(mc))) rc = EXIT_BAD;
    } else if (bp_model_read(path, BP_F64, &m, &err)) {
        rc = cli_fail(&err);
    }
    bp_net *net = m ? bp_model_net(m) : stand_in;
    /* the samples as the data gives them: the picture's axes (the model scales them itself) */
    if (!rc) rc = data_load(&dopt, dopt.no_labels ? DATA_PREDICT : DATA_EVAL, net, NULL, &d);
    char title[512];
    const char *mb = strrchr(path, '/'), *db = strrchr(dopt.data, '/');
    snprintf(title, sizeof title, "%s: decision regions on %s", mb ? mb + 1 : path, db ? db + 1 : dopt.data);
    if (!rc && bp_plot_regions_svg(m ? net : NULL, mc, m ? bp_model_scaler(m) : &sc, mo.rule, &d, title, out, &err))
        rc = cli_fail(&err);
    bp_dataset_free(&d);
    bp_scaler_free(&sc);
    bp_net_free(stand_in);
    bp_multiclass_free(mc);
    bp_model_free(m);
    return rc;
}
