#include "backup/restorer.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

#include "backup/blob_store.h"
#include "backup/fs_util.h"
#include "base/errno.h"
#include "base/fd.h"
#include "crypto/random.h"

namespace chatvault::backup {
namespace {

bool AllZero(ByteView b) {
  return std::all_of(b.begin(), b.end(),
                     [](std::byte x) { return x == std::byte{0}; });
}

constexpr int kTempAttempts = 100;

class Restorer {
 public:
  Restorer(BlobStore* store, const RestoreOptions& options)
      : store_(store), options_(options), restore_owner_(::geteuid() == 0) {}

  // Restores tree `tree_id` into the directory open as `dir_fd`, whose
  // path (for messages) is `dir`.
  Status RestoreTree(const crypto::Digest256& tree_id, int dir_fd,
                     const std::string& dir, const std::string& snapshot_path) {
    if (options_.skip_existing && swept_.insert(dir).second) {
      RETURN_IF_ERROR(RemoveTemporaries(dir_fd, dir));
    }
    ASSIGN_OR_RETURN(pb::Tree tree, LoadTree(store_, tree_id));
    for (const pb::Node& node : tree.nodes()) {
      RETURN_IF_ERROR(CheckName(node.name()));
      const std::string path = dir + "/" + node.name();
      const std::string spath = snapshot_path + "/" + node.name();
      if (Excluded(spath)) continue;
      switch (node.type()) {
        case pb::NODE_TYPE_DIR: {
          // The databases' pass enters only directories that hold some.
          if (pass_ == Pass::kDatabases && !database_dirs_.contains(spath)) {
            break;
          }
          ASSIGN_OR_RETURN(Fd sub, OpenOrCreateDir(dir_fd, node.name(), path));
          RETURN_IF_ERROR(
              RestoreTree(crypto::Digest256FromBytes(node.subtree()), sub.get(),
                          path, spath));
          if (!final_pass_) break;
          if (pass_ == Pass::kRest) {
            // After the files, which are restored later (FinishRest).
            pending_dirs_.push_back({spath, StripContent(node), path});
            break;
          }
          RETURN_IF_ERROR(SetDirMetadata(sub.get(), node, path));
          break;
        }
        case pb::NODE_TYPE_FILE: {
          if (!Included(spath)) break;
          // Databases in the first pass, everything else in the second.
          if ((node.sqlite_page_size() != 0) != (pass_ == Pass::kDatabases)) {
            break;
          }
          if (pass_ == Pass::kRest) {
            // Newest first, once the whole tree is known (FinishRest).
            pending_files_.push_back({snapshot_path, node, path});
            break;
          }
          ASSIGN_OR_RETURN(bool written, RestoreFile(dir_fd, node, path));
          ++result_.databases;  // restored, or verified or kept in place
          if (written) ++result_.files;
          break;
        }
        case pb::NODE_TYPE_SYMLINK: {
          if (pass_ == Pass::kDatabases || !Included(spath)) break;
          ASSIGN_OR_RETURN(bool written, RestoreSymlink(dir_fd, node, path));
          if (written) ++result_.symlinks;
          break;
        }
        default:
          return Status::Corruption("a tree node of unknown type");
      }
    }
    return Status::OK();
  }

  // Restores the files the second pass found, newest first (the photos a
  // user looks at first are usually the latest), then sets the metadata of
  // the directories, children before parents. `target_fd` is the target.
  Status FinishRest(int target_fd) {
    std::stable_sort(pending_files_.begin(), pending_files_.end(),
                     [](const Pending& a, const Pending& b) {
                       return a.node.mtime_ns() > b.node.mtime_ns();
                     });
    std::string open_dir;
    Fd dir(-1);
    for (Pending& f : pending_files_) {
      if (dir.get() < 0 || open_dir != f.snapshot_dir) {
        ASSIGN_OR_RETURN(dir, OpenBelow(target_fd, f.snapshot_dir));
        open_dir = f.snapshot_dir;
      }
      ASSIGN_OR_RETURN(bool written, RestoreFile(dir.get(), f.node, f.path));
      if (written) ++result_.files;
      f.node.Clear();  // its chunk list is no longer needed
    }
    pending_files_.clear();
    for (const Pending& d : pending_dirs_) {
      ASSIGN_OR_RETURN(Fd fd, OpenBelow(target_fd, d.snapshot_dir));
      RETURN_IF_ERROR(SetDirMetadata(fd.get(), d.node, d.path));
    }
    pending_dirs_.clear();
    return Status::OK();
  }

