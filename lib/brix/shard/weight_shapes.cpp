#include <brix/shard/weight_shapes.hpp>

#include <fmt/format.h>

namespace brix::shard {

namespace {

/// A size from the config with its name, for the formula.
struct Size {
  std::int64_t value = 0;
  std::string name;
};

Size times(const Size& a, const Size& b) { return {a.value * b.value, fmt::format("{} × {}", a.name, b.name)}; }
Size plus(const Size& a, const Size& b) { return {a.value + b.value, fmt::format("{} + {}", a.name, b.name)}; }

/// The [out, in] of a linear layer's weight, or the length of a norm's weight.
struct ModuleShape {
  std::vector<Size> dims;
};

std::optional<ModuleShape> module_shape(const WeightRole& role, const model::ModelSpec& model) {
  const Size hidden{model.hidden, "hidden"};
  const Size vocab{model.vocab, "vocab"};
  const Size heads{model.heads, "heads"};
  const Size head_dim{model.head_dim, "head_dim"};
  const auto& module = role.module;
  if (role.expert >= 0) {
    const Size expert_ffn{model.moe ? model.moe->expert_ffn : 0, "moe_intermediate"};
    if (module == "gate_proj" || module == "up_proj" || module == "w1" || module == "w3") {
      return ModuleShape{{expert_ffn, hidden}};
    }
    return ModuleShape{{hidden, expert_ffn}}; // down_proj, w2
  }
  if (module == "embed_tokens" || module == "lm_head" || module == "shared_head.head") {
    return ModuleShape{{vocab, hidden}};
  }
  if (module == "norm" || module == "input_layernorm" || module == "post_attention_layernorm" || module == "enorm" ||
      module == "hnorm" || module == "shared_head.norm") {
    return ModuleShape{{hidden}};
  }
  if (module == "eh_proj") {
    return ModuleShape{{hidden, {2 * model.hidden, "2 × hidden"}}};
  }
  if (module == "self_attn.q_norm" || module == "self_attn.k_norm") {
    return ModuleShape{{head_dim}};
  }
  if (const auto& mla = model.mla) {
    const Size nope{mla->qk_nope_head_dim, "qk_nope_head_dim"};
    const Size rope{mla->qk_rope_head_dim, "qk_rope_head_dim"};
    const Size v_head{mla->v_head_dim, "v_head_dim"};
    const Size q_lora{mla->q_lora_rank, "q_lora_rank"};
    const Size kv_lora{mla->kv_lora_rank, "kv_lora_rank"};
    const Size q_head{nope.value + rope.value, "(qk_nope_head_dim + qk_rope_head_dim)"};
    if (module == "self_attn.q_proj") {
      return ModuleShape{{times(heads, q_head), hidden}};
    }
    if (module == "self_attn.q_a_proj") {
      return ModuleShape{{q_lora, hidden}};
    }
    if (module == "self_attn.q_a_layernorm") {
      return ModuleShape{{q_lora}};
    }
    if (module == "self_attn.q_b_proj") {
      return ModuleShape{{times(heads, q_head), q_lora}};
    }
    if (module == "self_attn.kv_a_proj_with_mqa") {
      return ModuleShape{{plus(kv_lora, rope), hidden}};
    }
    if (module == "self_attn.kv_a_layernorm") {
      return ModuleShape{{kv_lora}};
    }
    if (module == "self_attn.kv_b_proj") {
      return ModuleShape{{times(heads, {nope.value + v_head.value, "(qk_nope_head_dim + v_head_dim)"}), kv_lora}};
    }
    if (module == "self_attn.o_proj") {
      return ModuleShape{{hidden, times(heads, v_head)}};
    }
  } else {
    const Size kv_heads{model.kv_heads, "kv_heads"};
    if (module == "self_attn.q_proj") {
      return ModuleShape{{times(heads, head_dim), hidden}};
    }
    if (module == "self_attn.k_proj" || module == "self_attn.v_proj") {
      return ModuleShape{{times(kv_heads, head_dim), hidden}};
    }
    if (module == "self_attn.o_proj") {
      return ModuleShape{{hidden, times(heads, head_dim)}};
    }
  }
  const Size ffn{model.ffn, "intermediate"};
  if (module == "mlp.gate_proj" || module == "mlp.up_proj") {
    return ModuleShape{{ffn, hidden}};
  }
  if (module == "mlp.down_proj") {
    return ModuleShape{{hidden, ffn}};
  }
  if (!model.moe) {
    return std::nullopt;
  }
  const Size experts{model.moe->routed_experts, "experts"};
  const Size shared_ffn{model.moe->shared_ffn, "shared_intermediate"};
  if (module == "mlp.gate" || module == "block_sparse_moe.gate") {
    return ModuleShape{{experts, hidden}};
  }
  if (module.ends_with("gate_proj") || module.ends_with("up_proj")) { // shared expert(s)
    return ModuleShape{{shared_ffn, hidden}};
  }
  if (module.ends_with("down_proj")) {
    return ModuleShape{{hidden, shared_ffn}};
  }
  if (module == "mlp.shared_expert_gate") {
    return ModuleShape{{{1, "1"}, hidden}};
  }
  return std::nullopt;
}

} // namespace

std::optional<ExpectedShape> expected_shape(std::string_view name, const WeightRole& role,
                                            const model::ModelSpec& model) {
  if (role.scale) {
    return std::nullopt; // a block scale is checked against its weight
  }
  const auto dot = name.rfind('.');
  const auto param = dot == std::string_view::npos ? name : name.substr(dot + 1);
  const auto found = module_shape(role, model);
  if (!found) {
    return std::nullopt;
  }
  std::vector<Size> dims = found->dims;
  if (param == "e_score_correction_bias") {
    dims = {{model.moe ? model.moe->routed_experts : 0, "experts"}};
  } else if (param == "bias") {
    dims.resize(1); // a linear layer's bias has its output size, a norm's bias its length
  } else if (param != "weight") {
    return std::nullopt;
  }
  ExpectedShape out;
  std::vector<std::string> names;
  for (const auto& dim : dims) {
    if (dim.value <= 0) {
      return std::nullopt; // the config does not give this size
    }
    out.shape.push_back(dim.value);
    names.push_back(dim.name);
  }
  out.formula = fmt::format("[{}]", fmt::join(names, ", "));
  return out;
}

} // namespace brix::shard
