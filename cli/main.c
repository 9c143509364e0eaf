/* main.c - `backprop COMMAND ...`: dispatch to one command. */
#define _GNU_SOURCE
#include "cli.h"

#include <getopt.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char USAGE[] =
    "usage: backprop COMMAND [OPTIONS] ...\n"
    "\n"
    "Train neural networks by backpropagation and see every number of the derivation.\n"
    "\n"
    "commands:\n"
    "  grad FILE        one forward and backward pass: loss, activations, every gradient\n"
    "                   (--json for machines, --compare MINE.json to check hand-derived values)\n"
    "  explain FILE     the derivation step by step (text, markdown, latex) in the notation\n"
    "                   of the course notes \"Back Propagation\"\n"
    "  step FILE        gradient-descent steps on the file's data (sgd, momentum, nesterov, adam),\n"
    "                   every number of each update shown; --compare MINE.json checks new weights\n"
    "  gradcheck FILE   finite differences against backprop for every weight, bias and input\n"
    "  expr \"EXPR\"      value, gradient or Jacobian of any expression; its computation graph\n"
    "  check FILE F...  is a formula (ASCII or the notes' LaTeX) right for every input?\n"
    "                   (--jacobian Q --wrt P: dQ/dP for one sample)\n"
    "  train            train a network on a dataset (CSV, IDX, fashion-mnist) and save it;\n"
    "                   under mpirun -np N, one model on N processes (data-parallel)\n"
    "  eval MODEL       loss, accuracy, per-class accuracy, confusion matrix (or MSE/MAE)\n"
    "  predict MODEL    outputs, or class and probability, per row\n"
    "  convert IN OUT   between a JSON model file and a safetensors model\n"
    "  boundary EXPR|MODEL  a linear decision boundary: normal, unit normal, distance from the\n"
    "                   origin, and each point's side and signed distance\n"
    "  plot-boundary MODEL  the decision regions of a model of two inputs, as SVG\n"
    "  show-weights MODEL   each unit's weights as an image (a linear classifier's templates)\n"
    "\n"
    "Run `backprop COMMAND --help` for the options of a command; `man backprop` for the manual.\n"
    "  --version        print the version and the kernel of the f32 training products\n";

/* The last error message, and whether it is printed (not by the processes
 * of an MPI run other than the first: cli_errors_silent). */
static char last_error[BP_ERROR_MAX + 256];
static int errors_silent;

void cli_errors_silent(int on) { errors_silent = on; }
const char *cli_last_error(void) { return last_error; }

int cli_failf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    if (!errors_silent) fprintf(stderr, "backprop: %s\n", last_error);
    return EXIT_BAD;
}

int cli_fail(const bp_error *err) { return cli_failf("%s", err->msg); }

int cli_bad_option(const char *cmd, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    if (optopt && arg[0] == '-' && arg[1] != '-')
        return cli_failf("%s: unknown option '-%c' (see `backprop %s --help`)", cmd, optopt, cmd);
    return cli_failf("%s: unknown option or missing value: '%s' (see `backprop %s --help`)", cmd, arg, cmd);
}

int cli_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* out of range: beyond the doubles, or so small that it became 0; a
     * subnormal number (4e-320) is a number like any other */
    if (end == s || *end || !isfinite(v) || (errno == ERANGE && v == 0)) return -1;
    *out = v;
    return 0;
}

int cli_format(const char *s, bp_format *out)
{
    if (!strcmp(s, "text") || !strcmp(s, "txt")) *out = BP_FMT_TEXT;
    else if (!strcmp(s, "markdown") || !strcmp(s, "md")) *out = BP_FMT_MARKDOWN;
    else if (!strcmp(s, "latex") || !strcmp(s, "tex")) *out = BP_FMT_LATEX;
    else return -1;
    return 0;
}

int cli_dtype(const char *s, bp_dtype *out)
{
    if (strcmp(s, "f64") == 0 || strcmp(s, "float64") == 0) *out = BP_F64;
    else if (strcmp(s, "f32") == 0 || strcmp(s, "float32") == 0) *out = BP_F32;
    else return -1;
    return 0;
}

/* Every byte a command printed must have reached its destination: a full
 * disk or /dev/full as standard output is an error (exit 2), not a silent
 * success. */
