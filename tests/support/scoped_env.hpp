#pragma once
// One environment variable set (or unset) for the rest of a scope, and restored after it, for
// tests of code that reads the environment itself (library overrides, configuration folders).

#include <cstdlib>
#include <optional>
#include <string>

namespace brix::test {

class ScopedEnv {
public:
  /// Sets `name` to `value`, or unsets it for nullopt.
  ScopedEnv(std::string name, const std::optional<std::string>& value) : m_name(std::move(name)) {
    if (const char* before = std::getenv(m_name.c_str())) {
      m_before = before;
    }
    apply(value);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() { apply(m_before); }

private:
  void apply(const std::optional<std::string>& value) const {
    if (value) {
      ::setenv(m_name.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(m_name.c_str());
    }
  }
  std::string m_name;
  std::optional<std::string> m_before;
};

} // namespace brix::test
