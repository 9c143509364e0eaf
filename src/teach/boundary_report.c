/* teach/boundary_report.c - `backprop boundary`'s reports: each function's
 * geometry (theta_0, theta = n, |n|, n/|n|, -theta_0/|n|) and, per point,
 * g(x), its side, its signed distance g(x)/|n| and the predicted class; as
 * text for people and as one line of JSON. */
#include "teach/boundary.h"
#include "nn/multiclass.h"
#include "core/numfmt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DIGITS 8

int bp_bnd_predict(const bp_boundary *b, const double *x, int distance_rule)
{
    switch (b->kind) {
    case BND_BINARY: return bp_boundary_value(b, 0, x) >= 0;
    case BND_SCORES: {
        int best = 0;
        for (int c = 1; c < b->nscores; c++)
            if (bp_boundary_value(b, c, x) > bp_boundary_value(b, best, x)) best = c;
        return best;
    }
    case BND_OVR:
    case BND_OVO: {   /* the models' outputs p = sigmoid(g), and the rule of the model set */
        int nm = b->kind == BND_OVR ? b->nscores : b->nfn, k = b->nclasses;
        double *p = malloc((size_t)(3 * nm + 2 * k) * sizeof *p);
        int *pn = malloc((size_t)(2 * nm) * sizeof *pn);
        int best = -1;
        if (p && pn) {
            for (int m = 0; m < nm; m++) {
                double g = bp_boundary_value(b, m, x), nrm = bp_bnd_norm(&b->fn[m], b->n);
                p[m] = 1 / (1 + exp(-g));
                p[nm + m] = nrm > 0 ? g / nrm : g;
                pn[m] = b->fn[m].ci;
                pn[nm + m] = b->fn[m].cj;
            }
            best = bp_mc_combine(b->kind == BND_OVR ? BP_OVR : BP_OVO, k, nm, pn, pn + nm, p,
                                 distance_rule && b->kind == BND_OVR ? p + nm : NULL, p + 3 * nm, NULL);
        }
        free(p);
        free(pn);
        return best;
    }
    default: return -1;
    }
}

static const char *num(char b[BP_NUM_MAX], double v) { return bp_num_short(b, v, DIGITS); }

/* "(2, 3)" into buf (n bytes; cut with "..." when longer). */
static const char *vec(char *buf, size_t n, const double *v, int dims, double scale)
{
    char b[BP_NUM_MAX];
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < dims && k < n; i++) k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? ", " : "", num(b, v[i] * scale));
    if (k < n) snprintf(buf + k, n - k, ")");
    else if (n > 4) strcpy(buf + n - 4, "...");
    return buf;
}

/* The integer q when v = sqrt(q) for an integer q > 0 that is not a square (for "= sqrt(13)"), else 0. */
static long sqrt_of_int(double v)
{
    double q = v * v, r = nearbyint(q);
    if (r < 2 || r > 1e9 || fabs(q - r) > 1e-9 * r) return 0;
    long s = (long)nearbyint(sqrt(r));
    return s * s == (long)r ? 0 : (long)r;
}

/* One line of the geometry: label, value, what it is. */
static void row(FILE *o, const char *label, const char *value, const char *what)
{
    int w = (int)strlen(value);
    fprintf(o, "  %-14s%s", label, value);
    if (what && *what) fprintf(o, "%*s%s", w < 28 ? 28 - w : 3, "", what);
    fputc('\n', o);
}

static const char *class_name(const bp_boundary *b, int c, char *buf, size_t n)
{
    if (c < 0) snprintf(buf, n, "the rest");
    else if (b->class_names && c < b->nclasses) snprintf(buf, n, "class %d (%s)", c, b->class_names[c]);
    else snprintf(buf, n, "class %d", c);
    return buf;
}

