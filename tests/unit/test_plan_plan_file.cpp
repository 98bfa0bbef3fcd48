#include <brix/plan/plan_file.hpp>
#include <brix/util/error.hpp>

#include <support/temp_dir.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using brix::InputError;
using namespace brix::plan;

namespace {

const char* const k_plan = R"(brix_plan: 1
model: {name: deepseek-r1, source: configs/models/deepseek-r1.json}
cluster: {name: example-deployment, source: configs/clusters/example-deployment.yaml}
seq_len: 4096
batch: {global: 1024, micro: 1, accumulation: 512}
layout: {tp: 8, pp: 4, dp: 2, ep: 8, etp: 1, cp: 1, sp: true, micro_batch: 1, vpp: 1,
         schedule: 1f1b, recompute: selective, zero: 1, precision: fp8, grad_compression: none}
stages:
  - {first_layer: 0, last_layer: 14, node_group: dgx-h100}
  - {first_layer: 15, last_layer: 30, node_group: dgx-h100}
  - {first_layer: 31, last_layer: 45, node_group: dgx-h100}
  - {first_layer: 46, last_layer: 60, node_group: dgx-h100}
)";

std::string error_of(const std::string& text) {
  try {
    (void)parse_plan_file(text, "plan.yaml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

} // namespace

TEST_CASE("plan::load_plan_file reads every field") {
  const auto plan = parse_plan_file(k_plan, "plan.yaml");
  CHECK(plan.model.name == "deepseek-r1");
  CHECK(plan.model.source == "configs/models/deepseek-r1.json");
  CHECK(plan.cluster.name == "example-deployment");
  CHECK(plan.seq_len == 4096);
  CHECK(plan.batch.global == 1024);
  CHECK(plan.batch.accumulation == 512);
  CHECK(plan.layout.tp == 8);
  CHECK(plan.layout.pp == 4);
  CHECK(plan.layout.dp == 2);
  CHECK(plan.layout.ep == 8);
  CHECK(plan.layout.sp);
  CHECK(plan.layout.recompute == Recompute::selective);
  CHECK(plan.layout.precision == Precision::fp8);
  CHECK(plan.layout.zero == 1);
  REQUIRE(plan.stages.size() == 4);
  CHECK(plan.stages[1].first_layer == 15);
  CHECK(plan.stages[1].last_layer == 30);
  CHECK(plan.stages[3].node_group == "dgx-h100");
}

TEST_CASE("plan::save_plan_file round trip") {
  auto plan = parse_plan_file(k_plan, "plan.yaml");
  plan.layout.schedule = Schedule::interleaved;
  plan.layout.vpp = 2;
  plan.layout.flash_attention = false;
  plan.layout.grad_compression = GradCompression::fp8;
  plan.stages.clear();
  const brix::test::TempDir dir;
  const auto path = dir.file("plan.yaml");
  save_plan_file(plan, path);
  const auto again = load_plan_file(path);
  CHECK(to_json(again) == to_json(plan));
  CHECK(again.layout.schedule == Schedule::interleaved);
  CHECK(!again.layout.flash_attention);
  CHECK(again.path == path);
  // Nothing but the plan is left in the folder (the temporary was renamed).
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 1);

  for (const auto schedule : {Schedule::one_f_one_b, Schedule::zb_h1, Schedule::dualpipe}) {
    plan.layout.schedule = schedule;
    plan.layout.vpp = 1;
    save_plan_file(plan, path);
    CHECK(load_plan_file(path).layout.schedule == schedule);
  }
  // An invalid plan is refused before anything is written.
  plan.batch.global = 7;
  CHECK_THROWS_AS(save_plan_file(plan, path), InputError);
  CHECK(load_plan_file(path).batch.global == 1024);
}

TEST_CASE("plan::parse_plan_file reads CPU offloading, and refuses it with a pipeline") {
  const auto flat = replaced(replaced(replaced(k_plan, "pp: 4, dp: 2", "pp: 1, dp: 8"), "accumulation: 512",
                                     "accumulation: 128"),
                             "grad_compression: none}", "grad_compression: none, offload: 20}");
  const auto one_stage = flat.substr(0, flat.find("stages:")) + "stages:\n  - {first_layer: 0, last_layer: 60, node_group: dgx-h100}\n";
  const auto plan = parse_plan_file(one_stage, "plan.yaml");
  CHECK(plan.layout.offload == 20);
  CHECK(to_json(plan)["layout"]["offload"] == 20);
  CHECK(parse_plan_file(to_yaml_text(plan), "again.yaml").layout.offload == 20);
  CHECK(error_of(replaced(k_plan, "grad_compression: none}", "grad_compression: none, offload: 20}"))
            .find("layout.offload = 20 with pp = 4") != std::string::npos);
}

TEST_CASE("plan::parse_plan_file reads an expert capacity factor and writes it back") {
  const auto plan = parse_plan_file(replaced(k_plan, "grad_compression: none}", "grad_compression: none, capacity: 1.25}"),
                                    "plan.yaml");
  CHECK(plan.layout.capacity == 1.25);
  CHECK(to_json(plan)["layout"]["capacity"] == 1.25);
  CHECK(parse_plan_file(to_yaml_text(plan), "again.yaml").layout.capacity == 1.25);
  CHECK_FALSE(to_json(parse_plan_file(k_plan, "plan.yaml"))["layout"].contains("capacity"));
  CHECK(error_of(replaced(k_plan, "grad_compression: none}", "grad_compression: none, capacity: 0}"))
            .find("layout.capacity must be > 0 (got 0)") != std::string::npos);
}

TEST_CASE("plan::parse_plan_file reads hybrid sharding and reshard, and refuses them below their ZeRO stage") {
  const auto text = replaced(replaced(k_plan, "zero: 1", "zero: 3"), "grad_compression: none}",
                             "grad_compression: none, shard: 2, reshard: false}");
  const auto plan = parse_plan_file(text, "plan.yaml");
  CHECK(plan.layout.shard == 2);
  CHECK_FALSE(plan.layout.reshard);
  CHECK(to_json(plan)["layout"]["shard"] == 2);
  const auto again = parse_plan_file(to_yaml_text(plan), "again.yaml").layout;
  CHECK(again.shard == 2);
  CHECK_FALSE(again.reshard);
  CHECK_FALSE(to_json(parse_plan_file(k_plan, "plan.yaml"))["layout"].contains("shard"));
  // ZeRO-1 hybrid-sharded is Megatron-Core's partial distributed optimizer; without ZeRO there is
  // nothing to shard.
  CHECK(parse_plan_file(replaced(k_plan, "grad_compression: none}", "grad_compression: none, shard: 2}"), "plan.yaml")
            .layout.shard == 2);
  CHECK(error_of(replaced(replaced(k_plan, "zero: 1", "zero: 0"), "grad_compression: none}",
                          "grad_compression: none, shard: 2}"))
            .find("shard= with zero=0") != std::string::npos);
  CHECK(error_of(replaced(text, "shard: 2", "shard: 3")).find("shard=3 does not divide DP=2") != std::string::npos);
}

TEST_CASE("plan::load_plan_file errors name file, line and what was expected") {
  CHECK(error_of(replaced(k_plan, "seq_len: 4096", "seq_lne: 4096")) ==
        "plan.yaml:4: unknown key 'seq_lne' in the plan (did you mean 'seq_len'?)");
  CHECK(error_of(replaced(k_plan, "tp: 8", "tpp: 8")).starts_with(
      "plan.yaml:6: unknown key 'tpp' in layout (did you mean 'tp'?)"));
  CHECK(error_of(replaced(k_plan, "schedule: 1f1b", "schedule: 1f2b")) ==
        "plan.yaml:7: unknown schedule '1f2b' (did you mean '1f1b'?) (expected one of 1f1b, "
        "interleaved, zb-h1, dualpipe)");
  CHECK(error_of(replaced(k_plan, "recompute: selective", "recompute: some")).starts_with(
      "plan.yaml:7: unknown recompute 'some'"));
  CHECK(error_of(replaced(k_plan, "precision: fp8", "precision: fp4")).starts_with(
      "plan.yaml:7: unknown precision 'fp4'"));
  CHECK(error_of(replaced(k_plan, "brix_plan: 1", "brix_plan: 2")) ==
        "plan.yaml:1: unsupported brix_plan version 2 (this brix reads version 1)");
  CHECK(error_of(replaced(k_plan, "seq_len: 4096", "seq_len: -1")) ==
        "plan.yaml:4: seq_len must be > 0 (got -1)");
  CHECK(error_of(replaced(k_plan, "pp: 4", "pp: 0")) == "plan.yaml:6: layout.pp must be > 0 (got 0)");
  CHECK(error_of(replaced(k_plan, "zero: 1", "zero: 4")) ==
        "plan.yaml:7: layout.zero must be 0, 1, 2 or 3 (got 4)");
  CHECK(error_of(replaced(k_plan, "sp: true", "sp: maybe")) ==
        "plan.yaml:6: 'maybe' is not a boolean (expected true or false)");
  CHECK(error_of(replaced(k_plan, "global: 1024", "global: 1000")) ==
        "plan.yaml:5: batch.global = 1000 is not micro × accumulation × dp = 1 × 512 × 2 = 1024");
  CHECK(error_of(replaced(k_plan, "ep: 8", "ep: 3")).starts_with(
      "plan.yaml:6: layout.ep × layout.etp = 3 does not divide tp × cp × dp = 16"));
  CHECK(error_of(replaced(k_plan, "vpp: 1", "vpp: 2")) ==
        "plan.yaml:6: layout.vpp = 2 needs schedule: interleaved (got 1f1b)");
  CHECK(error_of(replaced(k_plan, "first_layer: 15", "first_layer: 16")) ==
        "plan.yaml:10: stages[1].first_layer must be 15 (got 16) (stages are contiguous and start "
        "at layer 0)");
  CHECK(error_of(replaced(k_plan, "  - {first_layer: 46, last_layer: 60, node_group: dgx-h100}\n", "")) ==
        "plan.yaml:9: stages lists 3 stages but pp × vpp = 4 (one entry per (virtual) pipeline "
        "stage, in model order)");
  CHECK(error_of(replaced(k_plan, "model: {name: deepseek-r1, ", "model: {")) ==
        "plan.yaml:2: missing key 'name' (it is required here)");
  CHECK(error_of("brix_plan: 1\n").starts_with("plan.yaml:1: missing key 'model'"));
  CHECK(error_of("- 1\n- 2\n").starts_with("plan.yaml:1: a plan must be a mapping"));
}

TEST_CASE("plan::resolve_stages") {
  auto plan = parse_plan_file(k_plan, "plan.yaml");
  CHECK(resolve_stages(plan, 61).size() == 4);
  CHECK_THROWS_WITH_AS(resolve_stages(plan, 62),
                       "plan.yaml: stages end at layer 60 but model deepseek-r1 has 62 decoder "
                       "layers (the last stage ends at layer 61)",
                       InputError);
  plan.stages.clear();
  const auto uniform = resolve_stages(plan, 61);
  REQUIRE(uniform.size() == 4);
  // The planner's split (plan/pipeline_split.hpp): 15, 16, 16, 14.
  CHECK(uniform[0].layers() == 15);
  CHECK(uniform[1].first_layer == 15);
  CHECK(uniform[2].layers() == 16);
  CHECK(uniform[3].last_layer == 60);
  CHECK(uniform[3].layers() == 14);
  CHECK_THROWS_AS(resolve_stages(plan, 3), InputError);
}
