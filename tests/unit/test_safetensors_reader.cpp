#include <brix/safetensors/checkpoint.hpp>
#include <brix/safetensors/reader.hpp>
#include <brix/safetensors/writer.hpp>
#include <brix/util/error.hpp>

#include <support/temp_dir.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace brix::safetensors;

namespace {

/// A file with header `json` (length prefix `length`, default its size) and `data` bytes.
std::string write_raw(const fs::path& path, const std::string& json, std::size_t data,
                      std::optional<std::uint64_t> length = std::nullopt) {
  std::ofstream out(path, std::ios::binary);
  out << length_prefix(length.value_or(json.size())) << json << std::string(data, '\x5a');
  return path.string();
}

std::string error_of(const std::string& path) {
  try {
    (void)SafetensorsFile::open(path);
  } catch (const brix::InputError& e) {
    const std::string message = e.what();
    // "<path>: what" → "what"; "<path>:<line>: what" → "<line>: what"
    return message.substr(path.size() + (message[path.size() + 1] == ' ' ? 2 : 1));
  }
  return "";
}

} // namespace

TEST_CASE("safetensors::SafetensorsFile reads what layout_file writes") {
  const brix::test::TempDir dir;
  const std::vector<TensorEntry> entries{{"b", Dtype::bf16, {2, 3}}, {"a", Dtype::f32, {4}}, {"s", Dtype::u8, {}}};
  const auto layout = layout_file(entries, nlohmann::ordered_json{{"format", "pt"}});
  CHECK(layout.header.size() % 8 == 0);
  CHECK(layout.size == layout.header.size() + 12 + 16 + 1);
  const auto path = dir.path() / "x.safetensors";
  {
    std::ofstream out(path, std::ios::binary);
    out << layout.header << std::string(29, '\x01');
  }
  const auto file = SafetensorsFile::open(path.string());
  REQUIRE(file.tensors().size() == 3);
  CHECK(file.tensors()[0].name == "b");
  CHECK(file.tensors()[1].begin == 12);
  CHECK(file.find("a")->shape == std::vector<std::int64_t>{4});
  CHECK(file.find("s")->bytes() == 1);
  CHECK(file.metadata()["format"] == "pt");
  CHECK(file.data_offset() == layout.header.size());
  CHECK(file.header_bytes().size() == layout.header.size() - 8);
}

TEST_CASE("safetensors::SafetensorsFile rejects bad files with one line") {
  const brix::test::TempDir dir;
  const auto p = dir.path() / "bad.safetensors";
  {
    std::ofstream(p, std::ios::binary) << "abc";
  }
  CHECK(error_of(p.string()) == "truncated: 3 bytes, too short for the 8-byte header length (a safetensors file)");
  CHECK(error_of(write_raw(p, R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})", 4, 1000)) ==
        "header length 1000 runs past the end of the file (65 bytes) (truncated or not a safetensors file)");
  // A JSON syntax error is located at its line of the header, not described inside the message.
  // (error_of cuts "<path>: ", so a located message keeps the tail of its "<path>:<line>: ".)
  CHECK(error_of(write_raw(p, R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]})", 4))
            .starts_with("1: malformed header JSON: syntax error while parsing object"));
  const auto two_lines = error_of(write_raw(p, "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\n\"data_offsets\":[0,4]}", 4));
  CHECK(two_lines.starts_with("2: malformed header JSON: syntax error"));
  CHECK(two_lines.ends_with(R"( ({"tensor": {"dtype": "BF16", "shape": [r, c], "data_offsets": [b, e]}, ...}))"));
  CHECK(two_lines.find("line 2") == std::string::npos);
  // Regression (fuzz.safetensors_header): a number beyond every JSON number type was nlohmann's
  // out_of_range, which the CLI reported as `internal:`.
  CHECK(error_of(write_raw(p, R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,1E999999]}})", 4))
            .starts_with("a number in the JSON is out of range: number overflow parsing '1E999999'"));
  CHECK(error_of(write_raw(p, R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,8]}})", 4)) ==
        "tensor 'a': data_offsets [0, 8] run past the end of the data (4 bytes) (truncated file or corrupt header)");
  CHECK(error_of(write_raw(p,
                           R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                           R"("b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})",
                           6)) == "tensors 'a' and 'b' overlap (data_offsets [0, 4] and [2, 6]) (each tensor's bytes "
                                  "start where the previous tensor's end)");
  CHECK(error_of(write_raw(p, R"({"a":{"dtype":"BF16","shape":[4],"data_offsets":[0,4]}})", 4)) ==
        "tensor 'a': dtype BF16 and shape [4] need 8 bytes but data_offsets [0, 4] hold 4 (data_offsets spanning "
        "the elements of the shape times the dtype's size)");
  CHECK(error_of(write_raw(p, R"({"a":{"dtype":"Q4","shape":[4],"data_offsets":[0,4]}})", 4))
            .starts_with("tensor 'a': unknown dtype \"Q4\" (one of F64 F32"));
  CHECK(error_of(write_raw(p, R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})", 6)) ==
        "2 bytes after the last tensor belong to no tensor (tensors cover the data without gaps)");
  CHECK(error_of(write_raw(p, R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})", 4)) ==
        "data bytes [0, 2) belong to no tensor (before 'a') (tensors cover the data without gaps)");
  CHECK(error_of(write_raw(p,
                           R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                           R"("a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})",
                           4)) == "header names tensor 'a' twice (each tensor name once)");
  CHECK(error_of(write_raw(p, R"({"a":{"dtype":"U8","shape":[-2],"data_offsets":[0,2]}})", 2))
            .starts_with("tensor 'a': shape holds something other than non-negative integers"));
  CHECK(error_of(write_raw(p, R"([1, 2])", 0)).starts_with("the header is not a JSON object"));
}

