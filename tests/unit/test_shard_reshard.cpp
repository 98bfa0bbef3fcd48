#include <support/synthetic_checkpoint.hpp>
#include <support/temp_dir.hpp>

#include <brix/checkpoint/hash.hpp>
#include <brix/plan/plan_file.hpp>
#include <brix/safetensors/checkpoint.hpp>
#include <brix/safetensors/reader.hpp>
#include <brix/shard/piece_hash.hpp>
#include <brix/shard/reshard.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
using namespace brix;

namespace {

plan::PlanFile plan_for(const fs::path& hf, const std::string& layout) {
  const auto dp = std::stoi(layout.substr(layout.find("dp: ") + 4));
  return plan::parse_plan_file(fmt::format("brix_plan: 1\nmodel: {{name: synthetic, source: {}}}\n"
                                           "cluster: {{name: c, source: c.yaml}}\nseq_len: 4096\n"
                                           "batch: {{global: {}, micro: 1, accumulation: 4}}\nlayout: {}\n",
                                           (hf / "config.json").string(), 4 * dp, layout),
                               "plan.yaml");
}

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// The stage (pipeline rank) of a layer under Megatron's split of `layers` over pp · vpp stages:
/// equal stages when they divide the layers, else middle stages of ⌈layers/stages⌉ and the rest
/// shared by the first and last (the first the larger half; every case here leaves both some);
/// MTP layers ride on the last stage.
int pipeline_rank_of(int layer, int layers, const plan::Layout& layout) {
  const int stages = layout.pp * layout.vpp;
  if (layer >= layers) {
    return layout.pp - 1;
  }
  const int most = (layers + stages - 1) / stages;
  const int ends = layers - (stages - 2) * most;
  int first = 0;
  for (int s = 0; s < stages; ++s) {
    int size = most;
    if (layers % stages == 0) {
      size = layers / stages;
    } else if (s == 0) {
      size = (ends + 1) / 2;
    } else if (s == stages - 1) {
      size = ends / 2;
    }
    if (layer < first + size) {
      return s % layout.pp;
    }
    first += size;
  }
  return -1;
}

/// The dimension Megatron-LM's tensor parallelism cuts a Hugging Face tensor along, from its name
/// alone (-1: every rank keeps it whole). Column-parallel layers (q/k/v, gate/up, MLA q_b/kv_b,
/// the MTP eh_proj) cut their output rows, dim 0; row-parallel layers (o_proj, down_proj / w2)
/// their input columns, dim 1, and keep their bias whole; vocabulary-parallel embeddings and heads
/// cut dim 0; norms, routers and the MLA down-projections stay whole. A weight_scale_inv follows
/// its weight.
int megatron_split_dim(std::string name) {
  if (name.ends_with("_scale_inv")) {
    name.erase(name.size() - std::string_view("_scale_inv").size());
  }
  const auto last_dot = name.rfind('.');
  const std::string param = name.substr(last_dot + 1);
  const std::string module_path = name.substr(0, last_dot);
  const std::string module = module_path.substr(module_path.rfind('.') + 1);
  static const std::set<std::string> column{"q_proj", "k_proj", "v_proj", "gate_proj", "up_proj", "w1", "w3",
                                            "q_b_proj", "kv_b_proj", "eh_proj"};
  static const std::set<std::string> row{"o_proj", "down_proj", "w2"};
  static const std::set<std::string> vocab{"embed_tokens", "lm_head", "head"};
  if (column.count(module) != 0) {
    return 0;
  }
  if (row.count(module) != 0) {
    return param == "bias" ? -1 : 1;
  }
  if (vocab.count(module) != 0) {
    return 0;
  }
  return -1;
}

/// Checks every shard against the original, independently of the resharder: which tensors each
/// file must hold and where each is cut (from the names alone), their piece shapes, and their
/// bytes element by element.
void check_shards(const fs::path& hf, const fs::path& out, const plan::Layout& layout, int layers, int experts,
                  bool tied) {
  const auto checkpoint = safetensors::open_checkpoint(hf.string());
  const auto index = nlohmann::json::parse(file_bytes(out / "brix-shards.json"));
  std::map<std::string, int> split_dim;
  for (const auto& file : index["source"]["files"]) {
    for (const auto& tensor : file["tensors"]) {
      const std::string name = tensor["name"];
      split_dim[name] = megatron_split_dim(name);
      // brix's own index must say the same; the pieces below are cut by the derived dimension.
      CHECK_MESSAGE(tensor["dim"].get<int>() == split_dim[name], name);
    }
  }
  const std::regex layer_re(R"(^model\.layers\.(\d+)\.)");
  const std::regex expert_re(R"(\.experts\.(\d+)\.)");
  std::set<std::string> seen;
  int files = 0;
  for (const auto& shard : index["shards"]) {
    ++files;
    const int pp = shard["pp"], tp = shard["tp"], ep = shard["ep"], etp = shard["expert_tp"];
    const auto file = safetensors::SafetensorsFile::open((out / shard["file"].get<std::string>()).string());
    std::set<std::string> expected;
    for (const auto& [name, location] : checkpoint.tensors) {
      std::smatch match;
      bool here = false;
      if (std::regex_search(name, match, layer_re)) {
        here = pipeline_rank_of(std::stoi(match[1]), layers, layout) == pp;
      } else if (name == "model.embed_tokens.weight") {
        here = pp == 0 || (tied && pp == layout.pp - 1);
      } else {
        here = pp == layout.pp - 1;
      }
      if (here && std::regex_search(name, match, expert_re)) {
        here = std::stoi(match[1]) / (experts / layout.ep) == ep;
      }
      if (here) {
        expected.insert(name);
      }
    }
    std::set<std::string> actual;
    for (const auto& tensor : file.tensors()) {
      actual.insert(tensor.name);
    }
    CHECK_MESSAGE(actual == expected, shard["file"].get<std::string>());
    for (const auto& piece : file.tensors()) {
      const auto& source = *checkpoint.tensors.at(piece.name).info;
      const auto& source_file = checkpoint.files[checkpoint.tensors.at(piece.name).file];
      const int dim = split_dim.at(piece.name);
      const bool expert = piece.name.find(".experts.") != std::string::npos;
      const int parts = dim < 0 ? 1 : (expert ? layout.etp : layout.tp);
      const int part = dim < 0 ? 0 : (expert ? etp : tp);
      auto shape = source.shape;
      if (dim >= 0) {
        shape[static_cast<std::size_t>(dim)] /= parts;
      }
      REQUIRE_MESSAGE(piece.shape == shape, piece.name);
      REQUIRE(piece.dtype == source.dtype);
      // Element by element: piece index i maps to the source index with i[dim] + part · size.
      const auto element = safetensors::dtype_size(source.dtype);
      const auto src = source_file.data(source);
      const auto dst = file.data(piece);
      const auto count = safetensors::element_count(shape).value();
      std::vector<std::int64_t> at(shape.size(), 0);
      bool same = true;
      for (std::uint64_t i = 0; i < count && same; ++i) {
        std::uint64_t flat = 0;
        for (std::size_t d = 0; d < shape.size(); ++d) {
          const auto coordinate = at[d] + (static_cast<int>(d) == dim ? part * shape[d] : 0);
          flat = flat * static_cast<std::uint64_t>(source.shape[d]) + static_cast<std::uint64_t>(coordinate);
        }
        same = std::memcmp(&dst[i * element], &src[flat * element], element) == 0;
        for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
          if (++at[static_cast<std::size_t>(d)] < shape[static_cast<std::size_t>(d)]) {
            break;
          }
          at[static_cast<std::size_t>(d)] = 0;
        }
      }
      CHECK_MESSAGE(same, piece.name, " in ", shard["file"].get<std::string>());
      seen.insert(piece.name);
    }
  }
  CHECK(seen.size() == checkpoint.tensors.size()); // every tensor went somewhere
  CHECK(files == static_cast<int>(std::distance(fs::directory_iterator(out), {})) - 1);
}

