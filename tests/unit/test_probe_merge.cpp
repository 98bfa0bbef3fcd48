#include <support/probe_fixtures.hpp>
#include <support/temp_dir.hpp>

#include <brix/cluster/loader.hpp>
#include <brix/probe/cluster_doc.hpp>
#include <brix/util/document.hpp>
#include <brix/probe/merge.hpp>
#include <brix/probe/report_json.hpp>
#include <brix/util/error.hpp>
#include <brix/util/output.hpp>

#include <doctest/doctest.h>

#include <filesystem>

using namespace brix::probe;
using brix::test::probe_fixture;
namespace fs = std::filesystem;

namespace {

std::vector<NodeReport> dgx_h100_cluster() {
  return {probe_fixture("dgx-h100.xml", "node003"), probe_fixture("dgx-h100-faulty.xml", "node004"),
          probe_fixture("dgx-h100.xml", "node001"), probe_fixture("dgx-h100.xml", "node002"),
          probe_fixture("dgx-a100.xml", "a100-02"), probe_fixture("dgx-a100.xml", "a100-01")};
}

std::vector<std::string> drift_of(const MergeResult& result, const std::string& host) {
  std::vector<std::string> lines;
  for (const auto& item : result.drift) {
    if (item.host == host) {
      lines.push_back(item.what + ": " + item.value + " (majority " + item.expected + ")");
    }
  }
  return lines;
}

} // namespace

TEST_CASE("probe::merge groups like nodes and names the faulty one") {
  const auto result = merge_reports(dgx_h100_cluster(), "test-cluster");
  REQUIRE(result.groups.size() == 3);
  CHECK(result.groups[0].name == "a100-sxm-80gb");
  CHECK(result.groups[0].hosts == std::vector<std::string>{"a100-01", "a100-02"});
  CHECK(result.groups[1].name == "h100-sxm");
  CHECK(result.groups[1].hosts == std::vector<std::string>{"node001", "node002", "node003"});
  CHECK(result.groups[1].adapters.count == 8);
  CHECK(result.groups[1].adapters.gbps == doctest::Approx(400));
  // node004's mlx5_3 is down: one topology for all four would bind its ranks to that adapter.
  CHECK(result.groups[2].name == "h100-sxm-2");
  CHECK(result.groups[2].hosts == std::vector<std::string>{"node004"});
  CHECK(result.groups[2].adapters.count == 7);
  CHECK(result.groups[2].adapters.down == 1);
  REQUIRE(result.notes.size() == 1);
  CHECK(result.notes[0].find("group h100-sxm-2: node004 split from group h100-sxm") == 0);
  CHECK(result.drifting_nodes() == 1);
  CHECK(drift_of(result, "node004") ==
        std::vector<std::string>{"GPU 0000:c4:00.0 PCIe width: x8 (majority x16)",
                                 "mlx5_3 port state: DOWN (majority ACTIVE)", "mlx5_3 rate: 10 Gb/s (majority 400 Gb/s)"});
  CHECK(result.cluster["name"] == "test-cluster");
  REQUIRE(result.cluster["node_groups"].size() == 3);
  const auto& h100 = result.cluster["node_groups"][1];
  CHECK(h100["nodes"] == 3);
  CHECK(h100["gpu"] == "h100-sxm");
  CHECK(h100["gpus_per_node"] == 8);
  CHECK(h100["nics"]["count"] == 8);
  CHECK(h100["hosts"].size() == 3);
  // The group's topology is a node holding the majority everywhere, not the faulty one, which
  // carries its own.
  CHECK(h100["topology"]["host"] == "node001");
  CHECK(result.cluster["node_groups"][2]["topology"]["host"] == "node004");
  CHECK(result.cluster["node_groups"][0]["nics"]["gbps"] == 200.0);
}

