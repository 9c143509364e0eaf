/* nn/multiclass.h - the layout of a one-vs-rest / one-vs-one model set
 * (multiclass.c) and its combination rule, shared with its file format
 * (io/model_st.c) and the boundaries of its models (teach/boundary.c). Users
 * see only the opaque bp_multiclass. Not part of the public API. */
#ifndef BP_NN_MULTICLASS_H
#define BP_NN_MULTICLASS_H

#include "core/error.h"

struct bp_multiclass {
    bp_multiclass_scheme scheme;
    int k;                 /* classes                                          */
    int nmodels;           /* k (ovr) or k(k-1)/2 (ovo)                        */
    bp_net **nets;         /* owned, one sigmoid output each                   */
    int *pos, *neg;        /* each model's classes; neg -1: the rest (ovr)     */
    char **class_names;    /* k names in one block (bp_strings_copy), or NULL  */
};

/* The class of one sample from its models' outputs p[m] (the probability of
 * model m's positive class) and, for the distance rule, their signed
 * distances dist[m] (NULL: the score rule); the rule of backprop.h.
 * scratch: 2k doubles. *conf (may be NULL) receives the winner's output or
 * distance (ovr) or its share of the votes (ovo). */
int bp_mc_combine(bp_multiclass_scheme scheme, int k, int nmodels, const int *pos, const int *neg, const double *p,
                  const double *dist, double *scratch, double *conf);

#endif