/* What the side of g > 0 (and g < 0) of function k means. */
static void sides(const bp_boundary *b, int k, char *pos, char *neg, size_t n)
{
    const bnd_fn *f = &b->fn[k];
    char a[200], c[200];
    snprintf(pos, n, "the positive side");
    snprintf(neg, n, "the negative side");
    if (b->kind == BND_BINARY) {
        snprintf(pos, n, "the positive side: %s", class_name(b, 1, a, sizeof a));
        snprintf(neg, n, "the negative side: %s", class_name(b, 0, a, sizeof a));
    } else if (f->cj >= 0 || (b->kind == BND_OVR && k < b->nscores)) {
        snprintf(pos, n, "the positive side: %s", class_name(b, f->ci, a, sizeof a));
        snprintf(neg, n, "the negative side: %s", class_name(b, f->cj, c, sizeof c));
        if (f->cj >= 0 && b->kind != BND_OVO) {   /* a difference of scores */
            snprintf(pos, n, "the positive side: %s scores higher than %s", class_name(b, f->ci, a, sizeof a),
                     class_name(b, f->cj, c, sizeof c));
            snprintf(neg, n, "the negative side: %s scores higher", class_name(b, f->cj, c, sizeof c));
        }
    }
}

static void text_fn(const bp_boundary *b, int k, FILE *o)
{
    const bnd_fn *f = &b->fn[k];
    int n = b->n;
    char b1[BP_NUM_MAX], b2[BP_NUM_MAX], v[4096], w[256];
    double nrm = bp_bnd_norm(f, n);
    if (b->kind == BND_EXPR || n <= 12) {   /* g written out: -0.5 x1 + 2 x2 + y */
        int first = 1;
        if (b->kind == BND_EXPR) fprintf(o, "g(x) =");
        else fprintf(o, "%s: %s =", f->name, f->sym);
        if (f->theta0 != 0) { fprintf(o, " %s", num(b1, f->theta0)); first = 0; }
        for (int i = 0; i < n; i++) {
            double t = f->theta[i];
            if (t == 0) continue;
            const char *sign = t < 0 ? (first ? "-" : "- ") : first ? "" : "+ ";
            if (fabs(t) == 1) fprintf(o, " %s%s", sign, b->vars[i]);
            else fprintf(o, " %s%s %s", sign, num(b1, fabs(t)), b->vars[i]);
            first = 0;
        }
        fprintf(o, "%s\n", first ? " 0" : "");
    } else {
        fprintf(o, "%s: %s = theta_0 + theta . x\n", f->name, f->sym);
    }
    row(o, "theta_0", num(b1, f->theta0), NULL);
    row(o, "n = theta", vec(v, sizeof v, f->theta, n, 1), "the normal (theta_0 is not part of it)");
    if (nrm == 0) {
        snprintf(w, sizeof w, "0: g is the constant %s, it has no boundary", num(b1, f->theta0));
        row(o, "|n|", w, NULL);
        return;
    }
    long q = sqrt_of_int(nrm);
    if (q) snprintf(w, sizeof w, "%s = sqrt(%ld)", num(b1, nrm), q);
    else snprintf(w, sizeof w, "%s", num(b1, nrm));
    row(o, "|n|", w, NULL);
    row(o, "n/|n|", vec(v, sizeof v, f->theta, n, 1 / nrm), "the unit normal, towards the side where g > 0");
    double d = -f->theta0 / nrm;
    if (q && f->theta0 == nearbyint(f->theta0) && fabs(f->theta0) < 1e9 && f->theta0 != 0)
        snprintf(w, sizeof w, "%s = %s%s/sqrt(%ld)", num(b1, d), f->theta0 > 0 ? "-" : "", num(b2, fabs(f->theta0)), q);
    else snprintf(w, sizeof w, "%s", num(b1, d));
    row(o, "-theta_0/|n|", w, "the boundary's signed distance from the origin");
    fprintf(o, "  %-14s(the boundary is the set n/|n| . x = %s; the origin is %s)\n", "", num(b1, d),
            f->theta0 > 0 ? "on its positive side: g(0) = theta_0 > 0"
            : f->theta0 < 0 ? "on its negative side: g(0) = theta_0 < 0" : "on it: theta_0 = 0");
}

