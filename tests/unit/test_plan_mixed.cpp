#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/model/params.hpp>
#include <brix/plan/group_costs.hpp>
#include <brix/plan/layer_cost.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/plan/memory.hpp>
#include <brix/plan/mixed.hpp>
#include <brix/plan/search_detail.hpp>
#include <brix/plan/step_time.hpp>

#include <doctest/doctest.h>

#include <algorithm>

using namespace brix::plan;

namespace {

const brix::cluster::NodeGroup& group_named(const brix::cluster::ClusterSpec& cluster, const std::string& name) {
  for (const auto& group : cluster.groups) {
    if (group.name == name) {
      return group;
    }
  }
  FAIL("no node group " << name);
  return cluster.groups.front();
}

struct DefaultJob {
  brix::model::ModelSpec model = brix::model::load_model("deepseek-r1");
  brix::cluster::ClusterSpec cluster = brix::cluster::load_cluster("example-deployment");
  SearchOptions options = [] {
    SearchOptions o;
    o.shape = {1024, 4096};
    return o;
  }();
};

/// Qwen3-30B-A3B (every layer MoE) on the example deployment with EP 16 over its 8-GPU nodes and
/// ZeRO-3 over 16 ranks: the all-to-all and the ZeRO traffic both go over the network.
DefaultJob qwen3_moe_over_nodes() {
  DefaultJob job;
  job.model = brix::model::load_model("qwen3-30b-a3b");
  job.options.fixed = parse_layout_query("tp=1,dp=16,ep=16,zero=3,mbs=1");
  return job;
}

} // namespace

TEST_CASE("plan::plan_mixed: every stage fits by the full memory model on its own GPUs") {
  // DeepSeek-R1 on the example deployment (DGX H100 + A100 nodes): model states alone take
  // ~96% of the cluster's memory, so the DP's additive budget must agree with stage_memory.
  const DefaultJob job;
  const auto& [model, cluster, options] = job;
  const auto result = plan_mixed(model, cluster, options);
  REQUIRE(result.best.has_value());
  const auto& plan = *result.best;
  REQUIRE(static_cast<int>(plan.stages.size()) == plan.layout.pp);
  CHECK(plan.stages.front().first_layer == 0);
  CHECK(plan.stages.back().last_layer == model.layers - 1);
  for (std::size_t s = 0; s < plan.stages.size(); ++s) {
    const auto& stage = plan.stages[s];
    if (s > 0) {
      CHECK(stage.first_layer == plan.stages[s - 1].last_layer + 1);
    }
    const auto& group = group_named(cluster, stage.node_group);
    StageSpan span;
    span.first_layer = stage.first_layer;
    span.last_layer = stage.last_layer;
    span.embedding = s == 0;
    span.head = s + 1 == plan.stages.size();
    const auto memory = stage_memory(model, group.gpu, plan.layout, options.shape, static_cast<int>(s), span);
    CHECK(memory.fits());
    CHECK(stage.memory_bytes == doctest::Approx(memory.total));
  }
  // Faster GPUs get more layers: the H100 stages hold at least as many as any A100 stage.
  int h100_min = 1 << 20, a100_max = 0;
  for (const auto& stage : plan.stages) {
    const int layers = stage.last_layer - stage.first_layer + 1;
    if (stage.node_group == "dgx-h100") {
      h100_min = std::min(h100_min, layers);
    } else {
      a100_max = std::max(a100_max, layers);
    }
  }
  CHECK(h100_min >= a100_max);
}

TEST_CASE("plan::mixed_details: recomputation, checkpoint and batch for the mixed plan") {
  const DefaultJob job;
  const auto& [model, cluster, options] = job;
  const auto result = plan_mixed(model, cluster, options);
  REQUIRE(result.best.has_value());
  const auto details = mixed_details(model, cluster, options, CheckpointOptions{}, *result.best);
  REQUIRE(details.recompute.has_value());
  const auto& r = *details.recompute;
  CHECK(r.stage >= 0);
  CHECK(r.stage < result.best->layout.pp);
  REQUIRE(r.options.size() >= 5);
  // Store-all costs least time; full recomputation stores least among Megatron's policies.
  CHECK(r.options[0].name == "none");
  CHECK(r.options[2].name == "full");
  CHECK(r.options[2].activation_bytes < r.options[0].activation_bytes);
  CHECK(r.options[2].time_s > r.options[0].time_s);
  // The rotor DP at the budget is never slower than a policy that fits the same budget, and
  // recomputes nothing when storing everything fits.
  const auto rotor = std::find_if(r.options.begin(), r.options.end(), [](const auto& o) { return o.name == "rotor DP at budget"; });
  REQUIRE(rotor != r.options.end());
  CHECK(rotor->fits);
  for (const auto& option : r.options) {
    if (option.fits) {
      CHECK_MESSAGE(rotor->time_s <= option.time_s * (1 + 1e-12), option.name);
    }
  }
  if (r.options[0].fits) {
    CHECK(r.recomputed.empty());
    CHECK(rotor->activation_bytes == doctest::Approx(r.options[0].activation_bytes));
  }
  for (const auto& name : r.recomputed) {
    CHECK((name.ends_with("attention projections") || name.ends_with("attention core") || name.ends_with("mlp")));
  }
  // 5× less activation memory (Korthikanti et al. 2022's figure): reachable here, at a cost (the DP's
  // optimum, not a guess).
  CHECK(r.reference_time_added > 0);
  CHECK(r.reference_time_added < 0.5);
  CHECK_FALSE(details.checkpoint.storage.assumed);
  CHECK(details.checkpoint.interval_s > details.checkpoint.write_s);
  CHECK(details.checkpoint.goodput > 0.9);
  CHECK(details.batch.global == 1024);
  CHECK(details.batch.micro * details.batch.accumulation * details.batch.data_parallel == 1024);
  CHECK(details.stages.size() == result.best->stages.size());
}

