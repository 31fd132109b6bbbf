// Writes the fuzz targets' seed corpora: a handful of small valid and
// nearly valid inputs per target, in each target's input format (see the
// comment at the top of fuzz/<target>_fuzzer.cc), to
// <dir>/<target>/<seed name>. Inputs that name blobs use the fixed
// repository's keys (fuzz/fuzz_support.h), so they stay valid from run to
// run. Run from the fuzz build: build-fuzz/fuzz/make_fuzz_corpus
// tests/fuzz_corpus (it replaces seeds of the same name only).
#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "backup/keys.h"
#include "backup/object_codec.h"
#include "backup/pack.h"
#include "crypto/argon2.h"
#include "crypto/blake2b.h"
#include "fuzz/fuzz_support.h"
#include "sync/account.h"
#include "sync/link.h"

using namespace chatvault;
using fuzz::Writer;
using namespace std::literals;

namespace {

std::string root;
int written = 0;

void Seed(const std::string& target, const std::string& name, ByteView data) {
  if (data.size() >= 64 * 1024) fuzz::Fail(__FILE__, __LINE__, "seed too big");
  std::filesystem::create_directories(root + "/" + target);
  std::ofstream out(root + "/" + target + "/" + name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()),
            static_cast<std::streamsize>(data.size()));
  if (!out) fuzz::Fail(__FILE__, __LINE__, "write");
  ++written;
}
void Seed(const std::string& target, const std::string& name, const Writer& w) {
  Seed(target, name, w.bytes());
}
void Seed(const std::string& target, const std::string& name,
          std::string_view text) {
  Seed(target, name, AsBytes(text));
}

std::string Raw(ByteView b) { return std::string(AsChars(b)); }

const crypto::AeadKey& EpochKey() {
  static const crypto::AeadKey key = fuzz::FixedAeadKey("epoch 0");
  return key;
}

Bytes Trailer(uint32_t epoch, uint32_t length, std::string_view magic) {
  Bytes t;
  AppendU32Le(t, epoch);
  AppendU32Le(t, length);
  Bytes m = ToBytes(magic);
  t.insert(t.end(), m.begin(), m.end());
  return t;
}

void PackTrailer() {
  Bytes tail(60, std::byte{0x5a});
  Bytes t = Trailer(3, 48, "CVP1");
  tail.insert(tail.end(), t.begin(), t.end());
  Seed("pack_trailer", "valid", Writer().U8(0).U64(0).Raw(tail));
  Seed("pack_trailer", "valid-longer-pack",
       Writer().U8(1).U64(1 << 20).Raw(tail));
  Bytes bad(tail);
  bad.back() = std::byte{'2'};
  Seed("pack_trailer", "bad-magic", Writer().U8(0).U64(0).Raw(bad));
  Bytes big(tail.begin(), tail.end() - 12);
  t = Trailer(0, 0xffffffff, "CVP1");
  big.insert(big.end(), t.begin(), t.end());
  Seed("pack_trailer", "header-too-long", Writer().U8(0).U64(0).Raw(big));
  Seed("pack_trailer", "pack-shorter-than-tail",
       Writer().U8(2).U64(5).Raw(tail));
  Seed("pack_trailer", "short", Writer().U8(0).U64(0).Raw("CVP1"));
}

pb::PackEntry Entry(std::string_view label, pb::BlobType type, uint32_t offset,
                    uint32_t length, uint32_t raw) {
  pb::PackEntry e;
  e.set_id(Raw(fuzz::FixedId(label)));
  e.set_type(type);
  e.set_offset(offset);
  e.set_length(length);
  e.set_raw_length(raw);
  return e;
}

