// The framework generations brix costs (SoftwareProfile): what each one runs, with the code or
// paper that says so, and their names for --software and calibration rows.
#include <brix/plan/physics.hpp>

#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <string>
#include <utility>
#include <vector>

namespace brix::plan {

/// Megatron-Core as of 2025 (what `--emit megatron` runs): the defaults of SoftwareProfile.
SoftwareProfile software_modern() { return SoftwareProfile{}; }

SoftwareProfile software_megatron_2021() {
  SoftwareProfile profile;
  profile.hierarchical_all_to_all = false;
  profile.overlap_all_to_all = false;
  profile.flash_attention = false;
  profile.overlap_grad_reduce = false;
  profile.overlap_param_gather = false;
  profile.tp_comm_overlap = false;
  profile.causal_skip = false;
  profile.batched_p2p = false;
  profile.sequence_parallel = false;
  profile.uneven_virtual_stages = false;
  profile.zero2_reduce_every_micro_batch = false; // no ZeRO-2 of its own: costed as before, once per step
  profile.loss_all_reduce_per_micro_batch = true;  // pretrain_gpt.py loss_func (physics.hpp)
  return profile;
}

SoftwareProfile software_megatron_2022() {
  SoftwareProfile profile = software_megatron_2021();
  profile.sequence_parallel = true;
  return profile;
}

SoftwareProfile software_deepspeed_2021() {
  SoftwareProfile profile = software_megatron_2021();
  profile.overlap_param_gather = true;
  profile.overlap_grad_reduce = true;
  profile.multi_rail = false;
  profile.grad_reduce_bytes = 2.0; // fp16/bf16 gradients reduce-scattered as they are
  // Its loss reduction is DeepSpeed's training loop, not Megatron-LM's pretrain_gpt.py: not costed.
  profile.loss_all_reduce_per_micro_batch = false;
  return profile;
}

namespace {

/// Megatron-Core of 2024 (r0.8, NeMo 24.x): distributed optimizer with overlapped gradient
/// reduction and parameter all-gather, fp32 gradient buffer and reduction (the default: Megatron-LM's
/// arguments.py sets accumulate_allreduce_grads_in_fp32 under --bf16, "bfloat16 requires gradient
/// accumulation and all-reduce to be done in fp32"), 1F1B/interleaved schedules with Megatron's
/// even virtual stages, NCCL all-to-all for experts without overlap.
SoftwareProfile software_megatron_core_2024() {
  SoftwareProfile profile;
  profile.grad_reduce_bytes = 4.0;
  profile.hierarchical_all_to_all = false;
  profile.overlap_all_to_all = false;
  profile.uneven_virtual_stages = false;
  // Its ZeRO-2 is NeMo's apex DistributedFusedAdam (no FSDP in Megatron-Core r0.8): gradients
  // accumulate whole under no_sync and are reduce-scattered on the last micro-batch.
  profile.zero2_reduce_every_micro_batch = false;
  // Megatron-LM core_r0.8.0 and NeMo 24.x all-reduce each micro-batch's loss (physics.hpp).
  profile.loss_all_reduce_per_micro_batch = true;
  profile.sort_expert_chunks = true; // MoEAlltoAllTokenDispatcher permutation 2 (physics.hpp)
  return profile;
}

/// Megatron-Core of 2025 (Megatron-Bridge, NeMo 25.x): as 2024, plus DeepEP/HybridEP
/// dispatchers, the combined-1F1B overlap of expert all-to-all and free pipeline layouts.
SoftwareProfile software_megatron_core_2025() {
  SoftwareProfile profile = software_megatron_core_2024();
  // bf16 gradient buffer: every Megatron-Bridge performance script sets
  // 'cfg.ddp.grad_reduce_in_fp32 = False' (v0.2.0 7af9601c and v0.4.2 c8101293,
  // scripts/performance/configs/{llama3,llama31,deepseek,gpt_oss,qwen3,...}/*_llm_pretrain.py).
  profile.grad_reduce_bytes = 2.0;
  // Megatron-Bridge's performance recipes run TP with userbuffers overlap
  // (`comm_overlap_config=CommOverlapConfig(tp_comm_overlap=True)`, tp_comm_overlap_cfg
  // userbuffers_fp8_h100_h8192_tp4_mbs1_seqlen8192 and the like, scripts/performance/configs).
  profile.tp_comm_overlap = true;
  // FP8 weights gathered in FP8: Megatron-Bridge's bf16_with_fp8_current_scaling_mixed,
  // bf16_with_fp8_delayed_scaling_mixed and bf16_with_mxfp8_mixed set 'cfg.fp8_param_gather =
  // True' (src/megatron/bridge/training/mixed_precision.py at 7af9601c, the 25.11 release), and
  // the performance scripts keep it (scripts/performance/utils/helpers.py get_precision_config).
  profile.fp8_param_gather = true;
  profile.hierarchical_all_to_all = true;
  profile.overlap_all_to_all = true;
  profile.uneven_virtual_stages = true;
  profile.unfused_expert_epilogues = true;
  // TEGroupedMLP's experts: one cuBLAS GEMM per local expert (TransformerEngine's default path).
  profile.per_expert_gemm_kernels = true;
  // TEGroupedMLP's FP8 row padding (physics.hpp): Megatron-Core 0.14-0.16 default
  // moe_router_padding_for_fp8 = False (transformer_config.py); a row whose recipe sets it says so.
  profile.fp8_expert_row_padding = true;
  // ZeRO-2 is Megatron-Core's FSDP at optim_grads, which reduce-scatters every micro-batch.
  profile.zero2_reduce_every_micro_batch = true;
  // ZeRO-3 is Megatron-Core's FSDP at optim_grads_params: its recompute uses the backward's gather.
  profile.recompute_reuses_backward_gather = true;
  // Its embedding and output layer stay gathered from the step's first forward (physics.hpp).
  profile.outside_layers_gathered_once = true;
  // The loss is returned unreduced: Megatron-LM 1e057005 pretrain_gpt.py loss_func, Megatron-Bridge
  // src/megatron/bridge/training/losses.py masked_next_token_loss ('lm loss': reporting_loss).
  profile.loss_all_reduce_per_micro_batch = false;
  return profile;
}

/// PyTorch FSDP of 2023 (llm-foundry, fms-fsdp): full sharding with forward prefetch and
/// overlapped reduce-scatter, fp32 gradient reduction, fp32 parameter shards.
SoftwareProfile software_fsdp_2023() {
  SoftwareProfile profile;
  profile.hierarchical_all_to_all = false;
  profile.overlap_all_to_all = false;
  profile.fsdp_fp32_shards = true;
  profile.fp8_tp_all_gather = false; // not shown for torchao's float8 TP of 2024-25
  profile.attention_kernels = AttentionKernels::flash2; // FlashAttention-2 / torch SDPA of 2023-early 2024
  // PyTorch FSDP synchronises every backward unless the trainer asks not to (no_sync,
  // set_requires_gradient_sync / set_requires_all_reduce); torchtitan never asks. NeMo
  // AutoModel does: automodel-2025.
  profile.replica_all_reduce_every_micro_batch = true;
  profile.zero2_reduce_every_micro_batch = true;
  return profile;
}

/// FSDP2 of 2024–25 (torchtitan, NeMo AutoModel): per-parameter sharding, compiled blocks,
/// torch's pipelining schedules (ZB/DualPipeV included), and for MoE DeepEP's node-aware
/// dispatch (NeMo AutoModel's "TE + DeepEP" kernels, torchtitan's DeepEP backend of 2025).
SoftwareProfile software_fsdp2_2025() {
  SoftwareProfile profile = software_fsdp_2023();
  profile.zero_bubble_schedules = true;
  profile.hierarchical_all_to_all = true;
  profile.attention_kernels = AttentionKernels::hopper; // TransformerEngine's cuDNN attention (NeMo AutoModel)
  profile.selective_gemm_share = 0.5; // torchtitan's selective AC, op policy
  // Full recomputation runs on the parameters the backward gathered: FSDP2's pre-backward hook
  // (registered on each unit's forward outputs) unshards the unit and sets PRE_BACKWARD, and
  // `_pre_forward` then returns at once ("When composing with module-hook-based activation
  // checkpointing, the pre-backward hook is responsible for the unshard",
  // torch/distributed/_composable/fsdp/_fsdp_state.py at pytorch 005da465). torchtitan wraps each
  // block for AC before fully_shard wraps it (parallelize_llama.py at 9dec370: apply_ac, then
  // apply_fsdp), so the recomputed forward passes no FSDP hook at all: two gathers per micro-batch.
  profile.recompute_reuses_backward_gather = true;
  // Each gather is copied out of FSDP2's flat all-gather buffer on the compute stream (physics.hpp).
  profile.gather_copy_out = true;
  // ... and concatenates each unit's gradients into the reduce-scatter buffer, the compute stream waiting.
  profile.reduce_scatter_copy_in = true;
  return profile;
}

/// The same without torch.compile (torchtitan's "FSDP" rows, its train configs' `compile = false`
/// of 2024): the Llama block's elementwise operators run unfused.
SoftwareProfile software_fsdp2_2025_eager() {
  SoftwareProfile profile = software_fsdp2_2025();
  profile.eager_elementwise = true;
  return profile;
}

/// NeMo AutoModel's FSDP2 trainer (2025): fsdp2-2025 whose train loop syncs gradients only on
/// the optimizer step's micro-batch. nemo_automodel/recipes/llm/train_ft.py at 89e3a9fdd:
/// `sync_ctx = get_sync_ctx(model, idx == num_batches - 1)`, and get_sync_ctx calls
/// `model.set_requires_gradient_sync(is_optim_step)` (later commits put it behind
/// defer_fsdp_grad_sync, default True). Its MoE models are cast to bf16 before FSDP2 shards
/// them and trained with torch.optim.Adam: bf16 shards, gradients and moments; the experts'
/// FSDP units have no mixed-precision policy (physics.hpp).
SoftwareProfile software_automodel_2025() {
  SoftwareProfile profile = software_fsdp2_2025();
  profile.grad_sync_last_micro_batch = true;
  profile.bf16_parameters = true;
  profile.expert_grads_in_param_dtype = true;
  // FakeBalancedGate's consecutive experts (physics.hpp consecutive_balanced_experts).
  profile.consecutive_balanced_experts = true;
  // GroupedExpertsDeepEP's per-expert bias loops (physics.hpp expert_bias_loops).
  profile.expert_bias_loops = true;
  return profile;
}

/// DeepSeek's HAI-LLM (DeepSeek-V3 report, 2024): DualPipe, DeepEP with node-limited routing,
/// ZeRO-1.
SoftwareProfile software_deepseek_2024() {
  SoftwareProfile profile;
  profile.zero_bubble_schedules = true;
  profile.fp8_moe_activation_cache = true;
  profile.fp8_dispatch = true;
  return profile;
}

/// brix's own collectives (brix-worker and programs built on them): Megatron-Core 2025's
/// capabilities plus the FP8 compressed gradient all-reduce and zero-bubble schedules.
SoftwareProfile software_brix() {
  SoftwareProfile profile;
  profile.fp8_grad_compression = true;
  profile.zero_bubble_schedules = true;
  return profile;
}

struct NamedProfile {
  const char* name;
  SoftwareProfile (*make)();
};

constexpr NamedProfile k_profiles[] = {
    {"modern", software_modern},
    {"megatron-2021", software_megatron_2021},
    {"megatron-2022", software_megatron_2022},
    {"deepspeed-2021", software_deepspeed_2021},
    {"megatron-core-2024", software_megatron_core_2024},
    {"megatron-core-2025", software_megatron_core_2025},
    {"fsdp-2023", software_fsdp_2023},
    {"fsdp2-2025", software_fsdp2_2025},
    {"fsdp2-2025-eager", software_fsdp2_2025_eager},
    {"automodel-2025", software_automodel_2025},
    {"deepseek-2024", software_deepseek_2024},
    {"brix", software_brix},
};

} // namespace

std::optional<AttentionKernels> attention_kernels_by_name(std::string_view name) {
  constexpr std::pair<std::string_view, AttentionKernels> k_names[] = {
      {"hopper", AttentionKernels::hopper}, {"flash2", AttentionKernels::flash2}, {"flash1", AttentionKernels::flash1}};
  for (const auto& [spelled, kernels] : k_names) {
    if (name == spelled) {
      return kernels;
    }
  }
  return std::nullopt;
}

std::vector<std::string> software_names() {
  std::vector<std::string> names;
  for (const auto& profile : k_profiles) {
    names.emplace_back(profile.name);
  }
  return names;
}

SoftwareProfile software_by_name(std::string_view name) {
  for (const auto& profile : k_profiles) {
    if (name == profile.name) {
      auto made = profile.make();
      made.name = profile.name;
      return made;
    }
  }
  const auto names = software_names();
  throw InputError(fmt::format("unknown software profile '{}'{} (expected one of {})", name,
                               util::did_you_mean(name, names), fmt::join(names, ", ")));
}

bool runs_node_level_dispatch(const cluster::GpuSpec& gpu) { return gpu.compute_capability >= 90; }

std::string compute_capability_text(const cluster::GpuSpec& gpu) {
  return gpu.compute_capability > 0 ? fmt::format("{}, compute capability {}.{}", gpu.display,
                                                  gpu.compute_capability / 10, gpu.compute_capability % 10)
                                    : fmt::format("{}, not an NVIDIA GPU", gpu.display);
}

std::string node_level_dispatch_problem(const cluster::ClusterSpec& cluster) {
  std::vector<std::string> lacking;
  for (const auto& group : cluster.groups) {
    if (!runs_node_level_dispatch(group.gpu)) {
      lacking.push_back(fmt::format("'{}' ({})", group.name, compute_capability_text(group.gpu)));
    }
  }
  if (lacking.empty()) {
    return {};
  }
  return fmt::format("node group{} {} {} no DeepEP/HybridEP internode kernels (they need compute capability 9.0 or "
                     "newer)",
                     lacking.size() > 1 ? "s" : "", fmt::join(lacking, ", "), lacking.size() > 1 ? "have" : "has");
}

SoftwareProfile software_on(SoftwareProfile software, const cluster::ClusterSpec& cluster) {
  for (const auto& group : cluster.groups) {
    software.hierarchical_all_to_all = software.hierarchical_all_to_all && runs_node_level_dispatch(group.gpu);
  }
  return software;
}

} // namespace brix::plan
