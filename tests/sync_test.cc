// Multi-device sync through every real backend (a local directory and S3 on
// the radosgw test server): join → link → follow gives the publisher's
// bytes; a one-message change reaches three followers, each fetching at
// most 64 KiB; a revoked device reads nothing new; tampered or rolled-back
// device lists and heads are refused; expired, replayed and refused link
// codes fail.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "backup/archiver.h"
#include "backup/object_codec.h"
#include "backup/sqlite_test_util.h"
#include "backup/test_util.h"
#include "storage/stats_backend.h"
#include "sync/account.h"
#include "sync/follower.h"
#include "sync/link.h"
#include "tests/crash_points.h"
#include "tests/storage_conformance/fixture.h"

namespace chatvault::sync {
namespace {

namespace fs = std::filesystem;
using Files = std::map<std::string, std::string>;

std::string Tmp() {
  std::string tmpl = "/tmp/cvsyncXXXXXX";
  return ::mkdtemp(tmpl.data());
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every regular file below `dir` (hidden sync temporaries would show too).
Files ReadTree(const std::string& dir) {
  Files files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) {
      files[fs::relative(e.path(), dir).string()] = ReadFile(e.path());
    }
  }
  return files;
}

// The names of the files that differ between two trees ("" if none), so
// that a failure does not print whole databases.
std::string Diff(const Files& got, const Files& want) {
  std::string out;
  for (const auto& [name, bytes] : want) {
    auto it = got.find(name);
    if (it == got.end()) {
      out += " missing:" + name;
    } else if (it->second != bytes) {
      out += " differs:" + name;
    }
  }
  for (const auto& [name, bytes] : got) {
    if (!want.contains(name)) out += " extra:" + name;
  }
  return out;
}

// Forwards to a backend it does not own, so that each device gets its own
// statistics over one store.
class Borrowed : public storage::Backend {
 public:
  explicit Borrowed(storage::Backend* b) : b_(b) {}
  Status Save(std::string_view n, ByteView d, storage::SaveMode m) override {
    return b_->Save(n, d, m);
  }
  Result<Bytes> Load(std::string_view n, uint64_t o, uint64_t l) override {
    return b_->Load(n, o, l);
  }
  Result<std::optional<Bytes>> LoadIfChanged(std::string_view n,
                                             std::string* tag) override {
    return b_->LoadIfChanged(n, tag);
  }
  Result<storage::ObjectInfo> Stat(std::string_view n) override {
    return b_->Stat(n);
  }
  Status List(std::string_view p, const storage::ListFn& fn) override {
    return b_->List(p, fn);
  }
  Status Remove(std::string_view n) override { return b_->Remove(n); }
  storage::BackendProperties Properties() const override {
    return b_->Properties();
  }