void PackHeader() {
  pb::PackHeader header;
  *header.add_entries() = Entry("a", pb::BLOB_TYPE_DATA, 0, 100, 60);
  *header.add_entries() = Entry("b", pb::BLOB_TYPE_TREE, 100, 41, 0);
  pb::PackEntry* d = header.add_entries();
  *d = Entry("c", pb::BLOB_TYPE_DATA, 141, 59, 4096);
  d->set_base(Raw(fuzz::FixedId("a")));
  const std::string good = header.SerializeAsString();
  Seed("pack_header", "valid", Writer().U8(0).U32(0).U16(200).U16(0).Raw(good));
  Seed("pack_header", "damaged",
       Writer().U8(1).U32(7).U16(200).U16(30).Raw(good));
  Seed("pack_header", "truncated",
       Writer().U8(2).U32(0).U16(200).U16(100).Raw(good));
  pb::PackHeader outside = header;
  outside.mutable_entries(1)->set_offset(190);
  Seed("pack_header", "entry-outside",
       Writer().U8(0).U32(0).U16(200).U16(0).Raw(outside.SerializeAsString()));
  pb::PackHeader both = header;
  both.mutable_entries(2)->set_dictionary(Raw(fuzz::FixedId("b")));
  Seed("pack_header", "base-and-dictionary",
       Writer().U8(0).U32(0).U16(200).U16(0).Raw(both.SerializeAsString()));
  pb::PackHeader huge = header;
  huge.mutable_entries(0)->set_raw_length(0xffffffff);
  Seed("pack_header", "raw-length-too-big",
       Writer().U8(0).U32(0).U16(200).U16(0).Raw(huge.SerializeAsString()));
  Writer round;
  round.U8(3).U32(2).U8(3).Part("hello").Part(std::string(3000, 'x'));
  round.Part("tree bytes").Part("hello");
  Seed("pack_header", "round-trip", round);
}

// The codec byte and data SealBlob made for `plain`: what OpenBlob decodes.
Bytes Body(const crypto::Digest256& id, ByteView plain, bool compress,
           const backup::DeltaBase* base, const backup::DeltaBase* dict,
           backup::SealedBlob* out) {
  Result<backup::SealedBlob> blob =
      backup::SealBlob(EpochKey(), 0, pb::BLOB_TYPE_DATA, id, plain,
                       backup::kDefaultZstdLevel, compress, base, dict);
  if (!blob.ok()) fuzz::Fail(__FILE__, __LINE__, "SealBlob");
  Result<Bytes> body = crypto::AeadOpen(
      EpochKey(), blob->sealed,
      backup::AssociatedData(backup::ObjectType::kDataBlob, id, 0));
  if (!body.ok()) fuzz::Fail(__FILE__, __LINE__, "AeadOpen");
  *out = std::move(*blob);
  return *body;
}

crypto::Digest256 IdOf(std::string_view what, ByteView content) {
  Bytes msg = ToBytes(what);
  msg.insert(msg.end(), content.begin(), content.end());
  Bytes d = *crypto::Blake2b(msg, crypto::kDigest256Bytes);
  crypto::Digest256 id;
  std::copy(d.begin(), d.end(), id.begin());
  return id;
}

