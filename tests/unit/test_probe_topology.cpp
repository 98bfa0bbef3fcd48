#include <support/probe_fixtures.hpp>
#include <support/temp_dir.hpp>

#include <brix/probe/hwloc_scan.hpp>
#include <brix/probe/topology_sources.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fmt/format.h>
#include <fstream>

using namespace brix::probe;
using brix::test::hwloc_fixture;
using brix::test::probe_fixture;

namespace {
PathClass path_to(const Gpu& gpu, const std::string& nic) {
  for (const auto& ref : gpu.nearest_nics) {
    if (ref.name == nic) {
      return ref.path;
    }
  }
  FAIL("adapter not listed: " << nic);
  return PathClass::sys;
}
} // namespace

TEST_CASE("probe::DGX H100 fixture: CPUs, GPUs, adapters") {
  const auto report = probe_fixture("dgx-h100.xml");
  CHECK(report.host == "dgx-h100");
  CHECK(report.host_source == "topology file");
  REQUIRE(report.packages.size() == 2);
  CHECK(report.packages[0].model == "Intel(R) Xeon(R) Platinum 8480C");
  CHECK(report.packages[0].family == 6);
  CHECK(report.packages[0].model_number == 143);
  CHECK(report.cores() == 112);
  CHECK(report.threads() == 224);
  CHECK(report.numa_nodes.size() == 2);
  REQUIRE(report.gpus.size() == 8);
  REQUIRE(report.nics.size() == 10);
  for (const auto& gpu : report.gpus) {
    CHECK(gpu.model == "NVIDIA H100 80GB HBM3");
    CHECK(gpu.pcie_gen == 5);
    CHECK(gpu.pcie_width == 16);
    CHECK(gpu.nvlink.active_links == 18);
    CHECK(gpu.nvlink.gb_per_s == doctest::Approx(900));
    CHECK(gpu.compute_capability == "9.0");
    CHECK(gpu.numa_node == (gpu.index < 4 ? 0 : 1));
  }
  CHECK(report.gpus[0].pci_bus_id == "0000:1c:00.0");
  CHECK(report.gpus[0].cpus == "0-55,112-167");
  CHECK(report.gpus[4].cpus == "56-111,168-223");
  const Nic* nic = report.find_nic("mlx5_0");
  REQUIRE(nic != nullptr);
  CHECK(nic->firmware == "28.39.1002");
  CHECK(nic->node_guid == "a088:c203:00f1:2b00");
  REQUIRE(nic->primary_port() != nullptr);
  CHECK(nic->primary_port()->state == "ACTIVE");
  CHECK(nic->primary_port()->link_layer == "InfiniBand");
  CHECK(nic->primary_port()->rate_gbps == doctest::Approx(400));
  CHECK(nic->netdevs == std::vector<std::string>{"ibp27s0"});
  CHECK(report.find_nic("mlx5_8")->primary_port()->link_layer == "Ethernet");
  CHECK(report.warnings.empty());
  CHECK(report.software.nvidia_driver == "550.54.15");
  CHECK(report.software.nccl == "2.21.5");
  CHECK(report.software.kernel == "5.15.0-1042-nvidia");
  CHECK(report.disks.size() == 3);
  CHECK(report.disks[0].name == "nvme0n1");
  CHECK(report.disks[0].firmware == "GDC7302Q");
}

TEST_CASE("probe::path classes on the DGX H100 fixture") {
  const auto report = probe_fixture("dgx-h100.xml");
  for (const auto& gpu : report.gpus) {
    const std::string own = fmt::format("mlx5_{}", gpu.index);
    CAPTURE(gpu.index);
    // Each GPU shares a PCIe switch with its adapter; the rest of its socket is NODE, the other SYS.
    CHECK(gpu.nearest_nics.front().name == own);
    CHECK(gpu.nearest_nics.front().path == PathClass::pix);
    for (int other = 0; other < 8; ++other) {
      if (other != gpu.index) {
        const bool same_socket = (other < 4) == (gpu.index < 4);
        CHECK(path_to(gpu, fmt::format("mlx5_{}", other)) == (same_socket ? PathClass::node : PathClass::sys));
      }
    }
    CHECK(path_to(gpu, "mlx5_8") == (gpu.index < 4 ? PathClass::node : PathClass::sys));
    // Nearest adapters are ordered by class: PIX, then NODE, then SYS.
    for (std::size_t i = 1; i < gpu.nearest_nics.size(); ++i) {
      CHECK(path_class_rank(gpu.nearest_nics[i - 1].path) <= path_class_rank(gpu.nearest_nics[i].path));
    }
  }
  CHECK(report.gpu_pairs[0][1].nvlinks == 18);
  CHECK(report.gpu_pairs[0][1].path == PathClass::node);
  CHECK(report.gpu_pairs[0][4].path == PathClass::sys);
  CHECK(report.nic_paths[0][1] == PathClass::node);
  for (int n = 0; n < 8; ++n) {
    CHECK(report.nics[static_cast<std::size_t>(n)].compute);
    CHECK(report.nics[static_cast<std::size_t>(n)].nearest_gpu == n);
  }
  CHECK_FALSE(report.find_nic("mlx5_8")->compute);
  CHECK_FALSE(report.find_nic("mlx5_9")->compute);
}

