/* io/plot.c - training curves: an SVG with a loss and an accuracy panel, and the
 * per-epoch numbers as CSV. */
#include "core/error.h"
#include "core/file.h"
#include "core/numfmt.h"
#include "io/svg.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#define SVG_W 960
#define SVG_H 440
#define PANEL_W (SVG_W / 2)
/* plot area inside a panel: margins left, right, top, bottom */
#define ML 80
#define MR 24
#define MT 74
#define MB 56

static const char *const TRAIN_COLOR = "#1f77b4", *const VAL_COLOR = "#d62728";

typedef struct series { size_t off; const char *name, *color, *dash; } series;

static double field(const bp_epoch_stats *s, size_t off) { return *(const double *)((const char *)s + off); }

/* One panel at x offset px: title, axes, grid, curves, legend (at the top or
 * the bottom right), or `empty` in the middle when there is nothing to draw. */
static void panel(FILE *f, int px, const char *title, const char *ylabel, const series *ser, int nser,
                  const bp_epoch_stats *s, int n, const char *empty, int legend_top)
{
    const double x0 = px + ML, x1 = px + PANEL_W - MR, y0 = MT, y1 = SVG_H - MB;
    fprintf(f, "<text x=\"%g\" y=\"%d\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">%s</text>\n",
            (x0 + x1) / 2, MT - 14, title);
    fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"#fcfcfc\" stroke=\"#888\"/>\n", x0, y0,
            x1 - x0, y1 - y0);
    double lo = INFINITY, hi = -INFINITY;
    int present[4] = {0};
    for (int k = 0; k < nser; k++)
        for (int i = 0; i < n; i++) {
            double v = field(&s[i], ser[k].off);
            if (!isfinite(v)) continue;
            present[k] = 1;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    if (!(lo <= hi)) {
        fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\" font-size=\"14\" fill=\"#666\">%s</text>\n",
                (x0 + x1) / 2, (y0 + y1) / 2, empty);
        return;
    }
    /* axes: epochs on x (integer ticks), values on y */
    double e0 = s[0].epoch, e1 = s[n - 1].epoch;
    if (e1 <= e0) { e0 -= 0.5; e1 = e0 + 1; }
    double xstep = fmax(1, bp_svg_nice_step(e1 - e0, 8));
    bp_axis ya = bp_svg_axis(lo, hi, 5);
#define SX(e) (x0 + ((e) - e0) / (e1 - e0) * (x1 - x0))
#define SY(v) (y1 - ((v) - ya.lo) / (ya.hi - ya.lo) * (y1 - y0))
    char buf[64];
    fputs("<g font-size=\"12\" fill=\"#333\">\n", f);
    for (double e = ceil(e0 / xstep - 1e-9) * xstep; e <= e1 + 1e-9; e += xstep) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#e3e3e3\"/>", SX(e), y0, SX(e), y1);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#888\"/>", SX(e), y1, SX(e), y1 + 5);
        fprintf(f, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%.0f</text>\n", SX(e), y1 + 19, e);
    }
    for (int i = 0; ya.lo + i * ya.step <= ya.hi + ya.step * 1e-6; i++) {
        double v = ya.lo + i * ya.step;
        bp_svg_tick_label(buf, sizeof buf, v, ya.step, fmax(fabs(ya.lo), fabs(ya.hi)));
        fprintf(f, "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>", x0, SY(v), x1, SY(v));
        fprintf(f, "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#888\"/>", x0 - 5, SY(v), x0, SY(v));
        fprintf(f, "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", x0 - 8, SY(v) + 4, buf);
    }
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\" font-size=\"13\">epoch</text>\n", (x0 + x1) / 2,
            y1 + 42);
    fprintf(f, "<text transform=\"translate(%g %g) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">%s</text>\n",
            px + 16.0, (y0 + y1) / 2, ylabel);
    fputs("</g>\n", f);
    /* curves: one polyline per run of finite values; dots when the epochs are few
     * or a run is a single point */
    for (int k = 0; k < nser; k++) {
        for (int i = 0; i < n;) {
            if (!isfinite(field(&s[i], ser[k].off))) { i++; continue; }
            int j = i;
            while (j < n && isfinite(field(&s[j], ser[k].off))) j++;
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\"%s%s%s points=\"",
                    ser[k].color, ser[k].dash ? " stroke-dasharray=\"" : "", ser[k].dash ? ser[k].dash : "",
                    ser[k].dash ? "\"" : "");
            for (int t = i; t < j; t++)
                fprintf(f, "%s%.1f,%.1f", t > i ? " " : "", SX(s[t].epoch), SY(field(&s[t], ser[k].off)));
            fputs("\"/>\n", f);
            if (n <= 40 || j - i == 1)
                for (int t = i; t < j; t++)
                    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", SX(s[t].epoch),
                            SY(field(&s[t], ser[k].off)), ser[k].color);
            i = j;
        }
    }
    /* legend */
    int shown = 0;
    for (int k = 0; k < nser; k++) shown += present[k];
    double lw = 118, lh = 8 + 20.0 * shown, lx = x1 - lw - 8, ly = legend_top ? y0 + 8 : y1 - lh - 8;
    fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#bbb\"/>\n",
            lx, ly, lw, lh);
    for (int k = 0, row = 0; k < nser; k++) {
        if (!present[k]) continue;
        double yy = ly + 16 + 20.0 * row++;
        fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"2\"%s%s%s/>", lx + 8, yy - 4,
                lx + 36, yy - 4, ser[k].color, ser[k].dash ? " stroke-dasharray=\"" : "", ser[k].dash ? ser[k].dash : "",
                ser[k].dash ? "\"" : "");
        fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"12\">%s</text>\n", lx + 44, yy, ser[k].name);
    }
