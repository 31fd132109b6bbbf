#include "backup/blob_index.h"

#include <lmdb.h>

#include <cstring>
#include <filesystem>
#include <set>
#include <vector>

#include "backup/fs_util.h"

namespace chatvault::backup {
namespace {

// Bumped when the record layout changes; a cache of another version is
// rebuilt.
constexpr std::string_view kIndexCacheVersion = "chatvault-index-cache-v1";

// Keys: the version under "v"; "i" + index ID (hex) for each merged index
// object; "b" + blob ID (32 bytes) for each blob. A blob's record is
// pack ID (32) || epoch (u32, little-endian) || PackEntry (protobuf).
constexpr char kVersionKey[] = "v";
constexpr char kIndexPrefix = 'i';
constexpr char kBlobPrefix = 'b';

MDB_val Val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
std::string_view View(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

std::string BlobKey(const crypto::Digest256& id) {
  std::string k(1, kBlobPrefix);
  k.append(AsChars(id));
  return k;
}

std::string EncodeLocation(const BlobLocation& loc) {
  std::string v(AsChars(loc.pack));
  for (int i = 0; i < 4; ++i)
    v.push_back(static_cast<char>(loc.epoch >> (8 * i)));
  v += loc.entry.SerializeAsString();
  return v;
}

std::optional<BlobLocation> DecodeLocation(std::string_view v) {
  if (v.size() < 36) return std::nullopt;
  BlobLocation loc;
  loc.pack = crypto::Digest256FromBytes(v.substr(0, 32));
  for (int i = 0; i < 4; ++i) {
    loc.epoch |= static_cast<uint32_t>(static_cast<uint8_t>(v[32 + i]))
                 << (8 * i);
  }
  if (!loc.entry.ParseFromArray(v.data() + 36, static_cast<int>(v.size() - 36)))
    return std::nullopt;
  return loc;
}

// Calls fn(entry ID, location) for every well-formed entry of `index`.
template <typename Fn>
void ForEachEntry(const pb::Index& index, Fn fn) {
  for (const pb::IndexPack& pack : index.packs()) {
    if (pack.pack_id().size() != 32) continue;
    BlobLocation loc;
    loc.pack = crypto::Digest256FromBytes(pack.pack_id());
    loc.epoch = pack.epoch();
    for (const pb::PackEntry& e : pack.entries()) {
      if (e.id().size() != 32) continue;
      loc.entry = e;
      fn(crypto::Digest256FromBytes(e.id()), loc);
    }
  }
}

}  // namespace

struct BlobIndex::Lmdb {
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  MDB_txn* read = nullptr;  // renewed after every write
  ~Lmdb() {
    if (read) mdb_txn_abort(read);
    if (env) mdb_env_close(env);
  }
  // Runs fn in a write transaction; false (and nothing written) on failure.
  bool Write(const std::function<bool(MDB_txn*)>& fn) {
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(env, nullptr, 0, &txn) != 0) return false;
    if (!fn(txn)) {
      mdb_txn_abort(txn);
      return false;
    }
    if (mdb_txn_commit(txn) != 0) return false;
    mdb_txn_reset(read);
    if (mdb_txn_renew(read) == 0) return true;
    // Without a read transaction the cache is unusable; the entries it
    // held are read from the repository next time.
    mdb_txn_abort(read);
    read = nullptr;
    return false;
  }
};

BlobIndex::~BlobIndex() { WritePending(); }

std::unique_ptr<BlobIndex::Lmdb> BlobIndex::OpenCache(const std::string& dir) {
  namespace fs = std::filesystem;
  auto try_open = [&]() -> std::unique_ptr<Lmdb> {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return nullptr;
    auto db = std::make_unique<Lmdb>();
    if (mdb_env_create(&db->env) != 0) return nullptr;
    // Address space, not disk.
    const size_t map =
        sizeof(size_t) >= 8 ? (size_t{16} << 30) : (size_t{256} << 20);
    if (!ReserveLmdbLockFile(dir).ok()) return nullptr;
    if (mdb_env_set_mapsize(db->env, map) != 0 ||
        // No fsync of the meta page: a crash may lose the last
        // transaction (its index objects are read again), never the
        // database's consistency.
        mdb_env_open(db->env, dir.c_str(), MDB_NOTLS | MDB_NOMETASYNC, 0600) !=
            0) {
      return nullptr;
    }
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(db->env, nullptr, 0, &txn) != 0) return nullptr;
    MDB_val key = Val(kVersionKey), value;
    int rc = mdb_dbi_open(txn, nullptr, 0, &db->dbi);
    if (rc == 0) rc = mdb_get(txn, db->dbi, &key, &value);
    if (rc == MDB_NOTFOUND) {
      MDB_val v = Val(kIndexCacheVersion);
      rc = mdb_put(txn, db->dbi, &key, &v, 0);
    } else if (rc == 0 && View(value) != kIndexCacheVersion) {
      rc = MDB_INCOMPATIBLE;
    }
    if (rc != 0 || mdb_txn_commit(txn) != 0) {
      if (rc != 0) mdb_txn_abort(txn);
      return nullptr;
    }
    if (mdb_txn_begin(db->env, nullptr, MDB_RDONLY, &db->read) != 0) {
      db->read = nullptr;
      return nullptr;
    }
    return db;
  };
  std::unique_ptr<Lmdb> db = try_open();
  if (db == nullptr) {
    // Damaged or of another version: disposable, so rebuild from nothing.
    std::error_code ec;
    fs::remove_all(dir, ec);
    db = try_open();
  }
  return db;
}

