// Megatron-LM flags, a DeepSpeed config and a torchrun line for one layout (emit.hpp); the
// flags are those of Megatron-Core 0.13, the DeepSpeed keys those of its ZeRO config.
#include <brix/plan/emit.hpp>

#include <brix/plan/batch_split.hpp>
#include <brix/plan/step_time.hpp>
#include <brix/util/error.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace brix::plan {

namespace {

/// Megatron-Core's --pipeline-model-parallel-layout for `pp` stages of `vpp` virtual stages each:
/// stage p's planned layers (`stage_layers`, else an even split of `layers`) split over its vpp
/// virtual stages, the first ones a layer more; the embedding (E) on the first virtual stage and
/// the loss (L) on the last, virtual stages listed in Megatron's order (virtual stage v of
/// pipeline rank p is entry v·PP + p), split by '|'.
std::string pipeline_layout(std::int64_t layers, int pp, int vpp, const std::vector<std::int64_t>& stage_layers) {
  std::vector<std::int64_t> per_stage = stage_layers;
  if (static_cast<int>(per_stage.size()) != pp) {
    per_stage.assign(static_cast<std::size_t>(pp), layers / pp);
    for (std::int64_t p = 0; p < layers % pp; ++p) {
      ++per_stage[static_cast<std::size_t>(p)];
    }
  }
  std::string out = "E";
  for (int v = 0; v < vpp; ++v) {
    for (int p = 0; p < pp; ++p) {
      if (v > 0 || p > 0) {
        out += '|';
      }
      const auto n = per_stage[static_cast<std::size_t>(p)];
      out.append(static_cast<std::size_t>(n / vpp + (v < n % vpp ? 1 : 0)), 't');
    }
  }
  return out + "L";
}

} // namespace

