/* cmd_expr.c - `backprop expr "EXPR"`: value, gradient or Jacobian of any
 * expression, the passes node by node, the chain rule, the graph. */
#define _GNU_SOURCE
#include "cli.h"
#include "core/file.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char HELP[] =
    "usage: backprop expr \"EXPR\" [--at x=1,y=2] [--wrt x,y] [--json] [--steps] [--chain]\n"
    "                            [--graph dot|svg] [--out FILE] [--relu-grad-at-zero 0|1] [--tie half|first]\n"
    "       backprop expr \"EXPR\" --symbolic [--wrt x,y] [--json]\n"
    "\n"
    "Build the computation graph of EXPR, evaluate it at a point and backpropagate:\n"
    "for a scalar EXPR print its value and gradient with respect to every variable;\n"
    "for a vector EXPR its value and Jacobian (rows = outputs, columns = variables).\n"
    "With --symbolic: the function and its derivatives as formulas, at no point.\n"
    "\n"
    "EXPR\n"
    "  numbers       2  0.5  1e-3\n"
    "  variables     any other name: x, y, w1, ...\n"
    "  operators     + - * /, ^ (power; right-associative and tighter than unary minus,\n"
    "                so -x^2 = -(x^2) and 2^3^2 = 2^9), unary -, parentheses\n"
    "  functions     exp log sqrt sigmoid tanh relu abs (one argument), max min (two)\n"
    "  vectors       [e1, e2, ...]; arithmetic and functions act elementwise, a scalar\n"
    "                is broadcast, nested vectors are flattened\n"
    "  definitions   NAME(p1, p2, ...) = BODY;  before the expression, each ended by ';'.\n"
    "                A body uses only its parameters and earlier definitions. A vector\n"
    "                argument fills as many parameters as it has elements, so\n"
    "                  G(a,b) = [a-5*b, a*b, a-b]; F(c,d,e) = [3*c*d, d-e]; F(G(a,b))\n"
    "                is the composition F o G.\n"
    "  A power with a constant exponent (x^2, x^0.5, x^-1) is one pow node; with an\n"
    "  exponent that depends on a variable, a^b is built as exp(b*log(a)) (a > 0).\n"
    "  matrices      every value is a matrix: [[1, 2], [3, 4]] by rows, [[1, 2, 3]] a row,\n"
    "                [1, 2] a column; a variable is one when --at gives it one\n"
    "                (--at 'W=[[0.1,0.2],[0.3,0.4]],x=[1,2]'). @ matrix product, A^T\n"
    "                transpose; * / + - max min elementwise, repeating a 1x1, a 1xn row\n"
    "                or an mx1 column to the other operand's shape; > >= < <= give 1 or 0;\n"
    "                step sigmoid' tanh' relu' softmax (per column) sum rowsum colsum\n"
    "                mean rowmean colmean diag eye(n) ones(r, c). Tightest first:\n"
    "                functions, ^ and ^T, unary -, @ * / (left to right), + -, comparisons.\n"
    "                The gradient with respect to a matrix has its shape; a Jacobian is\n"
    "                given per entry of the value. --steps, --graph, --chain: numbers only\n"
    "\n";
