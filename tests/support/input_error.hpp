#pragma once
// The message of the InputError a call throws, for tests that check the one line a user sees;
// empty when the call does not throw one (any other exception escapes to fail the test).

#include <brix/util/error.hpp>

#include <string>

namespace brix::test {

[[nodiscard]] std::string input_error_of(auto&& call) {
  try {
    call();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

} // namespace brix::test
