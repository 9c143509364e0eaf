/* data/dataset.h - what the dataset readers (csv.c, idx.c) share with the
 * container (dataset.c). The dataset API itself is public: see the Datasets
 * section of backprop.h. Not part of the public API. */
#ifndef BP_DATA_DATASET_H
#define BP_DATA_DATASET_H

#include "core/error.h"

/* The most entries one-hot targets may have (1 GiB of floats). */
#define BP_MAX_ONE_HOT (1 << 28)

/* One-hot rows from d->labels: d->y (n x k) = 0 except y[i][labels[i]] = 1;
 * sets outputs and nclasses to k. */
bp_status bp_dataset_one_hot(bp_dataset *d, int k, bp_error *err);

#endif
