#pragma once
// The physics the time model rests on: how fast a GEMM, a memory-bound kernel and a collective
// run on a given GPU and link. Each constant is an achievable fraction measured by
// microbenchmarks (cuBLAS, nccl-tests, STREAM-like copies) and shared by every model and layout;
// none is fitted to one published run.

#include <brix/cluster/cluster.hpp>

#include <optional>

#include <string>
#include <string_view>
#include <vector>

namespace brix::plan {

/// How FP8 training scales the tensors entering its GEMMs (Megatron-Core's --fp8-recipe).
enum class Fp8Recipe {
  delayed,    ///< per-tensor scale from the amax history of earlier steps (TE DelayedScaling)
  tensorwise, ///< per-tensor scale from this tensor's amax (TE Float8CurrentScaling, torchao tensorwise)
  blockwise,  ///< 1x128 activation / 128x128 weight blocks, fp32 scales (DeepSeek-V3, TE Float8BlockScaling)
  mxfp8,      ///< 32-element blocks, E8M0 scales, Blackwell's block-scaled MMA (TE MXFP8BlockScaling)
};

/// The quantisation work one GEMM operand costs per recipe: a bf16 tensor becomes the FP8
/// row-wise copy its GEMM reads and the column-wise (transposed) copy the other backward GEMM
/// reads. Costed as memory-bound kernels: bytes per element through HBM plus kernel launches.
struct Fp8QuantisationCost {
  double bytes_per_element = 0; ///< HBM bytes moved per element of the bf16 operand
  double kernels = 0;           ///< kernel launches per operand
  /// The norm before a GEMM (QKV, FC1) writes its output already quantised, so that input costs
  /// no cast pass in forward.
  bool fused_into_norm = false;
  /// A grouped GEMM's operand quantised by TransformerEngine's split_quantize (GroupedLinear's
  /// input in forward, its grad_output in backward; TE 2.9 pytorch/csrc/extensions/cast.cpp
  /// multi_tensor_quantize_impl): one fused multi-tensor kernel per call for delayed scaling,
  /// otherwise each expert's slice quantised on its own. Launches per call and per local expert.
  double split_kernels_per_call = 0;
  double split_kernels_per_expert = 0;
};

/// Counted from TransformerEngine's quantizers (transformer_engine/pytorch/tensor/*, common/cast,
/// common/transpose; see physics_fp8.cpp for each recipe's count).
[[nodiscard]] Fp8QuantisationCost fp8_quantisation_cost(Fp8Recipe recipe);
/// "delayed", "tensorwise", "blockwise", "mxfp8" (Megatron-Core's --fp8-recipe names); anything
/// else is an InputError.
[[nodiscard]] Fp8Recipe fp8_recipe_by_name(std::string_view name);
[[nodiscard]] std::string_view fp8_recipe_name(Fp8Recipe recipe);
/// Rows per expert a grouped FP8 GEMM needs: 32 under MXFP8, 16 otherwise (TransformerEngine's
/// Fp8Padding: "32 for MXFP8 and 16 for others", transformer_engine/pytorch/module/fp8_padding.py).
[[nodiscard]] double fp8_row_alignment(Fp8Recipe recipe);

/// The parts of a training step that CUDA graphs capture (Megatron-Core's --cuda-graph-scope with
/// --cuda-graph-impl transformer_engine, or local for full_iteration): a captured part is
/// replayed with one launch, its operators cost no host time each. Megatron-Core 2edffadb
/// (megatron/core/transformer/enums.py CudaGraphScope, transformer_layer.py
/// _te_cuda_graph_capture/_replay): `attn` the attention block, `mlp` a dense layer's MLP,
/// `moe` a MoE layer's whole MLP side (drop-and-pad only), `moe_router` the router,
/// `moe_preprocess` the dispatcher's preprocessing (with moe_router), `layer` the whole layer
/// (Megatron's "full" or empty list), `full_iteration` the whole step.
struct CudaGraphScopes {
  bool attn = false;
  bool mlp = false;
  bool moe = false;
  bool moe_router = false;
  bool moe_preprocess = false;
  bool layer = false;
  bool full_iteration = false;
  [[nodiscard]] bool operator==(const CudaGraphScopes&) const = default;
};

/// Adds the scope `name` (a CudaGraphScopes member's name) to `scopes`; false for an unknown name.
[[nodiscard]] bool add_cuda_graph_scope(CudaGraphScopes& scopes, std::string_view name);
/// Megatron-Core's own checks on a scope list (transformer_config.py __post_init__): the reason a
/// set is refused, empty when it is valid.
[[nodiscard]] std::string cuda_graph_scopes_problem(const CudaGraphScopes& scopes);

/// Generations of fused attention kernels a framework runs (SoftwareProfile::attention_kernels).
enum class AttentionKernels { hopper, flash2, flash1 };

/// Parses a calibration run's `attention_kernel:` (hopper, flash2, flash1); nullopt if unknown.
[[nodiscard]] std::optional<AttentionKernels> attention_kernels_by_name(std::string_view name);

/// The software a run uses: what the framework overlaps and which kernels it has. A property
/// of the framework version, not of the model: "modern" (Megatron-core 2024+, TransformerEngine,
/// flash attention) is the default; "megatron-2021" describes the calibration runs' software.
struct SoftwareProfile {
  std::string name = "modern"; ///< as --software spells it
  bool flash_attention = true;     ///< fused attention: s² scores never stored nor written
  bool overlap_grad_reduce = true; ///< DP gradient reduction overlapped with backward (buckets)
  bool overlap_param_gather = true;///< distributed-optimizer all-gather overlapped with forward
  /// TP collectives run beside the GEMMs next to them (TransformerEngine's userbuffers, Megatron's
  /// --tp-comm-overlap): the attention block's behind its projections, a dense MLP's behind its
  /// two GEMMs, each costing the overlap's contention and whatever the GEMMs do not cover.
  bool tp_comm_overlap = false;
  bool causal_skip = true;         ///< attention kernels skip the masked half of the scores
  bool zero_bubble_schedules = false; ///< ZB-H1 and DualPipe exist (DeepSeek's, torch's pipelining)
  /// Collectives of a group with several ranks per node drive all the node's adapters
  /// (NCCL rings/trees over every rail). DeepSpeed's ZeRO-3 of 2021 gathered parameters
  /// rank by rank, each rank's traffic on its own adapter.
  bool multi_rail = true;
  /// Bytes per element of the gradient buffer, which is what the DP group reduces: fp32 (4) is
  /// Megatron-Core's default (DistributedDataParallelConfig grad_reduce_in_fp32, Megatron-LM's
  /// bf16 runs force accumulate_allreduce_grads_in_fp32), bf16 (2) with --grad-reduce-in-bf16 or
  /// Megatron-Bridge's `cfg.ddp.grad_reduce_in_fp32 = False`. Memory charges it per gradient, the
  /// DP reduce-scatter/all-reduce moves it.
  double grad_reduce_bytes = 4.0;
  /// Pipeline sends and receives batched and run beside compute; false charges each receive
  /// and each send of a pass in turn (megatron-2021/2022). That is not what Megatron-LM of
  /// 2021 does: its _communicate (megatron/p2p_communication.py at cbad126a84, 2021-03-03)
  /// posts one exchange's sends and receives in one torch.distributed.batch_isend_irecv, waits
  /// for all of them, then calls torch.cuda.synchronize(), and its 1F1B steady state pairs
  /// send_forward_recv_backward / send_backward_recv_forward (megatron/schedules.py). Charged
  /// batched, the fit set's mean |error| went 9.9% -> 10.1% at 727a707 (Narayanan et al.'s
  /// pipelined rows 0.6-3.0 points further too fast), so the 2021 charge stays an unexplained
  /// stand-in for a cost of that code brix has not identified (README "Known biases").
  bool batched_p2p = true;
  /// Expert dispatch sends a token once per destination node over the network and fans it out
  /// over NVLink there (DeepEP, Megatron-Core's flex/HybridEP dispatchers); without it every
  /// token-expert pair crosses the network on its own (NCCL all-to-all).
  bool hierarchical_all_to_all = true;
  /// Expert all-to-all of one micro-batch runs beside another micro-batch's compute (DualPipe
  /// always does; Megatron-Core's combined-1F1B EP overlap of 2025).
  bool overlap_all_to_all = true;
  // What the framework can run at all; the search looks only at those layouts.
  bool sequence_parallel = true;      ///< Megatron's sequence parallelism (2022 on)
  bool fp8_grad_compression = false;  ///< brix's FP8 compressed gradient all-reduce (brix's collectives only)
  /// Virtual pipeline stages of unequal layer counts (Megatron-Core's --pipeline-model-parallel-layout,
  /// 2025); without it the layers must divide evenly into PP × VPP virtual stages.
  bool uneven_virtual_stages = true;
  /// FSDP keeps one fp32 shard of each parameter (it is the master copy) and gathers bf16 for
  /// compute; Megatron's distributed optimizer and ZeRO keep bf16 weights beside fp32 masters.
  bool fsdp_fp32_shards = false;
  /// FP8 training caches the MoE SwiGLU inputs (fc1's gate and up outputs) in FP8, 1 B per
  /// element instead of 2, and recomputes the SwiGLU output in backward (DeepSeek-V3 report,
  /// Sec. 3.3.3 "Low-Precision Storage and Communication"). Transformer Engine keeps them bf16.
  bool fp8_moe_activation_cache = false;
  /// Under FP8 training the expert dispatch sends the tokens in FP8 (1 B per element) and the
  /// combine in bf16: DeepSeek-V3 quantises "the activation before MoE up-projections into FP8
  /// and then appl[ies] dispatch components" while keeping the combine in bf16 (report, Sec.
  /// 3.3.3). Megatron-Core's dispatchers send the bf16 hidden states whatever the recipe: the
  /// alltoall dispatcher all-to-alls the permuted bf16 tokens, the flex dispatcher hands them
  /// to DeepEP's Buffer.dispatch as they are, and its HybridEP path has 'fp8_dispatch = False
  /// # Currently, we do not support fp8 dispatch' ('HybridEP dispatcher does not support fp8
  /// dispatch now'; megatron/core/transformer/moe/fused_a2a.py and token_dispatcher.py at
  /// 0d8e0714 and 2edffadb, the Megatron-Bridge 25.11 and 26.04.01 pins). Costed in layer_cost.cpp.
  bool fp8_dispatch = false;
  /// Megatron-Core's grouped experts (TEGroupedMLP, core 0.15-0.17) add the second expert
  /// GEMM's bias in a Python loop over the local experts and clamp a clamped GLU's inputs
  /// with separate PyTorch operators before the fused activation (layer_cost.cpp
  /// expert_epilogue); other frameworks are not known to, and are costed fused.
  bool unfused_expert_epilogues = false;
  /// NeMo AutoModel's DeepEP experts (GroupedExpertsDeepEP.forward, nemo_automodel/components/
  /// moe/layers.py at 89e3a9fdd and 2c236e081) add *both* expert GEMMs' biases per local expert
  /// in `_apply_bias`, a Python loop over torch.split(...) whose pieces are torch.cat'ed again,
  /// the second one weighted by DeepEP's float32 routing probabilities; the clamped GLU between
  /// them runs compiled (`@torch.compile def quick_geglu_deepep`). Costed in layer_cost.cpp
  /// (expert_work.hpp expert_bias_loops); models without expert biases are unaffected.
  bool expert_bias_loops = false;
  /// The routed experts' GEMMs run as one cuBLAS kernel per local expert, launched over a pool of
  /// CUDA streams, not as one grouped kernel: TransformerEngine's GroupedLinear (Megatron-Core's
  /// TEGroupedMLP) "launches one cuBLAS GEMM per expert on a pool of CUDA streams" unless
  /// NVTE_USE_CUTLASS_GROUPED_GEMM or the cuBLAS 13.3+ single grouped GEMM path is selected
  /// (TransformerEngine docs, features/moe "Grouped linear"); an eager B200 profile of
  /// Qwen3-30B-A3B at EP 8 on Megatron-Core (Megatron-MoE-ModelZoo issue 7) counts ~105
  /// nvte_cublas_gemm calls per layer and micro-batch, one per local expert and pass. The streams
  /// share the SMs' waves as a grouped kernel does; each kernel beyond the first adds its
  /// launch and tail (layer_cost.cpp).
  bool per_expert_gemm_kernels = false;
  /// Megatron-Core's NCCL all-to-all token dispatcher (MoEAlltoAllTokenDispatcher) receives
  /// its tokens grouped by source rank and, with more than one local expert, copies them into
  /// expert order after the dispatch ("Permutation 2: Sort tokens by local expert",
  /// sort_chunks_by_idxs, a torch.cat of the chunks or TE's fused moe_sort_chunks_by_index;
  /// under drop-and-pad a transpose(...).contiguous()) and back before the combine
  /// ("Unpermutation 2"); megatron/core/transformer/moe/token_dispatcher.py, core_r0.12 through
  /// core 0.16. The flex (DeepEP/HybridEP) dispatchers hand the experts their rows directly.
  /// Costed where the dispatch is the plain all-to-all (hierarchical_all_to_all off, or token
  /// dropping, which runs only on it) and ep > 1 (layer_cost.cpp).
  bool sort_expert_chunks = false;
  /// Under FP8 Megatron-Core's TEGroupedMLP pads every local expert's rows to the FP8 GEMM
  /// alignment before FC1 (TransformerEngine's Fp8Padding, tex.fused_multi_row_padding: the
  /// whole input copied) and strips the padding from FC2's output (Fp8Unpadding); backward
  /// copies the gradients the other way (megatron/core/transformer/moe/experts.py
  /// TEGroupedMLP.forward 'if self.config.fp8', core_r0.12.0 through core_v0.16.0;
  /// transformer_engine/pytorch/module/fp8_padding.py). TE skips the copy only when every
  /// expert's row count is already aligned: with the router padding its routing map
  /// (--moe-router-padding-for-fp8, off by default in TransformerConfig), with HybridEP padding
  /// each expert's rows as it permutes them (calibration.cpp), or with capacity padding to an
  /// aligned size. Costed in layer_cost.cpp.
  bool fp8_expert_row_padding = false;
  /// Which fused attention kernels run: Hopper-era ones (FlashAttention-3, cuDNN's fused
  /// attention in TransformerEngine) at DeviceModel::attention_fraction, FlashAttention-2 (torch
  /// SDPA's flash backend, flash-attn 2.x) at attention_fraction_fa2, or FlashAttention-1-class
  /// kernels (flash-attn 1.x, the Triton kernel llm-foundry copied from it) at attention_fraction_fa1.
  AttentionKernels attention_kernels = AttentionKernels::hopper;
  /// Context parallelism is torch's experimental context_parallel with its default all-gather
  /// rotation (torch.distributed.tensor.experimental._attention, torchtitan 2024-25): K/V gathered
  /// once beside the first of cp sub-SDPA calls, the outputs merged by log-sum-exp in fp32 after
  /// each, gradients accumulated in fp32 and dK/dV passed on by all-to-all, the last one waited
  /// for. Otherwise Megatron/TransformerEngine's ring, whose K/V sends run beside every chunk.
  bool torch_context_parallel = false;
  /// Share of a layer's forward GEMMs that selective recomputation runs again. Megatron's
  /// selective modules recompute no GEMM but MLA's up-projections (0); torchtitan's per-op
  /// selective AC saves the output of every compute op "except every second mm"
  /// (torchtitan/models/llama3/infra/parallelize.py, _custom_policy), so half of them (0.5).
  double selective_gemm_share = 0.0;
  /// The layer's norms, rotary embedding, gated activation and GQA key/value expansion run as
  /// separate PyTorch operators, each reading and writing its tensor (eager torchtitan without
  /// torch.compile), instead of one fused kernel each (TransformerEngine, torch.compile).
  bool eager_elementwise = false;
  /// Host time per operator (Python dispatch, autograd, kernel launch) of an eager PyTorch
  /// framework: a layer takes at least its operators' host time, whatever its GPU work. Small
  /// models and small MoE experts are host-bound; large layers never notice. 0: a compiled or
  /// graph-captured step (XLA, CUDA graphs), whose launches stay ahead of the GPU. Fitted on
  /// the fit set (configs/calibration/fit; grid 0-100 µs, least mean error at 50 µs): about
  /// what one Python-dispatched TransformerEngine/autograd operator costs, the waits of the
  /// dropless router's token counts included.
  double host_seconds_per_op = 50e-6;
  /// Operators the host issues in each layer's forward after a device-to-host sync has drained
  /// the GPU and before the next kernel that keeps it busy: the GPU idles for their host time,
  /// however far ahead the host ran before the sync. 0: no sync inside a layer (the default);
  /// k_ops_unpad_after_sync for llm-foundry's per-layer unpadding (a calibration run's
  /// `attention_unpad: per-layer`).
  double drained_ops_per_layer = 0;
  /// The router's choice is replaced by an even assignment, every expert getting the mean
  /// tokens: a benchmark setting (Megatron's --moe-router-force-load-balancing, NeMo AutoModel's
  /// `fake_balanced_gate`), not a framework property; no expert-load imbalance is costed.
  bool balanced_routing = false;
  /// How that even assignment picks a token's experts. NeMo AutoModel's FakeBalancedGate
  /// (nemo_automodel/components/moe/layers.py at 89e3a9fdd, 8d9bfb90e and 2c236e081) gives token
  /// t the k consecutive experts `arange(T*k).view(-1, k) % n_experts`, and its ExpertParallel
  /// shards the experts contiguously over the EP ranks (parallelizer.py, `Shard(0)`): a token's
  /// experts sit on one or two neighbouring ranks of one node, not spread over the EP group as
  /// random router logits spread them (Megatron's --moe-router-force-load-balancing).
  bool consecutive_balanced_experts = false;
  /// What CUDA graphs capture: those operators are replayed without host time each (none by
  /// default; Megatron-Bridge sets it per recipe and GPU, a calibration run's `cuda_graph_scope`).
  CudaGraphScopes cuda_graphs;
  /// The FP8 recipe under --precision fp8. Per-tensor current scaling by default: TE's
  /// Float8CurrentScaling (Megatron-Bridge's "FP8-CS") and torchao.float8's default tensorwise
  /// dynamic scaling both compute the amax of the tensor about to be cast.
  Fp8Recipe fp8_recipe = Fp8Recipe::tensorwise;
  /// Under FP8 with sequence parallelism, the TP all-gathers feeding FP8 GEMMs move the FP8 copy
  /// (1 B per element): TransformerEngine quantises the norm output (forward) and the incoming
  /// gradient (backward) before gathering them, its userbuffers overlap into FP8 buffers
  /// (Megatron-Bridge's userbuffers_fp8_h100_h8192_tp4_mbs1_seqlen8192 and the like). The
  /// reduce-scatters stay bf16. Off for the FSDP profiles (fsdp-2023, fsdp2-2025*: llm-foundry,
  /// torchtitan), whose FP8 TP is not shown to gather FP8.
  bool fp8_tp_all_gather = true;
  /// FP8 training keeps the weights as FP8 tensors and the distributed optimizer (or FSDP) gathers
  /// them in FP8, 1 B per parameter instead of 2 (Megatron-Core --fp8-param-gather; set by
  /// Megatron-Bridge's current-scaling, delayed and MXFP8 mixed-precision recipes, not by its
  /// blockwise one: src/megatron/bridge/training/mixed_precision.py at 7af9601c).
  bool fp8_param_gather = false;
  /// Under hybrid sharding (shard < DP), the replicas all-reduce the gradient shard they
  /// reduce-scattered after every micro-batch's backward: PyTorch FSDP's HYBRID_SHARD without
  /// no_sync, and FSDP2 on a 2-D mesh, whose requires_all_reduce stays on unless the trainer calls
  /// set_requires_all_reduce(False) (torchtitan never does). Off: once per step, on the last
  /// micro-batch (Megatron-Core 0.13's FSDP: custom_fsdp/fully_sharded_data_parallel.py passes
  /// inter_fsdp_group_grad_reduce only with is_last_microbatch).
  bool replica_all_reduce_every_micro_batch = false;
  /// The last pipeline stage all-reduces every micro-batch's loss over the data-parallel group
  /// (for logging), so the DP replicas wait for each other once per micro-batch, not only at the
  /// step's gradient reduction: Megatron-LM pretrain_gpt.py loss_func,
  /// average_losses_across_data_parallel_group([loss]) at cbad126a84 (2021-03-03) and
  /// torch.distributed.all_reduce(reporting_loss, group=mpu.get_data_parallel_group()) at
  /// core_r0.8.0; NeMo's megatron_gpt_model.py loss_func at 6f9f731e70 (2024-07-19), and NeMo 2's
  /// MaskedTokenLossReduction (nemo/lightning/megatron_parallel.py, d2b2155 to v2.3.0; gone at
  /// v2.4.0), which a calibration row states as `loss_all_reduce: true`. Off where the loss is
  /// returned unreduced (Megatron-LM 1e057005 of 2025-05-24: `'lm loss': reporting_loss`).
  bool loss_all_reduce_per_micro_batch = false;
  /// ZeRO-2 reduce-scatters the gradients after every micro-batch's backward and accumulates the
  /// shard (Megatron-Core 0.13's FSDP at optim_grads: grad_reduce_every_bprop; PyTorch FSDP
  /// without no_sync). Off: the gradients accumulate whole and are reduced once per step (NeMo
  /// 24.x's apex DistributedFusedAdam, which Megatron's schedule runs under its no_sync).
  bool zero2_reduce_every_micro_batch = true;
  /// Under ZeRO-3 with full recomputation, the recomputed forward runs on the parameters the
  /// backward gathers, two gathers per micro-batch instead of three. Megatron-Core's FSDP
  /// (custom_fsdp at Megatron-LM 1e057005, fully_sharded_data_parallel.py): _root_pre_backward
  /// marks every FSDP unit PRE_BACKWARD, the recompute's _pre_forward_param_unshard gathers, and
  /// _post_forward keeps them ("When composing with module-hook-based activation checkpointing,
  /// the post-backward hook is responsible for the reshard"). PyTorch FSDP2 (fsdp2-2025 and the
  /// profiles built on it) the same way: its pre-backward hook unshards and `_pre_forward` skips
  /// the recompute (software_profiles.cpp). Off: a gather for the forward, the recompute and the backward
  /// each (FSDP1's profile, fsdp-2023, and the frameworks without ZeRO-3 of their own).
  bool recompute_reuses_backward_gather = false;
  /// Under ZeRO-3, the parameters outside the FSDP units (the embeddings and the output head)
  /// are gathered by the step's first forward and stay gathered until the step's gradient sync
  /// finishes, not gathered again for each micro-batch's forward and backward; their gradients
  /// are still reduce-scattered every micro-batch. Megatron-Core's FSDP (custom_fsdp at
  /// Megatron-LM 1e057005): the units are the TransformerLayers (fully_sharded_data_parallel.py,
  /// `fsdp_unit_modules = [TransformerLayer]` for optim_grads_params); only units get the
  /// post-forward and post-backward release (`release_module_parameters`), _root_pre_backward
  /// releases units only, AllGatherPipeline.all_gather_params gathers only buckets whose status
  /// is EMPTY (param_and_grad_buffer.py), and finish_grad_sync's all_gather_pipeline.reset()
  /// releases the rest. Off: gathered as the layers' parameters are (PyTorch FSDP's root unit,
  /// which holds them, is gathered again for every micro-batch).
  bool outside_layers_gathered_once = false;
  /// Under ZeRO-3, each all-gather lands in one flat buffer that the compute stream then copies
  /// out into the parameters' own unsharded tensors before the unit runs: a read and a write of
  /// the gathered bytes per gather, serial with the unit's compute. FSDP2: wait_for_unshard runs
  /// foreach_all_gather_copy_out, torch.split_with_sizes_copy on the current stream
  /// (torch/distributed/_composable/fsdp/_fsdp_collectives.py at pytorch 01d66d21, 2024; still so
  /// in torch/distributed/fsdp/_fully_shard/_fsdp_collectives.py at 010ae4a8, 2025). Off: FSDP1's
  /// FlatParameter is gathered straight into its padded unsharded storage, Megatron-Core's FSDP
  /// into its parameter buffers.
  bool gather_copy_out = false;
  /// Before each ZeRO-3 reduce-scatter the unit's unsharded gradients (parameter dtype, bf16) are
  /// concatenated into one flat buffer of the reduce dtype, and the compute stream waits for that
  /// copy: FSDP2's foreach_reduce runs torch._chunk_cat on the reduce-scatter stream and then
  /// `current_stream.wait_stream(reduce_scatter_stream)` ("Only after the copy-in finishes can we
  /// free the gradients", torch/distributed/_composable/fsdp/_fsdp_collectives.py at pytorch
  /// 415cc262, 2024); in 2025 the copy-in runs on the current stream itself (_fully_shard/
  /// _fsdp_collectives.py at 010ae4a8). NCCL's ReduceOp.AVG divides for bf16/fp32 reductions, so no
  /// divide kernel. Off: FSDP1 reduces its FlatParameter's gradient in place (its casts and divides
  /// run on the post-backward stream), Megatron-Core reduces its gradient buffers.
  bool reduce_scatter_copy_in = false;
  /// FSDP2 without pipeline parallelism: the trainer turns gradient sync off for every
  /// micro-batch but the last (set_requires_gradient_sync(is_optim_step)), so the reduce-scatter
  /// and the replicas' all-reduce run once per step after the last backward, and the unsharded
  /// gradients (in the reduce dtype) accumulate until then. Parameter gathers are unchanged:
  /// resharding after backward stays on. NeMo AutoModel's train_ft.py at 89e3a9fdd
  /// (nemo_automodel/components/distributed/utils.py get_sync_ctx). With pipeline parallelism
  /// torch's PipelineStage decides instead, for every FSDP2 trainer alike: not this switch.
  bool grad_sync_last_micro_batch = false;
  /// The trainer casts the whole model to bf16 before sharding and steps a plain optimizer on
  /// it: FSDP2's shards are bf16 (no fp32 master copy), their reduced gradients are cast back
  /// to bf16 (FSDP2 keeps the sharded gradient in the parameter's dtype), and
  /// torch.optim.Adam's moments take the parameter's dtype (zeros_like). NeMo AutoModel's MoE
  /// models at 89e3a9fdd: `initialize_weights(..., dtype=torch.bfloat16)` ends in
  /// `self.to(dtype)` (components/models/{qwen3_moe,gpt_oss,deepseek_v3}/model.py), and the
  /// benchmark configs use `torch.optim.Adam`.
  bool bf16_parameters = false;
  /// FSDP wraps the routed experts without the model's MixedPrecisionPolicy, so their
  /// gradients are reduced, and accumulated while gradient sync is off, in the parameters' own
  /// dtype rather than the reduce dtype. NeMo AutoModel at 89e3a9fdd,
  /// components/moe/parallelizer.py apply_fsdp: `fully_shard(block.mlp.experts,
  /// mesh=ep_shard_mesh, shard_placement_fn=..., reshard_after_forward=...)` passes no
  /// mp_policy (the blocks get reduce_dtype=torch.float32), and where the expert-shard group
  /// is 1 the experts are `ignored_params` of their block: plain gradients, never reduced.
  bool expert_grads_in_param_dtype = false;
};

/// Bytes per element a TP all-gather moves: FP8 when FP8 training gathers quantised inputs.
[[nodiscard]] double tp_all_gather_bytes(bool fp8, const SoftwareProfile& software);
/// Bytes per parameter the distributed optimizer's (or FSDP's) parameter all-gather moves:
/// 1 under FP8 with fp8_param_gather (blockwise recipes excepted: their weights stay bf16), else 2.
[[nodiscard]] double parameter_gather_bytes(bool fp8, const SoftwareProfile& software);
/// Share of the bf16 large-GEMM fraction that FP8 training's GEMMs keep, against the FP8 peak,
/// by GPU generation (physics.cpp says what each value rests on).
[[nodiscard]] double fp8_gemm_share(const cluster::GpuSpec& gpu);

/// Operators a transformer layer issues (forward; backward issues about twice as many), counted
/// from Megatron-Core's TransformerLayer and MoELayer forward code paths and split by the CUDA
/// graph scope that holds them (Megatron-Core 2edffadb, the Megatron-Bridge 25.11 pin).
/// Attention block (_forward_attention): input norm, QKV projection and its FP8 casts, the
/// q/k/v split and copies, two rotary kernels, the attention kernel, output projection and its
/// casts, bias-dropout-add.
inline constexpr double k_ops_attention_block = 15;
/// MLP side of a layer (_forward_mlp, _forward_post_mlp): pre-MLP norm, FC1 and its casts,
/// activation, FC2 and its casts, bias-dropout-add.
inline constexpr double k_ops_mlp_block = 10;
inline constexpr double k_ops_per_dense_layer = k_ops_attention_block + k_ops_mlp_block;
/// A MoE layer adds, in TopKRouter.forward: the gating GEMM, the forced-balance random logits or
/// z-loss, the fused top-k, the auxiliary-loss scores, sums, all-reduce and scaler, the expert
/// bias update.
inline constexpr double k_ops_moe_router = 12;
/// MoEAlltoAllTokenDispatcher.preprocess: the per-expert token counts, their all-gather over the
/// TP×EP group, the per-rank and per-local-expert sums and splits.
inline constexpr double k_ops_moe_preprocess = 8;
/// The rest (dispatch_preprocess .. combine_postprocess): the token counts copied to the host
/// and waited for (dropless), permute, dispatch all-to-alls of tokens and probabilities, the
/// sort by local expert, the grouped FC1/activation/FC2 and their casts, the sort back, the
/// combine all-to-all, unpermute and the shared expert's sum.
inline constexpr double k_ops_moe_dispatch_and_experts = 20;
inline constexpr double k_ops_per_moe_block = k_ops_moe_router + k_ops_moe_preprocess + k_ops_moe_dispatch_and_experts;
/// Of those, the dropless dispatcher's copy of the token counts to the host, its event and the
/// host's wait on it (Megatron-Core token_dispatcher.py _maybe_dtoh_and_synchronize), which a
/// dispatcher padding to capacity does not issue.
inline constexpr double k_ops_token_count_wait = 3;

/// llm-foundry's flash path before its PR #880 (2024-01-17; flash_attn_fn at 5e85bd6, the January
/// 2024 benchmark tables) unpads q, k and v in every layer with flash-attn's
/// bert_padding.unpad_input (2.4.2), whose torch.nonzero and .item() each wait for the GPU. After
/// the first wait (q's nonzero) the host issues, with the GPU drained: q's max, item, cumsum, pad
/// and gather (5), then k's and v's sum, nonzero, max, item, cumsum, pad and gather (7 each),
/// before the varlen attention kernel.
inline constexpr double k_ops_unpad_after_sync = 5 + 7 + 7;

/// Host-issued launches of one layer's forward, split at the dropless dispatcher's wait: the
/// host copies the token counts and blocks on them (Megatron-Core token_dispatcher.py
/// _maybe_dtoh_and_synchronize) before the all-to-all, so the GPU drains there and the host
/// cannot run ahead of it across the wait.
struct HostLaunches {
  double before_wait = 0; ///< attention, router and preprocess; all of a layer without a wait
  double after_wait = 0;  ///< MLP side, dispatch, experts and combine; 0 without a wait
  [[nodiscard]] double total() const { return before_wait + after_wait; }
};

/// The operators outside the captured scopes, plus one graph replay where the layer has a
/// captured part (a layer's captured parts are one graph: TE's make_graphed_callables per
/// layer). `layer` is one replay and no wait; full_iteration none (the whole step is one graph,
/// which Megatron-Core allows only with static shapes); `moe` captures the MoE side whole
/// (drop-and-pad: no token counts to wait for).
[[nodiscard]] HostLaunches host_launches_per_layer(const CudaGraphScopes& scopes, bool moe_layer);

/// Routing skew: the relative spread of tokens across experts that load balancing leaves (an
/// auxiliary loss or DeepSeek's bias correction). A GPU holding E experts sees the spread shrink
/// as 1/√E, and the busiest of EP GPUs sits about √(2·ln EP) spreads above the mean; every GPU
/// of the group waits for it. 0.2 (grid 0-0.4 on the fit set: 0.2-0.4 within 0.3 points).
inline constexpr double k_expert_load_spread = 0.2;

/// The busiest expert-parallel rank's tokens over the mean: 1 + s·√(2·ln EP)/√(experts per rank).
[[nodiscard]] double expert_load_imbalance(int ep, double experts_per_rank);

/// Compute slows while a collective runs beside it: NCCL kernels take SMs and HBM bandwidth.
/// The overlapped part of the compute costs this much more (NCCL uses ~16-32 of 108-132 SMs
/// and a large share of HBM bandwidth during bulk transfers). 0.57: chosen on the fit set
/// (configs/calibration/fit; grid 0.40-0.80 by 0.01, least mean error at 0.57: 8.034%, against
/// 8.065% at the 0.6 reasoned from those shares until then, 8.095% at 0.5, 8.286% at 0.7). The
/// held-out set moved with it (9.728% -> 9.471%), a result, not a reason.
inline constexpr double k_overlap_contention = 0.57;

/// DeepEP-style expert dispatch (the hierarchical all-to-all) runs on a fixed set of SMs: 20 of
/// an H800's 132 in DeepSeek-V3 (report, Sec. 3.2.2). Compute overlapped with it slows by that
/// share, not by an NCCL collective's.
inline constexpr double k_dispatch_sm_share = 20.0 / 132.0;

/// Step-to-step noise of one GPU's step time, relative (OS jitter, clock and thermal variation,
/// network noise): a step that synchronises N GPUs waits for the slowest, on average about
/// σ·√(2·ln N) above the mean (the expected maximum of N normal draws). Fitted on the fit set's
/// scaling runs (configs/calibration/fit), one constant for every GPU and model.
inline constexpr double k_sync_noise = 0.006;

/// Noise of one pipeline stage's pass over one micro-batch (forward and backward), relative:
/// where the DP replicas synchronise every micro-batch (SoftwareProfile::
/// loss_all_reduce_per_micro_batch) each micro-batch waits for the slowest of DP, about
/// σ·√(2·ln DP) of a stage pass above the mean. Chosen by a grid on the fit set
/// (configs/calibration/fit; 0.5-3%, least mean error at 1.75%); only Narayanan et al.'s DP > 1
/// rows bear on it there (Korthikanti et al.'s run at DP 1).
inline constexpr double k_micro_batch_noise = 0.0175;

/// The slowdown factor of a step synchronising `gpus` GPUs: 1 + σ·√(2·ln N).
[[nodiscard]] double sync_slowdown(int gpus);

/// Seconds a step loses when `ranks` DP replicas synchronise on each of `micro_batches`
/// micro-batches of `stage_s` each (the stage pass of the slowest pipeline stage): the slowest
/// replica's excess, k_micro_batch_noise·√(2·ln N) of a pass, every micro-batch.
[[nodiscard]] double micro_batch_sync_seconds(double micro_batches, double stage_s, int ranks);

/// Time of `compute` seconds overlapped with `comm` seconds of communication.
[[nodiscard]] double overlapped_seconds(double compute, double comm, double contention = k_overlap_contention);

[[nodiscard]] SoftwareProfile software_modern();
[[nodiscard]] SoftwareProfile software_megatron_2021();
/// DeepSpeed ZeRO of 2021: like megatron-2021, but ZeRO-3 prefetches parameters and overlaps
/// gradient reduction.
[[nodiscard]] SoftwareProfile software_deepspeed_2021();
/// A framework generation by name (software_names()); anything else is an InputError.
[[nodiscard]] SoftwareProfile software_by_name(std::string_view name);
/// "modern", "megatron-2021", "deepspeed-2021", "megatron-core-2024", ...
[[nodiscard]] std::vector<std::string> software_names();

/// Whether `gpu` has node-level expert-dispatch kernels (SoftwareProfile::hierarchical_all_to_all):
/// DeepEP's internode and low-latency kernels need compute capability 9.0 (its README,
/// "Hopper (SM90) GPUs, or other architectures with SM90 PTX ISA support"; v1.2.1 built SM 8.0
/// only without NVSHMEM, "Disable internode and low-latency kernels", and today's setup.py stops
/// an SM 8.0 build, "Not implemented"), and Megatron-Core's flex dispatcher has no other backend
/// than DeepEP and HybridEP, both NVIDIA CUDA.
[[nodiscard]] bool runs_node_level_dispatch(const cluster::GpuSpec& gpu);
/// "A100 SXM 80GB, compute capability 8.0" (or ", not an NVIDIA GPU"): why it does not.
[[nodiscard]] std::string compute_capability_text(const cluster::GpuSpec& gpu);
/// The node groups of `cluster` whose GPUs lack those kernels, as one phrase ("" when none do).
[[nodiscard]] std::string node_level_dispatch_problem(const cluster::ClusterSpec& cluster);
/// `software` as it runs on `cluster`: node-level dispatch only where every GPU has its kernels
/// (a job has one dispatcher, Megatron-Core's --moe-token-dispatcher-type), else NCCL's
/// all-to-all for every token copy.
[[nodiscard]] SoftwareProfile software_on(SoftwareProfile software, const cluster::ClusterSpec& cluster);

/// Achievable fractions and latencies of one GPU model and its links.
struct DeviceModel {
  double peak_flops = 0;        ///< dense tensor-core peak at the chosen precision
  double gemm_fraction = 0.8;   ///< achievable fraction of peak on large GEMMs
  /// The bf16 peak and large-GEMM fraction, for the GEMMs FP8 training leaves in bf16 (the
  /// output layer); 0: peak_flops and gemm_fraction are already bf16's.
  double bf16_peak_flops = 0;
  double bf16_gemm_fraction = 0;
  int sms = 132;                ///< streaming multiprocessors: GEMM tiles that run at once
  double tile_ramp_k = 128;     ///< a GEMM tile's prologue and epilogue in K-depth (gemm_tile_ramp_k)
  double attention_fraction = 0.5; ///< achievable fraction of peak_flops for fused (bf16) attention kernels
  /// The same for FlashAttention-2, which does not use Hopper's TMA and warpgroup MMA: 35% of
  /// an H100's peak (FlashAttention-3 paper, Shah et al. 2024, Sec. 1); on A100 it is the kernel
  /// attention_fraction describes.
  double attention_fraction_fa2 = 0.5;
  /// Fraction for FlashAttention-1-class kernels (SoftwareProfile::attention_kernels flash1).
  double attention_fraction_fa1 = 0.25;
  double hbm_bytes_per_s = 0;   ///< achievable HBM bandwidth (already × fraction)
  /// Achievable copy bandwidth between GPU and host memory, one direction (PCIe, or a GB200's
  /// NVLink-C2C to its Grace): what offloaded activations move at.
  double host_link_bytes_per_s = 0;
  double kernel_overhead_s = 0; ///< launch + tail per kernel
  double intra_busbw = 0;       ///< achievable bus bandwidth inside the NVLink domain, bytes/s
  double inter_busbw_per_gpu = 0; ///< achievable inter-node bus bandwidth per GPU, bytes/s
  /// Share of inter_busbw_per_gpu left by the network shape (device_model): for ring traffic
  /// (all-reduce, all-gather, reduce-scatter, send/recv) and for all-to-all's off-node part.
  double ring_fraction = 1.0;
  double all_to_all_fraction = 1.0;
  double intra_latency_s = 0;
  double inter_latency_s = 0;
  /// What each remote peer's message adds to an NCCL all-to-all beyond its bytes (proxy work
  /// requests, per-peer chunking): many ranks with small messages run far below the adapter.
  double all_to_all_peer_s = 0;
  bool multi_rail = true; ///< see SoftwareProfile::multi_rail
};

/// Derives the device model of one node group at a precision ("bf16"/"fp8" peak) on a network
/// of `shape` tapered `oversubscription`:1 above the leaf switches.
[[nodiscard]] DeviceModel device_model(const cluster::NodeGroup& group, bool fp8, cluster::NetworkShape shape,
                                       double oversubscription);

/// The device as the GEMMs that stay bf16 under FP8 training see it (bf16 peak and fraction).
[[nodiscard]] DeviceModel bf16_gemm_device(const DeviceModel& device);

/// One GEMM kernel's shape: `groups` products of [m×k]·[k×n] launched together (a grouped or
/// batched GEMM: MoE experts, attention heads), their output tiles scheduled over the GPU as one
/// pool. `ragged`: m differs between groups around the given mean (tokens routed per expert).
struct GemmShape {
  double m = 0;
  double n = 0;
  double k = 0;
  double groups = 1;
  bool ragged = false;
};

/// GEMM of [m×k]·[k×n] in `bytes_per_element`: the slower of tensor-core time at a
/// shape-dependent efficiency and HBM time, plus the kernel overhead.
[[nodiscard]] double gemm_seconds(const DeviceModel& device, double m, double n, double k,
                                  double bytes_per_element);
/// The same for a grouped kernel: all groups' FLOPs and bytes, one launch.
[[nodiscard]] double gemm_seconds(const DeviceModel& device, const GemmShape& shape, double bytes_per_element);
/// Shape efficiency in (0, 1] on a GPU of `sms` SMs: what output-tile padding, wave quantisation
/// and each tile's K-loop prologue/epilogue leave of the large-GEMM rate (physics_gemm.cpp).
/// `ramp_k`: each tile's prologue and epilogue in K-depth (gemm_tile_ramp_k; without it, a
/// Hopper SM's).
[[nodiscard]] double gemm_shape_efficiency(int sms, const GemmShape& shape, double ramp_k);
[[nodiscard]] double gemm_shape_efficiency(int sms, const GemmShape& shape);
/// A tile's prologue and epilogue in K-depth on a GPU of `sms` SMs and `bf16_flops` dense bf16
/// peak: 128 on Hopper, scaled by the SM's MMA rate.
[[nodiscard]] double gemm_tile_ramp_k(double bf16_flops, int sms);
namespace detail {
/// gemm_shape_efficiency trying every split-K depth it allows, where gemm_shape_efficiency tries
/// only the one that can be best; for the test that the two agree.
[[nodiscard]] double gemm_shape_efficiency_every_split(int sms, const GemmShape& shape, double ramp_k);
} // namespace detail
/// A memory-bound kernel moving `bytes` through HBM.
[[nodiscard]] double memory_seconds(const DeviceModel& device, double bytes);

enum class Collective { all_reduce, all_gather, reduce_scatter, all_to_all, send_recv };

/// nccl-tests bus-bandwidth factor for `ranks` ranks.
[[nodiscard]] double bus_factor(Collective op, int ranks);

/// Placement of one process group on nodes, for bandwidth.
struct GroupPlacement {
  int ranks = 1;          ///< group size
  int ranks_per_node = 1; ///< how many of its ranks share a node
  [[nodiscard]] bool crosses_nodes() const { return ranks > ranks_per_node; }
};

/// Time of one collective over `bytes` (the per-rank buffer, nccl-tests convention).
[[nodiscard]] double collective_seconds(const DeviceModel& device, Collective op, double bytes,
                                        const GroupPlacement& placement);

/// One expert dispatch (or combine) from one GPU of an expert-parallel group placed as `ep`:
/// `tokens` tokens, each sent to `experts_per_token` experts spread evenly over the group, of
/// `bytes_per_token` each. Flat (NCCL all-to-all of the permuted tokens): every token-expert
/// copy bound off the node crosses the network, and every remote peer's message costs
/// DeviceModel::all_to_all_peer_s. Hierarchical (DeepEP-style): a token crosses the network
/// once per remote node it goes to (at most `max_nodes_per_token` nodes, group-limited
/// routing) and is fanned out over NVLink.
struct ExpertTraffic {
  double tokens = 0;
  double experts_per_token = 1;
  double bytes_per_token = 2;
  double max_nodes_per_token = 1e9;
  bool hierarchical = false;
  /// When > 0: the token's experts are `experts_per_token` consecutive ones of this many experts
  /// placed contiguously over the group (SoftwareProfile::consecutive_balanced_experts).
  int consecutive_of_experts = 0;
};
/// The mean number of nodes a token reaches when token t takes experts (t·k + j) mod `experts`,
/// j < k, and the experts sit contiguously on `nodes` nodes (experts/nodes each): the mean over
/// the pattern's period. NeMo AutoModel's FakeBalancedGate (SoftwareProfile::
/// consecutive_balanced_experts).
[[nodiscard]] double consecutive_expert_nodes(int experts, int experts_per_token, int nodes);
[[nodiscard]] double expert_all_to_all_seconds(const DeviceModel& device, const ExpertTraffic& traffic,
                                               const GroupPlacement& ep);

} // namespace brix::plan
