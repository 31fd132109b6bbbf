#include "backup/object_codec.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace chatvault::backup {
namespace {

Bytes Id(uint8_t seed) {
  Bytes id(kObjectIdBytes);
  for (size_t i = 0; i < id.size(); ++i) {
    id[i] = static_cast<std::byte>(seed + i * 13);
  }
  return id;
}

Bytes Payload(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<std::byte>(rng());
  return b;
}

void FlipBit(Bytes& b, size_t bit) {
  b[bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
}

void ExpectCorruption(const Result<Bytes>& r, const char* what) {
  ASSERT_FALSE(r.ok()) << what;
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << what;
}

TEST(ObjectCodecTest, AssociatedDataMatchesDesign) {
  Bytes id = Id(7);
  Bytes ad = AssociatedData(ObjectType::kSnapshot, id, 0x01020304);
  Bytes expect = ToBytes(std::string("chatvault/v1\0", 13));
  expect.push_back(std::byte{7});
  expect.insert(expect.end(), id.begin(), id.end());
  for (uint8_t b : {0x04, 0x03, 0x02, 0x01}) expect.push_back(std::byte{b});
  EXPECT_EQ(ad.size(), 50u);
  EXPECT_EQ(ad, expect);
}

TEST(ObjectCodecTest, AssociatedDataSeparatesTypeIdAndEpoch) {
  Bytes base = AssociatedData(ObjectType::kIndex, Id(1), 5);
  EXPECT_NE(base, AssociatedData(ObjectType::kSnapshot, Id(1), 5));
  EXPECT_NE(base, AssociatedData(ObjectType::kIndex, Id(2), 5));
  EXPECT_NE(base, AssociatedData(ObjectType::kIndex, Id(1), 6));
}

TEST(ObjectCodecDeathTest, AssociatedDataRequiresA32ByteId) {
  EXPECT_DEATH(AssociatedData(ObjectType::kConfig, Bytes(31), 0), "32");
  crypto::AeadKey key = crypto::AeadKey::Generate();
  EXPECT_DEATH(SealObject(key, 0, ObjectType::kConfig, Bytes(33), {}), "32");
}

TEST(ObjectCodecTest, SealedLayoutMatchesDesign) {
  crypto::AeadKey key = crypto::AeadKey::Generate();
  Bytes id = Id(3);
  Bytes payload = Payload(100, 1);
  Bytes obj = SealObject(key, 0xA0B0C0D0, ObjectType::kIndex, id, payload);
  ASSERT_EQ(obj.size(), payload.size() + kObjectOverheadBytes);
  EXPECT_EQ(AsChars(ByteView(obj).first(4)), "CVO1");
  EXPECT_EQ(obj[4], std::byte{6});
  EXPECT_EQ(obj[5], std::byte{0xD0});
  EXPECT_EQ(obj[6], std::byte{0xC0});
  EXPECT_EQ(obj[7], std::byte{0xB0});
  EXPECT_EQ(obj[8], std::byte{0xA0});
  // The rest is exactly AeadSeal with section 2.2's associated data.
  Result<Bytes> opened =
      crypto::AeadOpen(key, ByteView(obj).subspan(kObjectHeaderBytes),
                       AssociatedData(ObjectType::kIndex, id, 0xA0B0C0D0));
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, payload);
}

TEST(ObjectCodecTest, RoundTripsEveryTypeAndManySizes) {
  crypto::AeadKey key = crypto::AeadKey::Generate();
  const ObjectType types[] = {ObjectType::kConfig,     ObjectType::kDataBlob,
                              ObjectType::kTreeBlob,   ObjectType::kPackHeader,
                              ObjectType::kIndex,      ObjectType::kSnapshot,
                              ObjectType::kHolderList, ObjectType::kDeviceList};
  uint32_t epoch = 0;
  for (ObjectType type : types) {
    for (size_t n : {0u, 1u, 17u, 4096u, 100000u}) {
      Bytes payload = Payload(n, n + epoch);
      Bytes id = Id(static_cast<uint8_t>(n));
      Bytes obj = SealObject(key, epoch, type, id, payload);
      Result<SealedObjectHeader> h = PeekObjectHeader(obj);
      ASSERT_TRUE(h.ok()) << h.status().ToString();
      EXPECT_EQ(h->type, type);
      EXPECT_EQ(h->epoch, epoch);
      Result<Bytes> opened = OpenObject(key, type, id, obj);
      ASSERT_TRUE(opened.ok()) << opened.status().ToString();
      EXPECT_EQ(*opened, payload);
    }
    ++epoch;
  }
}

TEST(ObjectCodecTest, WrongTypeIsCorruptionNamingTheType) {
  crypto::AeadKey key = crypto::AeadKey::Generate();
  Bytes payload = ToBytes("very secret snapshot payload");
  Bytes obj = SealObject(key, 0, ObjectType::kSnapshot, Id(1), payload);
  Result<Bytes> r = OpenObject(key, ObjectType::kIndex, Id(1), obj);
  ExpectCorruption(r, "wrong type");
  std::string msg(r.status().message());
  EXPECT_NE(msg.find("index"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("secret"), std::string::npos) << msg;
}

// The header's type byte is rewritten to the type the reader asks for: the
// header check passes, the associated data does not.
TEST(ObjectCodecTest, RewrittenTypeByteFailsAuthentication) {
  crypto::AeadKey key = crypto::AeadKey::Generate();
  Bytes obj = SealObject(key, 0, ObjectType::kSnapshot, Id(1), Payload(64, 2));
  obj[4] = static_cast<std::byte>(ObjectType::kIndex);
  ExpectCorruption(OpenObject(key, ObjectType::kIndex, Id(1), obj),
                   "type byte");
}

TEST(ObjectCodecTest, WrongIdIsCorruption) {
  crypto::AeadKey key = crypto::AeadKey::Generate();
  Bytes obj = SealObject(key, 0, ObjectType::kIndex, Id(1), Payload(64, 3));
  ExpectCorruption(OpenObject(key, ObjectType::kIndex, Id(2), obj), "id");
}

TEST(ObjectCodecTest, WrongKeyIsCorruption) {
  crypto::AeadKey key = crypto::AeadKey::Generate();
  crypto::AeadKey other = crypto::AeadKey::Generate();
  Bytes obj = SealObject(key, 0, ObjectType::kConfig, Id(1), Payload(64, 4));
  ExpectCorruption(OpenObject(other, ObjectType::kConfig, Id(1), obj), "key");
}

TEST(ObjectCodecTest, RewrittenEpochIsCorruption) {
  crypto::AeadKey key = crypto::AeadKey::Generate();
  Bytes obj = SealObject(key, 1, ObjectType::kIndex, Id(1), Payload(64, 5));
  obj[5] = std::byte{0};
  Result<SealedObjectHeader> h = PeekObjectHeader(obj);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->epoch, 0u);
  ExpectCorruption(OpenObject(key, ObjectType::kIndex, Id(1), obj), "epoch");
}

TEST(ObjectCodecTest, TruncatedOrExtendedIsCorruption) {
  crypto::AeadKey key = crypto::AeadKey::Generate();
  Bytes obj = SealObject(key, 0, ObjectType::kIndex, Id(1), Payload(20, 6));
  for (size_t n = 0; n < obj.size(); ++n) {
    ExpectCorruption(
        OpenObject(key, ObjectType::kIndex, Id(1), ByteView(obj).first(n)),
        "truncated");
  }
  Bytes longer = obj;
  longer.push_back(std::byte{0});
  ExpectCorruption(OpenObject(key, ObjectType::kIndex, Id(1), longer),
                   "extended");
}

TEST(ObjectCodecTest, EveryBitFlipIsCorruption) {
  crypto::AeadKey key = crypto::AeadKey::Generate();
  Bytes obj = SealObject(key, 2, ObjectType::kHolderList, Id(9), Payload(8, 7));
  for (size_t bit = 0; bit < obj.size() * 8; ++bit) {
    Bytes t = obj;
    FlipBit(t, bit);
    ExpectCorruption(OpenObject(key, ObjectType::kHolderList, Id(9), t),
                     "bit flip");
  }
}

TEST(ObjectCodecTest, PeekRefusesShortBadMagicAndUnknownType) {
  crypto::AeadKey key = crypto::AeadKey::Generate();
  Bytes obj = SealObject(key, 0, ObjectType::kConfig, Id(1), {});
  for (size_t n = 0; n < kObjectHeaderBytes; ++n) {
    Result<SealedObjectHeader> h = PeekObjectHeader(ByteView(obj).first(n));
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.status().code(), StatusCode::kCorruption);
  }
  EXPECT_TRUE(PeekObjectHeader(ByteView(obj).first(kObjectHeaderBytes)).ok());

