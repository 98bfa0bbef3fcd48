// The GPU driver stack read at run time: NVML (libnvidia-ml, part of the driver; the binding is
// nvml/nvml.hpp) for models, serials, PCIe links, NVLinks and the driver version; the CUDA
// runtime (libcudart) for the device list as CUDA sees it; NCCL's version. Nothing here is
// linked: without a driver the libraries are missing or answer cudaErrorInsufficientDriver, and
// the report says so.

#include <brix/nvml/nvml.hpp>
#include <brix/probe/gpu_models.hpp>
#include <brix/probe/sources.hpp>
#include <brix/util/dynamic_library.hpp>

#include <array>
#include <cstdlib>
#include <fmt/format.h>
#include <map>

namespace brix::probe {

namespace {

constexpr int k_cuda_success = 0;
constexpr int k_cuda_attr_multiprocessors = 16; // cudaDevAttrMultiProcessorCount
constexpr int k_cuda_attr_cc_major = 75;        // cudaDevAttrComputeCapabilityMajor
constexpr int k_cuda_attr_cc_minor = 76;

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

NvlinkInfo read_nvlinks(const nvml::Api& api, nvml::Device device) {
  NvlinkInfo info;
  if (api.nvlink_state == nullptr) {
    return info;
  }
  std::map<std::string, int> peers;
  for (unsigned link = 0; link < nvml::k_max_links; ++link) {
    int active = 0;
    if (!nvml::succeeds(api.nvlink_state, device, link, &active) || active == 0) {
      continue;
    }
    ++info.active_links;
    unsigned link_version = 0;
    if (nvml::succeeds(api.nvlink_version, device, link, &link_version)) {
      info.version = std::max(info.version, static_cast<int>(link_version));
    }
    int type = -1;
    std::string target = "unknown";
    if (nvml::succeeds(api.nvlink_remote_type, device, link, &type) && type == nvml::k_remote_switch) {
      target = "switch";
    } else if (nvml::PciInfo pci{}; nvml::succeeds(api.nvlink_remote_pci, device, link, &pci)) {
      target = normalize_bus_id(pci.bus_id);
    }
    ++peers[target];
  }
  for (const auto& [target, links] : peers) {
    info.peers.push_back({target, links});
  }
  info.gb_per_s = info.active_links * nvlink_link_gb_per_s(info.version);
  return info;
}

void scan_nvml(const nvml::Library& library, GpuDriverScan& scan, std::string& problem) {
  const auto& api = library.api();
  if (api.init == nullptr) {
    problem = "NVML: nvmlInit_v2 missing";
    return;
  }
  if (const nvml::Return code = api.init(); code != nvml::k_success) {
    problem = "NVML: " + library.error_text(code);
    return;
  }
  scan.available = true;
  scan.driver_version = nvml::text(api.driver_version);
  int cuda_driver = 0;
  if (nvml::succeeds(api.cuda_driver_version, &cuda_driver)) {
    scan.cuda_driver_version = cuda_version_text(cuda_driver);
  }
  unsigned count = 0;
  if (api.device_by_index != nullptr && nvml::succeeds(api.device_count, &count)) {
    for (unsigned i = 0; i < count; ++i) {
      nvml::Device device = nullptr;
      if (!nvml::succeeds(api.device_by_index, i, &device)) {
        scan.warnings.push_back(fmt::format("NVML: GPU {} cannot be opened", i));
        continue;
      }
      DriverGpu gpu;
      nvml::PciInfo pci{};
      if (nvml::succeeds(api.pci_info, device, &pci)) {
        gpu.pci_bus_id = normalize_bus_id(pci.bus_id);
      }
      gpu.model = nvml::text(api.name, device);
      gpu.uuid = nvml::text(api.uuid, device);
      gpu.serial = nvml::text(api.serial, device);
      nvml::Memory memory{};
      if (nvml::succeeds(api.memory, device, &memory)) {
        gpu.memory_bytes = memory.total;
      }
      const auto figure = [&](nvml::Return (*function)(nvml::Device, unsigned*)) {
        unsigned number = 0;
        return nvml::succeeds(function, device, &number) ? static_cast<int>(number) : 0;
      };
      gpu.pcie_gen = figure(api.pcie_generation);
      gpu.pcie_width = figure(api.pcie_width);
      gpu.pcie_max_gen = figure(api.pcie_max_generation);
      gpu.pcie_max_width = figure(api.pcie_max_width);
      int major = 0;
      int minor = 0;
      if (nvml::succeeds(api.compute_capability, device, &major, &minor)) {
        gpu.compute_capability = fmt::format("{}.{}", major, minor);
      }
      gpu.nvlink = read_nvlinks(api, device);
      scan.gpus.push_back(std::move(gpu));
    }
  }
  if (api.shutdown != nullptr) {
    api.shutdown();
  }
}

void scan_cuda_runtime(const util::DynamicLibrary& library, GpuDriverScan& scan, std::string& problem) {
  auto runtime_version = library.symbol<int (*)(int*)>("cudaRuntimeGetVersion");
  auto driver_version = library.symbol<int (*)(int*)>("cudaDriverGetVersion");
  auto device_count = library.symbol<int (*)(int*)>("cudaGetDeviceCount");
  auto error_name = library.symbol<const char* (*)(int)>("cudaGetErrorName");
  auto bus_id = library.symbol<int (*)(char*, int, int)>("cudaDeviceGetPCIBusId");
  auto attribute = library.symbol<int (*)(int*, int, int)>("cudaDeviceGetAttribute");
  int version = 0;
  if (runtime_version != nullptr && runtime_version(&version) == k_cuda_success) {
    scan.cuda_runtime_version = cuda_version_text(version);
  }
  if (driver_version != nullptr && driver_version(&version) == k_cuda_success && version > 0 &&
      scan.cuda_driver_version.empty()) {
    scan.cuda_driver_version = cuda_version_text(version);
  }
  if (device_count == nullptr) {
    problem = "CUDA runtime: cudaGetDeviceCount missing";
    return;
  }
  int count = 0;
  if (const int code = device_count(&count); code != k_cuda_success) {
    problem = fmt::format("cudaGetDeviceCount: {}", error_name != nullptr ? error_name(code) : std::to_string(code));
    return;
  }
  scan.available = true;
  for (int device = 0; device < count; ++device) {
    std::array<char, 32> text{};
    if (bus_id == nullptr || bus_id(text.data(), static_cast<int>(text.size()), device) != k_cuda_success) {
      continue;
    }
    const std::string id = normalize_bus_id(text.data());
    DriverGpu* gpu = nullptr;
    for (auto& known : scan.gpus) {
      gpu = known.pci_bus_id == id ? &known : gpu;
    }
    if (gpu == nullptr) {
      scan.gpus.push_back(DriverGpu{.pci_bus_id = id});
      gpu = &scan.gpus.back();
    }
    int major = 0;
    int minor = 0;
    int multiprocessors = 0;
    if (attribute != nullptr && attribute(&major, k_cuda_attr_cc_major, device) == k_cuda_success &&
        attribute(&minor, k_cuda_attr_cc_minor, device) == k_cuda_success && gpu->compute_capability.empty()) {
      gpu->compute_capability = fmt::format("{}.{}", major, minor);
    }
    if (attribute != nullptr &&
        attribute(&multiprocessors, k_cuda_attr_multiprocessors, device) == k_cuda_success) {
      gpu->multiprocessors = multiprocessors;
    }
  }
}

std::string nccl_version() {
  auto library = util::DynamicLibrary::open_first({env_or_empty("BRIX_NCCL_LIBRARY"), "libnccl.so.2", "libnccl.so",
                                                   "/usr/local/cuda/lib64/libnccl.so.2"});
  if (!library) {
    return "";
  }
  auto get_version = library->symbol<int (*)(int*)>("ncclGetVersion");
  int code = 0;
  return get_version != nullptr && get_version(&code) == 0 ? nccl_version_text(code) : "";
}

class SystemGpuDriver final : public GpuDriverSource {
public:
  [[nodiscard]] GpuDriverScan scan() override {
    GpuDriverScan scan;
    std::string nvml_problem;
    std::string cuda_problem;
    std::string load_error;
    auto nvml_library = nvml::Library::open(&load_error);
    if (nvml_library) {
      scan_nvml(*nvml_library, scan, nvml_problem);
    } else {
      nvml_problem = "NVML: " + load_error;
    }
    load_error.clear();
    auto cudart = util::DynamicLibrary::open_first({env_or_empty("BRIX_CUDART_LIBRARY"), "libcudart.so",
                                                    "libcudart.so.13", "libcudart.so.12",
                                                    "/usr/local/cuda/lib64/libcudart.so"},
                                                   &load_error);
    if (cudart) {
      scan_cuda_runtime(*cudart, scan, cuda_problem);
    } else {
      cuda_problem = "CUDA runtime: " + load_error;
    }
    scan.nccl_version = nccl_version();

    std::vector<std::string> sources;
    if (nvml_problem.empty()) {
      sources.emplace_back("NVML");
    }
    if (cuda_problem.empty()) {
      sources.emplace_back("CUDA runtime");
    }
    if (!scan.gpus.empty()) {
      scan.status = fmt::format("{} ({})", count_of(scan.gpus.size(), "GPU"), fmt::join(sources, ", "));
      for (const auto* problem : {&nvml_problem, &cuda_problem}) {
        if (!problem->empty()) {
          scan.warnings.push_back(*problem);
        }
      }
    } else if (scan.available) {
      scan.status = "no GPU (the driver reports none)";
    } else {
      scan.status = fmt::format("no GPU driver ({}; {})", cuda_problem, nvml_problem);
    }
    return scan;
  }
};

} // namespace

std::unique_ptr<GpuDriverSource> make_system_gpu_driver() { return std::make_unique<SystemGpuDriver>(); }

} // namespace brix::probe
