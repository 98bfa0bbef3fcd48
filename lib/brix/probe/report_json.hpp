#pragma once
// The node report as a JSON/YAML document (`brix probe --format json`, the `topology:` block of
// the YAML cluster file) and back. Keys are documented in man/brix-probe.1; unknown keys are kept
// for later additions (e.g. a `bench` section) and ignored when reading.

#include <brix/probe/node_report.hpp>
#include <brix/util/document.hpp>

#include <nlohmann/json.hpp>

namespace brix::probe {

/// Version of the node report layout, written as `brix_probe`.
inline constexpr int k_report_version = 1;

[[nodiscard]] nlohmann::ordered_json report_to_json(const NodeReport& report);
/// Reads a document written by report_to_json; malformed input is an InputError at its line.
[[nodiscard]] NodeReport report_from_doc(const util::DocNode& node);

/// The nvidia-smi topo -m cell between GPUs: "NV18" when NVLinks join them, else the PCIe class.
[[nodiscard]] std::string gpu_pair_cell(const GpuPair& pair);

} // namespace brix::probe
