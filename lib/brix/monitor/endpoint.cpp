#include <brix/monitor/endpoint.hpp>

#include <brix/monitor/job_dir.hpp>
#include <brix/monitor/snapshot_text.hpp>
#include <brix/monitor/wire.hpp>
#include <brix/net/socket.hpp>
#include <brix/util/atomic_file.hpp>
#include <brix/util/error.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fmt/format.h>
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
  (void)m_wake.clear();
  m_thread = std::thread([this] { run(m_stop); });
}

void MonitorEndpoint::stop() {
  m_stop = true;
  m_wake.notify();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void MonitorEndpoint::accept_clients(net::Poller& poller) {
  while (true) {
    const int fd = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      return;
    }
    // Until the hello: one short line at most, so that unauthenticated peers cannot make node 0
    // buffer (the job token is checked before anything larger is read).
    auto client = std::make_unique<Client>(
        Client{net::LineStream(fd, k_max_hello_line), net::peer_text(fd), std::nullopt, m_clock.now()});
    const auto tag = m_next_client++;
    poller.add(fd, tag);
    m_clients.emplace(tag, std::move(client));
  }
}

void MonitorEndpoint::drop_clients(double now) {
  std::erase_if(m_clients, [now](const auto& entry) {
    const auto& client = *entry.second;
    // Unauthenticated clients get 10 s to say hello. A closed socket leaves the epoll set.
    return client.stream.closed() || (!client.hello && now - client.connected > 10);
  });
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
      if (const auto max_ranks = snapshot_request(*line)) {
        // One line: the text's only raw newlines are those between rows.
        auto text = snapshot_text(snapshot(), m_clock.now(), *max_ranks);
        std::replace(text.begin(), text.end(), '\n', ' ');
        client.stream.send_line(text);
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

double MonitorEndpoint::write_snapshot() {
  const auto start = std::chrono::steady_clock::now();
  // Every interval (1 s by default, 0.2 s in the CLI tests): atomic and fsynced, so neither a
  // reader nor a power loss sees half a snapshot, but without the directory fsync, which doubles a
  // tick's cost (20 kB on ext4: 4.7 ms, 9.2 ms with it) for nothing: a power loss that keeps the
  // previous snapshot under the name loses one interval's view, and the next tick rewrites it.
  // Incremental: rows of ranks that did not change since the last write are copied (m_rows).
  util::write_file_atomically(JobDirLayout(m_options.job_dir).snapshot(),
                              snapshot_text(snapshot(), m_clock.now(), 0, &m_rows),
                              {.sync_directory = false, .failure = util::WriteFailure::job_error});
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void MonitorEndpoint::run(const std::atomic<bool>& stop) {
  using Steady = std::chrono::steady_clock;
  constexpr std::uint64_t k_listener = 0;
  constexpr std::uint64_t k_wake = 1;
  net::Poller poller;
  poller.add(m_listen_fd, k_listener);
  poller.add(m_wake.fd(), k_wake);
  const auto interval = std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(m_options.interval));
  auto next_snapshot = Steady::now() + interval;
  while (!stop) {
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_snapshot - Steady::now()).count();
    // At most 200 ms, so that a `stop` flag set from outside (a signal) is honoured promptly;
    // stop() itself wakes the wait at once.
    for (const auto& ready : poller.wait(static_cast<int>(std::clamp<long long>(wait, 0, 200)))) {
      if (ready.tag == k_listener) {
        accept_clients(poller);
      } else if (ready.tag == k_wake) {
        (void)m_wake.clear();
      } else if (const auto client = m_clients.find(ready.tag); client != m_clients.end()) {
        serve_client(*client->second);
        if (client->second->stream.closed()) {
          m_clients.erase(client);
        }
      }
    }
    if (Steady::now() >= next_snapshot) {
      drop_clients(m_clock.now());
      m_monitor.tick();
      m_actions.reap();
      // Snapshots take at most a tenth of the endpoint's time: when one takes longer than a
      // tenth of the interval (tens of thousands of ranks on a slow disk), the next waits longer.
      const double took = write_snapshot();
      next_snapshot = Steady::now() + std::max(interval, std::chrono::duration_cast<Steady::duration>(
                                                             std::chrono::duration<double>(9 * took)));
    }
  }
  write_snapshot();
}

} // namespace brix::monitor
