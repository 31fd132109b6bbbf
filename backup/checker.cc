#include "backup/checker.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "backup/blob_store.h"
#include "crypto/random.h"

namespace chatvault::backup {
namespace {

constexpr std::string_view kDataPrefix = "data/";
// At most this many affected paths are named for one damaged object.
constexpr size_t kMaxAffectedNamed = 5;

std::string Short(const crypto::Digest256& id) {
  return HexEncode(id).substr(0, 16);
}

// Whether pack `id` belongs to the subset read_data should read.
bool Selected(const CheckOptions& o, const crypto::Digest256& id) {
  if (o.subset_m > 0) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i)
      v = (v << 8) | std::to_integer<uint64_t>(id[i]);
    return v % o.subset_m == o.subset_n - 1;
  }
  if (o.subset_percent > 0 && o.subset_percent < 100) {
    return crypto::RandomUniform(1'000'000) <
           static_cast<uint32_t>(o.subset_percent * 10'000);
  }
  return true;
}

class Checker {
 public:
  Checker(Repository* repo, const CheckOptions& options,
          const CheckProgressFn& progress)
      : repo_(repo), options_(options), progress_(progress) {}

  Result<CheckResult> Run() {
    std::map<std::string, Status> damaged;
    ASSIGN_OR_RETURN(store_, BlobStore::Open(repo_, "", &damaged));
    for (const auto& [name, status] : damaged) {
      Problem("index " + name + " cannot be read (" +
              std::string(status.message()) +
              "): the blobs it lists are unreachable unless another index "
              "lists them");
    }
    RETURN_IF_ERROR(CheckPacks());
    if (options_.read_data) RETURN_IF_ERROR(ReadData());
    // A blob whose base or dictionary is bad cannot be decoded either; a
    // base may need a dictionary, so this runs until nothing changes.
    for (bool changed = true; changed;) {
      changed = false;
      store_->index().ForEach(
          [&](const crypto::Digest256& id, const BlobLocation& loc) {
            if (bad_blobs_.contains(id)) return;
            for (const std::string* ref :
                 {&loc.entry.base(), &loc.entry.dictionary()}) {
              if (ref->size() != crypto::kDigest256Bytes) continue;
              auto bad = bad_blobs_.find(crypto::Digest256FromBytes(*ref));
              if (bad != bad_blobs_.end()) {
                const std::string why = bad->second;
                bad_blobs_.emplace(id, why);
                changed = true;
                return;
              }
            }
          });
    }
    RETURN_IF_ERROR(CheckSnapshots());
    for (const auto& [what, paths] : affected_) {
      std::string line = what + " affects ";
      for (size_t i = 0; i < paths.size() && i < kMaxAffectedNamed; ++i) {
        line += (i ? ", " : "") + paths[i];
      }
      if (paths.size() > kMaxAffectedNamed) {
        line += " and " + std::to_string(paths.size() - kMaxAffectedNamed) +
                " more";
      }
      Problem(line);
    }
    result_.blobs = seen_.size();
    return std::move(result_);
  }

 private:
  void Problem(std::string what) {
    result_.problems.push_back(std::move(what));
  }

  // Reports `what`, and marks blob `id` bad because of it.
  void BadBlob(const crypto::Digest256& id, const std::string& what) {
    Problem(what);
    bad_blobs_.emplace(id, what);
  }

  // Reports `what`, and marks every blob the indexes place in `pack` bad.
  void BadPack(const crypto::Digest256& pack, const std::string& what) {
    Problem(what);
    for (const crypto::Digest256& id : by_pack_[pack]) {
      bad_blobs_.emplace(id, what);
    }
  }

  void Report(const std::string& phase, uint64_t done, uint64_t total) {
    if (progress_) progress_(phase, done, total);
  }

