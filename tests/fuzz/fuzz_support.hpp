#pragma once
// What every fuzz target checks: a parser of outside input either returns or throws one of the
// two errors the CLI turns into a message and an exit code (InputError: exit 2, JobError:
// exit 1). Any other exception reaches `brix: error: internal:` and is a defect, so it aborts
// the run like a crash; signals, hangs and memory blow-ups are caught by libFuzzer and the
// sanitizers themselves.
#include <brix/util/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>
#include <sys/mman.h>
#include <unistd.h>

namespace brix::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Runs `parse`; returns true when it succeeded, false on a documented error, aborts otherwise.
template <typename Parse>
bool accepts(Parse&& parse) {
  try {
    parse();
    return true;
  } catch (const InputError&) {
    return false;
  } catch (const JobError&) {
    return false;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "undocumented exception %s: %s\n", typeid(error).name(), error.what());
    std::abort();
  }
}

/// A property the parser promises; aborts with `what` when it does not hold.
inline void require(bool holds, const char* what) {
  if (!holds) {
    std::fprintf(stderr, "broken promise: %s\n", what);
    std::abort();
  }
}

/// The input as a file, for readers that take a path (memory maps, hwloc's XML loader): an
/// anonymous memory file, reached through /proc/self/fd, so fuzzing never touches the disk.
class MemoryFile {
public:
  MemoryFile(const std::uint8_t* data, std::size_t size) : m_fd(::memfd_create("fuzz-input", MFD_CLOEXEC)) {
    require(m_fd >= 0, "memfd_create works");
    std::size_t written = 0;
    while (written < size) {
      const auto n = ::write(m_fd, data + written, size - written);
      require(n > 0, "writing the memory file works");
      written += static_cast<std::size_t>(n);
    }
  }
  ~MemoryFile() { ::close(m_fd); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  [[nodiscard]] std::string path() const { return "/proc/self/fd/" + std::to_string(m_fd); }

private:
  int m_fd;
};

} // namespace brix::fuzz
