/*
 * backprop.h - the public API of libbackprop.
 *
 * libbackprop trains neural networks by backpropagation: a reverse-mode
 * autodiff graph of ops (matrix product, bias add, activations, losses),
 * multi-layer networks built on that graph, and the files they are read
 * from and written to.  The `backprop` command-line tool is a thin layer
 * over exactly this API.
 *
 * Conventions (the same in every function below):
 *  - Errors are values.  Every fallible function returns a bp_status and, on
 *    failure, fills the caller's bp_error (which may be NULL) with one line
 *    that names the user's file, the place in it and the problem.  The library
 *    never prints to stdout/stderr and never exits; functions that produce
 *    human-readable reports write only to the FILE* the caller passes.
 *  - Ownership: an object returned through an `out` pointer by a *_new, *_load
 *    or *_parse function belongs to the caller, who releases it with the
 *    matching *_free (which accepts NULL).  bp_mat values returned by accessors
 *    are views into memory owned by the object they came from; they stay valid
 *    until that object is freed or changed by a later call on it.
 *  - Matrices are dense, row-major; a row is one sample.
 *  - Thread safety: distinct objects may be used from distinct threads; one
 *    object must not be used by two threads at once.
 */
#ifndef BACKPROP_H
#define BACKPROP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BP_VERSION "0.1.0"

/* BP_API marks the functions of this header: the only symbols the shared
 * library exports (it is built with -fvisibility=hidden). */
#if defined(__GNUC__) && defined(BP_BUILDING_SHARED)
#define BP_API __attribute__((visibility("default")))
#else
#define BP_API
#endif

/* ------------------------------------------------------------------------ */
/* Status and errors                                                         */
/* ------------------------------------------------------------------------ */

typedef enum bp_status {
    BP_OK = 0,
    BP_E_ARG,         /* invalid argument from the caller                    */
    BP_E_IO,          /* a file could not be opened, read or written         */
    BP_E_PARSE,       /* malformed text (JSON, CSV, expression)              */
    BP_E_SHAPE,       /* dimensions that do not fit together                 */
    BP_E_VALUE,       /* a value out of range: NaN, Inf, unknown name, ...   */
    BP_E_NOMEM,       /* allocation failed                                   */
    BP_E_DOMAIN,      /* a math function outside its domain (log of x <= 0)  */
    BP_E_FORMAT,      /* a binary file that is damaged or not ours           */
    BP_E_DIVERGED,    /* training produced NaN or Inf                        */
    BP_E_INTERRUPTED  /* stopped on request (Ctrl-C)                         */
} bp_status;

#define BP_ERROR_MAX 1024

/* One error: the status and a single line of text without a trailing newline. */
typedef struct bp_error {
    bp_status status;
    char msg[BP_ERROR_MAX];
} bp_error;

/* Short lowercase name of a status ("ok", "parse error", ...). Never NULL. */
BP_API const char *bp_status_name(bp_status s);

/* ------------------------------------------------------------------------ */
/* Element types and matrix views                                            */
/* ------------------------------------------------------------------------ */

typedef enum bp_dtype { BP_F32 = 0, BP_F64 = 1 } bp_dtype;

/* "f32" / "f64". */
BP_API const char *bp_dtype_name(bp_dtype t);

/* A dense row-major matrix: rows x cols elements of `dtype` at `data`.
 * A view never owns its data.  rows == 0 means "absent" (e.g. no bias). */
typedef struct bp_mat {
    int rows, cols;
    bp_dtype dtype;
    void *data;
} bp_mat;

/* Element (i, j) of a view, converted to double. */
BP_API double bp_mat_get(const bp_mat *m, int i, int j);
/* Store v at (i, j) of a view, converted to the view's dtype. */
BP_API void bp_mat_set(bp_mat *m, int i, int j, double v);

/* ------------------------------------------------------------------------ */
/* Graph: reverse-mode automatic differentiation                             */
/* ------------------------------------------------------------------------ */
/*
 * A graph is a list of nodes in creation order; since a node's inputs must
 * exist before it, that order is topological.  bp_graph_forward evaluates the
 * nodes in order; bp_graph_backward zeroes every gradient, seeds the root with
 * ones and calls each node's backward function in reverse order; backward
 * functions accumulate (+=) into their inputs' gradients, so a node used twice
 * (fan-out) receives the sum of both paths.
 *
 * Nodes are small integers (bp_node); a function that creates a node returns
 * it, or -1 on error with `err` filled.  Shapes are checked when a node is
 * created.
 */

typedef struct bp_graph bp_graph;
typedef int bp_node;

typedef enum bp_op {
    BP_OP_LEAF = 0,     /* a value set by the caller (input, parameter, constant) */
    BP_OP_MATMUL,       /* C = op(A) op(B), op = identity or transpose          */
    BP_OP_BIAS_ADD,     /* Z[i][j] = X[i][j] + b[j]   (b is 1 x n)              */
    BP_OP_ADD,          /* a + b                                                */
    BP_OP_SUB,          /* a - b                                                */
    BP_OP_MUL,          /* a * b   (elementwise, the Hadamard product)          */
    BP_OP_DIV,          /* a / b                                                */
    BP_OP_MAX,          /* max(a, b) elementwise                                */
    BP_OP_MIN,          /* min(a, b) elementwise                                */
    BP_OP_NEG,          /* -a                                                   */
    BP_OP_SCALE,        /* c * a, c a constant                                  */
    BP_OP_SQUARE,       /* a^2                                                  */
    BP_OP_POW,          /* a^p, p a constant                                    */
    BP_OP_EXP,          /* e^a                                                  */
    BP_OP_LOG,          /* ln a                                                 */
    BP_OP_SQRT,         /* sqrt a                                               */
    BP_OP_ABS,          /* |a|                                                  */
    BP_OP_SIGMOID,      /* 1 / (1 + e^-a)                                       */
    BP_OP_RELU,         /* max(a, 0)                                            */
    BP_OP_TANH,         /* tanh a                                               */
    BP_OP_SOFTMAX,      /* row-wise e^a_j / sum_k e^a_k                         */
    BP_OP_SUM,          /* sum of all elements (1 x 1)                          */
    BP_OP_MEAN,         /* mean of all elements (1 x 1)                         */
    BP_OP_SOFTMAX_CE,   /* sum_i -sum_j y_ij log softmax(z_i)_j  (fused, stable) */
    BP_OP_SIGMOID_BCE,  /* sum -[y log s(z) + (1-y) log(1-s(z))] (fused, stable) */
    BP_OP_STEP,         /* 1 where a > 0, else 0; its derivative is 0            */
    BP_OP_ZERO_ONE,     /* the number of rows whose class differs (a = outputs,
                           b = targets; 1 x 1); its derivative is 0             */
    BP_OP_PREPEND_ONE,  /* [1, a]: a column of ones before the columns of a (the bias trick) */
    BP_OP_TRANSPOSE,    /* a^T                                                  */
    BP_OP_BROADCAST,    /* a (1 x 1, 1 x n or m x 1) repeated to m x n          */
    BP_OP_ROWSUM,       /* the sum of each row (m x 1)                          */
    BP_OP_COLSUM,       /* the sum of each column (1 x n)                       */
    BP_OP_ENTRY,        /* the entry (i, j) of a (1 x 1)                        */
    BP_OP_GT,           /* 1 where a > b, else 0 (gradient 0)                   */
    BP_OP_GE,           /* 1 where a >= b, else 0 (gradient 0)                  */
    BP_OP_VCAT,         /* [a; b]: b's rows below a's                           */
    BP_OP_HCAT,         /* [a b]: b's columns right of a's                      */
    BP_OP_COUNT
} bp_op;

/* Name of an op ("matmul", "sigmoid", ...). */
BP_API const char *bp_op_name(bp_op op);

/* New empty graph whose values have element type `dtype`. NULL if out of memory. */
BP_API bp_graph *bp_graph_new(bp_dtype dtype);
BP_API void bp_graph_free(bp_graph *g);
BP_API bp_dtype bp_graph_dtype(const bp_graph *g);
/* Number of nodes created so far. */
BP_API int bp_graph_size(const bp_graph *g);

/* A leaf of rows x cols elements, zero-filled, owned by the graph.
 * With requires_grad, backward computes d(root)/d(leaf). `name` is copied
 * (may be NULL) and is used in messages and drawings. */
BP_API bp_node bp_graph_leaf(bp_graph *g, int rows, int cols, int requires_grad,
                      const char *name, bp_error *err);
/* A leaf whose value (and, if `grad` is not NULL, gradient) live in memory the
 * caller owns and keeps alive as long as the graph; used for parameters kept
 * in one contiguous block. */
BP_API bp_node bp_graph_leaf_view(bp_graph *g, int rows, int cols, void *data, void *grad,
                           const char *name, bp_error *err);

/* Unary op (NEG, SQUARE, EXP, LOG, SQRT, ABS, SIGMOID, RELU, TANH, SOFTMAX, SUM, MEAN,
 * STEP, PREPEND_ONE: m x n -> m x (n + 1), TRANSPOSE, ROWSUM, COLSUM). */
BP_API bp_node bp_op_unary(bp_graph *g, bp_op op, bp_node a, bp_error *err);
/* Binary elementwise op on equal shapes (ADD, SUB, MUL, DIV, MAX, MIN, GT, GE),
 * or BIAS_ADD (a: m x n, b: 1 x n), or a fused loss (SOFTMAX_CE, SIGMOID_BCE:
 * a = logits z, b = targets y of the same shape; result 1 x 1), or ZERO_ONE
 * (a = outputs, b = targets of the same shape; result 1 x 1: the rows whose
 * class differs, the class of a row being its first largest entry, or, for one
 * column, 1 iff the entry is >= 0.5), or a concatenation (VCAT: equal column
 * counts; HCAT: equal row counts). */
BP_API bp_node bp_op_binary(bp_graph *g, bp_op op, bp_node a, bp_node b, bp_error *err);
/* op(a) op(b) where op transposes when the flag is set. */
BP_API bp_node bp_op_matmul(bp_graph *g, bp_node a, bp_node b, int trans_a, int trans_b,
                     bp_error *err);
/* c * a. */
BP_API bp_node bp_op_scale(bp_graph *g, bp_node a, double c, bp_error *err);
/* a ^ p. */
BP_API bp_node bp_op_pow(bp_graph *g, bp_node a, double p, bp_error *err);
/* a repeated to rows x cols: a 1 x 1 a everywhere, a 1 x cols a in every row,
 * a rows x 1 a in every column (BP_E_SHAPE otherwise). */
BP_API bp_node bp_op_broadcast(bp_graph *g, bp_node a, int rows, int cols, bp_error *err);
/* The entry (i, j) of a, as a 1 x 1 node (0-based; BP_E_SHAPE outside a). */
BP_API bp_node bp_op_entry(bp_graph *g, bp_node a, int i, int j, bp_error *err);

/* Evaluate every node in order. A domain error (log of a non-positive value,
 * sqrt of a negative, division by zero, a non-integer power of a negative)
 * stops with BP_E_DOMAIN naming the node. */
BP_API bp_status bp_graph_forward(bp_graph *g, bp_error *err);
/* Gradients of `root` (its gradient seeded with ones) with respect to every
 * node that requires one. Call after bp_graph_forward. */
BP_API bp_status bp_graph_backward(bp_graph *g, bp_node root, bp_error *err);

/* Views of a node's value and gradient (gradient rows == 0 if none). */
BP_API bp_mat bp_graph_value(const bp_graph *g, bp_node n);
BP_API bp_mat bp_graph_grad(const bp_graph *g, bp_node n);
/* A node's op, inputs (up to 2; -1 where absent), name (may be NULL) and
 * constant (the c of SCALE, the p of POW). */