  // Every indexed blob's pack exists and is long enough; every delta base
  // and dictionary is indexed and of the kind the format allows.
  Status CheckPacks() {
    RETURN_IF_ERROR(repo_->backend()->List(
        std::string(kDataPrefix), [&](const storage::ObjectInfo& info) {
          crypto::Digest256 id;
          if (ParsePackName(info.name, &id)) pack_sizes_[id] = info.size;
          return Status::OK();
        }));
    std::map<crypto::Digest256, uint64_t> ends, counts;
    store_->index().ForEach([&](const crypto::Digest256& id,
                                const BlobLocation& loc) {
      uint64_t& end = ends[loc.pack];
      end = std::max(end, uint64_t{loc.entry.offset()} + loc.entry.length());
      ++counts[loc.pack];
      by_pack_[loc.pack].push_back(id);
      CheckReference(id, loc.entry.base(), /*dictionary=*/false);
      CheckReference(id, loc.entry.dictionary(), /*dictionary=*/true);
    });
    result_.packs = ends.size();
    for (const auto& [pack, end] : ends) {
      auto size = pack_sizes_.find(pack);
      std::string what;
      if (size == pack_sizes_.end()) {
        what = "pack " + Short(pack) + " is missing (" +
               std::to_string(counts[pack]) + " blobs lost)";
      } else if (size->second < end + kPackTrailerBytes) {
        what = "pack " + Short(pack) + " is shorter (" +
               std::to_string(size->second) + " bytes) than its " +
               std::to_string(counts[pack]) + " indexed blobs need";
      } else {
        continue;
      }
      BadPack(pack, what);
    }
    // Packs in no index: condemned by a prune and waiting for deletion (one
    // note per plan), or left by an interrupted backup.
    std::map<crypto::Digest256, std::string> condemned;  // pack → plan
    RETURN_IF_ERROR(
        repo_->backend()->List("prune/", [&](const storage::ObjectInfo& info) {
          const std::string id = info.name.substr(6);
          pb::PrunePlan plan;
          if (!repo_->LoadObject(ObjectType::kPrunePlan, "prune", id, &plan)
                   .ok()) {
            result_.notes.push_back("prune plan " + id.substr(0, 8) +
                                    " cannot be read; prune keeps its packs");
            return Status::OK();
          }
          uint64_t packs = 0, bytes = 0;
          for (const pb::CondemnedPack& cp : plan.condemned()) {
            if (cp.kept() || cp.pack().pack_id().size() != 32) continue;
            const crypto::Digest256 pack =
                crypto::Digest256FromBytes(cp.pack().pack_id());
            if (!pack_sizes_.contains(pack)) continue;  // deleted already
            condemned.emplace(pack, id);
            ++packs;
            bytes += cp.size();
          }
          if (packs > 0) {
            result_.notes.push_back(
                "prune plan " + id.substr(0, 8) + " (host '" + plan.hostname() +
                "'): " + std::to_string(packs) + " packs, " +
                std::to_string(bytes) +
                " bytes, wait for a prune run to delete them");
          }
          return Status::OK();
        }));
    for (const auto& [pack, size] : pack_sizes_) {
      if (!ends.contains(pack) && !condemned.contains(pack)) {
        result_.notes.push_back(
            "pack " + Short(pack) +
            " is in no index (left by an interrupted backup; a prune "
            "removes it)");
      }
    }
    return Status::OK();
  }

  void CheckReference(const crypto::Digest256& id, const std::string& ref,
                      bool dictionary) {
    if (ref.empty()) return;
    const std::string kind = dictionary ? "dictionary" : "delta base";
    if (ref.size() != crypto::kDigest256Bytes) {
      Problem("blob " + Short(id) + " names a malformed " + kind);
      return;
    }
    const crypto::Digest256 ref_id = crypto::Digest256FromBytes(ref);
    std::optional<BlobLocation> loc = store_->index().Find(ref_id);
    std::string what;
    if (!loc) {
      what = "blob " + Short(id) + " needs its " + kind + " " + Short(ref_id) +
             ", which no index lists";
    } else if (!loc->entry.base().empty() ||
               (dictionary && !loc->entry.dictionary().empty())) {
      what = "blob " + Short(id) + " names " + Short(ref_id) + " as its " +
             kind + ", which is not stored as one must be";
    } else {
      return;
    }
    BadBlob(id, what);
  }

  // Downloads the selected packs and checks them whole.
  Status ReadData() {
    std::vector<crypto::Digest256> packs;
    for (const auto& [pack, ids] : by_pack_) {
      if (pack_sizes_.contains(pack) && Selected(options_, pack)) {
        packs.push_back(pack);
      }
    }
    uint64_t done = 0;
    for (const crypto::Digest256& pack : packs) {
      Report("read data", done++, packs.size());
      ReadPack(pack);
    }
    Report("read data", done, packs.size());
    return Status::OK();
  }

