/* teach/boundary_plot.c - `backprop plot-boundary`: the plane of a classifier
 * of two inputs coloured by its predicted class (a grid of points, drawn as
 * runs of equal class per row), the samples as dots in their true class's
 * colour (a dark ring on those it gets wrong), and for a model without hidden
 * layers its boundary lines with their unit normals: one output, the line
 * g = 0; softmax regression, the pieces of the pairwise lines g_i = g_j where
 * classes i and j are the two best (the boundaries of the regions);
 * one-vs-rest and one-vs-one, every model's line g = 0 (dashed). One unit of
 * x1 is as long as one unit of x2, so that a normal looks normal. */
#include "teach/boundary.h"
#include "nn/eval.h"
#include "io/svg.h"
#include "core/file.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PW 480          /* the plot area's width, px                */
#define HMIN 240
#define HMAX 600
#define ML 64           /* margins: left, top, bottom; the legend's width */
#define MT 56
#define MB 56
#define LEGEND 250
#define GRID PW         /* grid cells across: one per px              */

typedef struct view {
    double x0, x1, y0, y1;   /* the data window                       */
    double s;                /* px per unit, both axes                */
    int h;                   /* plot height, px                       */
} view;

static double SX(const view *v, double x) { return ML + (x - v->x0) * v->s; }
static double SY(const view *v, double y) { return MT + v->h - (y - v->y0) * v->s; }

/* The window: the data's range padded by 8%, widened so that both axes have one scale and the height is HMIN..HMAX. */
static view window_of(const bp_dataset *d)
{
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (int i = 0; i < d->n; i++)
        for (int j = 0; j < 2; j++) {
            double v = d->x[(size_t)i * 2 + j];
            if (v < lo[j]) lo[j] = v;
            if (v > hi[j]) hi[j] = v;
        }
    for (int j = 0; j < 2; j++) {
        double r = hi[j] - lo[j];
        if (!(r > 1e-12 * (fabs(hi[j]) + 1))) r = fabs(lo[j]) > 0 ? fabs(lo[j]) : 1;
        double c = (lo[j] + hi[j]) / 2;
        lo[j] = c - 0.58 * r;
        hi[j] = c + 0.58 * r;
    }
    view v;
    double rx = hi[0] - lo[0], ry = hi[1] - lo[1];
    v.s = PW / rx;
    v.h = (int)lround(ry * v.s);
    if (v.h > HMAX) {   /* tall data: x widened */
        v.h = HMAX;
        v.s = HMAX / ry;
        double c = (lo[0] + hi[0]) / 2;
        lo[0] = c - PW / v.s / 2;
        hi[0] = c + PW / v.s / 2;
    } else if (v.h < HMIN) {   /* flat data: y widened */
        v.h = HMIN;
        double c = (lo[1] + hi[1]) / 2;
        lo[1] = c - HMIN / v.s / 2;
        hi[1] = c + HMIN / v.s / 2;
    }
    v.x0 = lo[0];
    v.x1 = hi[0];
    v.y0 = lo[1];
    v.y1 = hi[1];
    return v;
}

/* The classes of n points of xs (as the data gives them: scaled here) by the
 * model's rule. */
static bp_status classify(bp_net *net, bp_multiclass *mc, const bp_scaler *sc, bp_ovr_rule rule, const float *xs, int n,
                          int *cls, bp_error *err)
{
    bp_dataset g = {0};
    g.n = n;
    g.features = 2;
    g.x = bp_malloc((size_t)n * 2 * sizeof *g.x, err);
    float *out = net ? bp_malloc((size_t)n * bp_net_outputs(net) * sizeof *out, err) : NULL;
    bp_status st = !g.x || (net && !out) ? BP_E_NOMEM : BP_OK;
    if (!st) memcpy(g.x, xs, (size_t)n * 2 * sizeof *g.x);
    if (!st && sc && sc->features == 2) st = bp_scaler_apply(sc, &g, err);
    if (!st && mc) st = bp_multiclass_predict(mc, sc, rule, &g, 512, cls, NULL, err);
    if (!st && net && !(st = bp_predict(net, &g, 512, out, err))) {
        bp_mat a = {n, bp_net_outputs(net), BP_F32, out};
        for (int i = 0; i < n; i++) cls[i] = bp_predicted_class(&a, i);
    }
    free(out);
    free(g.x);
    return st;
}

