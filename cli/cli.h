/* cli.h - shared pieces of the command-line tool. Each command is one
 * function cmd_NAME(argc, argv) returning the process exit status:
 * 0 success, 1 a negative answer (wrong values, failed check), 2 bad input. */
#ifndef BP_CLI_H
#define BP_CLI_H

#include "backprop.h"

#define EXIT_WRONG 1
#define EXIT_BAD 2

/* Print "backprop: MESSAGE" on stderr; return EXIT_BAD. */
int cli_fail(const bp_error *err);
/* cli_fail, then the line of `text` holding byte `where` (if >= 0) with a caret under it. */
int cli_fail_at(const char *text, int where, const bp_error *err);
int cli_failf(const char *fmt, ...);
/* on: cli_fail and cli_failf keep the message (cli_last_error) without
 * printing it: the processes of an MPI run but the first, whose messages
 * reach the user through the first (train). */
void cli_errors_silent(int on);
const char *cli_last_error(void);
/* After getopt_long (with opterr = 0) returned '?': one line naming the bad
 * option of command `cmd`; returns EXIT_BAD. */
int cli_bad_option(const char *cmd, char **argv);
/* Parse a whole option value as an integer in [lo, hi] / a finite number:
 * 0 on success, -1 if it is not one (nothing printed: the caller says what
 * it expected). */
int cli_long(const char *s, long lo, long hi, long *out);
int cli_double(const char *s, double *out);
/* Parse a --format name (text/txt, markdown/md, latex/tex); returns 0 on success. */
int cli_format(const char *s, bp_format *out);
/* Parse a dtype name ("f32"/"f64"); returns 0 on success. */
int cli_dtype(const char *s, bp_dtype *out);
/* One file a command reads (out = 0) or writes (out = 1), named by its
 * option ("--save") for messages; path NULL or "-" (standard input/output)
 * is skipped. */
typedef struct cli_file {
    const char *opt, *path;
    int out;
} cli_file;
/* Before any work: refuse (one line, EXIT_BAD) when an output is the same
 * file as an input, or as another output (devices such as /dev/null may
 * take several outputs); 0 when all are distinct. */
int cli_distinct(const cli_file *files, int n);
/* The conventions at kinks (bp_kinks): --relu-grad-at-zero 0|1 and --tie
 * half|first. Each parses its value into *k: 0, or one line and EXIT_BAD. */
int cli_relu_at_zero(const char *arg, bp_kinks *k);
int cli_tie(const char *arg, bp_kinks *k);
#define CLI_RELU_AT_ZERO_HELP                                                                        \
    "  --relu-grad-at-zero V  the derivative of ReLU at z = 0, where it has none: 0 (default,\n"    \
    "                      as PyTorch) or 1 (the z >= 0 of the course notes \"HW Backprop\")\n"
#define CLI_TIE_HELP                                                                                 \
    "  --tie half|first    max(a, b) and min(a, b) where a = b: half of the gradient to each\n"        \
    "                      (default, as PyTorch) or all of it to the first argument\n"
/* Load a model file and apply --x/--y CSV overrides (either may be NULL). */
int cli_load_model(const char *path, bp_dtype dtype, const char *xcsv, const char *ycsv, bp_model **out);

int cmd_grad(int argc, char **argv);
int cmd_gradcheck(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_step(int argc, char **argv);
int cmd_expr(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_boundary(int argc, char **argv);
int cmd_plot_boundary(int argc, char **argv);
int cmd_show_weights(int argc, char **argv);

#endif
