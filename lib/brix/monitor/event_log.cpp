#include <brix/monitor/event_log.hpp>

#include <brix/util/error.hpp>
#include <brix/util/input_file.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

namespace brix::monitor {

namespace {
constexpr std::string_view k_fixed_keys[] = {"time", "type", "node", "rank", "message"};

bool is_fixed_key(std::string_view key) {
  for (const auto fixed : k_fixed_keys) {
    if (key == fixed) {
      return true;
    }
  }
  return false;
}
} // namespace

std::string signal_name(int signal) {
  // sigabbrev_np is glibc >= 2.32 (Debian 12 has 2.36).
  if (const char* abbrev = ::sigabbrev_np(signal)) {
    return fmt::format("SIG{}", abbrev);
  }
  return fmt::format("signal {}", signal);
}

Event make_exit_event(double time, std::string node, int rank, std::optional<int> exit_code,
                      std::optional<int> signal) {
  Event event;
  event.time = time;
  event.type = std::string(event_type::exit);
  event.node = std::move(node);
  event.rank = rank;
  if (signal) {
    event.message = fmt::format("rank {} killed by {}", rank, signal_name(*signal));
    event.details["signal"] = *signal;
    event.details["signal_name"] = signal_name(*signal);
  } else {
    const int code = exit_code.value_or(0);
    event.message = fmt::format("rank {} exited with code {}", rank, code);
    event.details["exit_code"] = code;
  }
  return event;
}

std::string to_json_line(const Event& event) {
  nlohmann::ordered_json line;
  line["time"] = event.time;
  line["type"] = event.type;
  if (!event.node.empty()) {
    line["node"] = event.node;
  }
  if (event.rank) {
    line["rank"] = *event.rank;
  }
  line["message"] = event.message;
  for (const auto& [key, value] : event.details.items()) {
    if (is_fixed_key(key)) {
      throw std::logic_error(fmt::format("event detail '{}' collides with a fixed key", key));
    }
    line[key] = value;
  }
  return line.dump() + '\n';
}

Event parse_event_line(std::string_view text, std::string_view file, int line) {
  nlohmann::ordered_json doc;
  try {
    doc = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    fail_input(file, line, fmt::format("malformed event: {}", error.what()),
               "expected one JSON object per line");
  }
  if (!doc.is_object() || !doc.contains("time") || !doc["time"].is_number() ||
      !doc.contains("type") || !doc["type"].is_string()) {
    fail_input(file, line, "malformed event", "expected an object with numeric 'time' and string 'type'");
  }
  Event event;
  for (const auto& [key, value] : doc.items()) {
    if (key == "time") {
      event.time = value.get<double>();
    } else if (key == "type") {
      event.type = value.get<std::string>();
    } else if (key == "node" && value.is_string()) {
      event.node = value.get<std::string>();
    } else if (key == "rank" && value.is_number_integer()) {
      event.rank = value.get<int>();
    } else if (key == "message" && value.is_string()) {
      event.message = value.get<std::string>();
    } else {
      event.details[key] = value;
    }
  }
  return event;
}

EventLog::EventLog(std::string path) : m_path(std::move(path)) {
  m_fd = ::open(m_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (m_fd < 0) {
    throw JobError(fmt::format("{}: cannot open the event log: {}", m_path, std::strerror(errno)));
  }
}

EventLog::~EventLog() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

void EventLog::append(const Event& event) {
  const std::string line = to_json_line(event);
  const std::lock_guard lock(m_mutex);
  // One write per line: with O_APPEND the kernel places it atomically at the end of the file.
  const auto written = ::write(m_fd, line.data(), line.size());
  if (written != static_cast<ssize_t>(line.size())) {
    throw JobError(fmt::format("{}: cannot append an event: {}", m_path,
                               written < 0 ? std::strerror(errno) : "short write"));
  }
}

std::vector<Event> read_events_from(const std::string& path, std::uint64_t& offset) {
  std::vector<Event> events;
  std::string why;
  const auto in = util::InputFile::open(path, why);
  if (!in) {
    return events;
  }
  if (offset > in->size()) {
    offset = 0; // the log was replaced
  }
  const std::string text = in->read(offset);
  // Line numbers are exact only when reading from the start; tailing readers report the offset.
  int line = 0;
  std::size_t start = 0;
  while (true) {
    const auto end = text.find('\n', start);
    if (end == std::string::npos) {
      break; // an incomplete last line: still being written, or torn by a crash
    }
    ++line;
    const std::string_view item(text.data() + start, end - start);
    if (!item.empty()) {
      events.push_back(parse_event_line(item, path, offset == 0 ? line : 0));
    }
    start = end + 1;
  }
  offset += start;
  return events;
}

std::vector<Event> read_events(const std::string& path) {
  std::uint64_t offset = 0;
  return read_events_from(path, offset);
}

} // namespace brix::monitor