static int finish(int rc)
{
    int e = 0;
    if (fflush(stdout) != 0) e = errno;
    if (ferror(stdout) && !e) e = EIO;
    if (fclose(stdout) != 0 && !e) e = errno;
    if (e && rc != EXIT_BAD) {
        fprintf(stderr, "backprop: standard output: write failed: %s\n", strerror(e));
        return EXIT_BAD;
    }
    return rc;
}

/* OpenBLAS starts a thread per core when it is loaded, and under a memory
 * limit (ulimit -v) such a thread retries a failed allocation forever (so a
 * command never ends) or fails to start and stops the process with SIGINT.
 * The tool runs OpenBLAS on one thread unless asked for more: --threads N
 * starts the others when they are needed, and an OPENBLAS_NUM_THREADS set by
 * the user is kept. OpenBLAS reads the variable when it initialises, before
 * main, and the C library sets up the environment only after this point, so
 * the tool starts itself again with the variable added: a function in the
 * executable's .preinit_array runs before the initialiser of any shared
 * library (ELF gABI), and execve needs nothing initialised. */
static char *blas_env[4096];
static void one_blas_thread(int argc, char **argv, char **envp)
{
    (void)argc;
    static char var[] = "OPENBLAS_NUM_THREADS=1";
    size_t n = 0;
    for (; envp && envp[n]; n++) {
        if (!strncmp(envp[n], "OPENBLAS_NUM_THREADS=", 21)) return;
        /* under valgrind (its preload library in LD_PRELOAD) a new start would leave it behind */
        if (!strncmp(envp[n], "LD_PRELOAD=", 11) && strstr(envp[n], "vgpreload")) return;
    }
    if (!envp || n + 2 > sizeof blas_env / sizeof *blas_env) return;
    memcpy(blas_env, envp, n * sizeof *envp);
    blas_env[n] = var;
    blas_env[n + 1] = NULL;
    execve("/proc/self/exe", argv, blas_env);   /* returns only if it failed (no /proc): go on as we are */
}
#if defined(__GNUC__) && defined(__ELF__) && defined(__linux__)
__attribute__((section(".preinit_array"), used)) static void (*const preinit_one_blas_thread)(int, char **, char **) =
    one_blas_thread;
#endif

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(USAGE, stderr);
        return EXIT_BAD;
    }
    static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
        {"grad", cmd_grad}, {"gradcheck", cmd_gradcheck}, {"explain", cmd_explain}, {"step", cmd_step}, {"expr", cmd_expr},
        {"check", cmd_check},
        {"train", cmd_train}, {"eval", cmd_eval}, {"predict", cmd_predict}, {"convert", cmd_convert},
        {"boundary", cmd_boundary}, {"plot-boundary", cmd_plot_boundary},
        {"show-weights", cmd_show_weights},
    };
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") && argc >= 3) {   /* backprop help train = backprop train --help */
        char *args[3] = {argv[2], "--help", NULL};
        for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
            if (!strcmp(argv[2], cmds[i].name)) return finish(cmds[i].fn(2, args));
        fprintf(stderr, "backprop: help: unknown command '%s' (run `backprop --help` for the list)\n", argv[2]);
        return EXIT_BAD;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(USAGE, stdout);
        return finish(0);
    }
    if (!strcmp(cmd, "--version")) {
        printf("backprop %s\n", BP_VERSION);
        const char *k = bp_matmul_kernel();
        printf("f32 training products: %s%s\n", k,
               !strcmp(k, "blas") ? " (OpenBLAS)" : !strcmp(k, "ref") ? " (the portable C kernel)" : " (own micro-kernel)");
        return finish(0);
    }
    int rank = 0, procs = bp_mpi_launched(&rank);
    if (procs > 1 && strcmp(cmd, "train") != 0) {   /* N copies of the same report help no one */
        if (rank == 0)
            fprintf(stderr, "backprop: %s: started by mpirun as %d processes: only train runs on several processes "
                            "(data-parallel); run %s as one process, without mpirun\n", cmd, procs, cmd);
        return EXIT_BAD;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        if (!strcmp(cmd, cmds[i].name)) return finish(cmds[i].fn(argc - 1, argv + 1));
    fprintf(stderr, "backprop: unknown command '%s' (run `backprop --help` for the list)\n", cmd);
    return EXIT_BAD;
}
