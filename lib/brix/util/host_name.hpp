#pragma once
// What may name a node. Node names end up in hostfiles, rank maps, command lines and file names,
// so a name read from outside input is checked before it is used for any of them.

#include <string_view>

namespace brix::util {

/// Letters, digits, '.', '-' and '_', not starting with '-' or '.', 1 to 253 characters: a DNS
/// name, an IP address or one of Slurm's node names.
[[nodiscard]] bool is_host_name(std::string_view name);

} // namespace brix::util
