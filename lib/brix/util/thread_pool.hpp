#pragma once
// Running many independent tasks on all cores.

#include <cstddef>
#include <functional>

namespace brix::util {

/// Threads to use by default: the machine's hardware threads (at least 1).
[[nodiscard]] unsigned default_threads();

/// Runs task(0) … task(count − 1) on `threads` threads (the caller's thread included), handing
/// out indexes in order. The first exception stops further tasks from starting and is rethrown
/// once every running task has returned.
void parallel_for(std::size_t count, unsigned threads, const std::function<void(std::size_t)>& task);

} // namespace brix::util