  const RestoreResult& result() const { return result_; }
  RestoreResult& result() { return result_; }

  // Finds the chat databases the restore will write, recording the
  // directories that lead to them (snapshot paths); returns how many.
  Result<uint64_t> FindDatabases(const crypto::Digest256& tree_id,
                                 const std::string& snapshot_path) {
    ASSIGN_OR_RETURN(pb::Tree tree, LoadTree(store_, tree_id));
    uint64_t found = 0;
    for (const pb::Node& node : tree.nodes()) {
      RETURN_IF_ERROR(CheckName(node.name()));
      const std::string spath = snapshot_path + "/" + node.name();
      if (Excluded(spath)) continue;
      if (node.type() == pb::NODE_TYPE_DIR) {
        ASSIGN_OR_RETURN(
            uint64_t below,
            FindDatabases(crypto::Digest256FromBytes(node.subtree()), spath));
        if (below > 0) database_dirs_.insert(spath);
        found += below;
      } else if (node.type() == pb::NODE_TYPE_FILE &&
                 node.sqlite_page_size() != 0 && Included(spath)) {
        ++found;
      }
    }
    return found;
  }

  // The first pass restores the chat databases (creating only the
  // directories on their way), the second everything else; the last pass
  // run sets the directories' metadata.
  enum class Pass { kDatabases, kRest };
  void SetPass(Pass pass, bool final_pass) {
    pass_ = pass;
    final_pass_ = final_pass;
  }

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

  // A file or directory waiting for FinishRest: a file in (or a directory
  // at) `snapshot_dir`, which is also its directory's path below the target.
  struct Pending {
    std::string snapshot_dir;
    pb::Node node;
    std::string path;  // for messages
  };

  static pb::Node StripContent(const pb::Node& node) {
    pb::Node n = node;
    n.clear_content();
    return n;
  }

  // The directory at `snapshot_dir` ("/a/b") below `target_fd`, which the
  // walk created; opened one component at a time, following no symlink.
  Result<Fd> OpenBelow(int target_fd, const std::string& snapshot_dir) {
    Fd fd(::dup(target_fd));
    size_t start = 0;
    while (fd.get() >= 0 && start < snapshot_dir.size()) {
      size_t end = snapshot_dir.find('/', start);
      if (end == std::string::npos) end = snapshot_dir.size();
      if (end > start) {
        fd = Fd(OpenDirAt(fd.get(), snapshot_dir.substr(start, end - start)));
      }
      start = end + 1;
    }
    if (fd.get() < 0) {
      return StatusFromErrno(errno, "cannot open directory '" +
                                        options_.target + snapshot_dir +
                                        "' again");
    }
    return fd;
  }

  // Owner, mode and times of a restored directory, set last: restoring the
  // children changes the times, and a directory given away early could be
  // written into by its new owner while the restore still works in it.
  Status SetDirMetadata(int fd, const pb::Node& node, const std::string& path) {
    RETURN_IF_ERROR(SetOwner(fd, node, path));
    if (::fchmod(fd, node.mode() & kPermissionBits) != 0) {
      return StatusFromErrno(errno, "cannot set the mode of '" + path + "'");
    }
    if (::futimens(fd, Times(node.mtime_ns()).ts) != 0) {
      return StatusFromErrno(errno, "cannot set the times of '" + path + "'");
    }
    ++result_.dirs;
    return Status::OK();
  }

