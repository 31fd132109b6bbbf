#include "backup/archiver.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstring>
#include <map>

#include "backup/blob_store.h"
#include "backup/file_cache.h"
#include "base/errno.h"

namespace chatvault::backup {
namespace {

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
         st.st_mtim.tv_nsec;
}

std::string Absolute(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) != nullptr) return buf;
  return path;
}

class Archiver {
 public:
  Archiver(Repository* repo, BlobStore* store, FileCache* cache,
           const Chunker& chunker, const BackupOptions& options,
           const ProgressFn& progress)
      : repo_(repo),
        store_(store),
        cache_(cache),
        chunker_(chunker),
        options_(options),
        progress_(progress) {}

  // The node for `path` (named `name`), or nullopt if it is skipped.
  Result<std::optional<pb::Node>> SaveEntry(const std::string& path,
                                            const std::string& name) {
    if (Excluded(path, name)) return std::optional<pb::Node>();
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return std::optional<pb::Node>();  // vanished
      return Unreadable(path,
                        StatusFromErrno(errno, "cannot stat '" + path + "'"));
    }
    pb::Node node;
    node.set_name(name);
    node.set_mode(st.st_mode & 07777);
    node.set_mtime_ns(MtimeNs(st));
    node.set_uid(st.st_uid);
    node.set_gid(st.st_gid);
    if (S_ISREG(st.st_mode)) {
      node.set_type(pb::NODE_TYPE_FILE);
      if (!ReuseUnchanged(path, st, &node)) {
        Status s = SaveFile(path, &node);
        if (!s.ok()) return Unreadable(path, s);
        if (cache_) {
          cache_->Record(path, st,
                         {node.content().begin(), node.content().end()});
        }
      }
      ++progress_state_.files;
    } else if (S_ISDIR(st.st_mode)) {
      node.set_type(pb::NODE_TYPE_DIR);
      ASSIGN_OR_RETURN(crypto::Digest256 tree, SaveDir(path));
      node.set_subtree(std::string(AsChars(tree)));
      ++progress_state_.dirs;
    } else if (S_ISLNK(st.st_mode)) {
      node.set_type(pb::NODE_TYPE_SYMLINK);
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
      if (n < 0) {
        return Unreadable(
            path, StatusFromErrno(errno, "cannot read link '" + path + "'"));
      }
      target.resize(static_cast<size_t>(n));
      node.set_link_target(target);
    } else {
      return std::optional<pb::Node>();  // devices, sockets, fifos: not chat
                                         // data
    }
    Report();
    return std::optional<pb::Node>(std::move(node));
  }

  // Stores the tree of directory `path` and returns its blob ID.
  Result<crypto::Digest256> SaveDir(const std::string& path) {
    std::vector<std::string> names;
    {
      DIR* d = ::opendir(path.c_str());
      if (d == nullptr) {
        Status s = StatusFromErrno(errno, "cannot list '" + path + "'");
        unreadable_.push_back(path + ": " + std::string(s.message()));
      } else {
        while (dirent* e = ::readdir(d)) {
          if (std::strcmp(e->d_name, ".") == 0 ||
              std::strcmp(e->d_name, "..") == 0)
            continue;
          names.emplace_back(e->d_name);
        }
        ::closedir(d);
      }
    }
    std::sort(names.begin(), names.end());
    pb::Tree tree;
    for (const std::string& name : names) {
      ASSIGN_OR_RETURN(std::optional<pb::Node> node,
                       SaveEntry(path + "/" + name, name));
      if (node) *tree.add_nodes() = std::move(*node);
    }
    return SaveTree(tree);
  }

  Result<crypto::Digest256> SaveTree(const pb::Tree& tree) {
    std::string bytes = tree.SerializeAsString();
    crypto::Digest256 id = BlobId(repo_->keys().blob_id_key(), AsBytes(bytes));
    RETURN_IF_ERROR(
        store_->Add(pb::BLOB_TYPE_TREE, id, AsBytes(bytes)).status());
    return id;
  }

  const std::vector<std::string>& unreadable() const { return unreadable_; }
  uint64_t files_unchanged() const { return files_unchanged_; }
  const BackupProgress& progress() const { return progress_state_; }

 private:
  bool Excluded(const std::string& path, const std::string& name) const {
    for (const std::string& pattern : options_.excludes) {
      if (::fnmatch(pattern.c_str(), name.c_str(), 0) == 0 ||
          ::fnmatch(pattern.c_str(), path.c_str(), FNM_PATHNAME) == 0) {
        return true;
      }
    }
    return false;
  }

  Result<std::optional<pb::Node>> Unreadable(const std::string& path,
                                             const Status& s) {
    // A file we may not read is reported, not fatal; anything else (the
    // repository failing) stops the backup.
    if (s.code() == StatusCode::kPermissionDenied ||
        s.code() == StatusCode::kNotFound || s.code() == StatusCode::kIOError) {
      unreadable_.push_back(path + ": " + std::string(s.message()));
      return std::optional<pb::Node>();
    }
    return s;
  }

  // Fills `node` from the cache if the file is unchanged since it was last
  // read and the repository still has all its blobs.
  bool ReuseUnchanged(const std::string& path, const struct stat& st,
                      pb::Node* node) {
    if (!cache_) return false;
    std::optional<pb::FileCacheEntry> e = cache_->Lookup(path, st);
    if (!e) return false;
    for (const std::string& id : e->content()) {
      crypto::Digest256 d{};
      if (id.size() != d.size()) return false;
      std::memcpy(d.data(), id.data(), d.size());
      if (!store_->Has(d)) return false;
    }
    for (const std::string& id : e->content()) node->add_content(id);
    node->set_size(e->size());
    ++files_unchanged_;
    // Recorded again so the entry survives into the next cache state.
    cache_->Record(path, st, {e->content().begin(), e->content().end()});
    return true;
  }

  Status SaveFile(const std::string& path, pb::Node* node) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return StatusFromErrno(errno, "cannot open '" + path + "'");
    progress_state_.current = path;
    const size_t max = chunker_.params().max_size;
    Bytes buf;
    buf.reserve(2 * max);
    bool eof = false;
    uint64_t size = 0;
    Status status;
    while (status.ok()) {
      while (!eof && buf.size() < 2 * max) {
        size_t old = buf.size();
        buf.resize(2 * max);
        ssize_t n = ::read(fd, buf.data() + old, buf.size() - old);
        if (n < 0) {
          if (errno == EINTR) {
            buf.resize(old);
            continue;
          }
          status = StatusFromErrno(errno, "cannot read '" + path + "'");
          buf.resize(old);
          break;
        }
        buf.resize(old + static_cast<size_t>(n));
        if (n == 0) eof = true;
      }
      if (!status.ok() || buf.empty()) break;
      size_t offset = 0;
      while (offset < buf.size() && (eof || buf.size() - offset >= max)) {
        Chunker::Cut cut = chunker_.FindCut(ByteView(buf).subspan(offset));
        ByteView chunk = ByteView(buf).subspan(offset, cut.length);
        crypto::Digest256 id = BlobId(repo_->keys().blob_id_key(), chunk);
        Result<bool> added = store_->Add(pb::BLOB_TYPE_DATA, id, chunk);
        if (!added.ok()) {
          ::close(fd);
          return added.status();
        }
        if (*added) progress_state_.bytes_new += chunk.size();
        node->add_content(std::string(AsChars(id)));
        offset += cut.length;
        size += cut.length;
        progress_state_.bytes_read += cut.length;
      }
      buf.erase(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(offset));
      Report();
      if (eof && buf.empty()) break;
    }
    ::close(fd);
    RETURN_IF_ERROR(status);
    node->set_size(size);
    return Status::OK();
  }

  void Report() {
    if (progress_) progress_(progress_state_);
  }

  Repository* repo_;
  BlobStore* store_;
  FileCache* cache_;
  uint64_t files_unchanged_ = 0;
  const Chunker& chunker_;
  const BackupOptions& options_;
  const ProgressFn& progress_;
  BackupProgress progress_state_;
  std::vector<std::string> unreadable_;
};

