#include <support/temp_dir.hpp>

#include <brix/checkpoint/catalog.hpp>
#include <brix/checkpoint/crash_points.hpp>
#include <brix/checkpoint/hash.hpp>
#include <brix/checkpoint/report.hpp>
#include <brix/checkpoint/store.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>

namespace fs = std::filesystem;
using namespace brix::checkpoint;

namespace {

/// Deterministic bytes: `size` bytes from `seed`.
std::string bytes_of(std::size_t size, std::uint32_t seed) {
  std::string bytes(size, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : bytes) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return bytes;
}

/// What a crash point does in a unit test: unwind, like a process killed there (what was done
/// stays done).
struct Crash {
  std::string point;
};

[[noreturn]] void throw_crash(const std::string& point) { throw Crash{point}; }

using Dir = brix::test::TempDir;

std::vector<SaveFile> files_of(const std::string& a, const std::string& b) {
  return {{"rank_0.bin", a}, {"rank_1.bin", b}};
}

} // namespace

TEST_CASE("checkpoint::sha256_hex") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Hasher hasher;
  hasher.update("a");
  hasher.update("bc");
  CHECK(hasher.hex() == sha256_hex("abc"));
  CHECK(is_hash_text(sha256_hex("x")));
  CHECK_FALSE(is_hash_text("abc"));
}

TEST_CASE("checkpoint::manifest") {
  const auto data = bytes_of(10000, 1);
  Manifest manifest;
  manifest.step = 42;
  manifest.chunk_size = 4096;
  manifest.layout = {{"dp", 2}};
  manifest.files.push_back(chunk_file("rank_0.bin", data, 4096));
  REQUIRE(manifest.files[0].chunks.size() == 3);
  CHECK(manifest.files[0].chunks[2].size == 10000 - 8192);
  CHECK(manifest.files[0].chunks[1].hash == sha256_hex(std::string_view(data).substr(4096, 4096)));
  const auto text = manifest_text(manifest);
  const auto back = parse_manifest(text, "m.json");
  CHECK(back.step == 42);
  CHECK(back.layout["dp"] == 2);
  CHECK(back.bytes() == 10000);
  CHECK(back.files[0].hash == sha256_hex(data));

  SUBCASE("a damaged manifest is refused") {
    auto damaged = text;
    damaged[damaged.find("\"step\": 42") + 9] = '3';
    CHECK_THROWS_WITH_AS((void)parse_manifest(damaged, "m.json"), doctest::Contains("manifest_sha256"), brix::JobError);
    CHECK_THROWS_WITH_AS((void)parse_manifest(text.substr(0, text.size() / 2), "m.json"),
                         doctest::Contains("not valid JSON"), brix::JobError);
  }
  CHECK(manifest_name(42) == "step_0000000042.json");
  CHECK(step_of_manifest_name("step_0000000042.json") == 42);
  CHECK(step_of_manifest_name(".tmp-step_0000000042.json.1.2") == -1);
  CHECK(step_of_manifest_name("step_x.json") == -1);
}

TEST_CASE("checkpoint::store incremental save and restore") {
  Dir dir;
  Store store(dir.path());
  const auto a = bytes_of(64 * 1024, 1);
  auto b = bytes_of(40 * 1024 + 7, 2);
  const auto first = store.save(10, {{"world_size", 2}}, files_of(a, b), 4096);
  CHECK(first.chunks_reused == 0);
  CHECK(first.manifest.new_bytes == a.size() + b.size());
  // Change one byte of one chunk of rank_1: only that chunk is written again.
  b[5000] ^= 0x40;
  const auto second = store.save(20, {{"world_size", 2}}, files_of(a, b), 4096);
  CHECK(second.chunks_written == 1);
  CHECK(second.manifest.new_bytes == 4096);
  CHECK(store.latest_step() == 20);
  CHECK(store.steps() == std::vector<std::int64_t>{10, 20});

  const auto restored = store.restore(store.manifest(20));
  REQUIRE(restored.size() == 2);
  CHECK(restored[0].bytes == a);
  CHECK(restored[1].bytes == b);
  CHECK(store.restore(store.manifest(10))[1].bytes != b);
  CHECK_FALSE(store.check(store.manifest(10), true));

  SUBCASE("a damaged chunk names its file") {
    const auto path = store.chunk_path(second.manifest.files[1].chunks[1].hash);
    {
      std::fstream out(path, std::ios::in | std::ios::out | std::ios::binary);
      out.seekp(3);
      out.put('\x7f');
    }
    const auto problem = store.check(store.manifest(20), true);
    REQUIRE(problem);
    CHECK(problem->file == "rank_1.bin");
    CHECK_FALSE(problem->missing);
    CHECK_FALSE(store.check(store.manifest(20), false)); // sizes alone look fine
    CHECK_THROWS_WITH_AS((void)store.restore(store.manifest(20)), doctest::Contains("rank_1.bin"), brix::JobError);
  }
  SUBCASE("a missing chunk is incomplete") {
    fs::remove(store.chunk_path(second.manifest.files[0].chunks[0].hash));
    const auto problem = store.check(store.manifest(10), false);
    REQUIRE(problem);
    CHECK(problem->missing);
    CHECK(problem->file == "rank_0.bin");
  }
}

