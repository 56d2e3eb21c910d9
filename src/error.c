/* src/error.c: the thread-local message behind simdattn_last_error(). */
#include <stdio.h>

#include "internal.h"

static _Thread_local char sa_message[512];

simdattn_status sa_fail(simdattn_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sa_message, sizeof sa_message, fmt, ap);
  va_end(ap);
  return st;
}

void sa_clear_error(void) { sa_message[0] = '\0'; }

const char *simdattn_last_error(void) { return sa_message; }
