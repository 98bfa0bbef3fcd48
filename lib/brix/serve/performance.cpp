// Operating points: the steady state of a deployment under a closed or open loop of requests.
#include <brix/serve/performance.hpp>

#include <brix/serve/finite_loop.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace brix::serve {

namespace {

/// Fixed-point iterations (damped); the maps are monotone and converge in a few dozen.
constexpr int k_iterations = 16;
/// Prefill busier than this is treated as saturated: queues in front of it grow without bound.
constexpr double k_saturated = 0.98;
/// Per-request setup of a KV transfer (connection lookup, RDMA descriptors; NIXL/Mooncake
/// report a few hundred µs).
constexpr double k_transfer_setup_s = 0.3e-3;

double context_tokens(const Workload& workload) {
  return static_cast<double>(workload.isl) + static_cast<double>(workload.osl) / 2.0;
}

/// A prompt of `isl` tokens through steps of `room` prompt tokens: the full ones, then its
/// remainder beside `others` tokens of the prompts waiting after it (the scheduler fills the
/// budget).
double chunked_prompt_seconds(const StepContext& step, double isl, double room, double others) {
  const double full = std::floor(isl / room);
  const double rest = isl - full * room;
  return full * prefill_step(step, room, isl).seconds +
         (rest > 0 ? prefill_step(step, std::min(room, rest + others), isl).seconds : 0.0);
}

/// One prompt alone through a role's instance: its chunks one after another (`isl` computed
/// tokens).
double prompt_seconds(const RoleContext& context, const RoleEstimate& role, std::int64_t isl) {
  return chunked_prompt_seconds(role_step_context(context, role), static_cast<double>(isl),
                                static_cast<double>(std::min(isl, role.chunk_tokens)), 0.0);
}

/// The prefill chunk of one group of a closed loop: the prompts of `running` requests of an
/// instance that fit one chunk per DP rank. Where the engine's budget also holds the step's
/// decode tokens (EngineVersion::decode_in_chunk), the `decoding` sequences per rank leave
/// chunk − decoding for prompts, so a prompt may need more steps: each one more carries what
/// is left of the prompt (an 8,192-token prompt beside 15 decoding requests: 8,177 then 15).
double group_seconds(const RoleContext& context, const RoleEstimate& role, double running, const Workload& workload,
                     double decoding = 0) {
  const double isl = static_cast<double>(computed_prompt_tokens(workload));
  const double chunk = static_cast<double>(role.chunk_tokens);
  const double per_rank = std::max(1.0, running / role.plan.shape.dp) * isl;
  const auto step = role_step_context(context, role);
  const double room = std::max(1.0, chunk - decoding);
  if (isl > chunk) {
    // A prompt longer than the budget, its last piece beside the rank's next waiting prompts.
    return chunked_prompt_seconds(step, isl, room, std::max(0.0, per_rank - isl));
  }
  double seconds = prefill_step(step, std::min(per_rank, chunk), isl).seconds;
  const double steps = std::ceil(isl / room);
  if (steps > 1.0) {
    const double rest = isl - (steps - 1.0) * room;
    seconds += (steps - 1.0) * prefill_step(step, rest, isl).seconds;
  }
  return seconds;
}

/// Share of decode steps stretched by prefill when the instance's prefill is busy for `busy` of
/// the time (busy = rate × prompt work / the instance's prefill rate). Attention-DP ranks admit
/// prompts on their own, and every MoE layer is collective over all of them, so a step in which
/// any one rank prefills lasts a prefill step for every rank: "a single compute-bound prefill
/// request can delay the forward pass of the entire EP group" (vLLM blog, 2025-12-17, "Large
/// Scale Serving", Disaggregated Serving). Each rank prefills `busy` of the time, independently:
/// some rank does for 1 − (1 − busy)^dp. Bound: brix costs that step as every rank's chunk,
/// which overstates the experts' share where one rank alone prefills.
double stretched_share(double busy, int dp) {
  const double rank = std::min(k_saturated, busy);
  return std::min(k_saturated, 1.0 - std::pow(1.0 - rank, static_cast<double>(std::max(1, dp))));
}

/// A closed loop's request rate, and a decode batch at one rate, are found to this share of
/// the bracket they start from, in at most so many evaluations.
constexpr double k_root_tolerance = 1e-10;
constexpr int k_root_steps = 100;

/// A root of `f` between `low` and `high`, where f(low) > 0 > f(high): regula falsi with the
/// Illinois halving, which closes in within a handful of evaluations and, unlike damped
/// iteration, cannot cycle where the map is steep (a 2K-prompt DeepSeek-R1 loop on vLLM
/// alternated between 8.0 and 14.8 requests/s near prefill saturation).
template <typename F>
double bracketed_root(F&& f, double low, double high, double f_low, double f_high) {
  const double width = high - low;
  int kept = 0; // +1: low was kept by the last step, −1: high was
  double x = high;
  for (int i = 0; i < k_root_steps && high - low > k_root_tolerance * width; ++i) {
    x = (low * f_high - high * f_low) / (f_high - f_low);
    const double value = f(x);
    if (value == 0) {
      return x;
    }
    if (value > 0) {
      low = x;
      f_low = value;
      f_high *= kept == -1 ? 0.5 : 1.0;
      kept = -1;
    } else {
      high = x;
      f_high = value;
      f_low *= kept == 1 ? 0.5 : 1.0;
      kept = 1;
    }
  }
  return x;
}

/// The request rate r = next(r) of a closed loop, where `next` (the rate at which requests
/// finish when they arrive at r) does not increase with r: a higher rate lengthens the prefill
/// queue or stretches the decode steps. high where the loop finishes requests at least that fast.
template <typename Next>
double closed_loop_rate(Next&& next, double high) {
  const double f_high = next(high) - high;
  if (f_high >= 0) {
    return high;
  }
  return bracketed_root([&](double rate) { return next(rate) - rate; }, 0.0, high, next(0.0), f_high);
}

/// M/D/1 waiting time at utilisation `rho` for service `service`.
double queue_wait(double rho, double service) { return rho <= 0 ? 0.0 : rho * service / (2.0 * (1.0 - rho)); }

/// The client's finite run over the steady state in `out` (finite_loop.hpp), for `slots` requests
/// in flight of which the engine runs `running` (its KV pool's batch), and `prompts` in all: the
/// first wave is the running ones' prompts, the rest of the first sends wait for them to finish
/// (queued_first_wave). TTFT becomes the run's mean (the first wave's wait counted as queueing)
/// and `concurrency` the run's mean in flight (bench_serving's "Concurrency"); returns the run's
/// request rate, prompts / makespan.
double finite_run(Performance& out, FirstWave wave, double slots, double running, double prompts, double decode_s,
                  double drain_s, double& concurrency, bool chained = false) {
  const double sent = std::min(slots, prompts);
  wave.prompts = std::min(running, sent);
  const auto first = queued_first_wave(first_wave_ttfts(wave), sent - wave.prompts, decode_s, out.ttft_s - out.kv_wait_s);
  // Groups chain behind each other's prefill where they share the iterations with decode
  // (finite_loop.hpp); not where first sends queue for the KV pool (their slots free at
  // other times).
  const double chain_cap = chained && sent <= wave.prompts ? wave.step_seconds(wave.chunk) : 0.0;
  const auto run = finite_closed_loop(first, out.ttft_s, decode_s, drain_s, prompts, chain_cap);
  out.queue_s += run.mean_ttft_s - out.ttft_s;
  out.ttft_s = run.mean_ttft_s;
  concurrency = run.concurrency;
  return prompts / run.makespan_s;
}

void finish(Performance& performance, const Workload& workload, double rate, double concurrency) {
  performance.request_rate = rate;
  performance.concurrency = concurrency;
  performance.output_tokens_per_s = rate * static_cast<double>(workload.osl);
  performance.input_tokens_per_s = rate * static_cast<double>(workload.isl);
  performance.tokens_per_s_per_user = performance.tpot_s > 0 ? 1.0 / performance.tpot_s : 0.0;
}

} // namespace