TEST_CASE("probe::path classes on the DGX A100 fixture (two switch levels)") {
  const auto report = probe_fixture("dgx-a100.xml");
  REQUIRE(report.gpus.size() == 8);
  CHECK(report.gpus[0].model == "NVIDIA A100-SXM4-80GB");
  CHECK(report.gpus[0].pcie_gen == 4);
  CHECK(report.gpus[0].pcie_width == 16);
  CHECK(report.gpus[0].nvlink.gb_per_s == doctest::Approx(600));
  // GPU and adapters hang off different second-level switches: PXB; the two adapters of one
  // complex share a switch: PIX; GPU pairs of a complex: PXB.
  CHECK(path_to(report.gpus[0], "mlx5_0") == PathClass::pxb);
  CHECK(path_to(report.gpus[0], "mlx5_1") == PathClass::pxb);
  CHECK(path_to(report.gpus[0], "mlx5_2") == PathClass::node);
  CHECK(path_to(report.gpus[0], "mlx5_4") == PathClass::sys);
  CHECK(report.nic_paths[0][1] == PathClass::pix);
  CHECK(report.gpu_pairs[0][1].path == PathClass::pxb);
  CHECK(report.gpu_pairs[0][1].nvlinks == 12);
  CHECK(report.gpus[1].nearest_nics[0].name == "mlx5_0");
  CHECK(report.gpus[1].nearest_nics[1].name == "mlx5_1");
  CHECK(report.gpus[7].nearest_nics[0].name == "mlx5_6");
  CHECK(report.packages[0].vendor == "AuthenticAMD");
  CHECK(report.numa_nodes.size() == 2);
}

TEST_CASE("probe::faulty fixture: adapter down, GPU at x8") {
  const auto report = probe_fixture("dgx-h100-faulty.xml");
  CHECK(report.gpus[5].pcie_width == 8);
  CHECK(report.gpus[5].pcie_gen == 5);
  CHECK(report.gpus[5].pcie_expected_width == 16);
  CHECK(report.gpus[4].pcie_width == 16);
  const Nic* down = report.find_nic("mlx5_3");
  REQUIRE(down != nullptr);
  CHECK(down->primary_port()->state == "DOWN");
  CHECK(down->primary_port()->rate_gbps == doctest::Approx(10));
  REQUIRE(report.warnings.size() == 2);
  CHECK(report.warnings[0] == "GPU 0000:c4:00.0 (NVIDIA H100 80GB HBM3): PCIe link x8, expected x16");
  CHECK(report.warnings[1] == "mlx5_3: port 1 DOWN");
}

TEST_CASE("probe::classify_path walks parent chains of I/O objects") {
  const auto topology = HwlocTopology::load_xml(hwloc_fixture("dgx-a100.xml"));
  const auto scan = scan_topology(topology);
  REQUIRE(scan.gpus.size() == 8);
  REQUIRE(scan.nics.size() == 10);
  CHECK(classify_path(scan.gpus[0].object, scan.gpus[0].object) == PathClass::pix);
  CHECK(classify_path(scan.nics[0].object, scan.nics[1].object) == PathClass::pix);
  CHECK(classify_path(scan.gpus[0].object, scan.nics[0].object) == PathClass::pxb);
  CHECK(classify_path(scan.nics[0].object, scan.gpus[0].object) == PathClass::pxb);
  CHECK(path_hops(scan.nics[0].object, scan.nics[1].object) < path_hops(scan.gpus[0].object, scan.nics[0].object));
  // Two ports on the same host bridge but different root ports: PHB. The A100 fixture's storage
  // adapter and boot NVMe share the host bridge of socket 0.
  hwloc_obj_t nvme = nullptr;
  for (hwloc_obj_t pci = hwloc_get_next_pcidev(topology.get(), nullptr); pci != nullptr;
       pci = hwloc_get_next_pcidev(topology.get(), pci)) {
    nvme = pci->attr->pcidev.class_id == 0x0108 ? pci : nvme;
  }
  REQUIRE(nvme != nullptr);
  CHECK(classify_path(nvme, scan.nics[8].object) == PathClass::phb);
}

