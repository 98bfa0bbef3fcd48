#pragma once
// The store's lock (DIR/.lock, flock(2)): writers hold it shared for a whole save, garbage
// collection holds it exclusive. Chunks a writer has written or decided to reuse are named by no
// manifest until the writer publishes, so without the lock a collector would delete them under
// the writer's feet. The kernel drops a flock when its process dies, so a crashed writer never
// blocks collection. Linux NFS clients map flock to NFS byte-range locks (shared across clients);
// Lustre needs the `flock` mount option.

#include <filesystem>

namespace brix::checkpoint {

class StoreLock {
public:
  enum class Mode { shared, exclusive };
  /// Blocks until the lock is held; JobError when DIR/.lock cannot be opened or locked.
  StoreLock(const std::filesystem::path& dir, Mode mode);
  ~StoreLock();
  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;

private:
  int m_fd = -1;
};

} // namespace brix::checkpoint