std::string_view to_string(Limit limit) {
  switch (limit) {
  case Limit::decode:
    return "decode";
  case Limit::prefill:
    return "prefill";
  case Limit::kv_cache:
    return "KV cache";
  }
  return "decode";
}

StepContext step_context(const RoleContext& context, const InstanceShape& shape) {
  const bool overlap = context.engine != nullptr ? runs_overlap(*context.engine, shape, context.overlap) : context.overlap;
  const bool cuda_graphs = context.engine == nullptr || context.engine->cuda_graphs;
  const bool triton = context.engine != nullptr && context.engine->triton_block_fp8;
  const bool fp8_mla = context.engine != nullptr && context.engine->fp8_mla_mma;
  StepContext step{context.model, context.device, shape, context.weights, context.kv, overlap, cuda_graphs, triton, fp8_mla};
  if (context.engine != nullptr && (!context.engine->serial_host_needs_dp || shape.dp > 1)) {
    step.host_step_s = context.engine->serial_host_step_s;
    step.host_per_sequence_s = context.engine->serial_host_per_sequence_s;
  }
  if (context.engine != nullptr) {
    step.overlap_reserves_comm_sms = context.engine->overlap_reserves_comm_sms;
    step.overlap_min_decode_tokens = context.engine->overlap_min_decode_tokens;
    step.overlap_min_prefill_tokens = context.engine->overlap_min_prefill_tokens;
    step.cuda_graph_max_tokens = context.engine->cuda_graph_max_tokens;
    step.mla_absorbed_weights = context.engine->mla_absorbed_weights;
    step.mla_glue_kernels = context.engine->mla_glue_kernels;
  }
  step.offload = context.offload;
  return step;
}

