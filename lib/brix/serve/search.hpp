#pragma once
// The serving search on one homogeneous node group: every instance shape (TP, PP, attention DP,
// EP, ETP) that can run, every instance count, and for disaggregated plans every P:D pairing
// whose rates match; ranked by output tokens/s per GPU among plans meeting the SLOs, with the
// Pareto front of tokens/s per GPU against tokens/s per user.

#include <brix/cluster/cluster.hpp>
#include <brix/model/model.hpp>
#include <brix/serve/engines.hpp>
#include <brix/serve/layout.hpp>
#include <brix/serve/performance.hpp>
#include <brix/serve/rules.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace brix::serve {

/// One costed plan.
struct ServePlan {
  ServeLayout layout;
  RoleEstimate both;    ///< aggregated
  RoleEstimate prefill; ///< disaggregated
  RoleEstimate decode;  ///< disaggregated
  Performance performance;
  bool meets_slo = false;
  double output_tokens_per_s_per_gpu = 0;

  /// The role that decodes (its KV cache bounds concurrency).
  [[nodiscard]] const RoleEstimate& decoding() const { return layout.mode == Mode::aggregated ? both : decode; }
};

/// Whether `a` ranks before `b`: meeting the SLOs first, then keeping up with the arrivals (among
/// overloaded plans, the one that keeps up with more), then output tokens/s per GPU, then fewer
/// GPUs, then lower TTFT.
[[nodiscard]] bool ranks_before(const ServePlan& a, const ServePlan& b);

/// Layouts rejected for one rule, with one example.
struct RejectionGroup {
  std::string rule;
  std::int64_t count = 0;
  std::string example; ///< the layout and its detail
};

struct SearchRequest {
  const model::ModelSpec* model = nullptr;
  cluster::NodeGroup group;
  cluster::NetworkShape network = cluster::NetworkShape::rail_optimized;
  double oversubscription = 1.0;
  const EngineVersion* engine = nullptr;
  Workload workload;
  LayoutQuery fixed;                       ///< --layout
  WeightPrecision weights = WeightPrecision::bf16;
  KvPrecision kv = KvPrecision::bf16;
  int mtp = 0;
  int top = 5;
};

struct SearchResult {
  std::vector<ServePlan> plans;   ///< best first, at most `top`
  std::vector<ServePlan> pareto;  ///< the front, most tokens/s per user first
  std::vector<RejectionGroup> rejected; ///< largest first
  std::int64_t evaluated = 0;     ///< operating points costed
  std::int64_t shapes = 0;        ///< instance shapes considered
  std::int64_t meeting_slo = 0;
  double seconds = 0;
};

/// Searches `request.group`. Settings the GPU or engine cannot run (weights=fp8 on an A100, MTP
/// without MTP layers) are InputErrors; so is a --layout none of whose completions can run at
/// all (the error says why); layouts that run out of memory are counted in `rejected`.
[[nodiscard]] SearchResult search_serving(const SearchRequest& request);

/// Evaluates one complete layout (what calibration does with a published deployment): its
/// plan, or the reasons it cannot run.
struct Evaluation {
  std::optional<ServePlan> plan;
  std::vector<std::string> problems;
};
[[nodiscard]] Evaluation evaluate_layout(const SearchRequest& request, const ServeLayout& layout);

} // namespace brix::serve
