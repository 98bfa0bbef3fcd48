// The layout search (plan::search_layouts, explain, completion) and the calibration runs: how
// a calibration file is read and refused, and how each recipe switch it states changes a run's cost.
#include <support/input_error.hpp>
#include <support/temp_dir.hpp>

#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/model/params.hpp>
#include <brix/plan/calibration.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/plan/plan_run.hpp>
#include <brix/plan/search.hpp>
#include <brix/plan/stage_balance.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>

using namespace brix::plan;

namespace {
SearchOptions options_for(std::int64_t batch, std::int64_t seq) {
  SearchOptions options;
  options.shape = {batch, seq};
  options.top_k = 5;
  return options;
}

/// The InputError loading the calibration file at `path` raises, or "" when it loads.
std::string calibration_error(const std::string& path) {
  return brix::test::input_error_of([&] { (void)load_calibration_runs(path); });
}

} // namespace

TEST_CASE("plan::parse_layout_query") {
  const auto query = parse_layout_query("tp=8,pp=4,dp=2,ep=1,mbs=1,vpp=1,recompute=selective,zero=1");
  CHECK(*query.tp == 8);
  CHECK(*query.recompute == Recompute::selective);
  CHECK_FALSE(query.cp.has_value());
  CHECK_FALSE(query.complete());
  CHECK_THROWS_AS((void)parse_layout_query("tpp=8"), brix::InputError);
  CHECK_THROWS_AS((void)parse_layout_query("tp=0"), brix::InputError);
  CHECK_THROWS_AS((void)parse_layout_query("zero=4"), brix::InputError);
  CHECK_THROWS_AS((void)parse_layout_query("recompute=some"), brix::InputError);
  CHECK_FALSE(query.grad_bytes.has_value());
  CHECK(parse_layout_query("dp=8,grads=bf16").grad_bytes == 2.0);
  CHECK(parse_layout_query("dp=8,grads=fp32").grad_bytes == 4.0);
  try {
    (void)parse_layout_query("grads=fp16");
    FAIL("grads=fp16 accepted");
  } catch (const brix::InputError& error) {
    CHECK(std::string(error.what()) == "--layout: grads=fp16 is not valid (expected fp32 or bf16)");
  }
}

TEST_CASE("plan::search_layouts finds valid, ranked plans for a dense model") {
  const auto model = brix::model::load_model("llama-3.1-70b");
  const auto cluster = brix::cluster::shorthand_cluster(8, 8, "h100-sxm", std::nullopt, std::nullopt);
  const auto result = search_layouts(model, cluster, options_for(512, 4096));
  REQUIRE_FALSE(result.plans.empty());
  CHECK(result.evaluated > 1000);
  for (std::size_t i = 1; i < result.plans.size(); ++i) {
    CHECK(result.plans[i - 1].step.step_s <= result.plans[i].step.step_s);
  }
  for (const auto& plan : result.plans) {
    CHECK(plan.layout.world() == 64);
    CHECK(plan.layout.tp <= 8);
    CHECK(plan.memory.total <= 80.0 * 1e9 * 1.1);
    CHECK(plan.mfu > 0.2);
    CHECK(plan.mfu < 0.8);
    CHECK(plan.hfu >= plan.mfu - 1e-9);
  }
  // Every layout is accounted for: valid, or rejected under a reason.
  std::int64_t rejected = 0;
  for (const auto& group : result.rejected) {
    rejected += group.count;
  }
  CHECK(rejected + result.valid == result.evaluated);
  // TP beyond the node is reported as a family, not silently skipped.
  bool crosses = false;
  for (const auto& group : result.rejected) {
    crosses = crosses || group.reason.find("TP=16 crosses nodes") != std::string::npos;
  }
  CHECK(crosses);
}

TEST_CASE("plan::search_layouts is the same with more threads") {
  const auto model = brix::model::load_model("llama-3.1-8b");
  const auto cluster = brix::cluster::shorthand_cluster(4, 8, "a100-sxm-80gb", std::nullopt, std::nullopt);
  auto options = options_for(256, 4096);
  const auto one = search_layouts(model, cluster, options);
  options.threads = 2;
  const auto two = search_layouts(model, cluster, options);
  REQUIRE(one.plans.size() == two.plans.size());
  for (std::size_t i = 0; i < one.plans.size(); ++i) {
    CHECK(to_string(one.plans[i].layout) == to_string(two.plans[i].layout));
  }
}

TEST_CASE("plan::explain_layout names every problem of TP8×PP4×DP2 for DeepSeek-R1 on the example deployment") {
  const auto model = brix::model::load_model("deepseek-r1");
  const auto cluster = brix::cluster::load_cluster("example-deployment");
  const auto layout = complete_layout(parse_layout_query("tp=8,pp=4,dp=2"));
  const auto verdict = explain_layout(model, cluster, options_for(1024, 4096), layout);
  REQUIRE(verdict.problems.size() >= 2);
  bool world = false, memory = false;
  for (const auto& problem : verdict.problems) {
    world = world || problem.find("64 ranks, but the cluster has 160 GPUs") != std::string::npos;
    memory = memory || problem.find("out of memory") != std::string::npos;
  }
  CHECK(world);
  CHECK(memory);
  REQUIRE(verdict.estimate.has_value());
  CHECK(verdict.estimate->memory.total > 80.0 * 1024 * 1024 * 1024);
}

TEST_CASE("plan::calibration against published Megatron-LM runs") {
  const std::string dir = std::string(BRIX_TEST_SOURCE_DIR) + "/configs/calibration/fit/";
  for (const char* source : {"narayanan-2021.yaml", "korthikanti-2022.yaml"}) {
    const auto report = run_calibration(load_calibration_runs(dir + source));
    REQUIRE(report.rows.size() >= 12);
    for (const auto& row : report.rows) {
      std::printf("%-40s %10.3f %10.3f %+7.1f%%  %s\n", row.run.id.c_str(), row.run.published, row.predicted,
                  row.error * 100, row.note.c_str());
      CHECK_MESSAGE(row.evaluated, row.run.id);
      CHECK_MESSAGE(std::abs(row.error) <= 0.15, row.run.id, " ", row.run.layout);
      // The memory of the layout that was costed: these runs fit on their 80 GB A100s.
      CHECK_MESSAGE(row.memory_bytes > 10e9, row.run.id);
      CHECK_MESSAGE(row.memory_bytes < 80e9, row.run.id);
    }
    CHECK(report.fit.mean_abs_error < 0.10);
  }
}

