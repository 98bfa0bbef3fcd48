#include <support/probe_fixtures.hpp>

#include <brix/plan/plan_file.hpp>
#include <brix/probe/report_json.hpp>
#include <brix/shard/nodes.hpp>
#include <brix/shard/rank_map.hpp>
#include <brix/shard/rank_generator.hpp>
#include <brix/util/document.hpp>
#include <brix/util/error.hpp>
#include <brix/util/output.hpp>
#include <brix/util/strings.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <fmt/format.h>
#include <map>

using namespace brix::shard;
using brix::InputError;

namespace {

const std::string k_fixture = std::string(BRIX_TEST_SOURCE_DIR) + "/tests/fixtures/shard/dgx-h100-pair.yaml";

brix::plan::PlanFile plan_of(const std::string& layout, std::int64_t accumulation = 8) {
  return brix::plan::parse_plan_file(
      fmt::format("brix_plan: 1\nmodel: {{name: m, source: m.json}}\ncluster: {{name: c, source: c.yaml}}\n"
                  "seq_len: 4096\nlayout: {}\nbatch: {{global: {}, micro: 1, accumulation: {}}}\n",
                  layout, accumulation * std::stoi(layout.substr(layout.find("dp: ") + 4)), accumulation),
      "plan.yaml");
}

const std::string* env_of(const RankPlacement& rank, const std::string& key) {
  for (const auto& [name, value] : rank.env) {
    if (name == key) {
      return &value;
    }
  }
  return nullptr;
}

/// A node with `gpus` GPUs on two sockets and the adapters given as "gpu:nic:path" triples.
ClusterNode synthetic_node(const std::string& name, const std::string& topology_yaml, int gpus) {
  const auto doc = brix::util::DocNode::load_string(topology_yaml, name + ".yaml");
  ClusterNode node;
  node.name = name;
  node.named = true;
  node.group = "g";
  node.gpus = gpus;
  node.topology = std::make_shared<const NodeTopology>(read_topology(doc));
  return node;
}

/// A node as `brix probe --topology FIXTURE --format yaml` describes it, read back by shard.
ClusterNode probed_node(const std::string& fixture, const std::string& host) {
  const auto yaml = brix::util::to_yaml(brix::probe::report_to_json(brix::test::probe_fixture(fixture, host)));
  auto node = synthetic_node(host, yaml, 0);
  node.gpus = static_cast<int>(node.topology->gpus.size());
  return node;
}

} // namespace

TEST_CASE("shard::build_rank_map passes over an adapter whose port is down") {
  // dgx-h100-faulty.xml: mlx5_3, the adapter beside GPU 3, is DOWN.
  const auto faulty = probed_node("dgx-h100-faulty.xml", "f1");
  REQUIRE(faulty.topology->find_nic("mlx5_3") != nullptr);
  CHECK(faulty.topology->find_nic("mlx5_3")->down());
  CHECK_FALSE(faulty.topology->find_nic("mlx5_2")->down());
  const auto healthy = probed_node("dgx-h100.xml", "h1");
  const auto map = build_rank_map(plan_of("{tp: 8, pp: 1, dp: 2}"), {faulty, healthy}, parse_order("tp-cp-ep-dp-pp"), 8);
  const auto& r3 = map.ranks[3];
  CHECK(r3.gpu == 3);
  REQUIRE_FALSE(r3.nics.empty());
  for (const auto& name : r3.nics) {
    CHECK(name != "mlx5_3");
    CHECK_FALSE(faulty.topology->find_nic(name)->down());
  }
  REQUIRE(env_of(r3, "NCCL_IB_HCA") != nullptr);
  CHECK(env_of(r3, "NCCL_IB_HCA")->find("mlx5_3") == std::string::npos);
  // The other GPUs keep their own adapter; the same GPU on the healthy node keeps mlx5_3.
  CHECK(map.ranks[2].nics == std::vector<std::string>{"mlx5_2"});
  CHECK(map.ranks[11].nics == std::vector<std::string>{"mlx5_3"});
  REQUIRE_FALSE(map.findings.empty());
  CHECK(map.findings[0].check == "adapter-down");
  CHECK(map.findings[0].message.starts_with("f1: adapter mlx5_3 port 1 is DOWN; its ranks use the next-nearest "
                                            "active adapters: rank 3 (GPU 3) -> "));
  for (const auto& finding : map.findings) {
    CHECK(finding.message.find("h1: adapter") == std::string::npos);
  }
}

