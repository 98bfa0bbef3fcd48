#include <brix/util/mapped_file.hpp>

#include <brix/util/error.hpp>
#include <brix/util/input_file.hpp>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>
#include <utility>

namespace brix::util {

MappedFile::MappedFile(const std::string& path) : m_path(path) {
  std::string why;
  const auto file = InputFile::open(path, why); // never blocks on a FIFO or device
  if (!file) {
    fail_input(path, 0, fmt::format("cannot open the file ({})", why));
  }
  m_size = static_cast<std::size_t>(file->size());
  if (m_size > 0) {
    void* data = ::mmap(nullptr, m_size, PROT_READ, MAP_SHARED, file->fd(), 0);
    if (data == MAP_FAILED) {
      fail_input(path, 0, fmt::format("cannot map the file ({})", std::strerror(errno)));
    }
    m_data = static_cast<const std::byte*>(data);
  }
  // The mapping keeps the file open once `file` closes it.
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
