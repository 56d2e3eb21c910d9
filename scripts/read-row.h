/* scripts/read-row.h: the plain reads' one kernel (scripts/read-order.c, scripts/read-paged.c):
 * acc[0..READ_LANES) += a row of d floats (d a multiple of READ_LANES). acc's lanes are held in a
 * local array the loop keeps in a register (acc itself could alias p: summed through memory, a
 * cache-resident read was bound by the adds, 9.5 GB/s at 1 thread against 25.4; from DRAM both read
 * alike, Xeon f6m207, 32768 keys x 8 heads d128: 14.5 and 15.2 GB/s). */
#ifndef SIMDATTN_READ_ROW_H
#define SIMDATTN_READ_ROW_H
#define READ_LANES 16
static void row(const float *p, long d, float *acc) {
  float a[READ_LANES];
  for (int l = 0; l < READ_LANES; l++) a[l] = acc[l];
  for (long i = 0; i + READ_LANES <= d; i += READ_LANES)
    for (int l = 0; l < READ_LANES; l++) a[l] += p[i + l];
  for (int l = 0; l < READ_LANES; l++) acc[l] = a[l];
}
#endif
