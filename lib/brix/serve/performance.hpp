#pragma once
// What a serving layout delivers under a workload: TTFT, TPOT and tokens/s, for aggregated
// instances (chunked prefill interleaved with decode) and for disaggregated ones (prefill and
// decode instances, KV moved over the fabric), at a fixed concurrency (closed loop: a client
// keeps that many requests in flight) or a request rate (open loop, Poisson arrivals, with
// queueing in front of prefill); a closed loop with a stated number of requests is costed as the
// benchmark client's finite run (first wave, steady state, drain).

#include <brix/model/model.hpp>
#include <brix/serve/device.hpp>
#include <brix/serve/engines.hpp>
#include <brix/serve/layout.hpp>
#include <brix/serve/memory.hpp>
#include <brix/serve/step_time.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace brix::serve {

struct Workload {
  std::int64_t isl = 1024;   ///< input (prompt) tokens per request
  std::int64_t osl = 1024;   ///< output tokens per request
  double concurrency = 0;    ///< requests in flight over the deployment (closed loop); 0: not given
  double request_rate = 0;   ///< requests/s arriving (open loop); 0: not given
  double ttft_slo_s = 0;     ///< 0: none
  double tpot_slo_s = 0;     ///< 0: none
  double mtp_acceptance = 0.7; ///< per drafted token, given the previous one was accepted
  /// Requests a benchmark client sends in all behind its concurrency cap (closed loop only): the
  /// run's first wave and drain are costed (finite_loop.hpp); 0: the steady state alone.
  double num_prompts = 0;
  /// Prompt tokens of each request found in the engine's prefix cache (vLLM automatic prefix
  /// caching, SGLang's radix cache): a shared system prompt, or prompts the server has seen
  /// before. Prefill computes the other isl − cached_tokens; they attend to the cached ones, whose
  /// KV is read, not written. The whole prompt's KV still occupies the pool and, disaggregated,
  /// crosses to the decode instance. MLA models pay one more GEMM per prompt: the cached latents
  /// up-projected for the new tokens' attention (layer_time.cpp).
  std::int64_t cached_tokens = 0;
};

/// The prompt tokens prefill computes per request: isl less what the prefix cache holds.
[[nodiscard]] inline std::int64_t computed_prompt_tokens(const Workload& workload) {
  return workload.isl - workload.cached_tokens;
}

/// Tokens per chunk of chunked prefill, per attention-DP rank: the engines' default budget
/// (vLLM max_num_batched_tokens and SGLang chunked_prefill_size 8,192 on large GPUs), and for
/// prefill-only instances the larger chunks disaggregated deployments run (LMSYS: 16,384 tokens
/// per device).
inline constexpr std::int64_t k_chunk_tokens = 8192;
inline constexpr std::int64_t k_prefill_chunk_tokens = 16384;
/// Running sequences per DP rank an engine is started with at most (vLLM's max_num_seqs default
/// on large GPUs).
inline constexpr std::int64_t k_max_sequences = 1024;

/// One role's instances as costed: memory, capacity and its steps.
struct RoleEstimate {
  RolePlan plan;
  KvPool pool;
  std::int64_t chunk_tokens = 0;    ///< prefill chunk per DP rank
  std::int64_t max_sequences = 0;   ///< per DP rank: what the KV pool holds at full length, at most k_max_sequences
  /// The running-sequence limit the engine is started with, per DP rank: the plan's max_sequences,
  /// which brix emits (--max-num-seqs, --max-running-requests, --max_batch_size); a published run
  /// started with the engine's default, k_max_sequences.
  std::int64_t engine_max_sequences = k_max_sequences;
  std::int64_t max_concurrency = 0; ///< per instance: KV tokens / (ISL + OSL), at most max_sequences × dp
  double batch = 0;                 ///< decode sequences per DP rank at the operating point
  StepCost decode;                  ///< one decode step at `batch`
  StepCost prefill;                 ///< one prefill chunk (latency through every stage)
  double prefill_tokens_per_s = 0;  ///< computed prompt tokens per instance, chunks back to back
  double cached_prefix = 0;         ///< Workload::cached_tokens, what role_step_context costs prefill after
};

