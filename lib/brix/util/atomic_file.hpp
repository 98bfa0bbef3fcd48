#pragma once
// Writing output files so that nothing half-written is ever seen: write a temporary file next to
// the target, flush it to disk, then rename it over the target.

#include <string>
#include <string_view>

namespace brix::util {

/// Writes `content` to `path` atomically. A directory that is missing or not writable is an
/// InputError naming the path.
void write_file_atomically(const std::string& path, std::string_view content);

} // namespace brix::util
