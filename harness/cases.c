/* harness/cases.c: the attn-check grid and its seeded data (see cases.h). */
#include "cases.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "src/internal.h"

#define SENTINEL_BITS 0x7fc5a5a5u /* a quiet NaN no kernel computes */

/* ---- PRNG: splitmix64 seeding a xoshiro256** stream ---- */
typedef struct {
  uint64_t s[4];
} rng;

static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t next_u64(rng *r) {
  const uint64_t result = rotl(r->s[1] * 5, 7) * 9, t = r->s[1] << 17;
  r->s[2] ^= r->s[0];
  r->s[3] ^= r->s[1];
  r->s[1] ^= r->s[2];
  r->s[0] ^= r->s[3];
  r->s[2] ^= t;
  r->s[3] = rotl(r->s[3], 45);
  return result;
}
static double uniform(rng *r) { return (double)(next_u64(r) >> 11) * 0x1p-53; }
static float normal(rng *r) {
  const double u1 = uniform(r) + 0x1p-60, u2 = uniform(r);
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
static void rng_seed(rng *r, uint64_t seed, const char *name) {
  uint64_t x = seed;
  for (const char *c = name; *c; c++) x = x * 1099511628211ull ^ (unsigned char)*c;
  for (int t = 0; t < 4; t++) r->s[t] = splitmix(&x);
}

/* ---- dtype helpers ---- */
static uint32_t bits_of(float f) { return sa_f32_to_bits(f); }
static float float_of(uint32_t u) { return sa_bits_to_f32(u); }

/* element idx of a tensor in dtype t: the dtype table's encoder (round to nearest even) */
static void store(void *base, simdattn_dtype t, int64_t idx, float v) { sa_store_f32(base, t, idx, &v, 1); }

/* ---- layouts ---- */
typedef struct {
  int64_t sb, sh, ss, len;
} strides;

/* (pads in units of the dtype's block: a block format's strides are whole blocks) */
static strides layout_of(case_layout L, int64_t B, int64_t H, int64_t S, int64_t row, int64_t blk) {
  const int pad = L == LAYOUT_BHSD_PAD || L == LAYOUT_BSHD_PAD;
  const int64_t rs = row + (pad ? 7 * blk : 0);
  strides s;
  if (L == LAYOUT_BSHD || L == LAYOUT_BSHD_PAD) {
    s.sh = rs;
    s.ss = H * rs + (pad ? 5 * blk : 0);
    s.sb = S * s.ss + (pad ? 3 * blk : 0);
  } else {
    s.ss = rs;
    s.sh = S * rs + (pad ? 5 * blk : 0);
    s.sb = H * s.sh + (pad ? 3 * blk : 0);
  }
  s.len = (B > 0 && H > 0 && S > 0) ? (B - 1) * s.sb + (H - 1) * s.sh + (S - 1) * s.ss + row : 0;
  return s;
}

case_spec case_default(const char *group, int64_t seq_q, int64_t seq_kv) {
  case_spec s;
  memset(&s, 0, sizeof s);
  s.group = group;
  s.batch = 1;
  s.heads_q = s.heads_kv = 2;
  s.seq_q = seq_q;
  s.seq_kv = seq_kv;
  s.d = s.dv = 64;
  s.lse = 1;
  s.qt = s.kvt = SIMDATTN_F32;
  return s;
}

void case_name(const case_spec *s, char *buf, size_t size) {
  static const char *causal[] = {"full", "tl", "br"};
  static const char *dist[] = {"normal", "large", "tiny", "dominant", "const",    "capscale",
                               "range",  "expo",  "subn", "sinkdom",  "sinkrepro"};
  static const char *layout[] = {"bhsd", "bshd", "bhsd+pad", "bshd+pad"};
  static const char *mask[] = {"", "+mask", "+maskbcast", "+maskrows"};
  static const char *nan[] = {"", "+nanq", "+nank", "+nanv", "+infv"};
  char dv[24] = "";
  if (s->dv != s->d) snprintf(dv, sizeof dv, "v%lld", (long long)s->dv);
  char win[24] = "";
  if (s->window) snprintf(win, sizeof win, "+w%lld", (long long)s->window);
  char cap[24] = "";
  if (s->softcap != 0.0f) snprintf(cap, sizeof cap, "+cap%g", (double)s->softcap);
  char vfmt[24] = "", extra[48] = "";
  if (s->mixed_v) snprintf(vfmt, sizeof vfmt, "+%s", sa_dtype_name(s->vt));
  static const char *scales[] = {"", "+scale", "+headscale"};
  snprintf(extra, sizeof extra, "%s%s", s->kvscale >= 1 && s->kvscale <= 2 ? scales[s->kvscale] : "",
           s->qadv ? "+adversarial" : "");
  snprintf(buf, size, "%s/b%lld/h%lldx%lld/q%lld/kv%lld/d%lld%s/%s%s%s%s%s%s%s%s%s/%s/%s/%s-%s%s", s->group,
           (long long)s->batch, (long long)s->heads_q, (long long)s->heads_kv, (long long)s->seq_q,
           (long long)s->seq_kv, (long long)s->d, dv, causal[s->causal], win, mask[s->mask], cap,
           s->alibi ? "+alibi" : "", s->sinks ? "+sinks" : "", s->lse ? "" : "+nolse", nan[s->nan], extra,
           layout[s->layout], dist[s->dist], sa_dtype_name(s->qt), sa_dtype_name(s->kvt), vfmt);
}

void case_fill_normal(uint64_t seed, const char *key, float *dst, size_t n) {
  rng r;
  rng_seed(&r, seed, key);
  for (size_t t = 0; t < n; t++) dst[t] = (float)normal(&r);
}

/* ---- the grid ---- */
typedef struct {
  case_spec *v;
  int n, cap;
  int quick;
} list;

static void add(list *l, case_spec s) {
  for (int t = 0; t < l->n; t++) /* a case is its spec: the same spec twice is one case */
    if (!memcmp(&l->v[t], &s, sizeof s)) return;
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 64;
    l->v = realloc(l->v, sizeof *l->v * (size_t)l->cap);
    if (!l->v) abort();
  }
  l->v[l->n++] = s;
}

/* the quick or the full list of a grid axis */
#define PICK(l, quick_list, full_list) ((l)->quick ? (quick_list) : (full_list))
#define PICK_N(l, quick_list, full_list) ((l)->quick ? (int)SA_ARRAY_SIZE(quick_list) : (int)SA_ARRAY_SIZE(full_list))

/* 1. sequence lengths, square, non-causal and bottom-right causal */
static void grid_seq(list *l) {
  static const int64_t full[] = {0,   1,   2,   3,   7,   16,  31,   63,   64,   65,  100,
                                 127, 128, 129, 255, 256, 257, 1000, 1023, 1024, 2048};
  static const int64_t quick[] = {0, 1, 3, 16, 63, 64, 65, 129, 257};
  const int64_t *seqs = PICK(l, quick, full);
  for (int t = 0; t < PICK_N(l, quick, full); t++)
    for (int c = 0; c < 2; c++) {
      case_spec s = case_default("seq", seqs[t], seqs[t]);
      s.causal = c ? SIMDATTN_CAUSAL_BOTTOM_RIGHT : SIMDATTN_CAUSAL_NONE;
      if (seqs[t] >= 1000) s.heads_q = s.heads_kv = 1;
      add(l, s);
    }
}

