// harness/gbench_shim.cc: the C API of gbench_shim.h over Google Benchmark 1.7.
#include "gbench_shim.h"

#include <benchmark/benchmark.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

struct gbs_bench {
  std::string name;
  gbs_setup_fn setup;
  gbs_run_fn run;
  void *ctx;
  struct Rate {
    std::string name;
    double per_iter, scale;
  };
  struct Ratio {
    std::string name, of;
    double divisor;
    const double *ref; // when set, read at the end of the row
  };
  std::vector<Rate> rates;
  std::vector<Ratio> ratios;
  std::map<std::string, double> values;
};

static std::vector<std::unique_ptr<gbs_bench>> &all_rows() {
  static std::vector<std::unique_ptr<gbs_bench>> rows;
  return rows;
}

static void run_row(benchmark::State &st, gbs_bench *b) {
  char err[512] = "";
  if (b->setup && b->setup(b->ctx, err, sizeof err) != 0) {
    st.SkipWithError(err);
    while (st.KeepRunningBatch(1)) {
    }
    return;
  }
  double wall = 0.0;
  const benchmark::IterationCount n = st.max_iterations; // one C call per batch
  while (st.KeepRunningBatch(n)) {
    const auto t0 = std::chrono::steady_clock::now();
    double seconds = -1.0;
    const int rc = b->run(b->ctx, static_cast<int64_t>(n), &seconds, err, sizeof err);
    wall += seconds >= 0.0 ? seconds : std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rc != 0) st.SkipWithError(err);
  }
  if (st.error_occurred()) return;
  const double iters = static_cast<double>(st.iterations());
  std::map<std::string, double> rate;
  for (const auto &r : b->rates) {
    rate[r.name] = wall > 0 ? r.per_iter * iters / wall * r.scale : 0.0;
    st.counters[r.name] = rate[r.name];
  }
  for (const auto &r : b->ratios) {
    const double div = r.ref ? *r.ref : r.divisor;
    if (div > 0) st.counters[r.name] = rate[r.of] / div;
  }
  for (const auto &v : b->values) st.counters[v.first] = v.second;
}

extern "C" gbs_bench *gbs_register(const char *name, gbs_setup_fn setup, gbs_run_fn run, void *ctx) {
  all_rows().push_back(std::unique_ptr<gbs_bench>(new gbs_bench{name, setup, run, ctx, {}, {}, {}}));
  gbs_bench *b = all_rows().back().get();
  benchmark::RegisterBenchmark(name, [b](benchmark::State &st) { run_row(st, b); })->Unit(benchmark::kMillisecond);
  return b;
}

extern "C" void gbs_rate(gbs_bench *b, const char *name, double per_iter, double scale) {
  b->rates.push_back({name, per_iter, scale});
}

extern "C" void gbs_ratio(gbs_bench *b, const char *name, const char *of, double divisor) {
  b->ratios.push_back({name, of, divisor, nullptr});
}

extern "C" void gbs_ratio_ref(gbs_bench *b, const char *name, const char *of, const double *divisor) {
  b->ratios.push_back({name, of, 0.0, divisor});
}

extern "C" void gbs_value(gbs_bench *b, const char *name, double value) { b->values[name] = value; }

extern "C" void gbs_context(const char *key, const char *value) { benchmark::AddCustomContext(key, value); }

extern "C" int gbs_run(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const size_t ran = benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return ran ? 0 : 2;
}