TEST_CASE("plan::load_calibration_runs reads the local batch of a pipeline schedule run") {
  const brix::test::TempDir dir;
  const auto file = [&](const std::string& local_batch, const std::string& layout = "tp=1,pp=2,dp=4,mbs=1") {
    return dir.write("runs.yaml", "brix_calibration: 2\nsource: t\nset: fit\nruns:\n"
                                  "  - id: r\n    model: llama-3.1-8b\n    gpu: h100-sxm\n    gpus: 8\n"
                                  "    seq_len: 4096\n    global_batch: 64\n    local_batch: " + local_batch + "\n"
                                  "    precision: bf16\n    layout: \"" + layout + "\"\n"
                                  "    metric: step_s\n    published: 1\n");
  };
  const auto runs = load_calibration_runs(file("8"));
  REQUIRE(runs.size() == 1);
  CHECK(runs.front().local_batch == 8);
  CHECK(calibration_error(file("24")).find("runs.yaml:11: local_batch 24 does not divide global_batch 64") !=
        std::string::npos);
  // A published dp gives each rank 64 / 4 = 16 sequences: 32 divides 64 but not 16.
  CHECK(calibration_error(file("32")).find("runs.yaml:11: local_batch 32 does not divide the 16 sequences each of dp=4 "
                                  "ranks takes of global_batch 64 (a divisor of global_batch / dp)") !=
        std::string::npos);
  // Without a published dp the search picks it; a published micro-batch must still fit whole.
  CHECK(calibration_error(file("8", "tp=1,pp=2,mbs=2")).empty());
  CHECK(calibration_error(file("2", "tp=1,pp=2,mbs=4")).find("runs.yaml:11: local_batch 2 is not a whole number of "
                                                    "micro-batches of mbs=4 (a multiple of mbs)") !=
        std::string::npos);
}

TEST_CASE("plan::split_lower_bound is below the step of every stage split") {
  using namespace brix::plan::detail;
  const auto model = brix::model::load_model("llama-3.1-70b");
  const auto cluster = brix::cluster::shorthand_cluster(4, 8, "h100-sxm", std::nullopt, std::nullopt);
  const auto options = options_for(256, 4096);
  const Evaluator eval(model, cluster, options);
  for (const auto schedule : {Schedule::one_f_one_b, Schedule::zb_h1, Schedule::dualpipe}) {
    Layout layout;
    layout.tp = 8, layout.pp = 4, layout.dp = 1, layout.sp = true;
    layout.schedule = schedule;
    layout.recompute = Recompute::full;
    const auto placement = place_groups(layout, 8);
    const auto dense = layer_cost(eval.context(), layout, placement, false);
    const auto embedding = embedding_cost(eval.context(), layout, placement);
    const auto head = head_cost(eval.context(), layout, placement);
    const LayoutCosts costs{&placement, &dense, &dense, &embedding, &head};
    const auto uniform = uniform_stages(model, layout.pp);
    const auto base = step_for_split(eval, layout, uniform, costs);
    const double bound = split_lower_bound(layout, base, 256);
    CHECK(bound < base.step_s);
    // Every split of the 80 layers into 4 stages in steps of 4 layers.
    for (int a = 4; a < 80; a += 4) {
      for (int b = a + 4; b < 80; b += 4) {
        for (int c = b + 4; c < 80; c += 4) {
          const std::vector<int> first{0, a, b, c};
          const auto step = step_for_split(eval, layout, spans_from_first(first, model.layers), costs);
          CHECK(bound <= step.step_s);
          CHECK(step.stage_sum_s == doctest::Approx(base.stage_sum_s));
        }
      }
    }
  }
}

TEST_CASE("plan::search_layouts with stages rebalanced ranks on the split the plan uses") {
  const auto model = brix::model::load_model("llama-3.1-70b");
  const auto cluster = brix::cluster::shorthand_cluster(4, 8, "h100-sxm", std::nullopt, std::nullopt);
  auto options = options_for(256, 4096);
  options.balance_stages = true;
  const auto pruned = search_layouts(model, cluster, options);
  REQUIRE_FALSE(pruned.plans.empty());
  for (std::size_t i = 1; i < pruned.plans.size(); ++i) {
    CHECK(pruned.plans[i - 1].step.step_s <= pruned.plans[i].step.step_s);
  }
  for (const auto& plan : pruned.plans) {
    CHECK(plan.step.step_s <= plan.uniform_step_s);
    CHECK(plan.split.size() == (plan.split.empty() ? 0U : static_cast<std::size_t>(plan.layout.pp)));
  }
  // The bound only skips plans that cannot win: the same answer as rebalancing every plan.
  options.bound_pruning = false;
  const auto exhaustive = search_layouts(model, cluster, options);
  REQUIRE_FALSE(exhaustive.plans.empty());
  CHECK(to_string(pruned.plans.front().layout) == to_string(exhaustive.plans.front().layout));
  CHECK(pruned.plans.front().step.step_s == exhaustive.plans.front().step.step_s);
  CHECK(pruned.balanced < exhaustive.balanced);
  // The answer does not depend on how many plans are shown.
  options.bound_pruning = true;
  for (const int top : {1, 20}) {
    options.top_k = top;
    const auto other = search_layouts(model, cluster, options);
    REQUIRE_FALSE(other.plans.empty());
    CHECK(to_string(other.plans.front().layout) == to_string(pruned.plans.front().layout));
    CHECK(other.plans.front().step.step_s == pruned.plans.front().step.step_s);
  }
}

TEST_CASE("plan::search_layouts searches VPP over the divisors of the layers per stage") {
  const auto model = brix::model::load_model("gpt-530b"); // 105 layers
  const auto cluster = brix::cluster::shorthand_cluster(315, 8, "a100-sxm-80gb", std::nullopt, std::nullopt);
  auto options = options_for(2520, 2048);
  options.software = software_by_name("megatron-core-2024"); // equal virtual stages only
  options.fixed = parse_layout_query("tp=8,pp=7,vpp=5,dp=45");
  const auto five = search_layouts(model, cluster, options);
  CHECK(five.evaluated > 0);
  REQUIRE_FALSE(five.plans.empty());
  CHECK(five.plans.front().layout.vpp == 5);
  for (const auto& group : five.rejected) {
    CHECK(group.count > 0);
  }
  // 105 layers over PP 15 × VPP 6 is not an equal split: rejected, the constraint named.
  options.fixed = parse_layout_query("tp=8,pp=15,vpp=6,dp=21");
  const auto six = search_layouts(model, cluster, options);
  CHECK(six.plans.empty());
  bool named = false;
  for (const auto& group : six.rejected) {
    named = named || group.reason.find("not divisible by PP×VPP = 90") != std::string::npos;
  }
  CHECK(named);
  // The free search only proposes interleaving Megatron can run (counting the embedding and
  // the loss as layers where that makes the stages equal).
  options.fixed = {};
  options.top_k = 20;
  for (const auto& plan : search_layouts(model, cluster, options).plans) {
    const int extras = (plan.layout.pp_embedding ? 1 : 0) + (plan.layout.pp_loss ? 1 : 0);
    CHECK((model.layers + extras) % (plan.layout.pp * plan.layout.vpp) == 0);
  }
}

