/* cmd_boundary.c - `backprop boundary "EXPR" | MODEL`: the geometry of a
 * linear decision boundary. */
#define _GNU_SOURCE
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char HELP[] =
    "usage: backprop boundary \"EXPR\" [--at x1=V,x2=V ...] [--json]\n"
    "       backprop boundary MODEL [--at x1=V,x2=V ...] [--json]\n"
    "\n"
    "The decision boundary g(x) = theta_0 + theta . x = 0 of a linear function, as in\n"
    "CS577 Assignment 2 (questions 2 to 4): theta_0, theta, the normal n = theta (theta_0 is\n"
    "not part of it), |n|, the unit normal n/|n| (it points to the side where g > 0) and the\n"
    "boundary's signed distance from the origin, -theta_0/|n|: the boundary is the set of x\n"
    "with n/|n| . x = -theta_0/|n|. For each point of --at: g(x), its side (the sign of g;\n"
    "g = 0 is on the boundary) and its signed distance g(x)/|n|.\n"
    "\n"
    "EXPR is a linear expression in the language of `backprop expr`: numbers, variables,\n"
    "+ - * / ^ and functions of numbers, such as \"1 + 2*x1 + 3*x2\" or \"(x1 - 2*x2)/4 - 1\".\n"
    "Variables named x1, x2, ... are taken in their index order (theta_i belongs to x_i\n"
    "however the terms are written), other names after them in order of first appearance.\n"
    "A term that is not linear (x1*x2, x1^2, sigmoid(x1), 1/x1) is refused, named with its\n"
    "column. An operand that is an existing file is a model instead.\n"
    "\n"
    "MODEL is a network without hidden layers (a JSON model file or safetensors; any layout,\n"
    "a bias or the bias trick), or a one-vs-rest / one-vs-one model set of such networks\n"
    "(train --multiclass). Its variables are x1..xn, the inputs as the data gives them: a\n"
    "model that standardises its inputs has that scaling folded into theta.\n"
    "  - one output unit: class 1 where the output is >= 0.5, so g = z for a sigmoid,\n"
    "    z - 0.5 for a linear or relu output, z - atanh(0.5) for tanh;\n"
    "  - k outputs (softmax regression): the class scores g_k = z_k (the largest wins) and\n"
    "    the pairwise boundaries g_i - g_j = 0 where classes i and j score the same;\n"
    "  - one-vs-rest: each class's g_k (its model's z) and the pairwise g_i - g_j; a point's\n"
    "    class by the largest score and by the largest signed distance g_k/|theta_k|;\n"
    "  - one-vs-one: each pair's g_ij (positive side: class i) and a point's class by vote.\n"
    "\n"
    "options:\n"
    "  --at x1=V,x2=V      a point (every variable once); repeat --at for more points\n"
    "  --json              one JSON object: {\"variables\", \"kind\", \"classes\", \"class_names\",\n"
    "                      \"boundaries\": [{\"name\", \"classes\", \"theta0\", \"theta\", \"normal\",\n"
    "                      \"norm\", \"unit_normal\", \"distance\"}], \"points\": [{\"x\", \"g\",\n"
    "                      \"side\", \"distance\", \"class\"}]}; numbers exact\n"
    "  -h, --help          this help\n"
    "\n"
    "Example (question 4): backprop boundary \"1 + 2*x1 + 3*x2\" --at x1=1,x2=1\n"
    "  |n| = sqrt(13), unit normal (2, 3)/sqrt(13), distance -1/sqrt(13).\n"
    "Exit status: 0 success; 2 bad input (not linear, a model with hidden layers, a bad point).\n";

int cmd_boundary(int argc, char **argv)
{
    static const struct option opts[] = {
        {"at", required_argument, 0, 'a'}, {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char **at = calloc((size_t)argc + 1, sizeof *at);
    int nat = 0, json = 0, c;
    if (!at) return cli_failf("out of memory");
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': at[nat++] = optarg; break;
        case 'j': json = 1; break;
        case 'h': free(at); fputs(HELP, stdout); return 0;
        default: free(at); return cli_bad_option("boundary", argv);
        }
    }
    if (optind != argc - 1) {
        free(at);
        return cli_failf("boundary: expected one expression or model file (see `backprop boundary --help`)");
    }
    const char *arg = argv[optind];
    bp_boundary *b = NULL;
    bp_error err;
    int rc = 0, where = -1;
    if (access(arg, F_OK) == 0) {   /* a model file */
        bp_scaler sc = {0};
        if (bp_multiclass_file(arg)) {
            bp_multiclass *mc = NULL;
            if (bp_multiclass_load(arg, BP_F64, &mc, &sc, &err) || bp_boundary_of_multiclass(mc, &sc, arg, &b, &err))
                rc = cli_fail(&err);
            bp_multiclass_free(mc);
        } else {
            bp_model *m = NULL;
            if (bp_model_read(arg, BP_F64, &m, &err) ||
                bp_boundary_of_net(bp_model_net(m), bp_model_scaler(m), arg, &b, &err))
                rc = cli_fail(&err);
            bp_model_free(m);
        }
        bp_scaler_free(&sc);
    } else if (bp_boundary_parse(arg, &b, &where, &err)) {
        rc = cli_fail_at(arg, where, &err);
    }
    for (int i = 0; !rc && i < nat; i++)
        if (bp_boundary_add_point(b, at[i], &err)) rc = cli_failf("--at %s: %s", at[i], err.msg);
    if (!rc && (json ? bp_boundary_write_json(b, stdout, &err) : bp_boundary_write_text(b, stdout, &err)))
        rc = cli_fail(&err);
    bp_boundary_free(b);
    free(at);
    return rc;
}
