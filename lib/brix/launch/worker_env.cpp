#include <brix/launch/worker_env.hpp>

#include <fmt/format.h>

namespace brix::launch {

std::string worker_store_prefix(const std::string& run_id, int attempt) {
  return fmt::format("workers/{}/{}/", run_id, attempt);
}

std::vector<std::string> worker_environment(const std::vector<std::string>& base,
                                            const WorkerContext& context) {
  const auto& world = *context.world;
  const auto& node = world.nodes.at(context.node_rank);
  const int rank = world.first_rank(context.node_rank) + context.local_rank;
  const int world_size = world.world_size();

  std::map<std::string, std::string> vars;
  std::vector<std::string> order; // the agent's variables keep their order
  for (const auto& entry : base) {
    const auto equals = entry.find('=');
    if (equals == std::string::npos) {
      continue;
    }
    auto name = entry.substr(0, equals);
    if (vars.emplace(name, entry.substr(equals + 1)).second) {
      order.push_back(std::move(name));
    }
  }
  auto set = [&](const std::string& name, const std::string& value) {
    if (vars.insert_or_assign(name, value).second) {
      order.push_back(name);
    }
  };
  // torchrun's contract (torch.distributed.elastic.agent.server.local_elastic_agent).
  set("RANK", std::to_string(rank));
  set("LOCAL_RANK", std::to_string(context.local_rank));
  set("WORLD_SIZE", std::to_string(world_size));
  set("LOCAL_WORLD_SIZE", std::to_string(node.nproc));
  set("GROUP_RANK", std::to_string(context.node_rank));
  set("GROUP_WORLD_SIZE", std::to_string(world.nodes.size()));
  set("ROLE_NAME", "default");
  set("ROLE_RANK", std::to_string(rank));
  set("ROLE_WORLD_SIZE", std::to_string(world_size));
  set("MASTER_ADDR", context.master_addr);
  set("MASTER_PORT", std::to_string(world.master_port));
  set("TORCHELASTIC_RESTART_COUNT", std::to_string(world.attempt));
  set("TORCHELASTIC_MAX_RESTARTS", std::to_string(context.max_restarts));
  set("TORCHELASTIC_RUN_ID", world.run_id);
  set("TORCHELASTIC_USE_AGENT_STORE", "False");
  set("TORCHELASTIC_ERROR_FILE", context.error_file);
  set("TORCHELASTIC_ENABLE_FILE_TIMER", "0");
  // Many workers each spawning one OpenMP thread per core oversubscribe the node.
  if (!vars.contains("OMP_NUM_THREADS") && node.nproc > 1) {
    set("OMP_NUM_THREADS", "1");
  }
  set("BRIX_NODE", node.node);
  set("BRIX_NODE_ADDR", context.node_address);
  set("BRIX_NODE_RANK", std::to_string(context.node_rank));
  set("BRIX_NNODES", std::to_string(world.nodes.size()));
  set("BRIX_ATTEMPT", std::to_string(world.attempt));
  set("BRIX_LOG_DIR", context.log_dir);
  set("BRIX_STORE_ADDR", context.store_addr);
  set("BRIX_STORE_PORT", std::to_string(context.store_port));
  set("BRIX_STORE_TOKEN", context.store_token);
  set("BRIX_STORE_PREFIX", worker_store_prefix(world.run_id, world.attempt));
  if (!context.binding.cpus.empty()) {
    set("BRIX_CPU_LIST", cpu_list_text(context.binding.cpus));
  }
  if (context.binding.numa_node) {
    set("BRIX_NUMA_NODE", std::to_string(*context.binding.numa_node));
  }
  if (!context.binding.gpu.empty()) {
    set("BRIX_GPU", context.binding.gpu);
  }
  // The user's own NCCL_IB_HCA always wins.
  if (!context.binding.nccl_ib_hca.empty() && !vars.contains("NCCL_IB_HCA")) {
    set("NCCL_IB_HCA", context.binding.nccl_ib_hca);
  }
  for (const auto& [name, value] : context.extra) {
    set(name, value);
  }
  std::vector<std::string> env;
  env.reserve(order.size());
  for (const auto& name : order) {
    env.push_back(name + "=" + vars.at(name));
  }
  return env;
}

} // namespace brix::launch
