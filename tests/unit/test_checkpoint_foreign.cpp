#include <support/temp_dir.hpp>

#include <brix/checkpoint/catalog.hpp>
#include <brix/checkpoint/foreign.hpp>
#include <brix/checkpoint/report.hpp>
#include <brix/checkpoint/stress.hpp>
#include <brix/safetensors/writer.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

namespace fs = std::filesystem;
using namespace brix::checkpoint;

namespace {

using Dir = brix::test::TempDir;

void write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

/// The smallest thing that ends like a torch.save archive: a ZIP end-of-central-directory record.
std::string fake_torch_save() { return std::string(100, 'z') + std::string("PK\x05\x06", 4) + std::string(18, '\0'); }

/// A pickle-shaped .metadata naming `files`.
std::string fake_dcp_metadata(const std::vector<std::string>& files) {
  std::string text = "\x80\x04";
  for (const auto& file : files) {
    text += "relative_path\x8c" + file;
  }
  return text + ".";
}

void megatron_iteration(const fs::path& dir, int iteration, int tp, int pp) {
  for (int t = 0; t < tp; ++t) {
    for (int p = 0; p < pp; ++p) {
      char name[64];
      std::snprintf(name, sizeof name, "iter_%07d/mp_rank_%02d_%03d/model_optim_rng.pt", iteration, t, p);
      write(dir / name, fake_torch_save());
    }
  }
}

} // namespace

TEST_CASE("checkpoint::step_from_name") {
  CHECK(step_from_name("iter_0000100") == 100);
  CHECK(step_from_name("checkpoint-500") == 500);
  CHECK(step_from_name("global_step7") == 7);
  CHECK(step_from_name("final") == -1);
}

TEST_CASE("checkpoint::megatron") {
  Dir dir;
  megatron_iteration(dir.path(), 100, 2, 2);
  megatron_iteration(dir.path(), 200, 2, 2);
  write(dir.path() / "latest_checkpointed_iteration.txt", "200\n");
  auto infos = list_checkpoints(dir.path(), false);
  REQUIRE(infos.size() == 2);
  CHECK(infos[0].format == "megatron");
  CHECK(infos[0].status == "complete");
  CHECK(infos[1].detail == "latest");
  CHECK(infos[1].layout["tensor_parallel"] == 2);
  CHECK(infos[1].layout["pipeline_parallel"] == 2);
  CHECK(latest_good(dir.path(), false)->step == 200);

  SUBCASE("a save newer than the tracker is untracked: a warning of verify, not a failure") {
    megatron_iteration(dir.path(), 300, 1, 2); // unfinished: half its ranks
    infos = list_checkpoints(dir.path(), false);
    REQUIRE(infos.size() == 3);
    CHECK(infos[2].status == "untracked");
    CHECK(infos[2].detail.find("latest_checkpointed_iteration.txt") != std::string::npos);
    CHECK(infos[1].status == "complete"); // its smaller grid does not count against the others
    CHECK(latest_good(dir.path(), false)->step == 200);
    const auto report = verify_checkpoints(dir.path(), false);
    CHECK(report.ok());
    REQUIRE(report.warnings.size() == 1);
    CHECK(report.warnings[0].step == 300);
    CHECK(render_verify_text(report, brix::util::Style{false}).find("warning: step 300: newer than") != std::string::npos);
  }
  SUBCASE("a missing rank directory") {
    fs::remove_all(dir.path() / "iter_0000200" / "mp_rank_01_001");
    infos = list_checkpoints(dir.path(), false);
    CHECK(infos[1].status == "incomplete");
    CHECK(infos[1].detail == "missing mp_rank_01_001 (a 2 x 2 grid, from its own rank names)");
    CHECK(latest_good(dir.path(), false)->step == 100);
  }
  SUBCASE("a missing rank seen only by comparing with a sibling iteration") {
    fs::remove_all(dir.path() / "iter_0000200" / "mp_rank_01_000");
    fs::remove_all(dir.path() / "iter_0000200" / "mp_rank_01_001");
    infos = list_checkpoints(dir.path(), false);
    CHECK(infos[1].status == "incomplete");
    CHECK(infos[1].detail == "missing mp_rank_01_000 and 1 more (a 2 x 2 grid, from iter_0000100)");
    CHECK(latest_good(dir.path(), false)->step == 100);
    CHECK_FALSE(verify_checkpoints(dir.path(), false).ok());
  }
  SUBCASE("a truncated rank file") {
    write(dir.path() / "iter_0000200" / "mp_rank_00_001" / "model_optim_rng.pt", std::string(100, 'z'));
    infos = list_checkpoints(dir.path(), false);
    CHECK(infos[1].status == "corrupt");
    CHECK(infos[1].detail.find("mp_rank_00_001/model_optim_rng.pt") != std::string::npos);
  }
  SUBCASE("the tracker names a missing iteration") {
    write(dir.path() / "latest_checkpointed_iteration.txt", "400\n");
    infos = list_checkpoints(dir.path(), false);
    REQUIRE(infos.size() == 3);
    CHECK(infos[2].status == "corrupt");
    CHECK(infos[2].step == 400);
  }
}

