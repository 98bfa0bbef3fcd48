#include <support/probe_fixtures.hpp>
#include <support/temp_dir.hpp>

#include <brix/probe/hwloc_scan.hpp>
#include <brix/probe/sources.hpp>

#include <doctest/doctest.h>

#include <filesystem>

using namespace brix::probe;
namespace fs = std::filesystem;

namespace {

VerbsPort port(int state, int width, int speed, std::uint32_t speed_ex = 0) {
  return {1, state, 1, width, speed, speed_ex, "0x1"};
}

} // namespace

TEST_CASE("probe::live verbs override the topology's port infos (FakeVerbs)") {
  const auto topology = HwlocTopology::load_xml(brix::test::hwloc_fixture("dgx-h100.xml"));
  // Verbs say mlx5_0 runs XDR 4X (speed_ex) and mlx5_1 is in INIT; the rest come from hwloc.
  StaticVerbs verbs({true,
                     "2 RDMA adapters (verbs)",
                     {{"mlx5_0", "40.44.1000", "a088:c203:00f1:2b00", "a088:c203:00f1:2b00", {port(4, 2, 128, 256)}},
                      {"mlx5_1", "40.44.1000", "a088:c203:00f2:2b00", "a088:c203:00f2:2b00", {port(2, 2, 128)}}}});
  StaticGpuDriver gpus(GpuDriverScan{.available = false, .status = "no GPU driver (fake)"});
  StaticHost host(HostFacts{.hostname = "fake-host", .os = "FakeOS 1"});
  const auto report = probe_with(topology, gpus, verbs, host, NodeNaming{});
  CHECK(report.host == "fake-host");
  CHECK(report.host_source == "topology file");
  CHECK(report.rdma_status == "2 RDMA adapters (verbs)");
  CHECK(report.gpu_status == "no GPU driver (fake)");
  const Nic* xdr = report.find_nic("mlx5_0");
  REQUIRE(xdr != nullptr);
  CHECK(xdr->primary_port()->rate_gbps == doctest::Approx(800));
  CHECK(xdr->primary_port()->speed == "XDR");
  CHECK(xdr->firmware == "40.44.1000");
  CHECK(report.find_nic("mlx5_1")->primary_port()->state == "INIT");
  CHECK(report.find_nic("mlx5_2")->firmware == "28.39.1002");
  // No driver: GPUs still come from hwloc's PCI view, with the model from the PCI id.
  REQUIRE(report.gpus.size() == 8);
  CHECK(report.gpus[0].model == "NVIDIA H100 80GB HBM3");
  CHECK(report.gpus[0].nvlink.active_links == 0);
  CHECK(report.software.os == "FakeOS 1");
}

TEST_CASE("probe::driver GPUs enrich hwloc's GPUs by bus id") {
  const auto topology = HwlocTopology::load_xml(brix::test::hwloc_fixture("dgx-h100.xml"));
  GpuDriverScan scan;
  scan.available = true;
  scan.status = "1 GPU (NVML)";
  scan.driver_version = "570.86.15";
  DriverGpu gpu;
  gpu.pci_bus_id = "0000:1c:00.0";
  gpu.model = "NVIDIA H100 80GB HBM3";
  gpu.pcie_gen = 4;
  gpu.pcie_width = 16;
  gpu.pcie_max_gen = 5;
  gpu.pcie_max_width = 16;
  gpu.nvlink = {4, 18, 900, {{"switch", 18}}};
  scan.gpus.push_back(gpu);
  DriverGpu stray;
  stray.pci_bus_id = "0000:ff:00.0";
  stray.model = "NVIDIA H100 80GB HBM3";
  scan.gpus.push_back(stray);
  StaticGpuDriver gpus(scan);
  StaticVerbs verbs(VerbsScan{.available = false, .status = "no RDMA (fake)"});
  StaticHost host(HostFacts{.hostname = "h"});
  const auto report = probe_with(topology, gpus, verbs, host, NodeNaming{"node17"});
  CHECK(report.host == "node17");
  CHECK(report.host_source == "SLURMD_NODENAME");
  CHECK(report.software.nvidia_driver == "570.86.15");
  REQUIRE(report.gpus.size() == 9);
  CHECK(report.gpus[0].pcie_gen == 4); // the driver's current link wins over the bandwidth decode
  CHECK(report.gpus[8].pci_bus_id == "0000:ff:00.0");
  CHECK(report.gpus[8].numa_node == -1);
  bool gen_warning = false;
  bool stray_warning = false;
  for (const auto& warning : report.warnings) {
    gen_warning = gen_warning || warning.find("PCIe Gen4, expected Gen5") != std::string::npos;
    stray_warning = stray_warning || warning.find("0000:ff:00.0: reported by the driver but not in the hwloc") != std::string::npos;
  }
  CHECK(gen_warning);
  CHECK(stray_warning);
  // Verbs unavailable: adapters keep the state the topology recorded.
  CHECK(report.rdma_status == "no RDMA (fake)");
  CHECK(report.find_nic("mlx5_0")->primary_port()->state == "ACTIVE");
}

