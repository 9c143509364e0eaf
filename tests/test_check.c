/* test_check.c - `backprop check`: every formula of the course notes'
 * derivations for the example networks in examples/, once right and once as
 * the notes wrote it, in the ASCII language and in the notes' LaTeX; the
 * slips listed in docs/examples.md come out wrong (at the file's values or at
 * a redraw) or of the wrong shape, the right forms right. The truth is the
 * network's own pass (tested against PyTorch in test_golden.c). Also: bad
 * formulas, the JSON object, and the Jacobians of --jacobian against central
 * differences of the network's forward pass. The last line printed is
 * "N passed, M failed". */
#define _POSIX_C_SOURCE 200809L
#include "backprop.h"
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { R = BP_CHECK_RIGHT, W = BP_CHECK_WRONG, S = BP_CHECK_SHAPE };
enum { ANY = -2, FILEV = 0, REDRAW = 1 };

typedef struct tcase {
    const char *formula;
    int verdict;
    int at;             /* W: FILEV or REDRAW                         */
    const char *hint;   /* a part of the hint, or NULL               */
} tcase;

/* Check the formulas of `cases` on model `path` (samples as given) and
 * compare each verdict with the expected one. */
static void run(const char *path, bp_samples samples, const tcase *cases, int n)
{
    bp_model *m = NULL;
    bp_check *c = NULL;
    bp_error err;
    if (bp_model_load(path, BP_F64, &m, &err) || bp_check_new(m, samples, 10, 1, &c, &err)) {
        CHECK(0, "%s: %s", path, err.msg);
        bp_model_free(m);
        return;
    }
    for (int i = 0; i < n; i++) {
        int where;
        if (bp_check_add(c, cases[i].formula, i + 1, &where, &err)) CHECK(0, "%s: '%s': %s", path, cases[i].formula, err.msg);
    }
    if (bp_check_run(c, &err)) CHECK(0, "%s: run: %s", path, err.msg);
    CHECK(bp_check_count(c) >= n, "%s: %d formulas, wanted %d at least", path, bp_check_count(c), n);
    for (int i = 0; i < bp_check_count(c); i++) {   /* a chain A = B = C gives several, each judged as its line */
        bp_check_result r;
        if (bp_check_result_get(c, i, &r) || r.line < 1 || r.line > n) { CHECK(0, "%s: result %d", path, i); continue; }
        const tcase *t = &cases[r.line - 1];
        int ok = (int)r.verdict == t->verdict;
        if (ok && t->verdict == W && t->at != ANY) ok = t->at == FILEV ? r.draw == 0 : r.draw > 0;
        if (ok && t->hint) ok = r.hint && strstr(r.hint, t->hint);
        CHECK(ok, "%s: '%s': verdict %d at draw %d (entry [%d][%d], yours %.17g, true %.17g), hint '%s'; wanted %d%s%s%s",
              path, r.formula, (int)r.verdict, r.draw, r.entry[0], r.entry[1], r.yours, r.truth, r.hint ? r.hint : "",
              t->verdict, t->verdict == W ? (t->at == FILEV ? " at the file's values" : " at a redraw") : "",
              t->hint ? ", hint " : "", t->hint ? t->hint : "");
    }
    bp_check_free(c);
    bp_model_free(m);
}

#define RUN(path, samples, cases) run(path, samples, cases, (int)(sizeof cases / sizeof *cases))

/* CS577 Assignment 2, question 12: out_in, samples as columns (x is 2x3,
 * a[1] 3x3, W[2] 1x3), squared loss summed over m = 3. The assignment uses
 * the bias trick and the hidden activations stacked as Z, one row per hidden
 * unit. */
