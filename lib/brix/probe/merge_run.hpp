#pragma once
// `brix probe merge` as a library call: read the probe files, merge them, write the cluster file
// (when asked), and return what to print.

#include <brix/probe/merge.hpp>
#include <brix/util/output.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace brix::probe {

struct MergeRequest {
  std::vector<std::string> inputs; ///< directories of probe files, or probe files
  std::string cluster_name = "probed-cluster";
  std::string output;              ///< -o FILE: the cluster file (YAML), written atomically
};

struct MergeReport {
  MergeResult merge;
  std::string written; ///< the cluster file written, "" when none was asked for
};

[[nodiscard]] MergeReport run_merge(const MergeRequest& request);

/// merge_to_json (the file written is not part of the document).
[[nodiscard]] nlohmann::ordered_json to_json(const MergeReport& report);
/// merge_to_text, then "wrote FILE".
[[nodiscard]] std::string to_text(const MergeReport& report, const util::Style& style);

} // namespace brix::probe