/* 2. seq_q != seq_kv both ways: cross-attention, decode, rows with no visible key */
static void grid_cross(list *l) {
  static const int64_t full[][2] = {{1, 1000}, {1, 2048}, {1, 63}, {1, 64},   {1, 65},   {7, 300},  {300, 7},
                                    {128, 1},  {1, 0},    {0, 5},  {65, 129}, {129, 65}, {3, 1024}, {100, 257}};
  static const int64_t quick[][2] = {{1, 1000}, {1, 65}, {7, 300}, {300, 7}, {1, 0}, {0, 5}, {129, 65}};
  for (int t = 0; t < PICK_N(l, quick, full); t++)
    for (int c = 0; c < 3; c++) {
      const int64_t *qk = l->quick ? quick[t] : full[t];
      case_spec s = case_default("cross", qk[0], qk[1]);
      s.causal = (simdattn_causal)c;
      if (qk[0] == 1) { /* decode: GQA heads */
        s.heads_q = 8;
        s.heads_kv = 2;
      }
      add(l, s);
    }
}

/* 3. head dims, and head_dim_v != head_dim */
static void grid_dims(list *l) {
  static const int64_t full[] = {1, 3, 8, 16, 17, 32, 40, 59, 64, 80, 96, 111, 128, 192, 256};
  static const int64_t quick[] = {1, 17, 80, 128, 256};
  const int64_t *dims = PICK(l, quick, full);
  for (int t = 0; t < PICK_N(l, quick, full); t++) {
    case_spec s = case_default("dims", 77, 130);
    s.d = s.dv = dims[t];
    s.causal = SIMDATTN_CAUSAL_TOP_LEFT;
    s.layout = (case_layout)(t % 4);
    add(l, s);
  }
  static const int64_t dvs[][2] = {{64, 128}, {128, 64}, {3, 17}, {17, 3}, {256, 512}, {512, 512}, {1, 96}, {80, 40}};
  for (int t = 0; t < (l->quick ? 3 : (int)SA_ARRAY_SIZE(dvs)); t++) {
    case_spec s = case_default("dims", 50, 90);
    s.d = dvs[t][0];
    s.dv = dvs[t][1];
    s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
    add(l, s);
  }
}

/* 4. batch and head layouts: MHA with batch, GQA 8 on 2, MQA 8 on 1 */
static void grid_heads(list *l) {
  static const int64_t heads[][3] = {{3, 4, 4}, {2, 8, 2}, {2, 8, 1}};
  for (int t = 0; t < (int)SA_ARRAY_SIZE(heads); t++)
    for (int f = 0; f < (l->quick ? 1 : 2); f++) {
      case_spec s = case_default("heads", 70, 130);
      s.batch = heads[t][0];
      s.heads_q = heads[t][1];
      s.heads_kv = heads[t][2];
      if (f) {
        s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
        s.mask = MASK_FULL;
      }
      add(l, s);
    }
}

/* 5. sliding window, both alignments */
static void grid_window(list *l) {
  static const int64_t wins[] = {1, 16, 100};
  for (int t = 0; t < (int)SA_ARRAY_SIZE(wins); t++)
    for (int c = 1; c <= 2; c++)
      for (int shape = 0; shape < 2; shape++) {
        if (l->quick && (shape || t == 2)) continue;
        case_spec s = case_default("window", shape ? 300 : 200, shape ? 200 : 300);
        s.causal = (simdattn_causal)c;
        s.window = wins[t];
        add(l, s);
      }
}

/* 6. additive masks: per head, broadcast over batch and heads, one row per head */
static void grid_mask(list *l) {
  for (int m = MASK_FULL; m <= MASK_ROWS; m++)
    for (int c = 0; c < (l->quick ? 1 : 2); c++) {
      case_spec s = case_default("mask", 100, 257);
      s.heads_q = 4;
      s.heads_kv = 2;
      s.batch = 2;
      s.mask = (case_mask)m;
      s.causal = c ? SIMDATTN_CAUSAL_BOTTOM_RIGHT : SIMDATTN_CAUSAL_NONE;
      add(l, s);
    }
}

/* 7. softcap, with q scaled so scores are of the order of the cap (FlashAttention's way);
 * 8. alibi, non-causal (positive after the diagonal) and causal, GQA */
static void grid_softcap_alibi(list *l) {
  static const float caps[] = {30.0f, 5.0f};
  for (int t = 0; t < (l->quick ? 1 : (int)SA_ARRAY_SIZE(caps)); t++)
    for (int c = 0; c < (l->quick ? 1 : 2); c++) {
      case_spec s = case_default("softcap", 129, 257);
      s.softcap = caps[t];
      s.dist = DIST_SOFTCAP;
      s.causal = c ? SIMDATTN_CAUSAL_BOTTOM_RIGHT : SIMDATTN_CAUSAL_NONE;
      add(l, s);
    }
  for (int c = 0; c < 2; c++) {
    case_spec s = case_default("alibi", 90, 150);
    s.heads_q = 4;
    s.heads_kv = 2;
    s.alibi = 1;
    s.causal = c ? SIMDATTN_CAUSAL_BOTTOM_RIGHT : SIMDATTN_CAUSAL_NONE;
    add(l, s);
  }
}

/* 9. sinks, including rows with no visible key (lse = sink), and sinks that dominate their rows
 * by ~90 so that the outputs land in f32's subnormal range (prefill, decode with key chunks
 * merged, and the regression case where scalar_tiled returned twice the output) */
static void grid_sinks(list *l) {
  case_spec s = case_default("sinks", 100, 100);
  s.sinks = 1;
  add(l, s);
  s = case_default("sinks", 300, 7);
  s.sinks = 1;
  s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  add(l, s);
  if (!l->quick) {
    s = case_default("sinks", 64, 513);
    s.sinks = 1;
    s.causal = SIMDATTN_CAUSAL_TOP_LEFT;
    s.window = 40;
    add(l, s);
  }
  static const int64_t dom[][3] = {{131, 131, 0}, {131, 131, 2}, {1, 2000, 2}, {12, 700, 2}};
  for (int t = 0; t < (int)SA_ARRAY_SIZE(dom); t++) {
    s = case_default("sinks", dom[t][0], dom[t][1]);
    s.sinks = 1;
    s.dist = DIST_SINKDOM;
    s.causal = (simdattn_causal)dom[t][2];
    if (dom[t][0] == 1) s.heads_q = 8;
    add(l, s);
  }
  /* q = 371.692238, k = v = 37.1692238, softcap 5, alibi 2^-4 and 2^-8, sinks 111.5077 */
  s = case_default("sinks", 131, 131);
  s.sinks = s.alibi = 1;
  s.softcap = 5.0f;
  s.dist = DIST_SINKREPRO;
  add(l, s);
}