TEST_CASE("checkpoint::store garbage collection") {
  Dir dir;
  Store store(dir.path());
  std::string data = bytes_of(32 * 1024, 3);
  for (int step = 1; step <= 4; ++step) {
    data[static_cast<std::size_t>(step) * 4096] ^= 1; // one new chunk per save
    (void)store.save(step, {}, {{"state.bin", data}}, 4096);
  }
  // A crashed writer's leftover.
  fs::create_directories(dir.path() / "chunks" / "00");
  std::ofstream(dir.path() / "chunks" / "00" / ".tmp-00abc.1") << "partial";
  const auto result = store.collect_garbage(2);
  CHECK(result.manifests_removed == 2);
  CHECK(result.temps_removed == 1);
  // Steps 3 and 4 no longer use the original chunks 2 and 3 (steps 1 and 2 did).
  CHECK(result.chunks_removed == 2);
  CHECK(result.skipped.empty());
  CHECK(store.steps() == std::vector<std::int64_t>{3, 4});
  for (const auto step : store.steps()) {
    CHECK_FALSE(store.check(store.manifest(step), true));
  }
  CHECK(store.restore(store.manifest(4))[0].bytes == data);
  SUBCASE("an unreadable manifest stops chunk deletion") {
    std::ofstream(store.manifest_path(3)) << "{";
    data[0] ^= 1;
    (void)store.save(5, {}, {{"state.bin", data}}, 4096);
    const auto again = store.collect_garbage(0);
    CHECK_FALSE(again.skipped.empty());
    CHECK(again.chunks_removed == 0);
  }
}

TEST_CASE("checkpoint::store crash at every point keeps the previous checkpoint") {
  Dir dir;
  const auto a = bytes_of(20000, 5);
  auto b = bytes_of(20000, 6);
  (void)Store(dir.path()).save(1, {}, files_of(a, b), 4096);
  b[100] ^= 1;
  b[15000] ^= 1;
  int crashes = 0;
  std::vector<std::string> points;
  for (int crash_at = 1;; ++crash_at) {
    CrashPointFileSystem crashing(brix::util::local_file_system(), crash_at, throw_crash);
    Store writer(dir.path(), crashing);
    bool crashed = false;
    try {
      (void)writer.save(2, {}, files_of(a, b), 4096);
    } catch (const Crash& crash) {
      crashed = true;
      points.push_back(crash.point);
    }
    Store reader(dir.path());
    const auto latest = reader.latest_step();
    REQUIRE(latest);
    INFO("crash at step " << crash_at << ": " << (crashed ? points.back() : "none"));
    CHECK_FALSE(reader.check(reader.manifest(*latest), true));
    CHECK_FALSE(reader.check(reader.manifest(1), true));
    CHECK(reader.restore(reader.manifest(1))[1].bytes != b);
    if (!crashed) {
      CHECK(*latest == 2);
      CHECK(reader.restore(reader.manifest(2))[1].bytes == b);
      break;
    }
    ++crashes;
    // Undo a published step 2 so the next trial crashes at a later point of the same save.
    fs::remove(reader.manifest_path(2));
    std::ofstream(dir.path() / "latest") << manifest_name(1) << "\n";
    (void)reader.collect_garbage(0);
  }
  CHECK(crashes > 8);
  // Every kind of durable step was a crash point, the last one the directory fsync after `latest`.
  const auto seen = [&](const std::string& text) {
    return std::any_of(points.begin(), points.end(), [&](const auto& p) { return p.find(text) != std::string::npos; });
  };
  for (const auto* kind : {"before write", "write cut short", "after write and fsync", "before rename to",
                           "after rename to", "after fsync of directory"}) {
    CHECK_MESSAGE(seen(kind), kind);
  }
  CHECK(points.front() == "crash point 1: after fsync of directory " + dir.path().string());
  CHECK(points.back() == "crash point " + std::to_string(points.size()) + ": after fsync of directory " + dir.path().string());
  CHECK(seen("before rename to " + (dir.path() / "latest").string()));
}

