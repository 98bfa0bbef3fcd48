#pragma once
// Looking a user's word up in a table of named entries: the entry, or an InputError naming the
// option, with "did you mean" and every name it could have been. One spelling of that error for
// every table (--emit targets, layout choices).

#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>

#include <array>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace brix::util {

/// The `.name` of every row, in table order.
template <typename Row> [[nodiscard]] std::vector<std::string> names_of(std::span<const Row> rows) {
  std::vector<std::string> names;
  for (const auto& row : rows) {
    names.emplace_back(row.name);
  }
  return names;
}

/// The row whose `.name` is `name`; else InputError "<option>: unknown <kind> '<name>'<did you
/// mean> (expected a, b or c)".
template <typename Row>
[[nodiscard]] const Row& find_named(std::span<const Row> rows, std::string_view name, std::string_view option,
                                    std::string_view kind) {
  for (const auto& row : rows) {
    if (row.name == name) {
      return row;
    }
  }
  const auto names = names_of(rows);
  throw InputError(fmt::format("{}: unknown {} '{}'{} (expected {})", option, kind, name, did_you_mean(name, names),
                               join_or(names)));
}

/// The value spelled `text` among `choices`; else InputError "<what>: unknown <key> '<text>'<did
/// you mean> (expected one of a, b, c)".
template <typename Enum, std::size_t N>
[[nodiscard]] Enum parse_choice(std::string_view text, std::string_view what, std::string_view key,
                                const std::array<std::pair<std::string_view, Enum>, N>& choices) {
  std::vector<std::string> names;
  for (const auto& [name, value] : choices) {
    if (name == text) {
      return value;
    }
    names.emplace_back(name);
  }
  throw InputError(fmt::format("{}: unknown {} '{}'{} (expected one of {})", what, key, text, did_you_mean(text, names),
                               fmt::join(names, ", ")));
}

} // namespace brix::util
