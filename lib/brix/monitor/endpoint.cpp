#include <brix/monitor/endpoint.hpp>

#include <brix/monitor/job_dir.hpp>
#include <brix/monitor/wire.hpp>
#include <brix/net/socket.hpp>
#include <brix/util/atomic_file.hpp>
#include <brix/util/error.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace brix::monitor {

struct MonitorEndpoint::Client {
  net::LineStream stream;
  std::string peer;
  std::optional<Hello> hello; ///< set once authenticated
  double connected = 0;
};

namespace {
/// The hello line ("BRIX-MONITOR 1 <role> <name> <token>") fits in this; nothing longer is read
/// from a peer that has not shown the job token.
constexpr std::size_t k_max_hello_line = 4096;
/// A node's sample (its ranks, GPUs and steps as one JSON line) from an authenticated collector.
constexpr std::size_t k_max_sample_line = 64u << 20;

/// The job directory, with its monitor/ folder created (before the event log is opened in it).
const std::string& prepared(const std::string& job_dir) {
  std::filesystem::create_directories(JobDirLayout(job_dir).monitor_dir());
  return job_dir;
}
} // namespace

MonitorEndpoint::MonitorEndpoint(EndpointOptions options, const Clock& clock)
    : m_options(std::move(options)), m_clock(clock), m_actions(prepared(m_options.job_dir)),
      m_monitor(m_options.monitor, clock, m_actions) {
  if (m_options.token.empty()) {
    throw InputError(fmt::format("the monitor endpoint needs a job token (expected --token-file, BRIX_JOB_TOKEN or {})",
                                 JobDirLayout("JOB_DIR").token()));
  }
  m_listen_fd = net::listen_or_fail(m_options.host, m_options.port);
  m_port = net::bound_port(m_listen_fd);
  // Events already in the log (launch's joins, an earlier attempt) are history, not news.
  (void)read_events_from(JobDirLayout(m_options.job_dir).event_log(), m_log_offset);
  Event started{clock.now(), std::string(event_type::monitor_start), "", std::nullopt,
                fmt::format("monitor endpoint listening on {}:{}", m_options.host, m_port)};
  started.details["port"] = m_port;
  m_actions.event(started);
  util::write_file_atomically(JobDirLayout(m_options.job_dir).endpoint(),
                              fmt::format("{}:{}\n", m_options.host, m_port),
                              {.failure = util::WriteFailure::job_error});
  write_snapshot();
}

MonitorEndpoint::~MonitorEndpoint() {
  stop();
  if (m_listen_fd >= 0) {
    ::close(m_listen_fd);
  }
}

void MonitorEndpoint::start() {
  m_stop = false;
  m_thread = std::thread([this] { run(m_stop); });
}

void MonitorEndpoint::stop() {
  m_stop = true;
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void MonitorEndpoint::accept_clients() {
  while (true) {
    const int fd = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      return;
    }
    // Until the hello: one short line at most, so that unauthenticated peers cannot make node 0
    // buffer (the job token is checked before anything larger is read).
    auto client = std::make_unique<Client>(
        Client{net::LineStream(fd, k_max_hello_line), net::peer_text(fd), std::nullopt, m_clock.now()});
    m_clients.push_back(std::move(client));
  }
}

void MonitorEndpoint::serve_client(Client& client) {
  client.stream.fill();
  while (auto line = client.stream.next_buffered_line()) {
    if (!client.hello) {
      auto hello = parse_hello(*line);
      if (!hello || !token_matches(hello->token, m_options.token)) {
        Event refused{m_clock.now(), std::string(event_type::auth_refused), "", std::nullopt,
                      fmt::format("refused a monitor client from {}: {}", client.peer,
                                  hello ? "wrong job token" : "not a brix monitor hello")};
        refused.details["peer"] = client.peer;
        refused.details["claimed_name"] = hello ? hello->name : "";
        m_actions.event(refused);
        client.stream.send_line(hello ? "DENIED wrong job token" : "DENIED expected BRIX-MONITOR 1 <role> <name> <token>", 200);
        ::shutdown(client.stream.fd(), SHUT_RDWR);
        return;
      }
      client.hello = std::move(hello);
      client.stream.set_max_line(k_max_sample_line);
      client.stream.send_line("OK");
      continue;
    }
    if (client.hello->role == PeerRole::view) {
      if (*line == "SNAPSHOT") {
        client.stream.send_line(to_json(snapshot(), m_clock.now()).dump());
      }
      continue;
    }
    try {
      m_monitor.ingest(node_sample_from_json(nlohmann::json::parse(*line)));
    } catch (const std::exception& error) {
      // A collector of another version must not take the endpoint down: drop the line, say so.
      Event bad{m_clock.now(), "bad_sample", client.hello->name, std::nullopt,
                fmt::format("dropped a sample from {} ({}): {}", client.hello->name, client.peer, error.what())};
      m_actions.event(bad);
    }
  }
}

Snapshot MonitorEndpoint::snapshot() {
  for (auto& event : read_events_from(JobDirLayout(m_options.job_dir).event_log(), m_log_offset)) {
    m_recent.push_back(std::move(event));
  }
  while (static_cast<int>(m_recent.size()) > m_options.recent_events) {
    m_recent.pop_front();
  }
  Snapshot out = m_monitor.snapshot();
  out.events.assign(m_recent.begin(), m_recent.end());
  return out;
}

void MonitorEndpoint::write_snapshot() {
  // Every interval (1 s by default, 0.2 s in the CLI tests): atomic and fsynced, so neither a
  // reader nor a power loss sees half a snapshot, but without the directory fsync, which doubles a
  // tick's cost (20 kB on ext4: 4.7 ms, 9.2 ms with it) for nothing: a power loss that keeps the
  // previous snapshot under the name loses one interval's view, and the next tick rewrites it.
  util::write_file_atomically(JobDirLayout(m_options.job_dir).snapshot(),
                              to_json(snapshot(), m_clock.now()).dump(1) + "\n",
                              {.sync_directory = false, .failure = util::WriteFailure::job_error});
}

void MonitorEndpoint::run(const std::atomic<bool>& stop) {
  using Steady = std::chrono::steady_clock;
  const auto interval = std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(m_options.interval));
  auto next_snapshot = Steady::now() + interval;
  while (!stop) {
    std::vector<pollfd> items{{m_listen_fd, POLLIN, 0}};
    for (const auto& client : m_clients) {
      items.push_back({client->stream.fd(), POLLIN, 0});
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_snapshot - Steady::now()).count();
    // Wake at least every 200 ms so that `stop` is honoured promptly.
    const int timeout = static_cast<int>(std::clamp<long long>(wait, 0, 200));
    if (::poll(items.data(), items.size(), timeout) > 0) {
      if (items[0].revents & POLLIN) {
        accept_clients();
      }
      for (std::size_t i = 1; i < items.size(); ++i) {
        if (items[i].revents & (POLLIN | POLLHUP | POLLERR)) {
          serve_client(*m_clients[i - 1]);
        }
      }
    }
    const double now = m_clock.now();
    std::erase_if(m_clients, [now](const std::unique_ptr<Client>& client) {
      // Unauthenticated clients get 10 s to say hello.
      return client->stream.closed() || (!client->hello && now - client->connected > 10);
    });
    if (Steady::now() >= next_snapshot) {
      m_monitor.tick();
      m_actions.reap();
      write_snapshot();
      next_snapshot = Steady::now() + interval;
    }
  }
  write_snapshot();
}

} // namespace brix::monitor
