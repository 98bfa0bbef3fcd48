#include <brix/shard/tensor_copy.hpp>

#include <algorithm>
#include <cstring>

namespace brix::shard {

namespace {

/// Writes a contiguous range straight from the mapping, in chunks so that one huge tensor does
/// not pin all of its pages at once.
void write_contiguous(std::span<const std::byte> bytes, const util::OutputFile& out, std::uint64_t offset) {
  for (std::size_t done = 0; done < bytes.size(); done += k_copy_chunk) {
    const auto length = std::min<std::size_t>(k_copy_chunk, bytes.size() - done);
    out.write_at(offset + done, bytes.subspan(done, length));
  }
}

/// Collects strided runs in `buffer` and writes them out whenever it fills.
class Gather {
public:
  Gather(const util::OutputFile& out, std::uint64_t offset, std::vector<std::byte>& buffer)
      : m_out(out), m_offset(offset), m_buffer(buffer) {
    m_buffer.clear();
  }
  void add(std::span<const std::byte> run) {
    while (!run.empty()) {
      if (m_buffer.size() == k_copy_chunk) {
        flush();
      }
      const auto take = std::min(run.size(), k_copy_chunk - m_buffer.size());
      m_buffer.insert(m_buffer.end(), run.begin(), run.begin() + static_cast<std::ptrdiff_t>(take));
      run = run.subspan(take);
    }
  }
  void flush() {
    m_out.write_at(m_offset, m_buffer);
    m_offset += m_buffer.size();
    m_buffer.clear();
  }

private:
  const util::OutputFile& m_out;
  std::uint64_t m_offset;
  std::vector<std::byte>& m_buffer;
};

} // namespace

SplitGeometry split_geometry(std::span<const std::int64_t> shape, int dim, std::size_t element_size) {
  SplitGeometry geometry;
  std::uint64_t inner = element_size;
  if (dim < 0) {
    for (const auto size : shape) {
      inner *= static_cast<std::uint64_t>(size);
    }
    geometry.row_bytes = inner;
    return geometry;
  }
  for (std::size_t d = 0; d < shape.size(); ++d) {
    const auto size = static_cast<std::uint64_t>(shape[d]);
    if (static_cast<int>(d) < dim) {
      geometry.outer *= size;
    } else if (static_cast<int>(d) == dim) {
      geometry.rows = size;
    } else {
      inner *= size;
    }
  }
  geometry.row_bytes = inner;
  return geometry;
}

void for_each_run(std::span<const std::byte> source, const SplitGeometry& geometry, int part, int parts,
                  const std::function<void(std::span<const std::byte>)>& run) {
  const std::uint64_t piece_rows = geometry.rows / static_cast<std::uint64_t>(parts);
  const std::uint64_t piece_bytes = piece_rows * geometry.row_bytes;
  const std::uint64_t slice_bytes = geometry.rows * geometry.row_bytes;
  const std::uint64_t start = static_cast<std::uint64_t>(part) * piece_bytes;
  for (std::uint64_t o = 0; o < geometry.outer; ++o) {
    run(source.subspan(o * slice_bytes + start, piece_bytes));
  }
}

void write_piece(std::span<const std::byte> source, const SplitGeometry& geometry, int part, int parts,
                 const util::OutputFile& out, std::uint64_t offset, std::vector<std::byte>& buffer) {
  if (geometry.outer == 1) {
    for_each_run(source, geometry, part, parts, [&](std::span<const std::byte> run) { write_contiguous(run, out, offset); });
    return;
  }
  Gather gather(out, offset, buffer);
  for_each_run(source, geometry, part, parts, [&](std::span<const std::byte> run) { gather.add(run); });
  gather.flush();
}

void write_joined(const std::vector<std::span<const std::byte>>& pieces, const SplitGeometry& geometry,
                  const util::OutputFile& out, std::uint64_t offset, std::vector<std::byte>& buffer) {
  const std::uint64_t piece_rows = geometry.rows / pieces.size();
  const std::uint64_t piece_bytes = piece_rows * geometry.row_bytes;
  if (geometry.outer == 1) {
    for (std::size_t k = 0; k < pieces.size(); ++k) {
      write_contiguous(pieces[k], out, offset + k * piece_bytes);
    }
    return;
  }
  Gather gather(out, offset, buffer);
  for (std::uint64_t o = 0; o < geometry.outer; ++o) {
    for (const auto& piece : pieces) {
      gather.add(piece.subspan(o * piece_bytes, piece_bytes));
    }
  }
  gather.flush();
}

} // namespace brix::shard