 private:
  storage::Backend* b_;
};

// A wall clock an hour behind, sleeping for real: a device whose link
// request expired before it was made.
class PastClock : public Clock {
 public:
  TimePoint Now() override { return Clock::Real()->Now(); }
  std::chrono::system_clock::time_point WallNow() override {
    return Clock::Real()->WallNow() - std::chrono::hours(1);
  }
  void SleepFor(Duration d) override { Clock::Real()->SleepFor(d); }
};

// One simulated device: its home, identity, cache and (once linked) its
// session.
struct Device {
  std::string home;
  std::string cache;
  std::string target;
  std::unique_ptr<DeviceIdentity> identity;
  std::unique_ptr<storage::StatsBackend> backend;
  std::unique_ptr<backup::Repository> repo;
  std::unique_ptr<Account> account;
  std::unique_ptr<Follower> follower;
};

class SyncTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<storage::testing::BackendFixture>> f =
        storage::testing::MakeFixture(GetParam());
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    fixture_ = std::move(*f);
    dir_ = Tmp();
    store_ = dir_ + "/store";
    fs::create_directories(store_ + "/Media");
    db_ = store_ + "/msgstore.db";
    backup::testing::Exec(
        db_,
        "PRAGMA journal_mode=DELETE; CREATE TABLE messages(id INTEGER "
        "PRIMARY KEY, chat INTEGER, body TEXT, read INTEGER);");
    std::string sql = "BEGIN;";
    std::mt19937 rng(7);
    for (int i = 0; i < 6000; ++i) {
      sql += "INSERT INTO messages(chat, body, read) VALUES(" +
             std::to_string(i % 40) + ", 'message " + std::to_string(rng()) +
             " in a chat about nothing much', 1);";
    }
    backup::testing::Exec(db_, sql + "COMMIT;");
    for (int i = 0; i < 3; ++i) {
      std::string photo(100'000 + i * 1000, '\0');
      for (char& c : photo) c = static_cast<char>(rng());
      std::ofstream(store_ + "/Media/IMG_" + std::to_string(i) + ".jpg",
                    std::ios::binary)
          << photo;
    }
    ASSERT_TRUE(backup::Repository::Init(fixture_->backend(), AsBytes("pw"),
                                         crypto::RecoveryCode::Generate(),
                                         backup::testing::FastInit())
                    .ok());
    phone_ = NewDevice("phone");
    Result<std::unique_ptr<backup::Repository>> repo =
        backup::Repository::OpenWithPassphrase(phone_->backend.get(),
                                               AsBytes("pw"));
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    phone_->repo = std::move(*repo);
    BindAccount(phone_.get());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Device> NewDevice(const std::string& name) {
    auto d = std::make_unique<Device>();
    d->home = dir_ + "/" + name + "/home";
    d->cache = dir_ + "/" + name + "/cache";
    d->target = dir_ + "/" + name + "/chats";
    Result<DeviceIdentity> id = DeviceIdentity::LoadOrCreate(d->home);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    d->identity = std::make_unique<DeviceIdentity>(std::move(*id));
    d->backend = std::make_unique<storage::StatsBackend>(
        std::make_unique<Borrowed>(fixture_->backend()));
    return d;
  }

  void BindAccount(Device* d) {
    Result<Account> a =
        Account::Open(d->repo.get(), d->home, d->identity.get());
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    d->account = std::make_unique<Account>(std::move(*a));
  }

  // Backs up the store on the phone and publishes it.
  pb::Head Publish() {
    backup::BackupOptions o;
    o.paths = {store_};
    o.cache_dir = dir_ + "/phone/cache";
    Result<backup::BackupResult> r = backup::Backup(phone_->repo.get(), o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    Result<pb::Head> head =
        phone_->account->PublishHead(r->snapshot_id, {store_});
    EXPECT_TRUE(head.ok()) << head.status().ToString();
    return head.ok() ? *head : pb::Head();
  }

  struct LinkOutcome {
    Status join;
    Status link;
    std::string join_sas;
    std::string link_sas;
    std::string code;
  };

  // Runs Join on `d` and Link with the phone's session at once.
  LinkOutcome RunLink(Device* d, bool confirm = true, Clock* clock = nullptr,
                      std::function<void(const std::string&)> on_code = {}) {
    LinkOutcome out;
    std::promise<std::string> code;
    JoinOptions jo;
    jo.name = "laptop";
    jo.poll_interval = std::chrono::milliseconds(20);
    if (clock != nullptr) jo.clock = clock;
    jo.on_code = [&](const std::string& c) {
      if (on_code) on_code(c);
      code.set_value(c);
    };
    jo.on_sas = [&](const std::string& s) { out.join_sas = s; };
    std::atomic<bool> stop{false};
    jo.cancelled = [&] { return stop.load(); };
    std::thread joiner([&] {
      Result<JoinResult> r = Join(d->backend.get(), d->home, *d->identity, jo);
      out.join = r.status();
    });
    out.code = code.get_future().get();
    LinkOptions lo;
    lo.linker_name = "phone";
    lo.confirm = [&](const std::string& s) {
      out.link_sas = s;
      return confirm;
    };
    Result<LinkResult> r = Link(*phone_->account, out.code, lo);
    out.link = r.status();
    if (!r.ok() && out.link.code() != StatusCode::kCancelled) stop = true;
    joiner.join();
    return out;
  }

  // Links `d`, opens the repository with its key and follows the phone.
  void LinkAndFollow(Device* d) {
    LinkOutcome o = RunLink(d);
    ASSERT_TRUE(o.link.ok()) << o.link.ToString();
    ASSERT_TRUE(o.join.ok()) << o.join.ToString();
    EXPECT_EQ(o.join_sas, o.link_sas);
    EXPECT_EQ(o.join_sas.size(), 7u);
    ASSERT_NO_FATAL_FAILURE(Reopen(d));
  }

  void Reopen(Device* d) {
    Result<std::unique_ptr<backup::Repository>> repo =
        backup::Repository::OpenWithDevice(d->backend.get(),
                                           d->identity->holder());
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    d->repo = std::move(*repo);
    ASSERT_NO_FATAL_FAILURE(BindAccount(d));
    Result<pb::DeviceList> list = d->account->LoadDevices();
    ASSERT_TRUE(list.ok()) << list.status().ToString();
    Result<pb::Device> phone =
        FindDevice(*list, phone_->identity->device_id_hex());
    ASSERT_TRUE(phone.ok()) << phone.status().ToString();
    if (d->follower) {
      d->follower->Rebind(d->account.get());
    } else {
      d->follower = std::make_unique<Follower>(
          d->account.get(), *phone,
          FollowOptions{.target = d->target, .cache_dir = d->cache});
    }
  }

  // Loaded bytes of `d`'s backend during `fn`.
  template <typename Fn>
  uint64_t LoadedDuring(Device* d, Fn&& fn) {
    uint64_t before = d->backend->Snapshot()
                          .ops[static_cast<size_t>(storage::OpKind::kLoad)]
                          .bytes;
    fn();
    return d->backend->Snapshot()
               .ops[static_cast<size_t>(storage::OpKind::kLoad)]
               .bytes -
           before;
  }

  std::string DevicesObject() {
    return "devices/" + HexEncode(phone_->repo->keys().repository_id());
  }

  std::unique_ptr<storage::testing::BackendFixture> fixture_;
  std::string dir_, store_, db_;
  std::unique_ptr<Device> phone_;
};

TEST_P(SyncTest, JoinLinkFollowGivesIdenticalBytes) {
  Publish();
  auto laptop = NewDevice("laptop");
  ASSERT_NO_FATAL_FAILURE(LinkAndFollow(laptop.get()));
  Result<FollowResult> r = laptop->follower->Poll();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->changed);
  EXPECT_EQ(Diff(ReadTree(laptop->target), ReadTree(store_)), "");
  // The device list shows both, the laptop as a linked desktop.
  Result<pb::DeviceList> list = laptop->account->LoadDevices();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->devices_size(), 2);
  EXPECT_EQ(list->devices(1).kind(), pb::DEVICE_KIND_DESKTOP);
  EXPECT_EQ(list->devices(1).name(), "laptop");
  // A linked device never gets the account signing key.
  EXPECT_FALSE(laptop->account->can_sign());
  // Nothing of the link stays in the repository.
  int left = 0;
  ASSERT_TRUE(fixture_->backend()
                  ->List("links/",
                         [&](const storage::ObjectInfo&) {
                           ++left;
                           return Status::OK();
                         })
                  .ok());
  EXPECT_EQ(left, 0);
  // Polling again without a new head reads nothing new.
  Result<FollowResult> again = laptop->follower->Poll();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed);
}

