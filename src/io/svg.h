/* io/svg.h - what the SVG pictures share (svg.c): the file's head, axes with
 * "nice" ticks, text escaped for XML, the class colours and a diverging
 * colour scale. Used by the training curves (plot.c), the weight templates
 * (plot_weights.c) and the decision regions (teach/boundary_plot.c). Not part
 * of the public API. */
#ifndef BP_IO_SVG_H
#define BP_IO_SVG_H

#include "core/error.h"
#include <stdio.h>

typedef struct bp_axis { double lo, hi, step; } bp_axis;

/* A "nice" step (1, 2 or 5 times a power of ten) giving about `ticks` ticks. */
double bp_svg_nice_step(double range, int ticks);
/* An axis over [lo, hi] widened to whole steps (a point range widened first). */
bp_axis bp_svg_axis(double lo, double hi, int ticks);
/* Tick label of v on an axis with step `step` whose largest magnitude is
 * amax: fixed decimals, or short scientific notation (3.5e-4). */
void bp_svg_tick_label(char *buf, size_t size, double v, double step, double amax);
/* The XML declaration, <svg> of w x h with a white background, <title>. */
void bp_svg_begin(FILE *f, int w, int h, const char *title);
/* s with & < > " escaped (for text and attribute values). */
void bp_svg_text(FILE *f, const char *s);
/* Class c's colour ("#1f77b4", ...; ten, then again) and a light tint of it
 * for regions. */
const char *bp_svg_class_color(int c);
const char *bp_svg_class_tint(int c);
/* A diverging colour for t in [-1, 1]: blue (-1), white (0), red (1), as
 * "#rrggbb" into buf (8 bytes). */
const char *bp_svg_diverging(char buf[8], double t);

#endif
