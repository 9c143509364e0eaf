/* cmd_convert.c - `backprop convert IN OUT`: between JSON model files and
 * safetensors model files. */
#define _GNU_SOURCE
#include "cli.h"
#include "core/safetensors.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cmd_convert(int argc, char **argv);

static const char HELP[] =
    "usage: backprop convert IN OUT [--dtype f32|f64]\n"
    "\n"
    "Convert a network between a JSON model file and a safetensors model file. The kind of\n"
    "each file is told by its extension: .json or .safetensors.\n"
    "\n"
    "  IN.json -> OUT.safetensors\n"
    "      Saves the network: tensors layers.L.weight (units x fan_in, the PyTorch nn.Linear\n"
    "      layout, whatever the weight_layout of IN) and layers.L.bias, and the architecture\n"
    "      (inputs, weight_layout, layers, loss, reduction) and the scaler in the __metadata__\n"
    "      and tensors. The \"data\" of\n"
    "      IN is not kept (nor \"init\", \"seed\", \"description\"): a safetensors model holds a\n"
    "      network only.\n"
    "  IN.safetensors -> OUT.json\n"
    "      Writes a model file that every command taking a model file reads: the layers with W\n"
    "      (in the model's own weight_layout) and b, the loss and the reduction. Numbers are\n"
    "      written so that they read back bit for bit. The file has no data; give it on the\n"
    "      command line, one sample per row, e.g. to see the derivation for a trained model:\n"
    "          backprop convert model.safetensors model.json\n"
    "          backprop explain model.json --x X.csv --y Y.csv\n"
    "      The scaling of the inputs stored in IN (a division, as of pixels by 255, and the\n"
    "      standardisation scaler.mean, scaler.std) goes to the JSON model's \"scaler\", so\n"
    "      the inputs given with --x are given as the data has them.\n"
    "  IN.json -> OUT.json, IN.safetensors -> OUT.safetensors\n"
    "      Rewrite the model, checking it on the way (e.g. with --dtype to change its precision);\n"
    "      JSON to JSON keeps the data.\n"
    "\n"
    "Options:\n"
    "  --dtype T    element type of the converted network: f32 or f64. Default: keep the one\n"
    "               stored in IN.safetensors; f64 for IN.json (its numbers are read as f64).\n"
    "               --dtype f32 rounds every number to float32.\n"
    "  -h, --help   this help\n"
    "\n"
    "OUT is written atomically (a temporary file renamed over it): an existing OUT is replaced\n"
    "only when the whole conversion succeeded. IN is read in full and validated first: a\n"
    "damaged file, a safetensors file that is not a backprop model, or a malformed model file\n"
    "is refused.\n"
    "\n"
    "Exit status: 0 on success; 2 on bad input (a missing, damaged or foreign file, an unknown\n"
    "extension), with one line on stderr.\n";

/* 1 for .json, 2 for .safetensors, 0 otherwise. */
static int kind(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && !strcasecmp(dot, ".json")) return 1;
    if (dot && !strcasecmp(dot, ".safetensors")) return 2;
    return 0;
}

/* The dtype of the weights in a safetensors file (f64 if it cannot tell:
 * loading the file will then say what is wrong). */
static bp_dtype stored_dtype(const char *path)
{
    bp_st_file *f;
    bp_dtype t = BP_F64;
    if (bp_st_read(path, &f, NULL) == BP_OK) {
        const bp_st_tensor *w = bp_st_find(f, "layers.0.weight");
        if (w) t = w->dtype;
        bp_st_free(f);
    }
    return t;
}

int cmd_convert(int argc, char **argv)
{
    static const struct option opts[] = {{"dtype", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c, have_dtype = 0;
    bp_dtype dtype = BP_F64;
    optind = 1;
    opterr = 0;   /* bad options are reported in one line by cli_bad_option */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (cli_dtype(optarg, &dtype)) return cli_failf("--dtype: expected f32 or f64, got '%s'", optarg);
            have_dtype = 1;
            break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_bad_option("convert", argv);
        }
    }
    if (optind != argc - 2) return cli_failf("convert: expected two files, IN and OUT (see `backprop convert --help`)");
    const char *in = argv[optind], *out = argv[optind + 1];
    const cli_file files[] = {{"IN", in, 0}, {"OUT", out, 1}};
    if (cli_distinct(files, 2)) return EXIT_BAD;
    int kin = kind(in), kout = kind(out);
    if (!kin) return cli_failf("%s: unknown kind of file: the name must end in .json or .safetensors", in);
    if (!kout) return cli_failf("%s: unknown kind of file: the name must end in .json or .safetensors", out);
    if (!have_dtype && kin == 2 && kout == 2) dtype = stored_dtype(in);

    bp_error err;
    bp_model *model = NULL;
    if (bp_model_read(in, dtype, &model, &err)) return cli_fail(&err);
    /* the scaler goes along: into the safetensors tensors or the JSON "scaler" block */
    bp_status st = kout == 2 ? bp_net_save(bp_model_net(model), bp_model_scaler(model), out, &err)
                             : bp_model_save(model, out, &err);
    int rc = st ? cli_fail(&err) : 0;
    bp_model_free(model);
    return rc;
}
