#include <brix/checkpoint/report.hpp>

#include <brix/checkpoint/store.hpp>
#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <fmt/format.h>

namespace brix::checkpoint {

using Json = nlohmann::ordered_json;

Json info_to_json(const CheckpointInfo& info) {
  return {{"step", info.step},     {"format", info.format},       {"path", info.path},
          {"bytes", info.bytes},   {"new_bytes", info.new_bytes ? Json(*info.new_bytes) : Json(nullptr)}, {"status", info.status},
          {"detail", info.detail}, {"layout", info.layout.is_null() ? Json::object() : info.layout}};
}

Json infos_to_json(const std::filesystem::path& dir, const std::vector<CheckpointInfo>& infos) {
  Json rows = Json::array();
  for (const auto& info : infos) {
    rows.push_back(info_to_json(info));
  }
  return {{"dir", dir.string()}, {"checkpoints", rows}};
}

namespace {

/// "812 B", "28.0 KiB", "1.50 GiB": checkpoints and their increments span many magnitudes.
std::string bytes_text(std::uint64_t bytes) {
  static constexpr const char* k_units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(k_units)) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.{}f} {}", value, value < 100 ? 2 : 1, k_units[unit]);
}

std::string coloured_status(const std::string& status, const util::Style& style) {
  return status == "complete"                              ? style.green(status)
         : status == "incomplete" || status == "untracked" ? style.yellow(status)
                                                           : style.red(status);
}

} // namespace

std::string render_infos_text(const std::vector<CheckpointInfo>& infos, const util::Style& style) {
  if (infos.empty()) {
    return "no checkpoints found\n";
  }
  util::Table table({"step", "format", "size", "new", "status", "detail"},
                    {util::Align::right, util::Align::left, util::Align::right, util::Align::right, util::Align::left,
                     util::Align::left});
  for (const auto& info : infos) {
    table.add_row({info.step >= 0 ? std::to_string(info.step) : "-", info.format,
                   bytes_text(info.bytes), info.new_bytes ? bytes_text(*info.new_bytes) : "-",
                   coloured_status(info.status, style), info.detail.empty() ? info.path : info.detail});
  }
  return table.render();
}

VerifyReport verify_checkpoints(const std::filesystem::path& dir, bool latest_only) {
  VerifyReport report;
  report.dir = dir;
  auto infos = list_checkpoints(dir, true);
  std::optional<std::int64_t> latest;
  if (latest_only && is_store(dir)) {
    try {
      // Through a local: with `latest = call()`, GCC 12 -O2 was seen (valgrind) to let the call write
      // into `latest` and leave it unset when the call threw (a random step was read back).
      if (const auto step = Store(dir).latest_step()) {
        latest = *step;
      }
    } catch (const JobError&) {
      // The damaged `latest` shows up as its own corrupt row below.
    }
  }
  for (auto& info : infos) {
    const bool is_latest_row = info.format == "brix" && (latest ? info.step == *latest : info.step < 0);
    if (latest_only && is_store(dir) && !is_latest_row) {
      continue;
    }
    if (info.status == "untracked") {
      report.warnings.push_back(info);
    } else if (info.status != "complete" && !report.first_bad) {
      report.first_bad = info;
    }
    report.checked.push_back(std::move(info));
  }
  return report;
}

Json verify_to_json(const VerifyReport& report) {
  auto json = infos_to_json(report.dir, report.checked);
  json["ok"] = report.ok();
  json["first_bad"] = report.first_bad ? info_to_json(*report.first_bad) : Json(nullptr);
  Json warnings = Json::array();
  for (const auto& info : report.warnings) {
    warnings.push_back(info_to_json(info));
  }
  json["warnings"] = warnings;
  return json;
}

std::string render_verify_text(const VerifyReport& report, const util::Style& style) {
  std::string text = fmt::format("{}:\n", report.dir.string());
  text += render_infos_text(report.checked, style);
  for (const auto& info : report.warnings) {
    text += fmt::format("{} step {}: {}\n", style.yellow("warning:"), info.step, info.detail);
  }
  if (report.first_bad) {
    text += fmt::format("{} step {}: {}\n", style.red("bad:"), report.first_bad->step, report.first_bad->detail);
  } else if (report.ok()) {
    text += fmt::format("{} {} checkpoint(s), every hash matches\n", style.green("ok:"), report.checked.size());
  }
  return text;
}

bool CheckpointListing::resumable() const {
  return std::any_of(checkpoints.begin(), checkpoints.end(), [](const CheckpointInfo& info) { return info.status == "complete"; });
}

std::optional<std::string> error(const CheckpointListing& listing) {
  if (listing.resumable()) {
    return std::nullopt;
  }
  if (listing.checkpoints.empty()) {
    return fmt::format("brix: error: {}: no checkpoint found (expected a brix store, Megatron-LM, DCP or safetensors "
                       "checkpoints)",
                       listing.dir.string());
  }
  const auto& first = listing.checkpoints.front();
  return fmt::format("brix: error: {}: no complete checkpoint among {} (the oldest, step {}: {}: {})", listing.dir.string(),
                     listing.checkpoints.size(), first.step, first.status, first.detail);
}

Json to_json(const CheckpointListing& listing) { return infos_to_json(listing.dir, listing.checkpoints); }

std::string to_text(const CheckpointListing& listing, const util::Style& style) {
  return render_infos_text(listing.checkpoints, style);
}

bool Verification::ok() const {
  return std::all_of(stores.begin(), stores.end(), [](const VerifyReport& store) { return store.ok(); });
}

Json to_json(const Verification& verification) {
  Json stores = Json::array();
  for (const auto& store : verification.stores) {
    stores.push_back(verify_to_json(store));
  }
  return {{"ok", verification.ok()}, {"stores", stores}};
}

std::string to_text(const Verification& verification, const util::Style& style) {
  std::string text;
  for (const auto& store : verification.stores) {
    text += render_verify_text(store, style);
  }
  return text;
}

std::vector<std::string> errors(const Verification& verification) {
  std::vector<std::string> lines;
  for (const auto& store : verification.stores) {
    if (store.first_bad) {
      lines.push_back(fmt::format("brix: error: {}: step {}: {}", store.dir.string(), store.first_bad->step,
                                  store.first_bad->detail));
    } else if (store.checked.empty()) {
      lines.push_back(fmt::format("brix: error: {}: no checkpoint to verify", store.dir.string()));
    }
  }
  return lines;
}

Json to_json(const GcResult& result) {
  return {{"manifests_removed", result.manifests_removed},
          {"chunks_removed", result.chunks_removed},
          {"bytes_freed", result.bytes_freed},
          {"temps_removed", result.temps_removed},
          {"skipped", result.skipped}};
}

std::string to_text(const GcResult& result) {
  std::string text = fmt::format("removed {} manifest(s), {} chunk(s) ({}), {} temporary file(s)\n", result.manifests_removed,
                                 result.chunks_removed, util::gib(static_cast<double>(result.bytes_freed)),
                                 result.temps_removed);
  if (!result.skipped.empty()) {
    text += "chunks kept: " + result.skipped + '\n';
  }
  return text;
}

} // namespace brix::checkpoint
