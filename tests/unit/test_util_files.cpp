#include <brix/util/atomic_file.hpp>
#include <brix/util/dynamic_library.hpp>
#include <brix/util/error.hpp>

#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;

TEST_CASE("util::write_file_atomically replaces the file and leaves no temporary") {
  const brix::test::TempDir temp;
  const auto& dir = temp.path();
  const auto path = temp.file("out.yaml");
  brix::util::write_file_atomically(path, "first\n");
  brix::util::write_file_atomically(path, "second\n");
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  CHECK(text.str() == "second\n");
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}) == 1);
  CHECK_THROWS_WITH_AS(brix::util::write_file_atomically((dir / "missing" / "x").string(), "x"),
                       doctest::Contains("missing/x: cannot write (No such file or directory)"), brix::InputError);
}

TEST_CASE("util::DynamicLibrary opens the first library that loads") {
  std::string error;
  auto libc = brix::util::DynamicLibrary::open_first({"libbrix-does-not-exist.so", "libc.so.6"}, &error);
  REQUIRE(libc.has_value());
  CHECK(libc->name() == "libc.so.6");
  CHECK(error.find("libbrix-does-not-exist.so") != std::string::npos);
  auto length = libc->symbol<std::size_t (*)(const char*)>("strlen");
  const bool found = length != nullptr;
  REQUIRE(found);
  CHECK(length("brix") == 4);
  const bool absent = libc->symbol<void (*)()>("brix_no_such_symbol") == nullptr;
  CHECK(absent);
  std::string missing;
  CHECK_FALSE(brix::util::DynamicLibrary::open_first({"libbrix-missing-1.so", ""}, &missing).has_value());
  CHECK_FALSE(missing.empty());
}
