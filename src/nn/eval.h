/* nn/eval.h - the one scoring rule of training and evaluation (eval.c), for
 * the trainer's running accuracy; its validation pass is bp_evaluate itself.
 * Not part of the public API.
 *
 * A dataset is scored as classes exactly when it has class labels
 * (nclasses > 0 and labels): the predicted class of an output row is its
 * first largest output, or for a single output unit 1 iff the output is
 * >= 0.5, whatever the loss; data without labels (regression, or --regression
 * targets that happen to be 0 and 1) has no accuracy, only MSE and MAE. */
#ifndef BP_NN_EVAL_H
#define BP_NN_EVAL_H

#include "core/error.h"

/* Is d scored as classes? */
static inline int bp_dataset_classifies(const bp_dataset *d) { return d->nclasses > 0 && d->labels != NULL; }

/* The class predicted by row i of the outputs a. */
int bp_predicted_class(const bp_mat *a, int i);

/* Rows i in 0..m-1 of the outputs a whose predicted class is the label of
 * sample rows[i] (rows NULL: sample i). */
long bp_count_correct(const bp_mat *a, const int *labels, const int *rows, int m);

/* The metrics of n predicted classes against their labels (k classes):
 * accuracy, per-class accuracy, confusion matrix; loss, mse, mae NaN. */
bp_status bp_metrics_of_classes(const int *labels, const int *pred, int n, int k, bp_metrics *out, bp_error *err);

#endif