TEST_CASE("probe::merge drift covers versions, firmware, GPUs and memory") {
  auto reports = dgx_h100_cluster();
  reports.resize(4); // the H100 nodes: node003, node004 (faulty), node001, node002
  reports[0].software.nvidia_driver = "535.104.05";
  reports[0].software.nccl = "2.18.1";
  reports[0].disks[1].firmware = "EPK9AB5Q"; // the NVMe firmware that slowed a 32-node job
  reports[0].nics[2].firmware = "28.36.1010";
  reports[2].gpus.pop_back(); // node001 lost a GPU
  reports[2].gpu_pairs.pop_back();
  reports[3].numa_nodes[1].memory_bytes /= 2; // node002 lost half the DIMMs of a socket
  const auto result = merge_reports(reports, "c");
  CHECK(drift_of(result, "node003") ==
        std::vector<std::string>{"mlx5_2 firmware: 28.36.1010 (majority 28.39.1002)",
                                 "NVIDIA driver: 535.104.05 (majority 550.54.15)", "NCCL: 2.18.1 (majority 2.21.5)",
                                 "disk nvme1n1 firmware: EPK9AB5Q (majority EPK9CB5Q)"});
  const auto lost = drift_of(result, "node001");
  REQUIRE(lost.size() == 5);
  CHECK(lost[0] == "GPU count: 7 (majority 8)");
  CHECK(lost[1] == "GPU 0000:e0:00.0 model: absent (majority NVIDIA H100 80GB HBM3)");
  CHECK(drift_of(result, "node002") == std::vector<std::string>{"memory: 1512.0 GiB (majority 2016.0 GiB)"});
  CHECK(result.drifting_nodes() == 4);
}

TEST_CASE("probe::merge of identical nodes has no drift - small memory differences are not drift") {
  auto reports = std::vector<NodeReport>{probe_fixture("dgx-h100.xml", "n1"), probe_fixture("dgx-h100.xml", "n2")};
  reports[1].numa_nodes[0].memory_bytes -= 512ULL << 20; // firmware reserving 512 MiB more
  const auto result = merge_reports(reports, "c");
  CHECK(result.drift.empty());
  CHECK(result.groups.size() == 1);
  const auto text = merge_to_text(result, brix::util::Style{});
  CHECK(text.find("No drift") != std::string::npos);
}

TEST_CASE("probe::merge with a tie takes the first host's value as the majority") {
  const auto result = merge_reports({probe_fixture("dgx-h100-faulty.xml", "b"), probe_fixture("dgx-h100.xml", "a")}, "c");
  CHECK(drift_of(result, "a").empty());
  CHECK(drift_of(result, "b").size() == 3);
}

TEST_CASE("probe::merge leaves nodes without GPUs out of the cluster file, with a note") {
  auto cpu_node = probe_fixture("dgx-h100.xml", "login1");
  cpu_node.gpus.clear();
  cpu_node.gpu_pairs.clear();
  const auto result = merge_reports({cpu_node, probe_fixture("dgx-h100.xml", "node001")}, "c");
  REQUIRE(result.groups.size() == 2);
  CHECK(result.cluster["node_groups"].size() == 1);
  REQUIRE(result.notes.size() == 1);
  CHECK(result.notes[0].find("login1") != std::string::npos);
}