/// Merges `out` back and compares every original file byte for byte.
void check_round_trip(const fs::path& hf, const fs::path& out, const fs::path& back) {
  const auto stats = shard::merge_shards(out.string(), back.string(), 3);
  std::size_t compared = 0;
  for (const auto& entry : fs::directory_iterator(hf)) {
    const auto name = entry.path().filename().string();
    if (name == "config.json") {
      continue;
    }
    REQUIRE_MESSAGE(fs::exists(back / name), name);
    CHECK_MESSAGE(file_bytes(entry.path()) == file_bytes(back / name), name);
    ++compared;
  }
  CHECK(compared == stats.files);
  CHECK(static_cast<std::size_t>(std::distance(fs::directory_iterator(back), {})) == compared);
}

void reshard_and_check(const test::SyntheticCheckpoint& model, int source_files, const std::string& layout,
                       int layers, int experts, bool tied = false) {
  CAPTURE(layout);
  const test::TempDir dir;
  test::write_checkpoint((dir.path() / "hf").string(), model, source_files, 7, source_files > 1);
  const auto plan = plan_for(dir.path() / "hf", layout);
  const auto job = shard::prepare_reshard(plan, (dir.path() / "hf").string());
  const auto stats = shard::write_reshard(job.checkpoint, job.plan, plan, job.model, (dir.path() / "out").string(), 3);
  CHECK(stats.files == job.plan.files.size());
  CHECK(!fs::exists(dir.path() / fmt::format("out.tmp.{}", ::getpid())));
  check_shards(dir.path() / "hf", dir.path() / "out", plan.layout, layers, experts, tied);
  check_round_trip(dir.path() / "hf", dir.path() / "out", dir.path() / "back");
}

