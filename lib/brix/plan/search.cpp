// The layout search: work items spread over threads, each thread's best plans and rejections
// merged into one result (the enumerator: search_space_detail.hpp).
#include <brix/plan/search_space_detail.hpp>

#include <chrono>
#include <set>
#include <thread>

namespace brix::plan {

using namespace detail;

namespace {

SearchResult collect(const Evaluator& eval, std::vector<Partial>& partials, double seconds) {
  SearchResult result;
  std::map<Problem, std::int64_t> rejected;
  for (auto& partial : partials) {
    result.evaluated += partial.evaluated;
    result.valid += partial.valid;
    result.balanced += partial.balanced;
    for (auto& plan : partial.best) {
      result.plans.push_back(std::move(plan));
    }
    for (const auto& [key, count] : partial.rejected) {
      rejected[key] += count;
    }
  }
  std::sort(result.plans.begin(), result.plans.end(), Partial::better);
  if (static_cast<int>(result.plans.size()) > eval.options().top_k) {
    result.plans.resize(static_cast<std::size_t>(eval.options().top_k));
  }
  // Merge keys that render the same (e.g. batch reasons for different DP sizes).
  std::map<std::string, RejectionGroup> by_text;
  const auto context = eval.problem_context();
  std::set<std::int64_t> batch_units;
  for (const auto& [key, count] : rejected) {
    if (count > 0) {
      auto& group = by_text[describe_family(key, context)];
      group.count += count;
      group.kind = key.kind;
      if (key.kind == ProblemKind::batch) {
        batch_units.insert(key.a * key.b);
      }
    }
  }
  result.batch_units.assign(batch_units.begin(), batch_units.end());
  for (auto& [text, group] : by_text) {
    group.reason = text;
    result.rejected.push_back(std::move(group));
  }
  std::sort(result.rejected.begin(), result.rejected.end(),
            [](const auto& a, const auto& b) { return a.count > b.count; });
  result.seconds = seconds;
  result.gpus = eval.target().gpus;
  result.device = eval.target().group.gpu.display;
  return result;
}

} // namespace

void apply_layout_software(SearchOptions& options) {
  if (options.fixed.flash_attention) {
    options.software.flash_attention = *options.fixed.flash_attention;
  }
  options.software.grad_reduce_bytes = options.fixed.grad_bytes.value_or(options.software.grad_reduce_bytes);
}

SearchResult search_layouts(const model::ModelSpec& model, const cluster::ClusterSpec& cluster,
                            const SearchOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const Evaluator eval(model, cluster, options);
  const Searcher searcher(eval);
  const auto items = searcher.items();
  const int threads = std::max(1, std::min<int>(options.threads, static_cast<int>(items.size())));
  std::vector<Partial> partials(static_cast<std::size_t>(threads));
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  std::atomic<double> threshold{INFINITY};
  auto worker = [&](int index) {
    auto& partial = partials[static_cast<std::size_t>(index)];
    for (std::size_t i = next++; i < items.size(); i = next++) {
      searcher.run(items[i], partial, threshold);
      const auto finished = ++done;
      if (options.progress) {
        options.progress(static_cast<double>(finished) / static_cast<double>(items.size()));
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) {
    pool.emplace_back(worker, t);
  }
  worker(0);
  for (auto& thread : pool) {
    thread.join();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return collect(eval, partials, seconds);
}

} // namespace brix::plan
