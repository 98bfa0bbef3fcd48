#pragma once
// The node collector's sources for unit tests: per-rank process figures and GPU figures the test
// sets, instead of /proc and NVML.

#include <brix/monitor/gpu_stats.hpp>
#include <brix/monitor/process_stats.hpp>

#include <map>
#include <optional>
#include <utility>

namespace brix::test {

/// Processes the test sets and removes; a pid never set is gone.
class FakeProcessStats final : public monitor::ProcessStats {
public:
  [[nodiscard]] std::optional<monitor::ProcessSample> sample(int pid) const override {
    const auto it = m_samples.find(pid);
    if (it == m_samples.end()) {
      return std::nullopt;
    }
    return it->second;
  }
  void set(int pid, monitor::ProcessSample sample) { m_samples[pid] = sample; }
  void remove(int pid) { m_samples.erase(pid); }

private:
  std::map<int, monitor::ProcessSample> m_samples;
};

/// Returns the readout the test gave (and may change through readout()).
class FakeGpuSource final : public monitor::GpuSource {
public:
  explicit FakeGpuSource(monitor::GpuReadout readout) : m_readout(std::move(readout)) {}
  [[nodiscard]] monitor::GpuReadout read() override { return m_readout; }
  monitor::GpuReadout& readout() { return m_readout; }

private:
  monitor::GpuReadout m_readout;
};

} // namespace brix::test
