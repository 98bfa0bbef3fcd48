#include <brix/launch/hostlist.hpp>

#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <cctype>
#include <fmt/format.h>
#include <optional>

namespace brix::launch {
namespace {

[[noreturn]] void bad(std::string_view what, std::string_view text, std::string_view why) {
  throw InputError(fmt::format("{}: malformed hostlist '{}' ({})", what, text, why));
}

/// Splits on commas that are not inside brackets.
std::vector<std::string_view> split_top_level(std::string_view text, std::string_view what) {
  std::vector<std::string_view> items;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '[') {
      if (++depth > 1) {
        bad(what, text, "nested '['");
      }
    } else if (text[i] == ']') {
      if (--depth < 0) {
        bad(what, text, "']' without '['");
      }
    } else if (text[i] == ',' && depth == 0) {
      items.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  if (depth != 0) {
    bad(what, text, "'[' without ']'");
  }
  items.push_back(text.substr(start));
  return items;
}

bool all_digits(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  for (const char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

std::string padded(long long value, std::size_t width) {
  return fmt::format("{:0{}}", value, width);
}

/// Ids longer than this cannot be a node number (and would overflow a long long).
constexpr std::size_t k_max_id_digits = 18;

/// One `a-b` (or `a`) of a bracket, padded to `width`.
struct IdRange {
  long long from = 0;
  long long to = 0;
  std::size_t width = 0;
  [[nodiscard]] long long count() const { return to - from + 1; }
};

/// "005,4,11-13" -> {005-005, 4-4 (width 3), 11-13 (width 3)}.
std::vector<IdRange> parse_ids(std::string_view ids, std::string_view what, std::string_view whole) {
  std::vector<IdRange> ranges;
  std::optional<std::size_t> width;
  for (const auto& part : util::split(ids, ',')) {
    const auto dash = part.find('-');
    const std::string first = part.substr(0, dash);
    const std::string last = dash == std::string::npos ? first : part.substr(dash + 1);
    if (!all_digits(first) || !all_digits(last)) {
      bad(what, whole, fmt::format("'{}' is not a number or range a-b", part));
    }
    if (first.size() > k_max_id_digits || last.size() > k_max_id_digits) {
      bad(what, whole, fmt::format("'{}' has more than {} digits", part, k_max_id_digits));
    }
    if (!width) {
      width = first.size();
    }
    const IdRange range{std::stoll(first), std::stoll(last), *width};
    if (range.to < range.from) {
      bad(what, whole, fmt::format("range '{}' runs backwards", part));
    }
    ranges.push_back(range);
  }
  return ranges;
}

/// How many names `item` expands to, capped just above k_max_hosts (no overflow).
long long count_names(std::string_view item, std::string_view what, std::string_view whole) {
  long long names = 1;
  for (auto open = item.find('['); open != std::string_view::npos; open = item.find('[', open + 1)) {
    const auto close = item.find(']', open);
    long long ids = 0;
    for (const auto& range : parse_ids(item.substr(open + 1, close - open - 1), what, whole)) {
      ids = std::min(ids + range.count(), k_max_hosts + 1);
    }
    names = names > (k_max_hosts + 1) / ids ? k_max_hosts + 1 : names * ids;
  }
  return names;
}

void expand_item(std::string_view item, std::string_view what, std::string_view whole,
                 const std::string& head, std::vector<std::string>& out) {
  const auto open = item.find('[');
  if (open == std::string_view::npos) {
    out.push_back(head + std::string(item));
    return;
  }
  const auto close = item.find(']', open);
  const std::string prefix = head + std::string(item.substr(0, open));
  const auto rest = item.substr(close + 1);
  for (const auto& range : parse_ids(item.substr(open + 1, close - open - 1), what, whole)) {
    for (long long id = range.from; id <= range.to; ++id) {
      expand_item(rest, what, whole, prefix + padded(id, range.width), out);
    }
  }
}

/// A name cut around one run of digits: prefix, digits, suffix.
struct Split {
  std::string prefix;
  std::string digits;
  std::string suffix;
};

std::vector<Split> digit_runs(const std::string& name) {
  std::vector<Split> runs;
  std::size_t i = 0;
  while (i < name.size()) {
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end]))) {
      ++end;
    }
    // Guard against ids too long for stoll; such names stay as they are.
    if (end - i <= 18) {
      runs.push_back({name.substr(0, i), name.substr(i, end - i), name.substr(end)});
    }
    i = end;
  }
  return runs;
}

