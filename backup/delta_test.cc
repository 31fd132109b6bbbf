// Delta-encoded blobs: a new version of a page stored as a zstd delta
// against its previous version's whole blob. Round trips across many
// versions with random page edits, the one-level rule, and deltas a hostile
// or damaged repository could present.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "backup/blob_store.h"
#include "backup/object_codec.h"
#include "backup/pack.h"
#include "backup/test_util.h"
#include "storage/mem_backend.h"

namespace chatvault::backup {
namespace {

using crypto::Digest256;

constexpr size_t kPage = 4096;

// A page that looks like a B-tree leaf: a header, a cell-pointer array and
// cells of text at the end, so that zstd finds structure in it.
Bytes NewPage(std::mt19937_64& rng) {
  Bytes page(kPage, std::byte{0});
  page[0] = std::byte{0x0D};
  static const char* kWords[] = {"see",     "you",  "at",     "the",
                                 "station", "ok",   "thanks", "tomorrow",
                                 "photo",   "lunch"};
  for (size_t at = kPage - 1; at > 400; --at) {
    const char* w = kWords[rng() % 10];
    for (const char* c = w; *c && at > 400; ++c, --at) {
      page[at] = static_cast<std::byte>(*c);
    }
    page[at] = std::byte{' '};
  }
  for (size_t i = 8; i < 200; ++i) page[i] = static_cast<std::byte>(rng());
  return page;
}

// One of the edits a day of chat use makes to a page.
void EditPage(Bytes& page, std::mt19937_64& rng) {
  switch (rng() % 4) {
    case 0:  // a status byte
      page[rng() % kPage] = static_cast<std::byte>(rng());
      break;
    case 1: {  // a new cell: a run of text somewhere
      const size_t len = 20 + rng() % 300;
      const size_t at = rng() % (kPage - len);
      for (size_t i = 0; i < len; ++i) {
        page[at + i] = static_cast<std::byte>('a' + rng() % 26);
      }
      break;
    }
    case 2: {  // cells shifted (a deletion defragmented)
      const size_t shift = 1 + rng() % 64;
      std::rotate(page.begin() + 400, page.begin() + 400 + shift, page.end());
      break;
    }
    default:  // rewritten from scratch (a page reused after a split)
      page = NewPage(rng);
  }
}

class DeltaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Repository>> r =
        Repository::Init(&backend_, AsBytes("pw"),
                         crypto::RecoveryCode::Generate(), testing::FastInit());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    repo_ = std::move(*r);
  }