/* The segment of the line theta0 + t1 x + t2 y = 0 inside the window; 0 if it misses it. */
static int clip(const view *v, const bnd_fn *f, double p[2][2])
{
    double t0 = f->theta0, t1 = f->theta[0], t2 = f->theta[1], q[4][2];
    int n = 0;
    if (t2 != 0)   /* x = x0, x1 */
        for (int e = 0; e < 2; e++) {
            double x = e ? v->x1 : v->x0, y = -(t0 + t1 * x) / t2;
            if (y >= v->y0 && y <= v->y1) { q[n][0] = x; q[n++][1] = y; }
        }
    if (t1 != 0)   /* y = y0, y1 */
        for (int e = 0; e < 2; e++) {
            double y = e ? v->y1 : v->y0, x = -(t0 + t2 * y) / t1;
            if (x >= v->x0 && x <= v->x1) { q[n][0] = x; q[n++][1] = y; }
        }
    if (n < 2) return 0;
    int a = 0, b = 1;   /* the two points farthest apart (a corner may be found twice) */
    double best = -1;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double d = hypot(q[i][0] - q[j][0], q[i][1] - q[j][1]);
            if (d > best) { best = d; a = i; b = j; }
        }
    if (best <= 0) return 0;
    memcpy(p[0], q[a], sizeof p[0]);
    memcpy(p[1], q[b], sizeof p[1]);
    return 1;
}

/* Does the pairwise line of f (classes ci, cj) separate the best two classes at x? */
static int on_top(const bp_boundary *b, const bnd_fn *f, const double *x)
{
    double gi = bp_boundary_value(b, f->ci, x), tol = 1e-9 * (fabs(gi) + 1);
    for (int c = 0; c < b->nscores; c++)
        if (c != f->ci && c != f->cj && bp_boundary_value(b, c, x) > gi + tol) return 0;
    return 1;
}

/* A line (or its visible pieces; arrows 0) or its unit normal at the middle of the longest piece and its label
 * (arrows 1: drawn after every line, unclipped, the label kept inside the plot). */
static void draw_line(FILE *o, const view *v, const bp_boundary *b, const bnd_fn *f, int pieces, const char *color,
                      int dashed, int arrows)
{
    double p[2][2];
    if (!clip(v, f, p)) return;
    enum { N = 600 };
    double best0 = 0, best1 = 0;
    int in = 0;
    double t_start = 0;
    for (int i = 0; i <= N; i++) {
        double t = (double)i / N, x[2] = {p[0][0] + t * (p[1][0] - p[0][0]), p[0][1] + t * (p[1][1] - p[0][1])};
        int ok = !pieces || on_top(b, f, x);
        if (ok && !in) { in = 1; t_start = t; }
        if (in && (!ok || i == N)) {
            double t_end = ok ? t : (double)(i - 1) / N;
            if (t_end > t_start && !arrows) {
                fprintf(o, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" stroke-width=\"2.2\"%s/>\n",
                        SX(v, p[0][0] + t_start * (p[1][0] - p[0][0])), SY(v, p[0][1] + t_start * (p[1][1] - p[0][1])),
                        SX(v, p[0][0] + t_end * (p[1][0] - p[0][0])), SY(v, p[0][1] + t_end * (p[1][1] - p[0][1])),
                        color, dashed ? " stroke-dasharray=\"8 5\"" : "");
            }
            if (t_end > t_start && t_end - t_start > best1 - best0) {
                best0 = t_start;
                best1 = t_end;
            }
            in = 0;
        }
    }
    if (best1 <= best0 || !arrows) return;
    double tm = (best0 + best1) / 2, mx = p[0][0] + tm * (p[1][0] - p[0][0]), my = p[0][1] + tm * (p[1][1] - p[0][1]);
    double nrm = hypot(f->theta[0], f->theta[1]), ux = f->theta[0] / nrm, uy = f->theta[1] / nrm, L = 38;
    double sx = SX(v, mx), sy = SY(v, my), ex = sx + L * ux, ey = sy - L * uy;
    fprintf(o, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" stroke-width=\"2\" "
               "marker-end=\"url(#arrow)\"/>\n", sx, sy, ex, ey, color);
    fprintf(o, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"2.5\" fill=\"%s\"/>\n", sx, sy, color);
    double lx = ex + 14 * ux, ly = ey - 14 * uy + 4;   /* the label beyond the arrow, inside the plot */
    lx = fmin(fmax(lx, ML + 34), ML + PW - 34);
    ly = fmin(fmax(ly, MT + 14), MT + v->h - 6);
    char label[64];
    if (f->cj >= 0 && b->kind != BND_OVO && b->kind != BND_BINARY) snprintf(label, sizeof label, "g_%d = g_%d", f->ci, f->cj);
    else if (b->kind == BND_OVO) snprintf(label, sizeof label, "g_%d,%d = 0", f->ci, f->cj);
    else if (b->kind == BND_OVR) snprintf(label, sizeof label, "g_%d = 0", f->ci);
    else snprintf(label, sizeof label, "g = 0");
    fprintf(o, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"11\" fill=\"%s\" text-anchor=\"middle\" "
               "stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\">%s</text>\n", lx, ly, color, label);
}

