#pragma once
// One parallel layout: how a training job is split over GPUs. Megatron-LM terms throughout.

#include <algorithm>
#include <cstdint>
#include <string>

namespace brix::plan {

enum class Schedule { one_f_one_b, interleaved, zb_h1, dualpipe };
/// What backward recomputes instead of keeping. selective: the cheap parts (without flash
/// attention the attention scores; with it norms, activation functions, MLA up-projections);
/// selective_mlp: those and the whole MLP block, dense MLP or MoE layer, from its input
/// (Megatron-Core's --recompute-modules layernorm mlp/moe; MaxText's save_dot_except_mlp);
/// full: the whole layer from its input.
enum class Recompute { none, selective, full, selective_mlp };
enum class Precision { bf16, fp8 };
enum class GradCompression { none, fp8 };

struct Layout {
  int tp = 1;  ///< tensor parallel
  int pp = 1;  ///< pipeline parallel
  int dp = 1;  ///< data parallel (of the dense part)
  int ep = 1;  ///< expert parallel
  int etp = 1; ///< expert tensor parallel
  int cp = 1;  ///< context parallel
  bool sp = false; ///< sequence parallel (needs tp > 1 to matter)
  int micro_batch = 1;
  int vpp = 1; ///< virtual (interleaved) stages per device
  Schedule schedule = Schedule::one_f_one_b;
  Recompute recompute = Recompute::none;
  int zero = 0; ///< 0–3; 1 = Megatron's distributed optimizer
  Precision precision = Precision::bf16;
  GradCompression grad_compression = GradCompression::none;
  /// Flash-attention style kernels: the a·s² score/softmax/dropout tensors are not stored
  /// (Korthikanti's 5·a·s²·b term vanishes). Megatron of 2021–22 (the calibration runs) had none.
  bool flash_attention = true;
  /// Megatron's --account-for-embedding-in-pipeline-split / --account-for-loss-in-pipeline-split:
  /// the embedding (first stage) and the loss with the LM head (last stage) each take the place
  /// of one decoder layer in the stage split (plan/pipeline_split.hpp).
  bool pp_embedding = false;
  bool pp_loss = false;
  /// Adam's two moments in bf16 instead of fp32 (DeepSeek-V3; Megatron-Core's
  /// --use-precision-aware-optimizer --exp-avg-dtype bf16 --exp-avg-sq-dtype bf16).
  bool bf16_moments = false;
  /// Decoder layers whose stored activations go to host memory after their forward and come
  /// back for their backward (Megatron-Core's --cpu-offloading --cpu-offloading-num-layers N,
  /// which needs pp = 1 and fewer than all the layers). Never searched: a run states it.
  int offload = 0;
  /// Token-dropping MoE with static shapes (Megatron-Core's --moe-expert-capacity-factor C
  /// --moe-pad-expert-input-to-capacity): every expert takes exactly ceil(C·tokens·top-k/experts)
  /// rows, tokens beyond that dropped and the rest padded (moe_utils.py get_capacity), so no
  /// expert outweighs another and no token counts are copied to the host (the alltoall
  /// dispatcher's cuda_sync_point stays "no_sync"). 0: dropless routing. Never searched.
  double capacity = 0;
  /// Hybrid sharding (PyTorch FSDP's HYBRID_SHARD, FSDP2 on a 2-D mesh, torchtitan's
  /// data_parallel_shard_degree × data_parallel_replicate_degree, DeepSpeed's MiCS; at zero = 1
  /// Megatron-Core's partial distributed optimizer): the ZeRO shards (zero >= 1) are taken over
  /// `shard` data-parallel ranks (times cp, whose ranks share the weights, as torchtitan's
  /// dp_shard_cp mesh) and dp/shard replicas of that group all-reduce the sharded gradients.
  /// 0: over the whole data-parallel group. Unless a layout
  /// states it, the search also costs ZeRO-3 sharded over one NVLink domain's data-parallel ranks.
  int shard = 0;
  /// FSDP's reshard_after_forward under zero = 3: false keeps each layer's gathered parameters
  /// from its forward through its backward (one all-gather per micro-batch instead of two; the
  /// Llama 3 paper's FSDP). Never searched.
  bool reshard = true;

  [[nodiscard]] int world() const { return tp * pp * dp * cp; }
  /// Data-parallel ranks of one ZeRO shard group: dp without hybrid sharding.
  [[nodiscard]] int shard_dp() const { return shard > 0 ? shard : dp; }
  /// Copies of each shard group: dp / shard (1 without hybrid sharding).
  [[nodiscard]] int replicas() const { return dp / std::max(1, shard_dp()); }
  /// Ranks one dense ZeRO shard is split over: shard_dp · cp.
  [[nodiscard]] int shard_group() const { return shard_dp() * cp; }
  /// Ranks one expert ZeRO shard is split over: the expert-DP group over the replicas.
  [[nodiscard]] int expert_shard_group() const { return std::max(1, expert_dp() / std::max(1, replicas())); }
  /// Data-parallel size of the expert weights: world / (ep · etp · pp).
  [[nodiscard]] int expert_dp() const { return (tp * dp * cp) / (ep * etp); }
};

/// The training run being planned.
struct TrainingShape {
  std::int64_t global_batch = 0; ///< sequences per step
  std::int64_t seq_len = 0;
  /// Sequences per data-parallel rank in one run of the pipeline schedule; a step runs the
  /// schedule once per local batch, each run filling and draining the pipeline (torch's
  /// `schedule.step` once per gradient-accumulation step). 0: one run takes the rank's whole share.
  std::int64_t local_batch = 0;
};

[[nodiscard]] std::string to_string(Schedule schedule);
[[nodiscard]] std::string to_string(Recompute recompute);
[[nodiscard]] std::string to_string(Precision precision);
[[nodiscard]] std::string to_string(GradCompression compression);
/// "tp=8,pp=4,dp=2,ep=1,etp=1,cp=1,sp=1,mbs=1,vpp=1,schedule=1f1b,recompute=selective,zero=1,...",
/// ending in ",pp_embedding=1" / ",pp_loss=1" (and the other optional keys: moments, offload,
/// capacity, shard, reshard) when those are set.
[[nodiscard]] std::string to_string(const Layout& layout);

} // namespace brix::plan
