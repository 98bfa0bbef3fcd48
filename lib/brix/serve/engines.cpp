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

// One row per version, every field the version's documentation gives written out (no row is
// derived from another: what changed between versions is read by comparing the rows).
constexpr std::array<EngineVersion, 9> k_rows{{
    // Kept to cost published runs of it (dstack's DeepSeek-R1 benchmark, 2025-03); brix's
    // emitters were written against 0.9 and later, so it is not plannable.
    {.engine = Engine::vllm, .version = "0.7", .released = "2025-02",
     .source = "vLLM 0.7.3 / 0.7.4 nightly (V0 engine): FlashMLA backend (VLLM_ATTENTION_BACKEND=FLASHMLA), CUDA "
                 "graphs captured for decode unless --enforce-eager; MoE through the Triton fused_moe kernel with "
                 "block-FP8 weights, dense block-FP8 linears through vLLM's first CUTLASS kernel, within 13% of the "
                 "Triton one at prefill sizes (vLLM PR #23280); no DeepGEMM (PR #13996 of 2025-02-27 tried it and was "
                 "closed); the V0 engine scheduled, built the next step's inputs and ran the sampler's host side "
                 "between GPU steps: \"GPU is often idle, waiting for CPU operations (5-13ms of GPU bubble)\", \"about "
                 "4ms of GPU bubble\" per decode step (vllm issue #6854, Multi-Step Scheduling RFC, 2024-07) and \"When "
                 "BS is 200, all this together can be 20ms\" (issue #6801, Performance Roadmap, 2024-08-08): 4 ms per "
                 "step and (20 - 4) / 200 = 0.08 ms per running sequence (an upper bound: 0.6.0's async output "
                 "processing later hid part of that 20 ms); V1 (2025-01) was built to overlap it; MLA decode through "
                 "absorbed matrices materialized at load time, W_Q_UK and W_UV_O requantized to FP8 blocks "
                 "(\"Currently fp8 requires matrix absorption\", MLACommonImpl.process_weights_after_loading in "
                 "vllm/attention/backends/mla/utils.py of the 0.7 line; dstack's nightly 0.7.4.dev181+gf35f8e22, a "
                 "commit another build log stamps .d20250303, predates PR #14770 \"MLA get rid of materialization\" of "
                 "2025-03-13); MLA's glue as separate PyTorch ops, each a kernel of the captured graph (\"In vLLM's V1 "
                 "architecture, torch.compile is enabled by default\", docs.vllm.ai v0.8.3 design/v1/torch_compile.md; "
                 "V0 ran the model uncompiled): MLACommonImpl.forward (same file) runs decode_q_pe[...], "
                 "decode_k_pe[...] = self.rotary_emb(...) (two copies back into place), torch.cat([q_nope, q_pe]) for "
                 "FlashMLA and output[num_prefill_tokens:] = self._forward_decode(...) (a copy), and "
                 "DeepseekScalingRotaryEmbedding.forward is \"PyTorch-native\" "
                 "(vllm/model_executor/layers/rotary_embedding.py, read at a later commit, 0042be2): an index into "
                 "cos_sin_cache, the cos and sin expansion (one op each), then per tensor q and k a multiply, the "
                 "rotation (a negation and a stack) another multiply and an add, 13 kernels where brix counts 1, so 16 "
                 "more per MLA layer; V0's chunked-prefill scheduler also \"prioritizes decode requests\" and "
                 "schedules prefills with what is left of max_num_batched_tokens (docs.vllm.ai, Optimization and "
                 "Tuning, Chunked Prefill)",
     .plannable = false, .triton_block_fp8 = true, .mla_absorbed_weights = true, .mla_glue_kernels = 16,
     .decode_in_chunk = true,
     .serial_host_step_s = 4e-3,
     .serial_host_per_sequence_s = 0.08e-3,
     .pool = PoolRule::utilization, .default_fraction = 0.9, .image = "vllm/vllm-openai:v0.7.3"},
    {.engine = Engine::vllm, .version = "0.9", .released = "2025-05",
     .source = "docs.vllm.ai v0.9: data_parallel_deployment.md (--data-parallel-size-local, --data-parallel-address, "
                 "--data-parallel-rpc-port, --data-parallel-start-rank, --headless), distributed_serving.md (Ray); V1 "
                 "scheduler: running requests first out of max_num_batched_tokens, as 0.11; CUDA graphs up to 512 "
                 "tokens per step whatever max_num_seqs (SchedulerConfig of that line: cuda_graph_sizes "
                 "default_factory=lambda: [512], \"Cuda graph capture sizes, default is 512\"; 0.11 ties it to "
                 "max_num_seqs)",
     .dp_attention = true, .multi_node = MultiNode::ray_or_dp, .pipeline = true, .mtp = true,
     .cuda_graph_max_tokens = 512, .decode_in_chunk = true, .pool = PoolRule::utilization, .default_fraction = 0.9, .image = "vllm/vllm-openai:v0.9.0"},
    {.engine = Engine::vllm, .version = "0.11", .released = "2025-10",
     .source = "vllm PR #23691 (multi-node mp executor: --nnodes, --node-rank, --master-addr, --headless), "
                 "docs/serving/expert_parallel_deployment.md (NixlConnector, --enable-dbo), vllm-project/router "
                 "(vllm-router --vllm-pd-disaggregation); gpt-oss since 0.10.1: \"vLLM Now Supports gpt-oss\" "
                 "(blog.vllm.ai, 2025-08-05: MXFP4 MoE on Hopper through OpenAI's Triton matmul_ogs kernel) and "
                 "vllm-project/recipes OpenAI/GPT-OSS.md (H100 & H200, default parameters, TP 2 recommended); "
                 "FLASHINFER_MLA (Blackwell only, supports_compute_capability: major == 10) scales its first BMM by "
                 "q_scale x k_scale over an FP8 KV cache: query and keys multiply in FP8 (read at a later commit than 0.11: vllm/v1/attention/backends/mla/"
                 "flashinfer_mla.py); the V1 scheduler (vllm/v1/core/sched/scheduler.py) schedules the RUNNING "
                 "requests first and the WAITING ones from what is left of one token_budget "
                 "(max_num_batched_tokens), so decode tokens take their share of the chunk; under --enable-dbo "
                 "UBatchWrapper runs the micro-batched forward inside its sm_control, deep_gemm.set_num_sms(total "
                 "- VLLM_DBO_COMM_SMS, default 20) when the all-to-all holds SMs (DeepEP high-throughput, "
                 "max_sms_used 20; low-latency 0: 'DeepEP LL uses RDMA so no SMs are used for communication'), "
                 "vllm/v1/worker/gpu_ubatch_wrapper.py and distributed/device_communicators/all2all.py; DBO micro-batches "
                 "a step only when its tokens exceed --dbo-decode-token-threshold (default 32) for decode-only "
                 "batches, --dbo-prefill-token-threshold (default 512) for batches with a prefill (docs.vllm.ai "
                 "engine arguments; docs/design/dbo.md); CUDA graphs: VllmConfig._set_cudagraph_sizes (read at a "
                 "0.11-line commit of vllm/config/vllm.py, not at the v0.11.0 tag) sets max_cudagraph_capture_size = "
                 "min(max_num_seqs * 2, 512), then min(max_num_batched_tokens, that), and \"If batch size > largest "
                 "cudagraph_capture_sizes, cudagraph will not be used\"; the batch is the step's scheduled tokens, "
                 "decode and prefill together; EngineArgs' defaults on GPUs of 70 GiB or more but A100 give the "
                 "OpenAI server max_num_seqs 1024 and max_num_batched_tokens 8192, so the largest graph holds 512 "
                 "tokens (brix's admission takes the same 1024 and 8192: k_max_sequences, k_chunk_tokens)",
     .current = true, .dp_attention = true, .multi_node = MultiNode::native, .pipeline = true,
     .disaggregation = true, .overlap = true, .overlap_needs_dp = true, .mtp = true, .cuda_graph_max_tokens = 512,
     .cuda_graph_tokens_per_sequence = 2, .mxfp4_weight_only = true,
     .fp8_mla_mma = true, .overlap_reserves_comm_sms = true,
     .overlap_min_decode_tokens = 32, .overlap_min_prefill_tokens = 512,
     .decode_in_chunk = true, .pool = PoolRule::utilization,
     .default_fraction = 0.9, .image = "vllm/vllm-openai:v0.11.0", .overlap_flag = "--enable-dbo",
     .router = "vllm-router --vllm-pd-disaggregation"},
    // Kept to cost published runs of it (dstack's DeepSeek-R1 benchmark, 2025-03); brix's
    // emitters were checked against 0.4.6 and later, so it is not plannable.
    {.engine = Engine::sglang, .version = "0.4.3", .released = "2025-02",
     .source = "sglang 0.4.3.post2 (sgl_kernel 0.0.3.post6, triton 3.1.0 as dstack lists them): block-FP8 linears "
                 "and fused MoE on Triton kernels (w8a8_block_fp8_matmul, fused_moe); DeepGEMM came after SGLang PR "
                 "#3893 (2025-02-26), which benchmarked the two; --enable-dp-attention with CUDA graphs (PR #2061); "
                 "server_args of that line under --enable-dp-attention: chunked_prefill_size // 2, cuda_graph_max_bs "
                 "96, disable_overlap_schedule = True (\"Overlap scheduler is disabled.\"), so the scheduler's host "
                 "work runs between GPU steps, which the overlap scheduler of SGLang 0.4 was built to hide (lmsys.org "
                 "blog 2024-12-04, Zero-Overhead Batch Scheduler: 1.1x throughput). No source times it: the 15 ms "
                 "per decode step is chosen on the fit set (dstack's three SGLang 0.4.3 runs' TPOT, 5-ms grid)",
     .plannable = false, .dp_attention = true, .triton_block_fp8 = true, .serial_host_step_s = 15e-3,
     .serial_host_needs_dp = true, .pool = PoolRule::static_fraction, .image = "lmsysorg/sglang:v0.4.3.post2",
     .port = 30000},
    {.engine = Engine::sglang, .version = "0.4", .released = "2025-04",
     .source = "sglang 0.4.6 docs: server_arguments.md (--enable-ep-moe, --enable-deepep-moe, --enable-dp-attention, "
                 "--dist-init-addr, --enable-two-batch-overlap); P/D not emitted for 0.4 (its mini_lb arguments "
                 "could not be confirmed)",
     .dp_attention = true, .multi_node = MultiNode::dist_init, .overlap = true, .mtp = true,
     .pool = PoolRule::static_fraction, .image = "lmsysorg/sglang:v0.4.10.post1", .port = 30000,
     .ep_flag = "--enable-ep-moe", .deepep_flag = "--enable-deepep-moe", .overlap_flag = "--enable-two-batch-overlap"},
    {.engine = Engine::sglang, .version = "0.5", .released = "2025-08",
     .source = "sglang docs: server_arguments.md (--ep-size, --moe-a2a-backend, --pp-size; deprecated "
                 "--enable-ep-moe/--enable-deepep-moe), pd_disaggregation.md (sglang_router.launch_router); gpt-oss: \"SGLang for gpt-oss\" (lmsys.org/blog, "
                 "2025-08-27: sglang >= 0.5.1.post3, MXFP4 on H100, launch_server --model-path openai/gpt-oss-120b "
                 "--tp 4 with no quantization flag) and the SGLang cookbook's GPT-OSS page (H100/H200, MXFP4 default); "
                 "FP8 attention on GB200: the FP8 KV cache \"allows faster Tensor Core instructions, resulting in a "
                 "speedup for decode attention kernels\" (lmsys.org/blog 2025-09-25, GB200 Part II); weight offloading "
                 "\"to the host memory with prefetching\" (same post) by server_args' --offload-group-size, "
                 "--offload-num-in-group, --offload-prefetch-step, which deepseek_v2.py's offloader_kwargs apply to "
                 "each MoE layer's mlp.experts (w13_weight, w2_weight and the NVFP4 block scales); gpt-oss's KV pool: "
                 "server_args' model-specific adjustments for GptOssForCausalLM end with "
                 "`self.disable_hybrid_swa_memory = True` (0.5-line commits of the code index, not a pinned tag), so "
                 "model_runner sizes one pool for every layer at full length, the 128-token sliding-window layers "
                 "included (with hybrid memory on, SWATokenToKVPoolAllocator would still take a prompt's every token "
                 "in both pools: alloc() draws need_size from the full and the SWA allocator)",
     .current = true, .dp_attention = true, .ep_partial = true, .multi_node = MultiNode::dist_init, .pipeline = true,
     .disaggregation = true, .overlap = true, .mtp = true, .mxfp4_weight_only = true, .fp8_mla_mma = true,
     .weight_offload = true,
     .pool = PoolRule::static_fraction, .windows_pooled_full = true,
     .image = "lmsysorg/sglang:v0.5.5.post2", .port = 30000, .ep_flag = "--ep-size",
     .deepep_flag = "--moe-a2a-backend deepep", .overlap_flag = "--enable-two-batch-overlap",
     .router = "python3 -m sglang_router.launch_router --pd-disaggregation"},
    // Kept to cost published runs of it (dstack's DeepSeek-R1 benchmark, 2025-03): its PyTorch
    // backend needed --backend pytorch, a flag brix's emitters do not know, so it is not plannable.
    {.engine = Engine::trtllm, .version = "0.17", .released = "2025-02",
     .source = "TensorRT-LLM 0.17 PyTorch backend: PyTorchConfig.use_cuda_graph defaulted to False until NVIDIA/"
                 "TensorRT-LLM PR #5480 (\"Breaking change: Enable cuda graph by default\", merged 2025-07, the 1.0 "
                 "line); trtllm-serve --backend pytorch --tp_size --ep_size --max_num_tokens "
                 "--kv_cache_free_gpu_memory_fraction (0.9 default); EP 4 inside TP 8 as dstack's command runs it; "
                 "PyExecutor's host work (scheduling, request updates, responses) serial with the GPU: the overlap "
                 "scheduler was off unless enable_overlap_scheduler was set (PyTorchConfig; NVIDIA/TensorRT-LLM PR "
                 "#4174, 2025-05-09, renamed it disable_overlap_scheduler and turned it on by default). Its size: "
                 "PR #10273 (2025-12) measured PyExecutor's host_step_time at 45.11 ms per iteration with 1,536 "
                 "sequences per rank (gpt-oss-120b on GB200, attention DP 2, C++ scheduler), 29.4 us per running "
                 "sequence, taken whole per sequence (no fixed part stated); the only public timing of that host "
                 "step, of a later executor",
     .plannable = false, .ep_partial = true, .cuda_graphs = false, .serial_host_per_sequence_s = 45.11e-3 / 1536,
     .pool = PoolRule::free_fraction, .default_fraction = 0.9, .image = "nvcr.io/nvidia/tensorrt-llm/release:0.17.0"},
    {.engine = Engine::trtllm, .version = "1.0", .released = "2025-09",
     .source = "TensorRT-LLM 1.0 docs: commands/trtllm-serve (--tp_size, --pp_size, --ep_size, --max_batch_size, "
                 "--max_num_tokens, --kv_cache_free_gpu_memory_fraction, --extra_llm_api_options), DeepSeek-R1 "
                 "quick-start recipe (enable_attention_dp, kv_cache_config, speculative_config); FP8 MLA decode "
                 "on Blackwell: \"In the generation phase, both Q and KV are quantized to FP8, and FP8 Multi-Query "
                 "Attention (MQA) is used\" (tech blog 3, Optimizing DeepSeek R1 Throughput on NVIDIA Blackwell GPUs)",
     .current = true, .dp_attention = true, .dp_attention_tp1 = true, .ep_partial = true, .pipeline = true, .mtp = true,
     .fp8_mla_mma = true,
     .pool = PoolRule::free_fraction, .default_fraction = 0.9, .image = "nvcr.io/nvidia/tensorrt-llm/release:1.0.0rc6",
     .config_flag = "--extra_llm_api_options"},
    {.engine = Engine::trtllm, .version = "1.3", .released = "2026-03",
     .source = "TensorRT-LLM 1.3.0rc11 docs: examples/serve (trtllm-serve --config FILE with "
                 "kv_cache_config.free_gpu_memory_fraction)",
     .dp_attention = true, .dp_attention_tp1 = true, .ep_partial = true, .pipeline = true, .mtp = true,
     .fp8_mla_mma = true,
     .pool = PoolRule::free_fraction, .default_fraction = 0.9, .image = "nvcr.io/nvidia/tensorrt-llm/release:1.3.0rc11",
     .config_flag = "--config", .kv_fraction_in_config = true},
}};

const std::array<EngineVersion, 9>& table() { return k_rows; }

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

namespace {

const EngineVersion& find_row(Engine engine, std::string_view version, bool to_cost) {
  std::vector<std::string> known;
  for (const auto& row : table()) {
    if (row.engine == engine && (row.plannable || to_cost)) {
      known.emplace_back(row.version);
    }
  }
  for (const auto& row : table()) {
    if (row.engine != engine || !((version.empty() && row.current) || row.version == version)) {
      continue;
    }
    if (!row.plannable && !to_cost) {
      throw InputError(fmt::format("--engine-version: {} {} is in brix's engine table only to cost published runs of "
                                   "it; brix does not emit its commands (expected {})",
                                   to_string(engine), version, util::join_or(known)));
    }
    return row;
  }
  throw InputError(fmt::format("--engine-version: {} {} is not in brix's engine table{} (expected {})", to_string(engine),
                               version, util::did_you_mean(version, known), util::join_or(known)));
}

} // namespace

const EngineVersion& find_engine_version(Engine engine, std::string_view version) {
  return find_row(engine, version, false);
}

const EngineVersion& find_engine_version_to_cost(Engine engine, std::string_view version) {
  return find_row(engine, version, true);
}

} // namespace brix::serve