TEST_CASE("plan::closest_completion explains TP8×PP4×DP2 with the fields it leaves free searched") {
  const auto model = brix::model::load_model("deepseek-r1");
  const auto cluster = brix::cluster::load_cluster("example-deployment");
  const auto options = options_for(1024, 4096);
  const auto query = parse_layout_query("tp=8,pp=4,dp=2");
  const auto completion = closest_completion(model, cluster, options, query);
  CHECK(completion.layout.tp == 8);
  CHECK(completion.layout.pp == 4);
  CHECK(completion.layout.dp == 2);
  CHECK(completion.layout.zero == 3); // states sharded as far as they go
  const auto closest = explain_layout(model, cluster, options, completion.layout);
  const auto defaults = explain_layout(model, cluster, options, complete_layout(query));
  REQUIRE(closest.estimate.has_value());
  REQUIRE(defaults.estimate.has_value());
  CHECK(closest.estimate->memory.total < defaults.estimate->memory.total / 4);
  // Only the fields not given are listed, with the values used.
  bool ep = false;
  for (const auto& field : completion.filled) {
    CHECK(field.rfind("tp=", 0) != 0);
    CHECK(field.rfind("dp=", 0) != 0);
    ep = ep || field == "ep=" + std::to_string(completion.layout.ep);
  }
  CHECK(ep);
  // A DP left out fills the cluster.
  const auto filled = closest_completion(model, cluster, options, parse_layout_query("tp=8,pp=4"));
  CHECK(filled.layout.world() == 160);
}

TEST_CASE("plan::propose_global_batch divides by every data-parallel size the GPU count allows") {
  CHECK(propose_global_batch(4096, 2048) == 1024);
  CHECK(propose_global_batch(2048, 2520) == 2520); // 315 × 8: odd part 315
  CHECK(propose_global_batch(4096, 160) % 5 == 0);
  for (const int gpus : {8, 24, 160, 2520, 1000, 4096}) {
    const auto batch = propose_global_batch(4096, gpus);
    int odd = gpus;
    while (odd % 2 == 0) {
      odd /= 2;
    }
    CHECK(batch % odd == 0);
    CHECK(batch * 8 >= gpus);
    // Within a factor √2 of 1024 sequences (4M tokens), unless the GPU count asks for more.
    CHECK((batch <= 1449 || batch / 2 * 8 < gpus || batch / 2 % odd != 0));
  }
}

TEST_CASE("plan::search_layouts plans DeepSeek-V3's published layout with DeepSeek's own recomputation") {
  // DeepSeek-V3 report (arXiv:2412.19437) Sec. 3.2: 2,048 H800, PP 16 DualPipe, EP 64 over 8
  // nodes, ZeRO-1, FP8, BF16 moments, RMSNorm and MLA up-projections recomputed (selective here),
  // the MoE SwiGLU inputs cached in FP8 (Sec. 3.3.3). It ran, so it must fit.
  const auto model = brix::model::load_model("deepseek-r1");
  const auto cluster = brix::cluster::shorthand_cluster(256, 8, "h800-sxm", std::nullopt, std::nullopt);
  auto options = options_for(15360, 4096);
  options.precision = Precision::fp8;
  options.software = software_by_name("deepseek-2024");
  options.fixed = parse_layout_query(
      "tp=1,pp=16,cp=1,ep=64,etp=1,dp=128,sp=0,mbs=1,zero=1,recompute=selective,schedule=dualpipe,moments=bf16");
  const auto result = search_layouts(model, cluster, options);
  REQUIRE_FALSE(result.plans.empty());
  const auto& plan = result.plans.front();
  CHECK(plan.layout.recompute == Recompute::selective);
  CHECK(plan.memory.total <= 79.6 * (1 << 30));
  // DualPipe hides the expert all-to-all behind the other direction's compute as far as that
  // compute allows: what stays exposed is a small share of the step, and the plan says how much.
  CHECK(plan.step.comm.ep > 0);
  CHECK(plan.step.comm.ep < 0.1 * plan.step.step_s);
}

TEST_CASE("plan::evaluate_run counts FLOPs as the source does: megatron-causal halves the attention core") {
  // Megatron-LM's num_floating_point_operations (training.py, 2025) counts causal attention half.
  const std::string file = std::string(BRIX_TEST_SOURCE_DIR) + "/configs/calibration/heldout/megatron-moe-modelzoo.yaml";
  auto runs = load_calibration_runs(file);
  const auto it = std::find_if(runs.begin(), runs.end(), [](const CalibrationRun& run) { return run.seq_len == 131072; });
  REQUIRE(it != runs.end());
  CHECK(it->flops == FlopConvention::megatron_causal);
  const auto causal = evaluate_run(*it);
  auto whole = *it;
  whole.flops = FlopConvention::model;
  const auto counted_whole = evaluate_run(whole);
  REQUIRE(causal.evaluated);
  const auto model = brix::model::load_model(it->model);
  const auto flops = brix::model::flops_per_token(model, it->seq_len);
  CHECK(causal.predicted / counted_whole.predicted ==
        doctest::Approx((flops.training - 1.5 * flops.attention_core) / flops.training));
  CHECK(causal.predicted < 0.6 * counted_whole.predicted); // at 128K the attention core dominates
}

namespace {

/// One dense decoder layer of `model_name` costed on 8 H100s at 8192 tokens under two software
/// profiles, the same layout.
struct LayerCostPair {
  LayerCost first, second;
  double hbm_bytes_per_s = 0;
};

LayerCostPair dense_layer_costs(const char* model_name, const Layout& layout, const char* first,
                                const char* second) {
  using namespace brix::plan::detail;
  const auto model = brix::model::load_model(model_name);
  const auto cluster = brix::cluster::shorthand_cluster(1, 8, "h100-sxm", std::nullopt, std::nullopt);
  const Evaluator eval(model, cluster, options_for(64, 8192));
  const auto placement = place_groups(layout, 8);
  auto context = eval.context();
  LayerCostPair costs;
  context.software = software_by_name(first);
  costs.first = layer_cost(context, layout, placement, false);
  context.software = software_by_name(second);
  costs.second = layer_cost(context, layout, placement, false);
  costs.hbm_bytes_per_s = context.device.hbm_bytes_per_s;
  return costs;
}

/// One decoder layer of `model_name` on 8 H100s at 8192 tokens under `software`, its context
/// left open for a test to change one setting and cost it again.
struct H100Layer {
  brix::model::ModelSpec model;
  brix::cluster::ClusterSpec cluster;
  detail::Evaluator eval;
  Placement placement;
  CostContext context;
  H100Layer(const char* model_name, const Layout& layout, const char* software)
      : model(brix::model::load_model(model_name)),
        cluster(brix::cluster::shorthand_cluster(1, 8, "h100-sxm", std::nullopt, std::nullopt)),
        eval(model, cluster, options_for(64, 8192)), placement(place_groups(layout, 8)), context(eval.context()) {
    context.software = software_by_name(software);
  }
  H100Layer(const H100Layer&) = delete; // eval refers to model and cluster
  H100Layer& operator=(const H100Layer&) = delete;
  [[nodiscard]] LayerCost cost(const Layout& layout) const { return layer_cost(context, layout, placement, false); }
};

/// torchtitan's long-context layout on 8 GPUs: CP 4 × FSDP 2, full activation checkpointing.
Layout torchtitan_cp4_layout() {
  Layout layout;
  layout.dp = 2;
  layout.cp = 4;
  layout.recompute = Recompute::full;
  return layout;
}

} // namespace

