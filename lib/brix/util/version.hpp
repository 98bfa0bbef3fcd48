#pragma once
#include <string>

namespace brix {
/// "brix 0.1.0" plus one line per optional part: built or not, and library versions.
[[nodiscard]] std::string version_text();
} // namespace brix
