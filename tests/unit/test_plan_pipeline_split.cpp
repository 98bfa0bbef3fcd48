// Megatron's pipeline-split rules (issue 13): the embedding and the loss counted as layers
// (pp_embedding, pp_loss), uneven first/last stages for layers the stages do not divide, the
// same split in the planner, validation, search, --emit megatron and plan.yaml.
#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/plan/emit_targets.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/plan/memory.hpp>
#include <brix/plan/pipeline_split.hpp>
#include <brix/plan/plan_file.hpp>
#include <brix/plan/plan_run.hpp>
#include <brix/plan/refine.hpp>
#include <brix/plan/search.hpp>
#include <brix/plan/validate.hpp>
#include <brix/util/error.hpp>
#include <brix/util/progress.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace brix::plan;

namespace {

std::vector<std::int64_t> sizes(std::int64_t layers, const PipelineSplit& split) {
  std::vector<std::int64_t> out;
  for (int s = 0; s < split.stages; ++s) {
    out.push_back(layers_of_stage(layers, split, s));
  }
  return out;
}

std::vector<ProblemKind> kinds(const std::vector<Problem>& problems) {
  std::vector<ProblemKind> out;
  for (const auto& problem : problems) {
    out.push_back(problem.kind);
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// Whether some group of rejected layouts gives a reason containing `part`.
bool rejected_for(const SearchResult& result, const std::string& part) {
  return std::any_of(result.rejected.begin(), result.rejected.end(),
                     [&](const RejectionGroup& group) { return contains(group.reason, part); });
}

PlanReport plan_405b(const std::string& layout, const std::string& emit = "") {
  PlanRequest request;
  request.model = "llama-3.1-405b";
  request.cluster.nodes = 64;
  request.cluster.gpu = "h100-sxm";
  request.global_batch = 512;
  request.seq_len = 8192;
  request.layout = layout;
  request.emit = emit;
  brix::util::NoProgress progress;
  return run_plan(request, progress);
}

} // namespace

TEST_CASE("plan::first_layer_of_stage: Megatron's split") {
  using V = std::vector<std::int64_t>;
  // Llama-3.1-405B's 126 layers over 8 stages, embedding and loss counted: 128 / 8 = 16 per
  // stage, one of them the embedding (first) or the loss (last).
  CHECK(sizes(126, {8, true, true}) == V{15, 16, 16, 16, 16, 16, 16, 15});
  // Over PP 8 × VPP 2 virtual stages: 8 each, 7 on the first and last.
  CHECK(sizes(126, {16, true, true}) == V{7, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 7});
  CHECK(sizes(127, {8, false, true}) == V{16, 16, 16, 16, 16, 16, 16, 15});
  CHECK(sizes(127, {8, true, false}) == V{15, 16, 16, 16, 16, 16, 16, 16});
  // Layers the stages do not divide: middle stages equal (⌈61/16⌉ = 4), the first and last
  // share the rest, the first the larger half — what --decoder-first/last-pipeline-num-layers say.
  CHECK(sizes(61, {16}) == V{3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2});
  CHECK(sizes(61, {4}) == V{15, 16, 16, 14});
  CHECK(sizes(62, {4}) == V{15, 16, 16, 15});
  CHECK(sizes(63, {4}) == V{16, 16, 16, 15});
  CHECK(sizes(61, {2}) == V{31, 30});
  CHECK(sizes(64, {8}) == V{8, 8, 8, 8, 8, 8, 8, 8});
  // Middle stages of ⌈17/16⌉ = 2 would leave the first and last nothing: the extra layer goes to
  // a middle stage (Megatron then needs a per-stage layout).
  CHECK(sizes(17, {16}) == V{1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  CHECK(sizes(5, {1}) == V{5});
  for (int stages = 1; stages <= 40; ++stages) {
    for (std::int64_t layers = stages; layers <= 130; ++layers) {
      CAPTURE(stages);
      CAPTURE(layers);
      const auto split = sizes(layers, {stages});
      std::int64_t sum = 0;
      for (const auto size : split) {
        CHECK(size >= 1);
        sum += size;
      }
      CHECK(sum == layers);
      // Never worse than the most even split, and first/last + equal middles where those can be.
      const auto most = (layers + stages - 1) / stages;
      CHECK(*std::max_element(split.begin(), split.end()) == most);
      if (stages > 2 && layers - (stages - 2) * most >= 2) {
        for (int s = 2; s + 1 < stages; ++s) {
          CHECK(split[static_cast<std::size_t>(s)] == split[1]);
        }
      }
    }
  }
}

TEST_CASE("plan::uniform_stages with the embedding and loss counted") {
  const auto model = brix::model::load_model("llama-3.1-405b");
  Layout layout;
  layout.pp = 8;
  layout.vpp = 2;
  layout.schedule = Schedule::interleaved;
  layout.pp_embedding = true;
  layout.pp_loss = true;
  const auto stages = uniform_stages(model, pipeline_split(layout));
  REQUIRE(stages.size() == 8);
  CHECK(stages[0].first_layer == 0);
  CHECK(stages[0].layers() == 15);
  CHECK(stages[1].first_layer == 15);
  CHECK(stages[7].layers() == 15);
  CHECK(stages[7].last_layer == 125);
  CHECK(stages[0].embedding);
  CHECK(stages[7].head);
  // The old signature is Megatron's split without them.
  CHECK(uniform_stages(model, 8)[0].layers() == 15); // 126 = 15 + 6·16 + 15
}

TEST_CASE("plan::validate counts the embedding and loss in layers % (pp·vpp)") {
  const auto model = brix::model::load_model("llama-3.1-405b"); // 126 layers
  // Megatron-Core of 2024: equal virtual stages only (2025's pipeline layouts take any split).
  const ValidationTarget target{512, 8, true, software_by_name("megatron-core-2024")};
  const TrainingShape shape{512, 8192};
  auto layout = parse_layout("tp=8,pp=8,dp=8,vpp=2,schedule=interleaved,zero=1");
  CHECK(kinds(validate(model, target, layout, shape)) == std::vector<ProblemKind>{ProblemKind::vpp_layers});
  layout.pp_embedding = true;
  layout.pp_loss = true;
  CHECK(validate(model, target, layout, shape).empty());
  // 127 slots do not divide by 16.
  layout.pp_embedding = false;
  const auto loss_only = validate(model, target, layout, shape);
  CHECK(kinds(loss_only) == std::vector<ProblemKind>{ProblemKind::pp_split});
  const ProblemContext context{&model, shape, target, 80e9};
  CHECK(describe(loss_only.front(), context, layout) ==
        "pp_embedding/pp_loss: the 126 layers with the embedding and loss counted (127) do not split into 16 (PP×VPP) "
        "equal stages, each pipeline stage with a decoder layer (Megatron's "
        "--account-for-embedding/loss-in-pipeline-split)");
  // One slot per virtual stage (126 + 2 over PP 16 × VPP 8, as Megatron-Bridge ran it): the first
  // virtual stage holds the embedding alone, the last the loss alone; every physical stage keeps
  // 7 or 8 decoder layers. Without interleaving a stage needs a decoder layer of its own.
  auto one_slot = parse_layout("tp=4,pp=16,dp=8,vpp=8,schedule=interleaved,zero=1,pp_embedding=1,pp_loss=1");
  CHECK(validate(model, target, one_slot, shape).empty());
  const PipelineSplit virtual_split{128, true, true};
  CHECK(layers_of_stage(126, virtual_split, 0) == 0);
  CHECK(layers_of_stage(126, virtual_split, 1) == 1);
  CHECK(layers_of_stage(126, virtual_split, 126) == 1);
  CHECK(layers_of_stage(126, virtual_split, 127) == 0);
  CHECK(uniform_stages(model, pipeline_split(one_slot))[0].layers() == 7);
  // Without interleaving the same rule holds over PP: 126 + 2 over 8 stages.
  auto plain = parse_layout("tp=8,pp=8,dp=8,pp_embedding=1,pp_loss=1");
  CHECK(validate(model, target, plain, shape).empty());
  plain.pp_loss = false;
  CHECK(kinds(validate(model, target, plain, shape)) == std::vector<ProblemKind>{ProblemKind::pp_split});
  // And they need a pipeline.
  auto flat = parse_layout("tp=8,pp=1,dp=64,pp_loss=1");
  CHECK(kinds(validate(model, target, flat, shape)) == std::vector<ProblemKind>{ProblemKind::pp_split});
}

TEST_CASE("plan::search_layouts counts the embedding and loss when that makes interleaving valid") {
  const auto model = brix::model::load_model("llama-3.1-405b");
  const auto cluster = brix::cluster::shorthand_cluster(64, 8, "h100-sxm", std::nullopt, std::nullopt);
  SearchOptions options;
  options.shape = {512, 8192};
  options.top_k = 3;
  options.software = software_by_name("megatron-core-2024"); // equal virtual stages only
  options.fixed = parse_layout_query("tp=8,pp=8,vpp=2");
  const auto result = search_layouts(model, cluster, options);
  REQUIRE_FALSE(result.plans.empty());
  const auto& best = result.plans.front().layout;
  CHECK(best.pp_embedding);
  CHECK(best.pp_loss);
  CHECK(contains(to_string(best), ",pp_embedding=1,pp_loss=1"));
  // Asked not to, the layout is refused with the rule it breaks.
  options.fixed = parse_layout_query("tp=8,pp=8,vpp=2,pp_embedding=0,pp_loss=0");
  const auto refused = search_layouts(model, cluster, options);
  CHECK(refused.plans.empty());
  CHECK(rejected_for(refused, "not divisible by PP×VPP = 16"));
  // Qwen3-235B-A22B's 94 layers over PP 8 × VPP 3 (Megatron-Bridge): 96 / 24.
  options.fixed = parse_layout_query("pp=8,vpp=3,pp_loss=1");
  const auto qwen = brix::model::load_model("qwen3-235b-a22b");
  const auto qwen_plans = search_layouts(qwen, cluster, options);
  REQUIRE_FALSE(qwen_plans.plans.empty());
  for (const auto& plan : qwen_plans.plans) {
    CHECK(plan.layout.pp_embedding);
    CHECK(plan.layout.pp_loss);
  }
}

TEST_CASE("plan::search_layouts moves the one extra slot to the end where the layout fits") {
  // Llama-3.1-70B's 80 layers + 1 over PP 3 × VPP 3: 9 slots per virtual stage with the
  // embedding or the loss counted. With the loss counted stage 0 keeps 27 layers and needs
  // 81.8 GiB at 8192 tokens; with the embedding counted it keeps 26 and needs 78.9 GiB.
  const auto model = brix::model::load_model("llama-3.1-70b");
  const auto cluster = brix::cluster::shorthand_cluster(3, 8, "h100-sxm", std::nullopt, std::nullopt);
  SearchOptions options;
  options.shape = {48, 8192};
  options.top_k = 2;
  const std::string layout = "tp=8,pp=3,dp=1,vpp=3,schedule=interleaved,mbs=1,recompute=none,zero=1";
  options.fixed = parse_layout_query(layout);
  const auto result = search_layouts(model, cluster, options);
  REQUIRE_FALSE(result.plans.empty());
  for (const auto& plan : result.plans) {
    CHECK(plan.layout.pp_embedding);
    CHECK_FALSE(plan.layout.pp_loss);
    CHECK(plan.memory.total <= 80.0 * (1ULL << 30));
  }
  // The loss alone, asked for, does not fit.
  options.fixed = parse_layout_query(layout + ",pp_loss=1");
  const auto refused = search_layouts(model, cluster, options);
  CHECK(refused.plans.empty());
  CHECK(rejected_for(refused, "out of memory by < 4 GiB"));
}

TEST_CASE("plan::closest_completion fills in pp_embedding and pp_loss") {
  const auto model = brix::model::load_model("llama-3.1-405b");
  const auto cluster = brix::cluster::shorthand_cluster(64, 8, "h100-sxm", std::nullopt, std::nullopt);
  SearchOptions options;
  options.shape = {512, 8192};
  const auto completion = closest_completion(model, cluster, options, parse_layout_query("tp=8,pp=8,vpp=2"));
  CAPTURE(to_string(completion.layout));
  CHECK(completion.layout.pp_embedding);
  CHECK(completion.layout.pp_loss);
  CHECK(std::find(completion.filled.begin(), completion.filled.end(), "pp_embedding=1") != completion.filled.end());
}

TEST_CASE("plan: --emit megatron writes Megatron's split flags") {
  SUBCASE("the embedding and loss counted, interleaved") {
    const auto report = plan_405b("tp=8,pp=8,vpp=2", "megatron");
    const auto text = find_emit_target("megatron").write(report).text;
    CHECK(contains(text, "--account-for-embedding-in-pipeline-split \\\n"));
    CHECK(contains(text, "--account-for-loss-in-pipeline-split \\\n"));
    CHECK(contains(text, "--num-layers-per-virtual-pipeline-stage 8 \\\n"));
    CHECK_FALSE(contains(text, "--decoder-first-pipeline-num-layers"));
    // plan.yaml carries them, and brix shard splits the same way.
    const auto file = parse_plan_file(find_emit_target("yaml").write(report).text, "plan.yaml");
    CHECK(file.layout.pp_embedding);
    CHECK(file.layout.pp_loss);
    const auto stages = resolve_stages(file, 126);
    REQUIRE(stages.size() == 16);
    CHECK(stages[0].layers() == 7);
    CHECK(stages[1].layers() == 8);
    CHECK(stages[15].layers() == 7);
  }
  SUBCASE("uneven first and last stages when the stages do not divide the layers") {
    PlanDetails details;
    const auto model = brix::model::load_model("deepseek-r1");
    for (const auto& span : uniform_stages(model, 16)) {
      details.stages.push_back({span.first_layer, span.last_layer, "", 0, 0});
    }
    CHECK(megatron_split_flags(details, 61) ==
          std::vector<std::string>{"--decoder-first-pipeline-num-layers 3", "--decoder-last-pipeline-num-layers 2"});
    details.stages.clear();
    for (const auto& span : uniform_stages(brix::model::load_model("llama-3.1-70b"), 8)) {
      details.stages.push_back({span.first_layer, span.last_layer, "", 0, 0});
    }
    CHECK(megatron_split_flags(details, 80).empty()); // 80 / 8: Megatron's default
  }
}

TEST_CASE("plan: pp_embedding and pp_loss in layout text and plan.yaml") {
  const auto layout = parse_layout("tp=8,pp=8,dp=8,pp_embedding=1,pp_loss=on");
  CHECK(layout.pp_embedding);
  CHECK(layout.pp_loss);
  CHECK(to_string(layout).ends_with(",grad_compression=none,pp_embedding=1,pp_loss=1"));
  CHECK_FALSE(contains(to_string(parse_layout("tp=8")), "pp_"));
  CHECK_THROWS_WITH_AS((void)parse_layout("pp_embedding=2"), "--layout: pp_embedding=2 is not valid (expected 1 or 0)",
                       brix::InputError);
  PlanFile file;
  file.model = {"llama-3.1-405b", "configs/models/llama-3.1-405b.json"};
  file.cluster = {"c", "c.yaml"};
  file.seq_len = 8192;
  file.layout = layout;
  file.batch = *BatchSplit::of(512, 1, 8);
  const auto text = to_yaml_text(file);
  CHECK(contains(text, "pp_embedding: true"));
  const auto back = parse_plan_file(text, "plan.yaml");
  CHECK(back.layout.pp_embedding);
  CHECK(back.layout.pp_loss);
  const auto stages = resolve_stages(back, 126);
  CHECK(stages.front().layers() == 15);
  CHECK(stages[1].layers() == 16);
  // PP 16 × VPP 8 over 126 + 2 slots: plan.yaml's first virtual stage holds only the embedding
  // (last_layer = first_layer − 1), its last only the loss; the file reads back.
  file.layout = parse_layout("tp=4,pp=16,dp=8,vpp=8,schedule=interleaved,pp_embedding=1,pp_loss=1");
  file.batch = *BatchSplit::of(512, 1, 8);
  file.stages = resolve_stages(file, 126);
  REQUIRE(file.stages.size() == 128);
  CHECK(file.stages.front().layers() == 0);
  CHECK(file.stages[1].first_layer == 0);
  CHECK(file.stages.back().layers() == 0);
  CHECK(file.stages.back().first_layer == 126);
  const auto reread = parse_plan_file(to_yaml_text(file), "plan.yaml");
  CHECK(reread.stages.size() == 128);
  // Only the ends may be empty, and only where the embedding or loss is counted there.
  file.layout.pp_embedding = false;
  CHECK_THROWS_AS((void)parse_plan_file(to_yaml_text(file), "plan.yaml"), brix::InputError);
}
