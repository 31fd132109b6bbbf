// Known-answer tests of chatvault's crypto layer against published vectors.
// Sources and licences: tests/vectors/crypto/SOURCES.md.
#include <gtest/gtest.h>

#include <string>

#include "crypto/aead.h"
#include "crypto/aead_internal.h"
#include "crypto/argon2.h"
#include "crypto/blake2b.h"
#include "crypto/box.h"
#include "crypto/sign.h"
#include "crypto/test_util.h"

namespace chatvault::crypto {
namespace {

using testing::Hex;
using testing::SecretHex;

Bytes Range(int first, int count) {
  Bytes b(count);
  for (int i = 0; i < count; ++i) b[i] = static_cast<std::byte>(first + i);
  return b;
}

// draft-irtf-cfrg-xchacha-03, Appendix A.3.1.
TEST(CryptoVectors, XChaCha20Poly1305DraftA31) {
  Result<AeadKey> key =
      AeadKey::FromSecret(SecretBytes::CopyFrom(Range(0x80, 32)));
  ASSERT_TRUE(key.ok());
  Bytes nonce = Range(0x40, 24);
  Bytes ad = Hex("50515253c0c1c2c3c4c5c6c7");
  std::string pt =
      "Ladies and Gentlemen of the class of '99: If I could offer you only "
      "one tip for the future, sunscreen would be it.";
  ASSERT_EQ(pt.size(), 114u);
  const std::string ct =
      "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
      "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
      "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
      "21f9664c97637da9768812f615c68b13b52e";
  const std::string tag = "c0875924c1c7987947deafd8780acf49";

  Bytes sealed = internal::AeadSealWithNonce(*key, nonce, AsBytes(pt), ad);
  EXPECT_EQ(HexEncode(sealed), HexEncode(nonce) + ct + tag);

  Result<Bytes> opened = AeadOpen(*key, Hex(HexEncode(nonce) + ct + tag), ad);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(AsChars(*opened), pt);
}

// RFC 7693 Appendix A and libsodium's crypto_generichash values.
TEST(CryptoVectors, Blake2bUnkeyed) {
  EXPECT_EQ(HexEncode(*Blake2b(AsBytes("abc"), 64)),
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
            "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
  EXPECT_EQ(HexEncode(*Blake2b(AsBytes("abc"), 32)),
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  EXPECT_EQ(HexEncode(*Blake2b(AsBytes(""), 32)),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
}

// BLAKE2 reference blake2b-kat.txt: key 00..3f, inputs of length 0 and 1.
TEST(CryptoVectors, Blake2bKeyedReferenceKat) {
  Bytes key = Range(0, 64);
  EXPECT_EQ(HexEncode(*Blake2b({}, 64, key)),
            "10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786"
            "b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568");
  EXPECT_EQ(HexEncode(*Blake2b(Range(0, 1), 64, key)),
            "961f6dd1e4dd30f63901690c512e78e4b45e4742ed197c3c5e45c549fd25f2e4"
            "187b0bc9fe30492b16b0d0bc4ef9b0f34c7003fac09a5ef1532e69430234cebd");
}

// RFC 9106 §5: t=3, m=32 KiB, p=4, with secret and associated data.
class Argon2Rfc9106
    : public ::testing::TestWithParam<std::pair<Argon2Type, std::string>> {};

TEST_P(Argon2Rfc9106, Tag) {
  Bytes password(32, std::byte{0x01});
  Bytes salt(16, std::byte{0x02});
  Bytes secret(8, std::byte{0x03});
  Bytes ad(12, std::byte{0x04});
  Argon2Input in;
  in.type = GetParam().first;
  in.password = password;
  in.salt = salt;
  in.secret = secret;
  in.associated_data = ad;
  in.t_cost = 3;
  in.m_cost_kib = 32;
  in.parallelism = 4;
  in.out_len = 32;
  Result<SecretBytes> tag = Argon2Hash(in);
  ASSERT_TRUE(tag.ok()) << tag.status().ToString();
  EXPECT_EQ(HexEncode(tag->view()), GetParam().second);
}

std::string Argon2TypeName(
    const ::testing::TestParamInfo<std::pair<Argon2Type, std::string>>& info) {
  constexpr const char* kNames[] = {"Argon2d", "Argon2i", "Argon2id"};
  return kNames[static_cast<int>(info.param.first)];
}

INSTANTIATE_TEST_SUITE_P(
    CryptoVectors, Argon2Rfc9106,
    ::testing::Values(
        std::pair{Argon2Type::kArgon2d,
                  std::string("512b391b6f1162975371d30919734294"
                              "f868e3be3984f3c1a13a4db9fabe4acb")},
        std::pair{Argon2Type::kArgon2i,
                  std::string("c814d9d1dc7f37aa13f0d77f2494bda1"
                              "c8de6b016dd388d29952a4c4672b6ce8")},
        std::pair{Argon2Type::kArgon2id,
                  std::string("0d640df58d78766c08c037a34a8b53c9"
                              "d01ef0452d75b65eb52520e96b01e659")}),
    Argon2TypeName);

// RFC 8032 §7.1, TEST 1-3.
struct Ed25519Case {
  const char* secret;
  const char* public_key;
  const char* message;
  const char* signature;
};

class Ed25519Rfc8032 : public ::testing::TestWithParam<Ed25519Case> {};

TEST_P(Ed25519Rfc8032, KeySignVerify) {
  const Ed25519Case& c = GetParam();
  Result<SigningKey> key = SigningKey::FromSeed(SecretHex(c.secret));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(HexEncode(key->verify_key().bytes()), c.public_key);
  Bytes msg = Hex(c.message);
  Signature sig = key->Sign(msg);
  EXPECT_EQ(HexEncode(sig), c.signature);
  Result<VerifyKey> vk = VerifyKey::FromBytes(Hex(c.public_key));
  ASSERT_TRUE(vk.ok());
  EXPECT_TRUE(Verify(*vk, msg, Hex(c.signature)).ok());
  EXPECT_TRUE(ConstantTimeEquals(key->Seed().view(), Hex(c.secret)));
}

INSTANTIATE_TEST_SUITE_P(
    CryptoVectors, Ed25519Rfc8032,
    ::testing::Values(
        Ed25519Case{
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
            "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
        Ed25519Case{
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
            "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
        Ed25519Case{
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
            "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40"
            "a"}),
    [](const auto& info) { return "Test" + std::to_string(info.index + 1); });

// RFC 7748 §5.2.
Result<SecretBytes> X(std::string_view scalar, std::string_view u) {
  Result<BoxPublicKey> point = BoxPublicKey::FromBytes(Hex(u));
  if (!point.ok()) return point.status();
  return X25519(SecretHex(scalar), *point);
}

TEST(CryptoVectors, X25519Rfc7748ScalarMult) {
  EXPECT_EQ(
      HexEncode(
          X("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
            "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")
              ->view()),
      "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
  EXPECT_EQ(
      HexEncode(
          X("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
            "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493")
              ->view()),
      "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
}

TEST(CryptoVectors, X25519Rfc7748Iterated) {
  std::string k =
      "0900000000000000000000000000000000000000000000000000000000000000";
  std::string u = k;
  for (int i = 1; i <= 1000; ++i) {
    Result<SecretBytes> r = X(k, u);
    ASSERT_TRUE(r.ok());
    u = k;
    k = HexEncode(r->view());
    if (i == 1) {
      EXPECT_EQ(
          k,
          "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
    }
  }
  EXPECT_EQ(k,
            "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
}

// RFC 7748 §6.1.
TEST(CryptoVectors, X25519Rfc7748DiffieHellman) {
  Result<BoxKeyPair> alice = BoxKeyPair::FromSecretKey(SecretHex(
      "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  Result<BoxKeyPair> bob = BoxKeyPair::FromSecretKey(SecretHex(
      "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
  ASSERT_TRUE(alice.ok() && bob.ok());
  EXPECT_EQ(HexEncode(alice->public_key().bytes()),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(HexEncode(bob->public_key().bytes()),
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  const std::string shared =
      "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  EXPECT_EQ(HexEncode(X25519(alice->secret_key(), bob->public_key())->view()),
            shared);
  EXPECT_EQ(HexEncode(X25519(bob->secret_key(), alice->public_key())->view()),
            shared);
}

}  // namespace
}  // namespace chatvault::crypto
