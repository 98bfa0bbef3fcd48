#include <brix/worker/session.hpp>

#include <brix/collective/gloo_communicator.hpp>
#include <brix/collective/nccl_communicator.hpp>
#include <brix/launch/environment.hpp>
#include <brix/util/error.hpp>

#include <fmt/format.h>
#include <unistd.h>

namespace brix::worker {

Session open_session(const std::string& backend, std::chrono::milliseconds timeout) {
  if (backend != "gloo" && backend != "nccl" && backend != "auto") {
    throw InputError(fmt::format("--backend '{}' (expected gloo, nccl or auto)", backend));
  }
  const auto env = util::process_environment();
  Session session;
  session.identity = collective::identity_from_environment(env);
  session.connector = std::make_unique<net::TcpConnector>();
  session.store = collective::connect_worker_store(session.identity, *session.connector);
  const auto& who = session.identity;
  const bool nccl = backend == "nccl" ||
                    (backend == "auto" && collective::nccl_available() &&
                     collective::cuda_device_count() > 0);
  if (nccl) {
    session.comm = collective::make_nccl_communicator(who.rank, who.world_size, who.local_rank,
                                                      *session.store, who.store_prefix, timeout);
    return session;
  }
  if (backend == "auto") {
    session.backend_note = collective::nccl_available()
                               ? "--backend auto: no CUDA device visible to this process; running on gloo (CPU)"
                               : "--backend auto: this build has no NCCL; running on gloo (CPU)";
  }
  session.gloo_store =
      std::make_unique<collective::GlooStore>(*session.store, who.store_prefix + "gloo/", timeout);
  session.comm = std::make_unique<collective::GlooCommunicator>(
      who.rank, who.world_size, *session.gloo_store, who.node_address, timeout);
  return session;
}

std::string describe_rank(const collective::WorkerIdentity& identity) {
  const auto env = util::process_environment();
  return fmt::format("Pid {:>7} on {:>10} local rank {}", ::getpid(),
                     env("BRIX_NODE").value_or("?"), identity.local_rank);
}

} // namespace brix::worker
