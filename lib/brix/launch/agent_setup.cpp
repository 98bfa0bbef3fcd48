#include <brix/launch/agent_setup.hpp>

#include <brix/net/socket.hpp>
#include <brix/util/error.hpp>

#include <arpa/inet.h>
#include <cerrno>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace brix::launch {

std::string random_hex() {
  unsigned char bytes[16] = {};
  const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::read(fd, bytes, sizeof bytes) != static_cast<ssize_t>(sizeof bytes)) {
    if (fd >= 0) {
      ::close(fd);
    }
    throw JobError("cannot read /dev/urandom");
  }
  ::close(fd);
  std::string text;
  for (const auto byte : bytes) {
    text += fmt::format("{:02x}", byte);
  }
  return text;
}

namespace {
/// FNV-1a, 64 bit: a stable digest every agent computes alike (not a secret).
std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ull;
  for (const char c : text) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  }
  return hash;
}
} // namespace

std::string choose_run_id(const std::string& given, const util::EnvLookup& env, const NodeSet& nodes,
                          int rdzv_port) {
  if (!given.empty()) {
    return given;
  }
  // --standalone under Slurm is its own job on this node, not the allocation's.
  if (const auto job = env("SLURM_JOB_ID"); job && nodes.source != "single node") {
    return fmt::format("slurm-{}", *job);
  }
  if (nodes.nnodes() > 1) {
    std::string all = std::to_string(rdzv_port);
    for (const auto& host : nodes.hosts) {
      all += "," + host;
    }
    return fmt::format("hosts-{:012x}", fnv1a(all) >> 16);
  }
  return random_hex().substr(0, 12);
}

std::string monitor_socket_path(const std::string& run_id, int node_rank, const util::EnvLookup& env) {
  constexpr std::size_t k_sun_path_max = sizeof(sockaddr_un{}.sun_path) - 1;
  const auto name = fmt::format("brix-monitor-{:016x}-{}.sock",
                                fnv1a(fmt::format("{}:{}", run_id, ::getuid())), node_rank);
  auto dir = env("TMPDIR").value_or("");
  while (dir.size() > 1 && dir.back() == '/') {
    dir.pop_back();
  }
  if (dir.empty() || dir.size() + 1 + name.size() > k_sun_path_max) {
    dir = "/tmp";
  }
  return dir + "/" + name;
}

void check_rdzv_backend(const std::string& backend) {
  if (backend != "c10d") {
    throw InputError(fmt::format("--rdzv-backend '{}' (expected c10d: brix's own TCP store is the "
                                 "only rendezvous backend)",
                                 backend));
  }
}

bool token_is_guessable(const std::string& given, const util::EnvLookup& env, bool single_node) {
  return !single_node && given.empty() && env("BRIX_JOB_TOKEN").value_or("").empty();
}

std::string choose_token(const std::string& given, const util::EnvLookup& env, const std::string& run_id,
                         bool single_node) {
  if (!given.empty()) {
    return given;
  }
  if (const auto token = env("BRIX_JOB_TOKEN"); token && !token->empty()) {
    return *token;
  }
  if (single_node) {
    return random_hex();
  }
  return fmt::format("derived-{:016x}", fnv1a(fmt::format("brix:{}:{}", run_id, ::getuid())));
}

bool is_loopback(const std::string& address) {
  return address.starts_with("127.") || address == "::1" || address == "localhost";
}

std::string node_address(const NodeSet& nodes, int node_rank) {
  if (nodes.source == "single node") {
    return "127.0.0.1";
  }
  DnsResolver dns;
  SlurmNodeAddrResolver slurm;
  std::vector<NameResolver*> resolvers{&dns};
  if (nodes.source == "slurm" || !nodes.job_id.empty()) {
    resolvers.push_back(&slurm);
  }
  // Node 0's address can also be given (the agent reaches the store there); a node's own cannot.
  return resolve_node(nodes.hosts.at(node_rank), resolvers,
                      node_rank == 0 ? "or node 0's address with --master-addr or --rdzv-endpoint"
                                     : "");
}

int free_local_port() {
  const auto socket = net::listen_tcp("127.0.0.1", 0, 1);
  return net::bound_port(socket.get());
}

bool port_in_use(const std::string& address, int port) {
  try {
    (void)net::listen_tcp(address, port, 1);
    return false;
  } catch (const net::NetError& e) {
    return std::string_view(e.what()).find("already in use") != std::string_view::npos;
  }
}

} // namespace brix::launch
