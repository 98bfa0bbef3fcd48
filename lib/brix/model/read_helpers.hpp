#pragma once
// Optional size keys shared by the Hugging Face and brix model readers.

#include <brix/util/document.hpp>

#include <cstdint>
#include <string_view>

namespace brix::model {

/// An optional integer > 0 (absent or null → fallback).
inline std::int64_t positive_or(const util::DocNode& root, std::string_view key,
                                std::int64_t fallback) {
  const auto node = root.find(key);
  return node ? node->as_positive_int(key) : fallback;
}

/// An optional integer >= 0 (absent or null → fallback).
inline std::int64_t non_negative_or(const util::DocNode& root, std::string_view key,
                                    std::int64_t fallback) {
  const auto node = root.find(key);
  return node ? node->as_non_negative_int(key) : fallback;
}

} // namespace brix::model
