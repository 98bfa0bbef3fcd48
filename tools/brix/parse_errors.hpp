#pragma once
// CLI11's parse errors as brix's one-line errors: `<option>: <what> (<what was expected>)`, with
// "did you mean" over the options of the subcommand being parsed.

#include <CLI/CLI.hpp>

#include <string>

namespace brix::cli {

/// The message (without the "brix: error: " prefix) for a CLI11 parse error raised by `app`.
[[nodiscard]] std::string describe_parse_error(const CLI::App& app, const CLI::ParseError& error);

} // namespace brix::cli
