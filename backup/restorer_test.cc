// Restoring into targets that are not empty or hold planted symlinks, from
// snapshots built node by node (as a hostile repository could), and
// restores that fail half way.
#include "backup/restorer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "backup/blob_store.h"
#include "backup/pack.h"
#include "backup/test_util.h"
#include "storage/mem_backend.h"

namespace chatvault::backup {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

// The names in `dir`, sorted.
std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

bool IsSymlink(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

bool IsDir(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

class RestorerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cvrestXXXXXX";
    dir_ = mkdtemp(tmpl);
    target_ = dir_ + "/target";
    outside_ = dir_ + "/outside";
    fs::create_directories(target_);
    fs::create_directories(outside_);
    std::ofstream(outside_ + "/keep") << "outside";
    Result<std::unique_ptr<Repository>> r =
        Repository::Init(&backend_, AsBytes("pw"),
                         crypto::RecoveryCode::Generate(), testing::FastInit());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    repo_ = std::move(*r);
    Result<std::unique_ptr<BlobStore>> store = BlobStore::Open(repo_.get());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Stores `bytes` as a blob of `type` and returns its ID.
  std::string AddBlob(pb::BlobType type, const std::string& bytes) {
    crypto::Digest256 id = BlobId(repo_->keys().blob_id_key(), AsBytes(bytes));
    EXPECT_TRUE(store_->Add(type, id, AsBytes(bytes)).ok());
    return std::string(AsChars(id));
  }

  pb::Node File(const std::string& name, const std::string& content) {
    pb::Node n;
    n.set_name(name);
    n.set_type(pb::NODE_TYPE_FILE);
    n.set_mode(0640);
    n.set_mtime_ns(1'600'000'000'123'456'789);
    n.set_size(content.size());
    if (!content.empty())
      *n.add_content() = AddBlob(pb::BLOB_TYPE_DATA, content);
    return n;
  }

  pb::Node Dir(const std::string& name, const std::vector<pb::Node>& nodes) {
    pb::Node n;
    n.set_name(name);
    n.set_type(pb::NODE_TYPE_DIR);
    n.set_mode(0750);
    n.set_mtime_ns(1'500'000'000'000'000'000);
    n.set_subtree(Tree(nodes));
    return n;
  }

  static pb::Node Link(const std::string& name, const std::string& to) {
    pb::Node n;
    n.set_name(name);
    n.set_type(pb::NODE_TYPE_SYMLINK);
    n.set_link_target(to);
    return n;
  }

  std::string Tree(const std::vector<pb::Node>& nodes) {
    pb::Tree tree;
    for (const pb::Node& n : nodes) *tree.add_nodes() = n;
    return AddBlob(pb::BLOB_TYPE_TREE, tree.SerializeAsString());
  }

  // A snapshot whose root directory holds `nodes`, in this order (which
  // need not be sorted, nor the names distinct).
  std::string Snapshot(const std::vector<pb::Node>& nodes) {
    pb::Snapshot snap;
    snap.set_tree(Tree(nodes));
    EXPECT_TRUE(store_->Flush().ok());
    Result<std::string> id =
        repo_->SaveObject(ObjectType::kSnapshot, "snapshots", snap);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : "";
  }

  Result<RestoreResult> RestoreTo(const std::string& id, bool overwrite) {
    RestoreOptions o;
    o.target = target_;
    o.overwrite = overwrite;
    return Restore(repo_.get(), id, o);
  }

  // The planted or hostile links below point here; nothing may change.
  void ExpectOutsideUntouched() {
    EXPECT_EQ(Names(outside_), std::vector<std::string>{"keep"});
    EXPECT_EQ(ReadAll(outside_ + "/keep"), "outside");
  }

  std::string dir_, target_, outside_;
  storage::MemBackend backend_;
  std::unique_ptr<Repository> repo_;
  std::unique_ptr<BlobStore> store_;
};

TEST_F(RestorerTest, SymlinkInTargetWhereSnapshotHasADirectoryIsNotFollowed) {
  std::string id = Snapshot({Dir("d", {File("f", "data")})});
  ASSERT_EQ(::symlink(outside_.c_str(), (target_ + "/d").c_str()), 0);

  Result<RestoreResult> r = RestoreTo(id, false);
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(r.status().message().find("'" + target_ + "/d' exists and is not"),
            std::string::npos)
      << r.status().ToString();
  EXPECT_NE(r.status().message().find("--overwrite"), std::string::npos);
  EXPECT_TRUE(IsSymlink(target_ + "/d"));
  ExpectOutsideUntouched();

  r = RestoreTo(id, true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(IsDir(target_ + "/d"));
  EXPECT_EQ(ReadAll(target_ + "/d/f"), "data");
  ExpectOutsideUntouched();
}

TEST_F(RestorerTest,
       SymlinkInTargetWhereSnapshotHasAFileIsReplacedNotFollowed) {
  std::string id = Snapshot({File("f", "new")});
  ASSERT_EQ(::symlink((outside_ + "/keep").c_str(), (target_ + "/f").c_str()),
            0);
  EXPECT_EQ(RestoreTo(id, false).status().code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(IsSymlink(target_ + "/f"));
  ExpectOutsideUntouched();

  ASSERT_TRUE(RestoreTo(id, true).ok());
  EXPECT_FALSE(IsSymlink(target_ + "/f"));
  EXPECT_EQ(ReadAll(target_ + "/f"), "new");
  ExpectOutsideUntouched();
}

// A hostile tree: a symlink out of the target, then a directory and a file
// of the same names, whose contents would land outside if the restore
// followed the links it had just made.
TEST_F(RestorerTest, SymlinkMadeByTheRestoreItselfIsNotFollowed) {
  std::string id = Snapshot({Link("a", outside_), Dir("a", {File("f", "x")}),
                             Link("b", outside_ + "/keep"), File("b", "x")});
  Result<RestoreResult> r = RestoreTo(id, false);
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists)
      << r.status().ToString();
  ExpectOutsideUntouched();
  fs::remove_all(target_);

  r = RestoreTo(id, true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(IsDir(target_ + "/a"));
  EXPECT_EQ(ReadAll(target_ + "/a/f"), "x");
  EXPECT_FALSE(IsSymlink(target_ + "/b"));
  EXPECT_EQ(ReadAll(target_ + "/b"), "x");
  ExpectOutsideUntouched();
}

TEST_F(RestorerTest, ExistingFileIsRefusedUnlessOverwriteAndDirsAreMerged) {
  std::string id =
      Snapshot({Dir("d", {File("g", "snapshot g")}), File("f", "snapshot f")});
  fs::create_directories(target_ + "/d");
  std::ofstream(target_ + "/d/mine") << "mine";
  std::ofstream(target_ + "/f") << "old";

  Result<RestoreResult> r = RestoreTo(id, false);
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(r.status().message().find("'" + target_ + "/f' already exists"),
            std::string::npos)
      << r.status().ToString();
  EXPECT_NE(r.status().message().find("--overwrite"), std::string::npos);
  EXPECT_EQ(ReadAll(target_ + "/f"), "old");
  // The directory before "f" was merged into, not refused.
  EXPECT_EQ(ReadAll(target_ + "/d/g"), "snapshot g");

  r = RestoreTo(id, true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files, 2u);
  EXPECT_EQ(ReadAll(target_ + "/f"), "snapshot f");
  EXPECT_EQ(ReadAll(target_ + "/d/g"), "snapshot g");
  EXPECT_EQ(ReadAll(target_ + "/d/mine"), "mine");
  struct stat st;
  ASSERT_EQ(::stat((target_ + "/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'600'000'000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123'456'789);
  ASSERT_EQ(::stat((target_ + "/d").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(Names(target_), (std::vector<std::string>{"d", "f"}));
}

TEST_F(RestorerTest, DirectoryWhereSnapshotHasAFileIsNeverReplaced) {
  std::string id = Snapshot({File("f", "data")});
  fs::create_directories(target_ + "/f");
  std::ofstream(target_ + "/f/mine") << "mine";
  for (bool overwrite : {false, true}) {
    Result<RestoreResult> r = RestoreTo(id, overwrite);
    EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists) << overwrite;
    EXPECT_NE(r.status().message().find(target_ + "/f' is a directory"),
              std::string::npos)
        << r.status().ToString();
    EXPECT_EQ(ReadAll(target_ + "/f/mine"), "mine");
    EXPECT_EQ(Names(target_), std::vector<std::string>{"f"});
  }
}

TEST_F(RestorerTest, FailedFileLeavesNoPartialFileUnderItsNameNorTemporary) {
  pb::Node missing_chunk = File("bad", "first chunk");
  *missing_chunk.add_content() = std::string(32, 'z');  // not in the repo
  missing_chunk.set_size(missing_chunk.size() + 10);
  pb::Node wrong_size = File("bad", "first chunk");
  wrong_size.set_size(wrong_size.size() + 1);
  for (const pb::Node& bad : {missing_chunk, wrong_size}) {
    fs::remove_all(target_);
    std::string id = Snapshot({File("a-good", "ok"), bad});
    Result<RestoreResult> r = RestoreTo(id, false);
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(target_ + "/bad"), std::string::npos)
        << r.status().ToString();
    EXPECT_EQ(Names(target_), std::vector<std::string>{"a-good"});

    // With --overwrite, the file that was there stays as it was.
    std::ofstream(target_ + "/bad") << "previous";
    r = RestoreTo(id, true);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(ReadAll(target_ + "/bad"), "previous");
    EXPECT_EQ(Names(target_), (std::vector<std::string>{"a-good", "bad"}));
  }
}

// The temporary name must fit NAME_MAX whatever the length of the name.
TEST_F(RestorerTest, LongestNamesRestoreThroughTheirTemporaryNames) {
  const std::string name(255, 'n');
  ASSERT_TRUE(RestoreTo(Snapshot({File(name, "long")}), false).ok());
  EXPECT_EQ(ReadAll(target_ + "/" + name), "long");
  ASSERT_TRUE(RestoreTo(Snapshot({Link(name, "x")}), true).ok());
  EXPECT_TRUE(IsSymlink(target_ + "/" + name));
  EXPECT_EQ(Names(target_), std::vector<std::string>{name});
}

TEST_F(RestorerTest, EmptyFilesAndLinksRestoreWithoutFollowingTheLinks) {
  std::string id = Snapshot({File("empty", ""), Link("l", outside_ + "/keep"),
                             Link("dangling", "../no/such/file")});
  Result<RestoreResult> r = RestoreTo(id, false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files, 1u);
  EXPECT_EQ(r->symlinks, 2u);
  EXPECT_TRUE(fs::is_regular_file(target_ + "/empty"));
  EXPECT_EQ(fs::file_size(target_ + "/empty"), 0u);
  EXPECT_EQ(fs::read_symlink(target_ + "/l"), outside_ + "/keep");
  EXPECT_EQ(fs::read_symlink(target_ + "/dangling"), "../no/such/file");
  ExpectOutsideUntouched();
}

// Regression: a time before 1970 with a fraction of a second gave negative
// nanoseconds, which utimensat refuses.
TEST_F(RestorerTest, TimesBefore1970AreRestored) {
  pb::Node file = File("old", "data");
  file.set_mtime_ns(-1'500'000'000);
  ASSERT_TRUE(RestoreTo(Snapshot({file}), false).ok());
  struct stat st;
  ASSERT_EQ(::stat((target_ + "/old").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, -2);
  EXPECT_EQ(st.st_mtim.tv_nsec, 500'000'000);
}

// Owners are restored by root only; anyone else restores as themselves,
// without failing.
TEST_F(RestorerTest, OwnersAreRestoredOnlyAsRoot) {
  pb::Node file = File("f", "data");
  pb::Node link = Link("l", "f");
  for (pb::Node* n : {&file, &link}) {
    n->set_uid(12345);
    n->set_gid(23456);
  }
  pb::Node dir = Dir("d", {file, link});
  dir.set_uid(12345);
  dir.set_gid(23456);
  std::string id = Snapshot({dir});
  const bool root = ::geteuid() == 0;

  ASSERT_TRUE(RestoreTo(id, false).ok());
  for (const char* p : {"/d", "/d/f", "/d/l"}) {
    struct stat st;
    ASSERT_EQ(::lstat((target_ + p).c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_uid, root ? 12345u : ::geteuid()) << p;
    EXPECT_EQ(st.st_gid, root ? 23456u : ::getegid()) << p;
  }
  if (!root) return;

  // The same restore by an ordinary user, as root's tests can run one.
  const std::string mine = dir_ + "/nobody";
  fs::create_directories(mine);
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  ASSERT_EQ(::chown(mine.c_str(), testing::kNobody, testing::kNobody), 0);
  RestoreOptions o;
  o.target = mine;
  {
    testing::ScopedEffectiveId nobody(testing::kNobody);
    Result<RestoreResult> r = Restore(repo_.get(), id, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  for (const char* p : {"/d", "/d/f", "/d/l"}) {
    struct stat st;
    ASSERT_EQ(::lstat((mine + p).c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_uid, testing::kNobody) << p;
    EXPECT_EQ(st.st_gid, testing::kNobody) << p;
  }
}

}  // namespace
}  // namespace chatvault::backup

namespace chatvault::backup {
namespace {

// Files other than databases are restored newest first: when the restore
// stops half way, the newest are there and the oldest are not, whatever
// their order in the tree.
TEST_F(RestorerTest, FilesAreRestoredNewestFirst) {
  pb::Node oldest = File("a", "oldest");
  oldest.set_mtime_ns(1'000'000'000'000'000'000);
  pb::Node middle = File("b", "middle");
  middle.set_mtime_ns(1'100'000'000'000'000'000);
  pb::Node newest = File("c", "newest");
  newest.set_mtime_ns(1'200'000'000'000'000'000);
  pb::Node deep = File("d", "deep and newer still");
  deep.set_mtime_ns(1'300'000'000'000'000'000);
  std::string id = Snapshot({oldest, middle, newest, Dir("z", {deep})});
  // A directory where the snapshot has "b" stops the restore there.
  fs::create_directories(target_ + "/b");

  Result<RestoreResult> r = RestoreTo(id, false);
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadAll(target_ + "/z/d"), "deep and newer still");
  EXPECT_EQ(ReadAll(target_ + "/c"), "newest");
  EXPECT_FALSE(fs::exists(target_ + "/a"));

  // Once the obstacle is gone, the rest follows; the directory's times are
  // set after its files were written.
  fs::remove(target_ + "/b");
  RestoreOptions o;
  o.target = target_;
  o.skip_existing = true;
  r = Restore(repo_.get(), id, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->verified, 2u);
  EXPECT_TRUE(r->kept.empty());
  EXPECT_EQ(ReadAll(target_ + "/a"), "oldest");
  EXPECT_EQ(ReadAll(target_ + "/b"), "middle");
  struct stat st;
  ASSERT_EQ(::stat((target_ + "/z").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'500'000'000);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
}

// --skip-existing leaves what is in the target alone: files holding the
// snapshot's content are verified, anything else is kept and listed, never
// replaced; missing entries are restored.
TEST_F(RestorerTest, SkipExistingVerifiesAndKeepsWhatIsThere) {
  std::string id = Snapshot({File("same", "snapshot content"),
                             File("edited", "snapshot content 2"),
                             File("resized", "snapshot content 3"),
                             File("missing", "snapshot content 4"),
                             Link("link", "same"), Link("other", "same")});
  std::ofstream(target_ + "/same") << "snapshot content";
  std::ofstream(target_ + "/edited") << "snapshot CONTENT 2";  // same size
  std::ofstream(target_ + "/resized") << "newer content, longer than before";
  ASSERT_EQ(::symlink("same", (target_ + "/link").c_str()), 0);
  ASSERT_EQ(::symlink(outside_.c_str(), (target_ + "/other").c_str()), 0);
  // What a killed restore left: a partly written file, which goes; a
  // symlink and files that only look alike stay.
  std::ofstream(target_ + "/.missing.chatvault-restore-a1B2c3") << "snap";
  ASSERT_EQ(
      ::symlink("same", (target_ + "/.x.chatvault-restore-zzzzzz").c_str()), 0);
  std::ofstream(target_ + "/.y.chatvault-restore-toolong") << "mine";
  std::ofstream(target_ + "/z.chatvault-restore-abcdef") << "mine too";

  RestoreOptions o;
  o.target = target_;
  o.skip_existing = true;
  Result<RestoreResult> r = Restore(repo_.get(), id, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->temporaries_removed, 1u);
  EXPECT_FALSE(fs::exists(target_ + "/.missing.chatvault-restore-a1B2c3"));
  EXPECT_TRUE(fs::is_symlink(target_ + "/.x.chatvault-restore-zzzzzz"));
  EXPECT_EQ(ReadAll(target_ + "/.y.chatvault-restore-toolong"), "mine");
  EXPECT_EQ(ReadAll(target_ + "/z.chatvault-restore-abcdef"), "mine too");
  EXPECT_EQ(r->verified, 2u);  // "same" and "link"
  std::vector<std::string> kept = r->kept;
  std::sort(kept.begin(), kept.end());
  EXPECT_EQ(kept,
            (std::vector<std::string>{target_ + "/edited", target_ + "/other",
                                      target_ + "/resized"}));
  EXPECT_EQ(ReadAll(target_ + "/edited"), "snapshot CONTENT 2");
  EXPECT_EQ(ReadAll(target_ + "/resized"), "newer content, longer than before");
  EXPECT_EQ(ReadAll(target_ + "/missing"), "snapshot content 4");
  EXPECT_EQ(fs::read_symlink(target_ + "/other"), outside_);
  ExpectOutsideUntouched();

  o.overwrite = true;
  EXPECT_EQ(Restore(repo_.get(), id, o).status().code(),
            StatusCode::kInvalidArgument);
}

// Names a hostile tree could hold. Each is refused, alone or below a
// directory, and nothing is written outside the target, nor next to it.
TEST_F(RestorerTest, HostileNamesNeverLandOutsideTheTarget) {
  const std::vector<std::string> names = {"..",
                                          ".",
                                          "",
                                          "/etc/x",
                                          "../x",
                                          "../../x",
                                          "a/../x",
                                          "x/",
                                          std::string("x\0y", 3),
                                          std::string(300, 'n')};
  for (const std::string& name : names) {
    for (bool nested : {false, true}) {
      SCOPED_TRACE("name '" + name + "'" + (nested ? " in d/" : ""));
      fs::remove_all(target_);
      fs::create_directories(target_);
      pb::Node evil = File(name, "evil");
      std::string id = nested ? Snapshot({Dir("d", {evil})}) : Snapshot({evil});
      Result<RestoreResult> r = RestoreTo(id, true);
      EXPECT_FALSE(r.ok()) << "restored a file named '" << name << "'";
      EXPECT_EQ(Names(dir_), (std::vector<std::string>{"outside", "target"}));
      ExpectOutsideUntouched();
      for (const auto& e : fs::recursive_directory_iterator(target_)) {
        EXPECT_FALSE(e.is_regular_file()) << e.path();
      }
    }
  }
}

// The peak resident size of this process, in bytes.
uint64_t PeakRss() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmHWM:")) return std::stoull(line.substr(6)) << 10;
  }
  return 0;
}

// Sizes no real file has, in a node and in an index entry: refused before
// anything of that size is allocated or written.
TEST_F(RestorerTest, AbsurdSizesAreRefusedWithoutAllocating) {
  const uint64_t peak_before = PeakRss();
  pb::Node huge = File("huge", "small content");
  huge.set_size(uint64_t{1} << 62);
  std::string id = Snapshot({huge});
  Result<RestoreResult> r = RestoreTo(id, false);
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption)
      << r.status().ToString();
  EXPECT_TRUE(Names(target_).empty());

  // An index entry claiming a 4 GiB blob, for a blob a file names.
  const std::string fake_blob(32, 'q'), fake_pack(32, 'p');
  pb::Index index;
  pb::IndexPack* pack = index.add_packs();
  pack->set_pack_id(fake_pack);
  pb::PackEntry* entry = pack->add_entries();
  entry->set_id(fake_blob);
  entry->set_type(pb::BLOB_TYPE_DATA);
  entry->set_offset(0);
  entry->set_length(0xfffffff0u);
  entry->set_raw_length(0xfffffff0u);
  ASSERT_TRUE(repo_->SaveObject(ObjectType::kIndex, "index", index).ok());
  pb::Node claimed;
  claimed.set_name("claimed");
  claimed.set_type(pb::NODE_TYPE_FILE);
  claimed.set_size(0xfffffff0u);
  *claimed.add_content() = fake_blob;
  id = Snapshot({claimed});
  r = RestoreTo(id, false);
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption)
      << r.status().ToString();
  EXPECT_TRUE(Names(target_).empty());
  EXPECT_LT(PeakRss() - peak_before, uint64_t{256} << 20)
      << "memory grew with the sizes claimed";
}

// The store answers for one object with another's bytes (both genuine):
// authenticated under their names, they are refused.
TEST_F(RestorerTest, SwappedObjectsAreRefused) {
  std::string a = Snapshot({File("a", "content of a")});
  std::string b = Snapshot({File("b", "content of b")});
  auto swap = [&](const std::string& x, const std::string& y) {
    Result<Bytes> bx = backend_.Load(x, 0, storage::kToEnd);
    Result<Bytes> by = backend_.Load(y, 0, storage::kToEnd);
    ASSERT_TRUE(bx.ok() && by.ok());
    ASSERT_TRUE(backend_.Save(x, *by, storage::SaveMode::kOverwrite).ok());
    ASSERT_TRUE(backend_.Save(y, *bx, storage::SaveMode::kOverwrite).ok());
  };
  swap("snapshots/" + a, "snapshots/" + b);
  EXPECT_EQ(RestoreTo(a, false).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(RestoreTo(b, false).status().code(), StatusCode::kCorruption);
  swap("snapshots/" + a, "snapshots/" + b);  // back

  // Two packs: the blobs of each are looked for in the other.
  std::vector<std::string> packs;
  ASSERT_TRUE(backend_
                  .List("data/",
                        [&](const storage::ObjectInfo& i) {
                          packs.push_back(i.name);
                          return Status::OK();
                        })
                  .ok());
  ASSERT_GE(packs.size(), 2u);
  swap(packs[0], packs[1]);
  Result<RestoreResult> ra = RestoreTo(a, true);
  Result<RestoreResult> rb = RestoreTo(b, true);
  EXPECT_TRUE(ra.status().code() == StatusCode::kCorruption ||
              rb.status().code() == StatusCode::kCorruption)
      << ra.status().ToString() << " / " << rb.status().ToString();
  EXPECT_TRUE(Names(target_).empty() ||
              (ra.ok() && ReadAll(target_ + "/a") == "content of a") ||
              (rb.ok() && ReadAll(target_ + "/b") == "content of b"));
  ExpectOutsideUntouched();
}

}  // namespace
}  // namespace chatvault::backup
