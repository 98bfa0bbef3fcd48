#include <brix/plan/measured.hpp>

#include <brix/util/document.hpp>
#include <brix/util/error.hpp>
#include <brix/util/output.hpp>

#include <fmt/format.h>

namespace brix::plan {

std::string measured_stages_yaml(const MeasuredStages& measured) {
  if (measured.stages.empty()) {
    throw JobError("no measured stage times yet: ranks must report stage= (BRIX_PP_RANK) "
                   "and complete some steps");
  }
  nlohmann::ordered_json stages = nlohmann::ordered_json::array();
  for (const auto& stage : measured.stages) {
    stages.push_back({{"stage", stage.stage}, {"ranks", stage.ranks}, {"steps", stage.steps},
                      {"compute_seconds", stage.compute_seconds}, {"step_seconds", stage.step_seconds}});
  }
  const nlohmann::ordered_json document{{"brix_measured", 1}, {"job", measured.job}, {"taken", static_cast<std::int64_t>(measured.taken)},
                                        {"world_size", measured.world_size}, {"stages", std::move(stages)}};
  return "# Measured per-stage step times (brix monitor --save-measured); for brix plan --measured.\n" +
         util::to_yaml(document);
}

MeasuredStages read_measured_stages(const std::string& path) {
  const auto document = util::DocNode::load_file(path);
  document.require_known_keys(std::vector<std::string>{"brix_measured", "job", "taken", "world_size", "stages"},
                              "a measured-times file");
  if (document.at("brix_measured").as_int() != 1) {
    document.at("brix_measured").fail("unsupported brix_measured version", "expected 1");
  }
  MeasuredStages out;
  out.job = document.string_or("job", "");
  out.taken = document.double_or("taken", 0);
  out.world_size = static_cast<int>(document.int_or("world_size", 0));
  const std::vector<std::string> keys{"stage", "ranks", "steps", "compute_seconds", "step_seconds"};
  for (const auto& item : document.at("stages").elements()) {
    item.require_known_keys(keys, "a measured stage");
    MeasuredStage stage;
    stage.stage = static_cast<int>(item.at("stage").as_non_negative_int("stage"));
    if (const auto ranks = item.find("ranks")) {
      for (const auto& rank : ranks->elements()) {
        stage.ranks.push_back(static_cast<int>(rank.as_non_negative_int("rank")));
      }
    }
    stage.steps = item.int_or("steps", 0);
    stage.compute_seconds = item.at("compute_seconds").as_positive_double("compute_seconds");
    stage.step_seconds = item.at("step_seconds").as_positive_double("step_seconds");
    for (const auto& seen : out.stages) {
      if (seen.stage == stage.stage) {
        item.fail(fmt::format("stage {} is listed twice", stage.stage), "expected each stage once");
      }
    }
    out.stages.push_back(std::move(stage));
  }
  return out;
}

} // namespace brix::plan
