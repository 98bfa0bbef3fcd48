#include <support/input_error.hpp>
#include <brix/model/loader.hpp>
#include <brix/model/params.hpp>
#include <brix/util/document.hpp>
#include <brix/util/error.hpp>
#include <brix/util/paths.hpp>

#include <support/scoped_env.hpp>
#include <support/temp_dir.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

using namespace brix;
using namespace brix::model;
using brix::test::input_error_of;

namespace {

ModelSpec parse(const std::string& text, const std::string& name = "config.json") {
  return model_from_document(util::DocNode::load_string(text, name), "m");
}

} // namespace

TEST_CASE("model::model_from_document Hugging Face families, exact published counts") {
  // Counts as the transformers library reports them (sum of numel of every parameter).
  SUBCASE("gpt2 (GPT-2 small 124M)") {
    const auto model = parse(R"({"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12,
                                 "n_positions": 1024, "vocab_size": 50257})");
    CHECK(count_parameters(model).total == 124'439'808);
    CHECK(model.dropout);
    CHECK(model.position == PositionKind::learned);
  }
  SUBCASE("opt (OPT-125m: learned positions offset by 2)") {
    const auto model = parse(R"({"model_type": "opt", "hidden_size": 768, "num_hidden_layers": 12,
                                 "num_attention_heads": 12, "ffn_dim": 3072, "vocab_size": 50272,
                                 "max_position_embeddings": 2048, "word_embed_proj_dim": 768})");
    CHECK(count_parameters(model).total == 125'239'296);
  }
  SUBCASE("gpt_neox (Pythia-160m, untied)") {
    const auto model = parse(R"({"model_type": "gpt_neox", "hidden_size": 768, "num_hidden_layers": 12,
                                 "num_attention_heads": 12, "intermediate_size": 3072,
                                 "vocab_size": 50304, "max_position_embeddings": 2048,
                                 "tie_word_embeddings": false})");
    CHECK(count_parameters(model).total == 162'322'944);
  }
  SUBCASE("bloom (BLOOM-560m: alibi, embedding LayerNorm)") {
    const auto model = parse(R"({"model_type": "bloom", "hidden_size": 1024, "n_layer": 24,
                                 "n_head": 16, "vocab_size": 250880})");
    CHECK(count_parameters(model).total == 559'214'592);
    CHECK(count_parameters(model).position_embedding == 0);
  }
  SUBCASE("mistral (Mistral-7B-v0.1)") {
    const auto model = parse(R"({"model_type": "mistral", "hidden_size": 4096, "num_hidden_layers": 32,
                                 "num_attention_heads": 32, "num_key_value_heads": 8,
                                 "intermediate_size": 14336, "vocab_size": 32000,
                                 "sliding_window": 4096, "tie_word_embeddings": false})");
    CHECK(count_parameters(model).total == 7'241'732'096);
  }
  SUBCASE("qwen3 (Qwen3-8B: explicit head_dim, q/k norms)") {
    const auto model = parse(R"({"model_type": "qwen3", "hidden_size": 4096, "num_hidden_layers": 36,
                                 "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
                                 "intermediate_size": 12288, "vocab_size": 151936,
                                 "tie_word_embeddings": false})");
    CHECK(model.qk_norm);
    CHECK(static_cast<double>(count_parameters(model).total) / 1e9 == doctest::Approx(8.19).epsilon(0.005));
  }
  SUBCASE("qwen3_moe (Qwen3-30B-A3B)") {
    const auto model = parse(R"({"model_type": "qwen3_moe", "hidden_size": 2048, "num_hidden_layers": 48,
                                 "num_attention_heads": 32, "num_key_value_heads": 4, "head_dim": 128,
                                 "intermediate_size": 6144, "moe_intermediate_size": 768,
                                 "num_experts": 128, "num_experts_per_tok": 8, "decoder_sparse_step": 1,
                                 "mlp_only_layers": [], "vocab_size": 151936,
                                 "tie_word_embeddings": false})");
    const auto counts = count_parameters(model);
    CHECK(static_cast<double>(counts.total) / 1e9 == doctest::Approx(30.5).epsilon(0.005));
    CHECK(static_cast<double>(counts.active) / 1e9 == doctest::Approx(3.3).epsilon(0.02));
  }
  SUBCASE("qwen2_moe (Qwen2-57B-A14B: gated shared expert)") {
    const auto model = parse(R"({"model_type": "qwen2_moe", "hidden_size": 3584, "num_hidden_layers": 28,
                                 "num_attention_heads": 28, "num_key_value_heads": 4,
                                 "intermediate_size": 18944, "moe_intermediate_size": 2560,
                                 "shared_expert_intermediate_size": 20480, "num_experts": 64,
                                 "num_experts_per_tok": 8, "vocab_size": 151936,
                                 "tie_word_embeddings": false})");
    const auto counts = count_parameters(model);
    CHECK(static_cast<double>(counts.total) / 1e9 == doctest::Approx(57.4).epsilon(0.005));
    CHECK(static_cast<double>(counts.active) / 1e9 == doctest::Approx(14.2).epsilon(0.01));
    CHECK(model.qkv_bias);
  }
  SUBCASE("deepseek_v2 (DeepSeek-V2-Lite: no q compression)") {
    const auto model = parse(R"({"model_type": "deepseek_v2", "hidden_size": 2048, "num_hidden_layers": 27,
                                 "num_attention_heads": 16, "num_key_value_heads": 16,
                                 "q_lora_rank": null, "kv_lora_rank": 512, "qk_nope_head_dim": 128,
                                 "qk_rope_head_dim": 64, "v_head_dim": 128, "intermediate_size": 10944,
                                 "moe_intermediate_size": 1408, "n_routed_experts": 64,
                                 "num_experts_per_tok": 6, "n_shared_experts": 2,
                                 "first_k_dense_replace": 1, "moe_layer_freq": 1, "vocab_size": 102400,
                                 "tie_word_embeddings": false})");
    const auto counts = count_parameters(model);
    CHECK(static_cast<double>(counts.total) / 1e9 == doctest::Approx(15.7).epsilon(0.005));
    // DeepSeek quotes 2.4B activated without the input embedding (a lookup, no FLOPs).
    CHECK(static_cast<double>(counts.active - counts.embedding) / 1e9 == doctest::Approx(2.45).epsilon(0.02));
    CHECK(model.mtp_layers == 0);
  }
}

