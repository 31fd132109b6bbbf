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
#include <ctime>
#include <map>
#include <memory>
#include <set>

#include "backup/blob_store.h"
#include "backup/file_cache.h"
#include "backup/media.h"
#include "backup/pruner.h"
#include "backup/sqlite_capture.h"
#include "base/errno.h"

namespace chatvault::backup {
namespace {

// Database pages are handed to the workers this many bytes at a time.
constexpr size_t kPageBatchBytes = size_t{1} << 20;
// A database of at least this many pages gets a zstd dictionary of at most
// kDictionaryBytes, trained on up to kDictionarySamples of its pages spread
// over the file (docs/benchmarks.md, "Dictionaries").
constexpr uint64_t kMinDictionaryPages = 256;
constexpr uint64_t kDictionaryBytes = 64 << 10;
constexpr uint64_t kDictionarySamples = 256;
// How long a capture waits for the app's writer before giving up.
constexpr std::chrono::milliseconds kSqliteMaxWait{30'000};

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
         st.st_mtim.tv_nsec;
}

std::string Absolute(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) != nullptr) return buf;
  // A dangling symlink: resolve the directory, keep the last component.
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t slash = p.rfind('/');
  std::string dir =
      slash == std::string::npos ? "." : p.substr(0, slash == 0 ? 1 : slash);
  std::string base = slash == std::string::npos ? p : p.substr(slash + 1);
  if (::realpath(dir.c_str(), buf) == nullptr) return p;
  std::string d = buf;
  return (d == "/" ? "" : d) + "/" + base;
}

class Archiver {
 public:
  Archiver(Repository* repo, BlobStore* store, FileCache* cache,
           const Chunker& chunker, const Chunker& media_chunker,
           const BackupOptions& options, const ProgressFn& progress)
      : repo_(repo),
        store_(store),
        cache_(cache),
        chunker_(chunker),
        media_chunker_(media_chunker),
        options_(options),
        progress_(progress) {}

