#include "backup/repository.h"

#include <gtest/gtest.h>

#include "backup/blob_store.h"
#include "backup/object_codec.h"
#include "backup/pack.h"
#include "backup/test_util.h"
#include "crypto/blake2b.h"
#include "crypto/box.h"
#include "storage/fault_backend.h"
#include "storage/mem_backend.h"

namespace chatvault::backup {
namespace {

using testing::FastInit;
InitOptions FastOptions() { return FastInit(); }

class RepositoryTest : public ::testing::Test {
 protected:
  std::unique_ptr<Repository> InitRepo() {
    Result<std::unique_ptr<Repository>> r = Repository::Init(
        &backend_, AsBytes("hunter2 hunter2"), code_, FastOptions());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : nullptr;
  }
  storage::MemBackend backend_;
  crypto::RecoveryCode code_ = crypto::RecoveryCode::Generate();
};

TEST_F(RepositoryTest, InitThenOpenWithPassphraseOrRecoveryCode) {
  std::unique_ptr<Repository> created = InitRepo();
  ASSERT_NE(created, nullptr);
  Result<std::unique_ptr<Repository>> by_pass =
      Repository::OpenWithPassphrase(&backend_, AsBytes("hunter2 hunter2"));
  ASSERT_TRUE(by_pass.ok()) << by_pass.status().ToString();
  EXPECT_TRUE(crypto::ConstantTimeEquals((*by_pass)->keys().repository_id(),
                                         created->keys().repository_id()));
  EXPECT_EQ((*by_pass)->config().chunker().avg_size(), 1024u * 1024);
  EXPECT_EQ((*by_pass)->config().format_version(), kFormatVersion);

  Result<crypto::RecoveryCode> typed =
      crypto::RecoveryCode::Parse(code_.Format().chars());
  ASSERT_TRUE(typed.ok());
  Result<std::unique_ptr<Repository>> by_code =
      Repository::OpenWithRecoveryCode(&backend_, *typed);
  ASSERT_TRUE(by_code.ok()) << by_code.status().ToString();
  EXPECT_TRUE(crypto::ConstantTimeEquals((*by_code)->keys().repository_id(),
                                         created->keys().repository_id()));
}

TEST_F(RepositoryTest, WrongSecretsArePermissionDenied) {
  ASSERT_NE(InitRepo(), nullptr);
  Result<std::unique_ptr<Repository>> r =
      Repository::OpenWithPassphrase(&backend_, AsBytes("hunter3 hunter3"));
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("wrong passphrase"),
            std::string_view::npos);
  r = Repository::OpenWithRecoveryCode(&backend_,
                                       crypto::RecoveryCode::Generate());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
}

TEST_F(RepositoryTest, MissingRepositoryIsNotFoundAndInitTwiceIsRefused) {
  Result<std::unique_ptr<Repository>> r =
      Repository::OpenWithPassphrase(&backend_, AsBytes("x"));
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("chatvault init"),
            std::string_view::npos);
  ASSERT_NE(InitRepo(), nullptr);
  Result<std::unique_ptr<Repository>> again =
      Repository::Init(&backend_, AsBytes("other"), code_, FastOptions());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
}

// A hostile store copies in a key object from a repository it controls:
// the passphrase opens it, but its keys cannot open this config.
TEST_F(RepositoryTest, KeyObjectFromAnotherRepositoryIsRefused) {
  ASSERT_NE(InitRepo(), nullptr);
  storage::MemBackend other;
  ASSERT_TRUE(Repository::Init(&other, AsBytes("hunter2 hunter2"),
                               crypto::RecoveryCode::Generate(), FastOptions())
                  .ok());
  // Replace this repository's key objects with the other's.
  std::vector<std::string> ours, theirs;
  ASSERT_TRUE(backend_
                  .List("keys/",
                        [&](const storage::ObjectInfo& i) {
                          ours.push_back(i.name);
                          return Status::OK();
                        })
                  .ok());
  ASSERT_TRUE(backend_.RemoveMany(ours).ok());
  ASSERT_TRUE(other
                  .List("keys/",
                        [&](const storage::ObjectInfo& i) {
                          Result<Bytes> d =
                              other.Load(i.name, 0, storage::kToEnd);
                          return backend_.Save(i.name, *d,
                                               storage::SaveMode::kOverwrite);
                        })
                  .ok());
  Result<std::unique_ptr<Repository>> r =
      Repository::OpenWithPassphrase(&backend_, AsBytes("hunter2 hunter2"));
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption)
      << r.status().ToString();
  EXPECT_NE(r.status().message().find("does not match its key objects"),
            std::string_view::npos);
}