/// The error of resharding `model` for `layout`, with the temporary folder's path left out
/// ("model-00001-of-00002.safetensors: tensor ...", "<hf>/config.json" → "config.json").
std::string reshard_error(const test::SyntheticCheckpoint& model, const std::string& layout) {
  const test::TempDir dir;
  test::write_checkpoint((dir.path() / "hf").string(), model, 2);
  const auto plan = plan_for(dir.path() / "hf", layout);
  try {
    const auto job = shard::prepare_reshard(plan, (dir.path() / "hf").string());
    (void)shard::write_reshard(job.checkpoint, job.plan, plan, job.model, (dir.path() / "out").string(), 2);
  } catch (const InputError& e) {
    CHECK(!fs::exists(dir.path() / "out"));
    std::string message = e.what();
    const auto folder = (dir.path() / "hf").string() + "/";
    for (auto at = message.find(folder); at != std::string::npos; at = message.find(folder)) {
      message.erase(at, folder.size());
    }
    return message;
  }
  return "";
}

} // namespace

TEST_CASE("shard::reshard DeepSeek-V3-shaped FP8 checkpoint") {
  const auto model = test::deepseek_v3_like({});
  SUBCASE("tp 2, pp 2, dp 2, ep 4") { reshard_and_check(model, 3, "{tp: 2, pp: 2, dp: 2, ep: 4}", 4, 8); }
  SUBCASE("tp 4, ep 2, etp 2") { reshard_and_check(model, 2, "{tp: 4, pp: 1, dp: 1, ep: 2, etp: 2}", 4, 8); }
  SUBCASE("pp 3 (uneven), single file") { reshard_and_check(model, 1, "{tp: 1, pp: 3, dp: 1}", 4, 8); }
}

TEST_CASE("shard::reshard Llama-shaped checkpoint") {
  SUBCASE("tp 4, pp 2") { reshard_and_check(test::llama_like({}), 2, "{tp: 4, pp: 2, dp: 1}", 4, 1); }
  SUBCASE("tied embeddings, pp 2") {
    test::LlamaShape shape;
    shape.tied = true;
    reshard_and_check(test::llama_like(shape), 2, "{tp: 2, pp: 2, dp: 2}", 4, 1, true);
  }
  SUBCASE("interleaved, pp 2 × vpp 2") {
    reshard_and_check(test::llama_like({}), 2, "{tp: 2, pp: 2, dp: 1, vpp: 2, schedule: interleaved}", 4, 1);
  }
}