  // The node for `path` (named `name`), or nullopt if it is skipped.
  // `before` is its node in the parent snapshot, if any.
  Result<std::optional<pb::Node>> SaveEntry(const std::string& path,
                                            const std::string& name,
                                            const pb::Node* before) {
    if (Excluded(path, name)) return std::optional<pb::Node>();
    // A captured database already holds what its WAL or journal had
    // committed; the companions would only restore a stale or torn state.
    if (std::string_view suffix = SqliteCompanionSuffix(name);
        !suffix.empty() &&
        captured_.contains(path.substr(0, path.size() - suffix.size()))) {
      return std::optional<pb::Node>();
    }
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
        std::optional<struct stat> after;
        Status s = SaveFile(path, &node, &after, before);
        // The repository failing stops the backup; only the source file
        // failing is "unreadable".
        RETURN_IF_ERROR(store_error_);
        if (!s.ok()) return Unreadable(path, s);
        // Not a captured database: its node may be shorter than the file,
        // and it changes with every commit anyway.
        if (cache_ && after && CacheSafe(st, *after) &&
            !captured_.contains(path)) {
          cache_->Record(path, st,
                         {node.content().begin(), node.content().end()});
        }
      }
      ++progress_state_.files;
    } else if (S_ISDIR(st.st_mode)) {
      node.set_type(pb::NODE_TYPE_DIR);
      ASSIGN_OR_RETURN(crypto::Digest256 tree, SaveDir(path, before));
      node.set_subtree(std::string(AsChars(tree)));
      ++progress_state_.dirs;
    } else if (S_ISLNK(st.st_mode)) {
      node.set_type(pb::NODE_TYPE_SYMLINK);
      // lstat's size may be stale (the link changed) or 0 (some file
      // systems): grow the buffer until the target fits.
      std::string target(
          std::max<size_t>(static_cast<size_t>(st.st_size) + 1, 256), '\0');
      ssize_t n;
      while ((n = ::readlink(path.c_str(), target.data(), target.size())) >=
                 0 &&
             static_cast<size_t>(n) == target.size() &&
             target.size() < (1u << 20)) {
        target.resize(target.size() * 2);
      }
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

  // Stores the tree of directory `path` and returns its blob ID. `before` is
  // its node in the parent snapshot, if any.
  Result<crypto::Digest256> SaveDir(const std::string& path,
                                    const pb::Node* before) {
    std::vector<std::string> names;
    {
      DIR* d = ::opendir(path.c_str());
      if (d == nullptr) {
        Status s = StatusFromErrno(errno, "cannot list '" + path + "'");
        unreadable_.push_back(path + ": " + std::string(s.message()));
      } else {
        for (;;) {
          errno = 0;
          dirent* e = ::readdir(d);
          if (e == nullptr) {
            if (errno != 0) {
              // A partial listing would silently drop files: report it.
              Status s = StatusFromErrno(errno, "cannot list '" + path + "'");
              unreadable_.push_back(path + ": " + std::string(s.message()));
            }
            break;
          }
          if (std::strcmp(e->d_name, ".") == 0 ||
              std::strcmp(e->d_name, "..") == 0) {
            continue;
          }
          names.emplace_back(e->d_name);
        }
        ::closedir(d);
      }
    }
    std::sort(names.begin(), names.end());
    const std::optional<pb::Tree> old = PreviousTree(before);
    pb::Tree tree;
    for (const std::string& name : names) {
      ASSIGN_OR_RETURN(std::optional<pb::Node> node,
                       SaveEntry(path + "/" + name, name, FindNode(old, name)));
      if (node) *tree.add_nodes() = std::move(*node);
    }
    return SaveTree(tree, before);
  }

  // Stores `tree`, as a delta against the tree of `before` (a directory's
  // node in the parent snapshot) when that pays.
  Result<crypto::Digest256> SaveTree(const pb::Tree& tree,
                                     const pb::Node* before) {
    std::string bytes = tree.SerializeAsString();
    crypto::Digest256 id = BlobId(repo_->keys().blob_id_key(), AsBytes(bytes));
    std::optional<crypto::Digest256> previous;
    if (before != nullptr && before->type() == pb::NODE_TYPE_DIR &&
        before->subtree().size() == crypto::kDigest256Bytes) {
      previous = crypto::Digest256FromBytes(before->subtree());
    }
    RETURN_IF_ERROR(store_
                        ->Add(pb::BLOB_TYPE_TREE, id, AsBytes(bytes),
                              previous ? &*previous : nullptr)
                        .status());
    return id;
  }

  // The parent snapshot's tree of the directory whose node there is
  // `before`; nullopt if there is none or it cannot be read (the parent
  // only makes deltas possible, so nothing is lost without it).
  std::optional<pb::Tree> PreviousTree(const pb::Node* before) {
    if (before == nullptr || before->type() != pb::NODE_TYPE_DIR ||
        before->subtree().size() != crypto::kDigest256Bytes) {
      return std::nullopt;
    }
    Result<pb::Tree> tree =
        LoadTree(store_, crypto::Digest256FromBytes(before->subtree()));
    if (!tree.ok()) return std::nullopt;
    return std::move(*tree);
  }

  // The node named `name` in `tree` (sorted by name, as this archiver
  // writes trees), or nullptr.
  static const pb::Node* FindNode(const std::optional<pb::Tree>& tree,
                                  const std::string& name) {
    if (!tree) return nullptr;
    auto it = std::lower_bound(
        tree->nodes().begin(), tree->nodes().end(), name,
        [](const pb::Node& n, const std::string& v) { return n.name() < v; });
    return it != tree->nodes().end() && it->name() == name ? &*it : nullptr;
  }

  const std::vector<std::string>& unreadable() const { return unreadable_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
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

  // A source file that cannot be read is reported and left out; callers
  // pass only errors of the local file system here (repository errors are
  // returned before, through store_error_).
  Result<std::optional<pb::Node>> Unreadable(const std::string& path,
                                             const Status& s) {
    if (s.code() != StatusCode::kNotFound) {
      unreadable_.push_back(path + ": " + std::string(s.message()));
    }
    return std::optional<pb::Node>();
  }

  // Whether a file read as `before` may be cached: unchanged while it was
  // read, and not modified within the last second, when a write of the same
  // size could leave size and timestamps as they are ("racy" files, as git
  // calls them).
  static bool CacheSafe(const struct stat& before, const struct stat& after) {
    if (before.st_size != after.st_size || before.st_ino != after.st_ino ||
        MtimeNs(before) != MtimeNs(after) ||
        before.st_ctim.tv_sec != after.st_ctim.tv_sec ||
        before.st_ctim.tv_nsec != after.st_ctim.tv_nsec) {
      return false;
    }
    const std::time_t now = std::time(nullptr);
    return now - after.st_mtim.tv_sec > 1 && now - after.st_ctim.tv_sec > 1;
  }

  // Fills `node` from the cache if the file is unchanged since it was last
  // read and the repository still has all its blobs.
  bool ReuseUnchanged(const std::string& path, const struct stat& st,
                      pb::Node* node) {
    if (!cache_) return false;
    // A database whose WAL holds commits changes without its file changing.
    struct stat wal;
    if (::lstat((path + "-wal").c_str(), &wal) == 0 && wal.st_size > 0) {
      return false;
    }
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
    progress_state_.bytes_skipped += e->size();
    // Recorded again so the entry survives into the next cache state.
    cache_->Record(path, st, {e->content().begin(), e->content().end()});
    return true;
  }

  // Reads and chunks the file at `path`. Returns errors of the source file;
  // a repository error is kept in store_error_ (and returned too). `after`
  // receives the file's status once it has been read. `before` is its node
  // in the parent snapshot, if any: a database's pages are stored as deltas
  // against the pages at the same offsets there, when that pays.
  Status SaveFile(const std::string& path, pb::Node* node,
                  std::optional<struct stat>* after, const pb::Node* before) {
    // O_NONBLOCK: a path swapped for a FIFO must not hang the backup.
    int fd =
        ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return StatusFromErrno(errno, "cannot open '" + path + "'");
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return Status::NotFound("'" + path + "' is no longer a regular file");
    }
    progress_state_.current = path;
    // An SQLite database is read at one committed state, on page
    // boundaries; anything else is cut by content.
    std::unique_ptr<SqliteCapture> capture;
    // The parent snapshot's blobs of this database, same page size.
    const google::protobuf::RepeatedPtrField<std::string>* previous_blobs =
        nullptr;
    // The zstd dictionary for its pages stored whole.
    std::shared_ptr<const BlobStore::Dictionary> dictionary;
    uint64_t limit = UINT64_MAX;
    size_t fixed = 0;
    bool compress = true;
    {
      std::byte head[kSqliteHeaderBytes];
      const ssize_t got = ::pread(fd, head, sizeof head, 0);
      // Photos, videos, voice notes: compressed already, stored as they are.
      if (got > 0 &&
          !CompressedMediaFormat(ByteView(head, static_cast<size_t>(got)))
               .empty()) {
        compress = false;
      }
      if (got == sizeof head &&
          ParseSqliteHeader(ByteView(head, sizeof head))) {
        Result<std::unique_ptr<SqliteCapture>> c =
            SqliteCapture::Begin(path, kSqliteMaxWait);
        struct stat now;
        if (c.ok() && (::stat(path.c_str(), &now) != 0 ||
                       now.st_ino != st.st_ino || now.st_dev != st.st_dev)) {
          // The app replaced the file after it was opened: the capture
          // pins the new one, not the one this descriptor reads.
          c = Status::Unavailable("it was replaced while being opened");
        }
        if (c.ok()) {
          capture = std::move(*c);
          limit = capture->size();
          // A blob of whole pages, at most one batch.
          fixed = size_t{capture->page_size()} *
                  std::clamp<size_t>(pages_per_blob_, 1,
                                     kPageBatchBytes / capture->page_size());
          captured_.insert(path);
          node->set_sqlite_page_size(capture->page_size());
          if (before != nullptr && before->type() == pb::NODE_TYPE_FILE &&
              before->sqlite_page_size() == capture->page_size()) {
            previous_blobs = &before->content();
          }
          Result<std::shared_ptr<const BlobStore::Dictionary>> d =
              DatabaseDictionary(fd, limit, capture->page_size(),
                                 previous_blobs ? before : nullptr);
          if (!d.ok()) {
            capture.reset();  // before the descriptor: see sqlite_capture.h
            ::close(fd);
            store_error_ = d.status();
            return store_error_;
          }
          dictionary = std::move(*d);
          if (dictionary) {
            node->set_sqlite_dictionary(std::string(AsChars(dictionary->id)));
          }
        } else if (c.status().code() != StatusCode::kInvalidArgument) {
          warnings_.push_back("'" + path +
                              "' was copied as a plain file, not captured "
                              "at one committed state: " +
                              std::string(c.status().message()));
        }
      }
    }
    // Compressed media are cut into larger chunks: they are never edited
    // in place, so smaller chunks would only mean more blobs.
    const Chunker& chunker = compress ? chunker_ : media_chunker_;
    // Content-defined chunks need up to `max` bytes ahead, page batches one
    // batch. One buffer for all files (sized for the largest window),
    // never zero-filled: `filled` bytes of it hold data.
    const size_t window =
        std::max<size_t>({chunker_.params().max_size,
                          media_chunker_.params().max_size, kPageBatchBytes});
    const size_t ahead = fixed ? kPageBatchBytes : chunker.params().max_size;
    if (!buf_) buf_ = std::make_unique_for_overwrite<std::byte[]>(2 * window);
    std::vector<uint64_t> tickets;
    // Every submitted chunk is resolved, even when reading fails halfway.
    auto resolve = [&] {
      for (uint64_t t : tickets) {
        for (const crypto::Digest256& id : store_->Resolve(t)) {
          node->add_content(std::string(AsChars(id)));
        }
      }
    };
    size_t filled = 0;
    bool eof = false;
    uint64_t size = 0;
    Status status;
    while (status.ok()) {
      while (!eof && filled < 2 * window) {
        const size_t want = static_cast<size_t>(
            std::min<uint64_t>(2 * window - filled, limit - size - filled));
        if (want == 0) {
          eof = true;
          break;
        }
        ssize_t n = ::read(fd, buf_.get() + filled, want);
        if (n < 0) {
          if (errno == EINTR) continue;
          status = StatusFromErrno(errno, "cannot read '" + path + "'");
          break;
        }
        filled += static_cast<size_t>(n);
        if (n == 0) eof = true;
      }
      if (!status.ok() || filled == 0) break;
      const ByteView data(buf_.get(), filled);
      size_t offset = 0;
      while (offset < filled && (eof || filled - offset >= ahead)) {
        // Database pages go in batches of whole blobs (only the very last
        // blob of the file may be short), one hand-over for many small
        // blobs. `fixed` <= kPageBatchBytes <= filled - offset unless this
        // is the file's tail, so a batch is never empty.
        const size_t rest = filled - offset;
        const size_t batch =
            fixed == 0 ? 0
            : eof && rest <= kPageBatchBytes
                ? rest
                : std::min(rest, kPageBatchBytes) / fixed * fixed;
        Chunker::Cut cut = fixed ? Chunker::Cut{batch, 0}
                                 : chunker.FindCut(data.subspan(offset));
        ByteView chunk = data.subspan(offset, cut.length);
        // Each piece's previous version: the parent's blob at its offset.
        std::vector<crypto::Digest256> previous;
        if (previous_blobs != nullptr) {
          const size_t first = static_cast<size_t>(size / fixed);
          const size_t n = (cut.length + fixed - 1) / fixed;
          previous.resize(n);
          for (size_t i = 0; i < n; ++i) {
            const size_t k = first + i;
            if (k < static_cast<size_t>(previous_blobs->size()) &&
                (*previous_blobs)[static_cast<int>(k)].size() ==
                    crypto::kDigest256Bytes) {
              previous[i] = crypto::Digest256FromBytes(
                  (*previous_blobs)[static_cast<int>(k)]);
            }
          }
        }
        // Hashed (and sealed, if new) by the store's workers.
        Result<uint64_t> ticket = store_->Submit(
            pb::BLOB_TYPE_DATA, Bytes(chunk.begin(), chunk.end()), fixed,
            compress, std::move(previous), dictionary);
        if (!ticket.ok()) {
          capture.reset();  // before the descriptor: see sqlite_capture.h
          ::close(fd);
          store_error_ = ticket.status();
          return store_error_;
        }
        tickets.push_back(*ticket);
        offset += cut.length;
        size += cut.length;
        progress_state_.bytes_read += cut.length;
      }
      std::memmove(buf_.get(), buf_.get() + offset, filled - offset);
      filled -= offset;
      Report();
      if (eof && filled == 0) break;
    }
    if (status.ok() && ::fstat(fd, &st) == 0) *after = st;
    capture.reset();  // before the descriptor: see sqlite_capture.h
    ::close(fd);
    resolve();
    RETURN_IF_ERROR(status);
    node->set_size(size);
    return Status::OK();
  }

  // The zstd dictionary for the pages of the database open as `fd` (its
  // first `size` bytes, pages of `page_size`): the one the parent
  // snapshot's node `before` names, or one trained on a sample of its pages
  // and packed before any page that uses it. Null for a database
  // too small to gain from one, or if zstd cannot train one. Errors are the
  // repository's.
  Result<std::shared_ptr<const BlobStore::Dictionary>> DatabaseDictionary(
      int fd, uint64_t size, uint32_t page_size, const pb::Node* before) {
    auto dict = std::make_shared<BlobStore::Dictionary>();
    if (before != nullptr &&
        before->sqlite_dictionary().size() == crypto::kDigest256Bytes) {
      dict->id = crypto::Digest256FromBytes(before->sqlite_dictionary());
      Result<Bytes> bytes = store_->Read(dict->id);
      if (bytes.ok()) {
        dict->bytes = std::move(*bytes);
        return std::shared_ptr<const BlobStore::Dictionary>(std::move(dict));
      }
      // Unreadable: a new one is trained; check reports the damage.
    }
    const uint64_t pages = size / page_size;
    if (pages < kMinDictionaryPages) return nullptr;
    const uint64_t count = std::min<uint64_t>(kDictionarySamples, pages / 16);
    std::vector<Bytes> samples;
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t page = i * (pages / count);
      Bytes b(page_size);
      if (::pread(fd, b.data(), b.size(),
                  static_cast<off_t>(page * page_size)) != page_size) {
        return nullptr;  // the read proper reports the file's errors
      }
      samples.push_back(std::move(b));
    }
    std::vector<ByteView> views(samples.begin(), samples.end());
    std::optional<Bytes> trained = TrainDictionary(
        views,
        static_cast<size_t>(std::min<uint64_t>(kDictionaryBytes, size / 16)));
    if (!trained) return nullptr;
    dict->bytes = std::move(*trained);
    dict->id = BlobId(repo_->keys().blob_id_key(), dict->bytes);
    // Saved and indexed no later than any page that names it: an index
    // never lists a blob whose dictionary could be missing after a crash.
    RETURN_IF_ERROR(
        store_->AddFirst(pb::BLOB_TYPE_DATA, dict->id, dict->bytes).status());
    return std::shared_ptr<const BlobStore::Dictionary>(std::move(dict));
  }

  void Report() {
    if (!progress_) return;
    progress_state_.bytes_new = store_->stats().new_raw_bytes;
    progress_(progress_state_);
  }

  Repository* repo_;
  BlobStore* store_;
  FileCache* cache_;
  uint64_t files_unchanged_ = 0;
  const Chunker& chunker_;
  const Chunker& media_chunker_;
  const BackupOptions& options_;
  const ProgressFn& progress_;
  BackupProgress progress_state_;
  std::vector<std::string> unreadable_;
  std::unique_ptr<std::byte[]> buf_;
  Status store_error_;
  std::set<std::string> captured_;  // databases read through a capture
  // SQLite databases are cut on page boundaries, this many pages a blob,
  // so that a scattered update stores only the pages it touched.
  const uint32_t pages_per_blob_ =
      std::clamp<uint32_t>(repo_->config().chunker().sqlite_pages_per_blob(), 1,
                           kMaxSqlitePagesPerBlob);
  std::vector<std::string> warnings_;
};

