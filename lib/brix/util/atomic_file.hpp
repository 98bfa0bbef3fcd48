#pragma once
// Writing files so that readers never see half of one: write a temporary beside the target,
// flush it to disk, then rename it over the target.

#include <string>
#include <string_view>

namespace brix::util {

/// Writes `content` to `path` atomically. Failure is an InputError naming the path (the target
/// is the user's choice) and leaves no temporary behind.
void write_file_atomically(const std::string& path, std::string_view content);

/// A unique temporary name beside `path`: "<path>.tmp.<pid>.<counter>".
[[nodiscard]] std::string temporary_name_for(const std::string& path);

} // namespace brix::util