/* 10. lse off; 11. layouts: BSHD, BHSD, padded strides */
static void grid_layout(list *l) {
  case_spec s = case_default("nolse", 65, 129);
  s.lse = 0;
  s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  add(l, s);
  for (int L = 0; L < 4; L++) {
    s = case_default("layout", 65, 129);
    s.heads_q = 4;
    s.heads_kv = 2;
    s.batch = 2;
    s.layout = (case_layout)L;
    s.d = 40;
    s.dv = 24;
    s.causal = SIMDATTN_CAUSAL_TOP_LEFT;
    add(l, s);
  }
}

/* 12. value distributions */
static void grid_values(list *l) {
  for (int dd = DIST_LARGE; dd <= DIST_CONST; dd++)
    for (int c = 0; c < (l->quick ? 1 : 2); c++) {
      case_spec s = case_default("values", 127, 255);
      s.dist = (case_dist)dd;
      s.causal = c ? SIMDATTN_CAUSAL_BOTTOM_RIGHT : SIMDATTN_CAUSAL_NONE;
      add(l, s);
    }
}

/* 13. one NaN in q, k or v: it must reach exactly the outputs the semantics say */
static void grid_nan(list *l) {
  case_spec s;
  for (int nn = NAN_Q; nn <= NAN_V; nn++)
    for (int c = 0; c < 2; c++) {
      if (l->quick && c == 0 && nn != NAN_V) continue;
      s = case_default("nan", 129, 129);
      s.nan = (case_nan)nn;
      s.causal = c ? SIMDATTN_CAUSAL_TOP_LEFT : SIMDATTN_CAUSAL_NONE;
      add(l, s);
    }
  /* a NaN in a key or value that a -inf mask entry hides from some rows (mask block) */
  for (int nn = NAN_Q; nn <= NAN_V; nn++) {
    s = case_default("nan", 96, 96);
    s.nan = (case_nan)nn;
    s.mask = MASK_FULL;
    s.causal = nn == NAN_V ? SIMDATTN_CAUSAL_BOTTOM_RIGHT : SIMDATTN_CAUSAL_NONE;
    add(l, s);
  }
  /* +inf in V at a key whose weight underflows (large scores: most weights are below f32's and
   * double's range) must still make its column +inf, never NaN (0 * inf): packed and direct
   * P.V, lazy rescales, and key chunks merged (decode) */
  for (int t = 0; t < 3; t++) {
    s = case_default("nan", t == 2 ? 1 : 100, t == 2 ? 3000 : 300);
    s.nan = INF_V;
    s.dist = DIST_LARGE;
    s.causal = t == 1 ? SIMDATTN_CAUSAL_TOP_LEFT : SIMDATTN_CAUSAL_BOTTOM_RIGHT;
    s.heads_q = t == 2 ? 8 : 2;
    add(l, s);
  }
  /* plain multi-head decode within one key block (heads taken as rows): a NaN or +inf in V makes
   * the guarded P.V redo the block from a zero O (nothing saved before a task's first block) */
  for (int nn = NAN_V; nn <= INF_V; nn++) {
    s = case_default("nan", 1, 40);
    s.nan = (case_nan)nn;
    s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
    add(l, s);
  }
  /* decode with keys split into chunks: NaN in a chunk, and scores far apart across chunks */
  for (int t = 0; t < 4; t++) {
    s = case_default("nan", 1, 2048);
    s.heads_q = 8;
    s.heads_kv = 2;
    s.nan = t < 3 ? (case_nan)(t + 1) : NAN_NONE;
    s.dist = t < 3 ? DIST_NORMAL : DIST_LARGE;
    s.sinks = t == 2;
    s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
    add(l, s);
  }
}

/* every feature at once on GQA 8 on 2, bottom-right causal: window, mask, softcap (q scaled to
 * it), alibi, sinks, padded BSHD strides, head_dim_v != head_dim */
static void every_feature(case_spec *s, int64_t window, int64_t d, int64_t dv) {
  s->heads_q = 8;
  s->heads_kv = 2;
  s->causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  s->window = window;
  s->mask = MASK_FULL;
  s->softcap = 20.0f;
  s->dist = DIST_SOFTCAP;
  s->alibi = s->sinks = 1;
  s->layout = LAYOUT_BSHD_PAD;
  s->d = d;
  s->dv = dv;
}

/* decode shapes (a few query rows per kv head: kernels may read K and V in place, unpacked):
 * head-dim tails, head_dim_v != head_dim, every feature, a NaN in V hidden from some rows */
static void grid_decode(list *l) {
  static const int64_t dec[][3] = {{1, 1, 300}, {17, 40, 300}, {80, 80, 1000}, {111, 17, 777}, {128, 128, 2049}};
  case_spec s;
  for (int t = 0; t < (l->quick ? 3 : (int)SA_ARRAY_SIZE(dec)); t++) {
    s = case_default("decode", 1, dec[t][2]);
    s.heads_q = 8;
    s.heads_kv = 2;
    s.d = dec[t][0];
    s.dv = dec[t][1];
    s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
    add(l, s);
  }
  /* an LLM's decode step on a reduced-precision KV cache: 32 query heads on 8, head_dim 128,
   * f32 q with f16 and bf16 K/V (the error closing notes quote against ggml's f16 path) */
  for (int t = 0; t < 2; t++) {
    s = case_default("decode", 1, l->quick ? 1024 : 4096);
    s.heads_q = 32;
    s.heads_kv = 8;
    s.d = s.dv = 128;
    s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
    s.kvt = t ? SIMDATTN_BF16 : SIMDATTN_F16;
    add(l, s);
  }
  /* plain multi-head decode whose K and V lie beyond L2 (8 MiB: one-row S tiles then read key by
   * key, core/flash_direct.inc), a tail of keys past the last whole tile; head-major and
   * interleaved (heads side by side), f32 and f16 K/V */
  for (int t = 0; t < 4; t++) {
    s = case_default("decode", 1, 2051);
    s.heads_q = s.heads_kv = 4;
    s.d = s.dv = 128;
    s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
    s.layout = t & 1 ? LAYOUT_BSHD : LAYOUT_BHSD;
    s.kvt = t & 2 ? SIMDATTN_F16 : SIMDATTN_F32;
    add(l, s);
  }
  /* an interleaved cache beyond L2 with 16 kv heads: its keys split as one task's (src/forward.c),
   * where 16 head-major heads are not split */
  s = case_default("decode", 1, l->quick ? 1100 : 2100);
  s.heads_q = 32;
  s.heads_kv = 16;
  s.d = s.dv = 64;
  s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  s.layout = LAYOUT_BSHD;
  add(l, s);
  s = case_default("decode", 3, 1500); /* 3 positions x 4 heads: 12 rows */
  every_feature(&s, 700, 72, 24);
  add(l, s);
  s = case_default("decode", 2, 900); /* NaN in V at a key row 1 sees and row 0 does not (window) */
  s.heads_q = 4;
  s.heads_kv = 1;
  s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  s.window = 600;
  s.nan = NAN_V;
  add(l, s);
  s.nan = NAN_K;
  add(l, s);
}

