/* test_golden.c - `grad --json` and `step --json` against PyTorch float64.
 *
 * For every tests/golden/cases/case_NNN.json and examples/NAME.json with a
 * NAME.expected.json beside it (written by tests/golden/gen_golden.py and
 * gen_examples.py with PyTorch's autograd, never by this code), run one pass,
 * write the grad JSON, and compare every number at 1e-9 relative (plus 1e-13
 * absolute, for entries that are zero up to rounding). null must match null.
 * Then gradcheck must pass on the same model.
 *
 * For every tests/golden/steps/NAME.steps.json (gen_steps.py: torch.optim's
 * SGD, momentum, Nesterov and Adam, checked there against the update rules
 * written out in NumPy), run each of its runs with bp_model_steps and compare
 * the step JSON the same way, and the stop rule's verdict.  The cases of
 * tests/golden/kinks/ run as the golden ones with relu'(0) = 1 (gen_kinks.py). */
#define _GNU_SOURCE
#include "backprop.h"
#include "check.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_json(json_t *got, json_t *want, char *path, size_t cap, char *why, size_t wcap)
{
    size_t len = strlen(path);
    if (json_is_number(want) || json_is_null(want)) {
        if (json_is_null(want) || json_is_null(got)) {
            if (json_is_null(want) && json_is_null(got)) return 1;
            snprintf(why, wcap, "%s: got %s, expected %s", path, json_is_null(got) ? "null" : "a number",
                     json_is_null(want) ? "null" : "a number");
            return 0;
        }
        if (!json_is_number(got)) { snprintf(why, wcap, "%s: not a number", path); return 0; }
        double a = json_number_value(got), b = json_number_value(want);
        if (fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b)) + 1e-13) return 1;
        snprintf(why, wcap, "%s: got %.17g, expected %.17g", path, a, b);
        return 0;
    }
    if (json_is_array(want)) {
        if (!json_is_array(got) || json_array_size(got) != json_array_size(want)) {
            snprintf(why, wcap, "%s: array length differs", path);
            return 0;
        }
        for (size_t i = 0; i < json_array_size(want); i++) {
            snprintf(path + len, cap - len, "[%zu]", i);
            if (!cmp_json(json_array_get(got, i), json_array_get(want, i), path, cap, why, wcap)) return 0;
        }
        path[len] = '\0';
        return 1;
    }
    if (json_is_object(want)) {
        const char *key;
        json_t *v;
        if (!json_is_object(got) || json_object_size(got) != json_object_size(want)) {
            snprintf(why, wcap, "%s: object keys differ", path);
            return 0;
        }
        json_object_foreach(want, key, v) {
            snprintf(path + len, cap - len, ".%s", key);
            json_t *g = json_object_get(got, key);
            if (!g) { snprintf(why, wcap, "%s: missing", path); return 0; }
            if (!cmp_json(g, v, path, cap, why, wcap)) return 0;
        }
        path[len] = '\0';
        return 1;
    }
    snprintf(why, wcap, "%s: unexpected JSON type", path);
    return 0;
}

/* relu_at_zero: the convention at ReLU's kink (bp_kinks) of the pass. */
static void run_case(const char *model_path, const char *expected_path, int relu_at_zero)
{
    bp_error err;
    bp_model *m;
    if (bp_model_load(model_path, BP_F64, &m, &err)) {
        CHECK(0, "%s: load: %s", model_path, err.msg);
        return;
    }
    bp_kinks k = {relu_at_zero, BP_TIE_HALF};
    bp_net_set_kinks(bp_model_net(m), &k);
    double loss;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    bp_status st = bp_model_pass(m, &loss, &err);
    if (!st) st = bp_write_grad_json(m, loss, mem, &err);
    fclose(mem);
    CHECK(st == BP_OK, "%s: %s", model_path, err.msg);
    json_error_t je;
    json_t *got = json_loads(buf, 0, &je), *want = json_load_file(expected_path, 0, &je);
    CHECK(got != NULL, "%s: our output is not valid JSON: %s", model_path, je.text);
    CHECK(want != NULL, "%s: %s", expected_path, je.text);
    if (got && want) {
        char path[256] = "$", why[512] = "";
        int ok = cmp_json(got, want, path, sizeof path, why, sizeof why);
        CHECK(ok, "%s: %s", model_path, why);
    }
    double worst = 0;
    st = bp_gradcheck(m, 1e-4, NULL, &worst, &err);
    CHECK(st == BP_OK && worst < 1e-5, "%s: gradcheck worst relative error %.3e %s", model_path, worst,
          st ? err.msg : "");
    json_decref(got);
    json_decref(want);
    free(buf);
    bp_model_free(m);
}

static int run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return 0;
    struct dirent *e;
    char **names = NULL;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".json") && !strstr(e->d_name, ".expected.")) {
            names = realloc(names, (size_t)(n + 1) * sizeof *names);
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    int ran = 0;
    for (int i = 0; i < n; i++) {
        char model[512], expected[512];
        snprintf(model, sizeof model, "%s/%s", dir, names[i]);
        snprintf(expected, sizeof expected, "%s/%.*s.expected.json", dir, (int)strlen(names[i]) - 5, names[i]);
        FILE *f = fopen(expected, "r");
        if (f) {
            fclose(f);
            run_case(model, expected, 0);
            ran++;
        }
        free(names[i]);
    }
    free(names);
    return ran;
}

