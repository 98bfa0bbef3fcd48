// plan::PlanReport: run_plan on a small job (Llama 3.1 8B on one H200 node), then its JSON and
// text agree with the report and each other, util::print writes them, and --emit yaml reads
// back as the same plan.
#include <brix/plan/emit.hpp>
#include <brix/plan/emit_targets.hpp>
#include <brix/plan/plan_file.hpp>
#include <brix/plan/plan_run.hpp>
#include <brix/util/error.hpp>
#include <brix/util/print.hpp>
#include <brix/util/progress.hpp>

#include <doctest/doctest.h>

#include <sstream>
#include <string>

using namespace brix::plan;

namespace {

PlanReport small_report(const std::string& layout = "", const std::string& emit = "",
                        const std::string& software = "modern") {
  PlanRequest request;
  request.emit = emit;
  request.software = software;
  request.model = "llama-3.1-8b";
  request.cluster.cluster = "h200-node";
  request.global_batch = 64;
  request.layout = layout;
  brix::util::NoProgress progress;
  return run_plan(request, progress);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

} // namespace

TEST_CASE("plan::PlanReport to_json and to_text") {
  const auto report = small_report();
  REQUIRE_FALSE(report.search.plans.empty());
  REQUIRE(report.details.size() == report.search.plans.size());
  const auto& best = report.search.plans.front();
  CHECK(exit_code(report) == 0);
  CHECK(report.options.progress == nullptr);

  const auto json = to_json(report);
  CHECK(nlohmann::ordered_json::parse(json.dump(2)) == json);
  REQUIRE(json["plans"].size() == report.search.plans.size());
  CHECK(json["plans"][0]["layout"]["tp"] == best.layout.tp);
  CHECK(json["plans"][0]["layout"]["dp"] == best.layout.dp);
  CHECK(json["plans"][0]["step_time_s"].get<double>() == doctest::Approx(best.step.step_s));
  CHECK(json["plans"][0]["batch"]["global"] == 64);
  CHECK(json["plans"][0]["stages"].size() == report.details.front().stages.size());
  CHECK(json["global_batch_proposed"] == false);
  CHECK(json.contains("optimizer"));
  CHECK_FALSE(json.contains("layout_explained"));
  CHECK_FALSE(json.contains("mixed"));
  CHECK_FALSE(json.contains("capacity"));

  const auto text = to_text(report, brix::util::Style{});
  CHECK(contains(text, short_layout(best.layout)));
  CHECK(contains(text, "\nstage split:\n"));
  CHECK(contains(text, "batch: global 64 = micro-batch "));
  CHECK_FALSE(contains(text, "cannot run"));
  CHECK_FALSE(contains(text, "global batch 64 proposed"));
  CHECK_FALSE(contains(text, "\x1b["));

  std::ostringstream as_json, as_yaml, as_text;
  brix::util::print(report, brix::util::Format::json, as_json, {});
  brix::util::print(report, brix::util::Format::yaml, as_yaml, {});
  brix::util::print(report, brix::util::Format::text, as_text, {});
  CHECK(as_json.str() == json.dump(2) + "\n");
  CHECK(as_yaml.str() == brix::util::to_yaml(json));
  CHECK(as_text.str() == text);
}

TEST_CASE("plan::PlanReport of a --layout that cannot run") {
  // 64 ranks on 8 GPUs: explained, and a failed request.
  const auto report = small_report("tp=8,pp=4,dp=2");
  CHECK(report.search.plans.empty());
  REQUIRE(report.explanation.has_value());
  CHECK(exit_code(report) == 1);
  const auto json = to_json(report);
  CHECK(json["layout_problems"].size() == report.explanation->verdict.problems.size());
  CHECK(json.contains("capacity"));
  const auto text = to_text(report, brix::util::Style{});
  CHECK(contains(text, "\nlayout " + to_string(report.explanation->completion.layout) + " cannot run:\n"));
  CHECK(contains(text, "  - " + report.explanation->verdict.problems.front() + "\n"));
}

TEST_CASE("plan::emit_targets") {
  std::vector<std::string> names;
  for (const auto& target : emit_targets()) {
    names.emplace_back(target.name);
    CHECK_FALSE(target.description.empty());
  }
  CHECK(names == std::vector<std::string>{"megatron", "deepspeed", "torchrun", "yaml", "json", "html", "svg"});
  CHECK(emit_target_names(" | ") == "megatron | deepspeed | torchrun | yaml | json | html | svg");
  CHECK(emit_target_descriptions() ==
        "Megatron flags, a DeepSpeed JSON config, a torchrun line, plan.yaml, the best plan's JSON, an HTML page of the "
        "plans or the best plan's pipeline timeline in SVG");
  CHECK(find_emit_target("json").name == "json");
  CHECK_THROWS_WITH_AS((void)find_emit_target("yml"),
                       "--emit: unknown target 'yml' (did you mean 'yaml'?) (expected megatron, deepspeed, torchrun, "
                       "yaml, json, html or svg)",
                       brix::InputError);

  PlanRequest request;
  request.emit = "yml";
  brix::util::NoProgress progress;
  CHECK_THROWS_AS((void)run_plan(request, progress), brix::InputError); // before any search
  request.emit = "yaml";
  request.format = brix::util::Format::json;
  CHECK_THROWS_WITH_AS((void)run_plan(request, progress),
                       "--format: not with --emit (--emit chooses the output: Megatron flags, a DeepSpeed JSON config, "
                       "a torchrun line, plan.yaml, the best plan's JSON, an HTML page of the plans or the best plan's "
                       "pipeline timeline in SVG)",
                       brix::InputError);

  SUBCASE("yaml and json read back as the best plan") {
    const auto report = small_report();
    const auto& best = report.search.plans.front();
    const auto yaml = find_emit_target("yaml").write(report);
    CHECK(yaml.warnings.empty());
    const auto file = parse_plan_file(yaml.text, "emitted.yaml");
    CHECK(to_string(file.layout) == to_string(best.layout));
    CHECK(file.batch.global == 64);
    CHECK(file.model.name == report.model.name);
    const auto json = nlohmann::ordered_json::parse(find_emit_target("json").write(report).text);
    CHECK(json["step_time_s"].get<double>() == doctest::Approx(best.step.step_s));
    CHECK(json["batch"]["global"] == 64);
  }
  SUBCASE("megatron flags are for a plan Megatron-LM can run") {
    // brix's own collectives: the best plan here compresses gradients in FP8, which Megatron-LM
    // cannot; the flags are those of the best plan without.
    const auto report = small_report("", "megatron", "brix");
    const auto& best = report.search.plans.front();
    REQUIRE_FALSE(megatron_unsupported(best.layout).empty());
    REQUIRE(report.megatron);
    const auto& runnable = report.megatron->estimate.layout;
    CHECK(megatron_unsupported(runnable).empty());
    const auto flags = find_emit_target("megatron").write(report);
    CHECK(contains(flags.text, "--tensor-model-parallel-size " + std::to_string(runnable.tp)));
    CHECK_FALSE(contains(flags.text, "has no Megatron-LM flag"));
    REQUIRE(flags.warnings.size() == 1);
    CHECK(contains(flags.warnings.front(), "which Megatron-LM cannot run; these flags are for the best plan it can run"));
  }
  SUBCASE("nothing to emit when no layout fits") {
    const PlanReport empty;
    CHECK_THROWS_WITH_AS((void)find_emit_target("torchrun").write(empty), "--emit torchrun: no layout fits, nothing to emit",
                         brix::JobError);
  }
}
