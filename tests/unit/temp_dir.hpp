#pragma once
// A fresh temporary directory for a unit test (removed by the test).

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace brix::test {

inline std::string make_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "brix-test-XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

} // namespace brix::test
