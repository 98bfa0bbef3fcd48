// util::OutputFile: written from several threads at known offsets, with writeback started every
// `writeback_every` bytes; util::StagedDirectory: the folder appears under its name on commit.
#include <brix/util/output_file.hpp>
#include <brix/util/thread_pool.hpp>

#include <support/temp_dir.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace fs = std::filesystem;
using brix::util::OutputFile;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// Writes `pieces` pieces of `piece` bytes (piece i filled with 'a' + i % 26) on 4 threads.
void write_pieces(const OutputFile& file, std::size_t pieces, std::size_t piece) {
  brix::util::parallel_for(pieces, 4, [&](std::size_t i) {
    const std::vector<std::byte> bytes(piece, static_cast<std::byte>('a' + i % 26));
    file.write_at(i * piece, bytes);
  });
}

} // namespace

TEST_CASE("util::OutputFile starts writeback once per writeback_every bytes written") {
  const brix::test::TempDir dir;
  constexpr std::size_t k_piece = 512u << 10;
  OutputFile paced(dir.file("paced"), 7 * k_piece, 1u << 20);
  write_pieces(paced, 7, k_piece); // 3.5 MiB: the marks at 1, 2 and 3 MiB
  CHECK(paced.writebacks_started() == 3);
  paced.finish();
  const auto bytes = read_all(dir.file("paced"));
  REQUIRE(bytes.size() == 7 * k_piece);
  for (std::size_t i = 0; i < 7; ++i) {
    CHECK(bytes[i * k_piece] == static_cast<char>('a' + i));
    CHECK(bytes[(i + 1) * k_piece - 1] == static_cast<char>('a' + i));
  }

  OutputFile plain(dir.file("plain"), 7 * k_piece);
  write_pieces(plain, 7, k_piece);
  CHECK(plain.writebacks_started() == 0);
  plain.finish();
  CHECK(read_all(dir.file("plain")) == bytes);
}

TEST_CASE("util::StagedDirectory: the folder appears under its name on commit, or not at all") {
  const brix::test::TempDir dir;
  const auto target = dir.file("out");
  {
    brix::util::StagedDirectory staged(target, "--out");
    OutputFile file((fs::path(staged.path()) / "a").string(), 3);
    file.write_at(0, std::as_bytes(std::span("abc", 3)));
    file.finish();
    CHECK(!fs::exists(target));
    staged.commit();
  }
  CHECK(read_all((fs::path(target) / "a").string()) == "abc");
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);
  {
    const brix::util::StagedDirectory dropped(dir.file("dropped"), "--out");
  }
  CHECK(!fs::exists(dir.file("dropped")));
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);
}
