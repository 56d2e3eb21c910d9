/* avx2/avx2_f32_flash_q6k16.c: variant avx2_f32_flash_q6k16.
 * Algorithm: core/flash_driver.inc (FlashAttention-2 tiling, online softmax); plain jobs' scores in
 * log2 units with core/exp.h's inlined exp2. Tile: 6 rows x 16 keys (12 ymm accumulators + 2 K
 * loads + 1 broadcast of 16 registers), key blocks of 512, 96 packed rows per task. ISA: AVX2 +
 * FMA + F16C; workspace 64-byte aligned, the caller's buffers read with masked loads (no over-read). */
#include "avx2.h"

#define SA_MR 6
#define SA_NR 2
#define SA_BLOCK_Q 96
#define SA_BLOCK_KV 512
#define SA_CHUNK_KV 512
#include "../core/flash_driver.inc"

SA_FLASH_KERNEL(avx2_f32_flash_q6k16);