TEST_P(SyncTest, OneMessageReachesThreeFollowersCheaply) {
  Publish();
  std::vector<std::unique_ptr<Device>> followers;
  for (int i = 0; i < 3; ++i) {
    followers.push_back(NewDevice("f" + std::to_string(i)));
    ASSERT_NO_FATAL_FAILURE(LinkAndFollow(followers.back().get()));
    Result<FollowResult> r = followers.back()->follower->Poll();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  backup::testing::Exec(db_,
                        "INSERT INTO messages(chat, body, read) VALUES(3, "
                        "'see you at eight', 0);");
  Publish();
  for (auto& f : followers) {
    Result<FollowResult> r = Status::Unavailable("not polled");
    uint64_t loaded = LoadedDuring(f.get(), [&] { r = f->follower->Poll(); });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r->changed);
    EXPECT_EQ(r->files_written, 1u);  // the database alone
    EXPECT_LE(loaded, 64u << 10) << "fetched " << loaded << " bytes";
    RecordProperty("fetched_bytes", static_cast<int>(loaded));
    std::cout << "follower fetched " << loaded << " bytes\n";
    EXPECT_GT(r->blobs_local, 0u);
    EXPECT_EQ(Diff(ReadTree(f->target), ReadTree(store_)), "");
  }
}

