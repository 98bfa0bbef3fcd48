// The pipeline schedules as pass orders per device, timed by a list scheduler: each device takes
// the next pass of its order once what it needs is done; deferred weight-gradient passes fill
// the waits (zero-bubble schedules). Orders follow Megatron-LM (1F1B, interleaved), the ZB-H1
// rule (1F1B's order, W deferred, every stage holding at most p micro-batches whose W has not run:
// 1F1B's peak memory, as Qi et al. keep it) and DeepSeek's DualPipe phases.
#include <brix/plan/pipeline_schedule.hpp>

#include <algorithm>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <tuple>

namespace brix::plan {

namespace {

/// One pass to run: direction (DualPipe's second direction is 1), virtual stage, micro-batch.
struct PassKey {
  int direction = 0;
  int stage = 0;
  int micro_batch = 0;
  PassKind kind = PassKind::forward;
  auto operator<=>(const PassKey&) const = default;
};

/// An entry of a device's order: a pass, or "run the oldest deferred W" (DualPipe's weight_chunk).
struct OrderEntry {
  PassKey key;
  bool pop_weight = false;
  bool defer_weight = false; ///< a backward whose W is deferred (runs its input gradient only)
};

struct Placement {
  int device = 0;
  int chunk = 0;
  int times_of = 0; ///< the stage whose per-micro-batch times this pass takes
};

class Simulator {
public:
  Simulator(Schedule schedule, std::span<const DevicePassTimes> devices, int micro_batches, int vpp)
      : m_schedule(schedule), m_times(devices), m_pp(static_cast<int>(devices.size())), m_m(micro_batches),
        m_vpp(schedule == Schedule::interleaved ? std::max(1, vpp) : 1) {}

  PipelineSchedule run() {
    build_orders();
    PipelineSchedule out;
    out.devices.resize(static_cast<std::size_t>(m_pp));
    std::vector<std::size_t> next(static_cast<std::size_t>(m_pp), 0);
    std::vector<double> free(static_cast<std::size_t>(m_pp), 0.0);
    std::vector<std::deque<PassKey>> deferred(static_cast<std::size_t>(m_pp));
    std::vector<int> in_flight(static_cast<std::size_t>(m_pp), 0);
    const bool greedy_weights = m_schedule == Schedule::zb_h1;
    for (;;) {
      // The device free earliest among those that can move; passes not yet scheduled end later
      // than that, so a device waiting on one may as well run a deferred W now.
      int chosen = -1;
      bool progressed = false;
      std::vector<bool> blocked(static_cast<std::size_t>(m_pp), false);
      for (;;) {
        chosen = -1;
        for (int d = 0; d < m_pp; ++d) {
          const auto du = static_cast<std::size_t>(d);
          const bool work = next[du] < m_orders[du].size() || !deferred[du].empty();
          if (work && !blocked[du] && (chosen < 0 || free[du] < free[static_cast<std::size_t>(chosen)])) {
            chosen = d;
          }
        }
        if (chosen < 0) {
          break;
        }
        const auto d = static_cast<std::size_t>(chosen);
        auto run_deferred = [&] {
          const PassKey weight = deferred[d].front();
          deferred[d].pop_front();
          place(out, weight, free[d], d, free);
          --in_flight[d];
        };
        if (next[d] >= m_orders[d].size()) {
          run_deferred(); // the tail: every deferred W
          progressed = true;
          break;
        }
        const OrderEntry& entry = m_orders[d][next[d]];
        if (entry.pop_weight) {
          if (deferred[d].empty()) {
            throw std::logic_error("pipeline schedule: a weight pass with none deferred");
          }
          run_deferred();
          ++next[d];
          progressed = true;
          break;
        }
        const auto ready = ready_time(entry.key);
        const bool over_limit = greedy_weights && entry.key.kind == PassKind::forward &&
                                in_flight[d] >= m_pp && !deferred[d].empty();
        if (over_limit || (greedy_weights && !deferred[d].empty() && (!ready || *ready > free[d]))) {
          run_deferred();
          progressed = true;
          break;
        }
        if (!ready) {
          blocked[d] = true;
          continue;
        }
        PassKey key = entry.key;
        const bool defer = greedy_weights ? key.kind == PassKind::backward : entry.defer_weight;
        place(out, key, std::max(free[d], *ready), d, free, defer);
        if (key.kind == PassKind::forward && greedy_weights) {
          ++in_flight[d];
        }
        if (defer) {
          deferred[d].push_back({key.direction, key.stage, key.micro_batch, PassKind::weight_grad});
          in_flight[d] += greedy_weights ? 0 : 1;
        }
        ++next[d];
        progressed = true;
        break;
      }
      if (chosen < 0) {
        break;
      }
      if (!progressed) {
        throw std::logic_error("pipeline schedule: no device can move");
      }
    }
    for (int d = 0; d < m_pp; ++d) {
      const auto du = static_cast<std::size_t>(d);
      if (next[du] < m_orders[du].size() || !deferred[du].empty()) {
        throw std::logic_error("pipeline schedule: passes left unscheduled");
      }
      out.makespan = std::max(out.makespan, free[du]);
    }
    return out;
  }

private:
  [[nodiscard]] int stages() const { return m_pp * m_vpp; }

