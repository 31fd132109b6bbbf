#include "backup/pack.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <cstring>
#include <random>
#include <string>

#include "backup/object_codec.h"

namespace chatvault::backup {
namespace {

using crypto::AeadKey;
using crypto::Digest256;

Bytes RandomData(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<std::byte>(rng());
  return b;
}

Bytes Text(size_t lines) {
  std::string s;
  for (size_t i = 0; i < lines; ++i) {
    s += "[2024-05-0" + std::to_string(i % 9 + 1) +
         "] alice: see you at the station at " + std::to_string(i % 24) +
         " o'clock\n";
  }
  return ToBytes(s);
}

Bytes Copy(ByteView v) { return Bytes(v.begin(), v.end()); }

void FlipBit(Bytes& b, size_t bit) {
  b[bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
}

ByteView BlobBytes(const Bytes& pack, const pb::PackEntry& e) {
  return ByteView(pack).subspan(e.offset(), e.length());
}

bool SameEntries(const std::vector<pb::PackEntry>& a,
                 const std::vector<pb::PackEntry>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].SerializeAsString() != b[i].SerializeAsString()) return false;
  }
  return true;
}

void AppendU32Le(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
  }
}

// A pack whose header the test chose, sealed correctly: for checks that
// must hold even for a header that authenticates.
Bytes AssemblePack(ByteView blobs, const pb::PackHeader& header,
                   const AeadKey& key, uint32_t epoch) {
  Bytes ad = AssociatedData(ObjectType::kPackHeader, Digest256{}, epoch);
  Bytes sealed = crypto::AeadSeal(key, AsBytes(header.SerializeAsString()), ad);
  Bytes pack(blobs.begin(), blobs.end());
  pack.insert(pack.end(), sealed.begin(), sealed.end());
  AppendU32Le(pack, epoch);
  AppendU32Le(pack, static_cast<uint32_t>(sealed.size()));
  ByteView magic = AsBytes("CVP1");
  pack.insert(pack.end(), magic.begin(), magic.end());
  return pack;
}

struct TestBlob {
  pb::BlobType type;
  Digest256 id;
  Bytes data;
};

class PackTest : public ::testing::Test {
 protected:
  TestBlob Blob(pb::BlobType type, Bytes data) {
    return {type, BlobId(id_key_, data), std::move(data)};
  }

  // Empty, tiny, compressible, incompressible (two of equal size), a tree
  // blob and a large run of zeros.
  std::vector<TestBlob> VariedBlobs() {
    std::vector<TestBlob> b;
    b.push_back(Blob(pb::BLOB_TYPE_DATA, {}));
    b.push_back(Blob(pb::BLOB_TYPE_DATA, {std::byte{'x'}}));
    b.push_back(Blob(pb::BLOB_TYPE_DATA, Text(500)));
    b.push_back(Blob(pb::BLOB_TYPE_DATA, RandomData(50000, 1)));
    b.push_back(Blob(pb::BLOB_TYPE_DATA, RandomData(50000, 2)));
    b.push_back(Blob(pb::BLOB_TYPE_TREE, Text(3)));
    b.push_back(Blob(pb::BLOB_TYPE_DATA, Bytes(1 << 20)));
    b.push_back(Blob(pb::BLOB_TYPE_DATA, RandomData(7, 3)));
    return b;
  }