  std::unique_ptr<BlobStore> OpenStore() {
    Result<std::unique_ptr<BlobStore>> s = BlobStore::Open(repo_.get());
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  Digest256 Id(ByteView b) const {
    return BlobId(repo_->keys().blob_id_key(), b);
  }

  // Saves one pack holding `blobs` (sealed by the caller) and its index,
  // as a session's uploader does.
  void SavePack(std::vector<SealedBlob> blobs) {
    PackWriter writer(*repo_->keys().epoch_key(0), 0);
    for (SealedBlob& b : blobs)
      ASSERT_TRUE(writer.AddSealed(std::move(b)).ok());
    Result<FinishedPack> pack = writer.Finish();
    ASSERT_TRUE(pack.ok());
    ASSERT_TRUE(backend_
                    .Save(PackName(pack->id), pack->data,
                          storage::SaveMode::kCreateIfAbsent)
                    .ok());
    pb::Index index;
    pb::IndexPack* p = index.add_packs();
    p->set_pack_id(std::string(AsChars(pack->id)));
    p->set_epoch(0);
    for (const pb::PackEntry& e : pack->entries) *p->add_entries() = e;
    ASSERT_TRUE(repo_->SaveObject(ObjectType::kIndex, "index", index).ok());
  }

  Result<SealedBlob> Seal(ByteView plaintext, const DeltaBase* base) {
    return SealBlob(*repo_->keys().epoch_key(0), 0, pb::BLOB_TYPE_DATA,
                    Id(plaintext), plaintext, kDefaultZstdLevel, true, base);
  }

  storage::MemBackend backend_;
  std::unique_ptr<Repository> repo_;
};

// A "database" of 48 pages goes through 40 versions, each a session that
// edits random pages and offers every page's previous blob as its base.
// Every page of every version reads back exactly, deltas are used, and no
// delta's base is a delta.
TEST_F(DeltaTest, ManyVersionsOfRandomPageEditsReadBackExactly) {
  std::mt19937_64 rng(20261126);
  constexpr size_t kPages = 48;
  constexpr int kVersions = 40;
  std::vector<Bytes> pages;
  for (size_t i = 0; i < kPages; ++i) pages.push_back(NewPage(rng));
  std::vector<std::vector<Bytes>> versions;
  std::vector<std::vector<Digest256>> ids;
  uint64_t deltas = 0;
  for (int v = 0; v < kVersions; ++v) {
    if (v > 0) {
      const size_t edits = 1 + rng() % 12;
      for (size_t e = 0; e < edits; ++e) EditPage(pages[rng() % kPages], rng);
      if (rng() % 5 == 0) pages.push_back(NewPage(rng));  // the file grows
    }
    Bytes file;
    for (const Bytes& p : pages) file.insert(file.end(), p.begin(), p.end());
    std::unique_ptr<BlobStore> store = OpenStore();
    ASSERT_NE(store, nullptr);
    std::vector<Digest256> previous =
        ids.empty() ? std::vector<Digest256>() : ids.back();
    previous.resize(pages.size());  // new pages: no previous version
    Result<uint64_t> ticket = store->Submit(pb::BLOB_TYPE_DATA, file, kPage,
                                            true, std::move(previous));
    ASSERT_TRUE(ticket.ok()) << ticket.status().ToString();
    ids.push_back(store->Resolve(*ticket));
    ASSERT_TRUE(store->Flush().ok());
    deltas += store->stats().delta_blobs;
    versions.push_back(pages);
  }
  EXPECT_GT(deltas, 50u);

  std::unique_ptr<BlobStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  for (int v = 0; v < kVersions; ++v) {
    ASSERT_EQ(ids[v].size(), versions[v].size());
    for (size_t i = 0; i < ids[v].size(); ++i) {
      Result<Bytes> got = store->Read(ids[v][i]);
      ASSERT_TRUE(got.ok()) << "version " << v << " page " << i << ": "
                            << got.status().ToString();
      ASSERT_EQ(*got, versions[v][i]) << "version " << v << " page " << i;
    }
  }
  size_t with_base = 0;
  store->index().ForEach([&](const Digest256& id, const BlobLocation& loc) {
    if (loc.entry.base().empty()) return;
    ++with_base;
    std::optional<BlobLocation> base =
        store->index().Find(crypto::Digest256FromBytes(loc.entry.base()));
    ASSERT_TRUE(base.has_value()) << HexEncode(id);
    EXPECT_TRUE(base->entry.base().empty()) << "a delta on a delta";
  });
  EXPECT_EQ(with_base, deltas);
}

// A small edit is stored as a delta many times smaller than the page; an
// unrelated "previous version" is not used.
TEST_F(DeltaTest, DeltaOnlyWhenItPays) {
  std::mt19937_64 rng(7);
  const Bytes old_page = NewPage(rng);
  Bytes new_page = old_page;
  new_page[1000] = std::byte{0x42};
  const DeltaBase base{Id(old_page), old_page};
  Result<SealedBlob> alone = Seal(new_page, nullptr);
  Result<SealedBlob> delta = Seal(new_page, &base);
  ASSERT_TRUE(alone.ok() && delta.ok());
  ASSERT_TRUE(delta->base.has_value());
  EXPECT_EQ(*delta->base, base.id);
  EXPECT_LT(delta->sealed.size() * 10, alone->sealed.size());

  const Bytes unrelated = NewPage(rng);
  const DeltaBase far{Id(unrelated), unrelated};
  Result<SealedBlob> not_delta = Seal(new_page, &far);
  ASSERT_TRUE(not_delta.ok());
  EXPECT_FALSE(not_delta->base.has_value());

  const DeltaBase itself{Id(new_page), new_page};
  EXPECT_EQ(Seal(new_page, &itself).status().code(),
            StatusCode::kInvalidArgument);
}

// OpenBlob decodes a delta only with its base, and only when the entry
// and the codec agree.
TEST_F(DeltaTest, OpenBlobNeedsTheBaseTheEntryNames) {
  std::mt19937_64 rng(8);
  const Bytes old_page = NewPage(rng);
  Bytes new_page = old_page;
  new_page[2000] = std::byte{0x17};
  const DeltaBase base{Id(old_page), old_page};
  Result<SealedBlob> delta = Seal(new_page, &base);
  Result<SealedBlob> whole = Seal(old_page, nullptr);
  ASSERT_TRUE(delta.ok() && whole.ok() && delta->base);
  PackWriter writer(*repo_->keys().epoch_key(0), 0);
  ASSERT_TRUE(writer.AddSealed(*whole).ok());
  ASSERT_TRUE(writer.AddSealed(*delta).ok());
  Result<FinishedPack> pack = writer.Finish();
  ASSERT_TRUE(pack.ok());
  const pb::PackEntry& w = pack->entries[0];
  const pb::PackEntry& d = pack->entries[1];
  EXPECT_TRUE(w.base().empty());
  EXPECT_EQ(d.base(), std::string(AsChars(base.id)));
  auto sealed = [&](const pb::PackEntry& e) {
    return ByteView(pack->data).subspan(e.offset(), e.length());
  };
  const crypto::AeadKey& key = *repo_->keys().epoch_key(0);

  Result<Bytes> got = OpenBlob(key, 0, d, sealed(d), old_page);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, new_page);
  // Without its base, or with another, the delta does not give the page
  // (BlobStore then also checks the plaintext against the blob ID).
  Result<Bytes> no_base = OpenBlob(key, 0, d, sealed(d));
  EXPECT_TRUE(!no_base.ok() || *no_base != new_page);
  Result<Bytes> wrong = OpenBlob(key, 0, d, sealed(d), NewPage(rng));
  EXPECT_TRUE(!wrong.ok() || *wrong != new_page);

