// Engine and router command lines, by engine and version.
#include <brix/serve/engine_commands.hpp>

#include <brix/plan/physics.hpp>

#include <brix/util/strings.hpp>

#include <fmt/format.h>

namespace brix::serve {

namespace {

/// Where vLLM's data-parallel coordinator, vLLM's multi-node executor, Ray and SGLang's
/// torch.distributed rendezvous listen on the leader (the engines' documented examples).
constexpr int k_vllm_dp_rpc_port = 13345;
constexpr int k_vllm_master_port = 29501;
constexpr int k_ray_port = 6379;
constexpr int k_sglang_dist_port = 5000;

const RoleEstimate& estimate(const Deployment& deployment, Role role) {
  const auto& plan = *deployment.plan;
  switch (role) {
  case Role::prefill:
    return plan.prefill;
  case Role::decode:
    return plan.decode;
  case Role::both:
    break;
  }
  return plan.both;
}

class Args {
public:
  Args& add(std::string word) {
    m_words.push_back(std::move(word));
    return *this;
  }
  Args& add(std::string_view flag, const std::string& value) {
    m_words.emplace_back(flag);
    m_words.push_back(value);
    return *this;
  }
  Args& add(std::string_view flag, std::int64_t value) { return add(flag, std::to_string(value)); }
  /// A table spelling of one or more words ("--moe-a2a-backend deepep").
  Args& words(std::string_view spelling) {
    for (const auto& word : util::split(spelling, ' ')) {
      if (!word.empty()) {
        m_words.push_back(word);
      }
    }
    return *this;
  }
  [[nodiscard]] std::vector<std::string> take() { return std::move(m_words); }

private:
  std::vector<std::string> m_words;
};

std::string fraction(double value) { return fmt::format("{:.2f}", value); }

/// A command of `instance`, limited to its GPUs when it shares the node with other instances.
Command on_instance_gpus(const Deployment& deployment, const InstancePlacement& instance) {
  Command command;
  if (instance.gpus_per_node < deployment.group->group.gpus_per_node) {
    std::vector<std::string> gpus;
    for (int i = 0; i < instance.gpus_per_node; ++i) {
      gpus.push_back(std::to_string(instance.first_gpu + i));
    }
    command.env.emplace_back("CUDA_VISIBLE_DEVICES", fmt::format("{}", fmt::join(gpus, ",")));
  }
  return command;
}

Command vllm_command(const Deployment& deployment, const InstancePlacement& instance, const NodeRef& node) {
  const auto& engine = *deployment.engine;
  const auto& layout = deployment.plan->layout;
  const auto& role = estimate(deployment, instance.role);
  const auto& shape = instance.shape;
  auto command = on_instance_gpus(deployment, instance);
  const bool spans = instance.nodes > 1;
  const bool overlap = runs_overlap(engine, shape, layout.overlap);
  if (shape.ep > 1 && (spans || overlap) && plan::runs_node_level_dispatch(deployment.group->group.gpu)) {
    // DeepEP all-to-all across nodes (and under DBO, which yields inside its kernels):
    // low-latency kernels for decode, high-throughput otherwise.
    command.env.emplace_back("VLLM_ALL2ALL_BACKEND",
                             instance.role == Role::decode ? "deepep_low_latency" : "deepep_high_throughput");
  }
  const bool ray = spans && shape.dp == 1 && engine.multi_node == MultiNode::ray_or_dp;
  if (ray && !node.leader_node()) {
    // Ray worker: joins the leader's cluster; the leader's vllm serve places workers on it.
    command.argv = {"ray", "start", fmt::format("--address={}:{}", node.leader, k_ray_port), "--block"};
    return command;
  }
  if (ray) {
    command.setup.push_back(fmt::format("ray start --head --port={}", k_ray_port));
  }
  Args args;
  args.add("vllm").add("serve").add("$MODEL").add("--host", "0.0.0.0").add("--port", instance.port);
  args.add("--tensor-parallel-size", shape.tp);
  if (shape.pp > 1) {
    args.add("--pipeline-parallel-size", shape.pp);
  }
  if (shape.dp > 1) {
    args.add("--data-parallel-size", shape.dp);
  }
  if (shape.ep > 1) {
    args.add("--enable-expert-parallel");
  }
  args.add("--gpu-memory-utilization", fraction(role.pool.memory.memory_fraction));
  args.add("--max-model-len", deployment.max_model_len);
  args.add("--max-num-seqs", role.max_sequences);
  args.add("--max-num-batched-tokens", role.chunk_tokens);
  if (layout.kv == KvPrecision::fp8) {
    args.add("--kv-cache-dtype", "fp8");
  }
  if (layout.mtp > 0) {
    args.add("--speculative-config", fmt::format(R"({{"method":"deepseek_mtp","num_speculative_tokens":{}}})", layout.mtp));
  }
  if (overlap && !engine.overlap_flag.empty()) {
    args.words(engine.overlap_flag);
  }
  if (instance.role != Role::both) {
    args.add("--kv-transfer-config", R"({"kv_connector":"NixlConnector","kv_role":"kv_both"})");
    // NIXL's handshake listens on localhost unless told the address the other nodes reach.
    if (!node.self.empty()) {
      command.env.emplace_back("VLLM_NIXL_SIDE_CHANNEL_HOST", node.self);
    }
  }
  if (spans) {
    if (shape.dp > 1) {
      const int local = shape.dp / instance.nodes;
      args.add("--data-parallel-size-local", local);
      args.add("--data-parallel-address", node.leader);
      args.add("--data-parallel-rpc-port", k_vllm_dp_rpc_port);
      if (!node.leader_node()) {
        args.add("--data-parallel-start-rank", node.rank_times(local)).add("--headless");
      }
    } else if (ray) {
      args.add("--distributed-executor-backend", "ray");
    } else {
      args.add("--nnodes", node.nodes_text(instance.nodes)).add("--node-rank", node.rank_text());
      args.add("--master-addr", node.leader).add("--master-port", k_vllm_master_port);
      if (!node.leader_node()) {
        args.add("--headless");
      }
    }
  }
  command.argv = args.take();
  return command;
}

Command sglang_command(const Deployment& deployment, const InstancePlacement& instance, const NodeRef& node) {
  const auto& engine = *deployment.engine;
  const auto& layout = deployment.plan->layout;
  const auto& role = estimate(deployment, instance.role);
  const auto& shape = instance.shape;
  auto command = on_instance_gpus(deployment, instance);
  Args args;
  args.add("python3").add("-m").add("sglang.launch_server").add("--model-path", "$MODEL");
  args.add("--host", "0.0.0.0").add("--port", instance.port).add("--trust-remote-code");
  args.add("--tp-size", shape.stage_gpus());
  if (shape.dp > 1) {
    args.add("--dp-size", shape.dp).add("--enable-dp-attention");
  }
  if (shape.pp > 1) {
    args.add("--pp-size", shape.pp);
  }
  const bool overlap = runs_overlap(engine, shape, layout.overlap);
  if (shape.ep > 1) {
    if (engine.ep_partial) {
      args.add(engine.ep_flag, shape.ep);
    } else {
      args.words(engine.ep_flag); // EP over every GPU of the stage
    }
    // DeepEP across nodes, and always under two-batch overlap (SGLang refuses TBO without it).
    if (shape.ep == shape.stage_gpus() && (instance.nodes > 1 || overlap) &&
        plan::runs_node_level_dispatch(deployment.group->group.gpu)) {
      args.words(engine.deepep_flag);
    }
  }
  if (overlap && !engine.overlap_flag.empty()) {
    args.words(engine.overlap_flag);
  }
  args.add("--mem-fraction-static", fraction(role.pool.memory.memory_fraction));
  args.add("--max-running-requests", role.max_sequences * shape.dp);
  args.add("--chunked-prefill-size", role.chunk_tokens);
  args.add("--context-length", deployment.max_model_len);
  if (layout.kv == KvPrecision::fp8) {
    args.add("--kv-cache-dtype", "fp8_e4m3");
  }
  if (layout.mtp > 0) {
    args.add("--speculative-algorithm", "EAGLE").add("--speculative-num-steps", layout.mtp);
    args.add("--speculative-eagle-topk", 1).add("--speculative-num-draft-tokens", layout.mtp + 1);
  }
  if (layout.offload > 0) {
    args.add("--offload-group-size", layout.offload).add("--offload-num-in-group", 1);
    args.add("--offload-prefetch-step", 1).add("--offload-mode", "cpu");
  }
  if (instance.role != Role::both) {
    args.add("--disaggregation-mode", std::string(to_string(instance.role)));
    if (deployment.fabric.rdma()) {
      args.add("--disaggregation-ib-device", deployment.fabric.device_list());
    }
  }
  if (instance.nodes > 1) {
    args.add("--nnodes", node.nodes_text(instance.nodes)).add("--node-rank", node.rank_text());
    args.add("--dist-init-addr", fmt::format("{}:{}", node.leader, k_sglang_dist_port));
  }
  command.argv = args.take();
  return command;
}

Command trtllm_command(const Deployment& deployment, const InstancePlacement& instance) {
  const auto& engine = *deployment.engine;
  const auto& layout = deployment.plan->layout;
  const auto& role = estimate(deployment, instance.role);
  const auto& shape = instance.shape;
  auto command = on_instance_gpus(deployment, instance);
  // Settings trtllm-serve takes only from its YAML file.
  std::vector<std::string> config;
  if (shape.dp > 1) {
    config.emplace_back("enable_attention_dp: true");
  }
  std::vector<std::string> kv_cache;
  if (layout.kv == KvPrecision::fp8) {
    kv_cache.emplace_back("  dtype: fp8");
  }
  if (engine.kv_fraction_in_config) {
    kv_cache.push_back("  free_gpu_memory_fraction: " + fraction(role.pool.memory.memory_fraction));
  }
  if (!kv_cache.empty()) {
    config.emplace_back("kv_cache_config:");
    config.insert(config.end(), kv_cache.begin(), kv_cache.end());
  }
  if (layout.mtp > 0) {
    config.emplace_back("speculative_config:");
    config.emplace_back("  decoding_type: MTP");
    config.push_back(fmt::format("  num_nextn_predict_layers: {}", layout.mtp));
  }
  const auto file = fmt::format("/tmp/brix-trtllm-{}-{}.yaml", to_string(instance.role), instance.index);
  if (!config.empty()) {
    command.setup.push_back(fmt::format("cat > {} <<'YAML'\n{}\nYAML", file, fmt::join(config, "\n")));
  }
  Args args;
  args.add("trtllm-serve").add("$MODEL").add("--host", "0.0.0.0").add("--port", instance.port);
  args.add("--backend", "pytorch").add("--tp_size", shape.stage_gpus()).add("--pp_size", shape.pp);
  args.add("--ep_size", shape.ep);
  args.add("--max_batch_size", role.max_sequences).add("--max_num_tokens", role.chunk_tokens);
  args.add("--max_seq_len", deployment.max_model_len);
  if (!engine.kv_fraction_in_config) {
    args.add("--kv_cache_free_gpu_memory_fraction", fraction(role.pool.memory.memory_fraction));
  }
  args.add("--trust_remote_code");
  if (!config.empty()) {
    args.add(engine.config_flag, file);
  }
  command.argv = args.take();
  return command;
}

bool safe_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || std::string_view("_-./:=,@%+").find(c) != std::string_view::npos;
}

} // namespace