/// A model_optim_rng.pt whose pickled arguments record the tensor and pipeline sizes (protocol 2
/// and 4 spellings of a string key and an integer).
std::string torch_save_with_args(int tp, int pp) {
  std::string pickle = "\x80\x02";
  pickle += "X" + std::string(1, '\x1a') + std::string(3, '\0') + "tensor_model_parallel_size" + "q\x07K" +
            std::string(1, static_cast<char>(tp));
  pickle += "\x8c\x1cpipeline_model_parallel_size\x94M" + std::string(1, static_cast<char>(pp)) + '\0';
  return pickle + fake_torch_save();
}

TEST_CASE("checkpoint::megatron rank grid from the checkpoint arguments") {
  Dir dir;
  // One iteration only, mp_rank_00 (tp 1 by its names) but its arguments say tp 2, pp 1.
  write(dir.path() / "iter_0000200" / "mp_rank_00" / "model_optim_rng.pt", torch_save_with_args(2, 1));
  write(dir.path() / "latest_checkpointed_iteration.txt", "200");
  auto infos = list_checkpoints(dir.path(), false);
  REQUIRE(infos.size() == 1);
  CHECK(infos[0].status == "incomplete");
  CHECK(infos[0].detail ==
        "missing mp_rank_01 (a 2 grid, from the checkpoint's arguments (tensor/pipeline_model_parallel_size))");
  write(dir.path() / "iter_0000200" / "mp_rank_01" / "model_optim_rng.pt", torch_save_with_args(2, 1));
  infos = list_checkpoints(dir.path(), false);
  CHECK(infos[0].status == "complete");
  CHECK(infos[0].layout["tensor_parallel"] == 2);
}

TEST_CASE("checkpoint::dcp") {
  Dir dir;
  const auto step = dir.path() / "step_50";
  write(step / "__0_0.distcp", "rank zero");
  write(step / "__1_0.distcp", "rank one");
  write(step / ".metadata", fake_dcp_metadata({"__0_0.distcp", "__1_0.distcp"}));
  auto infos = list_checkpoints(dir.path(), false);
  REQUIRE(infos.size() == 1);
  CHECK(infos[0].format == "dcp");
  CHECK(infos[0].step == 50);
  CHECK(infos[0].status == "complete");
  SUBCASE("a data file named by .metadata is missing") {
    fs::remove(step / "__1_0.distcp");
    CHECK(list_checkpoints(dir.path(), false)[0].status == "incomplete");
    CHECK_FALSE(latest_good(dir.path(), false));
  }
  SUBCASE("a truncated .metadata") {
    const auto text = fake_dcp_metadata({"__0_0.distcp", "__1_0.distcp"});
    write(step / ".metadata", text.substr(0, text.size() - 5));
    CHECK(list_checkpoints(dir.path(), false)[0].status == "corrupt");
  }
  SUBCASE("no .metadata yet: not recognised as a checkpoint") {
    fs::remove(step / ".metadata");
    CHECK(list_checkpoints(dir.path(), false).empty());
  }
}

