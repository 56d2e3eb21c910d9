/* tests/check.h: minimal test assertions that work with NDEBUG (never assert()). */
#ifndef SA_TESTS_CHECK_H
#define SA_TESTS_CHECK_H
#include <stdio.h>

static int check_failures;
static int check_count;
#define CHECK(cond, ...)                                                      \
  do {                                                                        \
    check_count++;                                                            \
    if (!(cond)) {                                                            \
      check_failures++;                                                       \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                           \
      fputc('\n', stderr);                                                    \
    }                                                                         \
  } while (0)
static inline int check_report(const char *name) {
  printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
  return check_failures ? 1 : 0;
}
#endif