BP_API bp_op bp_graph_node_op(const bp_graph *g, bp_node n);
BP_API void bp_graph_node_inputs(const bp_graph *g, bp_node n, bp_node in[2]);
BP_API const char *bp_graph_node_name(const bp_graph *g, bp_node n);
BP_API double bp_graph_node_const(const bp_graph *g, bp_node n);
/* Does backward compute a gradient for this node? */
BP_API int bp_graph_node_requires_grad(const bp_graph *g, bp_node n);

/* ---- conventions at kinks ------------------------------------------------ */
/*
 * Where a function has no derivative (ReLU at 0, max and min where their
 * arguments are equal), backward uses a convention.  The defaults are
 * PyTorch's (torch 1.13): relu'(0) = 0, and a tie of max(a, b) or min(a, b)
 * sends half of the gradient to each argument.  The other choices: relu'(0)
 * = 1 (the z >= 0 of the course notes "HW Backprop"; in PyTorch,
 * torch.clamp(z, min=0)), and a tie sending the whole gradient to the first
 * argument (in PyTorch, torch.where(a >= b, a, b)).  Either gives a valid
 * subgradient; they differ only at the kinks themselves.  |a| always has
 * derivative 0 at 0 (as PyTorch).
 *
 * A zeroed bp_kinks is the default.  A graph, a network (all its passes, the
 * fused training step included) and an expression each carry their own
 * setting; nothing is global.
 */
typedef enum bp_tie {
    BP_TIE_HALF = 0,   /* half of the gradient to each argument (PyTorch)   */
    BP_TIE_FIRST       /* all of it to the first argument                   */
} bp_tie;

typedef struct bp_kinks {
    int relu_at_zero;  /* relu'(0): 0 (default, PyTorch) or 1               */
    bp_tie tie;        /* max/min at a tie                                  */
} bp_kinks;

/* "half" / "first". */
BP_API const char *bp_tie_name(bp_tie t);
/* Parse "half" or "first"; return 0 and set *out, or -1 if unknown. */
BP_API int bp_tie_parse(const char *s, bp_tie *out);

/* The graph's convention (a new graph has the default); it applies to every
 * later bp_graph_backward.  k NULL: the default. */
BP_API void bp_graph_set_kinks(bp_graph *g, const bp_kinks *k);
BP_API bp_kinks bp_graph_kinks(const bp_graph *g);

/* ------------------------------------------------------------------------ */
/* Networks                                                                  */
/* ------------------------------------------------------------------------ */

/* step: 1 where z > 0, else 0 (the perceptron's threshold unit); its
 * derivative is 0 wherever it exists, so no gradient passes it: a network
 * with a step unit cannot be trained by gradient descent (bp_trainer_new
 * refuses it), but grad, explain and step show it. */
typedef enum bp_act {
    BP_ACT_LINEAR = 0, BP_ACT_SIGMOID, BP_ACT_RELU, BP_ACT_TANH, BP_ACT_SOFTMAX, BP_ACT_STEP
} bp_act;

typedef enum bp_loss {
    BP_LOSS_NONE = 0,      /* no loss: inference only                         */
    BP_LOSS_SQUARED,       /* sum_k (yhat_k - y_k)^2 per sample               */
    BP_LOSS_HALF_SQUARED,  /* 1/2 sum_k (yhat_k - y_k)^2 per sample           */
    BP_LOSS_BCE,           /* -sum_k [y log yhat + (1-y) log(1-yhat)]; sigmoid */
    BP_LOSS_CE,            /* -sum_k y_k log yhat_k; softmax output           */
    BP_LOSS_ZERO_ONE       /* 1 if the sample is misclassified, else 0 (the
                              empirical error: the class is the first largest
                              output, or 1 iff the single output is >= 0.5; the
                              same for the target); piecewise constant, so its
                              gradient is 0: not for training                */
} bp_loss;

typedef enum bp_reduction { BP_MEAN = 0, BP_SUM } bp_reduction;

/* out_in: W is units x fan_in, z = a W^T + b (PyTorch nn.Linear; column
 * convention W a + b). in_out: W is fan_in x units, z = a W + b. */
typedef enum bp_layout { BP_OUT_IN = 0, BP_IN_OUT } bp_layout;

typedef enum bp_init { BP_INIT_SMALL_UNIFORM = 0, BP_INIT_XAVIER, BP_INIT_HE } bp_init;

BP_API const char *bp_act_name(bp_act a);          /* "sigmoid", ...      */
BP_API const char *bp_loss_name(bp_loss l);        /* "cross_entropy", ... */
BP_API const char *bp_reduction_name(bp_reduction r);
BP_API const char *bp_layout_name(bp_layout l);
BP_API const char *bp_init_name(bp_init i);
/* Parse a name; return 0 and set *out, or -1 if unknown. */
BP_API int bp_act_parse(const char *s, bp_act *out);
BP_API int bp_loss_parse(const char *s, bp_loss *out);
BP_API int bp_reduction_parse(const char *s, bp_reduction *out);
BP_API int bp_layout_parse(const char *s, bp_layout *out);
BP_API int bp_init_parse(const char *s, bp_init *out);

typedef struct bp_layer_spec {
    int units;
    bp_act act;
    int bias;          /* 1: z = ... + b; 0: no separate bias */
    int bias_trick;    /* 1 ("bias": "trick" in a model file): the bias is W's
                          first column (out_in: W is units x (1 + fan_in)) or
                          first row (in_out: (1 + fan_in) x units) and the
                          layer computes z = [1, a^[l-1]] W^T (or [1, a^[l-1]] W):
                          the values of a layer with a separate b equal to
                          that column. bias must then be 0. */
} bp_layer_spec;

#define BP_MAX_LAYERS 64
/* The most parameters (weights and biases) a network may have: 2^28, 1 GiB in f32. */
#define BP_MAX_PARAMS (1L << 28)

/* The shape of a network: everything but its numbers. */
typedef struct bp_net_spec {
    int inputs;
    int nlayers;
    bp_layer_spec layers[BP_MAX_LAYERS];
    bp_layout layout;
    bp_loss loss;
    bp_reduction reduction;
} bp_net_spec;

/* Check a spec: sizes >= 1, softmax only last, bce needs a sigmoid output,
 * cross_entropy a softmax output, no layer with both a bias and the bias
 * trick. The message names the layer. */
BP_API bp_status bp_net_spec_check(const bp_net_spec *spec, bp_error *err);

/* Can gradient descent move every weight of a network of this shape?  No
 * (BP_E_VALUE, with the reason) when its loss is zero_one or a layer uses the
 * step activation: their derivatives are 0 wherever they exist, so the
 * gradients of the weights behind them (every weight, for zero_one) are 0.
 * The message names the layer. bp_trainer_new refuses such a network. */
BP_API bp_status bp_net_spec_trainable(const bp_net_spec *spec, bp_error *err);

typedef struct bp_net bp_net;

/* A network of `spec` with element type `dtype` and all parameters zero.
 * Parameters live in one contiguous block, their gradients in another. */
BP_API bp_status bp_net_new(const bp_net_spec *spec, bp_dtype dtype, bp_net **out, bp_error *err);
BP_API void bp_net_free(bp_net *net);
/* A deep copy (parameters included; graph state not). */
BP_API bp_status bp_net_clone(const bp_net *net, bp_dtype dtype, bp_net **out, bp_error *err);

BP_API const bp_net_spec *bp_net_get_spec(const bp_net *net);
BP_API bp_dtype bp_net_dtype(const bp_net *net);
BP_API int bp_net_outputs(const bp_net *net);
/* The classes a classifier tells apart: its outputs, or 2 for one output. */
BP_API int bp_net_classes(const bp_net *net);
/* Name the classes (those of the training data: "setosa", ...), copied into
 * the net, saved with it in model files, kept by bp_net_clone; k must be
 * bp_net_classes(net) and the names distinct, non-empty, at most 100 bytes of
 * UTF-8 without control characters.  names NULL: remove them. */
BP_API bp_status bp_net_set_class_names(bp_net *net, const char *const *names, int k, bp_error *err);
/* The class names (bp_net_classes of them, owned by the net), or NULL. */
BP_API const char *const *bp_net_class_names(const bp_net *net);

/* Fill every W and b: small_uniform draws from U(-0.01, 0.01); xavier from
 * U(-r, r), r = sqrt(6 / (fan_in + units)); he from N(0, 2 / fan_in); biases
 * are zero for xavier and he. Deterministic in `seed`; a layer with the bias
 * trick gets the numbers of the same layer with a separate b (its bias column
 * is that b). */
BP_API void bp_net_init(bp_net *net, bp_init init, uint64_t seed);

/* Views of layer l's (0-based) weights and bias and their gradients. W has
 * the shape of the net's layout (with the bias trick, one more column, out_in,
 * or row, in_out: the bias first); b is 1 x units, rows == 0 without a
 * separate bias. */
BP_API bp_mat bp_net_weight(bp_net *net, int l);
BP_API bp_mat bp_net_bias(bp_net *net, int l);
BP_API bp_mat bp_net_weight_grad(bp_net *net, int l);
BP_API bp_mat bp_net_bias_grad(bp_net *net, int l);
/* The contiguous parameter and gradient blocks (n elements of the net's dtype). */
BP_API size_t bp_net_nparams(const bp_net *net);
BP_API void *bp_net_params(bp_net *net);
BP_API void *bp_net_grads(bp_net *net);

/* Forward pass only: x is m x inputs (any dtype). Afterwards bp_net_z /
 * bp_net_a hold the layer values. */
BP_API bp_status bp_net_forward(bp_net *net, const bp_mat *x, bp_error *err);
/* Forward and backward pass over m samples: *loss receives the reduced loss;
 * the gradient block receives dL/dW and dL/db. With `want_dx`, dL/dx is kept
 * too (bp_net_dx). y is m x outputs. */
BP_API bp_status bp_net_backprop(bp_net *net, const bp_mat *x, const bp_mat *y, int want_dx,
                          double *loss, bp_error *err);

/* One plain gradient-descent step on a batch: forward, backward, and
 * theta -= lr dL/dtheta for every weight and bias; *loss (may be NULL)
 * receives the loss before the step. The fast path for small networks and
 * online learning; bp_trainer_run does the same with optimizers and epochs. */
BP_API bp_status bp_net_train_step(bp_net *net, const bp_mat *x, const bp_mat *y, double lr, double *loss,
                            bp_error *err);

/* Forward pass and the reduced loss, without the backward pass. */
BP_API bp_status bp_net_loss_value(bp_net *net, const bp_mat *x, const bp_mat *y, double *loss, bp_error *err);

/* After a pass: layer l's z, a, dL/da and dL/dz (m x units), and dL/dx.
 * dL/da of the last layer is the gradient flowing into the activation; with a
 * fused loss (softmax+CE, sigmoid+BCE) that node is bypassed, so use
 * bp_net_dloss_dyhat for dL/dyhat as written. */
BP_API bp_mat bp_net_z(bp_net *net, int l);
BP_API bp_mat bp_net_a(bp_net *net, int l);
BP_API bp_mat bp_net_da(bp_net *net, int l);
BP_API bp_mat bp_net_dz(bp_net *net, int l);
BP_API bp_mat bp_net_dx(bp_net *net);
/* dL/dyhat of the loss as written, including 1/m of a mean, into `out`
 * (caller-owned, m x outputs doubles). A term whose factor y or 1 - y is
 * exactly 0 contributes 0; entries may be +-Inf where yhat reached 0 or 1
 * with the other factor non-zero. */
