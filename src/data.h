/* data.h - the dataset API is public: see the Datasets section of backprop.h. */
#ifndef BP_DATA_H
#define BP_DATA_H
#include "backprop.h"
#endif
