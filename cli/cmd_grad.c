/* cmd_grad.c - `backprop grad FILE`: one forward and backward pass. */
#define _GNU_SOURCE
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static const char HELP[] =
    "usage: backprop grad FILE [--json] [--compare MINE.json] [--dtype f64|f32] [--x X.csv] [--y Y.csv]\n"
    "                          [--relu-grad-at-zero 0|1]\n"
    "\n"
    "One forward and backward pass of the network in the model file FILE over its data:\n"
    "the loss, each layer's z, a, dL/da, dL/dz, dL/dW, dL/db, and dL/dx.\n"
    "\n"
    "  --json              print exactly one JSON object:\n"
    "                      {\"loss\", \"output\", \"layers\": [{\"z\", \"a\", \"dL_da\", \"dL_dz\",\n"
    "                      \"dL_dW\", \"dL_db\"}], \"dL_dx\"}; a non-finite value is null\n"
    "  --compare MINE.json check your own values (any subset of the --json fields) against the\n"
    "                      true ones; says which are wrong, the first step to re-derive, the first\n"
    "                      8 differing entries of each (and how many more differ) and the likely\n"
    "                      slip: a sign, a factor m, 1/m, 2 or 1/2, a transposed matrix, g'(z) left\n"
    "                      out (dL/dz given as dL/da, or dL/dW, dL/db made from dL/da), the\n"
    "                      softmax derivative taken as diagonal.\n"
    "                      Exit status 0 if all given values are right, 1 if any is wrong, 2 on bad input\n"
    "  --rtol R            relative tolerance for --compare (default 1e-4, as for hand work)\n"
    "  --dtype T           f64 (default) or f32\n"
    "  --x FILE.csv        inputs, one sample per row (replaces data.x)\n"
    "  --y FILE.csv        targets, one sample per row (replaces data.y)\n"
    CLI_RELU_AT_ZERO_HELP
    "  -h, --help          this help\n";

int cmd_grad(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, 0, 'j'}, {"compare", required_argument, 0, 'c'}, {"dtype", required_argument, 0, 't'},
        {"x", required_argument, 0, 'x'}, {"y", required_argument, 0, 'y'}, {"rtol", required_argument, 0, 'r'},
        {"relu-grad-at-zero", required_argument, 0, 'K'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int json = 0, c;
    const char *compare = NULL, *xcsv = NULL, *ycsv = NULL;
    double rtol = 1e-4;
    bp_dtype dtype = BP_F64;
    bp_kinks kinks = {0, BP_TIE_HALF};
    optind = 1;
    opterr = 0;   /* bad options are reported in one line by cli_bad_option */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'c': compare = optarg; break;
        case 'x': xcsv = optarg; break;
        case 'y': ycsv = optarg; break;
        case 'r':
            if (cli_double(optarg, &rtol) || !(rtol > 0)) return cli_failf("--rtol: expected a positive number, got '%s'", optarg);
            break;
        case 't':
            if (cli_dtype(optarg, &dtype)) return cli_failf("--dtype: expected f64 or f32, got '%s'", optarg);
            break;
        case 'K': if (cli_relu_at_zero(optarg, &kinks)) return EXIT_BAD; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_bad_option("grad", argv);
        }
    }
    if (optind != argc - 1) return cli_failf("grad: expected one model file (see `backprop grad --help`)");
    const char *path = argv[optind];
    bp_model *m;
    int rc = cli_load_model(path, dtype, xcsv, ycsv, &m);
    if (rc) return rc;
    bp_net_set_kinks(bp_model_net(m), &kinks);
    bp_error err;
    double loss;
    if (bp_model_pass(m, &loss, &err)) {
        rc = cli_failf("%s: %s", path, err.msg);
    } else if (compare) {
        /* rendered in memory first: on bad input nothing reaches stdout */
        int right = 0;
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        if (!mem) rc = cli_failf("out of memory");
        else {
            bp_status st = bp_compare(m, loss, compare, rtol, mem, &right, &err);
            fclose(mem);
            if (st) rc = cli_fail(&err);
            else {
                fwrite(buf, 1, len, stdout);
                rc = right ? 0 : EXIT_WRONG;
            }
            free(buf);
        }
    } else if ((json ? bp_write_grad_json : bp_write_grad_text)(m, loss, stdout, &err)) {
        rc = cli_fail(&err);
    }
    bp_model_free(m);
    return rc;
}
