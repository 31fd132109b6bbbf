#include "backup/pruner.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "backup/lock.h"
#include "backup/pack.h"

namespace chatvault::backup {
namespace {

using Digest = crypto::Digest256;

constexpr std::string_view kPlanDir = "prune";
// Entries per index object a prune writes (about 10 MiB sealed).
constexpr size_t kMaxIndexEntries = 100000;
// A snapshot this young that cannot be walked may belong to a backup still
// securing it (SecureSnapshot).
constexpr uint64_t kYoungSnapshotMs = 15 * 60 * 1000;
// Blobs of a pack this close together are copied with one range read.
constexpr uint64_t kReadGap = 64 * 1024;

uint64_t UnixMs(Clock* clock) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          clock->WallNow().time_since_epoch())
          .count());
}

std::string Short(const Digest& id) { return HexEncode(id).substr(0, 16); }

// Orders digests word by word: a consistent order, and much faster to sort
// and search by than std::array's byte-wise one.
struct DigestLess {
  bool operator()(const Digest& a, const Digest& b) const {
    for (size_t i = 0; i < a.size(); i += 8) {
      uint64_t x, y;
      std::memcpy(&x, a.data() + i, 8);
      std::memcpy(&y, b.data() + i, 8);
      if (x != y) return x < y;
    }
    return false;
  }
};

std::string Raw(const Digest& id) { return std::string(AsChars(id)); }

std::optional<Digest> IdOf(const std::string& raw) {
  if (raw.size() != crypto::kDigest256Bytes) return std::nullopt;
  return crypto::Digest256FromBytes(raw);
}

// The names under "<dir>/", without the prefix.
Result<std::vector<std::string>> ListNames(Repository* repo,
                                           std::string_view dir) {
  std::vector<std::string> names;
  const std::string prefix = std::string(dir) + "/";
  RETURN_IF_ERROR(
      repo->backend()->List(prefix, [&](const storage::ObjectInfo& info) {
        names.push_back(info.name.substr(prefix.size()));
        return Status::OK();
      }));
  return names;
}

// The packs the current index objects list (those no other one supersedes),
// read from the objects themselves: a blob's one location in a BlobIndex
// would hide a pack all of whose blobs are also elsewhere.
Result<std::set<Digest>> ListedPacks(Repository* repo) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListNames(repo, "index"));
  std::set<std::string> superseded;
  std::vector<std::pair<std::string, std::vector<Digest>>> objects;
  for (const std::string& name : names) {
    pb::Index index;
    Status s = repo->LoadObject(ObjectType::kIndex, "index", name, &index);
    if (s.code() == StatusCode::kNotFound) continue;  // deleted meanwhile
    if (!s.ok()) {
      return s.WithContext("index " + name.substr(0, 8) +
                           " cannot be read, so which packs it lists is "
                           "unknown; nothing was deleted");
    }
    for (const std::string& raw : index.supersedes()) {
      if (raw.size() == crypto::kDigest256Bytes) {
        superseded.insert(HexEncode(AsBytes(raw)));
      }
    }
    std::vector<Digest> packs;
    for (const pb::IndexPack& p : index.packs()) {
      if (std::optional<Digest> id = IdOf(p.pack_id())) packs.push_back(*id);
    }
    objects.emplace_back(name, std::move(packs));
  }
  std::set<Digest> listed;
  for (const auto& [name, packs] : objects) {
    if (!superseded.contains(name)) listed.insert(packs.begin(), packs.end());
  }
  return listed;
}

// Collects the blobs snapshots use: their tree blobs, the contents of their
// files and the dictionaries their databases name.
class Walker {
 public:
  using ReadTree = std::function<Result<pb::Tree>(const Digest&)>;
  explicit Walker(ReadTree read) : read_(std::move(read)) {}

  Status Walk(const std::string& snapshot_id, const pb::Snapshot& snap) {
    std::optional<Digest> root = IdOf(snap.tree());
    if (!root) {
      return Status::Corruption("snapshot " + snapshot_id.substr(0, 8) +
                                " names no root tree");
    }
    return WalkTree(*root, "snapshot " + snapshot_id.substr(0, 8));
  }

  // Sorted (DigestLess), each once.
  std::vector<Digest> Take() {
    Compact();
    return std::move(used_);
  }

 private:
  Status WalkTree(const Digest& id, const std::string& where) {
    if (!trees_.insert(id).second) return Status::OK();
    used_.push_back(id);
    Result<pb::Tree> tree = read_(id);
    if (!tree.ok()) {
      return tree.status().WithContext(where + ": tree blob " + Short(id));
    }
    for (const pb::Node& node : tree->nodes()) {
      if (node.type() == pb::NODE_TYPE_DIR) {
        std::optional<Digest> sub = IdOf(node.subtree());
        if (!sub) {
          return Status::Corruption(where + ": directory '" + node.name() +
                                    "' has no tree");
        }
        RETURN_IF_ERROR(WalkTree(*sub, where));
        continue;
      }
      for (const std::string& raw : node.content()) {
        std::optional<Digest> blob = IdOf(raw);
        if (!blob) {
          return Status::Corruption(where + ": file '" + node.name() +
                                    "' names a malformed blob ID");
        }
        used_.push_back(*blob);
      }
      if (std::optional<Digest> dict = IdOf(node.sqlite_dictionary())) {
        used_.push_back(*dict);
      }
    }
    // Snapshots share most of their blobs: drop the repeats now and then.
    if (used_.size() > 2 * compacted_ + (1u << 16)) Compact();
    return Status::OK();
  }

