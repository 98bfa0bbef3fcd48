#include <brix/plan/physics.hpp>

#include <doctest/doctest.h>

using namespace brix::plan;

namespace {
brix::cluster::NodeGroup dgx_a100() {
  brix::cluster::NodeGroup group;
  group.nodes = 4;
  group.gpus_per_node = 8;
  group.gpu.id = "a100-sxm-80gb";
  group.gpu.bf16_flops = 312e12;
  group.gpu.hbm_bytes_per_s = 2.04e12;
  group.gpu.memory_bytes = 80e9;
  group.nvlink_domain = 8;
  group.nvlink_bytes_per_s = 600e9;
  group.nics_per_node = 8;
  group.nic_gbps = 200;
  return group;
}
} // namespace

TEST_CASE("plan::bus_factor follows nccl-tests") {
  CHECK(bus_factor(Collective::all_reduce, 8) == doctest::Approx(2.0 * 7 / 8));
  CHECK(bus_factor(Collective::all_gather, 8) == doctest::Approx(7.0 / 8));
  CHECK(bus_factor(Collective::all_to_all, 4) == doctest::Approx(3.0 / 4));
  CHECK(bus_factor(Collective::all_reduce, 1) == 0.0);
}

TEST_CASE("plan::gemm efficiency grows with shape and is bounded") {
  CHECK(gemm_shape_efficiency(64, 64, 64) < gemm_shape_efficiency(4096, 4096, 4096));
  CHECK(gemm_shape_efficiency(1e6, 1e6, 1e6) <= 1.0);
  const auto device = device_model(dgx_a100(), false, 1.0);
  const double big = gemm_seconds(device, 8192, 8192, 8192, 2);
  const double achieved = 2.0 * 8192.0 * 8192 * 8192 / big;
  // Large bf16 GEMMs on A100 reach ~250-270 TFLOP/s in cuBLAS.
  CHECK(achieved > 230e12);
  CHECK(achieved < 280e12);
  // A skinny GEMM is memory-bound: time follows bytes, not FLOPs.
  const double skinny = gemm_seconds(device, 1, 8192, 8192, 2);
  CHECK(skinny > 8192.0 * 8192 * 2 / 2.04e12);
}

TEST_CASE("plan::collective_seconds uses NVLink inside a node and adapters across") {
  const auto device = device_model(dgx_a100(), false, 1.0);
  const double bytes = 1e9;
  const double intra = collective_seconds(device, Collective::all_reduce, bytes, {8, 8});
  const double inter = collective_seconds(device, Collective::all_reduce, bytes, {8, 1});
  CHECK(intra == doctest::Approx(bytes * 1.75 / (300e9 * 0.8)).epsilon(0.01));
  // One 200 Gb/s adapter per GPU: 25 GB/s line rate, ~20 GB/s achievable.
  CHECK(inter == doctest::Approx(bytes * 1.75 / 20e9).epsilon(0.01));
  CHECK(collective_seconds(device, Collective::all_reduce, bytes, {1, 1}) == 0.0);
}

TEST_CASE("plan::software profiles") {
  CHECK(software_by_name("modern").flash_attention);
  CHECK_FALSE(software_by_name("megatron-2021").flash_attention);
  CHECK(software_by_name("deepspeed-2021").overlap_param_gather);
  CHECK_THROWS((void)software_by_name("megatron-2020"));
}