TEST_CASE("plan::layer_cost torchtitan's selective AC recomputes every second GEMM") {
  Layout layout;
  layout.dp = 8;
  layout.recompute = Recompute::selective;
  const auto [mc, tt, hbm] = dense_layer_costs("llama-3.1-8b", layout, "megatron-core-2025", "fsdp2-2025");
  // weight_grad_s is the forward GEMM time (the weight gradients repeat each GEMM once).
  CHECK(tt.recompute_selective_s - mc.recompute_selective_s == doctest::Approx(0.5 * mc.weight_grad_s).epsilon(0.01));
}

TEST_CASE("plan::layer_cost eager elementwise operators move torchtitan's unfused bytes") {
  // Llama-3.1-8B, one micro-batch of 8192 tokens on one H100: the eager block moves, per token,
  // 2 norms × 4096 × (36 − 4) B more, 14336 × (10 − 6) B more for SwiGLU, (4096 + 1024) × (20 − 4) B
  // more for the rotary embedding of q and k, and 2 × 2 B × (1024 + 4096) expanding K and V.
  Layout layout;
  layout.dp = 8;
  layout.recompute = Recompute::none;
  const auto [fused, unfused, hbm] = dense_layer_costs("llama-3.1-8b", layout, "fsdp2-2025", "fsdp2-2025-eager");
  const double per_token = 2 * 4096 * 32.0 + 14336 * 4.0 + (4096 + 1024) * 16.0 + 2 * 2.0 * (1024 + 4096);
  const double extra_s = 8192 * per_token / hbm;
  CHECK(unfused.forward_s - fused.forward_s == doctest::Approx(extra_s).epsilon(0.01));
  CHECK(unfused.backward_s - fused.backward_s == doctest::Approx(2 * extra_s).epsilon(0.01));
  CHECK(unfused.weight_grad_s == doctest::Approx(fused.weight_grad_s)); // the GEMMs do not change
}

TEST_CASE("plan::layer_cost torch's all-gather context parallelism hides behind the first sub-SDPA and merges in fp32") {
  // Llama-3.1-8B at CP 4 over 8192 tokens (2048 per rank) on H100s. torch's ring all-gathers the
  // K/V torchtitan expanded to 32 heads, beside 1/4 of the core; Megatron's ring sends the 8
  // K/V heads beside the whole core. Merges per layer on the last rank (torch_ring_merge_bytes):
  // forward (6 + 3 × 38 + 6) B per output element, backward 4 (q + kv) + 4 × 10 (q + kv) + 4 × 8 kv
  // + 3 × 8 kv + 6 (q + kv) B, with q = 2048 × 4096 and kv = 2 q elements.
  Layout layout = torchtitan_cp4_layout();
  H100Layer layer("llama-3.1-8b", layout, "fsdp2-2025");
  auto& context = layer.context;
  const auto ring = layer.cost(layout);
  context.software.torch_context_parallel = true;
  const auto torch = layer.cost(layout);
  const double hbm = context.device.hbm_bytes_per_s;
  const double q = 2048.0 * 4096.0;
  const double kv = 2.0 * q;
  const double overhead = context.device.kernel_overhead_s;
  CHECK(torch.attention_core_s - ring.attention_core_s ==
        doctest::Approx(q * (6.0 + 3 * 38.0 + 6.0) / hbm + 14 * overhead).epsilon(1e-6));
  const double backward_bytes = 4.0 * (q + kv) + 40.0 * (q + kv) + 32.0 * kv + 24.0 * kv + 6.0 * (q + kv);
  CHECK(torch.attention_core_backward_s - ring.attention_core_backward_s ==
        doctest::Approx(backward_bytes / hbm + 31 * overhead).epsilon(1e-6));
  CHECK(ring.cp_hidden_by_s == doctest::Approx(ring.attention_core_s));
  CHECK(torch.cp_hidden_by_s == doctest::Approx(ring.attention_core_s / 4).epsilon(1e-6));
  // The 32 expanded heads gathered against Megatron's 8 K/V heads.
  CHECK(torch.cp_comm_s > 3.0 * ring.cp_comm_s);
  CHECK(ring.cp_backward_tail_s == 0.0);
  CHECK(torch.cp_backward_tail_s > 0.0);
  // Without CP nothing changes.
  layout.cp = 1;
  layout.dp = 8;
  const auto plain = layer_cost(context, layout, place_groups(layout, 8), false);
  context.software.torch_context_parallel = false;
  const auto plain_ring = layer_cost(context, layout, place_groups(layout, 8), false);
  CHECK(plain.attention_core_s == doctest::Approx(plain_ring.attention_core_s));
  CHECK(plain.cp_comm_s == 0.0);
}

TEST_CASE("plan::layer_cost torch's load-balanced causal CP gives each rank a quarter of the causal attention") {
  // torch's ring with enable_load_balance (its default, what torchtitan runs) never skips a step:
  // after the causal first sub-SDPA each later step takes the full local query against half the
  // K/V, or half the query against all of it (_templated_ring_attention). The busiest rank thus
  // executes a 1/cp share of the sequence's causal work: Llama-3.1-8B at 131072 tokens over CP 4
  // costs each rank 4 times the core of 32768 tokens without CP (the same local tokens).
  Layout layout = torchtitan_cp4_layout();
  H100Layer layer("llama-3.1-8b", layout, "fsdp2-2025");
  auto& context = layer.context;
  context.software.attention_kernels = AttentionKernels::flash2;
  const double overhead = context.device.kernel_overhead_s;
  context.seq_len = 131072;
  const double cp4 = layer.cost(layout).attention_core_s - overhead;
  Layout plain = layout;
  plain.cp = 1;
  plain.dp = 8;
  context.seq_len = 32768;
  const double cp1 = layer_cost(context, plain, place_groups(plain, 8), false).attention_core_s - overhead;
  CHECK(cp4 == doctest::Approx(4.0 * cp1).epsilon(1e-9));
  // QK^T and AV over half the keys: 4 s^2 h / 2 FLOPs for the sequence, a quarter per rank.
  const double causal_flops = 2.0 * 131072.0 * 131072.0 * 4096.0;
  CHECK(cp4 == doctest::Approx(causal_flops / 4.0 / (context.device.peak_flops * context.device.attention_fraction_fa2))
                   .epsilon(1e-9));
}

