// RDMA adapters through libibverbs: device list, firmware and GUIDs (ibv_query_device), and per
// port state, link layer, width and speed (ibv_query_port).

#include <brix/probe/sources.hpp>

#include <cerrno>
#include <cstring>
#include <endian.h>
#include <fmt/format.h>
#include <infiniband/verbs.h>

namespace brix::probe {

namespace {

/// active_speed_ex exists from rdma-core 48 on (XDR); older headers (Debian 12: 44) lack it.
template <typename Attr>
std::uint32_t speed_ex_of(const Attr& attr) {
  if constexpr (requires { attr.active_speed_ex; }) {
    return attr.active_speed_ex;
  } else {
    return 0;
  }
}

std::string guid_text(__be64 guid) {
  const std::uint64_t value = be64toh(guid);
  return fmt::format("{:04x}:{:04x}:{:04x}:{:04x}", (value >> 48) & 0xffff, (value >> 32) & 0xffff,
                     (value >> 16) & 0xffff, value & 0xffff);
}

class SystemVerbs final : public VerbsSource {
public:
  [[nodiscard]] VerbsScan scan() override {
    VerbsScan scan;
    int count = 0;
    errno = 0;
    ibv_device** list = ibv_get_device_list(&count);
    if (list == nullptr) {
      const int error = errno;
      scan.status = error == ENOSYS ? "no RDMA (ibv_get_device_list: the kernel has no RDMA support, ENOSYS)"
                                    : fmt::format("no RDMA (ibv_get_device_list: {})", std::strerror(error));
      return scan;
    }
    scan.available = true;
    for (int i = 0; i < count; ++i) {
      VerbsDevice device;
      device.name = ibv_get_device_name(list[i]);
      if (ibv_context* context = ibv_open_device(list[i])) {
        ibv_device_attr attr{};
        if (ibv_query_device(context, &attr) == 0) {
          device.firmware = attr.fw_ver;
          device.node_guid = guid_text(attr.node_guid);
          device.sys_image_guid = guid_text(attr.sys_image_guid);
          for (int port = 1; port <= attr.phys_port_cnt; ++port) {
            ibv_port_attr port_attr{};
            if (ibv_query_port(context, static_cast<std::uint8_t>(port), &port_attr) != 0) {
              continue;
            }
            device.ports.push_back({port, port_attr.state, port_attr.link_layer, port_attr.active_width,
                                    port_attr.active_speed, speed_ex_of(port_attr),
                                    fmt::format("0x{:x}", port_attr.lid)});
          }
        }
        ibv_close_device(context);
      }
      scan.devices.push_back(std::move(device));
    }
    ibv_free_device_list(list);
    scan.status = count == 0 ? "no RDMA adapters (verbs lists none)"
                             : count_of(static_cast<std::size_t>(count), "RDMA adapter") + " (verbs)";
    return scan;
  }
};

} // namespace

std::unique_ptr<VerbsSource> make_system_verbs() { return std::make_unique<SystemVerbs>(); }

} // namespace brix::probe
