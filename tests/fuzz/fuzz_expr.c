/* fuzz_expr.c - expressions (bp_expr_parse, then bp_expr_eval and every
 * writer).  The input is up to three parts separated by NUL bytes:
 *   PROGRAM [\0 POINT [\0 WRT]]
 * PROGRAM is parsed; POINT goes to bp_expr_set_point ("x=1,y=-2"), or, when
 * absent, every variable is set to zero; WRT (if present) to bp_expr_set_wrt.
 * After a successful eval: the values and the Jacobian, the chain-rule views
 * of a composition, and the text, JSON (with and without the chain), steps,
 * chain and DOT writers, into /dev/null; and the formulas of --symbolic
 * (bp_expr_symbolic, text and JSON), which need no point. */
#include "fuzz_common.h"

static void zeros(bp_expr *e)
{
    int n = bp_expr_nvars(e);
    size_t cap = 1, k = 0;
    for (int i = 0; i < n; i++) cap += strlen(bp_expr_var(e, i)) + 3;
    char *s = malloc(cap);
    if (!s) abort();
    s[0] = '\0';
    for (int i = 0; i < n; i++) k += (size_t)snprintf(s + k, cap - k, "%s%s=0", i ? "," : "", bp_expr_var(e, i));
    bp_error err;
    if (n) bp_expr_set_point(e, s, &err);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strdup(data, size);
    const char *point = NULL, *wrt = NULL;
    size_t l0 = strlen(text);
    if (l0 < size) {
        point = text + l0 + 1;
        size_t l1 = l0 + 1 + strlen(point);
        if (l1 < size) wrt = text + l1 + 1;
    }
    bp_expr *e = NULL;
    bp_error err;
    int where = -1;
    if (fuzz_note("bp_expr_parse", bp_expr_parse(text, &e, &where, &err), &err) == BP_OK) {
        (void)bp_expr_noutputs(e);
        (void)bp_expr_is_vector(e);
        if (point) fuzz_note("bp_expr_set_point", bp_expr_set_point(e, point, &err), &err);
        else zeros(e);
        if (wrt) fuzz_note("bp_expr_set_wrt", bp_expr_set_wrt(e, wrt, &err), &err);
        if (fuzz_note("bp_expr_eval", bp_expr_eval(e, &where, &err), &err) == BP_OK) {
            FILE *out = fuzz_devnull();
            double s = 0;
            for (int i = 0; i < bp_expr_noutputs(e); i++) {
                s += bp_expr_value(e, i);
                for (int j = 0; j < bp_expr_nwrt(e); j++) s += bp_expr_jacobian(e, i, j);
            }
            for (int j = 0; j < bp_expr_nwrt(e); j++) (void)bp_expr_wrt(e, j);
            (void)s;
            (void)bp_expr_graph(e);
            int comp = bp_expr_is_composition(e);
            if (comp) {
                bp_mat jf, jg, p;
                bp_expr_chain(e, &jf, &jg, &p, &err);
            }
            bp_expr_write_text(e, out, &err);
            bp_expr_write_json(e, 0, out, &err);
            if (comp) {
                bp_expr_write_json(e, 1, out, &err);
                bp_expr_write_chain(e, out, &err);
            }
            bp_expr_write_steps(e, out, &err);
            bp_expr_write_dot(e, out, &err);
        }
        bp_symbolic *sy = NULL;   /* the formulas need no point */
        if (fuzz_note("bp_expr_symbolic", bp_expr_symbolic(e, &sy, &where, &err), &err) == BP_OK) {
            FILE *out = fuzz_devnull();
            bp_symbolic_write(sy, 0, out, &err);
            bp_symbolic_write(sy, 1, out, &err);
        }
        bp_symbolic_free(sy);
        bp_expr_free(e);
    }
    free(text);
    return 0;
}