TEST_CASE("checkpoint::safetensors") {
  Dir dir;
  const auto folder = dir.path() / "checkpoint-300";
  fs::create_directories(folder);
  using brix::safetensors::Dtype;
  for (const auto* name : {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}) {
    const auto layout = brix::safetensors::layout_file({{std::string("w.") + name[10], Dtype::f32, {2, 2}}});
    write(folder / name, layout.header + std::string(16, '\1'));
  }
  write(folder / "model.safetensors.index.json",
        R"({"metadata": {"total_size": 32}, "weight_map": {"w.1": "model-00001-of-00002.safetensors", "w.2": "model-00002-of-00002.safetensors"}})");
  auto infos = list_checkpoints(dir.path(), false);
  REQUIRE(infos.size() == 1);
  CHECK(infos[0].format == "safetensors");
  CHECK(infos[0].step == 300);
  CHECK(infos[0].status == "complete");
  CHECK(infos[0].layout["tensors"] == 2);
  // Safetensors does not say which bytes are new: "-" and null, not the size again.
  CHECK_FALSE(infos[0].new_bytes);
  CHECK(infos_to_json(dir.path(), infos)["checkpoints"][0]["new_bytes"].is_null());
  std::istringstream table(render_infos_text(infos, brix::util::Style{false}));
  std::string header;
  std::getline(table, header);
  std::vector<std::string> row{std::istream_iterator<std::string>(table), {}};
  REQUIRE(row.size() >= 6); // 300 safetensors <size> B - complete ...
  CHECK(row[3] == "B");
  CHECK(row[4] == "-");
  SUBCASE("a missing shard") {
    fs::remove(folder / "model-00002-of-00002.safetensors");
    infos = list_checkpoints(dir.path(), false);
    CHECK(infos[0].status == "incomplete");
    CHECK(infos[0].detail.find("model-00002-of-00002.safetensors") != std::string::npos);
  }
  SUBCASE("a truncated shard") {
    fs::resize_file(folder / "model-00001-of-00002.safetensors", fs::file_size(folder / "model-00001-of-00002.safetensors") - 4);
    CHECK(list_checkpoints(dir.path(), false)[0].status == "corrupt");
  }
}

TEST_CASE("checkpoint::stress_data changes a tenth of the chunks per step") {
  const auto a = stress_data(11, 100 * 64, 64);
  const auto b = stress_data(12, 100 * 64, 64);
  int changed = 0;
  for (int i = 0; i < 100; ++i) {
    changed += a.compare(i * 64, 64, b, i * 64, 64) != 0 ? 1 : 0;
  }
  CHECK(changed == 10);
  CHECK(stress_data(12, 6400, 64) == b);
}

TEST_CASE("checkpoint::megatron tracker Megatron-LM cannot read fails verification") {
  Dir dir;
  megatron_iteration(dir.path(), 100, 1, 2);
  const auto tracker = dir.path() / "latest_checkpointed_iteration.txt";
  auto check_bad_tracker = [&](const std::string& expected) {
    CAPTURE(expected);
    const auto report = verify_checkpoints(dir.path(), false);
    CHECK_FALSE(report.ok());
    REQUIRE(report.first_bad);
    CHECK(report.first_bad->path == tracker.string());
    CHECK(report.first_bad->detail.find(expected) != std::string::npos);
  };
  write(tracker, "\xff\xfe garbage\n");
  check_bad_tracker("holds '\\xff\\xfe garbage' (expected an iteration number or 'release')");
  fs::remove(tracker);
  fs::create_directory(tracker);
  check_bad_tracker("cannot be read: is a directory, not a regular file");
  fs::remove(tracker);
  fs::create_symlink(tracker, tracker);
  check_bad_tracker("cannot be read:");
  fs::remove(tracker);
  write(tracker, "100\n");
  CHECK(verify_checkpoints(dir.path(), false).ok());
}

TEST_CASE("checkpoint::megatron rank names cannot make a huge grid") {
  Dir dir;
  write(dir.path() / "iter_0000100" / "mp_rank_00_000" / "model_optim_rng.pt", fake_torch_save());
  write(dir.path() / "iter_0000100" / "mp_rank_00_999999999" / "model_optim_rng.pt", fake_torch_save());
  write(dir.path() / "latest_checkpointed_iteration.txt", "100");
  // Before: a 1 x 10^9 grid enumerated rank by rank (gigabytes, killed).
  auto infos = list_checkpoints(dir.path(), false);
  REQUIRE(infos.size() == 1);
  CHECK(infos[0].status == "corrupt");
  CHECK(infos[0].detail == "mp_rank_00_999999999: a rank index above 99999 is not a parallel size anyone runs");
  CHECK_FALSE(verify_checkpoints(dir.path(), false).ok());
  // Indices within bounds whose grid is still too large: refused before it is enumerated.
  fs::remove_all(dir.path() / "iter_0000100");
  write(dir.path() / "iter_0000100" / "mp_rank_00_000_000" / "model_optim_rng.pt", fake_torch_save());
  write(dir.path() / "iter_0000100" / "mp_rank_00_09999_09999" / "model_optim_rng.pt", fake_torch_save());
  infos = list_checkpoints(dir.path(), false);
  REQUIRE(infos.size() == 1);
  CHECK(infos[0].status == "corrupt");
  CHECK(infos[0].detail.find("a 1 x 10000 x 10000 rank grid (from its own rank names) is larger than any job's") == 0);
}
