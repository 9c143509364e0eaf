/* io/plot_weights.c - `backprop show-weights`: each unit's incoming weights
 * as an image (CS577 Assignment 2, question 16: the rows of a linear
 * classifier's weight matrix are templates of its classes), in a grid, on one
 * diverging colour scale (blue negative, white zero, red positive, the
 * largest |w| of the layer at the ends), each tile named by its unit and, for
 * the output layer of a classifier with class names, by its class. */
#include "io/svg.h"
#include "core/file.h"
#include "core/numfmt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LEVELS 20   /* colour steps on each side of zero: runs of equal colour are one rect */

bp_status bp_plot_weights_svg(bp_net *net, int layer, int h, int w, const char *title, const char *path, bp_error *err)
{
    const bp_net_spec *s = bp_net_get_spec(net);
    if (layer < 0 || layer >= s->nlayers)
        return bp_err(err, BP_E_ARG, "layer %d: the network has layers 1 to %d", layer + 1, s->nlayers);
    int fi = layer ? s->layers[layer - 1].units : s->inputs, u = s->layers[layer].units;
    if (h < 1 || w < 1 || (long)h * w != fi)
        return bp_err(err, BP_E_SHAPE, "layer %d has %d input%s per unit; an image of %d x %d has %ld pixels", layer + 1,
                      fi, bp_s(fi), h, w, (long)h * w);
    if (u > 4096) return bp_err(err, BP_E_SHAPE, "layer %d has %d units: at most 4096 are drawn", layer + 1, u);
    bp_mat W = bp_net_weight(net, layer), B = bp_net_bias(net, layer);
    int trick = s->layers[layer].bias_trick, oi = s->layout == BP_OUT_IN;
#define WEIGHT(j, p) (oi ? bp_mat_get(&W, (j), (p) + trick) : bp_mat_get(&W, (p) + trick, (j)))
#define BIAS(j) (trick ? (oi ? bp_mat_get(&W, (j), 0) : bp_mat_get(&W, 0, (j))) : B.rows ? bp_mat_get(&B, 0, (j)) : 0)
    double big = 0;
    for (int j = 0; j < u; j++)
        for (int p = 0; p < fi; p++) big = fmax(big, fabs(WEIGHT(j, p)));
    if (!(big > 0) || !isfinite(big)) big = 1;
    /* tiles: about 112 px on their longer side, at least 1 px a pixel; a grid about square */
    double px = fmax(1, floor(112.0 / (h > w ? h : w)));
    if (px * (h > w ? h : w) > 240) px = 240.0 / (h > w ? h : w);
    int cols = (int)ceil(sqrt((double)u));
    if (u == 10) cols = 5;   /* ten classes: two rows of five */
    int rows = (u + cols - 1) / cols, tw = (int)ceil(px * w), th = (int)ceil(px * h), gap = 16, lab = 34;
    int W0 = 20, H0 = 56, SW = W0 * 2 + cols * (tw + gap) - gap, SH = H0 + rows * (th + lab + gap) + 70;
    if (SW < 420) SW = 420;
    const char *const *names = layer == s->nlayers - 1 ? bp_net_class_names(net) : NULL;
    if (names && bp_net_classes(net) != u) names = NULL;
    bp_atomic_file af;
    bp_status st = bp_atomic_open(&af, path, err);
    if (st) return st;
    FILE *o = af.fp;
    char c[8], b1[BP_NUM_MAX], b2[BP_NUM_MAX];
    bp_svg_begin(o, SW, SH, "backprop weight templates");
    fprintf(o, "<text x=\"%d\" y=\"28\" font-size=\"16\" font-weight=\"bold\">", W0);
    bp_svg_text(o, title ? title : "weights");
    fprintf(o, "</text>\n<text x=\"%d\" y=\"46\" font-size=\"12\" fill=\"#444\">layer %d: each unit's %d weights as a "
               "%d x %d image%s</text>\n", W0, layer + 1, fi, h, w, trick ? " (the bias trick's column left out)" : "");
    for (int j = 0; j < u; j++) {
        int x0 = W0 + (j % cols) * (tw + gap), y0 = H0 + (j / cols) * (th + lab + gap) + 6;
        fprintf(o, "<g shape-rendering=\"crispEdges\">\n");
        for (int r = 0; r < h; r++)
            for (int c0 = 0, c1; c0 < w; c0 = c1) {   /* runs of one colour level */
                int lv = (int)lround(WEIGHT(j, r * w + c0) / big * LEVELS);
                for (c1 = c0 + 1; c1 < w && (int)lround(WEIGHT(j, r * w + c1) / big * LEVELS) == lv; c1++) {}
                fprintf(o, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>\n", x0 + c0 * px,
                        y0 + r * px, (c1 - c0) * px + 0.05, px + 0.05, bp_svg_diverging(c, (double)lv / LEVELS));
            }
        fprintf(o, "</g>\n<rect x=\"%d\" y=\"%d\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" stroke=\"#999\"/>\n", x0,
                y0, px * w, px * h);
        fprintf(o, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"12\" text-anchor=\"middle\">", x0 + px * w / 2, y0 + px * h + 15);
        if (names) {
            fprintf(o, "%d ", j);
            bp_svg_text(o, names[j]);
        } else {
            fprintf(o, "unit %d", j + 1);
        }
        fputs("</text>\n", o);
        if (B.rows || trick)
            fprintf(o, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"10\" fill=\"#555\" text-anchor=\"middle\">b = %s</text>\n",
                    x0 + px * w / 2, y0 + px * h + 28, bp_num_short(b1, BIAS(j), 3));
    }
    /* the colour scale */
    int bx = W0, by = SH - 48, bw = SW - 2 * W0 > 360 ? 360 : SW - 2 * W0;
    fprintf(o, "<g shape-rendering=\"crispEdges\">\n");
    for (int i = 0; i <= 2 * LEVELS; i++)
        fprintf(o, "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"12\" fill=\"%s\"/>\n", bx + i * bw / (2.0 * LEVELS + 1),
                by, bw / (2.0 * LEVELS + 1) + 0.05, bp_svg_diverging(c, (double)(i - LEVELS) / LEVELS));
    fprintf(o, "</g>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"12\" fill=\"none\" stroke=\"#999\"/>\n", bx, by, bw);
    fprintf(o, "<g font-size=\"11\" fill=\"#333\"><text x=\"%d\" y=\"%d\">%s</text>"
               "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">0</text>"
               "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>"
               "<text x=\"%d\" y=\"%d\">weight (one scale for the whole layer)</text></g>\n",
            bx, by + 26, bp_num_short(b1, -big, 3), bx + bw / 2, by + 26, bx + bw, by + 26, bp_num_short(b2, big, 3),
            bx, by - 6);
    fputs("</svg>\n", o);
#undef WEIGHT
#undef BIAS
    return bp_atomic_commit(&af, err);
}