  // With skip_existing: whether `name` exists in `dir_fd`. If it does, it
  // is left alone, and counted as verified if it holds what `node` says
  // (for a file: its chunks hash to the node's blob IDs), kept otherwise.
  Result<bool> SkipExisting(int dir_fd, const pb::Node& node,
                            const std::string& path) {
    struct stat st;
    if (::fstatat(dir_fd, node.name().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return false;
      return StatusFromErrno(errno, "cannot stat '" + path + "'");
    }
    bool same = false;
    if (node.type() == pb::NODE_TYPE_SYMLINK && S_ISLNK(st.st_mode)) {
      std::string target(node.link_target().size() + 1, '\0');
      ssize_t n = ::readlinkat(dir_fd, node.name().c_str(), target.data(),
                               target.size());
      same = n >= 0 && static_cast<size_t>(n) == node.link_target().size() &&
             target.compare(0, static_cast<size_t>(n), node.link_target()) == 0;
    } else if (node.type() == pb::NODE_TYPE_FILE && S_ISREG(st.st_mode) &&
               static_cast<uint64_t>(st.st_size) == node.size()) {
      ASSIGN_OR_RETURN(same, SameContent(dir_fd, node, path));
    }
    if (same) {
      ++result_.verified;
    } else {
      result_.kept.push_back(path);
    }
    return true;
  }

  // Whether the regular file `node.name()` in `dir_fd` holds the node's
  // chunks: each is read (lengths from the index) and hashed.
  Result<bool> SameContent(int dir_fd, const pb::Node& node,
                           const std::string& path) {
    Fd fd(::openat(dir_fd, node.name().c_str(),
                   O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (fd.get() < 0) {
      return StatusFromErrno(errno, "cannot open '" + path + "' to verify it");
    }
    const crypto::HashKey& key = store_->blob_id_key();
    Bytes buf;
    uint64_t offset = 0;
    for (const std::string& raw : node.content()) {
      if (raw.size() != crypto::kDigest256Bytes) return false;
      const crypto::Digest256 id = crypto::Digest256FromBytes(raw);
      std::optional<uint32_t> length = store_->RawLength(id);
      if (!length || offset + *length > node.size()) return false;
      buf.resize(*length);
      size_t got = 0;
      while (got < buf.size()) {
        ssize_t n = ::pread(fd.get(), buf.data() + got, buf.size() - got,
                            static_cast<off_t>(offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          return StatusFromErrno(errno, "cannot read '" + path + "'");
        }
        if (n == 0) return false;
        got += static_cast<size_t>(n);
      }
      if (BlobId(key, buf) != id) return false;
      offset += *length;
    }
    return offset == node.size();
  }

  // The directory `name` in `dir_fd`, created (mode 0700 until its own mode
  // is set) if missing, merged into if it exists. A symlink or file in its
  // place is replaced with --overwrite, an error otherwise; it is never
  // followed.
  Result<Fd> OpenOrCreateDir(int dir_fd, const std::string& name,
                             const std::string& path) {
    if (::mkdirat(dir_fd, name.c_str(), 0700) != 0 && errno != EEXIST) {
      return StatusFromErrno(errno, "cannot create directory '" + path + "'");
    }
    Fd fd(OpenDirAt(dir_fd, name));
    if (fd.get() < 0 && (errno == ELOOP || errno == ENOTDIR)) {
      if (!options_.overwrite) {
        return Status::AlreadyExists(
            "'" + path +
            "' exists and is not a directory; move it away or pass "
            "--overwrite to replace it");
      }
      if (::unlinkat(dir_fd, name.c_str(), 0) != 0) {
        return StatusFromErrno(errno, "cannot remove '" + path + "'");
      }
      if (::mkdirat(dir_fd, name.c_str(), 0700) != 0) {
        return StatusFromErrno(errno, "cannot create directory '" + path + "'");
      }
      fd = Fd(OpenDirAt(dir_fd, name));
    }
    if (fd.get() < 0) {
      return StatusFromErrno(errno, "cannot open directory '" + path + "'");
    }
    return fd;
  }

  // OK if a file or symlink may be put at `name`: nothing is there, or a
  // file or symlink is and --overwrite was given.
  Status CheckReplaceable(int dir_fd, const std::string& name,
                          const std::string& path) {
    struct stat st;
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return Status::OK();
      return StatusFromErrno(errno, "cannot stat '" + path + "'");
    }
    if (S_ISDIR(st.st_mode)) return IsADirectory(path);
    if (!options_.overwrite) return Exists(path);
    return Status::OK();
  }

  static Status Exists(const std::string& path) {
    return Status::AlreadyExists(
        "'" + path +
        "' already exists; restore into an empty directory or pass "
        "--overwrite to replace existing files");
  }
  static Status IsADirectory(const std::string& path) {
    return Status::AlreadyExists("'" + path +
                                 "' is a directory where the snapshot has a "
                                 "file; move it away and restore again");
  }

  // Renames the complete temporary `tmp` to `name`: over an existing file
  // or symlink with --overwrite (rename replaces the entry, never writes
  // through it), otherwise only if `name` is still free.
  Status Publish(int dir_fd, const std::string& tmp, const std::string& name,
                 const std::string& path) {
    if (options_.overwrite) {
      if (::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) == 0) {
        return Status::OK();
      }
      if (errno == EISDIR) return IsADirectory(path);
      return StatusFromErrno(errno, "cannot rename into '" + path + "'");
    }
    if (::renameat2(dir_fd, tmp.c_str(), dir_fd, name.c_str(),
                    RENAME_NOREPLACE) == 0) {
      return Status::OK();
    }
    if (errno == EEXIST) return Exists(path);
    if (errno != EINVAL && errno != ENOSYS) {
      return StatusFromErrno(errno, "cannot rename into '" + path + "'");
    }
    // Filesystems without RENAME_NOREPLACE: link(2) refuses an existing
    // name too, and links a symlink itself, not its target.
    if (::linkat(dir_fd, tmp.c_str(), dir_fd, name.c_str(), 0) != 0) {
      if (errno == EEXIST) return Exists(path);
      return StatusFromErrno(errno, "cannot link into '" + path + "'");
    }
    // The file is in place; a leftover second name is only untidy.
    ::unlinkat(dir_fd, tmp.c_str(), 0);
    return Status::OK();
  }

  // A restored SQLite database is complete on its own (its companions are
  // not in the snapshot, docs/design.md 5.9). A "-wal" or "-journal" left
  // in the target by an older state of it would be applied to it by SQLite
  // and corrupt it: they are removed with --overwrite, and refused
  // otherwise.
  Status ClearStaleCompanions(int dir_fd, int fd, const std::string& name,
                              const std::string& path) {
    char head[16];
    if (::pread(fd, head, sizeof head, 0) != sizeof head ||
        std::memcmp(head, "SQLite format 3", sizeof head) != 0) {
      return Status::OK();
    }
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
      const std::string companion = name + suffix;
      struct stat st;
      if (::fstatat(dir_fd, companion.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        continue;
      }
      if (S_ISDIR(st.st_mode) || !options_.overwrite) {
        return Status::AlreadyExists(
            "'" + path + suffix +
            "' belongs to another state of the database being restored and "
            "would corrupt it; remove it, or pass --overwrite to have it "
            "removed");
      }
      if (::unlinkat(dir_fd, companion.c_str(), 0) != 0) {
        return StatusFromErrno(errno, "cannot remove '" + path + suffix + "'");
      }
    }
    return Status::OK();
  }

  // Only root can give files away; anyone else restores as themselves.
  Status SetOwner(int fd, const pb::Node& node, const std::string& path) {
    if (!restore_owner_ || ::fchown(fd, node.uid(), node.gid()) == 0) {
      return Status::OK();
    }
    return StatusFromErrno(errno, "cannot set the owner of '" + path + "'");
  }

  // Resuming (skip_existing): removes the temporary files a killed restore
  // left in the directory (TempName's pattern, regular files only).
  Status RemoveTemporaries(int dir_fd, const std::string& dir) {
    int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return StatusFromErrno(errno, "cannot read '" + dir + "'");
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      ::close(fd);
      return StatusFromErrno(errno, "cannot read '" + dir + "'");
    }
    static constexpr std::string_view kMark = ".chatvault-restore-";
    std::vector<std::string> stale;
    while (struct dirent* e = ::readdir(d)) {
      const std::string_view name = e->d_name;
      const size_t at = name.rfind(kMark);
      if (name.size() < 2 || name[0] != '.' || at == std::string_view::npos ||
          at == 0 || name.size() != at + kMark.size() + 6) {
        continue;
      }
      struct stat st;
      if (::fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISREG(st.st_mode)) {
        stale.emplace_back(name);
      }
    }
    ::closedir(d);
    for (const std::string& name : stale) {
      if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
        return StatusFromErrno(
            errno, "cannot remove the leftover '" + dir + "/" + name + "'");
      }
      ++result_.temporaries_removed;
    }
    return Status::OK();
  }