TEST_CASE("probe::read_probe_files reads directories and files, rejects bad input") {
  const brix::test::TempDir dir;
  const auto node1 = probe_fixture("dgx-h100.xml", "node1");
  dir.write("node1.yaml", brix::util::to_yaml(single_node_cluster(node1)));
  dir.write("node2.json", report_to_json(probe_fixture("dgx-h100.xml", "node2")).dump());
  dir.write("README.txt", "not a probe file");
  const auto files = read_probe_files({dir.path().string()});
  REQUIRE(files.size() == 2);
  CHECK(files[0].report.host == "node1");
  CHECK(files[1].report.host == "node2");

  const auto again = dir.write("copy.yaml", brix::util::to_yaml(single_node_cluster(node1)));
  CHECK_THROWS_WITH_AS(read_probe_files({dir.path().string()}), doctest::Contains("host 'node1' was already read from"),
                       brix::InputError);
  fs::remove(again);
  const auto bad = dir.write("bad.yaml", "brix_probe: 1\nhost: [unclosed\n");
  CHECK_THROWS_WITH_AS(read_probe_files({bad}), doctest::Contains("bad.yaml:"), brix::InputError);
  const auto other = dir.write("other.yaml", "name: x\n");
  CHECK_THROWS_WITH_AS(read_probe_files({other}), doctest::Contains("not a brix probe file"), brix::InputError);
  const auto merged = dir.write("merged.yaml", "node_groups:\n  - name: g\n    hosts: [a, b]\n    topology: {}\n");
  CHECK_THROWS_WITH_AS(read_probe_files({merged}), doctest::Contains("merged.yaml:3: a merged cluster file"),
                       brix::InputError);
  CHECK_THROWS_WITH_AS(read_probe_files({(dir.path() / "missing").string()}), doctest::Contains("no such file or directory"),
                       brix::InputError);
  const brix::test::TempDir empty;
  CHECK_THROWS_WITH_AS(read_probe_files({empty.path().string()}), doctest::Contains("no probe files in this directory"),
                       brix::InputError);
}

TEST_CASE("probe::merged and single-node cluster files load with the cluster loader") {
  const auto result = merge_reports(dgx_h100_cluster(), "probed");
  const auto merged = brix::cluster::cluster_from_document(
      brix::util::DocNode::load_string(brix::util::to_yaml(result.cluster), "cluster.yaml"), "probed");
  REQUIRE(merged.groups.size() == 3);
  CHECK(merged.name == "probed");
  const auto& h100 = merged.groups[1];
  CHECK(h100.name == "h100-sxm");
  CHECK(h100.nodes == 3);
  CHECK(h100.gpus_per_node == 8);
  CHECK(h100.gpu.id == "h100-sxm");
  CHECK(h100.nics_per_node == 8);
  CHECK(h100.nic_gbps == doctest::Approx(400));
  CHECK(h100.nvlink_domain == 8);
  CHECK(h100.nvlink_bytes_per_s == doctest::Approx(900e9));
  CHECK(h100.hosts == std::vector<std::string>{"node001", "node002", "node003"});
  CHECK(merged.groups[2].hosts == std::vector<std::string>{"node004"});
  CHECK(h100.topology_yaml.find("brix_probe: 1") != std::string::npos);
  CHECK(merged.groups[0].gpu.id == "a100-sxm-80gb");
  CHECK(merged.groups[0].nic_gbps == doctest::Approx(200));
  CHECK(result.notes.size() == 1); // node004 split off

  const auto single = brix::cluster::cluster_from_document(
      brix::util::DocNode::load_string(brix::util::to_yaml(single_node_cluster(probe_fixture("dgx-a100.xml", "n7"))),
                                       "n7.yaml"),
      "n7");
  REQUIRE(single.groups.size() == 1);
  CHECK(single.groups[0].hosts == std::vector<std::string>{"n7"});
  CHECK(single.groups[0].gpus() == 8);
}

TEST_CASE("probe::merge notes a GPU the catalog does not know") {
  auto report = probe_fixture("dgx-h100.xml", "old1");
  for (auto& gpu : report.gpus) {
    gpu.model = "Tesla V100-SXM2-32GB";
  }
  const auto result = merge_reports({report}, "c");
  REQUIRE(result.notes.size() == 1);
  CHECK(result.notes[0].find("'tesla-v100-sxm2-32gb'") == std::string::npos);
  CHECK(result.notes[0].find("gpu: tesla-v100-sxm2-32gb") != std::string::npos);
  CHECK(result.cluster["node_groups"][0]["gpu"] == "tesla-v100-sxm2-32gb");
}
