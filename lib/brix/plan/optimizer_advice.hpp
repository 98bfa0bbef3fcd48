#pragma once
// Optimizer settings for the chosen batch (issue: "suggest learning-rate scaling for the chosen
// batch", LAMB β scaled with the node count): computed once per report, rendered as text, as the
// JSON `optimizer` object and as warnings on stderr.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace brix::plan {

/// The reference batch when no --base-batch is given: 4M tokens (2^22), the batch Llama 2/3 and
/// DeepSeek-V3 pre-trained at, so "× factor" applies to a learning rate tuned there.
inline constexpr double k_reference_batch_tokens = 4.0 * 1024 * 1024;

struct LearningRateAdvice {
  std::string rule;              ///< "square-root (Adam-family)"
  std::int64_t batch = 0;        ///< the chosen global batch, sequences
  double reference_batch = 0;    ///< sequences: --base-batch, or 4M tokens / seq_len
  bool reference_given = false;  ///< true with --base-lr/--base-batch
  double factor = 0;             ///< √(batch / reference)
  std::optional<double> base_lr; ///< --base-lr
  std::optional<double> lr;      ///< base_lr × factor
};

struct LambBetaAdvice {
  double beta = 0;      ///< β_base
  int nodes = 0;
  double scaled = 0;    ///< β_base·(1 + 0.05·ln N)
  double used = 0;      ///< scaled, or β_base when the scaling was refused
  bool refused = false;
  std::string warning;  ///< empty unless refused
};

struct OptimizerAdvice {
  LearningRateAdvice learning_rate;
  std::vector<LambBetaAdvice> lamb;
};

struct OptimizerInputs {
  std::int64_t global_batch = 0;
  std::int64_t seq_len = 0;
  int nodes = 0;
  std::optional<double> base_lr;
  std::int64_t base_batch = 0;
  std::vector<double> lamb_betas;
};

[[nodiscard]] OptimizerAdvice optimizer_advice(const OptimizerInputs& inputs);
[[nodiscard]] nlohmann::ordered_json optimizer_json(const OptimizerAdvice& advice);
[[nodiscard]] std::string optimizer_text(const OptimizerAdvice& advice);
/// One "brix: warning: ..." line per refused β scaling.
[[nodiscard]] std::vector<std::string> optimizer_warnings(const OptimizerAdvice& advice);

} // namespace brix::plan