  void Compact() {
    std::sort(used_.begin(), used_.end(), DigestLess());
    used_.erase(std::unique(used_.begin(), used_.end()), used_.end());
    compacted_ = used_.size();
  }

  ReadTree read_;
  std::set<Digest> trees_;
  std::vector<Digest> used_;
  size_t compacted_ = 0;
};

// Adds to `used` (sorted by DigestLess, each once) the delta bases and
// dictionaries its blobs name, as `find` reports their entries. Two rounds
// suffice: a base is never a delta, and a dictionary names nothing
// (design.md 5.3).
void AddReferences(
    std::vector<Digest>* used,
    const std::function<std::optional<pb::PackEntry>(const Digest&)>& find) {
  for (int round = 0; round < 2; ++round) {
    std::vector<Digest> more;
    for (const Digest& id : *used) {
      std::optional<pb::PackEntry> e = find(id);
      if (!e) continue;
      if (std::optional<Digest> b = IdOf(e->base())) more.push_back(*b);
      if (std::optional<Digest> d = IdOf(e->dictionary())) more.push_back(*d);
    }
    used->insert(used->end(), more.begin(), more.end());
    std::sort(used->begin(), used->end(), DigestLess());
    used->erase(std::unique(used->begin(), used->end()), used->end());
  }
}

bool Uses(const std::vector<Digest>& used, const Digest& id) {
  return std::binary_search(used.begin(), used.end(), id, DigestLess());
}

// Copies sealed blobs from packs into new packs, one per epoch at a time,
// authenticating each on the way: blobs are bound to their ID, type and
// epoch, not to a pack (design.md 5.3), so they move without being
// decrypted for good or sealed again.
class Copier {
 public:
  explicit Copier(Repository* repo) : repo_(repo) {}

  // Copies `entries` of pack `pack` (epoch `epoch`). Blobs that fail to
  // authenticate are left out and added to `bad`; NotFound if the pack is
  // gone.
  Status CopyFrom(const Digest& pack, uint32_t epoch,
                  std::vector<pb::PackEntry> entries,
                  std::vector<Digest>* bad) {
    const crypto::AeadKey* key = repo_->keys().epoch_key(epoch);
    if (key == nullptr) {
      return Status::PermissionDenied(
          "pack " + Short(pack) + " is sealed under key epoch " +
          std::to_string(epoch) + ", which this holder lacks");
    }
    std::sort(entries.begin(), entries.end(),
              [](const pb::PackEntry& a, const pb::PackEntry& b) {
                return a.offset() < b.offset();
              });
    for (size_t i = 0; i < entries.size();) {
      const uint64_t start = entries[i].offset();
      uint64_t end = start + entries[i].length();
      size_t j = i + 1;
      while (j < entries.size() && entries[j].offset() <= end + kReadGap) {
        end =
            std::max(end, uint64_t{entries[j].offset()} + entries[j].length());
        ++j;
      }
      Result<Bytes> run =
          repo_->backend()->Load(PackName(pack), start, end - start);
      if (run.status().code() == StatusCode::kInvalidArgument) {
        run = Status::Corruption("pack " + Short(pack) +
                                 " is shorter than its index says");
      }
      if (!run.ok()) return run.status();
      for (; i < j; ++i) {
        const pb::PackEntry& e = entries[i];
        ByteView sealed =
            ByteView(*run).subspan(e.offset() - start, e.length());
        if (!AuthenticateBlob(*key, epoch, e, sealed).ok()) {
          bad->push_back(crypto::Digest256FromBytes(e.id()));
          continue;
        }
        SealedBlob blob;
        blob.type = e.type();
        blob.id = crypto::Digest256FromBytes(e.id());
        blob.sealed.assign(sealed.begin(), sealed.end());
        blob.raw_length = e.raw_length();
        if (std::optional<Digest> b = IdOf(e.base())) blob.base = *b;
        if (std::optional<Digest> d = IdOf(e.dictionary())) {
          blob.dictionary = *d;
        }
        auto it = writers_.find(epoch);
        if (it == writers_.end()) {
          it = writers_.emplace(epoch, PackWriter(*key, epoch)).first;
        }
        Status s = it->second.AddSealed(std::move(blob));
        if (s.code() == StatusCode::kAlreadyExists) continue;
        RETURN_IF_ERROR(s);
        ++copied_;
        if (it->second.size() >= kTargetPackBytes) {
          RETURN_IF_ERROR(Upload(&it->second));
        }
      }
    }
    return Status::OK();
  }

  // Uploads the packs still filling.
  Status Finish() {
    for (auto& [epoch, writer] : writers_) {
      if (writer.count() > 0) RETURN_IF_ERROR(Upload(&writer));
    }
    return Status::OK();
  }

  std::vector<pb::IndexPack>& packs() { return packs_; }
  uint64_t copied() const { return copied_; }
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  Status Upload(PackWriter* writer) {
    ASSIGN_OR_RETURN(FinishedPack pack, writer->Finish());
    Status s = repo_->backend()->Save(PackName(pack.id), pack.data,
                                      storage::SaveMode::kCreateIfAbsent);
    // The same bytes under the same name: already there.
    if (!s.ok() && s.code() != StatusCode::kAlreadyExists) return s;
    bytes_written_ += pack.data.size();
    pb::IndexPack ip;
    ip.set_pack_id(Raw(pack.id));
    ip.set_epoch(pack.epoch);
    for (pb::PackEntry& e : pack.entries) *ip.add_entries() = std::move(e);
    packs_.push_back(std::move(ip));
    return Status::OK();
  }

