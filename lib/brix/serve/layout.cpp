// Serving layouts: precisions, the --layout syntax and its printing.
#include <brix/serve/layout.hpp>

#include <brix/util/error.hpp>
#include <brix/util/named.hpp>
#include <brix/util/strings.hpp>

#include <array>
#include <fmt/format.h>

namespace brix::serve {

namespace {

constexpr std::string_view k_what = "--layout";

using util::parse_choice;

constexpr std::array<std::pair<std::string_view, WeightPrecision>, 3> k_weight_names{
    {{"bf16", WeightPrecision::bf16}, {"fp8", WeightPrecision::fp8}, {"fp4", WeightPrecision::fp4}}};
constexpr std::array<std::pair<std::string_view, KvPrecision>, 2> k_kv_names{
    {{"bf16", KvPrecision::bf16}, {"fp8", KvPrecision::fp8}}};

int parse_count(std::string_view key, std::string_view value, int minimum) {
  const auto number = util::parse_int(value);
  if (!number || *number < minimum || *number > 1'000'000) {
    throw InputError(fmt::format("{}: {}={} is not valid (expected an integer >= {})", k_what, key, value, minimum));
  }
  return static_cast<int>(*number);
}

const std::vector<std::string> k_role_fields{"tp", "pp", "dp", "ep", "etp", "instances"};
const std::vector<std::string> k_global_fields{"weights", "kv", "mtp", "overlap", "offload"};

std::vector<std::string> all_keys() {
  std::vector<std::string> keys = k_role_fields;
  for (const auto* prefix : {"p.", "d."}) {
    for (const auto& field : k_role_fields) {
      keys.push_back(prefix + field);
    }
  }
  keys.insert(keys.end(), k_global_fields.begin(), k_global_fields.end());
  return keys;
}

void set_role_field(ShapeQuery& shape, std::string_view field, std::string_view key, std::string_view value) {
  const int number = parse_count(key, value, 1);
  if (field == "tp") {
    shape.tp = number;
  } else if (field == "pp") {
    shape.pp = number;
  } else if (field == "dp") {
    shape.dp = number;
  } else if (field == "ep") {
    shape.ep = number;
  } else if (field == "etp") {
    shape.etp = number;
  } else {
    shape.instances = number;
  }
}

bool is_role_field(std::string_view field) {
  for (const auto& name : k_role_fields) {
    if (name == field) {
      return true;
    }
  }
  return false;
}

} // namespace

std::string_view to_string(WeightPrecision precision) {
  switch (precision) {
  case WeightPrecision::bf16:
    return "bf16";
  case WeightPrecision::fp8:
    return "fp8";
  case WeightPrecision::fp4:
    return "fp4";
  }
  return "bf16";
}

std::string_view to_string(KvPrecision precision) { return precision == KvPrecision::fp8 ? "fp8" : "bf16"; }

std::string_view to_string(Mode mode) { return mode == Mode::aggregated ? "aggregated" : "disaggregated"; }

WeightPrecision parse_weight_precision(std::string_view text, std::string_view option) {
  return parse_choice(text, option, "weight precision", k_weight_names);
}

KvPrecision parse_kv_precision(std::string_view text, std::string_view option) {
  return parse_choice(text, option, "KV-cache precision", k_kv_names);
}

double weight_bytes(WeightPrecision precision) {
  switch (precision) {
  case WeightPrecision::bf16:
    return 2.0;
  case WeightPrecision::fp8:
    return 1.0 + 4.0 / (128.0 * 128.0);
  case WeightPrecision::fp4:
    return 0.5 + 1.0 / 16.0;
  }
  return 2.0;
}

double kv_bytes(KvPrecision precision) { return precision == KvPrecision::fp8 ? 1.0 : 2.0; }

int ServeLayout::gpus() const {
  return mode == Mode::aggregated ? both.gpus() : prefill.gpus() + decode.gpus();
}

std::string to_string(const InstanceShape& shape, int instances, std::string_view prefix) {
  return fmt::format("{0}tp={1},{0}pp={2},{0}dp={3},{0}ep={4},{0}etp={5},{0}instances={6}", prefix, shape.tp, shape.pp,
                     shape.dp, shape.ep, shape.etp, instances);
}

std::string to_string(const ServeLayout& layout) {
  std::string roles = layout.mode == Mode::aggregated
                          ? to_string(layout.both.shape, layout.both.instances)
                          : to_string(layout.prefill.shape, layout.prefill.instances, "p.") + "," +
                                to_string(layout.decode.shape, layout.decode.instances, "d.");
  auto text = fmt::format("{},weights={},kv={},mtp={},overlap={}", roles, to_string(layout.weights),
                          to_string(layout.kv), layout.mtp, layout.overlap ? 1 : 0);
  if (layout.offload > 0) {
    text += fmt::format(",offload={}", layout.offload);
  }
  return text;
}

LayoutQuery parse_layout_query(std::string_view text) {
  LayoutQuery query;
  bool plain = false;
  bool prefixed = false;
  const auto keys = all_keys();
  for (const auto& [key, value] : util::parse_key_values(text, k_what)) {
    std::string_view field = key;
    ShapeQuery* role = &query.both;
    if (key.starts_with("p.") || key.starts_with("d.")) {
      role = key[0] == 'p' ? &query.prefill : &query.decode;
      field = std::string_view(key).substr(2);
      if (is_role_field(field)) {
        prefixed = true;
        set_role_field(*role, field, key, value);
        continue;
      }
    } else if (is_role_field(field)) {
      plain = true;
      set_role_field(*role, field, key, value);
      continue;
    } else if (key == "weights") {
      query.weights = parse_weight_precision(value, "--layout weights");
      continue;
    } else if (key == "kv") {
      query.kv = parse_kv_precision(value, "--layout kv");
      continue;
    } else if (key == "mtp") {
      query.mtp = parse_count(key, value, 0);
      continue;
    } else if (key == "overlap") {
      if (value != "0" && value != "1") {
        throw InputError(fmt::format("{}: overlap={} is not valid (expected 1 or 0)", k_what, value));
      }
      query.overlap = value == "1";
      continue;
    } else if (key == "offload") {
      // One layer in `offload` offloaded: 1 would offload every layer, leaving nothing to hide the copies under.
      query.offload = parse_count(key, value, 2);
      continue;
    }
    throw InputError(fmt::format("{}: unknown field '{}'{} (expected tp, pp, dp, ep, etp, instances, the same with "
                                 "p./d. for disaggregated plans, weights, kv, mtp, overlap or offload)",
                                 k_what, key, util::did_you_mean(key, keys)));
  }
  if (plain && prefixed) {
    throw InputError(fmt::format("{}: '{}' mixes aggregated fields (tp=, dp=, ...) with disaggregated ones (p.tp=, "
                                 "d.tp=, ...) (expected one kind: plain fields for an aggregated plan, p./d. fields for "
                                 "prefill and decode instances)",
                                 k_what, text));
  }
  if (plain) {
    query.mode = Mode::aggregated;
  } else if (prefixed) {
    query.mode = Mode::disaggregated;
  }
  return query;
}

bool matches(const ShapeQuery& query, const InstanceShape& shape, int instances) {
  return (!query.tp || *query.tp == shape.tp) && (!query.pp || *query.pp == shape.pp) &&
         (!query.dp || *query.dp == shape.dp) && (!query.ep || *query.ep == shape.ep) &&
         (!query.etp || *query.etp == shape.etp) && (!query.instances || *query.instances == instances);
}

} // namespace brix::serve