TEST_CASE("plan::layer_cost TP overlap hides a collective behind the GEMMs beside it, at the contention's price") {
  // Llama-3.1-70B at TP 4 with SP on H100s, 8192 tokens: each collective is shorter than the
  // projections beside it, so overlapped it costs k_overlap_contention of itself.
  Layout layout;
  layout.tp = 4;
  layout.sp = true;
  layout.dp = 2;
  const auto [plain, hidden, hbm] =
      dense_layer_costs("llama-3.1-70b", layout, "megatron-core-2024", "megatron-core-2025");
  REQUIRE(plain.tp_comm_s > 0);
  CHECK(hidden.tp_comm_s == doctest::Approx(k_overlap_contention * plain.tp_comm_s));
  CHECK(hidden.forward_s == doctest::Approx(plain.forward_s)); // the compute itself is unchanged
}

namespace {

/// One dense Llama-3.1-8B layer in FP8 on one H100 of 8 (8192 tokens), under `recipe`.
LayerCost fp8_layer_cost(Fp8Recipe recipe, double* kernel_overhead_s = nullptr, double* hbm = nullptr) {
  using namespace brix::plan::detail;
  const auto model = brix::model::load_model("llama-3.1-8b");
  const auto cluster = brix::cluster::shorthand_cluster(1, 8, "h100-sxm", std::nullopt, std::nullopt);
  auto options = options_for(64, 8192);
  options.precision = Precision::fp8;
  const Evaluator eval(model, cluster, options);
  Layout layout;
  layout.dp = 8;
  layout.recompute = Recompute::none;
  layout.precision = Precision::fp8;
  const auto placement = place_groups(layout, 8);
  auto context = eval.context();
  context.software.fp8_recipe = recipe;
  if (kernel_overhead_s != nullptr) {
    *kernel_overhead_s = context.device.kernel_overhead_s;
  }
  if (hbm != nullptr) {
    *hbm = context.device.hbm_bytes_per_s;
  }
  return layer_cost(context, layout, placement, false);
}

} // namespace

TEST_CASE("plan::layer_cost charges each FP8 recipe's quantisation of the GEMM inputs") {
  double overhead = 0;
  double hbm = 0;
  const auto delayed = fp8_layer_cost(Fp8Recipe::delayed, &overhead, &hbm);
  const auto tensorwise = fp8_layer_cost(Fp8Recipe::tensorwise);
  const auto mxfp8 = fp8_layer_cost(Fp8Recipe::mxfp8);
  // Llama-3.1-8B's four GEMMs (QKV, output, gate+up, down) quantise, per token, their inputs in
  // forward (4096 + 4096 + 4096 + 14336 elements) and their output gradients in backward
  // (6144 + 4096 + 28672 + 4096). Current scaling moves 6 B per element and launches 3 kernels
  // per GEMM and direction, delayed scaling 4 B and 1; under delayed scaling the norm kernel
  // writes QKV's and FC1's inputs in FP8 itself, so its forward casts only the output
  // projection's and the down projection's inputs (4096 + 14336).
  const double tokens = 8192;
  const double forward_elements = tokens * (4096 + 4096 + 4096 + 14336);
  const double delayed_forward = 4.0 * tokens * (4096 + 14336) / hbm + 2 * overhead;
  const double backward_elements = tokens * (6144 + 4096 + 28672 + 4096);
  CHECK(tensorwise.forward_s - delayed.forward_s ==
        doctest::Approx(6.0 * forward_elements / hbm + 4 * 3 * overhead - delayed_forward).epsilon(1e-6));
  CHECK(tensorwise.backward_s - delayed.backward_s ==
        doctest::Approx(2.0 * backward_elements / hbm + 4 * 2 * overhead).epsilon(1e-6));
  // MXFP8: 4 + 3/16 B per element (scales and their swizzle) and 3 launches, its norm unfused.
  CHECK(mxfp8.forward_s - delayed.forward_s ==
        doctest::Approx((4.0 + 3.0 / 16.0) * forward_elements / hbm + 4 * 3 * overhead - delayed_forward)
            .epsilon(1e-6));
  // The GEMMs themselves do not depend on the recipe.
  CHECK(tensorwise.weight_grad_s == doctest::Approx(delayed.weight_grad_s));
}

TEST_CASE("plan::load_calibration_runs reads a run's fp8_recipe and refuses a bad one") {
  const brix::test::TempDir dir;
  const std::string run = "brix_calibration: 2\nsource: t\nset: fit\nruns:\n"
                          "  - id: r\n    model: llama-3.1-8b\n    gpu: h100-sxm\n    gpus: 8\n"
                          "    seq_len: 8192\n    global_batch: 128\n    precision: PRECISION\n"
                          "    fp8_recipe: RECIPE\n    layout: \"tp=1\"\n    metric: step_s\n    published: 1\n";
  const auto with = [&](const std::string& precision, const std::string& recipe) {
    auto text = run;
    text.replace(text.find("PRECISION"), 9, precision);
    text.replace(text.find("RECIPE"), 6, recipe);
    return dir.write("runs.yaml", text);
  };
  const auto runs = load_calibration_runs(with("fp8", "mxfp8"));
  REQUIRE(runs.size() == 1);
  CHECK(runs.front().fp8_recipe == Fp8Recipe::mxfp8);
  CHECK(calibration_error(with("fp8", "fp7")).find("runs.yaml:12: unknown FP8 recipe 'fp7' (delayed, tensorwise, blockwise "
                                          "or mxfp8)") != std::string::npos);
  CHECK(calibration_error(with("bf16", "delayed")).find("runs.yaml:12: fp8_recipe on a bf16 run (precision: fp8)") !=
        std::string::npos);
}

namespace {

/// A calibration file of one run: `head` with `extra` lines appended, loaded, or the error it raises.
struct OneRunFile {
  const brix::test::TempDir& dir;
  std::string head;
  [[nodiscard]] CalibrationRun load(const std::string& extra) const {
    return load_calibration_runs(dir.write("runs.yaml", head + extra)).front();
  }
  [[nodiscard]] std::string error(const std::string& extra) const {
    try {
      (void)load(extra);
    } catch (const brix::InputError& error) {
      return error.what();
    }
    return "";
  }
};

/// A step_s run of `model` on `gpus` `gpu`s under megatron-core-2025 at 4096 tokens, batch 512;
/// `cluster` adds lines after `gpus:` (gpus_per_node, nvlink_domain).
std::string one_run_head(const std::string& model, const std::string& gpu, int gpus, const std::string& cluster,
                         const std::string& layout) {
  return "brix_calibration: 2\nsource: t\nset: fit\nruns:\n  - id: r\n    model: " + model + "\n    gpu: " + gpu +
         "\n    gpus: " + std::to_string(gpus) + "\n" + cluster +
         "    seq_len: 4096\n    global_batch: 512\n    software: megatron-core-2025\n    layout: \"" + layout +
         "\"\n    metric: step_s\n    published: 1\n";
}

} // namespace

