// The dashboard's routes, its JSON and the throughput history (the page itself is in
// dashboard_page.cpp).
#include <brix/monitor/dashboard.hpp>

#include <brix/monitor/job_dir.hpp>
#include <brix/monitor/prometheus.hpp>
#include <brix/monitor/wire.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace brix::monitor {

namespace {

/// Without a new step for this long, the job is drawn as stalled (0 steps/s).
double stall_after_s(const Snapshot& snapshot) { return std::max(60.0, 3.0 * snapshot.step_median_seconds); }

} // namespace

std::optional<double> tokens_per_step(const Snapshot& snapshot) {
  std::optional<double> tokens;
  for (const auto& rank : snapshot.ranks) {
    for (const auto& [name, value] : rank.values) {
      if (name == "tokens") {
        tokens = std::max(tokens.value_or(value), value);
      }
    }
  }
  return tokens;
}

void ThroughputHistory::add(const Snapshot& snapshot) {
  if (snapshot.step < 0) {
    return;
  }
  if (!m_last || snapshot.step < m_last->second) {
    if (m_last) {
      m_points.clear(); // the workers restarted: the pace starts over
    }
    m_last = std::make_pair(snapshot.time, snapshot.step);
    return;
  }
  const double elapsed = snapshot.time - m_last->first;
  const auto steps = snapshot.step - m_last->second;
  if (elapsed <= 0 || (steps == 0 && elapsed < stall_after_s(snapshot))) {
    return;
  }
  ThroughputPoint point;
  point.time = snapshot.time;
  point.step = snapshot.step;
  point.steps_per_s = static_cast<double>(steps) / elapsed;
  if (const auto tokens = tokens_per_step(snapshot)) {
    point.tokens_per_s = point.steps_per_s * *tokens;
  }
  m_points.push_back(point);
  while (m_points.size() > m_capacity) {
    m_points.pop_front();
  }
  m_last = std::make_pair(snapshot.time, snapshot.step);
}

nlohmann::ordered_json dashboard_json(const Snapshot& snapshot, const ThroughputHistory& history, double now) {
  nlohmann::ordered_json throughput = nlohmann::ordered_json::array();
  for (const auto& point : history.points()) {
    throughput.push_back(nlohmann::ordered_json::array(
        {point.time, point.step, point.steps_per_s,
         point.tokens_per_s ? nlohmann::ordered_json(*point.tokens_per_s) : nlohmann::ordered_json()}));
  }
  return {{"snapshot", to_json(snapshot, now)}, {"throughput", std::move(throughput)}, {"now", now}};
}

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || util::starts_with(host, "127.");
}

Dashboard::Dashboard(std::function<Snapshot()> fetch, std::function<std::string(const Snapshot&, double)> metrics,
                     const Clock& clock, DashboardOptions options)
    : m_fetch(std::move(fetch)), m_metrics(std::move(metrics)), m_clock(clock), m_options(std::move(options)) {}

void Dashboard::record(const Snapshot& snapshot) {
  const std::lock_guard lock(m_mutex);
  m_history.add(snapshot);
}

bool Dashboard::authorised(const net::HttpRequest& request) const {
  if (!m_options.require_token) {
    return true;
  }
  if (const auto given = request.query_value("token")) {
    return token_matches(*given, m_options.token);
  }
  const auto authorization = request.header("authorization");
  if (util::starts_with(authorization, "Bearer ")) {
    return token_matches(util::trim(authorization.substr(7)), m_options.token);
  }
  for (const auto& cookie : util::split(request.header("cookie"), ';')) {
    const auto item = util::trim(cookie);
    if (util::starts_with(item, "brix_token=")) {
      return token_matches(item.substr(11), m_options.token);
    }
  }
  return false;
}

net::HttpResponse Dashboard::handle(const net::HttpRequest& request) {
  if (request.path == "/metrics") {
    return {200, std::string(k_prometheus_content_type), m_metrics(m_fetch(), m_clock.now())};
  }
  if (request.path != "/" && request.path != "/api/snapshot") {
    return {404, "text/plain; charset=utf-8", "not found: the dashboard is at /, its data at /api/snapshot, metrics at /metrics\n"};
  }
  if (!authorised(request)) {
    return {401, "text/plain; charset=utf-8",
            fmt::format("brix monitor: this dashboard needs the job token: open /?token=TOKEN with the token of the job "
                        "({} or BRIX_JOB_TOKEN), or send 'Authorization: Bearer TOKEN'\n",
                        JobDirLayout("JOB_DIR").token()),
            {{"WWW-Authenticate", "Bearer"}}};
  }
  const auto snapshot = m_fetch();
  const double now = m_clock.now();
  nlohmann::ordered_json document;
  {
    const std::lock_guard lock(m_mutex);
    m_history.add(snapshot);
    document = dashboard_json(snapshot, m_history, now);
  }
  if (request.path == "/api/snapshot") {
    return {200, "application/json; charset=utf-8", document.dump() + "\n", {{"Cache-Control", "no-store"}}};
  }
  net::HttpResponse page{200, "text/html; charset=utf-8", dashboard_page(document, m_options.refresh_seconds),
                         {{"Cache-Control", "no-store"}}};
  if (m_options.require_token) {
    // The page's own requests then carry the token without it in every URL.
    page.headers.emplace_back("Set-Cookie", fmt::format("brix_token={}; Path=/; HttpOnly; SameSite=Strict", m_options.token));
  }
  return page;
}

} // namespace brix::monitor
