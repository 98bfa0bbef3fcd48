// NVML through dlopen: brix never links the driver, so the same binary runs on machines with
// and without GPUs. Only the few entry points used here are declared, with the layouts of
// nvml.h (NVML API v11+; the _v2 names have existed since CUDA 9 drivers).
#include <brix/monitor/gpu_stats.hpp>

#include <brix/util/dynamic_library.hpp>

#include <fmt/format.h>

namespace brix::monitor {

namespace {

using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
using nvmlEventSet_t = struct nvmlEventSet_st*;
struct nvmlUtilization_t {
  unsigned int gpu;
  unsigned int memory;
};
struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
struct nvmlEventData_t {
  nvmlDevice_t device;
  unsigned long long eventType;
  unsigned long long eventData;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};
constexpr nvmlReturn_t k_success = 0;
constexpr unsigned long long k_event_xid_critical = 0x8;
constexpr int k_temperature_gpu = 0;

struct NvmlApi {
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  const char* (*error_string)(nvmlReturn_t) = nullptr;
  nvmlReturn_t (*device_count)(unsigned int*) = nullptr;
  nvmlReturn_t (*device_by_index)(unsigned int, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*uuid)(nvmlDevice_t, char*, unsigned int) = nullptr;
  nvmlReturn_t (*name)(nvmlDevice_t, char*, unsigned int) = nullptr;
  nvmlReturn_t (*utilization)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*temperature)(nvmlDevice_t, int, unsigned int*) = nullptr;
  nvmlReturn_t (*power)(nvmlDevice_t, unsigned int*) = nullptr;
  nvmlReturn_t (*event_set_create)(nvmlEventSet_t*) = nullptr;
  nvmlReturn_t (*register_events)(nvmlDevice_t, unsigned long long, nvmlEventSet_t) = nullptr;
  nvmlReturn_t (*event_set_wait)(nvmlEventSet_t, nvmlEventData_t*, unsigned int) = nullptr;
  nvmlReturn_t (*event_set_free)(nvmlEventSet_t) = nullptr;
};

template <typename F>
bool bind(const util::DynamicLibrary& library, const char* symbol, F& target) {
  target = library.symbol<F>(symbol);
  return target != nullptr;
}

class UnavailableGpuSource final : public GpuSource {
public:
  explicit UnavailableGpuSource(std::string reason) : m_reason(std::move(reason)) {}
  GpuReadout read() override { return GpuReadout{false, m_reason, {}}; }

private:
  std::string m_reason;
};

class NvmlGpuSource final : public GpuSource {
public:
  NvmlGpuSource(util::DynamicLibrary library, NvmlApi api, std::vector<nvmlDevice_t> devices)
      : m_library(std::move(library)), m_api(api), m_devices(std::move(devices)), m_xid_count(m_devices.size(), 0),
        m_last_xid(m_devices.size()) {
    // XID events are optional (not supported on every board or without privileges).
    if (m_api.event_set_create && m_api.register_events && m_api.event_set_wait &&
        m_api.event_set_create(&m_events) == k_success) {
      for (auto* device : m_devices) {
        (void)m_api.register_events(device, k_event_xid_critical, m_events);
      }
    }
  }
  ~NvmlGpuSource() override {
    if (m_events != nullptr && m_api.event_set_free) {
      m_api.event_set_free(m_events);
    }
    m_api.shutdown();
  }

