#include "crypto/box.h"

#include <gtest/gtest.h>

#include "crypto/test_util.h"

namespace chatvault::crypto {
namespace {

TEST(BoxTest, SealedBoxRoundTrip) {
  BoxKeyPair recipient = BoxKeyPair::Generate();
  Bytes msg = ToBytes("epoch key 0 for repository 7f3a");
  Bytes sealed = *SealedBoxSeal(recipient.public_key(), msg);
  EXPECT_EQ(sealed.size(), msg.size() + kSealedBoxOverheadBytes);
  Result<SecretBytes> opened = SealedBoxOpen(recipient, sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(AsChars(opened->view()), AsChars(msg));
}

TEST(BoxTest, OtherRecipientCannotOpen) {
  BoxKeyPair alice = BoxKeyPair::Generate();
  BoxKeyPair mallory = BoxKeyPair::Generate();
  Bytes sealed = *SealedBoxSeal(alice.public_key(), ToBytes("secret"));
  EXPECT_EQ(SealedBoxOpen(mallory, sealed).status().code(),
            StatusCode::kCorruption);
}

TEST(BoxTest, EveryBitFlipAndTruncationIsRejected) {
  BoxKeyPair r = BoxKeyPair::Generate();
  Bytes sealed = *SealedBoxSeal(r.public_key(), ToBytes("0123456789abcdef"));
  for (size_t bit = 0; bit < sealed.size() * 8; ++bit) {
    Bytes t = sealed;
    t[bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
    ASSERT_FALSE(SealedBoxOpen(r, t).ok()) << bit;
  }
  for (size_t n = 0; n < sealed.size(); ++n) {
    ASSERT_FALSE(SealedBoxOpen(r, ByteView(sealed.data(), n)).ok()) << n;
  }
}

TEST(BoxTest, SeedIsDeterministic) {
  SecretBytes seed = SecretBytes::Random(kBoxSeedBytes);
  Result<BoxKeyPair> a = BoxKeyPair::FromSeed(seed);
  Result<BoxKeyPair> b = BoxKeyPair::FromSeed(seed);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->public_key(), b->public_key());
  EXPECT_TRUE(
      ConstantTimeEquals(a->secret_key().view(), b->secret_key().view()));
  EXPECT_FALSE(BoxKeyPair::FromSeed(SecretBytes(31)).ok());
}

TEST(BoxTest, FromSecretKeyRecomputesPublicKey) {
  BoxKeyPair a = BoxKeyPair::Generate();
  Result<BoxKeyPair> b = BoxKeyPair::FromSecretKey(a.secret_key().Clone());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a.public_key(), b->public_key());
}

TEST(BoxTest, X25519AgreesBothWays) {
  BoxKeyPair a = BoxKeyPair::Generate();
  BoxKeyPair b = BoxKeyPair::Generate();
  Result<SecretBytes> ab = X25519(a.secret_key(), b.public_key());
  Result<SecretBytes> ba = X25519(b.secret_key(), a.public_key());
  ASSERT_TRUE(ab.ok() && ba.ok());
  EXPECT_TRUE(ConstantTimeEquals(ab->view(), ba->view()));
}

TEST(BoxTest, X25519RejectsLowOrderPoint) {
  // The identity point (u = 0) yields an all-zero shared secret.
  Result<BoxPublicKey> zero = BoxPublicKey::FromBytes(Bytes(32));
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(X25519(BoxKeyPair::Generate().secret_key(), *zero).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(BoxTest, SealingToLowOrderPointIsRefused) {
  // Regression: crypto_box_seal's result was ignored, so sealing to a
  // low-order key produced a box nobody can open.
  Result<BoxPublicKey> zero = BoxPublicKey::FromBytes(Bytes(32));
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(SealedBoxSeal(*zero, ToBytes("keys")).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(BoxTest, PublicKeyLengthChecked) {
  EXPECT_FALSE(BoxPublicKey::FromBytes(Bytes(31)).ok());
  EXPECT_FALSE(BoxPublicKey::FromBytes(Bytes(33)).ok());
}

}  // namespace
}  // namespace chatvault::crypto
