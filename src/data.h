/* data.h - datasets: CSV and IDX (MNIST) loading, named datasets, feature
 * standardisation, shuffling and splitting.
 *
 * Internal for now; written to public-API standard so the declarations can
 * move into backprop.h unchanged.  The conventions of backprop.h hold: every
 * fallible function returns a bp_status and fills `err` (may be NULL) with one
 * line naming the file, the place and the problem; nothing prints or exits.
 *
 * Ownership: a bp_dataset filled by a *_load, bp_dataset_named,
 * bp_dataset_split or bp_dataset_subset owns its arrays; release them with
 * bp_dataset_free.  Those functions overwrite `*out` without freeing it, and
 * on failure leave it zeroed (so bp_dataset_free on it is always safe).
 */
#ifndef BP_DATA_H
#define BP_DATA_H

#include "backprop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Datasets                                                                  */
/* ------------------------------------------------------------------------ */

/* n samples in memory, one per row.  A zero-initialised bp_dataset is an
 * empty dataset. */
typedef struct bp_dataset {
    int n;            /* number of samples                                   */
    int features;     /* columns of x                                        */
    int outputs;      /* columns of y; 0 when there are no targets           */
    int nclasses;     /* classification: K (labels 0..K-1, outputs == K);
                         0 for regression or unlabeled data                  */
    float *x;         /* n x features, row-major                             */
    float *y;         /* n x outputs targets (one-hot when classifying); NULL
                         when outputs == 0                                   */
    int *labels;      /* n class indices; NULL unless classifying            */
    const char *const *class_names; /* nclasses static names, or NULL; never
                                       owned (bp_dataset_free leaves it)     */
} bp_dataset;

/* Free the arrays of `d` (which may be NULL or zeroed) and zero it. */
void bp_dataset_free(bp_dataset *d);

/* Row views (BP_F32, no ownership) of samples [start, start + count) of x and
 * y, e.g. for a minibatch; valid until `d` is freed or changed.  The y view
 * has rows == 0 when the dataset has no targets.  start and count must lie
 * within 0..n (not checked). */
bp_mat bp_dataset_x(const bp_dataset *d, int start, int count);
bp_mat bp_dataset_y(const bp_dataset *d, int start, int count);

/* ------------------------------------------------------------------------ */
/* CSV                                                                       */
/* ------------------------------------------------------------------------ */

typedef enum bp_csv_header {
    BP_CSV_HEADER_AUTO = 0, /* a header iff the first row has a non-number   */
    BP_CSV_HEADER_YES,      /* the first row is a header: skip it            */
    BP_CSV_HEADER_NO        /* every row is data                             */
} bp_csv_header;

typedef enum bp_csv_target {
    BP_CSV_CLASSES = 0,  /* label column = class index 0..K-1 -> labels and
                            one-hot y                                        */
    BP_CSV_REGRESSION,   /* target column(s) copied to y as numbers          */
    BP_CSV_UNLABELED     /* no targets: every column is a feature            */
} bp_csv_target;

typedef struct bp_csv_options {
    bp_csv_header header;
    bp_csv_target target;
    int label_col;   /* first target column, 0-based; negative counts from
                        the end (-1 = last).  Ignored when UNLABELED.        */
    int ntargets;    /* REGRESSION: target columns label_col ..
                        label_col + ntargets - 1 (0 means 1)                 */
    int nclasses;    /* CLASSES: K; 0 = (largest label) + 1.  With K given,
                        a label >= K is an error.                            */
    char delim;      /* field separator; 0 means ','                         */
} bp_csv_options;

/* The defaults: header auto-detected, classification, label in the last
 * column, K from the data, comma-separated. */
void bp_csv_options_init(bp_csv_options *opt);

/* Load a numeric CSV file into a new dataset owned by the caller (`opt` NULL
 * means the defaults).  Rows are separated by LF or CRLF; the last newline is
 * optional; blank lines are skipped; spaces around a field are ignored;
 * quoted fields are not supported.  Every row must have as many fields as the
 * first; values must be finite numbers (float32 range).  Errors name the file
 * and place, e.g. "d.csv:3:7: field 2: expected a number, got 'abc'" (line and
 * 1-based character column) or "d.csv:12: expected 5 fields, got 4". */