  void ReadPack(const crypto::Digest256& pack) {
    const std::string name = PackName(pack);
    auto bad = [&](const std::string& what) { BadPack(pack, what); };
    Result<Bytes> data = repo_->backend()->Load(name);
    if (!data.ok()) {
      bad("pack " + Short(pack) +
          " cannot be read: " + std::string(data.status().message()));
      return;
    }
    ++result_.packs_read;
    result_.bytes_read += data->size();
    Result<Bytes> digest = crypto::Blake2b(*data, crypto::kDigest256Bytes);
    if (!digest.ok() ||
        std::memcmp(digest->data(), pack.data(), pack.size()) != 0) {
      // Named, then examined blob by blob: the damage may spare most of it.
      Problem("pack " + Short(pack) +
              " does not match its name: it was damaged or replaced");
    }
    Result<PackTrailer> trailer = ReadPackTrailer(*data, data->size());
    const crypto::AeadKey* key =
        trailer.ok() ? repo_->keys().epoch_key(trailer->epoch) : nullptr;
    if (!trailer.ok() || key == nullptr) {
      bad("pack " + Short(pack) + ": " +
          (trailer.ok() ? "its key epoch is unknown to this holder"
                        : std::string(trailer.status().message())));
      return;
    }
    Result<std::vector<pb::PackEntry>> header = ReadPackHeader(*key, *data);
    if (!header.ok()) {
      bad("pack " + Short(pack) + ": " +
          std::string(header.status().message()));
      return;
    }
    std::map<std::string, const pb::PackEntry*> listed;
    for (const pb::PackEntry& e : *header) listed[e.id()] = &e;
    // What the indexes say of this pack must be what its header says.
    for (const crypto::Digest256& id : by_pack_[pack]) {
      std::optional<BlobLocation> loc = store_->index().Find(id);
      auto it = listed.find(std::string(AsChars(id)));
      if (!loc || it == listed.end() ||
          it->second->SerializeAsString() != loc->entry.SerializeAsString()) {
        const std::string what = "blob " + Short(id) + ": the index and pack " +
                                 Short(pack) + "'s header disagree";
        BadBlob(id, what);
      }
    }
    // Every blob the indexes list decodes to its ID. (A prune stops listing
    // the blobs no snapshot uses, which stay in packs it keeps; their delta
    // bases may be gone.) The bases and dictionaries they name are read once
    // per pack.
    const std::set<crypto::Digest256> indexed(by_pack_[pack].begin(),
                                              by_pack_[pack].end());
    std::map<std::string, Result<Bytes>> references;
    static const Result<Bytes> kNone = Bytes();
    for (const pb::PackEntry& e : *header) {
      const crypto::Digest256 id = crypto::Digest256FromBytes(e.id());
      if (!indexed.contains(id)) continue;
      const Result<Bytes>* reference = &kNone;
      const std::string& ref = !e.base().empty() ? e.base() : e.dictionary();
      if (!ref.empty()) {
        auto it = references.find(ref);
        if (it == references.end()) {
          it = references
                   .emplace(ref, store_->Read(crypto::Digest256FromBytes(ref)))
                   .first;
        }
        reference = &it->second;
      }
      Result<Bytes> plain =
          reference->ok()
              ? OpenBlob(*key, trailer->epoch, e,
                         ByteView(*data).subspan(e.offset(), e.length()),
                         **reference)
              : Result<Bytes>(reference->status());
      const std::string blob =
          std::string(e.type() == pb::BLOB_TYPE_TREE ? "tree" : "data") +
          " blob " + Short(id) + " in pack " + Short(pack);
      std::string what;
      if (!plain.ok()) {
        what = blob + ": " + std::string(plain.status().message());
      } else if (BlobId(repo_->keys().blob_id_key(), *plain) != id) {
        what = blob + " does not match its ID";
      } else {
        continue;
      }
      BadBlob(id, what);
    }
  }