static void test_q12(void)
{
    static const tcase cases[] = {
        /* right */
        {"z[1] = W[1] @ x + b[1]", R, 0, NULL},
        {"z^{[1]} = W^{[1]} x + b^{[1]}", R, 0, NULL},
        {"a[1] = sigmoid(z[1])", R, 0, NULL},
        {"a^{[1]} = \\sigma(z^{[1]})", R, 0, NULL},
        {"yhat = W[2] @ a[1] + b[2]", R, 0, NULL},
        {"\\hat{y} = W^{[2]} a^{[1]} + b^{[2]}", R, 0, NULL},
        {"dL_dyhat = 2*(yhat - y)", R, 0, NULL},
        {"\\frac{\\partial L}{\\partial \\hat{y}} = 2 \\cdot (\\hat{y} - y)", R, 0, NULL},
        {"dL_dW[2] = dL_dz[2] @ a[1]^T", R, 0, NULL},
        {"\\frac{\\partial L}{\\partial W^{[2]}} = \\sum_{i=1}^{m} 2 (\\hat{y} - y^{(i)}) \\cdot a^{[1]T}", R, 0, NULL},
        {"dL_db[2] = rowsum(2*(yhat - y))", R, 0, NULL},
        {"\\frac{\\partial L}{\\partial b^{[2]}} = \\sum_{i=1}^{m} 2 (\\hat{y} - y)", R, 0, NULL},
        {"dL_dW[1] = ((W[2]^T @ dL_dz[2]) * a[1] * (1 - a[1])) @ x^T", R, 0, NULL},
        {"\\frac{\\partial L}{\\partial W^{[1]}} = ((W^{[2]})^T \\frac{\\partial L}{\\partial z^{[2]}} \\odot "
         "\\sigma'(z^{[1]})) x^T", R, 0, NULL},
        {"sigmoid'(z[1]) = a[1] * (1 - a[1])", R, 0, NULL},
        /* as the assignment wrote it: yhat = Z* v with the hidden units as rows, used as samples */
        {"yhat = W[2] @ a[1]^T + b[2]", W, FILEV, NULL},
        {"\\hat{y} = W^{[2]} a^{[1]T} + b^{[2]}", W, FILEV, NULL},
        /* dL/dyhat = [15.885, 21.886, 19.886]: the values of 2(y - yhat) */
        {"dL_dyhat = 2*(y - yhat)", W, FILEV, "wrong sign"},
        {"\\frac{\\partial L}{\\partial \\hat{y}} = 2 \\cdot (y - \\hat{y})", W, FILEV, "wrong sign"},
        /* dL/dv = Z*^T dL/dyhat: the sign dropped, the transposed Z */
        {"dL_dW[2] = 2*(y - yhat) @ a[1]", W, FILEV, NULL},
        {"\\frac{\\partial L}{\\partial W^{[2]}} = 2 (y - \\hat{y}) a^{[1]}", W, FILEV, NULL},
        {"dL_db[2] = rowsum(2*(y - yhat))", W, FILEV, "wrong sign"},
        /* the logistic derivative written as WX(1 - WX) of the pre-activation */
        {"sigmoid'(z[1]) = z[1] * (1 - z[1])", W, FILEV, NULL},
        {"\\sigma'(z^{[1]}) = z^{[1]} \\odot (1 - z^{[1]})", W, FILEV, NULL},
        /* dL/dW = dL/dyhat . v^T . WX(1 - WX) . X*: the samples summed before each sample's sigma'(z) x */
        {"dL_dW[1] = 2*(y - yhat)^T @ W[2] @ (z[1] * (1 - z[1])) @ x^T", W, FILEV, NULL},
        {"\\frac{\\partial L}{\\partial W^{[1]}} = 2 (y - \\hat{y})^T \\cdot W^{[2]} \\cdot z^{[1]}(1 - z^{[1]}) \\cdot x^T",
         W, FILEV, NULL},
    };
    RUN("examples/q12.json", BP_SAMPLES_LAYOUT, cases);
}

/* "Back Propagation": in_out, samples as rows (one), BCE; the notes' g^[..] notation. */
static void test_backprop_notes(void)
{
    static const tcase cases[] = {
        {"z[1] = a[0] @ W[1] + b[1]", R, 0, NULL},
        {"z^{[1]} = a^{[0]} W^{[1]} + b^{[1]}", R, 0, NULL},
        {"a[1] = sigmoid(z[1])", R, 0, NULL},
        {"g[3a] = (a[3] - y) / (a[3] * (1 - a[3]))", R, 0, NULL},
        {"g^{[3a]} = \\frac{1-y}{1-a^{[3]}} - \\frac{y}{a^{[3]}}", R, 0, NULL},
        {"g^{[3a]} = \\frac{a^{[3]} - y}{a^{[3]} \\left( 1 - a^{[3]} \\right)}", R, 0, NULL},
        {"g'(z[3]) = a[3] * (1 - a[3])", R, 0, NULL},
        {"g'_{o}(z^{[3]}) = a^{[3]} (1 - a^{[3]})", R, 0, NULL},
        {"g[3z] = g'(z[3]) * g[3a]", R, 0, NULL},
        {"g^{[3z]} = \\frac{d\\mathcal{L}(\\hat{y},y)}{dz^{[3]}} = g_o'(z^{[3]}) \\cdot g^{[3a]}", R, 0, NULL},
        {"g[3W] = a[2]^T @ g[3z]", R, 0, NULL},
        {"g^{[3W]} = \\frac{\\partial \\mathcal{L}(\\hat{y}, y)}{\\partial W^{[3]}} = (a^{[2]})^T_{2 \\times 1} \\cdot "
         "g^{[3z]}_{1 \\times 1}", R, 0, NULL},
        {"g[3b] = g[3z]", R, 0, NULL},
        {"\\frac{\\partial \\mathcal{L}(\\hat{y}, y)}{\\partial b^{[3]}} = g^{[3z]}_{1 \\times 1}", R, 0, NULL},
        {"g[2a] = g[3z] @ W[3]^T", R, 0, NULL},
        {"g^{[2a]} = g^{[3z]}_{1 \\times 1} \\cdot \\left( W^{[3]} \\right)_{1 \\times 2}^{T}", R, 0, NULL},
        {"g[2z] = g'(z[2]) * g[2a]", R, 0, NULL},
        {"g^{[2z]} = g_{h}'\\left(z^{[2]}\\right)_{1\\times 2} \\circ g^{[2a]}_{1\\times 2}", R, 0, NULL},
        {"g[2W] = a[1]^T @ g[2z]", R, 0, NULL},
        {"g^{[2W]} = \\left( a^{[1]} \\right)^{T}_{3 \\times 1} \\cdot g^{[2z]}_{1 \\times 2}", R, 0, NULL},
        {"g[2b] = g[2z]", R, 0, NULL},
        {"g^{[2b]} = g^{[2z]}_{1 \\times 2}", R, 0, NULL},
        {"g[1a] = g[2z] @ W[2]^T", R, 0, NULL},
        {"g^{[1a]} = g^{[2z]}_{1\\times 2} \\cdot (W^{[2]})^T", R, 0, NULL},
        {"g[1z] = g'(z[1]) * g[1a]", R, 0, NULL},
        {"g^{[1z]} = g_{h}'\\left(z^{[1]}\\right)_{1\\times 3} \\circ g^{[1a]}", R, 0, NULL},
        {"g[1W] = a[0]^T @ g[1z]", R, 0, NULL},
        {"g^{[1w]} = \\left(a^{[0]}\\right)^T_{4\\times1} \\cdot g^{[1z]}_{1\\times3}", R, 0, NULL},
        {"g[1b] = g[1z]", R, 0, NULL},
        {"$$g^{[1b]} = g^{[1z]}_{1\\times3}$$", R, 0, NULL},
        /* as the notes wrote it: the sigmoid as 1/(1 - e^-z) */
        {"a[1] = 1 / (1 - exp(-z[1]))", W, FILEV, NULL},
        {"a^{[1]} = \\frac{1}{1 - e^{-z^{[1]}}}", W, FILEV, NULL},
        /* its derivative as the notes wrote it: e^-z / (1 - e^-z)^2 */
        {"g'(z[3]) = exp(-z[3]) / (1 - exp(-z[3]))^2", W, FILEV, NULL},
        {"g'_{o}(z^{[3]}) = \\frac{e^{-z^{[3]}}}{\\left(1 - e^{-z^{[3]}}\\right)^{2}}", W, FILEV, NULL},
        /* z^[3] = a^[2] W^[3] + b^[2]: the bias of layer 2 */
        {"z[3] = a[2] @ W[3] + b[2]", S, 0, "yours is 1x2, the true one 1x1"},
        {"z^{[3]} = a^{[2]} W^{[3]} + b^{[2]}", S, 0, "yours is 1x2, the true one 1x1"},
        /* dL/da^[1]_2 through row 3 of W^[2] (a matrix picks the rows; LaTeX takes no matrix written out) */
        {"dL_da[1] = g[2z] @ ([[1, 0, 0], [0, 0, 1], [0, 0, 1]] @ W[2])^T", W, FILEV, NULL},
    };
    RUN("examples/backprop_notes_4321.json", BP_SAMPLES_LAYOUT, cases);
}