TEST_P(SyncTest, TargetFileChangedLocallyIsNotTrusted) {
  Publish();
  auto laptop = NewDevice("laptop");
  ASSERT_NO_FATAL_FAILURE(LinkAndFollow(laptop.get()));
  ASSERT_TRUE(laptop->follower->Poll().ok());
  // Something scribbles over the mirror's database, keeping its size: its
  // bytes no longer match the blobs the manifest lists.
  {
    std::fstream db(laptop->target + "/msgstore.db",
                    std::ios::in | std::ios::out | std::ios::binary);
    db.seekp(8192);
    db << std::string(16384, 'X');
  }
  backup::testing::Exec(db_, "UPDATE messages SET read = 0 WHERE id = 3;");
  Publish();
  Result<FollowResult> r = laptop->follower->Poll();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Diff(ReadTree(laptop->target), ReadTree(store_)), "");
}

TEST_P(SyncTest, LostManifestAdoptsWhatTheTargetHolds) {
  Publish();
  auto laptop = NewDevice("laptop");
  ASSERT_NO_FATAL_FAILURE(LinkAndFollow(laptop.get()));
  ASSERT_TRUE(laptop->follower->Poll().ok());
  // The cache goes (cleaned, or another --cache-dir): the manifest is in
  // the device's home, so only the changed file is written.
  fs::remove_all(laptop->cache);
  backup::testing::Exec(db_, "UPDATE messages SET read = 0 WHERE id = 9;");
  Publish();
  laptop->follower.reset();
  ASSERT_NO_FATAL_FAILURE(Reopen(laptop.get()));
  Result<FollowResult> r = laptop->follower->Poll();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files_written, 1u);
  // The manifest goes too (or a sync stopped before saving it): files that
  // hold the snapshot's content are checked and taken as they are.
  fs::remove_all(laptop->home + "/sync");
  laptop->follower.reset();
  ASSERT_NO_FATAL_FAILURE(Reopen(laptop.get()));
  r = laptop->follower->Poll();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files_written, 0u);
  backup::testing::Exec(db_, "UPDATE messages SET read = 1 WHERE id = 9;");
  Publish();
  r = laptop->follower->Poll();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files_written, 1u);
  EXPECT_EQ(Diff(ReadTree(laptop->target), ReadTree(store_)), "");
}

TEST_P(SyncTest, ReplacedSnapshotAndRolledBackConfigAreRefused) {
  pb::Head first = Publish();
  auto laptop = NewDevice("laptop");
  ASSERT_NO_FATAL_FAILURE(LinkAndFollow(laptop.get()));
  storage::Backend* b = fixture_->backend();
  // Someone holding an epoch key puts another snapshot under the name the
  // signed head gives: the head's tree no longer matches.
  const std::string name = "snapshots/" + HexEncode(AsBytes(first.snapshot()));
  Result<Bytes> genuine = b->Load(name, 0, storage::kToEnd);
  ASSERT_TRUE(genuine.ok());
  pb::Snapshot forged;
  forged.set_tree(std::string(32, '\7'));
  forged.add_paths(store_);
  ASSERT_TRUE(phone_->repo
                  ->SaveObjectAs(backup::ObjectType::kSnapshot, "snapshots",
                                 HexEncode(AsBytes(first.snapshot())), forged,
                                 storage::SaveMode::kOverwrite)
                  .ok());
  Result<FollowResult> r = laptop->follower->Poll();
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("replaced"), std::string::npos);
  ASSERT_TRUE(b->Save(name, *genuine).ok());
  ASSERT_TRUE(laptop->follower->Poll().ok());

  // The config put back to before a rotation, as a revoked device could:
  // a device that saw the new epoch refuses it.
  Result<Bytes> old_config = b->Load("config", 0, storage::kToEnd);
  ASSERT_TRUE(old_config.ok());
  ASSERT_TRUE(CheckWriteEpoch(phone_->home, phone_->repo.get()).ok());
  ASSERT_TRUE(phone_->repo->RotateKeys().ok());
  ASSERT_TRUE(CheckWriteEpoch(phone_->home, phone_->repo.get()).ok());
  ASSERT_TRUE(b->Save("config", *old_config).ok());
  Result<std::unique_ptr<backup::Repository>> reopened =
      backup::Repository::OpenWithPassphrase(b, AsBytes("pw"));
  ASSERT_TRUE(reopened.ok());
  Status s = CheckWriteEpoch(phone_->home, reopened->get());
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("went back"), std::string::npos);
}

