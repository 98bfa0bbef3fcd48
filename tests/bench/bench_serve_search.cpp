// Times the serving search (issue: a serving search on 64 nodes under 1 s): DeepSeek-R1 on
// 64 × 8 H200 with vLLM and with SGLang (aggregated and disaggregated plans, a closed loop of
// 256 requests and an open loop of 20 requests/s), beside a baseline measured in the same run:
// the training planner's search of the same model on the same cluster (plan::search_layouts,
// whose speed README "Search speed" documents), so a loaded machine shows in both.

#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/plan/search.hpp>
#include <brix/serve/search.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace {

using namespace brix;

struct Timing {
  double seconds = 1e30;
  std::int64_t evaluated = 0;
  std::int64_t shapes = 0;
  std::string best;
};

Timing time_serving(const model::ModelSpec& model, const cluster::ClusterSpec& cluster, serve::Engine engine,
                    const serve::Workload& workload) {
  serve::SearchRequest request;
  request.model = &model;
  request.group = cluster.groups.front();
  request.network = cluster.network;
  request.oversubscription = cluster.oversubscription;
  request.engine = &serve::find_engine_version(engine, "");
  request.workload = workload;
  request.weights = serve::WeightPrecision::fp8;
  request.top = 5;
  Timing timing;
  for (int i = 0; i < 3; ++i) { // best of three: the machine is shared
    const auto started = std::chrono::steady_clock::now();
    const auto result = serve::search_serving(request);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (seconds < timing.seconds) {
      timing.seconds = seconds;
      timing.evaluated = result.evaluated;
      timing.shapes = result.shapes;
      timing.best = result.plans.empty() ? "none" : serve::to_string(result.plans.front().layout);
    }
  }
  return timing;
}

double time_training(const model::ModelSpec& model, const cluster::ClusterSpec& cluster) {
  plan::SearchOptions options;
  options.shape = {1024, 4096};
  options.threads = 1;
  options.top_k = 5;
  options.balance_stages = true;
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    best = std::min(best, plan::search_layouts(model, cluster, options).seconds);
  }
  return best;
}

} // namespace

int main() {
  const auto model = model::load_model("deepseek-r1");
  const auto cluster = cluster::shorthand_cluster(64, 8, "h200-sxm", std::nullopt, std::nullopt);
  serve::Workload closed;
  closed.concurrency = 256;
  serve::Workload open;
  open.request_rate = 20;
  std::printf("deepseek-r1 on 64 x 8 H200 (512 GPUs), ISL/OSL 1024/1024, 1 thread\n");
  const double baseline = time_training(model, cluster);
  std::printf("  baseline, training search (plan::search_layouts, seq 4096, batch 1024): %.3f s\n", baseline);
  bool met = true;
  for (const auto engine : {serve::Engine::vllm, serve::Engine::sglang}) {
    for (const auto& [name, workload] : {std::pair{"256 in flight", closed}, std::pair{"20 requests/s", open}}) {
      const auto timing = time_serving(model, cluster, engine, workload);
      met = met && timing.seconds < 1.0;
      std::printf("  serving search, %-6s %-14s: %.3f s (%.1fx the baseline), %lld shapes, %lld operating points "
                  "(target < 1 s: %s)\n    best: %s\n",
                  std::string(serve::to_string(engine)).c_str(), name, timing.seconds, timing.seconds / baseline,
                  static_cast<long long>(timing.shapes), static_cast<long long>(timing.evaluated),
                  timing.seconds < 1.0 ? "met" : "MISSED", timing.best.c_str());
    }
  }
  return met ? 0 : 1;
}
