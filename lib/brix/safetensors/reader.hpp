#pragma once
// Reading safetensors files: an 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the
// data, offsets relative to its start. The file is memory-mapped; every header promise is
// checked before any tensor is handed out.

#include <brix/safetensors/dtype.hpp>
#include <brix/util/mapped_file.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace brix::safetensors {

struct TensorInfo {
  std::string name;
  Dtype dtype = Dtype::u8;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0; ///< relative to the start of the data
  std::uint64_t end = 0;

  [[nodiscard]] std::uint64_t bytes() const { return end - begin; }
};

/// Elements of a shape (1 for a scalar); nullopt on overflow.
[[nodiscard]] std::optional<std::uint64_t> element_count(std::span<const std::int64_t> shape);
/// "[7168, 1536]"
[[nodiscard]] std::string shape_text(std::span<const std::int64_t> shape);

class SafetensorsFile {
public:
  /// Maps and validates `path`. Any inconsistency is an InputError, one line naming the file:
  /// too short for its header, a header length past the end, malformed or duplicate-keyed JSON,
  /// an unknown dtype, a shape that disagrees with the byte range, offsets out of range,
  /// overlapping, or leaving bytes of the data to no tensor.
  [[nodiscard]] static SafetensorsFile open(const std::string& path);

  [[nodiscard]] const std::string& path() const { return m_file.path(); }
  /// The N header bytes exactly as stored (JSON plus any padding).
  [[nodiscard]] std::string_view header_bytes() const;
  /// Tensors in the order of their data (ascending begin).
  [[nodiscard]] const std::vector<TensorInfo>& tensors() const { return m_tensors; }
  [[nodiscard]] const TensorInfo* find(std::string_view name) const;
  /// `__metadata__` (null when absent).
  [[nodiscard]] const nlohmann::ordered_json& metadata() const { return m_metadata; }
  /// Absolute file offset where the data starts: 8 + N.
  [[nodiscard]] std::uint64_t data_offset() const { return m_data_offset; }
  [[nodiscard]] std::uint64_t file_size() const { return m_file.size(); }
  [[nodiscard]] std::span<const std::byte> data(const TensorInfo& tensor) const;
  [[nodiscard]] const util::MappedFile& mapped() const { return m_file; }

private:
  explicit SafetensorsFile(util::MappedFile file) : m_file(std::move(file)) {}
  void parse();

  util::MappedFile m_file;
  std::uint64_t m_data_offset = 0;
  std::vector<TensorInfo> m_tensors;
  nlohmann::ordered_json m_metadata;
};

} // namespace brix::safetensors
