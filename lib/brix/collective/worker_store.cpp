#include <brix/collective/worker_store.hpp>

#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>

namespace brix::collective {
namespace {

std::string required(const util::EnvLookup& env, std::string_view name) {
  auto value = env(name);
  if (!value || value->empty()) {
    throw InputError(fmt::format("{} is not set (expected brix-worker to be started by `brix "
                                 "launch`, which sets it)",
                                 name));
  }
  return *value;
}

int required_int(const util::EnvLookup& env, std::string_view name) {
  const auto text = required(env, name);
  const auto value = util::parse_int(text);
  if (!value || *value < 0) {
    throw InputError(fmt::format("{}='{}' (expected a non-negative integer)", name, text));
  }
  return static_cast<int>(*value);
}

} // namespace

WorkerIdentity identity_from_environment(const util::EnvLookup& env) {
  WorkerIdentity who;
  who.rank = required_int(env, "RANK");
  who.world_size = required_int(env, "WORLD_SIZE");
  who.local_rank = required_int(env, "LOCAL_RANK");
  who.store_addr = required(env, "BRIX_STORE_ADDR");
  who.store_port = required_int(env, "BRIX_STORE_PORT");
  who.store_token = required(env, "BRIX_STORE_TOKEN");
  who.store_prefix = env("BRIX_STORE_PREFIX").value_or("workers/");
  who.node_address = env("BRIX_NODE_ADDR").value_or("127.0.0.1");
  if (who.rank >= who.world_size) {
    throw InputError(fmt::format("RANK={} is not below WORLD_SIZE={}", who.rank, who.world_size));
  }
  return who;
}

std::unique_ptr<net::StoreClient> connect_worker_store(const WorkerIdentity& who,
                                                       net::Connector& connector) {
  net::StoreClientOptions options;
  options.token = who.store_token;
  options.name = fmt::format("worker rank {}", who.rank);
  options.connect_timeout = std::chrono::seconds(60);
  auto client = std::make_unique<net::StoreClient>(
      connector, net::Endpoint{who.store_addr, who.store_port}, options);
  client->connect();
  return client;
}

GlooStore::GlooStore(net::StoreClient& client, std::string prefix,
                     std::chrono::milliseconds timeout)
    : m_client(client), m_prefix(std::move(prefix)), m_timeout(timeout) {}

void GlooStore::set(const std::string& key, const std::vector<char>& data) {
  m_client.set(m_prefix + key, std::string(data.begin(), data.end()));
}

std::vector<char> GlooStore::get(const std::string& key) {
  const auto value = m_client.wait_get(m_prefix + key, m_timeout);
  return {value.begin(), value.end()};
}

void GlooStore::wait(const std::vector<std::string>& keys) { wait(keys, m_timeout); }

void GlooStore::wait(const std::vector<std::string>& keys,
                     const std::chrono::milliseconds& timeout) {
  std::vector<std::string> full;
  for (const auto& key : keys) {
    full.push_back(m_prefix + key);
  }
  if (!m_client.wait(full, timeout)) {
    throw JobError(fmt::format("gloo rendezvous: timed out after {} ms waiting for {} key(s) "
                               "(another rank did not start or crashed)",
                               timeout.count(), m_client.missing(full).size()));
  }
}

std::string share_blob(net::StoreClient& client, const std::string& key, int rank,
                       const std::function<std::string()>& make,
                       std::chrono::milliseconds timeout) {
  if (rank == 0) {
    auto blob = make();
    client.set(key, blob);
    return blob;
  }
  return client.wait_get(key, timeout);
}

} // namespace brix::collective