  Repository* repo_;
  std::map<uint32_t, PackWriter> writers_;
  std::vector<pb::IndexPack> packs_;
  uint64_t copied_ = 0;
  uint64_t bytes_written_ = 0;
};

struct Plan {
  std::string id;
  pb::PrunePlan plan;
};

class Pruner {
 public:
  Pruner(Repository* repo, const PruneOptions& options,
         const PruneProgressFn& progress)
      : repo_(repo), options_(options), progress_(progress) {}

  Result<PruneResult> Run() {
    std::unique_ptr<RepositoryLock> lock;
    if (!options_.dry_run) {
      ASSIGN_OR_RETURN(lock,
                       RepositoryLock::Acquire(repo_, "prune", &result_.notes,
                                               options_.clock));
      lock_ = lock.get();
    }
    RETURN_IF_ERROR(LoadPlans());
    if (!options_.dry_run) {
      RETURN_IF_ERROR(CompleteRipe());
      // The mark must not see the plans just completed.
      RETURN_IF_ERROR(LoadPlans());
    }
    RETURN_IF_ERROR(Mark());
    if (!options_.dry_run && options_.grace.count() == 0 &&
        !result_.plan_id.empty()) {
      result_.plans_waiting = 0;
      result_.next_delete_unix_ms = 0;
      RETURN_IF_ERROR(LoadPlans());
      RETURN_IF_ERROR(CompleteRipe());
    }
    return result_;
  }

 private:
  void Report(const std::string& phase, uint64_t done, uint64_t total) {
    if (progress_) progress_(PruneProgress{phase, done, total});
  }

  Status LoadPlans() {
    plans_.clear();
    listed_again_.clear();
    ASSIGN_OR_RETURN(std::vector<std::string> ids, ListNames(repo_, kPlanDir));
    for (const std::string& id : ids) {
      Plan p{id, {}};
      Status s =
          repo_->LoadObject(ObjectType::kPrunePlan, kPlanDir, id, &p.plan);
      if (s.code() == StatusCode::kNotFound) continue;
      if (!s.ok()) {
        // Without it, its packs merely stay: nothing is deleted blindly.
        result_.notes.push_back("prune plan " + id.substr(0, 8) +
                                " cannot be read (" + std::string(s.message()) +
                                "); the packs it condemned are kept");
        continue;
      }
      plans_.push_back(std::move(p));
    }
    return Status::OK();
  }

  // Counts a plan that waits for its grace period.
  void Waiting(const pb::PrunePlan& plan) {
    ++result_.plans_waiting;
    if (result_.next_delete_unix_ms == 0 ||
        DeleteAfter(plan) < result_.next_delete_unix_ms) {
      result_.next_delete_unix_ms = DeleteAfter(plan);
    }
  }

  uint64_t DeleteAfter(const pb::PrunePlan& plan) const {
    const uint64_t grace = std::max<uint64_t>(
        plan.min_grace_ms(), static_cast<uint64_t>(options_.grace.count()));
    return plan.time_unix_ms() + grace;
  }

  // Phase 2 for every plan whose grace period has passed.
  Status CompleteRipe() {
    const uint64_t now = UnixMs(options_.clock);
    std::vector<Plan*> ripe;
    for (Plan& p : plans_) {
      if (now >= DeleteAfter(p.plan)) {
        ripe.push_back(&p);
        continue;
      }
      Waiting(p.plan);
    }
    if (ripe.empty()) return Status::OK();
    ASSIGN_OR_RETURN(std::vector<std::string> snapshots,
                     ListNames(repo_, "snapshots"));
    // A pack an index lists is never deleted. The indexes' entries are read
    // only if a snapshot was saved since some mark.
    Report("index", 0, 1);
    ASSIGN_OR_RETURN(std::set<Digest> listed_packs, ListedPacks(repo_));
    std::unique_ptr<BlobStore> store;
    for (Plan* p : ripe) {
      std::set<std::string> seen;
      for (const std::string& raw : p->plan.snapshots()) {
        seen.insert(HexEncode(AsBytes(raw)));
      }
      std::vector<std::string> since;
      for (const std::string& id : snapshots) {
        if (!seen.contains(id)) since.push_back(id);
      }
      if (!since.empty() && !store) {
        ASSIGN_OR_RETURN(store, BlobStore::Open(repo_, options_.cache_dir));
      }
      RETURN_IF_ERROR(Complete(p, store.get(), since, &listed_packs));
    }
    return Status::OK();
  }