TEST_CASE("plan::load_calibration_runs reads the recipe's switches and each changes the run's cost") {
  const brix::test::TempDir dir;
  // DeepSeek-R1 on 128 H100 nodes, EP 64 across 8 of them: dispatch crosses the network; a layout
  // Megatron-Core's combined 1F1B takes (virtual stages, no full recomputation).
  const OneRunFile file{dir, one_run_head("deepseek-r1", "h100-sxm", 1024, "",
                                          "tp=2,pp=8,vpp=4,schedule=interleaved,ep=64,dp=64,mbs=1,recompute=selective")};
  const auto run_with = [&](const std::string& extra) { return file.load(extra); };
  const auto plain = run_with("");
  CHECK_FALSE(plain.hierarchical_all_to_all);
  CHECK_FALSE(plain.balanced_routing);
  const auto set = run_with("    dispatcher: alltoall\n    ep_overlap: false\n    tp_comm_overlap: false\n"
                            "    routing: balanced\n    mtp_layers: 0\n");
  CHECK(set.hierarchical_all_to_all == false);
  CHECK(set.overlap_all_to_all == false);
  CHECK(set.tp_comm_overlap == false);
  CHECK(set.balanced_routing);
  CHECK(set.mtp_layers == 0);

  const auto step = [](const CalibrationRun& run) {
    const auto row = evaluate_run(run);
    REQUIRE(row.evaluated);
    return row.predicted;
  };
  const double base = step(plain);
  // NCCL all-to-all sends every token-expert pair over the network; DeepEP once per node.
  CHECK(step(run_with("    dispatcher: alltoall\n")) > base);
  CHECK(step(run_with("    dispatcher: deepep\n")) == doctest::Approx(base));
  // Without the 1F1B overlap the dispatch is exposed.
  CHECK(step(run_with("    ep_overlap: false\n")) > base);
  // An even expert load: the busiest rank has the mean rows.
  CHECK(step(run_with("    routing: balanced\n")) < base);
  CHECK(step(run_with("    routing: learned\n")) == doctest::Approx(base));
  // DeepSeek-V3's config trains one MTP module; without it the last stage has less work.
  CHECK(step(run_with("    mtp_layers: 0\n")) < base);
  // megatron-core-2025 reduces bf16 gradients; an fp32 buffer moves twice the DP bytes.
  CHECK(run_with("    grad_reduce: bf16\n").grad_reduce_bytes == 2.0);
  CHECK(run_with("    grad_reduce: fp32\n").grad_reduce_bytes == 4.0);
  CHECK(step(run_with("    grad_reduce: bf16\n")) == doctest::Approx(base));
  CHECK(step(run_with("    grad_reduce: fp32\n")) > base);
  // Gradient buckets reduced after the backward pass instead of beside it.
  CHECK(run_with("    overlap_grad_reduce: false\n").overlap_grad_reduce == false);
  CHECK(step(run_with("    overlap_grad_reduce: true\n")) == doctest::Approx(base));
  CHECK(step(run_with("    overlap_grad_reduce: false\n")) > base);
  // NeMo 2's trainer all-reduces each micro-batch's loss over DP: the replicas wait for each
  // other every micro-batch (megatron-core-2025 itself returns the loss unreduced).
  CHECK_FALSE(plain.loss_all_reduce.has_value());
  CHECK(run_with("    loss_all_reduce: true\n").loss_all_reduce == true);
  CHECK(step(run_with("    loss_all_reduce: false\n")) == doctest::Approx(base));
  CHECK(step(run_with("    loss_all_reduce: true\n")) > base);

  const auto error_of = [&](const std::string& extra) { return file.error(extra); };
  CHECK(error_of("    dispatcher: nccl\n").find("runs.yaml:15: unknown token dispatcher 'nccl' (alltoall, deepep or "
                                               "hybridep)") != std::string::npos);
  CHECK(error_of("    routing: even\n").find("runs.yaml:15: unknown routing 'even' (learned or balanced)") !=
        std::string::npos);
  CHECK(error_of("    grad_reduce: fp16\n").find("runs.yaml:15: unknown gradient precision 'fp16' (bf16 or fp32)") !=
        std::string::npos);
  CHECK(error_of("    mtp_layers: 65\n").find("runs.yaml:15: mtp_layers 65 is more than brix plans (at most 64)") !=
        std::string::npos);
  CHECK(error_of("    dispatch: alltoall\n").find("runs.yaml:15: ") != std::string::npos);
  CHECK(error_of("    context_parallel: ulysses\n").find("runs.yaml:15: unknown context parallelism 'ulysses' (ring or "
                                                        "torch-allgather)") != std::string::npos);
  CHECK(run_with("    context_parallel: torch-allgather\n").torch_context_parallel == true);
  CHECK(run_with("    context_parallel: ring\n").torch_context_parallel == false);
  CHECK(error_of("    attention_kernel: fa3\n").find("runs.yaml:15: unknown attention kernel 'fa3' (hopper, flash2 or "
                                                     "flash1)") != std::string::npos);
}

TEST_CASE("plan::a calibration run's attention_kernel sets the attention core's rate") {
  const brix::test::TempDir dir;
  // Llama 3.1 8B on 8 H100s at 32K tokens: the attention core is a large share of the layer.
  auto head = one_run_head("llama-3.1-8b", "h100-sxm", 8, "", "tp=1,pp=1,cp=1,dp=8,mbs=1,zero=3,recompute=full");
  head.replace(head.find("seq_len: 4096"), 13, "seq_len: 32768");
  head.replace(head.find("global_batch: 512"), 17, "global_batch: 8");
  const OneRunFile file{dir, head};
  const auto run_with = [&](const std::string& extra) { return file.load(extra); };
  CHECK_FALSE(run_with("").attention_kernels);
  CHECK(run_with("    attention_kernel: flash1\n").attention_kernels == AttentionKernels::flash1);
  const auto step = [](const CalibrationRun& run) {
    const auto row = evaluate_run(run);
    REQUIRE(row.evaluated);
    return row.predicted;
  };
  const double hopper = step(run_with(""));
  CHECK(step(run_with("    attention_kernel: hopper\n")) == doctest::Approx(hopper));
  const double flash2 = step(run_with("    attention_kernel: flash2\n"));
  const double flash1 = step(run_with("    attention_kernel: flash1\n"));
  CHECK(flash2 > hopper);
  CHECK(flash1 > flash2);
}

TEST_CASE("plan::a calibration run's flash= in its layout is costed as brix plan --layout costs it") {
  const brix::test::TempDir dir;
  // Llama 3.1 8B on 8 H100s at 8K tokens: the unfused core writes and reads every score matrix.
  const auto step = [&](const std::string& flash) {
    auto head = one_run_head("llama-3.1-8b", "h100-sxm", 8, "", "tp=1,pp=1,cp=1,dp=8,mbs=1,zero=3,recompute=full" + flash);
    head.replace(head.find("seq_len: 4096"), 13, "seq_len: 8192");
    const auto row = evaluate_run(OneRunFile{dir, head}.load(""));
    REQUIRE(row.evaluated);
    return row.predicted;
  };
  const double fused = step("");
  CHECK(step(",flash=1") == doctest::Approx(fused));
  CHECK(step(",flash=0") > 1.05 * fused);
}