TEST_F(RepositoryTest, DamagedConfigIsCorruption) {
  ASSERT_NE(InitRepo(), nullptr);
  Bytes config = *backend_.Load("config", 0, storage::kToEnd);
  config[config.size() / 2] ^= std::byte{1};
  ASSERT_TRUE(
      backend_.Save("config", config, storage::SaveMode::kOverwrite).ok());
  EXPECT_EQ(
      Repository::OpenWithPassphrase(&backend_, AsBytes("hunter2 hunter2"))
          .status()
          .code(),
      StatusCode::kCorruption);
}

TEST_F(RepositoryTest, ObjectsRoundTripAndAreBoundToTheirNames) {
  std::unique_ptr<Repository> repo = InitRepo();
  ASSERT_NE(repo, nullptr);
  pb::Snapshot snap;
  snap.set_hostname("phone");
  snap.add_paths("/data/chats");
  Result<std::string> id =
      repo->SaveObject(ObjectType::kSnapshot, "snapshots", snap);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  pb::Snapshot back;
  ASSERT_TRUE(
      repo->LoadObject(ObjectType::kSnapshot, "snapshots", *id, &back).ok());
  EXPECT_EQ(back.hostname(), "phone");
  // Loading it as another type, or copied under another ID, fails.
  EXPECT_EQ(
      repo->LoadObject(ObjectType::kIndex, "snapshots", *id, &back).code(),
      StatusCode::kCorruption);
  Bytes data = *backend_.Load("snapshots/" + *id, 0, storage::kToEnd);
  std::string other_id(64, 'a');
  ASSERT_TRUE(
      backend_
          .Save("snapshots/" + other_id, data, storage::SaveMode::kOverwrite)
          .ok());
  EXPECT_EQ(
      repo->LoadObject(ObjectType::kSnapshot, "snapshots", other_id, &back)
          .code(),
      StatusCode::kCorruption);
}

