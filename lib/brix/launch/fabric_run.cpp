#include <brix/launch/fabric_run.hpp>

#include <brix/probe/fabric_report.hpp>
#include <brix/util/atomic_file.hpp>
#include <brix/util/document.hpp>
#include <brix/util/error.hpp>
#include <brix/util/paths.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <iterator>
#include <stdlib.h>

namespace brix::launch {
namespace fs = std::filesystem;

std::vector<std::string> fabric_worker_command(const FabricRunRequest& request,
                                               const std::string& out) {
  std::vector<std::string> command = {request.worker, "fabric",
                                      "--size",       request.size,
                                      "--warmup",     std::to_string(request.warmup),
                                      "--iters",      std::to_string(request.iterations),
                                      "--backend",    request.backend,
                                      "--out",        out};
  if (request.throttle) {
    command.insert(command.end(),
                   {"--throttle-node", std::to_string(request.throttle->node), "--throttle-factor",
                    fmt::format("{}", request.throttle->factor)});
  }
  return command;
}

std::string default_worker_path() {
  const auto beside = util::executable_path().parent_path() / "brix-worker";
  return fs::exists(beside) ? beside.string() : "brix-worker";
}

FabricRun run_fabric_probe(FabricRunRequest request) {
  // Only rank 0 writes `out`; a directory private to this agent keeps agents that share a
  // machine or a file system from taking rank 0's file for theirs: only node 0 finds it.
  const char* tmpdir = std::getenv("TMPDIR");
  std::string pattern =
      (fs::path(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") / "brix-fabric-XXXXXX")
          .string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw JobError(
        fmt::format("cannot make a temporary directory {} ({})", pattern, std::strerror(errno)));
  }
  const fs::path scratch = pattern;
  const auto out = scratch / "fabric.json";
  request.launch.command = fabric_worker_command(request, out.string());
  FabricRun run;
  try {
    run.launch_exit_code = launch::run_launch(request.launch);
    if (run.launch_exit_code == 0 && fs::exists(out)) {
      run.result = probe::read_fabric_result(util::DocNode::load_file(out.string()));
      if (!request.save.empty()) {
        std::ifstream in(out);
        const std::string content{std::istreambuf_iterator<char>(in), {}};
        util::write_file_atomically(request.save, content);
      }
    }
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(scratch, ignored);
    throw;
  }
  std::error_code ignored;
  fs::remove_all(scratch, ignored);
  return run;
}

} // namespace brix::launch
