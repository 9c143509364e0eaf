/* cmd_check.c - `backprop check MODEL FORMULA...`: is a formula over the
 * network's named matrices right for every input? And the Jacobian of one
 * quantity with respect to another for one sample. */
#define _GNU_SOURCE
#include "cli.h"
#include "core/file.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
    "usage: backprop check MODEL.json FORMULA... [--formulas FILE] [--redraws N] [--seed S]\n"
    "                      [--samples rows|columns] [--json] [--x X.csv --y Y.csv]\n"
    "                      [--relu-grad-at-zero 0|1] [--tie half|first]\n"
    "       backprop check MODEL.json --jacobian Q --wrt P [--sample I] [--samples ...] [--json]\n"
    "\n"
    "Check formulas \"LHS = RHS\" over the named matrices of the network in MODEL.json: both\n"
    "sides are evaluated (f64) at the file's values, then at N random redraws of the weights\n"
    "and data that keep every shape, so a formula is right only if it is right for every input.\n"
    "Write a formula in the language of `backprop expr` or paste it in the LaTeX of your notes.\n"
    "\n"
    "names\n"
    "  x (= a[0]), y, yhat (= a[L]), m (samples); W[l], b[l], z[l], a[l] for l = 1..L; the true\n"
    "  gradients dL_dW[l], dL_db[l], dL_dz[l], dL_da[l], dL_dx, dL_dyhat; the notes' g[la],\n"
    "  g[lz], g[lW], g[lb] (as g[3z]) and delta[l] (= dL_dz[l]); g(z[l]) and g'(z[l]) are\n"
    "  layer l's activation and its derivative (a softmax layer has no g': it is a Jacobian).\n"
    "  When the LHS is one name, the RHS is checked against its true value; otherwise the two\n"
    "  sides are checked against each other (an identity).\n"
    "orientation\n"
    "  weight_layout out_in: samples are columns (a[l] is units x m, b[l] units x 1):\n"
    "    z[l] = W[l] @ a[l-1] + b[l],   dL_dW[l] = dL_dz[l] @ a[l-1]^T\n"
    "  in_out: samples are rows (a[l] is m x units, b[l] 1 x units):\n"
    "    z[l] = a[l-1] @ W[l] + b[l],   dL_dW[l] = a[l-1]^T @ dL_dz[l]\n"
    "  --samples rows|columns chooses; W keeps its layout (out_in with rows:\n"
    "  z[l] = a[l-1] @ W[l]^T + b[l]). dL_dW[l] always has W[l]'s shape.\n"
    "the language (as in backprop expr)\n"
    "  @ matrix product; * / + - elementwise, repeating a 1x1, a row or a column; ^ power;\n"
    "  A^T; > >= < <= give 1 or 0; exp log sqrt abs sigmoid tanh relu step sigmoid' tanh'\n"
    "  relu' softmax (per sample) sum rowsum colsum mean rowmean colmean diag eye ones max min;\n"
    "  samplesum(T): T for each sample alone, added up. Tightest first: functions, ^ and ^T,\n"
    "  unary minus, @ * / (left to right), + -, comparisons.\n";
static const char HELP_LATEX[] =
    "LaTeX (a formula with \\, braces, $ or & is read as LaTeX)\n"
    "  W^{[l]} b^{[l]} z^{[l]} a^{[l]} (a^{[2]T}, a^{[2]\\top}), x, y, \\hat{y}, m, \\delta^{[l]},\n"
    "  g^{[3z]}; \\frac{\\partial L}{\\partial W^{[l]}} (also \\partial L / \\partial W^{[l]},\n"
    "  \\frac{dL}{dW^{[l]}}, the loss l, J or \\mathcal{L}) for W, b, z, a, x, \\hat{y};\n"
    "  \\odot \\circ elementwise; juxtaposition, \\cdot, \\times: the matrix product, a scaling\n"
    "  when one side is 1x1, or the elementwise product when the inner sizes do not fit and\n"
    "  the shapes are equal (the output says so); ^T ^{T} ^\\top; \\frac{a}{b}; \\sigma \\sigma'\n"
    "  g g' \\tanh \\exp e^{...} \\log \\ln \\sqrt \\mathrm{ReLU} \\text{ReLU} \\operatorname{relu}\n"
    "  \\max \\min; \\mathbb{1}[...], \\mathbf{1}(...), 1\\{...\\} around > \\geq \\ge < \\leq \\le;\n"
    "  \\sum_{i=1}^{m} T, the sum over samples of T (up to the next + or - or bracket);\n"
    "  \\left( \\right) \\big( and braces group; $ $$ \\[ \\] & and a trailing \\\\ or , are ignored.\n"
    "  A chain A = B = C checks A = B and A = C.\n";