static const char HELP_OPTIONS[] =
    "options\n"
    "  --at x=1,y=2      the point: a value for every variable (may be repeated)\n"
    "  --wrt x,y         differentiate with respect to these variables, in this order\n"
    "                    (default: every variable, in order of first appearance)\n"
    "  --digits N        significant digits of the numbers in the text, --steps, --chain\n"
    "                    and --graph (default 6; 0: exact, the shortest text that reads\n"
    "                    back as the same double); --json is always exact\n"
    "  --json            one line of JSON:\n"
    "                      {\"variables\": [\"x\", \"y\"], \"value\": 64, \"gradient\": [32, 48]}\n"
    "                      {\"variables\": [...], \"value\": [...], \"jacobian\": [[...], ...]}\n"
    "                    (with --chain, a \"chain\" member holds the factors below)\n"
    "  --steps           the forward pass node by node with values, then the backward\n"
    "                    pass node by node in reverse topological order: the upstream\n"
    "                    gradient, each input's local gradient and their product\n"
    "  --chain           for a composition F(G(...)) whose outer function F is a\n"
    "                    definition: J_F at G, J_G and their product, which equals the\n"
    "                    Jacobian of the whole composition (the chain rule)\n"
    "  --graph dot|svg   the computation graph in Graphviz DOT, or as an SVG picture\n"
    "                    drawn by Graphviz's `dot` (apt-get install graphviz); each node\n"
    "                    shows its op, sub-expression, value and gradient\n"
    "  --out FILE        write the graph to FILE (atomically: a failure leaves FILE as\n"
    "                    it was); the report (text, --json, --steps, --chain) then goes\n"
    "                    to stdout. Without --out the graph alone goes to stdout, so\n"
    "                    --graph with --steps, --chain or --json needs --out\n"
    "  --symbolic        each output and its derivatives as formulas of this language\n"
    "                    (definitions inlined): a polynomial in the variables expanded and\n"
    "                    its terms collected, highest degree first; anything else with its\n"
    "                    constants folded and 0 + a, 1*a, 0*a, a^1, a^0, a/1 removed. With\n"
    "                    --json: {\"variables\", \"value\", \"gradient\"|\"jacobian\"} of\n"
    "                    strings. Kinks at the conventions below: relu(u)' = step(u) u',\n"
    "                    max and min weigh their arguments with comparisons. Scalars\n"
    "                    and vectors only (no @, ^T, [[...]], sum, softmax, ...)\n"
    "  --relu-grad-at-zero V  relu'(0), where relu has no derivative: 0 (default, as\n"
    "                    PyTorch) or 1 (the z >= 0 of the course notes \"HW Backprop\")\n"
    "  --tie half|first  max(a, b) and min(a, b) at a = b: half of the gradient to each\n"
    "                    argument (default, as PyTorch) or all of it to the first\n"
    "  -h, --help        this help\n"
    "An EXPR that starts with '-' goes after `--`: backprop expr --at x=2 -- \"-x^2\"\n"
    "\n"
    "Gates in the backward pass: add passes the upstream gradient unchanged to both\n"
    "inputs; mul sends each input the other's value times it; max and min route it to\n"
    "the winning input (on a tie, half to each, as PyTorch does, unless --tie first);\n"
    "relu'(0) = 0 (unless --relu-grad-at-zero 1) and abs'(0) = 0. When the point lies\n"
    "on such a kink, the text report names the sub-expression and the convention used.\n"
    "\n"
    "examples\n"
    "  backprop expr \"(2*x + 3*y)^2\" --at x=1,y=2\n"
    "  backprop expr \"[x^2 + 2*y, 3*x + 4*y^2]\" --at x=1,y=2 --json\n"
    "  backprop expr \"G(x) = [x, x^2]; F(x,y) = [x^2+2*y, 3*x+4*y^2]; F(G(x))\" --at x=2 --chain\n"
    "  backprop expr \"max(x, y) * z\" --at x=1,y=3,z=2 --steps\n"
    "  backprop expr \"max(x, y) * z\" --at x=1,y=3,z=2 --steps --graph dot --out graph.dot\n"
    "  backprop expr \"log(x) * y\" --at x=2,y=3 --graph svg --out graph.svg\n"
    "  backprop expr \"sum(sigmoid(W @ x))\" --at 'W=[[0.1,0.2],[0.3,0.4]],x=[1,2]'\n"
    "  backprop expr \"G(a,b) = [a-5*b, a*b, a-b]; F(c,d,e) = [3*c*d, d-e]; F(G(a,b))\" --symbolic\n"
    "\n"
    "exit status: 0 success, 2 bad input (syntax, unknown name, missing value, a\n"
    "function outside its domain at the point, shapes that do not fit); errors point\n"
    "at the column.\n";

static int in_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path) return 0;
    char buf[4096];
    for (const char *p = path; *p;) {
        const char *c = strchr(p, ':');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, n ? p : ".", prog);
        if (access(buf, X_OK) == 0) return 1;
        if (!c) break;
        p = c + 1;
    }
    return 0;
}

/* Pipe the DOT text into `dot -Tsvg`, whose output goes to `outfd` (the
 * temporary file of an atomic write, or stdout). */
static int write_svg(bp_expr *e, int outfd, const char *path)
{
    if (!in_path("dot"))
        return cli_failf("--graph svg needs Graphviz's `dot`, which is not installed: install it with "
                         "`apt-get install graphviz`, or use --graph dot and render it elsewhere");
    int fd[2];
    fflush(stdout);
    if (pipe(fd)) return cli_failf("--graph svg: cannot create a pipe");
    pid_t pid = fork();
    if (pid < 0) { close(fd[0]); close(fd[1]); return cli_failf("--graph svg: cannot start dot"); }
    if (pid == 0) {
        dup2(fd[0], 0);
        close(fd[0]);
        close(fd[1]);
        if (outfd != 1 && dup2(outfd, 1) < 0) _exit(126);
        execlp("dot", "dot", "-Tsvg", (char *)NULL);
        _exit(127);
    }
    close(fd[0]);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);   /* dot may die early: report it, not SIGPIPE */
    FILE *w = fdopen(fd[1], "w");
    bp_error err = {BP_OK, ""};
    int bad = !w || bp_expr_write_dot(e, w, &err) != BP_OK;
    if (w) fclose(w); else close(fd[1]);
    int st = 0;
    waitpid(pid, &st, 0);
    signal(SIGPIPE, old);
    if (!WIFEXITED(st) || WEXITSTATUS(st))
        return cli_failf("--graph svg: dot failed (%s %d)%s%s", WIFEXITED(st) ? "exit status" : "signal",
                         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), path ? " writing " : "", path ? path : "");
    if (bad) return cli_failf("--graph svg: could not send the graph to dot");
    return 0;
}