TEST_CASE("shard::reshard refuses what it cannot place") {
  // o_proj's input has 8 heads × 64 = 512 columns: 8 parts of 64 cut its 128-wide FP8 blocks.
  // Every message is "<file>: <what> (<expected>)", the file being the checkpoint file or the plan.
  CHECK(reshard_error(test::deepseek_v3_like({}), "{tp: 8, pp: 1, dp: 1}") ==
        "model-00001-of-00002.safetensors: tensor 'model.layers.0.self_attn.o_proj.weight': splitting dimension 1 "
        "(512) into 8 parts of 64 cuts through its 128-wide FP8 scale blocks (each part must be a whole number of "
        "blocks)");
  // 4 key/value heads of 32 rows over 8 ranks.
  CHECK(reshard_error(test::llama_like({}), "{tp: 8, pp: 1, dp: 1}") ==
        "model-00001-of-00002.safetensors: tensor 'model.layers.0.self_attn.k_proj.weight': 128 rows of 32 per head "
        "do not split into 8 parts of whole heads (4 heads) (the number of heads must be a multiple of the "
        "tensor-parallel size)");
  auto unknown = test::llama_like({});
  unknown.tensors.push_back({"model.layers.1.self_attn.mystery.weight", safetensors::Dtype::bf16, {4, 4}});
  CHECK(reshard_error(unknown, "{tp: 2, pp: 1, dp: 1}") ==
        "model-00002-of-00002.safetensors: tensor 'model.layers.1.self_attn.mystery.weight': no known parallel "
        "role (model hf) (brix places the Llama/Mistral/Qwen/Mixtral/DeepSeek tensor names of transformers)");
  auto beyond = test::deepseek_v3_like({});
  beyond.tensors.push_back({"model.layers.2.mlp.experts.8.up_proj.weight", safetensors::Dtype::bf16, {4, 4}});
  CHECK(reshard_error(beyond, "{tp: 1, pp: 1, dp: 2, ep: 2}")
            .ends_with("tensor 'model.layers.2.mlp.experts.8.up_proj.weight': no known parallel role (model hf) (brix "
                       "places the Llama/Mistral/Qwen/Mixtral/DeepSeek tensor names of transformers)"));
  // 8 routed experts over ep 3: the plan's layout is at fault.
  CHECK(reshard_error(test::deepseek_v3_like({}), "{tp: 1, pp: 1, dp: 3, ep: 3}") ==
        "plan.yaml: layout ep 3 does not split the 8 routed experts of hf (ep dividing 8)");
}

TEST_CASE("shard::reshard checks every tensor's shape against the model config") {
  // q_proj with the right byte count but the wrong shape: [128, 512] where the config says
  // 8 heads × 32 = 256 rows of hidden 256.
  auto wrong = test::llama_like({});
  for (auto& tensor : wrong.tensors) {
    if (tensor.name == "model.layers.0.self_attn.q_proj.weight") {
      tensor.shape = {128, 512};
    }
  }
  CHECK(reshard_error(wrong, "{tp: 2, pp: 1, dp: 1}") ==
        "model-00001-of-00002.safetensors: tensor 'model.layers.0.self_attn.q_proj.weight': shape [128, 512] does "
        "not match the model config (expected [256, 256] = [heads × head_dim, hidden] from config.json)");
  // With tp 1 nothing is split, and the shape is still checked.
  CHECK(reshard_error(wrong, "{tp: 1, pp: 1, dp: 1}").find("shape [128, 512] does not match") != std::string::npos);
  // MLA and MoE roles: kv_b_proj from the MLA ranks, an expert from the expert intermediate size.
  auto mla = test::deepseek_v3_like({});
  for (auto& tensor : mla.tensors) {
    if (tensor.name == "model.layers.1.self_attn.kv_b_proj.weight") {
      tensor.shape = {512, 256}; // the bytes of [8 × (64 + 64), 128]
    }
    if (tensor.name == "model.layers.1.self_attn.kv_b_proj.weight_scale_inv") {
      tensor.shape = {4, 2};
    }
  }
  CHECK(reshard_error(mla, "{tp: 2, pp: 1, dp: 1}")
            .ends_with("tensor 'model.layers.1.self_attn.kv_b_proj.weight': shape [512, 256] does not match the "
                       "model config (expected [1024, 128] = [heads × (qk_nope_head_dim + v_head_dim), kv_lora_rank] "
                       "from config.json)"));
  auto expert = test::deepseek_v3_like({});
  for (auto& tensor : expert.tensors) {
    if (tensor.name == "model.layers.2.mlp.experts.3.down_proj.weight") {
      tensor.shape = {512, 256};
    }
    if (tensor.name == "model.layers.2.mlp.experts.3.down_proj.weight_scale_inv") {
      tensor.shape = {4, 2};
    }
  }
  CHECK(reshard_error(expert, "{tp: 1, pp: 1, dp: 2, ep: 2}")
            .ends_with("tensor 'model.layers.2.mlp.experts.3.down_proj.weight': shape [512, 256] does not match the "
                       "model config (expected [256, 512] = [hidden, moe_intermediate] from config.json)"));
}