std::string emit_megatron(const Layout& layout, const EmitContext& context) {
  std::vector<std::string> flags;
  flags.push_back(fmt::format("--tensor-model-parallel-size {}", layout.tp));
  flags.push_back(fmt::format("--pipeline-model-parallel-size {}", layout.pp));
  if (layout.cp > 1) {
    flags.push_back(fmt::format("--context-parallel-size {}", layout.cp));
  }
  if (context.model->moe) {
    flags.push_back(fmt::format("--expert-model-parallel-size {}", layout.ep));
    flags.push_back(fmt::format("--expert-tensor-parallel-size {}", layout.etp));
  }
  if (layout.sp && layout.tp > 1) {
    flags.emplace_back("--sequence-parallel");
    if (context.tp_comm_overlap) {
      flags.emplace_back("--tp-comm-overlap");
    }
  }
  flags.push_back(fmt::format("--micro-batch-size {}", layout.micro_batch));
  flags.push_back(fmt::format("--global-batch-size {}", context.shape.global_batch));
  flags.push_back(fmt::format("--seq-length {}", context.shape.seq_len));
  // The embedding and the loss counted as layers (Megatron then checks layers + 2 against the stages).
  const std::int64_t extras = (layout.pp_embedding ? 1 : 0) + (layout.pp_loss ? 1 : 0);
  if (layout.pp_embedding) {
    flags.emplace_back("--account-for-embedding-in-pipeline-split");
  }
  if (layout.pp_loss) {
    flags.emplace_back("--account-for-loss-in-pipeline-split");
  }
  bool uneven_layout = false;
  if (layout.schedule == Schedule::interleaved && layout.vpp > 1) {
    const auto chunks = static_cast<std::int64_t>(layout.pp) * layout.vpp;
    const auto slots = context.model->layers + extras;
    if (slots % chunks == 0) {
      flags.push_back(fmt::format("--num-layers-per-virtual-pipeline-stage {}", slots / chunks));
    } else {
      // Megatron-Core 2025: unequal virtual stages, spelled out (E and L stand for the
      // embedding and the loss; the layout also fixes each stage's size, so neither the
      // account-for flags nor first/last stage sizes go with it).
      std::erase_if(flags, [](const std::string& flag) { return flag.starts_with("--account-for-"); });
      flags.push_back(fmt::format("--pipeline-model-parallel-layout '{}'",
                                  pipeline_layout(context.model->layers, layout.pp, layout.vpp, context.stage_layers)));
      uneven_layout = true;
    }
  }
  switch (layout.recompute) {
  case Recompute::full:
    flags.emplace_back("--recompute-granularity full");
    flags.emplace_back("--recompute-method uniform");
    flags.emplace_back("--recompute-num-layers 1");
    break;
  case Recompute::selective:
    // brix's selective under flash attention: the norms, the MLA up-projections and the routed
    // experts' activation function ("layernorm", "mla_up_proj", "moe_act": output-discarding
    // checkpoints). Megatron-Core's default module, core_attn, recomputes only the fused
    // attention kernel ("For fused attention, you have no need to set 'core_attn' to
    // recompute", transformer_config.py), which keeps every activation brix counted as freed.
    flags.emplace_back("--recompute-granularity selective");
    if (layout.flash_attention) {
      flags.emplace_back(fmt::format("--recompute-modules layernorm{}{}", context.model->moe ? " moe_act" : "",
                                     context.model->mla ? " mla_up_proj" : ""));
    }
    break;
  case Recompute::selective_mlp:
    flags.emplace_back("--recompute-granularity selective");
    flags.emplace_back(fmt::format("--recompute-modules layernorm mlp{}{}", context.model->moe ? " moe" : "",
                                   context.model->mla ? " mla_up_proj" : ""));
    break;
  case Recompute::none:
    break;
  }
  if (context.model->moe && layout.ep > 1 && layout.capacity <= 0) {
    // The dispatcher and expert GEMMs the plan was costed with (Megatron-LM's defaults are the
    // allgather dispatcher and one GEMM per local expert).
    if (context.hierarchical_dispatch) {
      flags.emplace_back("--moe-token-dispatcher-type flex");
      flags.emplace_back(context.nvlink_domain > context.gpus_per_node ? "--moe-flex-dispatcher-backend hybridep"
                                                                       : "--moe-flex-dispatcher-backend deepep");
    } else {
      flags.emplace_back("--moe-token-dispatcher-type alltoall");
    }
  }
  if (context.model->moe) {
    flags.emplace_back("--moe-grouped-gemm");
  }
  if (megatron_overlaps_experts(layout, context)) {
    flags.emplace_back("--overlap-moe-expert-parallel-comm");
  }
  if (layout.capacity > 0 && context.model->moe) {
    // Token dropping with every expert padded to its capacity, on the alltoall dispatcher
    // (Megatron-Core's TransformerConfig refuses the padding with the flex dispatcher;
    // Megatron-Bridge's apply_moe_token_drop asserts alltoall).
    flags.emplace_back("--moe-token-dispatcher-type alltoall");
    flags.push_back(fmt::format("--moe-expert-capacity-factor {:g}", layout.capacity));
    flags.emplace_back("--moe-pad-expert-input-to-capacity");
  }
  if (layout.offload > 0) {
    flags.emplace_back("--cpu-offloading");
    flags.emplace_back(fmt::format("--cpu-offloading-num-layers {}", layout.offload));
  }
  // Megatron-Core 0.13's ZeRO stages: the distributed optimizer shards the optimizer state and
  // master weights (ZeRO-1; its gradient buffer stays whole); its FSDP also the gradients
  // (optim_grads) and the parameters (optim_grads_params). arguments.py asserts that
  // --use-custom-fsdp and --overlap-param-gather come with --use-distributed-optimizer, and that
  // FSDP sharding gradients runs without gradient-accumulation fusion (on by default).
  if (layout.zero >= 1) {
    flags.emplace_back("--use-distributed-optimizer");
  }
  if (megatron_uses_fsdp(layout)) {
    flags.emplace_back("--use-custom-fsdp");
    flags.push_back(fmt::format("--data-parallel-sharding-strategy {}",
                                layout.zero == 3 ? "optim_grads_params" : "optim_grads"));
    flags.emplace_back("--no-gradient-accumulation-fusion");
  }
  if (layout.shard > 0 && layout.replicas() > 1) {
    // Megatron-Core's partial distributed optimizer: each of N instances (dp·cp/N consecutive
    // data-parallel ranks) holds one sharded copy, the instances all-reduce the gradient shards;
    // under its FSDP the gradients and parameters are sharded the same way (hybrid FSDP).
    flags.push_back(fmt::format("--num-distributed-optimizer-instances {}", layout.replicas()));
  }
  flags.emplace_back("--bf16");
  if (context.grad_reduce_in_bf16) {
    flags.emplace_back("--grad-reduce-in-bf16");
  }
  if (layout.precision == Precision::fp8) {
    flags.emplace_back("--fp8-format hybrid");
    flags.push_back(fmt::format("--fp8-recipe {}", context.fp8_recipe));
    if (context.fp8_param_gather && layout.zero >= 1) {
      flags.emplace_back("--fp8-param-gather");
    }
  }
  flags.emplace_back("--overlap-grad-reduce");
  if (layout.zero >= 1) {
    flags.emplace_back("--overlap-param-gather");
  }
  if (!uneven_layout) {
    flags.insert(flags.end(), context.split_flags.begin(), context.split_flags.end());
  }
  std::string out;
  for (std::size_t i = 0; i < flags.size(); ++i) {
    out += flags[i] + (i + 1 < flags.size() ? " \\\n" : "\n");
  }
  // What Megatron-LM has no flag for is said, not dropped (--emit chooses a plan without it; a
  // layout given whole may still carry it).
  if (!layout.reshard) {
    out += "# reshard=0 has no Megatron-LM flag: its FSDP frees every layer's gathered parameters after the forward "
           "and gathers them again for the backward (and a recomputed forward): less memory, more all-gathers per "
           "micro-batch than this plan\n";
  }
  for (const auto& missing : megatron_unsupported(layout)) {
    out += fmt::format("# {} has no Megatron-LM flag: {}\n", missing,
                       missing.starts_with("schedule") ? "run it with a framework that implements it"
                                                       : "use brix's compressed all-reduce (kernels/)");
  }
  return out;
}

