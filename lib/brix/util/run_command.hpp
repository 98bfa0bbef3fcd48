#pragma once
// Runs a helper program (scontrol, nvidia-smi, ...) and captures its standard output.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace brix::util {

struct CommandResult {
  int exit_code = -1; ///< -1 when it did not start, timed out or died of a signal
  std::string output; ///< standard output (standard error is discarded)
};

/// argv[0] is looked up on PATH. Killed (SIGKILL) after `timeout`.
[[nodiscard]] CommandResult run_command(const std::vector<std::string>& argv,
                                        std::chrono::milliseconds timeout);

} // namespace brix::util