std::string NodeRef::rank_text() const { return rank ? std::to_string(*rank) : "$" + rank_variable; }

std::string NodeRef::nodes_text(int nodes) const {
  return nodes_variable.empty() ? std::to_string(nodes) : "$" + nodes_variable;
}

std::string NodeRef::rank_times(int factor) const {
  return rank ? std::to_string(*rank * factor) : fmt::format("$(({} * {}))", rank_variable, factor);
}

Command engine_command(const Deployment& deployment, const InstancePlacement& instance, const NodeRef& node) {
  switch (deployment.engine->engine) {
  case Engine::vllm:
    return vllm_command(deployment, instance, node);
  case Engine::sglang:
    return sglang_command(deployment, instance, node);
  case Engine::trtllm:
    return trtllm_command(deployment, instance);
  }
  return {};
}

Command router_command(const Deployment& deployment, const std::vector<std::string>& prefill,
                       const std::vector<std::string>& decode) {
  Args args;
  args.words(deployment.engine->router);
  for (const auto& url : prefill) {
    args.add("--prefill", url);
  }
  for (const auto& url : decode) {
    args.add("--decode", url);
  }
  args.add("--host", "0.0.0.0").add("--port", deployment.router_port);
  Command command;
  command.argv = args.take();
  return command;
}

std::string shell_word(std::string_view word) {
  if (!word.empty() && std::all_of(word.begin(), word.end(), safe_char)) {
    return std::string(word);
  }
  if (word.find('$') != std::string_view::npos) {
    std::string out = "\"";
    for (const char c : word) {
      if (c == '"' || c == '\\' || c == '`') {
        out += '\\';
      }
      out += c;
    }
    return out + "\"";
  }
  std::string out = "'";
  for (const char c : word) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

std::string command_line(const Command& command) {
  std::vector<std::string> words;
  // env(1) rather than bare assignments: `exec VAR=1 prog` makes the shell look for a program
  // named "VAR=1".
  if (!command.env.empty()) {
    words.emplace_back("env");
  }
  for (const auto& [name, value] : command.env) {
    words.push_back(name + "=" + shell_word(value));
  }
  for (const auto& word : command.argv) {
    words.push_back(shell_word(word));
  }
  return fmt::format("{}", fmt::join(words, " "));
}

} // namespace brix::serve
