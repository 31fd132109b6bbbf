// Snapshot objects (backup/restorer.h: ResolveSnapshot, ListSnapshot,
// Restore): what `snapshots`, `ls` and `restore` read first. The input
// holds up to two snapshot payloads, sealed under the fixed repository's
// key (mode bit 1: the first stored as it is), beside a fixed tree of a
// directory, files, a database and a symlink whose root the seeds name.
// "latest" and an ID prefix resolve to a stored snapshot or fail cleanly;
// listing gives only safe paths; bit 2 restores the first snapshot into a
// temporary directory and checks that nothing appeared beside the target.
#include <dirent.h>

#include <cstddef>
#include <cstdint>

#include "backup/restorer.h"
#include "fuzz/fuzz_support.h"

using namespace chatvault;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FixedRepository& fixed = fuzz::FixedRepository::Get();
  fixed.StoreFixedTree();
  fixed.Reset();
  backup::Repository* repo = fixed.repo();
  static const std::unique_ptr<fuzz::TempDir> scratch =
      std::make_unique<fuzz::TempDir>();

  fuzz::Reader in(data, size);
  const uint8_t mode = in.U8();
  std::vector<std::string> ids;
  for (int i = 0; i < 2 && !in.empty(); ++i) {
    const ByteView payload = in.Part();
    const Bytes id = fuzz::FixedId("snapshot " + std::to_string(i));
    const Bytes object =
        i == 0 && (mode & 2)
            ? Bytes(payload.begin(), payload.end())
            : fixed.Seal(backup::ObjectType::kSnapshot, id, payload);
    ids.push_back(HexEncode(id));
    FUZZ_CHECK(fixed.backend()
                   ->Save("snapshots/" + ids.back(), object,
                          storage::SaveMode::kOverwrite)
                   .ok());
  }
  if (ids.empty()) return 0;

  Result<std::string> latest = backup::ResolveSnapshot(repo, "latest");
  if (latest.ok()) {
    FUZZ_CHECK(std::find(ids.begin(), ids.end(), *latest) != ids.end());
  }
  Result<std::string> by_prefix =
      backup::ResolveSnapshot(repo, ids[0].substr(0, 6));
  FUZZ_CHECK(by_prefix.ok() && *by_prefix == ids[0]);

  Status walked = backup::ListSnapshot(
      repo, ids[0], [&](const std::string& path, const pb::Node&) {
        FUZZ_CHECK(path.starts_with("/") &&
                   path.find("/../") == std::string::npos &&
                   path.find("//") == std::string::npos);
        return Status::OK();
      });
  (void)walked;

  if (mode & 4) {
    backup::RestoreOptions options;
    options.target = scratch->path() + "/target";
    Result<backup::RestoreResult> restored =
        backup::Restore(repo, ids[0], options);
    // Every tree in the repository is the fixed one or below it.
    if (restored.ok()) {
      FUZZ_CHECK(restored->files + restored->symlinks <= 8);
    }
    size_t beside = 0;
    if (DIR* d = ::opendir(scratch->path().c_str())) {
      while (struct dirent* e = ::readdir(d)) {
        const std::string_view name = e->d_name;
        if (name != "." && name != ".." && name != "target") ++beside;
      }
      ::closedir(d);
    }
    FUZZ_CHECK(beside == 0);
    fuzz::RemoveAll(options.target);
  }
  return 0;
}