TEST_CASE("model::model_from_document rejects what it cannot count") {
  CHECK(input_error_of([] { (void)parse("{\"model_type\": \"llama\",\n\"hidden_size\": 0}"); }) ==
        "config.json:2: hidden_size must be > 0 (got 0)");
  CHECK(input_error_of([] {
          (void)parse(R"({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
                          "num_attention_heads": 6, "vocab_size": 10, "intermediate_size": 8})");
        }).find("num_attention_heads=6 does not divide hidden_size=64") != std::string::npos);
  CHECK(input_error_of([] { (void)parse("{\"model_type\": \"mixtrall\"}"); })
            .find("unsupported model_type 'mixtrall' (did you mean 'mixtral'?)") != std::string::npos);
  CHECK(input_error_of([] {
          (void)parse(R"({"model_type": "qwen2_moe", "hidden_size": 64, "num_hidden_layers": 4,
                          "num_attention_heads": 4, "vocab_size": 10, "num_experts": 4,
                          "num_experts_per_tok": 2, "moe_intermediate_size": 8,
                          "decoder_sparse_step": 2})");
        }).find("decoder_sparse_step=2 is not supported") != std::string::npos);
  CHECK(input_error_of([] { (void)parse("{\"model_type\": \"llama\", \"hidden_size\": 64}"); })
            .find("missing key 'num_hidden_layers'") != std::string::npos);
}

TEST_CASE("model::model_from_document reads the checkpoint's weight format") {
  CHECK(load_model("deepseek-r1").checkpoint_weights == "fp8");
  CHECK(load_model("llama-3.1-8b").checkpoint_weights == "bf16");
  const std::string head = R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100, )";
  const auto mxfp4 = parse(head + R"("quantization_config": {"quant_method": "mxfp4"}})");
  CHECK(mxfp4.checkpoint_weights == "fp4");
  CHECK(mxfp4.checkpoint_mxfp4);
  const auto nvfp4 = parse(head + R"("quantization_config": {"quant_method": "modelopt", "quant_algo": "NVFP4"}})");
  CHECK(nvfp4.checkpoint_weights == "fp4");
  CHECK_FALSE(nvfp4.checkpoint_mxfp4);
  CHECK(load_model("gpt-oss-120b").checkpoint_mxfp4);
  CHECK(parse(head + R"("quantization_config": {"quant_method": "modelopt", "quant_algo": "FP8"}})")
            .checkpoint_weights == "fp8");
  CHECK(input_error_of([&] { (void)parse(head + R"("quantization_config": {"quant_method": "awq"}})"); })
            .find("quantization method 'awq' is not supported") != std::string::npos);
}