TEST_P(SyncTest, LinkedDeviceCannotChangeTheAccountKeys) {
  Publish();
  auto laptop = NewDevice("laptop");
  ASSERT_NO_FATAL_FAILURE(LinkAndFollow(laptop.get()));
  EXPECT_EQ(laptop->repo->RotateKeys().status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(laptop->repo->ChangePassphrase(AsBytes("new")).code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(laptop->repo->ReplaceRecoveryCode(crypto::RecoveryCode::Generate())
                .code(),
            StatusCode::kPermissionDenied);
  // The passphrase still opens the repository with the account key.
  Result<std::unique_ptr<backup::Repository>> repo =
      backup::Repository::OpenWithPassphrase(fixture_->backend(),
                                             AsBytes("pw"));
  ASSERT_TRUE(repo.ok());
  EXPECT_TRUE((*repo)->keys().account().has_value());
}

TEST_P(SyncTest, FileRemovedFromTheTargetComesBack) {
  Publish();
  auto laptop = NewDevice("laptop");
  ASSERT_NO_FATAL_FAILURE(LinkAndFollow(laptop.get()));
  ASSERT_TRUE(laptop->follower->Poll().ok());
  fs::remove(laptop->target + "/Media/IMG_2.jpg");
  // Nothing new was published; a new sync still notices the target is not
  // what it left, and puts back only what is missing.
  laptop->follower.reset();
  ASSERT_NO_FATAL_FAILURE(Reopen(laptop.get()));
  Result<FollowResult> r = laptop->follower->Poll();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files_written, 1u);
  EXPECT_EQ(Diff(ReadTree(laptop->target), ReadTree(store_)), "");
}

TEST_P(SyncTest, FilesRemovedAndAddedFollow) {
  Publish();
  auto laptop = NewDevice("laptop");
  ASSERT_NO_FATAL_FAILURE(LinkAndFollow(laptop.get()));
  ASSERT_TRUE(laptop->follower->Poll().ok());
  // A file of the follower's own in the target is left alone.
  std::ofstream(laptop->target + "/notes.txt") << "mine";
  fs::remove(store_ + "/Media/IMG_1.jpg");
  fs::create_directories(store_ + "/Media/Sent");
  std::ofstream(store_ + "/Media/Sent/voice.opus") << "ogg voice note";
  Publish();
  Result<FollowResult> r = laptop->follower->Poll();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files_removed, 1u);
  Files want = ReadTree(store_);
  want["notes.txt"] = "mine";
  EXPECT_EQ(Diff(ReadTree(laptop->target), want), "");
}

TEST_P(SyncTest, RevokedDeviceCannotReadNewData) {
  Publish();
  auto kept = NewDevice("kept");
  auto lost = NewDevice("lost");
  ASSERT_NO_FATAL_FAILURE(LinkAndFollow(kept.get()));
  ASSERT_NO_FATAL_FAILURE(LinkAndFollow(lost.get()));
  ASSERT_TRUE(kept->follower->Poll().ok());
  ASSERT_TRUE(lost->follower->Poll().ok());

  Result<pb::DeviceList> list = phone_->account->LoadDevices();
  ASSERT_TRUE(list.ok());
  Result<pb::Device> victim =
      FindDevice(*list, lost->identity->device_id_hex());
  ASSERT_TRUE(victim.ok());
  Result<uint32_t> epoch = Revoke(*phone_->account, *victim);
  ASSERT_TRUE(epoch.ok()) << epoch.status().ToString();
  EXPECT_EQ(*epoch, 1u);
  backup::testing::Exec(db_, "UPDATE messages SET read = 0 WHERE id = 17;");
  Publish();

  // The revoked device's open session cannot read the new head, ...
  Result<FollowResult> r = lost->follower->Poll();
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied)
      << r.status().ToString();
  // ... nor open the repository again.
  Result<std::unique_ptr<backup::Repository>> reopened =
      backup::Repository::OpenWithDevice(lost->backend.get(),
                                         lost->identity->holder());
  EXPECT_EQ(reopened.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(reopened.status().message().find("revoked"), std::string::npos);
  // Nor can its old keys open what is written now.
  Result<Bytes> head = fixture_->backend()->Load(
      "heads/" + phone_->identity->device_id_hex(), 0, storage::kToEnd);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(
      lost->account
          ->VerifyHead(*FindDevice(*list, phone_->identity->device_id_hex()),
                       *head)
          .status()
          .code(),
      StatusCode::kPermissionDenied);

  // The kept device learns the new epoch by reopening, and follows.
  r = kept->follower->Poll();
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  ASSERT_NO_FATAL_FAILURE(Reopen(kept.get()));
  r = kept->follower->Poll();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Diff(ReadTree(kept->target), ReadTree(store_)), "");
  // The list shows the revocation.
  Result<pb::DeviceList> after = kept->account->LoadDevices();
  ASSERT_TRUE(after.ok());
  Result<pb::Device> gone = FindDevice(*after, lost->identity->device_id_hex());
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->status(), pb::DEVICE_STATUS_REVOKED);
}

