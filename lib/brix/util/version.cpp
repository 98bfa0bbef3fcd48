#include <brix/util/version.hpp>

#include <brix/build_config.hpp>

#include <fmt/format.h>
#include <hwloc.h>

namespace brix {

std::string version_text() {
  const unsigned hwloc = hwloc_get_api_version();
  std::string text = fmt::format("brix {}\n", BRIX_VERSION);
  text += fmt::format("  hwloc API  {}.{}.{}\n", hwloc >> 16, (hwloc >> 8) & 0xff, hwloc & 0xff);
  text += "  ibverbs    yes\n";
  text += "  gloo       yes\n";
  text += fmt::format("  cuda       {}\n", BRIX_HAVE_CUDA ? "yes (CUDA toolkit found at build time)" : "no (CUDA toolkit not found at build time)");
  text += fmt::format("  nccl       {}\n", BRIX_HAVE_NCCL ? "yes" : "no");
  return text;
}

} // namespace brix
