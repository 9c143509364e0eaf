/* cmd_gradcheck.c - `backprop gradcheck FILE`: finite differences vs backprop. */
#define _GNU_SOURCE
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static const char HELP[] =
    "usage: backprop gradcheck FILE [--eps E] [--tol T] [--x X.csv] [--y Y.csv] [--relu-grad-at-zero 0|1]\n"
    "\n"
    "Check backprop against central finite differences in f64 (the five-point stencil\n"
    "(L(w-2E) - 8L(w-E) + 8L(w+E) - L(w+2E)) / 12E)\n"
    "for every weight, bias and input of the network in FILE over its data. Prints the\n"
    "worst relative error per tensor; exits 1 if any exceeds the tolerance.\n"
    "Entries whose perturbation moves a ReLU across its kink at 0 are skipped and counted.\n"
    "\n"
    "  --eps E     step (default 1e-4)\n"
    "  --tol T     largest accepted relative error (default 1e-5)\n"
    "  --x, --y    CSV files replacing data.x / data.y\n"
    CLI_RELU_AT_ZERO_HELP
    "  -h, --help  this help\n";

static int number(const char *opt, const char *s, double *out)
{
    if (cli_double(s, out) || !(*out > 0)) return cli_failf("%s: expected a positive number, got '%s'", opt, s);
    return 0;
}

int cmd_gradcheck(int argc, char **argv)
{
    static const struct option opts[] = {{"eps", required_argument, 0, 'e'}, {"tol", required_argument, 0, 't'},
                                         {"x", required_argument, 0, 'x'}, {"y", required_argument, 0, 'y'},
                                         {"relu-grad-at-zero", required_argument, 0, 'K'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    double eps = 1e-4, tol = 1e-5;
    const char *xcsv = NULL, *ycsv = NULL;
    bp_kinks kinks = {0, BP_TIE_HALF};
    int c;
    optind = 1;
    opterr = 0;   /* bad options are reported in one line by cli_bad_option */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e': if (number("--eps", optarg, &eps)) return EXIT_BAD; break;
        case 't': if (number("--tol", optarg, &tol)) return EXIT_BAD; break;
        case 'x': xcsv = optarg; break;
        case 'y': ycsv = optarg; break;
        case 'K': if (cli_relu_at_zero(optarg, &kinks)) return EXIT_BAD; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_bad_option("gradcheck", argv);
        }
    }
    if (optind != argc - 1) return cli_failf("gradcheck: expected one model file (see `backprop gradcheck --help`)");
    bp_model *m;
    int rc = cli_load_model(argv[optind], BP_F64, xcsv, ycsv, &m);
    if (rc) return rc;
    bp_net_set_kinks(bp_model_net(m), &kinks);
    bp_error err;
    double worst;
    if (bp_gradcheck(m, eps, stdout, &worst, &err)) rc = cli_failf("%s: %s", argv[optind], err.msg);
    else {
        printf("%s: worst relative error %.3e (tolerance %.1e, eps %.1e)\n", worst <= tol ? "PASS" : "FAIL", worst,
               tol, eps);
        rc = worst <= tol ? 0 : EXIT_WRONG;
    }
    bp_model_free(m);
    return rc;
}