Result<std::unique_ptr<BlobIndex>> BlobIndex::Open(
    Repository* repo, const std::string& cache_dir,
    std::map<std::string, Status>* damaged) {
  // An index listed a moment ago and gone when read was superseded by a
  // prune's, written before it was deleted: list again.
  for (int attempt = 0; attempt < 5; ++attempt) {
    bool vanished = false;
    Result<std::unique_ptr<BlobIndex>> index =
        OpenAttempt(repo, cache_dir, damaged, &vanished);
    if (!vanished) return index;
  }
  return Status::Unavailable(
      "the repository's indexes kept changing while being read (a prune is "
      "running); try again");
}

Result<std::unique_ptr<BlobIndex>> BlobIndex::OpenAttempt(
    Repository* repo, const std::string& cache_dir,
    std::map<std::string, Status>* damaged, bool* vanished) {
  auto index = std::unique_ptr<BlobIndex>(new BlobIndex());
  std::set<std::string> listed;
  RETURN_IF_ERROR(
      repo->backend()->List("index/", [&](const storage::ObjectInfo& info) {
        listed.insert(info.name.substr(6));
        return Status::OK();
      }));
  if (!cache_dir.empty()) {
    // Like the file-change cache: the owner's alone (section 5.7).
    std::error_code ec;
    std::filesystem::create_directories(cache_dir, ec);
    std::filesystem::permissions(cache_dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, ec);
    index->db_ = OpenCache(cache_dir + "/" +
                           HexEncode(repo->keys().repository_id()) + "/index");
  }
  std::set<std::string> merged;
  if (index->db_) {
    MDB_cursor* cursor = nullptr;
    if (mdb_cursor_open(index->db_->read, index->db_->dbi, &cursor) == 0) {
      const std::string prefix(1, kIndexPrefix);
      MDB_val key = Val(prefix), value;
      for (int rc = mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE);
           rc == 0 && View(key).starts_with(prefix);
           rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
        merged.insert(std::string(View(key).substr(1)));
      }
      mdb_cursor_close(cursor);
    }
    bool stale = false;
    for (const std::string& m : merged) stale = stale || !listed.contains(m);
    // An index object is gone: its blobs may have moved or been deleted.
    if (stale) index->DropCache(&merged);
  }
  // Indexes a prune wrote name those they replace (`supersedes`); the
  // replaced ones, which the prune deletes soon after, are skipped (design.md
  // 5.12). The cache also records their names, so they are not read again.
  std::map<std::string, pb::Index> loaded;
  std::set<std::string> superseded;
  auto load = [&](const std::string& id) -> Status {
    pb::Index object;
    Status s = repo->LoadObject(ObjectType::kIndex, "index", id, &object);
    if (s.code() == StatusCode::kNotFound) {
      *vanished = true;
      return Status::OK();
    }
    if (!s.ok() && damaged != nullptr) {
      damaged->emplace(id, s);
      return Status::OK();
    }
    RETURN_IF_ERROR(s);
    for (const std::string& raw : object.supersedes()) {
      if (raw.size() == crypto::kDigest256Bytes) {
        superseded.insert(HexEncode(AsBytes(raw)));
      }
    }
    loaded.emplace(id, std::move(object));
    ++index->indexes_loaded_;
    return Status::OK();
  };
  for (const std::string& id : listed) {
    if (!merged.contains(id)) RETURN_IF_ERROR(load(id));
  }
  bool merged_superseded = false;
  for (const std::string& m : merged) {
    merged_superseded = merged_superseded || superseded.contains(m);
  }
  if (merged_superseded) {
    // A prune replaced indexes the cache holds: start over from the
    // repository's current indexes.
    std::set<std::string> before = std::move(merged);
    index->DropCache(&merged);
    for (const std::string& id : before) RETURN_IF_ERROR(load(id));
  }
  for (auto& [id, object] : loaded) {
    if (superseded.contains(id)) {
      if (index->db_) index->pending_names_.push_back(id);
      continue;
    }
    index->Add(id, object);
    index->names_.insert(id);
  }
  for (const std::string& m : merged) {
    if (!superseded.contains(m)) index->names_.insert(m);
  }
  if (*vanished) {
    // Nothing of this attempt goes into the cache.
    index->memory_.clear();
    index->pending_names_.clear();
    return index;
  }
  index->listed_ = listed;
  // One transaction for all of them.
  index->WritePending();
  return index;
}

