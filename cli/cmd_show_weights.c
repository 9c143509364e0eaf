/* cmd_show_weights.c - `backprop show-weights MODEL --layer L --image HxW`:
 * each unit's weights as an image. */
#define _GNU_SOURCE
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
    "usage: backprop show-weights MODEL [--layer L] [--image HxW] [--out templates.svg]\n"
    "\n"
    "Each unit's incoming weights drawn as an image, the units in a grid: for a linear\n"
    "classifier (softmax regression) the rows of W are templates of the classes (CS577\n"
    "Assignment 2, question 16): a sample scores high for class j where it looks like row j.\n"
    "One diverging colour scale for the whole layer: blue negative, white 0, red positive,\n"
    "the largest |w| at the ends (the bar at the bottom). Tiles are named by unit, or by\n"
    "class (\"3 Dress\") for the output layer of a classifier trained on named classes;\n"
    "a bias (or the bias trick's column) is not part of the image and is written under it.\n"
    "\n"
    "  --layer L           the layer, counting from 1 (default 1)\n"
    "  --image HxW         the shape of each unit's weights, row by row: H * W must be the\n"
    "                      layer's inputs per unit (default: square, when it is one; 28x28\n"
    "                      for Fashion-MNIST's pixels)\n"
    "  --out FILE.svg      where to write the picture (default templates.svg; atomically)\n"
    "  -h, --help          this help\n"
    "\n"
    "Example: backprop train --arch 784-10 --data fashion-mnist --epochs 5 --save softmax.safetensors\n"
    "         backprop show-weights softmax.safetensors --layer 1 --image 28x28 --out templates.svg\n"
    "Exit status: 0 success, 2 bad input (no such layer, an image of another size).\n";

int cmd_show_weights(int argc, char **argv)
{
    static const struct option opts[] = {
        {"layer", required_argument, 0, 'l'}, {"image", required_argument, 0, 'i'}, {"out", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    long layer = 1, h = 0, w = 0;
    const char *out = "templates.svg", *image = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (cli_long(optarg, 1, 64, &layer)) return cli_failf("--layer: expected a layer number from 1, got '%s'", optarg);
            break;
        case 'i': {
            image = optarg;
            const char *x = strchr(optarg, 'x');
            char hs[32];
            if (!x || x - optarg >= (long)sizeof hs) return cli_failf("--image: expected HxW such as 28x28, got '%s'", optarg);
            memcpy(hs, optarg, (size_t)(x - optarg));
            hs[x - optarg] = 0;
            if (cli_long(hs, 1, 100000, &h) || cli_long(x + 1, 1, 100000, &w))
                return cli_failf("--image: expected HxW such as 28x28, got '%s'", optarg);
            break;
        }
        case 'o': out = optarg; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return cli_bad_option("show-weights", argv);
        }
    }
    if (optind != argc - 1) return cli_failf("show-weights: expected one model file (see `backprop show-weights --help`)");
    const char *path = argv[optind];
    const cli_file files[] = {{"MODEL", path, 0}, {"--out", out, 1}};
    if (cli_distinct(files, 2)) return EXIT_BAD;
    bp_model *m = NULL;
    bp_error err;
    if (bp_model_read(path, BP_F64, &m, &err)) return cli_fail(&err);
    bp_net *net = bp_model_net(m);
    const bp_net_spec *s = bp_net_get_spec(net);
    int rc = 0;
    if (layer > s->nlayers) {
        rc = cli_failf("--layer %ld: %s has layers 1 to %d", layer, path, s->nlayers);
    } else if (!image) {   /* a square image when the fan-in is a square */
        int fi = layer > 1 ? s->layers[layer - 2].units : s->inputs;
        long r = lround(sqrt((double)fi));
        if (r * r != fi) rc = cli_failf("--image: layer %ld has %d inputs per unit, not a square: give --image HxW", layer, fi);
        h = w = r;
    }
    const char *b = strrchr(path, '/');
    char title[512];
    snprintf(title, sizeof title, "%s: the weights of layer %ld", b ? b + 1 : path, layer);
    if (!rc && bp_plot_weights_svg(net, (int)layer - 1, (int)h, (int)w, title, out, &err))
        rc = cli_failf("%s: %s", path, err.msg);
    bp_model_free(m);
    return rc;
}