TEST_CASE("plan::mixed_estimate has the homogeneous plans' fields") {
  const DefaultJob job;
  const auto& [model, cluster, options] = job;
  const auto result = plan_mixed(model, cluster, options);
  REQUIRE(result.best.has_value());
  const auto& plan = *result.best;
  const auto& estimate = plan.estimate;
  CHECK(estimate.layout.pp == plan.layout.pp);
  CHECK(estimate.step.step_s == plan.step_s);
  // 1F1B over unequal stages: the others' time once, a fraction of the step.
  CHECK(estimate.step.bubble_fraction > 0);
  CHECK(estimate.step.bubble_fraction < 1);
  CHECK(estimate.hfu >= estimate.mfu);
  CHECK(estimate.hfu < 1);
  CHECK(estimate.tflops_per_gpu > 0);
  // Pipeline transfers and DP traffic are costed; DeepSeek's EP all-to-all too when EP crosses GPUs.
  CHECK(estimate.step.comm.pp > 0);
  CHECK(estimate.step.comm.dp >= 0);
  // The memory reported is the tightest stage's, on its own GPUs, and it fits.
  const auto& stage = plan.stages[static_cast<std::size_t>(estimate.memory.stage)];
  CHECK(estimate.memory.total == doctest::Approx(stage.memory_bytes));
  CHECK(estimate.memory.weights + estimate.memory.grads + estimate.memory.optimizer + estimate.memory.activations <=
        estimate.memory.total);
  const double tightest = stage.memory_bytes / group_named(cluster, stage.node_group).gpu.memory_bytes;
  CHECK(tightest <= 1.0);
  for (const auto& other : plan.stages) {
    CHECK(other.memory_bytes / group_named(cluster, other.node_group).gpu.memory_bytes <= tightest * (1 + 1e-12));
  }
}

TEST_CASE("plan::plan_mixed says what it cannot search") {
  DefaultJob job;
  job.options.fixed = parse_layout_query("schedule=zb-h1");
  auto result = plan_mixed(job.model, job.cluster, job.options);
  CHECK_FALSE(result.best.has_value());
  CHECK(result.not_searched == "schedule=zb-h1 (it runs 1F1B only)");
  job.options.fixed = parse_layout_query("vpp=2,schedule=interleaved");
  CHECK(plan_mixed(job.model, job.cluster, job.options).not_searched.starts_with("schedule=interleaved"));
  job.options.fixed = parse_layout_query("grad_compression=fp8");
  CHECK(plan_mixed(job.model, job.cluster, job.options).not_searched.starts_with("grad_compression=fp8"));
  CHECK(mixed_search_coverage().find("ZeRO 1/3") != std::string::npos);
}

TEST_CASE("plan::plan_mixed evaluates a fixed field outside its lists as given") {
  DefaultJob job;
  job.options.fixed = parse_layout_query("zero=2,mbs=1");
  const auto result = plan_mixed(job.model, job.cluster, job.options);
  CHECK(result.not_searched.empty());
  CHECK(result.evaluated > 0);
  if (result.best) {
    CHECK(result.best->layout.zero == 2);
  }
}

