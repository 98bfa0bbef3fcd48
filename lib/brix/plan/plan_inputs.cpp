#include <brix/plan/plan_inputs.hpp>

#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/util/error.hpp>

#include <filesystem>
#include <fmt/format.h>

namespace brix::plan {

namespace fs = std::filesystem;

std::string resolve_plan_source(const PlanFile& plan, const PlanSource& source,
                                std::string_view what) {
  if (source.source.empty()) {
    return source.name;
  }
  if (source.source.starts_with(cluster::k_shorthand_prefix)) {
    return source.source; // --nodes/--gpu: the spec itself, no file
  }
  const fs::path path(source.source);
  std::error_code error;
  if (path.is_absolute() || fs::exists(path, error)) {
    return path.string();
  }
  const auto beside = fs::path(plan.path).parent_path() / path;
  if (fs::exists(beside, error)) {
    return beside.string();
  }
  fail_input(plan.path, 0,
             fmt::format("{}.source '{}' not found (looked in the current directory and in '{}')",
                         what, source.source, fs::path(plan.path).parent_path().string()),
             "a path to the file the plan was made from");
}

model::ModelSpec load_plan_model(const PlanFile& plan) {
  return model::load_model(resolve_plan_source(plan, plan.model, "model"));
}

} // namespace brix::plan