BP_API void bp_net_dloss_dyhat(bp_net *net, const bp_mat *y, double *out);
/* The graph of the last pass, for drawing or inspection (owned by the net). */
BP_API const bp_graph *bp_net_graph(const bp_net *net);
/* The network's convention at kinks (bp_kinks; a new network has the
 * default), used by every later pass: bp_net_backprop, bp_net_train_step,
 * the trainer's steps, and so grad, explain, gradcheck and train.  Kept by
 * bp_net_clone; not saved in model files (a checkpoint records it: see
 * bp_checkpoint_kinks).  k NULL: the default. */
BP_API void bp_net_set_kinks(bp_net *net, const bp_kinks *k);
BP_API bp_kinks bp_net_kinks(const bp_net *net);

/* ------------------------------------------------------------------------ */
/* Model files (JSON)                                                        */
/* ------------------------------------------------------------------------ */
/*
 * A model file describes a network, optionally its weights and data:
 *   {"inputs": 2, "weight_layout": "out_in",
 *    "layers": [{"units": 3, "activation": "sigmoid", "bias": true,
 *                "W": [[...], ...], "b": [...]}, ...],
 *    "loss": "squared", "reduction": "sum", "init": "small_uniform", "seed": 1,
 *    "scaler": {"divide": 255, "mean": [...], "std": [...], "range": [lo, hi]},
 *    "class_names": ["setosa", "versicolor", "virginica"],
 *    "data": {"x": [[...], ...], "y": [[...], ...]}}
 * "bias" is true (a separate b), false (none) or "trick": the bias is W's
 * first column (out_in) or first row (in_out) and the layer's input is
 * extended with a leading 1 (bp_layer_spec.bias_trick); no "b" then.
 * "scaler" (each part optional; see bp_scaler) is what the inputs go through
 * before the first layer: data.x is given unscaled. Parsing is strict; every
 * error names the file and the JSON path (or line and column for malformed
 * JSON).
 */

typedef struct bp_model bp_model;
typedef struct bp_scaler bp_scaler;
typedef struct bp_dataset bp_dataset;   /* see "Datasets" below */   /* the scaling of a model's inputs: see "Input scaling" below */

/* Read and validate a model file. */
BP_API bp_status bp_model_load(const char *path, bp_dtype dtype, bp_model **out, bp_error *err);
/* The same from text in memory; `name` is used in messages. */
BP_API bp_status bp_model_parse(const char *text, size_t len, const char *name, bp_dtype dtype,
                         bp_model **out, bp_error *err);
BP_API void bp_model_free(bp_model *m);
/* The network (owned by the model). */
BP_API bp_net *bp_model_net(bp_model *m);
/* The data, if any: x (m x inputs; scaled when the model has a scaler) and y
 * (m x outputs, rows == 0 when the file gave none), as f64 views owned by the
 * model. Returns 0 if the model has no x. */
BP_API int bp_model_data(bp_model *m, bp_mat *x, bp_mat *y);
/* Replace x and/or y (either may be NULL to keep) by copies; checks widths,
 * and that a new x has as many rows as a y that is kept.  x is as the user
 * has it: the model's scaler is applied to it. */
BP_API bp_status bp_model_set_data(bp_model *m, const bp_mat *x, const bp_mat *y, bp_error *err);
/* A model from either kind of file: a JSON model file (as bp_model_load) or a
 * safetensors model (bp_net_load: no data), told apart by their first bytes;
 * a file that is neither (a CSV given where the model belongs) gets one line
 * saying so. */
BP_API bp_status bp_model_read(const char *path, bp_dtype dtype, bp_model **out, bp_error *err);
/* A model made from a network (taken over: bp_model_free frees it) and the
 * scaling of its inputs (copied; may be NULL); it has no data until
 * bp_model_set_data. */
BP_API bp_status bp_model_from_net(bp_net *net, const bp_scaler *scaler, bp_model **out, bp_error *err);
/* The model's data as a dataset (`train --model F.json` without --data):
 * *out (overwritten; the caller's, bp_dataset_free) receives x as the network
 * sees it (scaled when the model has a scaler) and y, in f32; the targets
 * are class labels (labels, nclasses, the net's class names) when the net is
 * a classifier (loss cross_entropy, bce or zero_one, or a softmax, sigmoid or
 * step output) and every row of y is one-hot (0 or 1 for one output).
 * Errors: no data, no targets. */
BP_API bp_status bp_model_dataset(bp_model *m, bp_dataset *out, bp_error *err);
/* The scaling of the model's inputs ("scaler" in a JSON model file), or NULL.
 * With one, bp_model_data gives x scaled (what the network sees), and
 * bp_model_set_data takes x as the user has it. */
BP_API const bp_scaler *bp_model_scaler(const bp_model *m);
/* Write the model as a JSON model file, atomically: the network, the scaler
 * and the data as given (unscaled). */
BP_API bp_status bp_model_save(const bp_model *m, const char *path, bp_error *err);
/* Read a numeric CSV matrix into a new f64 matrix owned by the caller (free
 * data with free()): the reader of bp_csv_load (RFC 4180 fields, the delimiter
 * detected), a first row in which no field is a number taken as a header,
 * every value in full double precision. Errors name file:line:column. */
BP_API bp_status bp_csv_read_matrix(const char *path, bp_mat *out, bp_error *err);
/* Write a network (and optional data) as a model file, atomically. */
BP_API bp_status bp_model_save_json(const bp_net *net, const bp_mat *x, const bp_mat *y,
                             const char *path, bp_error *err);

/* ------------------------------------------------------------------------ */
/* Reports on one pass: grad, explain, gradcheck, compare                    */
/* ------------------------------------------------------------------------ */

/* One forward+backward pass over the model's data (which must be present,
 * with y when the net has a loss). */
BP_API bp_status bp_model_pass(bp_model *m, double *loss, bp_error *err);
/* After bp_model_pass: write the `grad --json` object (one line of JSON and
 * a newline) to `out`. */
BP_API bp_status bp_write_grad_json(bp_model *m, double loss, FILE *out, bp_error *err);
/* After bp_model_pass: the same numbers as readable tables. */
BP_API bp_status bp_write_grad_text(bp_model *m, double loss, FILE *out, bp_error *err);

typedef enum bp_format { BP_FMT_TEXT = 0, BP_FMT_MARKDOWN, BP_FMT_LATEX } bp_format;

/* The derivation, forward then backward, in the notation of the course notes
 * "Back Propagation", as text, Markdown or a complete LaTeX document. Runs its
 * own pass over the model's data (bp_model_pass need not come first). sample
 * >= 0 explains that one sample (0-based) alone: the net evaluated on that
 * row only, so m = 1; the net is then left holding that one-row pass.
 * sample < 0: the whole batch. */
BP_API bp_status bp_explain(bp_model *m, bp_format fmt, int sample, FILE *out, bp_error *err);

/* Central finite differences against backprop for every weight, bias and
 * input; writes one line per tensor to `out` (may be NULL); *worst receives the
 * largest relative error. Uses f64 internally. */
BP_API bp_status bp_gradcheck(bp_model *m, double eps, FILE *out, double *worst, bp_error *err);

/* Check a user's hand-derived values (a subset of the grad --json fields, in
 * the JSON file `mine`) against the true ones after bp_model_pass; writes the
 * verdict to `out`; *all_right is 1 when every given value is right. */
BP_API bp_status bp_compare(bp_model *m, double loss, const char *mine, double rtol, FILE *out,
                     int *all_right, bp_error *err);

/* ------------------------------------------------------------------------ */
/* Gradient-descent steps: `backprop step`, `explain --lr`                   */
/* ------------------------------------------------------------------------ */
/*
 * Full-batch steps on a model's own data with every number recorded: step t
 * (counting from 1) takes the loss L_t and the gradient g = dL/dtheta at the
 * parameters theta, updates every weight and bias at once by the optimizer's
 * rule (torch.optim's semantics; the rules of the trainer, one implementation):
 *   sgd       theta <- theta - lr g
 *   momentum  v <- mu v + g;  theta <- theta - lr v    (v starts at 0, so the
 *             first v is g; no dampening: torch.optim.SGD(momentum=mu))
 *   nesterov  v <- mu v + g;  theta <- theta - lr (g + mu v)
 *             (torch.optim.SGD(momentum=mu, nesterov=True))
 *   adam      m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;
 *             theta <- theta - lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
 *             (torch.optim.Adam: eps added to the square root)
 * then the loss L_after at the new parameters and the change
 * dL = L_after - L_t.  With tol > 0, the run stops after the first step with
 * |dL| < tol (the stop rule of the course notes "CS577 Assignment 2").
 */
typedef struct bp_steps bp_steps;
typedef struct bp_train_options bp_train_options;   /* see "Training" below */

/* Up to `steps` (>= 1) steps on the model's data (x and y must be present),
 * updating its network in place, in the network's dtype (load the model in
 * f64 for float64 numbers).  From `o`: optimizer, lr (> 0), momentum, beta1,
 * beta2, adam_eps, tol (0: no stop rule); the other fields are ignored.  *out
 * receives the record (the caller's; bp_steps_free).  Errors: no data, no
 * targets or no loss (BP_E_VALUE), a bad hyperparameter or so many steps of so
 * large a network that the record would pass 2^27 numbers (BP_E_ARG),
 * BP_E_DIVERGED when a loss, a gradient or a parameter becomes Inf or NaN (the
 * message names the step; the network keeps the parameters before it). */
BP_API bp_status bp_model_steps(bp_model *m, const bp_train_options *o, int steps, bp_steps **out, bp_error *err);
BP_API void bp_steps_free(bp_steps *s);
/* The steps taken; 1 when the stop rule |dL| < tol held at the last of them
 * (0 without tol); the loss before step t (0-based), or after the last one
 * for t = bp_steps_count. */
BP_API int bp_steps_count(const bp_steps *s);
BP_API int bp_steps_stopped(const bp_steps *s);
BP_API double bp_steps_loss(const bp_steps *s, int t);
/* `step --json`: one line {"steps": [{"loss", "layers": [{"W", "b"}],
 * "loss_after", "delta_loss"}, ...]}: per step the loss before it, each
 * layer's parameters after it (W in the network's layout, b null without a
 * bias), the loss after it and delta_loss = loss_after - loss. */
BP_API bp_status bp_write_steps_json(const bp_steps *s, FILE *out, bp_error *err);
/* The steps written out in the notation of the course notes, every number
 * shown: per step and layer W^[l] <- W^[l] - eta g^[lW] and b^[l] <- b^[l] -
 * eta g^[lb] (with the optimizer's velocity or moments), the loss before and
 * after, |dL| and whether the stop rule holds; text, Markdown or a complete
 * LaTeX document. */
BP_API bp_status bp_write_steps(const bp_steps *s, bp_format fmt, FILE *out, bp_error *err);
/* Check a student's values (the JSON file `mine`: any subset of the fields of
 * bp_write_steps_json, in its shape; {} for a layer or step left out) against
 * the record: one line per value, and for a wrong one the entries that differ
 * and the likely slip (the step's sign, a missing learning rate, the 1/m of a
 * mean, the old parameters or the gradient given as the new ones, ...); then
 * the first wrong step, layer and entry.  *all_right is 1 when every given
 * value is right (relative tolerance rtol).  Errors (malformed or unknown
 * fields, more steps than were taken) name the file and the place. */
BP_API bp_status bp_steps_compare(const bp_steps *s, const char *mine, double rtol, FILE *out, int *all_right,
                                  bp_error *err);
/* bp_explain followed by the update: one plain gradient-descent step with
 * learning rate lr > 0 on the same data (the one sample, or the batch), each
 * layer's W^[l] <- W^[l] - lr g^[lW] and b^[l] <- b^[l] - lr g^[lb] with every
 * number, and the loss after it.  The model's weights are not changed. */
BP_API bp_status bp_explain_update(bp_model *m, bp_format fmt, int sample, double lr, FILE *out, bp_error *err);

