#include <brix/util/bundled.hpp>

#include <brix/util/error.hpp>
#include <brix/util/paths.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>

namespace brix::util {

namespace fs = std::filesystem;

std::vector<std::string> bundled_names(const std::string& kind,
                                       const std::vector<std::string>& extensions) {
  std::vector<std::string> names;
  std::error_code error;
  const fs::path dir = config_dir() / kind;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    const auto ext = it->path().extension().string();
    if (std::find(extensions.begin(), extensions.end(), ext) != extensions.end()) {
      names.push_back(it->path().stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::string resolve_bundled(const std::string& name_or_path, const std::string& kind,
                            const std::vector<std::string>& extensions, const std::string& what) {
  std::error_code error;
  if (name_or_path.empty()) {
    throw InputError(fmt::format("{}: empty name (expected a bundled name or a file)", what));
  }
  if (fs::is_regular_file(name_or_path, error)) {
    return name_or_path;
  }
  const bool path_like = name_or_path.find('/') != std::string::npos ||
                         std::any_of(extensions.begin(), extensions.end(), [&](const auto& ext) {
                           return name_or_path.size() > ext.size() &&
                                  name_or_path.ends_with(ext);
                         });
  if (path_like) {
    // A path: whoever reads it says why it cannot be read (missing, a FIFO, a directory...).
    return name_or_path;
  }
  const fs::path dir = config_dir() / kind;
  for (const auto& ext : extensions) {
    const fs::path candidate = dir / (name_or_path + ext);
    if (fs::is_regular_file(candidate, error)) {
      return candidate.string();
    }
  }
  const auto names = bundled_names(kind, extensions);
  throw InputError(fmt::format("{}: unknown {} '{}'{} (expected a file or one of: {}; bundled in {})",
                               what, kind == "models" ? "model" : "cluster", name_or_path,
                               did_you_mean(name_or_path, names), fmt::join(names, ", "),
                               dir.string()));
}

} // namespace brix::util