// The directories leading to the backed-up paths, with the paths' own
// nodes at their ends: "/home/u/chats" becomes home -> u -> chats.
struct VirtualDir {
  std::string real_path;  // for the metadata of the intermediate directory
  std::map<std::string, VirtualDir> children;
  std::optional<std::string> target;  // a backed-up path ends here
};

Result<crypto::Digest256> SaveVirtual(Archiver& archiver,
                                      const VirtualDir& dir) {
  pb::Tree tree;
  for (const auto& [name, child] : dir.children) {
    std::optional<pb::Node> node;
    if (child.target) {
      ASSIGN_OR_RETURN(node, archiver.SaveEntry(*child.target, name));
    } else {
      struct stat st;
      pb::Node n;
      n.set_name(name);
      n.set_type(pb::NODE_TYPE_DIR);
      if (::stat(child.real_path.c_str(), &st) == 0) {
        n.set_mode(st.st_mode & 07777);
        n.set_mtime_ns(MtimeNs(st));
        n.set_uid(st.st_uid);
        n.set_gid(st.st_gid);
      } else {
        n.set_mode(0755);
      }
      ASSIGN_OR_RETURN(crypto::Digest256 sub, SaveVirtual(archiver, child));
      n.set_subtree(std::string(AsChars(sub)));
      node = std::move(n);
    }
    if (node) *tree.add_nodes() = std::move(*node);
  }
  return archiver.SaveTree(tree);
}

}  // namespace