/* 14. everything at once */
static void grid_all(list *l) {
  for (int t = 0; t < 2; t++) {
    case_spec s = case_default("all", 150, 300);
    s.batch = 2;
    every_feature(&s, 50, 80, 48);
    if (t) {
      s.qt = SIMDATTN_BF16;
      s.kvt = SIMDATTN_F16;
    }
    add(l, s);
  }
}

/* 15. dtypes: every (q, k/v) combination of the float formats; f16 near its range limit and
 * subnormals */
static const simdattn_dtype float_types[] = {SIMDATTN_F32, SIMDATTN_F16, SIMDATTN_BF16};
static void grid_dtypes(list *l) {
  case_spec s;
  for (int qt = 0; qt < (int)SA_ARRAY_SIZE(float_types); qt++)
    for (int kt = 0; kt < (int)SA_ARRAY_SIZE(float_types); kt++) {
      if (qt == 0 && kt == 0) continue;
      s = case_default("dtype", 100, 300);
      s.qt = float_types[qt];
      s.kvt = float_types[kt];
      s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
      s.d = s.dv = l->quick ? 64 : 96;
      add(l, s);
    }
  for (int dd = DIST_LARGE; dd <= DIST_TINY; dd++)
    for (int t = 1; t < (int)SA_ARRAY_SIZE(float_types); t++) {
      s = case_default("dtype", 64, 200);
      s.qt = s.kvt = float_types[t];
      s.dist = (case_dist)dd;
      add(l, s);
    }
  /* reduced-precision stress: f16 range limit, large exponents, subnormals; q in each dtype
   * against f16 and bf16 K/V, prefill and decode shapes */
  static const case_dist stress[] = {DIST_RANGE, DIST_EXPO, DIST_SUBN};
  for (int t = 0; t < (int)SA_ARRAY_SIZE(stress); t++)
    for (int kt = 1; kt < (int)SA_ARRAY_SIZE(float_types); kt++)
      for (int qt = 0; qt < (int)SA_ARRAY_SIZE(float_types); qt++) {
        if (l->quick && qt != kt) continue;
        if (stress[t] == DIST_RANGE && float_types[kt] == SIMDATTN_BF16 && qt != kt) continue;
        s = case_default("dtype", qt == 0 ? 1 : 70, 300);
        s.qt = float_types[qt];
        s.kvt = float_types[kt];
        s.dist = stress[t];
        s.heads_q = 4;
        s.heads_kv = 2;
        s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
        add(l, s);
      }
}

/* 16. quantized K/V caches (README, "Quantized KV caches"), each format: GQA decode in place (head-major
 * and interleaved, past L2, split into key chunks), prefill (packed), every feature with padded strides,
 * tails of keys, plain multi-head decode, adversarial blocks and encodings; fp8 with scales per tensor
 * and per kv head; mixed K/V formats, f16 and bf16 q */
static const simdattn_dtype quant_types[] = {SIMDATTN_Q8_0, SIMDATTN_Q4_0, SIMDATTN_FP8E4M3, SIMDATTN_FP8E5M2};
static void grid_quant(list *l) {
  case_spec s;
  for (int f = 0; f < (int)SA_ARRAY_SIZE(quant_types); f++) {
    const simdattn_dtype dt = quant_types[f];
    const int fp8 = sa_dtype_scaled(dt);
    /* GQA decode, 32 x 8 heads, d128 (an LLM's step; the error quoted against ggml's f16 path) */
    s = case_default("quant", 1, l->quick ? 512 : 4096);
    s.heads_q = 32, s.heads_kv = 8, s.d = s.dv = 128;
    s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
    s.kvt = dt, s.kvscale = fp8 ? 2 : 0;
    add(l, s);
    /* adversarial blocks and encodings in GQA groups of 4 (decode's own tiles, K and V read in place; lax
     * loaders and their row scans, core/flash_driver.inc), the encodings' keys seen, and hidden by a window */
    for (int w = 0; w < (l->quick ? 1 : 2); w++) {
      s = case_default("quant", 1, 300);
      s.heads_q = 8, s.heads_kv = 2, s.d = s.dv = 128;
      s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT, s.window = w ? 100 : 0;
      s.kvt = dt, s.kvscale = fp8 ? 1 + w : 0, s.qadv = 1;
      add(l, s);
    }
    if (l->quick && (dt == SIMDATTN_Q4_0 || dt == SIMDATTN_FP8E5M2)) { /* quick: their adversarial prefill */
      s = case_default("quant", 64, 200);
      s.heads_q = 4, s.heads_kv = 2, s.d = s.dv = 64;
      s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
      s.kvt = dt, s.kvscale = fp8 ? 2 : 0, s.qadv = 1;
      add(l, s);
      continue;
    }
    /* interleaved cache (heads side by side), a tail of keys */
    s = case_default("quant", 1, l->quick ? 300 : 700);
    s.heads_q = 8, s.heads_kv = 2, s.d = s.dv = 64;
    s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT, s.layout = LAYOUT_BSHD;
    s.kvt = dt, s.kvscale = fp8;
    add(l, s);
    /* prefill, causal, packed blocks */
    s = case_default("quant", l->quick ? 64 : 150, l->quick ? 200 : 300);
    s.heads_q = 4, s.heads_kv = 2, s.d = s.dv = 64;
    s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
    s.kvt = dt, s.kvscale = fp8 ? 2 : 0;
    add(l, s);
    /* adversarial blocks and encodings, decode (groups of 2: staged tiles; quick q8_0: one row per head, the
     * staged one-row tiles and the short path) and prefill */
    for (int t = 0; t < 2; t++) {
      s = case_default("quant", t ? 70 : 1, 200);
      s.heads_q = 4, s.heads_kv = !t && l->quick && dt == SIMDATTN_Q8_0 ? 4 : 2, s.d = s.dv = 64;
      s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
      s.kvt = dt, s.kvscale = fp8 ? 2 : 0, s.qadv = 1;
      add(l, s);
    }
    if (l->quick) continue;
    /* every feature, padded BSHD strides (whole blocks), head_dim_v != head_dim */
    s = case_default("quant", 40, 300);
    every_feature(&s, 90, 96, 64);
    s.kvt = dt, s.kvscale = fp8;
    add(l, s);
    /* non-causal, keys not a multiple of any tile; plain multi-head decode; MQA decode in key chunks */
    s = case_default("quant", 7, 301);
    s.d = s.dv = 32;
    s.kvt = dt;
    add(l, s);
    s = case_default("quant", 1, 37);
    s.heads_q = s.heads_kv = 6, s.d = s.dv = 64;
    s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
    s.kvt = dt, s.kvscale = fp8;
    add(l, s);
    s = case_default("quant", 1, 3000);
    s.heads_q = 8, s.heads_kv = 1, s.d = s.dv = 128;
    s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
    s.kvt = dt, s.kvscale = fp8;
    add(l, s);
    /* GQA decode at head_dim 256 (Gemma's): eight blocks to a row (AVX-512 q4_0 converts a key's d's
     * together, SA_VLOAD_DP: one masked load per four) */
    s = case_default("quant", 1, 500);
    s.heads_q = 8, s.heads_kv = 2, s.d = s.dv = 256;
    s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
    s.kvt = dt, s.kvscale = fp8;
    add(l, s);
    /* large scores (a quantized cache of large values), windowed prefill with f16 q */
    s = case_default("quant", 64, 256);
    s.d = s.dv = 64;
    s.dist = DIST_LARGE, s.causal = SIMDATTN_CAUSAL_TOP_LEFT;
    s.kvt = dt, s.kvscale = fp8;
    add(l, s);
    s = case_default("quant", 100, 257);
    s.d = s.dv = 128, s.window = 50;
    s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT, s.qt = SIMDATTN_F16;
    s.kvt = dt, s.kvscale = fp8 ? 2 : 0;
    add(l, s);
  }
  /* mixed formats: llama.cpp's -ctk q8_0 -ctv q4_0, fp8 K with f16 V, f16 K with q8_0 V, bf16 q */
  static const simdattn_dtype mixes[][3] = {{SIMDATTN_F32, SIMDATTN_Q8_0, SIMDATTN_Q4_0},
                                            {SIMDATTN_F32, SIMDATTN_FP8E4M3, SIMDATTN_F16},
                                            {SIMDATTN_BF16, SIMDATTN_F16, SIMDATTN_Q8_0},
                                            {SIMDATTN_F32, SIMDATTN_Q4_0, SIMDATTN_FP8E5M2}};
  for (int m = 0; m < (l->quick ? 1 : (int)SA_ARRAY_SIZE(mixes)); m++)
    for (int t = 0; t < 2; t++) {
      s = case_default("quant", t ? (l->quick ? 40 : 90) : 1, l->quick ? 300 : 600);
      s.heads_q = 8, s.heads_kv = 2, s.d = s.dv = 64;
      s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
      s.qt = mixes[m][0], s.kvt = mixes[m][1], s.mixed_v = 1, s.vt = mixes[m][2], s.kvscale = 1;
      add(l, s);
    }
}

