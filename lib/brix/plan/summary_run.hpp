#pragma once
// `brix plan --describe` and `brix plan --memory` as library calls: load the inputs, check
// them, return the report value (report.hpp renders it).

#include <brix/cluster/loader.hpp>
#include <brix/plan/report.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace brix::plan {

/// The layout --memory shows when --layout is not given: TP 8 × PP 4 × DP 2, the layout the
/// example deployment comes with (configs/clusters/example-deployment.yaml).
inline constexpr const char* k_default_memory_layout = "tp=8,pp=4,dp=2";

/// The model (bundled name or file) at `seq_len`, by default its own.
[[nodiscard]] ModelSummary describe_model(const std::string& model, std::optional<std::int64_t> seq_len);

struct MemoryRequest {
  std::string model;
  cluster::ClusterChoice cluster;           ///< empty: k_default_cluster
  std::string layout;                       ///< empty: k_default_memory_layout
  std::optional<std::int64_t> seq_len;      ///< default: the model's
  std::optional<std::int64_t> global_batch; ///< default: propose_global_batch
};

/// The per-stage memory of exactly one layout; InputError naming --layout when the layout is
/// invalid on the cluster.
[[nodiscard]] MemoryReport memory_report(const MemoryRequest& request);

} // namespace brix::plan