  // Restores a file; false if skip_existing left one in its place.
  Result<bool> RestoreFile(int dir_fd, const pb::Node& node,
                           const std::string& path) {
    if (options_.skip_existing) {
      ASSIGN_OR_RETURN(bool there, SkipExisting(dir_fd, node, path));
      if (there) return false;
    }
    RETURN_IF_ERROR(CheckReplaceable(dir_fd, node.name(), path));
    std::string tmp;
    Fd fd(-1);
    for (int i = 0; i < kTempAttempts && fd.get() < 0; ++i) {
      tmp = TempName(node.name());
      fd = Fd(::openat(dir_fd, tmp.c_str(),
                       O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       0600));
      if (fd.get() < 0 && errno != EEXIST) break;
    }
    if (fd.get() < 0) {
      return StatusFromErrno(
          errno, "cannot create a temporary file for '" + path + "'");
    }
    Status s = WriteContent(fd.get(), node, path);
    if (!s.ok()) store_->DropReadAhead();
    if (s.ok()) s = SetOwner(fd.get(), node, path);
    if (s.ok() && ::fchmod(fd.get(), node.mode() & kPermissionBits) != 0) {
      s = StatusFromErrno(errno, "cannot set the mode of '" + path + "'");
    }
    if (s.ok() && ::futimens(fd.get(), Times(node.mtime_ns()).ts) != 0) {
      s = StatusFromErrno(errno, "cannot set the times of '" + path + "'");
    }
    if (s.ok()) s = ClearStaleCompanions(dir_fd, fd.get(), node.name(), path);
    // A restored database is durable before the restore goes on to the
    // media: a phone may be used (or die) as soon as messages are back.
    if (s.ok() && node.sqlite_page_size() != 0 && ::fsync(fd.get()) != 0) {
      s = StatusFromErrno(errno, "cannot sync '" + path + "'");
    }
    Status closed = fd.Close("cannot write '" + path + "'");
    if (s.ok()) s = closed;
    if (s.ok()) s = Publish(dir_fd, tmp, node.name(), path);
    if (s.ok() && node.sqlite_page_size() != 0 && ::fsync(dir_fd) != 0) {
      s = StatusFromErrno(errno, "cannot sync the directory of '" + path + "'");
    }
    // Never leave a partial or unpublished file behind. Should even this
    // fail, the hidden temporary name is all that remains.
    if (!s.ok()) {
      ::unlinkat(dir_fd, tmp.c_str(), 0);
      return s;
    }
    return true;
  }