/* 17. tile edges, derived from every registry row's tiles (core/kernel.h, sa_tiles): for each
 * tile parameter t, the shapes that put t - 1, t, t + 1 and 2t + 1 where that parameter cuts
 * the problem (XNNPACK and dav1d generate their kernels' edges the same way). A new tile shape
 * gets its edges here without anyone writing them. The quick grid takes t and t + 1. */
static void tile_values(int64_t t, int quick, int64_t *out, int *n) {
  const int64_t v[4] = {t - 1, t, t + 1, 2 * t + 1};
  *n = 0;
  for (int k = 0; k < 4; k++)
    if (v[k] >= 1 && (!quick || k == 1 || k == 2)) out[(*n)++] = v[k];
}

static void grid_tiles_of(list *l, const sa_tiles *tl) {
  int64_t v[4];
  int n;
  case_spec s;
  /* packed query rows per task and per register tile: seq_q rows of one head (group 1) */
  const int64_t row_params[] = {tl->block_q, tl->mr};
  for (int p = 0; p < (int)SA_ARRAY_SIZE(row_params); p++) {
    tile_values(row_params[p], l->quick, v, &n);
    for (int k = 0; k < n; k++) {
      s = case_default("tiles/rows", v[k], 100);
      s.heads_q = s.heads_kv = 1;
      s.causal = k % 2 ? SIMDATTN_CAUSAL_BOTTOM_RIGHT : SIMDATTN_CAUSAL_NONE;
      add(l, s);
    }
  }
  /* keys per block and per register tile: a packed shape (33 rows) and a direct one (decode) */
  const int64_t key_params[] = {tl->block_kv, tl->nr};
  for (int p = 0; p < (int)SA_ARRAY_SIZE(key_params); p++) {
    if (key_params[p] <= 0) continue;
    tile_values(key_params[p], l->quick, v, &n);
    for (int k = 0; k < n; k++) {
      s = case_default("tiles/keys", 33, v[k]);
      s.causal = k % 2 ? SIMDATTN_CAUSAL_BOTTOM_RIGHT : SIMDATTN_CAUSAL_NONE;
      add(l, s);
      s = case_default("tiles/keys", 1, v[k]);
      s.heads_q = 8;
      s.heads_kv = 2;
      s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
      add(l, s);
    }
  }
  /* split-KV chunks (decode: few tasks): the chunk length's edges, and the split's threshold
   * (2 chunks) on both sides */
  if (tl->chunk_kv > 0) {
    tile_values(tl->chunk_kv, l->quick, v, &n);
    const int64_t split[] = {2 * tl->chunk_kv - 1, 2 * tl->chunk_kv, 2 * tl->chunk_kv + 1};
    for (int k = 0; k < n + (int)SA_ARRAY_SIZE(split); k++) {
      s = case_default("tiles/chunk", 1, k < n ? v[k] : split[k - n]);
      s.heads_q = 8;
      s.heads_kv = 2;
      s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
      add(l, s);
    }
  }
  /* head dims around the vector width (packed and direct), head_dim_v around the register tile */
  tile_values(tl->vl, l->quick, v, &n);
  for (int k = 0; k < n; k++) {
    s = case_default("tiles/dims", 40, 90);
    s.d = s.dv = v[k];
    s.causal = SIMDATTN_CAUSAL_TOP_LEFT;
    add(l, s);
    s = case_default("tiles/dims", 1, 300);
    s.heads_q = 8;
    s.heads_kv = 2;
    s.d = s.dv = v[k];
    s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
    add(l, s);
  }
  tile_values(tl->nr, l->quick, v, &n);
  for (int k = 0; k < n; k++) {
    if (v[k] > SA_MAX_HEAD_DIM) continue;
    s = case_default("tiles/dims", 40, 90);
    s.d = 32;
    s.dv = v[k];
    s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
    add(l, s);
    s.seq_q = 1;
    s.seq_kv = 300;
    s.heads_q = 8;
    add(l, s);
  }
  /* the direct-mode row limit: seq_q rows of one head on either side of it */
  if (tl->direct_rows > 0) {
    tile_values(tl->direct_rows, l->quick, v, &n);
    for (int k = 0; k < n; k++) {
      s = case_default("tiles/direct", v[k], 700);
      s.heads_q = s.heads_kv = 1;
      s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
      add(l, s);
    }
  }
}

static void grid_tiles(list *l) {
  for (int t = 0; t < sa_variant_total(); t++) grid_tiles_of(l, &sa_variant_at(t)->kernel->tiles);
}

int case_grid(int quick, case_spec **out) {
  list l = {NULL, 0, 0, quick};
  grid_seq(&l);
  grid_cross(&l);
  grid_dims(&l);
  grid_heads(&l);
  grid_window(&l);
  grid_mask(&l);
  grid_softcap_alibi(&l);
  grid_sinks(&l);
  grid_layout(&l);
  grid_values(&l);
  grid_nan(&l);
  grid_decode(&l);
  grid_all(&l);
  grid_dtypes(&l);
  grid_quant(&l);
  grid_tiles(&l);
  *out = l.v;
  return l.n;
}

