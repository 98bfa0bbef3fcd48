#include <brix/recover/failures.hpp>

#include <brix/monitor/job_dir.hpp>
#include <brix/util/error.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <map>

namespace brix::recover {
namespace {

std::optional<int> optional_int(const nlohmann::ordered_json& details, const char* key) {
  const auto it = details.find(key);
  if (it == details.end() || !it->is_number_integer()) {
    return std::nullopt;
  }
  return it->get<int>();
}

Failure from_stop(const launch::AttemptStop& attempt_stop) {
  const auto& stop = attempt_stop.stop;
  Failure failure;
  failure.time = stop.time;
  failure.attempt = attempt_stop.attempt;
  failure.node = stop.node;
  failure.source = monitor::JobDirLayout::relative().stop_record(attempt_stop.attempt);
  failure.message = stop.message;
  switch (stop.kind) {
  case launch::StopKind::failed:
    failure.rank = stop.rank;
    if (stop.signal != 0) {
      failure.kind = FailureKind::killed;
      failure.signal = stop.signal;
    } else {
      failure.kind = FailureKind::exited;
      failure.exit_code = stop.exit_code;
    }
    break;
  case launch::StopKind::lost:
    failure.kind = FailureKind::node_lost;
    break;
  case launch::StopKind::signalled:
    failure.kind = FailureKind::stopped;
    failure.signal = stop.signal;
    break;
  case launch::StopKind::done:
    break;
  }
  return failure;
}

std::optional<Failure> from_event(const monitor::Event& event) {
  Failure failure;
  failure.time = event.time;
  failure.node = event.node;
  failure.rank = event.rank;
  failure.source = monitor::JobDirLayout::relative().event_log();
  failure.message = event.message;
  if (event.type == monitor::event_type::exit) {
    failure.signal = optional_int(event.details, "signal");
    failure.exit_code = optional_int(event.details, "exit_code");
    if (failure.signal) {
      failure.kind = FailureKind::killed;
    } else if (failure.exit_code && *failure.exit_code != 0) {
      failure.kind = FailureKind::exited;
    } else {
      return std::nullopt; // a clean exit
    }
    return failure;
  }
  if (event.type == monitor::event_type::heartbeat_lost) {
    failure.kind = FailureKind::heartbeat_lost;
    return failure;
  }
  return std::nullopt;
}

bool repeats(const Failure& event, const Failure& stop) {
  return stop.rank && event.rank == stop.rank && std::fabs(event.time - stop.time) < 1.0 &&
         (event.kind == FailureKind::exited || event.kind == FailureKind::killed);
}

} // namespace

std::string to_string(FailureKind kind) {
  switch (kind) {
  case FailureKind::exited: return "exited";
  case FailureKind::killed: return "killed";
  case FailureKind::node_lost: return "node_lost";
  case FailureKind::heartbeat_lost: return "heartbeat_lost";
  case FailureKind::stopped: return "stopped";
  case FailureKind::node_failed: return "node_failed";
  }
  return "?";
}

std::string Failure::describe() const {
  const auto where = node.empty() ? std::string() : fmt::format(" on {}", node);
  const auto who = rank ? fmt::format("rank {}{}", *rank, where) : fmt::format("node {}", node);
  switch (kind) {
  case FailureKind::exited:
    return fmt::format("{} exited with code {}", who, exit_code.value_or(-1));
  case FailureKind::killed:
    return fmt::format("{} killed by {}", who, monitor::signal_name(signal.value_or(0)));
  case FailureKind::node_lost:
    return fmt::format("node {} lost (its agent stopped answering)", node.empty() ? "?" : node);
  case FailureKind::heartbeat_lost:
    return fmt::format("{} stopped sending heartbeats", who);
  case FailureKind::node_failed:
    return fmt::format("node {} failed ({})", node, message);
  case FailureKind::stopped:
    return fmt::format("job stopped by {}{}", monitor::signal_name(signal.value_or(0)),
                       node.empty() ? "" : fmt::format(" (received on {})", node));
  }
  return who;
}

nlohmann::ordered_json Failure::to_json() const {
  nlohmann::ordered_json json{{"kind", to_string(kind)}, {"time", time}};
  if (attempt >= 0) {
    json["attempt"] = attempt;
  }
  json["node"] = node;
  json["rank"] = rank ? nlohmann::ordered_json(*rank) : nlohmann::ordered_json(nullptr);
  json["exit_code"] = exit_code ? nlohmann::ordered_json(*exit_code) : nlohmann::ordered_json(nullptr);
  json["signal"] = signal ? nlohmann::ordered_json(monitor::signal_name(*signal))
                          : nlohmann::ordered_json(nullptr);
  json["description"] = describe();
  json["source"] = source;
  if (!message.empty()) {
    json["message"] = message;
  }
  return json;
}

std::vector<Failure> collect_failures(const std::vector<launch::AttemptStop>& stops,
                                      const std::vector<monitor::Event>& events) {
  std::vector<Failure> failures;
  for (const auto& stop : stops) {
    if (stop.stop.kind != launch::StopKind::done) {
      failures.push_back(from_stop(stop));
    }
  }
  const auto from_stops = failures.size();
  for (const auto& event : events) {
    const auto failure = from_event(event);
    if (!failure) {
      continue;
    }
    const bool repeated = std::any_of(failures.begin(), failures.begin() + static_cast<long>(from_stops),
                                      [&](const Failure& stop) { return repeats(*failure, stop); });
    if (!repeated) {
      failures.push_back(*failure);
    }
  }
  std::stable_sort(failures.begin(), failures.end(),
                   [](const Failure& a, const Failure& b) { return a.time < b.time; });
  return failures;
}

std::vector<monitor::SuspectNode> collect_suspects(const std::vector<monitor::SuspectNode>& listed,
                                                   const std::vector<monitor::Event>& events) {
  std::vector<monitor::SuspectNode> all = listed;
  for (const auto& event : events) {
    if (event.type == monitor::event_type::suspect && !event.node.empty()) {
      const auto reason = event.details.contains("reason") && event.details["reason"].is_string()
                              ? event.details["reason"].get<std::string>()
                              : event.message;
      all.push_back({event.node, reason, event.time});
    }
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const auto& a, const auto& b) { return a.time < b.time; });
  std::vector<monitor::SuspectNode> unique;
  for (const auto& suspect : all) {
    if (std::none_of(unique.begin(), unique.end(),
                     [&](const auto& kept) { return kept.node == suspect.node; })) {
      unique.push_back(suspect);
    }
  }
  return unique;
}

bool JobDir::completed() const {
  return !stops.empty() && stops.back().stop.kind == launch::StopKind::done &&
         (!launch || launch->attempt <= stops.back().attempt);
}

JobDir read_job_dir(const std::string& path) {
  if (!std::filesystem::is_directory(path)) {
    throw InputError(fmt::format("{}: no such job directory (expected the --log-dir of brix launch)", path));
  }
  JobDir job;
  job.path = path;
  job.launch = launch::read_job_record(path);
  job.stops = launch::read_stop_records(path);
  const auto log = monitor::JobDirLayout(path).event_log();
  if (!job.launch && job.stops.empty() && !std::filesystem::exists(log)) {
    const auto names = monitor::JobDirLayout::relative();
    throw InputError(fmt::format("{}: not a brix job directory (expected {}, {} or {} written by brix launch)", path,
                                 names.launch_record(), names.stop_record("N"), names.event_log()));
  }
  const auto events = monitor::read_events(log);
  job.failures = collect_failures(job.stops, events);
  job.suspects = collect_suspects(monitor::read_suspect_nodes(path), events);
  return job;
}

} // namespace brix::recover