TEST_CASE("checkpoint::parse_crash_at") {
  CHECK_FALSE(parse_crash_at(nullptr));
  CHECK_FALSE(parse_crash_at(""));
  CHECK(parse_crash_at("17") == 17);
  CHECK_THROWS_WITH_AS((void)parse_crash_at("0"), "BRIX_CHECKPOINT_CRASH_AT: '0' (a step number >= 1)", brix::InputError);
  CHECK_THROWS_AS((void)parse_crash_at("3x"), brix::InputError);
}

TEST_CASE("checkpoint::restore_latest falls back to the mirror") {
  Dir primary;
  Dir mirror;
  Store store(primary.path());
  Store copy(mirror.path());
  const auto a = bytes_of(9000, 7);
  const auto b = bytes_of(9000, 8);
  const auto saved = store.save(3, {}, files_of(a, b), 4096);
  store.mirror_to(copy, saved.manifest);
  CHECK(copy.latest_step() == 3);
  CHECK_FALSE(copy.check(copy.manifest(3), true));

  auto result = restore_latest(primary.path(), mirror.path());
  REQUIRE(result);
  CHECK_FALSE(result->from_mirror);

  SUBCASE("primary corrupt") {
    std::ofstream(store.chunk_path(saved.manifest.files[0].chunks[1].hash), std::ios::binary) << std::string(4096, 'x');
    result = restore_latest(primary.path(), mirror.path());
    REQUIRE(result);
    CHECK(result->from_mirror);
    CHECK(result->primary_problem.find("rank_0.bin") != std::string::npos);
    CHECK(result->files[0].bytes == a);
    CHECK_THROWS_AS((void)restore_latest(primary.path(), std::nullopt), brix::JobError);
    // Mirroring back without repair trusts the damaged chunk (right size); with repair it is
    // hashed and rewritten.
    CHECK(copy.mirror_to(store, copy.manifest(3)) == 0);
    CHECK(store.check(store.manifest(3), true));
    CHECK(copy.mirror_to(store, copy.manifest(3), true) == 1);
    CHECK_FALSE(store.check(store.manifest(3), true));
    CHECK_FALSE(restore_latest(primary.path(), mirror.path())->from_mirror);
  }
  SUBCASE("primary missing") {
    fs::remove_all(primary.path());
    result = restore_latest(primary.path(), mirror.path());
    REQUIRE(result);
    CHECK(result->from_mirror);
    CHECK(result->files[1].bytes == b);
  }
  SUBCASE("nothing saved yet") {
    Dir empty;
    CHECK_FALSE(restore_latest(empty.path() / "none", std::nullopt));
  }
}

TEST_CASE("checkpoint::list_checkpoints brix store") {
  Dir dir;
  Store store(dir.path());
  auto data = bytes_of(16384, 9);
  (void)store.save(5, {{"dp", 2}}, {{"state.bin", data}}, 4096);
  data[0] ^= 1;
  const auto second = store.save(6, {{"dp", 2}}, {{"state.bin", data}}, 4096);
  auto infos = list_checkpoints(dir.path(), true);
  REQUIRE(infos.size() == 2);
  CHECK(infos[0].format == "brix");
  CHECK(infos[0].status == "complete");
  CHECK(infos[1].new_bytes == std::optional<std::uint64_t>(4096));
  CHECK(infos[1].bytes == 16384);
  CHECK(infos[1].detail == "latest");
  CHECK(infos[1].layout["dp"] == 2);
  std::ofstream(store.chunk_path(second.manifest.files[0].chunks[0].hash), std::ios::binary) << std::string(4096, 'y');
  infos = list_checkpoints(dir.path(), true);
  CHECK(infos[1].status == "corrupt");
  CHECK(latest_good(dir.path(), true)->step == 5);
  CHECK(latest_good(dir.path(), false)->step == 6); // sizes alone cannot tell
}

