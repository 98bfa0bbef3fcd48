#include <support/input_error.hpp>
#include <brix/cluster/gpu_catalog.hpp>
#include <brix/cluster/loader.hpp>
#include <brix/util/document.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

#include <cmath>

#include <string>

using namespace brix;
using namespace brix::cluster;
using brix::test::input_error_of;

namespace {

ClusterSpec parse(const std::string& text) {
  return cluster_from_document(util::DocNode::load_string(text, "c.yaml"), "c");
}

constexpr double k_gib = 1024.0 * 1024.0 * 1024.0;

} // namespace

TEST_CASE("cluster::gpu_catalog has every GPU of hardware.md") {
  CHECK(gpu_catalog().size() == 11);
  // Beyond hardware.md, for published runs: a GB200 of an NVL72 rack, Meta's 96 GB 500 W H100.
  CHECK(find_gpu("gb200").bf16_flops == doctest::Approx(2500e12));
  CHECK(find_gpu("h100-96gb-500w").hbm_bytes_per_s == doctest::Approx(2.4e12));
  const auto& h100 = find_gpu("h100-sxm");
  CHECK(h100.bf16_flops == doctest::Approx(989e12));
  CHECK(h100.fp8_flops == doctest::Approx(1979e12));
  CHECK(h100.nvlink_bytes_per_s == doctest::Approx(900e9));
  CHECK(h100.hbm_bytes_per_s == doctest::Approx(3.35e12));
  CHECK(find_gpu("h800-sxm").nvlink_bytes_per_s == doctest::Approx(400e9));
  CHECK(find_gpu("a100-sxm-80gb").fp8_flops == 0);
  CHECK(find_gpu("l40s").nvlink_bytes_per_s == 0);
  CHECK(find_gpu("b200").bf16_flops == doctest::Approx(2250e12));
  CHECK(find_gpu("b200").fp4_flops == doctest::Approx(9000e12));
  CHECK(h100.fp4_flops == 0);
  CHECK(find_gpu("mi300x").memory_bytes / k_gib == doctest::Approx(192).epsilon(0.01));
  CHECK(find_gpu("h200-sxm").memory_bytes / 1e9 == doctest::Approx(150.8).epsilon(0.01));
  CHECK(input_error_of([] { (void)find_gpu("h100-smx"); })
            .rfind("unknown GPU 'h100-smx' (did you mean 'h100-sxm'?)", 0) == 0);
}

TEST_CASE("cluster::shorthand_cluster takes the usual node's fabric") {
  const auto h100 = shorthand_cluster(4, 8, "h100-sxm", std::nullopt, std::nullopt);
  CHECK(h100.total_gpus() == 32);
  CHECK(h100.groups[0].nics_per_node == 8);
  CHECK(h100.groups[0].nic_gbps == 400);
  CHECK(h100.groups[0].nic_bytes_per_s_per_gpu() == doctest::Approx(50e9));
  CHECK(h100.groups[0].nvlink_domain == 8);
  const auto a100 = shorthand_cluster(2, 8, "a100-sxm-80gb", std::nullopt, std::nullopt);
  CHECK(a100.groups[0].nics_per_node == 8);
  CHECK(a100.groups[0].nic_gbps == 200);
  const auto l40s = shorthand_cluster(1, 8, "l40s", std::nullopt, std::nullopt);
  CHECK(l40s.groups[0].nics_per_node == 4);
  CHECK(l40s.groups[0].nvlink_domain == 1);
  const auto custom = shorthand_cluster(2, 4, "h100-sxm", 2, 200.0);
  CHECK(custom.groups[0].nics_per_node == 2);
  CHECK(custom.groups[0].nic_gbps == 200);
  CHECK(custom.groups[0].gpus_per_node == 4);
  CHECK(input_error_of([] { (void)shorthand_cluster(0, 8, "h100-sxm", std::nullopt, std::nullopt); }) ==
        "--nodes must be > 0 (got 0)");
  CHECK(input_error_of([] { (void)shorthand_cluster(1, 8, "h100-sxm", std::nullopt, -1.0); }) ==
        "--nic-gbps must be a finite number > 0 (got -1)");
  CHECK(input_error_of([] { (void)shorthand_cluster(1, 8, "h100-sxm", std::nullopt, INFINITY); }) ==
        "--nic-gbps must be a finite number > 0 (got inf)");
}

