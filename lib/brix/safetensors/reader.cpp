#include <brix/safetensors/reader.hpp>

#include <brix/util/error.hpp>
#include <brix/util/json_error.hpp>

#include <algorithm>
#include <fmt/format.h>
#include <set>

namespace brix::safetensors {

namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view k_header_expected =
    "{\"tensor\": {\"dtype\": \"BF16\", \"shape\": [r, c], \"data_offsets\": [b, e]}, ...}";

std::uint64_t read_le64(std::span<const std::byte> bytes) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) {
    value = (value << 8) | static_cast<std::uint64_t>(bytes[static_cast<std::size_t>(i)]);
  }
  return value;
}

} // namespace

std::optional<std::uint64_t> element_count(std::span<const std::int64_t> shape) {
  std::uint64_t count = 1;
  for (const auto dim : shape) {
    if (dim < 0 || __builtin_mul_overflow(count, static_cast<std::uint64_t>(dim), &count)) {
      return std::nullopt;
    }
  }
  return count;
}

std::string shape_text(std::span<const std::int64_t> shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile file{util::MappedFile(path)};
  file.parse();
  return file;
}

std::string_view SafetensorsFile::header_bytes() const {
  const auto bytes = m_file.bytes();
  return {reinterpret_cast<const char*>(bytes.data()) + 8, static_cast<std::size_t>(m_data_offset - 8)};
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  for (const auto& tensor : m_tensors) {
    if (tensor.name == name) {
      return &tensor;
    }
  }
  return nullptr;
}

std::span<const std::byte> SafetensorsFile::data(const TensorInfo& tensor) const {
  return m_file.bytes().subspan(m_data_offset + tensor.begin, tensor.bytes());
}

void SafetensorsFile::parse() {
  const auto& file = path();
  const auto bytes = m_file.bytes();
  auto fail = [&](const std::string& what, std::string_view expected = {}) {
    fail_input(file, 0, what, expected);
  };
  if (bytes.size() < 8) {
    fail(fmt::format("truncated: {} bytes, too short for the 8-byte header length", bytes.size()),
         "a safetensors file");
  }
  const std::uint64_t header_length = read_le64(bytes);
  if (header_length > bytes.size() - 8) {
    fail(fmt::format("header length {} runs past the end of the file ({} bytes)", header_length, bytes.size()),
         "truncated or not a safetensors file");
  }
  m_data_offset = 8 + header_length;
  const std::uint64_t data_size = bytes.size() - m_data_offset;

  // Duplicate tensor names would make two header entries claim one name: refuse them.
  std::set<std::string> seen;
  std::string duplicate;
  Json header;
  try {
    header = Json::parse(header_bytes(), [&](int depth, Json::parse_event_t event, Json& parsed) {
      if (depth == 1 && event == Json::parse_event_t::key && !seen.insert(parsed.get<std::string>()).second &&
          duplicate.empty()) {
        duplicate = parsed.get<std::string>();
      }
      return true;
    });
  } catch (const nlohmann::json::parse_error& error) {
    // The line is the header's own: the JSON after the 8-byte length.
    fail_input(file, util::json_error_line(header_bytes(), error),
               fmt::format("malformed header JSON: {}", util::json_error_reason(error)), k_header_expected);
  } catch (const nlohmann::json::out_of_range& error) {
    util::fail_json_number(file, error, k_header_expected); // fuzz.safetensors_header
  }
  if (!duplicate.empty()) {
    fail(fmt::format("header names tensor '{}' twice", duplicate), "each tensor name once");
  }
  if (!header.is_object()) {
    fail("the header is not a JSON object", k_header_expected);
  }
  for (const auto& item : header.items()) {
    // Named copies, not a structured binding: the lambda below captures them (clang 14 cannot
    // capture structured bindings).
    const std::string& name = item.key();
    const auto& entry = item.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) {
        fail("__metadata__ is not an object", "string keys and values");
      }
      m_metadata = entry;
      continue;
    }
    auto bad = [&](std::string_view what) {
      fail(fmt::format("tensor '{}': {}", name, what), k_header_expected);
    };
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets")) {
      bad("needs dtype, shape and data_offsets");
    }
    if (entry.size() != 3) {
      bad("has keys besides dtype, shape and data_offsets");
    }
    TensorInfo tensor;
    tensor.name = name;
    const auto& dtype = entry["dtype"];
    const auto parsed = dtype.is_string() ? parse_dtype(dtype.get<std::string>()) : std::nullopt;
    if (!parsed) {
      fail(fmt::format("tensor '{}': unknown dtype {}", name, dtype.dump()), "one of " + dtype_names());
    }
    tensor.dtype = *parsed;
    const auto& shape = entry["shape"];
    if (!shape.is_array()) {
      bad("shape is not a list");
    }
    for (const auto& dim : shape) {
      if (!dim.is_number_unsigned()) {
        bad("shape holds something other than non-negative integers");
      }
      tensor.shape.push_back(static_cast<std::int64_t>(dim.get<std::uint64_t>()));
    }
    const auto& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      bad("data_offsets is not two non-negative integers");
    }
    tensor.begin = offsets[0].get<std::uint64_t>();
    tensor.end = offsets[1].get<std::uint64_t>();
    if (tensor.end < tensor.begin) {
      fail(fmt::format("tensor '{}': data_offsets [{}, {}] end before they begin", name, tensor.begin, tensor.end),
           "data_offsets [begin, end] with begin <= end");
    }
    if (tensor.end > data_size) {
      fail(fmt::format("tensor '{}': data_offsets [{}, {}] run past the end of the data ({} bytes)", name,
                       tensor.begin, tensor.end, data_size),
           "truncated file or corrupt header");
    }
    const auto count = element_count(tensor.shape);
    std::uint64_t expected = 0;
    if (!count || __builtin_mul_overflow(*count, dtype_size(tensor.dtype), &expected) || expected != tensor.bytes()) {
      fail(fmt::format("tensor '{}': dtype {} and shape {} need {} bytes but data_offsets [{}, {}] hold {}", name,
                       dtype_name(tensor.dtype), shape_text(tensor.shape),
                       count ? fmt::format("{}", *count * dtype_size(tensor.dtype)) : std::string("too many"),
                       tensor.begin, tensor.end, tensor.bytes()),
           "data_offsets spanning the elements of the shape times the dtype's size");
    }
    m_tensors.push_back(std::move(tensor));
  }
  std::stable_sort(m_tensors.begin(), m_tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t covered = 0;
  const TensorInfo* previous = nullptr;
  for (const auto& tensor : m_tensors) {
    if (tensor.begin < covered) {
      fail(fmt::format("tensors '{}' and '{}' overlap (data_offsets [{}, {}] and [{}, {}])", previous->name,
                       tensor.name, previous->begin, previous->end, tensor.begin, tensor.end),
           "each tensor's bytes start where the previous tensor's end");
    }
    if (tensor.begin > covered) {
      fail(fmt::format("data bytes [{}, {}) belong to no tensor (before '{}')", covered, tensor.begin, tensor.name),
           "tensors cover the data without gaps");
    }
    covered = tensor.end;
    previous = &tensor;
  }
  if (covered != data_size) {
    fail(fmt::format("{} bytes after the last tensor belong to no tensor", data_size - covered),
         "tensors cover the data without gaps");
  }
}

} // namespace brix::safetensors
