#pragma once
// Nothing half-written: files that others read while the monitor runs (snapshots, *.prom for
// node_exporter, the suspect list, the token) are written to a temporary name and renamed.

#include <string>
#include <string_view>

namespace brix::monitor {

/// Writes `text` to `path` atomically with permissions `mode`; throws JobError on failure.
void write_file_atomically(const std::string& path, std::string_view text, unsigned mode = 0644);

} // namespace brix::monitor
