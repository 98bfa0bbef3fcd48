// Laying a serving plan out on nodes: instances, ports, router, checkpoint, fabric.
#include <brix/serve/deployment.hpp>

#include <brix/probe/report_json.hpp>
#include <brix/util/document.hpp>
#include <brix/util/paths.hpp>

#include <array>
#include <filesystem>
#include <fmt/format.h>

namespace brix::serve {

namespace {

/// Checkpoints of the bundled models on the Hugging Face hub, by weight format.
struct Checkpoint {
  std::string_view model;
  WeightPrecision weights;
  std::string_view id;
};
constexpr std::array<Checkpoint, 12> k_checkpoints{{
    {"deepseek-r1", WeightPrecision::fp8, "deepseek-ai/DeepSeek-R1"},
    {"gpt-oss-120b", WeightPrecision::fp4, "openai/gpt-oss-120b"},
    {"gpt-oss-20b", WeightPrecision::fp4, "openai/gpt-oss-20b"},
    {"deepseek-r1", WeightPrecision::fp4, "nvidia/DeepSeek-R1-FP4"},
    {"llama-3.1-405b", WeightPrecision::bf16, "meta-llama/Llama-3.1-405B-Instruct"},
    {"llama-3.1-405b", WeightPrecision::fp8, "meta-llama/Llama-3.1-405B-Instruct-FP8"},
    {"llama-3.1-70b", WeightPrecision::bf16, "meta-llama/Llama-3.1-70B-Instruct"},
    {"llama-3.1-8b", WeightPrecision::bf16, "meta-llama/Llama-3.1-8B-Instruct"},
    {"qwen3-235b-a22b", WeightPrecision::bf16, "Qwen/Qwen3-235B-A22B"},
    {"qwen3-235b-a22b", WeightPrecision::fp8, "Qwen/Qwen3-235B-A22B-FP8"},
    {"mixtral-8x22b", WeightPrecision::bf16, "mistralai/Mixtral-8x22B-Instruct-v0.1"},
    {"qwen2.5-72b", WeightPrecision::bf16, "Qwen/Qwen2.5-72B-Instruct"},
}};

bool bundled(const model::ModelSpec& model) {
  std::error_code error;
  const auto folder = std::filesystem::weakly_canonical(std::filesystem::path(model.source).parent_path(), error);
  return !error && folder == std::filesystem::weakly_canonical(util::config_dir() / "models", error);
}

/// Where the next instance goes: instances smaller than a node share it (each on its own GPUs
/// and port), larger ones take whole nodes.
struct Cursor {
  int node = 0;
  int used = 0; ///< GPUs taken on `node`
  int slot = 0; ///< instances already on `node`
  [[nodiscard]] int nodes() const { return used > 0 ? node + 1 : node; }
};

void place_role(Deployment& out, Role role, const RolePlan& plan, int gpus_per_node, Cursor& at) {
  for (int index = 0; index < plan.instances; ++index) {
    InstancePlacement placement;
    placement.role = role;
    placement.index = index;
    placement.shape = plan.shape;
    const int gpus = plan.shape.gpus();
    if (gpus >= gpus_per_node || at.used + gpus > gpus_per_node) {
      if (at.used > 0) {
        at = {at.node + 1, 0, 0};
      }
    }
    placement.first_node = at.node;
    placement.port = out.engine->port + at.slot;
    if (gpus >= gpus_per_node) {
      placement.nodes = gpus / gpus_per_node;
      placement.gpus_per_node = gpus_per_node;
      at = {at.node + placement.nodes, 0, 0};
    } else {
      placement.first_gpu = at.used;
      placement.gpus_per_node = gpus;
      at.used += gpus;
      ++at.slot;
    }
    out.instances.push_back(placement);
  }
}

} // namespace

std::string_view to_string(Role role) {
  switch (role) {
  case Role::both:
    return "serve";
  case Role::prefill:
    return "prefill";
  case Role::decode:
    return "decode";
  }
  return "serve";
}

std::string FabricEnv::nccl_ib_hca() const {
  std::vector<std::string> items;
  for (std::size_t i = 0; i < adapters.size(); ++i) {
    items.push_back(fmt::format("{}:{}", adapters[i], i < ports.size() ? ports[i] : 1));
  }
  return fmt::format("{}", fmt::join(items, ","));
}

std::string FabricEnv::device_list() const { return fmt::format("{}", fmt::join(adapters, ",")); }

FabricEnv fabric_env(const cluster::NodeGroup& group) {
  FabricEnv env;
  if (!group.topology_yaml.empty()) {
    const auto doc = util::DocNode::load_string(group.topology_yaml, fmt::format("node group '{}' topology", group.name));
    const auto report = probe::report_from_doc(doc);
    for (const auto& nic : report.nics) {
      const auto* port = nic.primary_port();
      const bool down = port != nullptr && !port->state.empty() && port->state != "ACTIVE" && port->state != "ACTIVE_DEFER";
      if (!nic.compute || down) {
        continue;
      }
      env.adapters.push_back(nic.name);
      env.ports.push_back(port != nullptr ? port->number : 1);
      if (env.socket_ifname.empty() && !nic.netdevs.empty()) {
        env.socket_ifname = nic.netdevs.front();
      }
    }
    env.from_topology = true;
    return env;
  }
  for (int i = 0; i < group.nics_per_node; ++i) {
    env.adapters.push_back(fmt::format("mlx5_{}", i));
    env.ports.push_back(1);
  }
  return env;
}

std::optional<std::string> checkpoint_id(const model::ModelSpec& model, WeightPrecision weights) {
  if (bundled(model)) {
    for (const auto& checkpoint : k_checkpoints) {
      if (checkpoint.model == model.name && checkpoint.weights == weights) {
        return std::string(checkpoint.id);
      }
    }
    return std::nullopt;
  }
  if (parse_weight_precision(model.checkpoint_weights, "the checkpoint") == weights) {
    return std::filesystem::path(model.source).parent_path().string();
  }
  return std::nullopt;
}

Deployment deploy(const ServeReport& report, const RankedPlan& ranked) {
  Deployment out;
  out.report = &report;
  out.group = ranked.group;
  out.plan = ranked.plan;
  out.engine = report.engine;
  out.max_model_len = report.workload.isl + report.workload.osl;
  const auto& plan = *ranked.plan;
  const int per_node = ranked.group->group.gpus_per_node;
  Cursor at;
  if (plan.layout.mode == Mode::aggregated) {
    place_role(out, Role::both, plan.layout.both, per_node, at);
  } else {
    place_role(out, Role::prefill, plan.layout.prefill, per_node, at);
    place_role(out, Role::decode, plan.layout.decode, per_node, at);
    out.router_node = 0;
    out.router_port = report.engine->port == 8000 ? 8080 : 8000;
  }
  out.nodes = at.nodes();
  if (const auto id = checkpoint_id(report.model, plan.layout.weights)) {
    out.model_id = *id;
  } else {
    out.model_hint = fmt::format("the {} checkpoint of {} (a Hugging Face id or a local path){}",
                                 to_string(plan.layout.weights), report.model.name,
                                 plan.layout.weights == WeightPrecision::bf16 && report.model.checkpoint_weights == "fp8"
                                     ? "; inference/fp8_cast_bf16.py of the DeepSeek-V3 repository writes one from the FP8 release"
                                     : "");
  }
  out.fabric = fabric_env(ranked.group->group);
  return out;
}

} // namespace brix::serve
