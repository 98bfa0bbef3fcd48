#include <brix/util/mapped_file.hpp>

#include <brix/util/error.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace brix::util {

MappedFile::MappedFile(const std::string& path) : m_path(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fail_input(path, 0, fmt::format("cannot open the file ({})", std::strerror(errno)));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    fail_input(path, 0, "not a regular file");
  }
  m_size = static_cast<std::size_t>(info.st_size);
  if (m_size > 0) {
    void* data = ::mmap(nullptr, m_size, PROT_READ, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED) {
      const int error = errno;
      ::close(fd);
      fail_input(path, 0, fmt::format("cannot map the file ({})", std::strerror(error)));
    }
    m_data = static_cast<const std::byte*>(data);
  }
  ::close(fd); // the mapping keeps the file open
}

MappedFile::~MappedFile() {
  if (m_data != nullptr) {
    ::munmap(const_cast<std::byte*>(m_data), m_size);
  }
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : m_path(std::move(other.m_path)), m_data(std::exchange(other.m_data, nullptr)),
      m_size(std::exchange(other.m_size, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (m_data != nullptr) {
      ::munmap(const_cast<std::byte*>(m_data), m_size);
    }
    m_path = std::move(other.m_path);
    m_data = std::exchange(other.m_data, nullptr);
    m_size = std::exchange(other.m_size, 0);
  }
  return *this;
}

namespace {
void advise(const std::byte* data, std::size_t size, std::uint64_t offset, std::uint64_t length, int advice) {
  if (data == nullptr || offset >= size) {
    return;
  }
  // madvise wants a page-aligned start; widen the range down to the page boundary.
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t start = offset / page * page;
  const std::uint64_t end = std::min<std::uint64_t>(size, offset + length);
  ::madvise(const_cast<std::byte*>(data) + start, end - start, advice);
}
} // namespace

void MappedFile::advise_sequential(std::uint64_t offset, std::uint64_t length) const {
  advise(m_data, m_size, offset, length, MADV_SEQUENTIAL);
}

void MappedFile::advise_done(std::uint64_t offset, std::uint64_t length) const {
  advise(m_data, m_size, offset, length, MADV_DONTNEED);
}

} // namespace brix::util
