#pragma once
// What libhwloc 2.9's XML import takes for granted and crashes on when it does not hold, checked
// before brix hands a file to it (`brix probe --topology FILE`; each found by fuzz.hwloc_xml):
// UTF-8 text without control bytes, well-formed tags (balanced, strict `name="value"`
// attributes, each once) and the four sets (cpuset, complete_cpuset, nodeset, complete_nodeset)
// on every object but I/O and Misc ones (hwloc dereferences a missing one; since
// open-mpi/hwloc#783 it checks part of this itself). hwloc's exporters write files that pass.

#include <string>
#include <string_view>

namespace brix::probe {

/// Throws InputError located at the first line of `xml` that breaks one of these rules.
void check_hwloc_xml(std::string_view xml, const std::string& path);

} // namespace brix::probe
