/* cmd_step.c - `backprop step MODEL --lr ETA`: gradient-descent steps on the
 * model file's own data, every number shown (or as JSON), a student's new
 * weights checked, the updated model saved. */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
    "usage: backprop step MODEL.json --lr ETA [--steps N] [--optimizer sgd|momentum|nesterov|adam]\n"
    "                     [--momentum MU] [--betas B1,B2] [--eps E] [--tol T]\n"
    "                     [--format text|markdown|latex] [--json] [--compare MINE.json] [--save OUT.json]\n"
    "                     [--relu-grad-at-zero 0|1]\n"
    "\n"
    "Take N gradient-descent steps with the network of the model file MODEL.json on its own data\n"
    "(the whole batch at every step, in float64) and show each one in the notation of the course\n"
    "notes: per layer W^[l] <- W^[l] - eta g^[lW] and b^[l] <- b^[l] - eta g^[lb] with every number\n"
    "(the parameters before, the gradient, the optimizer's velocity or moments, the parameters\n"
    "after), then the loss before and after the step, the change |dL| and whether the stop rule\n"
    "|dL| < tol of \"CS577 Assignment 2\" holds.\n"
    "\n"
    "The optimizers follow torch.optim exactly (the same code trains in `backprop train`):\n"
    "  sgd       theta <- theta - eta g                                      (the default)\n"
    "  momentum  v <- mu v + g; theta <- theta - eta v   (v starts at 0, so the first v is g;\n"
    "            no dampening: torch.optim.SGD(momentum=mu))\n"
    "  nesterov  v <- mu v + g; theta <- theta - eta (g + mu v)   (SGD(nesterov=True))\n"
    "  adam      m <- b1 m + (1-b1) g; v <- b2 v + (1-b2) g^2;\n"
    "            theta <- theta - eta (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)   (torch.optim.Adam)\n"
    "\n"
    "  --lr ETA            the learning rate eta (required)\n"
    "  --steps N           steps to take (default 1; with --tol, the most to take: default 100)\n"
    "  --optimizer O       sgd (default), momentum, nesterov, adam\n"
    "  --momentum MU       momentum and nesterov (default 0.9)\n"
    "  --betas B1,B2       adam (default 0.9,0.999)\n"
    "  --eps E             adam (default 1e-8)\n"
    "  --tol T             stop after the first step whose |dL| = |L_after - L_before| < T\n"
    "  --format F          text (default), markdown, latex (a complete document)\n"
    "  --json              print one line of JSON: {\"steps\": [{\"loss\", \"layers\": [{\"W\", \"b\"}],\n"
    "                      \"loss_after\", \"delta_loss\"}]}: per step the loss before it, each layer's\n"
    "                      parameters after it (in the file's layout; b null without a bias), the\n"
    "                      loss after it and delta_loss = loss_after - loss\n"
    "  --compare MINE.json check your own values (any subset of the --json object, in its shape; {}\n"
    "                      for a step or layer you skip) against the true ones: which are wrong, the\n"
    "                      first wrong step, layer and entry, and the likely slip (the sign of the\n"
    "                      step, a missing eta, the 1/m of a mean). Exit status 0 if all are right,\n"
    "                      1 if any is wrong\n"
    "  --rtol R            relative tolerance of --compare (default 1e-4, as for hand work)\n"
    "  --save OUT          write the model after the steps (atomically): a JSON model file with its\n"
    "                      data when OUT ends in .json, else a safetensors model\n"
    "  --x FILE.csv        inputs, one sample per row (replaces data.x)\n"
    "  --y FILE.csv        targets, one sample per row (replaces data.y)\n"
    CLI_RELU_AT_ZERO_HELP
    "  -h, --help          this help\n"
    "\n"
    "Exit status: 0 success, 1 wrong values in --compare or a step that left a loss, gradient or\n"
    "weight Inf or NaN, 2 bad input (one line \"backprop: FILE: problem\" on stderr, nothing on stdout).\n"
    "\n"
    "examples:\n"
    "  backprop step examples/q12.json --lr 0.01\n"
    "  backprop step net.json --lr 0.5 --steps 3 --optimizer momentum --format markdown > steps.md\n"
    "  backprop step net.json --lr 0.1 --tol 1e-4 --steps 500 --json\n"
    "  backprop step net.json --lr 0.1 --compare mine.json\n";