/* ------------------------------------------------------------------------ */
/* Expressions: `backprop expr`                                              */
/* ------------------------------------------------------------------------ */
/*
 * An expression program is zero or more definitions, each ended by ';',
 * followed by one expression:
 *     G(a,b) = [a-5*b, a*b, a-b]; F(c,d,e) = [3*c*d, d-e]; F(G(a,b))
 * Numbers (1, 2.5, 1e-3), variables (any other name), + - * / ^ (power,
 * right-associative, binding tighter than unary minus: -x^2 = -(x^2)),
 * parentheses, exp log sqrt sigmoid tanh relu abs (one argument), max min
 * (two), vectors [e1, e2, ...].  Arithmetic and functions apply elementwise
 * to vectors (a scalar is broadcast); vectors nested in vectors or passed as
 * arguments are flattened, so a 3-vector fills three parameters.  A
 * definition's body may use only its parameters and functions defined before
 * it.  A power with a constant exponent is one pow node (any real p); with an
 * exponent that depends on a variable, a^b is built as exp(b log a).
 *
 * Every value is a matrix: a number is 1x1, [e1, ..., en] of numbers an n x 1
 * column, [[1, 2], [3, 4]] a matrix by rows ([[1, 2, 3]] a row); a variable
 * is a matrix when given one (bp_expr_set_matrix, or "W=[[1,2],[3,4]]" in
 * bp_expr_set_point).  A @ B is the matrix product, A^T the transpose; + - *
 * / ^ max min act elementwise, repeating a 1x1, a 1 x n row (over the rows) or
 * an m x 1 column (over the columns) to the other operand's shape; < <= > >=
 * give 1 or 0 (gradient 0).  More functions: step, sigmoid', tanh', relu',
 * softmax (per column; a row vector as one), sum, rowsum, colsum, mean,
 * rowmean, colmean, diag, eye(n), ones(r, c).  Precedence, tightest first:
 * function application, postfix ^ (power and ^T), unary minus, @ * / (left
 * to right), + -, then the comparisons.  Operands whose shapes do not fit
 * are BP_E_SHAPE at evaluation, naming the operator and both shapes.
 *
 * The expression is built on a bp_graph in f64: numbers and vectors of
 * numbers entry by entry as 1x1 nodes, matrices as one node each; variables
 * are leaves that require a gradient, numbers are constant leaves,
 * definitions are inlined.  The gradient (scalar result) or Jacobian (rows =
 * the result's entries, row by row; columns = the wrt variables' entries)
 * comes from one bp_graph_backward per output entry.
 *
 * Errors that concern a place in the text say "at column C" (or "at line L,
 * column C" for text of several lines) and report that place as a 0-based
 * byte offset through `where` (may be NULL; -1 when there is none), so a
 * caller can draw a caret under it.
 */
typedef struct bp_expr bp_expr;

/* Parse an expression program (copied; the caller keeps `text`).  Errors:
 * BP_E_PARSE (syntax; unknown function or variable; wrong argument count;
 * vectors of different lengths), BP_E_NOMEM.  Shapes that depend on the
 * variables' values are checked by bp_expr_eval. */
BP_API bp_status bp_expr_parse(const char *text, bp_expr **out, int *where, bp_error *err);
BP_API void bp_expr_free(bp_expr *e);

/* The variables, in order of first appearance (names owned by e). */
BP_API int bp_expr_nvars(const bp_expr *e);
BP_API const char *bp_expr_var(const bp_expr *e, int i);
/* Number of outputs; whether the result is a vector (even of length 1);
 * whether the expression is a call F(...) of a definition (for the chain rule). */
BP_API int bp_expr_noutputs(const bp_expr *e);
BP_API int bp_expr_is_vector(const bp_expr *e);
BP_API int bp_expr_is_composition(const bp_expr *e);

/* Give variable `name` a value (BP_E_VALUE if the expression has no such
 * variable or v is not finite). */
BP_API bp_status bp_expr_set(bp_expr *e, const char *name, double v, bp_error *err);
/* Give variable `name` the rows x cols matrix `data` (row-major, copied;
 * BP_E_VALUE as bp_expr_set, or for an empty shape). */
BP_API bp_status bp_expr_set_matrix(bp_expr *e, const char *name, int rows, int cols, const double *data,
                                    bp_error *err);
/* The same for a list "x=1,y=-2.5,W=[[1,2],[3,4]],v=[1,2]" (BP_E_PARSE if
 * malformed: a number, [a column] or [[a row], [a row]] after each '='). */
BP_API bp_status bp_expr_set_point(bp_expr *e, const char *assignments, bp_error *err);
/* Differentiate with respect to the listed variables, in that order ("y,x");
 * default: every variable in order of first appearance.  BP_E_VALUE for an
 * unknown or repeated name. */
BP_API bp_status bp_expr_set_wrt(bp_expr *e, const char *names, bp_error *err);
BP_API int bp_expr_nwrt(const bp_expr *e);
BP_API const char *bp_expr_wrt(const bp_expr *e, int j);

/* Build the graph at the current point and compute the value and the
 * Jacobian (and, for a composition of numbers, the chain-rule factors).
 * Errors: BP_E_VALUE for a variable without a value (`where` = its first
 * use), BP_E_DOMAIN naming the sub-expression (log of x <= 0, sqrt of x < 0,
 * division by zero, a non-integer power of a negative number), BP_E_SHAPE
 * for operands that do not fit ("@: 3x1 @ 3x2: inner sizes 1 and 3 differ
 * at column C", `where` = the operator). */
BP_API bp_status bp_expr_eval(bp_expr *e, int *where, bp_error *err);
/* After a successful bp_expr_eval: output i (the result's entries row by
 * row; bp_expr_noutputs of them), and d output_i / d wrt_j (of a matrix
 * variable: d output_i / d its entry (0, 0)). NAN when out of range. */
BP_API double bp_expr_value(const bp_expr *e, int i);
BP_API double bp_expr_jacobian(const bp_expr *e, int i, int j);
/* d output_i / d entry (r, c) of wrt variable j. */
BP_API double bp_expr_derivative(const bp_expr *e, int i, int j, int r, int c);
/* The result's shape (after bp_expr_eval; a list of n numbers is n x 1), and
 * the shape of wrt variable j's value. */
BP_API void bp_expr_shape(const bp_expr *e, int *rows, int *cols);
BP_API void bp_expr_var_shape(const bp_expr *e, int j, int *rows, int *cols);
/* For a composition F(G(...)) after bp_expr_eval: views (owned by e, f64)
 * of J_F at G (outputs x parameters of F), J_G (parameters of F x wrt) and
 * their product (outputs x wrt).  BP_E_ARG if e is not a composition. */
BP_API bp_status bp_expr_chain(const bp_expr *e, bp_mat *jf, bp_mat *jg, bp_mat *product, bp_error *err);
/* The graph of the last bp_expr_eval (owned by e; NULL before). */
BP_API const bp_graph *bp_expr_graph(const bp_expr *e);

/* The reports for people (text, steps, chain, DOT) print numbers to `digits`
 * significant digits (default 6; 0: the shortest text that reads back as the
 * same double, as JSON always does; at most 17). */
BP_API void bp_expr_set_digits(bp_expr *e, int digits);
/* The convention at kinks for the next bp_expr_eval (relu at 0, max/min at a
 * tie; the default: PyTorch's).  k NULL: the default.  The text report says
 * which convention was used when the point lies on a kink. */
BP_API void bp_expr_set_kinks(bp_expr *e, const bp_kinks *k);

/* Reports after bp_expr_eval, written to `out` (BP_E_IO if writing fails):
 * the value and gradient/Jacobian as text; as one line of JSON
 *   {"variables": [...], "value": v, "gradient": [...]}   (scalar)
 *   {"variables": [...], "value": [...], "jacobian": [[...], ...]}   (vector)
 * with a "chain" member added when `chain` is set (non-finite numbers are
 * null); the forward and backward passes node by node; the chain rule for a
 * composition; the graph in Graphviz DOT, each node labelled with its op,
 * sub-expression, value and gradient. */
BP_API bp_status bp_expr_write_text(const bp_expr *e, FILE *out, bp_error *err);
BP_API bp_status bp_expr_write_json(const bp_expr *e, int chain, FILE *out, bp_error *err);
BP_API bp_status bp_expr_write_steps(bp_expr *e, FILE *out, bp_error *err);
BP_API bp_status bp_expr_write_chain(const bp_expr *e, FILE *out, bp_error *err);
BP_API bp_status bp_expr_write_dot(bp_expr *e, FILE *out, bp_error *err);

/* Derivatives as formulas (`expr --symbolic`): each output of e and its
 * derivative by each variable of bp_expr_set_wrt, written in the expression
 * language itself (definitions inlined), so that every formula parses and
 * evaluates back: constants folded, the identities 0 + a, 1 * a, 0 * a, a^1,
 * a^0 and a/1 removed, like terms and like factors merged, and a formula that
 * is a polynomial in the variables expanded with its terms collected, highest
 * degree first (by the variables' order), e.g. for
 *     G(a,b) = [a-5*b, a*b, a-b]; F(c,d,e) = [3*c*d, d-e]; F(G(a,b))
 * the Jacobian [[6*a*b - 15*b^2, 3*a^2 - 30*a*b], [b - 1, a + 1]].  The
 * derivatives at kinks follow e's bp_kinks and are written with step and
 * comparisons: relu(u)' = step(u) u' (or (u >= 0) u'), abs(u)' = ((u > 0) -
 * (u < 0)) u', max(a, b) weighs a by ((a > b) + (a >= b))/2 (or (a >= b)).
 * Numbers are written with up to 15 significant digits (or as p/q).  Needs no
 * point; the variables are numbers (the scalar and vector language: matrix
 * operations are refused).  Errors (`where` as for bp_expr_eval): BP_E_VALUE
 * for a matrix operation, or when the formulas grow too large (more than
 * 2000 operations inlined, more than 100000 characters in one formula). */
typedef struct bp_symbolic bp_symbolic;
BP_API bp_status bp_expr_symbolic(const bp_expr *e, bp_symbolic **out, int *where, bp_error *err);
BP_API void bp_symbolic_free(bp_symbolic *s);
BP_API int bp_symbolic_noutputs(const bp_symbolic *s);
BP_API int bp_symbolic_nwrt(const bp_symbolic *s);
/* The name of column j's variable; output i's formula; d output_i / d wrt_j
 * (strings owned by s; NULL out of range). */
BP_API const char *bp_symbolic_wrt(const bp_symbolic *s, int j);
BP_API const char *bp_symbolic_value(const bp_symbolic *s, int i);
BP_API const char *bp_symbolic_derivative(const bp_symbolic *s, int i, int j);
/* As text ("f = ...", "df/dx = ...", "gradient [...]"; for a vector "f1 = ...",
 * "df1/dx = ...", and the Jacobian as a nested list), or as one line of JSON
 *   {"variables": [...], "value": "F", "gradient": ["dF/dx", ...]}   (scalar)
 *   {"variables": [...], "value": [...], "jacobian": [[...], ...]}   (vector)
 * with every formula a string. */
BP_API bp_status bp_symbolic_write(const bp_symbolic *s, int json, FILE *out, bp_error *err);