TEST_CASE("shard::build_rank_map on two DGX H100 nodes") {
  const auto nodes = load_nodes({k_fixture});
  REQUIRE(nodes.size() == 2);
  CHECK(nodes[1].name == "dgx-b");
  const auto plan = plan_of("{tp: 4, pp: 2, dp: 2, ep: 4}");
  const auto map = build_rank_map(plan, nodes, parse_order("tp-cp-ep-dp-pp"), 10);
  REQUIRE(map.ranks.size() == 16);
  const auto& r5 = map.ranks[5];
  CHECK(r5.node == 0);
  CHECK(r5.gpu == 5);
  CHECK(r5.tp == 1);
  CHECK(r5.dp == 1);
  CHECK(r5.pp == 0);
  CHECK(r5.ep == 1);
  CHECK(r5.expert_dp == 1);
  CHECK(r5.groups.tp == std::vector<int>{4, 5, 6, 7});
  CHECK(r5.groups.dp == std::vector<int>{1, 5});
  CHECK(r5.groups.pp == std::vector<int>{5, 13});
  CHECK(r5.groups.embedding == std::vector<int>{5, 13});
  CHECK(r5.groups.ep == std::vector<int>{4, 5, 6, 7});
  CHECK(r5.groups.expert_dp == std::vector<int>{1, 5});
  REQUIRE(r5.stages.size() == 1);
  CHECK(r5.stages[0].first_layer == 0);
  CHECK(r5.stages[0].last_layer == 4);
  CHECK(map.ranks[13].stages[0].first_layer == 5);
  CHECK(map.ranks[13].node == 1);
  // Topology: GPU 5 sits on NUMA node 1 with three other GPUs: a quarter of its CPUs, whole cores.
  CHECK(r5.numa_node == 1);
  CHECK(r5.cpus == "70-83,182-195");
  CHECK(map.ranks[0].cpus == "0-13,112-125");
  CHECK(r5.nics == std::vector<std::string>{"mlx5_5"});
  CHECK(r5.nic_path == static_cast<int>(PathClass::pxb));
  REQUIRE(env_of(r5, "NCCL_IB_HCA") != nullptr);
  CHECK(*env_of(r5, "NCCL_IB_HCA") == "=mlx5_5:1");
  CHECK(*env_of(r5, "LOCAL_RANK") == "5");
  CHECK(*env_of(r5, "CUDA_VISIBLE_DEVICES") == "0,1,2,3,4,5,6,7");
  CHECK(r5.bind == "numactl --physcpubind=70-83,182-195 --membind=1");
  CHECK(map.findings.empty());
  CHECK(slurm_hostfile(map) == "dgx-a\ndgx-a\ndgx-a\ndgx-a\ndgx-a\ndgx-a\ndgx-a\ndgx-a\n"
                               "dgx-b\ndgx-b\ndgx-b\ndgx-b\ndgx-b\ndgx-b\ndgx-b\ndgx-b\n");
}

TEST_CASE("shard::build_rank_map takes Megatron's pp-before-dp order for a dense model") {
  // Llama-3.1-8B-like: tp 2, pp 2, dp 4 on 16 GPUs, order tp-cp-ep-pp-dp. Megatron defaults
  // expert-TP to TP for a dense model, so its dense and expert pipeline groups agree.
  const auto nodes = load_nodes({k_fixture});
  const auto plan = plan_of("{tp: 2, pp: 2, dp: 4}");
  const auto map = build_rank_map(plan, nodes, parse_order("tp-cp-ep-pp-dp"), 8, false);
  REQUIRE(map.ranks.size() == 16);
  // rank = tp + 2·(pp + 2·dp): rank 6 is tp 0, pp 1, dp 1.
  const auto& r6 = map.ranks[6];
  CHECK(r6.tp == 0);
  CHECK(r6.pp == 1);
  CHECK(r6.dp == 1);
  CHECK(r6.groups.tp == std::vector<int>{6, 7});
  CHECK(r6.groups.pp == std::vector<int>{4, 6});
  CHECK(r6.groups.dp == std::vector<int>{2, 6, 10, 14});
  CHECK(r6.groups.expert_tp == r6.groups.tp);
  CHECK(r6.groups.ep == std::vector<int>{6});
  // The same layout for a model with experts keeps the plan's etp 1: Megatron refuses that order.
  CHECK_THROWS_WITH_AS(build_rank_map(plan, nodes, parse_order("tp-cp-ep-pp-dp"), 8, true),
                       doctest::Contains("the pipeline groups of the dense and the expert layers differ"), InputError);
}