void BlobIndex::DropCache(std::set<std::string>* merged) {
  Lmdb* db = db_.get();
  bool ok = db->Write([&](MDB_txn* txn) {
    if (mdb_drop(txn, db->dbi, 0) != 0) return false;
    MDB_val k = Val(kVersionKey), v = Val(kIndexCacheVersion);
    return mdb_put(txn, db->dbi, &k, &v, 0) == 0;
  });
  if (!ok) db_.reset();
  merged->clear();
}

void BlobIndex::Add(const std::string& name, const pb::Index& index) {
  ForEachEntry(index,
               [&](const crypto::Digest256& id, const BlobLocation& loc) {
                 if (!db_ || !CachedContains(id)) memory_.emplace(id, loc);
               });
  if (db_) pending_names_.push_back(name);
  names_.insert(name);
}

void BlobIndex::WritePending() {
  if (!db_ || (memory_.empty() && pending_names_.empty())) return;
  bool ok = db_->Write([&](MDB_txn* txn) {
    for (const auto& [id, loc] : memory_) {
      std::string k = BlobKey(id), v = EncodeLocation(loc);
      MDB_val key = Val(k), value = Val(v);
      int rc = mdb_put(txn, db_->dbi, &key, &value, MDB_NOOVERWRITE);
      if (rc != 0 && rc != MDB_KEYEXIST) return false;
    }
    for (const std::string& name : pending_names_) {
      std::string k = std::string(1, kIndexPrefix) + name;
      MDB_val key = Val(k), value = Val("");
      if (mdb_put(txn, db_->dbi, &key, &value, 0) != 0) return false;
    }
    return true;
  });
  if (ok) {
    memory_.clear();
    pending_names_.clear();
    return;
  }
  // The cache failed (full disk, full map): carry on in memory with
  // everything it held.
  std::map<crypto::Digest256, BlobLocation> all;
  ForEach([&](const crypto::Digest256& id, const BlobLocation& loc) {
    all.emplace(id, loc);
  });
  memory_ = std::move(all);
  pending_names_.clear();
  db_.reset();
}

bool BlobIndex::CachedContains(const crypto::Digest256& id) const {
  if (db_->read == nullptr) return false;
  std::string k = BlobKey(id);
  MDB_val key = Val(k), value;
  return mdb_get(db_->read, db_->dbi, &key, &value) == 0;
}

std::optional<BlobLocation> BlobIndex::Find(const crypto::Digest256& id) const {
  if (auto it = memory_.find(id); it != memory_.end()) return it->second;
  if (!db_ || db_->read == nullptr) return std::nullopt;
  std::string k = BlobKey(id);
  MDB_val key = Val(k), value;
  if (mdb_get(db_->read, db_->dbi, &key, &value) != 0) return std::nullopt;
  return DecodeLocation(View(value));
}

bool BlobIndex::Contains(const crypto::Digest256& id) const {
  return memory_.contains(id) || (db_ && CachedContains(id));
}

void BlobIndex::ForEach(
    const std::function<void(const crypto::Digest256&, const BlobLocation&)>&
        fn) const {
  for (const auto& [id, loc] : memory_) fn(id, loc);
  if (!db_ || db_->read == nullptr) return;
  MDB_cursor* cursor = nullptr;
  if (mdb_cursor_open(db_->read, db_->dbi, &cursor) != 0) return;
  const std::string prefix(1, kBlobPrefix);
  MDB_val key = Val(prefix), value;
  for (int rc = mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE);
       rc == 0 && View(key).starts_with(prefix);
       rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
    std::string_view k = View(key);
    std::optional<BlobLocation> loc = DecodeLocation(View(value));
    if (k.size() == 33 && loc) {
      fn(crypto::Digest256FromBytes(k.substr(1)), *loc);
    }
  }
  mdb_cursor_close(cursor);
}

}  // namespace chatvault::backup
