#include <brix/monitor/live.hpp>

#include <brix/monitor/clock.hpp>
#include <brix/monitor/dashboard.hpp>
#include <brix/monitor/job_dir.hpp>
#include <brix/monitor/snapshot.hpp>
#include <brix/monitor/prometheus.hpp>
#include <brix/monitor/view.hpp>
#include <brix/monitor/wire.hpp>
#include <brix/net/http_server.hpp>
#include <brix/util/error.hpp>

#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <mutex>
#include <iostream>
#include <ostream>
#include <sys/ioctl.h>
#include <thread>
#include <unistd.h>

namespace brix::monitor {

namespace {

class FileSnapshotSource final : public SnapshotSource {
public:
  explicit FileSnapshotSource(std::string job_dir) : m_path(JobDirLayout(job_dir).snapshot()) {}
  Snapshot fetch() override { return read_snapshot_file(m_path); }

private:
  std::string m_path;
};

class EndpointSnapshotSource final : public SnapshotSource {
public:
  EndpointSnapshotSource(net::HostPort endpoint, std::string token, int max_ranks)
      : m_endpoint(std::move(endpoint)), m_token(std::move(token)), m_max_ranks(max_ranks) {}
  Snapshot fetch() override {
    // One reconnect per fetch: the endpoint may have restarted since the last one.
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!m_stream) {
        m_stream = std::make_unique<net::LineStream>(connect_monitor(m_endpoint, Hello{PeerRole::view, "viewer", m_token}, 3000));
      }
      if (m_stream->send_line(snapshot_request_line(m_max_ranks))) {
        if (auto line = m_stream->read_line(5000)) {
          try {
            return snapshot_from_json(nlohmann::json::parse(*line), fmt::format("{}:{}", m_endpoint.host, m_endpoint.port));
          } catch (const nlohmann::json::exception& error) {
            throw JobError(fmt::format("{}:{}: malformed snapshot: {}", m_endpoint.host, m_endpoint.port, error.what()));
          }
        }
      }
      m_stream.reset();
    }
    throw JobError(fmt::format("{}:{}: the monitor endpoint did not answer", m_endpoint.host, m_endpoint.port));
  }

private:
  net::HostPort m_endpoint;
  std::string m_token;
  int m_max_ranks = 0;
  std::unique_ptr<net::LineStream> m_stream;
};

int terminal_rows() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_row > 0) {
    return size.ws_row;
  }
  return 0;
}

} // namespace

std::unique_ptr<SnapshotSource> open_snapshot_source(const std::string& target, const std::string& token_file,
                                                     int max_ranks) {
  if (std::filesystem::is_directory(target)) {
    return std::make_unique<FileSnapshotSource>(target);
  }
  if (target.find(':') == std::string::npos) {
    throw InputError(fmt::format("'{}' is neither a job directory nor HOST:PORT (expected JOB_DIR or the "
                                 "endpoint's HOST:PORT, see {})", target, JobDirLayout("JOB_DIR").endpoint()));
  }
  auto endpoint = net::parse_host_port(target, "", "brix monitor");
  return std::make_unique<EndpointSnapshotSource>(std::move(endpoint), find_token(token_file, ""), max_ranks);
}

int run_monitor_view(SnapshotSource& source, const LiveOptions& options, std::ostream& out,
                     const std::atomic<bool>& stop) {
  const SystemClock clock;
  std::mutex source_mutex;
  auto fetch = [&] {
    const std::lock_guard lock(source_mutex);
    return source.fetch();
  };
  std::unique_ptr<net::HttpServer> server;
  if (options.prometheus) {
    server = std::make_unique<net::HttpServer>(options.prometheus->host, options.prometheus->port, [&](const net::HttpRequest& request) {
      const auto& path = request.path;
      if (path == "/metrics") {
        return net::HttpResponse{200, std::string(k_prometheus_content_type), render_prometheus(fetch(), clock.now())};
      }
      if (path == "/") {
        return net::HttpResponse{200, "text/plain; charset=utf-8", "brix monitor: metrics at /metrics\n"};
      }
      return net::HttpResponse{404, "text/plain; charset=utf-8", "not found; metrics are at /metrics\n"};
    });
    server->start();
    std::cerr << fmt::format("brix monitor: serving Prometheus metrics on http://{}:{}/metrics\n",
                             options.prometheus->host, server->port());
  }
  std::unique_ptr<Dashboard> dashboard;
  std::unique_ptr<net::HttpServer> dashboard_server;
  if (options.http) {
    DashboardOptions access;
    access.require_token = !is_loopback_host(options.http->host);
    access.token = options.http_token;
    access.refresh_seconds = options.refresh_seconds;
    dashboard = std::make_unique<Dashboard>(fetch, render_prometheus, clock, access);
    dashboard_server = std::make_unique<net::HttpServer>(options.http->host, options.http->port,
                                                         [&](const net::HttpRequest& request) { return dashboard->handle(request); });
    dashboard_server->start();
    std::cerr << fmt::format("brix monitor: dashboard on http://{}:{}/{}\n", options.http->host, dashboard_server->port(),
                             access.require_token ? "?token=TOKEN (the job token: anything but /metrics needs it)" : "");
  }
  for (int refresh = 0; !stop; ++refresh) {
    Snapshot snapshot = fetch();
    const double now = clock.now();
    if (dashboard) {
      dashboard->record(snapshot);
    }
    if (!options.textfile_dir.empty()) {
      (void)write_textfile(options.textfile_dir, snapshot.job, render_prometheus(snapshot, now));
    }
    if (!options.save_measured.empty()) {
      write_measured_stages(options.save_measured, snapshot);
    }
    if (options.format != util::Format::text) {
      util::emit_document(out, to_json(snapshot, now, options.max_ranks, options.max_nodes), options.format);
    } else if (!options.quiet) {
      ViewOptions view{util::Style{options.colour}, options.max_ranks, options.max_nodes, 10};
      if (const int rows = options.in_place ? terminal_rows() : 0; rows > 0) {
        // Keep the frame on one screen: header, node rows, rule and event lines take the rest.
        const auto nodes = snapshot.nodes.size();
        const int node_rows = static_cast<int>(view.max_nodes > 0 ? std::min<std::size_t>(view.max_nodes, nodes) : nodes);
        const int fit = std::max(4, rows - 24 - node_rows);
        view.max_ranks = view.max_ranks > 0 ? std::min(view.max_ranks, fit) : fit;
      }
      const auto text = render_text(snapshot, now, view);
      // Home, draw, clear what the previous (longer) frame left below.
      out << (options.in_place ? "\x1b[H" + text + "\x1b[J" : text + (options.once ? "" : "\n")) << std::flush;
    }
    if (options.once || (options.count > 0 && refresh + 1 >= options.count)) {
      break;
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(options.refresh_seconds);
    while (!stop && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return 0;
}

} // namespace brix::monitor
