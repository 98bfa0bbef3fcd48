#pragma once
// A benchmark client's finite closed loop: `vllm bench serve`, SGLang's bench_serving.py and
// genai-perf with --max-concurrency c --num-prompts N --request-rate inf create all N requests
// at once behind a semaphore of c, so c prompts reach the engine at t = 0 and need prefill
// together; each later request is sent when one finishes, until N are sent; the run then drains.
// The client's mean TTFT is over all N requests (the first wave's queue in front of prefill
// included) and its output throughput is total output tokens / the whole run (ramp-up and drain
// included): sglang python/sglang/bench_serving.py benchmark() and calculate_metrics(), which
// vllm benchmarks/serve.py shares. Pure functions: the steady state comes in, the run comes out.

#include <functional>
#include <vector>

namespace brix::serve {

/// The first wave as an instance's prefill sees it: `prompts` requests of `isl` tokens arriving
/// together, dealt round-robin over `ranks` prefill ranks (attention-DP ranks of every prefill
/// instance, as the engines' DP controllers and routers deal them), each rank running chunks of
/// at most `chunk` tokens, a chunk of t tokens lasting `step_seconds(t)`. A prompt's first token
/// comes `after_s` past the step that ends its prompt (the decode step sharing that iteration;
/// for disaggregated plans the KV transfer and the decode instance's step).
struct FirstWave {
  double prompts = 0;
  int ranks = 1;
  double isl = 0;
  double chunk = 0;
  double after_s = 0;
  std::function<double(double tokens)> step_seconds;
};

/// Each first-wave request's TTFT, ascending: on a rank, the k-th prompt (k = 1, 2, ...) is done
/// with the chunk that holds its last token, ceil(k × isl / chunk), every chunk before it full.
[[nodiscard]] std::vector<double> first_wave_ttfts(const FirstWave& wave);

/// The first wave when the client sends more requests at once than the engine runs (its KV pool's
/// batch): `admitted` are the TTFTs of the requests the engine took at t = 0 (first_wave_ttfts of
/// them, ascending); the `waiting` others queue in the engine, and the j-th is admitted when the
/// j-th admitted request finishes (its TTFT + `decode_s`), its own TTFT then `admitted_ttft_s`
/// (the steady state's, without a KV wait). Returns every first request's TTFT, ascending.
[[nodiscard]] std::vector<double> queued_first_wave(std::vector<double> admitted, double waiting, double decode_s,
                                                    double admitted_ttft_s);

/// What the client prints for the whole run.
struct FiniteRun {
  double mean_ttft_s = 0;  ///< over all N requests
  double makespan_s = 0;   ///< first request sent to last one done
  double concurrency = 0;  ///< requests in flight on average: Σ latency / makespan (bench_serving's "Concurrency")
};

/// The run of `num_prompts` requests through `wave_ttft.size()` client slots. Every request after
/// the first wave sees the steady state (`steady_ttft_s`, then `decode_s` from first token to
/// last); slot i's first request has wave_ttft[i]. The client's semaphore hands the next request
/// to whichever slot frees first, so with N = q·c + r the r slots of the first wave that finish
/// first run q + 1 requests and the rest q. A slot's last request decodes in `drain_s`: once the
/// last prompts are sent no prefill stretches decode steps any more (the decode step at the
/// steady batch; the drain's smaller batches run no faster here, a bound). The run ends when the
/// last slot does.
///
/// `chain_cap_s` > 0 (an aggregated instance, where prompts and decode steps share iterations):
/// the first wave's prompts were done in consecutive prefill iterations, so its groups finish
/// their last tokens in consecutive iterations and stay that way. A group's next requests reach
/// the engine while the iteration after its last token runs, and are scheduled at the next one:
/// the first group finds a decode step running (in `steady_ttft_s`), every later group finds the
/// previous group's prefill running and waits for it as well: the gap between the two groups'
/// first-wave TTFTs, at most `chain_cap_s` (one full chunk: a group whose prompts took several
/// chunks arrives during the previous group's last one). Every later request of such a slot
/// carries that wait.
[[nodiscard]] FiniteRun finite_closed_loop(const std::vector<double>& wave_ttft, double steady_ttft_s,
                                           double decode_s, double drain_s, double num_prompts,
                                           double chain_cap_s = 0);

} // namespace brix::serve