TEST_CASE("checkpoint::manifest fields a writer never produces are refused") {
  Manifest manifest;
  manifest.step = 3;
  manifest.chunk_size = 4096;
  manifest.files.push_back(chunk_file("rank_0.bin", bytes_of(5000, 2), 4096));
  const auto good = manifest_text(manifest);
  // Each edit re-signs the body, as a tool rewriting a manifest would: only the checks see it.
  auto edited = [&](auto&& change) {
    auto copy = manifest;
    change(copy);
    return manifest_text(copy);
  };
  CHECK(parse_manifest(good, "m.json").step == 3);
  CHECK_THROWS_WITH_AS((void)parse_manifest(edited([](Manifest& m) { m.step = -5; }), "m.json"),
                       doctest::Contains("m.json: manifest step -5 is negative"), brix::JobError);
  CHECK_THROWS_WITH_AS((void)parse_manifest(edited([](Manifest& m) { m.chunk_size = 0; }), "m.json"),
                       doctest::Contains("chunk_size is 0"), brix::JobError);
  CHECK_THROWS_WITH_AS((void)parse_manifest(edited([](Manifest& m) { m.chunk_size = 100; }), "m.json"),
                       doctest::Contains("a chunk of 4096 bytes (expected 1 to chunk_size = 100)"), brix::JobError);
  CHECK_THROWS_WITH_AS((void)parse_manifest(edited([](Manifest& m) { m.files.push_back(m.files.front()); }), "m.json"),
                       doctest::Contains("m.json: file 'rank_0.bin' is listed twice"), brix::JobError);
}

TEST_CASE("checkpoint::store whose `latest` is not a regular file fails verification") {
  Dir dir;
  Store store(dir.path());
  (void)store.save(5, {}, {{"state.bin", bytes_of(8192, 3)}}, 4096);
  REQUIRE(verify_checkpoints(dir.path(), false).ok());
  const auto latest = dir.path() / k_latest_name;
  auto check_damaged = [&](const std::string& what) {
    CAPTURE(what);
    CHECK_THROWS_WITH_AS((void)store.latest_step(), doctest::Contains("latest: not a regular file"), brix::JobError);
    for (const bool latest_only : {false, true}) {
      const auto report = verify_checkpoints(dir.path(), latest_only);
      CHECK_FALSE(report.ok());
      REQUIRE(report.first_bad);
      CHECK(report.first_bad->detail.find("not a regular file") != std::string::npos);
    }
  };
  fs::remove(latest);
  fs::create_directory(latest);
  check_damaged("a directory");
  fs::remove(latest);
  REQUIRE(::mkfifo(latest.c_str(), 0600) == 0);
  check_damaged("a FIFO"); // read without blocking
  fs::remove(latest);
  fs::create_symlink(latest, latest);
  check_damaged("a symbolic link to itself");
  fs::remove(latest);
  CHECK_FALSE(store.latest_step()); // nothing there: nothing published, which is not damage
}

TEST_CASE("checkpoint::store manifest whose step disagrees with its name") {
  Dir dir;
  Store store(dir.path());
  (void)store.save(5, {}, {{"state.bin", bytes_of(100, 4)}}, 4096);
  auto manifest = store.manifest(5);
  manifest.step = 7;
  std::ofstream(store.manifest_path(5), std::ios::trunc) << manifest_text(manifest);
  CHECK_THROWS_WITH_AS((void)store.manifest(5), doctest::Contains("the manifest says step 7 but its name says 5"),
                       brix::JobError);
  CHECK_FALSE(verify_checkpoints(dir.path(), false).ok());
}