  // Lists the entries of condemned pack `i` of plan `p` again, in a new
  // index: a snapshot needs one after all. The plan is rewritten first, with
  // the pack kept, so that whoever completes it never deletes a pack an
  // index lists.
  Status ListAgain(Plan* p, size_t i, BlobStore* store,
                   std::set<Digest>* listed_packs) {
    pb::CondemnedPack& cp = *p->plan.mutable_condemned(static_cast<int>(i));
    std::optional<Digest> id = IdOf(cp.pack().pack_id());
    if (!id || !listed_again_.emplace(p, i).second) return Status::OK();
    // A pack already deleted cannot serve; the snapshot then misses data,
    // which the caller reports.
    Status exists = repo_->backend()->Stat(PackName(*id)).status();
    if (exists.code() == StatusCode::kNotFound) return Status::OK();
    RETURN_IF_ERROR(exists);
    if (!cp.kept()) {
      cp.set_kept(true);
      RETURN_IF_ERROR(repo_->SaveObjectAs(ObjectType::kPrunePlan, kPlanDir,
                                          p->id, p->plan,
                                          storage::SaveMode::kOverwrite));
    }
    pb::Index index;
    *index.add_packs() = cp.pack();
    ASSIGN_OR_RETURN(std::string name,
                     repo_->SaveObject(ObjectType::kIndex, "index", index));
    store->AddIndex(name, index);
    listed_packs->insert(*id);
    ++result_.packs_listed_again;
    return Status::OK();
  }

  // Phase 2 for plan `p`: `since` are the snapshots saved after its mark,
  // `store` the current indexes (null if `since` is empty).
  Status Complete(Plan* p, BlobStore* store,
                  const std::vector<std::string>& since,
                  std::set<Digest>* listed_packs) {
    const pb::PrunePlan& plan = p->plan;
    std::map<Digest, size_t> condemned;  // blob → pack in the plan
    for (int i = 0; i < plan.condemned_size(); ++i) {
      for (const pb::PackEntry& e : plan.condemned(i).pack().entries()) {
        if (std::optional<Digest> id = IdOf(e.id())) condemned.emplace(*id, i);
      }
    }
    // The snapshots saved since the mark: what they use must stay.
    Walker walker([&](const Digest& id) -> Result<pb::Tree> {
      if (!store->Has(id)) {
        if (auto c = condemned.find(id); c != condemned.end()) {
          RETURN_IF_ERROR(ListAgain(p, c->second, store, listed_packs));
        }
      }
      return LoadTree(store, id);
    });
    for (const std::string& id : since) {
      RETURN_IF_ERROR(lock_->Refresh());
      pb::Snapshot snap;
      Status s =
          repo_->LoadObject(ObjectType::kSnapshot, "snapshots", id, &snap);
      if (s.code() == StatusCode::kNotFound) continue;  // forgotten since
      if (s.ok()) s = walker.Walk(id, snap);
      if (!s.ok()) {
        result_.notes.push_back(
            "kept the packs prune plan " + p->id.substr(0, 8) +
            " condemned: snapshot " + id.substr(0, 8) +
            ", saved since, cannot be walked (" + std::string(s.message()) +
            "); run 'chatvault check'");
        return Status::OK();
      }
    }
    std::vector<Digest> used = walker.Take();
    AddReferences(&used, [&](const Digest& id) -> std::optional<pb::PackEntry> {
      if (std::optional<BlobLocation> loc = store->index().Find(id)) {
        return loc->entry;
      }
      auto c = condemned.find(id);
      if (c == condemned.end()) return std::nullopt;
      for (const pb::PackEntry& e :
           plan.condemned(static_cast<int>(c->second)).pack().entries()) {
        if (e.id() == Raw(id)) return e;
      }
      return std::nullopt;
    });
    for (const Digest& id : used) {
      if (store->Has(id)) continue;
      if (auto c = condemned.find(id); c != condemned.end()) {
        RETURN_IF_ERROR(ListAgain(p, c->second, store, listed_packs));
      }
    }
    RETURN_IF_ERROR(lock_->Refresh());
    uint64_t done = 0;
    for (const pb::CondemnedPack& cp : plan.condemned()) {
      Report("delete", done++, plan.condemned_size());
      std::optional<Digest> id = IdOf(cp.pack().pack_id());
      if (!id || cp.kept()) continue;
      if (listed_packs->contains(*id)) continue;  // listed again
      RETURN_IF_ERROR(repo_->backend()->Remove(PackName(*id)));
      ++result_.packs_deleted;
      result_.bytes_freed += cp.size();
    }
    // The replaced indexes go only if the index superseding them was
    // written: a mark that stopped before it leaves them in force.
    bool superseded = plan.superseded_by().size() == crypto::kDigest256Bytes;
    if (superseded) {
      Result<storage::ObjectInfo> by = repo_->backend()->Stat(
          "index/" + HexEncode(AsBytes(plan.superseded_by())));
      if (by.status().code() == StatusCode::kNotFound) {
        superseded = false;
      } else {
        RETURN_IF_ERROR(by.status());
      }
    }
    for (const std::string& raw : plan.superseded()) {
      if (!superseded || raw.size() != crypto::kDigest256Bytes) continue;
      RETURN_IF_ERROR(
          repo_->backend()->Remove("index/" + HexEncode(AsBytes(raw))));
    }
    RETURN_IF_ERROR(
        repo_->backend()->Remove(std::string(kPlanDir) + "/" + p->id));
    ++result_.plans_completed;
    return Status::OK();
  }

