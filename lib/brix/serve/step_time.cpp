// Decode and prefill step times: layers (layer_time.hpp) summed into pipeline stages, launched
// from CUDA graphs or eagerly, plus the host's share.
#include <brix/serve/step_time.hpp>

#include <brix/model/params.hpp>
#include <brix/plan/physics.hpp>
#include <brix/serve/layer_time.hpp>
#include <brix/serve/memory.hpp>

#include <algorithm>
#include <vector>

namespace brix::serve {

namespace {

using i64 = std::int64_t;
constexpr double k_bf16 = 2.0;

/// The window of a model's sliding-window layers (one size, as the catalog's models have), 0 if none.
double sliding_window(const model::ModelSpec& model) {
  for (std::int64_t layer = 0; layer < static_cast<std::int64_t>(model.layer_window.size()); ++layer) {
    if (model.attention_window(layer) > 0) {
      return static_cast<double>(model.attention_window(layer));
    }
  }
  return 0.0;
}

/// The copies of a stage's offloaded experts (layers first..last, `cost` their compute): each
/// starts when the previous offloaded layer has run and must land before its own layer starts,
/// so it hides under the offload − 1 layers between (at the stage's mean layer time).
void add_offload_stall(StepCost& cost, const StepContext& context, i64 first, i64 last) {
  const auto& model = *context.model;
  const auto& device = *context.device;
  const i64 offloaded = offloaded_layers_in(model, first, last, context.offload);
  if (offloaded == 0 || device.host_to_device_bytes_per_s <= 0) {
    return;
  }
  const double copy = expert_bytes_per_gpu(model, context.shape, context.weights) / device.host_to_device_bytes_per_s;
  const double hidden = (context.offload - 1) * cost.seconds / static_cast<double>(last - first + 1);
  const double stall = static_cast<double>(offloaded) * std::max(0.0, copy - hidden);
  cost.seconds += stall;
  cost.weights_s += stall;
}

/// The stages of an instance, each costed with its own layers; the head on the last stage.
std::vector<StepCost> stage_costs(const StepContext& context, const Batch& batch, bool decode, double head_rows) {
  const auto& model = *context.model;
  const int stages = context.shape.pp;
  const StepCost dense = layer_cost(context, false, batch, decode, 0.0);
  const StepCost moe = model.moe ? layer_cost(context, true, batch, decode, 0.0) : dense;
  // Sliding-window layers (gpt-oss: every other one) are costed with their window.
  const double window = sliding_window(model);
  const StepCost dense_windowed = window > 0 ? layer_cost(context, false, batch, decode, window) : dense;
  const StepCost moe_windowed = window > 0 && model.moe ? layer_cost(context, true, batch, decode, window) : moe;
  std::vector<StepCost> costs;
  const i64 base = model.layers / stages;
  const i64 extra = model.layers % stages;
  i64 first = 0;
  for (int stage = 0; stage < stages; ++stage) {
    const i64 count = base + (stage < extra ? 1 : 0);
    const i64 last = first + count - 1;
    const i64 moe_layers = model::moe_layers_in(model, first, last);
    i64 moe_sliding = 0;
    i64 dense_sliding = 0;
    if (window > 0) {
      for (i64 layer = first; layer <= last; ++layer) {
        if (model.attention_window(layer) > 0) {
          ++(model.is_moe_layer(layer) ? moe_sliding : dense_sliding);
        }
      }
    }
    StepCost cost = moe * static_cast<double>(moe_layers - moe_sliding);
    cost += moe_windowed * static_cast<double>(moe_sliding);
    cost += dense * static_cast<double>(count - moe_layers - dense_sliding);
    cost += dense_windowed * static_cast<double>(dense_sliding);
    add_offload_stall(cost, context, first, last);
    if (stage == stages - 1) {
      cost += head_cost(context, head_rows);
    }
    if (stages > 1) {
      const double seconds = send_seconds(*context.device, batch.tokens * static_cast<double>(model.hidden) * k_bf16,
                                          context.shape.gpus() > context.device->nvlink_domain);
      cost.seconds += seconds;
      cost.collectives_s += seconds;
      cost.kernels += 1;
    }
    costs.push_back(cost);
    first += count;
  }
  return costs;
}

/// A stage's step of `tokens` per rank as the engine launches it. From CUDA graphs the replay
/// keeps the GPU fed; from eager PyTorch (no graphs, or a step larger than the largest graph the
/// engine captured) the host launches kernel after kernel, asynchronously, so the GPU waits for it
/// whenever launching the step's kernels takes longer than running them (booked as floors).
StepCost launched(const StepContext& context, StepCost stage, double tokens) {
  const bool replayed = context.cuda_graphs &&
                        (context.cuda_graph_max_tokens <= 0 || tokens <= context.cuda_graph_max_tokens);
  const double host = stage.kernels * context.device->eager_launch_s;
  if (!replayed && host > stage.seconds) {
    stage.floors_s += host - stage.seconds;
    stage.seconds = host;
  }
  return stage;
}

const StepCost& slowest(const std::vector<StepCost>& costs) {
  return *std::max_element(costs.begin(), costs.end(),
                           [](const StepCost& a, const StepCost& b) { return a.seconds < b.seconds; });
}

} // namespace

StepCost& StepCost::operator+=(const StepCost& other) {
  seconds += other.seconds;
  weights_s += other.weights_s;
  kv_s += other.kv_s;
  gemm_s += other.gemm_s;
  attention_s += other.attention_s;
  collectives_s += other.collectives_s;
  floors_s += other.floors_s;
  kernels += other.kernels;
  return *this;
}

StepCost operator*(const StepCost& cost, double times) {
  StepCost out;
  out.seconds = cost.seconds * times;
  out.weights_s = cost.weights_s * times;
  out.kv_s = cost.kv_s * times;
  out.gemm_s = cost.gemm_s * times;
  out.attention_s = cost.attention_s * times;
  out.collectives_s = cost.collectives_s * times;
  out.floors_s = cost.floors_s * times;
  out.kernels = cost.kernels * times;
  return out;
}

StepCost decode_step(const StepContext& context, double batch, double context_tokens, int mtp) {
  const int stages = context.shape.pp;
  const double micro = std::max(1.0, batch / stages);
  const double verified = micro * (1.0 + mtp);
  const Batch main{verified, micro, context_tokens, 0};
  auto costs = stage_costs(context, main, true, verified);
  StepCost stage = slowest(costs);
  if (mtp > 0) {
    // Each draft runs the MTP module (eh_proj and one decoder layer like the last) and the head
    // on the last stage, one token per sequence at a time.
    stage += mtp_draft_cost(context, micro, context_tokens) * static_cast<double>(mtp);
  }
  auto step = launched(context, stage, verified) * static_cast<double>(stages);
  // Each rank's scheduler walks its own sequences between steps; the GPU waits for it.
  const double host = context.host_step_s + context.host_per_sequence_s * batch;
  step.seconds += host;
  step.floors_s += host;
  return step;
}

StepCost prefill_step(const StepContext& context, double tokens, double prompt) {
  const Batch batch{tokens, std::max(1.0, tokens / std::max(1.0, prompt)), 0, prompt};
  StepCost total;
  for (const auto& stage : stage_costs(context, batch, false, batch.sequences)) {
    total += launched(context, stage, batch.tokens);
  }
  return total;
}

double prefill_stage_seconds(const StepContext& context, double tokens, double prompt) {
  const Batch batch{tokens, std::max(1.0, tokens / std::max(1.0, prompt)), 0, prompt};
  auto stages = stage_costs(context, batch, false, batch.sequences);
  for (auto& stage : stages) {
    stage = launched(context, stage, batch.tokens);
  }
  return slowest(stages).seconds;
}

double tokens_per_step(int mtp, double acceptance) {
  double tokens = 1.0;
  double chain = 1.0;
  for (int i = 0; i < mtp; ++i) {
    chain *= acceptance;
    tokens += chain;
  }
  return tokens;
}

double acceptance_for_length(int mtp, double length) {
  double low = 0.0;
  double high = 1.0;
  for (int i = 0; i < 60; ++i) {
    const double mid = (low + high) / 2.0;
    (tokens_per_step(mtp, mid) < length ? low : high) = mid;
  }
  return (low + high) / 2.0;
}

} // namespace brix::serve