/* ------------------------------------------------------------------------ */
/* Formulas over a network: `backprop check`                                 */
/* ------------------------------------------------------------------------ */
/*
 * A formula "LHS = RHS" in the expression language (above) or in the LaTeX of
 * the course notes, over the named matrices of a model's network: x (= a[0]),
 * y, yhat (= a[L]), m, W[l], b[l], z[l], a[l], the true gradients dL_dW[l],
 * dL_db[l], dL_dz[l], dL_da[l], dL_dx, dL_dyhat, the notes' g[la], g[lz],
 * g[lW], g[lb] and delta[l] (= dL_dz[l]); g(z[l]) and g'(z[l]) are layer l's
 * activation and its derivative. Samples are columns for weight_layout
 * out_in (z[l] = W[l] @ a[l-1] + b[l]) and rows for in_out (z[l] = a[l-1] @
 * W[l] + b[l]), unless chosen; W and dL_dW keep the layout of the file.
 *
 * Both sides are evaluated in f64 at the file's values, then at `redraws`
 * random values of the same shapes (W, b uniform in [-1, 1], x in [-2, 2], y
 * as the loss wants it: one-hot rows, 0/1, or uniform in [-2, 2]; seeded).
 * When the LHS is one named quantity, the RHS is checked against its true
 * value; otherwise the two sides are checked as an identity. Equal means
 * within 1e-9 relative or 1e-12 absolute, entry by entry.
 */
typedef struct bp_check bp_check;

/* Where the samples are: as the weight layout says, rows, or columns. */
typedef enum bp_samples { BP_SAMPLES_LAYOUT = 0, BP_SAMPLES_ROWS, BP_SAMPLES_COLUMNS } bp_samples;

typedef enum bp_verdict {
    BP_CHECK_RIGHT = 0,  /* equal at every draw                                        */
    BP_CHECK_WRONG,      /* a differing entry at the file's values or at a redraw      */
    BP_CHECK_SHAPE       /* the shapes differ, or an operator's operands do not fit    */
} bp_verdict;

/* The verdict on one formula after bp_check_run. Strings are owned by the
 * checker. */
typedef struct bp_check_result {
    bp_verdict verdict;
    int line;             /* as given to bp_check_add                               */
    const char *formula;  /* the formula as written ("LHS = RHS")                   */
    int draw;             /* WRONG: 0 at the file's values, k at redraw k; else -1  */
    int entry[2];         /* WRONG: the first differing entry (0-based row, column) */
    double yours, truth;  /* WRONG: the RHS's and the true (LHS's) value there      */
    const char *hint;     /* the likely slip, why a redraw was needed, the shape
                             message; NULL when there is nothing to say            */
    const char *note;     /* how a LaTeX product was read (elementwise), or NULL    */
} bp_check_result;

/* A checker of formulas over model m's network and data (borrowed: m must
 * outlive it; m needs data with targets and a loss). redraws >= 0. Errors:
 * BP_E_VALUE (no data, no targets, no loss), BP_E_NOMEM. */
BP_API bp_status bp_check_new(bp_model *m, bp_samples samples, int redraws, uint64_t seed, bp_check **out,
                              bp_error *err);
BP_API void bp_check_free(bp_check *c);
/* Add the formula in `text` (ASCII or LaTeX, told apart by its characters:
 * a backslash, a brace, '$' or '&' mean LaTeX), reported under `line`. A
 * chain "A = B = C" adds "A = B" and "A = C". Errors: BP_E_PARSE for a
 * syntax error, a name that is not one of the network's, a layer out of
 * range, LaTeX that is not understood; *where (may be NULL) the byte offset
 * in text, or -1. Nothing is evaluated yet. */
BP_API bp_status bp_check_add(bp_check *c, const char *text, int line, int *where, bp_error *err);
/* Evaluate every formula at every draw and give each its verdict. An error
 * is bad input found only with values (a size that depends on a variable). */
BP_API bp_status bp_check_run(bp_check *c, bp_error *err);
/* After bp_check_run: the number of formulas, and formula i's verdict. */
BP_API int bp_check_count(const bp_check *c);
BP_API bp_status bp_check_result_get(const bp_check *c, int i, bp_check_result *r);
/* The verdicts as text, or as exactly one JSON object
 *   {"formulas": [{"line": 1, "formula": "...", "verdict": "right"|"wrong"|"shape",
 *                  "at": "file"|"redraw 3"|null, "entry": [i, j]|null,
 *                  "yours": number|null, "true": number|null, "hint": string|null}]} */
BP_API bp_status bp_check_write_text(const bp_check *c, FILE *out, bp_error *err);
BP_API bp_status bp_check_write_json(const bp_check *c, FILE *out, bp_error *err);

/* d of / d wrt for one sample (0-based) of model m's data, at the file's
 * values: `of` is z[l], a[l] or yhat, `wrt` W[k], b[k], x, a[k] or z[k] below
 * it (ASCII or LaTeX names); for each entry of `of` (the layer's units, in
 * order) a matrix shaped like `wrt`, as text or as one JSON object
 *   {"of": "a[2]", "wrt": "W[2]", "sample": i, "jacobian": [[[...], ...], ...]}
 * (sample counted from 1 there). Errors: BP_E_PARSE for a name that is not
 * understood, BP_E_VALUE when `of` does not depend on `wrt` or the sample is
 * out of range. */
BP_API bp_status bp_check_jacobian(bp_model *m, bp_samples samples, const char *of, const char *wrt, int sample,
                                   int json, FILE *out, bp_error *err);

/* ------------------------------------------------------------------------ */
/* Datasets, model files on disk, training                                   */
/* ------------------------------------------------------------------------ */
/* Ownership: a bp_dataset filled by a *_load, bp_dataset_named,
 * bp_dataset_split or bp_dataset_subset owns its arrays; release them with
 * bp_dataset_free.  Those functions overwrite `*out` without freeing it, and
 * on failure leave it zeroed (so bp_dataset_free on it is always safe). */

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
    const char *const *class_names; /* nclasses names, or NULL: static ones
                                       (Fashion-MNIST), or those of a CSV's
                                       label column, kept in names_owned     */
    void *names_owned; /* the storage of class_names when the dataset owns
                          them (freed by bp_dataset_free, copied by subsets);
                          NULL for static names                              */
} bp_dataset;

/* Free the arrays of `d` (which may be NULL or zeroed) and zero it. */
BP_API void bp_dataset_free(bp_dataset *d);

/* Row views (BP_F32, no ownership) of samples [start, start + count) of x and
 * y, e.g. for a minibatch; valid until `d` is freed or changed.  The y view
 * has rows == 0 when the dataset has no targets.  start and count must lie
 * within 0..n (not checked). */
BP_API bp_mat bp_dataset_x(const bp_dataset *d, int start, int count);
BP_API bp_mat bp_dataset_y(const bp_dataset *d, int start, int count);

/* ------------------------------------------------------------------------ */
/* CSV                                                                       */
/* ------------------------------------------------------------------------ */

typedef enum bp_csv_header {
    BP_CSV_HEADER_AUTO = 0, /* a header iff the first row has a non-number
                               where a number belongs (a feature, a
                               regression target), or its label is a word
                               over integer labels                           */
    BP_CSV_HEADER_YES,      /* the first row is a header: skip it            */
    BP_CSV_HEADER_NO        /* every row is data                             */
} bp_csv_header;

typedef enum bp_csv_target {
    BP_CSV_CLASSES = 0,  /* label column = class index 0..K-1, or class
                            names -> labels and one-hot y                    */
    BP_CSV_REGRESSION,   /* target column(s) copied to y as numbers          */
    BP_CSV_UNLABELED,    /* no targets: every column is a feature            */
    BP_CSV_DROP          /* target column(s) present but not read (any text)
                            and left out: features only, for predicting      */
} bp_csv_target;

typedef struct bp_csv_options {
    bp_csv_header header;
    bp_csv_target target;
    int label_col;   /* first target column, 0-based; negative counts from
                        the end (-1 = last).  Ignored when UNLABELED or when
                        label_name is set.                                   */
    const char *label_name; /* or the target column by its header name (the
                        file must have a header); NULL: use label_col        */
    int ntargets;    /* REGRESSION: target columns label_col ..
                        label_col + ntargets - 1 (0 means 1)                 */
    int nclasses;    /* CLASSES: K; 0 = (largest label) + 1.  With K given,
                        a label >= K is an error.                            */
    const char *const *class_names; /* CLASSES: the names the labels may be
                        (a model's classes, in its order), nclasses of them;
                        NULL: names found in the file are sorted            */
    int features;    /* > 0: the number of feature columns the caller
                        expects (a model's inputs).  A file with just that
                        many columns has no targets; one with more must hold
                        features + the targets; anything else is an error
                        saying so.  0: features = columns - targets.         */
    char delim;      /* field separator; 0: detected from the first rows
                        (tab, ';' or ',': the first that splits every one of
                        them into the same number of fields, at least 2)    */
    int shard_index, shard_count; /* shard_count > 1: keep only the rows i
                        (data rows from 0, in file order) with i %
                        shard_count == shard_index (one process's share of
                        the data, bp_train_options.shard); the classes are
                        still those of every row.  A shard without rows is
                        an error.  0 or 1: every row                        */
} bp_csv_options;

/* The defaults: header auto-detected, classification, label in the last
 * column, K from the data, the delimiter detected. */
BP_API void bp_csv_options_init(bp_csv_options *opt);

/* Load a numeric CSV file into a new dataset owned by the caller (`opt` NULL
 * means the defaults).  The format is RFC 4180's: rows separated by LF or
 * CRLF (the last newline optional), a field may be quoted ("a, b", with ""
 * for a quote, and line breaks inside); blank lines are skipped; spaces around
 * an unquoted field are ignored; a UTF-8 byte order mark is skipped.  Every
 * row must have as many fields as the first; values must be finite numbers
 * (float32 range).  Class labels are integers 0..K-1, or names (setosa,
 * virginica): when any label is not such an integer, every label is a name,
 * the classes are the sorted names (or opt->class_names, in their order) and
 * d->class_names holds them.  Errors name the file and place, e.g.
 * "d.csv:3:7: field 2: expected a number, got 'abc'" (line and 1-based
 * character column) or "d.csv:12: expected 5 fields, got 4". */
