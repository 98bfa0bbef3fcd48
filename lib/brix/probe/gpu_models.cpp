#include <brix/probe/gpu_models.hpp>

#include <brix/util/strings.hpp>

#include <array>
#include <cctype>

namespace brix::probe {

namespace {

struct ModelPattern {
  std::string_view needle;  ///< matched in the upper-cased model name
  std::string_view exclude; ///< a second word that must not appear ("" = none)
  GpuModelInfo info;
};

// Most specific first: "H100 PCIE" before "H100", "A100 … 40GB" before "A100".
constexpr std::array<ModelPattern, 12> k_patterns{{
    {"H100 PCIE", "", {"h100-pcie", "9.0", 0, 0}},
    {"H100", "", {"h100-sxm", "9.0", 4, 18}},
    {"H800", "", {"h800-sxm", "9.0", 4, 8}},
    {"H200", "", {"h200-sxm", "9.0", 4, 18}},
    {"H20", "", {"h20", "9.0", 4, 18}},
    {"B200", "", {"b200", "10.0", 5, 18}},
    {"L40S", "", {"l40s", "8.9", 0, 0}},
    {"A100-PCIE", "", {"a100-pcie", "8.0", 0, 0}},
    {"A100 PCIE", "", {"a100-pcie", "8.0", 0, 0}},
    {"A100", "40GB", {"a100-sxm-80gb", "8.0", 3, 12}},
    {"A100", "", {"a100-sxm-40gb", "8.0", 3, 12}},
    {"MI300X", "", {"mi300x", "9.4", 0, 0}},
}};

std::string upper(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

} // namespace

std::optional<GpuModelInfo> gpu_model_info(std::string_view model) {
  const std::string name = upper(model);
  for (const auto& pattern : k_patterns) {
    if (name.find(pattern.needle) == std::string::npos) {
      continue;
    }
    if (!pattern.exclude.empty() && name.find(pattern.exclude) != std::string::npos) {
      continue;
    }
    // "H20" must not match "H200"; the H200 row comes first, this guards the H20 row.
    if (pattern.needle == "H20" && name.find("H200") != std::string::npos) {
      continue;
    }
    return pattern.info;
  }
  return std::nullopt;
}

double nvlink_link_gb_per_s(int version) {
  if (version <= 0) {
    return 0.0;
  }
  if (version == 1) {
    return 40.0;
  }
  return version >= 5 ? 100.0 : 50.0;
}

std::string fallback_gpu_id(std::string_view model) {
  std::string id;
  for (char c : util::to_lower(model)) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
      id += c;
    } else if (!id.empty() && id.back() != '-') {
      id += '-';
    }
  }
  while (!id.empty() && id.back() == '-') {
    id.pop_back();
  }
  if (util::starts_with(id, "nvidia-")) {
    id = id.substr(7);
  }
  return id.empty() ? "unknown-gpu" : id;
}

} // namespace brix::probe
