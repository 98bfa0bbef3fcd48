#include <brix/util/atomic_file.hpp>
#include <brix/util/dynamic_library.hpp>
#include <brix/util/error.hpp>
#include <brix/util/file_system.hpp>
#include <brix/util/input_file.hpp>
#include <brix/util/mapped_file.hpp>

#include <support/memory_file_system.hpp>

#include <support/temp_dir.hpp>

#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;
using brix::test::MemoryFileSystem;
using brix::test::PowerLoss;
using brix::util::write_atomically;

namespace {

const fs::path k_target = "/job/out.json";

/// A file system holding the target's previous version, durable.
MemoryFileSystem with_old_target(unsigned mode = 0644) {
  MemoryFileSystem files;
  files.put(k_target, "old\n", mode);
  return files;
}

} // namespace

TEST_CASE("util::write_atomically leaves the old or the new file whenever the power is lost") {
  const std::string fresh = "new and longer content\n";
  bool returned = false;
  for (std::int64_t step = 1; !returned; ++step) {
    INFO("power lost after step " << step);
    REQUIRE(step < 20);
    auto files = with_old_target();
    files.lose_power_after(step);
    try {
      write_atomically(files, k_target, fresh);
      returned = true;
      files.lose_power(); // once it returned, the new version must survive
    } catch (const PowerLoss&) {
      files.reboot();
    }
    const auto kept = files.contents(k_target);
    REQUIRE(kept);
    if (returned) {
      CHECK(*kept == fresh);
    } else {
      CHECK((*kept == "old\n" || *kept == fresh));
    }
    CHECK(files.list("/job") == std::vector<std::string>{"out.json"}); // no temporary file survives
  }
}

TEST_CASE("util::write_atomically: a crash before the rename leaves the old content") {
  auto files = with_old_target();
  files.lose_power_after(4); // the temporary file is created, written and fsynced
  CHECK_THROWS_AS(write_atomically(files, k_target, "new\n"), PowerLoss);
  CHECK(files.contents(k_target) == "old\n");
  CHECK(files.file_syncs().size() == 1);
  CHECK(files.file_syncs()[0].starts_with("/job/.tmp-out.json."));
}

TEST_CASE("util::write_atomically fsyncs the file before the rename and the directory after it") {
  auto files = with_old_target();
  write_atomically(files, k_target, "new\n");
  REQUIRE(files.file_syncs().size() == 1);
  CHECK(files.file_syncs()[0].starts_with("/job/.tmp-out.json."));
  CHECK(files.directory_syncs() == std::vector<std::string>{"/job"});
  CHECK(files.contents(k_target) == "new\n");

  SUBCASE("without the directory fsync it is atomic, not durable") {
    auto quick = with_old_target();
    write_atomically(quick, k_target, "new\n", {.sync_directory = false});
    CHECK(quick.directory_syncs().empty());
    CHECK(quick.file_syncs().size() == 1);
    CHECK(quick.contents(k_target) == "new\n");
    quick.lose_power();
    CHECK(quick.contents(k_target) == "old\n");
  }
}

TEST_CASE("util::write_atomically keeps the target's mode, or sets the one given") {
  SUBCASE("an existing target keeps its own") {
    auto files = with_old_target(0600);
    write_atomically(files, k_target, "new\n");
    CHECK(files.permissions(k_target) == 0600u);
  }
  SUBCASE("a new file gets 0644 less the umask") {
    MemoryFileSystem files;
    files.create_directories("/job");
    write_atomically(files, k_target, "new\n");
    CHECK(files.permissions(k_target) == (0644u & ~MemoryFileSystem::k_umask));
  }
  SUBCASE("a secret gets its mode whatever the target had") {
    auto files = with_old_target(0644);
    write_atomically(files, k_target, "token\n", {.mode = brix::util::k_secret_mode});
    CHECK(files.permissions(k_target) == 0600u);
  }
}

