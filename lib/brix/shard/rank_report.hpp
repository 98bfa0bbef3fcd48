#pragma once
// `brix shard` output: the rank map as a document (json/yaml) or as text with a summary table.

#include <brix/shard/rank_map.hpp>
#include <brix/util/output.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace brix::shard {

[[nodiscard]] nlohmann::ordered_json to_json(const RankMap& map);
[[nodiscard]] std::string to_text(const RankMap& map, const util::Style& style);

} // namespace brix::shard
