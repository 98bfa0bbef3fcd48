#include <brix/probe/gpu_models.hpp>
#include <brix/probe/pcie.hpp>
#include <brix/probe/sources.hpp>

#include <doctest/doctest.h>

using namespace brix::probe;

TEST_CASE("probe::pcie_link_gb_per_s matches hwloc's pci_link_speed") {
  CHECK(pcie_link_gb_per_s(5, 16) == doctest::Approx(63.015385));
  CHECK(pcie_link_gb_per_s(4, 16) == doctest::Approx(31.507692));
  CHECK(pcie_link_gb_per_s(5, 8) == doctest::Approx(31.507692));
  CHECK(pcie_link_gb_per_s(3, 4) == doctest::Approx(3.938462));
  CHECK(pcie_link_gb_per_s(1, 1) == doctest::Approx(0.25)); // 2.5 GT/s × 8/10 / 8
  CHECK(pcie_link_gb_per_s(2, 16) == doctest::Approx(8.0));
}

TEST_CASE("probe::decode_pcie_link round-trips every generation and width") {
  for (int gen = 1; gen <= 6; ++gen) {
    for (int width : {1, 2, 4, 8, 16}) {
      CAPTURE(gen);
      CAPTURE(width);
      const auto link = decode_pcie_link(pcie_link_gb_per_s(gen, width), gen);
      CHECK(link.gen == gen);
      CHECK(link.width == width);
    }
  }
}

TEST_CASE("probe::decode_pcie_link uses the device generation to split the ambiguity") {
  const double gb = pcie_link_gb_per_s(4, 16); // == Gen5 x8
  CHECK(decode_pcie_link(gb, 5).width == 8);   // an H100 trained at x8
  CHECK(decode_pcie_link(gb, 4).width == 16);  // an A100 at full width
  const auto unknown = decode_pcie_link(gb, 0);
  CHECK(unknown.width == 16);
  CHECK(unknown.gen == 4);
  CHECK(decode_pcie_link(0, 5).width == 0);
  CHECK(decode_pcie_link(12.345, 5).width == 0);
  // A Gen5 device that trained at Gen4 x16 reads as Gen5 x8 from bandwidth alone; Gen4 x4 is
  // found by falling back a generation when no width fits at Gen5.
  CHECK(decode_pcie_link(pcie_link_gb_per_s(4, 4), 5).width == 2);
  CHECK(decode_pcie_link(pcie_link_gb_per_s(2, 16), 5).gen == 2);
  CHECK(decode_pcie_link(pcie_link_gb_per_s(2, 16), 5).width == 16);
}

TEST_CASE("probe::pcie speed text") {
  CHECK(pcie_speed_text(5) == "32.0 GT/s PCIe");
  CHECK(pcie_speed_text(1) == "2.5 GT/s PCIe");
  CHECK(pcie_gen_from_speed_text("32.0 GT/s PCIe") == 5);
  CHECK(pcie_gen_from_speed_text("8 GT/s") == 3);
  CHECK(pcie_gen_from_speed_text("2.5 GT/s PCIe") == 1);
  CHECK(pcie_gen_from_speed_text("Unknown") == 0);
}

TEST_CASE("probe::known_pci_device and gpu_model_info") {
  REQUIRE(known_pci_device(0x10de, 0x2330).has_value());
  CHECK(known_pci_device(0x10de, 0x2330)->pcie_gen == 5);
  CHECK(known_pci_device(0x15b3, 0x101b)->name == "ConnectX-6");
  CHECK_FALSE(known_pci_device(0x1234, 0x5678).has_value());
  CHECK(gpu_model_info("NVIDIA H100 80GB HBM3")->catalog_id == "h100-sxm");
  CHECK(gpu_model_info("NVIDIA A100-SXM4-80GB")->catalog_id == "a100-sxm-80gb");
  CHECK(gpu_model_info("NVIDIA A100-SXM4-40GB")->catalog_id == "a100-sxm-40gb");
  CHECK(gpu_model_info("NVIDIA H200")->catalog_id == "h200-sxm");
  CHECK(gpu_model_info("NVIDIA H20")->catalog_id == "h20");
  CHECK(gpu_model_info("NVIDIA H800")->nvlink_links == 8);
  CHECK(gpu_model_info("NVIDIA B200")->compute_capability == "10.0");
  CHECK_FALSE(gpu_model_info("Tesla K80").has_value());
  CHECK(fallback_gpu_id("NVIDIA Tesla K80") == "tesla-k80");
  CHECK(nvlink_link_gb_per_s(4) * 18 == doctest::Approx(900));
  CHECK(nvlink_link_gb_per_s(3) * 12 == doctest::Approx(600));
  CHECK(nvlink_link_gb_per_s(5) * 18 == doctest::Approx(1800));
  CHECK(nvlink_link_gb_per_s(0) == 0);
}

TEST_CASE("probe::version and bus id helpers") {
  CHECK(normalize_bus_id("00000000:1B:00.0") == "0000:1b:00.0");
  CHECK(normalize_bus_id("0000:1B:00.0") == "0000:1b:00.0");
  CHECK(normalize_bus_id("00000001:1b:00.0") == "0001:1b:00.0");
  CHECK(normalize_bus_id("10000:1b:00.0") == "10000:1b:00.0"); // a 5-digit domain is kept whole
  CHECK(cuda_version_text(12040) == "12.4");
  CHECK(cuda_version_text(13000) == "13.0");
  CHECK(cuda_version_text(0).empty());
  CHECK(nccl_version_text(22807) == "2.28.7");
  CHECK(nccl_version_text(2804) == "2.8.4");
  CHECK(count_of(1, "GPU") == "1 GPU");
  CHECK(count_of(8, "GPU") == "8 GPUs");
}
