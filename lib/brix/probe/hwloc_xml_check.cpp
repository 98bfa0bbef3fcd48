// A small, strict reader of XML tags (no entities, no nesting rules beyond balance): enough to
// refuse what libhwloc's permissive parser would misread into a half-built object.
#include <brix/probe/hwloc_xml_check.hpp>

#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <fmt/format.h>
#include <map>
#include <vector>

namespace brix::probe {

namespace {

constexpr std::string_view k_expected = "an hwloc XML file from `lstopo --of xml`";

/// hwloc's bitmap text: comma-separated words, each `0x` and 1 to 16 hex digits; the first may be
/// `0xf...f` (an infinite set). libhwloc 2.9 asserts on an empty word (aborting brix) and, on a
/// word its reader rejects, drops the whole set and later dereferences it (SIGSEGV in
/// hwloc_insert_object_by_parent for a machine's complete_nodeset `0x0000000&3`; fuzz.hwloc_xml).
bool is_bitmap(std::string_view text) {
  for (std::size_t at = 0;;) {
    const auto comma = text.find(',', at);
    const auto word = text.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
    const auto digits = word.substr(std::min<std::size_t>(2, word.size()));
    const bool hex = word.substr(0, 2) == "0x" && !digits.empty() && digits.size() <= 16 &&
                     std::all_of(digits.begin(), digits.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
    if (!hex && !(at == 0 && word == "0xf...f")) {
      return false;
    }
    if (comma == std::string_view::npos) {
      return true;
    }
    at = comma + 1;
  }
}

class TagReader {
public:
  TagReader(std::string_view xml, const std::string& path) : m_xml(xml), m_path(path) {}

  void check() {
    std::vector<std::string> open;
    for (m_at = m_xml.find('<'); m_at != std::string_view::npos; m_at = m_xml.find('<', m_at)) {
      if (starts("<?")) {
        skip_past("?>");
      } else if (starts("<!--")) {
        skip_past("-->");
      } else if (starts("<!")) {
        skip_past(">");
      } else if (starts("</")) {
        m_at += 2;
        const auto name = read_name("a closing tag");
        skip_space();
        expect('>', "'>' after a closing tag's name");
        if (open.empty() || open.back() != name) {
          fail(open.empty() ? fmt::format("closing tag </{}> with no tag open", name)
                            : fmt::format("closing tag </{}> while <{}> is open", name, open.back()));
        }
        open.pop_back();
      } else {
        const auto tag_line = line();
        ++m_at;
        const auto name = read_name("a tag");
        std::map<std::string, std::string, std::less<>> attributes;
        for (;;) {
          const bool spaced = skip_space();
          if (m_at >= m_xml.size()) {
            fail(fmt::format("the file ends inside the tag <{}>", name));
          }
          if (starts("/>") || starts(">")) {
            break;
          }
          if (!spaced) {
            fail(fmt::format("<{}>: attributes must be separated by spaces", name));
          }
          const auto attribute = read_name(fmt::format("an attribute of <{}>", name));
          skip_space();
          expect('=', fmt::format("'=' after attribute {} of <{}>", attribute, name));
          skip_space();
          if (!attributes.emplace(attribute, read_value(attribute)).second) {
            fail(fmt::format("<{}> gives attribute {} twice", name, attribute));
          }
        }
        if (name == "object") {
          check_sets(attributes, tag_line);
          check_os_index(attributes, tag_line);
        }
        if (starts("/>")) {
          m_at += 2;
        } else {
          ++m_at;
          open.push_back(name);
        }
      }
    }
    if (!open.empty()) {
      m_at = m_xml.size();
      fail(fmt::format("the file ends inside <{}>", open.back()));
    }
  }

private:
  /// An object gives the four sets together, and every object but I/O and Misc ones gives them
  /// (hwloc's exporters, 1.x and 2.x, write them so; hwloc 2.9 dereferences a missing one).
  void check_sets(const std::map<std::string, std::string, std::less<>>& attributes, int tag_line) const {
    static constexpr std::array<std::string_view, 4> k_sets{"cpuset", "complete_cpuset", "nodeset", "complete_nodeset"};
    static constexpr std::array<std::string_view, 4> k_without_sets{"Bridge", "PCIDev", "OSDev", "Misc"};
    const auto type = attributes.find("type");
    const bool needs = type == attributes.end() ||
                       std::find(k_without_sets.begin(), k_without_sets.end(), type->second) == k_without_sets.end();
    const bool has_any = std::any_of(k_sets.begin(), k_sets.end(), [&](std::string_view set) { return attributes.contains(set); });
    for (const auto set : {"cpuset", "complete_cpuset", "allowed_cpuset", "nodeset", "complete_nodeset", "allowed_nodeset"}) {
      const auto value = attributes.find(set);
      if (value != attributes.end() && !is_bitmap(value->second)) {
        // libhwloc 2.9's bitmap reader asserts (aborts brix) on a malformed one (fuzz.hwloc_xml).
        fail_at(tag_line, fmt::format("{} '{}' is not an hwloc bitmap", set, util::printable(value->second)),
                "like 0x000000ff,0xffffffff: comma-separated words, each 0x and hex digits");
      }
    }
    for (const auto set : k_sets) {
      if ((needs || has_any) && !attributes.contains(set)) {
        fail_at(tag_line,
                fmt::format("an object{} without {}", type == attributes.end() ? "" : " of type " + util::printable(type->second), set),
                "cpuset, complete_cpuset, nodeset and complete_nodeset together, on every object but I/O and Misc ones");
      }
    }
  }

  /// A PU or NUMA node gives its OS index, and every OS index is a small whole number: libhwloc
  /// 2.9 sizes bitmaps by it, so a PU without one (index 2^32 - 1) or with a huge one costs
  /// 512 MiB and seconds per bitmap copy (fuzz.hwloc_xml timeout). hwloc's exporters always write
  /// it for these two types; the largest machines have thousands of PUs, far below the bound.
  void check_os_index(const std::map<std::string, std::string, std::less<>>& attributes, int tag_line) const {
    const auto type = attributes.find("type");
    const auto index = attributes.find("os_index");
    const bool needs = type != attributes.end() && (type->second == "PU" || type->second == "NUMANode");
    if (index == attributes.end()) {
      if (needs) {
        fail_at(tag_line, fmt::format("an object of type {} without os_index", type->second),
                "os_index on every PU and NUMANode");
      }
      return;
    }
    const auto& text = index->second;
    const bool digits = !text.empty() && text.size() <= 7 &&
                        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stoul(text) >= k_max_os_index) {
      fail_at(tag_line, fmt::format("os_index '{}' is not an OS index", util::printable(text)),
              fmt::format("os_index a whole number below {}", k_max_os_index));
    }
  }

  static constexpr unsigned long k_max_os_index = 1UL << 20;

  [[nodiscard]] bool starts(std::string_view text) const { return m_xml.substr(m_at, text.size()) == text; }

  [[nodiscard]] int line() const {
    return 1 + static_cast<int>(std::count(m_xml.begin(), m_xml.begin() + static_cast<std::ptrdiff_t>(std::min(m_at, m_xml.size())), '\n'));
  }

  [[noreturn]] void fail_at(int line, const std::string& what, std::string_view expected = {}) const {
    throw InputError(located(m_path, line, what, expected.empty() ? std::string(k_expected)
                                                                  : fmt::format("{}: {}", k_expected, expected)));
  }
  [[noreturn]] void fail(const std::string& what) const { fail_at(line(), what); }

  void skip_past(std::string_view end) {
    const auto found = m_xml.find(end, m_at);
    if (found == std::string_view::npos) {
      fail(fmt::format("the file ends before '{}'", end));
    }
    m_at = found + end.size();
  }

  bool skip_space() {
    const auto from = m_at;
    while (m_at < m_xml.size() && std::isspace(static_cast<unsigned char>(m_xml[m_at]))) {
      ++m_at;
    }
    return m_at > from;
  }

  void expect(char c, const std::string& what) {
    if (m_at >= m_xml.size() || m_xml[m_at] != c) {
      fail(fmt::format("expected {}", what));
    }
    ++m_at;
  }

  /// An XML name as hwloc writes them: a letter or '_', then letters, digits, '_', '-', '.', ':'.
  std::string read_name(const std::string& of) {
    const auto from = m_at;
    while (m_at < m_xml.size()) {
      const auto c = static_cast<unsigned char>(m_xml[m_at]);
      const bool first = m_at == from;
      if (!(std::isalpha(c) || c == '_' || (!first && (std::isdigit(c) || c == '-' || c == '.' || c == ':')))) {
        break;
      }
      ++m_at;
    }
    if (m_at == from) {
      fail(fmt::format("malformed name in {}", of));
    }
    return std::string(m_xml.substr(from, m_at - from));
  }

  std::string read_value(const std::string& attribute) {
    if (m_at >= m_xml.size() || (m_xml[m_at] != '"' && m_xml[m_at] != '\'')) {
      fail(fmt::format("attribute {} has no quoted value", attribute));
    }
    const char quote = m_xml[m_at++];
    const auto end = m_xml.find(quote, m_at);
    const auto bracket = m_xml.find('<', m_at);
    if (end == std::string_view::npos || bracket < end) {
      fail(fmt::format("attribute {}'s value has no closing quote", attribute));
    }
    const auto value = m_xml.substr(m_at, end - m_at);
    m_at = end + 1;
    return std::string(value);
  }

  std::string_view m_xml;
  const std::string& m_path;
  std::size_t m_at = 0;
};

} // namespace

void check_hwloc_xml(std::string_view xml, const std::string& path) {
  if (const auto bad = util::first_invalid_utf8(xml)) {
    const auto line = 1 + std::count(xml.begin(), xml.begin() + static_cast<std::ptrdiff_t>(*bad), '\n');
    throw InputError(located(path, static_cast<int>(line),
                             fmt::format("byte \\x{:02x} is not UTF-8", static_cast<unsigned char>(xml[*bad])),
                             fmt::format("{}, UTF-8 text", k_expected)));
  }
  // A NUL stops libhwloc's parser mid-tag; XML 1.0 allows no control character but tab, LF, CR.
  if (const auto control = util::first_control_byte(xml)) {
    const auto line = 1 + std::count(xml.begin(), xml.begin() + static_cast<std::ptrdiff_t>(*control), '\n');
    throw InputError(located(path, static_cast<int>(line),
                             fmt::format("control byte 0x{:02x} in the XML", static_cast<unsigned char>(xml[*control])),
                             fmt::format("{}, text without control characters", k_expected)));
  }
  TagReader(xml, path).check();
}

} // namespace brix::probe