/* ---- data ---- */
static void *xcalloc(size_t n, size_t size) { return calloc(n ? n : 1, size); }
/* q, k, v on a cache line, as engines hold them (glibc's calloc of a large block returns 16 bytes
 * past a page: every 64-byte row then spans an extra line, measured up to 25% slower decode from
 * DRAM); rows inside stay misaligned wherever a padded layout's strides make them so */
static void *xcalloc_line(size_t bytes) {
  const size_t n = ((bytes ? bytes : 1) + 63) / 64 * 64;
  void *p = aligned_alloc(64, n);
  if (p) memset(p, 0, n);
  return p;
}

/* Fill one (B, H, S, row) tensor with layout strides; dist-dependent values. */
static void fill(rng *r, void *base, simdattn_dtype t, strides st, int64_t B, int64_t H, int64_t S, int64_t row,
                 case_dist dist, int which /* 0 q, 1 k, 2 v */, const float *dir, float sigma) {
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++)
      for (int64_t i = 0; i < S; i++)
        for (int64_t x = 0; x < row; x++) {
          float v = normal(r);
          switch (dist) {
            case DIST_LARGE:
              if (which < 2) v *= sigma;
              break;
            case DIST_TINY:
              v *= t == SIMDATTN_F16 ? 1e-6f : 1e-20f;
              break;
            case DIST_DOMINANT: /* q rows near dir; one key per (b, h) is 4 dir: it dominates */
              if (which == 0) v = dir[x] + 0.1f * v;
              if (which == 1 && i == (S * 2) / 5) v = 4.0f * dir[x];
              break;
            case DIST_CONST: /* every key the same vector, q rows constant: uniform attention */
              if (which == 0) v = 0.5f;
              if (which == 1) v = dir[x];
              break;
            case DIST_SOFTCAP:
              if (which == 0) v *= sigma;
              break;
            case DIST_RANGE: /* V near the f16 limit; q, k keep scores moderate */
              if (which == 2) v = (v < 0 ? -1.0f : 1.0f) * (30000.0f + 30000.0f * (float)uniform(r));
              break;
            case DIST_EXPO: {
              const float e = t == SIMDATTN_F16 ? 7.0f : 40.0f;
              v *= exp2f(which == 1 ? -e : e);
              break;
            }
            case DIST_SINKREPRO: /* the values scalar_tiled once doubled an output on */
              v = which == 0 ? 371.692238f : 37.1692238f;
              break;
            case DIST_SUBN: { /* a third of the values subnormal in the dtype */
              const float tiny = t == SIMDATTN_F16 ? 0x1p-20f : t == SIMDATTN_BF16 ? 0x1p-130f : 0x1p-130f;
              if (uniform(r) < 0.33) v *= tiny;
              break;
            }
            default:
              break;
          }
          store(base, t, b * st.sb + h * st.sh + i * st.ss + x, v);
        }
}

int case_quantized(const case_spec *s) { return !sa_dtype_float(s->kvt) || !sa_dtype_float(case_vt(s)); }

/* One quantized tensor's adversarial rows (qadv), patched into its bytes: in kv head H - 1 of batch 0,
 * key S / 4: block or element 0 with scale 0 (q8_0, q4_0) or an fp8 NaN encoding (V's at key S - 2
 * instead: a NaN of V's own, seen by the last rows where a window hides S / 4); key S / 2: f16-max
 * scales with extreme q (+-127, nibbles 0 and 15) or the format's largest finite values (V of e5m2: +inf);
 * key S / 3: extreme q with the block's own scale, or fp8 subnormals (and -0). */
static void adversarial(void *base, simdattn_dtype dt, strides st, const case_spec *s, int64_t row, int is_v) {
  const int64_t S = s->seq_kv, h = s->heads_kv - 1;
  if (S < 4 || s->batch < 1) return;
  uint8_t *const t = (uint8_t *)base;
  const int64_t keys[3] = {is_v && sa_dtype_scaled(dt) ? S - 2 : S / 4, S / 2, S / 3};
  for (int k = 0; k < 3; k++) {
    const int64_t e0 = h * st.sh + keys[k] * st.ss; /* the row's first element */
    uint8_t *const r = t + sa_dtype_bytes(dt, e0);
    if (dt == SIMDATTN_Q8_0 || dt == SIMDATTN_Q4_0) {
      const int64_t bb = sa_dtype_block_bytes(dt);
      for (int64_t b0 = 0; b0 < row / 32; b0++) {
        uint8_t *const blk = r + b0 * bb;
        if (k == 0 && b0 == 0) blk[0] = blk[1] = 0; /* d = 0 */
        if (k == 1) blk[0] = 0xff, blk[1] = 0x7b;   /* d = 65504 */
        if (k >= 1)
          for (int64_t x = 2; x < bb; x++)
            blk[x] = dt == SIMDATTN_Q8_0 ? (uint8_t)(x % 2 ? 0x81 : 0x7f)  /* -127, +127 */
                                         : (uint8_t)(x % 2 ? 0x0f : 0xf0); /* nibbles 15 and 0 */
      }
    } else if (dt == SIMDATTN_FP8E4M3 || dt == SIMDATTN_FP8E5M2) {
      const int e4 = dt == SIMDATTN_FP8E4M3;
      if (k == 0) r[row / 2] = e4 ? 0x7f : 0xfe; /* NaN */
      for (int64_t x = 0; x < row && k > 0; x++) {
        if (k == 1) r[x] = (uint8_t)((x % 2 ? 0x80 : 0) | (e4 ? 0x7e : 0x7b)); /* +-448, +-57344 */
        else r[x] = (uint8_t)((x % 3 == 0 ? 0x80 : 0) | (x % (e4 ? 8 : 4)));   /* subnormals, +-0 */
      }
      if (k == 1 && is_v && !e4) r[1] = 0x7c; /* +inf */
    }
  }
}

/* K and V encoded from their f32 data (cd->k_f32, cd->v_f32) with the public quantizer, row by row;
 * fp8 with scales from the data (the largest magnitude over 240, per tensor or per kv head, as a
 * calibration would make them; with per-head scales the last head's is 0) */
