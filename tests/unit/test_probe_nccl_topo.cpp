// The NCCL topology XML parsed back with a small strict reader: well-formed, the elements NCCL's
// loader requires (system > cpu > pci > gpu|nic > net, nvlink), and their required attributes.

#include <support/probe_fixtures.hpp>

#include <brix/probe/nccl_topo.hpp>

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <regex>

using namespace brix::probe;

namespace {

struct Element {
  std::string name;
  std::map<std::string, std::string> attributes;
  std::vector<std::unique_ptr<Element>> children;
  const Element* parent = nullptr;
};

/// Parses the subset NCCL's own parser accepts: elements with double-quoted attributes separated
/// by single spaces, no declaration, no text content. Fails the test on anything else.
std::unique_ptr<Element> parse(const std::string& xml) {
  static const std::regex k_tag(R"(^( *)<(/?)([a-z]+)((?: [a-z_]+="[^"]*")*)(/?)>$)");
  static const std::regex k_attribute(R"( ([a-z_]+)="([^"]*)\")");
  std::unique_ptr<Element> root;
  std::vector<Element*> open;
  std::size_t start = 0;
  while (start < xml.size()) {
    const auto end = xml.find('\n', start);
    REQUIRE(end != std::string::npos);
    const std::string line = xml.substr(start, end - start);
    start = end + 1;
    std::smatch match;
    REQUIRE_MESSAGE(std::regex_match(line, match, k_tag), "not a tag line: ", line);
    if (match[2] == "/") {
      REQUIRE(!open.empty());
      REQUIRE(open.back()->name == match[3].str());
      open.pop_back();
      continue;
    }
    auto element = std::make_unique<Element>();
    element->name = match[3];
    const std::string attributes = match[4];
    for (std::sregex_iterator it(attributes.begin(), attributes.end(), k_attribute), last; it != last; ++it) {
      REQUIRE_MESSAGE(element->attributes.emplace((*it)[1], (*it)[2]).second, "duplicate attribute in ", line);
    }
    Element* raw = element.get();
    if (open.empty()) {
      REQUIRE(root == nullptr);
      root = std::move(element);
    } else {
      raw->parent = open.back();
      open.back()->children.push_back(std::move(element));
    }
    if (match[5] != "/") {
      open.push_back(raw);
    }
  }
  REQUIRE(open.empty());
  REQUIRE(root != nullptr);
  return root;
}

void collect(const Element& element, const std::string& name, std::vector<const Element*>& out) {
  if (element.name == name) {
    out.push_back(&element);
  }
  for (const auto& child : element.children) {
    collect(*child, name, out);
  }
}

std::vector<const Element*> all(const Element& root, const std::string& name) {
  std::vector<const Element*> out;
  collect(root, name, out);
  return out;
}

void require_attributes(const Element& element, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    CHECK_MESSAGE(element.attributes.count(name) == 1, element.name, " lacks ", name);
  }
}

} // namespace