TEST_CASE("plan::a calibration run's attention_unpad costs the host syncs of every layer's unpadding") {
  const brix::test::TempDir dir;
  // MPT-7B on 16 H100s, no recomputation: every layer's forward waits once for its unpadding.
  auto head = one_run_head("mpt-7b", "h100-sxm", 16, "", "tp=1,pp=1,cp=1,dp=16,mbs=4,zero=3,recompute=none");
  // One micro-batch per GPU, under llm-foundry's FSDP profile.
  const std::pair<std::string_view, std::string_view> edits[] = {{"global_batch: 512", "global_batch: 64"},
                                                                 {"megatron-core-2025", "fsdp-2023"}};
  for (const auto& [from, to] : edits) {
    head.replace(head.find(from), from.size(), to);
  }
  const OneRunFile file{dir, head};
  CHECK_FALSE(file.load("").attention_unpad_per_layer);
  const auto run_with = [&](const std::string& extra) { return file.load(extra); };
  CHECK_FALSE(run_with("    attention_unpad: none\n").attention_unpad_per_layer);
  CHECK(run_with("    attention_unpad: per-layer\n").attention_unpad_per_layer);
  CHECK(file.error("    attention_unpad: once\n")
            .find("runs.yaml:15: unknown attention unpadding 'once' (none or per-layer)") != std::string::npos);
  const auto plain = run_with("");
  const auto unpadded = run_with("    attention_unpad: per-layer\n");
  // What brix predicts for a run, with the host time per operator given or the profile's.
  const auto step = [](const CalibrationRun& run, std::optional<double> host = std::nullopt) {
    const auto row = evaluate_run(run, host);
    REQUIRE(row.evaluated);
    return row.predicted;
  };
  // The GPU idles for the host time of the operators after the first sync, once per layer and
  // forward: 32 layers, one micro-batch each, slowed like the rest of the step by the wait for
  // the slowest of 16 GPUs.
  const double drained = 32 * k_ops_unpad_after_sync * 50e-6 * sync_slowdown(16);
  CHECK(step(unpadded) - step(plain) == doctest::Approx(drained).epsilon(0.01));
  // A host that costs nothing issues them without the GPU noticing.
  CHECK(step(unpadded, 0.0) == doctest::Approx(step(plain, 0.0)));
}

TEST_CASE("plan::load_calibration_runs names the file and line of an unknown software profile") {
  const brix::test::TempDir dir;
  auto head = one_run_head("mpt-7b", "h100-sxm", 16, "", "tp=1");
  const std::string_view profile = "megatron-core-2025";
  const OneRunFile file{dir, head.replace(head.find(profile), profile.size(), "automodel-2026")};
  CHECK(file.error("").find("runs.yaml:11: unknown software profile 'automodel-2026' (did you mean "
                           "'automodel-2025'?) (one of modern, ") != std::string::npos);
}

TEST_CASE("plan::a calibration run's cuda_graph_scope takes the captured operators off the host") {
  const brix::test::TempDir dir;
  // Qwen3-30B-A3B on 8 GB200 at micro-batch 1: its small experts leave each MoE layer waiting
  // for the host to issue its operators.
  const OneRunFile file{dir, one_run_head("qwen3-30b-a3b", "gb200", 8, "    gpus_per_node: 4\n    nvlink_domain: 72\n",
                                          "tp=1,pp=1,ep=8,dp=8,mbs=1,recompute=none")};
  const auto run_with = [&](const std::string& extra) { return file.load(extra); };
  const auto step = [](const CalibrationRun& run, std::optional<double> host = std::nullopt) {
    const auto row = evaluate_run(run, host);
    REQUIRE(row.evaluated);
    return row.predicted;
  };
  const auto plain = run_with("");
  CHECK_FALSE(plain.cuda_graphs.has_value());
  const double eager = step(plain);
  const double gpu_only = step(plain, 0.0);
  REQUIRE(gpu_only < eager); // host-bound: the case CUDA graphs are for

  const auto router = run_with("    cuda_graph_scope: [moe_router, moe_preprocess]\n");
  REQUIRE(router.cuda_graphs.has_value());
  CHECK(router.cuda_graphs->moe_router);
  CHECK(router.cuda_graphs->moe_preprocess);
  CHECK_FALSE(router.cuda_graphs->attn);
  const double router_step = step(router);
  CHECK(router_step < eager);
  const double attn_router_step = step(run_with("    cuda_graph_scope: [attn, moe_router, moe_preprocess]\n"));
  CHECK(attn_router_step < router_step);
  CHECK(attn_router_step >= gpu_only);
  // A dense-MLP graph captures nothing in an all-MoE model.
  CHECK(step(run_with("    cuda_graph_scope: [mlp]\n")) == doctest::Approx(eager));
  // The whole step as one graph: no host time at all.
  CHECK(step(run_with("    cuda_graph_scope: [full_iteration]\n")) == doctest::Approx(gpu_only));

  const auto error_of = [&](const std::string& extra) { return file.error(extra); };
  CHECK(error_of("    cuda_graph_scope: [router]\n").find("runs.yaml:17: unknown CUDA graph scope 'router' (a list of "
                                                         "attn, mlp, moe, moe_router, moe_preprocess, layer, "
                                                         "full_iteration)") != std::string::npos);
  CHECK(error_of("    cuda_graph_scope: attn\n").find("runs.yaml:17: cuda_graph_scope is not a list of scopes") !=
        std::string::npos);
  CHECK(error_of("    cuda_graph_scope: []\n").find("runs.yaml:17: cuda_graph_scope is not a list of scopes") !=
        std::string::npos);
  CHECK(error_of("    cuda_graph_scope: [moe_preprocess]\n")
            .find("runs.yaml:17: cuda_graph_scope: moe_preprocess without moe_router") != std::string::npos);
}