// The chunk sizes for files that start like compressed media: four times
// the repository's minimum and average, twice its maximum (at least the
// new average), at most kMaxBlobBytes. Derived from the config alone, so
// every device cuts the same media the same way.
ChunkerParams MediaChunkerParams(const ChunkerParams& p) {
  const uint64_t cap = kMaxBlobBytes;
  // The chunker's cut masks allow an average of at most
  // 2^(25 - normalization) bytes (FastCDC's mask width).
  const uint64_t avg_cap = std::min<uint64_t>(
      cap, uint64_t{1} << (25 - std::clamp(p.normalization, 0, 3)));
  ChunkerParams m = p;
  m.min_size =
      static_cast<uint32_t>(std::min<uint64_t>(4ull * p.min_size, cap));
  m.avg_size = static_cast<uint32_t>(std::max<uint64_t>(
      p.avg_size, std::min<uint64_t>(4ull * p.avg_size, avg_cap)));
  m.min_size = std::min(m.min_size, m.avg_size);
  m.max_size = static_cast<uint32_t>(std::min<uint64_t>(
      std::max<uint64_t>(2ull * p.max_size, m.avg_size), cap));
  return m;
}

// The directories leading to the backed-up paths, with the paths' own
// nodes at their ends: "/home/u/chats" becomes home -> u -> chats.
struct VirtualDir {
  std::string real_path;  // for the metadata of the intermediate directory
  std::map<std::string, VirtualDir> children;
  std::optional<std::string> target;  // a backed-up path ends here
};