/* CS 1678/2078 HW Backprop, part 1: out_in, h^i = relu(h^{i-1} W^{iT}) with
 * h a row: samples as rows (--samples rows); delta[3] = dl/df = yhat - y. */
static void test_hw_single(void)
{
    static const tcase cases[] = {
        {"z[1] = x @ W[1]^T", R, 0, NULL},
        {"z^{[1]} = x W^{[1]T}", R, 0, NULL},
        {"dL_dyhat = yhat - y", R, 0, NULL},
        {"\\delta^{[3]} = \\frac{\\partial l}{\\partial \\hat{y}} = \\hat{y} - y", R, 0, NULL},
        /* 3. dl/dW^3 = delta h^2 */
        {"dL_dW[3] = delta[3] * a[2]", R, 0, NULL},
        {"\\frac{\\partial l}{\\partial W^{[3]}} = \\delta^{[3]} a^{[2]}", R, 0, NULL},
        /* 5. dl/dh^2 = delta W^3 */
        {"dL_da[2] = delta[3] * W[3]", R, 0, NULL},
        {"\\frac{\\partial l}{\\partial a^{[2]}} = \\delta^{[3]} W^{[3]}", R, 0, NULL},
        /* 6. relu'(x) = x >= 0 (the same as x > 0 except at 0) */
        {"relu'(z[2]) = z[2] >= 0", R, 0, NULL},
        {"g'(z^{[2]}) = \\mathbb{1}[z^{[2]} \\geq 0]", R, 0, NULL},
        /* 11. dl/dW^2 = delta (W^3 . (z^2 >= 0))^T h^1 */
        {"dL_dW[2] = (delta[3] * (W[3] * (z[2] >= 0)))^T @ a[1]", R, 0, NULL},
        {"\\frac{\\partial l}{\\partial W^{[2]}} = \\delta^{[3]} \\left(W^{[3]} \\odot (z^{[2]} \\geq 0)\\right)^\\top a^{[1]}",
         R, 0, NULL},
        /* 15. dl/dh^1 = delta (W^3 . (z^2 >= 0)) W^2 */
        {"dL_da[1] = delta[3] * (W[3] * (z[2] >= 0)) @ W[2]", R, 0, NULL},
        {"\\frac{\\partial l}{\\partial a^{[1]}} = \\delta^{[3]} \\left( W^{[3]} \\odot (z^{[2]} \\geq 0) \\right) W^{[2]}", R, 0, NULL},
        /* dl/dW^1 with the first layer's ReLU factor */
        {"dL_dW[1] = ((delta[3] * (W[3] * (z[2] >= 0)) @ W[2]) * (z[1] > 0))^T @ x", R, 0, NULL},
        {"\\frac{\\partial l}{\\partial W^{[1]}} = \\left(\\delta^{[3]} (W^{[3]} \\odot 1\\{z^{[2]} \\geq 0\\}) W^{[2]} \\odot "
         "\\mathbf{1}(z^{[1]} > 0)\\right)^T x", R, 0, NULL},
        /* 16-17 as written: the first layer's ReLU factor dropped (unit 2 of z^1 is negative here) */
        {"dL_dW[1] = (delta[3] * (W[3] * (z[2] >= 0)) @ W[2])^T @ x", W, FILEV, NULL},
        {"\\frac{\\partial l}{\\partial W^{[1]}} = \\left( \\delta^{[3]} (W^{[3]} \\odot (z^{[2]} \\geq 0)) W^{[2]} \\right)^T x",
         W, FILEV, NULL},
        /* a slip the file's values hide: every z[2] > 0 here, so (z^2 >= 0) is 1 */
        {"dL_dW[2] = (delta[3] * W[3])^T @ a[1]", W, REDRAW, "every z[2] > 0"},
        {"\\frac{\\partial l}{\\partial W^{[2]}} = (\\delta^{[3]} W^{[3]})^T a^{[1]}", W, REDRAW, "every z[2] > 0"},
        /* the index slips of questions 10, 14 and 15 (matrices pick the entries the homework wrote) */
        {"dL_dW[2] = ((delta[3] * W[3] * (z[2] >= 0)) * (a[1] @ [[1, 0], [0, 1], [0, 0]]))^T @ ones(1, 3)", W, FILEV, NULL},
        {"dL_da[1] = delta[3] * ((W[3] * (z[2] >= 0)) @ [[1, 1], [0, 0]]) @ W[2]", W, FILEV, NULL},
        {"dL_da[1] = delta[3] * ((W[3] * (z[2] >= 0)) @ W[2] @ diag([1, 1, 0]) + (W[3] * ((z[2] >= 0) @ [[0, 0], [1, 1]])) @ "
         "W[2] @ diag([0, 0, 1]))", W, REDRAW, "every z[2] > 0"},
    };
    RUN("examples/hw_backprop_relu_single.json", BP_SAMPLES_ROWS, cases);
}

