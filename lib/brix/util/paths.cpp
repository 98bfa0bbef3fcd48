#include <brix/util/paths.hpp>

#include <brix/build_config.hpp>

#include <cstdlib>
#include <system_error>

namespace brix::util {

std::filesystem::path executable_path() {
  std::error_code error;
  auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::filesystem::path() : path;
}

std::filesystem::path config_dir() {
  if (const char* env = std::getenv("BRIX_CONFIG_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code error;
  if (const auto exe = executable_path(); !exe.empty()) {
    const auto dir = exe.parent_path();
    for (const auto& candidate :
         {dir / "configs", dir / ".." / "configs", dir / ".." / "share" / "brix" / "configs"}) {
      if (std::filesystem::is_directory(candidate / "models", error)) {
        return candidate.lexically_normal();
      }
    }
  }
  return std::filesystem::path(BRIX_SOURCE_DIR) / "configs";
}

} // namespace brix::util