TEST_CASE("probe::NCCL topology XML for the DGX H100 fixture parses back") {
  const auto report = brix::test::probe_fixture("dgx-h100.xml");
  const auto root = parse(nccl_topology_xml(report));
  CHECK(root->name == "system");
  CHECK(root->attributes.at("version") == "1");
  const auto cpus = all(*root, "cpu");
  REQUIRE(cpus.size() == 2);
  for (const auto* cpu : cpus) {
    require_attributes(*cpu, {"numaid", "affinity", "arch", "vendor", "familyid", "modelid"});
    CHECK(cpu->parent == root.get());
  }
  CHECK(cpus[0]->attributes.at("affinity") == "000000ff,ffffffff,ffff0000,00000000,00ffffff,ffffffff");
  for (const auto* pci : all(*root, "pci")) {
    require_attributes(*pci, {"busid", "class", "vendor", "device", "link_speed", "link_width"});
    CHECK((pci->parent->name == "pci" || pci->parent->name == "cpu"));
  }
  const auto gpus = all(*root, "gpu");
  REQUIRE(gpus.size() == 8);
  for (const auto* gpu : gpus) {
    require_attributes(*gpu, {"dev", "sm", "rank", "gdr"});
    CHECK(gpu->attributes.at("sm") == "90");
    CHECK(gpu->parent->attributes.at("class") == "0x030200");
    CHECK(gpu->parent->attributes.at("link_speed") == "32.0 GT/s PCIe");
    const auto links = all(*gpu, "nvlink");
    REQUIRE(links.size() == 1);
    require_attributes(*links[0], {"target", "count", "tclass"});
    CHECK(links[0]->attributes.at("count") == "18");
    CHECK(links[0]->attributes.at("tclass") == "0x068000");
  }
  const auto nets = all(*root, "net");
  REQUIRE(nets.size() == 10);
  for (const auto* net : nets) {
    require_attributes(*net, {"name", "dev", "speed", "port", "latency", "guid", "maxconn", "gdr"});
    CHECK(net->parent->name == "nic");
    CHECK(net->parent->parent->name == "pci");
  }
  CHECK(nets[0]->attributes.at("speed") == "400000");
  // GPU 0 and mlx5_0 share one <pci> switch element, as NCCL's sysfs walk would see them: PIX.
  const Element* switch0 = gpus[0]->parent->parent;
  CHECK(switch0->attributes.at("class") == "0x060400");
  CHECK(switch0->attributes.at("busid") == "0000:19:00.0");
  REQUIRE(switch0->children.size() == 2);
  CHECK(all(*switch0, "net").at(0)->attributes.at("name") == "mlx5_0");
  CHECK(switch0->parent->name == "cpu");
}

TEST_CASE("probe::NCCL topology XML keeps two switch levels on the DGX A100 fixture") {
  const auto root = parse(nccl_topology_xml(brix::test::probe_fixture("dgx-a100.xml")));
  const auto gpus = all(*root, "gpu");
  REQUIRE(gpus.size() == 8);
  // GPU → second-level switch → first-level switch → cpu; adapters under a sibling switch: PXB.
  const Element* level2 = gpus[0]->parent->parent;
  const Element* level1 = level2->parent;
  CHECK(level1->parent->name == "cpu");
  CHECK(all(*level1, "net").size() == 2);
  CHECK(all(*level2, "net").empty());
  CHECK(gpus[0]->attributes.at("sm") == "80");
  CHECK(all(*root, "net")[0]->attributes.at("speed") == "200000");
}

TEST_CASE("probe::NCCL topology without the peer-memory module leaves gdr to NCCL") {
  auto report = brix::test::probe_fixture("dgx-h100.xml");
  report.software.gpudirect_rdma.clear();
  const auto root = parse(nccl_topology_xml(report));
  for (const auto* net : all(*root, "net")) {
    CHECK(net->attributes.count("gdr") == 0);
  }
}

TEST_CASE("probe::NCCL topology XML of a node without GPUs or adapters still lists its CPUs") {
  auto report = brix::test::probe_fixture("dgx-h100.xml");
  report.gpus.clear();
  report.nics.clear();
  const auto root = parse(nccl_topology_xml(report));
  const auto cpus = all(*root, "cpu");
  REQUIRE(cpus.size() == report.numa_nodes.size());
  REQUIRE(cpus.size() == 2);
  for (const auto* cpu : cpus) {
    require_attributes(*cpu, {"numaid", "affinity", "arch"});
    CHECK(cpu->children.empty());
  }
  CHECK(cpus[0]->attributes.at("affinity") == "000000ff,ffffffff,ffff0000,00000000,00ffffff,ffffffff");
}

TEST_CASE("probe::cpu_list_to_mask") {
  CHECK(cpu_list_to_mask("0-3,8") == "0000010f");
  CHECK(cpu_list_to_mask("32") == "00000001,00000000");
  CHECK(cpu_list_to_mask("") == "00000000");
}
