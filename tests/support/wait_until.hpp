#pragma once
// Waiting for a condition instead of sleeping for a guessed time: a test that needs another
// thread or process to have done something polls for exactly that, with a deadline generous
// enough for a loaded machine, and goes on the moment it holds.

#include <chrono>
#include <thread>

namespace brix::test {

/// Polls `condition` every 5 ms until it holds (true) or `timeout` has passed (false, after one
/// last look).
template <typename Condition>
[[nodiscard]] bool wait_until(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return condition();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

} // namespace brix::test