/* Part 2: a batch of m = 2, the mean of half squared errors. */
static void test_hw_batch(void)
{
    static const tcase cases[] = {
        /* 1. delta = dl/dh^3 = (h^3 - y)/m */
        {"dL_dyhat = (yhat - y) / m", R, 0, NULL},
        {"\\frac{\\partial l}{\\partial \\hat{y}} = \\frac{1}{m} (\\hat{y} - y)", R, 0, NULL},
        /* 3. dl/dW^3 = delta^T h^2 */
        {"dL_dW[3] = delta[3]^T @ a[2]", R, 0, NULL},
        {"\\frac{\\partial l}{\\partial W^{[3]}} = (\\delta^{[3]})^\\top a^{[2]}", R, 0, NULL},
        /* 5. dl/dh^2 = delta W^3 */
        {"dL_da[2] = delta[3] @ W[3]", R, 0, NULL},
        {"\\frac{\\partial l}{\\partial a^{[2]}} = \\delta^{[3]} W^{[3]}", R, 0, NULL},
        /* 7. dl/dW^2 = (delta W^3 . (z^2 >= 0))^T h^1 */
        {"dL_dW[2] = (delta[3] @ W[3] * (z[2] >= 0))^T @ a[1]", R, 0, NULL},
        {"\\frac{\\partial l}{\\partial W^{[2]}} = \\left(\\delta^{[3]} W^{[3]} \\odot (z^{[2]} \\geq 0)\\right)^\\top a^{[1]}", R, 0, NULL},
        /* 8. dl/dh^1 = (dl/dh^2 . (z^2 > 0)) W^2 */
        {"dL_da[1] = (dL_da[2] * (z[2] > 0)) @ W[2]", R, 0, NULL},
        {"\\frac{\\partial l}{\\partial a^{[1]}} = \\left(\\frac{\\partial l}{\\partial a^{[2]}} \\odot (z^{[2]} > 0)\\right) W^{[2]}",
         R, 0, NULL},
        /* the single sample's delta reused for the batch: the 1/m of the mean is missing */
        {"dL_dyhat = yhat - y", W, FILEV, "1/m of the mean reduction is missing"},
        {"\\delta^{[3]} = \\hat{y} - y", W, FILEV, "1/m of the mean reduction is missing"},
        /* the sum over samples, sample by sample */
        {"dL_dW[3] = samplesum(delta[3] @ a[2])", R, 0, NULL},
        {"\\frac{\\partial l}{\\partial W^{[3]}} = \\sum_{i=1}^{m} \\delta^{[3]} a^{[2]}", R, 0, NULL},
        /* questions 1 and 5 of part 2: sample 1 twice, W^3_{1,1} twice */
        {"dL_dyhat = [[1, 0], [1, 0]] @ (yhat - y) / m", W, FILEV, NULL},
        {"dL_da[2] = delta[3] @ (W[3] @ [[1, 1], [0, 0]])", W, FILEV, NULL},
    };
    RUN("examples/hw_backprop_relu_batch.json", BP_SAMPLES_ROWS, cases);
}