TEST_CASE("shard::build_rank_map interleaved stages") {
  const auto nodes = load_nodes({k_fixture});
  const auto plan = plan_of("{tp: 2, pp: 4, dp: 2, vpp: 2, schedule: interleaved}");
  const auto map = build_rank_map(plan, nodes, parse_order("tp-cp-ep-dp-pp"), 16);
  // Rank 4 is pp rank 1: virtual stages 1 and 5 of 8 (two layers each).
  const auto& rank = map.ranks[4];
  CHECK(rank.pp == 1);
  REQUIRE(rank.stages.size() == 2);
  CHECK(rank.stages[0].stage == 1);
  CHECK(rank.stages[0].first_layer == 2);
  CHECK(rank.stages[1].stage == 5);
  CHECK(rank.stages[1].first_layer == 10);
  CHECK(rank.stages[1].last_layer == 11);
}

TEST_CASE("shard::build_rank_map checks") {
  const auto nodes = load_nodes({k_fixture});
  SUBCASE("more ranks than GPUs") {
    CHECK_THROWS_WITH_AS(build_rank_map(plan_of("{tp: 8, pp: 2, dp: 2}"), nodes, parse_order("tp-cp-ep-dp-pp"), 8),
                         "plan.yaml: the plan needs 32 ranks (tp 8 × cp 1 × dp 2 × pp 2) but the nodes have 16 "
                         "GPUs (2 nodes)",
                         InputError);
  }
  SUBCASE("tensor parallel across nodes, idle GPUs") {
    const auto map = build_rank_map(plan_of("{tp: 4, pp: 1, dp: 3}"), nodes, parse_order("dp-tp"), 8);
    // dp fastest: rank = dp + 3·tp, so every TP group {d, d+3, d+6, d+9} reaches rank 8+.
    REQUIRE(map.findings.size() == 3);
    CHECK(map.findings[0].check == "tp-across-nodes");
    CHECK(map.findings[0].message.starts_with("3 of 3 tensor-parallel groups span nodes (e.g. ranks 0,3,6,9 on dgx-a, dgx-b)"));
    // dgx-b hosts ranks 8-11 only: adapters 0-3 serve one rank each, 4-7 none.
    CHECK(map.findings[1].check == "adapters-uneven");
    CHECK(map.findings[1].message.starts_with("dgx-b: compute adapters serve different numbers of ranks (mlx5_0 1, "));
    CHECK(map.findings[2].check == "idle-gpus");
    CHECK(map.findings[2].message == "4 of 16 GPUs stay idle (the plan has 12 ranks)");
  }
  SUBCASE("adapter across the socket and uneven sharing") {
    // Two adapters on socket 0; GPUs 2 and 3 live on socket 1.
    const std::string topology = R"(
brix_probe: 1
host: n0
gpus:
  - {index: 0, model: H100, numa_node: 0, cpus: "0-7", nearest_nics: [{name: ib0, path: PIX}, {name: ib1, path: NODE}]}
  - {index: 1, model: H100, numa_node: 0, cpus: "0-7", nearest_nics: [{name: ib1, path: PIX}, {name: ib0, path: NODE}]}
  - {index: 2, model: H100, numa_node: 1, cpus: "8-15", nearest_nics: [{name: ib0, path: SYS}, {name: ib1, path: SYS}]}
  - {index: 3, model: H100, numa_node: 1, cpus: "8-15", nearest_nics: [{name: ib1, path: SYS}]}
nics:
  - {name: ib0, numa_node: 0, compute: true}
  - {name: ib1, numa_node: 0, compute: true, ports: [{number: 2}]}
)";
    const auto node = synthetic_node("n0", topology, 4);
    const auto map = build_rank_map(plan_of("{tp: 1, pp: 1, dp: 4}"), {node}, parse_order("tp-cp-ep-dp-pp"), 4);
    CHECK(map.ranks[2].nics == std::vector<std::string>{"ib0", "ib1"});
    CHECK(*env_of(map.ranks[2], "NCCL_IB_HCA") == "=ib0:1,ib1:2");
    CHECK(map.ranks[2].cpus == "8-11");
    CHECK(map.ranks[3].cpus == "12-15");
    REQUIRE(map.findings.size() == 2);
    CHECK(map.findings[0].check == "adapter-across-socket");
    CHECK(map.findings[0].message ==
          "2 GPU(s) reach their nearest adapter only across the CPU socket (SYS): n0 GPU 2 -> "
          "ib0+ib1; n0 GPU 3 -> ib1");
    CHECK(map.findings[1].check == "adapters-uneven");
    CHECK(map.findings[1].message.starts_with("n0: compute adapters serve different numbers of ranks (ib0 2, ib1 3)"));
  }
  SUBCASE("no hosts: no hostfile") {
    auto unnamed = nodes;
    unnamed[0].named = false;
    const auto map = build_rank_map(plan_of("{tp: 8, pp: 1, dp: 1}"), unnamed, parse_order("tp-cp-ep-dp-pp"), 8);
    CHECK_THROWS_AS((void)slurm_hostfile(map), InputError);
  }
}

