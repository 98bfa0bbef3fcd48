// Node-level expert dispatch (DeepEP, HybridEP) only on GPUs that have its kernels: compute
// capability 9.0 and newer. Below it the planner costs, reports and emits NCCL's all-to-all.
#include <brix/cluster/gpu_catalog.hpp>
#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/plan/group_costs.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/plan/physics.hpp>
#include <brix/plan/search.hpp>
#include <brix/plan/plan_run.hpp>
#include <brix/plan/emit_targets.hpp>
#include <brix/plan/calibration.hpp>
#include <brix/probe/gpu_models.hpp>
#include <brix/util/error.hpp>
#include <brix/util/progress.hpp>

#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>

using namespace brix;
using namespace brix::plan;

namespace {

cluster::ClusterSpec nodes_of(const std::string& gpu, int nodes) {
  return cluster::shorthand_cluster(nodes, 8, gpu, std::nullopt, std::nullopt);
}

/// Qwen3-30B-A3B on two nodes with EP 16 fixed: the expert all-to-all crosses the network.
PlanReport qwen3_report(const std::string& gpu, const std::string& emit = "") {
  PlanRequest request;
  request.model = "qwen3-30b-a3b";
  request.cluster.nodes = 2;
  request.cluster.gpu = gpu;
  request.global_batch = 64;
  request.layout = "tp=1,pp=1,dp=16,ep=16,recompute=selective";
  request.emit = emit;
  util::NoProgress progress;
  return run_plan(request, progress);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

} // namespace

TEST_CASE("cluster::gpu_catalog compute capabilities agree with the probe's GPU models") {
  // Every model the probe maps to a catalog id states the same capability the planner reads.
  for (const char* name : {"NVIDIA A100-SXM4-80GB", "NVIDIA A100-SXM4-40GB", "NVIDIA H100 80GB HBM3", "NVIDIA H200",
                           "NVIDIA H800", "NVIDIA H20", "NVIDIA B200", "NVIDIA L40S"}) {
    const auto info = probe::gpu_model_info(name);
    REQUIRE_MESSAGE(info.has_value(), name);
    const auto& spec = cluster::find_gpu(info->catalog_id);
    CHECK_MESSAGE(fmt::format("{}.{}", spec.compute_capability / 10, spec.compute_capability % 10) ==
                      info->compute_capability,
                  name);
  }
  for (const auto& spec : cluster::gpu_catalog()) {
    CHECK_MESSAGE((spec.compute_capability == 0 || spec.compute_capability >= 70), spec.id);
  }
  CHECK(cluster::find_gpu("mi300x").compute_capability == 0);
}

TEST_CASE("plan::software_on keeps node-level dispatch only where every GPU has its kernels") {
  const auto modern = software_by_name("modern");
  REQUIRE(modern.hierarchical_all_to_all);
  CHECK(software_on(modern, nodes_of("h100-sxm", 2)).hierarchical_all_to_all);
  CHECK(software_on(modern, nodes_of("gb200", 2)).hierarchical_all_to_all);
  CHECK_FALSE(software_on(modern, nodes_of("a100-sxm-80gb", 2)).hierarchical_all_to_all);
  CHECK_FALSE(software_on(modern, nodes_of("l40s", 2)).hierarchical_all_to_all);
  CHECK_FALSE(software_on(modern, nodes_of("mi300x", 2)).hierarchical_all_to_all);
  CHECK(node_level_dispatch_problem(nodes_of("h100-sxm", 2)).empty());
  CHECK(node_level_dispatch_problem(nodes_of("mi300x", 1)) ==
        "node group 'mi300x' (MI300X 192GB, not an NVIDIA GPU) has no DeepEP/HybridEP internode kernels (they need "
        "compute capability 9.0 or newer)");
  // A job has one dispatcher: the example deployment's A100 group takes it from the H100 group too.
  const auto mixed = cluster::load_cluster("example-deployment");
  CHECK_FALSE(software_on(modern, mixed).hierarchical_all_to_all);
  CHECK(node_level_dispatch_problem(mixed) ==
        "node group 'a100-edr' (A100 SXM 80GB, compute capability 8.0) has no DeepEP/HybridEP internode kernels (they "
        "need compute capability 9.0 or newer)");
}

TEST_CASE("plan::group_cost_context costs NCCL's all-to-all on A100 whatever the options ask") {
  const auto model = model::load_model("qwen3-30b-a3b");
  const auto a100 = nodes_of("a100-sxm-80gb", 2);
  SearchOptions options;
  options.shape = {64, 4096};
  options.software = software_by_name("modern");
  const auto layout = parse_layout("tp=1,pp=1,dp=16,ep=16,recompute=selective");
  const auto asked = group_cost_context(model, a100, a100.groups.front(), options);
  CHECK_FALSE(asked.software.hierarchical_all_to_all);
  auto flat = options;
  flat.software.hierarchical_all_to_all = false;
  const auto plain = group_costs(model, a100, a100.groups.front(), layout, flat, 1);
  const auto costed = group_costs(model, a100, a100.groups.front(), layout, options, 1);
  CHECK(costed.moe_s == plain.moe_s);
  CHECK(costed.moe_ep_network_s == plain.moe_ep_network_s);
  // On H100 the same options keep DeepEP's dispatch, which sends less over the network.
  const auto h100 = nodes_of("h100-sxm", 2);
  CHECK(group_cost_context(model, h100, h100.groups.front(), options).software.hierarchical_all_to_all);
  const auto node_level = group_costs(model, h100, h100.groups.front(), layout, options, 1);
  const auto h100_flat = group_costs(model, h100, h100.groups.front(), layout, flat, 1);
  CHECK(node_level.moe_ep_network_s < h100_flat.moe_ep_network_s);
}

TEST_CASE("plan::search_layouts costs NCCL's all-to-all on A100 with bare options too (the recover planner's)") {
  const auto model = model::load_model("qwen3-30b-a3b");
  const auto a100 = nodes_of("a100-sxm-80gb", 2);
  SearchOptions bare;
  bare.shape = {64, 4096};
  bare.top_k = 1;
  bare.fixed = parse_layout_query("tp=1,pp=1,dp=16,ep=16,recompute=selective");
  REQUIRE(bare.software.hierarchical_all_to_all);
  auto flat = bare;
  flat.software.hierarchical_all_to_all = false;
  const auto asked = search_layouts(model, a100, bare);
  const auto plain = search_layouts(model, a100, flat);
  REQUIRE_FALSE(asked.plans.empty());
  REQUIRE_FALSE(plain.plans.empty());
  CHECK(asked.plans.front().step.step_s == plain.plans.front().step.step_s);
  // On H100 the bare options keep DeepEP's dispatch, and it is costed.
  const auto h100 = nodes_of("h100-sxm", 2);
  const auto node_level = search_layouts(model, h100, bare);
  const auto h100_flat = search_layouts(model, h100, flat);
  REQUIRE_FALSE(node_level.plans.empty());
  CHECK(node_level.plans.front().step.step_s != h100_flat.plans.front().step.step_s);
}

TEST_CASE("plan: an A100 MoE plan says and emits the all-to-all it was costed with") {
  const auto a100 = qwen3_report("a100-sxm-80gb");
  REQUIRE_FALSE(a100.search.plans.empty());
  CHECK_FALSE(a100.options.software.hierarchical_all_to_all);
  CHECK(to_json(a100)["plans"][0]["expert_dispatch"] == "all-to-all");
  CHECK(contains(to_text(a100, util::Style{}),
                 "expert dispatch: NCCL all-to-all, every token copy sent on its own: node group 'a100-sxm-80gb' (A100 "
                 "SXM 80GB, compute capability 8.0) has no DeepEP/HybridEP internode kernels"));
  const auto a100_flags = find_emit_target("megatron").write(a100).text;
  CHECK(contains(a100_flags, "--moe-token-dispatcher-type alltoall"));
  CHECK_FALSE(contains(a100_flags, "deepep"));

  const auto h100 = qwen3_report("h100-sxm");
  REQUIRE_FALSE(h100.search.plans.empty());
  CHECK(to_json(h100)["plans"][0]["expert_dispatch"] == "node-level");
  CHECK(contains(to_text(h100, util::Style{}), "expert dispatch: node-level"));
  const auto h100_flags = find_emit_target("megatron").write(h100).text;
  CHECK(contains(h100_flags, "--moe-token-dispatcher-type flex"));
  CHECK(contains(h100_flags, "--moe-flex-dispatcher-backend deepep"));
}

TEST_CASE("plan::load_calibration_runs refuses a DeepEP dispatcher on an A100 row") {
  const test::TempDir dir;
  const auto path = dir.write("runs.yaml", "brix_calibration: 2\nsource: t\nset: fit\nruns:\n"
                                           "  - id: r\n    model: qwen3-30b-a3b\n    gpu: a100-sxm-80gb\n    gpus: 16\n"
                                           "    seq_len: 4096\n    global_batch: 512\n    precision: bf16\n"
                                           "    layout: \"ep=16,dp=16\"\n    dispatcher: deepep\n    metric: step_s\n"
                                           "    published: 1\n");
  CHECK_THROWS_WITH_AS((void)load_calibration_runs(path),
                       doctest::Contains("runs.yaml:13: dispatcher: deepep has no internode kernels on A100 SXM 80GB, "
                                         "compute capability 8.0"),
                       InputError);
}
