#pragma once
// Text output of `brix probe`: a header block, then titled sections (GPUs, RDMA adapters,
// disks, warnings). Sections are a list so that later parts (the fabric bench of
// `brix probe --bench`) can append their own section before rendering.

#include <brix/probe/node_report.hpp>
#include <brix/util/output.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace brix::probe {

struct TextSection {
  std::string title; ///< "" for the header block
  std::string body;  ///< lines, each ending in '\n'
};

[[nodiscard]] std::vector<TextSection> report_sections(const NodeReport& report, const util::Style& style);
[[nodiscard]] std::string render_sections(const std::vector<TextSection>& sections, const util::Style& style);

/// `brix probe --matrix`: a node's GPUs and adapters, nvidia-smi topo -m style.
struct TopologyMatrix {
  const NodeReport& node;
};

/// The nvidia-smi topo -m style GPU/NIC matrix with CPU and NUMA affinity and the legends.
[[nodiscard]] std::string to_text(const TopologyMatrix& matrix);
/// The same matrix as a document: devices, rows, cpu_affinity, numa_affinity, nic_legend.
[[nodiscard]] nlohmann::ordered_json to_json(const TopologyMatrix& matrix);

} // namespace brix::probe
