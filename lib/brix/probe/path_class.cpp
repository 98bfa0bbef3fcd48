#include <brix/probe/path_class.hpp>

#include <array>

namespace brix::probe {

namespace {
constexpr std::array<std::string_view, 5> k_names{"PIX", "PXB", "PHB", "NODE", "SYS"};
} // namespace

std::string_view path_class_name(PathClass path) { return k_names[static_cast<int>(path)]; }

std::optional<PathClass> parse_path_class(std::string_view name) {
  for (std::size_t i = 0; i < k_names.size(); ++i) {
    if (k_names[i] == name) {
      return static_cast<PathClass>(i);
    }
  }
  return std::nullopt;
}

int path_class_rank(PathClass path) { return static_cast<int>(path); }

} // namespace brix::probe