TEST_CASE("shard::merge refuses shards that disagree with the index") {
  const test::TempDir dir;
  test::write_checkpoint((dir.path() / "hf").string(), test::llama_like({}), 2);
  const auto plan = plan_for(dir.path() / "hf", "{tp: 2, pp: 1, dp: 1}");
  const auto job = shard::prepare_reshard(plan, (dir.path() / "hf").string());
  (void)shard::write_reshard(job.checkpoint, job.plan, plan, job.model, (dir.path() / "out").string(), 2);
  CHECK_THROWS_WITH_AS(shard::merge_shards((dir.path() / "out").string(), (dir.path() / "out").string(), 2),
                       doctest::Contains("already exists"), InputError);
  fs::remove(dir.path() / "out" / "model-pp000-tp01-ep000.safetensors");
  CHECK_THROWS_WITH_AS(shard::merge_shards((dir.path() / "out").string(), (dir.path() / "back").string(), 2),
                       doctest::Contains("model-pp000-tp01-ep000.safetensors: cannot open the file"), InputError);
  CHECK(!fs::exists(dir.path() / "back"));
}

TEST_CASE("shard::merge detects a flipped byte in a shard") {
  const test::TempDir dir;
  test::write_checkpoint((dir.path() / "hf").string(), test::llama_like({}), 2);
  const auto plan = plan_for(dir.path() / "hf", "{tp: 2, pp: 1, dp: 1}");
  const auto job = shard::prepare_reshard(plan, (dir.path() / "hf").string());
  (void)shard::write_reshard(job.checkpoint, job.plan, plan, job.model, (dir.path() / "out").string(), 2);
  const auto index = nlohmann::json::parse(file_bytes(dir.path() / "out" / "brix-shards.json"));
  CHECK(index["brix_shards"] == 3);
  CHECK(index["source"]["files"][0]["tensors"][0]["xxh3_128"].size() == index["source"]["files"][0]["tensors"][0]["shards"].size());
  // The last byte of a shard is tensor data: flip it, keeping the file's size and header.
  const auto shard = dir.path() / "out" / "model-pp000-tp01-ep000.safetensors";
  auto bytes = file_bytes(shard);
  bytes.back() = static_cast<char>(bytes.back() ^ 0x01);
  std::ofstream(shard, std::ios::binary | std::ios::trunc) << bytes;
  CHECK_THROWS_WITH_AS(shard::merge_shards((dir.path() / "out").string(), (dir.path() / "back").string(), 2),
                       doctest::Contains("model-pp000-tp01-ep000.safetensors: tensor '"), InputError);
  CHECK_THROWS_WITH_AS(shard::merge_shards((dir.path() / "out").string(), (dir.path() / "back").string(), 2),
                       doctest::Contains("does not match the XXH3-128 checksum in brix-shards.json"), InputError);
  CHECK(!fs::exists(dir.path() / "back")); // nothing left behind
  bytes.back() = static_cast<char>(bytes.back() ^ 0x01);
  std::ofstream(shard, std::ios::binary | std::ios::trunc) << bytes;
  CHECK(shard::merge_shards((dir.path() / "out").string(), (dir.path() / "back").string(), 2).files > 0);
}