TEST_CASE("safetensors::open_checkpoint checks the index against the files") {
  const brix::test::TempDir dir;
  const auto layout = layout_file({{"a", Dtype::u8, {4}}});
  {
    std::ofstream out(dir.path() / "m-1.safetensors", std::ios::binary);
    out << layout.header << "1234";
  }
  std::ofstream(dir.path() / k_index_name) << R"({"weight_map": {"a": "m-1.safetensors", "b": "m-1.safetensors"}})";
  CHECK_THROWS_WITH_AS((void)open_checkpoint(dir.path().string()),
                       doctest::Contains("weight_map names tensor 'b' in m-1.safetensors but that file lacks it"),
                       brix::InputError);
  std::ofstream(dir.path() / k_index_name) << R"({"weight_map": {"a": "../m-1.safetensors"}})";
  CHECK_THROWS_WITH_AS((void)open_checkpoint(dir.path().string()), doctest::Contains("is not a file name in this folder"),
                       brix::InputError);
  // Malformed index JSON: "<index>:<line>: malformed JSON: <why> (<expected>)".
  std::ofstream(dir.path() / k_index_name) << "{\"weight_map\": {\n  \"a\": \"m-1.safetensors\",\n";
  const auto index_path = (dir.path() / k_index_name).string();
  const std::string malformed = index_path + ":3: malformed JSON: syntax error while parsing object key";
  CHECK_THROWS_WITH_AS((void)open_checkpoint(dir.path().string()), doctest::Contains(malformed.c_str()),
                       brix::InputError);
  try {
    (void)open_checkpoint(dir.path().string());
  } catch (const brix::InputError& e) {
    const std::string message = e.what();
    CHECK(message.find("line 3") == std::string::npos);
    CHECK(message.ends_with(R"( ({"metadata": {...}, "weight_map": {tensor: file}}))"));
  }
  // A weight_map entry naming a missing tensor is located at its line of the index.
  std::ofstream(dir.path() / k_index_name) << "{\"weight_map\": {\n  \"a\": \"m-1.safetensors\",\n  \"c\": \"m-1.safetensors\"}}";
  const std::string missing = index_path + ":3: weight_map names tensor 'c' in m-1.safetensors but that file lacks "
                                           "it (the weight_map names every tensor of the folder's files once)";
  CHECK_THROWS_WITH_AS((void)open_checkpoint(dir.path().string()), missing.c_str(), brix::InputError);
  std::ofstream(dir.path() / k_index_name) << R"({"weight_map": {"a": "m-1.safetensors"}})";
  const auto checkpoint = open_checkpoint(dir.path().string());
  CHECK(checkpoint.tensors.at("a").info->bytes() == 4);
  CHECK(checkpoint.file_names == std::vector<std::string>{"m-1.safetensors"});
}
