#include <brix/util/error.hpp>

#include <fmt/format.h>

namespace brix {

std::string located(std::string_view file, int line, std::string_view what,
                    std::string_view expected) {
  std::string out;
  if (!file.empty()) {
    out = line > 0 ? fmt::format("{}:{}: ", file, line) : fmt::format("{}: ", file);
  }
  out += what;
  if (!expected.empty()) {
    out += fmt::format(" ({})", expected);
  }
  return out;
}

void fail_input(std::string_view file, int line, std::string_view what, std::string_view expected) {
  throw InputError(located(file, line, what, expected));
}

} // namespace brix