  // Data chunks are written in batches of about this many bytes.
  static constexpr size_t kWriteBatchBytes = size_t{1} << 20;

  Status WriteContent(int fd, const pb::Node& node, const std::string& path) {
    uint64_t offset = 0;
    // Workers fetch, decrypt and check the chunks while this thread writes.
    store_->ReadAhead(
        std::vector<std::string>(node.content().begin(), node.content().end()));
    // Consecutive chunks with data are written together (a database's
    // pages are small); all-zero chunks become holes, so sparse files stay
    // sparse.
    Bytes pending;
    uint64_t pending_at = 0;
    auto flush = [&]() -> Status {
      size_t done = 0;
      while (done < pending.size()) {
        ssize_t w = ::pwrite(fd, pending.data() + done, pending.size() - done,
                             static_cast<off_t>(pending_at + done));
        if (w < 0) {
          if (errno == EINTR) continue;
          return StatusFromErrno(errno, "cannot write '" + path + "'");
        }
        done += static_cast<size_t>(w);
      }
      pending.clear();
      return Status::OK();
    };
    for (const std::string& id : node.content()) {
      Result<Bytes> chunk = store_->Read(crypto::Digest256FromBytes(id));
      if (!chunk.ok()) return chunk.status().WithContext(path);
      const size_t size = chunk->size();
      if (AllZero(*chunk)) {
        RETURN_IF_ERROR(flush());
      } else if (pending.empty()) {
        pending_at = offset;
        pending = std::move(*chunk);
      } else {
        pending.insert(pending.end(), chunk->begin(), chunk->end());
      }
      if (pending.size() >= kWriteBatchBytes) RETURN_IF_ERROR(flush());
      offset += size;
      result_.bytes += size;
    }
    RETURN_IF_ERROR(flush());
    if (offset != node.size()) {
      return Status::Corruption(
          "'" + path + "': its chunks add up to " + std::to_string(offset) +
          " bytes, the snapshot says " + std::to_string(node.size()));
    }
    if (::ftruncate(fd, static_cast<off_t>(offset)) != 0) {
      return StatusFromErrno(errno, "cannot size '" + path + "'");
    }
    return Status::OK();
  }