TEST_P(SyncTest, TamperedAndRolledBackDeviceListsAreRefused) {
  Publish();
  auto laptop = NewDevice("laptop");
  Result<Bytes> v1 =
      fixture_->backend()->Load(DevicesObject(), 0, storage::kToEnd);
  ASSERT_TRUE(v1.ok());
  ASSERT_NO_FATAL_FAILURE(LinkAndFollow(laptop.get()));  // version 2
  Result<Bytes> v2 =
      fixture_->backend()->Load(DevicesObject(), 0, storage::kToEnd);
  ASSERT_TRUE(v2.ok());
  storage::Backend* b = fixture_->backend();

  // Rolled back to version 1.
  ASSERT_TRUE(b->Save(DevicesObject(), *v1).ok());
  Result<pb::DeviceList> r = laptop->account->LoadDevices();
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("rolled back"), std::string::npos);

  // A flipped bit.
  Bytes flipped = *v2;
  flipped[flipped.size() / 2] ^= std::byte{1};
  ASSERT_TRUE(b->Save(DevicesObject(), flipped).ok());
  EXPECT_EQ(laptop->account->LoadDevices().status().code(),
            StatusCode::kCorruption);

  // Sealed right (as anyone holding an epoch key could) but signed by
  // another key: adding an attacker's device.
  pb::DeviceList forged;
  forged.set_repository_id(
      std::string(AsChars(phone_->repo->keys().repository_id())));
  forged.set_version(99);
  forged.add_devices()->set_name("attacker");
  crypto::SigningKey other = crypto::SigningKey::Generate();
  pb::SignedDeviceList signed_list;
  signed_list.set_list(forged.SerializeAsString());
  crypto::Signature sig =
      other.Sign(DeviceListSignedBytes(99, AsBytes(signed_list.list())));
  signed_list.set_signature(std::string(AsChars(sig)));
  ASSERT_TRUE(
      phone_->repo
          ->SaveObjectAs(backup::ObjectType::kDeviceList, "devices",
                         HexEncode(phone_->repo->keys().repository_id()),
                         signed_list, storage::SaveMode::kOverwrite)
          .ok());
  r = laptop->account->LoadDevices();
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("not signed"), std::string::npos);

  // Deleted altogether after the device saw it.
  ASSERT_TRUE(b->Remove(DevicesObject()).ok());
  EXPECT_EQ(laptop->account->LoadDevices().status().code(),
            StatusCode::kCorruption);
  // Restored: fine again.
  ASSERT_TRUE(b->Save(DevicesObject(), *v2).ok());
  EXPECT_TRUE(laptop->account->LoadDevices().ok());
}

