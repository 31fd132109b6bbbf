#include "crypto/aead.h"

#include <gtest/gtest.h>

#include "crypto/aead_internal.h"
#include "crypto/test_util.h"

namespace chatvault::crypto {
namespace {

using testing::Hex;
using testing::SecretHex;

Bytes Plaintext(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>(i * 7 + 3);
  return b;
}

TEST(AeadTest, RoundTripsManySizes) {
  AeadKey key = AeadKey::Generate();
  Bytes ad = ToBytes("blob|0123|epoch=0");
  for (size_t n : {0u, 1u, 15u, 16u, 17u, 63u, 64u, 65u, 4096u, 100000u}) {
    Bytes pt = Plaintext(n);
    Bytes sealed = AeadSeal(key, pt, ad);
    ASSERT_EQ(sealed.size(), n + kAeadOverheadBytes);
    Result<Bytes> opened = AeadOpen(key, sealed, ad);
    ASSERT_TRUE(opened.ok()) << n;
    EXPECT_EQ(*opened, pt);
  }
}

TEST(AeadTest, NoncesAreFresh) {
  AeadKey key = AeadKey::Generate();
  Bytes a = AeadSeal(key, Plaintext(32), {});
  Bytes b = AeadSeal(key, Plaintext(32), {});
  EXPECT_NE(Bytes(a.begin(), a.begin() + kAeadNonceBytes),
            Bytes(b.begin(), b.begin() + kAeadNonceBytes));
  EXPECT_NE(a, b);
}

// Flips every bit of the sealed message (nonce, ciphertext, tag) and of the
// associated data, one at a time; each must be rejected as Corruption.
TEST(AeadTest, EveryBitFlipIsRejected) {
  AeadKey key = AeadKey::Generate();
  Bytes ad = ToBytes("snapshot|abcdef|epoch=3");
  Bytes pt = Plaintext(48);
  Bytes sealed = AeadSeal(key, pt, ad);
  size_t rejected = 0;
  for (size_t bit = 0; bit < sealed.size() * 8; ++bit) {
    Bytes t = sealed;
    t[bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
    Result<Bytes> r = AeadOpen(key, t, ad);
    ASSERT_FALSE(r.ok()) << "bit " << bit;
    ASSERT_EQ(r.status().code(), StatusCode::kCorruption);
    ++rejected;
  }
  for (size_t bit = 0; bit < ad.size() * 8; ++bit) {
    Bytes t = ad;
    t[bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
    ASSERT_EQ(AeadOpen(key, sealed, t).status().code(), StatusCode::kCorruption)
        << "ad bit " << bit;
    ++rejected;
  }
  EXPECT_EQ(rejected, (sealed.size() + ad.size()) * 8);
}

TEST(AeadTest, TruncationExtensionAndSwapsAreRejected) {
  AeadKey key = AeadKey::Generate();
  Bytes ad = ToBytes("ad");
  Bytes sealed = AeadSeal(key, Plaintext(32), ad);
  for (size_t n = 0; n < sealed.size(); ++n) {
    ASSERT_FALSE(AeadOpen(key, ByteView(sealed.data(), n), ad).ok()) << n;
  }
  Bytes longer = sealed;
  longer.push_back(std::byte{0});
  EXPECT_FALSE(AeadOpen(key, longer, ad).ok());
  // Wrong key, missing AD, AD of another object.
  EXPECT_FALSE(AeadOpen(AeadKey::Generate(), sealed, ad).ok());
  EXPECT_FALSE(AeadOpen(key, sealed, {}).ok());
  EXPECT_FALSE(AeadOpen(key, sealed, ToBytes("ae")).ok());
}

TEST(AeadTest, OpenSecretGivesLockedPlaintext) {
  AeadKey key = AeadKey::Generate();
  AeadKey inner = AeadKey::Generate();
  Bytes sealed = AeadSeal(key, inner.secret().view(), ToBytes("key"));
  Result<SecretBytes> r = AeadOpenSecret(key, sealed, ToBytes("key"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(ConstantTimeEquals(r->view(), inner.secret().view()));
  EXPECT_EQ(AeadOpenSecret(key, sealed, ToBytes("kez")).status().code(),
            StatusCode::kCorruption);
}

TEST(AeadTest, KeyMustBe32Bytes) {
  EXPECT_EQ(AeadKey::FromSecret(SecretBytes(31)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(AeadKey::FromSecret(SecretBytes(32)).ok());
}

TEST(AeadTest, SealWithNonceMatchesSeal) {
  Result<AeadKey> key = AeadKey::FromSecret(SecretHex(
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"));
  ASSERT_TRUE(key.ok());
  Bytes nonce = Hex("000102030405060708090a0b0c0d0e0f1011121314151617");
  Bytes sealed =
      internal::AeadSealWithNonce(*key, nonce, ToBytes("hi"), ToBytes("ad"));
  EXPECT_EQ(Bytes(sealed.begin(), sealed.begin() + 24), nonce);
  Result<Bytes> opened = AeadOpen(*key, sealed, ToBytes("ad"));
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(AsChars(*opened), "hi");
}

}  // namespace
}  // namespace chatvault::crypto
