// `brix probe merge`: files in, node groups and drift out, the cluster file written.
#include <brix/probe/merge_run.hpp>

#include <brix/util/atomic_file.hpp>

#include <fmt/format.h>

namespace brix::probe {

MergeReport run_merge(const MergeRequest& request) {
  std::vector<NodeReport> reports;
  for (auto& file : read_probe_files(request.inputs)) {
    reports.push_back(std::move(file.report));
  }
  MergeReport report{merge_reports(reports, request.cluster_name), {}};
  if (!request.output.empty()) {
    util::write_file_atomically(request.output, util::to_yaml(report.merge.cluster));
    report.written = request.output;
  }
  return report;
}

nlohmann::ordered_json to_json(const MergeReport& report) { return merge_to_json(report.merge); }

std::string to_text(const MergeReport& report, const util::Style& style) {
  auto text = merge_to_text(report.merge, style);
  if (!report.written.empty()) {
    text += fmt::format("wrote {}\n", report.written);
  }
  return text;
}

} // namespace brix::probe