void PackBlob() {
  std::string text;
  for (int i = 0; text.size() < 6000; ++i) {
    text += "line " + std::to_string(i % 97) + " of a chat about lunch\n";
  }
  std::string changed = text;
  changed.replace(3000, 4, "WXYZ");
  const Bytes plain = ToBytes(text), other = ToBytes(changed);
  const backup::DeltaBase ref{IdOf("reference", plain), plain};
  backup::SealedBlob blob;
  // mode: bits 0-1 type, 2 base, 3 dictionary; flags; epoch; raw length;
  // reference; body.
  Bytes body = Body(IdOf("blob", plain), plain, false, nullptr, nullptr, &blob);
  Seed("pack_blob", "raw",
       Writer().U8(0).U8(0).U32(0).U32(blob.raw_length).Part("").Raw(body));
  body = Body(IdOf("blob", plain), plain, true, nullptr, nullptr, &blob);
  Seed("pack_blob", "zstd",
       Writer().U8(0).U8(0).U32(0).U32(blob.raw_length).Part("").Raw(body));
  Seed("pack_blob", "zstd-wrong-length",
       Writer().U8(1).U8(0).U32(0).U32(blob.raw_length + 1).Part("").Raw(body));
  body = Body(IdOf("blob", other), other, true, &ref, nullptr, &blob);
  if (!blob.base) fuzz::Fail(__FILE__, __LINE__, "no delta");
  Seed("pack_blob", "delta",
       Writer().U8(4).U8(0).U32(0).U32(blob.raw_length).Part(plain).Raw(body));
  body = Body(IdOf("blob", other), other, true, nullptr, &ref, &blob);
  Seed("pack_blob", "dictionary",
       Writer().U8(8).U8(0).U32(0).U32(blob.raw_length).Part(plain).Raw(body));
  Seed("pack_blob", "unknown-codec",
       Writer().U8(0).U8(0).U32(0).U32(5).Part("").U8(9).Raw("hello"));
  Seed("pack_blob", "round-trip-plain",
       Writer().U8(0x40).U8(0).U32(1).U32(0).Part("").Raw(text));
  Seed("pack_blob", "round-trip-delta",
       Writer().U8(0x40).U8(4).U32(1).U32(0).Part(plain).Raw(changed));
  Seed("pack_blob", "round-trip-dictionary",
       Writer().U8(0x40).U8(8 | 0x10).U32(1).U32(0).Part(plain).Raw(changed));
}

void Object() {
  const Bytes sealed =
      backup::SealObject(EpochKey(), 0, backup::ObjectType::kSnapshot,
                         fuzz::FixedId("object"), AsBytes("a snapshot"));
  // mode, type, epoch, damage position, payload.
  Seed("object", "stored-object",
       Writer().U8(0).U8(7).U32(0).U16(0).Raw(sealed));
  Seed("object", "round-trip",
       Writer().U8(1).U8(6).U32(2).U16(0).Raw("an index"));
  Seed("object", "damaged", Writer().U8(2).U8(1).U32(0).U16(20).Raw("config"));
  Seed("object", "truncated",
       Writer().U8(3).U8(12).U32(0).U16(30).Raw("a head"));
  Seed("object", "bad-magic",
       Writer().U8(0).U8(7).U32(0).U16(0).Raw("CVO2\x07\0\0\0\0"sv));
}

void Config(fuzz::FixedRepository& fixed) {
  pb::Config config = fuzz::FixedConfig();
  config.add_holders(fixed.key_object_name());
  Seed("config", "valid", Writer().U8(0).Raw(config.SerializeAsString()));
  pb::Config newer = config;
  newer.set_format_version(2);
  Seed("config", "newer-format", Writer().U8(0).Raw(newer.SerializeAsString()));
  pb::Config chunker = config;
  chunker.mutable_chunker()->set_min_size(1 << 30);
  chunker.mutable_chunker()->set_normalization(0xffffffff);
  Seed("config", "bad-chunker",
       Writer().U8(0).Raw(chunker.SerializeAsString()));
  pb::Config epoch = config;
  epoch.set_write_epoch(9);
  Seed("config", "unknown-epoch",
       Writer().U8(0).Raw(epoch.SerializeAsString()));
  Seed("config", "stored-object", Writer().U8(1).Raw(fixed.config_object()));
}

