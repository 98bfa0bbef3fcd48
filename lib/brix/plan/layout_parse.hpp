#pragma once
// Reading a Layout from text: "tp=8,pp=4,dp=2,ep=8,sp=1,mbs=1,recompute=selective,zero=1,...",
// the same keys to_string(Layout) writes (plus long aliases).

#include <brix/plan/layout.hpp>

#include <string_view>

namespace brix::plan {

/// Keys: tp pp dp ep etp cp sp mbs|micro_batch vpp schedule recompute zero precision
/// grad_compression flash. Unset keys keep the defaults of Layout{} except that sp defaults to
/// tp > 1 and recompute to selective. Unknown keys and bad values are InputErrors naming `what`.
[[nodiscard]] Layout parse_layout(std::string_view text, std::string_view what = "--layout");

[[nodiscard]] Schedule parse_schedule(std::string_view text, std::string_view what);
[[nodiscard]] Recompute parse_recompute(std::string_view text, std::string_view what);
[[nodiscard]] Precision parse_precision(std::string_view text, std::string_view what);
[[nodiscard]] GradCompression parse_grad_compression(std::string_view text, std::string_view what);

} // namespace brix::plan