TEST_CASE("probe::sysfs host facts from an injected root") {
  const brix::test::TempDir root;
  root.write("etc/os-release", "NAME=\"Ubuntu\"\nPRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nVERSION=\"22.04.4 LTS\"\n");
  root.write("proc/sys/kernel/osrelease", "5.15.0-1042-nvidia\n");
  root.write("proc/sys/kernel/hostname", "dgx17\n");
  root.write("proc/sys/kernel/arch", "x86_64\n");
  root.write("proc/driver/nvidia/version",
             "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\n"
             "GCC version:  gcc version 12.3.0\n");
  fs::create_directories(root.path() / "sys/module/nvidia_peermem");
  root.write("sys/block/nvme0n1/size", "7501476528\n");
  root.write("sys/block/nvme0n1/device/model", "SAMSUNG MZWLJ3T8HBLS-00007              \n");
  root.write("sys/block/nvme0n1/device/firmware_rev", "EPK9CB5Q\n");
  root.write("sys/block/nvme0n1/device/serial", "S55JNC0T000400\n");
  root.write("sys/block/nvme0n1/device/address", "0000:45:00.0\n");
  root.write("sys/block/sda/size", "1000\n");
  root.write("sys/block/sda/device/model", "SSDSC2KB960G8\n");
  root.write("sys/block/sda/device/rev", "0110\n");
  root.write("sys/block/loop0/size", "0\n"); // no device: not a disk
  const auto facts = make_sysfs_host(root.path().string())->facts();
  CHECK(facts.os == "Ubuntu 22.04.4 LTS");
  CHECK(facts.kernel == "5.15.0-1042-nvidia");
  CHECK(facts.hostname == "dgx17");
  CHECK(facts.architecture == "x86_64");
  CHECK(facts.nvidia_driver == "550.54.15");
  CHECK(facts.gpudirect_rdma == "nvidia_peermem");
  REQUIRE(facts.disks.size() == 2);
  CHECK(facts.disks[0].name == "nvme0n1");
  CHECK(facts.disks[0].model == "SAMSUNG MZWLJ3T8HBLS-00007");
  CHECK(facts.disks[0].firmware == "EPK9CB5Q");
  CHECK(facts.disks[0].serial == "S55JNC0T000400");
  CHECK(facts.disks[0].size_bytes == 7501476528ULL * 512);
  CHECK(facts.disks[0].transport == "nvme");
  CHECK(facts.disks[0].pci_bus_id == "0000:45:00.0");
  CHECK(facts.disks[1].name == "sda");
  CHECK(facts.disks[1].firmware == "0110");
  CHECK(facts.disks[1].transport == "scsi");
}

TEST_CASE("probe::sysfs host on an empty root knows nothing and does not fail") {
  const brix::test::TempDir root;
  const auto facts = make_sysfs_host(root.path().string())->facts();
  CHECK(facts.os.empty());
  CHECK(facts.nvidia_driver.empty());
  CHECK(facts.gpudirect_rdma.empty());
  CHECK(facts.disks.empty());
}

TEST_CASE("probe::system GPU driver on this machine") {
  const auto scan = make_system_gpu_driver()->scan();
  MESSAGE("GPU driver: " << scan.status);
  if (fs::exists("/proc/driver/nvidia/version")) {
    CHECK_FALSE(scan.status.empty());
    return;
  }
  // No driver (the development machine): reported, not an error.
  CHECK_FALSE(scan.available);
  CHECK(scan.gpus.empty());
  CHECK(scan.status.rfind("no GPU driver (", 0) == 0);
}

TEST_CASE("probe::system verbs on this machine") {
  const auto scan = make_system_verbs()->scan();
  MESSAGE("verbs: " << scan.status);
  if (fs::exists("/sys/class/infiniband_verbs") || fs::exists("/sys/class/infiniband")) {
    CHECK(scan.available);
    return;
  }
  CHECK_FALSE(scan.available);
  CHECK(scan.devices.empty());
  CHECK(scan.status.rfind("no RDMA", 0) == 0);
}

TEST_CASE("probe::live topology and host facts of this machine") {
  const auto topology = HwlocTopology::load_live();
  CHECK_FALSE(topology.from_file());
  const auto scan = scan_topology(topology);
  REQUIRE_FALSE(scan.packages.empty());
  CHECK(scan.packages.front().threads >= 1);
  CHECK_FALSE(scan.packages.front().cpus.empty());
  CHECK(scan.machine_infos.count("hwlocVersion") == 1);
  const auto facts = make_sysfs_host("/")->facts();
  CHECK_FALSE(facts.kernel.empty());
  CHECK_FALSE(facts.hostname.empty());
  CHECK_FALSE(facts.architecture.empty());
  MESSAGE("this machine: " << facts.os << ", kernel " << facts.kernel << ", " << facts.disks.size() << " disks");
}
