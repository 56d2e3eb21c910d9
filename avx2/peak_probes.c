/* avx2/peak_probes.c — not a variant: attn-bench's FMA-peak probe and the exp test's entry points
 * (core/probes.inc) built with this folder's flags. */
#define SA_NR 1
#include "avx2.h"
#define SA_PROBE(name) name##_avx2
#include "../core/probes.inc"