/// What bounds an operating point.
enum class Limit { decode, prefill, kv_cache };
[[nodiscard]] std::string_view to_string(Limit limit);

struct Performance {
  bool stable = true;        ///< an open loop keeps up with its arrivals
  /// An open loop whose prefill cannot keep up: the arrival rate it could (requests/s); its
  /// latencies and rates are not computed (they have no steady state) and stay 0.
  double max_request_rate = 0;
  Limit limit = Limit::decode;
  double ttft_s = 0;
  double tpot_s = 0;
  double output_tokens_per_s = 0; ///< whole deployment
  double input_tokens_per_s = 0;
  double tokens_per_s_per_user = 0;
  double concurrency = 0;    ///< requests in flight
  double request_rate = 0;   ///< requests/s completed
  double queue_s = 0;        ///< part of TTFT spent waiting
  /// Closed loop: requests in flight beyond what the KV pool runs at once (RoleEstimate::
  /// max_concurrency per instance), waiting in the engines' queues for a running one to finish,
  /// and the part of queue_s that wait is: (requests ahead) / (the rate requests finish).
  double kv_waiting = 0;
  double kv_wait_s = 0;
  double kv_transfer_s = 0;  ///< part of TTFT moving the KV cache (disaggregated)
};

/// What a role is costed with.
struct RoleContext {
  const model::ModelSpec* model = nullptr;
  const ServeDevice* device = nullptr;
  const EngineVersion* engine = nullptr;
  WeightPrecision weights = WeightPrecision::bf16;
  KvPrecision kv = KvPrecision::bf16;
  int mtp = 0;
  bool overlap = false;
  int offload = 0; ///< ServeLayout::offload
};

/// Memory, capacity and the prefill chunk of a role's instances, whether or not they fit (what
/// calibration needs for deployments that ran with weights offloaded to host memory).
/// `engine_max_sequences`: the running-sequence limit the engine was started with, per DP rank
/// (RoleEstimate::engine_max_sequences); 0 for the plan's own, which brix emits.
[[nodiscard]] RoleEstimate cost_role(const RoleContext& context, const RolePlan& plan, const Workload& workload,
                                     std::int64_t chunk_tokens, std::int64_t engine_max_sequences = 0);

/// cost_role, or nullopt with `why` set when the weights do not fit or the KV cache cannot hold
/// one request.
[[nodiscard]] std::optional<RoleEstimate> size_role(const RoleContext& context, const RolePlan& plan,
                                                    const Workload& workload, std::int64_t chunk_tokens,
                                                    std::string& why);

/// Aggregated instances under `workload`; `role.batch` and `role.decode` are set to the
/// operating point.
[[nodiscard]] Performance aggregated_performance(const RoleContext& context, RoleEstimate& role,
                                                 const Workload& workload);

/// Disaggregated prefill and decode instances under `workload`.
[[nodiscard]] Performance disaggregated_performance(const RoleContext& context, RoleEstimate& prefill,
                                                    RoleEstimate& decode, const Workload& workload);

/// Seconds to move one request's KV cache (ISL tokens, every layer) from a prefill instance to a
/// decode instance: over NVLink inside a domain, else over the adapters of the GPUs that hold it.
[[nodiscard]] double kv_transfer_seconds(const RoleContext& context, const InstanceShape& prefill,
                                         const InstanceShape& decode, double tokens);

[[nodiscard]] StepContext step_context(const RoleContext& context, const InstanceShape& shape);
/// The same for a sized role: its CUDA-graph limit also follows the running-sequence limit and
/// the step budget the engine is started with (EngineVersion::cuda_graph_tokens_per_sequence).
[[nodiscard]] StepContext role_step_context(const RoleContext& context, const RoleEstimate& role);

} // namespace brix::serve
