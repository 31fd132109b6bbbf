#include "backup/blob_store.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <set>
#include <tuple>
#include <vector>

namespace chatvault::backup {

namespace {
// The longest a sealed blob can be: codec byte, plaintext, AEAD overhead.
constexpr uint64_t kMaxSealedBlobBytes =
    kMaxBlobBytes + 1 + crypto::kAeadOverheadBytes;
// Blobs are read with range reads of at most this many bytes, spanning
// gaps of at most kMaxReadGapBytes between the blobs wanted (reading a gap
// is cheaper than another request).
constexpr uint64_t kMaxReadSpanBytes = uint64_t{1} << 20;
constexpr uint64_t kMaxReadGapBytes = uint64_t{64} << 10;
}  // namespace

Result<pb::Tree> LoadTree(BlobStore* store, const crypto::Digest256& tree_id) {
  ASSIGN_OR_RETURN(Bytes bytes, store->Read(tree_id));
  pb::Tree tree;
  if (bytes.size() > INT_MAX ||
      !tree.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Corruption("tree blob " + HexEncode(tree_id) +
                              " does not parse");
  }
  return tree;
}

std::string PackName(const crypto::Digest256& pack_id) {
  std::string hex = HexEncode(pack_id);
  return "data/" + hex.substr(0, 2) + "/" + hex;
}

bool ParsePackName(std::string_view name, crypto::Digest256* id) {
  const size_t slash = name.rfind('/');
  if (!name.starts_with("data/") || slash == std::string::npos) return false;
  Result<Bytes> raw = HexDecode(name.substr(slash + 1));
  if (!raw.ok() || raw->size() != id->size()) return false;
  std::memcpy(id->data(), raw->data(), id->size());
  return true;
}

void BlobStore::AddIndex(const std::string& name, const pb::Index& index) {
  std::lock_guard lock(mu_);
  index_->Add(name, index);
}

BlobStore::BlobStore(Repository* repo) : repo_(repo) {
  epoch_ = repo->write_epoch();
}

BlobStore::~BlobStore() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;  // unflushed blobs are dropped, not sealed or uploaded
  }
  work_cv_.notify_all();
  upload_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  if (uploader_.joinable()) uploader_.join();
}

