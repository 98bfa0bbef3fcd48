// Opening libnvidia-ml and looking up its entry points by name (nvml.h's symbol names).
#include <brix/nvml/nvml.hpp>

#include <array>
#include <cstdlib>
#include <fmt/format.h>
#include <utility>

namespace brix::nvml {

namespace {

template <typename Function>
void bind(const util::DynamicLibrary& library, const char* symbol, Function& target) {
  target = library.symbol<Function>(symbol);
}

Api bind_all(const util::DynamicLibrary& library) {
  Api api;
  bind(library, "nvmlInit_v2", api.init);
  bind(library, "nvmlShutdown", api.shutdown);
  bind(library, "nvmlErrorString", api.error_string);
  bind(library, "nvmlSystemGetDriverVersion", api.driver_version);
  bind(library, "nvmlSystemGetCudaDriverVersion_v2", api.cuda_driver_version);
  bind(library, "nvmlDeviceGetCount_v2", api.device_count);
  bind(library, "nvmlDeviceGetHandleByIndex_v2", api.device_by_index);
  bind(library, "nvmlDeviceGetPciInfo_v3", api.pci_info);
  bind(library, "nvmlDeviceGetName", api.name);
  bind(library, "nvmlDeviceGetUUID", api.uuid);
  bind(library, "nvmlDeviceGetSerial", api.serial);
  bind(library, "nvmlDeviceGetMemoryInfo", api.memory);
  bind(library, "nvmlDeviceGetUtilizationRates", api.utilization);
  bind(library, "nvmlDeviceGetTemperature", api.temperature);
  bind(library, "nvmlDeviceGetPowerUsage", api.power);
  bind(library, "nvmlDeviceGetCurrPcieLinkGeneration", api.pcie_generation);
  bind(library, "nvmlDeviceGetCurrPcieLinkWidth", api.pcie_width);
  bind(library, "nvmlDeviceGetMaxPcieLinkGeneration", api.pcie_max_generation);
  bind(library, "nvmlDeviceGetMaxPcieLinkWidth", api.pcie_max_width);
  bind(library, "nvmlDeviceGetCudaComputeCapability", api.compute_capability);
  bind(library, "nvmlDeviceGetNvLinkState", api.nvlink_state);
  bind(library, "nvmlDeviceGetNvLinkVersion", api.nvlink_version);
  bind(library, "nvmlDeviceGetNvLinkRemotePciInfo_v2", api.nvlink_remote_pci);
  bind(library, "nvmlDeviceGetNvLinkRemoteDeviceType", api.nvlink_remote_type);
  bind(library, "nvmlEventSetCreate", api.event_set_create);
  bind(library, "nvmlDeviceRegisterEvents", api.register_events);
  bind(library, "nvmlEventSetWait_v2", api.event_set_wait);
  bind(library, "nvmlEventSetFree", api.event_set_free);
  return api;
}

/// NVML's texts (names, UUIDs, versions) fit in 96 bytes (NVML_DEVICE_UUID_V2_BUFFER_SIZE is 96).
using TextBuffer = std::array<char, 96>;

} // namespace

Library::Library(util::DynamicLibrary library) : m_library(std::move(library)), m_api(bind_all(m_library)) {}

std::optional<Library> Library::open(std::string* error) {
  const char* chosen = std::getenv("BRIX_NVML_LIBRARY");
  auto library = util::DynamicLibrary::open_first(
      {chosen != nullptr ? chosen : "", "libnvidia-ml.so.1", "libnvidia-ml.so"}, error);
  if (!library) {
    return std::nullopt;
  }
  return Library(std::move(*library));
}

std::string Library::error_text(Return code) const {
  if (m_api.error_string != nullptr) {
    return m_api.error_string(code);
  }
  return fmt::format("NVML error {}", code);
}

std::string text(Return (*function)(char*, unsigned)) {
  TextBuffer buffer{};
  return succeeds(function, buffer.data(), static_cast<unsigned>(buffer.size())) ? buffer.data() : "";
}

std::string text(Return (*function)(Device, char*, unsigned), Device device) {
  TextBuffer buffer{};
  return succeeds(function, device, buffer.data(), static_cast<unsigned>(buffer.size())) ? buffer.data() : "";
}

} // namespace brix::nvml