void KeyObject(fuzz::FixedRepository& fixed) {
  const crypto::BoxKeyPair device = fuzz::FixedBoxKeyPair("device");
  Seed("key_object", "stored-object", Writer().U8(0).Raw(fixed.key_object()));
  pb::KeyObject as_device;
  as_device.ParseFromArray(fixed.key_object().data(),
                           static_cast<int>(fixed.key_object().size()));
  as_device.set_kind(pb::HOLDER_KIND_DEVICE);
  as_device.set_holder_public_key(Raw(device.public_key().bytes()));
  Seed("key_object", "device-object",
       Writer().U8(0).Raw(as_device.SerializeAsString()));

  pb::KeyBundle bundle =
      fuzz::FixedKeyBundle(fixed.recovery_holder().public_key());
  Seed("key_object", "bundle", Writer().U8(1).Raw(bundle.SerializeAsString()));
  pb::KeyBundle two = bundle;
  pb::EpochKey* e = two.add_epochs();
  e->set_number(1);
  e->set_key(std::string(32, 'k'));
  Seed("key_object", "bundle-two-epochs",
       Writer().U8(1).Raw(two.SerializeAsString()));
  pb::KeyBundle other = bundle;
  other.set_holder_id(std::string(32, 'h'));
  Seed("key_object", "bundle-other-holder",
       Writer().U8(1).Raw(other.SerializeAsString()));
  pb::KeyBundle mismatch = bundle;
  mismatch.set_account_verify_key(std::string(32, 'v'));
  Seed("key_object", "bundle-verify-mismatch",
       Writer().U8(1).Raw(mismatch.SerializeAsString()));

  crypto::Argon2Params p;
  p.t_cost = crypto::kArgon2MinTCost;
  p.m_cost_kib = crypto::kArgon2MinMCostKib;
  p.parallelism = crypto::kArgon2MinParallelism;
  p.salt.fill(std::byte{7});
  pb::Argon2Params proto = crypto::Argon2ParamsToProto(p);
  Seed("key_object", "argon2", Writer().U8(2).Raw(proto.SerializeAsString()));
  proto.set_t_cost(1);
  proto.set_salt("short");
  Seed("key_object", "argon2-weak",
       Writer().U8(2).Raw(proto.SerializeAsString()));

  pb::KeyBundle for_device = fuzz::FixedKeyBundle(device.public_key());
  for_device.clear_account_signing_seed();
  Seed("key_object", "device-bundle",
       Writer().U8(3).Raw(for_device.SerializeAsString()));
  Seed("key_object", "device-bundle-with-signing-key",
       Writer().U8(3).Raw(
           fuzz::FixedKeyBundle(device.public_key()).SerializeAsString()));
}

void Index(fuzz::FixedRepository& fixed) {
  pb::Index index;
  *index.add_packs() = fixed.PackIndex(/*real_id=*/false);
  const std::string good = index.SerializeAsString();
  Seed("index", "valid", Writer().U8(1).Part(good));
  Seed("index", "valid-read-ahead", Writer().U8(1 | 8).Part(good));
  pb::Index shifted = index;
  for (pb::PackEntry& e : *shifted.mutable_packs(0)->mutable_entries()) {
    e.set_offset(e.offset() + 7);
  }
  Seed("index", "wrong-offsets",
       Writer().U8(1).Part(shifted.SerializeAsString()));
  pb::Index swapped = index;
  pb::IndexPack* p = swapped.mutable_packs(0);
  // "delta" named as its own base's base: a delta of a delta.
  p->mutable_entries(3)->set_base(p->entries(4).id());
  p->mutable_entries(0)->set_raw_length(64u << 20);
  Seed("index", "hostile-references",
       Writer().U8(1).Part(swapped.SerializeAsString()));
  pb::Index superseding;
  superseding.add_supersedes(Raw(fuzz::FixedId("index 1")));
  *superseding.add_packs() = fixed.PackIndex(false);
  Seed("index", "supersedes",
       Writer().U8(1).Part(superseding.SerializeAsString()).Part(good));
  Seed("index", "damaged-kept",
       Writer().U8(1 | 2 | 4).Part("not sealed").Part(good));
}

