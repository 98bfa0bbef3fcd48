#pragma once
// What `brix recover list`, `verify` and `gc` show: checkpoint rows as JSON and as a text table,
// the verification of one store (and its mirror), what garbage collection removed.

#include <brix/checkpoint/catalog.hpp>
#include <brix/checkpoint/store.hpp>
#include <brix/util/output.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace brix::checkpoint {

[[nodiscard]] nlohmann::ordered_json info_to_json(const CheckpointInfo& info);
[[nodiscard]] nlohmann::ordered_json infos_to_json(const std::filesystem::path& dir,
                                                   const std::vector<CheckpointInfo>& infos);
/// STEP FORMAT SIZE NEW STATUS DETAIL, one row per checkpoint.
[[nodiscard]] std::string render_infos_text(const std::vector<CheckpointInfo>& infos, const util::Style& style);

/// `brix recover list DIR`.
struct CheckpointListing {
  std::filesystem::path dir;
  std::vector<CheckpointInfo> checkpoints;
  /// Whether a job could resume from here: some checkpoint is complete.
  [[nodiscard]] bool resumable() const;
};
/// The `brix: error: DIR: …` line for stderr when the listing is not resumable (no checkpoint, or
/// every one incomplete or corrupt); nullopt when it is.
[[nodiscard]] std::optional<std::string> error(const CheckpointListing& listing);
[[nodiscard]] nlohmann::ordered_json to_json(const CheckpointListing& listing);
[[nodiscard]] std::string to_text(const CheckpointListing& listing, const util::Style& style);

struct VerifyReport {
  std::filesystem::path dir;
  std::vector<CheckpointInfo> checked;
  std::optional<CheckpointInfo> first_bad; ///< the oldest checkpoint that failed
  /// Saves not published yet (a Megatron-LM iteration newer than its tracker): not loadable, but
  /// not a fault of the published checkpoints either.
  std::vector<CheckpointInfo> warnings;
  [[nodiscard]] bool ok() const { return !first_bad && !checked.empty(); }
};

/// Checks every hash of every checkpoint in `dir` (only the one `latest` names with
/// `latest_only`, brix stores). A directory without any checkpoint is not ok.
[[nodiscard]] VerifyReport verify_checkpoints(const std::filesystem::path& dir, bool latest_only);
[[nodiscard]] nlohmann::ordered_json verify_to_json(const VerifyReport& report);
[[nodiscard]] std::string render_verify_text(const VerifyReport& report, const util::Style& style);

/// `brix recover verify DIR [--mirror DIR]`: the store and its mirror.
struct Verification {
  std::vector<VerifyReport> stores;
  [[nodiscard]] bool ok() const;
};
/// {ok, stores: [verify_to_json…]}.
[[nodiscard]] nlohmann::ordered_json to_json(const Verification& verification);
[[nodiscard]] std::string to_text(const Verification& verification, const util::Style& style);
/// One `brix: error: DIR: …` line per store with a bad checkpoint or none at all, for stderr.
[[nodiscard]] std::vector<std::string> errors(const Verification& verification);

/// `brix recover gc DIR`.
[[nodiscard]] nlohmann::ordered_json to_json(const GcResult& result);
[[nodiscard]] std::string to_text(const GcResult& result);

} // namespace brix::checkpoint