BP_API bp_status bp_csv_load(const char *path, const bp_csv_options *opt, bp_dataset *out,
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
BP_API bp_status bp_idx_load(const char *images_path, const char *labels_path, bp_dataset *out,
                      bp_error *err);
/* bp_idx_load keeping only the images i (from 0) with i % shard_count ==
 * shard_index: one process's share of the data (bp_train_options.shard).
 * The whole file is still read and checked, but only the kept images are
 * stored; the classes are those of every label.  A share without images is
 * an error.  shard_count <= 1: every image. */
BP_API bp_status bp_idx_load_shard(const char *images_path, const char *labels_path, int shard_index,
                                   int shard_count, bp_dataset *out, bp_error *err);

/* ------------------------------------------------------------------------ */
/* Named datasets                                                            */
/* ------------------------------------------------------------------------ */

/* Load a well-known dataset by name: "fashion-mnist" (60000 training or 10000
 * test images of 28x28 = 784 pixels, 10 classes, with class names), read from
 * DIR/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz where DIR
 * is $BACKPROP_DATA_DIR if set, else /usr/share/datasets (the Debian package
 * dataset-fashion-mnist).  test_split != 0 selects the test (t10k) split.
 * Labels must be 0..9. */
BP_API bp_status bp_dataset_named(const char *name, int test_split, bp_dataset *out, bp_error *err);
/* bp_dataset_named keeping one share of the rows, as bp_idx_load_shard. */
BP_API bp_status bp_dataset_named_shard(const char *name, int test_split, int shard_index, int shard_count,
                                        bp_dataset *out, bp_error *err);

/* ------------------------------------------------------------------------ */
/* Input scaling                                                             */
/* ------------------------------------------------------------------------ */

/* What a model's inputs go through before its first layer, from the data as
 * the user has it (saved with the model, applied again by eval and predict):
 * first x / divide (IDX pixels: 255), then, per feature, the standardisation
 * (x - mean[j]) / std[j] fitted on the training split; each step optional.
 * lo and hi record the range of the training inputs after both, so that data
 * scaled another way can be noticed (bp_scaler_check). A zeroed bp_scaler is
 * no scaling at all. */
struct bp_scaler {
    int features;  /* the inputs it applies to; 0: no scaling at all         */
    float *mean;   /* features values, owned; NULL: no standardisation      */
    float *std;    /* features values, owned; a constant column has std 1   */
    float divide;  /* > 0: every input is divided by it first; 0: not       */
    float lo, hi;  /* the training inputs' range after scaling; lo > hi or
                      both 0: not known                                       */
};

/* Fit the standardisation of `s` (overwritten, not freed; owned by the caller
 * afterwards; divide 0, range unknown) to the x of `d` (n >= 1): mean and
 * population standard deviation (divide by n), computed in double. */
BP_API bp_status bp_scaler_fit(bp_scaler *s, const bp_dataset *d, bp_error *err);
/* In place: x = x / divide if divide > 0, then (x - mean[j]) / std[j] if there
 * is a mean.  BP_E_SHAPE if the feature counts differ.  IDX pixels are already
 * divided by 255 by bp_idx_load and bp_dataset_named: pass skip_divide = 1
 * for them. */
BP_API bp_status bp_scaler_apply_to(const bp_scaler *s, bp_dataset *d, int skip_divide, bp_error *err);
/* bp_scaler_apply_to(s, d, 0, err). */
BP_API bp_status bp_scaler_apply(const bp_scaler *s, bp_dataset *d, bp_error *err);
/* Record the range of d's x (already scaled) in s->lo, s->hi (s->features is
 * set to d's features if it was 0). */
BP_API void bp_scaler_note_range(bp_scaler *s, const bp_dataset *d);
typedef struct bp_reducer bp_reducer;   /* see "data-parallel training" below */
/* The two above for data split over the processes of a data-parallel run
 * (bp_train_options.shard), each process passing its own rows (possibly
 * none) and the run's reducer: the mean, standard deviation and range of the
 * rows of all processes, the same on every process (collective: every
 * process calls them; errors are agreed). R NULL: bp_scaler_fit and
 * bp_scaler_note_range. */
BP_API bp_status bp_scaler_fit_shards(bp_scaler *s, const bp_dataset *d, const bp_reducer *R, bp_error *err);
BP_API bp_status bp_scaler_note_range_shards(bp_scaler *s, const bp_dataset *d, const bp_reducer *R, bp_error *err);
/* Is d's x (already scaled) in the range of the training inputs?  1 when the
 * range is known and d's lies far from it: reaching beyond it by more than the
 * training range's width, or spread over less than 1/100 of it (data scaled
 * twice, or not at all); *lo and *hi receive d's range. */
BP_API int bp_scaler_check(const bp_scaler *s, const bp_dataset *d, double *lo, double *hi);
/* Free the arrays of `s` (may be NULL or zeroed) and zero it. */
BP_API void bp_scaler_free(bp_scaler *s);

/* ------------------------------------------------------------------------ */
/* Shuffling, splitting, subsets                                             */
/* ------------------------------------------------------------------------ */

/* Fill perm[0..n) with a uniformly random permutation of 0..n-1
 * (Fisher-Yates, deterministic in `seed`). */
BP_API void bp_permutation(int *perm, int n, uint64_t seed);

/* Shuffle the samples of `d` in place (rows of x and y and the labels move
 * together).  Deterministic in `seed`: the sample that ends at position i is
 * the one that was at bp_permutation(.., seed)[i].  Needs no memory. */
BP_API void bp_dataset_shuffle(bp_dataset *d, uint64_t seed);

/* Copy samples [start, start + count) of `d` into a new dataset `out` owned by
 * the caller.  BP_E_ARG if the range is outside 0..n. */
BP_API bp_status bp_dataset_subset(const bp_dataset *d, int start, int count, bp_dataset *out,
                            bp_error *err);

/* Split `all` into copies: `val` gets the last round(n * val_fraction)
 * samples, `train` the rest (shuffle first for a random split).  0 <=
 * val_fraction < 1 and train must keep at least one sample.  Both outputs
 * belong to the caller; `all` is unchanged. */
BP_API bp_status bp_dataset_split(const bp_dataset *all, double val_fraction, bp_dataset *train,
                           bp_dataset *val, bp_error *err);

/* ------------------------------------------------------------------------ */
/* Model files on disk (safetensors)                                         */
/* ------------------------------------------------------------------------ */
/*
 * A trained network is saved as a safetensors file (the format of PyTorch and
 * Hugging Face: an 8-byte little-endian header length, a JSON header, raw
 * little-endian tensors). Tensors: "layers.L.weight" (units x fan_in, the
 * nn.Linear layout, whatever the net's own layout) and "layers.L.bias" for
 * each layer L (0-based), and "scaler.mean" / "scaler.std" when the inputs
 * are standardised. __metadata__ holds "format" = "backprop", "version" = "1",
 * "architecture" = a JSON string {"inputs", "weight_layout", "layers":
 * [{"units", "activation", "bias"}], "loss", "reduction"}, and
 * "input_scaling" = "none" or "standardize: x' = (x - scaler.mean) / scaler.std",
 * "class_names" = a JSON array of the classes' names when the net has them
 * (bp_net_set_class_names), and "checksum" = "crc32:XXXXXXXX", the CRC-32 of
 * the tensor bytes (other readers ignore it; a load verifies it when
 * present).
 * Writes are atomic (temp file, fsync, rename; a symbolic link is followed,
 * a device or FIFO written in place); loads validate everything and reject a
 * damaged or foreign file naming the file and the problem.
 */

/* Save `net` and, if not NULL, the scaler of its inputs. */
BP_API bp_status bp_net_save(const bp_net *net, const bp_scaler *scaler, const char *path, bp_error *err);
/* Load a network saved by bp_net_save, in its stored dtype converted to
 * `dtype`. *scaler (if not NULL) receives the scaler, or stays zeroed when the
 * file has none; free it with bp_scaler_free. */
BP_API bp_status bp_net_load(const char *path, bp_dtype dtype, bp_net **out, bp_scaler *scaler, bp_error *err);

/* ------------------------------------------------------------------------ */
/* Training                                                                  */
/* ------------------------------------------------------------------------ */

typedef enum bp_optimizer { BP_OPT_SGD = 0, BP_OPT_MOMENTUM, BP_OPT_NESTEROV, BP_OPT_ADAM } bp_optimizer;
typedef enum bp_schedule { BP_SCHED_CONSTANT = 0, BP_SCHED_STEP, BP_SCHED_COSINE } bp_schedule;
BP_API const char *bp_optimizer_name(bp_optimizer o);
BP_API int bp_optimizer_parse(const char *s, bp_optimizer *out);
BP_API const char *bp_schedule_name(bp_schedule s);
BP_API int bp_schedule_parse(const char *s, bp_schedule *out);

/* Numbers of one epoch, passed to the on_epoch callback and kept in the
 * history. Accuracies and validation numbers are NaN where they do not apply:
 * no validation split, or data without class labels (the rule of
 * bp_evaluate, which also computes the validation numbers). */
typedef struct bp_epoch_stats {
    int epoch;             /* 1-based                                         */
    double train_loss;     /* the epoch's loss, reduced like the net's: mean per sample, or sum */
    double train_acc;
    double val_loss, val_acc;
    double seconds;        /* wall time of the epoch's training passes only   */
    double lr;             /* learning rate used in this epoch                */
} bp_epoch_stats;

/* Progress within an epoch, passed to the on_batch callback. */
typedef struct bp_batch_progress {
    int epoch, epochs;     /* 1-based epoch, total                            */
    int batch, batches;    /* 1-based batch within the epoch, total           */
    double loss, acc;      /* running means over the epoch so far (acc NaN for regression) */
    double samples_per_s;  /* over the epoch so far                           */
    double seconds;        /* training time of the epoch so far               */
} bp_batch_progress;

/* ---- data-parallel training: one model, N processes ----------------------
 *
 * With a reducer in its options, the trainer trains one model on N
 * processes: each process computes the gradient of its share of every
 * mini-batch, the shares' gradients are summed across the processes, and
 * every process applies the same update to its copy of the network, so that
 * all copies hold the same bits after every step.  The library knows no
 * transport: it reaches the other processes only through these functions.
 * bp_mpi_reducer (below) gives one over MPI; any other (threads, a GPU
 * library's collectives) can be written against this interface.
 *
 * Every process makes the same calls, in the same order, with the same sizes.
 * The fused step calls start() for each layer's gradient block (its weights,
 * then its bias, contiguous) as soon as the backward pass has finished it,
 * from the last layer to the first, so that the sums travel while the layers
 * below are still being computed; progress() between the products; the
 * trainer then calls wait() before the update. */
typedef enum bp_reduce_op { BP_REDUCE_SUM = 0, BP_REDUCE_MAX } bp_reduce_op;

typedef struct bp_reducer {
    int rank, size;   /* this process (0 .. size - 1) among size processes     */
    void *ctx;        /* passed to every function below                      */
    /* Begin summing the n elements of dtype dt at buf, in place, over the
     * processes; may return before the sum is complete (buf is left alone
     * until wait()).  slot (0 .. BP_MAX_LAYERS - 1, the layer) names the
     * buffer: a slot always comes with the same buf and n, so a binding may
     * set up each slot's transfer once and reuse it every step.  The result
     * must be the same bits on every process, and the same in every run with
     * the same inputs and number of processes. */
    bp_status (*start)(void *ctx, int slot, void *buf, size_t n, bp_dtype dt, bp_error *err);
    /* Let begun sums advance (may be NULL): called between the products of
     * the backward pass, for transports that move data only when called. */
    void (*progress)(void *ctx);
    /* Wait until every begun sum is complete. */
    bp_status (*wait)(void *ctx, bp_error *err);
    /* Reduce n doubles in place over the processes, blocking: every process
     * receives the same bits (sums in rank order). */
    bp_status (*allreduce)(void *ctx, double *v, int n, bp_reduce_op op, bp_error *err);
    /* Agree on an outcome, blocking: every process passes its status (and
     * err's message when it is not BP_OK); returns BP_OK when every process
     * passed BP_OK, else the status of the lowest process that failed, whose
     * err is then copied into *err on every process (its message prefixed
     * with "process R: " when R is not 0). */
    bp_status (*agree)(void *ctx, bp_status st, bp_error *err);
} bp_reducer;

typedef struct bp_trainer bp_trainer;

typedef struct bp_train_options {
    int epochs;              /* maximum number of epochs (default 10)           */
    int batch;               /* samples per step; 1 = online; >= n = full batch (default 32) */
    double lr;               /* learning rate (default 0.01)                    */
    bp_optimizer optimizer;  /* default sgd                                      */
    double momentum;         /* momentum and nesterov (default 0.9)              */
    double beta1, beta2, adam_eps;   /* adam (0.9, 0.999, 1e-8)                  */
    double weight_decay;     /* L2: adds weight_decay * W to dL/dW (not to b)    */
    bp_schedule schedule;    /* default constant                                 */
    int step_size;           /* step schedule: multiply lr by gamma every step_size epochs */
    double gamma;            /* default 0.1                                      */
    double tol;              /* > 0: stop when |loss(epoch) - loss(epoch-1)| < tol (as in CS577 Assignment 2) */
    int patience;            /* > 0: early stopping on validation loss            */
    int keep_best;           /* with validation: end with the weights of the best validation loss */
    uint64_t seed;           /* shuffling (default 1)                             */
    int shuffle;             /* default 1                                         */
    volatile int *stop;      /* if not NULL and set non-zero (e.g. by a SIGINT handler), training stops
                                after the current batch with BP_E_INTERRUPTED     */
    void (*on_batch)(void *user, const bp_batch_progress *p);
    void (*on_epoch)(void *user, const bp_epoch_stats *s);
    /* At the end of every epoch, once the trainer's state is complete (the
     * stop rules applied): a checkpoint written here (bp_trainer_save)
     * resumes exactly. May be NULL. */
    void (*on_checkpoint)(void *user, const bp_trainer *t);
    void *user;
    /* Data-parallel training (see bp_reducer above); NULL: this process alone.
     * By default every process is given the same dataset and takes its share
     * of each batch from the one permutation of the epoch: batch b's rows
     * perm[b B .. b B + m) are cut into size contiguous shares, process r
     * taking [m r / size, m (r + 1) / size); the loss's mean divides by m, so
     * the summed gradient is the one-process gradient of the batch (to
     * rounding: the shares are summed, not the rows).  The per-batch loss,
     * accuracy, validation numbers and the stop flag are reduced over the
     * processes, so every process takes the same decisions (a stop flag set
     * on any process stops them all after the next step, where they agree
     * on it); the validation set is evaluated in shares too.  Errors are
     * agreed: every process returns the same status and message. */
    const bp_reducer *reducer;
    /* With a reducer: each process was given only its own rows (its shard)
     * and shuffles within them; an epoch has ceil(n / batch) steps (n the
     * rows of all processes) and step b takes rows [b n_r / steps, (b + 1)
     * n_r / steps) of process r's permutation.  The run then sees other
     * batches than one process would. */
    int shard;
    /* With a reducer: after every step, compare a CRC-32 of the parameters
     * over the processes and stop with BP_E_VALUE if they differ. */
    int check_replicas;
} bp_train_options;

/* The defaults above. */
BP_API void bp_train_options_init(bp_train_options *o);
/* Threads used by the matrix products, process-wide: the library's own f32
 * kernels (bp_matmul_kernel) share each large product among that many
 * threads of a pool started at the first such product, with the same bits
 * as on one; OpenBLAS uses as many for the rest. At most as many as the
 * process's memory limit (ulimit -v) leaves room for (OpenBLAS maps a 128 MB
 * work buffer per thread and would retry forever without the room; with no
 * room for one, the products take the library's reference kernels).
 * OpenBLAS starts one thread per core when it is loaded, unless
 * the environment says OPENBLAS_NUM_THREADS=1: the `backprop` tool sets it
 * for itself, and a program under a memory limit should too. */
BP_API void bp_set_threads(int n);
/* The large f32 matrix products of a training step: "avx512" or "avx2" (the
 * library's own micro-kernels, the best this CPU runs, on the threads of
 * bp_set_threads), or "blas" (OpenBLAS: a CPU with neither; f64 steps always
 * take OpenBLAS). The own products give the same bits on any number of
 * threads. BP_SGEMM=avx512|avx2|ref|blas in the environment forces one the
 * CPU runs ("ref": the portable C kernel), for comparisons. */
BP_API const char *bp_matmul_kernel(void);

/* A trainer: a network (borrowed, updated in place), its optimizer state and
 * where it is in the run. Everything needed to resume is in the trainer. */
typedef struct bp_trainer bp_trainer;
BP_API bp_status bp_trainer_new(bp_net *net, const bp_train_options *opt, bp_trainer **out, bp_error *err);
BP_API void bp_trainer_free(bp_trainer *t);
/* Train on `train` (validation on `val`, may be NULL) until a stop rule fires.
 * Returns BP_OK at the end, BP_E_INTERRUPTED when *opt->stop was set (the state
 * is then consistent: save a checkpoint and resume later), BP_E_DIVERGED when
 * the loss or a weight became NaN or Inf (the network is restored to the
 * weights before the bad step; the message names the epoch and batch). */
BP_API bp_status bp_trainer_run(bp_trainer *t, const bp_dataset *train, const bp_dataset *val, bp_error *err);
/* Epochs completed and their numbers (owned by the trainer). */
BP_API int bp_trainer_history(const bp_trainer *t, const bp_epoch_stats **stats);
/* Why the run ended: "max epochs", "tol", "early stopping", ... (static). */
BP_API const char *bp_trainer_stop_reason(const bp_trainer *t);
/* Checkpoint: the network, optimizer state, position and history, atomically. */
BP_API bp_status bp_trainer_save(const bp_trainer *t, const bp_scaler *scaler, const char *path, bp_error *err);
/* What a checkpoint was made with: the network's shape and dtype and the
 * run's options (callbacks and stop left empty), to make the trainer that
 * bp_trainer_load restores it into. */
BP_API bp_status bp_checkpoint_info(const char *path, bp_net_spec *spec, bp_dtype *dtype, bp_train_options *opt,
                                    bp_error *err);
/* The convention at kinks the checkpoint's run was trained with (the
 * network's bp_kinks; a checkpoint of an older version: the default), to
 * set on the network before bp_trainer_load, which refuses a network with
 * another one. */
BP_API bp_status bp_checkpoint_kinks(const char *path, bp_kinks *kinks, bp_error *err);
/* Restore a checkpoint written by bp_trainer_save into a trainer created for
 * the same network shape and options. */
BP_API bp_status bp_trainer_load(bp_trainer *t, const char *path, bp_error *err);
/* Optimizer steps taken so far in the run (a resumed run counts those before
 * its checkpoint). */
BP_API long bp_trainer_steps(const bp_trainer *t);

/* ---- MPI: a bp_reducer over Open MPI ------------------------------------
 *
 * `mpirun -np N prog` starts N processes; each calls bp_mpi_init, gives
 * bp_mpi_reducer to its trainer (bp_train_options.reducer) and
 * bp_mpi_finalize at the end.  The gradients of each layer are summed with
 * MPI's nonblocking allreduce (persistent requests, made once per layer, when
 * the MPI library has them: no allocation per step), in place; the small
 * reductions (losses, counts, flags) gather every process's numbers and add
 * them in rank order, so their bits do not depend on MPI's algorithm. When
 * MPI allows it (MPI_THREAD_SERIALIZED), a thread of the handle keeps the
 * begun sums moving while the backward pass computes (MPI moves data only
 * inside its calls); BP_MPI_PROGRESS_THREAD=0 in the environment turns it
 * off. Built
 * only when CMake found MPI; otherwise the functions below exist, bp_mpi_init
 * fails with BP_E_ARG saying how to enable it, and the others do nothing. */
typedef struct bp_mpi bp_mpi;
/* 1 when the library was built with MPI, else 0. */
BP_API int bp_mpi_available(void);
/* How many processes an MPI launcher (mpirun, mpiexec) started this process
 * among, read from its environment (Open MPI's OMPI_COMM_WORLD_SIZE, the PMI
 * of MPICH and Slurm: PMI_SIZE), and this process's rank into *rank (may be
 * NULL); 0 when not started by one.  Needs no MPI: a program built without it
 * can still tell that it was started under mpirun. */
BP_API int bp_mpi_launched(int *rank);
/* Initialise MPI once per process (MPI_Init_thread; argc and argv as main's,
 * may be NULL) and make the handle over MPI_COMM_WORLD, owned by the caller
 * (bp_mpi_finalize). */
BP_API bp_status bp_mpi_init(int *argc, char ***argv, bp_mpi **out, bp_error *err);
BP_API int bp_mpi_rank(const bp_mpi *m);
BP_API int bp_mpi_size(const bp_mpi *m);
/* The reducer over MPI (owned by the handle, valid until bp_mpi_finalize). */
BP_API const bp_reducer *bp_mpi_reducer(bp_mpi *m);
/* Seconds spent since bp_mpi_init inside the gradient sums' start() and
 * progress() calls (*calls), blocked in wait() (*waiting) and in the small
 * blocking reductions and agreements (*small: a step's loss, counts and
 * flags), and how many gradient sums were started (*sums); any pointer may
 * be NULL. */
BP_API void bp_mpi_times(const bp_mpi *m, double *calls, double *waiting, double *small, long *sums);
/* Stop every process of the run now (MPI_Abort) with exit status code; for a
 * failure the other processes cannot know of. Does not return. */
BP_API void bp_mpi_abort(bp_mpi *m, int code);
/* Finalize MPI and free the handle (NULL: nothing). Every process calls it. */
BP_API void bp_mpi_finalize(bp_mpi *m);

/* ------------------------------------------------------------------------ */
/* Evaluation                                                                */
/* ------------------------------------------------------------------------ */

/* Loss and metrics of a network on a dataset. For classifiers (nclasses > 0):
 * accuracy, per-class accuracy and the confusion matrix (true class rows,
 * predicted class columns); for regression: MSE and MAE. */
typedef struct bp_metrics {
    int n, nclasses;
    double loss, accuracy, mse, mae;
    double *class_acc;      /* nclasses, owned                           */
    long *confusion;        /* nclasses x nclasses, owned                */
} bp_metrics;
BP_API bp_status bp_evaluate(bp_net *net, const bp_dataset *d, int batch, bp_metrics *out, bp_error *err);
BP_API void bp_metrics_free(bp_metrics *m);
/* Outputs of the network for every sample of d: n x outputs floats into `out`
 * (caller-allocated). */
BP_API bp_status bp_predict(bp_net *net, const bp_dataset *d, int batch, float *out, bp_error *err);
/* Details of the two above: `batch` <= 0 means 256.  The loss is reduced over
 * the whole set like the net's reduction (mean: total / n; sum: total); NaN
 * when the net has no loss.  Classifying (d->nclasses > 0 and d->labels, the
 * one rule of evaluation and of training's accuracy): the net's classes are
 * its outputs, or 2 for one output unit (class 1 iff output >= 0.5, whatever
 * the loss), so m->nclasses may exceed d->nclasses; the predicted class is the
 * first largest output.  Without labels there is no accuracy, only MSE/MAE.
 * Fields that do not apply (accuracy for regression, MSE/MAE for classifiers,
 * the accuracy of a class without samples) are NaN.  MSE and MAE are means
 * over samples and outputs.  Errors: feature or output counts that differ
 * ("the model has 784 inputs, the data has 10 features"), no targets. */

/* Training curves as an SVG image (written atomically): a loss panel and an
 * accuracy panel (which says "no accuracy (regression)" when every accuracy
 * is NaN), each with train and validation lines; NaN values are skipped. */
BP_API bp_status bp_plot_svg(const bp_epoch_stats *s, int n, const char *path, bp_error *err);
/* The same numbers as CSV (written atomically), header
 * "epoch,train_loss,train_acc,val_loss,val_acc,seconds", one row per epoch,
 * each number in the shortest form that reads back as the same double; a NaN
 * value, and the accuracies when classifier == 0, are empty fields. */
BP_API bp_status bp_log_csv(const bp_epoch_stats *s, int n, int classifier, const char *path, bp_error *err);
/* Layer `layer`'s (0-based) weights as templates, an SVG picture (written
 * atomically): unit j's incoming weights (the bias, or the bias trick's
 * column, left out and written under the tile) as an h x w image, row by
 * row (h * w must be the layer's fan-in), in a grid, on one diverging colour
 * scale (blue -max|w|, white 0, red +max|w| over the layer) with its bar;
 * tiles named "unit j+1", or by class ("3 Dress") for the output layer of a
 * net with class names. title (may be NULL) heads the picture. */
BP_API bp_status bp_plot_weights_svg(bp_net *net, int layer, int h, int w, const char *title, const char *path,
                                     bp_error *err);

/* ------------------------------------------------------------------------ */
/* One-vs-rest and one-vs-one: a classifier of k classes made of binary ones */
/* ------------------------------------------------------------------------ */
/*
 * A model set holds binary networks of one shape (one sigmoid output, bce):
 * one-vs-rest, k of them, model c telling class c (positive, target 1) from
 * all the others; one-vs-one, k(k-1)/2 of them, one per pair i < j in the
 * order (0,1), (0,2), ..., (k-2,k-1), trained on the samples of classes i and
 * j only, class i positive. Its class for a sample:
 *  - one-vs-rest, BP_OVR_SCORE: the largest output (the first on a tie);
 *    BP_OVR_DISTANCE: the largest signed distance g(x)/|theta| of the sample
 *    from each model's boundary (CS577 Assignment 2's rule; models without
 *    hidden layers only; g = z of the output unit, theta its weights, for x
 *    as the data gives it: the scaler passed is folded in);
 *  - one-vs-one: the most votes (a model votes for its positive class when its
 *    output is >= 0.5, else for its negative one); a tie goes to the class
 *    with the largest summed confidence (a model's output for its positive
 *    class, 1 - output for its negative one, over the models of that class),
 *    then to the lower class.
 */
typedef enum bp_multiclass_scheme { BP_OVR = 0, BP_OVO } bp_multiclass_scheme;
typedef enum bp_ovr_rule { BP_OVR_SCORE = 0, BP_OVR_DISTANCE } bp_ovr_rule;
typedef struct bp_multiclass bp_multiclass;

/* "ovr" / "ovo"; parse one (0, or -1 if unknown). */
BP_API const char *bp_multiclass_scheme_name(bp_multiclass_scheme s);
BP_API int bp_multiclass_scheme_parse(const char *s, bp_multiclass_scheme *out);
/* A set from binary networks (taken over: freed by bp_multiclass_free, also
 * on failure) of one shape with one sigmoid output: k classes, nmodels = k
 * (ovr) or k(k-1)/2 (ovo) in the order above; names: the classes' names
 * (copied; may be NULL). */
BP_API bp_status bp_multiclass_new(bp_multiclass_scheme scheme, int k, bp_net **nets, int nmodels,
                                   const char *const *names, bp_multiclass **out, bp_error *err);
BP_API void bp_multiclass_free(bp_multiclass *mc);
BP_API bp_multiclass_scheme bp_multiclass_get_scheme(const bp_multiclass *mc);
BP_API int bp_multiclass_classes(const bp_multiclass *mc);
BP_API int bp_multiclass_models(const bp_multiclass *mc);
/* Model i (owned by the set) and its classes: positive, and negative (-1:
 * the rest, one-vs-rest). */
BP_API bp_net *bp_multiclass_model(bp_multiclass *mc, int i);
BP_API void bp_multiclass_pair(const bp_multiclass *mc, int i, int *positive, int *negative);
/* The classes' names (owned by the set), or NULL. */
BP_API const char *const *bp_multiclass_class_names(const bp_multiclass *mc);

/* Train a set on `train` (class labels 0..k-1, k >= 3; nclasses and labels
 * set; validation on `val`, may be NULL): for each model, the data relabelled
 * (one output, target 1 for its positive class, 0 else; one-vs-one: the
 * samples of its two classes only), a network of `spec` (one sigmoid output,
 * loss bce) in `dtype`, initialised with `init` and trained with `opt`, the
 * seed of model m (0-based) being opt->seed + (m + 1) * 0x9E3779B97F4A7C15
 * (mod 2^64) for both its initialisation and its shuffling. Before model m,
 * on_model (may be NULL) is called with m, nmodels and its classes (-1: the
 * rest); opt's callbacks report its epochs. The class names of `train` go
 * into the set. Errors: the spec is not binary, fewer than 3 classes, a
 * class without samples, and whatever training returns (BP_E_INTERRUPTED,
 * BP_E_DIVERGED: the message names the model). */
BP_API bp_status bp_multiclass_train(const bp_net_spec *spec, bp_dtype dtype, bp_init init,
                                     bp_multiclass_scheme scheme, const bp_dataset *train, const bp_dataset *val,
                                     const bp_train_options *opt,
                                     void (*on_model)(void *user, int m, int nmodels, int positive, int negative),
                                     void *user, bp_multiclass **out, bp_error *err);
/* The class of every sample of d (classes: n ints) and the combined rule's
 * confidence (conf: n doubles, may be NULL: one-vs-rest the winner's output,
 * or its distance; one-vs-one the winner's share of the votes). scaler: the
 * inputs' scaling (for the distance rule; may be NULL). `batch` as for
 * bp_predict. */
BP_API bp_status bp_multiclass_predict(bp_multiclass *mc, const bp_scaler *scaler, bp_ovr_rule rule,
                                       const bp_dataset *d, int batch, int *classes, double *conf, bp_error *err);
/* Accuracy, per-class accuracy and the confusion matrix of the combined
 * classifier on d (labels needed); loss, mse and mae are NaN. */
BP_API bp_status bp_multiclass_evaluate(bp_multiclass *mc, const bp_scaler *scaler, bp_ovr_rule rule,
                                        const bp_dataset *d, int batch, bp_metrics *out, bp_error *err);
/* A set on disk: one safetensors file, tensors "models.M.layers.L.weight"
 * and ".bias" (as bp_net_save's "layers.L...." for model M), the scaler's as
 * bp_net_save; __metadata__: format, version and architecture (the binary
 * networks' shape) as bp_net_save, input scaling as bp_net_save, and
 * "multiclass" = {"scheme": "ovr"|"ovo", "classes": k, "class_names": [...]
 * (when known), "models": [{"positive": i, "negative": j or "rest"}, ...]}.
 * Written atomically; loads validate everything. */
BP_API bp_status bp_multiclass_save(const bp_multiclass *mc, const bp_scaler *scaler, const char *path, bp_error *err);
BP_API bp_status bp_multiclass_load(const char *path, bp_dtype dtype, bp_multiclass **out, bp_scaler *scaler,
                                    bp_error *err);
/* Is `path` a model set (a safetensors file whose metadata has "multiclass")?
 * 0 for anything else, also a file that cannot be read. */
BP_API int bp_multiclass_file(const char *path);

/* ------------------------------------------------------------------------ */
/* Decision boundaries of linear models: `backprop boundary`                 */
/* ------------------------------------------------------------------------ */
/*
 * A boundary holds linear functions g(x) = theta_0 + theta . x of the same
 * variables; each one's boundary is g(x) = 0, with normal n = theta (theta_0
 * not part of it), unit normal n/|n| (pointing to the side where g > 0) and
 * signed distance from the origin -theta_0/|n|. A point x has the value g(x),
 * the side of its sign and the signed distance g(x)/|n|.
 */
typedef struct bp_boundary bp_boundary;

/* From a linear expression in the `expr` language ("1 + 2*x1 + 3*x2": sums
 * and differences of numbers and of variables times constants; constants may
 * be any expression of numbers). Variables named x1, x2, ... are taken in
 * their index order (theta_i belongs to x_i however the terms are written),
 * other names after them in order of first appearance. Errors: BP_E_PARSE
 * (syntax, as bp_expr_parse), BP_E_VALUE for anything not linear, naming the
 * term and its column ("x1*x2 (at column 5) is not linear: a product of two
 * terms that depend on variables (x1 and x2)"), for definitions, vectors and
 * a g without variables; `where` (may be NULL) the term's byte offset. */
BP_API bp_status bp_boundary_parse(const char *text, bp_boundary **out, int *where, bp_error *err);
/* From a network without hidden layers (any layout, bias or bias trick), for
 * x as the data gives it (scaler, may be NULL, folded in: theta_i / (divide
 * std_i), theta_0 - sum theta_i mean_i / std_i). One output: g = z - c where
 * the output is 0.5 (c = 0 for sigmoid, 0.5 for linear and relu, atanh 0.5
 * for tanh); k outputs (softmax, sigmoid, tanh or linear): the k class scores
 * g_k = z_k, then the pairwise boundaries g_i - g_j (i < j). `what` names the
 * model in messages (may be NULL). Errors: hidden layers, relu over several
 * outputs, a softmax of one unit. */
BP_API bp_status bp_boundary_of_net(bp_net *net, const bp_scaler *scaler, const char *what, bp_boundary **out,
                                    bp_error *err);
/* From a model set of networks without hidden layers: one-vs-rest, each
 * class's g_k (the output unit's z), then the pairwise g_i - g_j; one-vs-one,
 * each pair's g_ij (positive side: class i). */
BP_API bp_status bp_boundary_of_multiclass(bp_multiclass *mc, const bp_scaler *scaler, const char *what,
                                           bp_boundary **out, bp_error *err);
BP_API void bp_boundary_free(bp_boundary *b);
/* Its variables, functions, and each function's name, theta_0, theta_i and
 * classes (class score: ci and cj = -1; a pair: ci on the positive side, cj
 * on the negative; one-vs-rest: cj = -1; an expression: both -1; one output
 * unit: ci = 1, cj = 0). */
BP_API int bp_boundary_dims(const bp_boundary *b);
BP_API const char *bp_boundary_var(const bp_boundary *b, int i);
BP_API int bp_boundary_count(const bp_boundary *b);
BP_API const char *bp_boundary_name(const bp_boundary *b, int k);
BP_API double bp_boundary_theta0(const bp_boundary *b, int k);
BP_API double bp_boundary_theta(const bp_boundary *b, int k, int i);
BP_API void bp_boundary_classes(const bp_boundary *b, int k, int *ci, int *cj);
/* g_k(x) for x of bp_boundary_dims values. */
BP_API double bp_boundary_value(const bp_boundary *b, int k, const double *x);
/* Add a point for the reports, "x1=1,x2=-2" (every variable once). */
BP_API bp_status bp_boundary_add_point(bp_boundary *b, const char *assignments, bp_error *err);
/* The reports: every function's theta_0, theta, normal, |n|, unit normal and
 * distance from the origin, then per point each g(x), side and signed
 * distance and, for a classifier, the predicted class. Text (numbers to 8
 * significant digits) or one line of JSON:
 *   {"variables": [...], "kind": "expression"|"binary"|"classes"|"ovr"|"ovo",
 *    "classes": k|null, "class_names": [...]|null,
 *    "boundaries": [{"name", "symbol", "classes": [ci]|[ci, cj]|[ci, "rest"]|null, "theta0", "theta",
 *                    "normal", "norm", "unit_normal", "distance"}],
 *    "points": [{"x": [...], "g": [...], "side": [1|-1|0, ...],
 *                "distance": [...], "class": c|null}]}
 * (unit_normal and distance are null for theta = 0; "class_by_distance" is
 * added to a one-vs-rest point). */
BP_API bp_status bp_boundary_write_text(const bp_boundary *b, FILE *out, bp_error *err);
BP_API bp_status bp_boundary_write_json(const bp_boundary *b, FILE *out, bp_error *err);

/* The decision regions of a classifier of two inputs as an SVG picture
 * (written atomically): the plane around the samples of d (x as the data
 * gives it; the scaler, may be NULL, is applied before the model) coloured by
 * the class the model predicts, one unit of x1 as long as one of x2; the
 * samples as dots in their class's colour (d->labels; grey without), a dark
 * ring where the model is wrong; for a model without hidden layers its
 * boundary lines with their unit normals (one output: g = 0; k outputs: the
 * pieces of g_i = g_j between neighbouring regions; a model set: each
 * model's g = 0, dashed); a legend with the classes' names and the accuracy
 * on d. Exactly one of net and mc is given; rule is a one-vs-rest set's.
 * title (may be NULL) heads the picture. Errors: not two inputs. */
BP_API bp_status bp_plot_regions_svg(bp_net *net, bp_multiclass *mc, const bp_scaler *scaler, bp_ovr_rule rule,
                                     const bp_dataset *d, const char *title, const char *path, bp_error *err);


#ifdef __cplusplus
}
#endif
#endif /* BACKPROP_H */