TEST_CASE("cluster::select_cluster") {
  ClusterChoice choice;
  CHECK(select_cluster(choice, "h200-node").name == "h200-node");
  choice.nodes = 2;
  CHECK(input_error_of([&] { (void)select_cluster(choice, "h200-node"); }).find("needs --nodes and --gpu") !=
        std::string::npos);
  choice.gpu = "h200-sxm";
  CHECK(select_cluster(choice, "x").total_gpus() == 16);
  choice.cluster = "selene";
  CHECK(input_error_of([&] { (void)select_cluster(choice, "x"); }).find("cannot be combined") != std::string::npos);
}

TEST_CASE("cluster::select_cluster with --cluster and --nodes: the first N nodes") {
  ClusterChoice choice;
  choice.cluster = "selene"; // 560 DGX A100 nodes
  choice.nodes = 12;
  const auto part = select_cluster(choice, "x");
  CHECK(part.total_gpus() == 96);
  CHECK(part.name == "selene");
  choice.nodes = 561;
  CHECK(input_error_of([&] { (void)select_cluster(choice, "x"); }) ==
        "--nodes 561: cluster 'selene' has 560 nodes (expected 1 to 560: --nodes with --cluster plans on the "
        "first N nodes of the cluster)");
  // Mixed clusters: group by group in the file's order, empty groups dropped, hosts cut.
  const auto mixed = parse(R"(name: lab
node_groups:
  - {name: a, nodes: 2, gpu: h100-sxm, gpus_per_node: 8, hosts: [a0, a1]}
  - {name: b, nodes: 3, gpu: a100-sxm-80gb, gpus_per_node: 8}
)");
  const auto one = first_nodes(mixed, 1);
  REQUIRE(one.groups.size() == 1);
  CHECK(one.groups[0].hosts == std::vector<std::string>{"a0"});
  CHECK(one.groups[0].nvlink_domain == 8);
  const auto three = first_nodes(mixed, 3);
  REQUIRE(three.groups.size() == 2);
  CHECK(three.groups[1].nodes == 1);
  CHECK(three.total_gpus() == 24);
}

TEST_CASE("cluster sizes are bounded in 64-bit arithmetic where they are read") {
  // 5,000,000 × 1,000,000 GPUs once wrapped around 32 bits to "658067456 GPUs".
  CHECK(input_error_of([] { (void)shorthand_cluster(5'000'000, 8, "h100-sxm", std::nullopt, std::nullopt); }) ==
        "--nodes 5,000,000 is more than brix plans (expected at most 1,000,000)");
  CHECK(input_error_of([] { (void)shorthand_cluster(1'000'000, 4096, "h100-sxm", std::nullopt, std::nullopt); }) ==
        "--nodes × --gpus-per-node = 4,096,000,000 GPUs is more than brix plans (expected at most 10,000,000)");
  CHECK(input_error_of([] {
          (void)parse("name: c\nnode_groups:\n  - {nodes: 1000000, gpu: h100-sxm, gpus_per_node: 1000000}\n");
        }) == "c.yaml:3: gpus_per_node=1000000 is implausibly large (at most 4096)");
  CHECK(input_error_of([] {
          (void)parse("name: c\nnode_groups:\n  - {nodes: 1000000, gpu: h100-sxm, gpus_per_node: 4096}\n");
        }).find("c.yaml:3: 1000000 nodes × 4096 GPUs is more GPUs than brix plans") == 0);
  // A plan file's shorthand names its own keys, not options the user never gave.
  CHECK(input_error_of([] { (void)load_cluster("shorthand:nodes=-1,gpus_per_node=8,gpu=h100-sxm"); }) ==
        "cluster 'shorthand:nodes=-1,gpus_per_node=8,gpu=h100-sxm': nodes must be > 0 (got -1)");
  CHECK(input_error_of([] { (void)load_cluster("shorthand:nodes=99999999999,gpus_per_node=8,gpu=h100-sxm"); }) ==
        "cluster 'shorthand:nodes=99999999999,gpus_per_node=8,gpu=h100-sxm': nodes 99,999,999,999 is more than brix "
        "plans (expected at most 1,000,000)");
}