/* Does the file open at fd (written by dot) end with "</svg>" and a newline? */
static int svg_complete(int fd)
{
    struct stat st;
    char tail[16];
    const char *end = "</svg>\n";
    size_t n = strlen(end);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return 1;   /* a device or FIFO: nothing to check */
    if ((size_t)st.st_size < n) return 0;
    return pread(fd, tail, n, st.st_size - (off_t)n) == (ssize_t)n && !memcmp(tail, end, n);
}

/* The graph into `path` through a temporary file renamed over it only when
 * everything was written (so a failure leaves `path` as it was). */
static int write_graph_file(bp_expr *e, const char *graph, const char *path)
{
    bp_atomic_file af;
    bp_error err = {BP_OK, ""};
    if (bp_atomic_open(&af, path, &err)) return cli_failf("--out: %s", err.msg);
    int rc;
    if (!strcmp(graph, "svg")) {
        fflush(af.fp);
        rc = write_svg(e, fileno(af.fp), path);
        if (!rc && !svg_complete(fileno(af.fp)))   /* dot exits 0 even when its last write failed */
            rc = cli_failf("--graph svg: dot wrote an incomplete SVG to %s (a full disk?); %s is left as it was", path,
                           path);
    } else rc = bp_expr_write_dot(e, af.fp, &err) ? cli_fail(&err) : 0;
    if (rc) { bp_atomic_abort(&af); return rc; }
    if (bp_atomic_commit(&af, &err)) return cli_failf("--out: %s", err.msg);
    return 0;
}

/* One line for a bad option (getopt_long with opterr = 0 returned '?' or ':'). */
static int bad_option(int c, char **argv)
{
    const char *arg = argv[optind - 1];
    if (c == ':') {
        if (optopt && !(arg[0] == '-' && arg[1] == '-'))
            return cli_failf("expr: option '-%c' needs a value (see backprop expr --help)", optopt);
        return cli_failf("expr: option '%s' needs a value (see backprop expr --help)", arg);
    }
    if (arg[0] == '-' && arg[1] == '-') {          /* a long option: "--foo" or "--foo=..." */
        int n = (int)strcspn(arg, "=");
        if (optopt && arg[n]) return cli_failf("expr: option '%.*s' takes no value (see backprop expr --help)", n, arg);
        return cli_failf("expr: unknown option '%.*s' (see backprop expr --help)", n > 100 ? 100 : n, arg);
    }
    /* a short option: most likely an expression starting with '-' */
    return cli_failf("expr: unknown option '-%c' (an expression starting with '-' goes after `--`: "
                     "backprop expr --at x=1 -- \"-x^2\")", optopt);
}