static int quantize_kv(const case_spec *s, case_data *cd, strides sk, strides sv) {
  const simdattn_dtype dts[2] = {s->kvt, case_vt(s)};
  const strides st[2] = {sk, sv};
  const int64_t rows[2] = {s->d, s->dv};
  for (int w = 0; w < 2; w++) {
    const simdattn_dtype dt = dts[w];
    const float *src = w ? cd->v_f32 : cd->k_f32;
    float *scale = NULL;
    if (sa_dtype_scaled(dt) && s->kvscale) {
      scale = xcalloc((size_t)s->heads_kv, sizeof(float));
      if (!scale) return -1;
      for (int64_t h = 0; h < s->heads_kv; h++) {
        float amax = 0.0f;
        for (int64_t b = 0; b < s->batch; b++)
          for (int64_t i = 0; i < s->seq_kv; i++)
            for (int64_t x = 0; x < rows[w]; x++) {
              const float a = fabsf(src[b * st[w].sb + h * st[w].sh + i * st[w].ss + x]);
              if (isfinite(a) && a > amax) amax = a;
            }
        scale[h] = amax > 0.0f ? amax / 240.0f : 1.0f;
      }
      if (s->kvscale == 1)
        for (int64_t h = 1; h < s->heads_kv; h++) scale[0] = scale[h] > scale[0] ? scale[h] : scale[0];
      if (s->kvscale == 2 && s->qadv && s->heads_kv > 1) scale[s->heads_kv - 1] = 0.0f;
      if (w) cd->v_scale = scale;
      else cd->k_scale = scale;
    }
    void *dst = w ? cd->v : cd->k;
    for (int64_t b = 0; b < s->batch; b++)
      for (int64_t h = 0; h < s->heads_kv; h++)
        for (int64_t i = 0; i < s->seq_kv; i++) {
          const int64_t e = b * st[w].sb + h * st[w].sh + i * st[w].ss;
          const float sc = !scale ? 0.0f : s->kvscale == 2 ? scale[h] : scale[0];
          /* (a zero scale's head is encoded with 1: its values are all 0 either way) */
          if (simdattn_quantize((char *)dst + sa_dtype_bytes(dt, e), dt, src + e, SIMDATTN_F32, rows[w], sc) !=
              SIMDATTN_OK)
            return -1;
        }
    if (s->qadv) adversarial(dst, dt, st[w], s, rows[w], w);
  }
  return 0;
}

int case_build(const case_spec *s, uint64_t seed, case_data *cd) {
  memset(cd, 0, sizeof *cd);
  cd->spec = *s;
  case_name(s, cd->name, sizeof cd->name);
  rng r;
  rng_seed(&r, seed, cd->name);
  simdattn_problem *p = &cd->p;
  p->struct_size = SIMDATTN_PROBLEM_SIZE; /* as a caller of this header sets it */
  p->batch = s->batch;
  p->heads_q = s->heads_q;
  p->heads_kv = s->heads_kv;
  p->seq_q = s->seq_q;
  p->seq_kv = s->seq_kv;
  p->head_dim = s->d;
  p->head_dim_v = s->dv;
  p->causal = s->causal;
  p->window = s->window;
  p->softcap = s->softcap;

  const simdattn_dtype vt = case_vt(s);
  const int quant = case_quantized(s);
  const strides sq = layout_of(s->layout, s->batch, s->heads_q, s->seq_q, s->d, 1);
  const strides sk = layout_of(s->layout, s->batch, s->heads_kv, s->seq_kv, s->d, sa_dtype_block(s->kvt));
  const strides sv = layout_of(s->layout, s->batch, s->heads_kv, s->seq_kv, s->dv, sa_dtype_block(vt));
  const strides so = layout_of(s->layout, s->batch, s->heads_q, s->seq_q, s->dv, 1);
  cd->q = xcalloc_line((size_t)sa_dtype_bytes(s->qt, sq.len));
  cd->k = xcalloc_line((size_t)sa_dtype_bytes(s->kvt, sk.len));
  cd->v = xcalloc_line((size_t)sa_dtype_bytes(vt, sv.len));
  if (!cd->q || !cd->k || !cd->v) return -1;
  if (quant) { /* K and V made in f32, then encoded */
    cd->k_f32 = xcalloc_line(sizeof(float) * (size_t)sk.len);
    cd->v_f32 = xcalloc_line(sizeof(float) * (size_t)sv.len);
    if (!cd->k_f32 || !cd->v_f32) return -1;
  }
  /* padding between rows holds NaN: a kernel that reads it turns its output NaN (a quantized tensor's
   * bytes 0xff: a NaN block scale, an fp8 NaN) */
  for (int64_t t = 0; t < sq.len; t++) store(cd->q, s->qt, t, NAN);
  if (quant) {
    memset(cd->k, 0xff, (size_t)sa_dtype_bytes(s->kvt, sk.len));
    memset(cd->v, 0xff, (size_t)sa_dtype_bytes(vt, sv.len));
    for (int64_t t = 0; t < sk.len; t++) cd->k_f32[t] = NAN;
    for (int64_t t = 0; t < sv.len; t++) cd->v_f32[t] = NAN;
  } else {
    for (int64_t t = 0; t < sk.len; t++) store(cd->k, s->kvt, t, NAN);
    for (int64_t t = 0; t < sv.len; t++) store(cd->v, s->kvt, t, NAN);
  }
  float dir[512];
  for (int x = 0; x < 512; x++) dir[x] = normal(&r);
  /* LARGE: q, k ~ N(0, 32^2), scores ~ N(0, 1024^2) (thousands); SOFTCAP: q ~ N(0, cap^2),
   * k ~ N(0, 1), scores of the order of the cap */
  const float sigma_large = 32.0f, sigma_cap = s->softcap > 0 ? s->softcap : 1.0f;
  fill(&r, cd->q, s->qt, sq, s->batch, s->heads_q, s->seq_q, s->d, s->dist, 0, dir,
       s->dist == DIST_SOFTCAP ? sigma_cap : sigma_large);
  if (quant) {
    fill(&r, cd->k_f32, SIMDATTN_F32, sk, s->batch, s->heads_kv, s->seq_kv, s->d, s->dist, 1, dir, sigma_large);
    fill(&r, cd->v_f32, SIMDATTN_F32, sv, s->batch, s->heads_kv, s->seq_kv, s->dv, s->dist, 2, dir, 1.0f);
    if (quantize_kv(s, cd, sk, sv) != 0) return -1;
  } else {
    fill(&r, cd->k, s->kvt, sk, s->batch, s->heads_kv, s->seq_kv, s->d, s->dist, 1, dir, sigma_large);
    fill(&r, cd->v, s->kvt, sv, s->batch, s->heads_kv, s->seq_kv, s->dv, s->dist, 2, dir, 1.0f);
  }
  p->q = (simdattn_tensor){cd->q, s->qt, sq.sb, sq.sh, sq.ss};
  p->k = (simdattn_tensor){cd->k, s->kvt, sk.sb, sk.sh, sk.ss};
  p->v = (simdattn_tensor){cd->v, vt, sv.sb, sv.sh, sv.ss};
  if (cd->k_scale && sa_dtype_scaled(s->kvt)) p->k_scale = cd->k_scale;
  if (cd->v_scale && sa_dtype_scaled(vt)) p->v_scale = cd->v_scale;
  p->kv_scale_stride = s->kvscale == 2 ? 1 : 0;

  /* NaN injection */
  cd->nan_b = cd->nan_h = cd->nan_pos = cd->nan_x = -1;
  if (s->nan != NAN_NONE) {
    const int on_q = s->nan == NAN_Q;
    const int64_t S = on_q ? s->seq_q : s->seq_kv, H = on_q ? s->heads_q : s->heads_kv;
    const int on_v = s->nan == NAN_V || s->nan == INF_V;
    const int64_t row = on_v ? s->dv : s->d;
    if (S > 0 && s->batch > 0) {
      cd->nan_b = s->batch - 1;
      cd->nan_h = H - 1;
      cd->nan_pos = on_q ? S / 2 : S / 3;
      cd->nan_x = row / 2;
      const strides st = on_q ? sq : s->nan == NAN_K ? sk : sv;
      void *base = on_q ? cd->q : s->nan == NAN_K ? cd->k : cd->v;
      store(base, on_q ? s->qt : s->kvt, cd->nan_b * st.sb + cd->nan_h * st.sh + cd->nan_pos * st.ss + cd->nan_x,
            s->nan == INF_V ? INFINITY : NAN);
    }
  }

  /* outputs inside guards */
  cd->out_at = CASE_GUARD;
  cd->out_len = (size_t)so.len + 2 * CASE_GUARD;
  cd->out_buf = xcalloc(cd->out_len, sizeof(float));
  p->out = cd->out_buf + cd->out_at;
  p->out_stride_batch = so.sb;
  p->out_stride_head = so.sh;
  p->out_stride_seq = so.ss;
  cd->lse_at = CASE_GUARD;
  cd->lse_len = (size_t)(s->batch * s->heads_q * s->seq_q) + 2 * CASE_GUARD;
  cd->lse_buf = xcalloc(cd->lse_len, sizeof(float));
  p->lse = s->lse ? cd->lse_buf + cd->lse_at : NULL;

  /* mask */
  if (s->mask != MASK_NONE && s->seq_q > 0 && s->seq_kv > 0) {
    const int64_t pitch = s->seq_kv + 3;
    int64_t nb = 1, nh = 1, nq = s->seq_q;
    if (s->mask == MASK_FULL) nb = s->batch, nh = s->heads_q;
    if (s->mask == MASK_ROWS) nb = s->batch, nh = s->heads_q, nq = 1;
    cd->mask = xcalloc((size_t)(nb * nh * nq * pitch), sizeof(float));
    if (!cd->mask) return -1;
    for (int64_t t = 0; t < nb * nh * nq * pitch; t++) cd->mask[t] = NAN; /* padding */
    for (int64_t t = 0; t < nb * nh * nq; t++) {
      const int64_t i = t % nq;
      for (int64_t j = 0; j < s->seq_kv; j++) {
        float m = normal(&r);
        if (uniform(&r) < 0.05) m = -INFINITY;   /* scattered */
        if (nq > 1 && i % 7 == 3) m = -INFINITY; /* whole rows */
        if (nq > 1 && i >= nq / 2 && i < nq / 2 + nq / 4 + 1 && j >= s->seq_kv / 3 &&
            j < s->seq_kv / 3 + s->seq_kv / 4 + 1)
          m = -INFINITY; /* a block */
        cd->mask[t * pitch + j] = m;
      }
    }
    p->mask = cd->mask;
    p->mask_stride_q = nq > 1 ? pitch : 0;
    p->mask_stride_head = nh > 1 ? nq * pitch : 0;
    p->mask_stride_batch = nb > 1 ? nh * nq * pitch : 0;
  }
  if (s->alibi) {
    cd->alibi = xcalloc((size_t)s->heads_q, sizeof(float));
    for (int64_t h = 0; h < s->heads_q; h++) cd->alibi[h] = exp2f(-8.0f * (float)(h + 1) / (float)s->heads_q);
    p->alibi_slopes = cd->alibi;
  }
  if (s->sinks) {
    cd->sinks = xcalloc((size_t)s->heads_q, sizeof(float));
    for (int64_t h = 0; h < s->heads_q; h++) {
      cd->sinks[h] = 2.0f * normal(&r) + (h % 2 ? 3.0f : 0.0f);
      if (s->dist == DIST_SINKDOM) cd->sinks[h] = 88.0f + 4.0f * (float)uniform(&r); /* outputs near 1e-39 */
      if (s->dist == DIST_SINKREPRO) cd->sinks[h] = 111.5077f;
    }
    p->sinks = cd->sinks;
  }
  case_reset_outputs(cd);
  return cd->q && cd->k && cd->v && cd->out_buf && cd->lse_buf ? 0 : -1;
}