TEST_CASE("probe::natural_less and cpu_list") {
  CHECK(natural_less("mlx5_2", "mlx5_10"));
  CHECK_FALSE(natural_less("mlx5_10", "mlx5_2"));
  CHECK(natural_less("node9", "node10"));
  CHECK(natural_less("a", "b"));
  CHECK_FALSE(natural_less("x", "x"));
}

TEST_CASE("probe::topology file errors are one-line input errors") {
  CHECK_THROWS_WITH_AS(HwlocTopology::load_xml("/nonexistent/topo.xml"),
                       doctest::Contains("/nonexistent/topo.xml: cannot open topology file"), brix::InputError);
  const auto bad = std::string(BRIX_TEST_SOURCE_DIR) + "/tests/fixtures/hwloc/make_fixtures.py";
  CHECK_THROWS_WITH_AS(HwlocTopology::load_xml(bad), doctest::Contains("not an XML file"), brix::InputError);

  // One edit of the fixture each: a byte that is not UTF-8, a bus id hwloc cannot read (it would
  // drop the GPU without a word).
  std::ifstream in(hwloc_fixture("dgx-h100.xml"));
  const std::string fixture{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const brix::test::TempDir temp;
  auto edited = [&](const std::string& from, const std::string& to) {
    auto text = fixture;
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    std::ofstream(temp.file("t.xml"), std::ios::binary) << text;
    return temp.file("t.xml");
  };
  CHECK_THROWS_WITH_AS(HwlocTopology::load_xml(edited("value=\"dgx-h100\"", "value=\"dgx\xff\"")),
                       doctest::Contains("t.xml:9: byte \\xff is not UTF-8"), brix::InputError);
  CHECK_THROWS_WITH_AS(HwlocTopology::load_xml(edited("pci_busid=\"0000:1b:00.0\"", "pci_busid=\"zzzz:1b:00.0\"")),
                       doctest::Contains("PCI device 'zzzz:1b:00.0' cannot be loaded"), brix::InputError);
  // Regression (fuzz.hwloc_xml, SEGV inside libhwloc 2.9): an object without one of its four
  // sets is refused before hwloc loads it.
  CHECK_THROWS_WITH_AS(HwlocTopology::load_xml(edited("\" complete_cpuset=\"", "\" compldte_cpuset=\"")),
                       doctest::Contains("t.xml:4: an object of type Machine without complete_cpuset"), brix::InputError);
  CHECK_THROWS_WITH_AS(HwlocTopology::load_xml(edited("\" complete_nodeset=\"", "\" x=\"")),
                       doctest::Contains("t.xml:4: an object of type Machine without complete_nodeset"), brix::InputError);
  // Regression (fuzz.hwloc_xml: UBSan, then SIGSEGV in brix): a bridge whose upstream type is no
  // hwloc bridge type (2) is scanned as a bridge without PCI attributes.
  const auto odd_bridge = HwlocTopology::load_xml(edited("bridge_type=\"1-1\"", "bridge_type=\"2-1\""));
  const auto odd_scan = scan_topology(odd_bridge);
  CHECK(odd_scan.gpus.size() == 8);
  // Regression (fuzz.hwloc_xml, an assertion inside libhwloc 2.9 aborted brix): a bitmap with an
  // empty word.
  CHECK_THROWS_WITH_AS(HwlocTopology::load_xml(edited(" cpuset=\"0xffffffff,", " cpuset=\",xffffffff,")),
                       doctest::Contains("t.xml:4: cpuset ',xffffffff,"), brix::InputError);
  // Regression (fuzz.hwloc_xml, SEGV inside libhwloc 2.9): a word of a bitmap that is not hex
  // made hwloc drop the machine's complete_nodeset and then write into it.
  CHECK_THROWS_WITH_AS(HwlocTopology::load_xml(edited(" complete_nodeset=\"0x", " complete_nodeset=\"0x&")),
                       doctest::Contains("t.xml:4: complete_nodeset '0x&"), brix::InputError);
  // Regression (fuzz.hwloc_xml timeout: libhwloc 2.9 sized every bitmap by index 2^32 - 1, 512 MiB
  // each): a PU without os_index, and an OS index far beyond any machine's.
  CHECK_THROWS_WITH_AS(HwlocTopology::load_xml(edited("<object type=\"PU\" os_index=", "<object type=\"PU\" typeos_index=")),
                       doctest::Contains("an object of type PU without os_index"), brix::InputError);
  CHECK_THROWS_WITH_AS(HwlocTopology::load_xml(edited("<object type=\"PU\" os_index=\"0\"", "<object type=\"PU\" os_index=\"4294967295\"")),
                       doctest::Contains("os_index '4294967295' is not an OS index"), brix::InputError);
  // Regression (fuzz.hwloc_xml, SEGV inside libhwloc 2.9's XML parser): a NUL in the text.
  CHECK_THROWS_WITH_AS(HwlocTopology::load_xml(edited("value=\"dgx-h100\"", std::string("value=\"dgx\0h100\"", 15))),
                       doctest::Contains("t.xml:9: control byte 0x00 in the XML"), brix::InputError);
}

TEST_CASE("probe::adapters far from every GPU are all compute adapters") {
  // A PCIe server: one GPU and one adapter, each on its own root port of the same socket.
  const char* xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE topology SYSTEM "hwloc2.dtd">
<topology version="2.0">
  <object type="Machine" os_index="0" cpuset="0x00000003" complete_cpuset="0x00000003" allowed_cpuset="0x00000003" nodeset="0x00000001" complete_nodeset="0x00000001" allowed_nodeset="0x00000001" gp_index="1">
    <info name="HostName" value="pcie-server"/>
    <object type="Package" os_index="0" cpuset="0x00000003" complete_cpuset="0x00000003" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="2">
      <object type="NUMANode" os_index="0" cpuset="0x00000003" complete_cpuset="0x00000003" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="3" local_memory="1073741824"/>
      <object type="Core" os_index="0" cpuset="0x00000003" complete_cpuset="0x00000003" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="4">
        <object type="PU" os_index="0" cpuset="0x00000001" complete_cpuset="0x00000001" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="5"/>
        <object type="PU" os_index="1" cpuset="0x00000002" complete_cpuset="0x00000002" nodeset="0x00000001" complete_nodeset="0x00000001" gp_index="6"/>
      </object>
      <object type="Bridge" gp_index="7" bridge_type="0-1" depth="0" bridge_pci="0000:[00-02]">
        <object type="Bridge" gp_index="8" bridge_type="1-1" depth="1" bridge_pci="0000:[01-01]" pci_busid="0000:00:01.0" pci_type="0604 [8086:352a] [8086:0000] 04" pci_link_speed="31.507692">
          <object type="PCIDev" gp_index="9" pci_busid="0000:01:00.0" pci_type="0302 [10de:26b9] [10de:1851] a1" pci_link_speed="31.507692"/>
        </object>
        <object type="Bridge" gp_index="10" bridge_type="1-1" depth="1" bridge_pci="0000:[02-02]" pci_busid="0000:00:02.0" pci_type="0604 [8086:352a] [8086:0000] 04" pci_link_speed="31.507692">
          <object type="PCIDev" gp_index="11" pci_busid="0000:02:00.0" pci_type="0207 [15b3:101b] [15b3:0007] 00" pci_link_speed="31.507692">
            <object type="OSDev" gp_index="12" name="mlx5_0" osdev_type="3">
              <info name="Port1State" value="4"/>
              <info name="Port1LinkLayer" value="InfiniBand"/>
              <info name="Port1ActiveWidth" value="2"/>
              <info name="Port1ActiveSpeed" value="64"/>
            </object>
          </object>
        </object>
      </object>
    </object>
  </object>
</topology>
)";
  const brix::test::TempDir dir;
  brix::probe::ProbeRequest request;
  request.topology_file = dir.write("pcie-server.xml", xml);
  const auto report = brix::probe::probe_node(request);
  REQUIRE(report.gpus.size() == 1);
  CHECK(report.gpus[0].model == "NVIDIA L40S");
  CHECK(report.gpus[0].pcie_width == 16);
  REQUIRE(report.nics.size() == 1);
  CHECK(report.gpus[0].nearest_nics[0].path == PathClass::phb);
  CHECK(report.nics[0].compute);
  CHECK(report.nics[0].primary_port()->rate_gbps == doctest::Approx(200));
  CHECK(report.host == "pcie-server");
}
