#include <support/probe_fixtures.hpp>

#include <brix/probe/cluster_doc.hpp>
#include <brix/probe/node_files.hpp>
#include <brix/probe/report_json.hpp>
#include <brix/probe/report_text.hpp>
#include <brix/util/document.hpp>
#include <brix/util/error.hpp>
#include <brix/util/output.hpp>

#include <doctest/doctest.h>

using namespace brix::probe;
using brix::util::DocNode;

TEST_CASE("probe::report JSON has the documented keys") {
  const auto report = brix::test::probe_fixture("dgx-h100.xml", "node001");
  const auto json = report_to_json(report);
  CHECK(json["brix_probe"] == 1);
  CHECK(json["host"] == "node001");
  const auto& gpu = json["gpus"][0];
  CHECK(gpu["index"] == 0);
  CHECK(gpu["model"] == "NVIDIA H100 80GB HBM3");
  CHECK(gpu["pci_bus_id"] == "0000:1c:00.0");
  CHECK(gpu["numa_node"] == 0);
  CHECK(gpu["pcie_width"] == 16);
  CHECK(gpu["nearest_nics"][0]["name"] == "mlx5_0");
  CHECK(gpu["nearest_nics"][0]["path"] == "PIX");
  const auto& nic = json["nics"][0];
  CHECK(nic["name"] == "mlx5_0");
  CHECK(nic["port_state"] == "ACTIVE");
  CHECK(nic["link_layer"] == "InfiniBand");
  CHECK(nic["rate_gbps"] == 400.0);
  CHECK(nic["firmware"] == "28.39.1002");
  CHECK(json["gpu_paths"][0][1] == "NV18/NODE");
  CHECK(json["nic_paths"][0][8] == "NODE");
  CHECK(json["software"]["cuda_runtime"].is_null());
}

TEST_CASE("probe::report survives JSON and YAML round trips") {
  const auto report = brix::test::probe_fixture("dgx-h100-faulty.xml", "node004");
  const auto json = report_to_json(report);
  for (const auto& text : {json.dump(2), brix::util::to_yaml(json)}) {
    const auto back = report_to_json(report_from_doc(DocNode::load_string(text, "report")));
    for (const auto& item : json.items()) {
      const auto& key = item.key(); // named, not bound: clang 14 cannot capture a binding (CHECK_MESSAGE)
      CHECK_MESSAGE(back[key] == item.value(), "key: ", key);
    }
  }
}

// Regression (fuzz.probe_report): an adapter without ports was written with `port_state: null`
// and read back with one invented port.
TEST_CASE("probe::report: an adapter without ports round-trips without a port") {
  const auto report = report_from_doc(
      DocNode::load_string("brix_probe: 1\nhost: n1\nnics:\n  - {name: mlx5_0, rate_gbps: 400}\n", "r.yaml"));
  REQUIRE(report.nics.size() == 1);
  CHECK(report.nics[0].ports.empty());
  const auto json = report_to_json(report);
  const auto back = report_from_doc(DocNode::load_string(json.dump(), "again.json"));
  CHECK(back.nics[0].ports.empty());
  CHECK(report_to_json(back) == json);
}

TEST_CASE("probe::report reading rejects what it cannot use, at its line") {
  CHECK_THROWS_WITH_AS(report_from_doc(DocNode::load_string("brix_probe: 7\nhost: x\n", "r.yaml")),
                       "r.yaml:1: unsupported node report version 7 (version 1)", brix::InputError);
  CHECK_THROWS_WITH_AS(report_from_doc(DocNode::load_string("brix_probe: 1\n", "r.yaml")),
                       doctest::Contains("r.yaml:1: missing key 'host'"), brix::InputError);
  CHECK_THROWS_WITH_AS(report_from_doc(DocNode::load_string(
                           "brix_probe: 1\nhost: x\ngpus:\n  - index: 0\n    model: m\n    nearest_nics:\n"
                           "      - {name: mlx5_0, path: FAR}\n",
                           "r.yaml")),
                       doctest::Contains("r.yaml:7: unknown path class 'FAR'"), brix::InputError);
}

