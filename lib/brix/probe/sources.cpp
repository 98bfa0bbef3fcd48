#include <brix/probe/sources.hpp>

#include <brix/util/strings.hpp>

#include <fmt/format.h>

namespace brix::probe {

std::string count_of(std::size_t count, std::string_view noun) {
  return fmt::format("{} {}{}", count, noun, count == 1 ? "" : "s");
}

std::string normalize_bus_id(std::string_view bus_id) {
  const std::string text = util::to_lower(util::trim(bus_id));
  // NVML writes an 8-digit domain ("00000000:1b:00.0"); hwloc, sysfs and NCCL use 4 digits.
  const auto colon = text.find(':');
  if (colon != std::string::npos && colon > 4 && text.find_first_not_of('0') >= colon - 4) {
    return text.substr(colon - 4);
  }
  return text;
}

std::string cuda_version_text(int version) {
  if (version <= 0) {
    return "";
  }
  return fmt::format("{}.{}", version / 1000, (version % 1000) / 10);
}

std::string nccl_version_text(int code) {
  if (code <= 0) {
    return "";
  }
  // NCCL_VERSION(X,Y,Z): X*1000+Y*100+Z up to 2.8, X*10000+Y*100+Z from 2.9 on (nccl.h).
  if (code < 10000) {
    return fmt::format("{}.{}.{}", code / 1000, (code % 1000) / 100, code % 100);
  }
  return fmt::format("{}.{}.{}", code / 10000, (code % 10000) / 100, code % 100);
}

} // namespace brix::probe