  // Restores a symlink; false if skip_existing left an entry in its place.
  Result<bool> RestoreSymlink(int dir_fd, const pb::Node& node,
                              const std::string& path) {
    if (options_.skip_existing) {
      ASSIGN_OR_RETURN(bool there, SkipExisting(dir_fd, node, path));
      if (there) return false;
    }
    RETURN_IF_ERROR(CheckReplaceable(dir_fd, node.name(), path));
    // Built under a temporary name like files, so that --overwrite replaces
    // an entry in one rename.
    std::string tmp;
    int rc = -1;
    for (int i = 0; i < kTempAttempts && rc != 0; ++i) {
      tmp = TempName(node.name());
      rc = ::symlinkat(node.link_target().c_str(), dir_fd, tmp.c_str());
      if (rc != 0 && errno != EEXIST) break;
    }
    if (rc != 0) {
      return StatusFromErrno(errno, "cannot create link '" + path + "'");
    }
    Status s;
    if (restore_owner_ && ::fchownat(dir_fd, tmp.c_str(), node.uid(),
                                     node.gid(), AT_SYMLINK_NOFOLLOW) != 0) {
      s = StatusFromErrno(errno, "cannot set the owner of '" + path + "'");
    }
    // Not all filesystems can set a symlink's times; that loses nothing.
    if (s.ok()) {
      ::utimensat(dir_fd, tmp.c_str(), Times(node.mtime_ns()).ts,
                  AT_SYMLINK_NOFOLLOW);
    }
    if (s.ok()) s = Publish(dir_fd, tmp, node.name(), path);
    if (!s.ok()) {
      ::unlinkat(dir_fd, tmp.c_str(), 0);
      return s;
    }
    return true;
  }

