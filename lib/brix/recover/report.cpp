// Rendering a RecoveryReport: JSON (also YAML through emit_document) and text.
#include <brix/recover/recover.hpp>

#include <brix/launch/hostlist.hpp>

#include <ctime>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace brix::recover {
namespace {

constexpr std::size_t k_mapping_lines = 8; ///< text shows the first ranks; JSON has all

std::string mode_name(RecoverMode mode) {
  switch (mode) {
  case RecoverMode::print: return "print";
  case RecoverMode::dry_run: return "dry-run";
  case RecoverMode::submit: return "submit";
  }
  return "?";
}

std::string clock_time(double unix_seconds) {
  const auto seconds = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

} // namespace

nlohmann::ordered_json to_json(const RecoveryReport& r) {
  nlohmann::ordered_json json{{"job_dir", r.job_dir}, {"slurm_job_id", r.slurm_job_id}, {"mode", mode_name(r.mode)}};
  auto failures = nlohmann::ordered_json::array();
  for (const auto& failure : r.failures) {
    failures.push_back(failure.to_json());
  }
  json["failures"] = failures;
  json["first_failure"] = r.failures.empty() ? nlohmann::ordered_json(nullptr) : failures.front();
  json["kept_nodes"] = r.kept_notes;
  json["exclude"] = to_json(r.exclusions);
  json["usable_nodes"] = r.usable_nodes;
  json["nodes_needed"] = r.nodes_needed;
  if (r.replan && r.old_plan) {
    json["replan"] = to_json(*r.replan, *r.old_plan);
    json["new_plan"] = r.new_plan_path;
    json["mapping"] = to_json(r.mapping);
  }
  nlohmann::ordered_json checkpoint{{"dir", r.checkpoint_dir},
                                    {"action", r.checkpoint_action},
                                    {"resume_from", r.resume_from.empty() ? nlohmann::ordered_json(nullptr)
                                                                          : nlohmann::ordered_json(r.resume_from)}};
  if (r.checkpoint) {
    checkpoint["latest"] = {{"format", r.checkpoint->format}, {"path", r.checkpoint->path},
                            {"step", r.checkpoint->step}, {"status", r.checkpoint->status}};
  }
  json["checkpoint"] = checkpoint;
  json["restarts"] = {{"used", r.restarts_used}, {"max", r.max_restarts}};
  if (r.relaunch) {
    auto commands = nlohmann::ordered_json::array();
    for (const auto& argv : r.relaunch->commands) {
      commands.push_back(shell_line(argv));
    }
    json["relaunch"] = {{"kind", to_string(r.relaunch->kind)}, {"why", r.relaunch->why}, {"commands", commands}};
  }
  json["can_recover"] = r.can_recover;
  json["verdict"] = r.verdict;
  if (!r.submitted_job.empty()) {
    json["submitted_job"] = r.submitted_job;
  }
  return json;
}

std::string to_text(const RecoveryReport& r) {
  std::string out = fmt::format("brix recover {}{}\n", r.job_dir,
                                r.slurm_job_id.empty() ? "" : fmt::format(" (Slurm job {})", r.slurm_job_id));
  out += "failures, first first:\n";
  if (r.failures.empty()) {
    out += "  none recorded\n";
  }
  for (std::size_t i = 0; i < r.failures.size(); ++i) {
    const auto& f = r.failures[i];
    out += fmt::format("  {}. {} UTC{}  {}  [{}]\n", i + 1, clock_time(f.time),
                       f.attempt >= 0 ? fmt::format(" attempt {}", f.attempt) : "", f.describe(), f.source);
  }
  for (const auto& note : r.kept_notes) {
    out += fmt::format("  kept: {}\n", note);
  }
  out += "exclude:\n";
  if (r.exclusions.empty()) {
    out += "  no node\n";
  }
  for (const auto& exclusion : r.exclusions) {
    out += fmt::format("  {}: {}\n", exclusion.node, fmt::join(exclusion.reasons, "; "));
  }
  out += fmt::format("nodes: {} usable ({}), {} needed\n", r.usable_nodes.size(),
                     r.usable_nodes.empty() ? "none" : launch::compress_hostlist(r.usable_nodes), r.nodes_needed);
  if (r.replan && r.old_plan) {
    out += fmt::format("plan: {}: {}\n", to_string(r.replan->decision), r.replan->why);
    for (const auto& tried : r.replan->tried) {
      out += fmt::format("  rejected {}\n", tried);
    }
    if (!r.new_plan_path.empty()) {
      out += fmt::format("  new plan: {} ({})\n", r.new_plan_path, plan::to_string(r.replan->plan.layout));
    }
    if (!r.mapping.empty()) {
      out += fmt::format("mapping old -> new ({} new ranks):\n", r.mapping.size());
      for (std::size_t i = 0; i < r.mapping.size() && i < k_mapping_lines; ++i) {
        out += "  " + describe(r.mapping[i]) + "\n";
      }
      if (r.mapping.size() > k_mapping_lines) {
        out += fmt::format("  ... {} more (--format json lists every rank)\n", r.mapping.size() - k_mapping_lines);
      }
    }
  }
  if (r.checkpoint) {
    out += fmt::format("checkpoint: {} step {} at {} ({})\n", r.checkpoint->format, r.checkpoint->step,
                       r.checkpoint->path, r.checkpoint->status);
  }
  if (!r.checkpoint_action.empty()) {
    out += fmt::format("  {}\n", r.checkpoint_action);
  }
  out += fmt::format("restart budget: {} of {} relaunches used\n", r.restarts_used, r.max_restarts);
  if (r.relaunch) {
    out += fmt::format("relaunch ({}): {}\n", to_string(r.relaunch->kind), r.relaunch->why);
    for (const auto& argv : r.relaunch->commands) {
      out += "  " + shell_line(argv) + "\n";
    }
  }
  out += r.verdict + "\n";
  return out;
}

} // namespace brix::recover
