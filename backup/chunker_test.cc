#include "backup/chunker.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "crypto/blake2b.h"
#include "crypto/kdf.h"

namespace chatvault::backup {
namespace {

Bytes RandomData(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<std::byte>(rng());
  return b;
}

Chunker Make(const GearTable& table, ChunkerParams p = {2048, 8192, 65536, 1}) {
  Result<Chunker> c = Chunker::Create(p, table);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return *c;
}

std::vector<Bytes> Chunks(const Chunker& c, ByteView data) {
  std::vector<Bytes> out;
  c.ForEachChunk(data, [&](size_t, ByteView chunk) {
    out.emplace_back(chunk.begin(), chunk.end());
  });
  return out;
}

TEST(ChunkerTest, ChunksCoverInputWithinBounds) {
  Chunker c = Make(GearTable::Standard());
  Bytes data = RandomData(3 << 20, 1);
  size_t expect_offset = 0, n = 0;
  c.ForEachChunk(data, [&](size_t offset, ByteView chunk) {
    EXPECT_EQ(offset, expect_offset);
    EXPECT_LE(chunk.size(), 65536u);
    if (offset + chunk.size() < data.size()) {
      EXPECT_GE(chunk.size(), 2048u);
    }
    expect_offset += chunk.size();
    ++n;
  });
  EXPECT_EQ(expect_offset, data.size());
  // Normalised chunking keeps the mean near the target.
  double mean = static_cast<double>(data.size()) / static_cast<double>(n);
  EXPECT_GT(mean, 6000);
  EXPECT_LT(mean, 12000);
}

TEST(ChunkerTest, ZerosCutAtMaximumSize) {
  Chunker c = Make(GearTable::Standard(), {64, 256, 1024, 1});
  Bytes zeros(10240);
  std::vector<Bytes> chunks = Chunks(c, zeros);
  ASSERT_EQ(chunks.size(), 10u);
  for (const Bytes& ch : chunks) EXPECT_EQ(ch.size(), 1024u);
}

TEST(ChunkerTest, SmallInputsAreOneChunk) {
  Chunker c = Make(GearTable::Standard());
  EXPECT_TRUE(Chunks(c, {}).empty());
  EXPECT_EQ(Chunks(c, RandomData(2048, 2)).size(), 1u);
}

TEST(ChunkerTest, InsertionOnlyDisturbsNearbyChunks) {
  Chunker c = Make(GearTable::Standard());
  Bytes a = RandomData(1 << 20, 3);
  Bytes b = a;
  b.insert(b.begin() + 300'000, std::byte{0x42});
  std::set<Bytes> before;
  for (Bytes& ch : Chunks(c, a)) before.insert(std::move(ch));
  size_t shared = 0, total = 0;
  for (const Bytes& ch : Chunks(c, b)) {
    shared += before.count(ch);
    ++total;
  }
  EXPECT_GE(shared + 3, total) << shared << " of " << total;
}

TEST(ChunkerTest, KeyedTablesAreDeterministicAndSecret) {
  crypto::SecretBytes id_key = crypto::SecretBytes::Random(32);
  Result<crypto::SecretBytes> gear_key =
      crypto::DeriveSubkey(id_key, crypto::kKdfChunkerGear, 32);
  ASSERT_TRUE(gear_key.ok());
  Result<GearTable> t1 = GearTable::FromKey(*gear_key);
  Result<GearTable> t2 = GearTable::FromKey(*gear_key);
  Result<GearTable> other = GearTable::FromKey(crypto::SecretBytes::Random(32));
  ASSERT_TRUE(t1.ok() && t2.ok() && other.ok());
  for (int i = 0; i < 256; ++i) {
    EXPECT_EQ(t1->gear(i), t2->gear(i));
    EXPECT_EQ(t1->gear_ls(i), t1->gear(i) << 1);
  }
  Bytes data = RandomData(1 << 20, 4);
  auto cuts = [&](const GearTable& t) {
    std::vector<size_t> offsets;
    Make(t).ForEachChunk(data,
                         [&](size_t off, ByteView) { offsets.push_back(off); });
    return offsets;
  };
  EXPECT_EQ(cuts(*t1), cuts(*t2));
  EXPECT_NE(cuts(*t1), cuts(*other));
  EXPECT_NE(cuts(*t1), cuts(GearTable::Standard()));
  EXPECT_FALSE(GearTable::FromKey(crypto::SecretBytes(16)).ok());
}

TEST(ChunkerTest, ParametersAreValidated) {
  const GearTable& t = GearTable::Standard();
  EXPECT_FALSE(Chunker::Create({32, 8192, 65536, 1}, t).ok());
  EXPECT_FALSE(Chunker::Create({4096, 2048, 65536, 1}, t).ok());
  EXPECT_FALSE(Chunker::Create({2048, 8192, 4096, 1}, t).ok());
  EXPECT_FALSE(Chunker::Create({2048, 8192, 65536, 4}, t).ok());
  EXPECT_FALSE(Chunker::Create({64, 64, 128, 3}, t).ok());
  EXPECT_TRUE(Chunker::Create({2048, 8192, 65536, 3}, t).ok());
}

}  // namespace
}  // namespace chatvault::backup