#undef SX
#undef SY
}

bp_status bp_plot_svg(const bp_epoch_stats *s, int n, const char *path, bp_error *err)
{
    if (n < 0 || (n > 0 && !s)) return bp_err(err, BP_E_ARG, "%s: no epochs to plot", path);
    bp_atomic_file af;
    bp_status st = bp_atomic_open(&af, path, err);
    if (st) return st;
    FILE *f = af.fp;
    bp_svg_begin(f, SVG_W, SVG_H, "backprop training curves");
    fprintf(f, "<text x=\"%d\" y=\"30\" text-anchor=\"middle\" font-size=\"18\" font-weight=\"bold\">"
               "Training curves (%d epoch%s)</text>\n", SVG_W / 2, n, n == 1 ? "" : "s");
    const series loss[] = {{offsetof(bp_epoch_stats, train_loss), "train", TRAIN_COLOR, NULL},
                           {offsetof(bp_epoch_stats, val_loss), "validation", VAL_COLOR, "7 4"}};
    const series acc[] = {{offsetof(bp_epoch_stats, train_acc), "train", TRAIN_COLOR, NULL},
                          {offsetof(bp_epoch_stats, val_acc), "validation", VAL_COLOR, "7 4"}};
    panel(f, 0, "Loss", "loss", loss, 2, s, n, n ? "no finite loss" : "no epochs", 1);
    panel(f, PANEL_W, "Accuracy", "accuracy", acc, 2, s, n, n ? "no accuracy (regression)" : "no epochs", 0);
    fputs("</svg>\n", f);
    return bp_atomic_commit(&af, err);
}

/* A CSV field: the number exactly, or empty for NaN. */
static void csv_num(FILE *f, double v, int show)
{
    char b[BP_NUM_MAX];
    fputc(',', f);
    if (show && !isnan(v)) fputs(bp_num_exact(b, v), f);
}

bp_status bp_log_csv(const bp_epoch_stats *s, int n, int classifier, const char *path, bp_error *err)
{
    if (n < 0 || (n > 0 && !s)) return bp_err(err, BP_E_ARG, "%s: no epochs to log", path);
    bp_atomic_file af;
    bp_status st = bp_atomic_open(&af, path, err);
    if (st) return st;
    fputs("epoch,train_loss,train_acc,val_loss,val_acc,seconds\n", af.fp);
    for (int i = 0; i < n; i++) {
        fprintf(af.fp, "%d", s[i].epoch);
        csv_num(af.fp, s[i].train_loss, 1);
        csv_num(af.fp, s[i].train_acc, classifier);
        csv_num(af.fp, s[i].val_loss, 1);
        csv_num(af.fp, s[i].val_acc, classifier);
        csv_num(af.fp, s[i].seconds, 1);
        fputc('\n', af.fp);
    }
    return bp_atomic_commit(&af, err);
}
