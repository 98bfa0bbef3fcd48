#include <brix/safetensors/checkpoint.hpp>

#include <brix/util/error.hpp>
#include <brix/util/input_file.hpp>
#include <brix/util/json_error.hpp>

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <set>

namespace brix::safetensors {

namespace fs = std::filesystem;

namespace {

/// The line of the index that names `tensor` (0 when it is not there).
int index_line(std::string_view text, const std::string& tensor) {
  const auto at = text.find(fmt::format("\"{}\"", tensor));
  return at == std::string_view::npos ? 0 : 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

constexpr std::string_view k_weight_map_expected = "the weight_map names every tensor of the folder's files once";

} // namespace

std::string read_small_file(const std::string& path) {
  return util::read_input_file(path, "a readable file");
}

bool is_plain_file_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

std::uint64_t Checkpoint::total_bytes() const {
  std::uint64_t total = 0;
  for (const auto& file : files) {
    total += file.file_size();
  }
  return total;
}

Checkpoint open_checkpoint(const std::string& dir) {
  Checkpoint checkpoint;
  checkpoint.dir = dir;
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    fail_input(dir, 0, "not a folder", "a Hugging Face checkpoint folder with *.safetensors");
  }
  const auto index_path = (fs::path(dir) / k_index_name).string();
  std::unordered_map<std::string, std::string> weight_map;
  if (fs::exists(index_path, error)) {
    checkpoint.index_name = k_index_name;
    checkpoint.index_text = read_small_file(index_path);
    nlohmann::ordered_json index;
    try {
      index = nlohmann::ordered_json::parse(checkpoint.index_text);
    } catch (const nlohmann::json::parse_error& e) {
      util::fail_json_syntax(index_path, checkpoint.index_text, e,
                             "{\"metadata\": {...}, \"weight_map\": {tensor: file}}");
    } catch (const nlohmann::json::out_of_range& e) {
      util::fail_json_number(index_path, e, "{\"metadata\": {...}, \"weight_map\": {tensor: file}}");
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
      fail_input(index_path, 0, "no weight_map object", "{\"metadata\": {...}, \"weight_map\": {tensor: file}}");
    }
    std::set<std::string> names;
    for (const auto& [tensor, file] : index["weight_map"].items()) {
      if (!file.is_string() || !is_plain_file_name(file.get<std::string>())) {
        fail_input(index_path, index_line(checkpoint.index_text, tensor),
                   fmt::format("weight_map['{}'] is not a file name in this folder: {}", tensor, file.dump()),
                   "a file name such as \"model-00001-of-00002.safetensors\"");
      }
      weight_map[tensor] = file.get<std::string>();
      names.insert(file.get<std::string>());
    }
    checkpoint.file_names.assign(names.begin(), names.end());
  } else if (fs::exists(fs::path(dir) / k_single_name, error)) {
    checkpoint.file_names = {k_single_name};
  } else {
    fail_input(dir, 0, fmt::format("neither {} nor {} is here", k_index_name, k_single_name),
               "a Hugging Face safetensors checkpoint folder");
  }
  for (const auto& name : checkpoint.file_names) {
    checkpoint.files.push_back(SafetensorsFile::open((fs::path(dir) / name).string()));
  }
  for (std::size_t f = 0; f < checkpoint.files.size(); ++f) {
    const auto& file = checkpoint.files[f];
    for (const auto& tensor : file.tensors()) {
      if (!checkpoint.index_name.empty()) {
        const auto it = weight_map.find(tensor.name);
        if (it == weight_map.end() || it->second != checkpoint.file_names[f]) {
          fail_input(index_path, index_line(checkpoint.index_text, tensor.name),
                     fmt::format("tensor '{}' is in {} but the weight_map {}", tensor.name, checkpoint.file_names[f],
                                 it == weight_map.end() ? "does not name it" : "puts it in " + it->second),
                     k_weight_map_expected);
        }
      }
      if (!checkpoint.tensors.emplace(tensor.name, TensorLocation{f, &tensor}).second) {
        fail_input(file.path(), 0,
                   fmt::format("tensor '{}' is also in {}", tensor.name,
                               checkpoint.file_names[checkpoint.tensors[tensor.name].file]),
                   "each tensor in one file");
      }
    }
  }
  for (const auto& [tensor, file] : weight_map) {
    if (checkpoint.tensors.count(tensor) == 0) {
      fail_input(index_path, index_line(checkpoint.index_text, tensor),
                 fmt::format("weight_map names tensor '{}' in {} but that file lacks it", tensor, file),
                 k_weight_map_expected);
    }
  }
  return checkpoint;
}

} // namespace brix::safetensors
