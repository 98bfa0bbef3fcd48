// Node names (host_name.hpp).
#include <brix/util/host_name.hpp>

#include <cctype>

namespace brix::util {

bool is_host_name(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.front() == '-' || name.front() == '.') {
    return false;
  }
  for (const char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
      return false;
    }
  }
  return true;
}

} // namespace brix::util
