// The three renderings of a node report that `brix probe --format` chooses between.
#include <brix/probe/report_print.hpp>

#include <brix/probe/cluster_doc.hpp>
#include <brix/probe/report_json.hpp>
#include <brix/probe/report_text.hpp>

namespace brix::probe {

std::string to_text(const NodeReport& report, const util::Style& style) {
  return render_sections(report_sections(report, style), style);
}

nlohmann::ordered_json to_json(const NodeReport& report) { return report_to_json(report); }

nlohmann::ordered_json yaml_document(const NodeReport& report) { return single_node_cluster(report); }

} // namespace brix::probe
