#pragma once
// The one NVML binding (libnvidia-ml, part of the NVIDIA driver), for the probe and the
// monitor's node collector. Loaded with dlopen, never linked, so the same binary runs on machines
// with and without a driver. Only the entry points brix calls are declared, with the layouts of
// nvml.h (NVML API v11+: the _v2 names exist since CUDA 9 drivers; nvmlPciInfo_t is v3).

#include <brix/util/dynamic_library.hpp>

#include <optional>
#include <string>

namespace brix::nvml {

using Return = int; ///< nvmlReturn_t
constexpr Return k_success = 0;
struct DeviceOpaque;
using Device = DeviceOpaque*; ///< nvmlDevice_t
struct EventSetOpaque;
using EventSet = EventSetOpaque*; ///< nvmlEventSet_t

struct PciInfo {
  char bus_id_legacy[16];
  unsigned domain;
  unsigned bus;
  unsigned device;
  unsigned pci_device_id;
  unsigned pci_subsystem_id;
  char bus_id[32];
};
struct Memory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
struct Utilization {
  unsigned gpu;
  unsigned memory;
};
struct EventData {
  Device device;
  unsigned long long event_type;
  unsigned long long event_data;
  unsigned gpu_instance_id;
  unsigned compute_instance_id;
};

constexpr unsigned k_max_links = 18;               ///< NVML_NVLINK_MAX_LINKS
constexpr int k_remote_switch = 2;                 ///< NVML_NVLINK_DEVICE_TYPE_SWITCH
constexpr int k_temperature_gpu = 0;               ///< NVML_TEMPERATURE_GPU
constexpr unsigned long long k_event_xid_critical = 0x8; ///< nvmlEventTypeXidCriticalError

/// The entry points brix calls; each is null when the loaded library lacks it.
struct Api {
  Return (*init)() = nullptr;     ///< nvmlInit_v2
  Return (*shutdown)() = nullptr; ///< nvmlShutdown
  const char* (*error_string)(Return) = nullptr;
  Return (*driver_version)(char*, unsigned) = nullptr;  ///< nvmlSystemGetDriverVersion
  Return (*cuda_driver_version)(int*) = nullptr;        ///< nvmlSystemGetCudaDriverVersion_v2
  Return (*device_count)(unsigned*) = nullptr;          ///< nvmlDeviceGetCount_v2
  Return (*device_by_index)(unsigned, Device*) = nullptr; ///< nvmlDeviceGetHandleByIndex_v2
  Return (*pci_info)(Device, PciInfo*) = nullptr;       ///< nvmlDeviceGetPciInfo_v3
  Return (*name)(Device, char*, unsigned) = nullptr;
  Return (*uuid)(Device, char*, unsigned) = nullptr;
  Return (*serial)(Device, char*, unsigned) = nullptr;
  Return (*memory)(Device, Memory*) = nullptr;
  Return (*utilization)(Device, Utilization*) = nullptr;
  Return (*temperature)(Device, int, unsigned*) = nullptr;
  Return (*power)(Device, unsigned*) = nullptr; ///< milliwatts
  Return (*pcie_generation)(Device, unsigned*) = nullptr;
  Return (*pcie_width)(Device, unsigned*) = nullptr;
  Return (*pcie_max_generation)(Device, unsigned*) = nullptr;
  Return (*pcie_max_width)(Device, unsigned*) = nullptr;
  Return (*compute_capability)(Device, int*, int*) = nullptr;
  Return (*nvlink_state)(Device, unsigned, int*) = nullptr;
  Return (*nvlink_version)(Device, unsigned, unsigned*) = nullptr;
  Return (*nvlink_remote_pci)(Device, unsigned, PciInfo*) = nullptr; ///< _v2
  Return (*nvlink_remote_type)(Device, unsigned, int*) = nullptr;
  Return (*event_set_create)(EventSet*) = nullptr;
  Return (*register_events)(Device, unsigned long long, EventSet) = nullptr;
  Return (*event_set_wait)(EventSet, EventData*, unsigned) = nullptr; ///< _v2; timeout in ms
  Return (*event_set_free)(EventSet) = nullptr;
};

/// libnvidia-ml opened, with its entry points looked up once.
class Library {
public:
  /// Opens $BRIX_NVML_LIBRARY when set, else libnvidia-ml.so.1, else libnvidia-ml.so; nullopt
  /// when none loads, with the loader's message for the first name tried in `error`.
  [[nodiscard]] static std::optional<Library> open(std::string* error);

  [[nodiscard]] const Api& api() const { return m_api; }
  /// The name it was opened with ("libnvidia-ml.so.1" or $BRIX_NVML_LIBRARY).
  [[nodiscard]] const std::string& name() const { return m_library.name(); }
  /// nvmlErrorString's text, or "NVML error <code>" when the library lacks it.
  [[nodiscard]] std::string error_text(Return code) const;

private:
  explicit Library(util::DynamicLibrary library);
  util::DynamicLibrary m_library; ///< kept open while the entry points are used
  Api m_api;
};

/// The text a `Return f(char*, unsigned)` entry point writes; "" when absent or failing.
[[nodiscard]] std::string text(Return (*function)(char*, unsigned));
/// The text a `Return f(Device, char*, unsigned)` entry point writes; "" when absent or failing.
[[nodiscard]] std::string text(Return (*function)(Device, char*, unsigned), Device device);

/// Whether `function` is present and returns NVML_SUCCESS for `args`.
template <typename... Params, typename... Args>
[[nodiscard]] bool succeeds(Return (*function)(Params...), Args... args) {
  return function != nullptr && function(args...) == k_success;
}

} // namespace brix::nvml