TEST_CASE("shard::read_topology errors") {
  const std::string head = "brix_probe: 1\nhost: n\ngpus:\n  - {index: 0, model: H100, ";
  const auto bad_path = brix::util::DocNode::load_string(
      head + "nearest_nics: [{name: ib0, path: FAR}]}\nnics: [{name: ib0}]\n", "t.yaml");
  CHECK_THROWS_WITH_AS(read_topology(bad_path), "t.yaml:4: unknown path class 'FAR' (PIX, PXB, PHB, NODE or SYS)",
                       InputError);
  const auto unknown_nic = brix::util::DocNode::load_string(
      head + "nearest_nics: [{name: ib9, path: PIX}]}\nnics: [{name: ib0}]\n", "t.yaml");
  CHECK_THROWS_WITH_AS(read_topology(unknown_nic), "t.yaml:4: GPU 0 lists adapter 'ib9' that is not under nics",
                       InputError);
  const auto bad_cpus = brix::util::DocNode::load_string(head + "cpus: \"3-1\"}\n", "t.yaml");
  CHECK_THROWS_WITH_AS(read_topology(bad_cpus), "t.yaml:4: cpus '3-1' is not a CPU list (like 0-55,112-167)", InputError);
  const auto no_version = brix::util::DocNode::load_string("host: n\ngpus: []\n", "t.yaml");
  CHECK_THROWS_WITH_AS(read_topology(no_version), doctest::Contains("missing key 'brix_probe'"), InputError);
}

namespace {

using RankGroupList = std::vector<std::vector<int>>;

/// Megatron-LM's generate_masked_orthogonal_rank_groups, written again here from its description
/// so brix's RankGenerator is compared with something it does not share code with: the world is
/// a mixed-radix number over `sizes` (first fastest); the masked dimensions enumerate the members
/// of a group, the unmasked ones enumerate the groups, each in the given order.
RankGroupList megatron_masked_groups(const std::vector<int>& sizes, const std::vector<bool>& mask) {
  std::vector<int> stride(sizes.size(), 1);
  for (std::size_t d = 1; d < sizes.size(); ++d) {
    stride[d] = stride[d - 1] * sizes[d - 1];
  }
  const int world = stride.back() * sizes.back();
  std::vector<int> masked_size, masked_stride, free_size, free_stride;
  for (std::size_t d = 0; d < sizes.size(); ++d) {
    (mask[d] ? masked_size : free_size).push_back(sizes[d]);
    (mask[d] ? masked_stride : free_stride).push_back(stride[d]);
  }
  // index → digits over `shape` (first fastest) → Σ digit · stride
  const auto place = [](int index, const std::vector<int>& shape, const std::vector<int>& strides) {
    int rank = 0;
    for (std::size_t d = 0; d < shape.size(); ++d) {
      rank += (index % shape[d]) * strides[d];
      index /= shape[d];
    }
    return rank;
  };
  int group_size = 1;
  for (const int size : masked_size) {
    group_size *= size;
  }
  RankGroupList groups;
  for (int group = 0; group < world / group_size; ++group) {
    std::vector<int> members;
    for (int member = 0; member < group_size; ++member) {
      members.push_back(place(member, masked_size, masked_stride) + place(group, free_size, free_stride));
    }
    groups.push_back(std::move(members));
  }
  return groups;
}

/// Megatron-LM's RankGenerator.get_ranks: `order` names some of tp, cp, ep, dp, pp (the rest, of
/// size 1, are appended); `token` names the masked ones, "dp-cp" style.
RankGroupList megatron_get_ranks(const std::string& order, std::map<std::string, int> sizes, const std::string& token) {
  auto names = brix::util::split(order, '-');
  for (const std::string name : {"tp", "cp", "ep", "dp", "pp"}) {
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      REQUIRE(sizes.at(name) == 1);
      names.push_back(name);
    }
  }
  const auto wanted = brix::util::split(token, '-');
  std::vector<int> ordered;
  std::vector<bool> mask;
  for (const auto& name : names) {
    ordered.push_back(sizes.at(name));
    mask.push_back(std::find(wanted.begin(), wanted.end(), name) != wanted.end());
  }
  return megatron_masked_groups(ordered, mask);
}