TEST_P(SyncTest, TamperedAndRolledBackHeadsAreRefused) {
  Publish();
  auto laptop = NewDevice("laptop");
  ASSERT_NO_FATAL_FAILURE(LinkAndFollow(laptop.get()));
  ASSERT_TRUE(laptop->follower->Poll().ok());
  const std::string head_name = "heads/" + phone_->identity->device_id_hex();
  storage::Backend* b = fixture_->backend();
  Result<Bytes> old = b->Load(head_name, 0, storage::kToEnd);
  ASSERT_TRUE(old.ok());
  backup::testing::Exec(db_, "DELETE FROM messages WHERE id = 5;");
  Publish();
  ASSERT_TRUE(laptop->follower->Poll().ok());
  Result<Bytes> current = b->Load(head_name, 0, storage::kToEnd);
  ASSERT_TRUE(current.ok());

  // The older head put back.
  ASSERT_TRUE(b->Save(head_name, *old).ok());
  Result<FollowResult> r = laptop->follower->Poll();
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("rolled back"), std::string::npos);

  // A flipped bit.
  Bytes flipped = *current;
  flipped[flipped.size() - 20] ^= std::byte{0x40};
  ASSERT_TRUE(b->Save(head_name, flipped).ok());
  EXPECT_EQ(laptop->follower->Poll().status().code(), StatusCode::kCorruption);

  // Sealed right but signed by a key that is not the phone's.
  pb::Head head;
  head.set_repository_id(
      std::string(AsChars(phone_->repo->keys().repository_id())));
  head.set_device_id(std::string(AsChars(phone_->identity->device_id())));
  head.set_version(UINT64_MAX / 2);
  head.set_snapshot(std::string(32, '\1'));
  head.add_paths("/");
  pb::SignedHead signed_head;
  signed_head.set_head(head.SerializeAsString());
  crypto::SigningKey other = crypto::SigningKey::Generate();
  crypto::Signature sig =
      other.Sign(HeadSignedBytes(head.version(), AsBytes(signed_head.head())));
  signed_head.set_signature(std::string(AsChars(sig)));
  ASSERT_TRUE(phone_->repo
                  ->SaveObjectAs(backup::ObjectType::kHead, "heads",
                                 phone_->identity->device_id_hex(), signed_head,
                                 storage::SaveMode::kOverwrite)
                  .ok());
  r = laptop->follower->Poll();
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("not signed"), std::string::npos);

  // The genuine head again: followed, target intact.
  ASSERT_TRUE(b->Save(head_name, *current).ok());
  r = laptop->follower->Poll();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Diff(ReadTree(laptop->target), ReadTree(store_)), "");
}

