#pragma once
// An in-memory util::FileSystem for unit tests (as ninja's VirtualFileSystem) that models what a
// power loss keeps: a file's bytes as of its last fsync, a directory's names as of its last fsync.
// It records every fsync, can fail any operation with an errno, and can lose power at any step,
// so tests prove that a writer never leaves a half-written file under its name.

#include <brix/util/file_system.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace brix::test {

/// Thrown by every operation from the moment power is lost; nothing more is done.
struct PowerLoss : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class MemoryFileSystem final : public util::FileSystem {
public:
  using path = std::filesystem::path;

  /// The umask of the process that writes (a new file's 0644 becomes 0644 & ~k_umask).
  static constexpr unsigned k_umask = 027;

  MemoryFileSystem() { m_directories.insert("/"); }
  // Copies would share their files' nodes: move only.
  MemoryFileSystem(MemoryFileSystem&&) = default;
  MemoryFileSystem(const MemoryFileSystem&) = delete;
  MemoryFileSystem& operator=(const MemoryFileSystem&) = delete;

  // --- Test setup and inspection ---

  /// A file as if written and made durable long ago (its directories are created).
  void put(const path& file, std::string_view bytes, unsigned mode = 0644) {
    create_directories(file.parent_path());
    auto node = std::make_shared<Node>(Node{std::string(bytes), std::string(bytes), mode});
    m_names[key(file)] = node;
    m_durable_names[key(file)] = node;
  }
  /// The bytes under `file` now, nullopt when there is no such file.
  [[nodiscard]] std::optional<std::string> contents(const path& file) const {
    const auto it = m_names.find(key(file));
    return it == m_names.end() ? std::nullopt : std::optional<std::string>(it->second->bytes);
  }
  /// Files fsynced, in order.
  [[nodiscard]] const std::vector<std::string>& file_syncs() const { return m_file_syncs; }
  /// Directories fsynced, in order.
  [[nodiscard]] const std::vector<std::string>& directory_syncs() const { return m_directory_syncs; }

  /// The next `operation` ("create", "write", "rename", "sync_directory", "remove") fails with
  /// `error`, as the real one would: a failed write leaves no file behind.
  void fail_next(std::string operation, int error) {
    m_fail_operation = std::move(operation);
    m_fail_error = error;
  }
  /// Power is lost right after step `step` (counted from 1 over this object's life: a file created,
  /// half and then all of its bytes written, its fsync, a rename, a directory fsync, a removal):
  /// that step throws PowerLoss, what was not durable is gone, and every later operation throws
  /// PowerLoss until reboot().
  void lose_power_after(std::int64_t step) { m_power_loss_step = step; }
  void reboot() { m_powered = true; }
  /// Loses power now, between operations, and comes back: names and bytes are what was last made
  /// durable.
  void lose_power() {
    m_names = m_durable_names;
    for (auto& [name, node] : m_names) {
      node->bytes = node->durable_bytes;
    }
  }

  // --- util::FileSystem ---