void case_reset_outputs(case_data *cd) {
  const float sentinel = float_of(SENTINEL_BITS);
  for (size_t t = 0; t < cd->out_len; t++) cd->out_buf[t] = sentinel;
  for (size_t t = 0; t < cd->lse_len; t++) cd->lse_buf[t] = sentinel;
}

int case_guards_intact(const case_data *cd) {
  const case_spec *s = &cd->spec;
  const simdattn_problem *p = &cd->p;
  unsigned char *owned = xcalloc(cd->out_len, 1);
  if (!owned) return 0;
  for (int64_t b = 0; b < s->batch; b++)
    for (int64_t h = 0; h < s->heads_q; h++)
      for (int64_t i = 0; i < s->seq_q; i++)
        memset(owned + cd->out_at + b * p->out_stride_batch + h * p->out_stride_head + i * p->out_stride_seq, 1,
               (size_t)s->dv);
  int ok = 1;
  for (size_t t = 0; t < cd->out_len && ok; t++)
    if (!owned[t] && bits_of(cd->out_buf[t]) != SENTINEL_BITS) ok = 0;
  free(owned);
  const size_t n_lse = (size_t)(s->batch * s->heads_q * s->seq_q);
  for (size_t t = 0; t < cd->lse_len && ok; t++) {
    const int inside = s->lse && t >= cd->lse_at && t < cd->lse_at + n_lse;
    if (!inside && bits_of(cd->lse_buf[t]) != SENTINEL_BITS) ok = 0;
  }
  return ok;
}

float case_out(const case_data *cd, int64_t b, int64_t h, int64_t i, int64_t x) {
  const simdattn_problem *p = &cd->p;
  return p->out[b * p->out_stride_batch + h * p->out_stride_head + i * p->out_stride_seq + x];
}

float case_lse(const case_data *cd, int64_t b, int64_t h, int64_t i) {
  return cd->lse_buf[cd->lse_at + (size_t)((b * cd->spec.heads_q + h) * cd->spec.seq_q + i)];
}

void case_free(case_data *cd) {
  free(cd->q);
  free(cd->k);
  free(cd->v);
  free(cd->k_f32);
  free(cd->v_f32);
  free(cd->k_scale);
  free(cd->v_scale);
  free(cd->mask);
  free(cd->alibi);
  free(cd->sinks);
  free(cd->out_buf);
  free(cd->lse_buf);
  memset(cd, 0, sizeof *cd);
}

int case_fit_dtypes(case_spec *s, unsigned dtypes) {
  if ((dtypes & SA_DT_BIT(s->qt)) && (dtypes & SA_DT_BIT(s->kvt)) && (dtypes & SA_DT_BIT(case_vt(s)))) return 0;
  if (case_quantized(s)) return -1;
  if (s->qt != SIMDATTN_F32 || s->kvt != SIMDATTN_F32 || (dtypes & SA_DT_F32)) return -1;
  for (int t = 1; t < (int)SA_ARRAY_SIZE(float_types); t++) /* the reduced-precision float formats */
    if (dtypes & SA_DT_BIT(float_types[t])) {
      s->qt = s->kvt = float_types[t];
      return 0;
    }
  return -1;
}
