#pragma once
// `brix monitor JOB_DIR|HOST:PORT`: where snapshots come from (the job directory's snapshot
// file, or the endpoint over TCP), and the loop that shows them, serves /metrics and the
// dashboard, and writes *.prom files.

#include <brix/monitor/snapshot.hpp>
#include <brix/net/stream_socket.hpp>
#include <brix/util/output.hpp>

#include <atomic>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

namespace brix::monitor {

class SnapshotSource {
public:
  virtual ~SnapshotSource() = default;
  /// The latest snapshot; InputError/JobError when there is none to be had.
  [[nodiscard]] virtual Snapshot fetch() = 0;
};

/// A directory is read as a job directory; anything else must be HOST:PORT of an endpoint
/// (token from `token_file`, BRIX_JOB_TOKEN). InputError when it is neither. An endpoint is asked
/// for the `max_ranks` worst ranks only (0: all), the rest summed up; a job directory's snapshot
/// file always holds every rank.
[[nodiscard]] std::unique_ptr<SnapshotSource> open_snapshot_source(const std::string& target,
                                                                   const std::string& token_file,
                                                                   int max_ranks = 0);

struct LiveOptions {
  bool once = false;
  util::Format format = util::Format::text;
  double refresh_seconds = 2.0;
  int count = 0;            ///< refreshes before returning; 0 = until stopped
  bool quiet = false;       ///< no terminal view (exporter use)
  bool colour = false;
  bool in_place = false;    ///< redraw in place (a terminal)
  int max_ranks = 0;        ///< the worst ranks listed (text and JSON); 0: all
  int max_nodes = 0;        ///< the worst nodes listed (text and --format json); 0: all
  std::optional<net::HostPort> prometheus;
  std::optional<net::HostPort> http; ///< the dashboard (dashboard.hpp)
  std::string http_token;            ///< the job token the dashboard asks for beyond loopback
  std::string textfile_dir;
  std::string save_measured;
};

/// Runs the view; returns the exit code (0; 1 when the snapshot is older than 3 refreshes in
/// --once mode is not an error: staleness is shown, not fatal).
int run_monitor_view(SnapshotSource& source, const LiveOptions& options, std::ostream& out,
                     const std::atomic<bool>& stop);

} // namespace brix::monitor
