#include <brix/launch/stop_record.hpp>

#include <brix/util/input_file.hpp>
#include <brix/util/strings.hpp>

#include <cstring>
#include <ctime>
#include <fmt/format.h>

namespace brix::launch {

std::string to_string(StopKind kind) {
  switch (kind) {
  case StopKind::done: return "done";
  case StopKind::failed: return "failed";
  case StopKind::signalled: return "signalled";
  case StopKind::lost: return "lost";
  }
  return "?";
}

nlohmann::json StopRecord::to_json() const {
  return nlohmann::json{{"kind", to_string(kind)},   {"node_rank", node_rank},
                        {"node", node},              {"rank", rank},
                        {"local_rank", local_rank},  {"pid", pid},
                        {"exit_code", exit_code},    {"signal", signal},
                        {"time", time},              {"restartable", restartable},
                        {"message", message},        {"traceback", traceback},
                        {"stderr_path", stderr_path}, {"stderr_tail", stderr_tail}};
}

StopRecord StopRecord::from_json(const nlohmann::json& json) {
  StopRecord record;
  const auto kind = json.value("kind", std::string("failed"));
  for (const auto candidate :
       {StopKind::done, StopKind::failed, StopKind::signalled, StopKind::lost}) {
    if (to_string(candidate) == kind) {
      record.kind = candidate;
    }
  }
  record.node_rank = json.value("node_rank", -1);
  record.node = json.value("node", std::string());
  record.rank = json.value("rank", -1);
  record.local_rank = json.value("local_rank", -1);
  record.pid = json.value("pid", 0);
  record.exit_code = json.value("exit_code", 0);
  record.signal = json.value("signal", 0);
  record.time = json.value("time", 0.0);
  record.restartable = json.value("restartable", true);
  record.message = json.value("message", std::string());
  record.traceback = json.value("traceback", std::string());
  record.stderr_path = json.value("stderr_path", std::string());
  record.stderr_tail = json.value("stderr_tail", std::vector<std::string>{});
  return record;
}

std::string signal_name(int signal) {
  if (const char* abbrev = ::sigabbrev_np(signal)) {
    return fmt::format("SIG{}", abbrev);
  }
  return fmt::format("SIG{}", signal);
}

int exit_code_for(const StopRecord& record) {
  switch (record.kind) {
  case StopKind::done:
    return 0;
  case StopKind::failed:
    if (record.signal != 0) {
      return 128 + record.signal;
    }
    return record.exit_code > 0 && record.exit_code < 256 ? record.exit_code : 1;
  case StopKind::signalled:
    return 128 + record.signal;
  case StopKind::lost:
    return 1;
  }
  return 1;
}

std::optional<ErrorFile> read_error_file(const std::string& path) {
  std::string why;
  const auto text = util::read_regular_file(path, why);
  if (!text) {
    return std::nullopt;
  }
  try {
    const auto json = nlohmann::json::parse(*text);
    ErrorFile file;
    const auto& outer = json.at("message");
    if (outer.is_string()) {
      file.message = outer.get<std::string>();
      return file;
    }
    file.message = outer.value("message", std::string());
    if (outer.contains("extraInfo")) {
      const auto& extra = outer["extraInfo"];
      file.traceback = extra.value("py_callstack", std::string());
      if (extra.contains("timestamp")) {
        const auto& stamp = extra["timestamp"];
        if (stamp.is_number()) {
          file.timestamp = stamp.get<double>();
        } else if (stamp.is_string()) {
          file.timestamp = util::parse_double(stamp.get<std::string>());
        }
      }
    }
    return file;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::vector<std::string> tail_lines(const std::string& path, std::size_t count) {
  std::string why;
  const auto in = util::InputFile::open(path, why);
  if (!in || count == 0) {
    return {};
  }
  // The last 64 KiB hold the lines anyone reads in a report.
  const std::uint64_t start = in->size() - std::min<std::uint64_t>(in->size(), 64 << 10);
  const std::string text = in->read(start);
  auto lines = util::split(text, '\n');
  if (!lines.empty() && lines.back().empty()) {
    lines.pop_back();
  }
  if (start > 0 && !lines.empty()) {
    lines.erase(lines.begin()); // probably cut in the middle
  }
  if (lines.size() > count) {
    lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(count));
  }
  return lines;
}

namespace {
/// "2025-03-01 12:00:00.250 UTC" for Unix seconds.
std::string utc_text(double seconds) {
  const auto whole = static_cast<std::time_t>(seconds);
  std::tm parts{};
  ::gmtime_r(&whole, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &parts);
  return fmt::format("{}.{:03d} UTC", text,
                     static_cast<int>((seconds - static_cast<double>(whole)) * 1000));
}
} // namespace

std::string failure_report(const StopRecord& record, int attempt, int max_restarts) {
  std::string out;
  const auto restarts = fmt::format("attempt {} (--max-restarts {})", attempt, max_restarts);
  switch (record.kind) {
  case StopKind::done:
    return fmt::format("all workers exited 0 ({})\n", restarts);
  case StopKind::signalled:
    return fmt::format("node {} (node rank {}) received {}: workers stopped ({})\n", record.node,
                       record.node_rank, signal_name(record.signal), restarts);
  case StopKind::lost:
    return fmt::format("{} (node rank {}) was lost: {} ({})\n",
                       record.node.find(' ') == std::string::npos ? "node " + record.node
                                                                 : record.node,
                       record.node_rank,
                       record.message, restarts);
  case StopKind::failed:
    break;
  }
  const auto how = record.signal != 0
                       ? fmt::format("was killed by signal {} ({})", record.signal,
                                     signal_name(record.signal))
                       : fmt::format("exited with code {}", record.exit_code);
  out += fmt::format("first failure: rank {} (local rank {}, pid {}) on node {} (node rank {}) {} "
                     "at {}, {}{}\n",
                     record.rank, record.local_rank, record.pid, record.node, record.node_rank, how,
                     utc_text(record.time), restarts,
                     record.restartable ? "" : "; its exit code is in --no-restart-exit-codes");
  if (!record.message.empty()) {
    out += fmt::format("  error file: {}\n", record.message);
  }
  if (!record.traceback.empty()) {
    for (const auto& line : util::split(record.traceback, '\n')) {
      out += fmt::format("    {}\n", line);
    }
  }
  if (!record.stderr_tail.empty()) {
    out += fmt::format("  last lines of {}:\n", record.stderr_path);
    for (const auto& line : record.stderr_tail) {
      out += fmt::format("  | {}\n", line);
    }
  }
  return out;
}

} // namespace brix::launch
