#pragma once
// Where brix finds its bundled files (configs/models, configs/clusters).

#include <filesystem>

namespace brix::util {

/// The running executable (/proc/self/exe); empty when it cannot be read.
[[nodiscard]] std::filesystem::path executable_path();

/// The bundled configuration folder, first match of:
///   1. $BRIX_CONFIG_DIR (taken as given, even when it does not exist: the user asked for it);
///   2. next to the executable: <exe dir>/configs, <exe dir>/../configs, <exe dir>/../share/brix/configs;
///   3. the source tree brix was built from (<source>/configs).
[[nodiscard]] std::filesystem::path config_dir();

} // namespace brix::util
