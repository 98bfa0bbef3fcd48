#include <brix/safetensors/writer.hpp>

#include <brix/safetensors/reader.hpp>

#include <stdexcept>

namespace brix::safetensors {

std::string length_prefix(std::uint64_t length) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>((length >> (8 * i)) & 0xff);
  }
  return out;
}

FileLayout layout_file(const std::vector<TensorEntry>& tensors, const nlohmann::ordered_json& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (metadata.is_object()) {
    header["__metadata__"] = metadata;
  }
  std::vector<std::uint64_t> relative;
  std::uint64_t offset = 0;
  for (const auto& tensor : tensors) {
    const auto count = element_count(tensor.shape);
    if (!count) {
      throw std::invalid_argument("layout_file: shape overflows: " + tensor.name);
    }
    const std::uint64_t bytes = *count * dtype_size(tensor.dtype);
    header[tensor.name] = {{"dtype", dtype_name(tensor.dtype)},
                           {"shape", tensor.shape},
                           {"data_offsets", {offset, offset + bytes}}};
    relative.push_back(offset);
    offset += bytes;
  }
  std::string json = header.dump();
  // Pad so that the data starts 8-byte aligned, as the reference implementation does.
  json.append((8 - json.size() % 8) % 8, ' ');
  FileLayout layout;
  layout.header = length_prefix(json.size()) + json;
  for (const auto value : relative) {
    layout.offsets.push_back(layout.header.size() + value);
  }
  layout.size = layout.header.size() + offset;
  return layout;
}

} // namespace brix::safetensors