  Pass pass_ = Pass::kRest;
  bool final_pass_ = true;
  std::vector<Pending> pending_files_;   // the second pass's, in tree order
  std::vector<Pending> pending_dirs_;    // children before parents
  std::set<std::string> database_dirs_;  // snapshot paths
  std::set<std::string> swept_;          // directories RemoveTemporaries read
  BlobStore* store_;
  const RestoreOptions& options_;
  const bool restore_owner_;
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
  ASSIGN_OR_RETURN(pb::Tree tree, LoadTree(store, tree_id));
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

namespace {
Result<RestoreResult> RestoreWith(BlobStore* store, const pb::Snapshot& snap,
                                  const RestoreOptions& options);
}  // namespace

Result<RestoreResult> Restore(Repository* repo, std::string_view snapshot_id,
                              const RestoreOptions& options) {
  if (options.skip_existing && options.overwrite) {
    return Status::InvalidArgument(
        "skipping existing files and overwriting them exclude each other");
  }
  pb::Snapshot snap;
  RETURN_IF_ERROR(
      repo->LoadObject(ObjectType::kSnapshot, "snapshots", snapshot_id, &snap));
  // A damaged index object must not stop the files it does not list from
  // restoring: it is skipped, and said so.
  std::map<std::string, Status> damaged;
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store,
                   BlobStore::Open(repo, options.cache_dir, &damaged));
  // Only damage is worked around: an index that could not be read for
  // another reason (the store unreachable, permissions) stops the restore.
  for (const auto& [name, status] : damaged) {
    if (!status.IsDataLoss()) return status.WithContext("index " + name);
  }
  Result<RestoreResult> result = RestoreWith(store.get(), snap, options);
  if (damaged.empty()) return result;
  if (!result.ok()) {
    return Status(result.status().code(),
                  std::string(result.status().message()) + " (" +
                      std::to_string(damaged.size()) +
                      " damaged index objects were skipped: run `chatvault "
                      "check`)");
  }
  for (const auto& [name, status] : damaged) {
    result->warnings.push_back("index object " + name +
                               " was skipped: " + status.ToString());
  }
  return result;
}

namespace {

Result<RestoreResult> RestoreWith(BlobStore* store, const pb::Snapshot& snap,
                                  const RestoreOptions& options) {
  if (::mkdir(options.target.c_str(), 0700) != 0 && errno != EEXIST) {
    return StatusFromErrno(errno, "cannot create '" + options.target + "'");
  }
  Fd target(::open(options.target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (target.get() < 0) {
    return StatusFromErrno(errno, "cannot open '" + options.target + "'");
  }
  Restorer restorer(store, options);
  const crypto::Digest256 root = crypto::Digest256FromBytes(snap.tree());
  const auto start = std::chrono::steady_clock::now();
  // Messages first: the databases, complete and synced, then the rest.
  ASSIGN_OR_RETURN(uint64_t databases, restorer.FindDatabases(root, ""));
  if (databases > 0 || options.only_databases) {
    restorer.SetPass(Restorer::Pass::kDatabases,
                     /*final_pass=*/options.only_databases);
    RETURN_IF_ERROR(
        restorer.RestoreTree(root, target.get(), options.target, ""));
    restorer.result().databases_ready =
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - start);
    if (databases > 0 && options.on_databases_ready) {
      options.on_databases_ready(restorer.result());
    }
  }
  if (!options.only_databases) {
    restorer.SetPass(Restorer::Pass::kRest, /*final_pass=*/true);
    RETURN_IF_ERROR(
        restorer.RestoreTree(root, target.get(), options.target, ""));
    RETURN_IF_ERROR(restorer.FinishRest(target.get()));
  }
  return restorer.result();
}

}  // namespace

}  // namespace chatvault::backup
