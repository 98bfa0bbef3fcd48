#include <brix/shard/weight_roles.hpp>

#include <brix/util/strings.hpp>

#include <array>

namespace brix::shard {

namespace {

enum class Unit { one, head, q_head, v_head, mla_q, mla_kv };

struct ModuleRule {
  std::string_view module;
  Split split;
  Unit unit;
};

// Modules inside a decoder layer ("model.layers.N.<module>.<param>").
constexpr std::array<ModuleRule, 33> k_layer_modules{{
    {"input_layernorm", Split::replicated, Unit::one},
    {"post_attention_layernorm", Split::replicated, Unit::one},
    {"self_attn.q_proj", Split::column, Unit::q_head},
    {"self_attn.k_proj", Split::column, Unit::head},
    {"self_attn.v_proj", Split::column, Unit::head},
    {"self_attn.o_proj", Split::row, Unit::v_head},
    {"self_attn.q_norm", Split::replicated, Unit::one},
    {"self_attn.k_norm", Split::replicated, Unit::one},
    {"self_attn.rotary_emb", Split::replicated, Unit::one},
    // MLA (DeepSeek-V2/V3): the low-rank down-projections and their norms stay whole; the
    // up-projections produce per-head outputs and split by heads.
    {"self_attn.q_a_proj", Split::replicated, Unit::one},
    {"self_attn.q_a_layernorm", Split::replicated, Unit::one},
    {"self_attn.kv_a_proj_with_mqa", Split::replicated, Unit::one},
    {"self_attn.kv_a_layernorm", Split::replicated, Unit::one},
    {"self_attn.q_b_proj", Split::column, Unit::mla_q},
    {"self_attn.kv_b_proj", Split::column, Unit::mla_kv},
    {"mlp.gate_proj", Split::column, Unit::one},
    {"mlp.up_proj", Split::column, Unit::one},
    {"mlp.down_proj", Split::row, Unit::one},
    {"mlp.gate", Split::replicated, Unit::one}, // the router (and DeepSeek's score-correction bias)
    {"mlp.shared_experts.gate_proj", Split::column, Unit::one},
    {"mlp.shared_experts.up_proj", Split::column, Unit::one},
    {"mlp.shared_experts.down_proj", Split::row, Unit::one},
    {"mlp.shared_expert.gate_proj", Split::column, Unit::one},
    {"mlp.shared_expert.up_proj", Split::column, Unit::one},
    {"mlp.shared_expert.down_proj", Split::row, Unit::one},
    {"mlp.shared_expert_gate", Split::replicated, Unit::one},
    {"block_sparse_moe.gate", Split::replicated, Unit::one},
    // DeepSeek-V3 multi-token prediction module (the layers after the last decoder layer).
    {"enorm", Split::replicated, Unit::one},
    {"hnorm", Split::replicated, Unit::one},
    {"eh_proj", Split::column, Unit::one},
    {"embed_tokens", Split::vocab, Unit::one},
    {"shared_head.norm", Split::replicated, Unit::one},
    {"shared_head.head", Split::vocab, Unit::one},
}};

// Modules of one routed expert ("...experts.E.<module>.<param>").
constexpr std::array<ModuleRule, 6> k_expert_modules{{
    {"gate_proj", Split::column, Unit::one},
    {"up_proj", Split::column, Unit::one},
    {"down_proj", Split::row, Unit::one},
    {"w1", Split::column, Unit::one},
    {"w3", Split::column, Unit::one},
    {"w2", Split::row, Unit::one},
}};

constexpr std::array<std::string_view, 5> k_params{"weight", "bias", "weight_scale_inv",
                                                   "e_score_correction_bias", "inv_freq"};

std::int64_t unit_size(Unit unit, const model::ModelSpec& model) {
  const auto& mla = model.mla;
  switch (unit) {
  case Unit::one:
    return 1;
  case Unit::head:
    return model.head_dim;
  case Unit::q_head:
    return mla ? mla->qk_nope_head_dim + mla->qk_rope_head_dim : model.head_dim;
  case Unit::v_head:
    return mla ? mla->v_head_dim : model.head_dim;
  case Unit::mla_q:
    return mla ? mla->qk_nope_head_dim + mla->qk_rope_head_dim : model.head_dim;
  case Unit::mla_kv:
    return mla ? mla->qk_nope_head_dim + mla->v_head_dim : model.head_dim;
  }
  return 1;
}

/// Splits "<module>.<param>" into a known param and the module; false when the param is unknown.
bool split_param(std::string_view name, std::string_view& module, std::string_view& param) {
  for (const auto candidate : k_params) {
    if (name.size() > candidate.size() + 1 && name.ends_with(candidate) &&
        name[name.size() - candidate.size() - 1] == '.') {
      module = name.substr(0, name.size() - candidate.size() - 1);
      param = candidate;
      return true;
    }
  }
  return false;
}

/// Reads "<number>." at the front of `text`, advancing past it.
std::optional<std::int64_t> take_index(std::string_view& text) {
  const auto dot = text.find('.');
  if (dot == std::string_view::npos) {
    return std::nullopt;
  }
  const auto value = util::parse_int(text.substr(0, dot));
  if (!value || *value < 0 || text.substr(0, dot).starts_with('+')) {
    return std::nullopt;
  }
  text.remove_prefix(dot + 1);
  return value;
}

template <std::size_t N>
std::optional<WeightRole> apply(const std::array<ModuleRule, N>& rules, std::string_view rest,
                                const model::ModelSpec& model, WeightRole role) {
  std::string_view module;
  std::string_view param;
  if (!split_param(rest, module, param)) {
    return std::nullopt;
  }
  for (const auto& rule : rules) {
    if (rule.module != module) {
      continue;
    }
    role.module = std::string(module);
    role.scale = param == "weight_scale_inv";
    role.split = rule.split;
    role.unit = unit_size(rule.unit, model);
    // A row-parallel layer adds its bias once, after the reduction: every rank keeps all of it.
    if (param == "bias" && rule.split == Split::row) {
      role.split = Split::replicated;
    }
    if (param == "e_score_correction_bias" && module != "mlp.gate") {
      return std::nullopt;
    }
    if (param == "inv_freq" && module != "self_attn.rotary_emb") {
      return std::nullopt;
    }
    if (role.split == Split::replicated) {
      role.unit = 1;
    }
    return role;
  }
  return std::nullopt;
}

} // namespace

std::optional<WeightRole> classify_weight(std::string_view name, const model::ModelSpec& model) {
  WeightRole role;
  if (name == "model.embed_tokens.weight") {
    role.split = Split::vocab;
    role.home = Home::first_stage;
    role.module = "embed_tokens";
    return role;
  }
  if (name == "lm_head.weight") {
    role.split = Split::vocab;
    role.home = Home::last_stage;
    role.module = "lm_head";
    return role;
  }
  if (name == "model.norm.weight" || name == "model.norm.bias") {
    role.home = Home::last_stage;
    role.module = "norm";
    return role;
  }
  constexpr std::string_view k_layers = "model.layers.";
  if (!name.starts_with(k_layers)) {
    return std::nullopt;
  }
  std::string_view rest = name.substr(k_layers.size());
  const auto layer = take_index(rest);
  if (!layer || *layer >= model.layers + model.mtp_layers) {
    return std::nullopt;
  }
  role.layer = *layer;
  for (const std::string_view prefix : {"mlp.experts.", "block_sparse_moe.experts."}) {
    if (rest.starts_with(prefix)) {
      rest.remove_prefix(prefix.size());
      const auto expert = take_index(rest);
      if (!expert || !model.moe || *expert >= model.moe->routed_experts) {
        return std::nullopt;
      }
      role.expert = static_cast<int>(*expert);
      return apply(k_expert_modules, rest, model, role);
    }
  }
  auto found = apply(k_layer_modules, rest, model, role);
  // The MTP-only modules exist only after the last decoder layer.
  if (found && found->layer < model.layers &&
      (found->module == "enorm" || found->module == "hnorm" || found->module == "eh_proj" ||
       found->module == "embed_tokens" || found->module.starts_with("shared_head."))) {
    return std::nullopt;
  }
  return found;
}

std::string split_name(Split split) {
  switch (split) {
  case Split::replicated:
    return "replicated";
  case Split::column:
    return "column";
  case Split::row:
    return "row";
  case Split::vocab:
    return "vocab";
  }
  return "?";
}

int split_dimension(Split split) {
  switch (split) {
  case Split::replicated:
    return -1;
  case Split::column:
  case Split::vocab:
    return 0;
  case Split::row:
    return 1;
  }
  return -1;
}

} // namespace brix::shard