TEST_CASE("util::write_atomically removes its temporary file on failure and names the target") {
  SUBCASE("the rename fails") {
    auto files = with_old_target();
    files.fail_next("rename", EXDEV);
    CHECK_THROWS_WITH_AS(write_atomically(files, k_target, "new\n"),
                         "/job/out.json: cannot write (Invalid cross-device link) (a writable path in an existing "
                         "directory)",
                         brix::InputError);
    CHECK(files.contents(k_target) == "old\n");
    CHECK(files.list("/job") == std::vector<std::string>{"out.json"});
  }
  SUBCASE("the write fails: a file of the work is a JobError") {
    auto files = with_old_target();
    files.fail_next("write", ENOSPC);
    CHECK_THROWS_WITH_AS(write_atomically(files, k_target, "new\n", {.failure = brix::util::WriteFailure::job_error}),
                         "/job/out.json: cannot write (No space left on device)", brix::JobError);
    CHECK(files.contents(k_target) == "old\n");
    CHECK(files.list("/job") == std::vector<std::string>{"out.json"});
  }
  SUBCASE("the directory is missing") {
    MemoryFileSystem files;
    CHECK_THROWS_WITH_AS(write_atomically(files, "/missing/x", "x"),
                         doctest::Contains("/missing/x: cannot write (No such file or directory)"), brix::InputError);
  }
}

TEST_CASE("util::write_atomically passes over a temporary name that exists") {
  auto files = with_old_target();
  write_atomically(files, k_target, "first\n");
  // Its temporary name, ".tmp-out.json.<pid>.<n>": plant a file at the next one.
  const auto used = files.file_syncs().at(0);
  const auto dot = used.rfind('.');
  const auto next = used.substr(0, dot + 1) + std::to_string(std::stoul(used.substr(dot + 1)) + 1);
  files.put(next, "someone else's\n");
  write_atomically(files, k_target, "second\n");
  CHECK(files.contents(k_target) == "second\n");
  CHECK(files.contents(next) == "someone else's\n");
}

TEST_CASE("util::write_file_atomically replaces the file and leaves no temporary") {
  const brix::test::TempDir temp;
  const auto& dir = temp.path();
  const auto path = temp.file("out.yaml");
  brix::util::write_file_atomically(path, "first\n");
  ::chmod(path.c_str(), 0640);
  brix::util::write_file_atomically(path, "second\n");
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  CHECK(text.str() == "second\n");
  CHECK((fs::status(path).permissions() & fs::perms::all) == static_cast<fs::perms>(0640));
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}) == 1);
  const auto secret = (dir / "token").string();
  brix::util::write_file_atomically(secret, "t\n", {.mode = brix::util::k_secret_mode});
  CHECK((fs::status(secret).permissions() & fs::perms::all) == static_cast<fs::perms>(0600));
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

TEST_CASE("util::InputFile opens regular files only, never blocking") {
  brix::test::TempDir dir;
  const auto regular = dir.write("a.yaml", "x: 1\n");
  std::string why;
  const auto file = brix::util::InputFile::open(regular, why);
  REQUIRE(file);
  CHECK(file->size() == 5);
  CHECK(file->read() == "x: 1\n");
  CHECK(file->read(3) == "1\n");
  CHECK(file->read(0, 2) == "x:");

  // A FIFO without a writer: a blocking open(2) would wait forever here.
  const auto fifo = dir.file("pipe");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_FALSE(brix::util::InputFile::open(fifo, why));
  CHECK(why == "is a FIFO, not a regular file");
  CHECK_THROWS_WITH_AS((void)brix::util::read_input_file(fifo, "expected a YAML file"),
                       doctest::Contains("pipe: cannot open the file: is a FIFO, not a regular file (expected a YAML file)"),
                       brix::InputError);
  CHECK_FALSE(brix::util::InputFile::open("/dev/zero", why));
  CHECK(why == "is a character device, not a regular file");
  CHECK_FALSE(brix::util::InputFile::open(dir.path().string(), why));
  CHECK(why == "is a directory, not a regular file");
  CHECK_FALSE(brix::util::read_regular_file(regular, why, 4));
  CHECK(why.find("has 5 bytes, more than the 4") != std::string::npos);
  // The file system and the memory map refuse them the same way.
  CHECK_THROWS_WITH((void)brix::util::local_file_system().read(fifo), doctest::Contains("is a FIFO"));
  CHECK_THROWS_WITH_AS((void)brix::util::MappedFile(fifo), doctest::Contains("is a FIFO"), brix::InputError);
}