/* The untitled notes on a 3-layer softmax network: out_in, columns, one sample. */
static void test_softmax(void)
{
    static const tcase cases[] = {
        {"yhat = softmax(W[3] @ sigmoid(W[2] @ sigmoid(W[1] @ x)))", R, 0, NULL},
        {"\\hat{y} = g(z^{[3]})", R, 0, NULL},
        {"\\hat{y} = \\mathrm{softmax}(W^{[3]}\\sigma(W^{[2]}\\sigma(W^{[1]}x)))", R, 0, NULL},
        {"yhat = g(z[3])", R, 0, NULL},
        {"dL_dyhat = -y / yhat", R, 0, NULL},
        {"\\frac{\\partial L}{\\partial \\hat{y}} = -\\frac{y}{\\hat{y}}", R, 0, NULL},
        {"dL_dz[3] = yhat - y", R, 0, NULL},
        {"\\frac{\\partial L}{\\partial z^{[3]}} = \\hat{y} - y", R, 0, NULL},
        {"dL_dW[3] = (yhat - y) @ a[2]^T", R, 0, NULL},
        {"\\frac{\\partial L}{\\partial W^{[3]}} = (\\hat{y} - y) a^{[2]T}", R, 0, NULL},
        {"dL_dW[2] = ((W[3]^T @ (yhat - y)) * a[2] * (1 - a[2])) @ a[1]^T", R, 0, NULL},
        {"\\frac{\\partial L}{\\partial W^{[2]}} = \\left(W^{[3]T} (\\hat{y} - y) \\odot \\sigma'(z^{[2]})\\right) a^{[1]T}",
         R, 0, NULL},
        {"dL_dW[1] = ((W[2]^T @ dL_dz[2]) * sigmoid'(z[1])) @ x^T", R, 0, NULL},
        /* as the notes wrote it: the softmax Jacobian taken as its diagonal yhat_l (1 - yhat_l) */
        {"dL_dz[3] = dL_dyhat * yhat * (1 - yhat)", W, FILEV, "softmax derivative taken as diagonal"},
        {"\\frac{\\partial L}{\\partial z^{[3]}} = \\left(-\\frac{y}{\\hat{y}}\\right) \\hat{y} (1 - \\hat{y})", W, FILEV,
         "softmax derivative taken as diagonal"},
        {"dL_dW[3] = (-y / yhat * yhat * (1 - yhat)) @ a[2]^T", W, FILEV, NULL},
        {"\\frac{\\partial L}{\\partial W^{[3]}} = \\left(-\\frac{y}{\\hat{y}}\\right) \\odot \\hat{y} \\odot (1-\\hat{y}) "
         "\\, a^{[2]T}", W, FILEV, NULL},
        /* the second attempt at dL/dW_2: layer 1's sigma'(z) and x where layer 2's and a^[1] belong */
        {"dL_dW[2] = (((-y / yhat)^T @ W[3]) * (yhat * (1 - yhat))^T @ sigmoid'(z[1])) * x", S, 0, "inner sizes 3 and 4 differ"},
        {"\\frac{\\partial L}{\\partial W^{[2]}} = \\left(\\left(-\\frac{y}{\\hat{y}}\\right)^T W^{[3]} \\odot (\\hat{y} (1 - "
         "\\hat{y}))^T\\right) \\sigma'(z^{[1]}) \\, x", S, 0, "inner sizes 3 and 4 differ"},
    };
    RUN("examples/softmax_ce_nobias.json", BP_SAMPLES_LAYOUT, cases);
}

/* The untitled notes on a sigmoid network with BCE averaged over m = 3:
 * out_in, columns. J = (1/m) sum_i L_i is the model's loss. */
static void test_sigmoid_bce(void)
{
    static const tcase cases[] = {
        {"dL_dW[3] = (a[3] - y) @ a[2]^T / m", R, 0, NULL},
        {"\\frac{\\partial J}{\\partial w^{(3)}} = - \\frac{1}{m} \\sum_{i=1}^m (y^{(i)} - a^{(3)}) a^{(2)T}", R, 0, NULL},
        {"dL_db[3] = rowmean(a[3] - y)", R, 0, NULL},
        {"\\frac{\\partial J}{\\partial b^{(3)}} = \\frac{1}{m} \\sum_{i=1}^{m} (a^{(3)} - y^{(i)})", R, 0, NULL},
        /* (2) with the notes' shapes fixed: w3^T * a2(1 - a2) (a3 - y) a1^T, per sample */
        {"dL_dW[2] = samplesum((W[3]^T * a[2] * (1 - a[2])) @ (a[3] - y) @ a[1]^T) / m", R, 0, NULL},
        {"\\frac{\\partial J}{\\partial w^{(2)}} = \\frac{1}{m} \\sum_{i=1}^m w^{(3)T} * a^{(2)}(1 - a^{(2)}) (a^{(3)} - y) a^{(1)T}",
         R, 0, NULL},
        {"\\frac{\\partial J}{\\partial w^{(2)}} = \\frac{1}{m}\\sum_{i=1}^m (a^{(3)} - y^{(i)}) w^{(3)T} a^{(2)} (1 - a^{(2)}) a^{(1)T}",
         R, 0, NULL},
        {"dL_dW[1] = ((W[2]^T @ ((W[3]^T @ (a[3] - y)) * a[2] * (1 - a[2]))) * a[1] * (1 - a[1])) @ x^T / m", R, 0, NULL},
        /* as the notes wrote it: the per-sample derivative -(y - a3) a2^T for the mean J (m times too large) */
        {"dL_dW[3] = -(y - a[3]) @ a[2]^T", W, FILEV, "m times too large"},
        {"\\frac{\\partial \\mathcal{L}}{\\partial w^{(3)}} = -(y - a^{(3)}) a^{(2)T}", W, FILEV, "m times too large"},
        /* (2) labelled w^(3) */
        {"dL_dW[3] = samplesum((a[3] - y) * W[3]^T * a[2] * (1 - a[2]) @ a[1]^T) / m", S, 0, "yours is 2x3, the true one 1x2"},
        {"\\frac{\\partial J}{\\partial w^{(3)}} = \\frac{1}{m}\\sum_{i=1}^m (a^{(3)} - y^{(i)}) w^{(3)T} a^{(2)} (1 - a^{(2)}) a^{(1)T}",
         S, 0, "yours is 2x3, the true one 1x2"},
        /* (3): w2^T * a1(1 - a1) * w3^T * a2(1 - a2) (a3 - y): the operands do not fit */
        {"dL_dW[1] = samplesum(W[2]^T * a[1] * (1 - a[1]) * W[3]^T * a[2] * (1 - a[2]) * (a[3] - y)) / m", S, 0,
         "*: 3x2 * 2x1"},
        {"\\frac{\\partial J}{\\partial w^{(1)}} = \\frac{1}{m} \\sum_{i=1}^m w^{(2)T} * a^{(1)}(1 - a^{(1)}) * w^{(3)T} * "
         "a^{(2)}(1 - a^{(2)}) (a^{(3)} - y)", S, 0, "juxtaposition: 3x2 times 3x1"},
        /* dL/dw^(1) without x^T */
        {"dL_dW[1] = samplesum((W[2]^T @ ((W[3]^T @ (a[3] - y)) * a[2] * (1 - a[2]))) * a[1] * (1 - a[1])) / m", S, 0,
         "yours is 3x1, the true one 3x2"},
        {"\\frac{\\partial J}{\\partial w^{(1)}} = \\frac{1}{m}\\sum_{i=1}^m (w^{(2)T} ((w^{(3)T} (a^{(3)} - y)) \\odot "
         "a^{(2)}(1 - a^{(2)}))) \\odot a^{(1)}(1 - a^{(1)})", S, 0, "yours is 3x1, the true one 3x2"},
    };
    RUN("examples/sigmoid_bce_mean.json", BP_SAMPLES_LAYOUT, cases);
}

