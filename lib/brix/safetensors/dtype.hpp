#pragma once
// safetensors element types (the names in the header's "dtype" field).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace brix::safetensors {

enum class Dtype { f64, f32, f16, bf16, i64, i32, i16, i8, u64, u32, u16, u8, boolean, f8_e4m3, f8_e5m2 };

/// "BF16" -> Dtype::bf16; nullopt for names this reader does not know.
[[nodiscard]] std::optional<Dtype> parse_dtype(std::string_view name);
[[nodiscard]] std::string dtype_name(Dtype dtype);
/// Bytes per element.
[[nodiscard]] std::size_t dtype_size(Dtype dtype);
/// The names parse_dtype accepts, for messages.
[[nodiscard]] std::string dtype_names();

} // namespace brix::safetensors
