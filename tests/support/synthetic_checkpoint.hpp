#pragma once
// Small (or, for the benchmark, large) Hugging Face checkpoints built in the test itself: tensor
// names and shapes of DeepSeek-V3 (MLA, dense then MoE layers, FP8 weights with 128 × 128 block
// scales, a multi-token-prediction layer) and of Llama, filled with deterministic bytes.

#include <brix/safetensors/writer.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

namespace brix::test {

using safetensors::Dtype;

struct SyntheticTensor {
  std::string name;
  Dtype dtype = Dtype::bf16;
  std::vector<std::int64_t> shape;
};

struct SyntheticCheckpoint {
  nlohmann::ordered_json config;
  std::vector<SyntheticTensor> tensors;
};

struct DeepseekShape {
  int layers = 4;
  int dense_layers = 1;
  int experts = 8;
  int mtp_layers = 1;
  std::int64_t hidden = 256, heads = 8, q_lora = 128, kv_lora = 128, nope = 64, rope = 64, v = 64;
  std::int64_t ffn = 512, moe_ffn = 512, vocab = 1024;
  bool fp8 = true;
};

struct LlamaShape {
  int layers = 4;
  std::int64_t hidden = 256, heads = 8, kv_heads = 4, ffn = 512, vocab = 1024;
  bool tied = false;
};

/// A linear layer: FP8 with a block scale when `fp8`, BF16 otherwise.
inline void add_linear(SyntheticCheckpoint& checkpoint, const std::string& name, std::int64_t out, std::int64_t in,
                       bool fp8) {
  checkpoint.tensors.push_back({name + ".weight", fp8 ? Dtype::f8_e4m3 : Dtype::bf16, {out, in}});
  if (fp8) {
    checkpoint.tensors.push_back({name + ".weight_scale_inv", Dtype::f32, {(out + 127) / 128, (in + 127) / 128}});
  }
}

inline SyntheticCheckpoint deepseek_v3_like(const DeepseekShape& s) {
  SyntheticCheckpoint c;
  c.config = {{"architectures", {"DeepseekV3ForCausalLM"}},
              {"model_type", "deepseek_v3"},
              {"hidden_size", s.hidden},
              {"intermediate_size", s.ffn},
              {"moe_intermediate_size", s.moe_ffn},
              {"num_hidden_layers", s.layers},
              {"num_attention_heads", s.heads},
              {"num_key_value_heads", s.heads},
              {"n_routed_experts", s.experts},
              {"n_shared_experts", 1},
              {"num_experts_per_tok", 2},
              {"first_k_dense_replace", s.dense_layers},
              {"moe_layer_freq", 1},
              {"q_lora_rank", s.q_lora},
              {"kv_lora_rank", s.kv_lora},
              {"qk_nope_head_dim", s.nope},
              {"qk_rope_head_dim", s.rope},
              {"v_head_dim", s.v},
              {"vocab_size", s.vocab},
              {"max_position_embeddings", 4096},
              {"num_nextn_predict_layers", s.mtp_layers},
              {"tie_word_embeddings", false}};
  if (s.fp8) {
    c.config["quantization_config"] = {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"weight_block_size", {128, 128}}};
  }
  c.tensors.push_back({"model.embed_tokens.weight", Dtype::bf16, {s.vocab, s.hidden}});
  for (int layer = 0; layer < s.layers + s.mtp_layers; ++layer) {
    const auto p = fmt::format("model.layers.{}.", layer);
    if (layer >= s.layers) { // DeepSeek-V3's MTP module around a full decoder layer
      c.tensors.push_back({p + "embed_tokens.weight", Dtype::bf16, {s.vocab, s.hidden}});
      c.tensors.push_back({p + "enorm.weight", Dtype::bf16, {s.hidden}});
      c.tensors.push_back({p + "hnorm.weight", Dtype::bf16, {s.hidden}});
      c.tensors.push_back({p + "eh_proj.weight", Dtype::bf16, {s.hidden, 2 * s.hidden}});
      c.tensors.push_back({p + "shared_head.norm.weight", Dtype::bf16, {s.hidden}});
      c.tensors.push_back({p + "shared_head.head.weight", Dtype::bf16, {s.vocab, s.hidden}});
    }
    c.tensors.push_back({p + "input_layernorm.weight", Dtype::bf16, {s.hidden}});
    add_linear(c, p + "self_attn.q_a_proj", s.q_lora, s.hidden, s.fp8);
    c.tensors.push_back({p + "self_attn.q_a_layernorm.weight", Dtype::bf16, {s.q_lora}});
    add_linear(c, p + "self_attn.q_b_proj", s.heads * (s.nope + s.rope), s.q_lora, s.fp8);
    add_linear(c, p + "self_attn.kv_a_proj_with_mqa", s.kv_lora + s.rope, s.hidden, s.fp8);
    c.tensors.push_back({p + "self_attn.kv_a_layernorm.weight", Dtype::bf16, {s.kv_lora}});
    add_linear(c, p + "self_attn.kv_b_proj", s.heads * (s.nope + s.v), s.kv_lora, s.fp8);
    add_linear(c, p + "self_attn.o_proj", s.hidden, s.heads * s.v, s.fp8);
    c.tensors.push_back({p + "post_attention_layernorm.weight", Dtype::bf16, {s.hidden}});
    if (layer < s.dense_layers) {
      add_linear(c, p + "mlp.gate_proj", s.ffn, s.hidden, s.fp8);
      add_linear(c, p + "mlp.up_proj", s.ffn, s.hidden, s.fp8);
      add_linear(c, p + "mlp.down_proj", s.hidden, s.ffn, s.fp8);
      continue;
    }
    c.tensors.push_back({p + "mlp.gate.weight", Dtype::bf16, {s.experts, s.hidden}});
    c.tensors.push_back({p + "mlp.gate.e_score_correction_bias", Dtype::f32, {s.experts}});
    for (int e = 0; e < s.experts; ++e) {
      const auto x = fmt::format("{}mlp.experts.{}.", p, e);
      add_linear(c, x + "gate_proj", s.moe_ffn, s.hidden, s.fp8);
      add_linear(c, x + "up_proj", s.moe_ffn, s.hidden, s.fp8);
      add_linear(c, x + "down_proj", s.hidden, s.moe_ffn, s.fp8);
    }
    add_linear(c, p + "mlp.shared_experts.gate_proj", s.moe_ffn, s.hidden, s.fp8);
    add_linear(c, p + "mlp.shared_experts.up_proj", s.moe_ffn, s.hidden, s.fp8);
    add_linear(c, p + "mlp.shared_experts.down_proj", s.hidden, s.moe_ffn, s.fp8);
  }
  c.tensors.push_back({"model.norm.weight", Dtype::bf16, {s.hidden}});
  c.tensors.push_back({"lm_head.weight", Dtype::bf16, {s.vocab, s.hidden}});
  return c;
}

