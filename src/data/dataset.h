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

/* Keep only the rows i of d with i % count == index (count > 1), in place:
 * one process's share of the data. BP_E_VALUE when none is left (named
 * `path` in the message). */
bp_status bp_dataset_keep_shard(bp_dataset *d, int index, int count, const char *path, bp_error *err);

/* d->class_names = a copy of the k names, kept in d->names_owned (freed with
 * d; any earlier names replaced). */
bp_status bp_dataset_set_names(bp_dataset *d, const char *const *names, int k, bp_error *err);

/* What is wrong with a class name of len bytes at s ("is empty", "holds a
 * line break or a control character", ...), or NULL when it is a good one:
 * 1..BP_MAX_CLASS_NAME bytes of UTF-8, no control characters. */
#define BP_MAX_CLASS_NAME 100
const char *bp_class_name_problem(const char *s, size_t len);

#endif
