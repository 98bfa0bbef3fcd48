#pragma once
// The fabric result file (`brix-worker fabric --out`, read by `brix probe --bench --results`)
// and the report printed from it: measurements, findings, and a text table.

#include <brix/probe/fabric_analysis.hpp>
#include <brix/util/document.hpp>
#include <brix/util/output.hpp>

#include <nlohmann/json.hpp>
#include <string>

namespace brix::probe {

/// `{"brix_fabric": 1, ...}`: the measurements and, computed with `findings`, each link's ratio
/// and verdict, the slow nodes and `healthy`. Reading it back takes the measurements only.
[[nodiscard]] nlohmann::ordered_json fabric_document(const FabricResult& result,
                                                     const FabricFindings& findings);

/// Reads the measurements of a fabric document; bad content is an InputError at its line.
[[nodiscard]] FabricResult read_fabric_result(const util::DocNode& document);

/// Links with their bandwidth, latency and verdict, the all-reduce reference, then the verdict:
/// slow nodes named with advice, or "fabric healthy".
[[nodiscard]] std::string fabric_text(const FabricResult& result, const FabricFindings& findings,
                                      const util::Style& style);

/// What `brix probe --bench` prints: the measurements judged by analyse_fabric.
struct FabricReport {
  FabricResult result;
  FabricFindings findings;
};
/// 0 when every link and node is healthy and every all-reduce came out right, else 1.
[[nodiscard]] int exit_code(const FabricReport& report);
/// fabric_document.
[[nodiscard]] nlohmann::ordered_json to_json(const FabricReport& report);
/// fabric_text.
[[nodiscard]] std::string to_text(const FabricReport& report, const util::Style& style);

} // namespace brix::probe