inline SyntheticCheckpoint llama_like(const LlamaShape& s) {
  SyntheticCheckpoint c;
  const auto head_dim = s.hidden / s.heads;
  c.config = {{"architectures", {"LlamaForCausalLM"}},
              {"model_type", "llama"},
              {"hidden_size", s.hidden},
              {"intermediate_size", s.ffn},
              {"num_hidden_layers", s.layers},
              {"num_attention_heads", s.heads},
              {"num_key_value_heads", s.kv_heads},
              {"vocab_size", s.vocab},
              {"max_position_embeddings", 4096},
              {"tie_word_embeddings", s.tied}};
  c.tensors.push_back({"model.embed_tokens.weight", Dtype::bf16, {s.vocab, s.hidden}});
  for (int layer = 0; layer < s.layers; ++layer) {
    const auto p = fmt::format("model.layers.{}.", layer);
    c.tensors.push_back({p + "input_layernorm.weight", Dtype::bf16, {s.hidden}});
    c.tensors.push_back({p + "self_attn.q_proj.weight", Dtype::bf16, {s.heads * head_dim, s.hidden}});
    c.tensors.push_back({p + "self_attn.k_proj.weight", Dtype::bf16, {s.kv_heads * head_dim, s.hidden}});
    c.tensors.push_back({p + "self_attn.v_proj.weight", Dtype::bf16, {s.kv_heads * head_dim, s.hidden}});
    c.tensors.push_back({p + "self_attn.o_proj.weight", Dtype::bf16, {s.hidden, s.heads * head_dim}});
    c.tensors.push_back({p + "post_attention_layernorm.weight", Dtype::bf16, {s.hidden}});
    c.tensors.push_back({p + "mlp.gate_proj.weight", Dtype::bf16, {s.ffn, s.hidden}});
    c.tensors.push_back({p + "mlp.up_proj.weight", Dtype::bf16, {s.ffn, s.hidden}});
    c.tensors.push_back({p + "mlp.down_proj.weight", Dtype::bf16, {s.hidden, s.ffn}});
  }
  c.tensors.push_back({"model.norm.weight", Dtype::bf16, {s.hidden}});
  if (!s.tied) {
    c.tensors.push_back({"lm_head.weight", Dtype::bf16, {s.vocab, s.hidden}});
  }
  return c;
}

