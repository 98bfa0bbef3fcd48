#pragma once
// Errors and exit codes. Library code throws; exactly one place (tools/brix/main.cpp and
// tools/brix-worker/main.cpp) turns an exception into `brix: error: ...` and an exit code.

#include <stdexcept>
#include <string>
#include <string_view>

namespace brix {

/// Exit codes shared by every command: 0 success, 1 the job/work failed, 2 bad usage or input.
enum class ExitCode : int { ok = 0, job_failed = 1, bad_input = 2 };

/// Bad usage or bad input the user can fix (exit 2). The message is one line.
class InputError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// The work itself failed: a job, a check, a measurement (exit 1).
class JobError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// "<file>:<line>: <what> (<expected>)"; line <= 0 omits the line, empty expected omits the
/// parenthesis.
[[nodiscard]] std::string located(std::string_view file, int line, std::string_view what,
                                  std::string_view expected = {});

/// Throws InputError with located(file, line, what, expected).
[[noreturn]] void fail_input(std::string_view file, int line, std::string_view what,
                             std::string_view expected = {});

} // namespace brix
