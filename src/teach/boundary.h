/* teach/boundary.h - linear decision boundaries (boundary.c) and what their
 * reports (boundary_report.c), the regions plot (boundary_plot.c) and the
 * model sets of one-vs-rest / one-vs-one share. Users see only the opaque
 * bp_boundary of backprop.h. Not part of the public API. */
#ifndef BP_TEACH_BOUNDARY_H
#define BP_TEACH_BOUNDARY_H

#include "core/error.h"

/* Where the functions come from, which decides the predicted class of a point. */
typedef enum bnd_kind {
    BND_EXPR = 0,   /* one expression g                                          */
    BND_BINARY,     /* one output unit: class 1 iff g >= 0                       */
    BND_SCORES,     /* k class scores g_k (the largest wins), then the pairs     */
    BND_OVR,        /* one-vs-rest: g_k of class k against the rest, then pairs  */
    BND_OVO         /* one-vs-one: g_ij, positive side class i, negative class j */
} bnd_kind;

#define BND_NAME 272   /* two class labels of 127 bytes and " vs " */

/* One function g(x) = theta0 + theta . x; ci, cj the classes it speaks of
 * (class score: ci; pair: ci positive side, cj negative; -1 where none). */
typedef struct bnd_fn {
    char name[BND_NAME];   /* what it is: "class 0 (setosa)", "class 0 against class 1" */
    char sym[48];          /* how it is written: "g", "g_0", "g_0 - g_1", "g_0,1" */
    int ci, cj;
    double theta0, *theta;
} bnd_fn;

struct bp_boundary {
    int n;                 /* variables                                   */
    char **vars;           /* their names, theta's order                  */
    int nfn;
    bnd_fn *fn;
    bnd_kind kind;
    int nscores;           /* BND_SCORES, BND_OVR: the first nscores fns are the classes' */
    int nclasses;
    char **class_names;    /* nclasses, or NULL                           */
    double *pts;           /* npts x n: the points of --at                */
    int npts;
    struct bp_expr *vx;    /* parses the points                           */
    char *text;            /* the expression as given (BND_EXPR)          */
    char *note;            /* where the functions come from, or NULL      */
};

/* A boundary of n variables with no functions yet. */
bp_boundary *bp_bnd_new(int n, bp_error *err);
/* Add a function (theta copied). */
bp_status bp_bnd_add(bp_boundary *b, const char *name, const char *sym, int ci, int cj, double theta0,
                     const double *theta, bp_error *err);
/* The variables x1..xn. */
bp_status bp_bnd_name_inputs(bp_boundary *b, bp_error *err);
/* k classes, with their names (copied; may be NULL). */
bp_status bp_bnd_set_classes(bp_boundary *b, int k, const char *const *names, bp_error *err);
/* The pairwise boundaries g_i - g_j (i < j) of the first k functions. */
bp_status bp_bnd_add_pairs(bp_boundary *b, int k, bp_error *err);
/* |theta| of a function. */
double bp_bnd_norm(const bnd_fn *f, int n);
/* The class of point x by the boundary's rule (BND_EXPR: -1); with
 * distance_rule, one-vs-rest takes the largest g_k / |theta_k|. */
int bp_bnd_predict(const bp_boundary *b, const double *x, int distance_rule);

#endif
