#include <brix/monitor/report.hpp>

#include <brix/monitor/unix_datagram.hpp>
#include <brix/util/strings.hpp>

#include <cstdlib>
#include <mutex>

namespace brix::monitor {

namespace {
std::optional<int> int_from_env(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr) {
    return std::nullopt;
  }
  const auto value = util::parse_int(text);
  if (!value || *value < 0) {
    return std::nullopt;
  }
  return static_cast<int>(*value);
}
} // namespace

Reporter::Reporter() = default;
Reporter::~Reporter() = default;
Reporter::Reporter(Reporter&&) noexcept = default;
Reporter& Reporter::operator=(Reporter&&) noexcept = default;

Reporter::Reporter(std::string socket_path, int rank, std::optional<int> stage)
    : m_rank(rank), m_stage(stage) {
  try {
    m_sender = std::make_unique<DatagramSender>(std::move(socket_path));
  } catch (const std::exception&) {
    m_sender.reset(); // an unusable path disables reporting; training goes on
  }
}

Reporter Reporter::from_environment() {
  const char* path = std::getenv(k_socket_env);
  if (path == nullptr || *path == '\0') {
    return Reporter();
  }
  return Reporter(path, int_from_env("RANK").value_or(0), int_from_env("BRIX_PP_RANK"));
}

bool Reporter::send(ProgressReport report) {
  if (!m_sender) {
    return false;
  }
  if (report.rank < 0) {
    report.rank = m_rank;
  }
  if (!report.stage) {
    report.stage = m_stage;
  }
  if (m_sender->send(format_report(report) + '\n')) {
    return true;
  }
  ++m_dropped;
  return false;
}

namespace {
std::mutex g_mutex;
Reporter& process_reporter() {
  static Reporter reporter = Reporter::from_environment();
  return reporter;
}
} // namespace

bool report_step(std::int64_t step, double step_seconds,
                 std::initializer_list<std::pair<std::string_view, double>> values,
                 double compute_seconds) {
  ProgressReport report;
  report.step = step;
  report.step_seconds = step_seconds;
  if (compute_seconds >= 0) {
    report.compute_seconds = compute_seconds;
  }
  for (const auto& [key, value] : values) {
    if (is_valid_key(key)) {
      report.values.emplace_back(std::string(key), value);
    }
  }
  const std::lock_guard lock(g_mutex);
  return process_reporter().send(std::move(report));
}

bool report_heartbeat() {
  const std::lock_guard lock(g_mutex);
  return process_reporter().send(ProgressReport{});
}

} // namespace brix::monitor