TEST_CASE("model::model_from_brix_yaml") {
  const auto gpt = parse("name: tiny\nfamily: gpt\nhidden: 256\nlayers: 2\nheads: 4\n", "m.yaml");
  CHECK(gpt.name == "tiny");
  CHECK(gpt.vocab == 51200);
  CHECK(gpt.max_positions == 2048);
  CHECK(gpt.dropout);
  CHECK(gpt.ffn == 1024);
  const auto llama_like = parse("family: llama\nhidden: 256\nlayers: 2\nheads: 4\nkv_heads: 2\n"
                                "vocab: 1000\nmoe: {routed_experts: 8, experts_per_token: 2, expert_ffn: 64}\n",
                                "m.yaml");
  CHECK(llama_like.norm == NormKind::rmsnorm);
  CHECK(llama_like.mlp == MlpKind::gated);
  CHECK(llama_like.moe->routed_experts == 8);
  CHECK(count_parameters(llama_like).routed_experts == 2 * 8 * 3 * 256 * 64);

  CHECK(input_error_of([] { (void)parse("hidden: 256\nlayers: 2\nheads: 4\ncolour: 3\n", "m.yaml"); }) ==
        "m.yaml:4: unknown key 'colour' in the model file (expected one of brix_model, name, family, hidden, layers, heads, "
        "kv_heads, head_dim, ffn, vocab, max_positions, seq_len, norm, mlp, position, tied_embeddings, qkv_bias, "
        "linear_bias, dropout, embedding_norm, qk_norm, mla, moe, mtp_layers)");
  CHECK(input_error_of([] { (void)parse("hidden: 256\nlayers: 2\nheads: 4\nhiden: 3\n", "m.yaml"); }) ==
        "m.yaml:4: unknown key 'hiden' in the model file (did you mean 'hidden'?)");
  CHECK(input_error_of([] { (void)parse("hidden: 256\nlayers: -2\nheads: 4\n", "m.yaml"); }) ==
        "m.yaml:2: layers must be > 0 (got -2)");
  CHECK(input_error_of([] { (void)parse("hidden: 256\nlayers: 2\nheads: 4\nnorm: rmsnrom\n", "m.yaml"); }) ==
        "m.yaml:4: unknown norm 'rmsnrom' (did you mean 'rmsnorm'?) (one of layernorm, rmsnorm)");
  CHECK(input_error_of([] { (void)parse("family: llama\nhidden: 256\nlayers: 2\nheads: 4\n", "m.yaml"); })
            .find("missing key 'vocab'") != std::string::npos);
  CHECK(input_error_of([] { (void)parse("family: gptx\nhidden: 256\nlayers: 2\nheads: 4\n", "m.yaml"); }) ==
        "m.yaml:1: unknown family 'gptx' (did you mean 'gpt'?) (one of gpt (Megatron GPT defaults), llama (Llama-style "
        "defaults))");
  CHECK(input_error_of([] {
          (void)parse("hidden: 256\nlayers: 2\nheads: 4\nmoe: {routed_experts: 4, experts_per_token: 8, expert_ffn: 8}\n",
                      "m.yaml");
        }) == "m.yaml:4: 8 experts per token, but the model has 4 routed experts (expected at most the number of "
              "routed experts)");
}