  [[nodiscard]] Placement placement(const PassKey& key) const {
    if (m_schedule == Schedule::dualpipe) {
      // Direction 0 enters at device 0, direction 1 at device pp−1. A device's phase 0 is the
      // direction in which it is among the first half of the stages.
      const int device = key.direction == 0 ? key.stage : m_pp - 1 - key.stage;
      const bool second_half = device >= m_pp / 2;
      return {device, key.direction ^ (second_half ? 1 : 0), key.stage};
    }
    return {key.stage % m_pp, key.stage / m_pp, key.stage % m_pp};
  }

  [[nodiscard]] double duration(const PassKey& key, bool deferred_weight) const {
    const auto& times = m_times[static_cast<std::size_t>(placement(key).times_of)];
    const double chunks = m_vpp;
    switch (key.kind) {
    case PassKind::forward:
      return times.forward_s / chunks;
    case PassKind::backward:
      return (deferred_weight ? times.backward_s - times.weight_grad_s : times.backward_s) / chunks;
    case PassKind::weight_grad:
      return times.weight_grad_s / chunks;
    }
    return 0;
  }

  /// When every pass `key` needs has ended; nullopt while one is not scheduled yet.
  [[nodiscard]] std::optional<double> ready_time(const PassKey& key) const {
    std::optional<PassKey> needed;
    if (key.kind == PassKind::forward && key.stage > 0) {
      needed = PassKey{key.direction, key.stage - 1, key.micro_batch, PassKind::forward};
    } else if (key.kind == PassKind::backward) {
      needed = key.stage + 1 < stages() ? PassKey{key.direction, key.stage + 1, key.micro_batch, PassKind::backward}
                                        : PassKey{key.direction, key.stage, key.micro_batch, PassKind::forward};
    }
    if (!needed) {
      return 0.0;
    }
    const auto found = m_end.find(*needed);
    if (found == m_end.end()) {
      return std::nullopt;
    }
    return found->second;
  }

  void place(PipelineSchedule& out, const PassKey& key, double start, std::size_t device, std::vector<double>& free,
             bool defer_weight = false) {
    const double end = start + duration(key, defer_weight);
    const auto where = placement(key);
    out.devices[device].push_back({key.kind, key.micro_batch, where.chunk, where.times_of, defer_weight, start, end});
    m_end[key] = end;
    free[device] = end;
  }

  void build_orders() {
    m_orders.assign(static_cast<std::size_t>(m_pp), {});
    for (int s = 0; s < m_pp; ++s) {
      switch (m_schedule) {
      case Schedule::one_f_one_b:
      case Schedule::zb_h1:
        one_f_one_b(s);
        break;
      case Schedule::interleaved:
        interleaved(s);
        break;
      case Schedule::dualpipe:
        dualpipe(s);
        break;
      }
    }
  }

  void one_f_one_b(int s) {
    auto& order = m_orders[static_cast<std::size_t>(s)];
    const int warmup = std::min(m_pp - s - 1, m_m);
    for (int j = 0; j < warmup; ++j) {
      order.push_back({{0, s, j, PassKind::forward}});
    }
    for (int j = 0; j + warmup < m_m; ++j) {
      order.push_back({{0, s, j + warmup, PassKind::forward}});
      order.push_back({{0, s, j, PassKind::backward}});
    }
    for (int j = m_m - warmup; j < m_m; ++j) {
      order.push_back({{0, s, j, PassKind::backward}});
    }
  }