void BlobStore::Work() {
  const crypto::HashKey& id_key = repo_->keys().blob_id_key();
  std::unique_lock lock(mu_);
  // Read-ahead stops while its results wait to be taken (bounded memory),
  // but a result is always allowed when none are held.
  auto may_read = [&] {
    if (to_read_.empty()) return false;
    const size_t held = reading_bytes_ + fetched_bytes_;
    return held == 0 ||
           held + to_read_.front().loc.entry.raw_length() <= kMaxBytesInFlight;
  };
  for (;;) {
    work_cv_.wait(lock, [&] {
      return stopping_ || !to_hash_.empty() || may_read() || !to_seal_.empty();
    });
    if (stopping_) return;
    if (to_hash_.empty() && may_read()) {
      // The next blobs queued, up to kMaxReadSpanBytes of them, read with
      // as few range reads as their places in the packs allow (a file's
      // pages lie mostly in order in a few packs).
      std::vector<ReadJob> jobs;
      std::vector<Located> span;
      size_t size = 0;
      do {
        ReadJob job = std::move(to_read_.front());
        to_read_.pop_front();
        size += job.loc.entry.raw_length();
        reading_bytes_ += job.loc.entry.raw_length();
        span.emplace_back(job.id, job.loc);
        jobs.push_back(std::move(job));
      } while (may_read() && size + to_read_.front().loc.entry.raw_length() <=
                                 kMaxReadSpanBytes);
      lock.unlock();
      std::vector<Result<Bytes>> plain = FetchMany(span);
      lock.lock();
      reading_bytes_ -= size;
      for (size_t i = 0; i < jobs.size(); ++i) {
        if (jobs[i].generation != read_generation_) continue;
        const size_t raw = jobs[i].loc.entry.raw_length();
        fetched_bytes_ += raw;
        fetched_.emplace(jobs[i].id, Fetched{raw, std::move(plain[i])});
      }
      done_cv_.notify_all();
      continue;
    }
    if (!to_hash_.empty()) {
      Job job = std::move(to_hash_.front());
      to_hash_.pop_front();
      lock.unlock();
      const size_t n = job.pieces();
      job.ids.resize(n);
      for (size_t i = 0; i < n; ++i) job.ids[i] = BlobId(id_key, job.Piece(i));
      lock.lock();
      hashed_.emplace(job.ticket, job.ids);
      job.seal.assign(n, false);
      size_t duplicate_bytes = 0;
      bool any = false;
      for (size_t i = 0; i < n; ++i) {
        const size_t size = job.Piece(i).size();
        if (index_->Contains(job.ids[i]) ||
            !submitted_.insert(job.ids[i]).second) {
          duplicate_bytes += size;
        } else {
          job.seal[i] = any = true;
          ++stats_.new_blobs;
          stats_.new_raw_bytes += size;
        }
      }
      in_flight_bytes_ -= duplicate_bytes;
      if (any) {
        to_seal_.push_back(std::move(job));
      } else {
        --in_flight_jobs_;
      }
      done_cv_.notify_all();
      continue;
    }
    Job job = std::move(to_seal_.front());
    to_seal_.pop_front();
    lock.unlock();
    // The delta bases this job's new blobs were offered, read together.
    std::map<crypto::Digest256, crypto::Digest256> base_of;  // by blob ID
    std::map<crypto::Digest256, Bytes> bases;
    if (job.compress && !job.previous.empty()) {
      std::vector<crypto::Digest256> previous;
      for (size_t i = 0; i < job.ids.size(); ++i) {
        if (job.seal[i] && i < job.previous.size() &&
            job.previous[i] != crypto::Digest256{} &&
            job.previous[i] != job.ids[i]) {
          previous.push_back(job.previous[i]);
        }
      }
      if (!previous.empty()) bases = DeltaBasesFor(previous, &base_of);
    }
    std::vector<Sealed> sealed;
    uint64_t deltas = 0;
    for (size_t i = 0; i < job.ids.size(); ++i) {
      if (!job.seal[i]) continue;
      const Bytes* base = nullptr;
      crypto::Digest256 base_id{};
      if (i < job.previous.size()) {
        auto b = base_of.find(job.previous[i]);
        if (b != base_of.end() && b->second != job.ids[i]) {
          auto plain = bases.find(b->second);
          if (plain != bases.end()) {
            base = &plain->second;
            base_id = b->second;
          }
        }
      }
      const DeltaBase delta_base{base_id, base ? ByteView(*base) : ByteView()};
      const DeltaBase dictionary =
          job.dictionary ? DeltaBase{job.dictionary->id, job.dictionary->bytes}
                         : DeltaBase{};
      // Admit checked that this holder has the current epoch's key.
      Result<SealedBlob> blob = SealBlob(
          *repo_->keys().epoch_key(epoch_), epoch_, job.type, job.ids[i],
          job.Piece(i), kDefaultZstdLevel, job.compress,
          base != nullptr ? &delta_base : nullptr,
          job.dictionary && job.dictionary->id != job.ids[i] ? &dictionary
                                                             : nullptr);
      if (blob.ok() && blob->base) ++deltas;
      sealed.push_back({job.Piece(i).size(), std::move(blob)});
    }
    lock.lock();
    stats_.delta_blobs += deltas;
    // Their bytes stay in flight until Drain moves them into the pack.
    for (Sealed& s : sealed) sealed_.push_back(std::move(s));
    --in_flight_jobs_;
    done_cv_.notify_all();
  }
}