/* Orientation: --samples changes where the samples are, W keeps its layout. */
static void test_orientation(void)
{
    static const tcase rows[] = {
        {"z[1] = a[0] @ W[1]^T + b[1]", R, 0, NULL},
        {"dL_dW[1] = dL_dz[1]^T @ x", R, 0, NULL},
        {"dL_db[1] = colsum(dL_dz[1])", R, 0, NULL},
        {"softmax(z[2]) = a[2]", W, FILEV, NULL},   /* a linear output: not a softmax */
        {"m = 3", R, 0, NULL},
    };
    RUN("examples/q12.json", BP_SAMPLES_ROWS, rows);
    static const tcase cols2[] = {
        {"z[1] = W[1]^T @ a[0] + b[1]", R, 0, NULL},
        {"dL_dW[1] = x @ dL_dz[1]^T", R, 0, NULL},
        {"dL_dW[1] = dL_dz[1] @ x^T", S, 0, "yours is 3x4, the true one 4x3: transposed?"},
        {"g[3z] = sigmoid'(z[3]) * g[3a]", R, 0, NULL},
    };
    RUN("examples/backprop_notes_4321.json", BP_SAMPLES_COLUMNS, cols2);
    /* softmax per sample in each orientation */
    static const tcase sm[] = {{"a[3] = softmax(z[3])", R, 0, NULL}, {"yhat = g(z[3])", R, 0, NULL}};
    RUN("examples/softmax_ce_nobias.json", BP_SAMPLES_ROWS, sm);
    RUN("examples/softmax_ce_nobias.json", BP_SAMPLES_COLUMNS, sm);
}

/* Bad formulas: BP_E_PARSE with the place. */
static void test_bad(void)
{
    static const struct { const char *path, *formula, *msg; int where; } bad[] = {
        {"examples/q12.json", "dL_dW[2] = q @ a[1]^T", "unknown name 'q'", 11},
        {"examples/q12.json", "dL_dW[3] = dL_dz[2]", "'dL_dW[3]': the network has layers 1 to 2", 0},
        {"examples/q12.json", "z[0] = x", "'z[0]': the network has layers 1 to 2", 0},
        {"examples/q12.json", "dL_dW[2] = dL_dz[2] @ ", "at column 23", 22},
        {"examples/q12.json", "dL_dW[2] dL_dz[2]", "no '='", -1},
        {"examples/q12.json", "\\nabla_{W} L = x", "\\nabla is not understood; write the gradient as "
                                                 "\\frac{\\partial L}{\\partial W^{[l]}}", 0},
        {"examples/q12.json", "\\frac{\\partial L}{\\partial W^{[2]}} = \\int x", "\\int is not understood", 38},
        {"examples/q12.json", "W^{[1]} = \\begin{bmatrix} 1 \\end{bmatrix}", "\\begin{...} is not understood", 10},
        {"examples/q12.json", "a^{[1]} = \\sum_{l=1}^{k} z^{[1]}", "only \\sum_{i=1}^{m}", 10},
        {"examples/q12.json", "a^{[1]} = W z^{[1]}", "W needs its layer", 10},
        {"examples/hw_backprop_relu_single.json", "b[1] = 0", "layer 1 has no bias", 0},
        {"examples/softmax_ce_nobias.json", "dL_dz[3] = g'(z[3]) * dL_da[3]", "a softmax, whose derivative is a Jacobian", 11},
        {"examples/softmax_ce_nobias.json", "dL_dz[3] = g'(a[3])", "the argument of g is z[l]", 11},
        {"examples/q12.json", "F(a) = a; z[1] = F(z[1])", "", -3},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bp_model *m = NULL;
        bp_check *c = NULL;
        bp_error err = {BP_OK, ""};
        int where = -2;
        if (bp_model_load(bad[i].path, BP_F64, &m, &err) || bp_check_new(m, BP_SAMPLES_LAYOUT, 2, 1, &c, &err)) {
            CHECK(0, "%s", err.msg);
            bp_model_free(m);
            continue;
        }
        bp_status s = bp_check_add(c, bad[i].formula, 1, &where, &err);
        CHECK(s == BP_E_PARSE && strstr(err.msg, bad[i].msg) && (bad[i].where == -3 || where == bad[i].where) &&
                  !strchr(err.msg, '\n') && bp_check_count(c) == 0,
              "'%s': status %d, where %d, '%s'; wanted '%s' at %d", bad[i].formula, s, where, err.msg, bad[i].msg, bad[i].where);
        bp_check_free(c);
        bp_model_free(m);
    }
}

