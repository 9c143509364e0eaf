/* core/numfmt.c - numbers as text: exact (shortest round trip) or short. */
#include "core/numfmt.h"

#include <math.h>
#include <stdlib.h>

const char *bp_num_exact(char buf[BP_NUM_MAX], double v)
{
    if (isnan(v)) return "nan";
    if (isinf(v)) return v > 0 ? "inf" : "-inf";
    if (v == 0) return signbit(v) ? "-0.0" : "0";
    for (int p = 15; p <= 17; p++) {
        snprintf(buf, BP_NUM_MAX, "%.*g", p, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}

const char *bp_num_exact_f32(char buf[BP_NUM_MAX], float v)
{
    if (isnan(v)) return "nan";
    if (isinf(v)) return v > 0 ? "inf" : "-inf";
    if (v == 0) return signbit(v) ? "-0.0" : "0";
    for (int p = 6; p <= 9; p++) {
        snprintf(buf, BP_NUM_MAX, "%.*g", p, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return buf;
}

void bp_json_num(FILE *out, double v)
{
    char b[BP_NUM_MAX];
    fputs(isfinite(v) ? bp_num_exact(b, v) : "null", out);
}

void bp_json_mat(FILE *out, const bp_mat *m)
{
    fputc('[', out);
    for (int i = 0; i < m->rows; i++) {
        fputs(i ? ", [" : "[", out);
        for (int j = 0; j < m->cols; j++) {
            if (j) fputs(", ", out);
            bp_json_num(out, bp_mat_get(m, i, j));
        }
        fputc(']', out);
    }
    fputc(']', out);
}

void bp_json_row(FILE *out, const bp_mat *m)
{
    fputc('[', out);
    for (int j = 0; j < m->cols; j++) {
        if (j) fputs(", ", out);
        bp_json_num(out, bp_mat_get(m, 0, j));
    }
    fputc(']', out);
}

void bp_json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
        else if (c < 0x20) fprintf(out, "\\u%04x", c);
        else fputc(c, out);
    }
    fputc('"', out);
}

const char *bp_num_short(char buf[BP_NUM_MAX], double v, int digits)
{
    if (v == 0) v = 0;   /* no "-0" */
    snprintf(buf, BP_NUM_MAX, "%.*g", digits, v);
    return buf;
}
