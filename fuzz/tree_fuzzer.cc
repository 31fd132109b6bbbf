// Tree blobs (backup/restorer.h: ListSnapshot, Restore): directory
// listings a restore turns into files, directories and symlinks below its
// target. Names come from the repository, so no name may make a path
// leave the target, and no tree may crash the walk or the restore. The
// input holds up to four tree payloads, stored as tree blobs (sealed and
// packed under the fixed repository's keys) with a snapshot naming the
// first. With mode bit 0, trees that parse have references resolved, so
// the fuzzer can build hierarchies without forging blob IDs: a one-byte
// subtree k names input tree k (when k is later in the input: no cycles),
// a one-byte content entry names one of the fixed pack's data blobs.
// Bit 1 restores the snapshot into a temporary directory (bit 2: only the
// databases, bit 3: with --overwrite over a first restore) and checks that
// nothing appeared beside the target.
#include <dirent.h>

#include <cstddef>
#include <cstdint>

#include "backup/restorer.h"
#include "fuzz/fuzz_support.h"

using namespace chatvault;

namespace {

// What a listed path may look like: "/" then names that CheckName allows.
void CheckPath(const std::string& path) {
  FUZZ_CHECK(path.starts_with("/"));
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string name = path.substr(start, end - start);
    FUZZ_CHECK(!name.empty() && name != "." && name != "..");
    FUZZ_CHECK(name.find('\0') == std::string::npos);
    start = end + 1;
  }
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") out.push_back(name);
    }
    ::closedir(d);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FixedRepository& fixed = fuzz::FixedRepository::Get();
  fixed.StoreFixedTree();
  fixed.Reset();
  const fuzz::FixedRepository::StoredPack& pack = fixed.Pack();
  backup::Repository* repo = fixed.repo();
  static const std::unique_ptr<fuzz::TempDir> scratch =
      std::make_unique<fuzz::TempDir>();

  fuzz::Reader in(data, size);
  const uint8_t mode = in.U8();
  std::vector<Bytes> trees;
  while (!in.empty() && trees.size() < 4) {
    ByteView part = in.Part();
    trees.emplace_back(part.begin(), part.end());
  }
  if (trees.empty()) trees.emplace_back();

  static const char* const kData[] = {"hello", "zeros",           "base",
                                      "delta", "with dictionary", "dictionary"};
  std::vector<std::string> ids(trees.size());
  for (size_t i = trees.size(); i-- > 0;) {
    pb::Tree tree;
    if ((mode & 1) && tree.ParseFromArray(trees[i].data(),
                                          static_cast<int>(trees[i].size()))) {
      for (pb::Node& node : *tree.mutable_nodes()) {
        if (node.subtree().size() == 1) {
          const size_t k = static_cast<uint8_t>(node.subtree()[0]);
          if (k > i && k < trees.size()) {
            node.set_subtree(ids[k]);
          } else if (k == 0xff) {
            node.set_subtree(pack.ids.at("empty tree"));
          }
        }
        for (std::string& c : *node.mutable_content()) {
          if (c.size() == 1) {
            c = pack.ids.at(kData[static_cast<uint8_t>(c[0]) % 6]);
          }
        }
      }
      trees[i] = ToBytes(tree.SerializeAsString());
    }
    ids[i] = std::string(AsChars(fixed.BlobId(trees[i])));
  }
  std::vector<std::pair<pb::BlobType, Bytes>> blobs;
  for (const Bytes& t : trees) blobs.emplace_back(pb::BLOB_TYPE_TREE, t);
  fixed.StorePack(blobs);

  pb::Snapshot snapshot;
  snapshot.set_tree(ids[0]);
  snapshot.add_paths("/home/fuzz");
  snapshot.set_time_unix_ms(1700000000000);
  const std::string snapshot_id = HexEncode(fuzz::FixedId("snapshot"));
  FUZZ_CHECK(repo->SaveObjectAs(backup::ObjectType::kSnapshot, "snapshots",
                                snapshot_id, snapshot,
                                storage::SaveMode::kOverwrite)
                 .ok());

  size_t listed = 0;
  Status walked = backup::ListSnapshot(
      repo, snapshot_id, [&](const std::string& path, const pb::Node&) {
        CheckPath(path);
        // A deep or wide hostile tree: enough has been seen.
        if (++listed > 10000) return Status::Cancelled("enough");
        return Status::OK();
      });
  if (!walked.ok()) {
    FUZZ_CHECK(walked.code() != StatusCode::kInvalidArgument);
  }

  if (mode & 2) {
    backup::RestoreOptions options;
    options.target = scratch->path() + "/target";
    options.only_databases = mode & 4;
    Result<backup::RestoreResult> restored =
        backup::Restore(repo, snapshot_id, options);
    if (restored.ok() && (mode & 8)) {
      options.overwrite = true;
      options.only_databases = false;
      restored = backup::Restore(repo, snapshot_id, options);
    }
    const std::vector<std::string> beside = Entries(scratch->path());
    FUZZ_CHECK(beside.size() == 1 && beside[0] == "target");
    fuzz::RemoveAll(options.target);
  }
  return 0;
}
