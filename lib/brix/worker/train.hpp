#pragma once
// `brix-worker train`: a deterministic synthetic data-parallel training loop. A linear model
// learns fixed hidden weights from generated samples; each rank computes the gradient of its
// share of the global batch, one all-reduce sums gradients and losses, every rank applies the
// same SGD step. Same seed and world size, same losses, bit for bit. Every step is reported to
// brix monitor (BRIX_MONITOR_SOCKET): wall time, compute time before the all-reduce, loss,
// gradient norm, gradient variance across ranks (grad_variance) and tokens (the global
// batch's samples: one synthetic sample is one token).

#include <brix/collective/communicator.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <vector>

namespace brix::worker {

struct TrainOptions {
  int steps = 100;
  int dim = 256;           ///< parameters (model width)
  int global_batch = 64;   ///< samples per step over all ranks
  double learning_rate = 0.1;
  std::uint64_t seed = 1234;
  int step_sleep_ms = 0;   ///< pretend each step computes this long
  int slow_rank = -1;      ///< this rank computes slow_ms longer per step (a straggler, for tests)
  int slow_ms = 0;
  int slow_from_step = 0;  ///< from this step on
};

/// Everything a checkpoint needs: plain data, serialisable as JSON.
struct TrainState {
  int step = 0;              ///< steps completed
  std::vector<float> params; ///< model weights
  double last_loss = 0;
  [[nodiscard]] nlohmann::json to_json() const;
  [[nodiscard]] static TrainState from_json(const nlohmann::json& json);
};

/// A fresh model (zero weights) for `options`.
[[nodiscard]] TrainState initial_state(const TrainOptions& options);

/// Called after every step with the new state (logging; checkpoints later).
using StepHook = std::function<void(const TrainState&)>;

/// Runs steps state.step .. options.steps − 1. InputError when the global batch does not split
/// evenly over the ranks.
void train(collective::Communicator& comm, const TrainOptions& options, TrainState& state,
           const StepHook& after_step);

/// The variance across ranks of each rank's mean gradient, averaged over the `parameters`:
/// (1/P) Σ_k [(1/R) Σ_r g_rk² − ḡ_k²], from Σ_r ||g_r||² (what the all-reduce sums), the rank
/// count R and the mean gradient ḡ. 0 on one rank; large while ranks' batches disagree.
[[nodiscard]] double gradient_variance(double rank_square_sum, int ranks,
                                       const std::vector<float>& mean_gradient,
                                       std::size_t parameters);

/// One synthetic sample: features (dim values in [−1, 1)) and its target.
void make_sample(std::uint64_t seed, std::uint64_t index, int dim, std::vector<float>& features,
                 float& target);

/// FNV-1a over the parameters' bytes: equal on every rank when they agree bit for bit.
[[nodiscard]] std::uint64_t params_checksum(const std::vector<float>& params);

} // namespace brix::worker