void Snapshot(fuzz::FixedRepository& fixed) {
  const std::string& root_tree = fixed.StoreFixedTree();
  pb::Snapshot s;
  s.set_tree(root_tree);
  s.set_time_unix_ms(1700000000000);
  s.add_paths("/home/u/chats");
  s.set_hostname("phone");
  s.add_tags("daily");
  pb::Snapshot later = s;
  later.set_time_unix_ms(1700000100000);
  later.set_parent(Raw(fuzz::FixedId("snapshot 0")));
  Seed("snapshot", "valid", Writer().U8(0).Part(s.SerializeAsString()));
  Seed("snapshot", "restore", Writer().U8(4).Part(s.SerializeAsString()));
  Seed("snapshot", "two",
       Writer()
           .U8(0)
           .Part(s.SerializeAsString())
           .Part(later.SerializeAsString()));
  pb::Snapshot bad = s;
  bad.set_tree("short");
  Seed("snapshot", "bad-tree-id", Writer().U8(4).Part(bad.SerializeAsString()));
  Seed("snapshot", "stored-object",
       Writer().U8(2).Part("CVO1\x07\0\0\0\0"sv).Part(s.SerializeAsString()));
}

// A node of the tree target's resolved form: one-byte references.
pb::Node Node(std::string_view name, pb::NodeType type) {
  pb::Node n;
  n.set_name(std::string(name));
  n.set_type(type);
  n.set_mode(0640);
  n.set_mtime_ns(1700000000000000000);
  return n;
}

void Tree(fuzz::FixedRepository& fixed) {
  const auto& pack = fixed.Pack();
  const size_t hello = pack.plaintexts.at("hello").size();
  pb::Tree root;
  pb::Node dir = Node("chats", pb::NODE_TYPE_DIR);
  dir.set_subtree(std::string(1, '\1'));
  *root.add_nodes() = dir;
  pb::Node file = Node("hello.txt", pb::NODE_TYPE_FILE);
  file.add_content(std::string(1, '\0'));
  file.set_size(hello);
  *root.add_nodes() = file;
  pb::Node link = Node("link", pb::NODE_TYPE_SYMLINK);
  link.set_link_target("../../etc/passwd");
  *root.add_nodes() = link;
  pb::Tree sub;
  pb::Node db = Node("msgstore.db", pb::NODE_TYPE_FILE);
  db.set_sqlite_page_size(4096);
  db.add_content(std::string(1, '\2'));
  db.add_content(std::string(1, '\3'));
  db.set_size(pack.plaintexts.at("base").size() +
              pack.plaintexts.at("delta").size());
  *sub.add_nodes() = db;
  pb::Node empty = Node("empty", pb::NODE_TYPE_DIR);
  empty.set_subtree(std::string(1, '\xff'));
  *sub.add_nodes() = empty;
  pb::Node sparse = Node("sparse", pb::NODE_TYPE_FILE);
  sparse.add_content(std::string(1, '\1'));
  sparse.add_content(std::string(1, '\0'));
  sparse.set_size(4096 + hello);
  *sub.add_nodes() = sparse;
  const std::string r = root.SerializeAsString(), s = sub.SerializeAsString();
  Seed("tree", "list", Writer().U8(1).Part(r).Part(s));
  Seed("tree", "restore", Writer().U8(1 | 2).Part(r).Part(s));
  Seed("tree", "restore-databases-then-overwrite",
       Writer().U8(1 | 2 | 4 | 8).Part(r).Part(s));
  pb::Tree unsafe;
  *unsafe.add_nodes() = Node("..", pb::NODE_TYPE_DIR);
  *unsafe.add_nodes() = Node("a/b", pb::NODE_TYPE_FILE);
  Seed("tree", "unsafe-names",
       Writer().U8(1 | 2).Part(unsafe.SerializeAsString()));
  pb::Tree twice;
  *twice.add_nodes() = file;
  *twice.add_nodes() = file;
  Seed("tree", "same-name-twice",
       Writer().U8(1 | 2).Part(twice.SerializeAsString()));
  pb::Tree wrong_size;
  file.set_size(1 << 30);
  *wrong_size.add_nodes() = file;
  Seed("tree", "wrong-size",
       Writer().U8(1 | 2).Part(wrong_size.SerializeAsString()));
  Seed("tree", "not-a-tree", Writer().U8(2).Part("\x0a\x05hello"));
}