// `before` is the directory's node in the parent snapshot, if any (for the
// root: a node pointing at the parent's root tree).
Result<crypto::Digest256> SaveVirtual(Archiver& archiver, const VirtualDir& dir,
                                      const pb::Node* before) {
  const std::optional<pb::Tree> old = archiver.PreviousTree(before);
  pb::Tree tree;
  for (const auto& [name, child] : dir.children) {
    std::optional<pb::Node> node;
    const pb::Node* child_before = Archiver::FindNode(old, name);
    if (child.target) {
      ASSIGN_OR_RETURN(node,
                       archiver.SaveEntry(*child.target, name, child_before));
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
      ASSIGN_OR_RETURN(crypto::Digest256 sub,
                       SaveVirtual(archiver, child, child_before));
      n.set_subtree(std::string(AsChars(sub)));
      node = std::move(n);
    }
    if (node) *tree.add_nodes() = std::move(*node);
  }
  return archiver.SaveTree(tree, before);
}

// The newest snapshot of the same host and paths, whose trees and database
// pages this backup's may be stored as deltas against; empty if none.
Result<std::string> FindParent(Repository* repo, const std::string& hostname,
                               std::vector<std::string> paths,
                               pb::Snapshot* parent) {
  std::sort(paths.begin(), paths.end());
  std::string best;
  RETURN_IF_ERROR(
      repo->backend()->List("snapshots/", [&](const storage::ObjectInfo& info) {
        const std::string id =
            info.name.substr(std::string("snapshots/").size());
        pb::Snapshot snap;
        // A snapshot that cannot be read is no parent; check reports it.
        if (!repo->LoadObject(ObjectType::kSnapshot, "snapshots", id, &snap)
                 .ok()) {
          return Status::OK();
        }
        std::vector<std::string> its(snap.paths().begin(), snap.paths().end());
        std::sort(its.begin(), its.end());
        if (snap.hostname() != hostname || its != paths) return Status::OK();
        if (best.empty() || snap.time_unix_ms() > parent->time_unix_ms()) {
          best = id;
          *parent = std::move(snap);
        }
        return Status::OK();
      }));
  return best;
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
  const ChunkerParams params{cc.min_size(), cc.avg_size(), cc.max_size(),
                             static_cast<int>(cc.normalization())};
  ASSIGN_OR_RETURN(Chunker chunker, Chunker::Create(params, gear));
  // Should the larger sizes not suit the chunker, media are cut like any
  // file: a backup never fails over an optimisation.
  Result<Chunker> media = Chunker::Create(MediaChunkerParams(params), gear);
  ASSIGN_OR_RETURN(Chunker media_chunker, media.ok()
                                              ? std::move(media)
                                              : Chunker::Create(params, gear));
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store,
                   BlobStore::Open(repo, options.cache_dir));
  store->set_target_pack_bytes(options.pack_bytes);
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

  std::string hostname = options.hostname;
  if (hostname.empty()) {
    char buf[256] = {0};
    ::gethostname(buf, sizeof(buf) - 1);
    hostname = buf;
  }
  auto start = std::chrono::steady_clock::now();
  pb::Snapshot parent;
  ASSIGN_OR_RETURN(std::string parent_id,
                   FindParent(repo, hostname, absolute, &parent));
  pb::Node parent_root;  // a directory node for the parent's root tree
  if (!parent_id.empty()) {
    parent_root.set_type(pb::NODE_TYPE_DIR);
    parent_root.set_subtree(parent.tree());
  }
  Archiver archiver(repo, store.get(), cache.get(), chunker, media_chunker,
                    options, progress);
  ASSIGN_OR_RETURN(
      crypto::Digest256 root_tree,
      SaveVirtual(archiver, root, parent_id.empty() ? nullptr : &parent_root));
  RETURN_IF_ERROR(store->Flush());

  pb::Snapshot snap;
  snap.set_time_unix_ms(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count()));
  snap.set_tree(std::string(AsChars(root_tree)));
  for (const std::string& p : absolute) snap.add_paths(p);
  snap.set_hostname(hostname);
  if (!parent_id.empty()) {
    Result<Bytes> raw = HexDecode(parent_id);
    if (raw.ok()) snap.set_parent(std::string(AsChars(*raw)));
  }
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
  // A prune that marked data meanwhile may have condemned blobs this backup
  // reused: they are copied, before the snapshot is saved and after, or the
  // snapshot is not saved or is withdrawn (5.12).
  uint64_t secured = 0;
  RETURN_IF_ERROR(SecureBlobs(repo, store.get(), snap, &secured));
  ASSIGN_OR_RETURN(std::string id,
                   repo->SaveObject(ObjectType::kSnapshot, "snapshots", snap));
  uint64_t more = 0;
  RETURN_IF_ERROR(SecureSnapshot(repo, store.get(), id, snap, &more));
  secured += more;
  if (secured > 0) {
    warnings.push_back(
        "a prune ran during this backup: " + std::to_string(secured) +
        " blobs it had reused were copied so that the "
        "snapshot stays whole");
  }

  BackupResult result;
  result.snapshot_id = id;
  result.paths = absolute;
  result.summary = *summary;
  result.packs_written = store->stats().packs_written;
  result.pack_bytes_written = store->stats().pack_bytes_written;
  result.unreadable = archiver.unreadable();
  result.files_unchanged = archiver.files_unchanged();
  result.delta_blobs = store->stats().delta_blobs;
  result.parent_id = parent_id;
  warnings.insert(warnings.end(), archiver.warnings().begin(),
                  archiver.warnings().end());
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
