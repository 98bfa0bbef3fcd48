// How fast the planner's memory model is: stage_memory and the per-stage peak for DeepSeek-R1,
// against a baseline measured in the same run (count_parameters, one pass over the 61 layers).
#include <brix/cluster/gpu_catalog.hpp>
#include <brix/model/loader.hpp>
#include <brix/model/params.hpp>
#include <brix/plan/memory.hpp>

#include <chrono>
#include <cstdio>

namespace {

template <typename Fn>
double nanoseconds_per_call(int calls, Fn&& fn) {
  const auto start = std::chrono::steady_clock::now();
  double sink = 0;
  for (int i = 0; i < calls; ++i) {
    sink += fn(i);
  }
  const auto elapsed = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start);
  std::printf("  (checksum %.3g)\n", sink);
  return elapsed.count() / calls;
}

} // namespace

int main() {
  using namespace brix;
  const auto model = model::load_model("deepseek-r1");
  const auto& gpu = cluster::find_gpu("h100-sxm");
  plan::Layout layout;
  layout.tp = 8;
  layout.sp = true;
  layout.pp = 8;
  layout.dp = 4;
  layout.ep = 32;
  layout.zero = 1;
  layout.recompute = plan::Recompute::selective;
  const plan::TrainingShape shape{1024, 4096};
  constexpr int k_calls = 200000;

  const double baseline = nanoseconds_per_call(k_calls, [&](int i) {
    auto copy = model;
    copy.layers = 61 + (i & 1); // defeat hoisting
    return static_cast<double>(model::count_parameters(copy).total);
  });
  const double stage = nanoseconds_per_call(k_calls, [&](int i) {
    const int s = i % layout.pp;
    return plan::stage_memory(model, gpu, layout, shape, s, plan::uniform_stage(model, layout.pp, s)).total;
  });
  const double peak = nanoseconds_per_call(k_calls / 8, [&](int i) {
    plan::Layout varied = layout;
    varied.micro_batch = 1 + (i & 1);
    return plan::peak_stage_memory(model, gpu, varied, shape).memory.total;
  });
  std::printf("count_parameters (baseline, copies the model): %8.0f ns\n", baseline);
  std::printf("stage_memory:                                  %8.0f ns  (%.2f× baseline)\n", stage, stage / baseline);
  std::printf("peak_stage_memory (pp=8):                      %8.0f ns  (%.2f× baseline)\n", peak, peak / baseline);
  return 0;
}
