#pragma once
// Resolving "a path or a bundled name" the same way for models and clusters.

#include <string>
#include <vector>

namespace brix::util {

/// File stems under <config_dir>/<kind> with one of `extensions` (e.g. {".json", ".yaml"}), sorted.
[[nodiscard]] std::vector<std::string> bundled_names(const std::string& kind,
                                                     const std::vector<std::string>& extensions);

/// `name_or_path` when it names an existing file or looks like a path (with '/' or an extension:
/// the reader then says why it cannot be read); otherwise <config_dir>/<kind>/<name><ext> for
/// the first extension that exists. An unknown name is an InputError with "did you mean" over the
/// bundled names.
/// `what` names the option in messages, e.g. "--model".
[[nodiscard]] std::string resolve_bundled(const std::string& name_or_path, const std::string& kind,
                                          const std::vector<std::string>& extensions,
                                          const std::string& what);

} // namespace brix::util
