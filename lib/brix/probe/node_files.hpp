#pragma once
// Where per-node output goes when one `brix probe` runs on every node (srun): one file per node,
// named by the node.

#include <brix/probe/node_report.hpp>

#include <string>

namespace brix::probe {

/// Replaces every "%h" in `pattern` with the node name.
[[nodiscard]] std::string expand_node_name(std::string pattern, const std::string& host);

/// Writes DIR/<host>.yaml (the one-node cluster file) atomically, creating DIR; returns the path.
/// A host name that cannot be a file name, or a directory that cannot be made, is an InputError.
std::string write_node_file(const std::string& directory, const NodeReport& report);

} // namespace brix::probe