int cmd_expr(int argc, char **argv)
{
    static const struct option opts[] = {
        {"at", required_argument, 0, 'a'},   {"wrt", required_argument, 0, 'w'},
        {"digits", required_argument, 0, 'd'},
        {"json", no_argument, 0, 'j'},        {"steps", no_argument, 0, 's'},
        {"chain", no_argument, 0, 'c'},       {"graph", required_argument, 0, 'g'},
        {"out", required_argument, 0, 'o'},   {"help", no_argument, 0, 'h'},
        {"relu-grad-at-zero", required_argument, 0, 'K'}, {"tie", required_argument, 0, 'T'},
        {"symbolic", no_argument, 0, 'S'},
        {0, 0, 0, 0}};
    const char *at[64], *wrt = NULL, *graph = NULL, *outpath = NULL;
    int nat = 0, json = 0, steps = 0, chain = 0, symbolic = 0, c;
    long digits = 6;
    bp_kinks kinks = {0, BP_TIE_HALF};
    optind = 1;
    opterr = 0;     /* our messages, in our style */
    /* options may follow the expression (GNU permutation); "--" ends them */
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            if (nat == 64) return cli_failf("expr: too many --at options (put several values in one: --at x=1,y=2)");
            at[nat++] = optarg;
            break;
        case 'w': wrt = optarg; break;
        case 'd':
            if (cli_long(optarg, 0, 17, &digits)) return cli_failf("--digits: expected 0..17, got '%s'", optarg);
            break;
        case 'j': json = 1; break;
        case 's': steps = 1; break;
        case 'c': chain = 1; break;
        case 'g':
            if (strcmp(optarg, "dot") && strcmp(optarg, "svg"))
                return cli_failf("--graph: expected 'dot' or 'svg', got '%s'", optarg);
            graph = optarg;
            break;
        case 'o': outpath = optarg; break;
        case 'K': if (cli_relu_at_zero(optarg, &kinks)) return EXIT_BAD; break;
        case 'T': if (cli_tie(optarg, &kinks)) return EXIT_BAD; break;
        case 'S': symbolic = 1; break;
        case 'h': fputs(HELP, stdout); fputs(HELP_OPTIONS, stdout); return 0;
        default: return bad_option(c, argv);
        }
    }
    if (optind != argc - 1)
        return cli_failf("expr: expected one expression in quotes, got %d arguments (see `backprop expr --help`)",
                         argc - optind);
    if (symbolic && (nat || steps || chain || graph))
        return cli_failf("--symbolic writes formulas, valid at every point: it takes no %s (leave --symbolic out for "
                         "the numbers at a point)", nat ? "--at" : steps ? "--steps" : chain ? "--chain" : "--graph");
    if (outpath && !graph) return cli_failf("--out: only used with --graph dot|svg");
    if (json && steps) return cli_failf("--steps is text: use it without --json");
    if (graph && !outpath && (steps || chain || json))
        return cli_failf("--graph without --out writes only the graph to stdout: add --out FILE to get %s as well "
                         "(e.g. --graph %s --out graph.%s)", steps ? "--steps" : chain ? "--chain" : "--json", graph,
                         graph);
    const char *text = argv[optind];
    bp_expr *e;
    bp_error err = {BP_OK, ""};
    int where;
    if (bp_expr_parse(text, &e, &where, &err)) return cli_fail_at(text, where, &err);
    int rc = 0;
    bp_expr_set_digits(e, (int)digits);
    bp_expr_set_kinks(e, &kinks);
    if (nat) {   /* every --at as one list, so that a name given twice is noticed */
        size_t len = 1;
        for (int i = 0; i < nat; i++) len += strlen(at[i]) + 1;
        char *all = malloc(len);
        if (!all) rc = cli_failf("out of memory");
        for (int i = 0; all && i < nat; i++) {
            if (i) strcat(all, ",");
            else all[0] = 0;
            strcat(all, at[i]);
        }
        if (all && bp_expr_set_point(e, all, &err)) rc = cli_failf("--at: %s", err.msg);
        free(all);
    }
    if (!rc && wrt && bp_expr_set_wrt(e, wrt, &err)) rc = cli_failf("--wrt: %s", err.msg);
    if (!rc && symbolic) {
        bp_symbolic *sy;
        if (bp_expr_symbolic(e, &sy, &where, &err)) rc = cli_fail_at(text, where, &err);
        else if (bp_symbolic_write(sy, json, stdout, &err)) rc = cli_fail(&err);
        bp_symbolic_free(sy);
        bp_expr_free(e);
        return rc;
    }
    if (!rc && chain && !bp_expr_is_composition(e))
        rc = cli_failf("--chain needs a composition F(G(...)) whose outer function F is a definition, "
                       "e.g. \"G(x) = [x, x^2]; F(u,v) = [u*v, u+v]; F(G(x))\"");
    if (!rc && bp_expr_eval(e, &where, &err)) {
        if (err.status == BP_E_VALUE && where >= 0 && !strncmp(err.msg, "no value given", 14)) {
            /* a variable without a value: say how to give it */
            bp_error e2 = err;
            snprintf(e2.msg, sizeof e2.msg, "%.900s; give it with --at", err.msg);
            rc = cli_fail_at(text, where, &e2);
        } else rc = cli_fail_at(text, where, &err);
    }
    if (rc) { bp_expr_free(e); return rc; }

    if (graph && !outpath) {                      /* the graph alone on stdout */
        if (!strcmp(graph, "svg")) rc = write_svg(e, 1, NULL);
        else if (bp_expr_write_dot(e, stdout, &err)) rc = cli_fail(&err);
        bp_expr_free(e);
        return rc;
    }
    if (graph) rc = write_graph_file(e, graph, outpath);
    if (!rc && steps && bp_expr_write_steps(e, stdout, &err)) rc = cli_fail(&err);
    if (!rc && chain && !json && bp_expr_write_chain(e, stdout, &err)) rc = cli_fail(&err);
    if (!rc && (json ? bp_expr_write_json(e, chain, stdout, &err) : bp_expr_write_text(e, stdout, &err)))
        rc = cli_fail(&err);
    bp_expr_free(e);
    return rc;
}