  GpuReadout read() override {
    drain_xid_events();
    GpuReadout readout{true, {}, {}};
    for (std::size_t i = 0; i < m_devices.size(); ++i) {
      auto* device = m_devices[i];
      GpuFigures gpu;
      gpu.index = static_cast<int>(i);
      char text[96] = {};
      if (m_api.uuid(device, text, sizeof(text)) == k_success) {
        gpu.uuid = text;
      }
      if (m_api.name && m_api.name(device, text, sizeof(text)) == k_success) {
        gpu.name = text;
      }
      nvmlUtilization_t utilization{};
      if (m_api.utilization(device, &utilization) == k_success) {
        gpu.utilization_percent = utilization.gpu;
      }
      nvmlMemory_t memory{};
      if (m_api.memory(device, &memory) == k_success) {
        gpu.memory_used_mib = static_cast<double>(memory.used) / (1024.0 * 1024.0);
        gpu.memory_free_mib = static_cast<double>(memory.free) / (1024.0 * 1024.0);
      }
      unsigned int value = 0;
      if (m_api.temperature(device, k_temperature_gpu, &value) == k_success) {
        gpu.temperature_c = value;
      }
      if (m_api.power(device, &value) == k_success) {
        gpu.power_w = value / 1000.0; // NVML reports milliwatts
      }
      gpu.xid_count = m_xid_count[i];
      gpu.last_xid = m_last_xid[i];
      readout.gpus.push_back(std::move(gpu));
    }
    return readout;
  }

private:
  void drain_xid_events() {
    if (m_events == nullptr) {
      return;
    }
    nvmlEventData_t data{};
    // A zero timeout returns at once (NVML_ERROR_TIMEOUT) when no event is queued.
    for (int bounded = 0; bounded < 1024 && m_api.event_set_wait(m_events, &data, 0) == k_success; ++bounded) {
      for (std::size_t i = 0; i < m_devices.size(); ++i) {
        if (m_devices[i] == data.device && (data.eventType & k_event_xid_critical) != 0) {
          ++m_xid_count[i];
          m_last_xid[i] = data.eventData;
        }
      }
    }
  }

  util::DynamicLibrary m_library; ///< kept open while the entry points are used
  NvmlApi m_api;
  std::vector<nvmlDevice_t> m_devices;
  std::vector<std::uint64_t> m_xid_count;
  std::vector<std::optional<std::uint64_t>> m_last_xid;
  nvmlEventSet_t m_events = nullptr;
};

} // namespace

std::unique_ptr<GpuSource> open_nvml() {
  std::string error;
  auto library = util::DynamicLibrary::open_first({"libnvidia-ml.so.1"}, &error);
  if (!library) {
    return std::make_unique<UnavailableGpuSource>(
        fmt::format("NVML not available (no NVIDIA driver): {}", error));
  }
  NvmlApi api;
  const auto& lib = *library;
  const bool complete = bind(lib, "nvmlInit_v2", api.init) && bind(lib, "nvmlShutdown", api.shutdown) &&
                        bind(lib, "nvmlErrorString", api.error_string) &&
                        bind(lib, "nvmlDeviceGetCount_v2", api.device_count) &&
                        bind(lib, "nvmlDeviceGetHandleByIndex_v2", api.device_by_index) &&
                        bind(lib, "nvmlDeviceGetUUID", api.uuid) &&
                        bind(lib, "nvmlDeviceGetUtilizationRates", api.utilization) &&
                        bind(lib, "nvmlDeviceGetMemoryInfo", api.memory) &&
                        bind(lib, "nvmlDeviceGetTemperature", api.temperature) &&
                        bind(lib, "nvmlDeviceGetPowerUsage", api.power);
  if (!complete) {
    return std::make_unique<UnavailableGpuSource>("NVML not available: libnvidia-ml.so.1 lacks a required symbol");
  }
  (void)bind(lib, "nvmlDeviceGetName", api.name);
  (void)bind(lib, "nvmlEventSetCreate", api.event_set_create);
  (void)bind(lib, "nvmlDeviceRegisterEvents", api.register_events);
  (void)bind(lib, "nvmlEventSetWait_v2", api.event_set_wait);
  (void)bind(lib, "nvmlEventSetFree", api.event_set_free);
  if (const auto status = api.init(); status != k_success) {
    return std::make_unique<UnavailableGpuSource>(
        fmt::format("NVML not available: nvmlInit failed: {}", api.error_string(status)));
  }
  unsigned int count = 0;
  std::vector<nvmlDevice_t> devices;
  if (api.device_count(&count) == k_success) {
    for (unsigned int i = 0; i < count; ++i) {
      nvmlDevice_t device = nullptr;
      if (api.device_by_index(i, &device) == k_success) {
        devices.push_back(device);
      }
    }
  }
  return std::make_unique<NvmlGpuSource>(std::move(*library), api, std::move(devices));
}

} // namespace brix::monitor