  Bytes bad_magic = obj;
  bad_magic[3] = std::byte{'2'};
  EXPECT_EQ(PeekObjectHeader(bad_magic).status().code(),
            StatusCode::kCorruption);
  ExpectCorruption(OpenObject(key, ObjectType::kConfig, Id(1), bad_magic),
                   "bad magic");

  for (uint8_t t : {0, 2, 16, 255}) {
    Bytes unknown = obj;
    unknown[4] = std::byte{t};
    EXPECT_EQ(PeekObjectHeader(unknown).status().code(),
              StatusCode::kCorruption)
        << int{t};
  }
}

TEST(ObjectCodecTest, TypeNames) {
  EXPECT_EQ(ObjectTypeName(ObjectType::kConfig), "config");
  EXPECT_EQ(ObjectTypeName(ObjectType::kPackHeader), "pack header");
  EXPECT_EQ(ObjectTypeName(ObjectType::kPrunePlan), "prune plan");
  EXPECT_EQ(ObjectTypeName(ObjectType::kLock), "lock");
  EXPECT_EQ(ObjectTypeName(ObjectType::kHead), "head");
  EXPECT_EQ(ObjectTypeName(ObjectType::kLinkReply), "link reply");
  EXPECT_EQ(ObjectTypeName(static_cast<ObjectType>(2)), "unknown");
}

}  // namespace
}  // namespace chatvault::backup
