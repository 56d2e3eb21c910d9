/* src/registry.c: the variant table (rows in variants.inc; each row's ISA from isas.inc) and the
 * public introspection API. */
#include <string.h>

#include "internal.h"

/* the rows this build has (SA_BUILT_<variant>: their ISA is built, SIMDATTN_SKIP_VARIANTS does not name them) */
#define SA_VARIANT(name, isa, extra, cflags, dtypes, flags) \
  SA_IF(SA_BUILT_##name, extern const sa_kernel sa_kernel_##name;)
#include "variants.inc"
#undef SA_VARIANT

static const sa_variant sa_table[] = {
#define SA_VARIANT(name, isa, extra, cflags, dtypes, flags) \
  SA_IF(SA_BUILT_##name, {#name, #isa, (unsigned)SA_ISA_CPU_##isa | (extra), dtypes, flags, &sa_kernel_##name}, )
#include "variants.inc"
#undef SA_VARIANT
};

int sa_variant_total(void) { return (int)(sizeof sa_table / sizeof sa_table[0]); }

const sa_variant *sa_variant_at(int index) {
  return index >= 0 && index < sa_variant_total() ? &sa_table[index] : NULL;
}

const sa_variant *sa_variant_find(const char *name) {
  for (int t = 0; t < sa_variant_total(); t++)
    if (strcmp(sa_table[t].name, name) == 0) return &sa_table[t];
  return NULL;
}

int sa_variant_available(const sa_variant *v) { return (sa_cpu_features() & v->cpu) == v->cpu; }

int sa_variant_accepts_dtypes(const sa_variant *v, simdattn_dtype q, simdattn_dtype k, simdattn_dtype vt) {
  return (v->dtypes & SA_DT_BIT(q)) && (v->dtypes & SA_DT_BIT(k)) && (v->dtypes & SA_DT_BIT(vt));
}

int sa_variant_accepts(const sa_variant *v, const sa_job *j) {
  return sa_variant_accepts_dtypes(v, j->q_dtype, j->k_dtype, j->v_dtype);
}

int sa_variant_select(const char *const *names, int n, const sa_variant **out, int max) {
  int count = 0;
  for (int t = 0; t < sa_variant_total() && count < max; t++) {
    int pick = n == 0;
    for (int k = 0; k < n; k++) pick |= !strcmp(names[k], sa_table[t].name);
    if (pick) out[count++] = &sa_table[t];
  }
  return count;
}

int simdattn_variant_count(void) { return sa_variant_total(); }

simdattn_status simdattn_variant_get(int index, simdattn_variant_info *info) {
  if (!info) return sa_fail(SIMDATTN_ERR_INVALID, "info must not be NULL");
  const sa_variant *v = sa_variant_at(index);
  if (!v) return sa_fail(SIMDATTN_ERR_INVALID, "index must be in [0, %d), got %d", sa_variant_total(), index);
  info->name = v->name;
  info->isa = v->isa;
  info->dtypes = v->dtypes;
  info->available = sa_variant_available(v);
  sa_clear_error();
  return SIMDATTN_OK;
}

const char *simdattn_version(void) { return SIMDATTN_VERSION_STRING; }
