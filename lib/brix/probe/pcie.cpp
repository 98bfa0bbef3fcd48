#include <brix/probe/pcie.hpp>

#include <brix/util/strings.hpp>

#include <array>
#include <cmath>
#include <fmt/format.h>

namespace brix::probe {

double pcie_gt_per_s(int gen) {
  constexpr std::array<double, 7> k_rates{0.0, 2.5, 5.0, 8.0, 16.0, 32.0, 64.0};
  return gen >= 1 && gen <= 6 ? k_rates[static_cast<std::size_t>(gen)] : 0.0;
}

double pcie_lane_gb_per_s(int gen) {
  // hwloc_linux_pci_link_speed_from_string: 8b/10b for Gen1-2, 128b/130b from Gen3 on.
  const double encoding = gen <= 2 ? 8.0 / 10.0 : 128.0 / 130.0;
  return pcie_gt_per_s(gen) * encoding / 8.0;
}

double pcie_link_gb_per_s(int gen, int width) { return pcie_lane_gb_per_s(gen) * width; }

std::string pcie_speed_text(int gen) {
  if (gen == 1) {
    return "2.5 GT/s PCIe";
  }
  return fmt::format("{:.1f} GT/s PCIe", pcie_gt_per_s(gen));
}

int pcie_gen_from_speed_text(std::string_view text) {
  const auto words = util::split(util::trim(text), ' ');
  if (words.empty()) {
    return 0;
  }
  const auto rate = util::parse_double(words.front());
  if (!rate) {
    return 0;
  }
  for (int gen = 1; gen <= 6; ++gen) {
    if (std::abs(pcie_gt_per_s(gen) - *rate) < 0.01) {
      return gen;
    }
  }
  return 0;
}

namespace {
bool fits(double gb_per_s, int gen, int width) {
  const double expected = pcie_link_gb_per_s(gen, width);
  return std::abs(expected - gb_per_s) <= 0.01 * expected;
}
constexpr std::array<int, 6> k_widths{32, 16, 8, 4, 2, 1};
} // namespace

PcieLink decode_pcie_link(double gb_per_s, int device_gen) {
  if (gb_per_s <= 0) {
    return {};
  }
  if (device_gen > 0) {
    // Trained below the device's generation only when no width fits at it.
    for (int gen = device_gen; gen >= 1; --gen) {
      for (int width : k_widths) {
        if (fits(gb_per_s, gen, width)) {
          return {gen, width};
        }
      }
    }
    return {};
  }
  for (int width : k_widths) {
    if (width > 16) {
      continue;
    }
    for (int gen = 6; gen >= 1; --gen) {
      if (fits(gb_per_s, gen, width)) {
        return {gen, width};
      }
    }
  }
  return {};
}

namespace {
// PCI ids from the PCI ID repository (pci-ids.ucw.cz); generation and width from the datasheets.
constexpr std::array<KnownPciDevice, 20> k_devices{{
    {0x10de, 0x20b0, "A100 SXM4 40GB", 4, 16},
    {0x10de, 0x20b2, "A100 SXM4 80GB", 4, 16},
    {0x10de, 0x20b5, "A100 PCIe 80GB", 4, 16},
    {0x10de, 0x20f1, "A100 PCIe 40GB", 4, 16},
    {0x10de, 0x2330, "H100 SXM5 80GB", 5, 16},
    {0x10de, 0x2331, "H100 PCIe", 5, 16},
    {0x10de, 0x2324, "H800 SXM5", 5, 16},
    {0x10de, 0x2335, "H200 SXM 141GB", 5, 16},
    {0x10de, 0x2329, "H20", 5, 16},
    {0x10de, 0x2901, "B200", 5, 16},
    {0x10de, 0x26b9, "L40S", 4, 16},
    {0x15b3, 0x1017, "ConnectX-5", 3, 16},
    {0x15b3, 0x1019, "ConnectX-5 Ex", 4, 16},
    {0x15b3, 0x101b, "ConnectX-6", 4, 16},
    {0x15b3, 0x101d, "ConnectX-6 Dx", 4, 16},
    {0x15b3, 0x101f, "ConnectX-6 Lx", 4, 8},
    {0x15b3, 0x1021, "ConnectX-7", 5, 16},
    {0x15b3, 0x1023, "ConnectX-8", 6, 16},
    {0x15b3, 0xa2d6, "BlueField-2", 4, 16},
    {0x15b3, 0xa2dc, "BlueField-3", 5, 16},
}};
} // namespace

std::optional<KnownPciDevice> known_pci_device(int vendor, int device) {
  for (const auto& known : k_devices) {
    if (known.vendor == vendor && known.device == device) {
      return known;
    }
  }
  return std::nullopt;
}

} // namespace brix::probe