static const char HELP_VERDICTS[] =
    "\n"
    "verdicts\n"
    "  right   equal (1e-9 relative, 1e-12 absolute) at the file's values and every redraw\n"
    "  WRONG   at the file's values: the first differing entry, yours and the true value, and\n"
    "          the likely slip (as grad --compare names it: sign, a factor m or 1/m, a half,\n"
    "          transposed, softmax taken as diagonal)\n"
    "  WRONG at redraw k, right at the file's values: that draw's entry, and why the file's\n"
    "          values hid it (every z[l] > 0, so a missing relu'(z[l]) made no difference)\n"
    "  SHAPE   the shapes differ (yours is 3x1, the true one 1x3: transposed?), or an\n"
    "          operator's operands do not fit\n"
    "\n"
    "options\n"
    "  --formulas FILE     one formula per line, checked in order and reported with its line\n"
    "                      number; blank lines and lines starting with # or % are skipped\n"
    "  --redraws N         random draws after the file's values (default 10; 0: only those)\n"
    "  --seed S            the draws' seed (default 1): the same seed, the same draws\n"
    "  --samples rows|columns   samples as rows or columns (default: from weight_layout)\n"
    "  --json              exactly one JSON object: {\"formulas\": [{\"line\", \"formula\",\n"
    "                      \"verdict\": \"right\"|\"wrong\"|\"shape\", \"at\": \"file\"|\"redraw 3\"|null,\n"
    "                      \"entry\": [i, j]|null, \"yours\", \"true\": number|null, \"hint\"}]}\n"
    "                      (entries counted from 0)\n"
    "  --x FILE.csv, --y FILE.csv   data replacing the model file's (one sample per row)\n"
    "  --jacobian Q --wrt P   dQ/dP for one sample: Q is z[l], a[l] or yhat, P is W[l], b[l],\n"
    "                      x, a[l] or z[l] below it; for each unit of Q a matrix shaped like P;\n"
    "                      --json: {\"of\", \"wrt\", \"sample\", \"jacobian\": [one P-shaped matrix\n"
    "                      per entry of Q]}\n"
    "  --sample I          the sample of --jacobian, counting from 1 (default 1)\n"
    "  --relu-grad-at-zero V  relu'(0), where relu has no derivative, in the true gradients and\n"
    "                      in relu' and g' of your formulas: 0 (default, as PyTorch) or 1 (the\n"
    "                      z >= 0 of the course notes \"HW Backprop\"); matters at the file's\n"
    "                      values only (a redraw that puts some z exactly on 0 is drawn again)\n"
    "  --tie half|first    max(a, b) and min(a, b) of your formulas at a = b: half of the\n"
    "                      gradient to each (default, as PyTorch) or all of it to the first\n"
    "  -h, --help          this help\n";
static const char HELP_EXAMPLES[] =
    "\n"
    "examples\n"
    "  backprop check examples/q12.json 'dL_dW[2] = dL_dz[2] @ a[1]^T' 'dL_dyhat = 2*(y - yhat)'\n"
    "  backprop check examples/backprop_notes_4321.json \\\n"
    "      'g^{[2W]} = (a^{[1]})^T \\cdot g^{[2z]}' 'g^{[2z]} = g'\\''(z^{[2]}) \\circ g^{[2a]}'\n"
    "  backprop check examples/hw_backprop_relu_single.json --jacobian 'a[2]' --wrt 'W[2]'\n"
    "\n"
    "exit status: 0 every formula right, 1 one is wrong or of the wrong shape, 2 bad input\n"
    "(a syntax error, an unknown name, a layer out of range, LaTeX that is not understood:\n"
    "one line naming the formula and the column, the formula with a caret under the place,\n"
    "and nothing on stdout).\n";