TEST_P(SyncTest, ExpiredReplayedAndRefusedLinkCodesFail) {
  // Expired: the new device's clock made the request an hour ago.
  {
    auto late = NewDevice("late");
    PastClock past;
    LinkOutcome o = RunLink(late.get(), true, &past);
    EXPECT_EQ(o.link.code(), StatusCode::kExpired) << o.link.ToString();
    EXPECT_NE(o.link.message().find("expired"), std::string::npos);
    EXPECT_EQ(o.join.code(), StatusCode::kCancelled);
  }
  // Replayed: the code again after it linked, and with its request put
  // back in the repository.
  {
    auto laptop = NewDevice("laptop");
    std::string request_name;
    Bytes request;
    LinkOutcome o =
        RunLink(laptop.get(), true, nullptr, [&](const std::string&) {
          fixture_->backend()
              ->List("links/",
                     [&](const storage::ObjectInfo& info) {
                       request_name = info.name;
                       return Status::OK();
                     })
              .IgnoreError();
          request =
              *fixture_->backend()->Load(request_name, 0, storage::kToEnd);
        });
    ASSERT_TRUE(o.link.ok()) << o.link.ToString();
    ASSERT_TRUE(o.join.ok()) << o.join.ToString();
    Result<LinkResult> again = Link(*phone_->account, o.code, LinkOptions{});
    EXPECT_EQ(again.status().code(), StatusCode::kExpired);
    ASSERT_TRUE(fixture_->backend()->Save(request_name, request).ok());
    again = Link(*phone_->account, o.code, LinkOptions{});
    EXPECT_EQ(again.status().code(), StatusCode::kExpired);
    EXPECT_NE(again.status().message().find("used already"), std::string::npos)
        << again.status().ToString();
  }
  // Refused: the strings did not match; the new device is told.
  {
    auto other = NewDevice("other");
    LinkOutcome o = RunLink(other.get(), /*confirm=*/false);
    EXPECT_EQ(o.link.code(), StatusCode::kCancelled);
    EXPECT_EQ(o.join.code(), StatusCode::kPermissionDenied);
    EXPECT_EQ(backup::Repository::OpenWithDevice(other->backend.get(),
                                                 other->identity->holder())
                  .status()
                  .code(),
              StatusCode::kPermissionDenied);
  }
  // Malformed and mistyped codes.
  EXPECT_EQ(Link(*phone_->account, "ABC", LinkOptions{}).status().code(),
            StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Backends, SyncTest, ::testing::Values("Local", "S3"),
                         [](const auto& info) { return info.param; });

// A follower killed (kill -9) at each read of its sync, between the files
// it writes: whatever is in the target under a file's own name is a whole
// version of that file, and the next sync makes the target identical to
// the store. Local only: the child process would share the parent's S3
// connections; the storage side of kills is tests/crash_test.cc's.
class SyncCrashTest : public SyncTest {};

TEST_P(SyncCrashTest, KilledSyncLeavesWholeFilesAndResumes) {
  Publish();
  auto laptop = NewDevice("laptop");
  ASSERT_NO_FATAL_FAILURE(LinkAndFollow(laptop.get()));
  ASSERT_TRUE(laptop->follower->Poll().ok());
  const Files v1 = ReadTree(store_);
  // A day of chat: changed rows, a new photo.
  backup::testing::Exec(db_,
                        "UPDATE messages SET read = 0 WHERE id % 7 = 0;"
                        "INSERT INTO messages(chat, body, read) "
                        "VALUES(3, 'new', 0);");
  std::string photo(150'000, '\0');
  std::mt19937 rng(11);
  for (char& c : photo) c = static_cast<char>(rng());
  std::ofstream(store_ + "/Media/IMG_new.jpg", std::ios::binary) << photo;
  Publish();
  const Files v2 = ReadTree(store_);

  // The laptop's state before the sync, put back before each kill.
  const std::string saved = dir_ + "/laptop-saved";
  fs::create_directories(saved);
  for (const char* part : {"/home", "/cache", "/chats"}) {
    fs::copy(dir_ + "/laptop" + part, saved + part,
             fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  }
  auto put_back = [&] {
    for (const char* part : {"/home", "/cache", "/chats"}) {
      fs::remove_all(dir_ + "/laptop" + part);
      fs::copy(saved + part, dir_ + "/laptop" + part,
               fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    }
  };
  Result<pb::DeviceList> list = laptop->account->LoadDevices();
  ASSERT_TRUE(list.ok());
  Result<pb::Device> phone =
      FindDevice(*list, phone_->identity->device_id_hex());
  ASSERT_TRUE(phone.ok());
  // One sync of v2 by a process of its own, with a backend of its own.
  bool changed = false;
  auto sync = [&](chatvault::testing::Points* points) -> Status {
    auto b = std::make_unique<chatvault::testing::CrashBackend>(
        std::make_unique<Borrowed>(fixture_->backend()), points, true);
    ASSIGN_OR_RETURN(std::unique_ptr<backup::Repository> repo,
                     backup::Repository::OpenWithDevice(
                         b.get(), laptop->identity->holder()));
    ASSIGN_OR_RETURN(Account account, Account::Open(repo.get(), laptop->home,
                                                    laptop->identity.get()));
    Follower f(
        &account, *phone,
        FollowOptions{.target = laptop->target, .cache_dir = laptop->cache});
    ASSIGN_OR_RETURN(FollowResult r, f.Poll());
    changed = r.changed;
    return Status::OK();
  };
  uint64_t total = 0;
  {
    chatvault::testing::Points census(0);
    Status s = sync(&census);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_TRUE(changed);
    total = census.count();
    ASSERT_EQ(Diff(ReadTree(laptop->target), v2), "");
  }
  ASSERT_GT(total, 5u);
  uint64_t killed = 0;
  for (uint64_t k = 1; k <= total; ++k) {
    SCOPED_TRACE("kill at read " + std::to_string(k) + " of " +
                 std::to_string(total));
    put_back();
    std::string outcome = chatvault::testing::RunInChild(k, sync);
    ASSERT_TRUE(outcome == "killed" || outcome == "completed") << outcome;
    killed += outcome == "killed";
    for (const auto& [name, bytes] : ReadTree(laptop->target)) {
      if (fs::path(name).filename().string().starts_with(".")) continue;
      bool whole = (v1.contains(name) && v1.at(name) == bytes) ||
                   (v2.contains(name) && v2.at(name) == bytes);
      EXPECT_TRUE(whole) << name << " is neither version";
    }
    chatvault::testing::Points none(0);
    Status again = sync(&none);
    ASSERT_TRUE(again.ok()) << again.ToString();
    EXPECT_EQ(Diff(ReadTree(laptop->target), v2), "");
  }
  printf("crash-summary backend=%s op=sync points=%llu killed=%llu\n",
         GetParam().c_str(), (unsigned long long)total,
         (unsigned long long)killed);
}

INSTANTIATE_TEST_SUITE_P(Local, SyncCrashTest, ::testing::Values("Local"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace chatvault::sync
