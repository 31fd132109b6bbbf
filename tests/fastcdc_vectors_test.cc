// FastCDC 2020 against the published vectors: fastcdc-rs (v2020 cases) and
// the Bazel Remote Execution API's fastcdc2020_test_vectors.txt, on
// SekienAkashita.jpg. Sources and licences: tests/vectors/fastcdc/SOURCES.md.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "backup/chunker.h"

namespace chatvault::backup {
namespace {

namespace fs = std::filesystem;
constexpr const char* kDir = "tests/vectors/fastcdc";

std::string ReadFile(const std::string& name) {
  std::ifstream in(std::string(kDir) + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Sha256(ByteView data) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), d, &n, EVP_sha256(), nullptr);
  return HexEncode(ByteView(reinterpret_cast<std::byte*>(d), n));
}

class FastCdcVectors : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kDir))
        << kDir << " not found: run the tests from the repository root "
        << "(ctest does)";
    image_ = ReadFile("SekienAkashita.jpg");
    ASSERT_EQ(image_.size(), 109466u);
    ASSERT_EQ(
        Sha256(AsBytes(image_)),
        "d9e749d9367fc908876749d6502eb212fee88c9a94892fb07da5ef3ba8bc39ed");
  }
  std::string image_;
};

TEST_F(FastCdcVectors, StandardGearTableMatchesPublishedTable) {
  std::istringstream in(ReadFile("gear_table.txt"));
  std::string line;
  int rows = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream row(line);
    int index;
    std::string gear, gear_ls;
    row >> index >> gear >> gear_ls;
    const GearTable& t = GearTable::Standard();
    EXPECT_EQ(t.gear(static_cast<uint8_t>(index)),
              std::stoull(gear, nullptr, 16))
        << index;
    EXPECT_EQ(t.gear_ls(static_cast<uint8_t>(index)),
              std::stoull(gear_ls, nullptr, 16))
        << index;
    ++rows;
  }
  EXPECT_EQ(rows, 256);
}

// Every v2020 case of fastcdc_vectors.json: offsets, lengths, the gear hash
// at each cut and each chunk's SHA-256.
TEST_F(FastCdcVectors, AllV2020CasesExactly) {
  nlohmann::json doc = nlohmann::json::parse(ReadFile("fastcdc_vectors.json"));
  int cases = 0;
  for (const auto& c : doc["cases"]) {
    if (c["algorithm"] != "v2020") continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    ChunkerParams p;
    p.min_size = c["min"];
    p.avg_size = c["avg"];
    p.max_size = c["max"];
    p.normalization = c["normalization"];
    GearTable table = GearTable::Seeded(c["seed"].get<uint64_t>());
    Result<Chunker> chunker = Chunker::Create(p, table);
    ASSERT_TRUE(chunker.ok()) << chunker.status().ToString();
    std::vector<std::tuple<size_t, size_t, uint64_t, std::string>> got;
    ByteView data = AsBytes(image_);
    size_t offset = 0;
    while (offset < data.size()) {
      Chunker::Cut cut = chunker->FindCut(data.subspan(offset));
      got.emplace_back(offset, cut.length, cut.hash,
                       Sha256(data.subspan(offset, cut.length)));
      offset += cut.length;
    }
    const auto& want = c["chunks"];
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(std::get<0>(got[i]), want[i]["offset"].get<size_t>()) << i;
      EXPECT_EQ(std::get<1>(got[i]), want[i]["length"].get<size_t>()) << i;
      EXPECT_EQ(std::get<2>(got[i]),
                std::stoull(want[i]["gear_hash"].get<std::string>()))
          << i;
      EXPECT_EQ(std::get<3>(got[i]), want[i]["sha256"].get<std::string>()) << i;
    }
    ++cases;
  }
  // 6 fastcdc-rs cases (16k, 16k seed 666, 32k, 64k, NC0, NC3), 2 Bazel
  // (seed 0 and 666) and 2 derived 8 KiB regression anchors. The v2016
  // cases test the older algorithm, which chatvault does not implement.
  EXPECT_EQ(cases, 10);
}

// The Bazel file itself, parsed independently of the JSON summary.
TEST_F(FastCdcVectors, BazelRemoteApisFileExactly) {
  std::istringstream in(
      ReadFile("bazel_remote-apis_fastcdc2020_test_vectors.txt"));
  std::string line;
  uint64_t seed = 0;
  std::map<uint64_t, std::vector<std::string>> rows;
  while (std::getline(in, line)) {
    if (line.rfind("# Seed:", 0) == 0) seed = std::stoull(line.substr(7));
    if (line.empty() || line[0] == '#') continue;
    rows[seed].push_back(line);
  }
  ASSERT_EQ(rows.size(), 2u);
  ChunkerParams p{4096, 16384, 65535, 2};
  for (const auto& [s, lines] : rows) {
    GearTable table = GearTable::Seeded(s);
    Result<Chunker> chunker = Chunker::Create(p, table);
    ASSERT_TRUE(chunker.ok());
    std::vector<std::string> got;
    chunker->ForEachChunk(AsBytes(image_), [&](size_t off, ByteView chunk) {
      Chunker::Cut cut = chunker->FindCut(AsBytes(image_).subspan(off));
      got.push_back(std::to_string(off) + "\t" + std::to_string(chunk.size()) +
                    "\t" + Sha256(chunk) + "\t" + std::to_string(cut.hash));
    });
    EXPECT_EQ(got, lines) << "seed " << s;
  }
}

}  // namespace
}  // namespace chatvault::backup
