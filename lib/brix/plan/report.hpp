#pragma once
// Renderings shared by `brix plan` and the planner: model and cluster summaries, the GPU catalog
// and the per-stage memory of one layout, each as a JSON document (for --format json|yaml) and
// as aligned text; the values `brix plan --describe`, `--gpus` and `--memory` print.

#include <brix/cluster/cluster.hpp>
#include <brix/model/model.hpp>
#include <brix/plan/layout.hpp>
#include <brix/plan/memory.hpp>
#include <brix/plan/validate.hpp>
#include <brix/util/output.hpp>

#include <nlohmann/json.hpp>

#include <span>
#include <string>
#include <vector>

namespace brix::plan {

/// `brix plan --describe`: one model at one sequence length.
struct ModelSummary {
  model::ModelSpec model;
  std::int64_t seq_len = 0;
};

/// Parameters by kind (params_total, params_active, params_mtp as integers), layers, attention
/// kind, FLOPs per token (forward, training) at `seq_len`, KV-cache bytes.
[[nodiscard]] nlohmann::ordered_json to_json(const ModelSummary& summary);
[[nodiscard]] std::string to_text(const ModelSummary& summary, const util::Style& style);

[[nodiscard]] nlohmann::ordered_json cluster_summary_json(const cluster::ClusterSpec& cluster);
[[nodiscard]] std::string cluster_summary_text(const cluster::ClusterSpec& cluster,
                                               const util::Style& style);

/// `brix plan --gpus`: the GPUs a cluster file or the shorthand may name.
struct GpuCatalog {
  std::span<const cluster::GpuSpec> gpus;
};

[[nodiscard]] nlohmann::ordered_json to_json(const GpuCatalog& catalog);
[[nodiscard]] std::string to_text(const GpuCatalog& catalog);

/// One pipeline stage placed on the cluster: its GPU and node group.
struct PlacedStage {
  int stage = 0;
  StageSpan span;
  std::string group; ///< node group name ("a+b" when the stage straddles two groups)
  cluster::GpuSpec gpu; ///< the smallest-memory GPU of the stage's groups
  int gpus_per_node = 0;
  int nvlink_domain = 0; ///< the smallest NVLink domain of the stage's groups
  StageMemory memory;
};

/// Per-stage memory of one layout on a cluster. Stages are placed in order on the node groups
/// as listed (stage i on GPUs [i·g, (i+1)·g) with g = tp·dp·cp); a layout smaller than the
/// cluster uses its first GPUs.
struct LayoutMemoryReport {
  Layout layout;
  TrainingShape shape;
  int gpus_used = 0;
  int cluster_gpus = 0;
  std::vector<Problem> problems;      ///< validate()'s, empty when the layout can run
  std::vector<std::string> messages; ///< describe() of each problem
  std::vector<PlacedStage> stages;
  std::int64_t micro_batches = 0;
  double grad_bytes = 4.0;             ///< the gradient buffer's bytes per parameter (grads=)
  double model_state_bytes_total = 0; ///< (14 + grad_bytes) B/param (incl. MTP) over the whole model
  double cluster_memory_bytes = 0;
  [[nodiscard]] bool valid() const { return problems.empty(); }
  [[nodiscard]] bool fits() const;
  /// The stage with the largest total / capacity.
  [[nodiscard]] const PlacedStage* tightest() const;
};

[[nodiscard]] LayoutMemoryReport layout_memory_report(const model::ModelSpec& model,
                                                      const cluster::ClusterSpec& cluster,
                                                      const Layout& layout,
                                                      const TrainingShape& shape,
                                                      const SoftwareProfile& software = {});
[[nodiscard]] nlohmann::ordered_json layout_memory_json(const LayoutMemoryReport& report);
[[nodiscard]] std::string layout_memory_text(const LayoutMemoryReport& report,
                                             const util::Style& style);

/// `brix plan --memory`: the model, the cluster and the per-stage memory of one layout.
struct MemoryReport {
  ModelSummary model;
  cluster::ClusterSpec cluster;
  LayoutMemoryReport memory;
};

/// 0 when the layout fits, 1 when it does not.
[[nodiscard]] int exit_code(const MemoryReport& report);
/// {model, cluster, memory}.
[[nodiscard]] nlohmann::ordered_json to_json(const MemoryReport& report);
[[nodiscard]] std::string to_text(const MemoryReport& report, const util::Style& style);

} // namespace brix::plan