TEST_CASE("cluster::cluster_from_document") {
  const auto cluster = parse(R"(name: lab
network: {shape: fat-tree, oversubscription: 2}
storage: {write_gb_per_s: 20, read_gb_per_s: 40}
node_groups:
  - name: big
    nodes: 2
    gpu: h100-sxm
    gpus_per_node: 8
    gpu_overrides: {memory_gib: 80, bf16_tflops: 900}
    nvlink: {domain: 4, gb_per_s: 450}
    nics: {count: 4, gbps: 200}
    measured: {intra_busbw_gb_per_s: 400, inter_busbw_gb_per_s: 20}
    hosts: [a, b]
    topology: {numa: 2}
  - nodes: 1
    gpu: a100-sxm-40gb
    gpus_per_node: 4
)");
  CHECK(cluster.name == "lab");
  CHECK(cluster.network == NetworkShape::fat_tree);
  CHECK(cluster.oversubscription == 2);
  CHECK(cluster.storage_read_bytes_per_s == doctest::Approx(40e9));
  CHECK(cluster.total_gpus() == 20);
  CHECK_FALSE(cluster.homogeneous());
  const auto& big = cluster.groups[0];
  CHECK(big.gpu.memory_bytes == doctest::Approx(80 * k_gib));
  CHECK(big.gpu.bf16_flops == doctest::Approx(900e12));
  CHECK(big.gpu.fp8_flops == doctest::Approx(1979e12)); // not overridden
  CHECK(big.nvlink_domain == 4);
  CHECK(big.nvlink_bytes_per_s == doctest::Approx(450e9));
  CHECK(big.nic_bytes_per_s_per_gpu() == doctest::Approx(4 * 200e9 / 8 / 8));
  CHECK(big.measured_inter_busbw == doctest::Approx(20e9));
  CHECK(big.hosts.size() == 2);
  CHECK(big.topology_yaml.find("numa") != std::string::npos);
  CHECK(cluster.groups[1].name == "group1");
  CHECK(cluster.groups[1].nics_per_node == 4); // one 200 Gb/s adapter per A100
}

TEST_CASE("cluster::cluster_from_document errors") {
  CHECK(input_error_of([] { (void)parse("name: x\nnode_groups: []\n"); }) ==
        "c.yaml:2: node_groups is empty (at least one node group)");
  CHECK(input_error_of([] { (void)parse("name: x\nnode_group: []\n"); }) ==
        "c.yaml:2: unknown key 'node_group' in the cluster file (did you mean 'node_groups'?)");
  CHECK(input_error_of([] {
          (void)parse("node_groups:\n  - nodes: 1\n    gpu: h100-sxm\n    gpus_per_node: 0\n");
        }) == "c.yaml:4: gpus_per_node must be > 0 (got 0)");
  CHECK(input_error_of([] {
          (void)parse("node_groups:\n  - nodes: 1\n    gpu: h100-sxm\n    gpus_per_node: 8\n    nics: {count: 8, gbs: 400}\n");
        }) == "c.yaml:5: unknown key 'gbs' in nics (did you mean 'gbps'?)");
  CHECK(input_error_of([] {
          (void)parse("network: {shape: rail}\nnode_groups:\n  - nodes: 1\n    gpu: h100-sxm\n    gpus_per_node: 8\n");
        }).rfind("c.yaml:1: unknown network shape 'rail'", 0) == 0);
  CHECK(input_error_of([] {
          (void)parse("node_groups:\n  - nodes: 2\n    gpu: h100-sxm\n    gpus_per_node: 8\n    hosts: [a]\n");
        }) == "c.yaml:5: 1 hosts listed for nodes=2 (one host per node)");
  CHECK(input_error_of([] {
          (void)parse("node_groups:\n  - nodes: 1\n    gpu: h100-sxm\n    gpus_per_node: 8\n    gpu_overrides: {memory_gib: -80}\n");
        }) == "c.yaml:5: memory_gib must be > 0 (got -80)");
}

TEST_CASE("cluster::load_cluster bundled files") {
  const auto example = load_cluster("example-deployment");
  REQUIRE(example.groups.size() == 2);
  CHECK(example.groups[0].gpu.id == "h100-sxm");
  CHECK(example.groups[0].gpus() == 32);
  CHECK(example.groups[1].gpu.id == "a100-sxm-80gb");
  CHECK(example.groups[1].gpus() == 128);
  CHECK(example.groups[1].nic_gbps == 100);
  CHECK(example.storage_write_bytes_per_s == doctest::Approx(200e9));
  CHECK(load_cluster("selene").groups[0].nics_per_node == 8);
  CHECK(load_cluster("dgx-h100-superpod").total_gpus() == 256);
  const auto h800 = load_cluster("h800-2048");
  CHECK(h800.total_gpus() == 2048);
  CHECK(h800.groups[0].measured_inter_busbw == doctest::Approx(50e9));
  CHECK(load_cluster("h200-node").total_gpus() == 8);
  CHECK(load_cluster("example-annotated").groups.size() == 2);
  CHECK(input_error_of([] { (void)load_cluster("selen"); }).find("did you mean 'selene'") != std::string::npos);
}
