#pragma once
// `brix plan --serve --emit html`: the serving plans as one self-contained page — the best plan's
// headline figures, the Pareto front of output tokens/s per GPU against tokens/s per user with
// the SLO lines, the ranked plans and the rejected layouts. Every number is read from the
// ServeReport (the values to_text and to_json print).

#include <brix/serve/serve_report.hpp>

#include <string>

namespace brix::serve {

[[nodiscard]] std::string serve_html(const ServeReport& report);

} // namespace brix::serve
