#include <brix/plan/stage_partition.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace brix::plan {

namespace {

constexpr double k_infinity = std::numeric_limits<double>::infinity();

struct Prefix {
  std::vector<double> time, static_bytes, activation;
  explicit Prefix(std::span<const ChainItem> items)
      : time(items.size() + 1, 0.0), static_bytes(items.size() + 1, 0.0), activation(items.size() + 1, 0.0) {
    for (std::size_t i = 0; i < items.size(); ++i) {
      time[i + 1] = time[i] + items[i].time;
      static_bytes[i + 1] = static_bytes[i] + items[i].static_bytes;
      activation[i + 1] = activation[i] + items[i].activation_bytes;
    }
  }
  /// Time of items [a, b) on `device`, or infinity when they do not fit its memory.
  [[nodiscard]] double stage_time(std::size_t a, std::size_t b, const StageDevice& device) const {
    return (time[b] - time[a]) / device.speed;
  }
  [[nodiscard]] double stage_bytes(std::size_t a, std::size_t b, const StageDevice& device) const {
    return static_bytes[b] - static_bytes[a] + device.in_flight * (activation[b] - activation[a]);
  }
  [[nodiscard]] bool fits(std::size_t a, std::size_t b, const StageDevice& device) const {
    return stage_bytes(a, b, device) <= device.memory_bytes;
  }
};

} // namespace

std::optional<StagePartition> evaluate_partition(std::span<const ChainItem> items,
                                                 std::span<const StageDevice> devices,
                                                 std::span<const int> first) {
  const Prefix prefix(items);
  StagePartition out;
  out.first.assign(first.begin(), first.end());
  for (std::size_t s = 0; s < devices.size(); ++s) {
    const auto a = static_cast<std::size_t>(first[s]);
    const auto b = s + 1 < devices.size() ? static_cast<std::size_t>(first[s + 1]) : items.size();
    if (b <= a || !prefix.fits(a, b, devices[s])) {
      return std::nullopt;
    }
    out.stage_s.push_back(prefix.stage_time(a, b, devices[s]));
    out.stage_bytes.push_back(prefix.stage_bytes(a, b, devices[s]));
    out.slowest_s = std::max(out.slowest_s, out.stage_s.back());
  }
  return out;
}

std::optional<StagePartition> partition_stages(std::span<const ChainItem> items,
                                               std::span<const StageDevice> devices) {
  const std::size_t n = items.size();
  const std::size_t p = devices.size();
  if (p == 0 || n < p) {
    return std::nullopt;
  }
  const Prefix prefix(items);
  // best[s][i]: smallest slowest-stage time placing items [0, i) on stages [0, s); cut[s][i]
  // the first item of stage s−1 there (the smallest, among ties).
  const std::size_t width = n + 1;
  std::vector<double> best((p + 1) * width, k_infinity);
  std::vector<int> cut((p + 1) * width, -1);
  best[0] = 0.0;
  for (std::size_t s = 1; s <= p; ++s) {
    const auto& device = devices[s - 1];
    // Stage s−1 must leave at least one item for each later stage.
    for (std::size_t i = s; i + (p - s) <= n; ++i) {
      double& here = best[s * width + i];
      // Stage s−1 = items [j, i), growing as j falls: its time and memory only grow, so the
      // scan stops at the first range that does not fit or is slower than the best so far.
      for (std::size_t j = i; j-- > s - 1;) {
        if (!prefix.fits(j, i, device)) {
          break;
        }
        const double stage = prefix.stage_time(j, i, device);
        if (stage > here) {
          break;
        }
        const double before = best[(s - 1) * width + j];
        if (before == k_infinity) {
          continue;
        }
        const double value = std::max(before, stage);
        if (value <= here) {
          here = value;
          cut[s * width + i] = static_cast<int>(j);
        }
      }
    }
  }
  if (best[p * width + n] == k_infinity) {
    return std::nullopt;
  }
  std::vector<int> first(p);
  std::size_t end = n;
  for (std::size_t s = p; s >= 1; --s) {
    first[s - 1] = cut[s * width + end];
    end = static_cast<std::size_t>(first[s - 1]);
  }
  return evaluate_partition(items, devices, first);
}

namespace {
void brute(std::span<const ChainItem> items, std::span<const StageDevice> devices, std::vector<int>& first,
           std::size_t stage, std::optional<StagePartition>& best) {
  if (stage == devices.size()) {
    auto candidate = evaluate_partition(items, devices, first);
    if (candidate && (!best || candidate->slowest_s < best->slowest_s)) {
      best = std::move(candidate);
    }
    return;
  }
  const int previous = first[stage - 1];
  const int remaining = static_cast<int>(devices.size() - stage);
  for (int start = previous + 1; start + remaining <= static_cast<int>(items.size()); ++start) {
    first[stage] = start;
    brute(items, devices, first, stage + 1, best);
  }
}
} // namespace

std::optional<StagePartition> partition_stages_brute_force(std::span<const ChainItem> items,
                                                           std::span<const StageDevice> devices) {
  if (devices.empty() || items.size() < devices.size()) {
    return std::nullopt;
  }
  std::vector<int> first(devices.size(), 0);
  std::optional<StagePartition> best;
  brute(items, devices, first, 1, best);
  return best;
}

std::vector<int> uniform_partition(int items, int stages) {
  std::vector<int> first(static_cast<std::size_t>(stages));
  const int base = items / stages;
  const int extra = items % stages;
  int at = 0;
  for (int s = 0; s < stages; ++s) {
    first[static_cast<std::size_t>(s)] = at;
    // The remainder goes to the last stages: the first holds the embedding and the most
    // in-flight activations.
    at += base + (s >= stages - extra ? 1 : 0);
  }
  return first;
}

} // namespace brix::plan
