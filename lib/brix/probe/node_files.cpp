#include <brix/probe/node_files.hpp>

#include <brix/probe/cluster_doc.hpp>
#include <brix/probe/report_json.hpp>
#include <brix/util/atomic_file.hpp>
#include <brix/util/error.hpp>
#include <brix/util/host_name.hpp>
#include <brix/util/output.hpp>
#include <brix/util/strings.hpp>

#include <filesystem>
#include <fmt/format.h>

namespace brix::probe {

std::string expand_node_name(std::string pattern, const std::string& host) {
  for (auto at = pattern.find("%h"); at != std::string::npos; at = pattern.find("%h", at + host.size())) {
    pattern.replace(at, 2, host);
  }
  return pattern;
}

std::string write_node_file(const std::string& directory, const NodeReport& report, util::Format format) {
  if (!util::is_host_name(report.host)) {
    // Blame the file the name came from when it came from one (HostName of a topology file).
    const std::string what = fmt::format("node name '{}' cannot name a file", util::printable(report.host));
    const std::string expected = "a host name: letters, digits, '.', '-' and '_'";
    if (report.host_source == "topology file" && !report.topology_source.empty()) {
      fail_input(report.topology_source, 0, what, expected);
    }
    throw InputError(fmt::format("{} ({})", what, expected));
  }
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    throw InputError(located(directory, 0, fmt::format("cannot create directory ({})", error.message()),
                             "a writable directory for one file per node"));
  }
  if (format == util::Format::json) {
    const auto path = (std::filesystem::path(directory) / (report.host + ".json")).string();
    util::write_file_atomically(path, report_to_json(report).dump(2) + "\n");
    return path;
  }
  const auto path = (std::filesystem::path(directory) / (report.host + ".yaml")).string();
  util::write_file_atomically(path, util::to_yaml(single_node_cluster(report)));
  return path;
}

} // namespace brix::probe
