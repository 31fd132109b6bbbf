#include "backup/keys.h"

#include <gtest/gtest.h>

#include "backup/test_util.h"

namespace chatvault::backup {
namespace {

using testing::FastKdf;

// Two key sets are the same if they produce the same IDs and decrypt each
// other's data.
void ExpectSameKeys(const RepositoryKeys& a, const RepositoryKeys& b) {
  EXPECT_TRUE(crypto::ConstantTimeEquals(a.repository_id(), b.repository_id()));
  EXPECT_EQ(crypto::Blake2b256(a.blob_id_key(), AsBytes("blob")),
            crypto::Blake2b256(b.blob_id_key(), AsBytes("blob")));
  EXPECT_TRUE(
      crypto::ConstantTimeEquals(a.gear_key().view(), b.gear_key().view()));
  ASSERT_EQ(a.current_epoch(), b.current_epoch());
  Bytes sealed = crypto::AeadSeal(*a.epoch_key(0), AsBytes("x"), {});
  EXPECT_TRUE(crypto::AeadOpen(*b.epoch_key(0), sealed, {}).ok());
}

TEST(KeysTest, PassphraseHolderRoundTrip) {
  RepositoryKeys keys = RepositoryKeys::Generate();
  Result<pb::KeyObject> object =
      MakePassphraseKeyObject(keys, AsBytes("correct horse"), FastKdf());
  ASSERT_TRUE(object.ok()) << object.status().ToString();
  EXPECT_EQ(object->kind(), pb::HOLDER_KIND_PASSPHRASE);
  // The key object survives its encoding.
  pb::KeyObject parsed;
  ASSERT_TRUE(parsed.ParseFromString(object->SerializeAsString()));
  Result<crypto::Argon2Params> kdf =
      crypto::Argon2ParamsFromProto(parsed.kdf());
  ASSERT_TRUE(kdf.ok());
  Result<crypto::BoxKeyPair> holder =
      PassphraseHolderKey(AsBytes("correct horse"), *kdf);
  ASSERT_TRUE(holder.ok());
  Result<RepositoryKeys> opened = OpenKeyObject(parsed, *holder);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ExpectSameKeys(keys, *opened);
  EXPECT_TRUE(opened->account().has_value());
  EXPECT_EQ(opened->account()->verify_key(), keys.account()->verify_key());
}

TEST(KeysTest, WrongPassphraseIsPermissionDenied) {
  RepositoryKeys keys = RepositoryKeys::Generate();
  Result<pb::KeyObject> object =
      MakePassphraseKeyObject(keys, AsBytes("correct horse"), FastKdf());
  ASSERT_TRUE(object.ok());
  Result<crypto::BoxKeyPair> wrong =
      PassphraseHolderKey(AsBytes("correct hörse"), FastKdf());
  ASSERT_TRUE(wrong.ok());
  Result<RepositoryKeys> r = OpenKeyObject(*object, *wrong);
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("wrong passphrase"),
            std::string_view::npos);
}

TEST(KeysTest, RecoveryCodeHolderRoundTripAndWrongCode) {
  RepositoryKeys keys = RepositoryKeys::Generate();
  crypto::RecoveryCode code = crypto::RecoveryCode::Generate();
  Result<pb::KeyObject> object = MakeRecoveryKeyObject(keys, code);
  ASSERT_TRUE(object.ok());
  Result<crypto::RecoveryCode> typed =
      crypto::RecoveryCode::Parse(code.Format().chars());
  ASSERT_TRUE(typed.ok());
  Result<crypto::BoxKeyPair> holder = RecoveryHolderKey(*typed);
  ASSERT_TRUE(holder.ok());
  Result<RepositoryKeys> opened = OpenKeyObject(*object, *holder);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ExpectSameKeys(keys, *opened);
  Result<crypto::BoxKeyPair> other =
      RecoveryHolderKey(crypto::RecoveryCode::Generate());
  EXPECT_EQ(OpenKeyObject(*object, *other).status().code(),
            StatusCode::kPermissionDenied);
}

TEST(KeysTest, DamagedKeyObjectIsCorruption) {
  RepositoryKeys keys = RepositoryKeys::Generate();
  crypto::RecoveryCode code = crypto::RecoveryCode::Generate();
  Result<pb::KeyObject> object = MakeRecoveryKeyObject(keys, code);
  ASSERT_TRUE(object.ok());
  Result<crypto::BoxKeyPair> holder = RecoveryHolderKey(code);
  for (size_t i = 0; i < object->sealed_bundle().size(); i += 7) {
    pb::KeyObject damaged = *object;
    (*damaged.mutable_sealed_bundle())[i] ^= 0x10;
    EXPECT_EQ(OpenKeyObject(damaged, *holder).status().code(),
              StatusCode::kCorruption)
        << i;
  }
}

// A bundle re-sealed by someone else to this holder's (public) key but
// naming another holder is refused.
TEST(KeysTest, BundleForAnotherHolderIsRefused) {
  RepositoryKeys keys = RepositoryKeys::Generate();
  crypto::BoxKeyPair victim = crypto::BoxKeyPair::Generate();
  crypto::BoxKeyPair other = crypto::BoxKeyPair::Generate();
  pb::KeyBundle bundle = keys.ToBundle(other.public_key(), false);
  Result<Bytes> sealed = crypto::SealedBoxSeal(
      victim.public_key(), AsBytes(bundle.SerializeAsString()));
  ASSERT_TRUE(sealed.ok());
  pb::KeyObject object;
  object.set_kind(pb::HOLDER_KIND_DEVICE);
  object.set_holder_public_key(
      std::string(AsChars(victim.public_key().bytes())));
  object.set_sealed_bundle(std::string(AsChars(*sealed)));
  EXPECT_EQ(OpenKeyObject(object, victim).status().code(),
            StatusCode::kCorruption);
}

TEST(KeysTest, BundleWithoutSigningSeedHasNoAccountKey) {
  RepositoryKeys keys = RepositoryKeys::Generate();
  crypto::BoxKeyPair device = crypto::BoxKeyPair::Generate();
  Result<RepositoryKeys> k =
      RepositoryKeys::FromBundle(keys.ToBundle(device.public_key(), false));
  ASSERT_TRUE(k.ok());
  EXPECT_FALSE(k->account().has_value());
  ExpectSameKeys(keys, *k);
  EXPECT_EQ(HolderId(device.public_key()).size(), 64u);
}

}  // namespace
}  // namespace chatvault::backup
