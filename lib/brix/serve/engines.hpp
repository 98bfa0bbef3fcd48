#pragma once
// The serving engines brix plans for, one row per engine version: what that version can run
// (attention data parallelism, partial expert parallelism, multi-node instances, P/D
// disaggregation, ...), how it sizes its KV pool, and how its flags are spelled. Flag spellings
// change between versions; everything that emits a command reads them from this table, and a
// unit test per row parses an emitted command back (tests/unit/test_serve_emit.cpp).

#include <brix/serve/layout.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace brix::serve {

enum class Engine { vllm, sglang, trtllm };

[[nodiscard]] std::string_view to_string(Engine engine);
/// "vllm" | "sglang" | "trtllm"; anything else is an InputError naming --engine.
[[nodiscard]] Engine parse_engine(std::string_view text);

/// How the engine turns free memory into its KV pool.
enum class PoolRule {
  utilization,     ///< vLLM: total × --gpu-memory-utilization − weights − activation peak − non-torch memory
  static_fraction, ///< SGLang: total × --mem-fraction-static − weights (the rest is activations, graphs, buffers)
  free_fraction,   ///< TRT-LLM: (total − weights − activations − buffers) × kv_cache free fraction
};

/// How the version starts an instance that spans nodes.
enum class MultiNode {
  none,           ///< one node per instance (brix does not emit MPI launches)
  ray_or_dp,      ///< vLLM 0.9/0.10: data-parallel ranks with --data-parallel-address/--headless; TP/PP over Ray
  native,         ///< vLLM ≥ 0.11: also --nnodes/--node-rank/--master-addr for TP/PP
  dist_init,      ///< SGLang: --dist-init-addr/--nnodes/--node-rank
};

struct EngineVersion {
  Engine engine = Engine::vllm;
  std::string_view version;   ///< --engine-version, e.g. "0.11"
  std::string_view released;  ///< e.g. "2025-10"
  std::string_view source;    ///< the documentation the row was read from
  bool current = false;       ///< the default --engine-version of its engine
  /// false: a version kept only to cost published runs of it — its flags are not in the table,
  /// so `brix plan --serve --engine-version` refuses it and nothing is emitted for it.
  bool plannable = true;

  // What the version runs.
  bool dp_attention = false;      ///< attention data parallelism beside expert parallelism
  bool dp_attention_tp1 = false;  ///< attention DP only with attention TP 1 (TRT-LLM's enable_attention_dp)
  bool ep_partial = false;        ///< EP smaller than the stage's GPUs (MoE TP × EP); else EP is 1 or all of them
  MultiNode multi_node = MultiNode::none;
  bool pipeline = false;          ///< pp > 1
  bool disaggregation = false;    ///< prefill and decode instances with KV transfer
  bool overlap = false;           ///< two-batch overlap of MoE all-to-all with compute
  bool overlap_needs_dp = false;  ///< vLLM: DBO targets DP+EP deployments only
  bool mtp = false;               ///< MTP speculative decoding (DeepSeek NextN)
  /// Decode replays captured CUDA graphs. false: PyTorch launches every kernel from the host each
  /// step, and a step takes at least its launches' host time (step_time.hpp).
  bool cuda_graphs = true;
  /// The most tokens per rank a step may hold and still replay a captured CUDA graph; larger
  /// decode and mixed steps run without one, launched from the host (0: no limit brix knows).
  int cuda_graph_max_tokens = 0;
  /// Where > 0, the largest captured graph also holds at most this many tokens per sequence the
  /// engine is started with (--max-num-seqs) and at most its step budget: vLLM 0.11's default
  /// capture list ends at min(max_num_seqs * 2, 512), then min(max_num_batched_tokens, that).
  int cuda_graph_tokens_per_sequence = 0;
  /// Block-scaled FP8 GEMMs (dense and fused-MoE) run on the Triton kernels of early 2025, not
  /// on DeepGEMM/CUTLASS-class kernels the device model's GEMM figures come from (device.hpp).
  bool triton_block_fp8 = false;
  /// Serves MXFP4 checkpoints on GPUs without FP4 tensor cores weight-only: the MoE kernels read
  /// the 4-bit weights and multiply in bf16 (gpt-oss on Hopper). NVFP4 is not covered.
  bool mxfp4_weight_only = false;
  /// MLA decode over an FP8 KV cache in FP8 MMA on GPUs with such a kernel (Blackwell), not
  /// dequantized to bf16 first.
  bool fp8_mla_mma = false;
  /// MLA decode multiplies by absorbed matrices materialized at load time, not by the
  /// checkpoint's q/kv up- and output projections: W_Q_UK (q LoRA rank x heads * kv LoRA rank)
  /// and W_UV_O (heads * kv LoRA rank x hidden), requantized to the checkpoint's FP8 blocks, and
  /// the rope part of q's up-projection in bf16 (step_time.cpp, absorbed_decode_projections).
  bool mla_absorbed_weights = false;
  /// Kernels per MLA layer and step beyond the five brix counts for norms, rotary embedding and
  /// the cache write, where the version runs its attention's glue as separate PyTorch ops:
  /// DeepSeek's YaRN rotary embedding in native PyTorch and the copies around the attention
  /// kernel (vLLM 0.7, engines.cpp). Each is a kernel at its floor in a decode step.
  int mla_glue_kernels = 0;
  /// Under two-batch overlap with prefill's high-throughput all-to-all kernels, the GEMMs run on
  /// the SMs those kernels leave for the whole micro-batched forward, not only while they run.
  bool overlap_reserves_comm_sms = false;
  /// Two-batch overlap splits a step only above this many tokens per rank (0: any step of two
  /// sequences or more), for decode-only steps and for steps with a prompt.
  int overlap_min_decode_tokens = 0;
  int overlap_min_prefill_tokens = 0;
  /// The layer-group weight offloader (--offload-group-size, --offload-num-in-group,
  /// --offload-prefetch-step): routed experts of some layers in host memory, copied in ahead.
  bool weight_offload = false;
  /// The chunked-prefill budget holds the step's decode tokens too: running requests are
  /// scheduled first and prompts take what is left of max_num_batched_tokens.
  bool decode_in_chunk = false;
  /// Host work between decode steps that the version runs serially with the GPU (scheduling,
  /// building the next step's inputs, sampling bookkeeping), not overlapped with the step before:
  /// a fixed time per step and a time per running sequence of the rank's batch. 0: hidden behind
  /// the GPU (vLLM V1's engine core, SGLang's overlap scheduler, TensorRT-LLM's PyExecutor).
  double serial_host_step_s = 0;
  double serial_host_per_sequence_s = 0;
  /// The host work is serial only under attention DP (SGLang 0.4.3: --enable-dp-attention turned
  /// the overlap scheduler off); else only where the version never overlaps.
  bool serial_host_needs_dp = false;