Status BlobStore::Drain(bool all) {
  std::vector<Sealed> ready;
  {
    std::unique_lock lock(mu_);
    if (all) done_cv_.wait(lock, [&] { return in_flight_jobs_ == 0; });
    RETURN_IF_ERROR(upload_error_);
    ready.swap(sealed_);
  }
  size_t drained = 0;
  Status status;
  for (Sealed& s : ready) {
    drained += s.raw_size;
    if (!status.ok()) continue;
    status = s.blob.status();
    if (!status.ok()) continue;
    if (!writer_) writer_.emplace(*repo_->keys().epoch_key(epoch_), epoch_);
    if (writer_->count() == 0) {
      // The largest pack: full, plus one more blob and the header.
      writer_->Reserve(target_pack_bytes_ + kMaxBlobBytes / 8);
    }
    status = writer_->AddSealed(std::move(*s.blob));
    if (status.ok() && writer_->size() >= target_pack_bytes_) {
      status = UploadPack();
    }
  }
  {
    std::lock_guard lock(mu_);
    in_flight_bytes_ -= drained;
  }
  done_cv_.notify_all();
  return status;
}

Result<std::unique_ptr<BlobStore>> BlobStore::Open(
    Repository* repo, const std::string& cache_dir,
    std::map<std::string, Status>* damaged) {
  auto store = std::unique_ptr<BlobStore>(new BlobStore(repo));
  ASSIGN_OR_RETURN(store->index_, BlobIndex::Open(repo, cache_dir, damaged));
  return store;
}

bool BlobStore::Has(const crypto::Digest256& id) const {
  // Indexed blobs only: those submitted in this session become known once
  // their pack is indexed (Add checks `submitted_` for them).
  std::lock_guard lock(mu_);
  return index_->Contains(id);
}

std::optional<uint32_t> BlobStore::RawLength(
    const crypto::Digest256& id) const {
  std::lock_guard lock(mu_);
  std::optional<BlobLocation> loc = index_->Find(id);
  if (!loc) return std::nullopt;
  return loc->entry.raw_length();
}

BlobStore::Totals BlobStore::known() const {
  std::lock_guard lock(mu_);
  Totals t;
  std::set<crypto::Digest256> packs;
  index_->ForEach([&](const crypto::Digest256&, const BlobLocation& loc) {
    ++t.blobs;
    t.raw_bytes += loc.entry.raw_length();
    packs.insert(loc.pack);
  });
  t.packs = packs.size();
  return t;
}

Status BlobStore::Enqueue(Job job) {
  const size_t size = job.plaintext.size();
  {
    std::unique_lock lock(mu_);
    // Bounded memory: wait while the workers are behind, packing what they
    // have sealed meanwhile (which is what frees room).
    while (in_flight_bytes_ != 0 &&
           in_flight_bytes_ + size > kMaxBytesInFlight) {
      if (sealed_.empty()) {
        done_cv_.wait(lock);
        continue;
      }
      lock.unlock();
      Status s = Drain(false);
      lock.lock();
      RETURN_IF_ERROR(s);
    }
    in_flight_bytes_ += size;
    ++in_flight_jobs_;
    (job.ids.empty() ? to_hash_ : to_seal_).push_back(std::move(job));
  }
  work_cv_.notify_one();
  return Status::OK();
}

Result<bool> BlobStore::Add(pb::BlobType type, const crypto::Digest256& id,
                            ByteView plaintext,
                            const crypto::Digest256* previous) {
  RETURN_IF_ERROR(Admit(plaintext.size()));
  {
    std::lock_guard lock(mu_);
    if (index_->Contains(id) || !submitted_.insert(id).second) return false;
    ++stats_.new_blobs;
    stats_.new_raw_bytes += plaintext.size();
  }
  Job job;
  job.type = type;
  job.plaintext = Bytes(plaintext.begin(), plaintext.end());
  job.piece = plaintext.size();
  job.ids = {id};
  job.seal = {true};
  if (previous != nullptr) job.previous = {*previous};
  error_ = Enqueue(std::move(job));
  RETURN_IF_ERROR(error_);
  error_ = Drain(false);
  RETURN_IF_ERROR(error_);
  return true;
}

