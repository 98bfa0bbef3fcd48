#include <brix/safetensors/dtype.hpp>

#include <array>
#include <utility>

namespace brix::safetensors {

namespace {

struct DtypeInfo {
  Dtype dtype;
  std::string_view name;
  std::size_t size;
};

constexpr std::array<DtypeInfo, 15> k_dtypes{{{Dtype::f64, "F64", 8},
                                              {Dtype::f32, "F32", 4},
                                              {Dtype::f16, "F16", 2},
                                              {Dtype::bf16, "BF16", 2},
                                              {Dtype::i64, "I64", 8},
                                              {Dtype::i32, "I32", 4},
                                              {Dtype::i16, "I16", 2},
                                              {Dtype::i8, "I8", 1},
                                              {Dtype::u64, "U64", 8},
                                              {Dtype::u32, "U32", 4},
                                              {Dtype::u16, "U16", 2},
                                              {Dtype::u8, "U8", 1},
                                              {Dtype::boolean, "BOOL", 1},
                                              {Dtype::f8_e4m3, "F8_E4M3", 1},
                                              {Dtype::f8_e5m2, "F8_E5M2", 1}}};

const DtypeInfo& info(Dtype dtype) { return k_dtypes[static_cast<std::size_t>(dtype)]; }

} // namespace

std::optional<Dtype> parse_dtype(std::string_view name) {
  for (const auto& entry : k_dtypes) {
    if (entry.name == name) {
      return entry.dtype;
    }
  }
  return std::nullopt;
}

std::string dtype_name(Dtype dtype) { return std::string(info(dtype).name); }

std::size_t dtype_size(Dtype dtype) { return info(dtype).size; }

std::string dtype_names() {
  std::string out;
  for (const auto& entry : k_dtypes) {
    out += out.empty() ? "" : " ";
    out += entry.name;
  }
  return out;
}

} // namespace brix::safetensors