void DeviceList(fuzz::FixedRepository& fixed) {
  pb::DeviceList list;
  list.set_repository_id(Raw(fixed.repository_id()));
  list.set_time_unix_ms(1700000000000);
  for (std::string_view name : {"phone", "laptop"}) {
    crypto::SigningKey key = fuzz::FixedSigningKey(name);
    pb::Device* d = list.add_devices();
    d->set_device_id(Raw(sync::DeviceIdFor(key.verify_key())));
    d->set_name(std::string(name));
    d->set_kind(name == "phone" ? pb::DEVICE_KIND_PHONE
                                : pb::DEVICE_KIND_DESKTOP);
    d->set_identity_key(Raw(key.verify_key().bytes()));
    d->set_status(pb::DEVICE_STATUS_ACTIVE);
  }
  const std::string good = list.SerializeAsString();
  Seed("device_list", "signed", Writer().U8(1 | 2 | 4).Raw(good));
  Seed("device_list", "signed-as-is", Writer().U8(1).Raw(good));
  pb::DeviceList bad = list;
  bad.mutable_devices(1)->set_device_id(std::string(32, 'x'));
  Seed("device_list", "wrong-device-id",
       Writer().U8(1 | 2).Raw(bad.SerializeAsString()));
  pb::SignedDeviceList unsigned_list;
  unsigned_list.set_list(good);
  unsigned_list.set_signature(std::string(64, 's'));
  Seed("device_list", "bad-signature",
       Writer().U8(0).Raw(unsigned_list.SerializeAsString()));
  Seed("device_list", "stored-object",
       Writer().U8(8).Raw("CVO1\x09\1\0\0\0"sv));
}

void Head(fuzz::FixedRepository& fixed) {
  const crypto::SigningKey device = fuzz::FixedSigningKey("device identity");
  pb::Head head;
  head.set_repository_id(Raw(fixed.repository_id()));
  head.set_device_id(Raw(sync::DeviceIdFor(device.verify_key())));
  head.set_version(1700000000000);
  head.set_snapshot(Raw(fuzz::FixedId("snapshot 0")));
  head.set_tree(fixed.StoreFixedTree());
  head.add_paths("/home/u/chats");
  head.set_time_unix_ms(1700000000000);
  const std::string good = head.SerializeAsString();
  Seed("head", "signed", Writer().U8(1 | 2).Raw(good));
  Seed("head", "signed-revoked", Writer().U8(1 | 2 | 16).Raw(good));
  pb::Head other = head;
  other.set_repository_id(std::string(32, 'r'));
  Seed("head", "other-repository",
       Writer().U8(1).Raw(other.SerializeAsString()));
  pb::SignedHead forged;
  forged.set_head(good);
  forged.set_signature(std::string(64, 's'));
  Seed("head", "bad-signature", Writer().U8(0).Raw(forged.SerializeAsString()));
  Seed("head", "stored-object", Writer().U8(8).Raw("CVO1\x0c\0\0\0\0"sv));
}

