/* avx2/avx2_f32_flash_q6k16.c: variant avx2_f32_flash_q6k16.
 * Algorithm: core/flash_driver.inc (FlashAttention-2 tiling, online softmax), core/exp.h's
 * inlined exp on whole score rows. Tile: 6 rows x 16 keys (12 ymm accumulators + 2 K loads + 1
 * broadcast of 16 registers), key blocks of 512, 96 packed rows per task. ISA: AVX2 + FMA (+F16C);
 * workspace 64-byte aligned, caller's buffers read with masked loads (no over-read). */
#define SA_MR 6
#define SA_NR 2
#define SA_BLOCK_Q 96
#define SA_BLOCK_KV 512
#define SA_CHUNK_KV 512
#include "avx2.h"
#include "../core/flash_driver.inc"

const sa_kernel sa_kernel_avx2_f32_flash_q6k16 = {sa_flash_run, sa_flash_workspace, sa_flash_pack_block_bytes,
                                                  SA_BLOCK_Q, SA_BLOCK_KV, SA_CHUNK_KV, SA_FLASH_LOG2};
