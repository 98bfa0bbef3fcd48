#include <brix/worker/train.hpp>

#include <brix/monitor/report.hpp>
#include <brix/util/error.hpp>
#include <brix/util/splitmix.hpp>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <thread>

namespace brix::worker {
namespace {

using util::splitmix64;

float uniform(std::uint64_t key) {
  return static_cast<float>(static_cast<double>(splitmix64(key) >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}

/// The hidden weights the model learns.
float true_weight(std::uint64_t seed, int k) {
  return uniform(splitmix64(seed ^ 0x5eedull) + static_cast<std::uint64_t>(k));
}

} // namespace

nlohmann::json TrainState::to_json() const {
  return {{"step", step}, {"params", params}, {"last_loss", last_loss}};
}

TrainState TrainState::from_json(const nlohmann::json& json) {
  TrainState state;
  state.step = json.at("step").get<int>();
  state.params = json.at("params").get<std::vector<float>>();
  state.last_loss = json.value("last_loss", 0.0);
  return state;
}

TrainState initial_state(const TrainOptions& options) {
  TrainState state;
  state.params.assign(static_cast<std::size_t>(options.dim), 0.0f);
  return state;
}

void make_sample(std::uint64_t seed, std::uint64_t index, int dim, std::vector<float>& features,
                 float& target) {
  features.resize(static_cast<std::size_t>(dim));
  double y = 0;
  const auto base = splitmix64(seed + index * 0x100000001b3ull);
  for (int k = 0; k < dim; ++k) {
    features[k] = uniform(base + static_cast<std::uint64_t>(k));
    y += static_cast<double>(features[k]) * true_weight(seed, k);
  }
  target = static_cast<float>(y + 0.01 * uniform(base ^ 0xabcdefull));
}

std::uint64_t params_checksum(const std::vector<float>& params) {
  std::uint64_t hash = 14695981039346656037ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(params.data());
  for (std::size_t i = 0; i < params.size() * sizeof(float); ++i) {
    hash = (hash ^ bytes[i]) * 1099511628211ull;
  }
  return hash;
}

double gradient_variance(double rank_square_sum, int ranks, const std::vector<float>& mean_gradient,
                         std::size_t parameters) {
  double mean_square = 0;
  for (std::size_t k = 0; k < parameters; ++k) {
    mean_square += static_cast<double>(mean_gradient[k]) * mean_gradient[k];
  }
  // E[g²] − E[g]² per parameter, summed; rounding may leave a tiny negative for equal gradients.
  const double variance = (rank_square_sum / ranks - mean_square) / static_cast<double>(parameters);
  return variance > 0 ? variance : 0.0;
}

void train(collective::Communicator& comm, const TrainOptions& options, TrainState& state,
           const StepHook& after_step) {
  const int ranks = comm.size();
  if (options.global_batch % ranks != 0) {
    throw InputError(fmt::format("--global-batch {} does not split over {} ranks (expected a "
                                 "multiple of the world size)",
                                 options.global_batch, ranks));
  }
  if (state.params.size() != static_cast<std::size_t>(options.dim)) {
    throw InputError(fmt::format("state has {} parameters, --dim is {}", state.params.size(),
                                 options.dim));
  }
  const int local_batch = options.global_batch / ranks;
  const auto dim = static_cast<std::size_t>(options.dim);
  // Gradient, loss and this rank's squared mean-gradient norm travel together: one all-reduce
  // per step.
  auto buffer = comm.allocate((dim + 2) * sizeof(float));
  std::vector<float> reduced(dim + 2);
  std::vector<float> mean_gradient(dim);
  std::vector<float> features;
  using Steady = std::chrono::steady_clock;
  while (state.step < options.steps) {
    const auto step_start = Steady::now();
    std::vector<float> local(dim + 2, 0.0f);
    for (int j = 0; j < local_batch; ++j) {
      const auto index = static_cast<std::uint64_t>(state.step) * options.global_batch +
                         static_cast<std::uint64_t>(comm.rank()) * local_batch + j;
      float target = 0;
      make_sample(options.seed, index, options.dim, features, target);
      float prediction = 0;
      for (std::size_t k = 0; k < dim; ++k) {
        prediction += state.params[k] * features[k];
      }
      const float error = prediction - target;
      for (std::size_t k = 0; k < dim; ++k) {
        local[k] += error * features[k];
      }
      local[dim] += 0.5f * error * error;
    }
    double rank_square = 0; // ||this rank's mean gradient||², for the variance across ranks
    for (std::size_t k = 0; k < dim; ++k) {
      const double g = static_cast<double>(local[k]) / local_batch;
      rank_square += g * g;
    }
    local[dim + 1] = static_cast<float>(rank_square);
    int sleep_ms = options.step_sleep_ms;
    if (comm.rank() == options.slow_rank && state.step >= options.slow_from_step) {
      sleep_ms += options.slow_ms;
    }
    if (sleep_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    }
    const double compute_seconds = std::chrono::duration<double>(Steady::now() - step_start).count();
    comm.copy_in(*buffer, 0, local.data(), local.size() * sizeof(float));
    comm.all_reduce(buffer->data(), buffer->data(), dim + 2, collective::DataType::f32);
    comm.synchronize();
    comm.copy_out(reduced.data(), *buffer, 0, reduced.size() * sizeof(float));
    const auto scale = static_cast<float>(options.learning_rate / options.global_batch);
    for (std::size_t k = 0; k < dim; ++k) {
      state.params[k] -= scale * reduced[k];
    }
    state.last_loss = reduced[dim] / options.global_batch;
    double gradient_squares = 0;
    for (std::size_t k = 0; k < dim; ++k) {
      gradient_squares += static_cast<double>(reduced[k]) * reduced[k];
      // Equal local batches: the global mean gradient is the mean of the ranks' mean gradients.
      mean_gradient[k] = reduced[k] / static_cast<float>(options.global_batch);
    }
    const double variance = gradient_variance(reduced[dim + 1], ranks, mean_gradient, dim);
    monitor::report_step(state.step, std::chrono::duration<double>(Steady::now() - step_start).count(),
                         {{"loss", state.last_loss},
                          {"grad_norm", std::sqrt(gradient_squares) / options.global_batch},
                          {"grad_variance", variance},
                          {"tokens", static_cast<double>(options.global_batch)}},
                         compute_seconds);
    ++state.step;
    if (after_step) {
      after_step(state);
    }
  }
}

} // namespace brix::worker
