#include <brix/shard/plan_inputs.hpp>

#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/util/bundled.hpp>
#include <brix/util/error.hpp>

#include <filesystem>
#include <fmt/format.h>

namespace brix::shard {

namespace fs = std::filesystem;

std::string resolve_plan_source(const plan::PlanFile& plan, const plan::PlanSource& source,
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

model::ModelSpec load_plan_model(const plan::PlanFile& plan) {
  return model::load_model(resolve_plan_source(plan, plan.model, "model"));
}

std::vector<ClusterNode> load_plan_nodes(const plan::PlanFile& plan, const std::vector<std::string>& files) {
  if (!files.empty()) {
    return load_nodes(files);
  }
  const auto name = resolve_plan_source(plan, plan.cluster, "cluster");
  if (name.starts_with(cluster::k_shorthand_prefix)) {
    std::vector<ClusterNode> nodes;
    for (const auto& group : cluster::parse_shorthand_spec(name).groups) {
      for (int i = 0; i < group.nodes; ++i) {
        nodes.push_back({fmt::format("{}#{}", group.name, i), false, group.name, group.gpus_per_node, nullptr});
      }
    }
    return nodes;
  }
  return load_nodes({util::resolve_bundled(name, "clusters", {".yaml", ".yml", ".json"}, "cluster")});
}

} // namespace brix::shard
