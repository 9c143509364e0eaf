/* io/svg.c - the pieces every SVG picture of backprop shares (svg.h). */
#include "io/svg.h"

#include <math.h>
#include <string.h>

double bp_svg_nice_step(double range, int ticks)
{
    double raw = range / ticks, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

bp_axis bp_svg_axis(double lo, double hi, int ticks)
{
    if (hi - lo < 1e-12 * (fabs(hi) + 1)) {
        double pad = fabs(lo) > 1e-12 ? fabs(lo) * 0.1 : 0.5;
        lo -= pad;
        hi += pad;
    }
    bp_axis a = {0, 0, bp_svg_nice_step(hi - lo, ticks)};
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
    return a;
}

void bp_svg_tick_label(char *buf, size_t size, double v, double step, double amax)
{
    if (fabs(v) < step * 1e-6) v = 0;
    if (amax < 1e-3 || amax >= 1e5) {
        int x = v ? (int)floor(log10(fabs(v)) + 1e-9) : 0;
        if (v) snprintf(buf, size, "%.3ge%d", v / pow(10, x), x);
        else snprintf(buf, size, "0");
        return;
    }
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, size, "%.*f", dec > 6 ? 6 : dec, v);
}

void bp_svg_begin(FILE *f, int w, int h, const char *title)
{
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n<title>",
            w, h, w, h);
    bp_svg_text(f, title);
    fputs("</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n", f);
}

void bp_svg_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* The ten colours of matplotlib's "tab10", and tints of them (mixed 70% with white). */
static const char *const COLORS[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                       "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
static const char *const TINTS[10] = {"#bcd6e8", "#ffd8b6", "#bfe2bf", "#f2bebe", "#dfd1eb",
                                      "#ddcdca", "#f7d6ed", "#d8d8d8", "#ebebbc", "#b9ebf0"};
const char *bp_svg_class_color(int c) { return COLORS[(c % 10 + 10) % 10]; }
const char *bp_svg_class_tint(int c) { return TINTS[(c % 10 + 10) % 10]; }

const char *bp_svg_diverging(char buf[8], double t)
{
    /* white to #b2182b (red) for t > 0, to #2166ac (blue) for t < 0 */
    if (!(t == t)) t = 0;
    if (t > 1) t = 1;
    if (t < -1) t = -1;
    double r = 255, g = 255, b = 255, a = fabs(t);
    if (t > 0) { r += a * (0xb2 - 255); g += a * (0x18 - 255); b += a * (0x2b - 255); }
    else { r += a * (0x21 - 255); g += a * (0x66 - 255); b += a * (0xac - 255); }
    snprintf(buf, 8, "#%02x%02x%02x", (int)lround(r), (int)lround(g), (int)lround(b));
    return buf;
}