const std::vector<int>& group_holding(const RankGroupList& groups, int rank) {
  for (const auto& group : groups) {
    if (std::find(group.begin(), group.end(), rank) != group.end()) {
      return group;
    }
  }
  FAIL("rank ", rank, " is in no group");
  return groups.front();
}

} // namespace

TEST_CASE("shard::build_rank_map groups equal Megatron-LM's for several layouts") {
  struct Case {
    std::string layout;
    std::string order;
    bool moe;
    std::int64_t layers;
  };
  const Case cases[] = {
      {"{tp: 2, cp: 2, pp: 2, dp: 2}", "tp-cp-ep-dp-pp", false, 8},
      {"{tp: 2, pp: 2, dp: 4, ep: 4}", "tp-cp-ep-dp-pp", true, 8},
      {"{tp: 4, pp: 2, dp: 2, ep: 2, etp: 2}", "tp-cp-ep-dp-pp", true, 8},
      {"{tp: 2, cp: 2, pp: 1, dp: 4, ep: 4, etp: 1}", "tp-cp-ep-dp-pp", true, 8},
      {"{tp: 2, pp: 4, dp: 2, vpp: 2, schedule: interleaved}", "tp-cp-ep-dp-pp", false, 16},
      {"{tp: 2, pp: 2, dp: 4}", "tp-cp-ep-pp-dp", false, 8},
      {"{tp: 2, pp: 2, dp: 4, ep: 2, etp: 1}", "tp-cp-ep-pp-dp", true, 8},
      {"{tp: 1, cp: 2, pp: 2, dp: 4, ep: 2}", "tp-cp-ep-pp-dp", true, 8},
  };
  for (const auto& c : cases) {
    CAPTURE(c.layout);
    CAPTURE(c.order);
    const auto plan = plan_of(c.layout);
    const auto& layout = plan.layout;
    ClusterNode node;
    node.name = "n";
    node.group = "g";
    node.gpus = layout.world();
    const auto map = build_rank_map(plan, {node}, parse_order(c.order), c.layers, c.moe);
    // Megatron: dense groups over (tp, cp, dp, pp); expert groups over (etp, ep, expert-dp, pp) with
    // etp = tp when the model has no experts (the flag is not passed) and cp folded into expert-dp.
    const int etp = c.moe ? layout.etp : layout.tp;
    const int ep = c.moe ? layout.ep : 1;
    const std::map<std::string, int> dense{{"tp", layout.tp}, {"cp", layout.cp}, {"ep", 1}, {"dp", layout.dp},
                                           {"pp", layout.pp}};
    const std::map<std::string, int> expert{{"tp", etp}, {"cp", 1}, {"ep", ep},
                                            {"dp", layout.world() / (etp * ep * layout.pp)}, {"pp", layout.pp}};
    REQUIRE(static_cast<int>(map.ranks.size()) == layout.world());
    for (const auto& rank : map.ranks) {
      CAPTURE(rank.rank);
      CHECK(rank.groups.tp == group_holding(megatron_get_ranks(c.order, dense, "tp"), rank.rank));
      CHECK(rank.groups.cp == group_holding(megatron_get_ranks(c.order, dense, "cp"), rank.rank));
      CHECK(rank.groups.dp == group_holding(megatron_get_ranks(c.order, dense, "dp"), rank.rank));
      CHECK(rank.groups.dp_cp == group_holding(megatron_get_ranks(c.order, dense, "dp-cp"), rank.rank));
      CHECK(rank.groups.pp == group_holding(megatron_get_ranks(c.order, dense, "pp"), rank.rank));
      CHECK(rank.groups.ep == group_holding(megatron_get_ranks(c.order, expert, "ep"), rank.rank));
      CHECK(rank.groups.expert_tp == group_holding(megatron_get_ranks(c.order, expert, "tp"), rank.rank));
      CHECK(rank.groups.expert_dp == group_holding(megatron_get_ranks(c.order, expert, "dp"), rank.rank));
    }
  }
}
