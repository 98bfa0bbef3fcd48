// Model summary (`brix plan --describe`).
#include <brix/plan/report.hpp>

#include <brix/model/params.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <fmt/format.h>

namespace brix::plan {

namespace {

/// Sliding windows and sinks, when the model has them: ", sliding window 128 on 18 of 36 layers".
std::string attention_extras(const model::ModelSpec& model) {
  std::string out;
  const auto sliding = model::sliding_layers_in(model, 0, model.layers - 1);
  if (sliding > 0) {
    std::int64_t widest = 0;
    std::int64_t narrowest = 0;
    for (std::int64_t layer = 0; layer < model.layers; ++layer) {
      if (const auto window = model.attention_window(layer); window > 0) {
        widest = std::max(widest, window);
        narrowest = narrowest == 0 ? window : std::min(narrowest, window);
      }
    }
    const auto windows = narrowest == widest ? fmt::format("{}", widest) : fmt::format("{}–{}", narrowest, widest);
    out += fmt::format(", sliding window {} on {} of {} layers", windows, sliding, model.layers);
  }
  if (model.attention_sinks) {
    out += ", attention sinks";
  }
  return out;
}

std::string attention_kind(const model::ModelSpec& model) {
  if (model.mla) {
    return fmt::format("MLA (q_lora {}, kv_lora {}, qk {}+{}, v {}){}", model.mla->q_lora_rank,
                       model.mla->kv_lora_rank, model.mla->qk_nope_head_dim,
                       model.mla->qk_rope_head_dim, model.mla->v_head_dim, attention_extras(model));
  }
  if (model.kv_heads == model.heads) {
    return fmt::format("MHA ({} heads of {}){}", model.heads, model.head_dim, attention_extras(model));
  }
  return fmt::format("GQA ({} heads, {} kv heads of {}){}", model.heads, model.kv_heads, model.head_dim,
                     attention_extras(model));
}

std::string mlp_kind(const model::ModelSpec& model) {
  const char* kind = model.mlp == model::MlpKind::gated          ? "gated"
                     : model.mlp == model::MlpKind::squared_relu ? "squared-ReLU"
                                                                 : "gelu";
  if (!model.moe) {
    return fmt::format("dense {} MLP, ffn {}", kind, model.ffn);
  }
  const auto& moe = *model.moe;
  return fmt::format("MoE: {} routed experts (top {}) of ffn {}, {} shared (ffn {}), first {} "
                     "layers dense (ffn {})",
                     moe.routed_experts, moe.experts_per_token, moe.expert_ffn, moe.shared_experts,
                     moe.shared_ffn, moe.first_dense_layers, model.ffn);
}

double gflop(double flops) { return flops / 1e9; }

} // namespace

nlohmann::ordered_json to_json(const ModelSummary& summary) {
  const auto& model = summary.model;
  const auto seq_len = summary.seq_len;
  const auto counts = model::count_parameters(model);
  const auto flops = model::flops_per_token(model, seq_len);
  nlohmann::ordered_json doc;
  doc["name"] = model.name;
  doc["family"] = model.family;
  doc["source"] = model.source;
  doc["params_total"] = counts.total;
  doc["params_active"] = counts.active;
  doc["params_mtp"] = counts.mtp;
  doc["params"] = {{"embedding", counts.embedding},
                   {"position_embedding", counts.position_embedding},
                   {"attention", counts.attention},
                   {"dense_mlp", counts.dense_mlp},
                   {"routed_experts", counts.routed_experts},
                   {"shared_experts", counts.shared_experts},
                   {"router", counts.router},
                   {"norms", counts.norms},
                   {"output_head", counts.output_head},
                   {"mtp", counts.mtp}};
  doc["layers"] = model.layers;
  doc["moe_layers"] = [&] {
    std::int64_t n = 0;
    for (std::int64_t layer = 0; layer < model.layers; ++layer) {
      n += model.is_moe_layer(layer) ? 1 : 0;
    }
    return n;
  }();
  doc["hidden"] = model.hidden;
  doc["heads"] = model.heads;
  doc["kv_heads"] = model.kv_heads;
  doc["vocab"] = model.vocab;
  doc["attention"] = attention_kind(model);
  doc["mlp"] = mlp_kind(model);
  doc["seq_len"] = seq_len;
  doc["flops_per_token"] = {{"forward", flops.forward},
                            {"training", flops.training},
                            {"training_published", flops.training_published},
                            {"attention_core_forward", flops.attention_core},
                            {"mtp_forward", flops.mtp_forward}};
  doc["kv_cache_bytes_per_token"] = {{"bf16", model::kv_cache_bytes_per_token(model, 2, seq_len)},
                                     {"fp8", model::kv_cache_bytes_per_token(model, 1, seq_len)}};
  if (model.expert_weight_bits != 16.0) {
    doc["expert_weight_bits"] = model.expert_weight_bits;
    doc["stored_weight_bytes"] = model::stored_weight_bytes(model);
  }
  return doc;
}

std::string to_text(const ModelSummary& summary, const util::Style& style) {
  const auto& model = summary.model;
  const auto seq_len = summary.seq_len;
  const auto counts = model::count_parameters(model);
  const auto flops = model::flops_per_token(model, seq_len);
  std::string out = fmt::format("{} {} ({}, {})\n", style.bold("model"), model.name, model.family,
                                model.source);
  out += fmt::format("  {} layers, hidden {}, vocab {}\n  attention {}\n  {}\n", model.layers,
                     model.hidden, model.vocab, attention_kind(model), mlp_kind(model));
  util::Table table({"parameters", "count", "share"}, {util::Align::left, util::Align::right, util::Align::right});
  const double total = static_cast<double>(counts.total);
  auto row = [&](const char* kind, std::int64_t value) {
    if (value != 0) {
      table.add_row({kind, util::with_thousands(value),
                     fmt::format("{:.1f}%", 100.0 * static_cast<double>(value) / total)});
    }
  };
  row("embedding", counts.embedding);
  row("position embedding", counts.position_embedding);
  row("attention", counts.attention);
  row("dense MLP", counts.dense_mlp);
  row("routed experts", counts.routed_experts);
  row("shared experts", counts.shared_experts);
  row("router", counts.router);
  row("norms", counts.norms);
  row("output head", counts.output_head);
  table.add_row({"total", util::with_thousands(counts.total), util::human_count(total)});
  table.add_row({"active per token", util::with_thousands(counts.active),
                 util::human_count(static_cast<double>(counts.active))});
  if (counts.mtp > 0) {
    table.add_row({"MTP module (apart)", util::with_thousands(counts.mtp),
                   util::human_count(static_cast<double>(counts.mtp))});
  }
  out += table.render(2);
  out += fmt::format("  FLOPs per token at seq {}: forward {:.1f} GFLOP (attention core {:.1f}%), "
                     "training {:.1f} GFLOP (3 × forward){}\n",
                     seq_len, gflop(flops.forward), 100.0 * flops.attention_core / flops.forward,
                     gflop(flops.training),
                     flops.mtp_forward > 0
                         ? fmt::format("; MTP adds {:.1f} GFLOP forward", gflop(flops.mtp_forward))
                         : std::string());
  const bool sliding = model::sliding_layers_in(model, 0, model.layers - 1) > 0;
  out += fmt::format("  KV cache per token{}: {} bytes in bf16 ({:.1f} KiB), {} bytes in fp8\n",
                     sliding ? fmt::format(" (mean over {} tokens: sliding layers keep their window)", seq_len) : "",
                     util::with_thousands(model::kv_cache_bytes_per_token(model, 2, seq_len)),
                     static_cast<double>(model::kv_cache_bytes_per_token(model, 2, seq_len)) / 1024.0,
                     util::with_thousands(model::kv_cache_bytes_per_token(model, 1, seq_len)));
  if (model.expert_weight_bits != 16.0) {
    out += fmt::format("  Weights as stored: {:.1f} GiB (routed experts at {:g} bits per parameter, the rest bf16)\n",
                       model::stored_weight_bytes(model) / (1024.0 * 1024.0 * 1024.0), model.expert_weight_bits);
  }
  return out;
}

} // namespace brix::plan