StepContext role_step_context(const RoleContext& context, const RoleEstimate& role) {
  auto step = step_context(context, role.plan.shape);
  step.cached_prefix = role.cached_prefix;
  if (context.engine != nullptr && context.engine->cuda_graph_tokens_per_sequence > 0 && step.cuda_graph_max_tokens > 0) {
    step.cuda_graph_max_tokens =
        std::min({step.cuda_graph_max_tokens,
                  static_cast<double>(context.engine->cuda_graph_tokens_per_sequence * role.engine_max_sequences),
                  static_cast<double>(role.chunk_tokens)});
  }
  return step;
}

RoleEstimate cost_role(const RoleContext& context, const RolePlan& plan, const Workload& workload,
                       std::int64_t chunk_tokens, std::int64_t engine_max_sequences) {
  RoleEstimate role;
  role.plan = plan;
  role.chunk_tokens = chunk_tokens;
  role.pool = kv_pool(*context.model, plan.shape, context.weights, context.kv, context.mtp > 0,
                      context.device->memory_bytes, *context.engine, chunk_tokens, k_max_sequences, context.offload);
  const std::int64_t request = workload.isl + workload.osl;
  role.max_sequences = std::min(k_max_sequences, role.pool.tokens / plan.shape.dp / request);
  role.engine_max_sequences =
      engine_max_sequences > 0 ? engine_max_sequences : std::max<std::int64_t>(1, role.max_sequences);
  role.max_concurrency = role.max_sequences * plan.shape.dp;
  role.cached_prefix = static_cast<double>(workload.cached_tokens);
  const auto step = role_step_context(context, role);
  const double chunk = static_cast<double>(chunk_tokens);
  const double computed = static_cast<double>(computed_prompt_tokens(workload));
  role.prefill = prefill_step(step, chunk, computed);
  role.prefill_tokens_per_s = plan.shape.dp * chunk / prefill_stage_seconds(step, chunk, computed);
  return role;
}

