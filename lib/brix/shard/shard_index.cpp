#include <brix/shard/shard_index.hpp>

#include <brix/checkpoint/hash.hpp>
#include <brix/shard/piece_hash.hpp>
#include <brix/util/error.hpp>
#include <brix/util/json_error.hpp>

#include <algorithm>
#include <fmt/format.h>
#include <map>

namespace brix::shard {

namespace {

using Json = nlohmann::ordered_json;

} // namespace

Json shard_index_json(const safetensors::Checkpoint& checkpoint, const ReshardPlan& plan,
                      const plan::PlanFile& plan_file, const model::ModelSpec& model, const PieceHashes& hashes) {
  // The first shard holding each (source, part).
  std::map<std::pair<std::size_t, int>, std::size_t> holder;
  Json shards = Json::array();
  for (std::size_t f = 0; f < plan.files.size(); ++f) {
    const auto& file = plan.files[f];
    for (const auto& tensor : file.tensors) {
      holder.emplace(std::make_pair(tensor.source, tensor.part), f);
    }
    shards.push_back({{"file", file.name},
                      {"pp", file.at.pp},
                      {"tp", file.at.tp},
                      {"ep", file.at.ep},
                      {"expert_tp", file.at.expert_tp},
                      {"tensors", file.tensors.size()}});
  }
  Json files = Json::array();
  std::size_t s = 0;
  for (std::size_t f = 0; f < checkpoint.files.size(); ++f) {
    const auto& source = checkpoint.files[f];
    Json tensors = Json::array();
    for (; s < plan.sources.size() && plan.sources[s].location.file == f; ++s) {
      const auto& tensor = plan.sources[s];
      const auto& info = *tensor.location.info;
      Json pieces = Json::array();
      Json digests = Json::array();
      for (int part = 0; part < tensor.split.parts; ++part) {
        pieces.push_back(holder.at({s, part}));
        digests.push_back(hashes.at({s, part}));
      }
      tensors.push_back({{"name", tensor.name},
                         {"dtype", safetensors::dtype_name(info.dtype)},
                         {"shape", info.shape},
                         {"begin", info.begin},
                         {"split", split_name(tensor.split.role.split)},
                         {"dim", tensor.split.dim},
                         {"expert", tensor.split.role.expert},
                         {"shards", pieces},
                         {k_piece_hash_name, digests}});
    }
    files.push_back({{"name", checkpoint.file_names[f]},
                     {"size", source.file_size()},
                     {"header", std::string(source.header_bytes())},
                     {"tensors", tensors}});
  }
  return Json{{"brix_shards", k_shard_index_version},
              {"model", model.name},
              {"layout", plan::layout_to_json(plan_file.layout)},
              {"fp8_block", plan.fp8_block},
              {"shards", shards},
              {"source",
               {{"index_name", checkpoint.index_name}, {"index_text", checkpoint.index_text}, {"files", files}}}};
}

ShardIndex read_shard_index(const std::string& path) {
  const auto text = safetensors::read_small_file(path);
  auto fail = [&](const std::string& what) { fail_input(path, 0, what, "an index written by brix shard weights"); };
  Json root;
  try {
    root = Json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    util::fail_json_syntax(path, text, e, "an index written by brix shard weights");
  } catch (const nlohmann::json::out_of_range& e) {
    util::fail_json_number(path, e, "an index written by brix shard weights");
  }
  ShardIndex index;
  try {
    const auto version = root.value("brix_shards", 0);
    if (version != k_shard_index_version && version != 2) {
      fail(version == 1 ? std::string("brix_shards 1 records no hashes of the pieces, so a damaged shard would go "
                                      "unnoticed; run brix shard weights again")
                        : fmt::format("brix_shards is not {} (or 2)", k_shard_index_version));
    }
    index.hash_kind = version == 2 ? PieceHashKind::sha256 : PieceHashKind::xxh3_128;
    const char* hash_key = version == 2 ? checkpoint::k_hash_name : k_piece_hash_name;
    const auto is_hash = [&](const std::string& hash) {
      return version == 2 ? checkpoint::is_hash_text(hash) : is_piece_hash_text(hash);
    };
    index.model = root.at("model").get<std::string>();
    for (const auto& shard : root.at("shards")) {
      const auto name = shard.at("file").get<std::string>();
      if (!safetensors::is_plain_file_name(name)) {
        fail(fmt::format("shard file name '{}' leaves the folder", name));
      }
      index.shard_files.push_back(name);
    }
    const auto& source = root.at("source");
    index.index_name = source.at("index_name").get<std::string>();
    index.index_text = source.at("index_text").get<std::string>();
    if (!index.index_name.empty() && !safetensors::is_plain_file_name(index.index_name)) {
      fail(fmt::format("index name '{}' leaves the folder", index.index_name));
    }
    for (const auto& file : source.at("files")) {
      IndexSourceFile out;
      out.name = file.at("name").get<std::string>();
      if (!safetensors::is_plain_file_name(out.name)) {
        fail(fmt::format("file name '{}' leaves the folder", out.name));
      }
      out.size = file.at("size").get<std::uint64_t>();
      out.header = file.at("header").get<std::string>();
      for (const auto& tensor : file.at("tensors")) {
        IndexTensor entry;
        entry.name = tensor.at("name").get<std::string>();
        const auto dtype = safetensors::parse_dtype(tensor.at("dtype").get<std::string>());
        if (!dtype) {
          fail(fmt::format("tensor '{}': unknown dtype", entry.name));
        }
        entry.dtype = *dtype;
        entry.shape = tensor.at("shape").get<std::vector<std::int64_t>>();
        entry.begin = tensor.at("begin").get<std::uint64_t>();
        entry.dim = tensor.at("dim").get<int>();
        entry.shards = tensor.at("shards").get<std::vector<std::size_t>>();
        const auto parts = entry.shards.size();
        if (parts == 0 || (parts > 1 && (entry.dim < 0 || entry.dim >= static_cast<int>(entry.shape.size()) ||
                                         entry.shape[static_cast<std::size_t>(entry.dim)] % static_cast<std::int64_t>(parts) != 0))) {
          fail(fmt::format("tensor '{}': {} pieces do not split dimension {} of {}", entry.name, parts, entry.dim,
                           safetensors::shape_text(entry.shape)));
        }
        for (const auto shard : entry.shards) {
          if (shard >= index.shard_files.size()) {
            fail(fmt::format("tensor '{}': shard {} does not exist", entry.name, shard));
          }
        }
        entry.hashes = tensor.at(hash_key).get<std::vector<std::string>>();
        if (entry.hashes.size() != parts || !std::all_of(entry.hashes.begin(), entry.hashes.end(), is_hash)) {
          fail(fmt::format("tensor '{}': expected one {} ({} hex digits) per piece", entry.name,
                           version == 2 ? "SHA-256" : "XXH3-128", version == 2 ? 64 : 32));
        }
        out.tensors.push_back(std::move(entry));
      }
      index.files.push_back(std::move(out));
    }
  } catch (const nlohmann::json::exception& e) {
    const std::string message = e.what();
    fail(fmt::format("unexpected content: {}", message.substr(message.find("] ") + 2)));
  }
  return index;
}

} // namespace brix::shard
