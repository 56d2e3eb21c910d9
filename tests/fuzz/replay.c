/* tests/fuzz/replay.c: runs fuzz inputs without libFuzzer (any compiler, sanitizer and emulator
 * builds): `replay FILE_OR_DIR...` feeds every file to LLVMFuzzerTestOneInput once, in name
 * order; a failing input aborts, as under libFuzzer. ctest replays the committed corpora. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long n_inputs;

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  const long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
  const size_t got = n > 0 ? fread(buf, 1, (size_t)n, f) : 0;
  fclose(f);
  LLVMFuzzerTestOneInput(buf, got);
  free(buf);
  n_inputs++;
  return 0;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
  int status = 0;
  for (int a = 1; a < argc; a++) {
    struct stat st;
    if (stat(argv[a], &st) != 0) {
      fprintf(stderr, "replay: no such file or directory: %s\n", argv[a]);
      return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
      status |= run_file(argv[a]);
      continue;
    }
    DIR *d = opendir(argv[a]);
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
      if (e->d_name[0] == '.') continue;
      names = realloc(names, (n + 1) * sizeof *names);
      names[n] = malloc(strlen(argv[a]) + strlen(e->d_name) + 2);
      sprintf(names[n++], "%s/%s", argv[a], e->d_name);
    }
    if (d) closedir(d);
    qsort(names, n, sizeof *names, cmp);
    for (size_t t = 0; t < n; t++) {
      status |= run_file(names[t]);
      free(names[t]);
    }
    free(names);
  }
  printf("replay: %ld inputs, no failure\n", n_inputs);
  return status;
}