/* "backprop: WHERE:COLUMN: MESSAGE" (the message's own "at column C" taken
 * out), then the formula with a caret under byte `where`. */
static int fail_formula(const char *label, int file, const char *text, int where, const bp_error *err)
{
    char msg[BP_ERROR_MAX], pat[32], *at;
    snprintf(msg, sizeof msg, "%s", err->msg);
    snprintf(pat, sizeof pat, " at column %d", where + 1);
    if (where >= 0 && (at = strstr(msg, pat))) memmove(at, at + strlen(pat), strlen(at + strlen(pat)) + 1);
    if (where < 0) fprintf(stderr, "backprop: %s: %s\n", label, msg);
    else fprintf(stderr, file ? "backprop: %s:%d: %s\n" : "backprop: %s, column %d: %s\n", label, where + 1, msg);
    if (where >= 0 && where <= (int)strlen(text)) {
        fprintf(stderr, "  %s\n  ", text);
        for (int i = 0; i < where; i++) fputc(text[i] == '\t' ? '\t' : ' ', stderr);
        fputs("^\n", stderr);
    }
    return EXIT_BAD;
}

/* The formulas of FILE, one per line (blank lines and # or % comments skipped). */
static int add_file(bp_check *c, const char *path)
{
    char *text = NULL;
    size_t len;
    bp_error err;
    if (bp_read_file(path, BP_LIMIT_TEXT, "a --formulas file", &text, &len, &err)) return cli_fail(&err);
    if (memchr(text, 0, len)) { free(text); return cli_failf("%s: not a text file (a NUL byte)", path); }
    int rc = 0, lineno = 0, any = 0;
    for (char *s = text, *e; !rc && s < text + len; s = e + 1) {
        lineno++;
        e = memchr(s, '\n', (size_t)(text + len - s));
        if (!e) e = text + len;
        *e = 0;
        if (e > s && e[-1] == '\r') e[-1] = 0;
        const char *t = s + strspn(s, " \t");
        if (!*t || *t == '#' || *t == '%') continue;
        int where;
        any = 1;
        if (bp_check_add(c, s, lineno, &where, &err)) {
            char label[600];
            snprintf(label, sizeof label, "%s:%d", path, lineno);
            rc = fail_formula(label, 1, s, where, &err);
        }
    }
    if (!rc && !any) rc = cli_failf("%s: no formulas (one \"LHS = RHS\" per line)", path);
    free(text);
    return rc;
}

int cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"formulas", required_argument, 0, 'f'}, {"redraws", required_argument, 0, 'r'},
        {"seed", required_argument, 0, 's'},     {"samples", required_argument, 0, 'S'},
        {"json", no_argument, 0, 'j'},           {"jacobian", required_argument, 0, 'J'},
        {"wrt", required_argument, 0, 'w'},      {"sample", required_argument, 0, 'i'},
        {"x", required_argument, 0, 'x'},        {"y", required_argument, 0, 'y'},
        {"relu-grad-at-zero", required_argument, 0, 'K'}, {"tie", required_argument, 0, 'T'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    bp_kinks kinks = {0, BP_TIE_HALF};
    const char *file = NULL, *jac = NULL, *wrt = NULL, *xcsv = NULL, *ycsv = NULL;
    long redraws = 10, sample = 1, seed = 1;
    int json = 0, c, given_sample = 0;
    bp_samples samples = BP_SAMPLES_LAYOUT;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': file = optarg; break;
        case 'r':
            if (cli_long(optarg, 0, 100000, &redraws)) return cli_failf("--redraws: expected 0..100000, got '%s'", optarg);
            break;
        case 's':
            if (cli_long(optarg, 0, 2147483647L, &seed)) return cli_failf("--seed: expected a number 0..2147483647, got '%s'", optarg);
            break;
        case 'S':
            if (!strcmp(optarg, "rows")) samples = BP_SAMPLES_ROWS;
            else if (!strcmp(optarg, "columns")) samples = BP_SAMPLES_COLUMNS;
            else return cli_failf("--samples: expected rows or columns, got '%s'", optarg);
            break;
        case 'j': json = 1; break;
        case 'J': jac = optarg; break;
        case 'w': wrt = optarg; break;
        case 'i':
            if (cli_long(optarg, 1, 2147483647L, &sample)) return cli_failf("--sample: expected a sample number from 1, got '%s'", optarg);
            given_sample = 1;
            break;
        case 'x': xcsv = optarg; break;
        case 'y': ycsv = optarg; break;
        case 'K': if (cli_relu_at_zero(optarg, &kinks)) return EXIT_BAD; break;
        case 'T': if (cli_tie(optarg, &kinks)) return EXIT_BAD; break;
        case 'h':
            fputs(HELP, stdout);
            fputs(HELP_LATEX, stdout);
            fputs(HELP_VERDICTS, stdout);
            fputs(HELP_EXAMPLES, stdout);
            return 0;
        default: return cli_bad_option("check", argv);
        }
    }
    if (optind >= argc) return cli_failf("check: expected a model file, then formulas (see `backprop check --help`)");
    const char *path = argv[optind++];
    int nformulas = argc - optind;
    if (jac && !wrt) return cli_failf("--jacobian needs --wrt: the quantity to differentiate by (--wrt 'W[2]')");
    if (wrt && !jac) return cli_failf("--wrt goes with --jacobian Q");
    if (given_sample && !jac) return cli_failf("--sample goes with --jacobian (formulas are checked on every sample)");
    if (jac && (nformulas || file)) return cli_failf("--jacobian takes no formulas: check them in a run of their own");
    if (!jac && !nformulas && !file)
        return cli_failf("check: no formulas: give them after the model file or with --formulas FILE");
    bp_model *m;
    int rc = cli_load_model(path, BP_F64, xcsv, ycsv, &m);
    if (rc) return rc;
    bp_net_set_kinks(bp_model_net(m), &kinks);   /* the true values, and the formulas' relu', max, min */
    bp_error err = {BP_OK, ""};
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);   /* nothing reaches stdout unless all went well */
    if (!mem) { bp_model_free(m); return cli_failf("out of memory"); }
    if (jac) {
        if (bp_check_jacobian(m, samples, jac, wrt, (int)sample - 1, json, mem, &err)) rc = cli_failf("%s: %s", path, err.msg);
    } else {
        bp_check *ch = NULL;
        if (bp_check_new(m, samples, (int)redraws, (uint64_t)seed, &ch, &err)) rc = cli_failf("%s: %s", path, err.msg);
        for (int i = 0; !rc && i < nformulas; i++) {
            int where;
            if (bp_check_add(ch, argv[optind + i], i + 1, &where, &err)) {
                char label[32];
                snprintf(label, sizeof label, "formula %d", i + 1);
                rc = fail_formula(label, 0, argv[optind + i], where, &err);
            }
        }
        if (!rc && file) rc = add_file(ch, file);
        if (!rc && bp_check_run(ch, &err)) rc = cli_failf("%s: %s", path, err.msg);
        if (!rc && (json ? bp_check_write_json : bp_check_write_text)(ch, mem, &err)) rc = cli_fail(&err);
        for (int i = 0; !rc && i < bp_check_count(ch); i++) {
            bp_check_result r;
            if (!bp_check_result_get(ch, i, &r) && r.verdict != BP_CHECK_RIGHT) rc = EXIT_WRONG;
        }
        bp_check_free(ch);
    }
    fclose(mem);
    if (rc != EXIT_BAD) fwrite(buf, 1, len, stdout);
    free(buf);
    bp_model_free(m);
    return rc;
}
