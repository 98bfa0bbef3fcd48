#pragma once
// Where per-node output goes when one `brix probe` runs on every node (srun): one file per node,
// named by the node.

#include <brix/probe/node_report.hpp>
#include <brix/util/output.hpp>

#include <string>

namespace brix::probe {

/// Replaces every "%h" in `pattern` with the node name.
[[nodiscard]] std::string expand_node_name(std::string pattern, const std::string& host);

/// Writes what `brix probe --format FORMAT` prints into DIR/<host>.<ext>, atomically, creating
/// DIR; returns the path. Text and YAML write <host>.yaml (the one-node cluster file), JSON writes
/// <host>.json (the node report); `brix probe merge` reads both. A host name that cannot be a
/// file name, or a directory that cannot be made, is an InputError.
std::string write_node_file(const std::string& directory, const NodeReport& report,
                            util::Format format = util::Format::yaml);

} // namespace brix::probe