  /// Megatron's interleaved 1F1B: micro-batches in groups of pp, each group through chunk 0,
  /// then chunk 1, …; backward through the chunks in reverse.
  void interleaved(int s) {
    auto& order = m_orders[static_cast<std::size_t>(s)];
    const int total = m_m * m_vpp;
    auto pass = [&](int k, bool forward) {
      const int group = k / (m_pp * m_vpp);
      const int chunk_in_group = (k / m_pp) % m_vpp;
      const int chunk = forward ? chunk_in_group : m_vpp - 1 - chunk_in_group;
      const int micro_batch = group * m_pp + k % m_pp;
      return OrderEntry{{0, chunk * m_pp + s, micro_batch, forward ? PassKind::forward : PassKind::backward}};
    };
    const int warmup = m_m == m_pp ? total : std::min((m_pp - s - 1) * 2 + (m_vpp - 1) * m_pp, total);
    for (int k = 0; k < warmup; ++k) {
      order.push_back(pass(k, true));
    }
    for (int k = 0; k + warmup < total; ++k) {
      order.push_back(pass(k + warmup, true));
      order.push_back(pass(k, false));
    }
    for (int k = total - std::min(warmup, total); k < total; ++k) {
      if (k >= 0) {
        order.push_back(pass(k, false));
      }
    }
  }

  /// DualPipe's eight phases (DeepSeek-V3 report, Figure 5) for device `device`; the overlapped
  /// forward-and-backward pairs run here one after the other (their overlap is in the passes'
  /// exposed all-to-all, not in their order).
  void dualpipe(int device) {
    auto& order = m_orders[static_cast<std::size_t>(device)];
    const int half_ranks = m_pp / 2;
    const int half_rank = std::min(device, m_pp - 1 - device);
    const bool second_half = device >= half_ranks;
    // Phase c of this device is direction c ^ second_half; its stage in that direction.
    auto key = [&](int phase, int micro_batch, PassKind kind) {
      const int direction = phase ^ (second_half ? 1 : 0);
      const int stage = direction == 0 ? device : m_pp - 1 - device;
      return PassKey{direction, stage, micro_batch, kind};
    };
    const int per_direction[2] = {(m_m + 1) / 2, m_m / 2};
    int forward[2] = {0, 0};
    int backward[2] = {0, 0};
    auto f = [&](int phase) {
      const int direction = phase ^ (second_half ? 1 : 0);
      order.push_back({key(phase, forward[direction]++, PassKind::forward)});
    };
    auto b = [&](int phase, bool zero_bubble) {
      const int direction = phase ^ (second_half ? 1 : 0);
      order.push_back({key(phase, backward[direction]++, PassKind::backward), false, zero_bubble});
    };
    auto w = [&] { order.push_back({{}, true, false}); };
    const int outer = half_ranks - half_rank - 1;
    for (int i = 0; i < 2 * outer; ++i) {
      f(0);
    }
    for (int i = 0; i <= half_rank; ++i) {
      f(0);
      f(1);
    }
    for (int i = 0; i < outer; ++i) {
      b(1, true);
      w();
      f(1);
    }
    const int main_steps = m_m / 2 - m_pp + half_rank + 1;
    for (int i = 0; i < main_steps; ++i) {
      f(0);
      b(1, false);
      f(1);
      b(0, false);
    }
    for (int i = 0; i < outer; ++i) {
      b(1, false);
      f(1);
      b(0, false);
    }
    bool zero_bubble = false;
    const int tail = half_rank + 1;
    for (int i = 0; i < tail; ++i) {
      zero_bubble = zero_bubble || (i == tail / 2 && half_rank % 2 == 1);
      b(1, zero_bubble);
      zero_bubble = zero_bubble || (i == tail / 2 && half_rank % 2 == 0);
      b(0, zero_bubble);
    }
    for (int i = 0; i < outer; ++i) {
      w();
      b(0, true);
    }
    for (int i = 0; i < tail; ++i) {
      w();
    }
    // An odd micro-batch count leaves direction 0 one more: it runs last, through the whole pipe.
    const int d0 = second_half ? 1 : 0;
    while (forward[0] < per_direction[0]) {
      f(d0);
    }
    while (backward[0] < per_direction[0]) {
      b(d0, false);
    }
    (void)per_direction[1];
  }

  Schedule m_schedule;
  std::span<const DevicePassTimes> m_times;
  int m_pp;
  int m_m;
  int m_vpp;
  std::vector<std::vector<OrderEntry>> m_orders;
  std::map<PassKey, double> m_end;
};

} // namespace

double PipelineSchedule::idle_s(std::size_t device) const {
  double busy = 0;
  for (const auto& pass : devices.at(device)) {
    busy += pass.end - pass.start;
  }
  return makespan - busy;
}

PipelineSchedule simulate_pipeline(Schedule schedule, std::span<const DevicePassTimes> devices, int micro_batches,
                                   int vpp) {
  if (devices.empty() || micro_batches < 1) {
    throw std::invalid_argument("simulate_pipeline: needs at least one stage and one micro-batch");
  }
  return Simulator(schedule, devices, micro_batches, vpp).run();
}

} // namespace brix::plan
