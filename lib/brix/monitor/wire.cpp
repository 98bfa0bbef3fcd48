#include <brix/monitor/wire.hpp>

#include <brix/monitor/job_dir.hpp>
#include <brix/util/atomic_file.hpp>
#include <brix/util/error.hpp>
#include <brix/util/input_file.hpp>
#include <brix/util/strings.hpp>

#include <cstdlib>
#include <fmt/format.h>
#include <fstream>

namespace brix::monitor {

std::string hello_line(const Hello& hello) {
  return fmt::format("BRIX-MONITOR 1 {} {} {}", hello.role == PeerRole::node ? "node" : "view",
                     hello.name.empty() ? "-" : hello.name, hello.token);
}

std::optional<Hello> parse_hello(std::string_view line) {
  const auto words = util::split(util::trim(line), ' ');
  if (words.size() != 5 || words[0] != "BRIX-MONITOR" || words[1] != "1") {
    return std::nullopt;
  }
  Hello hello;
  if (words[2] == "node") {
    hello.role = PeerRole::node;
  } else if (words[2] == "view") {
    hello.role = PeerRole::view;
  } else {
    return std::nullopt;
  }
  hello.name = words[3];
  hello.token = words[4];
  return hello;
}

std::string snapshot_request_line(int max_ranks) {
  return max_ranks > 0 ? fmt::format("SNAPSHOT {}", max_ranks) : std::string("SNAPSHOT");
}

std::optional<int> snapshot_request(std::string_view line) {
  const auto words = util::split(util::trim(line), ' ');
  if (words.empty() || words[0] != "SNAPSHOT" || words.size() > 2) {
    return std::nullopt;
  }
  if (words.size() == 1) {
    return 0;
  }
  const auto max_ranks = util::parse_int(words[1]);
  if (!max_ranks || *max_ranks < 0 || *max_ranks > 1'000'000'000) {
    return std::nullopt;
  }
  return static_cast<int>(*max_ranks);
}

bool token_matches(std::string_view given, std::string_view expected) {
  unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    difference |= static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
  }
  return difference == 0 && !expected.empty();
}

net::LineStream connect_monitor(const net::HostPort& endpoint, const Hello& hello, int timeout_ms) {
  net::LineStream stream(net::connect_tcp(endpoint.host, endpoint.port, timeout_ms));
  if (!stream.send_line(hello_line(hello), timeout_ms)) {
    throw JobError(fmt::format("{}:{}: the monitor endpoint closed the connection", endpoint.host, endpoint.port));
  }
  const auto answer = stream.read_line(timeout_ms);
  if (!answer) {
    throw JobError(fmt::format("{}:{}: no answer from the monitor endpoint within {} ms", endpoint.host,
                               endpoint.port, timeout_ms));
  }
  if (*answer != "OK") {
    throw JobError(fmt::format("{}:{}: the monitor endpoint refused us: {}", endpoint.host, endpoint.port, *answer));
  }
  return stream;
}

std::string generate_token() {
  unsigned char bytes[16] = {};
  std::ifstream random("/dev/urandom", std::ios::binary);
  if (!random.read(reinterpret_cast<char*>(bytes), sizeof(bytes))) {
    throw JobError("cannot read /dev/urandom for a job token");
  }
  std::string token;
  for (const unsigned char byte : bytes) {
    token += fmt::format("{:02x}", byte);
  }
  return token;
}

std::string find_token(const std::string& token_file, const std::string& job_dir) {
  auto read_file = [](const std::string& path) {
    std::string why;
    const auto text = util::read_regular_file(path, why, 4096);
    return text ? std::optional<std::string>(std::string(util::trim(*text))) : std::nullopt;
  };
  if (!token_file.empty()) {
    auto token = read_file(token_file);
    if (!token || token->empty()) {
      throw InputError(fmt::format("{}: cannot read the job token (expected a file holding the token)", token_file));
    }
    return *token;
  }
  if (const char* env = std::getenv("BRIX_JOB_TOKEN"); env != nullptr && *env != '\0') {
    return env;
  }
  if (!job_dir.empty()) {
    if (auto token = read_file(JobDirLayout(job_dir).token()); token && !token->empty()) {
      return *token;
    }
  }
  throw InputError(fmt::format("no job token: give --token-file, set BRIX_JOB_TOKEN{}",
                               job_dir.empty() ? "" : fmt::format(" or create {}", JobDirLayout(job_dir).token())));
}

void write_token(const std::string& job_dir, const std::string& token) {
  util::write_file_atomically(JobDirLayout(job_dir).token(), token + '\n',
                              {.mode = util::k_secret_mode, .failure = util::WriteFailure::job_error});
}

} // namespace brix::monitor