  // Phase 1.
  Status Mark() {
    // Packs first, then indexes: a pack is "in no index" only if the index
    // naming it, if any, was written after the indexes were listed.
    Report("list", 0, 1);
    std::map<Digest, uint64_t> pack_sizes;
    RETURN_IF_ERROR(
        repo_->backend()->List("data/", [&](const storage::ObjectInfo& info) {
          Digest id;
          if (ParsePackName(info.name, &id)) pack_sizes[id] = info.size;
          return Status::OK();
        }));
    ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store,
                     BlobStore::Open(repo_, options_.cache_dir));
    // Exactly the indexes read: what they list is classified below, and
    // they are what the new indexes supersede.
    const std::vector<std::string> index_names(store->index().listed().begin(),
                                               store->index().listed().end());
    // What earlier marks condemned is theirs to delete; a blob of theirs a
    // snapshot needs after all makes its pack listed again.
    std::set<Digest> pending_packs;
    std::map<Digest, std::pair<Plan*, size_t>> pending_blobs;
    std::set<Digest> listed_packs;
    for (Plan& p : plans_) {
      for (int i = 0; i < p.plan.condemned_size(); ++i) {
        const pb::IndexPack& pack = p.plan.condemned(i).pack();
        std::optional<Digest> id = IdOf(pack.pack_id());
        if (id && !p.plan.condemned(i).kept()) pending_packs.insert(*id);
        for (const pb::PackEntry& e : pack.entries()) {
          if (std::optional<Digest> id = IdOf(e.id())) {
            pending_blobs.emplace(*id, std::make_pair(&p, i));
          }
        }
      }
    }
    auto list_again = [&](const Digest& blob) -> Status {
      auto it = pending_blobs.find(blob);
      if (it == pending_blobs.end() || options_.dry_run) return Status::OK();
      return ListAgain(it->second.first, it->second.second, store.get(),
                       &listed_packs);
    };

    ASSIGN_OR_RETURN(std::vector<std::string> snapshot_ids,
                     ListNames(repo_, "snapshots"));
    Walker walker([&](const Digest& id) -> Result<pb::Tree> {
      if (!store->Has(id)) RETURN_IF_ERROR(list_again(id));
      return LoadTree(store.get(), id);
    });
    std::vector<std::string> walked;
    bool young = false;  // a snapshot a backup may still be securing
    for (size_t i = 0; i < snapshot_ids.size(); ++i) {
      Report("snapshots", i, snapshot_ids.size());
      if (lock_ != nullptr) RETURN_IF_ERROR(lock_->Refresh());
      const std::string& id = snapshot_ids[i];
      pb::Snapshot snap;
      Status s =
          repo_->LoadObject(ObjectType::kSnapshot, "snapshots", id, &snap);
      if (s.code() == StatusCode::kNotFound) continue;  // forgotten meanwhile
      // Storage trouble is not damage: stop, say so, retry later.
      if (!s.ok() && s.code() != StatusCode::kCorruption) return s;
      if (s.ok()) s = walker.Walk(id, snap);
      if (s.code() == StatusCode::kUnavailable) return s;
      const uint64_t now = UnixMs(options_.clock);
      if (!s.ok() && snap.time_unix_ms() + kYoungSnapshotMs > now) {
        // Most likely a backup that has just saved it and is copying what
        // an earlier prune condemned, or withdrawing it (5.12).
        return Status::Unavailable(
            "prune stopped before deleting anything: snapshot " +
            id.substr(0, 8) + ", saved " +
            std::to_string((now - std::min(now, snap.time_unix_ms())) / 1000) +
            " s ago, cannot be read whole yet (" + std::string(s.message()) +
            "); a backup may be finishing. Run prune again in a few "
            "minutes; if this persists, run 'chatvault check'");
      }
      if (!s.ok()) {
        return Status::Corruption(
            "prune stopped before deleting anything: snapshot " +
            id.substr(0, 8) + " cannot be read whole (" +
            std::string(s.message()) +
            "). Run 'chatvault check' to see the damage; 'chatvault forget' "
            "the snapshot if it cannot be repaired");
      }
      walked.push_back(id);
      if (snap.time_unix_ms() + kYoungSnapshotMs > now) young = true;
    }
    Report("snapshots", snapshot_ids.size(), snapshot_ids.size());
    result_.snapshots = walked.size();
    std::vector<Digest> used = walker.Take();
    AddReferences(&used, [&](const Digest& id) -> std::optional<pb::PackEntry> {
      std::optional<BlobLocation> loc = store->index().Find(id);
      if (loc) return loc->entry;
      // A blob an earlier plan condemned: its base or dictionary must stay
      // too.
      auto it = pending_blobs.find(id);
      if (it == pending_blobs.end()) return std::nullopt;
      const pb::PrunePlan& plan = it->second.first->plan;
      for (const pb::PackEntry& e :
           plan.condemned(static_cast<int>(it->second.second))
               .pack()
               .entries()) {
        if (e.id() == Raw(id)) return e;
      }
      return std::nullopt;
    });
    uint64_t missing = 0;
    std::string first_missing;
    for (const Digest& id : used) {
      if (store->Has(id)) continue;
      RETURN_IF_ERROR(list_again(id));
      if (store->Has(id) || (options_.dry_run && pending_blobs.contains(id))) {
        continue;
      }
      if (missing++ == 0) first_missing = Short(id);
    }
    if (missing > 0) {
      const std::string what =
          "prune stopped before deleting anything: " + std::to_string(missing) +
          " blobs the snapshots use (" + first_missing +
          (missing > 1 ? ", ...)" : ")") + " are in no index";
      if (young) {
        return Status::Unavailable(
            what +
            "; a backup that has just saved its snapshot may be finishing. "
            "Run prune again in a few minutes; if this persists, run "
            "'chatvault check'");
      }
      return Status::Corruption(
          what + ". Run 'chatvault check' to see which snapshots are affected");
    }
    result_.blobs_used = used.size();