/* The JSON object, exactly; a chain checks each part against the first. */
static void test_json(void)
{
    bp_model *m = NULL;
    bp_check *c = NULL;
    bp_error err;
    if (bp_model_load("examples/q12.json", BP_F64, &m, &err) || bp_check_new(m, BP_SAMPLES_LAYOUT, 3, 7, &c, &err)) {
        CHECK(0, "%s", err.msg);
        bp_model_free(m);
        return;
    }
    CHECK_EXPR(!bp_check_add(c, "dL_dW[2] = dL_dz[2] @ a[1]^T", 1, NULL, &err));
    CHECK_EXPR(!bp_check_add(c, "dL_db[2] = rowsum(2*(y - yhat)) = rowsum(dL_dz[2])", 2, NULL, &err));
    CHECK_EXPR(!bp_check_add(c, "dL_dW[2] = dL_dz[2] @ a[1]", 3, NULL, &err));
    CHECK_EXPR(bp_check_add(c, "\"q\" = 1", 4, NULL, &err) == BP_E_PARSE);
    CHECK_EXPR(!bp_check_run(c, &err) && bp_check_count(c) == 4);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK_EXPR(!bp_check_write_json(c, f, &err));
    fclose(f);
    /* dL/db2 = sum of 2(yhat - y) = -57.657759..; the wrong sign at entry [0][0]; dL/dW2[0][0] true
     * -30.388..., yours (a[1] not transposed) sum_i dz_i a1[i][0] */
    const char *want =
        "{\"formulas\": [{\"line\": 1, \"formula\": \"dL_dW[2] = dL_dz[2] @ a[1]^T\", \"verdict\": \"right\", \"at\": null, "
        "\"entry\": null, \"yours\": null, \"true\": null, \"hint\": null}, "
        "{\"line\": 2, \"formula\": \"dL_db[2] = rowsum(2*(y - yhat))\", \"verdict\": \"wrong\", \"at\": \"file\", "
        "\"entry\": [0, 0], \"yours\": ";
    CHECK(buf && !strncmp(buf, want, strlen(want)), "%s", buf ? buf : "");
    CHECK(buf && strstr(buf, "\"hint\": \"every entry has the wrong sign\"}, {\"line\": 2, \"formula\": "
                             "\"dL_db[2] = rowsum(dL_dz[2])\", \"verdict\": \"right\""), "%s", buf ? buf : "");
    CHECK(buf && strstr(buf, "{\"line\": 3, \"formula\": \"dL_dW[2] = dL_dz[2] @ a[1]\", \"verdict\": \"wrong\", \"at\": "
                             "\"file\", \"entry\": [0, 0], \"yours\": -29.97"), "%s", buf ? buf : "");
    CHECK(buf && strstr(buf, "\"true\": -30.38") && strchr(buf, '\n') == buf + len - 1, "%s", buf ? buf : "");
    bp_check_result r;
    CHECK_EXPR(!bp_check_result_get(c, 1, &r) && r.verdict == BP_CHECK_WRONG && r.draw == 0 &&
               fabs(r.truth - -57.657759) < 1e-5 && fabs(r.yours - 57.657759) < 1e-5);
    free(buf);
    bp_check_free(c);
    bp_model_free(m);
}

/* --jacobian: each entry against the central difference of the network's forward pass. */
static double forward_entry(bp_model *m, int sample, int layer, int z, int unit)
{
    bp_mat x, y;
    bp_model_data(m, &x, &y);
    bp_mat xs = {1, x.cols, BP_F64, (double *)x.data + (size_t)sample * x.cols};
    bp_net *net = bp_model_net(m);
    if (bp_net_forward(net, &xs, NULL)) return NAN;
    bp_mat v = z ? bp_net_z(net, layer) : bp_net_a(net, layer);
    return bp_mat_get(&v, 0, unit);
}

/* d (a or z of `layer`) / d W[wl] (b when bias) by central differences, into J (units x |P|). */
static void fd_jacobian(bp_model *m, int sample, int layer, int z, int wl, int bias, double *J, int *np)
{
    bp_net *net = bp_model_net(m);
    bp_mat P = bias ? bp_net_bias(net, wl) : bp_net_weight(net, wl);
    int units = bp_net_get_spec(net)->layers[layer].units, n = P.rows * P.cols;
    *np = n;
    for (int k = 0; k < n; k++) {
        double p0 = bp_mat_get(&P, k / P.cols, k % P.cols), h = 1e-5;
        for (int u = 0; u < units; u++) J[u * n + k] = 0;
        bp_mat_set(&P, k / P.cols, k % P.cols, p0 + h);
        for (int u = 0; u < units; u++) J[u * n + k] += forward_entry(m, sample, layer, z, u) / (2 * h);
        bp_mat_set(&P, k / P.cols, k % P.cols, p0 - h);
        for (int u = 0; u < units; u++) J[u * n + k] -= forward_entry(m, sample, layer, z, u) / (2 * h);
        bp_mat_set(&P, k / P.cols, k % P.cols, p0);
    }
}

