/* neon/probes.c — not a variant: core/probes.inc (attn-bench's FMA-peak and streaming-read probes,
 * the unfused baseline's vector softmax, tests/test_exp.c's entry points) built with this folder's
 * flags (src/isas.inc). */
#include "neon.h"
#define SA_PROBE_ISA neon
#include "../core/probes.inc"
