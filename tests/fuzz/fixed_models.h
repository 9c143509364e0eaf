/* fixed_models.h - two small model files the fuzz targets that need a
 * network share: examples/q12.json (2-3-1, sigmoid and linear, biases,
 * squared loss summed) and examples/softmax_ce_nobias.json (3-4-3-3, sigmoid
 * and softmax, no biases, cross-entropy). */
#ifndef BP_FUZZ_FIXED_MODELS_H
#define BP_FUZZ_FIXED_MODELS_H

static const char FIXED_Q12[] =
    "{\"inputs\": 2, \"weight_layout\": \"out_in\", \"layers\": ["
    "{\"units\": 3, \"activation\": \"sigmoid\", \"bias\": true,"
    " \"W\": [[0.02, 0.03], [0.01, 0.02], [0.03, 0.01]], \"b\": [0.01, 0.03, 0.02]},"
    "{\"units\": 1, \"activation\": \"linear\", \"bias\": true, \"W\": [[0.02, 0.03, 0.04]], \"b\": [0.01]}],"
    " \"loss\": \"squared\", \"reduction\": \"sum\","
    " \"data\": {\"x\": [[1, 2], [1, 3], [2, 2]], \"y\": [[8], [11], [10]]}}";
static const char FIXED_SOFTMAX[] =
    "{\"inputs\": 3, \"layers\": ["
    "{\"units\": 4, \"activation\": \"sigmoid\", \"bias\": false,"
    " \"W\": [[0.2, -0.3, 0.5], [0.1, 0.4, -0.2], [-0.5, 0.2, 0.3], [0.3, 0.1, 0.1]]},"
    "{\"units\": 3, \"activation\": \"sigmoid\", \"bias\": false,"
    " \"W\": [[0.4, -0.6, 0.2, 0.1], [-0.3, 0.5, 0.4, -0.2], [0.6, 0.1, -0.4, 0.3]]},"
    "{\"units\": 3, \"activation\": \"softmax\", \"bias\": false,"
    " \"W\": [[0.5, -0.4, 0.3], [-0.2, 0.6, 0.1], [0.3, 0.2, -0.5]]}],"
    " \"loss\": \"cross_entropy\", \"reduction\": \"sum\","
    " \"data\": {\"x\": [[1.0, -2.0, 0.5]], \"y\": [[0.0, 1.0, 0.0]]}}";

#endif
