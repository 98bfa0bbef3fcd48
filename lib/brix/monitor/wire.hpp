#pragma once
// The monitor endpoint's TCP protocol (lines). A client opens with
//   BRIX-MONITOR 1 <role> <name> <token>
// where role is `node` (a node collector, which then sends one NodeSample JSON per line) or
// `view` (a viewer, which sends `SNAPSHOT` or `SNAPSHOT N` and reads one snapshot JSON line back:
// with N > 0 only the N worst ranks are listed, the rest summed up, so that a viewer of 16,384
// ranks does not cost node 0 a full document per refresh). The server
// answers `OK` or `DENIED <reason>` and closes. The shared job token authenticates peers; it
// does not encrypt (as torchrun's and Slurm's own stores, it is meant for the cluster network).
// Kept separate from the endpoint so that it can be swapped for the launch store's transport.

#include <brix/net/stream_socket.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace brix::monitor {

enum class PeerRole { node, view };

struct Hello {
  PeerRole role = PeerRole::node;
  std::string name;
  std::string token;
};

[[nodiscard]] std::string hello_line(const Hello& hello);
/// nullopt when the line is not a hello of protocol 1.
[[nodiscard]] std::optional<Hello> parse_hello(std::string_view line);
/// A viewer's request for a snapshot listing at most `max_ranks` ranks (0: all).
[[nodiscard]] std::string snapshot_request_line(int max_ranks);
/// The ranks a `SNAPSHOT` or `SNAPSHOT N` line asks for (0: all); nullopt for any other line.
[[nodiscard]] std::optional<int> snapshot_request(std::string_view line);
/// Compares in time independent of where the strings differ.
[[nodiscard]] bool token_matches(std::string_view given, std::string_view expected);

/// Connects and authenticates; throws JobError when refused or unreachable.
[[nodiscard]] net::LineStream connect_monitor(const net::HostPort& endpoint, const Hello& hello,
                                              int timeout_ms);

/// A new random token (32 hex digits from /dev/urandom).
[[nodiscard]] std::string generate_token();
/// The token for a job: `token_file` if given, else $BRIX_JOB_TOKEN, else JOB_DIR/token.
/// Throws InputError naming where it looked.
[[nodiscard]] std::string find_token(const std::string& token_file, const std::string& job_dir);
/// Writes JOB_DIR/token (mode 0600) atomically.
void write_token(const std::string& job_dir, const std::string& token);

} // namespace brix::monitor
