/* neon/peak_probes.c — not a variant: attn-bench's FMA-peak probe and the exp test's entry points
 * (core/probes.inc) built for AArch64 Advanced SIMD. */
#define SA_NR 1
#include "neon.h"
#define SA_PROBE(name) name##_neon
#include "../core/probes.inc"
