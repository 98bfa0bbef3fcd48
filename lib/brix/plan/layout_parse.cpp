#include <brix/plan/layout_parse.hpp>

#include <brix/cluster/cluster.hpp>
#include <brix/util/error.hpp>
#include <brix/util/named.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <array>
#include <fmt/format.h>
#include <optional>

namespace brix::plan {

namespace {

using util::parse_choice;

int parse_degree(std::string_view key, std::string_view value, std::string_view what, int minimum) {
  const auto number = util::parse_int(value);
  if (!number || *number < minimum || *number > 1'000'000) {
    throw InputError(fmt::format("{}: {}={} is not valid (expected an integer >= {})", what, key,
                                 value, minimum));
  }
  return static_cast<int>(*number);
}

bool parse_flag(std::string_view key, std::string_view value, std::string_view what) {
  if (value == "1" || value == "true" || value == "on" || value == "yes") {
    return true;
  }
  if (value == "0" || value == "false" || value == "off" || value == "no") {
    return false;
  }
  throw InputError(fmt::format("{}: {}={} is not valid (expected 1 or 0)", what, key, value));
}

/// Megatron-Core's --moe-expert-capacity-factor: a positive number (1.0 = each expert's balanced
/// share of the token copies). Above 1000 it is no longer a factor anyone means.
double parse_capacity_factor(std::string_view value, std::string_view what) {
  const auto factor = util::parse_double(value);
  if (!factor || *factor <= 0 || *factor > 1000) {
    throw InputError(fmt::format("{}: capacity={} is not valid (expected an expert capacity factor > 0, e.g. 1.0)",
                                 what, value));
  }
  return *factor;
}

const std::vector<std::string> k_layout_keys{
    "tp",  "pp",       "dp",        "ep",   "etp",       "cp",       "sp",
    "mbs", "micro_batch", "vpp",    "schedule", "recompute", "zero", "precision",
    "grad_compression", "flash", "pp_embedding", "pp_loss", "moments", "grads", "offload", "capacity",
    "shard", "reshard"};

} // namespace

Schedule parse_schedule(std::string_view text, std::string_view what) {
  static constexpr std::array<std::pair<std::string_view, Schedule>, 4> k_options{
      {{"1f1b", Schedule::one_f_one_b},
       {"interleaved", Schedule::interleaved},
       {"zb-h1", Schedule::zb_h1},
       {"dualpipe", Schedule::dualpipe}}};
  return parse_choice(text, what, "schedule", k_options);
}

Recompute parse_recompute(std::string_view text, std::string_view what) {
  static constexpr std::array<std::pair<std::string_view, Recompute>, 4> k_options{
      {{"none", Recompute::none},
       {"selective", Recompute::selective},
       {"selective+mlp", Recompute::selective_mlp},
       {"full", Recompute::full}}};
  return parse_choice(text, what, "recompute", k_options);
}

Precision parse_precision(std::string_view text, std::string_view what) {
  static constexpr std::array<std::pair<std::string_view, Precision>, 2> k_options{
      {{"bf16", Precision::bf16}, {"fp8", Precision::fp8}}};
  return parse_choice(text, what, "precision", k_options);
}

GradCompression parse_grad_compression(std::string_view text, std::string_view what) {
  static constexpr std::array<std::pair<std::string_view, GradCompression>, 2> k_options{
      {{"none", GradCompression::none}, {"fp8", GradCompression::fp8}}};
  return parse_choice(text, what, "grad_compression", k_options);
}

LayoutQuery parse_layout_query(std::string_view text, std::string_view what) {
  LayoutQuery query;
  for (const auto& [key, value] : util::parse_key_values(text, what)) {
    if (key == "tp") {
      query.tp = parse_degree(key, value, what, 1);
    } else if (key == "pp") {
      query.pp = parse_degree(key, value, what, 1);
    } else if (key == "dp") {
      query.dp = parse_degree(key, value, what, 1);
    } else if (key == "ep") {
      query.ep = parse_degree(key, value, what, 1);
    } else if (key == "etp") {
      query.etp = parse_degree(key, value, what, 1);
    } else if (key == "cp") {
      query.cp = parse_degree(key, value, what, 1);
    } else if (key == "sp") {
      query.sp = parse_flag(key, value, what);
    } else if (key == "mbs" || key == "micro_batch") {
      query.micro_batch = parse_degree(key, value, what, 1);
    } else if (key == "vpp") {
      query.vpp = parse_degree(key, value, what, 1);
    } else if (key == "schedule") {
      query.schedule = parse_schedule(value, what);
    } else if (key == "recompute") {
      query.recompute = parse_recompute(value, what);
    } else if (key == "zero") {
      query.zero = parse_degree(key, value, what, 0);
      if (*query.zero > 3) {
        throw InputError(fmt::format("{}: zero={} is not valid (expected 0, 1, 2 or 3)", what, value));
      }
    } else if (key == "precision") {
      query.precision = parse_precision(value, what);
    } else if (key == "grad_compression") {
      query.grad_compression = parse_grad_compression(value, what);
    } else if (key == "flash") {
      query.flash_attention = parse_flag(key, value, what);
    } else if (key == "pp_embedding") {
      query.pp_embedding = parse_flag(key, value, what);
    } else if (key == "pp_loss") {
      query.pp_loss = parse_flag(key, value, what);
    } else if (key == "moments") {
      if (value != "fp32" && value != "bf16") {
        throw InputError(fmt::format("{}: moments={} is not valid (expected fp32 or bf16)", what, value));
      }
      query.bf16_moments = value == "bf16";
    } else if (key == "grads") {
      if (value != "fp32" && value != "bf16") {
        throw InputError(fmt::format("{}: grads={} is not valid (expected fp32 or bf16)", what, value));
      }
      query.grad_bytes = value == "bf16" ? 2.0 : 4.0;
    } else if (key == "offload") {
      query.offload = parse_degree(key, value, what, 0);
    } else if (key == "capacity") {
      query.capacity = parse_capacity_factor(value, what);
    } else if (key == "shard") {
      query.shard = parse_degree(key, value, what, 1);
    } else if (key == "reshard") {
      query.reshard = parse_flag(key, value, what);
    } else {
      throw InputError(fmt::format("{}: unknown key '{}'{} (expected keys {})", what, key,
                                   util::did_you_mean(key, k_layout_keys),
                                   fmt::join(k_layout_keys, ", ")));
    }
  }
  if (query.vpp && *query.vpp > 1 && query.schedule && *query.schedule != Schedule::interleaved) {
    throw InputError(fmt::format("{}: vpp={} needs schedule=interleaved (got {})", what, *query.vpp,
                                 to_string(*query.schedule)));
  }
  // Each degree is at most 10^6; their product (the ranks) is bounded step by step in 64 bits,
  // so that no `int` count of ranks formed from the query can overflow.
  std::int64_t ranks = 1;
  for (const auto& degree : {query.tp, query.pp, query.dp, query.cp}) {
    ranks = std::min<std::int64_t>(ranks * degree.value_or(1), cluster::k_max_gpus + 1);
  }
  if (ranks > cluster::k_max_gpus) {
    throw InputError(fmt::format("{}: tp × pp × dp × cp is more than brix plans (expected at most {} GPUs)", what,
                                 cluster::k_max_gpus));
  }
  return query;
}

bool LayoutQuery::complete() const {
  return tp && pp && dp && ep && etp && cp && micro_batch && vpp && zero && sp && schedule &&
         recompute && grad_compression;
}

Layout complete_layout(const LayoutQuery& query, Recompute default_recompute) {
  Layout layout;
  layout.tp = query.tp.value_or(1);
  layout.pp = query.pp.value_or(1);
  layout.dp = query.dp.value_or(1);
  layout.ep = query.ep.value_or(1);
  layout.etp = query.etp.value_or(1);
  layout.cp = query.cp.value_or(1);
  layout.sp = query.sp.value_or(layout.tp > 1);
  layout.micro_batch = query.micro_batch.value_or(1);
  layout.vpp = query.vpp.value_or(1);
  // vpp > 1 means the interleaved schedule.
  layout.schedule = query.schedule.value_or(layout.vpp > 1 ? Schedule::interleaved : Schedule::one_f_one_b);
  layout.recompute = query.recompute.value_or(default_recompute);
  layout.zero = query.zero.value_or(1);
  layout.precision = query.precision.value_or(Precision::bf16);
  layout.grad_compression = query.grad_compression.value_or(GradCompression::none);
  layout.flash_attention = query.flash_attention.value_or(true);
  layout.pp_embedding = query.pp_embedding.value_or(false);
  layout.pp_loss = query.pp_loss.value_or(false);
  layout.bf16_moments = query.bf16_moments.value_or(false);
  layout.offload = query.offload.value_or(0);
  layout.capacity = query.capacity.value_or(0.0);
  layout.shard = query.shard.value_or(0);
  layout.reshard = query.reshard.value_or(true);
  return layout;
}

Layout parse_layout(std::string_view text, std::string_view what) {
  const auto query = parse_layout_query(text, what);
  auto layout = complete_layout(query, Recompute::selective);
  // Without a zero key the layout is plain data parallelism (ZeRO-0).
  layout.zero = query.zero.value_or(0);
  return layout;
}

} // namespace brix::plan