void Link(fuzz::FixedRepository& fixed) {
  pb::LinkRequest request;
  request.set_name("laptop");
  request.set_kind(pb::DEVICE_KIND_DESKTOP);
  request.set_created_unix_ms(1700000000000);
  request.set_expires_unix_ms(1700000600000);
  const std::string good = request.SerializeAsString();
  Seed("link", "request", Writer().U8(2 | 4 | 8 | 16).Raw(good));
  Seed("link", "request-expired", Writer().U8(2 | 4 | 8).Raw(good));
  pb::LinkRequest phone = request;
  phone.set_kind(pb::DEVICE_KIND_PHONE);
  Seed("link", "request-phone",
       Writer().U8(2 | 4 | 8 | 16).Raw(phone.SerializeAsString()));
  Seed("link", "request-other-link", Writer().U8(2 | 8 | 16).Raw(good));
  // Field 3 before field 2: parses, but is not the one encoding.
  Seed("link", "request-reordered",
       Writer().U8(0).Raw(std::string("\x1a\x01x\x12\x01y", 6)));
  Seed("link", "request-stored-object",
       Writer().U8(32).Raw("CVO1\x0d\0\0\0\0"sv));

  pb::LinkHello hello;
  hello.set_ephemeral_key(
      Raw(fuzz::FixedBoxKeyPair("hello").public_key().bytes()));
  hello.set_linker_name("phone");
  pb::LinkReply reply;
  reply.set_accepted(true);
  reply.set_repository_id(Raw(fixed.repository_id()));
  reply.set_account_verify_key(
      Raw(fuzz::FixedSigningKey("account").verify_key().bytes()));
  reply.set_device_list_version(3);
  Seed("link", "join-accepted",
       Writer()
           .U8(1)
           .Part(hello.SerializeAsString())
           .Part(reply.SerializeAsString()));
  pb::LinkReply refused;
  refused.set_reason("not confirmed");
  Seed("link", "join-refused",
       Writer()
           .U8(1)
           .Part(hello.SerializeAsString())
           .Part(refused.SerializeAsString()));
  Seed("link", "join-bad-hello",
       Writer()
           .U8(1)
           .Part("\x0a\x03"
                 "abc")
           .Part(reply.SerializeAsString()));
  Seed("link", "join-reply-stored-object",
       Writer().U8(1 | 8).Part(hello.SerializeAsString()).Part("CVO1"));
}

void Lock() {
  pb::Lock lock;
  lock.set_purpose("prune");
  lock.set_hostname("another-host");
  lock.set_pid(4242);
  lock.set_created_unix_ms(1700000000000);
  lock.set_refreshed_unix_ms(1700000000000);
  lock.set_nonce(std::string(16, 'n'));
  const std::string good = lock.SerializeAsString();
  Seed("lock", "stale", Writer().U8(0).Raw(good));
  Seed("lock", "break", Writer().U8(2).Raw(good));
  pb::Lock future = lock;
  future.set_refreshed_unix_ms(UINT64_MAX);
  future.set_created_unix_ms(UINT64_MAX);
  Seed("lock", "live-break", Writer().U8(2).Raw(future.SerializeAsString()));
  Seed("lock", "live-force-break",
       Writer().U8(2 | 4).Raw(future.SerializeAsString()));
  Seed("lock", "damaged", Writer().U8(1 | 2).Raw("CVO1\x0b\0\0\0\0garbage"sv));
}

void S3Xml() {
  Seed("s3_xml", "list-page",
       Writer().U8(5).Raw(
           "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/"
           "2006-03-01/\"><Name>bucket</Name><Prefix>repo/</Prefix>"
           "<KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys>"
           "<IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcxLPRx1"
           "Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
           "<Contents><Key>repo/config</Key><Size>170</Size></Contents>"
           "<Contents><Key>repo/keys/ab</Key><Size>3</Size></Contents>"
           "<Contents><Key>repo/../x</Key><Size>-1</Size></Contents>"
           "<Contents><Key>r</Key></Contents></ListBucketResult>"));
  Seed("s3_xml", "list-truncated-without-token",
       Writer().U8(0).Raw("<ListBucketResult><IsTruncated>true</IsTruncated>"
                          "<Contents><Key>data/ab/cd</Key><Size>99999999999"
                          "999999999999</Size></Contents></ListBucketResult>"));
  Seed("s3_xml", "error",
       Writer().U8(0).Raw("<?xml version=\"1.0\"?><Error><Code>SlowDown</Code>"
                          "<Message>Please reduce your request rate.</Message>"
                          "<RequestId>tx0</RequestId></Error>"));
  Seed("s3_xml", "initiate-multipart",
       Writer().U8(0).Raw("<InitiateMultipartUploadResult><Bucket>b</Bucket>"
                          "<Key>k</Key><UploadId>2~abc</UploadId>"
                          "</InitiateMultipartUploadResult>"));
  Seed("s3_xml", "delete-result",
       Writer().U8(0).Raw("<DeleteResult><Deleted><Key>a</Key></Deleted>"
                          "<Error><Key>b</Key><Code>AccessDenied</Code>"
                          "<Message>no</Message></Error></DeleteResult>"));
  Seed("s3_xml", "list-uploads",
       Writer().U8(0).Raw("<ListMultipartUploadsResult><Upload><Key>a</Key>"
                          "</Upload><Upload/></ListMultipartUploadsResult>"));
  Seed("s3_xml", "entities",
       Writer().U8(0).Raw("<!DOCTYPE x [<!ENTITY e \"boom\">]><Error><Code>"
                          "&e;&amp;&#x41;&#1114111;</Code><Message><![CDATA["
                          "<x>]]></Message></Error>"));
  Seed("s3_xml", "truncated", Writer().U8(0).Raw("<ListBucketResult><Conte"));
}