static void text_point(const bp_boundary *b, int k, const double *x, FILE *o)
{
    const bnd_fn *f = &b->fn[k];
    char b1[BP_NUM_MAX], b2[BP_NUM_MAX], pos[512], neg[512];
    double g = bp_boundary_value(b, k, x), nrm = bp_bnd_norm(f, b->n);
    sides(b, k, pos, neg, sizeof pos);
    char v[4096];
    fprintf(o, "  at x = %s: g = %s, %s", vec(v, sizeof v, x, b->n, 1), num(b1, g),
            g > 0 ? pos : g < 0 ? neg : "on the boundary (g = 0)");
    if (nrm > 0) fprintf(o, "; signed distance g/|n| = %s", num(b2, g / nrm));
    fputc('\n', o);
}

bp_status bp_boundary_write_text(const bp_boundary *b, FILE *o, bp_error *err)
{
    char c1[200];
    if (b->note) fprintf(o, "(%s)\n\n", b->note);
    int named = 1;   /* the variables are x1..xn in order: no need to say */
    for (int i = 0; i < b->n; i++) {
        char xi[24];
        snprintf(xi, sizeof xi, "x%d", i + 1);
        named &= !strcmp(xi, b->vars[i]);
    }
    if (!named && b->n > 1) {
        fprintf(o, "variables: ");
        for (int i = 0; i < b->n; i++) fprintf(o, "%s%s", i ? ", " : "", b->vars[i]);
        fprintf(o, " (theta_i belongs to the i-th)\n\n");
    }
    int first_pair = b->kind == BND_SCORES || b->kind == BND_OVR ? b->nscores : b->nfn;
    for (int k = 0; k < b->nfn; k++) {
        if (k == 0 && (b->kind == BND_SCORES || b->kind == BND_OVR))
            fprintf(o, b->kind == BND_SCORES ? "The class scores g_k(x) = z_k; the predicted class has the largest.\n\n"
                                             : "One model per class, g_k(x) = z_k of class k against the rest:\n\n");
        if (k == first_pair && first_pair < b->nfn && b->kind != BND_OVO)
            fprintf(o, "The pairwise boundaries g_i - g_j = 0, where classes i and j score the same:\n\n");
        if (k == 0 && b->kind == BND_OVO)
            fprintf(o, "One model per pair of classes, g_ij(x) = z of class i against class j:\n\n");
        text_fn(b, k, o);
        for (int p = 0; p < b->npts; p++) text_point(b, k, b->pts + (size_t)p * b->n, o);
        fputc('\n', o);
    }
    for (int p = 0; p < b->npts && b->kind != BND_EXPR; p++) {
        const double *x = b->pts + (size_t)p * b->n;
        char v[4096];
        fprintf(o, "at x = %s: %s", vec(v, sizeof v, x, b->n, 1), class_name(b, bp_bnd_predict(b, x, 0), c1, sizeof c1));
        if (b->kind == BND_OVR) fprintf(o, " by the largest score, %s by the largest signed distance",
                                        class_name(b, bp_bnd_predict(b, x, 1), c1, sizeof c1));
        if (b->kind == BND_OVO) fprintf(o, " by the vote of the pairs");
        fputc('\n', o);
    }
    return ferror(o) ? bp_err(err, BP_E_IO, "could not write the report") : BP_OK;
}

/* ---- JSON ------------------------------------------------------------------------- */
static void json_vec(FILE *o, const double *v, int n, double scale)
{
    fputc('[', o);
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", o);
        bp_json_num(o, v[i] * scale);
    }
    fputc(']', o);
}