Result<bool> BlobStore::AddFirst(pb::BlobType type, const crypto::Digest256& id,
                                 ByteView plaintext) {
  RETURN_IF_ERROR(Admit(plaintext.size()));
  {
    std::lock_guard lock(mu_);
    if (index_->Contains(id) || !submitted_.insert(id).second) return false;
    ++stats_.new_blobs;
    stats_.new_raw_bytes += plaintext.size();
  }
  Result<SealedBlob> blob =
      SealBlob(*repo_->keys().epoch_key(epoch_), epoch_, type, id, plaintext);
  error_ = blob.status();
  RETURN_IF_ERROR(error_);
  // Packs are saved in order, and blobs sealed later go into this pack or
  // a later one.
  if (!writer_) writer_.emplace(*repo_->keys().epoch_key(epoch_), epoch_);
  error_ = writer_->AddSealed(std::move(*blob));
  if (error_.ok() && writer_->size() >= target_pack_bytes_)
    error_ = UploadPack();
  RETURN_IF_ERROR(error_);
  return true;
}

Status BlobStore::Admit(size_t size) {
  // After a failure the session is over: blobs already submitted may be lost.
  RETURN_IF_ERROR(error_);
  if (size > kMaxBlobBytes) {
    return Status::InvalidArgument("a blob of " + std::to_string(size) +
                                   " bytes is larger than a pack allows");
  }
  if (workers_.empty()) {
    if (repo_->keys().epoch_key(epoch_) == nullptr) {
      return Status::PermissionDenied(
          "this holder lacks the current key epoch");
    }
    StartWorkers();
  }
  return Status::OK();
}

void BlobStore::StartWorkers() {
  unsigned n = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) workers_.emplace_back([this] { Work(); });
}

Result<uint64_t> BlobStore::Submit(
    pb::BlobType type, Bytes plaintext, size_t piece, bool compress,
    std::vector<crypto::Digest256> previous,
    std::shared_ptr<const Dictionary> dictionary) {
  if (piece == 0 || piece > plaintext.size()) piece = plaintext.size();
  RETURN_IF_ERROR(Admit(piece));
  const uint64_t ticket = next_ticket_++;
  Job job;
  job.type = type;
  job.plaintext = std::move(plaintext);
  job.piece = piece;
  job.ticket = ticket;
  job.compress = compress;
  job.previous = std::move(previous);
  job.dictionary = std::move(dictionary);
  error_ = Enqueue(std::move(job));
  RETURN_IF_ERROR(error_);
  error_ = Drain(false);
  RETURN_IF_ERROR(error_);
  return ticket;
}

std::vector<crypto::Digest256> BlobStore::Resolve(uint64_t ticket) {
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] { return hashed_.contains(ticket); });
  auto node = hashed_.extract(ticket);
  return std::move(node.mapped());
}

Status BlobStore::Flush() {
  RETURN_IF_ERROR(error_);
  error_ = Drain(true);
  if (error_.ok()) error_ = UploadPack();
  if (error_.ok()) {
    std::unique_lock lock(mu_);
    upload_cv_.wait(lock, [&] { return uploads_.empty() && !uploading_; });
    error_ = upload_error_;
  }
  return error_;
}

Status BlobStore::UploadPack() {
  if (!writer_ || writer_->count() == 0) return Status::OK();
  ASSIGN_OR_RETURN(FinishedPack pack, writer_->Finish());
  if (!uploader_.joinable()) uploader_ = std::thread([this] { Upload(); });
  std::unique_lock lock(mu_);
  // Bounded memory: one pack uploads while the next one fills.
  upload_cv_.wait(lock, [&] {
    return (uploads_.empty() && !uploading_) || !upload_error_.ok();
  });
  RETURN_IF_ERROR(upload_error_);
  uploads_.push_back(std::move(pack));
  upload_cv_.notify_all();
  return Status::OK();
}