enum { O_LR = 1, O_STEPS, O_OPT, O_MOM, O_BETAS, O_EPS, O_TOL, O_FORMAT, O_JSON, O_COMPARE, O_RTOL, O_SAVE, O_X, O_Y, O_RELU0,
       O_HELP };

static int parse_betas(const char *s, double *b1, double *b2)
{
    char buf[128];
    const char *comma = strchr(s, ',');
    if (!comma || (size_t)(comma - s) >= sizeof buf) return -1;
    memcpy(buf, s, (size_t)(comma - s));
    buf[comma - s] = '\0';
    if (cli_double(buf, b1) || cli_double(comma + 1, b2)) return -1;
    return *b1 >= 0 && *b1 < 1 && *b2 >= 0 && *b2 < 1 ? 0 : -1;
}

/* The model after the steps: a JSON model file (with its data) or safetensors. */
static bp_status save(bp_model *m, const char *path, bp_error *err)
{
    size_t n = strlen(path);
    if (n >= 5 && !strcmp(path + n - 5, ".json")) return bp_model_save(m, path, err);
    return bp_net_save(bp_model_net(m), bp_model_scaler(m), path, err);
}

int cmd_step(int argc, char **argv)
{
    static const struct option opts[] = {
        {"lr", required_argument, 0, O_LR}, {"steps", required_argument, 0, O_STEPS},
        {"optimizer", required_argument, 0, O_OPT}, {"momentum", required_argument, 0, O_MOM},
        {"betas", required_argument, 0, O_BETAS}, {"eps", required_argument, 0, O_EPS},
        {"tol", required_argument, 0, O_TOL}, {"format", required_argument, 0, O_FORMAT},
        {"json", no_argument, 0, O_JSON}, {"compare", required_argument, 0, O_COMPARE},
        {"rtol", required_argument, 0, O_RTOL}, {"save", required_argument, 0, O_SAVE},
        {"x", required_argument, 0, O_X}, {"y", required_argument, 0, O_Y},
        {"relu-grad-at-zero", required_argument, 0, O_RELU0}, {"help", no_argument, 0, O_HELP}, {0, 0, 0, 0}};
    bp_train_options o;
    bp_train_options_init(&o);
    o.tol = 0;
    long steps = 0;
    int json = 0, lr_set = 0, c;
    double rtol = 1e-4;
    bp_format fmt = BP_FMT_TEXT;
    const char *compare = NULL, *savepath = NULL, *xcsv = NULL, *ycsv = NULL;
    bp_kinks kinks = {0, BP_TIE_HALF};
    optind = 1;
    opterr = 0;   /* bad options are reported in one line by cli_bad_option */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_LR:
            if (cli_double(optarg, &o.lr) || !(o.lr > 0)) return cli_failf("--lr: expected a positive number, got '%s'", optarg);
            lr_set = 1;
            break;
        case O_STEPS:
            if (cli_long(optarg, 1, 1000000, &steps)) return cli_failf("--steps: expected an integer from 1 to 1000000, got '%s'", optarg);
            break;
        case O_OPT:
            if (bp_optimizer_parse(optarg, &o.optimizer))
                return cli_failf("--optimizer: expected sgd, momentum, nesterov or adam, got '%s'", optarg);
            break;
        case O_MOM:
            if (cli_double(optarg, &o.momentum) || !(o.momentum >= 0 && o.momentum < 1))
                return cli_failf("--momentum: expected a number in [0, 1), got '%s'", optarg);
            break;
        case O_BETAS:
            if (parse_betas(optarg, &o.beta1, &o.beta2))
                return cli_failf("--betas: expected two numbers in [0, 1) joined by a comma, like 0.9,0.999, got '%s'", optarg);
            break;
        case O_EPS:
            if (cli_double(optarg, &o.adam_eps) || !(o.adam_eps >= 0)) return cli_failf("--eps: expected a number >= 0, got '%s'", optarg);
            break;
        case O_TOL:
            if (cli_double(optarg, &o.tol) || !(o.tol > 0)) return cli_failf("--tol: expected a positive number, got '%s'", optarg);
            break;
        case O_FORMAT:
            if (cli_format(optarg, &fmt)) return cli_failf("--format: expected text, markdown or latex, got '%s'", optarg);
            break;
        case O_JSON: json = 1; break;
        case O_COMPARE: compare = optarg; break;
        case O_RTOL:
            if (cli_double(optarg, &rtol) || !(rtol > 0)) return cli_failf("--rtol: expected a positive number, got '%s'", optarg);
            break;
        case O_SAVE: savepath = optarg; break;
        case O_X: xcsv = optarg; break;
        case O_Y: ycsv = optarg; break;
        case O_RELU0: if (cli_relu_at_zero(optarg, &kinks)) return EXIT_BAD; break;
        case O_HELP: case 'h': fputs(HELP, stdout); return 0;
        default: return cli_bad_option("step", argv);
        }
    }
    if (optind != argc - 1) return cli_failf("step: expected one model file (see `backprop step --help`)");
    if (!lr_set) return cli_failf("step: give the learning rate with --lr ETA (see `backprop step --help`)");
    if (o.optimizer == BP_OPT_NESTEROV && !(o.momentum > 0))
        return cli_failf("step: nesterov needs a momentum above 0 (--momentum)");
    if (json && compare) return cli_failf("step: --json and --compare: give one of them");
    if (savepath && !strcmp(savepath, "-"))
        return cli_failf("--save -: a file name is needed (step prints its report on standard output)");
    if (!steps) steps = o.tol > 0 ? 100 : 1;
    const char *path = argv[optind];
    const cli_file files[] = {{"MODEL", path, 0}, {"--x", xcsv, 0}, {"--y", ycsv, 0}, {"--compare", compare, 0},
                              {"--save", savepath, 1}};
    if (cli_distinct(files, 5)) return EXIT_BAD;
    bp_model *m;
    int rc = cli_load_model(path, BP_F64, xcsv, ycsv, &m);
    if (rc) return rc;
    bp_net_set_kinks(bp_model_net(m), &kinks);
    bp_error err;
    bp_steps *rec = NULL;
    bp_status st = bp_model_steps(m, &o, (int)steps, &rec, &err);
    if (st) {
        rc = cli_failf("%s: %s", path, err.msg);
        if (st == BP_E_DIVERGED) rc = EXIT_WRONG;
        bp_model_free(m);
        return rc;
    }
    /* rendered in memory first: on bad input (a malformed --compare file) nothing reaches stdout */
    char *buf = NULL;
    size_t len = 0;
    int right = 1;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) {
        rc = cli_failf("out of memory");
    } else {
        st = compare ? bp_steps_compare(rec, compare, rtol, mem, &right, &err)
             : json  ? bp_write_steps_json(rec, mem, &err)
                     : bp_write_steps(rec, fmt, mem, &err);
        if (fclose(mem) && !st) rc = cli_failf("out of memory");
        else if (st) rc = compare ? cli_fail(&err) : cli_failf("%s: %s", path, err.msg);
        else if (savepath && save(m, savepath, &err)) rc = cli_fail(&err);
        else if (fwrite(buf, 1, len, stdout) != len || fflush(stdout))
            rc = cli_failf("standard output: write failed: %s", strerror(errno));
        else if (!right) rc = EXIT_WRONG;
    }
    free(buf);
    bp_steps_free(rec);
    bp_model_free(m);
    return rc;
}
