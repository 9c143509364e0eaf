/* cmd_explain.c - `backprop explain FILE`: the forward and backward pass
 * written out step by step, as text, Markdown or a LaTeX document. */
#define _GNU_SOURCE
#include "cli.h"
#include "core/file.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
    "usage: backprop explain FILE [--format text|markdown|latex] [--sample I] [--lr ETA]\n"
    "                             [--dtype f64|f32] [--x X.csv] [--y Y.csv] [--relu-grad-at-zero 0|1]\n"
    "\n"
    "Write out one forward and backward pass of the network in the model file FILE over its\n"
    "data, step by step, in the notation of the course notes \"Back Propagation\":\n"
    "\n"
    "  forward   a^[0] = x;  z^[l] = a^[l-1] W^[l] + b^[l]  (weight_layout in_out), or\n"
    "            z^[l] = W^[l] a^[l-1] + b^[l] per sample, i.e. a^[l-1] (W^[l])^T + b^[l] with the\n"
    "            samples as rows (out_in);  a^[l] = g(z^[l]);  the loss per sample and reduced\n"
    "  backward  g^[la] = dL/da^[l], g^[lz] = g^[la] (Hadamard) g'(z^[l]) with g' written out\n"
    "            (sigmoid a(1-a), tanh 1-a^2, relu 1[z>0], linear 1, softmax its full Jacobian),\n"
    "            the short derivation of dL/dz = yhat - y where softmax meets cross-entropy or\n"
    "            sigmoid meets binary cross-entropy, the 1/m of a mean, g^[lW], g^[lb] and\n"
    "            g^[l-1,a], down to dL/dx\n"
    "\n"
    "Each step shows its formula, the shapes (rows x columns; the samples are the rows) and\n"
    "every number (8 significant digits).\n"
    "\n"
    "  --format F      text (default): for a terminal (UTF-8 symbols: ⊙ Σ ŷ σ ∂)\n"
    "                  markdown: GitHub-style, math in $...$ and $$...$$, matrices as bmatrix\n"
    "                  latex: a complete document; compile it with `pdflatex`\n"
    "  --sample I      explain sample I alone (counting from 1): the network evaluated on that\n"
    "                  one row of the data, so m = 1 (a mean divides by 1)\n"
    "  --lr ETA        append the update: one gradient-descent step with learning rate ETA on the\n"
    "                  same data, W^[l] <- W^[l] - ETA g^[lW] and b^[l] <- b^[l] - ETA g^[lb] for every\n"
    "                  layer with every number, and the loss after it (the file is not changed;\n"
    "                  `backprop step` takes more steps, with other optimizers)\n"
    "  --dtype T       f64 (default) or f32\n"
    "  --x FILE.csv    inputs, one sample per row (replaces data.x)\n"
    "  --y FILE.csv    targets, one sample per row (replaces data.y)\n"
    "  --out FILE      write the derivation to FILE (atomically) instead of standard output\n"
    "  --relu-grad-at-zero V  relu'(0), where ReLU has no derivative: 0 (default, as PyTorch)\n"
    "                  or 1 (the z >= 0 of the course notes \"HW Backprop\"); the derivation\n"
    "                  says which it used whenever some z of a ReLU layer is exactly 0\n"
    "  -h, --help      this help\n"
    "\n"
    "Exit status: 0 success, 2 bad input (one line \"backprop: FILE: problem\" on stderr,\n"
    "nothing on stdout).\n"
    "\n"
    "examples:\n"
    "  backprop explain examples/q12.json\n"
    "  backprop explain net.json --sample 2 --format markdown > step.md\n"
    "  backprop explain examples/q12.json --lr 0.01\n"
    "  backprop explain net.json --format latex --out bp.tex && pdflatex bp.tex\n";