/* One NAME.steps.json: {"model", "runs": [{"optimizer", "lr", "momentum", "betas", "eps", "steps", "tol",
 * "stopped", "expected"}]}. Returns the runs checked. */
static int run_steps_file(const char *path)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je), *runs = json_object_get(root, "runs");
    CHECK(root && json_is_array(runs), "%s: %s", path, root ? "no runs" : je.text);
    const char *model_path = json_string_value(json_object_get(root, "model"));
    size_t i;
    json_t *r;
    int ran = 0;
    json_array_foreach(runs, i, r) {
        bp_error err;
        bp_model *m;
        if (!model_path || bp_model_load(model_path, BP_F64, &m, &err)) {
            CHECK(0, "%s: model %s: %s", path, model_path ? model_path : "(none)", model_path ? err.msg : "");
            break;
        }
        bp_train_options o;
        bp_train_options_init(&o);
        CHECK(!bp_optimizer_parse(json_string_value(json_object_get(r, "optimizer")), &o.optimizer), "%s: optimizer", path);
        o.lr = json_number_value(json_object_get(r, "lr"));
        o.momentum = json_number_value(json_object_get(r, "momentum"));
        o.beta1 = json_number_value(json_array_get(json_object_get(r, "betas"), 0));
        o.beta2 = json_number_value(json_array_get(json_object_get(r, "betas"), 1));
        o.adam_eps = json_number_value(json_object_get(r, "eps"));
        o.tol = json_number_value(json_object_get(r, "tol"));
        int steps = (int)json_integer_value(json_object_get(r, "steps"));
        bp_steps *rec = NULL;
        bp_status st = bp_model_steps(m, &o, steps, &rec, &err);
        CHECK(st == BP_OK, "%s run %zu: %s", path, i, err.msg);
        if (!st) {
            char *buf = NULL;
            size_t len = 0;
            FILE *mem = open_memstream(&buf, &len);
            st = bp_write_steps_json(rec, mem, &err);
            fclose(mem);
            json_t *got = json_loads(buf, 0, &je), *want = json_object_get(r, "expected");
            CHECK(got != NULL, "%s run %zu: our output is not valid JSON: %s", path, i, je.text);
            if (got) {
                char where[256] = "$", why[512] = "";
                CHECK(cmp_json(got, want, where, sizeof where, why, sizeof why), "%s run %zu (%s, lr %g): %s", path, i,
                      json_string_value(json_object_get(r, "optimizer")), o.lr, why);
            }
            CHECK(bp_steps_stopped(rec) == json_is_true(json_object_get(r, "stopped")), "%s run %zu: the stop rule",
                  path, i);
            CHECK(bp_steps_count(rec) == (int)json_array_size(json_object_get(want, "steps")), "%s run %zu: %d steps",
                  path, i, bp_steps_count(rec));
            json_decref(got);
            free(buf);
            ran++;
        }
        bp_steps_free(rec);
        bp_model_free(m);
    }
    json_decref(root);
    return ran;
}

static int run_steps_dir(const char *dir)
{
    DIR *d = opendir(dir);
    int ran = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l <= 11 || strcmp(e->d_name + l - 11, ".steps.json")) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ran += run_steps_file(path);
    }
    if (d) closedir(d);
    return ran;
}

/* tests/golden/kinks/case_NNN.relu1.expected.json: the golden case_NNN, whose
 * ReLU pre-activations hit 0 exactly, with relu'(0) = 1 (gen_kinks.py). */
static int run_kinks(void)
{
    DIR *d = opendir("tests/golden/kinks");
    int ran = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        const char *suffix = ".relu1.expected.json", *n = e->d_name;
        size_t l = strlen(n), ls = strlen(suffix);
        if (l <= ls || strcmp(n + l - ls, suffix)) continue;
        char model[512], expected[512];
        snprintf(model, sizeof model, "tests/golden/cases/%.*s.json", (int)(l - ls), n);
        snprintf(expected, sizeof expected, "tests/golden/kinks/%s", n);
        run_case(model, expected, 1);
        ran++;
    }
    if (d) closedir(d);
    return ran;
}

int main(void)
{
    int n = run_dir("tests/golden/cases");
    CHECK(n >= 50, "expected at least 50 golden cases, found %d", n);
    int e = run_dir("examples");
    CHECK(e >= 5, "expected at least 5 examples with expected values, found %d", e);
    int r = run_steps_dir("tests/golden/steps");
    CHECK(r >= 100, "expected at least 100 runs of steps, found %d", r);
    int k = run_kinks();
    CHECK(k >= 4, "expected at least 4 cases with relu'(0) = 1, found %d", k);
    printf("golden cases: %d, examples: %d, runs of steps: %d, with relu'(0) = 1: %d\n", n, e, r, k);
    return check_done();
}