TEST_CASE("shard::merge still reads and checks a version 2 index (a SHA-256 per piece)") {
  const test::TempDir dir;
  test::write_checkpoint((dir.path() / "hf").string(), test::llama_like({}), 2);
  const auto plan = plan_for(dir.path() / "hf", "{tp: 2, pp: 1, dp: 1}");
  const auto job = shard::prepare_reshard(plan, (dir.path() / "hf").string());
  (void)shard::write_reshard(job.checkpoint, job.plan, plan, job.model, (dir.path() / "out").string(), 2);
  // The index as version 2 wrote it: each piece's SHA-256, read from the shard that holds it.
  auto index = nlohmann::ordered_json::parse(file_bytes(dir.path() / "out" / "brix-shards.json"));
  std::vector<safetensors::SafetensorsFile> shards;
  for (const auto& shard : index["shards"]) {
    shards.push_back(safetensors::SafetensorsFile::open((dir.path() / "out" / shard["file"].get<std::string>()).string()));
  }
  for (auto& file : index["source"]["files"]) {
    for (auto& tensor : file["tensors"]) {
      nlohmann::ordered_json digests = nlohmann::ordered_json::array();
      for (const auto& holder : tensor["shards"]) {
        const auto& shard = shards.at(holder.get<std::size_t>());
        const auto* info = shard.find(tensor["name"].get<std::string>());
        REQUIRE(info != nullptr);
        const auto bytes = shard.data(*info);
        digests.push_back(checkpoint::sha256_hex({reinterpret_cast<const char*>(bytes.data()), bytes.size()}));
      }
      tensor.erase("xxh3_128");
      tensor["sha256"] = digests;
    }
  }
  index["brix_shards"] = 2;
  std::ofstream(dir.path() / "out" / "brix-shards.json", std::ios::trunc) << index.dump(1);
  shards.clear();
  CHECK(shard::merge_shards((dir.path() / "out").string(), (dir.path() / "back").string(), 2).files > 0);
  // A flipped byte is named against the SHA-256.
  const auto victim = dir.path() / "out" / "model-pp000-tp01-ep000.safetensors";
  auto bytes = file_bytes(victim);
  bytes.back() = static_cast<char>(bytes.back() ^ 0x01);
  std::ofstream(victim, std::ios::binary | std::ios::trunc) << bytes;
  CHECK_THROWS_WITH_AS(shard::merge_shards((dir.path() / "out").string(), (dir.path() / "back2").string(), 2),
                       doctest::Contains("does not match the SHA-256 in brix-shards.json"), InputError);
}

TEST_CASE("shard::piece_hash_hex is XXH3-128, whole or in runs") {
  // The reference digest of no bytes (xxHash's own test vector).
  CHECK(shard::piece_hash_hex({}) == "99aa06d3014798d86001c324468d497f");
  std::vector<std::byte> data(100'000);
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<std::byte>((i * 131) % 251);
  }
  const auto whole = shard::piece_hash_hex(data);
  shard::PieceHasher runs;
  runs.update(std::span(data).first(7));
  runs.update(std::span(data).subspan(7, 40'000));
  runs.update(std::span(data).subspan(40'007));
  CHECK(runs.hex() == whole);
  CHECK(shard::is_piece_hash_text(whole));
  data[5] ^= std::byte{1};
  CHECK(shard::piece_hash_hex(data) != whole);
  CHECK_FALSE(shard::is_piece_hash_text("99AA06D3014798D86001C324468D497F"));
  CHECK_FALSE(shard::is_piece_hash_text("99aa06d3"));
}