std::optional<RoleEstimate> size_role(const RoleContext& context, const RolePlan& plan, const Workload& workload,
                                      std::int64_t chunk_tokens, std::string& why) {
  auto role = cost_role(context, plan, workload, chunk_tokens);
  const auto& memory = role.pool.memory;
  if (!role.pool.weights_fit) {
    why = fmt::format("weights {} + activations {} + runtime {} exceed the {} per GPU",
                      util::gib(memory.weights), util::gib(memory.activations), util::gib(memory.other),
                      util::gib(memory.total));
    return std::nullopt;
  }
  if (role.max_sequences < 1) {
    why = fmt::format("the KV cache holds {} tokens per DP rank ({} left after weights), one request needs {}",
                      util::with_thousands(role.pool.tokens / plan.shape.dp), util::gib(memory.kv_cache),
                      util::with_thousands(workload.isl + workload.osl));
    return std::nullopt;
  }
  return role;
}

Performance aggregated_performance(const RoleContext& context, RoleEstimate& role, const Workload& workload) {
  Performance out;
  const auto step = role_step_context(context, role);
  const double instances = role.plan.instances;
  const double dp = role.plan.shape.dp;
  const double osl = static_cast<double>(workload.osl);
  const double tau = tokens_per_step(context.mtp, workload.mtp_acceptance);
  const double service =
      static_cast<double>(computed_prompt_tokens(workload)) / role.prefill_tokens_per_s; // instance-seconds per prompt
  const double prompt = prompt_seconds(context, role, computed_prompt_tokens(workload));
  const double cap = static_cast<double>(role.max_concurrency);
  auto decode_at = [&](double batch) {
    role.batch = batch;
    role.decode = decode_step(step, batch, context_tokens(workload), context.mtp);
    return role.decode.seconds;
  };
  if (workload.request_rate <= 0) {
    // Closed loop with fixed lengths, as benchmark clients run it: requests admitted in the same
    // iteration prefill in one chunk and then finish together, so they stay a group; groups
    // keep their offsets. A request's TTFT is its group's chunk plus the decode step sharing the
    // iteration; prefill chunks of the other groups stretch the decode steps (stretched_share).
    // Requests beyond what the KV cache holds wait.
    const double wanted = workload.concurrency / instances;
    const double running = std::min(wanted, cap);
    const double step_s = decode_at(std::max(running / dp, 1.0 / dp));
    // The other requests of the rank decode beside a group's prompts.
    const double isl = static_cast<double>(computed_prompt_tokens(workload));
    const double group_prompts = std::max(1.0, std::floor(static_cast<double>(role.chunk_tokens) / isl));
    const double decoding =
        context.engine != nullptr && context.engine->decode_in_chunk ? std::max(0.0, running / dp - group_prompts) : 0.0;
    const double group = group_seconds(context, role, running, workload, decoding);
    auto finishing = [&](double rate) {
      const double busy = stretched_share(rate * service, role.plan.shape.dp);
      out.tpot_s = step_s / tau / (1.0 - busy);
      out.ttft_s = group + step_s;
      return running / (out.ttft_s + (osl - 1.0) * out.tpot_s);
    };
    // The instance cannot finish prompts faster than its prefill does them back to back.
    double rate = closed_loop_rate(finishing, k_saturated / service);
    finishing(rate);
    out.limit = rate * service >= k_saturated - 1e-3 ? Limit::prefill : Limit::decode;
    if (wanted > running) {
      // The client's next request joins the engine's queue behind the others waiting and is
      // admitted when that many running requests have finished.
      out.kv_waiting = (wanted - running) * instances;
      out.kv_wait_s = (wanted - running) / rate;
      out.queue_s = out.kv_wait_s;
      out.ttft_s += out.queue_s;
      out.limit = Limit::kv_cache;
    }
    double in_flight = wanted;
    if (workload.num_prompts > 0) {
      const FirstWave wave{0, role.plan.shape.dp, isl, static_cast<double>(role.chunk_tokens), step_s,
                           [&](double tokens) { return prefill_step(step, tokens, isl).seconds; }};
      rate = finite_run(out, wave, wanted, running, workload.num_prompts / instances, (osl - 1.0) * out.tpot_s,
                        (osl - 1.0) * step_s / tau, in_flight, true);
    }
    finish(out, workload, rate * instances, in_flight * instances);
    return out;
  }
  // Open loop: requests arrive at the rate; the prefill work queues (M/D/1), decode batches what
  // is in flight (Little's law).
  const double rate = workload.request_rate / instances;
  const double busy = rate * service;
  if (busy >= k_saturated) {
    out.stable = false;
    out.max_request_rate = k_saturated / service * instances;
    out.limit = Limit::prefill;
    decode_at(cap / dp);
    return out;
  }
  double running = rate * (prompt + osl * decode_at(1.0 / dp) / tau);
  for (int i = 0; i < k_iterations; ++i) {
    const double step_s = decode_at(std::max(running, 1.0) / dp);
    out.tpot_s = step_s / tau / (1.0 - stretched_share(busy, role.plan.shape.dp));
    out.queue_s = queue_wait(busy, service);
    out.ttft_s = prompt + step_s + out.queue_s;
    running = 0.5 * running + 0.5 * rate * (out.ttft_s + (osl - 1.0) * out.tpot_s);
  }
  out.limit = busy > 0.5 ? Limit::prefill : Limit::decode;
  if (running > cap) {
    out.stable = false;
    out.limit = Limit::kv_cache;
  }
  finish(out, workload, rate * instances, running * instances);
  return out;
}