void Codes(fuzz::FixedRepository& fixed) {
  const std::string link = sync::EncodeLinkCode(
      sync::LinkCode{fuzz::FixedBoxKeyPair("link ephemeral").public_key(),
                     fuzz::FixedSecret("link secret", sync::kLinkSecretBytes)});
  Seed("link_code", "valid", link);
  std::string lower = link;
  for (char& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c == '0') c = 'o';
    if (c == '1') c = 'l';
  }
  Seed("link_code", "lower-case-look-alikes", lower);
  std::string wrong = link;
  wrong[7] = wrong[7] == 'A' ? 'B' : 'A';
  Seed("link_code", "one-wrong", wrong);
  Seed("link_code", "too-short", link.substr(0, 40));
  Seed("link_code", "bad-character",
       link.substr(0, 20) + "U" + link.substr(21));

  const crypto::SecretBytes formatted = fixed.recovery_code().Format();
  const std::string code(formatted.chars());
  Seed("recovery_code", "valid", code);
  std::string plain;
  for (char c : code) {
    if (c != '-') plain += static_cast<char>(std::tolower(c));
  }
  Seed("recovery_code", "lower-case-no-dashes", plain);
  std::string swapped = code;
  std::swap(swapped[0], swapped[1]);
  Seed("recovery_code", "swapped", swapped);
  Seed("recovery_code", "too-long", code + "-7");
  Seed("recovery_code", "bad-character", "U" + code.substr(1));
}

void Urls() {
  Seed("repository_url", "s3-path", "s3:http://127.0.0.1:7480/chats/phone/");
  Seed("repository_url", "s3-aws", "s3:s3.eu-west-1.amazonaws.com/my-bucket");
  Seed("repository_url", "s3-ipv6", "s3:https://[::1]:9000/bucket.name/a/b");
  Seed("repository_url", "local", "/srv/chatvault");
  Seed("repository_url", "bad-port", "s3:http://host:99999/bucket");
  Seed("repository_url", "bad-scheme", "s3:ftp://host/bucket");
  Seed("repository_url", "bad-prefix", "s3:host/bucket/a/../b");
  Seed("repository_url", "other-scheme", "gs://bucket");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR (tests/fuzz_corpus)\n", argv[0]);
    return 2;
  }
  root = argv[1];
  fuzz::FixedRepository& fixed = fuzz::FixedRepository::Get();
  PackTrailer();
  PackHeader();
  PackBlob();
  Object();
  Config(fixed);
  KeyObject(fixed);
  Index(fixed);
  Snapshot(fixed);
  Tree(fixed);
  DeviceList(fixed);
  Head(fixed);
  Link(fixed);
  Lock();
  S3Xml();
  Codes(fixed);
  Urls();
  std::printf("make_fuzz_corpus: wrote %d seeds to %s\n", written,
              root.c_str());
  return 0;
}