bool megatron_uses_fsdp(const Layout& layout) { return layout.zero >= 2; }

bool megatron_overlaps_experts(const Layout& layout, const EmitContext& context) {
  return context.ep_overlap && context.model->moe && layout.schedule != Schedule::dualpipe && combined_1f1b_runs(layout);
}

std::vector<std::string> megatron_unsupported(const Layout& layout) {
  std::vector<std::string> missing;
  if (layout.schedule == Schedule::zb_h1 || layout.schedule == Schedule::dualpipe) {
    missing.push_back(fmt::format("schedule {}", to_string(layout.schedule)));
  }
  if (layout.grad_compression == GradCompression::fp8) {
    missing.emplace_back("grad_compression fp8");
  }
  return missing;
}

std::string emit_deepspeed(const Layout& layout, const EmitContext& context) {
  nlohmann::ordered_json config;
  config["train_batch_size"] = context.shape.global_batch;
  config["train_micro_batch_size_per_gpu"] = layout.micro_batch;
  config["gradient_accumulation_steps"] = micro_batches_per_step(layout, context.shape);
  config["zero_optimization"] = {{"stage", layout.zero},
                                 {"overlap_comm", true},
                                 {"contiguous_gradients", true}};
  if (deepspeed_uses_mics(layout)) {
    // MiCS: ZeRO-3's partitions within groups of mics_shard_size consecutive ranks, replicated
    // across them, the replicas all-reducing the gradient shards (HYBRID_SHARD's semantics).
    config["zero_optimization"]["mics_shard_size"] = layout.shard;
  }
  config["bf16"] = {{"enabled", true}};
  config["gradient_clipping"] = 1.0;
  if (layout.recompute != Recompute::none) {
    config["activation_checkpointing"] = {{"partition_activations", layout.tp > 1},
                                          {"contiguous_memory_optimization", false}};
  }
  return config.dump(2) + "\n";
}

bool deepspeed_uses_mics(const Layout& layout) { return layout.zero == 3 && layout.shard > 0 && layout.replicas() > 1; }

std::vector<std::string> deepspeed_unexpressed(const Layout& layout) {
  std::vector<std::string> out;
  auto degree = [&](const char* name, int value) {
    if (value > 1) {
      out.push_back(fmt::format("{}={}", name, value));
    }
  };
  degree("tp", layout.tp);
  degree("pp", layout.pp);
  degree("ep", layout.ep);
  degree("etp", layout.etp);
  degree("cp", layout.cp);
  degree("vpp", layout.vpp);
  if (layout.sp && layout.tp > 1) {
    out.emplace_back("sp=1");
  }
  if (layout.pp > 1 && layout.schedule != Schedule::one_f_one_b) {
    out.push_back("schedule=" + to_string(layout.schedule));
  }
  if (layout.grad_compression != GradCompression::none) {
    out.push_back("grad_compression=" + to_string(layout.grad_compression));
  }
  if (layout.precision == Precision::fp8) {
    out.emplace_back("precision=fp8");
  }
  if (layout.capacity > 0) {
    out.push_back(fmt::format("capacity={:g}", layout.capacity));
  }
  if (layout.shard > 0 && layout.zero < 3) {
    out.push_back(fmt::format("shard={} (MiCS shards only under stage 3)", layout.shard));
  }
  if (!layout.reshard) {
    out.emplace_back("reshard=0");
  }
  return out;
}

std::string emit_torchrun(const Layout& layout, const EmitContext& context) {
  std::string out = fmt::format(
      "torchrun --nnodes {} --nproc-per-node {} --rdzv-backend c10d --rdzv-endpoint \"$MASTER_ADDR:29400\" "
      "--rdzv-id \"${{SLURM_JOB_ID:-brix}}\" pretrain_gpt.py \\\n",
      context.nodes, context.gpus_per_node);
  out += emit_megatron(layout, context);
  return out;
}

} // namespace brix::plan