void BlobStore::Upload() {
  std::unique_lock lock(mu_);
  for (;;) {
    upload_cv_.wait(lock, [&] { return stopping_ || !uploads_.empty(); });
    if (stopping_) return;
    FinishedPack pack = std::move(uploads_.front());
    uploads_.pop_front();
    uploading_ = true;
    lock.unlock();
    std::string index_name;
    pb::Index index;
    // Write ordering: the pack, then the index that makes its blobs
    // visible. Same bytes, same name: an AlreadyExists from a previous,
    // interrupted attempt is success.
    Status s = repo_->backend()->Save(PackName(pack.id), pack.data,
                                      storage::SaveMode::kCreateIfAbsent);
    if (s.code() == StatusCode::kAlreadyExists) s = Status::OK();
    if (s.ok()) {
      pb::IndexPack* entry = index.add_packs();
      entry->set_pack_id(std::string(AsChars(pack.id)));
      entry->set_epoch(pack.epoch);
      for (const pb::PackEntry& e : pack.entries) *entry->add_entries() = e;
      Result<std::string> saved =
          repo_->SaveObject(ObjectType::kIndex, "index", index);
      s = saved.status();
      if (s.ok()) index_name = *saved;
    }
    lock.lock();
    uploading_ = false;
    if (s.ok()) {
      index_->Add(index_name, index);
      ++stats_.packs_written;
      stats_.pack_bytes_written += pack.data.size();
    } else if (upload_error_.ok()) {
      upload_error_ = s;
      uploads_.clear();  // later packs would be indexed without this one
    }
    upload_cv_.notify_all();
  }
}

void BlobStore::ReadAhead(std::span<const std::string> ids) {
  std::lock_guard lock(mu_);
  if (workers_.empty()) StartWorkers();
  for (const std::string& raw : ids) {
    if (raw.size() != crypto::kDigest256Bytes) continue;
    const crypto::Digest256 id = crypto::Digest256FromBytes(raw);
    std::optional<BlobLocation> loc = index_->Find(id);
    if (!loc) continue;  // Read reports it
    to_read_.push_back(ReadJob{id, std::move(*loc), read_generation_});
    ++read_ahead_[id];
  }
  work_cv_.notify_all();
}

void BlobStore::DropReadAhead() {
  std::lock_guard lock(mu_);
  ++read_generation_;  // results of reads under way are dropped too
  to_read_.clear();
  fetched_.clear();
  read_ahead_.clear();
  fetched_bytes_ = 0;
  work_cv_.notify_all();
}

std::optional<Bytes> BlobStore::ReadLocal(const crypto::Digest256& id) const {
  if (local_ == nullptr) return std::nullopt;
  std::optional<Bytes> plain = local_->Get(id);
  if (!plain || crypto::Blake2b256(blob_id_key(), *plain) != id) {
    return std::nullopt;
  }
  ++local_reads_;
  return plain;
}

Result<Bytes> BlobStore::Read(const crypto::Digest256& id) {
  if (std::optional<Bytes> local = ReadLocal(id)) return std::move(*local);
  std::optional<BlobLocation> found;
  {
    std::unique_lock lock(mu_);
    auto ahead = read_ahead_.find(id);
    if (ahead != read_ahead_.end()) {
      done_cv_.wait(lock, [&] { return fetched_.contains(id); });
      auto node = fetched_.extract(id);
      fetched_bytes_ -= node.mapped().size;
      if (--ahead->second == 0) read_ahead_.erase(ahead);
      work_cv_.notify_all();
      return std::move(node.mapped().plaintext);
    }
    found = index_->Find(id);
  }
  if (!found) {
    return Status::NotFound("blob " + HexEncode(id) + " is in no index");
  }
  return Fetch(id, *found);
}

Result<Bytes> BlobStore::Fetch(const crypto::Digest256& id,
                               const BlobLocation& loc) const {
  std::vector<Result<Bytes>> one = FetchSpan({{id, loc}});
  return std::move(one.front());
}

