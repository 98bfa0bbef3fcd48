#pragma once
// Reading the process environment through a function, so that code which reads variables
// (Slurm's, torchrun's, brix's own) is unit-tested with a map instead of the real environment.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace brix::util {

/// Reads one environment variable; nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

/// getenv(3).
[[nodiscard]] EnvLookup process_environment();

} // namespace brix::util