  FinishedPack Write(const std::vector<TestBlob>& blobs, const AeadKey& key,
                     uint32_t epoch, int level = kDefaultZstdLevel) {
    PackWriter w(key, epoch, level);
    for (const TestBlob& b : blobs) {
      Status s = w.Add(b.type, b.id, b.data);
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    Result<FinishedPack> p = w.Finish();
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(p).value() : FinishedPack{};
  }

  // Reads every blob back through the header and compares it byte for byte.
  void ExpectReadsBack(const FinishedPack& pack,
                       const std::vector<TestBlob>& blobs, const AeadKey& key) {
    Result<std::vector<pb::PackEntry>> entries = ReadPackHeader(key, pack.data);
    ASSERT_TRUE(entries.ok()) << entries.status().ToString();
    ASSERT_EQ(entries->size(), blobs.size());
    EXPECT_TRUE(SameEntries(*entries, pack.entries));
    for (size_t i = 0; i < blobs.size(); ++i) {
      const pb::PackEntry& e = (*entries)[i];
      EXPECT_EQ(e.type(), blobs[i].type);
      EXPECT_EQ(Copy(AsBytes(e.id())), Copy(blobs[i].id));
      EXPECT_EQ(e.raw_length(), blobs[i].data.size());
      Result<Bytes> got = OpenBlob(key, pack.epoch, e, BlobBytes(pack.data, e));
      ASSERT_TRUE(got.ok()) << i << ": " << got.status().ToString();
      EXPECT_EQ(*got, blobs[i].data) << i;
    }
  }

  AeadKey key_ = AeadKey::Generate();
  crypto::HashKey id_key_ = crypto::HashKey::Generate();
};

TEST_F(PackTest, RoundTripsVariedBlobs) {
  std::vector<TestBlob> blobs = VariedBlobs();
  FinishedPack pack = Write(blobs, key_, 0);
  EXPECT_EQ(pack.epoch, 0u);
  ExpectReadsBack(pack, blobs, key_);
}

TEST_F(PackTest, PackIdIsUnkeyedBlake2bOfTheBytes) {
  FinishedPack pack = Write(VariedBlobs(), key_, 0);
  Result<Bytes> digest = crypto::Blake2b(pack.data, 32);
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(Copy(pack.id), *digest);
}

TEST_F(PackTest, CompressesOnlyWhenItShrinks) {
  std::vector<TestBlob> blobs = VariedBlobs();
  FinishedPack pack = Write(blobs, key_, 0);
  const size_t overhead = kMinSealedBlobBytes;
  for (size_t i = 0; i < blobs.size(); ++i) {
    const pb::PackEntry& e = pack.entries[i];
    if (i == 2 || i == 5 || i == 6) {  // text, tree text, zeros
      EXPECT_LT(e.length(), blobs[i].data.size()) << i;
    } else {  // empty, tiny, random: stored as is
      EXPECT_EQ(e.length(), blobs[i].data.size() + overhead) << i;
    }
  }
}

TEST_F(PackTest, LargeBlobsAreProbedBeforeCompressing) {
  // 1 MiB: random (a photo), text (a database), and text whose first
  // quarter is random: the probe's slices see mostly text, so it is
  // compressed, and everything reads back.
  Bytes text = Text(20000);  // over 1 MiB of lines
  text.resize(1 << 20);
  Bytes mixed = text;
  Bytes head = RandomData(1 << 18, 5);
  std::copy(head.begin(), head.end(), mixed.begin());
  std::vector<TestBlob> blobs = {
      Blob(pb::BLOB_TYPE_DATA, RandomData(1 << 20, 4)),
      Blob(pb::BLOB_TYPE_DATA, text),
      Blob(pb::BLOB_TYPE_DATA, std::move(mixed)),
  };
  FinishedPack pack = Write(blobs, key_, 0);
  EXPECT_EQ(pack.entries[0].length(),
            blobs[0].data.size() + kMinSealedBlobBytes);
  EXPECT_LT(pack.entries[1].length(), blobs[1].data.size() / 2);
  EXPECT_LT(pack.entries[2].length(), blobs[2].data.size() * 4 / 5);
  ExpectReadsBack(pack, blobs, key_);
}

// Pins section 5.3 with the primitives directly, not with the reader.
TEST_F(PackTest, LayoutMatchesDesign) {
  std::vector<TestBlob> blobs = VariedBlobs();
  PackWriter w(key_, 7);
  for (const TestBlob& b : blobs) ASSERT_TRUE(w.Add(b.type, b.id, b.data).ok());
  size_t blob_area = w.size();
  Result<FinishedPack> r = w.Finish();
  ASSERT_TRUE(r.ok());
  const Bytes& data = r->data;

  uint32_t offset = 0;
  for (size_t i = 0; i < blobs.size(); ++i) {
    const pb::PackEntry& e = r->entries[i];
    EXPECT_EQ(e.offset(), offset);
    offset += e.length();
    ObjectType t = blobs[i].type == pb::BLOB_TYPE_TREE ? ObjectType::kTreeBlob
                                                       : ObjectType::kDataBlob;
    Result<Bytes> body = crypto::AeadOpen(key_, BlobBytes(data, e),
                                          AssociatedData(t, blobs[i].id, 7));
    ASSERT_TRUE(body.ok()) << i;
    ASSERT_FALSE(body->empty());
    if ((*body)[0] == std::byte{0}) {
      EXPECT_EQ(Copy(ByteView(*body).subspan(1)), blobs[i].data);
    } else {
      ASSERT_EQ((*body)[0], std::byte{1});
      Bytes out(blobs[i].data.size());
      size_t n = ZSTD_decompress(out.data(), out.size(), body->data() + 1,
                                 body->size() - 1);
      ASSERT_FALSE(ZSTD_isError(n));
      EXPECT_EQ(out, blobs[i].data);
    }
  }
  EXPECT_EQ(offset, blob_area);

  ByteView trailer = ByteView(data).last(kPackTrailerBytes);
  EXPECT_EQ(AsChars(trailer.subspan(8)), "CVP1");
  EXPECT_EQ(trailer[0], std::byte{7});
  EXPECT_EQ(trailer[1], std::byte{0});
  uint32_t header_len = std::to_integer<uint32_t>(trailer[4]) |
                        std::to_integer<uint32_t>(trailer[5]) << 8 |
                        std::to_integer<uint32_t>(trailer[6]) << 16 |
                        std::to_integer<uint32_t>(trailer[7]) << 24;
  ASSERT_EQ(blob_area + header_len + kPackTrailerBytes, data.size());
  Result<Bytes> header =
      crypto::AeadOpen(key_, ByteView(data).subspan(blob_area, header_len),
                       AssociatedData(ObjectType::kPackHeader, Digest256{}, 7));
  ASSERT_TRUE(header.ok());
  pb::PackHeader parsed;
  ASSERT_TRUE(
      parsed.ParseFromArray(header->data(), static_cast<int>(header->size())));
  EXPECT_TRUE(SameEntries({parsed.entries().begin(), parsed.entries().end()},
                          r->entries));
}

TEST_F(PackTest, SizeAndCountTrackAdds) {
  PackWriter w(key_, 0);
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.count(), 0u);
  size_t expect = 0;
  std::vector<TestBlob> blobs = VariedBlobs();
  for (size_t i = 0; i < blobs.size(); ++i) {
    ASSERT_TRUE(w.Add(blobs[i].type, blobs[i].id, blobs[i].data).ok());
    EXPECT_EQ(w.count(), i + 1);
    EXPECT_GT(w.size(), expect);
    expect = w.size();
  }
  Result<FinishedPack> p = w.Finish();
  ASSERT_TRUE(p.ok());
  EXPECT_GT(p->data.size(), expect + kPackTrailerBytes);
}