TEST_CASE("probe::report reading refuses values a node cannot have") {
  const auto error = [](const std::string& text) {
    try {
      (void)report_from_doc(DocNode::load_string(text, "r.yaml"));
    } catch (const brix::InputError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  // The host name lands in hostfiles and rank maps.
  CHECK(error("brix_probe: 1\nhost: ../../outside\n") ==
        "r.yaml:2: host '../../outside' is not a host name (letters, digits, '.', '-' and '_', as in a DNS name)");
  CHECK(error("brix_probe: 1\nhost: \"\"\n").rfind("r.yaml:2: host '' is not a host name", 0) == 0);
  CHECK(error("brix_probe: 1\nhost: n1\ngpus:\n  - {index: 0, model: m, cpus: \"55-0,x\"}\n") ==
        "r.yaml:4: cpus '55-0,x' is not a CPU list (like 0-55,112-167)");
  CHECK(error("brix_probe: 1\nhost: n1\ngpus:\n  - {index: 0, model: m}\n  - {index: 0, model: m}\n") ==
        "r.yaml:5: GPU index 0 appears twice (each GPU once)");
  CHECK(error("brix_probe: 1\nhost: n1\nnics:\n  - {name: mlx5_0}\n  - {name: mlx5_0}\n") ==
        "r.yaml:5: adapter mlx5_0 appears twice (each adapter once)");
  CHECK(error("brix_probe: 1\nhost: n1\nnics:\n  - name: mlx5_0\n    ports: [{number: 1, rate_gbps: -1e9}]\n")
            .rfind("r.yaml:5: rate_gbps must be a finite number >= 0 (got -1000000000)", 0) == 0);
  CHECK(error("brix_probe: 1\nhost: n1\nnics:\n  - {name: mlx5_0, rate_gbps: .nan}\n").rfind("r.yaml:4: '.nan' is not a number", 0) == 0);
  CHECK(error("brix_probe: 1\nhost: n1\nnics:\n  - {name: mlx5_0, rate_gbps: -400, port_state: ACTIVE}\n")
            .rfind("r.yaml:4: rate_gbps must be a finite number >= 0 (got -400)", 0) == 0);
  CHECK(error("brix_probe: 1\nhost: n1\ngpus:\n  - {index: 0, model: m, numa_node: 99999999999}\n")
            .rfind("r.yaml:4: numa_node is out of range (got 99999999999)", 0) == 0);
  CHECK(error("brix_probe: 1\nhost: node-01.cluster_a\n") == "accepted");
}

TEST_CASE("probe::single-node cluster document follows the cluster schema") {
  const auto report = brix::test::probe_fixture("dgx-h100.xml", "node001");
  const auto cluster = single_node_cluster(report);
  CHECK(cluster["name"] == "node001");
  REQUIRE(cluster["node_groups"].size() == 1);
  const auto& group = cluster["node_groups"][0];
  CHECK(group["name"] == "h100-sxm");
  CHECK(group["nodes"] == 1);
  CHECK(group["gpu"] == "h100-sxm");
  CHECK(group["gpus_per_node"] == 8);
  CHECK(group["nvlink"]["domain"] == 8);
  CHECK(group["nvlink"]["gb_per_s"] == 900.0);
  CHECK(group["nics"]["count"] == 8); // the two storage adapters are not compute adapters
  CHECK(group["nics"]["gbps"] == 400.0);
  CHECK(group["hosts"] == nlohmann::ordered_json::array({"node001"}));
  CHECK(group["topology"]["host"] == "node001");
}

TEST_CASE("probe::single-node cluster document counts only adapters whose port is up") {
  // The faulty fixture's mlx5_3 is DOWN: seven compute adapters carry traffic, not eight.
  const auto report = brix::test::probe_fixture("dgx-h100-faulty.xml", "f1");
  const auto adapters = compute_adapters(report);
  CHECK(adapters.count == 7);
  CHECK(adapters.down == 1);
  CHECK(adapters.gbps == 400.0);
  CHECK(single_node_cluster(report)["node_groups"][0]["nics"]["count"] == 7);
}

TEST_CASE("probe::text report and matrix") {
  const auto report = brix::test::probe_fixture("dgx-h100-faulty.xml");
  const brix::util::Style plain;
  const auto sections = report_sections(report, plain);
  REQUIRE(sections.size() == 5);
  CHECK(sections[1].title == "GPUs");
  CHECK(sections[2].title == "RDMA adapters");
  CHECK(sections[3].title == "Disks");
  CHECK(sections[4].title == "Warnings");
  auto with_bench = sections;
  with_bench.push_back({"Fabric bench", "  all-reduce  48.1 GB/s\n"});
  const auto text = render_sections(with_bench, plain);
  CHECK(text.find("Gen5 x8 (of x16)") != std::string::npos);
  CHECK(text.find("mlx5_3  0000:60:00.0  0     DOWN") != std::string::npos);
  CHECK(text.find("\nFabric bench\n  all-reduce  48.1 GB/s\n") != std::string::npos);
  const auto matrix = to_text(TopologyMatrix{report});
  CHECK(matrix.rfind("      GPU0  GPU1", 0) == 0);
  CHECK(matrix.find("CPU Affinity    NUMA Affinity") != std::string::npos);
  CHECK(matrix.find("\nGPU0  X     NV18") != std::string::npos);
  CHECK(matrix.find("NIC Legend:\n\n  NIC0: mlx5_0\n") != std::string::npos);
  const auto json = to_json(TopologyMatrix{report});
  CHECK(json["devices"].size() == 18);
  CHECK(json["rows"][0][8] == "PIX");
  CHECK(json["rows"][8][0] == "PIX");
  CHECK(json["cpu_affinity"][4] == "56-111,168-223");
  CHECK(json["numa_affinity"][4] == "1");
  CHECK(json["nic_legend"]["NIC9"] == "mlx5_9");
}

TEST_CASE("probe::node files") {
  CHECK(expand_node_name("probes/%h.nccl.xml", "node001") == "probes/node001.nccl.xml");
  CHECK(expand_node_name("%h-%h", "a") == "a-a");
  CHECK(expand_node_name("%h", "x%hx") == "x%hx");
  CHECK(expand_node_name("plain.xml", "n") == "plain.xml");
  NodeReport report;
  report.host = "../evil";
  CHECK_THROWS_WITH_AS((void)write_node_file("/tmp", report), "node name '../evil' cannot name a file (a host name: letters, digits, '.', '-' and '_')", brix::InputError);
  // A HostName read from a topology file is that file's fault.
  report.host = "node 07";
  report.host_source = "topology file";
  report.topology_source = "dgx.xml";
  CHECK_THROWS_WITH_AS((void)write_node_file("/tmp", report),
                       "dgx.xml: node name 'node 07' cannot name a file (a host name: letters, digits, '.', '-' and '_')",
                       brix::InputError);
}