Result<BackupResult> Backup(Repository* repo, const BackupOptions& options,
                            const ProgressFn& progress) {
  if (options.paths.empty()) {
    return Status::InvalidArgument(
        "nothing to back up: give at least one path");
  }
  VirtualDir root;
  std::vector<std::string> absolute;
  for (const std::string& p : options.paths) {
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) {
      return StatusFromErrno(errno, "cannot back up '" + p + "'");
    }
    std::string abs = Absolute(p);
    absolute.push_back(abs);
    VirtualDir* dir = &root;
    std::string walked;
    size_t start = 1;
    while (start <= abs.size()) {
      size_t end = abs.find('/', start);
      if (end == std::string::npos) end = abs.size();
      std::string part = abs.substr(start, end - start);
      start = end + 1;
      if (part.empty()) continue;
      walked += "/" + part;
      dir = &dir->children[part];
      dir->real_path = walked;
    }
    if (dir == &root) {
      return Status::InvalidArgument(
          "backing up '/' itself is not supported; name directories");
    }
    dir->target = abs;
  }

  const pb::ChunkerConfig& cc = repo->config().chunker();
  ASSIGN_OR_RETURN(GearTable gear, GearTable::FromKey(repo->keys().gear_key()));
  ASSIGN_OR_RETURN(Chunker chunker,
                   Chunker::Create({cc.min_size(), cc.avg_size(), cc.max_size(),
                                    static_cast<int>(cc.normalization())},
                                   gear));
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store, BlobStore::Open(repo));
  std::vector<std::string> warnings;
  std::unique_ptr<FileCache> cache;
  if (!options.cache_dir.empty()) {
    Result<std::unique_ptr<FileCache>> c = FileCache::Open(
        options.cache_dir, HexEncode(repo->keys().repository_id()));
    if (c.ok()) {
      cache = std::move(*c);
    } else {
      warnings.push_back("reading every file: the cache is unusable (" +
                         std::string(c.status().message()) + ")");
    }
  }

  auto start = std::chrono::steady_clock::now();
  Archiver archiver(repo, store.get(), cache.get(), chunker, options, progress);
  ASSIGN_OR_RETURN(crypto::Digest256 root_tree, SaveVirtual(archiver, root));
  RETURN_IF_ERROR(store->Flush());

  pb::Snapshot snap;
  snap.set_time_unix_ms(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count()));
  snap.set_tree(std::string(AsChars(root_tree)));
  for (const std::string& p : absolute) snap.add_paths(p);
  std::string hostname = options.hostname;
  if (hostname.empty()) {
    char buf[256] = {0};
    ::gethostname(buf, sizeof(buf) - 1);
    hostname = buf;
  }
  snap.set_hostname(hostname);
  for (const std::string& t : options.tags) snap.add_tags(t);
  pb::SnapshotSummary* summary = snap.mutable_summary();
  summary->set_files(archiver.progress().files);
  summary->set_dirs(archiver.progress().dirs);
  summary->set_bytes(archiver.progress().bytes_read);
  summary->set_added_bytes(store->stats().pack_bytes_written);
  summary->set_duration_ms(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start)
          .count()));
  ASSIGN_OR_RETURN(std::string id,
                   repo->SaveObject(ObjectType::kSnapshot, "snapshots", snap));

  BackupResult result;
  result.snapshot_id = id;
  result.summary = *summary;
  result.packs_written = store->stats().packs_written;
  result.pack_bytes_written = store->stats().pack_bytes_written;
  result.unreadable = archiver.unreadable();
  result.files_unchanged = archiver.files_unchanged();
  // Only after the snapshot is saved: the cache never names blobs that a
  // failed backup may not have indexed.
  if (cache) {
    Status s = cache->Commit();
    if (!s.ok()) warnings.push_back(std::string(s.message()));
  }
  result.warnings = std::move(warnings);
  return result;
}

}  // namespace chatvault::backup