std::map<crypto::Digest256, Result<Bytes>> BlobStore::LoadBases(
    const std::set<crypto::Digest256>& ids, bool dictionaries) const {
  const std::string what = dictionaries ? "dictionary " : "delta base ";
  std::map<crypto::Digest256, Result<Bytes>> out;
  std::vector<Located> found;
  std::set<crypto::Digest256> remote;
  for (const crypto::Digest256& id : ids) {
    if (std::optional<Bytes> local = ReadLocal(id)) {
      out.emplace(id, std::move(*local));
    } else {
      remote.insert(id);
    }
  }
  {
    std::lock_guard lock(mu_);
    for (const crypto::Digest256& id : remote) {
      std::optional<BlobLocation> loc = index_->Find(id);
      if (!loc) {
        out.emplace(
            id, Status::Corruption(what + HexEncode(id) + " is in no index"));
      } else if (!loc->entry.base().empty()) {
        // One level only: this also rules out cycles in a hostile index.
        out.emplace(
            id, Status::Corruption(what + HexEncode(id) + " is another delta"));
      } else if (dictionaries && !loc->entry.dictionary().empty()) {
        out.emplace(id, Status::Corruption(what + HexEncode(id) +
                                           " is compressed with another "
                                           "dictionary"));
      } else {
        found.emplace_back(id, std::move(*loc));
      }
    }
  }
  // Not checked against their IDs: what they decode is (a reference's
  // only use is decoding blobs that are checked), and authentication
  // already makes every reader see the same bytes.
  std::vector<Result<Bytes>> plain = FetchMany(found, /*check_ids=*/false);
  for (size_t i = 0; i < found.size(); ++i) {
    out.emplace(found[i].first, std::move(plain[i]));
  }
  return out;
}

std::map<crypto::Digest256, Bytes> BlobStore::DeltaBasesFor(
    const std::vector<crypto::Digest256>& previous,
    std::map<crypto::Digest256, crypto::Digest256>* base_of) const {
  std::set<crypto::Digest256> wanted;
  {
    std::lock_guard lock(mu_);
    for (const crypto::Digest256& p : previous) {
      std::optional<BlobLocation> loc = index_->Find(p);
      if (!loc) continue;
      // Deltas are always against a whole blob: the previous version's
      // base serves as this version's.
      crypto::Digest256 base = p;
      if (!loc->entry.base().empty()) {
        if (loc->entry.base().size() != crypto::kDigest256Bytes) continue;
        base = crypto::Digest256FromBytes(loc->entry.base());
      }
      (*base_of)[p] = base;
      wanted.insert(base);
    }
  }
  // A base that cannot be read costs space, not correctness: the blob is
  // then stored whole, and a later read of the damaged base reports it.
  std::map<crypto::Digest256, Bytes> out;
  for (auto& [id, plain] : LoadBases(wanted)) {
    if (plain.ok()) out.emplace(id, std::move(*plain));
  }
  return out;
}

std::vector<Result<Bytes>> BlobStore::FetchMany(
    const std::vector<Located>& blobs, bool check_ids) const {
  // By pack and offset; runs of blobs close together in one pack are read
  // with one range read each.
  std::vector<size_t> order(blobs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const BlobLocation& x = blobs[a].second;
    const BlobLocation& y = blobs[b].second;
    return std::make_tuple(x.pack, x.entry.offset()) <
           std::make_tuple(y.pack, y.entry.offset());
  });
  std::vector<Result<Bytes>> out(blobs.size(),
                                 Status::IOError("blob not read"));
  size_t i = 0;
  while (i < order.size()) {
    const BlobLocation& first = blobs[order[i]].second;
    uint64_t end = uint64_t{first.entry.offset()} + first.entry.length();
    size_t j = i + 1;
    while (j < order.size()) {
      const BlobLocation& next = blobs[order[j]].second;
      const uint64_t next_end =
          uint64_t{next.entry.offset()} + next.entry.length();
      if (next.pack != first.pack ||
          next.entry.offset() > end + kMaxReadGapBytes ||
          std::max(end, next_end) - first.entry.offset() > kMaxReadSpanBytes) {
        break;
      }
      end = std::max(end, next_end);
      ++j;
    }
    std::vector<Located> span;
    for (size_t k = i; k < j; ++k) span.push_back(blobs[order[k]]);
    std::vector<Result<Bytes>> plain = FetchSpan(span, check_ids);
    for (size_t k = i; k < j; ++k) out[order[k]] = std::move(plain[k - i]);
    i = j;
  }
  return out;
}

