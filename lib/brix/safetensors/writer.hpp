#pragma once
// Writing safetensors files in two steps: lay the file out (header bytes and every tensor's
// offset) from names, dtypes and shapes alone, then fill the data at those offsets from any
// number of threads (util::OutputFile::write_at).

#include <brix/safetensors/dtype.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace brix::safetensors {

struct TensorEntry {
  std::string name;
  Dtype dtype = Dtype::u8;
  std::vector<std::int64_t> shape;
};

struct FileLayout {
  std::string header;                 ///< 8-byte length, then the JSON padded with spaces to 8 bytes
  std::vector<std::uint64_t> offsets; ///< absolute file offset of each tensor's data, in entry order
  std::uint64_t size = 0;             ///< total file size
};

/// Data follows the header in entry order. `metadata` is written as `__metadata__` when it is an
/// object (safetensors wants string values; that is the caller's business).
[[nodiscard]] FileLayout layout_file(const std::vector<TensorEntry>& tensors,
                                     const nlohmann::ordered_json& metadata = nullptr);

/// The 8-byte little-endian length prefix of a header of `length` bytes.
[[nodiscard]] std::string length_prefix(std::uint64_t length);

} // namespace brix::safetensors
