#include <brix/recover/mapping.hpp>

#include <brix/shard/rank_generator.hpp>

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace brix::recover {
namespace {

struct Span {
  std::int64_t first = 0;
  std::int64_t last = 0; ///< inclusive
};

bool overlaps(Span a, Span b) { return a.first <= b.last && b.first <= a.last; }

/// Slice `index` of `count` of a tensor, on a common denominator: [i·N/n, (i+1)·N/n).
bool slices_overlap(int i, int n, int j, int m) {
  const std::int64_t a0 = static_cast<std::int64_t>(i) * m, a1 = static_cast<std::int64_t>(i + 1) * m;
  const std::int64_t b0 = static_cast<std::int64_t>(j) * n, b1 = static_cast<std::int64_t>(j + 1) * n;
  return a0 < b1 && b0 < a1;
}

/// The layer spans pipeline rank `pp_rank` runs (one per virtual stage).
std::vector<Span> layer_spans(const std::vector<plan::PlanStage>& stages, int pp, int pp_rank) {
  std::vector<Span> spans;
  for (std::size_t index = static_cast<std::size_t>(pp_rank); index < stages.size();
       index += static_cast<std::size_t>(pp)) {
    spans.push_back({stages[index].first_layer, stages[index].last_layer});
  }
  return spans;
}

bool any_overlap(const std::vector<Span>& a, const std::vector<Span>& b) {
  return std::any_of(a.begin(), a.end(), [&](Span x) {
    return std::any_of(b.begin(), b.end(), [&](Span y) { return overlaps(x, y); });
  });
}

shard::RankGenerator dense_generator(const plan::Layout& l) {
  return {shard::parse_order(shard::k_default_order), l.tp, l.cp, 1, l.dp, l.pp};
}

/// Megatron's expert generator: tp -> etp, cp folded away, ep, dp -> expert dp.
shard::RankGenerator expert_generator(const plan::Layout& l) {
  return {shard::parse_order(shard::k_default_order), l.etp, 1, l.ep, l.expert_dp(), l.pp};
}

} // namespace

std::vector<RankSources> map_layouts(const plan::PlanFile& old, const plan::PlanFile& now,
                                     std::int64_t decoder_layers) {
  const auto old_stages = plan::resolve_stages(old, decoder_layers);
  const auto new_stages = plan::resolve_stages(now, decoder_layers);
  const auto old_dense = dense_generator(old.layout);
  const auto new_dense = dense_generator(now.layout);
  const bool moe = old.layout.ep > 1 || now.layout.ep > 1;
  const auto old_expert = expert_generator(old.layout);
  const auto new_expert = expert_generator(now.layout);
  const auto& o = old.layout;
  const auto& n = now.layout;

  std::vector<RankSources> mapping;
  for (int rank = 0; rank < new_dense.world(); ++rank) {
    RankSources sources;
    sources.rank = rank;
    sources.tp = new_dense.coordinate(rank, "tp");
    sources.cp = new_dense.coordinate(rank, "cp");
    sources.dp = new_dense.coordinate(rank, "dp");
    sources.pp = new_dense.coordinate(rank, "pp");
    const auto spans = layer_spans(new_stages, n.pp, sources.pp);
    sources.first_layer = spans.front().first;
    sources.last_layer = spans.back().last;
    // Spread reads: new replica d reads old replica d mod old dp.
    const int replica = sources.dp % o.dp;
    const int e_tp = moe ? new_expert.coordinate(rank, "tp") : 0;
    const int e_ep = moe ? new_expert.coordinate(rank, "ep") : 0;
    const int e_dp = moe ? new_expert.coordinate(rank, "dp") % o.expert_dp() : 0;
    for (int old_rank = 0; old_rank < old_dense.world(); ++old_rank) {
      const bool same_model_slice =
          slices_overlap(sources.tp, n.tp, old_dense.coordinate(old_rank, "tp"), o.tp) &&
          slices_overlap(sources.cp, n.cp, old_dense.coordinate(old_rank, "cp"), o.cp) &&
          any_overlap(spans, layer_spans(old_stages, o.pp, old_dense.coordinate(old_rank, "pp")));
      if (same_model_slice) {
        if (old_dense.coordinate(old_rank, "dp") == replica) {
          sources.weights.push_back(old_rank);
        }
        if (o.zero >= 1 || old_dense.coordinate(old_rank, "dp") == replica) {
          sources.optimizer.push_back(old_rank);
        }
      }
      if (moe && any_overlap(spans, layer_spans(old_stages, o.pp, old_expert.coordinate(old_rank, "pp"))) &&
          slices_overlap(e_tp, n.etp, old_expert.coordinate(old_rank, "tp"), o.etp) &&
          slices_overlap(e_ep, n.ep, old_expert.coordinate(old_rank, "ep"), o.ep) &&
          old_expert.coordinate(old_rank, "dp") == e_dp) {
        sources.experts.push_back(old_rank);
      }
    }
    mapping.push_back(std::move(sources));
  }
  return mapping;
}

std::string describe(const RankSources& s) {
  auto line = fmt::format("new rank {} (tp {}, cp {}, dp {}, pp {}; layers {}-{}) <- weights old {}",
                          s.rank, s.tp, s.cp, s.dp, s.pp, s.first_layer, s.last_layer,
                          fmt::join(s.weights, ","));
  if (s.optimizer != s.weights) {
    line += fmt::format("; optimizer old {}", fmt::join(s.optimizer, ","));
  }
  if (!s.experts.empty()) {
    line += fmt::format("; experts old {}", fmt::join(s.experts, ","));
  }
  return line;
}

nlohmann::ordered_json to_json(const std::vector<RankSources>& mapping) {
  auto ranks = nlohmann::ordered_json::array();
  for (const auto& s : mapping) {
    nlohmann::ordered_json rank{{"rank", s.rank}, {"tp", s.tp}, {"cp", s.cp}, {"dp", s.dp},
                                {"pp", s.pp}, {"first_layer", s.first_layer},
                                {"last_layer", s.last_layer}, {"weights_from", s.weights},
                                {"optimizer_from", s.optimizer}};
    if (!s.experts.empty()) {
      rank["experts_from"] = s.experts;
    }
    ranks.push_back(std::move(rank));
  }
  return ranks;
}

} // namespace brix::recover