std::vector<Result<Bytes>> BlobStore::FetchSpan(
    const std::vector<Located>& blobs, bool check_ids) const {
  // The blobs lie in one pack, sorted by offset, perhaps with gaps
  // (FetchMany): one range read from the first to the end of the last,
  // then each is checked on its own.
  std::vector<Result<Bytes>> out;
  const BlobLocation& first = blobs.front().second;
  const std::string name = PackName(first.pack);
  const uint64_t start = first.entry.offset();
  uint64_t end = start;
  bool plausible = true;  // never allocate what a forged index claims
  for (const auto& [id, loc] : blobs) {
    plausible = plausible && loc.entry.length() <= kMaxSealedBlobBytes &&
                loc.entry.offset() >= start;
    end = std::max(end, uint64_t{loc.entry.offset()} + loc.entry.length());
  }
  plausible =
      plausible && end - start <= kMaxReadSpanBytes + kMaxSealedBlobBytes;
  Result<Bytes> sealed =
      plausible
          ? repo_->backend()->Load(name, start, end - start)
          : Result<Bytes>(Status::Corruption("the index gives a blob in " +
                                             name + " an impossible length"));
  if (sealed.status().code() == StatusCode::kInvalidArgument) {
    sealed =
        Status::Corruption("pack " + name + " is shorter than its index says");
  }
  // The bases of the deltas among them, and their dictionaries, each read
  // once.
  std::set<crypto::Digest256> base_ids, dictionary_ids;
  for (const auto& [id, loc] : blobs) {
    if (loc.entry.base().size() == crypto::kDigest256Bytes) {
      base_ids.insert(crypto::Digest256FromBytes(loc.entry.base()));
    }
    if (loc.entry.dictionary().size() == crypto::kDigest256Bytes) {
      dictionary_ids.insert(crypto::Digest256FromBytes(loc.entry.dictionary()));
    }
  }
  std::map<crypto::Digest256, Result<Bytes>> bases, dictionaries;
  if (sealed.ok() && !base_ids.empty()) bases = LoadBases(base_ids);
  if (sealed.ok() && !dictionary_ids.empty()) {
    dictionaries = LoadBases(dictionary_ids, /*dictionaries=*/true);
  }
  for (const auto& [id, loc] : blobs) {
    const uint64_t length = loc.entry.length();
    const crypto::AeadKey* key = repo_->keys().epoch_key(loc.epoch);
    if (length > kMaxSealedBlobBytes) {
      out.push_back(Status::Corruption("the index gives blob " + HexEncode(id) +
                                       " an impossible length"));
      continue;
    }
    if (key == nullptr) {
      out.push_back(Status::PermissionDenied(
          "blob " + HexEncode(id) + " is under key epoch " +
          std::to_string(loc.epoch) + ", which this holder lacks"));
      continue;
    }
    if (!sealed.ok()) {
      out.push_back(sealed.status());
      continue;
    }
    ByteView base;
    const bool delta = !loc.entry.base().empty();
    if (delta || !loc.entry.dictionary().empty()) {
      const std::string& ref =
          delta ? loc.entry.base() : loc.entry.dictionary();
      auto& refs = delta ? bases : dictionaries;
      auto b = ref.size() == crypto::kDigest256Bytes
                   ? refs.find(crypto::Digest256FromBytes(ref))
                   : refs.end();
      if (b == refs.end()) {
        out.push_back(
            Status::Corruption("blob " + HexEncode(id) + " names a malformed " +
                               (delta ? "delta base" : "dictionary")));
        continue;
      }
      if (!b->second.ok()) {
        out.push_back(b->second.status().WithContext("blob " + HexEncode(id)));
        continue;
      }
      base = *b->second;
    }
    Result<Bytes> plain = OpenBlob(
        *key, loc.epoch, loc.entry,
        ByteView(*sealed).subspan(loc.entry.offset() - start, length), base);
    if (!plain.ok()) {
      out.push_back(plain.status().WithContext("blob in " + name));
    } else if (check_ids && BlobId(repo_->keys().blob_id_key(), *plain) != id) {
      out.push_back(Status::Corruption(
          "blob in " + name + " does not match its ID " + HexEncode(id)));
    } else {
      out.push_back(std::move(plain));
    }
  }
  return out;
}

}  // namespace chatvault::backup
