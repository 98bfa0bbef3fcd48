#pragma once
// How many requests an engine runs at once when its KV pool, not the client, is the limit: each
// engine's admission rule, by default, turned into the KV tokens one request holds on average
// over its life. Requests the client has in flight beyond that wait in the engine's queue
// (performance.hpp counts that wait in TTFT).

#include <brix/serve/engines.hpp>

#include <cstdint>

namespace brix::serve {

/// An engine's default rule for admitting a waiting request into its running batch.
enum class Admission {
  /// vLLM (V0 and V1 schedulers): a request is admitted when its prompt's blocks are free; decode
  /// takes a block at a time and preempts the newest running request when none is free.
  on_demand,
  /// SGLang: a request is admitted when prompt + new_token_ratio × its output fit beside the
  /// running requests' reservations of new_token_ratio × their outputs still to come; the ratio
  /// decays from 0.7 to 0.7 × 0.14 over 600 decode steps (global_config.py).
  reserve_ratio,
  /// TensorRT-LLM: CapacitySchedulerPolicy.GUARANTEED_NO_EVICT (llmapi/llm_args.py's
  /// SchedulerConfig default) admits a request only when the blocks of its prompt and every output
  /// token are free.
  reserve_output,
};

struct AdmissionRule {
  Admission admission = Admission::on_demand;
  std::int64_t block_tokens = 1; ///< KV cache block (page) size in tokens
  double reserve_ratio = 0;      ///< reserve_ratio: the steady-state new_token_ratio
};

/// The engine's default rule: vLLM block_size 16; SGLang page_size 1 with new_token_ratio at its
/// floor 0.7 × 0.14 = 0.098 (a closed loop runs for thousands of decode steps, and the ratio only
/// rises again after a retraction); TensorRT-LLM KvCacheConfig.tokens_per_block 32.
[[nodiscard]] AdmissionRule default_admission(Engine engine);

/// KV tokens one request of `isl` prompt and `osl` output tokens holds on average over its life
/// in a steady batch, under `rule`: on_demand ISL + OSL/2 (its context, growing from ISL to
/// ISL + OSL); reserve_ratio that plus ratio × the OSL/2 still to come on average; reserve_output
/// ISL + OSL from admission on. Rounded up to whole blocks.
[[nodiscard]] double held_tokens_per_request(const AdmissionRule& rule, std::int64_t isl, std::int64_t osl);

/// Requests one DP rank runs at once when its pool holds `pool_tokens`: pool / held tokens, whole,
/// at most `max_sequences` (the engine's cap on running requests).
[[nodiscard]] std::int64_t admitted_sequences(const AdmissionRule& rule, std::int64_t pool_tokens, std::int64_t isl,
                                              std::int64_t osl, std::int64_t max_sequences);

} // namespace brix::serve