  std::string read(const path& file) override {
    check_power();
    const auto it = m_names.find(key(file));
    if (it == m_names.end()) {
      throw util::FileError(file, "cannot open", ENOENT);
    }
    return it->second->bytes;
  }
  std::optional<std::uint64_t> size(const path& file) override {
    check_power();
    const auto it = m_names.find(key(file));
    return it == m_names.end() ? std::nullopt : std::optional<std::uint64_t>(it->second->bytes.size());
  }
  std::optional<unsigned> permissions(const path& file) override {
    check_power();
    const auto it = m_names.find(key(file));
    return it == m_names.end() ? std::nullopt : std::optional<unsigned>(it->second->mode);
  }
  void write_synced(const path& file, std::string_view bytes) override {
    check_power();
    auto it = m_names.find(key(file));
    if (it == m_names.end()) {
      (void)create_synced(file, bytes, std::nullopt);
      return;
    }
    write_steps(file, *it->second, bytes);
  }
  bool create_synced(const path& file, std::string_view bytes, std::optional<unsigned> mode) override {
    check_power();
    if (m_names.contains(key(file))) {
      return false;
    }
    fail_if("create", file);
    if (!m_directories.contains(key(file.parent_path()))) {
      throw util::FileError(file, "cannot create", ENOENT);
    }
    auto node = std::make_shared<Node>(Node{"", "", mode.value_or(0644 & ~k_umask)});
    m_names[key(file)] = node;
    step();
    try {
      write_steps(file, *node, bytes);
    } catch (const util::FileError&) {
      m_names.erase(key(file)); // as the real one: nothing left of a file it created
      throw;
    }
    return true;
  }
  void rename(const path& from, const path& to) override {
    check_power();
    fail_if("rename", to);
    const auto it = m_names.find(key(from));
    if (it == m_names.end()) {
      throw util::FileError(to, "cannot rename " + from.string() + " to it", ENOENT);
    }
    auto node = it->second;
    m_names.erase(it);
    m_names[key(to)] = node;
    step();
  }
  void sync_directory(const path& dir) override {
    check_power();
    fail_if("sync_directory", dir);
    const auto prefix = key(dir);
    std::erase_if(m_durable_names, [&](const auto& entry) { return parent(entry.first) == prefix; });
    for (const auto& [name, node] : m_names) {
      if (parent(name) == prefix) {
        m_durable_names[name] = node;
      }
    }
    m_directory_syncs.push_back(prefix);
    step();
  }
  /// Directories are durable as soon as they exist (the model is about files).
  void create_directories(const path& dir) override {
    check_power();
    for (path at = key(dir); !at.empty() && at != at.parent_path(); at = at.parent_path()) {
      m_directories.insert(at.string());
    }
  }
  void remove(const path& file) override {
    check_power();
    fail_if("remove", file);
    m_names.erase(key(file));
    step();
  }
  std::vector<std::string> list(const path& dir) override {
    check_power();
    std::set<std::string> names;
    const auto prefix = key(dir);
    for (const auto& [name, node] : m_names) {
      if (parent(name) == prefix) {
        names.insert(path(name).filename().string());
      }
    }
    for (const auto& name : m_directories) {
      if (name != prefix && parent(name) == prefix) {
        names.insert(path(name).filename().string());
      }
    }
    return {names.begin(), names.end()};
  }

private:
  struct Node {
    std::string bytes;
    std::string durable_bytes; ///< as of the last fsync
    unsigned mode = 0644;
  };

  static std::string key(const path& file) {
    const auto normal = file.lexically_normal().string();
    return normal.size() > 1 && normal.back() == '/' ? normal.substr(0, normal.size() - 1) : normal;
  }
  static std::string parent(const std::string& name) { return path(name).parent_path().string(); }

  void check_power() const {
    if (!m_powered) {
      throw PowerLoss("power lost");
    }
  }
  void step() {
    if (++m_steps == m_power_loss_step) {
      lose_power();
      m_powered = false;
      throw PowerLoss("power lost after step " + std::to_string(m_steps));
    }
  }
  void fail_if(std::string_view operation, const path& file) {
    if (m_fail_operation == operation) {
      m_fail_operation.clear();
      throw util::FileError(file, "injected failure of " + std::string(operation), m_fail_error);
    }
  }
  void write_steps(const path& file, Node& node, std::string_view bytes) {
    node.bytes = std::string(bytes.substr(0, bytes.size() / 2));
    fail_if("write", file); // a write cut short, as by a full disk
    step();
    node.bytes = std::string(bytes);
    step();
    node.durable_bytes = node.bytes;
    m_file_syncs.push_back(key(file));
    step();
  }

  std::map<std::string, std::shared_ptr<Node>> m_names;         ///< what is there now
  std::map<std::string, std::shared_ptr<Node>> m_durable_names; ///< what a power loss keeps
  std::set<std::string> m_directories;
  std::vector<std::string> m_file_syncs;
  std::vector<std::string> m_directory_syncs;
  std::string m_fail_operation;
  int m_fail_error = 0;
  std::int64_t m_steps = 0;
  std::int64_t m_power_loss_step = 0;
  bool m_powered = true;
};

} // namespace brix::test