bp_status bp_csv_load(const char *path, const bp_csv_options *opt, bp_dataset *out,
                      bp_error *err);

/* ------------------------------------------------------------------------ */
/* IDX (the MNIST format)                                                    */
/* ------------------------------------------------------------------------ */

/* Load IDX images (magic 0x00000803: unsigned bytes, dims n x rows x cols,
 * big-endian) and optionally labels (magic 0x00000801: n unsigned bytes;
 * `labels_path` may be NULL for unlabeled images).  Either file may be
 * gzip-compressed (detected by its magic bytes).  x receives the pixels / 255
 * as n x (rows*cols) floats; with labels, y is one-hot with
 * nclasses = max(10, largest label + 1).  Errors name the file and a byte
 * offset or record index: bad magic, zero dims, truncated or over-long data,
 * image/label count mismatch. */
bp_status bp_idx_load(const char *images_path, const char *labels_path, bp_dataset *out,
                      bp_error *err);

/* ------------------------------------------------------------------------ */
/* Named datasets                                                            */
/* ------------------------------------------------------------------------ */

/* Load a well-known dataset by name: "fashion-mnist" (60000 training or 10000
 * test images of 28x28 = 784 pixels, 10 classes, with class names), read from
 * DIR/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz where DIR
 * is $BACKPROP_DATA_DIR if set, else /usr/share/datasets (the Debian package
 * dataset-fashion-mnist).  test_split != 0 selects the test (t10k) split.
 * Labels must be 0..9. */
bp_status bp_dataset_named(const char *name, int test_split, bp_dataset *out, bp_error *err);

/* ------------------------------------------------------------------------ */
/* Standardisation                                                           */
/* ------------------------------------------------------------------------ */

/* Per-feature mean and standard deviation, fitted on one dataset (the training
 * split) and applied to any dataset with the same number of features. */
typedef struct bp_scaler {
    int features;
    float *mean;   /* features values, owned */
    float *std;    /* features values, owned; a constant column has std 1 */
} bp_scaler;

/* Fit `s` (overwritten, not freed; owned by the caller afterwards) to the x of
 * `d` (n >= 1): mean and population standard deviation (divide by n),
 * computed in double. */
bp_status bp_scaler_fit(bp_scaler *s, const bp_dataset *d, bp_error *err);
/* x[i][j] = (x[i][j] - mean[j]) / std[j] in place.  BP_E_SHAPE if the feature
 * counts differ. */
bp_status bp_scaler_apply(const bp_scaler *s, bp_dataset *d, bp_error *err);
/* Free the arrays of `s` (may be NULL or zeroed) and zero it. */
void bp_scaler_free(bp_scaler *s);

/* ------------------------------------------------------------------------ */
/* Shuffling, splitting, subsets                                             */
/* ------------------------------------------------------------------------ */

/* Fill perm[0..n) with a uniformly random permutation of 0..n-1
 * (Fisher-Yates, deterministic in `seed`). */
void bp_permutation(int *perm, int n, uint64_t seed);

/* Shuffle the samples of `d` in place (rows of x and y and the labels move
 * together).  Deterministic in `seed`: the sample that ends at position i is
 * the one that was at bp_permutation(.., seed)[i].  Needs no memory. */
void bp_dataset_shuffle(bp_dataset *d, uint64_t seed);

/* Copy samples [start, start + count) of `d` into a new dataset `out` owned by
 * the caller.  BP_E_ARG if the range is outside 0..n. */
bp_status bp_dataset_subset(const bp_dataset *d, int start, int count, bp_dataset *out,
                            bp_error *err);

/* Split `all` into copies: `val` gets the last round(n * val_fraction)
 * samples, `train` the rest (shuffle first for a random split).  0 <=
 * val_fraction < 1 and train must keep at least one sample.  Both outputs
 * belong to the caller; `all` is unchanged. */
bp_status bp_dataset_split(const bp_dataset *all, double val_fraction, bp_dataset *train,
                           bp_dataset *val, bp_error *err);

#ifdef __cplusplus
}
#endif
#endif /* BP_DATA_H */