  // Memory.
  PoolRule pool = PoolRule::utilization;
  /// The KV pool gives a sliding-window layer a slot for every token of a sequence, as a
  /// full-attention layer (SGLang 0.5 serves gpt-oss with hybrid SWA memory disabled); false:
  /// such a layer holds only its window, and the pool is sized per token at a 128K context.
  bool windows_pooled_full = false;
  double default_fraction = 0.9;  ///< --gpu-memory-utilization / kv_cache free fraction default

  // Serving.
  std::string_view image;         ///< the engine's published container image at this version
  int port = 8000;
  std::string_view health_path = "/health";

  // Flag spellings that differ between versions (empty: the version has none).
  std::string_view ep_flag;            ///< SGLang: "--ep-size" (0.5) or "--enable-ep-moe" (0.4, EP = TP)
  std::string_view deepep_flag;        ///< SGLang: "--moe-a2a-backend deepep" (0.5) or "--enable-deepep-moe" (0.4)
  std::string_view overlap_flag;       ///< "--enable-dbo", "--enable-two-batch-overlap"
  std::string_view config_flag;        ///< TRT-LLM: "--extra_llm_api_options" (1.0) or "--config" (1.3)
  bool kv_fraction_in_config = false;  ///< TRT-LLM 1.3: kv_cache_config.free_gpu_memory_fraction, no flag
  std::string_view router;             ///< the P/D router command, up to its prefill/decode arguments
};

/// Whether an instance of `shape` runs two-batch overlap when the plan asks for it. Both engines
/// overlap through DeepEP's all-to-all, which runs EP over every GPU of a stage: SGLang refuses
/// --enable-two-batch-overlap with moe_a2a_backend none, vLLM's DBO yields inside the modular
/// all-to-all kernels and targets DP+EP deployments.
[[nodiscard]] bool runs_overlap(const EngineVersion& engine, const InstanceShape& shape, bool requested);

/// Every row, engines in order, oldest version first.
[[nodiscard]] std::span<const EngineVersion> engine_versions();
/// The row for `engine` at `version` ("" = the current one) to plan with; unknown versions and
/// rows kept only for costing are InputErrors naming --engine-version and listing the plannable ones.
[[nodiscard]] const EngineVersion& find_engine_version(Engine engine, std::string_view version);
/// As find_engine_version, also accepting the rows kept only to cost published runs (calibration).
[[nodiscard]] const EngineVersion& find_engine_version_to_cost(Engine engine, std::string_view version);

} // namespace brix::serve