TEST_CASE("plan::layer_cost: a dropless MoE layer's host waits for its token counts") {
  using namespace brix::plan::detail;
  // Qwen3-30B-A3B, EP 8 on one H100 node: the attention block and router captured in CUDA graphs,
  // the 30 operators after the wait issued eagerly at 100 µs each.
  const auto model = brix::model::load_model("qwen3-30b-a3b");
  const auto cluster = brix::cluster::shorthand_cluster(1, 8, "h100-sxm", std::nullopt, std::nullopt);
  const Evaluator eval(model, cluster, options_for(64, 4096));
  Layout layout;
  layout.tp = 1, layout.pp = 1, layout.dp = 8, layout.ep = 8;
  const auto placement = place_groups(layout, 8);
  auto context = eval.context();
  context.software = software_by_name("megatron-core-2025");
  context.software.host_seconds_per_op = 0;
  const auto gpu = layer_cost(context, layout, placement, true);
  const double host = 100e-6;
  context.software.host_seconds_per_op = host;
  context.software.cuda_graphs.attn = context.software.cuda_graphs.moe_router =
      context.software.cuda_graphs.moe_preprocess = true;
  const auto graphed = layer_cost(context, layout, placement, true);
  const double after_wait = 30 * host + gpu.attention_forward_s;
  REQUIRE(after_wait > std::max(gpu.forward_s, 31 * host)); // the wait binds here
  CHECK(graphed.forward_s == doctest::Approx(after_wait));
  CHECK(graphed.backward_s == doctest::Approx(std::max(gpu.backward_s, 2 * 31 * host))); // no wait backward
  // The whole layer in one graph (drop-and-pad shapes): no wait, one launch.
  context.software.cuda_graphs = CudaGraphScopes{};
  context.software.cuda_graphs.layer = true;
  CHECK(layer_cost(context, layout, placement, true).forward_s == doctest::Approx(std::max(gpu.forward_s, host)));
}

TEST_CASE("plan::search_layouts tries ZeRO-3 sharded within the node beside full sharding") {
  // Llama-2-7B on 16 nodes of 8 A100s with one 400 Gb/s adapter each (fms-fsdp's cluster), the
  // data-parallel layout fixed: full ZeRO-3 over 128 ranks and its hybrid-sharded twin over the
  // 8 GPUs of a node are both costed, counted, and ranked by step time.
  const auto model = brix::model::load_model("llama-2-7b");
  const auto cluster = brix::cluster::shorthand_cluster(16, 8, "a100-sxm-80gb", 1, 400.0);
  auto options = options_for(256, 4096);
  options.top_k = 10;
  options.fixed = parse_layout_query("tp=1,pp=1,cp=1,dp=128,mbs=2,zero=3,recompute=none,grads=bf16");
  options.software.grad_reduce_bytes = 2.0;
  const auto result = search_layouts(model, cluster, options);
  REQUIRE(result.plans.size() == 2);
  CHECK(result.valid == 2);
  const auto hybrid = std::find_if(result.plans.begin(), result.plans.end(),
                                   [](const PlanEstimate& plan) { return plan.layout.shard == 8; });
  REQUIRE(hybrid != result.plans.end());
  CHECK(hybrid->memory.total > result.plans[hybrid == result.plans.begin() ? 1 : 0].memory.total);
  // A shard the layout states is the only one searched.
  options.fixed = parse_layout_query("tp=1,pp=1,cp=1,dp=128,mbs=2,zero=3,recompute=none,shard=128");
  const auto stated = search_layouts(model, cluster, options);
  REQUIRE(stated.plans.size() == 1);
  CHECK(stated.plans.front().layout.shard == 128);
}

TEST_CASE("plan::layer_cost gathers the FP8 copy over TP under FP8 with sequence parallelism") {
  // Llama-3.1-70B at TP 4 with SP on H100s: the all-gather half of each TP collective moves 1 B
  // per element instead of 2; the reduce-scatter half stays bf16.
  auto layout = parse_layout("tp=4,dp=2,sp=1,precision=fp8");
  // megatron-core-2024 runs no TP overlap: the collectives show whole.
  H100Layer layer("llama-3.1-70b", layout, "megatron-core-2024");
  auto& context = layer.context;
  const auto fp8_gather = layer.cost(layout);
  context.software.fp8_tp_all_gather = false;
  const auto bf16_gather = layer.cost(layout);
  const double elements = 8192.0 * 8192.0;
  const auto& tp = layer.placement.tp;
  const double all_gather_saved = collective_seconds(context.device, Collective::all_gather, 2.0 * elements, tp) -
                                  collective_seconds(context.device, Collective::all_gather, elements, tp);
  CHECK(all_gather_saved > 0.0);
  CHECK(bf16_gather.tp_comm_s - fp8_gather.tp_comm_s == doctest::Approx(2.0 * all_gather_saved));
  // Without SP the all-reduce stays bf16.
  layout.sp = false;
  const auto all_reduce_bf16_flag = layer.cost(layout);
  context.software.fp8_tp_all_gather = true;
  CHECK(layer.cost(layout).tp_comm_s == doctest::Approx(all_reduce_bf16_flag.tp_comm_s));
}

TEST_CASE("plan::calibration: torchtitan's async-TP rows state tp_comm_overlap and run faster for it") {
  // torchtitan's performance tables name the runs with async TP ('2D + AsyncTP', 'Float8 + Async
  // TP'); each such row states the switch, so it is costed apart from its plain-TP neighbour.
  const std::string file = std::string(BRIX_TEST_SOURCE_DIR) + "/configs/calibration/fit/torchtitan.yaml";
  const auto runs = load_calibration_runs(file);
  int async_rows = 0;
  for (const auto& run : runs) {
    if (run.quote.find("AsyncTP") != std::string::npos || run.quote.find("Async TP") != std::string::npos) {
      ++async_rows;
      CAPTURE(run.id);
      CHECK(run.tp_comm_overlap == std::optional<bool>(true));
    }
  }
  CHECK(async_rows >= 2);
  const auto find = [&](const std::string& id) {
    const auto it = std::find_if(runs.begin(), runs.end(), [&](const CalibrationRun& run) { return run.id == id; });
    REQUIRE(it != runs.end());
    return *it;
  };
  const auto plain = evaluate_run(find("torchtitan-2412-llama31-70b-h100x-256-2d"));
  const auto async_tp = evaluate_run(find("torchtitan-2412-llama31-70b-h100x-256-2d-asynctp"));
  REQUIRE(plain.evaluated);
  REQUIRE(async_tp.evaluated);
  CHECK(async_tp.predicted > 1.03 * plain.predicted); // tokens/s: the overlapped TP collectives cost less
}

TEST_CASE("plan::calibration: a row's fp8_param_gather gathers its FSDP shards in FP8") {
  // torchtitan's 405B preset of August 2024 gathers Float8 weights (enable_fsdp_float8_all_gather);
  // the row states it, and the same row without it gathers bf16 and runs slower.
  const std::string file = std::string(BRIX_TEST_SOURCE_DIR) + "/configs/calibration/fit/torchtitan.yaml";
  const auto runs = load_calibration_runs(file);
  const auto it = std::find_if(runs.begin(), runs.end(), [](const CalibrationRun& run) {
    return run.id == "torchtitan-2408-llama31-405b-h100x-128-2d-fp8-asynctp";
  });
  REQUIRE(it != runs.end());
  CHECK(it->fp8_param_gather == std::optional<bool>(true));
  auto bf16_gather = *it;
  bf16_gather.fp8_param_gather = false;
  const auto stated = evaluate_run(*it);
  const auto unstated = evaluate_run(bf16_gather);
  REQUIRE(stated.evaluated);
  REQUIRE(unstated.evaluated);
  CHECK(stated.predicted > 1.02 * unstated.predicted); // tokens/s: half the ZeRO-3 gather bytes
}