int cmd_explain(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, 0, 'f'}, {"sample", required_argument, 0, 's'},
        {"dtype", required_argument, 0, 't'},  {"x", required_argument, 0, 'x'},
        {"y", required_argument, 0, 'y'},      {"help", no_argument, 0, 'h'},
        {"out", required_argument, 0, 'o'},    {"lr", required_argument, 0, 'l'},
        {"relu-grad-at-zero", required_argument, 0, 'K'}, {0, 0, 0, 0}};
    const char *xcsv = NULL, *ycsv = NULL, *outpath = NULL;
    bp_format fmt = BP_FMT_TEXT;
    bp_dtype dtype = BP_F64;
    bp_kinks kinks = {0, BP_TIE_HALF};
    long sample = 0;   /* 1-based; 0 = the whole batch */
    double lr = 0;     /* > 0: the update section */
    int c;
    optind = 1;
    opterr = 0;   /* bad options are reported in one line by cli_bad_option */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (cli_format(optarg, &fmt)) return cli_failf("--format: expected text, markdown or latex, got '%s'", optarg);
            break;
        case 's': {
            if (cli_long(optarg, 1, 1000000000, &sample))
                return cli_failf("--sample: expected a sample number counting from 1, got '%s'", optarg);
            break;
        }
        case 't':
            if (cli_dtype(optarg, &dtype)) return cli_failf("--dtype: expected f64 or f32, got '%s'", optarg);
            break;
        case 'x': xcsv = optarg; break;
        case 'y': ycsv = optarg; break;
        case 'o': outpath = strcmp(optarg, "-") ? optarg : NULL; break;
        case 'l':
            if (cli_double(optarg, &lr) || !(lr > 0)) return cli_failf("--lr: expected a positive number, got '%s'", optarg);
            break;
        case 'K': if (cli_relu_at_zero(optarg, &kinks)) return EXIT_BAD; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_bad_option("explain", argv);
        }
    }
    if (optind != argc - 1) return cli_failf("explain: expected one model file (see `backprop explain --help`)");
    const char *path = argv[optind];
    const cli_file files[] = {{"FILE", path, 0}, {"--x", xcsv, 0}, {"--y", ycsv, 0}, {"--out", outpath, 1}};
    if (cli_distinct(files, 4)) return EXIT_BAD;
    bp_model *m;
    int rc = cli_load_model(path, dtype, xcsv, ycsv, &m);
    if (rc) return rc;
    bp_net_set_kinks(bp_model_net(m), &kinks);
    bp_mat x;
    if (sample && bp_model_data(m, &x, NULL) && sample > x.rows) {
        rc = cli_failf("%s: --sample %ld: the data has %d sample%s (1 to %d)", path, sample, x.rows,
                       x.rows == 1 ? "" : "s", x.rows);
        bp_model_free(m);
        return rc;
    }
    /* Render into memory first so that a failure leaves stdout empty. */
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    bp_error err;
    if (!mem) {
        rc = cli_failf("out of memory");
    } else {
        bp_status st = lr > 0 ? bp_explain_update(m, fmt, (int)sample - 1, lr, mem, &err)
                              : bp_explain(m, fmt, (int)sample - 1, mem, &err);
        if (fclose(mem) && !st) rc = cli_failf("out of memory");
        else if (st) rc = cli_failf("%s: %s", path, err.msg);
        else if (outpath) {   /* atomically: a failure leaves the file as it was */
            bp_atomic_file af;
            if (bp_atomic_open(&af, outpath, &err)) rc = cli_fail(&err);
            else if (fwrite(buf, 1, len, af.fp) != len) { bp_atomic_abort(&af); rc = cli_failf("%s: write failed", outpath); }
            else if (bp_atomic_commit(&af, &err)) rc = cli_fail(&err);
        } else if (fwrite(buf, 1, len, stdout) != len || fflush(stdout))
            rc = cli_failf("standard output: write failed: %s", strerror(errno));
    }
    free(buf);
    bp_model_free(m);
    return rc;
}
