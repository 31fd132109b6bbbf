#include "backup/restorer.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "backup/blob_store.h"
#include "base/errno.h"

namespace chatvault::backup {
namespace {

// Permission bits only: setuid, setgid and sticky bits from a repository
// are not restored, so restoring as root cannot create setuid programs.
Status CheckName(const std::string& name) {
  if (name.empty() || name == "." || name == ".." ||
      name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos) {
    return Status::Corruption(
        "the snapshot holds an unsafe file name; refusing to restore it");
  }
  return Status::OK();
}

bool AllZero(ByteView b) {
  return std::all_of(b.begin(), b.end(),
                     [](std::byte x) { return x == std::byte{0}; });
}

Status SetTimes(const std::string& path, int64_t mtime_ns, bool nofollow) {
  struct timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = mtime_ns / 1'000'000'000;
  ts[0].tv_nsec = ts[1].tv_nsec = mtime_ns % 1'000'000'000;
  if (::utimensat(AT_FDCWD, path.c_str(), ts,
                  nofollow ? AT_SYMLINK_NOFOLLOW : 0) != 0) {
    return StatusFromErrno(errno, "cannot set the times of '" + path + "'");
  }
  return Status::OK();
}

class Restorer {
 public:
  Restorer(BlobStore* store, const RestoreOptions& options)
      : store_(store), options_(options) {}

  Status RestoreTree(const crypto::Digest256& tree_id, const std::string& dir,
                     const std::string& snapshot_path) {
    ASSIGN_OR_RETURN(Bytes bytes, store_->Read(tree_id));
    pb::Tree tree;
    if (!tree.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return Status::Corruption("a tree blob does not parse");
    }
    for (const pb::Node& node : tree.nodes()) {
      RETURN_IF_ERROR(CheckName(node.name()));
      const std::string path = dir + "/" + node.name();
      const std::string spath = snapshot_path + "/" + node.name();
      if (Excluded(spath)) continue;
      switch (node.type()) {
        case pb::NODE_TYPE_DIR: {
          if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
            return StatusFromErrno(errno, "cannot create '" + path + "'");
          }
          struct stat st;
          if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
            return Status::AlreadyExists("'" + path +
                                         "' exists and is not a directory");
          }
          RETURN_IF_ERROR(RestoreTree(
              crypto::Digest256FromBytes(node.subtree()), path, spath));
          // Mode and times last: restoring the children changes them.
          if (::chmod(path.c_str(), node.mode() & 0777) != 0) {
            return StatusFromErrno(errno,
                                   "cannot set the mode of '" + path + "'");
          }
          RETURN_IF_ERROR(SetTimes(path, node.mtime_ns(), false));
          ++result_.dirs;
          break;
        }
        case pb::NODE_TYPE_FILE:
          if (!Included(spath)) break;
          RETURN_IF_ERROR(RestoreFile(node, path));
          ++result_.files;
          break;
        case pb::NODE_TYPE_SYMLINK:
          if (!Included(spath)) break;
          ::unlink(path.c_str());
          if (::symlink(node.link_target().c_str(), path.c_str()) != 0) {
            return StatusFromErrno(errno, "cannot create link '" + path + "'");
          }
          SetTimes(path, node.mtime_ns(), true)
              .IgnoreError();  // not all filesystems can
          ++result_.symlinks;
          break;
        default:
          return Status::Corruption("a tree node of unknown type");
      }
    }
    return Status::OK();
  }

  const RestoreResult& result() const { return result_; }

 private:
  bool Excluded(const std::string& spath) const {
    for (const std::string& p : options_.excludes) {
      if (::fnmatch(p.c_str(), spath.c_str(), 0) == 0) return true;
    }
    return false;
  }
  bool Included(const std::string& spath) const {
    if (options_.includes.empty()) return true;
    for (const std::string& p : options_.includes) {
      if (::fnmatch(p.c_str(), spath.c_str(), 0) == 0) return true;
    }
    return false;
  }

