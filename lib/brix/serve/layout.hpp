#pragma once
// A serving layout: how one model is split over the GPUs of an engine instance, how many
// instances run, and whether prefill and decode share instances (aggregated) or run on their own
// (disaggregated). Parsed from `brix plan --serve --layout` and printed back the same way.

#include <optional>
#include <string>
#include <string_view>

namespace brix::serve {

enum class WeightPrecision { bf16, fp8, fp4 };
enum class KvPrecision { bf16, fp8 };
enum class Mode { aggregated, disaggregated };

[[nodiscard]] std::string_view to_string(WeightPrecision precision);
[[nodiscard]] std::string_view to_string(KvPrecision precision);
[[nodiscard]] std::string_view to_string(Mode mode);
/// "bf16" | "fp8" | "fp4"; anything else is an InputError naming `option`.
[[nodiscard]] WeightPrecision parse_weight_precision(std::string_view text, std::string_view option);
[[nodiscard]] KvPrecision parse_kv_precision(std::string_view text, std::string_view option);

/// Bytes per weight as stored, scales included: FP8 with one fp32 scale per 128×128 block
/// (DeepSeek-V3's format), FP4 with one FP8 scale per 16 values (NVFP4).
[[nodiscard]] double weight_bytes(WeightPrecision precision);
[[nodiscard]] double kv_bytes(KvPrecision precision);

/// One engine instance: attention runs `dp` data-parallel groups of `tp` tensor-parallel GPUs on
/// each of `pp` pipeline stages; the MoE layers of a stage split its tp × dp GPUs into `ep`
/// expert-parallel groups of `etp` (ep × etp = tp × dp). Dense MLPs follow attention's TP.
struct InstanceShape {
  int tp = 1;
  int pp = 1;
  int dp = 1;
  int ep = 1;
  int etp = 1;
  [[nodiscard]] int gpus() const { return tp * pp * dp; }
  [[nodiscard]] int stage_gpus() const { return tp * dp; }
  friend bool operator==(const InstanceShape&, const InstanceShape&) = default;
};

/// Instances of one shape playing one role.
struct RolePlan {
  InstanceShape shape;
  int instances = 0;
  [[nodiscard]] int gpus() const { return shape.gpus() * instances; }
};

struct ServeLayout {
  Mode mode = Mode::aggregated;
  RolePlan both;    ///< aggregated: every instance prefills and decodes
  RolePlan prefill; ///< disaggregated only
  RolePlan decode;  ///< disaggregated only
  WeightPrecision weights = WeightPrecision::bf16;
  KvPrecision kv = KvPrecision::bf16;
  int mtp = 0;          ///< speculative (MTP) tokens drafted per decode step
  bool overlap = false; ///< two micro-batches overlap MoE all-to-all with compute (SGLang TBO, vLLM DBO)
  /// Weight offloading to host memory, the engines' layer-group offloader: of every `offload`
  /// layers the last one's routed experts live in host memory and are copied in one layer ahead
  /// (--offload-group-size offload --offload-num-in-group 1 --offload-prefetch-step 1); 0: none.
  int offload = 0;
  [[nodiscard]] int gpus() const;
};

/// "tp=8,pp=1,dp=2,ep=16,etp=1,instances=1", one role's fields.
[[nodiscard]] std::string to_string(const InstanceShape& shape, int instances, std::string_view prefix = "");
/// The whole layout in --layout syntax: role fields (p./d. for disaggregated), then
/// weights, kv, mtp and overlap, and offload where weights are offloaded.
[[nodiscard]] std::string to_string(const ServeLayout& layout);

/// A --layout query: every field optional; the search fills in what is not given.
struct ShapeQuery {
  std::optional<int> tp, pp, dp, ep, etp, instances;
  [[nodiscard]] bool empty() const { return !tp && !pp && !dp && !ep && !etp && !instances; }
};
struct LayoutQuery {
  std::optional<Mode> mode; ///< set by the keys used: plain keys aggregated, p./d. disaggregated
  ShapeQuery both, prefill, decode;
  std::optional<WeightPrecision> weights;
  std::optional<KvPrecision> kv;
  std::optional<int> mtp;
  std::optional<bool> overlap;
  std::optional<int> offload;
};

/// Parses "tp=8,dp=2,ep=16,instances=2,kv=fp8" or "p.tp=8,p.ep=8,p.instances=2,d.dp=16,...".
/// Unknown keys (with "did you mean"), repeated keys, values out of range and plain role keys
/// mixed with p./d. ones are InputErrors naming --layout.
[[nodiscard]] LayoutQuery parse_layout_query(std::string_view text);

/// Whether `shape` and `instances` agree with every field `query` fixes.
[[nodiscard]] bool matches(const ShapeQuery& query, const InstanceShape& shape, int instances);

} // namespace brix::serve