/// Whether `name` is `split.prefix + <number padded to width> + split.suffix`; the number.
std::optional<long long> matches(const std::string& name, const Split& split, std::size_t width) {
  if (name.size() <= split.prefix.size() + split.suffix.size() ||
      name.compare(0, split.prefix.size(), split.prefix) != 0 ||
      name.compare(name.size() - split.suffix.size(), split.suffix.size(), split.suffix) != 0) {
    return std::nullopt;
  }
  const auto digits =
      name.substr(split.prefix.size(), name.size() - split.prefix.size() - split.suffix.size());
  if (!all_digits(digits) || digits.size() > 18) {
    return std::nullopt;
  }
  const long long value = std::stoll(digits);
  if (padded(value, width) != digits) {
    return std::nullopt;
  }
  return value;
}

std::string ranges_text(const std::vector<long long>& ids, std::size_t width) {
  std::string text;
  std::size_t i = 0;
  while (i < ids.size()) {
    std::size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) {
      ++j;
    }
    if (!text.empty()) {
      text += ',';
    }
    text += padded(ids[i], width);
    if (j > i) {
      text += '-' + padded(ids[j], width);
    }
    i = j + 1;
  }
  return text;
}

} // namespace

std::vector<std::string> expand_hostlist(std::string_view hostlist, std::string_view what) {
  const auto text = util::trim(hostlist);
  if (text.empty()) {
    bad(what, hostlist, "empty");
  }
  // Host names are printable ASCII; any other byte would reach job records, logs and JSON as is.
  for (const char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      throw InputError(fmt::format("{}: malformed hostlist '{}' (byte {} is not allowed in a host name)", what,
                                   util::printable(text), util::printable(std::string_view(&c, 1))));
    }
  }
  const auto items = split_top_level(text, what);
  // Count before expanding: brackets multiply, so a short list can name billions of hosts.
  long long names = 0;
  for (const auto item : items) {
    if (util::trim(item).empty()) {
      bad(what, hostlist, "empty name between commas");
    }
    names += count_names(util::trim(item), what, text);
    if (names > k_max_hosts) {
      bad(what, text, fmt::format("names more than {} hosts", k_max_hosts));
    }
  }
  std::vector<std::string> hosts;
  hosts.reserve(static_cast<std::size_t>(names));
  for (const auto item : items) {
    expand_item(util::trim(item), what, text, "", hosts);
  }
  return hosts;
}

std::string compress_hostlist(const std::vector<std::string>& hosts) {
  std::string text;
  std::size_t i = 0;
  while (i < hosts.size()) {
    // Choose the digit run of hosts[i] that lets the longest run of following names merge.
    std::size_t best_end = i + 1;
    std::optional<Split> best_split;
    std::vector<long long> best_ids;
    for (const auto& split : digit_runs(hosts[i])) {
      std::vector<long long> ids{std::stoll(split.digits)};
      std::size_t end = i + 1;
      while (end < hosts.size()) {
        const auto id = matches(hosts[end], split, split.digits.size());
        if (!id) {
          break;
        }
        ids.push_back(*id);
        ++end;
      }
      if (end > best_end || (end == best_end && best_split && end > i + 1)) {
        best_end = end;
        best_split = split;
        best_ids = std::move(ids);
      }
    }
    if (!text.empty()) {
      text += ',';
    }
    if (best_split && best_end > i + 1) {
      text += fmt::format("{}[{}]{}", best_split->prefix,
                          ranges_text(best_ids, best_split->digits.size()), best_split->suffix);
    } else {
      text += hosts[i];
    }
    i = best_end;
  }
  return text;
}

std::vector<int> expand_tasks_per_node(std::string_view text, std::string_view what) {
  std::vector<int> counts;
  for (const auto& raw : util::split(util::trim(text), ',')) {
    const auto item = std::string(util::trim(raw));
    const auto paren = item.find('(');
    const auto count = util::parse_int(item.substr(0, paren));
    long long repeat = 1;
    if (paren != std::string::npos) {
      if (item.size() < paren + 4 || item.compare(paren, 2, "(x") != 0 || item.back() != ')') {
        throw InputError(fmt::format("{}: malformed '{}' (expected N or N(xR))", what, text));
      }
      const auto r = util::parse_int(item.substr(paren + 2, item.size() - paren - 3));
      repeat = r.value_or(0);
    }
    if (!count || *count <= 0 || *count > 1'000'000 || repeat <= 0) {
      throw InputError(fmt::format("{}: malformed '{}' (expected N or N(xR))", what, text));
    }
    if (repeat > k_max_hosts - static_cast<long long>(counts.size())) {
      throw InputError(fmt::format("{}: '{}' counts more than {} nodes (expected one count per node)",
                                   what, text, k_max_hosts));
    }
    counts.insert(counts.end(), static_cast<std::size_t>(repeat), static_cast<int>(*count));
  }
  return counts;
}

} // namespace brix::launch