bp_status bp_boundary_write_json(const bp_boundary *b, FILE *o, bp_error *err)
{
    static const char *const kinds[] = {"expression", "binary", "classes", "ovr", "ovo"};
    fputs("{\"variables\": [", o);
    for (int i = 0; i < b->n; i++) {
        if (i) fputs(", ", o);
        bp_json_str(o, b->vars[i]);
    }
    fprintf(o, "], \"kind\": \"%s\", \"classes\": ", kinds[b->kind]);
    if (b->nclasses) fprintf(o, "%d", b->nclasses);
    else fputs("null", o);
    fputs(", \"class_names\": ", o);
    for (int c = 0; c < b->nclasses && b->class_names; c++) {
        fputs(c ? ", " : "[", o);
        bp_json_str(o, b->class_names[c]);
    }
    fputs(b->nclasses && b->class_names ? "]" : "null", o);
    fputs(", \"boundaries\": [", o);
    for (int k = 0; k < b->nfn; k++) {
        const bnd_fn *f = &b->fn[k];
        double nrm = bp_bnd_norm(f, b->n);
        fputs(k ? ", {\"name\": " : "{\"name\": ", o);
        bp_json_str(o, f->name);
        fputs(", \"symbol\": ", o);
        bp_json_str(o, f->sym);
        if (f->ci < 0) fputs(", \"classes\": null", o);
        else if (f->cj < 0 && !(b->kind == BND_OVR && k < b->nscores)) fprintf(o, ", \"classes\": [%d]", f->ci);
        else if (f->cj < 0) fprintf(o, ", \"classes\": [%d, \"rest\"]", f->ci);
        else fprintf(o, ", \"classes\": [%d, %d]", f->ci, f->cj);
        fputs(", \"theta0\": ", o);
        bp_json_num(o, f->theta0);
        fputs(", \"theta\": ", o);
        json_vec(o, f->theta, b->n, 1);
        fputs(", \"normal\": ", o);
        json_vec(o, f->theta, b->n, 1);
        fputs(", \"norm\": ", o);
        bp_json_num(o, nrm);
        fputs(", \"unit_normal\": ", o);
        if (nrm > 0) json_vec(o, f->theta, b->n, 1 / nrm);
        else fputs("null", o);
        fputs(", \"distance\": ", o);
        if (nrm > 0) bp_json_num(o, -f->theta0 / nrm);
        else fputs("null", o);
        fputc('}', o);
    }
    fputs("], \"points\": [", o);
    for (int p = 0; p < b->npts; p++) {
        const double *x = b->pts + (size_t)p * b->n;
        fputs(p ? ", {\"x\": " : "{\"x\": ", o);
        json_vec(o, x, b->n, 1);
        fputs(", \"g\": [", o);
        for (int k = 0; k < b->nfn; k++) {
            if (k) fputs(", ", o);
            bp_json_num(o, bp_boundary_value(b, k, x));
        }
        fputs("], \"side\": [", o);
        for (int k = 0; k < b->nfn; k++) {
            double g = bp_boundary_value(b, k, x);
            fprintf(o, "%s%d", k ? ", " : "", (g > 0) - (g < 0));
        }
        fputs("], \"distance\": [", o);
        for (int k = 0; k < b->nfn; k++) {
            double nrm = bp_bnd_norm(&b->fn[k], b->n);
            if (k) fputs(", ", o);
            if (nrm > 0) bp_json_num(o, bp_boundary_value(b, k, x) / nrm);
            else fputs("null", o);
        }
        fputs("], \"class\": ", o);
        if (b->kind == BND_EXPR) fputs("null", o);
        else fprintf(o, "%d", bp_bnd_predict(b, x, 0));
        if (b->kind == BND_OVR) fprintf(o, ", \"class_by_distance\": %d", bp_bnd_predict(b, x, 1));
        fputc('}', o);
    }
    fputs("]}\n", o);
    return ferror(o) ? bp_err(err, BP_E_IO, "could not write the report") : BP_OK;
}
