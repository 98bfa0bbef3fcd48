#include <brix/cluster/gpu_catalog.hpp>

#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <array>
#include <fmt/format.h>

namespace brix::cluster {

namespace {

constexpr double k_mib = 1024.0 * 1024.0;
constexpr double k_tb = 1e12;
constexpr double k_gb = 1e9;
constexpr double k_tflops = 1e12;

/// Memory is what the driver reports as total (nvidia-smi "MiB", rocm-smi bytes): the datasheet's
/// "80 GB" H100 shows 81559 MiB, of which the job sees all but the CUDA context (plan/memory.hpp).
/// Fabric defaults are the usual node for the GPU (hardware.md): DGX H100/H200/H800, HGX H20 and
/// B200 one 400 Gb/s adapter per GPU; DGX A100 one 200 Gb/s HDR adapter per GPU; L40S PCIe
/// servers one 200 Gb/s adapter per GPU pair; MI300X platforms one 400 Gb/s adapter per GPU.
/// SMs from the vendors' architecture documents: A100 108 (NVIDIA A100 whitepaper), H100/H800/
/// H200 SXM 132 (H100 whitepaper), H20 78, B200/GB200 148, L40S 142, MI300X 304 compute units
/// (AMD CDNA 3 whitepaper). Compute capabilities from NVIDIA's CUDA GPU list (A100 8.0, L40S 8.9,
/// H100/H800/H200/H20 9.0, B200/GB200 10.0); 0 for the AMD part.
GpuSpec gpu(const char* id, const char* display, double memory_mib, double hbm_tb_s,
            double bf16_tflops, double fp8_tflops, double nvlink_gb_s, double nics_per_gpu,
            double nic_gbps, double pcie_gb_s, int sms, int compute_capability) {
  GpuSpec spec;
  spec.id = id;
  spec.display = display;
  spec.memory_bytes = memory_mib * k_mib;
  spec.hbm_bytes_per_s = hbm_tb_s * k_tb;
  spec.bf16_flops = bf16_tflops * k_tflops;
  spec.fp8_flops = fp8_tflops * k_tflops;
  spec.nvlink_bytes_per_s = nvlink_gb_s * k_gb;
  spec.default_nics_per_gpu = nics_per_gpu;
  spec.default_gpus_per_node = 8;
  spec.default_nics_per_node = static_cast<int>(nics_per_gpu * spec.default_gpus_per_node + 0.5);
  spec.default_nic_gbps = nic_gbps;
  spec.pcie_bytes_per_s = pcie_gb_s * k_gb;
  spec.sms = sms;
  spec.compute_capability = compute_capability;
  return spec;
}

/// The catalog with FP4 peaks where the GPU has FP4 tensor cores: B200 9 PFLOP/s dense (NVIDIA
/// DGX B200 datasheet: 144 PFLOP/s sparse FP4 for 8 GPUs, half of it dense).
std::array<GpuSpec, 11> with_fp4(std::array<GpuSpec, 11> specs) {
  for (auto& spec : specs) {
    if (spec.id == "b200") {
      spec.fp4_flops = 9000 * k_tflops;
    }
  }
  return specs;
}

/// GB200: two B200-class GPUs per Grace CPU, four per compute tray (the "node"), 72 on one NVLink
/// domain (NVL72; the cluster's nvlink.domain says how many share it). The host link is the
/// superchip's NVLink-C2C to its Grace, "900 gigabytes per second (GB/s) of bidirectional
/// bandwidth" (NVIDIA GB200 NVL72 product page), taken as shared by its two GPUs: 450 each.
GpuSpec gb200() {
  auto spec = gpu("gb200", "GB200 (NVL72) 186GB", 189471, 8.0, 2500, 5000, 1800, 1.0, 400, 450, 148, 100);
  spec.fp4_flops = 10000 * k_tflops; // the datasheet's 1,440 PFLOP/s sparse FP4 for 72, halved
  spec.default_gpus_per_node = 4;
  spec.default_nics_per_node = 4;
  return spec;
}

/// Meta's Grand Teton H100 (torchtitan's benchmarks): 96 GB HBM2e at 2.4 TB/s, run at a 500 W
/// power limit. An H100 under GEMM load runs at its power limit, and dynamic power grows about as
/// the cube of the clock (P ∝ f·V², V ∝ f), so 500 of 700 W sustains (500/700)^(1/3) = 0.89 of
/// the clock, and of the 989 / 1979 TFLOP/s peaks.
GpuSpec h100_96gb_500w() {
  return gpu("h100-96gb-500w", "H100 96GB HBM2e 500W", 98304, 2.4, 880, 1761, 900, 1.0, 400, 128, 132, 90);
}

const std::array<GpuSpec, 11>& catalog() {
  // PCIe: gen4 x16 64 GB/s, gen5 x16 128 GB/s (bidirectional). GB200 per GPU (NVIDIA GB200 NVL72
  // datasheet: 13.4 TB HBM3e, 576 TB/s, 180 PFLOP/s dense FP16/BF16 for 72 GPUs).
  static const std::array<GpuSpec, 11> k_catalog = with_fp4({
      gpu("a100-sxm-40gb", "A100 SXM 40GB", 40960, 1.555, 312, 0, 600, 1.0, 200, 64, 108, 80),
      gpu("a100-sxm-80gb", "A100 SXM 80GB", 81920, 2.039, 312, 0, 600, 1.0, 200, 64, 108, 80),
      gpu("h100-sxm", "H100 SXM 80GB", 81559, 3.35, 989, 1979, 900, 1.0, 400, 128, 132, 90),
      h100_96gb_500w(),
      gpu("h800-sxm", "H800 SXM 80GB", 81559, 3.35, 989, 1979, 400, 1.0, 400, 128, 132, 90),
      gpu("h200-sxm", "H200 SXM 141GB", 143771, 4.8, 989, 1979, 900, 1.0, 400, 128, 132, 90),
      gpu("h20", "H20 96GB", 97871, 4.0, 148, 296, 900, 1.0, 400, 128, 78, 90),
      gpu("b200", "B200 (HGX) 180GB", 183359, 8.0, 2250, 4500, 1800, 1.0, 400, 128, 148, 100),
      gb200(),
      gpu("l40s", "L40S PCIe 48GB", 46068, 0.864, 362, 733, 0, 0.5, 200, 64, 142, 89),
      gpu("mi300x", "MI300X 192GB", 196592, 5.3, 1307, 2615, 896, 1.0, 400, 128, 304, 0),
  });
  return k_catalog;
}

} // namespace

std::span<const GpuSpec> gpu_catalog() { return catalog(); }

const GpuSpec& find_gpu(std::string_view id) {
  for (const auto& spec : catalog()) {
    if (spec.id == id) {
      return spec;
    }
  }
  std::vector<std::string> ids;
  for (const auto& spec : catalog()) {
    ids.push_back(spec.id);
  }
  throw InputError(fmt::format("unknown GPU '{}'{} (expected one of {}; see 'brix plan --gpus')",
                               id, util::did_you_mean(id, ids), fmt::join(ids, ", ")));
}

} // namespace brix::cluster