  Status RestoreFile(const pb::Node& node, const std::string& path) {
    // Never write through a symlink planted at the target path.
    ::unlink(path.c_str());
    int fd = ::open(path.c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return StatusFromErrno(errno, "cannot create '" + path + "'");
    Status s;
    uint64_t offset = 0;
    // Workers fetch, decrypt and check the chunks while this thread writes.
    store_->ReadAhead(
        std::vector<std::string>(node.content().begin(), node.content().end()));
    for (const std::string& id : node.content()) {
      Result<Bytes> chunk = store_->Read(crypto::Digest256FromBytes(id));
      if (!chunk.ok()) {
        s = chunk.status().WithContext(path);
        break;
      }
      // All-zero chunks become holes, so sparse files stay sparse.
      if (!AllZero(*chunk)) {
        size_t done = 0;
        while (done < chunk->size()) {
          ssize_t w = ::pwrite(fd, chunk->data() + done, chunk->size() - done,
                               static_cast<off_t>(offset + done));
          if (w < 0) {
            if (errno == EINTR) continue;
            s = StatusFromErrno(errno, "cannot write '" + path + "'");
            break;
          }
          done += static_cast<size_t>(w);
        }
        if (!s.ok()) break;
      }
      offset += chunk->size();
      result_.bytes += chunk->size();
    }
    if (s.ok() && offset != node.size()) {
      s = Status::Corruption(
          "'" + path + "': its chunks add up to " + std::to_string(offset) +
          " bytes, the snapshot says " + std::to_string(node.size()));
    }
    if (s.ok() && ::ftruncate(fd, static_cast<off_t>(offset)) != 0) {
      s = StatusFromErrno(errno, "cannot size '" + path + "'");
    }
    if (s.ok() && ::fchmod(fd, node.mode() & 0777) != 0) {
      s = StatusFromErrno(errno, "cannot set the mode of '" + path + "'");
    }
    ::close(fd);
    if (!s.ok()) store_->DropReadAhead();
    RETURN_IF_ERROR(s);
    return SetTimes(path, node.mtime_ns(), false);
  }

  BlobStore* store_;
  const RestoreOptions& options_;
  RestoreResult result_;
};

}  // namespace

Result<std::string> ResolveSnapshot(Repository* repo, std::string_view name) {
  std::vector<std::string> ids;
  RETURN_IF_ERROR(
      repo->backend()->List("snapshots/", [&](const storage::ObjectInfo& info) {
        ids.push_back(info.name.substr(10));
        return Status::OK();
      }));
  if (name == "latest") {
    std::string best;
    uint64_t best_time = 0;
    for (const std::string& id : ids) {
      pb::Snapshot snap;
      RETURN_IF_ERROR(
          repo->LoadObject(ObjectType::kSnapshot, "snapshots", id, &snap));
      if (best.empty() || snap.time_unix_ms() >= best_time) {
        best = id;
        best_time = snap.time_unix_ms();
      }
    }
    if (best.empty())
      return Status::NotFound("the repository has no snapshots yet");
    return best;
  }
  if (name.size() < 4) {
    return Status::InvalidArgument(
        "give at least 4 hex digits of a snapshot ID, or 'latest'");
  }
  std::vector<std::string> matches;
  for (const std::string& id : ids) {
    if (id.starts_with(name)) matches.push_back(id);
  }
  if (matches.empty())
    return Status::NotFound("no snapshot '" + std::string(name) + "'");
  if (matches.size() > 1) {
    return Status::InvalidArgument(
        "'" + std::string(name) +
        "' matches several snapshots; give more digits");
  }
  return matches[0];
}

namespace {

Status WalkTree(
    BlobStore* store, const crypto::Digest256& tree_id,
    const std::string& prefix,
    const std::function<Status(const std::string&, const pb::Node&)>& fn) {
  ASSIGN_OR_RETURN(Bytes bytes, store->Read(tree_id));
  pb::Tree tree;
  if (!tree.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Corruption("a tree blob does not parse");
  }
  for (const pb::Node& node : tree.nodes()) {
    RETURN_IF_ERROR(CheckName(node.name()));
    const std::string path = prefix + "/" + node.name();
    RETURN_IF_ERROR(fn(path, node));
    if (node.type() == pb::NODE_TYPE_DIR) {
      RETURN_IF_ERROR(WalkTree(
          store, crypto::Digest256FromBytes(node.subtree()), path, fn));
    }
  }
  return Status::OK();
}

}  // namespace

Status ListSnapshot(
    Repository* repo, std::string_view snapshot_id,
    const std::function<Status(const std::string&, const pb::Node&)>& fn) {
  pb::Snapshot snap;
  RETURN_IF_ERROR(
      repo->LoadObject(ObjectType::kSnapshot, "snapshots", snapshot_id, &snap));
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store, BlobStore::Open(repo));
  return WalkTree(store.get(), crypto::Digest256FromBytes(snap.tree()), "", fn);
}

Result<RestoreResult> Restore(Repository* repo, std::string_view snapshot_id,
                              const RestoreOptions& options) {
  pb::Snapshot snap;
  RETURN_IF_ERROR(
      repo->LoadObject(ObjectType::kSnapshot, "snapshots", snapshot_id, &snap));
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store,
                   BlobStore::Open(repo, options.cache_dir));
  if (::mkdir(options.target.c_str(), 0700) != 0 && errno != EEXIST) {
    return StatusFromErrno(errno, "cannot create '" + options.target + "'");
  }
  Restorer restorer(store.get(), options);
  RETURN_IF_ERROR(restorer.RestoreTree(crypto::Digest256FromBytes(snap.tree()),
                                       options.target, ""));
  return restorer.result();
}

}  // namespace chatvault::backup