TEST_F(PackTest, FinishResetsTheWriterForTheNextPack) {
  PackWriter w(key_, 3);
  EXPECT_EQ(w.Finish().status().code(), StatusCode::kInvalidArgument);
  TestBlob a = Blob(pb::BLOB_TYPE_DATA, Text(10));
  ASSERT_TRUE(w.Add(a.type, a.id, a.data).ok());
  Result<FinishedPack> first = w.Finish();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.count(), 0u);
  // The same blob may go into the next pack.
  ASSERT_TRUE(w.Add(a.type, a.id, a.data).ok());
  Result<FinishedPack> second = w.Finish();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->epoch, 3u);
  EXPECT_NE(first->id, second->id);  // fresh nonces
  ExpectReadsBack(*first, {a}, key_);
  ExpectReadsBack(*second, {a}, key_);
}

TEST_F(PackTest, DuplicateIdIsRefusedAndLeavesTheWriterUnchanged) {
  PackWriter w(key_, 0);
  TestBlob a = Blob(pb::BLOB_TYPE_DATA, Text(4));
  ASSERT_TRUE(w.Add(a.type, a.id, a.data).ok());
  size_t size = w.size();
  EXPECT_EQ(w.Add(a.type, a.id, a.data).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(w.Add(pb::BLOB_TYPE_TREE, a.id, a.data).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(w.size(), size);
  EXPECT_EQ(w.count(), 1u);
}

TEST_F(PackTest, InvalidTypeAndOversizedBlobAreRefused) {
  PackWriter w(key_, 0);
  TestBlob a = Blob(pb::BLOB_TYPE_DATA, Text(4));
  EXPECT_EQ(w.Add(pb::BLOB_TYPE_UNSPECIFIED, a.id, a.data).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(w.Add(static_cast<pb::BlobType>(7), a.id, a.data).code(),
            StatusCode::kInvalidArgument);
  Bytes big(kMaxBlobBytes + 1);
  EXPECT_EQ(w.Add(pb::BLOB_TYPE_DATA, Digest256{}, big).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(w.count(), 0u);
  EXPECT_EQ(w.size(), 0u);
}

TEST_F(PackTest, CompressionLevelIsAnOption) {
  std::vector<TestBlob> blobs = {Blob(pb::BLOB_TYPE_DATA, Text(2000)),
                                 Blob(pb::BLOB_TYPE_DATA, RandomData(999, 4))};
  for (int level : {-5, 1, 3, 19}) {
    FinishedPack pack = Write(blobs, key_, 0, level);
    EXPECT_LT(pack.entries[0].length(), blobs[0].data.size()) << level;
    ExpectReadsBack(pack, blobs, key_);
  }
}

TEST_F(PackTest, BlobIdIsKeyedBlake2b256) {
  Bytes data = Text(3);
  EXPECT_EQ(BlobId(id_key_, data), crypto::Blake2b256(id_key_, data));
  EXPECT_NE(BlobId(id_key_, data), BlobId(crypto::HashKey::Generate(), data));
}

// A flipped bit anywhere in one blob breaks that blob only: the header and
// every other blob still read.
TEST_F(PackTest, BitFlipInABlobBreaksOnlyThatBlob) {
  std::vector<TestBlob> blobs = VariedBlobs();
  FinishedPack pack = Write(blobs, key_, 0);
  for (size_t i = 0; i < blobs.size(); ++i) {
    const pb::PackEntry& hit = pack.entries[i];
    uint64_t first_bit = uint64_t{hit.offset()} * 8;
    uint64_t last_bit = (uint64_t{hit.offset()} + hit.length()) * 8 - 1;
    for (uint64_t bit : {first_bit, (first_bit + last_bit) / 2, last_bit}) {
      Bytes t = pack.data;
      FlipBit(t, bit);
      Result<std::vector<pb::PackEntry>> entries = ReadPackHeader(key_, t);
      ASSERT_TRUE(entries.ok());
      for (size_t j = 0; j < blobs.size(); ++j) {
        const pb::PackEntry& e = (*entries)[j];
        Result<Bytes> got = OpenBlob(key_, 0, e, BlobBytes(t, e));
        if (j == i) {
          ASSERT_FALSE(got.ok()) << i << " bit " << bit;
          EXPECT_EQ(got.status().code(), StatusCode::kCorruption);
        } else {
          ASSERT_TRUE(got.ok()) << j;
          EXPECT_EQ(*got, blobs[j].data);
        }
      }
    }
  }
}

// A damaged header loses the listing, not the blobs: an index still holding
// the entries reads every blob.
TEST_F(PackTest, BitFlipInTheHeaderIsCorruption) {
  std::vector<TestBlob> blobs = VariedBlobs();
  FinishedPack pack = Write(blobs, key_, 0);
  const pb::PackEntry& last = pack.entries.back();
  size_t header_start = last.offset() + last.length();
  size_t header_end = pack.data.size() - kPackTrailerBytes;
  for (size_t byte = header_start; byte < header_end; byte += 7) {
    Bytes t = pack.data;
    FlipBit(t, byte * 8 + byte % 8);
    Result<std::vector<pb::PackEntry>> r = ReadPackHeader(key_, t);
    ASSERT_FALSE(r.ok()) << byte;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
    for (size_t j = 0; j < blobs.size(); ++j) {
      const pb::PackEntry& e = pack.entries[j];
      Result<Bytes> got = OpenBlob(key_, 0, e, BlobBytes(t, e));
      ASSERT_TRUE(got.ok());
      EXPECT_EQ(*got, blobs[j].data);
    }
  }
}

TEST_F(PackTest, EveryBitFlipInTheTrailerIsCorruption) {
  FinishedPack pack = Write(VariedBlobs(), key_, 0);
  size_t start = pack.data.size() - kPackTrailerBytes;
  for (size_t bit = start * 8; bit < pack.data.size() * 8; ++bit) {
    Bytes t = pack.data;
    FlipBit(t, bit);
    Result<std::vector<pb::PackEntry>> r = ReadPackHeader(key_, t);
    ASSERT_FALSE(r.ok()) << bit;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << bit;
  }
}

TEST_F(PackTest, TruncatedPackIsCorruption) {
  FinishedPack pack = Write(VariedBlobs(), key_, 0);
  size_t n = pack.data.size();
  for (size_t len : {size_t{0}, size_t{1}, size_t{11}, size_t{12}, size_t{52},
                     n / 2, n - kPackTrailerBytes, n - 1}) {
    Result<std::vector<pb::PackEntry>> r =
        ReadPackHeader(key_, ByteView(pack.data).first(len));
    ASSERT_FALSE(r.ok()) << len;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << len;
  }
  // Losing the front keeps header and trailer intact, but the entries then
  // reach past the blob area.
  Result<std::vector<pb::PackEntry>> r =
      ReadPackHeader(key_, ByteView(pack.data).subspan(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
}

TEST_F(PackTest, ReadsTheTrailerFromTheTailAlone) {
  PackWriter w(key_, 0x01020304);
  TestBlob a = Blob(pb::BLOB_TYPE_TREE, Text(20));
  ASSERT_TRUE(w.Add(a.type, a.id, a.data).ok());
  size_t blob_area = w.size();
  Result<FinishedPack> p = w.Finish();
  ASSERT_TRUE(p.ok());
  uint64_t n = p->data.size();
  ByteView tail = ByteView(p->data).last(kPackTrailerBytes);

  Result<PackTrailer> t = ReadPackTrailer(tail, n);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->epoch, 0x01020304u);
  EXPECT_EQ(t->header_offset, blob_area);
  EXPECT_EQ(t->header_length, n - blob_area - kPackTrailerBytes);

  // The pack cannot be shorter than header and trailer.
  uint64_t min_size = t->header_length + kPackTrailerBytes;
  EXPECT_TRUE(ReadPackTrailer(tail, min_size).ok());
  EXPECT_EQ(ReadPackTrailer(tail, min_size - 1).status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(ReadPackTrailer(tail.last(11), n).status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(ReadPackTrailer(tail, 11).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(PackTest, BlobMovedToAnotherIdOrTypeFails) {
  std::vector<TestBlob> blobs = VariedBlobs();
  FinishedPack pack = Write(blobs, key_, 0);
  // Blobs 3 and 4 are random data of equal size, so their sealed lengths
  // agree and only the associated data tells them apart.
  const pb::PackEntry& a = pack.entries[3];
  const pb::PackEntry& b = pack.entries[4];
  ASSERT_EQ(a.length(), b.length());
  Result<Bytes> swapped = OpenBlob(key_, 0, a, BlobBytes(pack.data, b));
  ASSERT_FALSE(swapped.ok());
  EXPECT_EQ(swapped.status().code(), StatusCode::kCorruption);

  pb::PackEntry retyped = a;
  retyped.set_type(pb::BLOB_TYPE_TREE);
  EXPECT_EQ(OpenBlob(key_, 0, retyped, BlobBytes(pack.data, a)).status().code(),
            StatusCode::kCorruption);

  pb::PackEntry renamed = a;
  std::string id = renamed.id();
  id[0] ^= 1;
  renamed.set_id(id);
  EXPECT_EQ(OpenBlob(key_, 0, renamed, BlobBytes(pack.data, a)).status().code(),
            StatusCode::kCorruption);
}

// Section 5.3: a header moved onto another pack's blobs authenticates, but
// the blobs it describes do not.
TEST_F(PackTest, HeaderMovedToAnotherPackBreaksItsBlobs) {
  std::vector<TestBlob> a_blobs = {
      Blob(pb::BLOB_TYPE_DATA, RandomData(900, 5))};
  std::vector<TestBlob> b_blobs = {
      Blob(pb::BLOB_TYPE_DATA, RandomData(900, 6))};
  FinishedPack a = Write(a_blobs, key_, 0);
  FinishedPack b = Write(b_blobs, key_, 0);
  size_t a_area = a.entries[0].length();
  size_t b_area = b.entries[0].length();
  ASSERT_EQ(a_area, b_area);
  Bytes spliced(a.data.begin(), a.data.begin() + a_area);
  spliced.insert(spliced.end(), b.data.begin() + b_area, b.data.end());
  Result<std::vector<pb::PackEntry>> entries = ReadPackHeader(key_, spliced);
  ASSERT_TRUE(entries.ok());
  const pb::PackEntry& e = (*entries)[0];
  EXPECT_EQ(OpenBlob(key_, 0, e, BlobBytes(spliced, e)).status().code(),
            StatusCode::kCorruption);
}

TEST_F(PackTest, AnotherEpochOrKeyFails) {
  AeadKey key1 = AeadKey::Generate();
  std::vector<TestBlob> blobs = VariedBlobs();
  FinishedPack pack = Write(blobs, key1, 1);
  Result<PackTrailer> t = ReadPackTrailer(pack.data, pack.data.size());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->epoch, 1u);
  EXPECT_EQ(ReadPackHeader(key_, pack.data).status().code(),
            StatusCode::kCorruption);
  ExpectReadsBack(pack, blobs, key1);

  const pb::PackEntry& e = pack.entries[2];
  EXPECT_EQ(OpenBlob(key_, 1, e, BlobBytes(pack.data, e)).status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(OpenBlob(key1, 0, e, BlobBytes(pack.data, e)).status().code(),
            StatusCode::kCorruption);

  // Same key, epoch rewritten in the trailer: the header's associated data
  // no longer matches.
  FinishedPack same_key = Write(blobs, key_, 1);
  Bytes rewritten = same_key.data;
  rewritten[rewritten.size() - kPackTrailerBytes] = std::byte{0};
  EXPECT_EQ(ReadPackHeader(key_, rewritten).status().code(),
            StatusCode::kCorruption);
}

TEST_F(PackTest, OpenBlobChecksItsInputAgainstTheEntry) {
  std::vector<TestBlob> blobs = VariedBlobs();
  FinishedPack pack = Write(blobs, key_, 0);
  const pb::PackEntry& e = pack.entries[2];
  ByteView sealed = BlobBytes(pack.data, e);
  EXPECT_EQ(
      OpenBlob(key_, 0, e, sealed.first(sealed.size() - 1)).status().code(),
      StatusCode::kCorruption);
  EXPECT_EQ(OpenBlob(key_, 0, e,
                     ByteView(pack.data).subspan(e.offset(), e.length() + 1))
                .status()
                .code(),
            StatusCode::kCorruption);
  pb::PackEntry short_id = e;
  short_id.set_id("short");
  EXPECT_EQ(OpenBlob(key_, 0, short_id, sealed).status().code(),
            StatusCode::kCorruption);
  pb::PackEntry wrong_raw = e;
  wrong_raw.set_raw_length(e.raw_length() + 1);
  EXPECT_EQ(OpenBlob(key_, 0, wrong_raw, sealed).status().code(),
            StatusCode::kCorruption);
}

// Crafted blobs, sealed correctly: what a holder of the key could forge.
class CraftedBlobTest : public PackTest {
 protected:
  Result<Bytes> Open(ByteView body, uint32_t raw_length) {
    Digest256 id{};
    id[0] = std::byte{42};
    Bytes sealed = crypto::AeadSeal(
        key_, body, AssociatedData(ObjectType::kDataBlob, id, 0));
    pb::PackEntry e;
    e.set_id(reinterpret_cast<const char*>(id.data()), id.size());
    e.set_type(pb::BLOB_TYPE_DATA);
    e.set_offset(0);
    e.set_length(static_cast<uint32_t>(sealed.size()));
    e.set_raw_length(raw_length);
    return OpenBlob(key_, 0, e, sealed);
  }

  // A zstd frame whose header declares `content_size` and whose one RLE
  // block holds 128 KiB of zeros.
  static Bytes ClaimingFrame(uint64_t content_size) {
    Bytes f = {std::byte{0x28}, std::byte{0xB5}, std::byte{0x2F},
               std::byte{0xFD},
               std::byte{0xE0}};  // 8-byte content size, single segment
    for (int i = 0; i < 8; ++i) {
      f.push_back(static_cast<std::byte>(content_size >> (8 * i)));
    }
    uint32_t block = 1 | (1 << 1) | (131072 << 3);  // last, RLE, 128 KiB
    for (int i = 0; i < 3; ++i) {
      f.push_back(static_cast<std::byte>(block >> (8 * i)));
    }
    f.push_back(std::byte{0});
    return f;
  }

  static Bytes WithCodec(std::byte codec, ByteView data) {
    Bytes b = {codec};
    b.insert(b.end(), data.begin(), data.end());
    return b;
  }
};

TEST_F(CraftedBlobTest, DecompressionBombIsRefused) {
  uint64_t huge = uint64_t{1} << 40;
  Bytes frame = ClaimingFrame(huge);
  ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), huge);
  Bytes body = WithCodec(std::byte{1}, frame);
  // The entry cannot promise more than the cap, and the frame cannot claim
  // more than the entry promises.
  EXPECT_EQ(Open(body, UINT32_MAX).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Open(body, 131072).status().code(), StatusCode::kCorruption);

  // A genuine frame that expands 1 MiB, under an entry promising 1000 bytes.
  Bytes zeros(1 << 20);
  Bytes real(ZSTD_compressBound(zeros.size()));
  size_t n =
      ZSTD_compress(real.data(), real.size(), zeros.data(), zeros.size(), 3);
  ASSERT_FALSE(ZSTD_isError(n));
  real.resize(n);
  EXPECT_EQ(Open(WithCodec(std::byte{1}, real), 1000).status().code(),
            StatusCode::kCorruption);
  // And under an honest entry it decodes.
  Result<Bytes> ok = Open(WithCodec(std::byte{1}, real), 1 << 20);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(*ok, zeros);
}

TEST_F(CraftedBlobTest, FrameWithoutContentSizeIsRefused) {
  Bytes data = Text(50);
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ASSERT_NE(cctx, nullptr);
  ASSERT_FALSE(
      ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0)));
  Bytes frame(ZSTD_compressBound(data.size()));
  size_t n = ZSTD_compress2(cctx, frame.data(), frame.size(), data.data(),
                            data.size());
  ZSTD_freeCCtx(cctx);
  ASSERT_FALSE(ZSTD_isError(n));
  frame.resize(n);
  ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()),
            ZSTD_CONTENTSIZE_UNKNOWN);
  EXPECT_EQ(
      Open(WithCodec(std::byte{1}, frame), static_cast<uint32_t>(data.size()))
          .status()
          .code(),
      StatusCode::kCorruption);
}

TEST_F(CraftedBlobTest, FrameShorterThanItClaimsIsRefused) {
  Bytes frame = ClaimingFrame(200000);
  EXPECT_EQ(Open(WithCodec(std::byte{1}, frame), 200000).status().code(),
            StatusCode::kCorruption);
  Bytes garbage = WithCodec(std::byte{1}, RandomData(100, 7));
  EXPECT_EQ(Open(garbage, 100).status().code(), StatusCode::kCorruption);
}

TEST_F(CraftedBlobTest, UnknownCodecAndBadRawLengthAreRefused) {
  Bytes abc = ToBytes("abc");
  Result<Bytes> raw = Open(WithCodec(std::byte{0}, abc), 3);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(*raw, abc);
  EXPECT_EQ(Open(WithCodec(std::byte{0}, abc), 4).status().code(),
            StatusCode::kCorruption);
  for (uint8_t codec : {2, 255}) {
    EXPECT_EQ(Open(WithCodec(std::byte{codec}, abc), 3).status().code(),
              StatusCode::kCorruption)
        << int{codec};
  }
}

// Headers that authenticate but list entries a reader must not follow.
TEST_F(PackTest, HeaderEntriesAreBoundsChecked) {
  std::vector<TestBlob> blobs = {Blob(pb::BLOB_TYPE_DATA, Text(30)),
                                 Blob(pb::BLOB_TYPE_TREE, Text(2))};
  FinishedPack pack = Write(blobs, key_, 0);
  size_t area = pack.entries[1].offset() + pack.entries[1].length();
  ByteView blob_area = ByteView(pack.data).first(area);

  auto read = [&](const pb::PackEntry& e) {
    pb::PackHeader h;
    *h.add_entries() = pack.entries[0];
    *h.add_entries() = e;
    return ReadPackHeader(key_, AssemblePack(blob_area, h, key_, 0));
  };
  const pb::PackEntry good = pack.entries[1];
  ASSERT_TRUE(read(good).ok());

  pb::PackEntry e = good;
  e.set_length(good.length() + 1);  // one past the blob area
  EXPECT_EQ(read(e).status().code(), StatusCode::kCorruption);
  e = good;
  e.set_offset(0xFFFFFFF0u);  // would wrap in 32 bits
  e.set_length(0x20);
  EXPECT_EQ(read(e).status().code(), StatusCode::kCorruption);
  e = good;
  e.set_length(kMinSealedBlobBytes - 1);
  EXPECT_EQ(read(e).status().code(), StatusCode::kCorruption);
  e = good;
  e.set_id("short");
  EXPECT_EQ(read(e).status().code(), StatusCode::kCorruption);
  e = good;
  e.set_type(pb::BLOB_TYPE_UNSPECIFIED);
  EXPECT_EQ(read(e).status().code(), StatusCode::kCorruption);
  e = good;
  e.set_raw_length(static_cast<uint32_t>(kMaxBlobBytes) + 1);
  EXPECT_EQ(read(e).status().code(), StatusCode::kCorruption);

  // A sealed header that is not a PackHeader.
  Bytes ad = AssociatedData(ObjectType::kPackHeader, Digest256{}, 0);
  Bytes sealed = crypto::AeadSeal(key_, Bytes(10, std::byte{0xFF}), ad);
  Bytes junk(blob_area.begin(), blob_area.end());
  junk.insert(junk.end(), sealed.begin(), sealed.end());
  AppendU32Le(junk, 0);
  AppendU32Le(junk, static_cast<uint32_t>(sealed.size()));
  ByteView magic = AsBytes("CVP1");
  junk.insert(junk.end(), magic.begin(), magic.end());
  EXPECT_EQ(ReadPackHeader(key_, junk).status().code(),
            StatusCode::kCorruption);
}

}  // namespace
}  // namespace chatvault::backup
