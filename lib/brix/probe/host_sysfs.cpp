// Host facts from files: /etc/os-release, /proc/sys/kernel, /proc/driver/nvidia/version,
// /sys/module (GPUDirect RDMA module) and /sys/block (model and firmware of every disk).
// Everything is read under a root directory so that tests can hand in a fake tree.

#include <brix/probe/sources.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <sys/utsname.h>
#include <unistd.h>

namespace brix::probe {

namespace {

namespace fs = std::filesystem;

/// The file's text, trimmed; "" when it cannot be read.
std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  if (!in) {
    return "";
  }
  std::stringstream text;
  text << in.rdbuf();
  return std::string(util::trim(text.str()));
}

std::string os_release_name(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::string name;
  std::string version;
  while (std::getline(in, line)) {
    const auto equals = line.find('=');
    if (equals == std::string::npos) {
      continue;
    }
    std::string value = line.substr(equals + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'')) {
      value = value.substr(1, value.size() - 2);
    }
    const std::string key = line.substr(0, equals);
    if (key == "PRETTY_NAME") {
      return value;
    }
    name = key == "NAME" ? value : name;
    version = key == "VERSION" ? value : version;
  }
  return version.empty() ? name : name + " " + version;
}

/// "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar ..." → "550.54.15".
std::string driver_version_from_proc(const std::string& text) {
  static const std::regex k_version(R"(\b(\d+\.\d+(\.\d+)?)\b)");
  const std::string first_line = text.substr(0, text.find('\n'));
  std::smatch match;
  return std::regex_search(first_line, match, k_version) ? match[1].str() : "";
}

std::string transport_of(const std::string& name) {
  if (util::starts_with(name, "nvme")) {
    return "nvme";
  }
  if (util::starts_with(name, "vd")) {
    return "virtio";
  }
  if (util::starts_with(name, "sd")) {
    return "scsi";
  }
  return "other";
}

/// The PCI address a block device hangs off: NVMe controllers have an `address` file; otherwise
/// the last PCI-looking component of the device's real path.
std::string disk_bus_id(const fs::path& device) {
  std::string address = read_text(device / "address");
  if (!address.empty()) {
    return normalize_bus_id(address);
  }
  std::error_code error;
  const auto real = fs::canonical(device, error);
  if (error) {
    return "";
  }
  static const std::regex k_bus_id(R"(^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$)");
  std::string found;
  for (const auto& part : real) {
    if (std::regex_match(part.string(), k_bus_id)) {
      found = part.string();
    }
  }
  return found;
}

std::vector<Disk> block_devices(const fs::path& sys_block) {
  std::vector<Disk> disks;
  std::error_code error;
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(sys_block, error)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    const fs::path dir = sys_block / name;
    const fs::path device = dir / "device";
    // loop, ram, zram, dm-* and md* have no backing device: not disks.
    if (!fs::exists(device, error)) {
      continue;
    }
    Disk disk;
    disk.name = name;
    disk.model = read_text(device / "model");
    disk.firmware = read_text(device / "firmware_rev");
    if (disk.firmware.empty()) {
      disk.firmware = read_text(device / "rev");
    }
    disk.serial = read_text(device / "serial");
    disk.size_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(
                          util::parse_int(read_text(dir / "size")).value_or(0), 0)) * 512; // 512-byte sectors
    disk.transport = transport_of(name);
    disk.pci_bus_id = disk_bus_id(device);
    disks.push_back(std::move(disk));
  }
  return disks;
}

class SysfsHost final : public HostSource {
public:
  explicit SysfsHost(std::string root) : m_root(std::move(root)) {}

  [[nodiscard]] HostFacts facts() override {
    const bool live = fs::path(m_root) == fs::path("/");
    HostFacts facts;
    facts.os = os_release_name(m_root / "etc/os-release");
    facts.kernel = read_text(m_root / "proc/sys/kernel/osrelease");
    facts.hostname = read_text(m_root / "proc/sys/kernel/hostname");
    facts.architecture = read_text(m_root / "proc/sys/kernel/arch");
    if (live) {
      utsname names{};
      if (::uname(&names) == 0) {
        facts.kernel = facts.kernel.empty() ? names.release : facts.kernel;
        facts.hostname = facts.hostname.empty() ? names.nodename : facts.hostname;
        facts.architecture = facts.architecture.empty() ? names.machine : facts.architecture;
      }
    }
    facts.nvidia_driver = driver_version_from_proc(read_text(m_root / "proc/driver/nvidia/version"));
    std::error_code error;
    for (const char* module : {"nvidia_peermem", "nv_peer_mem"}) {
      if (facts.gpudirect_rdma.empty() && fs::exists(m_root / "sys/module" / module, error)) {
        facts.gpudirect_rdma = module;
      }
    }
    facts.disks = block_devices(m_root / "sys/block");
    return facts;
  }

private:
  fs::path m_root;
};

} // namespace

std::unique_ptr<HostSource> make_sysfs_host(std::string root) { return std::make_unique<SysfsHost>(std::move(root)); }

} // namespace brix::probe