double kv_transfer_seconds(const RoleContext& context, const InstanceShape& prefill, const InstanceShape& decode,
                           double tokens) {
  const auto& device = *context.device;
  const double bytes = tokens * kv_bytes_per_token_model(*context.model, context.kv);
  // The request's KV sits on one DP rank of each stage of the prefill instance: MLA's latent on
  // every TP rank (one of them sends each layer range), GQA's heads spread over its TP ranks.
  const int shards = context.model->mla ? 1 : static_cast<int>(std::min<std::int64_t>(prefill.tp, context.model->kv_heads));
  const double streams = static_cast<double>(prefill.pp * std::max(1, std::min(shards, decode.tp)));
  const bool nvlink = prefill.gpus() + decode.gpus() <= device.nvlink_domain;
  const double per_stream = nvlink ? device.intra_busbw : device.inter_bytes_per_s;
  return k_transfer_setup_s + bytes / (per_stream * streams);
}

Performance disaggregated_performance(const RoleContext& context, RoleEstimate& prefill, RoleEstimate& decode,
                                      const Workload& workload) {
  Performance out;
  const auto decode_context = role_step_context(context, decode);
  const double prefill_instances = prefill.plan.instances;
  const double decode_instances = decode.plan.instances;
  const double dp = decode.plan.shape.dp;
  const double osl = static_cast<double>(workload.osl);
  const double tau = tokens_per_step(context.mtp, workload.mtp_acceptance);
  const double service = static_cast<double>(computed_prompt_tokens(workload)) / prefill.prefill_tokens_per_s;
  const double capacity = prefill_instances / service; // prompts/s all prefill instances finish
  const double prompt = prompt_seconds(context, prefill, computed_prompt_tokens(workload));
  out.kv_transfer_s = kv_transfer_seconds(context, prefill.plan.shape, decode.plan.shape, static_cast<double>(workload.isl));
  const double cap = static_cast<double>(decode.max_concurrency);
  auto decode_at = [&](double batch) {
    decode.batch = batch;
    decode.decode = decode_step(decode_context, batch, context_tokens(workload), context.mtp);
    prefill.batch = 0;
    return decode.decode.seconds;
  };
  if (workload.request_rate <= 0) {
    // Closed loop (see aggregated_performance): groups of one prefill chunk, queueing in front
    // of the prefill instances when they are busy, the KV transfer, then the decode instance's
    // step that emits the first token (as an aggregated iteration's does). Only the
    // requests past their first token decode: by Little's law, rate x (OSL - 1) x TPOT of them
    // per decode instance; the rest wait at or pass through prefill (nearly all of them when
    // prefill is the bottleneck), so the decode batch is that, not the requests in flight.
    const double wanted = workload.concurrency / decode_instances;
    const double running = std::min(wanted, cap);
    out.tpot_s = decode_at(std::max(running / dp, 1.0 / dp)) / tau;
    const double group = group_seconds(context, prefill, running * decode_instances / prefill_instances, workload);
    const double least_tpot_s = decode_at(1.0 / dp) / tau;
    auto finishing = [&](double rate) {
      const double busy = std::min(k_saturated, rate / capacity);
      out.queue_s = queue_wait(busy, service);
      // The decode batch at this rate: d = rate × (OSL − 1) × TPOT(d) per decode instance.
      auto excess = [&](double decoding) {
        out.tpot_s = decode_at(std::max(decoding / dp, 1.0 / dp)) / tau;
        return std::min(running, rate / decode_instances * (osl - 1.0) * out.tpot_s) - decoding;
      };
      const double excess_at_none = std::min(running, rate / decode_instances * (osl - 1.0) * least_tpot_s);
      const double at_running = excess(running);
      if (at_running < 0) {
        excess(excess_at_none > 0 ? bracketed_root(excess, 0.0, running, excess_at_none, at_running) : 0.0);
      }
      out.ttft_s = group + out.queue_s + out.kv_transfer_s + out.tpot_s * tau;
      return decode_instances * running / (out.ttft_s + (osl - 1.0) * out.tpot_s);
    };
    double rate = closed_loop_rate(finishing, k_saturated * capacity);
    finishing(rate);
    out.limit = Limit::decode;
    if (rate >= k_saturated * capacity * 0.999) {
      // Prefill-bound: the requests not decoding wait in front of prefill (Little's law).
      out.limit = Limit::prefill;
      out.ttft_s = std::max(out.ttft_s, decode_instances * running / rate - (osl - 1.0) * out.tpot_s);
      out.queue_s = out.ttft_s - group - out.kv_transfer_s - out.tpot_s * tau;
    }
    if (wanted > running) {
      out.kv_waiting = (wanted - running) * decode_instances;
      out.kv_wait_s = out.kv_waiting / rate;
      out.queue_s += out.kv_wait_s;
      out.ttft_s += out.kv_wait_s;
      out.limit = Limit::kv_cache;
    }
    double in_flight = wanted * decode_instances;
    if (workload.num_prompts > 0) {
      const double isl = static_cast<double>(computed_prompt_tokens(workload));
      const auto prefill_context = role_step_context(context, prefill);
      const FirstWave wave{0, static_cast<int>(prefill_instances) * prefill.plan.shape.dp, isl,
                           static_cast<double>(prefill.chunk_tokens), out.kv_transfer_s + out.tpot_s * tau,
                           [&](double tokens) { return prefill_step(prefill_context, tokens, isl).seconds; }};
      rate = finite_run(out, wave, wanted * decode_instances, running * decode_instances, workload.num_prompts,
                        (osl - 1.0) * out.tpot_s, (osl - 1.0) * out.tpot_s, in_flight);
    }
    finish(out, workload, rate, in_flight);
    return out;
  }
  const double rate = workload.request_rate;
  const double busy = rate / capacity;
  if (busy >= k_saturated) {
    out.stable = false;
    out.max_request_rate = k_saturated * capacity;
    out.limit = Limit::prefill;
    decode_at(cap / dp);
    return out;
  }
  out.queue_s = queue_wait(busy, service);
  double running = rate / decode_instances * osl * decode_at(1.0 / dp) / tau;
  for (int i = 0; i < k_iterations; ++i) {
    out.tpot_s = decode_at(std::max(running, 1.0) / dp) / tau;
    running = 0.5 * running + 0.5 * rate / decode_instances * (osl - 1.0) * out.tpot_s;
  }
  // The first token reaches the client with the decode instance's next step.
  out.ttft_s = prompt + out.queue_s + out.kv_transfer_s + out.tpot_s * tau;
  out.limit = busy > 0.5 ? Limit::prefill : Limit::decode;
  if (running > cap) {
    out.stable = false;
    out.limit = Limit::kv_cache;
  }
  finish(out, workload, rate, rate * (out.ttft_s + (osl - 1.0) * out.tpot_s));
  return out;
}

} // namespace brix::serve
