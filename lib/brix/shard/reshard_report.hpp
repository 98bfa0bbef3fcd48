#pragma once
// What `brix shard weights` and `brix shard merge` print: where the files went, how many, how
// fast.

#include <brix/shard/reshard.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace brix::shard {

struct ReshardSummary {
  std::string verb;    ///< "wrote" (weights) or "rebuilt" (merge)
  std::string out_dir;
  ReshardStats stats;
  /// Bytes written per second (0 when no time was measured).
  [[nodiscard]] double rate() const;
};

/// {out, files, tensors, bytes_read, bytes_written, seconds, bytes_per_second, threads}.
[[nodiscard]] nlohmann::ordered_json to_json(const ReshardSummary& summary);
/// One line: "wrote OUT: N files, T tensors, … read, … written in … (…/s, K threads)".
[[nodiscard]] std::string to_text(const ReshardSummary& summary);

} // namespace brix::shard
