#include <brix/plan/optimizer_advice.hpp>

#include <brix/plan/batch_settings.hpp>

#include <cmath>
#include <fmt/format.h>

namespace brix::plan {

OptimizerAdvice optimizer_advice(const OptimizerInputs& inputs) {
  OptimizerAdvice advice;
  auto& lr = advice.learning_rate;
  lr.rule = "square-root (Adam-family: lr ∝ √batch, Malladi et al. 2022)";
  lr.batch = inputs.global_batch;
  lr.reference_given = inputs.base_lr.has_value() && inputs.base_batch > 0;
  lr.reference_batch = lr.reference_given ? static_cast<double>(inputs.base_batch)
                                          : k_reference_batch_tokens / static_cast<double>(inputs.seq_len);
  lr.factor = std::sqrt(static_cast<double>(inputs.global_batch) / lr.reference_batch);
  if (lr.reference_given) {
    lr.base_lr = inputs.base_lr;
    lr.lr = scale_learning_rate(*inputs.base_lr, inputs.base_batch, inputs.global_batch, true);
  }
  for (const double beta : inputs.lamb_betas) {
    const auto scaled = scale_lamb_beta(beta, inputs.nodes);
    advice.lamb.push_back({beta, inputs.nodes, scaled.requested, scaled.value, scaled.clamped, scaled.warning});
  }
  return advice;
}

nlohmann::ordered_json optimizer_json(const OptimizerAdvice& advice) {
  const auto& lr = advice.learning_rate;
  const auto optional = [](const std::optional<double>& value) {
    return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json();
  };
  nlohmann::ordered_json json;
  json["lr_scaling"] = {{"rule", lr.rule},
                        {"batch", lr.batch},
                        {"reference_batch", lr.reference_batch},
                        {"reference", lr.reference_given ? "--base-batch" : "4M tokens"},
                        {"factor", lr.factor},
                        {"base_lr", optional(lr.base_lr)},
                        {"lr", optional(lr.lr)}};
  json["lamb_betas"] = nlohmann::ordered_json::array();
  for (const auto& lamb : advice.lamb) {
    json["lamb_betas"].push_back({{"beta", lamb.beta},
                                  {"nodes", lamb.nodes},
                                  {"scaled", lamb.scaled},
                                  {"used", lamb.used},
                                  {"refused", lamb.refused}});
  }
  return json;
}

std::string optimizer_text(const OptimizerAdvice& advice) {
  const auto& lr = advice.learning_rate;
  std::string out;
  if (lr.lr) {
    out += fmt::format("learning rate for batch {}: {:.3g} ({} from {:.3g} at batch {:.0f}: × {:.3f})\n", lr.batch, *lr.lr,
                       lr.rule, *lr.base_lr, lr.reference_batch, lr.factor);
  } else {
    out += fmt::format("learning rate: {}; batch {} is × {:.3f} of the 4M-token batch ({:.0f} sequences): scale a learning "
                       "rate tuned there by {:.3f} (--base-lr/--base-batch give the value)\n",
                       lr.rule, lr.batch, lr.batch / lr.reference_batch, lr.reference_batch, lr.factor);
  }
  for (const auto& lamb : advice.lamb) {
    out += lamb.refused ? fmt::format("LAMB beta {}: scaling refused for {} nodes, keeping {} (see the warning)\n", lamb.beta,
                                      lamb.nodes, lamb.used)
                        : fmt::format("LAMB beta {} for {} nodes: {:.6f} (β·(1 + 0.05·ln nodes): a rule of thumb with no published "
                                      "source, not from the LAMB paper)\n",
                                      lamb.beta, lamb.nodes, lamb.used);
  }
  return out;
}

std::vector<std::string> optimizer_warnings(const OptimizerAdvice& advice) {
  std::vector<std::string> warnings;
  for (const auto& lamb : advice.lamb) {
    if (lamb.refused) {
      warnings.push_back(fmt::format("brix: warning: LAMB {}", lamb.warning));
    }
  }
  return warnings;
}

} // namespace brix::plan
