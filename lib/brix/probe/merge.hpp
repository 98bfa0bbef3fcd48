#pragma once
// `brix probe merge`: many node reports → node groups of like nodes (same GPU model and CPU), a
// cluster description the planner reads, and the drift report: every node that differs from
// its group's majority, and how (GPU count/model, PCIe width, adapter state/rate/firmware,
// driver/CUDA/NCCL versions, kernel, disk model/firmware, memory).

#include <brix/probe/cluster_doc.hpp>
#include <brix/probe/node_report.hpp>
#include <brix/util/output.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace brix::probe {

/// One node report from a file `brix probe` wrote: a one-node YAML cluster file or a JSON report.
[[nodiscard]] NodeReport read_probe_file(const std::string& path);

struct ProbeFile {
  std::string path;
  NodeReport report;
};
/// Each input is a directory (its *.yaml, *.yml and *.json files) or a file. A host seen twice,
/// an empty directory or an unreadable one is an InputError.
[[nodiscard]] std::vector<ProbeFile> read_probe_files(const std::vector<std::string>& inputs);

/// The properties compared between nodes of a group, in report order: (what, value).
[[nodiscard]] std::vector<std::pair<std::string, std::string>> node_properties(const NodeReport& report);

struct DriftItem {
  std::string host;
  std::string group;
  std::string what;
  std::string value;
  std::string expected; ///< the group's majority
};

struct MergedGroup {
  std::string name;
  std::vector<std::string> hosts;
  std::size_t representative = 0; ///< index into the merged reports
  std::string gpu_model;
  int gpus_per_node = 0;
  ComputeAdapters adapters;
  bool in_cluster = true; ///< false for nodes without GPUs (not a node group the planner can use)
};

struct MergeResult {
  std::vector<MergedGroup> groups;
  std::vector<DriftItem> drift;
  std::vector<std::string> notes;
  nlohmann::ordered_json cluster; ///< the cluster file
  std::size_t nodes = 0;

  [[nodiscard]] std::size_t drifting_nodes() const;
};

/// Memory differing from the group's median by more than this fraction is drift.
inline constexpr double k_memory_tolerance = 0.02;

[[nodiscard]] MergeResult merge_reports(const std::vector<NodeReport>& reports, const std::string& cluster_name);

[[nodiscard]] nlohmann::ordered_json merge_to_json(const MergeResult& result);
[[nodiscard]] std::string merge_to_text(const MergeResult& result, const util::Style& style);

} // namespace brix::probe