    // Each indexed pack, with its entries, and how much of it is used.
    struct PackUse {
      pb::IndexPack pack;
      uint64_t used = 0;
      uint64_t used_bytes = 0;
    };
    std::map<Digest, PackUse, DigestLess> packs;
    store->index().ForEach([&](const Digest& id, const BlobLocation& loc) {
      PackUse& u = packs[loc.pack];
      if (u.pack.pack_id().empty()) {
        u.pack.set_pack_id(Raw(loc.pack));
        u.pack.set_epoch(loc.epoch);
      }
      *u.pack.add_entries() = loc.entry;
      ++result_.blobs;
      if (Uses(used, id)) {
        ++u.used;
        u.used_bytes += loc.entry.length();
      }
    });

    std::vector<Digest> keep, repack, unused;
    for (const auto& [id, u] : packs) {
      auto size = pack_sizes.find(id);
      if (size == pack_sizes.end()) {
        result_.notes.push_back("pack " + Short(id) +
                                " is listed but missing; run 'chatvault "
                                "check'");
        keep.push_back(id);
        continue;
      }
      ++result_.packs;
      result_.pack_bytes += size->second;
      result_.used_bytes += u.used_bytes;
      if (u.used == 0) {
        unused.push_back(id);
      } else if (static_cast<double>(u.used_bytes) <
                 options_.repack_below * static_cast<double>(size->second)) {
        repack.push_back(id);
      } else {
        keep.push_back(id);
      }
    }
    std::vector<Digest> unindexed;
    for (const auto& [id, size] : pack_sizes) {
      if (!packs.contains(id) && !pending_packs.contains(id)) {
        unindexed.push_back(id);
      }
    }
    result_.packs_unused = unused.size();
    result_.packs_unindexed = unindexed.size();
    if (unused.empty() && repack.empty() && unindexed.empty())
      return Status::OK();
    if (options_.dry_run) {
      result_.packs_repacked = repack.size();
      for (const auto& list : {unused, repack}) {
        for (const Digest& id : list) result_.bytes_condemned += pack_sizes[id];
      }
      return Status::OK();
    }

    // Repack: the used blobs of sparsely used packs go into new packs.
    Copier copier(repo_);
    std::vector<Digest> repacked;
    for (size_t i = 0; i < repack.size(); ++i) {
      Report("repack", i, repack.size());
      if (i % 16 == 0) RETURN_IF_ERROR(lock_->Refresh());
      const Digest& id = repack[i];
      PackUse& u = packs[id];
      std::vector<pb::PackEntry> wanted;
      for (const pb::PackEntry& e : u.pack.entries()) {
        if (Uses(used, crypto::Digest256FromBytes(e.id()))) wanted.push_back(e);
      }
      std::vector<Digest> bad;
      Status s = copier.CopyFrom(id, u.pack.epoch(), std::move(wanted), &bad);
      if (!s.ok() || !bad.empty()) {
        result_.notes.push_back("pack " + Short(id) + " was kept as it is: " +
                                (s.ok()
                                     ? std::to_string(bad.size()) +
                                           " of its blobs failed authentication"
                                     : std::string(s.message())) +
                                "; run 'chatvault check --read-data'");
        keep.push_back(id);
        continue;
      }
      repacked.push_back(id);
    }
    Report("repack", repack.size(), repack.size());
    RETURN_IF_ERROR(copier.Finish());
    result_.packs_repacked = repacked.size();
    result_.packs_written = copier.packs().size();
    result_.bytes_written = copier.bytes_written();

    // The new indexes list only the used blobs of kept packs: an unused one
    // may be a delta whose base is condemned. The plan records the others
    // like condemned packs (but `kept`), so that a snapshot saved meanwhile
    // that needs one gets it listed again.
    std::vector<pb::CondemnedPack> dropped;
    if (!unused.empty() || !repacked.empty()) {
      for (const Digest& id : keep) {
        pb::IndexPack& ip = packs[id].pack;
        if (packs[id].used == static_cast<uint64_t>(ip.entries_size())) {
          continue;
        }
        pb::CondemnedPack cp;
        cp.set_kept(true);
        cp.mutable_pack()->set_pack_id(ip.pack_id());
        cp.mutable_pack()->set_epoch(ip.epoch());
        pb::IndexPack used_only;
        for (pb::PackEntry& e : *ip.mutable_entries()) {
          if (Uses(used, crypto::Digest256FromBytes(e.id()))) {
            *used_only.add_entries() = std::move(e);
          } else {
            *cp.mutable_pack()->add_entries() = std::move(e);
          }
        }
        ip.mutable_entries()->Swap(used_only.mutable_entries());
        dropped.push_back(std::move(cp));
      }
    }

    // The ID of the last new index, the one that supersedes the old: chosen
    // now, so that the plan can name it.
    const std::string superseding = Repository::NewObjectId();

