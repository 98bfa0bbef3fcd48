#pragma once
// Layout search: every valid combination of TP, PP, DP, EP, expert-TP, CP, sequence
// parallelism, micro-batch, virtual stages, schedule, recomputation, ZeRO stage and gradient
// compression, ranked by predicted step time. Families that cannot run are counted under the
// reason they fail; bounds prune layouts that cannot enter the top K (also counted).

#include <brix/cluster/cluster.hpp>
#include <brix/model/model.hpp>
#include <brix/plan/layout.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/plan/physics.hpp>
#include <brix/plan/step_time.hpp>
#include <brix/plan/validate.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace brix::plan {

struct SearchOptions {
  TrainingShape shape;            ///< global_batch must be > 0
  Precision precision = Precision::bf16;
  SoftwareProfile software = software_modern();
  LayoutQuery fixed;
  int top_k = 5;
  int threads = 1;
  bool bound_pruning = true; ///< off: cost every valid layout (the benchmark's baseline)
  /// Rank plans on the stage split the partition DP chooses (the split `brix plan` runs with)
  /// instead of Megatron's uniform one. Off for checks against published runs, which used the
  /// uniform split.
  bool balance_stages = false;
  /// Called from the searching threads with the fraction done; may be empty.
  std::function<void(double)> progress;
};

/// Puts what `options.fixed` states about the software (flash=, grads=) into `options.software`:
/// `brix plan --layout` and a calibration row's layout cost those fields the same way.
void apply_layout_software(SearchOptions& options);

/// Memory of the worst pipeline stage, bytes per GPU.
struct MemoryEstimate {
  double weights = 0, grads = 0, optimizer = 0, activations = 0, other = 0, total = 0;
  int stage = 0;
};

struct PlanEstimate {
  Layout layout;
  StepEstimate step;
  MemoryEstimate memory;
  double tokens_per_s = 0;
  double tflops_per_gpu = 0; ///< executed FLOPs (recompute included) per GPU per second
  double mfu = 0;            ///< model FLOPs (no recompute) / peak
  double hfu = 0;            ///< executed FLOPs / peak
  double uniform_step_s = 0; ///< the step with Megatron's uniform split
  /// First decoder layer of each stage when the plan runs the partition DP's split; empty when
  /// it runs the uniform one.
  std::vector<int> split;
};

struct RejectionGroup {
  std::string reason;
  std::int64_t count = 0;
  ProblemKind kind = ProblemKind::bad_size; ///< the rule the layouts break
};

struct SearchResult {
  std::vector<PlanEstimate> plans;      ///< best first, at most top_k
  std::vector<RejectionGroup> rejected; ///< largest group first
  std::int64_t evaluated = 0;           ///< layouts considered (valid or not)
  std::int64_t valid = 0;               ///< layouts that fit and were costed
  std::int64_t balanced = 0;            ///< plans whose stage split the DP rebalanced
  /// DP × micro-batch of the layout families rejected because the global batch is not a multiple
  /// of it (checked after the structural rules), ascending: the batches that would let them run.
  std::vector<std::int64_t> batch_units;
  double seconds = 0;
  int gpus = 0;
  std::string device;                   ///< GPU model the plan was costed on
};

/// Searches the layouts of `model` on `cluster`. A mixed cluster is costed on its slowest,
/// smallest GPU (a conservative bound; the stage-assignment planner does better).
[[nodiscard]] SearchResult search_layouts(const model::ModelSpec& model,
                                          const cluster::ClusterSpec& cluster,
                                          const SearchOptions& options);

/// Evaluates one complete layout, returning every reason it cannot run (empty if it can)
/// and its estimate when the layout is structurally evaluable.
struct LayoutVerdict {
  std::vector<std::string> problems;
  std::optional<PlanEstimate> estimate;
};
[[nodiscard]] LayoutVerdict explain_layout(const model::ModelSpec& model,
                                           const cluster::ClusterSpec& cluster,
                                           const SearchOptions& options, const Layout& layout);

/// The complete layout that explains a `--layout` query no layout of which runs: DP (or else PP)
/// fills the cluster when not given, the other fields not given are 1 / 1F1B / full recompute,
/// except EP, ETP and the ZeRO stage, chosen for the fewest problems, then the least memory.
struct Completion {
  Layout layout;
  std::vector<std::string> filled; ///< "ep=16", … for every field the query did not give
};
[[nodiscard]] Completion closest_completion(const model::ModelSpec& model, const cluster::ClusterSpec& cluster,
                                            const SearchOptions& options, const LayoutQuery& query);

} // namespace brix::plan
