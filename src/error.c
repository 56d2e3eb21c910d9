/* src/error.c: the thread-local message behind simdattn_last_error(). */
#include <stdatomic.h>
#include <stdio.h>

#include "internal.h"

static _Thread_local char sa_message[512];
/* set once any thread has recorded a message: until then every thread's message is "" and a
 * successful call need not touch its thread-local storage (a __tls_get_addr call from a shared
 * library, per call) */
static atomic_int sa_any_message;

simdattn_status sa_fail(simdattn_status st, const char *fmt, ...) {
  atomic_store_explicit(&sa_any_message, 1, memory_order_relaxed);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sa_message, sizeof sa_message, fmt, ap);
  va_end(ap);
  return st;
}

void sa_clear_error(void) {
  if (atomic_load_explicit(&sa_any_message, memory_order_relaxed)) sa_message[0] = '\0';
}

const char *simdattn_last_error(void) { return sa_message; }