TEST_CASE("plan::plan_mixed: ZeRO-3 traffic shares the adapters with an all-to-all that leaves the node") {
  // Qwen3-30B-A3B, EP 16 over 8-GPU nodes and ZeRO-3 over 16 ranks: both cross nodes, so the
  // critical stage's data-parallel cost carries the shared-adapter delay, as homogeneous plans do
  // (data_parallel_cost's ep_network_s: the stage's MoE layers' all-to-all wire time).
  const auto job = qwen3_moe_over_nodes();
  const auto& [model, cluster, options] = job;
  const auto result = plan_mixed(model, cluster, options);
  REQUIRE(result.best.has_value());
  const auto& plan = *result.best;
  const auto critical = static_cast<std::size_t>(plan.critical_stage);
  const auto& stage = plan.stages[critical];
  const auto& group = group_named(cluster, stage.node_group);
  const auto costs = group_costs(model, cluster, group, plan.layout, options, plan.layout.pp);
  const auto placement = place_groups(plan.layout, group.nvlink_reach());
  REQUIRE(placement.ep.crosses_nodes());
  const auto moe = layer_cost(group_cost_context(model, cluster, group, options), plan.layout, placement, true);
  CHECK(costs.moe_ep_network_s == doctest::Approx(ep_comm_passes(plan.layout.recompute) * moe.ep_comm_s));
  CHECK(costs.moe_ep_network_s > 0);

  StageSpan span;
  span.first_layer = stage.first_layer;
  span.last_layer = stage.last_layer;
  const auto work = detail::stage_work(model, span, plan.critical_stage, plan.layout.pp);
  REQUIRE(work.moe_layers > 0);
  const auto context = group_cost_context(model, cluster, group, options);
  // The critical stage is the one longest with its own exposed ZeRO traffic, costed at its own time.
  for (const auto& other : plan.stages) {
    CHECK(other.time_s + other.data_parallel_s <= stage.time_s + stage.data_parallel_s);
  }
  const double grad_reduce_bytes = options.software.grad_reduce_bytes; // (a lambda cannot capture a binding)
  auto cost = [&](double ep_network_s) {
    return data_parallel_cost(context, plan.layout, placement, work.dense_params, work.expert_params,
                              grad_reduce_bytes, static_cast<double>(plan.micro_batches), stage.time_s,
                              2.0 / 3.0 * stage.time_s, work.outside_layer_params, ep_network_s);
  };
  const auto shared = cost(work.moe_layers * costs.moe_ep_network_s);
  CHECK(plan.data_parallel.pipeline_extra_s == doctest::Approx(shared.pipeline_extra_s));
  CHECK(stage.data_parallel_s == doctest::Approx(shared.pipeline_extra_s / static_cast<double>(plan.micro_batches)));
  CHECK(plan.data_parallel.pipeline_extra_s > cost(0.0).pipeline_extra_s);
  // The 1F1B steady state runs at the longest stage, its ZeRO traffic included.
  CHECK(plan.step_s >= static_cast<double>(plan.micro_batches) * (stage.time_s + stage.data_parallel_s));

  // Inside one node the all-to-all keeps off the adapters: nothing to share.
  Layout layout = plan.layout;
  layout.ep = 8;
  CHECK(group_costs(model, cluster, group, layout, options, layout.pp).moe_ep_network_s == 0);
}

TEST_CASE("plan::mixed_details: each stage's passes are the time the mixed search charged it") {
  // Qwen3-30B-A3B (every layer MoE) with its all-to-all over the network: the timeline's passes
  // (StageDetail::pass) add up to the stage's time in the step plus its pipeline transfers, with
  // the all-to-all waited for as the layer chain waits for it, and the last stage's head at its own
  // GPUs' cost, not at the MoE layers' speed ratio.
  const auto job = qwen3_moe_over_nodes();
  const auto& [model, cluster, options] = job;
  const auto result = plan_mixed(model, cluster, options);
  REQUIRE(result.best.has_value());
  const auto details = mixed_details(model, cluster, options, CheckpointOptions{}, *result.best);
  REQUIRE(details.stages.size() == result.best->stages.size());
  double exposed_ep = 0;
  for (const auto& stage : details.stages) {
    const auto& pass = stage.pass;
    const double transfers = pass.forward.p2p_s + pass.backward.p2p_s;
    CHECK(pass.forward_s() + pass.backward_s() - transfers == doctest::Approx(stage.time_s).epsilon(1e-9));
    exposed_ep += pass.forward.ep_s + pass.backward.ep_s;
  }
  // The A100 stages' all-to-all over EDR outlasts their host floor (the H100 stages' hides in it).
  CHECK(exposed_ep > 0);
}

TEST_CASE("detail::stage_work: an MTP module's routed experts are expert parameters") {
  // DeepSeek-R1's MTP module holds one MoE decoder layer: its 256 routed experts split over EP
  // and reduce over the expert-DP group, as stage_memory counts them, not with the dense states.
  const auto model = brix::model::load_model("deepseek-r1");
  REQUIRE(model.mtp_layers == 1);
  StageSpan span;
  span.first_layer = 50;
  span.last_layer = 60;
  const auto with_head = detail::stage_work(model, span, 4, 5);
  const auto without = detail::stage_work(model, span, 3, 5);
  const auto layer = brix::model::layer_parameters(model, model.layers - 1);
  const auto counts = brix::model::count_parameters(model);
  CHECK(with_head.expert_params - without.expert_params == doctest::Approx(static_cast<double>(layer.experts)));
  CHECK(with_head.dense_params - without.dense_params ==
        doctest::Approx(static_cast<double>(counts.output_head + counts.mtp - layer.experts)));
  CHECK(with_head.outside_layer_params == doctest::Approx(static_cast<double>(counts.output_head)));
}