    // The plans, before the indexes that stop listing what they condemn.
    const uint64_t now = UnixMs(options_.clock);
    std::string hostname = options_.hostname;
    if (hostname.empty()) {
      char buf[256] = {0};
      ::gethostname(buf, sizeof(buf) - 1);
      hostname = buf;
    }
    RETURN_IF_ERROR(lock_->Refresh());
    if (!unused.empty() || !repacked.empty()) {
      pb::PrunePlan plan;
      plan.set_time_unix_ms(now);
      plan.set_hostname(hostname);
      for (const std::string& id : walked) {
        Result<Bytes> raw = HexDecode(id);
        if (raw.ok()) plan.add_snapshots(std::string(AsChars(*raw)));
      }
      for (const std::string& name : index_names) {
        Result<Bytes> raw = HexDecode(name);
        if (raw.ok() && raw->size() == crypto::kDigest256Bytes) {
          plan.add_superseded(std::string(AsChars(*raw)));
        }
      }
      Result<Bytes> by = HexDecode(superseding);
      if (by.ok()) plan.set_superseded_by(std::string(AsChars(*by)));
      for (const auto& list : {unused, repacked}) {
        for (const Digest& id : list) {
          pb::CondemnedPack* cp = plan.add_condemned();
          *cp->mutable_pack() = std::move(packs[id].pack);
          cp->set_size(pack_sizes[id]);
          result_.bytes_condemned += pack_sizes[id];
        }
      }
      for (pb::CondemnedPack& cp : dropped)
        *plan.add_condemned() = std::move(cp);
      ASSIGN_OR_RETURN(
          result_.plan_id,
          repo_->SaveObject(ObjectType::kPrunePlan, kPlanDir, plan));
      Waiting(plan);
    }
    if (!unindexed.empty()) {
      pb::PrunePlan plan;
      plan.set_time_unix_ms(now);
      plan.set_hostname(hostname);
      plan.set_min_grace_ms(
          std::chrono::duration_cast<std::chrono::milliseconds>(
              kUnindexedPackGrace)
              .count());
      for (const std::string& id : walked) {
        Result<Bytes> raw = HexDecode(id);
        if (raw.ok()) plan.add_snapshots(std::string(AsChars(*raw)));
      }
      for (const Digest& id : unindexed) {
        pb::CondemnedPack* cp = plan.add_condemned();
        cp->mutable_pack()->set_pack_id(Raw(id));
        cp->set_size(pack_sizes[id]);
      }
      ASSIGN_OR_RETURN(std::string id, repo_->SaveObject(ObjectType::kPrunePlan,
                                                         kPlanDir, plan));
      if (result_.plan_id.empty()) result_.plan_id = id;
      Waiting(plan);
    }
    if (unused.empty() && repacked.empty()) return Status::OK();

    // New indexes: the kept packs and the new ones; the last one written
    // supersedes every index listed above.
    std::vector<pb::IndexPack> listed;
    for (const Digest& id : keep) listed.push_back(std::move(packs[id].pack));
    packs.clear();
    for (pb::IndexPack& ip : copier.packs()) listed.push_back(std::move(ip));
    pb::Index index;
    size_t entries = 0;
    for (size_t i = 0; i <= listed.size(); ++i) {
      const bool last = i == listed.size();
      if (!last) {
        entries += listed[i].entries_size();
        *index.add_packs() = std::move(listed[i]);
      }
      if (last || entries >= kMaxIndexEntries) {
        if (last) {
          for (const std::string& name : index_names) {
            Result<Bytes> raw = HexDecode(name);
            if (raw.ok() && raw->size() == crypto::kDigest256Bytes) {
              index.add_supersedes(std::string(AsChars(*raw)));
            }
          }
        }
        Report("index", i, listed.size());
        if (last) {
          RETURN_IF_ERROR(
              repo_->SaveObjectAs(ObjectType::kIndex, "index", superseding,
                                  index, storage::SaveMode::kCreateIfAbsent));
        } else {
          RETURN_IF_ERROR(
              repo_->SaveObject(ObjectType::kIndex, "index", index).status());
        }
        ++result_.indexes_written;
        index.Clear();
        entries = 0;
      }
    }
    RETURN_IF_ERROR(lock_->Refresh());
    for (const std::string& name : index_names) {
      RETURN_IF_ERROR(repo_->backend()->Remove("index/" + name));
      ++result_.indexes_superseded;
    }
    return Status::OK();
  }

  Repository* repo_;
  const PruneOptions& options_;
  const PruneProgressFn& progress_;
  RepositoryLock* lock_ = nullptr;
  // Condemned entries of plans listed again by this prune.
  std::set<std::pair<const Plan*, size_t>> listed_again_;
  std::vector<Plan> plans_;
  PruneResult result_;
};

}  // namespace

Result<PruneResult> Prune(Repository* repo, const PruneOptions& options,
                          const PruneProgressFn& progress) {
  if (options.repack_below < 0 || options.repack_below > 1) {
    return Status::InvalidArgument(
        "the repack threshold is a fraction between 0 and 1");
  }
  if (options.grace.count() < 0) {
    return Status::InvalidArgument("the grace period cannot be negative");
  }
  Pruner pruner(repo, options, progress);
  return pruner.Run();
}

