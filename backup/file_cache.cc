#include "backup/file_cache.h"

#include <lmdb.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "backup/fs_util.h"
#include "crypto/blake2b.h"

namespace chatvault::backup {
namespace {

// Bumped when the entry format changes; a cache with another version is
// rebuilt.
constexpr const char* kCacheVersion = "chatvault-file-cache-v1";

Status LmdbError(int rc, const std::string& what) {
  return Status::IOError(what + ": " + mdb_strerror(rc));
}

// Entries are keyed by a hash of the path: LMDB keys are at most 511
// bytes, paths are not.
std::string PathKey(const std::string& path) {
  Result<Bytes> h = crypto::Blake2b(AsBytes(path), 32);
  return std::string(AsChars(*h));
}

int64_t Ns(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

struct FileCache::Lmdb {
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  MDB_txn* read = nullptr;
  ~Lmdb() {
    if (read) mdb_txn_abort(read);
    if (env) mdb_env_close(env);
  }
};

std::string DefaultCacheDir() {
  if (const char* c = std::getenv("CHATVAULT_CACHE_DIR"); c && *c) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && x[0] == '/') {
    return std::string(x) + "/chatvault";
  }
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.cache/chatvault";
}

Result<std::unique_ptr<FileCache>> FileCache::Open(
    const std::string& cache_dir, const std::string& repository_id_hex) {
  namespace fs = std::filesystem;
  const std::string dir = cache_dir + "/" + repository_id_hex + "/files";
  auto try_open = [&]() -> Result<std::unique_ptr<Lmdb>> {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
      return Status::IOError("cannot create cache directory '" + dir +
                             "': " + ec.message());
    fs::permissions(cache_dir, fs::perms::owner_all, fs::perm_options::replace,
                    ec);
    auto db = std::make_unique<Lmdb>();
    int rc = mdb_env_create(&db->env);
    if (rc != 0) return LmdbError(rc, "cache");
    // Address space, not disk; smaller where address space is scarce.
    const size_t map =
        sizeof(size_t) >= 8 ? (size_t{4} << 30) : (size_t{256} << 20);
    rc = mdb_env_set_mapsize(db->env, map);
    if (rc != 0) return LmdbError(rc, "cache");
    RETURN_IF_ERROR(ReserveLmdbLockFile(dir));
    rc = mdb_env_open(db->env, dir.c_str(), MDB_NOTLS, 0600);
    if (rc != 0) return LmdbError(rc, "cannot open cache '" + dir + "'");
    MDB_txn* txn = nullptr;
    rc = mdb_txn_begin(db->env, nullptr, 0, &txn);
    if (rc != 0) return LmdbError(rc, "cache");
    rc = mdb_dbi_open(txn, nullptr, 0, &db->dbi);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return LmdbError(rc, "cache");
    }
    // The version marker sits under a key no absolute path can have.
    MDB_val key{1, const_cast<char*>("\x01")}, value;
    rc = mdb_get(txn, db->dbi, &key, &value);
    if (rc == MDB_NOTFOUND) {
      MDB_val v{std::strlen(kCacheVersion), const_cast<char*>(kCacheVersion)};
      rc = mdb_put(txn, db->dbi, &key, &v, 0);
    } else if (rc == 0 && std::string_view(static_cast<char*>(value.mv_data),
                                           value.mv_size) != kCacheVersion) {
      mdb_txn_abort(txn);
      return Status::InvalidArgument("cache version differs");
    }
    if (rc != 0) {
      mdb_txn_abort(txn);
      return LmdbError(rc, "cache");
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) return LmdbError(rc, "cache");
    return db;
  };
  Result<std::unique_ptr<Lmdb>> db = try_open();
  // Rebuild only a cache that is damaged or of another version, not one
  // that is merely busy or unreadable for now.
  if (!db.ok() &&
      (db.status().code() == StatusCode::kInvalidArgument ||
       db.status().message().find("MDB_") != std::string_view::npos)) {
    // Disposable: rebuild from nothing.
    std::error_code ec;
    fs::remove_all(dir, ec);
    db = try_open();
  }
  if (!db.ok()) return db.status();
  auto cache = std::unique_ptr<FileCache>(new FileCache());
  cache->db_ = std::move(*db);
  int rc =
      mdb_txn_begin(cache->db_->env, nullptr, MDB_RDONLY, &cache->db_->read);
  if (rc != 0) return LmdbError(rc, "cache");
  return cache;
}

FileCache::~FileCache() = default;

std::optional<pb::FileCacheEntry> FileCache::Lookup(const std::string& path,
                                                    const struct stat& st) {
  if (db_->read == nullptr &&
      mdb_txn_begin(db_->env, nullptr, MDB_RDONLY, &db_->read) != 0) {
    db_->read = nullptr;
    return std::nullopt;
  }
  std::string k = PathKey(path);
  MDB_val key{k.size(), k.data()}, value;
  if (mdb_get(db_->read, db_->dbi, &key, &value) != 0) return std::nullopt;
  pb::FileCacheEntry e;
  if (!e.ParseFromArray(value.mv_data, static_cast<int>(value.mv_size)))
    return std::nullopt;
  if (e.size() != static_cast<uint64_t>(st.st_size) ||
      e.mtime_ns() != Ns(st.st_mtim) || e.ctime_ns() != Ns(st.st_ctim) ||
      e.inode() != st.st_ino || e.device() != st.st_dev) {
    return std::nullopt;
  }
  return e;
}

void FileCache::Record(const std::string& path, const struct stat& st,
                       std::vector<std::string> content) {
  pb::FileCacheEntry e;
  e.set_size(static_cast<uint64_t>(st.st_size));
  e.set_mtime_ns(Ns(st.st_mtim));
  e.set_ctime_ns(Ns(st.st_ctim));
  e.set_inode(st.st_ino);
  e.set_device(st.st_dev);
  for (std::string& c : content) e.add_content(std::move(c));
  pending_.emplace_back(PathKey(path), e.SerializeAsString());
}

Status FileCache::Commit() {
  if (pending_.empty()) return Status::OK();
  if (db_->read) {
    mdb_txn_abort(db_->read);
    db_->read = nullptr;
  }
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(db_->env, nullptr, 0, &txn);
  if (rc != 0) return LmdbError(rc, "cache");
  for (auto& [path, value] : pending_) {
    MDB_val k{path.size(), path.data()}, v{value.size(), value.data()};
    rc = mdb_put(txn, db_->dbi, &k, &v, 0);
    if (rc == MDB_MAP_FULL) {
      // A full cache only costs re-reading files next time.
      mdb_txn_abort(txn);
      pending_.clear();
      return Status::OK();
    }
    if (rc != 0) {
      mdb_txn_abort(txn);
      return LmdbError(rc, "cannot update cache");
    }
  }
  pending_.clear();
  rc = mdb_txn_commit(txn);
  if (rc != 0) return LmdbError(rc, "cannot update cache");
  return Status::OK();
}

}  // namespace chatvault::backup
