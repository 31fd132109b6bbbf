#include "sync/follower.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "backup/blob_store.h"
#include "backup/fs_util.h"
#include "base/errno.h"
#include "base/fd.h"
#include "crypto/blake2b.h"
#include "crypto/random.h"

namespace chatvault::sync {
namespace {

using backup::CheckName;
using backup::OpenDirAt;
using backup::Times;

constexpr char kTempWhat[] = "sync";
constexpr int kTempAttempts = 100;
constexpr size_t kWriteBatchBytes = 1 << 20;

std::string RandomSuffix() {
  Bytes b(6);
  crypto::RandomBytes(b);
  return HexEncode(b);
}

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

std::string Parent(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

std::string Base(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool Under(const std::string& path, const std::string& dir) {
  return dir.empty() ? !path.empty()
                     : path.size() > dir.size() && path.starts_with(dir) &&
                           path[dir.size()] == '/';
}

Status WriteAll(int fd, ByteView data, uint64_t at, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = ::pwrite(fd, data.data() + done, data.size() - done,
                         static_cast<off_t>(at + done));
    if (w < 0) {
      if (errno == EINTR) continue;
      return StatusFromErrno(errno, "cannot write '" + path + "'");
    }
    done += static_cast<size_t>(w);
  }
  return Status::OK();
}

Result<Bytes> ReadAt(int fd, uint64_t offset, size_t length) {
  Bytes out(length);
  size_t done = 0;
  while (done < length) {
    ssize_t r = ::pread(fd, out.data() + done, length - done,
                        static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Status::IOError("short read");
    done += static_cast<size_t>(r);
  }
  return out;
}

// Copies `length` bytes at `from` in `in` to `to` in `out`, in the kernel
// where it can (copy_file_range), else through a buffer.
Status CopyRange(int in, uint64_t from, int out, uint64_t to, uint64_t length,
                 const std::string& path) {
  bool kernel = true;
  while (length > 0) {
    if (kernel) {
      loff_t in_off = static_cast<loff_t>(from);
      loff_t out_off = static_cast<loff_t>(to);
      ssize_t n = ::copy_file_range(in, &in_off, out, &out_off, length, 0);
      if (n > 0) {
        from += static_cast<uint64_t>(n);
        to += static_cast<uint64_t>(n);
        length -= static_cast<uint64_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) {
        return Status::Corruption("'" + path + "' shrank while being copied");
      }
      kernel = false;  // EXDEV, ENOSYS, EINVAL...: copy by hand
    }
    const size_t chunk =
        static_cast<size_t>(std::min<uint64_t>(length, 1 << 20));
    Result<Bytes> data = ReadAt(in, from, chunk);
    if (!data.ok()) return data.status().WithContext(path);
    RETURN_IF_ERROR(WriteAll(out, *data, to, path));
    from += chunk;
    to += chunk;
    length -= chunk;
  }
  return Status::OK();
}

// Whether `st` is the file a sync wrote and recorded as `f`: same inode,
// size, mtime and ctime (which no write can keep).
bool SameFile(const struct stat& st, const pb::SyncedFile& f) {
  return f.inode() != 0 && st.st_dev == f.device() && st.st_ino == f.inode() &&
         static_cast<uint64_t>(st.st_size) == f.size() &&
         st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec ==
             f.mtime_ns() &&
         st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec ==
             f.ctime_ns();
}

// Blobs already on this device: in the previous versions of the files
// being rewritten, and in the blob cache (trees, dictionaries).
class LocalBlobs : public backup::BlobStore::LocalSource {
 public:
  explicit LocalBlobs(std::string cache) : cache_(std::move(cache)) {}

  std::optional<Bytes> Get(const crypto::Digest256& id) const override {
    std::shared_ptr<Fd> fd;
    uint64_t offset = 0;
    uint32_t length = 0;
    {
      std::lock_guard lock(mu_);
      auto it = in_files_.find(id);
      if (it != in_files_.end()) {
        fd = it->second.fd;
        offset = it->second.offset;
        length = it->second.length;
      }
    }
    if (fd) {
      Result<Bytes> data = ReadAt(fd->get(), offset, length);
      if (data.ok()) return std::move(*data);
    }
    Fd cached(::open(CachePath(id).c_str(), O_RDONLY | O_CLOEXEC));
    if (!cached.valid()) return std::nullopt;
    struct stat st;
    if (::fstat(cached.get(), &st) != 0) return std::nullopt;
    Result<Bytes> data =
        ReadAt(cached.get(), 0, static_cast<size_t>(st.st_size));
    if (!data.ok()) return std::nullopt;
    return std::move(*data);
  }

  bool Has(const crypto::Digest256& id) const {
    {
      std::lock_guard lock(mu_);
      if (in_files_.contains(id)) return true;
    }
    return ::access(CachePath(id).c_str(), F_OK) == 0;
  }

  // The blobs of `file`, whose previous version is open as `fd`.
  void AddFile(std::shared_ptr<Fd> fd, const pb::SyncedFile& file) {
    std::lock_guard lock(mu_);
    uint64_t offset = 0;
    for (int i = 0; i < file.blobs_size() && i < file.lengths_size(); ++i) {
      if (file.blobs(i).size() == crypto::kDigest256Bytes) {
        in_files_.emplace(crypto::Digest256FromBytes(file.blobs(i)),
                          InFile{fd, offset, file.lengths(i)});
      }
      offset += file.lengths(i);
    }
  }

  // Forgets the previous versions added so far (closing them once unused).
  void ClearFiles() {
    std::lock_guard lock(mu_);
    in_files_.clear();
  }

  // Keeps a blob (a tree or a dictionary) for the next sync. A cache: a
  // failure to write it costs a fetch later, nothing else.
  void Put(const crypto::Digest256& id, ByteView data) const {
    if (!MakePrivateDir(cache_).ok()) return;
    const std::string path = CachePath(id);
    const std::string tmp = path + "." + RandomSuffix() + ".tmp";
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid()) return;
    if (!WriteAll(fd.get(), data, 0, tmp).ok() || !fd.Close(tmp).ok() ||
        ::rename(tmp.c_str(), path.c_str()) != 0) {
      ::unlink(tmp.c_str());
    }
  }

 private:
  struct InFile {
    std::shared_ptr<Fd> fd;
    uint64_t offset;
    uint32_t length;
  };
  std::string CachePath(const crypto::Digest256& id) const {
    return cache_ + "/" + HexEncode(id);
  }

  const std::string cache_;
  mutable std::mutex mu_;
  std::map<crypto::Digest256, InFile> in_files_;
};

class Materializer {
 public:
  Materializer(backup::BlobStore* store, LocalBlobs* local,
               const pb::SyncManifest& old, bool overwrite)
      : store_(store), local_(local), overwrite_(overwrite) {
    for (const pb::SyncedFile& f : old.files()) old_files_[f.path()] = f;
    for (const pb::SyncedDir& d : old.dirs()) old_dirs_[d.path()] = d.tree();
    old_symlinks_.insert(old.symlinks().begin(), old.symlinks().end());
  }

  // Materialises `tree` (named `tree_id`, if it is a stored tree) as the
  // directory open as `dir_fd`, at `path` below the target.
  Status SyncTree(int dir_fd, const std::string& path, const pb::Tree& tree,
                  const std::string& tree_id) {
    RemoveTemporaries(dir_fd);
    std::set<std::string> seen;
    for (const pb::Node& node : tree.nodes()) {
      RETURN_IF_ERROR(CheckName(node.name()));
      if (!seen.insert(node.name()).second) {
        return Status::Corruption("a tree names '" + node.name() + "' twice");
      }
      const std::string child = Join(path, node.name());
      switch (node.type()) {
        case pb::NODE_TYPE_FILE:
          RETURN_IF_ERROR(SyncFile(dir_fd, child, node));
          break;
        case pb::NODE_TYPE_DIR:
          RETURN_IF_ERROR(SyncDir(dir_fd, child, node));
          break;
        case pb::NODE_TYPE_SYMLINK:
          RETURN_IF_ERROR(SyncSymlink(dir_fd, child, node));
          break;
        default:
          return Status::Corruption("'" + child + "' has an unknown type");
      }
    }
    RETURN_IF_ERROR(RemoveGone(dir_fd, path, seen));
    if (!tree_id.empty()) AddDir(path, tree_id);
    if (::fsync(dir_fd) != 0) {
      return StatusFromErrno(errno, "cannot sync '" + Shown(path) + "'");
    }
    return Status::OK();
  }

  Result<pb::Tree> LoadTree(const std::string& id) {
    if (id.size() != crypto::kDigest256Bytes) {
      return Status::Corruption("a tree ID is malformed");
    }
    const crypto::Digest256 digest = crypto::Digest256FromBytes(id);
    const bool cached = local_->Has(digest);
    ASSIGN_OR_RETURN(Bytes data, store_->Read(digest));
    if (!cached) local_->Put(digest, data);
    pb::Tree tree;
    if (!tree.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
      return Status::Corruption("tree " + HexEncode(AsBytes(id)) +
                                " does not parse");
    }
    return tree;
  }

  bool Unchanged(const std::string& path, const std::string& tree_id) const {
    auto it = old_dirs_.find(path);
    return it != old_dirs_.end() && it->second == tree_id;
  }

  // Keeps everything the old manifest says about `path` and below.
  void CarryOver(const std::string& path) {
    for (const auto& [p, f] : old_files_) {
      if (Under(p, path)) *manifest_.add_files() = f;
    }
    for (const auto& [p, t] : old_dirs_) {
      if (p == path || Under(p, path)) AddDir(p, t);
    }
    for (const std::string& s : old_symlinks_) {
      if (Under(s, path)) manifest_.add_symlinks(s);
    }
  }

  pb::SyncManifest& manifest() { return manifest_; }
  FollowResult& result() { return result_; }

 private:
  static std::string Shown(const std::string& path) {
    return path.empty() ? "the target" : path;
  }

  bool Ours(const std::string& path) const {
    return old_files_.contains(path) || old_dirs_.contains(path) ||
           old_symlinks_.contains(path);
  }

  void AddDir(const std::string& path, const std::string& tree) {
    pb::SyncedDir* d = manifest_.add_dirs();
    d->set_path(path);
    d->set_tree(tree);
  }

  // Makes room for a new entry at `path`: removes what an earlier sync put
  // there; refuses to replace anything else unless overwriting.
  Status ClearWay(int dir_fd, const std::string& path, bool want_dir) {
    const std::string name = Base(path);
    struct stat st;
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return Status::OK();
      return StatusFromErrno(errno, "cannot inspect '" + path + "'");
    }
    const bool is_dir = S_ISDIR(st.st_mode);
    if (is_dir == want_dir) {
      if (want_dir || Ours(path) || overwrite_) return Status::OK();
    } else if (Ours(path)) {
      if (is_dir) return RemoveOldDir(dir_fd, path);
      if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
        return StatusFromErrno(errno, "cannot remove '" + path + "'");
      }
      return Status::OK();
    } else if (!is_dir && overwrite_) {
      return Status::OK();
    }
    return Status::AlreadyExists(
        "'" + path +
        "' in the target was not written by a sync; move it away (or sync "
        "with --overwrite to replace files)");
  }

