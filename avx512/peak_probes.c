/* avx512/peak_probes.c — not a variant: attn-bench's FMA-peak probe and the exp test's entry points
 * (core/probes.inc) built with this folder's flags. */
#define SA_NR 1
#include "avx512.h"
#define SA_PROBE(name) name##_avx512
#include "../core/probes.inc"