namespace {

// SecureSnapshot's work; NotFound if a blob the snapshot uses is gone.
Status Secure(Repository* repo, BlobStore* store,
              const std::string& snapshot_id, const pb::Snapshot& snap,
              uint64_t* copied) {
  // Has a prune marked (its plan is there until it completes) or deleted
  // the indexes this backup read (a mark finished) since the backup began?
  ASSIGN_OR_RETURN(std::vector<std::string> plans, ListNames(repo, kPlanDir));
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListNames(repo, "index"));
  const std::set<std::string> listed(names.begin(), names.end());
  bool gone = false;
  for (const std::string& n : store->index().names()) {
    gone = gone || !listed.contains(n);
  }
  if (plans.empty() && !gone) return Status::OK();

  // Which of the snapshot's blobs may be condemned, and whether a current
  // index lists them. While no index this backup read is gone, no mark has
  // finished since it began: only what the plans there condemned is at
  // risk (a mark still under way re-checks this snapshot before deleting).
  std::unique_ptr<BlobStore> current;
  std::set<Digest> condemned;
  if (!gone) {
    for (const std::string& id : plans) {
      pb::PrunePlan plan;
      Status s = repo->LoadObject(ObjectType::kPrunePlan, kPlanDir, id, &plan);
      if (!s.ok()) {
        // Completed meanwhile, or unreadable: take the thorough way.
        gone = true;
        break;
      }
      for (const pb::CondemnedPack& cp : plan.condemned()) {
        for (const pb::PackEntry& e : cp.pack().entries()) {
          if (std::optional<Digest> blob = IdOf(e.id()))
            condemned.insert(*blob);
        }
      }
    }
    if (!gone && condemned.empty()) return Status::OK();
  }
  if (gone) {
    // The indexes as they are now, with what the prune wrote.
    ASSIGN_OR_RETURN(current, BlobStore::Open(repo, ""));
  }
  auto listed_now = [&](const Digest& id) {
    return current ? current->Has(id) : !condemned.contains(id);
  };
  Walker walker([&](const Digest& id) -> Result<pb::Tree> {
    return LoadTree(current && current->Has(id) ? current.get() : store, id);
  });
  Status s = walker.Walk(snapshot_id, snap);
  if (!s.ok()) return s;
  std::vector<Digest> used = walker.Take();
  AddReferences(&used, [&](const Digest& id) -> std::optional<pb::PackEntry> {
    std::optional<BlobLocation> loc;
    if (current) loc = current->index().Find(id);
    if (!loc) loc = store->index().Find(id);
    if (loc) return loc->entry;
    return std::nullopt;
  });
  // Whatever no current index lists is copied from where this backup found
  // it.
  std::map<Digest, std::pair<uint32_t, std::vector<pb::PackEntry>>> wanted;
  for (const Digest& id : used) {
    if (listed_now(id)) continue;
    std::optional<BlobLocation> loc = store->index().Find(id);
    if (!loc) return Status::NotFound("blob " + Short(id) + " is gone");
    auto& w = wanted[loc->pack];
    w.first = loc->epoch;
    w.second.push_back(loc->entry);
  }
  if (wanted.empty()) return Status::OK();
  Copier copier(repo);
  for (auto& [pack, w] : wanted) {
    std::vector<Digest> bad;
    s = copier.CopyFrom(pack, w.first, std::move(w.second), &bad);
    if (s.ok() && !bad.empty()) {
      s = Status::Corruption("blob " + Short(bad.front()) +
                             " failed authentication");
    }
    RETURN_IF_ERROR(s);
  }
  RETURN_IF_ERROR(copier.Finish());
  pb::Index index;
  for (pb::IndexPack& ip : copier.packs()) *index.add_packs() = std::move(ip);
  RETURN_IF_ERROR(
      repo->SaveObject(ObjectType::kIndex, "index", index).status());
  if (copied != nullptr) *copied = copier.copied();
  return Status::OK();
}

}  // namespace

Status SecureBlobs(Repository* repo, BlobStore* store, const pb::Snapshot& snap,
                   uint64_t* copied) {
  if (copied != nullptr) *copied = 0;
  const Status s = Secure(repo, store, "(unsaved)", snap, copied);
  if (s.ok()) return s;
  return Status::Unavailable(
      (s.code() == StatusCode::kNotFound
           ? "a prune (on this or another device) deleted data this backup "
             "had reused ("
           : "this backup could not make sure that a prune running meanwhile "
             "left its data whole (") +
      std::string(s.message()) +
      "). No snapshot was saved. Run the backup again: it stores that data "
      "anew");
}

Status SecureSnapshot(Repository* repo, BlobStore* store,
                      const std::string& snapshot_id, const pb::Snapshot& snap,
                      uint64_t* copied) {
  if (copied != nullptr) *copied = 0;
  const Status s = Secure(repo, store, snapshot_id, snap, copied);
  if (s.ok()) return s;
  // A snapshot not known to be whole does not stay (best effort).
  const Status removed = repo->backend()->Remove("snapshots/" + snapshot_id);
  return Status::Unavailable(
      (s.code() == StatusCode::kNotFound
           ? "a prune (on this or another device) deleted data this backup "
             "had reused before the backup could save its snapshot ("
           : "this backup could not make sure that a prune running meanwhile "
             "left its snapshot whole (") +
      std::string(s.message()) + "). " +
      (removed.ok()
           ? "The snapshot was withdrawn. Run the backup again: it stores "
             "that data anew"
           : "Withdrawing snapshot " + snapshot_id.substr(0, 8) +
                 " failed too (" + std::string(removed.message()) +
                 "): it may be incomplete. Run the backup again, and "
                 "'chatvault check'"));
}

}  // namespace chatvault::backup
