// The node collector's GPU figures from NVML (the one binding, nvml/nvml.hpp): utilisation,
// memory, temperature, power, and critical XID events where the board delivers them.
#include <brix/monitor/gpu_stats.hpp>

#include <brix/nvml/nvml.hpp>

#include <fmt/format.h>

namespace brix::monitor {

namespace {

class UnavailableGpuSource final : public GpuSource {
public:
  explicit UnavailableGpuSource(std::string reason) : m_reason(std::move(reason)) {}
  GpuReadout read() override { return GpuReadout{false, m_reason, {}}; }

private:
  std::string m_reason;
};

class NvmlGpuSource final : public GpuSource {
public:
  NvmlGpuSource(nvml::Library library, std::vector<nvml::Device> devices)
      : m_library(std::move(library)), m_api(m_library.api()), m_devices(std::move(devices)),
        m_xid_count(m_devices.size(), 0), m_last_xid(m_devices.size()) {
    // XID events are optional (not supported on every board or without privileges).
    if (m_api.event_set_create && m_api.register_events && m_api.event_set_wait &&
        m_api.event_set_create(&m_events) == nvml::k_success) {
      for (auto* device : m_devices) {
        (void)m_api.register_events(device, nvml::k_event_xid_critical, m_events);
      }
    }
  }
  NvmlGpuSource(const NvmlGpuSource&) = delete;
  NvmlGpuSource& operator=(const NvmlGpuSource&) = delete;
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
      gpu.uuid = nvml::text(m_api.uuid, device);
      gpu.name = nvml::text(m_api.name, device);
      nvml::Utilization utilization{};
      if (m_api.utilization(device, &utilization) == nvml::k_success) {
        gpu.utilization_percent = utilization.gpu;
      }
      nvml::Memory memory{};
      if (m_api.memory(device, &memory) == nvml::k_success) {
        gpu.memory_used_mib = static_cast<double>(memory.used) / (1024.0 * 1024.0);
        gpu.memory_free_mib = static_cast<double>(memory.free) / (1024.0 * 1024.0);
      }
      unsigned value = 0;
      if (m_api.temperature(device, nvml::k_temperature_gpu, &value) == nvml::k_success) {
        gpu.temperature_c = value;
      }
      if (m_api.power(device, &value) == nvml::k_success) {
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
    nvml::EventData data{};
    // A zero timeout returns at once (NVML_ERROR_TIMEOUT) when no event is queued.
    for (int bounded = 0; bounded < 1024 && m_api.event_set_wait(m_events, &data, 0) == nvml::k_success; ++bounded) {
      for (std::size_t i = 0; i < m_devices.size(); ++i) {
        if (m_devices[i] == data.device && (data.event_type & nvml::k_event_xid_critical) != 0) {
          ++m_xid_count[i];
          m_last_xid[i] = data.event_data;
        }
      }
    }
  }

  nvml::Library m_library; ///< kept open while the entry points are used
  const nvml::Api& m_api;
  std::vector<nvml::Device> m_devices;
  std::vector<std::uint64_t> m_xid_count;
  std::vector<std::optional<std::uint64_t>> m_last_xid;
  nvml::EventSet m_events = nullptr;
};

} // namespace

std::unique_ptr<GpuSource> open_nvml() {
  std::string error;
  auto library = nvml::Library::open(&error);
  if (!library) {
    return std::make_unique<UnavailableGpuSource>(fmt::format("NVML not available (no NVIDIA driver): {}", error));
  }
  const auto& api = library->api();
  // What every readout needs; the name and XID events are optional.
  const bool complete = api.init && api.shutdown && api.error_string && api.device_count && api.device_by_index &&
                        api.uuid && api.utilization && api.memory && api.temperature && api.power;
  if (!complete) {
    return std::make_unique<UnavailableGpuSource>(
        fmt::format("NVML not available: {} lacks a required symbol", library->name()));
  }
  if (const auto status = api.init(); status != nvml::k_success) {
    return std::make_unique<UnavailableGpuSource>(
        fmt::format("NVML not available: nvmlInit failed: {}", library->error_text(status)));
  }
  unsigned count = 0;
  std::vector<nvml::Device> devices;
  if (api.device_count(&count) == nvml::k_success) {
    for (unsigned i = 0; i < count; ++i) {
      nvml::Device device = nullptr;
      if (api.device_by_index(i, &device) == nvml::k_success) {
        devices.push_back(device);
      }
    }
  }
  return std::make_unique<NvmlGpuSource>(std::move(*library), std::move(devices));
}

} // namespace brix::monitor
