#pragma once
// Optional fields in the monitor's JSON documents: absent when unknown, never a made-up 0.

#include <nlohmann/json.hpp>

#include <optional>

namespace brix::monitor {

template <typename Json, typename T>
void put_optional(Json& out, const char* key, const std::optional<T>& value) {
  if (value) {
    out[key] = *value;
  }
}

template <typename Json, typename T>
void take_optional(const Json& in, const char* key, std::optional<T>& value) {
  if (const auto it = in.find(key); it != in.end() && !it->is_null()) {
    value = it->template get<T>();
  }
}

} // namespace brix::monitor