/// Deterministic, tensor-specific bytes (xorshift64* seeded by the name), so a misplaced piece
/// shows up as different bytes.
inline void fill_bytes(std::string_view name, std::uint64_t seed, std::byte* out, std::size_t size) {
  std::uint64_t state = 1469598103934665603ull ^ seed;
  for (const char c : name) {
    state = (state ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  }
  state |= 1;
  std::size_t i = 0;
  while (i < size) {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    const std::uint64_t word = state * 2685821657736338717ull;
    const auto take = std::min<std::size_t>(8, size - i);
    std::memcpy(out + i, &word, take);
    i += take;
  }
}

/// Writes config.json, the tensors spread in order over `files` safetensors files and
/// model.safetensors.index.json (or a single model.safetensors when files == 1 and !index).
inline void write_checkpoint(const std::string& dir, const SyntheticCheckpoint& checkpoint, int files,
                             std::uint64_t seed = 1, bool index = true) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  std::ofstream(fs::path(dir) / "config.json") << checkpoint.config.dump(2) << '\n';
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  std::uint64_t total = 0;
  const auto count = checkpoint.tensors.size();
  std::vector<std::byte> buffer;
  for (int f = 0; f < files; ++f) {
    const auto name = (files == 1 && !index) ? std::string("model.safetensors")
                                             : fmt::format("model-{:05}-of-{:05}.safetensors", f + 1, files);
    std::vector<safetensors::TensorEntry> entries;
    for (std::size_t t = count * static_cast<std::size_t>(f) / static_cast<std::size_t>(files);
         t < count * static_cast<std::size_t>(f + 1) / static_cast<std::size_t>(files); ++t) {
      const auto& tensor = checkpoint.tensors[t];
      entries.push_back({tensor.name, tensor.dtype, tensor.shape});
      weight_map[tensor.name] = name;
    }
    const auto layout = safetensors::layout_file(entries, nlohmann::ordered_json{{"format", "pt"}});
    const auto path = (fs::path(dir) / name).string();
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ::pwrite(fd, layout.header.data(), layout.header.size(), 0) !=
                      static_cast<ssize_t>(layout.header.size())) {
      throw std::runtime_error("cannot write " + path);
    }
    for (std::size_t t = 0; t < entries.size(); ++t) {
      const auto end = t + 1 < entries.size() ? layout.offsets[t + 1] : layout.size;
      buffer.resize(end - layout.offsets[t]);
      fill_bytes(entries[t].name, seed, buffer.data(), buffer.size());
      if (::pwrite(fd, buffer.data(), buffer.size(), static_cast<off_t>(layout.offsets[t])) !=
          static_cast<ssize_t>(buffer.size())) {
        throw std::runtime_error("cannot write " + path);
      }
    }
    ::close(fd);
    total += layout.size;
  }
  if (index) {
    std::ofstream(fs::path(dir) / "model.safetensors.index.json")
        << nlohmann::ordered_json{{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}}.dump(2) << '\n';
  }
}

} // namespace brix::test