  // Every snapshot, every tree it reaches, every blob they use.
  Status CheckSnapshots() {
    std::vector<std::string> ids;
    RETURN_IF_ERROR(repo_->backend()->List(
        "snapshots/", [&](const storage::ObjectInfo& info) {
          ids.push_back(info.name.substr(std::string("snapshots/").size()));
          return Status::OK();
        }));
    uint64_t done = 0;
    for (const std::string& id : ids) {
      Report("snapshots", done++, ids.size());
      pb::Snapshot snap;
      Status s =
          repo_->LoadObject(ObjectType::kSnapshot, "snapshots", id, &snap);
      if (!s.ok()) {
        Problem("snapshot " + id.substr(0, 8) + " cannot be read (" +
                std::string(s.message()) + ")");
        continue;
      }
      ++result_.snapshots;
      if (snap.tree().size() != crypto::kDigest256Bytes) {
        Problem("snapshot " + id.substr(0, 8) + " names no root tree");
        continue;
      }
      WalkTree(crypto::Digest256FromBytes(snap.tree()),
               "snapshot " + id.substr(0, 8), "");
    }
    Report("snapshots", done, ids.size());
    return Status::OK();
  }

  void WalkTree(const crypto::Digest256& tree_id, const std::string& snapshot,
                const std::string& path) {
    const std::string where = snapshot + ": " + (path.empty() ? "/" : path);
    if (auto bad = bad_blobs_.find(tree_id); bad != bad_blobs_.end()) {
      affected_[bad->second].push_back(where);
      return;
    }
    if (!trees_.insert(tree_id).second) return;  // shared with another
    if (!store_->Has(tree_id)) {
      Problem(where + ": tree blob " + Short(tree_id) + " is in no index");
      return;
    }
    Result<pb::Tree> tree = LoadTree(store_.get(), tree_id);
    if (!tree.ok()) {
      Problem(where + ": tree blob " + Short(tree_id) + " cannot be read (" +
              std::string(tree.status().message()) + ")");
      return;
    }
    ++result_.trees;
    for (const pb::Node& node : tree->nodes()) {
      const std::string child = path + "/" + node.name();
      if (node.type() == pb::NODE_TYPE_DIR) {
        if (node.subtree().size() != crypto::kDigest256Bytes) {
          Problem(snapshot + ": " + child + ": a directory without a tree");
          continue;
        }
        WalkTree(crypto::Digest256FromBytes(node.subtree()), snapshot, child);
        continue;
      }
      uint64_t missing = 0;
      std::set<std::string> hit;  // damage already named for this file
      for (const std::string& raw : node.content()) {
        if (raw.size() != crypto::kDigest256Bytes) {
          ++missing;
          continue;
        }
        const crypto::Digest256 id = crypto::Digest256FromBytes(raw);
        if (auto bad = bad_blobs_.find(id); bad != bad_blobs_.end()) {
          if (hit.insert(bad->second).second) {
            affected_[bad->second].push_back(snapshot + ": " + child);
          }
          continue;
        }
        if (seen_.insert(id).second && !store_->Has(id)) missing_.insert(id);
        if (missing_.contains(id)) ++missing;
      }
      if (missing > 0) {
        Problem(snapshot + ": " + child + ": " + std::to_string(missing) +
                " of its " + std::to_string(node.content_size()) +
                " blobs are in no index");
      }
    }
  }

  Repository* repo_;
  const CheckOptions& options_;
  const CheckProgressFn& progress_;
  std::unique_ptr<BlobStore> store_;
  CheckResult result_;
  std::map<crypto::Digest256, uint64_t> pack_sizes_;  // listed in data/
  std::map<crypto::Digest256, std::vector<crypto::Digest256>> by_pack_;
  // Blobs known bad, with the problem that made them so.
  std::map<crypto::Digest256, std::string> bad_blobs_;
  // Per problem, the snapshot paths it affects.
  std::map<std::string, std::vector<std::string>> affected_;
  std::set<crypto::Digest256> trees_, seen_, missing_;
};

}  // namespace

Result<CheckResult> Check(Repository* repo, const CheckOptions& options,
                          const CheckProgressFn& progress) {
  if (options.subset_m > 0 &&
      (options.subset_n < 1 || options.subset_n > options.subset_m)) {
    return Status::InvalidArgument("a subset n/m needs 1 <= n <= m, e.g. 1/5");
  }
  if (options.subset_percent < 0 || options.subset_percent > 100) {
    return Status::InvalidArgument("a subset percentage is between 0 and 100");
  }
  Checker checker(repo, options, progress);
  return checker.Run();
}

}  // namespace chatvault::backup