  Status SyncDir(int dir_fd, const std::string& path, const pb::Node& node) {
    const std::string name = Base(path);
    RETURN_IF_ERROR(ClearWay(dir_fd, path, /*want_dir=*/true));
    if (::mkdirat(dir_fd, name.c_str(), 0700) != 0 && errno != EEXIST) {
      return StatusFromErrno(errno, "cannot create '" + path + "'");
    }
    Fd fd(OpenDirAt(dir_fd, name));
    if (!fd.valid()) {
      return StatusFromErrno(errno, "cannot open directory '" + path + "'");
    }
    if (Unchanged(path, node.subtree())) {
      CarryOver(path);
    } else {
      ASSIGN_OR_RETURN(pb::Tree tree, LoadTree(node.subtree()));
      RETURN_IF_ERROR(SyncTree(fd.get(), path, tree, node.subtree()));
    }
    if (::fchmod(fd.get(), (node.mode() & backup::kPermissionBits) | 0700) !=
            0 ||
        ::futimens(fd.get(), Times(node.mtime_ns()).ts) != 0) {
      return StatusFromErrno(errno, "cannot set the times of '" + path + "'");
    }
    return Status::OK();
  }

  Status SyncFile(int dir_fd, const std::string& path, const pb::Node& node) {
    const std::string name = Base(path);
    auto old = old_files_.find(path);
    struct stat st;
    const bool exists =
        ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(st.st_mode);
    if (old != old_files_.end() && exists && SameFile(st, old->second) &&
        old->second.size() == node.size() &&
        std::equal(old->second.blobs().begin(), old->second.blobs().end(),
                   node.content().begin(), node.content().end())) {
      *manifest_.add_files() = old->second;
      return Status::OK();
    }
    // A file no manifest lists (the manifest was lost, or a sync stopped
    // before saving it) that already holds this content is taken as is.
    if (old == old_files_.end() && exists &&
        static_cast<uint64_t>(st.st_size) == node.size()) {
      ASSIGN_OR_RETURN(bool adopted, Adopt(dir_fd, path, node));
      if (adopted) return Status::OK();
    }
    RETURN_IF_ERROR(ClearWay(dir_fd, path, /*want_dir=*/false));
    // The previous version lends its blobs: checked against their IDs as
    // they are read, unless the file is exactly as the last sync left it
    // (same inode, size, mtime and ctime, which no write can keep), when
    // its ranges are copied in the kernel without being read.
    std::shared_ptr<Fd> old_fd;
    std::map<std::string, std::pair<uint64_t, uint32_t>> trusted;
    if (old != old_files_.end() && exists) {
      auto fd = std::make_shared<Fd>(
          ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      struct stat now;
      if (fd->valid() && ::fstat(fd->get(), &now) == 0 &&
          S_ISREG(now.st_mode) &&
          static_cast<uint64_t>(now.st_size) == old->second.size()) {
        local_->AddFile(fd, old->second);
        old_fd = fd;
        if (SameFile(now, old->second)) {
          uint64_t at = 0;
          const pb::SyncedFile& f = old->second;
          for (int i = 0; i < f.blobs_size() && i < f.lengths_size(); ++i) {
            trusted.emplace(f.blobs(i), std::make_pair(at, f.lengths(i)));
            at += f.lengths(i);
          }
        }
      }
    }
    if (!node.sqlite_dictionary().empty()) {
      // Pages stored whole are compressed with it: fetch it once, keep it.
      RETURN_IF_ERROR(LoadDictionary(node.sqlite_dictionary()));
    }
    std::vector<std::string> missing;
    for (const std::string& id : node.content()) {
      if (id.size() != crypto::kDigest256Bytes ||
          (!trusted.contains(id) &&
           !local_->Has(crypto::Digest256FromBytes(id)))) {
        missing.push_back(id);
      }
    }
    result_.blobs_fetched += missing.size();
    store_->ReadAhead(missing);

    std::string tmp;
    Fd out;
    for (int i = 0; i < kTempAttempts && !out.valid(); ++i) {
      tmp = backup::TempName(name, kTempWhat);
      out = Fd(::openat(dir_fd, tmp.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        0600));
      if (!out.valid() && errno != EEXIST) break;
    }
    if (!out.valid()) {
      store_->DropReadAhead();
      return StatusFromErrno(errno,
                             "cannot create a file beside '" + path + "'");
    }
    Status s =
        WriteFile(out.get(), node, path, old_fd ? old_fd->get() : -1, trusted);
    if (s.ok() &&
        (::fchmod(out.get(), node.mode() & backup::kPermissionBits) != 0 ||
         ::futimens(out.get(), Times(node.mtime_ns()).ts) != 0)) {
      s = StatusFromErrno(errno, "cannot set the mode of '" + path + "'");
    }
    // Synced before it replaces the old version: after a crash the name
    // holds one whole version or the other.
    if (s.ok() && ::fsync(out.get()) != 0) {
      s = StatusFromErrno(errno, "cannot sync '" + path + "'");
    }
    if (s.ok()) s = out.Close(path);
    // A database's "-wal" or "-journal" beside the old version would be
    // applied to the new one by SQLite, corrupting it: they go first.
    if (s.ok() && node.sqlite_page_size() != 0) {
      for (const char* suffix : {"-wal", "-journal", "-shm"}) {
        const std::string companion = name + suffix;
        if (::unlinkat(dir_fd, companion.c_str(), 0) != 0 && errno != ENOENT) {
          s = StatusFromErrno(errno, "cannot remove '" + path + suffix + "'");
          break;
        }
      }
    }
    if (s.ok() && ::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) {
      s = StatusFromErrno(errno, "cannot replace '" + path + "'");
    }
    if (!s.ok()) {
      store_->DropReadAhead();
      ::unlinkat(dir_fd, tmp.c_str(), 0);
      return s;
    }
    struct stat done;
    if (::fstatat(dir_fd, name.c_str(), &done, AT_SYMLINK_NOFOLLOW) == 0) {
      pb::SyncedFile* entry =
          manifest_.mutable_files(manifest_.files_size() - 1);
      entry->set_device(done.st_dev);
      entry->set_inode(done.st_ino);
      entry->set_mtime_ns(done.st_mtim.tv_sec * 1'000'000'000LL +
                          done.st_mtim.tv_nsec);
      entry->set_ctime_ns(done.st_ctim.tv_sec * 1'000'000'000LL +
                          done.st_ctim.tv_nsec);
    }
    local_->ClearFiles();
    ++result_.files_written;
    return Status::OK();
  }

  // Whether the file at `path` holds exactly `node`'s content (each piece
  // hashed and compared with its blob ID); if so it is listed as ours.
  Result<bool> Adopt(int dir_fd, const std::string& path,
                     const pb::Node& node) {
    Fd fd(::openat(dir_fd, Base(path).c_str(),
                   O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st;
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return false;
    }
    pb::SyncedFile entry;
    entry.set_path(path);
    entry.set_size(node.size());
    uint64_t at = 0;
    for (const std::string& id : node.content()) {
      if (id.size() != crypto::kDigest256Bytes) return false;
      const crypto::Digest256 digest = crypto::Digest256FromBytes(id);
      std::optional<uint32_t> length = store_->RawLength(digest);
      if (!length || at + *length > node.size()) return false;
      Result<Bytes> piece = ReadAt(fd.get(), at, *length);
      if (!piece.ok() ||
          crypto::Blake2b256(store_->blob_id_key(), *piece) != digest) {
        return false;
      }
      entry.add_blobs(id);
      entry.add_lengths(*length);
      at += *length;
    }
    if (at != node.size()) return false;
    // The snapshot's mode and time, as a written file would have.
    if (::fchmod(fd.get(), node.mode() & backup::kPermissionBits) != 0 ||
        ::futimens(fd.get(), Times(node.mtime_ns()).ts) != 0 ||
        ::fstat(fd.get(), &st) != 0) {
      return StatusFromErrno(errno, "cannot set the mode of '" + path + "'");
    }
    entry.set_device(st.st_dev);
    entry.set_inode(st.st_ino);
    entry.set_mtime_ns(st.st_mtim.tv_sec * 1'000'000'000LL +
                       st.st_mtim.tv_nsec);
    entry.set_ctime_ns(st.st_ctim.tv_sec * 1'000'000'000LL +
                       st.st_ctim.tv_nsec);
    *manifest_.add_files() = std::move(entry);
    return true;
  }

  // Writes `node`'s content to `fd`: blobs in `trusted` are copied from
  // `old_fd` (runs of them in one copy), the others read from the store.
  Status WriteFile(
      int fd, const pb::Node& node, const std::string& path, int old_fd,
      const std::map<std::string, std::pair<uint64_t, uint32_t>>& trusted) {
    pb::SyncedFile* entry = manifest_.add_files();
    entry->set_path(path);
    entry->set_size(node.size());
    Bytes pending;
    uint64_t pending_at = 0;
    uint64_t copy_from = 0, copy_to = 0, copy_len = 0;
    auto flush_copy = [&]() -> Status {
      Status s = CopyRange(old_fd, copy_from, fd, copy_to, copy_len, path);
      copy_len = 0;
      return s;
    };
    uint64_t offset = 0;
    for (const std::string& id : node.content()) {
      if (id.size() != crypto::kDigest256Bytes) {
        return Status::Corruption("'" + path + "' names a malformed blob");
      }
      entry->add_blobs(id);
      auto local = trusted.find(id);
      if (local != trusted.end()) {
        const auto [from, length] = local->second;
        RETURN_IF_ERROR(WriteAll(fd, pending, pending_at, path));
        pending.clear();
        if (copy_len > 0 && copy_from + copy_len == from &&
            copy_to + copy_len == offset) {
          copy_len += length;
        } else {
          RETURN_IF_ERROR(flush_copy());
          copy_from = from;
          copy_to = offset;
          copy_len = length;
        }
        entry->add_lengths(length);
        offset += length;
        ++result_.blobs_local;
        continue;
      }
      Result<Bytes> chunk = store_->Read(crypto::Digest256FromBytes(id));
      if (!chunk.ok()) return chunk.status().WithContext(path);
      RETURN_IF_ERROR(flush_copy());
      entry->add_lengths(static_cast<uint32_t>(chunk->size()));
      if (pending.empty()) pending_at = offset;
      offset += chunk->size();
      pending.insert(pending.end(), chunk->begin(), chunk->end());
      if (pending.size() >= kWriteBatchBytes) {
        RETURN_IF_ERROR(WriteAll(fd, pending, pending_at, path));
        pending.clear();
      }
    }
    RETURN_IF_ERROR(flush_copy());
    RETURN_IF_ERROR(WriteAll(fd, pending, pending_at, path));
    if (offset != node.size()) {
      return Status::Corruption(
          "'" + path + "': its chunks add up to " + std::to_string(offset) +
          " bytes, the snapshot says " + std::to_string(node.size()));
    }
    result_.bytes_written += offset;
    return Status::OK();
  }

  Status LoadDictionary(const std::string& id) {
    if (id.size() != crypto::kDigest256Bytes) {
      return Status::Corruption("a dictionary ID is malformed");
    }
    const crypto::Digest256 digest = crypto::Digest256FromBytes(id);
    if (local_->Has(digest)) return Status::OK();
    ASSIGN_OR_RETURN(Bytes data, store_->Read(digest));
    ++result_.blobs_fetched;
    local_->Put(digest, data);
    return Status::OK();
  }

  Status SyncSymlink(int dir_fd, const std::string& path,
                     const pb::Node& node) {
    const std::string name = Base(path);
    RETURN_IF_ERROR(ClearWay(dir_fd, path, /*want_dir=*/false));
    std::string tmp;
    int rc = -1;
    for (int i = 0; i < kTempAttempts && rc != 0; ++i) {
      tmp = backup::TempName(name, kTempWhat);
      rc = ::symlinkat(node.link_target().c_str(), dir_fd, tmp.c_str());
      if (rc != 0 && errno != EEXIST) break;
    }
    if (rc != 0) {
      return StatusFromErrno(errno, "cannot create link '" + path + "'");
    }
    if (::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) {
      Status s = StatusFromErrno(errno, "cannot replace '" + path + "'");
      ::unlinkat(dir_fd, tmp.c_str(), 0);
      return s;
    }
    manifest_.add_symlinks(path);
    return Status::OK();
  }

  // Removes what an earlier sync made below `dir` and the store no longer
  // has.
  Status RemoveGone(int dir_fd, const std::string& dir,
                    const std::set<std::string>& seen) {
    auto gone = [&](const std::string& p) {
      return Parent(p) == dir && !seen.contains(Base(p));
    };
    for (const auto& [p, f] : old_files_) {
      if (!gone(p)) continue;
      if (::unlinkat(dir_fd, Base(p).c_str(), 0) == 0) ++result_.files_removed;
    }
    for (const std::string& p : old_symlinks_) {
      if (gone(p)) ::unlinkat(dir_fd, Base(p).c_str(), 0);
    }
    for (const auto& [p, t] : old_dirs_) {
      if (gone(p)) RETURN_IF_ERROR(RemoveOldDir(dir_fd, p));
    }
    return Status::OK();
  }

  // Removes directory `path` (a child of `dir_fd`) with what an earlier
  // sync put in it; anything else keeps it in place.
  Status RemoveOldDir(int dir_fd, const std::string& path) {
    Fd fd(OpenDirAt(dir_fd, Base(path)));
    if (fd.valid()) {
      RETURN_IF_ERROR(RemoveGone(fd.get(), path, {}));
    }
    if (::unlinkat(dir_fd, Base(path).c_str(), AT_REMOVEDIR) != 0 &&
        errno != ENOENT && errno != ENOTEMPTY && errno != ENOTDIR) {
      return StatusFromErrno(errno, "cannot remove '" + path + "'");
    }
    return Status::OK();
  }

  // Temporary files of a sync that was interrupted.
  static void RemoveTemporaries(int dir_fd) {
    int dup = ::dup(dir_fd);
    if (dup < 0) return;
    DIR* d = ::fdopendir(dup);
    if (d == nullptr) {
      ::close(dup);
      return;
    }
    std::vector<std::string> stale;
    const std::string marker = std::string(".chatvault-") + kTempWhat + "-";
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      size_t at = n.rfind(marker);
      if (n.starts_with(".") && at != std::string::npos &&
          n.size() == at + marker.size() + 6) {
        stale.push_back(n);
      }
    }
    ::closedir(d);
    for (const std::string& n : stale) ::unlinkat(dir_fd, n.c_str(), 0);
  }

  backup::BlobStore* store_;
  LocalBlobs* local_;
  const bool overwrite_;
  std::map<std::string, pb::SyncedFile> old_files_;
  std::map<std::string, std::string> old_dirs_;
  std::set<std::string> old_symlinks_;
  pb::SyncManifest manifest_;
  FollowResult result_;
};

// Whether every file the manifest lists is in the target as the sync left
// it (a stat each; nothing is written, so following a symlink on the way
// is harmless here).
bool TargetMatches(const pb::SyncManifest& manifest, int target_fd) {
  for (const pb::SyncedFile& f : manifest.files()) {
    struct stat st;
    if (::fstatat(target_fd, f.path().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode) || !SameFile(st, f)) {
      return false;
    }
  }
  return true;
}

const pb::Device* FindById(const pb::DeviceList& list, const std::string& id) {
  for (const pb::Device& d : list.devices()) {
    if (d.device_id() == id) return &d;
  }
  return nullptr;
}

// The node at `path` ("/a/b") in the tree `root`.
Result<pb::Node> Lookup(Materializer& m, const std::string& root,
                        const std::string& path) {
  pb::Node node;
  node.set_type(pb::NODE_TYPE_DIR);
  node.set_subtree(root);
  size_t at = 0;
  while (at < path.size()) {
    size_t next = path.find('/', at);
    if (next == std::string::npos) next = path.size();
    std::string part = path.substr(at, next - at);
    at = next + 1;
    if (part.empty()) continue;
    if (node.type() != pb::NODE_TYPE_DIR) {
      return Status::Corruption("the published path " + path +
                                " is not in the snapshot");
    }
    ASSIGN_OR_RETURN(pb::Tree tree, m.LoadTree(node.subtree()));
    auto it = std::find_if(tree.nodes().begin(), tree.nodes().end(),
                           [&](const pb::Node& n) { return n.name() == part; });
    if (it == tree.nodes().end()) {
      return Status::Corruption("the published path " + path +
                                " is not in the snapshot");
    }
    node = *it;
  }
  return node;
}

}  // namespace

Follower::Follower(Account* account, pb::Device device, FollowOptions options)
    : account_(account),
      device_(std::move(device)),
      options_(std::move(options)) {}

Result<FollowResult> Follower::Poll() {
  // The tag moves only once the head is in place: a poll that fails is
  // repeated in full by the next one.
  std::string tag = tag_;
  Result<std::optional<pb::Head>> read = account_->ReadHead(device_, &tag);
  if (read.status().code() == StatusCode::kNotFound) {
    // A revoked device's head is removed with it.
    ASSIGN_OR_RETURN(pb::DeviceList list, account_->LoadDevices());
    const pb::Device* now = FindById(list, device_.device_id());
    if (now != nullptr && now->status() != pb::DEVICE_STATUS_ACTIVE) {
      return Status::PermissionDenied("device " + now->name() +
                                      " was revoked; it is no longer followed");
    }
    FollowResult waiting;
    waiting.no_head = true;
    return waiting;
  }
  RETURN_IF_ERROR(read.status());
  std::optional<pb::Head> head = std::move(*read);
  if (!head.has_value()) return FollowResult{};
  // A new head: the device may have been revoked since the list was read.
  ASSIGN_OR_RETURN(pb::DeviceList list, account_->LoadDevices());
  const pb::Device* now = FindById(list, device_.device_id());
  if (now == nullptr) {
    return Status::NotFound("device " + device_.name() +
                            " is no longer in the account's device list");
  }
  if (now->status() != pb::DEVICE_STATUS_ACTIVE) {
    return Status::PermissionDenied("device " + now->name() +
                                    " was revoked; it is no longer followed");
  }
  ASSIGN_OR_RETURN(FollowResult result, Materialize(*head));
  tag_ = std::move(tag);
  return result;
}

Result<FollowResult> Follower::Materialize(const pb::Head& head) {
  backup::Repository* repo = account_->repo();
  const std::string repo_hex = HexEncode(repo->keys().repository_id());
  // The blob cache is disposable; the manifest is the device's state (it
  // says which files in the target a sync wrote), kept in its home.
  const std::string base = options_.cache_dir + "/" + repo_hex + "/sync";
  const std::string state_dir = account_->home() + "/sync/" + repo_hex;
  std::error_code ec;
  std::filesystem::create_directories(options_.target, ec);
  RETURN_IF_ERROR(MakePrivateDir(base));
  RETURN_IF_ERROR(MakePrivateDir(state_dir));
  const std::string target_abs =
      std::filesystem::weakly_canonical(options_.target, ec).string();
  const std::string manifest_path =
      state_dir + "/" + HexEncode(AsBytes(device_.device_id())).substr(0, 16) +
      "-" + HexEncode(*crypto::Blake2b(AsBytes(target_abs), 16)).substr(0, 16);

  // One sync at a time per target: a second one would take the first's
  // files for strangers and its temporaries for leftovers.
  const std::string lock_path = manifest_path + ".lock";
  Fd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.valid()) return StatusFromErrno(errno, lock_path);
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status::Locked("another sync into " + options_.target +
                            " is running");
    }
    return StatusFromErrno(errno, lock_path);
  }
  pb::SyncManifest old;
  {
    Fd fd(::open(manifest_path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st;
    if (fd.valid() && ::fstat(fd.get(), &st) == 0) {
      Result<Bytes> data = ReadAt(fd.get(), 0, static_cast<size_t>(st.st_size));
      // A damaged manifest only costs a full fetch.
      if (!data.ok() ||
          !old.ParseFromArray(data->data(), static_cast<int>(data->size()))) {
        old.Clear();
      }
    }
  }
  FollowResult result;
  result.head = head;
  Fd target(
      ::open(options_.target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!target.valid()) {
    return StatusFromErrno(errno, "cannot open " + options_.target);
  }
  // Something changed the target behind the manifest's back (a file
  // removed or rewritten): walk every directory again, checking each file,
  // instead of trusting unchanged trees.
  if (!TargetMatches(old, target.get())) {
    old.clear_dirs();
    old.clear_snapshot();
  }
  if (old.snapshot() == head.snapshot()) {
    RETURN_IF_ERROR(account_->NoteHeadSeen(head));
    return result;
  }

  pb::Snapshot snapshot;
  RETURN_IF_ERROR(repo->LoadObject(backup::ObjectType::kSnapshot, "snapshots",
                                   HexEncode(AsBytes(head.snapshot())),
                                   &snapshot));
  if (snapshot.tree() != head.tree()) {
    return Status::Corruption(
        "snapshot " + HexEncode(AsBytes(head.snapshot())).substr(0, 8) +
        " is not the one the signed head names: it was replaced");
  }
  // Declared first, destroyed last: the store's workers use it.
  LocalBlobs local(base + "/blobs");
  ASSIGN_OR_RETURN(auto store,
                   backup::BlobStore::Open(repo, options_.cache_dir));
  store->SetLocalSource(&local);
  Materializer m(store.get(), &local, old, options_.overwrite);

  // One published directory is materialised as the target itself; a file,
  // or several paths, as entries named by their last component.
  Status s;
  if (head.paths_size() == 0) {
    return Status::Corruption("the head names no published path");
  }
  std::vector<pb::Node> roots;
  for (const std::string& p : head.paths()) {
    ASSIGN_OR_RETURN(pb::Node node, Lookup(m, snapshot.tree(), p));
    roots.push_back(std::move(node));
  }
  if (roots.size() == 1 && roots[0].type() == pb::NODE_TYPE_DIR) {
    const std::string& tree_id = roots[0].subtree();
    if (m.Unchanged("", tree_id)) {
      m.CarryOver("");
    } else {
      ASSIGN_OR_RETURN(pb::Tree tree, m.LoadTree(tree_id));
      s = m.SyncTree(target.get(), "", tree, tree_id);
    }
  } else {
    pb::Tree tree;
    for (size_t i = 0; i < roots.size(); ++i) {
      pb::Node node = roots[i];
      const std::string& p = head.paths(static_cast<int>(i));
      node.set_name(p.substr(p.rfind('/') + 1));
      *tree.add_nodes() = std::move(node);
    }
    std::sort(tree.mutable_nodes()->begin(), tree.mutable_nodes()->end(),
              [](const pb::Node& a, const pb::Node& b) {
                return a.name() < b.name();
              });
    s = m.SyncTree(target.get(), "", tree, "");
  }
  store->SetLocalSource(nullptr);
  result.files_written = m.result().files_written;
  result.files_removed = m.result().files_removed;
  result.bytes_written = m.result().bytes_written;
  result.blobs_fetched = m.result().blobs_fetched;
  result.blobs_local = m.result().blobs_local + store->local_reads();
  if (!s.ok()) return s;

  m.manifest().set_snapshot(head.snapshot());
  m.manifest().set_head_version(head.version());
  const std::string tmp = manifest_path + "." + RandomSuffix() + ".tmp";
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid()) return StatusFromErrno(errno, tmp);
    std::string wire = m.manifest().SerializeAsString();
    Status s = WriteAll(fd.get(), AsBytes(wire), 0, tmp);
    if (s.ok() && ::fsync(fd.get()) != 0) s = StatusFromErrno(errno, tmp);
    if (s.ok()) s = fd.Close(tmp);
    if (!s.ok()) {
      ::unlink(tmp.c_str());
      return s;
    }
  }
  if (::rename(tmp.c_str(), manifest_path.c_str()) != 0) {
    Status s = StatusFromErrno(errno, manifest_path);
    ::unlink(tmp.c_str());
    return s;
  }
  {
    Fd dir(::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.valid()) ::fsync(dir.get());
  }
  RETURN_IF_ERROR(account_->NoteHeadSeen(head));
  result.changed = true;
  return result;
}

}  // namespace chatvault::sync
