// The two ways the serving search deploys a model: aggregated (prefill and decode on the same
// instances) and disaggregated (prefill and decode instances paired at matching rates).
#include <brix/serve/search_detail.hpp>

#include <algorithm>
#include <cmath>

namespace brix::serve::detail {

namespace {

/// Disaggregated plans pair each efficient decode configuration with the prefill shapes that
/// prefill fastest per GPU and those with the shortest prompt latency.
constexpr std::size_t k_prefill_by_rate = 6;
constexpr std::size_t k_prefill_by_latency = 3;
constexpr std::size_t k_decode_by_rate = 16;

/// A decode configuration worth pairing with prefill instances.
struct DecodeOption {
  const Sized* sized = nullptr;
  int instances = 0;
  double rate = 0;     ///< requests/s it would decode with prompts arriving instantly
  double per_gpu = 0;  ///< output tokens/s per decode GPU
  double per_user = 0;
};

std::vector<DecodeOption> decode_options(const SearchRequest& request, const RoleContext& context,
                                         std::vector<Sized>& decodes, int budget, double prompt_s) {
  const auto& workload = request.workload;
  const double osl = static_cast<double>(workload.osl);
  const double tau = tokens_per_step(request.mtp, workload.mtp_acceptance);
  std::vector<DecodeOption> all;
  for (auto& sized : decodes) {
    int largest = budget / sized.shape.gpus();
    if (workload.request_rate <= 0) {
      largest = std::min(largest, std::max(1, static_cast<int>(std::ceil(workload.concurrency))));
    }
    const auto step = role_step_context(context, sized.role);
    for (const int instances : instance_counts(largest)) {
      if (request.fixed.decode.instances && *request.fixed.decode.instances != instances) {
        continue;
      }
      const double cap = static_cast<double>(sized.role.max_concurrency);
      const double context_tokens = static_cast<double>(workload.isl) + osl / 2.0;
      auto tpot_at = [&](double running) {
        return decode_step(step, std::max(running, 1.0) / sized.shape.dp, context_tokens, request.mtp).seconds / tau;
      };
      double running = std::min(cap, workload.concurrency / instances);
      double tpot = tpot_at(running);
      if (workload.request_rate > 0) {
        // Open loop: Little's law, twice around is close enough to rank decode options.
        for (int i = 0; i < 2; ++i) {
          running = std::min(cap, workload.request_rate / instances * (prompt_s + osl * tpot));
          tpot = tpot_at(running);
        }
      }
      DecodeOption option{&sized, instances, 0, 0, 1.0 / tpot};
      option.rate = workload.request_rate > 0 ? workload.request_rate
                                              : instances * running / (prompt_s + (osl - 1.0) * tpot);
      option.per_gpu = option.rate * osl / (instances * sized.shape.gpus());
      all.push_back(option);
    }
  }
  // Keep the front of (per GPU, per user) and the best per GPU.
  std::vector<DecodeOption> keep;
  for (const auto& option : all) {
    const bool dominated = std::any_of(all.begin(), all.end(), [&](const DecodeOption& other) {
      return other.per_gpu > option.per_gpu && other.per_user > option.per_user;
    });
    if (!dominated) {
      keep.push_back(option);
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.per_gpu > b.per_gpu; });
  for (std::size_t i = 0; i < std::min(k_decode_by_rate, all.size()); ++i) {
    // The best per GPU is often on the front already: one option, one plan.
    const bool kept = std::any_of(keep.begin(), keep.end(), [&](const DecodeOption& other) {
      return other.sized == all[i].sized && other.instances == all[i].instances;
    });
    if (!kept) {
      keep.push_back(all[i]);
    }
  }
  return keep;
}

} // namespace

void search_aggregated(const SearchRequest& request, const RoleContext& context, Collector& collector,
                       Rejections& structural, Rejections& memory, SearchResult& result) {
  const auto& workload = request.workload;
  for (auto& sized : sized_shapes(request, context, request.fixed.both, workload, k_chunk_tokens, "", structural, memory,
                                  result.shapes)) {
    int largest = request.group.gpus() / sized.shape.gpus();
    if (workload.request_rate <= 0) {
      largest = std::min(largest, std::max(1, static_cast<int>(std::ceil(workload.concurrency))));
    }
    for (const int instances : instance_counts(largest)) {
      if (request.fixed.both.instances && *request.fixed.both.instances != instances) {
        continue;
      }
      ServePlan plan;
      plan.layout.mode = Mode::aggregated;
      plan.layout.both = {sized.shape, instances};
      plan.layout.weights = request.weights;
      plan.layout.kv = request.kv;
      plan.layout.mtp = request.mtp;
      plan.layout.offload = context.offload;
      plan.layout.overlap = runs_overlap(*request.engine, sized.shape, context.overlap);
      plan.both = sized.role;
      plan.both.plan.instances = instances;
      RoleContext own = context;
      own.overlap = plan.layout.overlap;
      plan.performance = aggregated_performance(own, plan.both, workload);
      score(plan, workload);
      collector.add(plan);
    }
  }
}

void search_disaggregated(const SearchRequest& request, const RoleContext& context, Collector& collector,
                          Rejections& structural, Rejections& memory, SearchResult& result) {
  const auto& workload = request.workload;
  Workload prompts_only = workload;
  prompts_only.osl = 1;
  auto prefills = sized_shapes(request, context, request.fixed.prefill, prompts_only, k_prefill_chunk_tokens, "p.",
                               structural, memory, result.shapes);
  auto decodes = sized_shapes(request, context, request.fixed.decode, workload, k_chunk_tokens, "d.", structural, memory,
                              result.shapes);
  if (prefills.empty() || decodes.empty()) {
    return;
  }
  // Prefill shapes to pair: all that match a fixed query, else the fastest per GPU and the
  // lowest-latency ones.
  std::vector<const Sized*> chosen;
  if (request.fixed.prefill.empty()) {
    std::vector<const Sized*> by_rate;
    for (const auto& sized : prefills) {
      by_rate.push_back(&sized);
    }
    auto by_latency = by_rate;
    std::stable_sort(by_rate.begin(), by_rate.end(), [](const Sized* a, const Sized* b) {
      return a->role.prefill_tokens_per_s / a->shape.gpus() > b->role.prefill_tokens_per_s / b->shape.gpus();
    });
    std::stable_sort(by_latency.begin(), by_latency.end(),
                     [](const Sized* a, const Sized* b) { return a->prompt_s < b->prompt_s; });
    chosen.assign(by_rate.begin(), by_rate.begin() + static_cast<std::ptrdiff_t>(std::min(k_prefill_by_rate, by_rate.size())));
    for (std::size_t i = 0; i < std::min(k_prefill_by_latency, by_latency.size()); ++i) {
      if (std::find(chosen.begin(), chosen.end(), by_latency[i]) == chosen.end()) {
        chosen.push_back(by_latency[i]);
      }
    }
  } else {
    for (const auto& sized : prefills) {
      chosen.push_back(&sized);
    }
  }
  int smallest_prefill = request.group.gpus();
  double fastest_prompt = 1e30;
  for (const auto* sized : chosen) {
    smallest_prefill = std::min(smallest_prefill, sized->shape.gpus());
    fastest_prompt = std::min(fastest_prompt, sized->prompt_s);
  }
  const int total = request.group.gpus();
  for (const auto& option : decode_options(request, context, decodes, total - smallest_prefill, fastest_prompt)) {
    const int decode_gpus = option.instances * option.sized->shape.gpus();
    for (const auto* prefill : chosen) {
      const double service = static_cast<double>(computed_prompt_tokens(workload)) / prefill->role.prefill_tokens_per_s;
      const int needed = std::max(1, static_cast<int>(std::ceil(option.rate * service)));
      for (int instances = std::max(1, needed - 1); instances <= needed + 2; ++instances) {
        if (request.fixed.prefill.instances && *request.fixed.prefill.instances != instances) {
          continue;
        }
        if (decode_gpus + instances * prefill->shape.gpus() > total) {
          break;
        }
        ServePlan plan;
        plan.layout.mode = Mode::disaggregated;
        plan.layout.prefill = {prefill->shape, instances};
        plan.layout.decode = {option.sized->shape, option.instances};
        plan.layout.weights = request.weights;
        plan.layout.kv = request.kv;
        plan.layout.mtp = request.mtp;
        plan.layout.offload = context.offload;
        plan.layout.overlap = runs_overlap(*request.engine, prefill->shape, context.overlap) ||
                              runs_overlap(*request.engine, option.sized->shape, context.overlap);
        plan.prefill = prefill->role;
        plan.prefill.plan.instances = instances;
        plan.decode = option.sized->role;
        plan.decode.plan.instances = option.instances;
        RoleContext own = context;
        own.overlap = plan.layout.overlap;
        plan.performance = disaggregated_performance(own, plan.prefill, plan.decode, workload);
        score(plan, workload);
        collector.add(plan);
      }
    }
  }
}

} // namespace brix::serve::detail
