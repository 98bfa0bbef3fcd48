#include <brix/checkpoint/manifest.hpp>

#include <brix/checkpoint/hash.hpp>
#include <brix/safetensors/checkpoint.hpp>
#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <charconv>
#include <fmt/format.h>
#include <limits>
#include <set>
#include <type_traits>
#include <utility>

namespace brix::checkpoint {

using Json = nlohmann::ordered_json;

std::uint64_t Manifest::bytes() const {
  std::uint64_t total = 0;
  for (const auto& file : files) {
    total += file.size;
  }
  return total;
}

namespace {

Json body_of(const Manifest& manifest) {
  Json files = Json::array();
  for (const auto& file : manifest.files) {
    Json chunks = Json::array();
    for (const auto& chunk : file.chunks) {
      chunks.push_back(Json::array({chunk.hash, chunk.size}));
    }
    files.push_back({{"name", file.name}, {"size", file.size}, {k_hash_name, file.hash}, {"chunks", chunks}});
  }
  return {{"brix_checkpoint", manifest.version}, {"step", manifest.step},
          {"hash", k_hash_name},                 {"chunk_size", manifest.chunk_size},
          {"bytes", manifest.bytes()},           {"new_bytes", manifest.new_bytes},
          {"layout", manifest.layout},           {"files", files}};
}

[[noreturn]] void bad(std::string_view source, std::string_view what) {
  throw JobError(fmt::format("{}: {}", source, what));
}

template <typename T>
T field(const Json& json, const char* key, std::string_view source) {
  if (!json.is_object() || !json.contains(key)) {
    bad(source, fmt::format("manifest lacks \"{}\"", key));
  }
  if constexpr (std::is_unsigned_v<T>) {
    // nlohmann would read -1 as 2^64 - 1: sizes and counts are whole numbers >= 0 as written.
    if (json.at(key).is_number() && !json.at(key).is_number_unsigned()) {
      bad(source, fmt::format("manifest field \"{}\" must be a whole number >= 0 (got {})", key, json.at(key).dump()));
    }
  }
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // A float (2.2e52) or an integer beyond T would be converted by nlohmann with undefined
    // behaviour (fuzz.checkpoint_manifest, UBSan): whole numbers in range only.
    const auto& value = json.at(key);
    if (value.is_number()) {
      const bool fits = value.is_number_unsigned() ? std::in_range<T>(value.get<std::uint64_t>())
                        : value.is_number_integer() ? std::in_range<T>(value.get<std::int64_t>())
                                                    : false;
      if (!fits) {
        bad(source, fmt::format("manifest field \"{}\" must be a whole number in range (got {})", key, value.dump()));
      }
    }
  }
  try {
    return json.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    bad(source, fmt::format("manifest field \"{}\" has the wrong type", key));
  }
}

} // namespace

std::string manifest_text(const Manifest& manifest) {
  Json document = body_of(manifest);
  const auto self = sha256_hex(document.dump());
  document["manifest_sha256"] = self;
  return document.dump(1) + "\n";
}

Manifest parse_manifest(std::string_view text, std::string_view source) {
  Json document;
  try {
    document = Json::parse(text);
  } catch (const nlohmann::json::exception&) {
    bad(source, "manifest is not valid JSON (truncated or damaged)");
  }
  const auto self = field<std::string>(document, "manifest_sha256", source);
  document.erase("manifest_sha256");
  if (sha256_hex(document.dump()) != self) {
    bad(source, "manifest does not match its own manifest_sha256 (damaged)");
  }
  Manifest manifest;
  manifest.version = field<int>(document, "brix_checkpoint", source);
  if (manifest.version != k_manifest_version) {
    bad(source, fmt::format("manifest version {} (this brix reads {})", manifest.version, k_manifest_version));
  }
  if (field<std::string>(document, "hash", source) != k_hash_name) {
    bad(source, fmt::format("manifest hash is not {}", k_hash_name));
  }
  manifest.step = field<std::int64_t>(document, "step", source);
  if (manifest.step < 0) {
    bad(source, fmt::format("manifest step {} is negative", manifest.step));
  }
  manifest.chunk_size = field<std::uint64_t>(document, "chunk_size", source);
  if (manifest.chunk_size == 0) {
    bad(source, "manifest chunk_size is 0 (files are cut into chunks of that size)");
  }
  manifest.new_bytes = field<std::uint64_t>(document, "new_bytes", source);
  manifest.layout = document.value("layout", Json::object());
  std::set<std::string> names;
  for (const auto& file : field<Json>(document, "files", source)) {
    FileEntry entry;
    entry.name = field<std::string>(file, "name", source);
    if (!names.insert(entry.name).second) {
      bad(source, fmt::format("file '{}' is listed twice", util::printable(entry.name)));
    }
    entry.size = field<std::uint64_t>(file, "size", source);
    entry.hash = field<std::string>(file, k_hash_name, source);
    if (!safetensors::is_plain_file_name(entry.name) || !is_hash_text(entry.hash)) {
      bad(source, fmt::format("file entry '{}' has a bad name or hash", entry.name));
    }
    std::uint64_t total = 0;
    for (const auto& chunk : field<Json>(file, "chunks", source)) {
      if (!chunk.is_array() || chunk.size() != 2 || !chunk[0].is_string() || !chunk[1].is_number_unsigned() ||
          !is_hash_text(chunk[0].get<std::string>())) {
        bad(source, fmt::format("file '{}' has a malformed chunk entry", entry.name));
      }
      entry.chunks.push_back({chunk[0].get<std::string>(), chunk[1].get<std::uint64_t>()});
      const auto size = entry.chunks.back().size;
      if (size == 0 || size > manifest.chunk_size) {
        bad(source, fmt::format("file '{}': a chunk of {} bytes (expected 1 to chunk_size = {})", entry.name, size,
                                manifest.chunk_size));
      }
      if (total > std::numeric_limits<std::uint64_t>::max() - size) {
        bad(source, fmt::format("file '{}': its chunks add up to more than 2^64 bytes", entry.name));
      }
      total += size;
    }
    if (total != entry.size) {
      bad(source, fmt::format("file '{}': chunks add up to {} bytes, size says {}", entry.name, total, entry.size));
    }
    manifest.files.push_back(std::move(entry));
  }
  return manifest;
}

std::string manifest_name(std::int64_t step) { return fmt::format("step_{:010d}.json", step); }

std::int64_t step_of_manifest_name(std::string_view name) {
  constexpr std::string_view prefix = "step_";
  constexpr std::string_view suffix = ".json";
  if (name.size() <= prefix.size() + suffix.size() || !name.starts_with(prefix) || !name.ends_with(suffix)) {
    return -1;
  }
  const auto digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  std::int64_t step = -1;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), step);
  return error == std::errc() && end == digits.data() + digits.size() && step >= 0 ? step : -1;
}

FileEntry chunk_file(std::string name, std::string_view bytes, std::uint64_t chunk_size) {
  FileEntry entry;
  entry.name = std::move(name);
  entry.size = bytes.size();
  entry.hash = sha256_hex(bytes);
  for (std::uint64_t offset = 0; offset < bytes.size(); offset += chunk_size) {
    const auto piece = bytes.substr(offset, chunk_size);
    entry.chunks.push_back({sha256_hex(piece), piece.size()});
  }
  return entry;
}

} // namespace brix::checkpoint