  // The entry's base and the blob's codec must agree.
  pb::PackEntry stripped = d;
  stripped.clear_base();
  EXPECT_EQ(OpenBlob(key, 0, stripped, sealed(d), old_page).status().code(),
            StatusCode::kCorruption);
  pb::PackEntry claimed = w;
  claimed.set_base(d.id());
  EXPECT_EQ(OpenBlob(key, 0, claimed, sealed(w), new_page).status().code(),
            StatusCode::kCorruption);
  pb::PackEntry self = d;
  self.set_base(d.id());
  EXPECT_EQ(OpenBlob(key, 0, self, sealed(d), old_page).status().code(),
            StatusCode::kCorruption);
  pb::PackEntry short_base = d;
  short_base.set_base("short");
  EXPECT_EQ(OpenBlob(key, 0, short_base, sealed(d), old_page).status().code(),
            StatusCode::kCorruption);
}

// A repository can present a delta whose base is itself a delta (a chain,
// perhaps a cycle) or is missing: reads fail with Corruption, and the
// blobs that do not depend on it still read.
TEST_F(DeltaTest, DeltaChainsAndMissingBasesAreCorruption) {
  std::mt19937_64 rng(9);
  const Bytes a = NewPage(rng);
  Bytes b = a;
  b[100] = std::byte{1};
  Bytes c = b;
  c[200] = std::byte{2};
  Bytes lost = NewPage(rng);
  Bytes orphan = lost;
  orphan[300] = std::byte{3};
  const DeltaBase base_a{Id(a), a}, base_b{Id(b), b}, base_lost{Id(lost), lost};
  std::vector<SealedBlob> blobs;
  for (auto [plain, base] :
       {std::pair<const Bytes*, const DeltaBase*>{&a, nullptr},
        {&b, &base_a},
        {&c, &base_b},
        {&orphan, &base_lost}}) {
    Result<SealedBlob> s = Seal(*plain, base);
    ASSERT_TRUE(s.ok());
    ASSERT_EQ(s->base.has_value(), base != nullptr);
    blobs.push_back(std::move(*s));
  }
  SavePack(std::move(blobs));
  std::unique_ptr<BlobStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  Result<Bytes> got_a = store->Read(Id(a));
  Result<Bytes> got_b = store->Read(Id(b));
  ASSERT_TRUE(got_a.ok() && got_b.ok());
  EXPECT_EQ(*got_a, a);
  EXPECT_EQ(*got_b, b);
  Result<Bytes> chained = store->Read(Id(c));
  EXPECT_EQ(chained.status().code(), StatusCode::kCorruption);
  EXPECT_NE(chained.status().message().find("another delta"),
            std::string::npos);
  Result<Bytes> missing = store->Read(Id(orphan));
  EXPECT_EQ(missing.status().code(), StatusCode::kCorruption);
  EXPECT_NE(missing.status().message().find("in no index"), std::string::npos);

  // A writer offered such a blob as a previous version falls back to
  // storing whole (the broken blob is never a base).
  Bytes d = orphan;
  d[400] = std::byte{4};
  const Digest256 previous = Id(orphan);
  Result<bool> added = store->Add(pb::BLOB_TYPE_DATA, Id(d), d, &previous);
  ASSERT_TRUE(added.ok() && *added);
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(store->stats().delta_blobs, 0u);
  Result<Bytes> got_d = store->Read(Id(d));
  ASSERT_TRUE(got_d.ok()) << got_d.status().ToString();
  EXPECT_EQ(*got_d, d);
}