static void class_text(FILE *o, const char *const *names, int c)
{
    fprintf(o, "class %d", c);
    if (names) {
        fputs(" (", o);
        bp_svg_text(o, names[c]);
        fputc(')', o);
    }
}

bp_status bp_plot_regions_svg(bp_net *net, bp_multiclass *mc, const bp_scaler *scaler, bp_ovr_rule rule,
                              const bp_dataset *d, const char *title, const char *path, bp_error *err)
{
    if (!net == !mc) return bp_err(err, BP_E_ARG, "bp_plot_regions_svg: give a network or a model set");
    bp_net *first = net ? net : bp_multiclass_model(mc, 0);
    const bp_net_spec *s = bp_net_get_spec(first);
    if (s->inputs != 2)
        return bp_err(err, BP_E_SHAPE, "%s has %d input%s: the plane of the regions needs a model of two inputs",
                      title ? title : "the model", s->inputs, bp_s(s->inputs));
    if (d->n < 1 || d->features != 2) return bp_err(err, BP_E_SHAPE, "the data has %d feature%s, the model 2 inputs",
                                                    d->features, bp_s(d->features));
    int k = net ? bp_net_classes(net) : bp_multiclass_classes(mc);
    const char *const *names = net ? bp_net_class_names(net) : bp_multiclass_class_names(mc);
    const bp_scaler *sc = scaler && scaler->features == 2 ? scaler : NULL;
    view v = window_of(d);
    int gx = GRID, gy = (int)lround((double)GRID * v.h / PW);
    double cw = (double)PW / gx, ch = (double)v.h / gy;
    float *pts = bp_malloc((size_t)gx * gy * 2 * sizeof *pts, err);
    int *cls = bp_malloc((size_t)gx * gy * sizeof *cls, err), *dcls = bp_malloc((size_t)d->n * sizeof *dcls, err);
    bp_boundary *b = NULL;
    bp_status st = !pts || !cls || !dcls ? BP_E_NOMEM : BP_OK;
    for (int r = 0; !st && r < gy; r++)   /* row 0 at the top */
        for (int c = 0; c < gx; c++) {
            pts[((size_t)r * gx + c) * 2] = (float)(v.x0 + (c + 0.5) * cw / v.s);
            pts[((size_t)r * gx + c) * 2 + 1] = (float)(v.y1 - (r + 0.5) * ch / v.s);
        }
    if (!st) st = classify(net, mc, sc, rule, pts, gx * gy, cls, err);
    if (!st) st = classify(net, mc, sc, rule, d->x, d->n, dcls, err);
    if (!st && s->nlayers == 1) {   /* a linear model: its lines */
        bp_error e2;
        if (net ? bp_boundary_of_net(net, sc, title, &b, &e2) : bp_boundary_of_multiclass(mc, sc, title, &b, &e2)) b = NULL;
    }
    bp_atomic_file af;
    if (!st) st = bp_atomic_open(&af, path, err);
    if (st) goto done;
    FILE *o = af.fp;
    int W = ML + PW + 24 + LEGEND, H = MT + v.h + MB;
    if (H < MT + 330) H = MT + 330;
    bp_svg_begin(o, W, H, "backprop decision regions");
    fputs("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" "
          "orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"context-stroke\"/></marker>"
          "<clipPath id=\"plot\"><rect x=\"", o);
    fprintf(o, "%d\" y=\"%d\" width=\"%d\" height=\"%d\"/></clipPath></defs>\n", ML, MT, PW, v.h);
    fprintf(o, "<text x=\"%d\" y=\"30\" font-size=\"16\" font-weight=\"bold\">", ML);
    bp_svg_text(o, title ? title : "decision regions");
    fputs("</text>\n<g shape-rendering=\"crispEdges\">\n", o);
    for (int r = 0; r < gy; r++)   /* the regions: runs of one class per row */
        for (int c0 = 0, c1; c0 < gx; c0 = c1) {
            int k0 = cls[(size_t)r * gx + c0];
            for (c1 = c0 + 1; c1 < gx && cls[(size_t)r * gx + c1] == k0; c1++) {}
            fprintf(o, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>\n", ML + c0 * cw,
                    MT + r * ch, (c1 - c0) * cw + 0.05, ch + 0.05, bp_svg_class_tint(k0));
        }
    fputs("</g>\n", o);
    /* axes: ticks and grid over the window */
    bp_axis ax = bp_svg_axis(v.x0, v.x1, 6), ay = bp_svg_axis(v.y0, v.y1, 6);
    char lab[64];
    fputs("<g font-size=\"12\" fill=\"#333\">\n", o);
    for (double t = ceil(v.x0 / ax.step - 1e-9) * ax.step; t <= v.x1 + 1e-9 * ax.step; t += ax.step) {
        bp_svg_tick_label(lab, sizeof lab, t, ax.step, fmax(fabs(v.x0), fabs(v.x1)));
        fprintf(o, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"#ffffff\" stroke-opacity=\"0.6\"/>"
                   "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"#666\"/>"
                   "<text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                SX(&v, t), MT, SX(&v, t), MT + v.h, SX(&v, t), MT + v.h, SX(&v, t), MT + v.h + 5, SX(&v, t),
                MT + v.h + 19, lab);
    }
    for (double t = ceil(v.y0 / ay.step - 1e-9) * ay.step; t <= v.y1 + 1e-9 * ay.step; t += ay.step) {
        bp_svg_tick_label(lab, sizeof lab, t, ay.step, fmax(fabs(v.y0), fabs(v.y1)));
        fprintf(o, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#ffffff\" stroke-opacity=\"0.6\"/>"
                   "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#666\"/>"
                   "<text x=\"%d\" y=\"%.2f\" text-anchor=\"end\">%s</text>\n",
                ML, SY(&v, t), ML + PW, SY(&v, t), ML - 5, SY(&v, t), ML, SY(&v, t), ML - 8, SY(&v, t) + 4, lab);
    }
    fprintf(o, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\">x1</text>\n", ML + PW / 2, MT + v.h + 40);
    fprintf(o, "<text transform=\"translate(18 %d) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">x2</text>\n",
            MT + v.h / 2);
    fputs("</g>\n", o);
    fprintf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#666\"/>\n", ML, MT, PW, v.h);
    /* the lines of a linear model, clipped to the plot */
    fputs("<g clip-path=\"url(#plot)\">\n", o);
    for (int arrows = 0; b && arrows < 2; arrows++) {   /* the lines, then (over them) their normals */
        if (b->kind == BND_BINARY) draw_line(o, &v, b, &b->fn[0], 0, "#222", 0, arrows);
        if (b->kind == BND_SCORES)
            for (int f = b->nscores; f < b->nfn; f++) draw_line(o, &v, b, &b->fn[f], 1, "#222", 0, arrows);
        if (b->kind == BND_OVR)
            for (int f = 0; f < b->nscores; f++)
                draw_line(o, &v, b, &b->fn[f], 0, bp_svg_class_color(b->fn[f].ci), 1, arrows);
        if (b->kind == BND_OVO)
            for (int f = 0; f < b->nfn; f++) draw_line(o, &v, b, &b->fn[f], 0, "#333", 1, arrows);
        if (!arrows) fputs("</g>\n<g>\n", o);
    }
    /* the samples: their true class's colour; a dark ring where the model is wrong */
    long right = 0, labelled = 0;
    for (int i = 0; i < d->n; i++) {
        int t = d->labels ? d->labels[i] : -1, wrong = t >= 0 && t != dcls[i];
        labelled += t >= 0;
        right += t >= 0 && !wrong;
        fprintf(o, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%s\" fill=\"%s\" stroke=\"%s\" stroke-width=\"%s\"/>\n",
                SX(&v, d->x[(size_t)i * 2]), SY(&v, d->x[(size_t)i * 2 + 1]), wrong ? "4.2" : "3.6",
                t >= 0 ? bp_svg_class_color(t) : "#555", wrong ? "#000" : "#fff", wrong ? "2" : "0.8");
    }
    fputs("</g>\n", o);
    /* the legend */
    int lx = ML + PW + 24, ly = MT;
    fprintf(o, "<g font-size=\"12\" fill=\"#222\">\n<text x=\"%d\" y=\"%d\" font-weight=\"bold\">predicted class</text>\n",
            lx, ly + 4);
    for (int c = 0; c < k && c < 30; c++) {
        int y = ly + 16 + 20 * c;
        fprintf(o, "<rect x=\"%d\" y=\"%d\" width=\"22\" height=\"14\" fill=\"%s\" stroke=\"#999\"/>"
                   "<circle cx=\"%d\" cy=\"%d\" r=\"3.6\" fill=\"%s\" stroke=\"#fff\" stroke-width=\"0.8\"/>"
                   "<text x=\"%d\" y=\"%d\">", lx, y, bp_svg_class_tint(c), lx + 11, y + 7, bp_svg_class_color(c),
                lx + 30, y + 11);
        class_text(o, names, c);
        fputs("</text>\n", o);
    }
    int y = ly + 16 + 20 * (k < 30 ? k : 30) + 12;
    fprintf(o, "<text x=\"%d\" y=\"%d\">regions: the model's class</text>\n", lx, y);
    fprintf(o, "<text x=\"%d\" y=\"%d\">dots: the samples' true class</text>\n", lx, y + 17);
    fprintf(o, "<circle cx=\"%d\" cy=\"%d\" r=\"4.2\" fill=\"#999\" stroke=\"#000\" stroke-width=\"2\"/>"
               "<text x=\"%d\" y=\"%d\">misclassified</text>\n", lx + 5, y + 30, lx + 16, y + 34);
    y += 56;
    if (labelled) {
        fprintf(o, "<text x=\"%d\" y=\"%d\">accuracy on the data: %.4f (%ld/%ld)</text>\n", lx, y, (double)right / labelled,
                right, labelled);
        y += 24;
    }
    if (b) {
        static const char *const what[] = {"", "the boundary g = 0", "pairwise boundaries g_i = g_j",
                                           "each class's model: g_k = 0", "each pair's model: g_i,j = 0"};
        fprintf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#222\" stroke-width=\"2.2\"%s/>"
                   "<text x=\"%d\" y=\"%d\">%s</text>\n", lx, y - 4, lx + 24, y - 4,
                b->kind == BND_OVR || b->kind == BND_OVO ? " stroke-dasharray=\"8 5\"" : "", lx + 30, y, what[b->kind]);
        fprintf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#222\" stroke-width=\"2\" "
                   "marker-end=\"url(#arrow)\"/><text x=\"%d\" y=\"%d\">unit normal, towards g &gt; 0</text>\n",
                lx, y + 16, lx + 24, y + 16, lx + 30, y + 20);
    } else if (s->nlayers > 1) {
        fprintf(o, "<text x=\"%d\" y=\"%d\">%d hidden layer%s: the boundary</text>"
                   "<text x=\"%d\" y=\"%d\">is where the regions meet</text>\n", lx, y, s->nlayers - 1,
                s->nlayers == 2 ? "" : "s", lx, y + 16);
    }
    fputs("</g>\n</svg>\n", o);
    st = bp_atomic_commit(&af, err);
done:
    bp_boundary_free(b);
    free(pts);
    free(cls);
    free(dcls);
    return st;
}
