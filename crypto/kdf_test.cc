#include "crypto/kdf.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "crypto/blake2b.h"
#include "crypto/test_util.h"

namespace chatvault::crypto {
namespace {

TEST(KdfTest, ContextsAreDistinctAndVersioned) {
  std::set<std::string_view> seen;
  for (const KdfContext& c : kAllKdfContexts) {
    EXPECT_TRUE(seen.insert(c.name).second) << c.name;
    EXPECT_EQ(c.name.substr(0, 13), "chatvault/v1/") << c.name;
  }
}

TEST(KdfTest, DeterministicAndSeparated) {
  SecretBytes master = SecretBytes::Random(32);
  auto derive = [&](const KdfContext& c, ByteView info = {}) {
    Result<SecretBytes> r = DeriveSubkey(master, c, 32, info);
    EXPECT_TRUE(r.ok());
    return std::string(r->chars());
  };
  EXPECT_EQ(derive(kKdfChunkerGear), derive(kKdfChunkerGear));
  EXPECT_NE(derive(kKdfChunkerGear), derive(kKdfPassphraseHolderBox));
  EXPECT_NE(derive(kKdfChunkerGear), derive(kKdfChunkerGear, ToBytes("1")));
  EXPECT_NE(derive(kKdfChunkerGear, ToBytes("1")),
            derive(kKdfChunkerGear, ToBytes("2")));
}

// Pins the construction documented in docs/design.md so that an accidental
// change to it (which would make existing repositories unreadable) fails.
TEST(KdfTest, MatchesDocumentedConstruction) {
  SecretBytes master = testing::SecretHex(
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const KdfContext ctx{"chatvault/v1/test"};
  Result<SecretBytes> got = DeriveSubkey(master, ctx, 32, ToBytes("info"));
  ASSERT_TRUE(got.ok());
  // BLAKE2b-256 keyed with master over
  // "chatvault-kdf" 00 11 "chatvault/v1/test" "info".
  std::string message("chatvault-kdf\0", 14);
  message += static_cast<char>(17);
  message += "chatvault/v1/test";
  message += "info";
  Result<Bytes> want = Blake2b(AsBytes(message), 32, master.view());
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(HexEncode(got->view()), HexEncode(*want));
}

// Regression: the id key keyed both blob IDs and the KDF, so a blob whose
// plaintext was a KDF message had an ID equal to a secret subkey. Blob IDs
// now use their own subkey.
TEST(KdfTest, BlobIdKeyIsNotTheIdKey) {
  SecretBytes id_key = SecretBytes::Random(32);
  Result<SecretBytes> blob_id_key = DeriveSubkey(id_key, kKdfBlobId, 32);
  ASSERT_TRUE(blob_id_key.ok());
  EXPECT_FALSE(ConstantTimeEquals(blob_id_key->view(), id_key.view()));
}

TEST(KdfTest, RejectsBadLengths) {
  SecretBytes master = SecretBytes::Random(32);
  EXPECT_FALSE(DeriveSubkey(SecretBytes(8), kKdfChunkerGear, 32).ok());
  EXPECT_FALSE(DeriveSubkey(master, kKdfChunkerGear, 8).ok());
  EXPECT_FALSE(DeriveSubkey(master, kKdfChunkerGear, 65).ok());
  EXPECT_FALSE(DeriveSubkey(master, KdfContext{""}, 32).ok());
}

}  // namespace
}  // namespace chatvault::crypto