// A new passphrase opens the repository and the old one stops working; the
// recovery code is untouched, and the new holder keeps the old cost.
TEST_F(RepositoryTest, ChangedPassphraseReplacesTheOldOne) {
  ASSERT_NE(InitRepo(), nullptr);
  Result<std::unique_ptr<Repository>> repo =
      Repository::OpenWithPassphrase(&backend_, AsBytes("hunter2 hunter2"));
  ASSERT_TRUE(repo.ok());
  ASSERT_TRUE((*repo)->ChangePassphrase(AsBytes("correct horse")).ok());
  EXPECT_EQ(
      Repository::OpenWithPassphrase(&backend_, AsBytes("hunter2 hunter2"))
          .status()
          .code(),
      StatusCode::kPermissionDenied);
  Result<std::unique_ptr<Repository>> again =
      Repository::OpenWithPassphrase(&backend_, AsBytes("correct horse"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(Repository::OpenWithRecoveryCode(&backend_, code_).ok());
  Result<std::vector<Repository::Holder>> holders = (*again)->ListHolders();
  ASSERT_TRUE(holders.ok());
  ASSERT_EQ(holders->size(), 2u);
  int opened = 0;
  for (const Repository::Holder& h : *holders) {
    opened += h.opened_this;
    if (h.kind == pb::HOLDER_KIND_PASSPHRASE) {
      EXPECT_EQ(h.kdf_memory_kib, FastOptions().kdf.m_cost_kib);
      EXPECT_TRUE(h.opened_this);
    }
  }
  EXPECT_EQ(opened, 1);
}

// Opened with the recovery code (the passphrase was lost), a new passphrase
// replaces every passphrase holder.
TEST_F(RepositoryTest, RecoveryCodeSetsANewPassphrase) {
  ASSERT_NE(InitRepo(), nullptr);
  Result<std::unique_ptr<Repository>> repo =
      Repository::OpenWithRecoveryCode(&backend_, code_);
  ASSERT_TRUE(repo.ok());
  ASSERT_TRUE((*repo)->ChangePassphrase(AsBytes("new phone")).ok());
  EXPECT_EQ(
      Repository::OpenWithPassphrase(&backend_, AsBytes("hunter2 hunter2"))
          .status()
          .code(),
      StatusCode::kPermissionDenied);
  EXPECT_TRUE(
      Repository::OpenWithPassphrase(&backend_, AsBytes("new phone")).ok());
  EXPECT_TRUE(Repository::OpenWithRecoveryCode(&backend_, code_).ok());
}

// A new recovery code works and the old one stops working; the passphrase
// is untouched.
TEST_F(RepositoryTest, ReplacedRecoveryCodeRetiresTheOldOne) {
  ASSERT_NE(InitRepo(), nullptr);
  Result<std::unique_ptr<Repository>> repo =
      Repository::OpenWithPassphrase(&backend_, AsBytes("hunter2 hunter2"));
  ASSERT_TRUE(repo.ok());
  const crypto::RecoveryCode fresh = crypto::RecoveryCode::Generate();
  ASSERT_TRUE((*repo)->ReplaceRecoveryCode(fresh).ok());
  EXPECT_EQ(Repository::OpenWithRecoveryCode(&backend_, code_).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_TRUE(Repository::OpenWithRecoveryCode(&backend_, fresh).ok());
  EXPECT_TRUE(
      Repository::OpenWithPassphrase(&backend_, AsBytes("hunter2 hunter2"))
          .ok());
}

// Rotation: every holder gets the new epoch, new data is sealed under it,
// and old data stays readable, by every holder.
TEST_F(RepositoryTest, RotatedKeysSealNewDataUnderTheNewEpoch) {
  std::unique_ptr<Repository> created = InitRepo();
  ASSERT_NE(created, nullptr);
  const std::string before = "written before rotation";
  const crypto::Digest256 old_id =
      BlobId(created->keys().blob_id_key(), AsBytes(before));
  {
    Result<std::unique_ptr<BlobStore>> store = BlobStore::Open(created.get());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(
        (*store)->Add(pb::BLOB_TYPE_DATA, old_id, AsBytes(before)).ok());
    ASSERT_TRUE((*store)->Flush().ok());
  }
  Result<uint32_t> epoch = created->RotateKeys();
  ASSERT_TRUE(epoch.ok()) << epoch.status().ToString();
  EXPECT_EQ(*epoch, 1u);
  const std::string after = "written after rotation";
  const crypto::Digest256 new_id =
      BlobId(created->keys().blob_id_key(), AsBytes(after));
  {
    Result<std::unique_ptr<BlobStore>> store = BlobStore::Open(created.get());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Add(pb::BLOB_TYPE_DATA, new_id, AsBytes(after)).ok());
    ASSERT_TRUE((*store)->Flush().ok());
  }
  Result<std::unique_ptr<Repository>> by_code =
      Repository::OpenWithRecoveryCode(&backend_, code_);
  ASSERT_TRUE(by_code.ok()) << by_code.status().ToString();
  EXPECT_EQ((*by_code)->write_epoch(), 1u);
  Result<std::unique_ptr<BlobStore>> store = BlobStore::Open(by_code->get());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->index().Find(old_id)->epoch, 0u);
  EXPECT_EQ((*store)->index().Find(new_id)->epoch, 1u);
  Result<Bytes> old_plain = (*store)->Read(old_id);
  Result<Bytes> new_plain = (*store)->Read(new_id);
  ASSERT_TRUE(old_plain.ok() && new_plain.ok());
  EXPECT_EQ(std::string(AsChars(*old_plain)), before);
  EXPECT_EQ(std::string(AsChars(*new_plain)), after);
  Result<std::unique_ptr<Repository>> by_pass =
      Repository::OpenWithPassphrase(&backend_, AsBytes("hunter2 hunter2"));
  ASSERT_TRUE(by_pass.ok());
  EXPECT_NE((*by_pass)->keys().epoch_key(1), nullptr);
}

// A rotation interrupted before the config names the new epoch leaves new
// data under the old one, which every holder still reads.
TEST_F(RepositoryTest, InterruptedRotationKeepsWritingTheOldEpoch) {
  storage::FaultBackend faulty(std::make_unique<storage::MemBackend>());
  const crypto::RecoveryCode code = crypto::RecoveryCode::Generate();
  Result<std::unique_ptr<Repository>> repo =
      Repository::Init(&faulty, AsBytes("pw pw pw"), code, FastOptions());
  ASSERT_TRUE(repo.ok());
  storage::FaultConfig fail_config;
  fail_config.ops = storage::OpBit(storage::OpKind::kSave);
  fail_config.fail_nth = 2;  // one key object rewritten, the other not
  faulty.Configure(fail_config);
  EXPECT_FALSE((*repo)->RotateKeys().ok());
  faulty.Configure({});
  Result<std::unique_ptr<Repository>> by_pass =
      Repository::OpenWithPassphrase(&faulty, AsBytes("pw pw pw"));
  Result<std::unique_ptr<Repository>> by_code =
      Repository::OpenWithRecoveryCode(&faulty, code);
  ASSERT_TRUE(by_pass.ok() && by_code.ok());
  // One holder has the new epoch, the other does not ...
  EXPECT_NE(((*by_pass)->keys().epoch_key(1) == nullptr),
            ((*by_code)->keys().epoch_key(1) == nullptr));
  // ... and nothing is written under it, so each reads what the other
  // writes.
  EXPECT_EQ((*by_pass)->write_epoch(), 0u);
  EXPECT_EQ((*by_code)->write_epoch(), 0u);
  for (auto [writer, reader] : {std::pair{by_pass->get(), by_code->get()},
                                std::pair{by_code->get(), by_pass->get()}}) {
    Result<std::string> id =
        writer->SaveObject(ObjectType::kSnapshot, "snapshots", pb::Snapshot());
    ASSERT_TRUE(id.ok());
    pb::Snapshot snap;
    EXPECT_TRUE(
        reader->LoadObject(ObjectType::kSnapshot, "snapshots", *id, &snap)
            .ok());
  }
}

// Anyone with write access to the storage can add a key object; a
// rotation gives the keys only to the holders the config lists.
TEST_F(RepositoryTest, RotationIgnoresKeyObjectsTheConfigDoesNotList) {
  std::unique_ptr<Repository> repo = InitRepo();
  ASSERT_NE(repo, nullptr);
  crypto::BoxKeyPair intruder = crypto::BoxKeyPair::Generate();
  pb::KeyObject planted;
  planted.set_format_version(1);
  planted.set_kind(pb::HOLDER_KIND_PASSPHRASE);
  planted.set_holder_public_key(
      std::string(AsChars(intruder.public_key().bytes())));
  const std::string name = "keys/" + HolderId(intruder.public_key());
  const std::string bytes = planted.SerializeAsString();
  ASSERT_TRUE(
      backend_.Save(name, AsBytes(bytes), storage::SaveMode::kCreateIfAbsent)
          .ok());
  ASSERT_TRUE(repo->RotateKeys().ok());
  Result<Bytes> after = backend_.Load(name, 0, storage::kToEnd);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(std::string(AsChars(*after)), bytes);  // never sealed to
  EXPECT_TRUE(Repository::OpenWithRecoveryCode(&backend_, code_).ok());
}

// Anyone who can write the store can seal a key bundle to a holder's public
// key (it is in the clear) and store it beside the genuine key object. It
// opens, but its keys do not open the config: opening goes on to the
// genuine one instead of failing.
TEST_F(RepositoryTest, ForgedKeyObjectDoesNotHideTheGenuineOne) {
  ASSERT_TRUE(Repository::Init(&backend_, AsBytes("pw"),
                               crypto::RecoveryCode::Generate(),
                               testing::FastInit())
                  .ok());
  std::vector<std::string> names;
  ASSERT_TRUE(backend_
                  .List("keys/",
                        [&](const storage::ObjectInfo& i) {
                          names.push_back(i.name);
                          return Status::OK();
                        })
                  .ok());
  int forged = 0;
  for (const std::string& name : names) {
    Result<Bytes> data = backend_.Load(name, 0, storage::kToEnd);
    ASSERT_TRUE(data.ok());
    pb::KeyObject object;
    ASSERT_TRUE(
        object.ParseFromArray(data->data(), static_cast<int>(data->size())));
    if (object.kind() != pb::HOLDER_KIND_PASSPHRASE) continue;
    Result<crypto::BoxPublicKey> pk =
        crypto::BoxPublicKey::FromBytes(AsBytes(object.holder_public_key()));
    ASSERT_TRUE(pk.ok());
    pb::KeyBundle bundle;
    bundle.set_repository_id(std::string(32, 'r'));
    Result<Bytes> holder_id =
        crypto::Blake2b(AsBytes(object.holder_public_key()), 32);
    ASSERT_TRUE(holder_id.ok());
    bundle.set_holder_id(std::string(AsChars(*holder_id)));
    bundle.set_id_key(std::string(32, 'i'));
    pb::EpochKey* epoch = bundle.add_epochs();
    epoch->set_number(0);
    epoch->set_key(std::string(32, 'e'));
    Result<Bytes> sealed =
        crypto::SealedBoxSeal(*pk, AsBytes(bundle.SerializeAsString()));
    ASSERT_TRUE(sealed.ok());
    object.set_sealed_bundle(std::string(AsChars(*sealed)));
    std::string bytes = object.SerializeAsString();
    // Listed first, so that it is tried first.
    ASSERT_TRUE(backend_
                    .Save("keys/" + std::string(64, '0'), AsBytes(bytes),
                          storage::SaveMode::kOverwrite)
                    .ok());
    ++forged;
  }
  ASSERT_EQ(forged, 1);
  Result<std::unique_ptr<Repository>> repo =
      Repository::OpenWithPassphrase(&backend_, AsBytes("pw"));
  EXPECT_TRUE(repo.ok()) << repo.status().ToString();
}

}  // namespace
}  // namespace chatvault::backup
