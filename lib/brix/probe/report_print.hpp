#pragma once
// What `brix probe` prints for one node, by --format (util::print): the text sections, the node
// report as JSON, and as YAML the one-node cluster file, so that the YAML output is itself a
// cluster file the planner reads.

#include <brix/probe/node_report.hpp>
#include <brix/util/output.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace brix::probe {

/// report_sections rendered: header block, GPUs, adapters, disks, warnings.
[[nodiscard]] std::string to_text(const NodeReport& report, const util::Style& style);
/// report_to_json.
[[nodiscard]] nlohmann::ordered_json to_json(const NodeReport& report);
/// single_node_cluster.
[[nodiscard]] nlohmann::ordered_json yaml_document(const NodeReport& report);

} // namespace brix::probe
