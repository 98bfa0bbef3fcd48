// The text view of `brix plan --serve`: the ranked table, the Pareto front and, for the best
// plan, where the time and the memory go.
#include <brix/serve/serve_report.hpp>

#include <brix/model/params.hpp>
#include <brix/plan/physics.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>

namespace brix::serve {

std::string time_text(double seconds) {
  if (seconds >= 10.0) {
    return fmt::format("{:.1f} s", seconds);
  }
  if (seconds >= 1.0) {
    return fmt::format("{:.2f} s", seconds);
  }
  return fmt::format("{:.1f} ms", seconds * 1e3);
}

std::string rate_text(double value) {
  return value >= 100 ? util::with_thousands(static_cast<std::int64_t>(value + 0.5)) : fmt::format("{:.1f}", value);
}

namespace {

/// "tp8 dp2 ep16 ×2" without the fields at their defaults.
std::string short_role(const InstanceShape& shape, int instances, bool moe) {
  std::string out = fmt::format("tp{}", shape.tp);
  if (shape.pp > 1) {
    out += fmt::format(" pp{}", shape.pp);
  }
  if (shape.dp > 1) {
    out += fmt::format(" dp{}", shape.dp);
  }
  if (moe) {
    out += fmt::format(" ep{}", shape.ep);
    if (shape.etp > 1) {
      out += fmt::format(" etp{}", shape.etp);
    }
  }
  return out + fmt::format(" ×{}", instances);
}

} // namespace

std::string short_layout(const ServePlan& plan, bool moe) {
  const auto& layout = plan.layout;
  if (layout.mode == Mode::aggregated) {
    return short_role(layout.both.shape, layout.both.instances, moe);
  }
  return "P " + short_role(layout.prefill.shape, layout.prefill.instances, moe) + " | D " +
         short_role(layout.decode.shape, layout.decode.instances, moe);
}

namespace {

std::string share(double part, double whole) {
  return whole > 0 ? fmt::format("{:.0f}%", 100.0 * part / whole) : "0%";
}

std::string breakdown(const StepCost& cost) {
  std::vector<std::string> parts;
  auto add = [&](const char* name, double seconds) {
    if (seconds > cost.seconds * 0.005) {
      parts.push_back(fmt::format("{} {} ({})", name, time_text(seconds), share(seconds, cost.seconds)));
    }
  };
  // Memory-bound projections and MLPs: weights, and at large token counts over thin expert
  // slices mostly the activations they read and write.
  add("HBM weights+activations", cost.weights_s);
  add("KV cache", cost.kv_s);
  add("GEMM", cost.gemm_s);
  add("attention", cost.attention_s);
  add("collectives", cost.collectives_s);
  add("kernel floors", cost.floors_s);
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::string memory_line(const RoleEstimate& role, const EngineVersion& engine) {
  const auto& memory = role.pool.memory;
  const char* flag = engine.pool == PoolRule::utilization    ? "--gpu-memory-utilization"
                     : engine.pool == PoolRule::static_fraction ? "--mem-fraction-static"
                                                                : "kv_cache free fraction";
  return fmt::format("weights {}, KV cache {} ({} tokens per instance, {} B per token per GPU), activations {}, "
                     "other {} ({} {:.2f})",
                     util::gib(memory.weights), util::gib(memory.kv_cache), util::with_thousands(role.pool.tokens),
                     util::with_thousands(static_cast<std::int64_t>(role.pool.kv_bytes_per_token)),
                     util::gib(memory.activations), util::gib(memory.other), flag, memory.memory_fraction);
}

std::string role_details(const std::string& name, const RoleEstimate& role, const Workload& workload,
                         const EngineVersion& engine, bool decodes, bool prefills) {
  std::string out;
  if (decodes) {
    out += fmt::format("  {}decode step {} at {} sequences per DP rank (KV {} tokens each): {}\n", name,
                       time_text(role.decode.seconds), rate_text(role.batch),
                       util::with_thousands(workload.isl + workload.osl / 2), breakdown(role.decode));
  }
  if (prefills) {
    const std::string cached =
        workload.cached_tokens > 0
            ? fmt::format(" (computed; each prompt's first {} from the prefix cache)",
                          workload.cached_tokens == 1
                              ? std::string("token")
                              : fmt::format("{} tokens", util::with_thousands(workload.cached_tokens)))
            : std::string();
    out += fmt::format("  {}prefill chunk of {} tokens per DP rank: {} ({}); {} prompt tokens/s per instance{}\n", name,
                       util::with_thousands(role.chunk_tokens), time_text(role.prefill.seconds), breakdown(role.prefill),
                       rate_text(role.prefill_tokens_per_s), cached);
  }
  out += fmt::format("  {}memory per GPU: {}\n", name, memory_line(role, engine));
  return out;
}

} // namespace

std::string to_text(const ServeReport& report, const util::Style& style) {
  const auto& model = report.model;
  const bool moe = model.moe.has_value();
  const auto counts = model::count_parameters(model);
  std::string out;
  std::vector<std::string> groups;
  for (const auto& group : report.cluster.groups) {
    groups.push_back(fmt::format("{} × {} {}", group.nodes, group.gpus_per_node, group.gpu.display));
  }
  out += style.bold(fmt::format("serving plan: {} ({} total, {} active) on {}: {}", model.name,
                                util::human_count(static_cast<double>(counts.total)),
                                util::human_count(static_cast<double>(counts.active)), report.cluster.name,
                                fmt::join(groups, " + "))) +
         "\n";
  const auto& workload = report.workload;
  std::string load = workload.request_rate > 0 ? fmt::format("{} requests/s arriving", workload.request_rate)
                                               : fmt::format("{} requests in flight", workload.concurrency);
  if (workload.num_prompts > 0) {
    load += fmt::format(", {} in all (a benchmark client's finite run: TTFT its mean, throughput over the whole run)",
                        workload.num_prompts);
  }
  if (workload.cached_tokens > 0) {
    load += fmt::format("; {} of each prompt's tokens in the prefix cache",
                        util::with_thousands(workload.cached_tokens));
  }
  std::string slo;
  if (workload.ttft_slo_s > 0 || workload.tpot_slo_s > 0) {
    std::vector<std::string> parts;
    if (workload.ttft_slo_s > 0) {
      parts.push_back(fmt::format("TTFT ≤ {}", time_text(workload.ttft_slo_s)));
    }
    if (workload.tpot_slo_s > 0) {
      parts.push_back(fmt::format("TPOT ≤ {}", time_text(workload.tpot_slo_s)));
    }
    slo = fmt::format("SLO {}; ranked by output tokens/s per GPU among plans meeting it", fmt::join(parts, ", "));
  } else {
    slo = "no SLO given: ranked by output tokens/s per GPU, with the Pareto front below";
  }
  out += fmt::format("workload: ISL {}, OSL {}, {}{}; {}\n", util::with_thousands(workload.isl),
                     util::with_thousands(workload.osl), load,
                     report.default_workload ? " (the default workload: --isl, --osl, --concurrency or --request-rate set it)"
                                             : "",
                     slo);
  out += fmt::format("engine: {} {}; KV cache {}; {}\n", to_string(report.engine->engine), report.engine->version,
                     to_string(report.kv),
                     report.mtp > 0 ? fmt::format("MTP {} drafts, acceptance {:.2f} each", report.mtp, workload.mtp_acceptance)
                                    : std::string("no MTP"));
  for (const auto& group : report.groups) {
    out += fmt::format("  {}: {} GPUs of {}, weights {} ({})\n", group.group.name, group.group.gpus(),
                       group.group.gpu.display, to_string(group.weights), group.weights_reason);
    if (report.model.moe && !plan::runs_node_level_dispatch(group.group.gpu)) {
      out += fmt::format("    expert parallelism there without DeepEP, whose kernels need compute capability 9.0 ({}): "
                         "every DP rank's tokens all-gathered and the outputs reduce-scattered, no two-batch overlap\n",
                         plan::compute_capability_text(group.group.gpu));
    }
  }
  for (const auto& note : report.notes) {
    out += "note: " + note + "\n";
  }

  const auto ranked = ranked_plans(report);
  out += "\n";
  if (ranked.empty()) {
    out += style.red("no serving layout fits") + "\n";
  } else {
    util::Table table({"#", "group", "mode", "layout", "GPUs", "TTFT", "TPOT", "tok/s/GPU", "tok/s/user", "output tok/s",
                       "KV tokens/inst", "max conc", "SLO", "bound by"},
                      {util::Align::right, util::Align::left, util::Align::left, util::Align::left, util::Align::right,
                       util::Align::right, util::Align::right, util::Align::right, util::Align::right, util::Align::right,
                       util::Align::right, util::Align::right, util::Align::left, util::Align::left});
    int index = 0;
    for (const auto& entry : ranked) {
      const auto& plan = *entry.plan;
      const auto& performance = plan.performance;
      const auto& decoding = plan.decoding();
      // An overloaded open loop has no steady state to print.
      const bool computed = performance.max_request_rate <= 0;
      const auto shown = [&](std::string text) { return computed ? text : std::string("-"); };
      table.add_row({std::to_string(++index), entry.group->group.name,
                     plan.layout.mode == Mode::aggregated ? "agg" : "P/D", short_layout(plan, moe),
                     std::to_string(plan.layout.gpus()), shown(time_text(performance.ttft_s)), shown(time_text(performance.tpot_s)),
                     shown(rate_text(plan.output_tokens_per_s_per_gpu)), shown(rate_text(performance.tokens_per_s_per_user)),
                     shown(rate_text(performance.output_tokens_per_s)), util::with_thousands(decoding.pool.tokens),
                     util::with_thousands(decoding.max_concurrency * decoding.plan.instances),
                     !performance.stable ? "overloaded" : (plan.meets_slo ? "yes" : "no"),
                     std::string(to_string(performance.limit))});
    }
    out += table.render();
    const auto& top = ranked.front().plan->performance;
    if (!top.stable) {
      out += top.max_request_rate > 0
                 ? fmt::format("no plan keeps up with {} requests/s: prefill saturates; the best keeps up with {:.1f} "
                               "requests/s (lower --request-rate or add GPUs)\n",
                               workload.request_rate, top.max_request_rate)
                 : fmt::format("no plan keeps up with {} requests/s: the KV cache cannot hold the requests in flight "
                               "(lower --request-rate, shorter --isl/--osl, kv=fp8 or more GPUs)\n",
                               workload.request_rate);
    }
    out += moe ? "layout: tp attention tensor parallel per DP rank, dp attention data-parallel ranks, ep × etp the "
                 "experts' parallel × tensor-parallel split (= tp × dp), ×N instances; P/D rows give prefill | decode\n"
               : "layout: tp tensor parallel, pp pipeline stages, ×N instances; P/D rows give prefill | decode\n";
    const auto front = pareto_front(report);
    if (!front.empty()) {
      out += "\nPareto front (tokens/s per user against output tokens/s per GPU):\n";
      util::Table pareto({"tok/s/user", "tok/s/GPU", "TTFT", "group", "layout"},
                         {util::Align::right, util::Align::right, util::Align::right, util::Align::left, util::Align::left});
      for (const auto& entry : front) {
        const auto& plan = *entry.plan;
        pareto.add_row({rate_text(plan.performance.tokens_per_s_per_user), rate_text(plan.output_tokens_per_s_per_gpu),
                        time_text(plan.performance.ttft_s), entry.group->group.name, short_layout(plan, moe)});
      }
      out += pareto.render(2);
    }
    const auto& best = *ranked.front().plan;
    out += "\n" + style.bold(fmt::format("best plan ({}): --layout {}", ranked.front().group->group.name,
                                         to_string(best.layout))) +
           "\n";
    const auto& performance = best.performance;
    if (performance.max_request_rate > 0) {
      out += fmt::format("  overloaded: prefill keeps up with {:.1f} requests/s of the {} arriving; bound by {}\n",
                         performance.max_request_rate, workload.request_rate, to_string(performance.limit));
    } else {
      out += fmt::format("  TTFT {} (queue {}{}), TPOT {}; bound by {}\n", time_text(performance.ttft_s), time_text(performance.queue_s),
                         best.layout.mode == Mode::disaggregated
                             ? fmt::format(", KV transfer {}", time_text(performance.kv_transfer_s))
                             : std::string(),
                         time_text(performance.tpot_s), to_string(performance.limit));
      if (performance.kv_waiting > 0) {
        const auto& decoding = best.layout.mode == Mode::aggregated ? best.both : best.decode;
        out += fmt::format("  the KV pool runs {} of the {:.0f} requests in flight at once; the other {:.0f} wait in the "
                           "engine's queue for one to finish, {} each in the steady state\n",
                           util::with_thousands(decoding.max_concurrency * decoding.plan.instances),
                           workload.concurrency, performance.kv_waiting, time_text(performance.kv_wait_s));
      }
    }
    const int used = best.layout.gpus();
    const int available = ranked.front().group->group.gpus();
    if (used < available) {
      // Ranking by tokens/s per GPU leaves GPUs idle when the load is too small to keep more busy;
      // say so instead of letting the user wonder why --nodes was not used.
      out += fmt::format("  uses {} of the group's {} GPUs: plans on more of them deliver fewer tokens/s per GPU at this "
                         "load (the Pareto front shows what they give per user; --layout instances=N fixes the count)\n",
                         used, available);
    }
    if (best.layout.mode == Mode::aggregated) {
      out += role_details("", best.both, workload, *report.engine, true, true);
    } else {
      out += role_details("prefill: ", best.prefill, workload, *report.engine, false, true);
      out += role_details("decode: ", best.decode, workload, *report.engine, true, false);
    }
  }
  out += "\n";
  for (const auto& group : report.groups) {
    const auto& result = group.result;
    out += fmt::format("searched {}: {} shapes, {} operating points ({} meeting the SLO) in {:.2f} s\n", group.group.name,
                       util::with_thousands(result.shapes), util::with_thousands(result.evaluated),
                       util::with_thousands(result.meeting_slo), result.seconds);
    for (std::size_t i = 0; i < std::min<std::size_t>(4, result.rejected.size()); ++i) {
      const auto& rejected = result.rejected[i];
      out += fmt::format("  rejected {} × {} (e.g. {})\n", util::with_thousands(rejected.count), rejected.rule,
                         rejected.example);
    }
  }
  return out;
}

} // namespace brix::serve
