// The first wave and the makespan of a benchmark client's finite closed loop (see finite_loop.hpp).
#include <brix/serve/finite_loop.hpp>

#include <algorithm>
#include <cmath>

namespace brix::serve {

std::vector<double> first_wave_ttfts(const FirstWave& wave) {
  std::vector<double> ttfts;
  const auto prompts = static_cast<int>(std::llround(wave.prompts));
  const int ranks = std::max(1, wave.ranks);
  if (prompts <= 0 || wave.isl <= 0 || wave.chunk <= 0) {
    return ttfts;
  }
  ttfts.reserve(static_cast<std::size_t>(prompts));
  for (int rank = 0; rank < ranks && rank < prompts; ++rank) {
    const int mine = prompts / ranks + (rank < prompts % ranks ? 1 : 0);
    const double tokens = mine * wave.isl;
    // The rank's chunks back to back: full ones, and the last one with what is left.
    double done_s = 0;
    double done_tokens = 0;
    for (int k = 1; k <= mine; ++k) {
      const double needed = std::ceil(k * wave.isl / wave.chunk - 1e-9) * wave.chunk;
      while (done_tokens < std::min(needed, tokens) - 1e-9) {
        const double step = std::min(wave.chunk, tokens - done_tokens);
        done_s += wave.step_seconds(step);
        done_tokens += step;
      }
      ttfts.push_back(done_s + wave.after_s);
    }
  }
  std::sort(ttfts.begin(), ttfts.end());
  return ttfts;
}

std::vector<double> queued_first_wave(std::vector<double> admitted, double waiting, double decode_s,
                                      double admitted_ttft_s) {
  const auto queued = static_cast<std::size_t>(std::max(0LL, std::llround(waiting)));
  if (admitted.empty()) {
    return admitted;
  }
  // The queue is served as running requests finish, in the order they got their first token;
  // past the first round of them, the earlier queued ones finish in turn (each slot's later
  // requests are the steady state's business).
  for (std::size_t j = 0; j < queued; ++j) {
    const double freed = admitted[j] + decode_s;
    admitted.push_back(freed + admitted_ttft_s);
  }
  std::sort(admitted.begin(), admitted.end());
  return admitted;
}

FiniteRun finite_closed_loop(const std::vector<double>& wave_ttft, double steady_ttft_s, double decode_s,
                             double drain_s, double num_prompts, double chain_cap_s) {
  FiniteRun run;
  const auto slots = static_cast<long long>(wave_ttft.size());
  const auto total = std::max<long long>(slots, std::llround(num_prompts));
  if (slots == 0) {
    return run;
  }
  const long long rounds = total / slots;
  const long long extra = total % slots;
  double ttft_sum = 0;
  double latency_sum = 0;
  double group_start = wave_ttft.front(); // first-wave TTFT of the slot's group
  double previous_group = group_start;    // and of the group before it
  for (long long i = 0; i < slots; ++i) {
    // wave_ttft is ascending: the first slots free first and take the extra requests.
    const long long requests = rounds + (i < extra ? 1 : 0);
    const double first = wave_ttft[static_cast<std::size_t>(i)];
    if (first > group_start) {
      previous_group = group_start;
      group_start = first;
    }
    const double chained = chain_cap_s > 0 ? std::min(group_start - previous_group, chain_cap_s) : 0.0;
    const double ttft = steady_ttft_s + chained;
    const double later = static_cast<double>(requests - 1);
    ttft_sum += first + later * ttft;
    // A slot is busy from t = 0 to its last request's end: every request but its last decodes in
    // the steady state, and the sum of its requests' latencies is that span.
    const double done = first + later * (ttft + decode_s) + drain_s;
    latency_sum += done;
    run.makespan_s = std::max(run.makespan_s, done);
  }
  run.mean_ttft_s = ttft_sum / static_cast<double>(total);
  run.concurrency = run.makespan_s > 0 ? latency_sum / run.makespan_s : 0.0;
  return run;
}

} // namespace brix::serve