TEST_CASE("model::model_from_document bounds sizes, at the line that gave them") {
  const std::string llama = R"({"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 32,
"vocab_size": 128256, "intermediate_size": 14336,
"num_hidden_layers": LAYERS})";
  auto with_layers = [&](const std::string& layers) {
    auto text = llama;
    return text.replace(text.find("LAYERS"), 6, layers);
  };
  // Sizes past every bound would loop for hours or overflow 64-bit counts: refused at once.
  CHECK(input_error_of([&] { (void)parse(with_layers("9223372036854775807")); }) ==
        "config.json:3: layers 9,223,372,036,854,775,807 is larger than any model brix can plan (expected at most 16,384)");
  CHECK(input_error_of([] {
          (void)parse(R"({"model_type": "llama", "hidden_size": 2147483647, "num_attention_heads": 1,
"vocab_size": 2147483647, "intermediate_size": 2147483647, "num_hidden_layers": 2147483647})");
        }).find("config.json:2: layers 2,147,483,647 is larger") == 0);
  CHECK(input_error_of([] {
          (void)parse("{\"model_type\": \"gpt2\", \"n_embd\": 4096, \"n_layer\": 4, \"n_positions\": 1024,\n\"n_head\": 32, \"vocab_size\": 99999999}");
        }).find("config.json:2: vocabulary 99,999,999 is larger") == 0);
  // Every field within its bound, together too large.
  CHECK(input_error_of([] {
          (void)parse("name: big\nhidden: 1000000\nlayers: 16000\nheads: 1000\nvocab: 1000\n", "m.yaml");
        }).find("m.yaml:1: these sizes make a model of ~") == 0);
  // Fields that contradict each other, in a Hugging Face config as in a brix model file.
  const std::string deepseek = R"({"model_type": "deepseek_v3", "hidden_size": 64, "num_hidden_layers": 4,
"num_attention_heads": 4, "vocab_size": 10, "intermediate_size": 8, "kv_lora_rank": 8,
"qk_nope_head_dim": 8, "qk_rope_head_dim": 8, "v_head_dim": 8, "n_routed_experts": 256,
"num_experts_per_tok": NUM, "moe_intermediate_size": 8,
"first_k_dense_replace": FIRST})";
  auto deepseek_with = [&](const std::string& per_token, const std::string& first) {
    auto text = deepseek;
    text.replace(text.find("NUM"), 3, per_token);
    return text.replace(text.find("FIRST"), 5, first);
  };
  CHECK(parse(deepseek_with("8", "3")).moe->first_dense_layers == 3);
  CHECK(input_error_of([&] { (void)parse(deepseek_with("1000", "1")); }) ==
        "config.json:4: 1000 experts per token, but the model has 256 routed experts (expected at most the number of "
        "routed experts)");
  CHECK(input_error_of([&] { (void)parse(deepseek_with("8", "5")); }) ==
        "config.json:5: 5 leading dense layers leave no MoE layer of 4 (expected fewer dense layers than layers)");
}

TEST_CASE("model::load_model resolves bundled names and paths") {
  CHECK(load_model("deepseek-r1").name == "deepseek-r1");
  CHECK(load_model("gpt-175b").family == "gpt");
  CHECK(input_error_of([] { (void)load_model("llama-3.1-450b"); }).find("did you mean 'llama-3.1-405b'") !=
        std::string::npos);
  CHECK(input_error_of([] { (void)load_model("/nonexistent/config.json"); }) ==
        "/nonexistent/config.json: cannot open the file: No such file or directory (expected a readable YAML or JSON file)");
  const auto names = bundled_models();
  CHECK(std::find(names.begin(), names.end(), "mixtral-8x22b") != names.end());

  // A HF checkout is named after its folder.
  const test::TempDir temp;
  const auto dir = temp.path() / "My-Model";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "config.json") << R"({"model_type": "llama", "hidden_size": 64,
    "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100, "intermediate_size": 128})";
  CHECK(load_model((dir / "config.json").string()).name == "My-Model");
}

TEST_CASE("util::config_dir honours BRIX_CONFIG_DIR") {
  {
    const test::ScopedEnv env("BRIX_CONFIG_DIR", "/somewhere/configs");
    CHECK(util::config_dir() == std::filesystem::path("/somewhere/configs"));
    // An explicit folder is not second-guessed: names resolve there or fail there.
    CHECK(input_error_of([] { (void)load_model("deepseek-r1"); }).find("/somewhere/configs/models") !=
          std::string::npos);
  }
  CHECK(std::filesystem::is_directory(util::config_dir() / "models"));
}