// The next version of a delta is stored against the delta's base, so
// versions never chain.
TEST_F(DeltaTest, NextVersionOfADeltaUsesItsBase) {
  std::mt19937_64 rng(10);
  Bytes page = NewPage(rng);
  std::vector<Digest256> ids;
  for (int v = 0; v < 4; ++v) {
    if (v > 0) page[500 + v] = static_cast<std::byte>(v);
    std::unique_ptr<BlobStore> store = OpenStore();
    const Digest256 id = Id(page);
    ASSERT_TRUE(store
                    ->Add(pb::BLOB_TYPE_DATA, id, page,
                          ids.empty() ? nullptr : &ids.back())
                    .ok());
    ASSERT_TRUE(store->Flush().ok());
    ids.push_back(id);
  }
  std::unique_ptr<BlobStore> store = OpenStore();
  for (int v = 1; v < 4; ++v) {
    std::optional<BlobLocation> loc = store->index().Find(ids[v]);
    ASSERT_TRUE(loc.has_value());
    EXPECT_EQ(loc->entry.base(), std::string(AsChars(ids[0]))) << v;
  }
}

}  // namespace
}  // namespace chatvault::backup

namespace chatvault::backup {
namespace {

// A page of message rows: sender IDs and phrases that recur across the
// database's pages, what a dictionary learns.
Bytes RowPage(std::mt19937_64& rng) {
  static const char* kPhrases[] = {
      "are you coming to the station tomorrow morning?",
      "thanks, see you at lunch",
      "I sent the photos from the weekend",
      "the meeting moved to three o'clock",
      "happy birthday! have a great day",
      "can you call me when you are free?",
      "running ten minutes late, sorry",
      "did you see the news this morning?"};
  std::string s;
  while (s.size() < kPage) {
    s += std::to_string(100 + rng() % 900) + "@s.whatsapp.net|" +
         std::to_string(1700000000000 + rng() % 100000000) + "|" +
         kPhrases[rng() % 8] + "|";
  }
  s.resize(kPage);
  return ToBytes(s);
}

// Pages for training and for the tests of dictionaries.
std::vector<Bytes> SamplePages(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Bytes> pages;
  for (size_t i = 0; i < n; ++i) pages.push_back(RowPage(rng));
  return pages;
}

Bytes Dictionary(const std::vector<Bytes>& pages) {
  std::vector<ByteView> views(pages.begin(), pages.end());
  std::optional<Bytes> d = TrainDictionary(views, 16 << 10);
  EXPECT_TRUE(d.has_value());
  return d ? *d : Bytes();
}

// A page compressed with a trained dictionary (codec 3) opens only with
// that dictionary, and only when its entry names one.
TEST_F(DeltaTest, DictionaryCompressedBlobsNeedTheirDictionary) {
  const std::vector<Bytes> pages = SamplePages(300, 11);
  const Bytes dict = Dictionary(pages);
  const DeltaBase dictionary{Id(dict), dict};
  std::mt19937_64 rng(12);
  const Bytes page = RowPage(rng);
  Result<SealedBlob> with =
      SealBlob(*repo_->keys().epoch_key(0), 0, pb::BLOB_TYPE_DATA, Id(page),
               page, kDefaultZstdLevel, true, nullptr, &dictionary);
  Result<SealedBlob> without = Seal(page, nullptr);
  ASSERT_TRUE(with.ok() && without.ok());
  ASSERT_TRUE(with->dictionary.has_value());
  EXPECT_FALSE(with->base.has_value());
  EXPECT_LT(with->sealed.size(), without->sealed.size());

  PackWriter writer(*repo_->keys().epoch_key(0), 0);
  ASSERT_TRUE(writer.AddSealed(*with).ok());
  Result<FinishedPack> pack = writer.Finish();
  ASSERT_TRUE(pack.ok());
  const pb::PackEntry& e = pack->entries[0];
  EXPECT_EQ(e.dictionary(), std::string(AsChars(dictionary.id)));
  const ByteView sealed = ByteView(pack->data).subspan(e.offset(), e.length());
  const crypto::AeadKey& key = *repo_->keys().epoch_key(0);
  Result<Bytes> got = OpenBlob(key, 0, e, sealed, dict);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, page);
  pb::PackEntry stripped = e;
  stripped.clear_dictionary();
  EXPECT_EQ(OpenBlob(key, 0, stripped, sealed).status().code(),
            StatusCode::kCorruption);
  pb::PackEntry both = e;
  both.set_base(std::string(AsChars(Id(pages[0]))));
  EXPECT_EQ(OpenBlob(key, 0, both, sealed, dict).status().code(),
            StatusCode::kCorruption);
  pb::PackEntry as_delta = e;
  as_delta.clear_dictionary();
  as_delta.set_base(std::string(AsChars(dictionary.id)));
  EXPECT_EQ(OpenBlob(key, 0, as_delta, sealed, dict).status().code(),
            StatusCode::kCorruption);
}

// Pages compressed with a dictionary, then new versions stored as deltas
// against them (whose bases need the dictionary in turn), all read back
// exactly through the store.
TEST_F(DeltaTest, DeltasAgainstDictionaryCompressedPagesReadBack) {
  std::vector<Bytes> pages = SamplePages(64, 13);
  auto dict = std::make_shared<BlobStore::Dictionary>();
  dict->bytes = Dictionary(SamplePages(300, 14));
  dict->id = Id(dict->bytes);
  std::vector<std::vector<Bytes>> versions;
  std::vector<std::vector<Digest256>> ids;
  std::mt19937_64 rng(15);
  for (int v = 0; v < 3; ++v) {
    if (v > 0) {
      for (int e = 0; e < 20; ++e) {
        pages[rng() % pages.size()][500 + rng() % 3000] =
            static_cast<std::byte>(rng());
      }
    }
    Bytes file;
    for (const Bytes& p : pages) file.insert(file.end(), p.begin(), p.end());
    std::unique_ptr<BlobStore> store = OpenStore();
    ASSERT_NE(store, nullptr);
    if (v == 0) {
      ASSERT_TRUE(
          store->AddFirst(pb::BLOB_TYPE_DATA, dict->id, dict->bytes).ok());
    }
    Result<uint64_t> ticket = store->Submit(
        pb::BLOB_TYPE_DATA, file, kPage, true,
        ids.empty() ? std::vector<Digest256>() : ids.back(), dict);
    ASSERT_TRUE(ticket.ok());
    ids.push_back(store->Resolve(*ticket));
    ASSERT_TRUE(store->Flush().ok());
    if (v > 0) {
      EXPECT_GT(store->stats().delta_blobs, 0u);
    }
    versions.push_back(pages);
  }
  std::unique_ptr<BlobStore> store = OpenStore();
  size_t with_dictionary = 0;
  store->index().ForEach([&](const Digest256&, const BlobLocation& loc) {
    if (!loc.entry.dictionary().empty()) ++with_dictionary;
  });
  EXPECT_GE(with_dictionary, 64u);
  for (size_t v = 0; v < versions.size(); ++v) {
    for (size_t i = 0; i < pages.size(); ++i) {
      Result<Bytes> got = store->Read(ids[v][i]);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_EQ(*got, versions[v][i]) << v << "/" << i;
    }
  }
}

// A dictionary must be stored plainly: one that names a dictionary itself
// is refused, and the blobs compressed with it do not read.
TEST_F(DeltaTest, DictionaryThatNeedsADictionaryIsCorruption) {
  const Bytes first = Dictionary(SamplePages(300, 16));
  const Bytes second = Dictionary(SamplePages(300, 17));
  const DeltaBase d1{Id(first), first}, d2{Id(second), second};
  std::mt19937_64 rng(18);
  const Bytes page = RowPage(rng);
  std::vector<SealedBlob> blobs;
  Result<SealedBlob> a = Seal(first, nullptr);
  Result<SealedBlob> b =
      SealBlob(*repo_->keys().epoch_key(0), 0, pb::BLOB_TYPE_DATA, d2.id,
               second, kDefaultZstdLevel, true, nullptr, &d1);
  Result<SealedBlob> c =
      SealBlob(*repo_->keys().epoch_key(0), 0, pb::BLOB_TYPE_DATA, Id(page),
               page, kDefaultZstdLevel, true, nullptr, &d2);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  ASSERT_TRUE(b->dictionary && c->dictionary);
  SavePack({std::move(*a), std::move(*b), std::move(*c)});
  std::unique_ptr<BlobStore> store = OpenStore();
  Result<Bytes> got = store->Read(Id(page));
  EXPECT_EQ(got.status().code(), StatusCode::kCorruption);
  EXPECT_NE(got.status().message().find("another dictionary"),
            std::string::npos)
      << got.status().ToString();
}

}  // namespace
}  // namespace chatvault::backup
