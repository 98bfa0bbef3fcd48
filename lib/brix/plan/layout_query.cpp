#include <brix/plan/search.hpp>

#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>

namespace brix::plan {

namespace {

int positive(std::string_view key, std::string_view value) {
  const auto number = util::parse_int(value);
  if (!number || *number <= 0 || *number > 1'000'000) {
    throw InputError(fmt::format("--layout: {}={} is not a positive integer", key, value));
  }
  return static_cast<int>(*number);
}

template <typename Enum>
Enum pick(std::string_view key, std::string_view value,
          std::initializer_list<std::pair<std::string_view, Enum>> names) {
  std::vector<std::string> known;
  for (const auto& [name, item] : names) {
    if (name == value) {
      return item;
    }
    known.emplace_back(name);
  }
  throw InputError(fmt::format("--layout: {}={} is not known{} (expected one of: {})", key, value,
                               util::did_you_mean(value, known), fmt::join(known, ", ")));
}

} // namespace

bool LayoutQuery::complete() const {
  return tp && pp && dp && ep && etp && cp && micro_batch && vpp && zero && sp && schedule &&
         recompute && grad_compression;
}

LayoutQuery parse_layout_query(std::string_view text) {
  LayoutQuery query;
  const std::vector<std::string> keys{"tp", "pp", "dp", "ep", "etp", "cp", "sp", "mbs", "micro_batch",
                                      "vpp", "schedule", "recompute", "zero", "grad_compression"};
  for (const auto& [key, value] : util::parse_key_values(text, "--layout")) {
    if (key == "tp") {
      query.tp = positive(key, value);
    } else if (key == "pp") {
      query.pp = positive(key, value);
    } else if (key == "dp") {
      query.dp = positive(key, value);
    } else if (key == "ep") {
      query.ep = positive(key, value);
    } else if (key == "etp") {
      query.etp = positive(key, value);
    } else if (key == "cp") {
      query.cp = positive(key, value);
    } else if (key == "mbs" || key == "micro_batch") {
      query.micro_batch = positive(key, value);
    } else if (key == "vpp") {
      query.vpp = positive(key, value);
    } else if (key == "sp") {
      query.sp = pick<bool>(key, value, {{"1", true}, {"true", true}, {"on", true}, {"0", false},
                                         {"false", false}, {"off", false}});
    } else if (key == "zero") {
      const auto stage = util::parse_int(value);
      if (!stage || *stage < 0 || *stage > 3) {
        throw InputError(fmt::format("--layout: zero={} is not a ZeRO stage (expected 0, 1, 2 or 3)", value));
      }
      query.zero = static_cast<int>(*stage);
    } else if (key == "schedule") {
      query.schedule = pick<Schedule>(key, value, {{"1f1b", Schedule::one_f_one_b},
                                                   {"interleaved", Schedule::interleaved},
                                                   {"zb-h1", Schedule::zb_h1},
                                                   {"dualpipe", Schedule::dualpipe}});
    } else if (key == "recompute") {
      query.recompute = pick<Recompute>(key, value, {{"none", Recompute::none},
                                                     {"selective", Recompute::selective},
                                                     {"full", Recompute::full}});
    } else if (key == "grad_compression") {
      query.grad_compression = pick<GradCompression>(
          key, value, {{"none", GradCompression::none}, {"fp8", GradCompression::fp8}});
    } else {
      throw InputError(fmt::format("--layout: unknown key '{}'{} (expected {})", key,
                                   util::did_you_mean(key, keys), fmt::join(keys, ", ")));
    }
  }
  if (query.vpp && *query.vpp > 1 && query.schedule && *query.schedule != Schedule::interleaved) {
    throw InputError(fmt::format("--layout: vpp={} needs schedule=interleaved (got {})", *query.vpp,
                                 to_string(*query.schedule)));
  }
  return query;
}

} // namespace brix::plan
