/* avx512/avx512_f32_flash_q6k64.c: variant avx512_f32_flash_q6k64.
 * Algorithm: core/flash_driver.inc (FlashAttention-2 tiling, online softmax), core/exp.h's
 * inlined exp on whole score rows. Tile: 6 rows x 64 keys (24 zmm accumulators; 4 K loads + 6 broadcasts per 24
 * FMAs), key blocks of 512, 48 packed rows per task. ISA: AVX-512F/BW/DQ/VL + FMA; workspace
 * 64-byte aligned, caller's buffers read with masked loads (no over-read). */
#define SA_MR 6
#define SA_NR 4
#define SA_BLOCK_Q 48
#define SA_BLOCK_KV 512
#define SA_CHUNK_KV 512
#include "avx512.h"
#include "../core/flash_driver.inc"

const sa_kernel sa_kernel_avx512_f32_flash_q6k64 = {sa_flash_run, sa_flash_workspace, sa_flash_pack_block_bytes, SA_BLOCK_Q, SA_BLOCK_KV,
                                                    SA_CHUNK_KV, SA_FLASH_LOG2};
