#pragma once
// Reading a Layout from text: "tp=8,pp=4,dp=2,ep=8,sp=1,mbs=1,recompute=selective,zero=1,...",
// the same keys to_string(Layout) writes (plus long aliases).

#include <brix/plan/layout.hpp>

#include <optional>
#include <string_view>

namespace brix::plan {

/// Fields of a layout fixed by the user (`--layout "tp=8,pp=4"`); the planner searches the rest.
struct LayoutQuery {
  std::optional<int> tp, pp, dp, ep, etp, cp, micro_batch, vpp, zero;
  std::optional<bool> sp, flash_attention, pp_embedding, pp_loss;
  std::optional<Schedule> schedule;
  std::optional<Recompute> recompute;
  std::optional<Precision> precision;
  std::optional<GradCompression> grad_compression;
  std::optional<bool> bf16_moments; ///< moments=bf16|fp32
  /// grads=bf16|fp32: the gradient buffer's bytes (2 or 4), SoftwareProfile::grad_reduce_bytes
  /// for this plan (Megatron-LM --grad-reduce-in-bf16); not a Layout field.
  std::optional<double> grad_bytes;
  std::optional<int> offload;       ///< offload=N layers' activations in host memory
  std::optional<double> capacity;   ///< capacity=C: experts padded to C × their balanced share
  std::optional<int> shard;         ///< shard=N: ZeRO shards over N data-parallel ranks, dp/N replicas
  std::optional<bool> reshard;      ///< reshard=0: FSDP keeps gathered parameters from forward to backward
  [[nodiscard]] bool complete() const;
};

/// Parses the keys below into a query; unknown keys and bad values are InputErrors naming `what`.
[[nodiscard]] LayoutQuery parse_layout_query(std::string_view text, std::string_view what = "--layout");

/// A complete layout from a query: missing degrees 1, SP on with TP, micro-batch 1, 1F1B (or
/// interleaved when vpp > 1), `default_recompute`, ZeRO-1, bf16, flash attention, neither the
/// embedding nor the loss counted as a pipeline layer.
[[nodiscard]] Layout complete_layout(const LayoutQuery& query, Recompute default_recompute = Recompute::full);

/// Keys: tp pp dp ep etp cp sp mbs|micro_batch vpp schedule recompute zero precision
/// grad_compression flash pp_embedding pp_loss moments grads offload capacity shard reshard (grads is read by
/// parse_layout_query only). Unset keys keep the defaults of Layout{} except that sp defaults to
/// tp > 1 and recompute to selective. Unknown keys and bad values are InputErrors naming `what`.
[[nodiscard]] Layout parse_layout(std::string_view text, std::string_view what = "--layout");

[[nodiscard]] Schedule parse_schedule(std::string_view text, std::string_view what);
[[nodiscard]] Recompute parse_recompute(std::string_view text, std::string_view what);
[[nodiscard]] Precision parse_precision(std::string_view text, std::string_view what);
[[nodiscard]] GradCompression parse_grad_compression(std::string_view text, std::string_view what);

} // namespace brix::plan
