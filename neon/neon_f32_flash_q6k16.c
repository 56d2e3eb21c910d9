/* neon/neon_f32_flash_q6k16.c: variant neon_f32_flash_q6k16.
 * Algorithm: core/flash_driver.inc (FlashAttention-2 tiling, online softmax); plain jobs' scores in
 * log2 units with core/exp.h's inlined exp2. Tile: 6 rows x 16 keys (24 q-register accumulators,
 * 4 K loads + 6 broadcasts per 24 FMAs), key blocks of 512, 48 packed rows per task. ISA: ARMv8.0-A
 * Advanced SIMD only; workspace 64-byte aligned, the caller's buffers read without over-read. */
#include "neon.h"

#define SA_MR 6
#define SA_NR 4
#define SA_BLOCK_Q 48
#define SA_BLOCK_KV 512
#define SA_CHUNK_KV 512
#include "../core/flash_driver.inc"

SA_FLASH_KERNEL(neon_f32_flash_q6k16);