static void test_jacobian(void)
{
    static const struct { const char *path, *of, *wrt; int sample, layer, z, wl, bias; bp_samples s; } J[] = {
        {"examples/hw_backprop_relu_single.json", "a[2]", "W[2]", 0, 1, 0, 1, 0, BP_SAMPLES_ROWS},
        {"examples/hw_backprop_relu_batch.json", "a[2]", "W[2]", 1, 1, 0, 1, 0, BP_SAMPLES_LAYOUT},
        {"examples/hw_backprop_relu_batch.json", "a^{[2]}", "W^{[1]}", 1, 1, 0, 0, 0, BP_SAMPLES_ROWS},
        {"examples/sigmoid_bce_mean.json", "yhat", "b[2]", 2, 2, 0, 1, 1, BP_SAMPLES_LAYOUT},
        {"examples/sigmoid_bce_mean.json", "z[2]", "W[1]", 0, 1, 1, 0, 0, BP_SAMPLES_LAYOUT},
        {"examples/softmax_ce_nobias.json", "a[3]", "W[3]", 0, 2, 0, 2, 0, BP_SAMPLES_LAYOUT},
        {"examples/backprop_notes_4321.json", "a[3]", "W[1]", 0, 2, 0, 0, 0, BP_SAMPLES_LAYOUT},
    };
    for (size_t t = 0; t < sizeof J / sizeof *J; t++) {
        bp_model *m = NULL;
        bp_error err;
        if (bp_model_load(J[t].path, BP_F64, &m, &err)) { CHECK(0, "%s", err.msg); continue; }
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        bp_status s = bp_check_jacobian(m, J[t].s, J[t].of, J[t].wrt, J[t].sample, 1, f, &err);
        fclose(f);
        CHECK(!s, "%s: %s", J[t].of, err.msg);
        double fd[4096];
        int np, units = bp_net_get_spec(bp_model_net(m))->layers[J[t].layer].units;
        fd_jacobian(m, J[t].sample, J[t].layer, J[t].z, J[t].wl, J[t].bias, fd, &np);
        /* read the numbers after "jacobian": in order */
        const char *p = buf ? strstr(buf, "\"jacobian\": ") : NULL;
        int k = 0, ok = p != NULL;
        if (p) p += 12;
        while (ok && p && *p) {
            if (*p == '-' || (*p >= '0' && *p <= '9')) {
                char *end;
                double v = strtod(p, &end);
                ok = k < units * np && fabs(v - fd[k]) <= 1e-7 * (1 + fabs(v));
                if (!ok) fprintf(stderr, "entry %d: %.17g, finite differences %.17g\n", k, v, fd[k]);
                k++;
                p = end;
            } else p++;
        }
        CHECK(ok && k == units * np, "%s d%s/d%s: %d of %d entries agree: %s", J[t].path, J[t].of, J[t].wrt, k, units * np, buf);
        char want[128];
        snprintf(want, sizeof want, "\"sample\": %d, ", J[t].sample + 1);
        CHECK(buf && !strncmp(buf, "{\"of\": \"", 8) && strstr(buf, want), "%s", buf);
        free(buf);
        bp_model_free(m);
    }
    /* HW Backprop 1.9: dh^2_11/dW^2 = (z^2_11 >= 0) [h^1; 0] (h^1 = a[1] = [0.2, 0, 1.05]) */
    bp_model *m = NULL;
    bp_error err;
    if (!bp_model_load("examples/hw_backprop_relu_single.json", BP_F64, &m, &err)) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        CHECK_EXPR(!bp_check_jacobian(m, BP_SAMPLES_ROWS, "a[2]", "W[2]", 0, 1, f, &err));
        fclose(f);
        static const double want[] = {0.2, 0, 1.05, 0, 0, 0, 0, 0, 0, 0.2, 0, 1.05};
        const char *head = "{\"of\": \"a[2]\", \"wrt\": \"W[2]\", \"sample\": 1, \"jacobian\": [[[";
        int ok = buf && !strncmp(buf, head, strlen(head)), k = 0;
        for (const char *p = buf ? buf + strlen(head) - 3 : ""; ok && *p; p++) {
            if (*p != '-' && (*p < '0' || *p > '9')) continue;
            char *end;
            double v = strtod(p, &end);
            ok = k < 12 && fabs(v - want[k]) < 1e-15;
            k++;
            p = end - 1;
        }
        CHECK(ok && k == 12, "%s", buf);
        free(buf);
        f = fopen("/dev/null", "w");
        CHECK_EXPR(bp_check_jacobian(m, BP_SAMPLES_ROWS, "a[1]", "W[2]", 0, 0, f, &err) == BP_E_VALUE &&
                   strstr(err.msg, "a[1] does not depend on W[2]"));
        CHECK_EXPR(bp_check_jacobian(m, BP_SAMPLES_ROWS, "a[2]", "W[2]", 1, 0, f, &err) == BP_E_VALUE &&
                   strstr(err.msg, "--sample 2: the data has 1 sample"));
        CHECK_EXPR(bp_check_jacobian(m, BP_SAMPLES_ROWS, "a[4]", "W[2]", 0, 0, f, &err) == BP_E_PARSE);
        CHECK_EXPR(bp_check_jacobian(m, BP_SAMPLES_ROWS, "dL_dW[1]", "W[1]", 0, 0, f, &err) == BP_E_PARSE);
        fclose(f);
        bp_model_free(m);
    }
}

int main(void)
{
    test_q12();
    test_backprop_notes();
    test_hw_single();
    test_hw_batch();
    test_softmax();
    test_sigmoid_bce();
    test_orientation();
    test_bad();
    test_json();
    test_jacobian();
    return check_done();
}
