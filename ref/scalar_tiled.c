/* ref/scalar_tiled.c: variant `scalar_tiled` — the portable scalar flash kernel.
 * Algorithm: core/flash_driver.inc (FlashAttention-2 tiling + online softmax, packed and direct
 * modes), instantiated with one-lane "vectors" of plain float (ref/scalar.h): the exact algorithm
 * every SIMD variant vectorises, in C anyone can step through. Tile: 4 rows x 4 keys register
 * block, 32 packed rows per task, key blocks of 64, keys split into chunks of >= 256 when a shape
 * has few tasks (decode). ISA: none; the fallback where no SIMD variant applies. */
#include "scalar.h"

#define SA_MR 4
#define SA_NR 4
#define SA_BLOCK_Q 32
#define SA_BLOCK_KV 64
#define SA_CHUNK_KV 256
#include "../core/flash_driver.inc"

SA_FLASH_KERNEL(scalar_tiled);
