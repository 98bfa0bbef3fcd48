// The engine table. Each row is what that version's documentation says (source), nothing
// inferred: a capability brix could not confirm for a version is left off, and the search then
// does not plan it for that version.
#include <brix/serve/engines.hpp>

#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <array>
#include <fmt/format.h>

namespace brix::serve {

namespace {

EngineVersion vllm_0_9() {
  EngineVersion row;
  row.engine = Engine::vllm;
  row.version = "0.9";
  row.released = "2025-05";
  row.source = "docs.vllm.ai v0.9: data_parallel_deployment.md (--data-parallel-size-local, --data-parallel-address, "
               "--data-parallel-rpc-port, --data-parallel-start-rank, --headless), distributed_serving.md (Ray)";
  row.dp_attention = true;
  row.multi_node = MultiNode::ray_or_dp;
  row.pipeline = true;
  row.mtp = true;
  row.pool = PoolRule::utilization;
  row.default_fraction = 0.9;
  row.image = "vllm/vllm-openai:v0.9.0";
  return row;
}

EngineVersion vllm_0_11() {
  EngineVersion row = vllm_0_9();
  row.version = "0.11";
  row.released = "2025-10";
  row.source = "vllm PR #23691 (multi-node mp executor: --nnodes, --node-rank, --master-addr, --headless), "
               "docs/serving/expert_parallel_deployment.md (NixlConnector, --enable-dbo), vllm-project/router "
               "(vllm-router --vllm-pd-disaggregation)";
  row.current = true;
  row.multi_node = MultiNode::native;
  row.disaggregation = true;
  row.overlap = true;
  row.overlap_needs_dp = true;
  row.overlap_flag = "--enable-dbo";
  row.router = "vllm-router --vllm-pd-disaggregation";
  row.image = "vllm/vllm-openai:v0.11.0";
  return row;
}

EngineVersion sglang_0_4() {
  EngineVersion row;
  row.engine = Engine::sglang;
  row.version = "0.4";
  row.released = "2025-04";
  row.source = "sglang 0.4.6 docs: server_arguments.md (--enable-ep-moe, --enable-deepep-moe, --enable-dp-attention, "
               "--dist-init-addr, --enable-two-batch-overlap); P/D not emitted for 0.4 (its mini_lb arguments "
               "could not be confirmed)";
  row.dp_attention = true;
  row.multi_node = MultiNode::dist_init;
  row.overlap = true;
  row.mtp = true;
  row.pool = PoolRule::static_fraction;
  row.port = 30000;
  row.ep_flag = "--enable-ep-moe";
  row.deepep_flag = "--enable-deepep-moe";
  row.overlap_flag = "--enable-two-batch-overlap";
  row.image = "lmsysorg/sglang:v0.4.10.post1";
  return row;
}

EngineVersion sglang_0_5() {
  EngineVersion row = sglang_0_4();
  row.version = "0.5";
  row.released = "2025-08";
  row.source = "sglang docs: server_arguments.md (--ep-size, --moe-a2a-backend, --pp-size; deprecated "
               "--enable-ep-moe/--enable-deepep-moe), pd_disaggregation.md (sglang_router.launch_router)";
  row.current = true;
  row.ep_partial = true;
  row.pipeline = true;
  row.ep_flag = "--ep-size";
  row.deepep_flag = "--moe-a2a-backend deepep";
  row.disaggregation = true;
  row.router = "python3 -m sglang_router.launch_router --pd-disaggregation";
  row.image = "lmsysorg/sglang:v0.5.5.post2";
  return row;
}

EngineVersion trtllm_1_0() {
  EngineVersion row;
  row.engine = Engine::trtllm;
  row.version = "1.0";
  row.released = "2025-09";
  row.source = "TensorRT-LLM 1.0 docs: commands/trtllm-serve (--tp_size, --pp_size, --ep_size, --max_batch_size, "
               "--max_num_tokens, --kv_cache_free_gpu_memory_fraction, --extra_llm_api_options), DeepSeek-R1 "
               "quick-start recipe (enable_attention_dp, kv_cache_config, speculative_config)";
  row.current = true;
  row.dp_attention = true;
  row.dp_attention_tp1 = true;
  row.ep_partial = true;
  row.pipeline = true;
  row.mtp = true;
  row.pool = PoolRule::free_fraction;
  row.default_fraction = 0.9;
  row.config_flag = "--extra_llm_api_options";
  row.image = "nvcr.io/nvidia/tensorrt-llm/release:1.0.0rc6";
  return row;
}

EngineVersion trtllm_1_3() {
  EngineVersion row = trtllm_1_0();
  row.version = "1.3";
  row.released = "2026-03";
  row.source = "TensorRT-LLM 1.3.0rc11 docs: examples/serve (trtllm-serve --config FILE with "
               "kv_cache_config.free_gpu_memory_fraction)";
  row.current = false;
  row.config_flag = "--config";
  row.kv_fraction_in_config = true;
  row.image = "nvcr.io/nvidia/tensorrt-llm/release:1.3.0rc11";
  return row;
}

const std::array<EngineVersion, 6>& table() {
  static const std::array<EngineVersion, 6> k_rows{vllm_0_9(),  vllm_0_11(),  sglang_0_4(),
                                                   sglang_0_5(), trtllm_1_0(), trtllm_1_3()};
  return k_rows;
}

} // namespace

std::string_view to_string(Engine engine) {
  switch (engine) {
  case Engine::vllm:
    return "vllm";
  case Engine::sglang:
    return "sglang";
  case Engine::trtllm:
    return "trtllm";
  }
  return "vllm";
}

Engine parse_engine(std::string_view text) {
  for (const auto engine : {Engine::vllm, Engine::sglang, Engine::trtllm}) {
    if (to_string(engine) == text) {
      return engine;
    }
  }
  const std::vector<std::string> names{"vllm", "sglang", "trtllm"};
  throw InputError(fmt::format("--engine: unknown engine '{}'{} (expected {})", text, util::did_you_mean(text, names),
                               util::join_or(names)));
}

std::span<const EngineVersion> engine_versions() { return table(); }

bool runs_overlap(const EngineVersion& engine, const InstanceShape& shape, bool requested) {
  return requested && engine.overlap && shape.ep > 1 && shape.ep == shape.stage_gpus() &&
         (!engine.overlap_needs_dp || shape.dp > 1);
}

const EngineVersion& find_engine_version(Engine engine, std::string_view version) {
  std::vector<std::string> known;
  for (const auto& row : table()) {
    if (row.engine != engine) {
      continue;
    }
    if ((version.empty() && row.current) || row.version == version) {
      return row;
    }
    known.emplace_back(row.version);
  }
  throw InputError(fmt::format("--engine-version: {} {} is not in brix's engine table{} (expected {})", to_string(engine),
                               version, util::did_you_mean(version, known), util::join_or(known)));
}

} // namespace brix::serve
