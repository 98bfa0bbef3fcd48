#include <brix/monitor/collector_agent.hpp>

#include <brix/monitor/unix_datagram.hpp>
#include <brix/monitor/wire.hpp>

#include <algorithm>
#include <chrono>
#include <random>

namespace brix::monitor {

CollectorAgent::CollectorAgent(CollectorAgentOptions options, const ProcessStats& processes,
                               GpuSource& gpus, const Clock& clock)
    : m_options(std::move(options)), m_collector(m_options.node, processes, gpus, clock),
      m_receiver(std::make_unique<DatagramReceiver>(m_options.socket_path)), m_clock(clock) {}

CollectorAgent::~CollectorAgent() { stop(); }

void CollectorAgent::expect_rank(int rank, int pid) {
  const std::lock_guard lock(m_mutex);
  m_collector.expect_rank(rank, pid);
}

std::string CollectorAgent::last_error() const {
  const std::lock_guard lock(m_error_mutex);
  return m_last_error;
}

void CollectorAgent::start() {
  m_stop = false;
  (void)m_wake.clear();
  m_thread = std::thread([this] { run(m_stop); });
}

void CollectorAgent::stop() {
  m_stop = true;
  m_wake.notify();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void CollectorAgent::forward(NodeSample sample) {
  m_unsent.push_back(to_json(sample).dump());
  while (static_cast<int>(m_unsent.size()) > m_options.max_unsent) {
    m_unsent.pop_front();
  }
  const double now = m_clock.now();
  if (!m_connection && now >= m_next_attempt) {
    try {
      m_connection = std::make_unique<net::LineStream>(
          connect_monitor(m_options.endpoint, Hello{PeerRole::node, m_options.node, m_options.token}, 2000));
      m_backoff = 0.5;
      const std::lock_guard lock(m_error_mutex);
      m_last_error.clear();
    } catch (const std::exception& error) {
      // Exponential backoff with jitter, so that thousands of nodes do not reconnect in step.
      static thread_local std::mt19937 random(std::random_device{}());
      std::uniform_real_distribution<double> jitter(0.5, 1.5);
      m_next_attempt = now + m_backoff * jitter(random);
      m_backoff = std::min(m_backoff * 2, 30.0);
      const std::lock_guard lock(m_error_mutex);
      m_last_error = error.what();
    }
  }
  while (m_connection && !m_unsent.empty()) {
    if (!m_connection->send_line(m_unsent.front())) {
      m_connection.reset();
      break;
    }
    m_unsent.pop_front();
    ++m_sent;
  }
}

void CollectorAgent::run(const std::atomic<bool>& stop) {
  using Steady = std::chrono::steady_clock;
  const auto interval = std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(m_options.interval));
  auto next_sample = Steady::now() + interval;
  while (!stop) {
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_sample - Steady::now()).count();
    // At most 200 ms, so that a `stop` flag set from outside (a signal) is honoured promptly;
    // stop() itself wakes the wait at once.
    if (auto datagram = m_receiver->receive(static_cast<int>(std::clamp<long long>(wait, 0, 200)), m_wake.fd())) {
      const std::lock_guard lock(m_mutex);
      m_collector.ingest(datagram->text, datagram->pid);
      // Drain what else is queued without waiting.
      while (auto more = m_receiver->receive(0)) {
        m_collector.ingest(more->text, more->pid);
      }
    }
    if (Steady::now() >= next_sample) {
      NodeSample sample;
      {
        const std::lock_guard lock(m_mutex);
        sample = m_collector.sample();
      }
      forward(std::move(sample));
      next_sample += interval;
      if (next_sample < Steady::now()) {
        next_sample = Steady::now() + interval;
      }
    }
  }
  // A last sample so that the final steps are not lost on a clean stop.
  NodeSample sample;
  {
    const std::lock_guard lock(m_mutex);
    sample = m_collector.sample();
  }
  forward(std::move(sample));
}

} // namespace brix::monitor
