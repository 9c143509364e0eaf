/* fuzz_boundary.c - linear boundaries from expressions (bp_boundary_parse:
 * the expr parser, then the walk that refuses non-linear terms). The input is
 * EXPRESSION [\0 POINT]: POINT goes to bp_boundary_add_point ("x1=1,x2=2",
 * may be given several times separated by ';'); then both writers into
 * /dev/null. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strdup(data, size);
    size_t l0 = strlen(text);
    char *points = l0 < size ? text + l0 + 1 : NULL;
    bp_boundary *b = NULL;
    bp_error err;
    int where = -1;
    if (fuzz_note("bp_boundary_parse", bp_boundary_parse(text, &b, &where, &err), &err) == BP_OK) {
        if (where != -1) abort();   /* no place for a success */
        for (char *p = points, *semi; p; p = semi ? semi + 1 : NULL) {
            semi = strchr(p, ';');
            if (semi) *semi = '\0';
            fuzz_note("bp_boundary_add_point", bp_boundary_add_point(b, p, &err), &err);
        }
        FILE *out = fuzz_devnull();
        fuzz_note("bp_boundary_write_text", bp_boundary_write_text(b, out, &err), &err);
        fuzz_note("bp_boundary_write_json", bp_boundary_write_json(b, out, &err), &err);
    } else if (where < -1 || where > (int)l0) {
        abort();   /* a place outside the text */
    }
    bp_boundary_free(b);
    free(text);
    return 0;
}
