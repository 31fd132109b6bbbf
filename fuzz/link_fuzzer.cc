// Link messages (sync/link.h, Link and Join): the request a new device
// leaves in the repository, and the hello and reply the linking device
// answers with, sealed under a key derived from the link code's secret and
// parsed strictly (one encoding per message). Whoever saw the code can
// write them, so they are fuzzed behind that key.
//   mode bit 0 clear: the input is a LinkRequest payload, sealed under the
//     key of a fixed link code (bit 5: the stored object as it is) and read
//     by Link on the fixed account. With bit 1 a request that parses is
//     re-signed with a fixed device key (bit 2: carrying the code's link ID
//     and key, bit 3: a valid holder key, bit 4: valid for ten minutes from
//     now), so the checks after the signature are reached. The person never
//     confirms: Link fails, and a request that reached the comparison is
//     answered with a refusal and removed.
//   mode bit 0 set: the input holds a LinkHello and a LinkReply payload,
//     which the "linking device" stores, sealed under the key of the code
//     Join shows, as soon as Join shows it (bit 3: the reply stored as it
//     is). No reply can make Join succeed (the fixed device has no key
//     object), and Join leaves no link object behind.
#include <cstddef>
#include <cstdint>

#include "crypto/kdf.h"
#include "fuzz/fuzz_support.h"
#include "sync/link.h"

using namespace chatvault;

namespace {

struct LinkKeys {
  Bytes id;
  crypto::AeadKey key;
  std::string Name(std::string_view what) const {
    return std::string(sync::kLinksDir) + "/" + HexEncode(id) + "/" +
           std::string(what);
  }
};

// As sync/link.cc derives them from the code's secret.
LinkKeys DeriveLinkKeys(const crypto::SecretBytes& secret) {
  Result<crypto::SecretBytes> id =
      crypto::DeriveSubkey(secret, crypto::kKdfLinkId, 32);
  Result<crypto::SecretBytes> key =
      crypto::DeriveSubkey(secret, crypto::kKdfLinkKey, 32);
  FUZZ_CHECK(id.ok() && key.ok());
  Result<crypto::AeadKey> aead = crypto::AeadKey::FromSecret(std::move(*key));
  FUZZ_CHECK(aead.ok());
  return LinkKeys{Bytes(id->view().begin(), id->view().end()),
                  std::move(*aead)};
}

// sync/link.cc's signed bytes of a request (docs/sync-protocol.md 5).
Bytes RequestSignedBytes(const pb::LinkRequest& request) {
  pb::LinkRequest unsigned_request = request;
  unsigned_request.clear_signature();
  Bytes out = ToBytes("chatvault/v1/link-request");
  out.push_back(std::byte{0});
  const std::string body = unsigned_request.SerializeAsString();
  out.insert(out.end(), AsBytes(body).begin(), AsBytes(body).end());
  return out;
}

void FuzzLink(uint8_t mode, ByteView bytes) {
  fuzz::FixedRepository& fixed = fuzz::FixedRepository::Get();
  fuzz::FixedAccount& me = fuzz::FixedAccount::Get();
  static const crypto::BoxKeyPair ephemeral =
      fuzz::FixedBoxKeyPair("link ephemeral");
  static const crypto::SecretBytes secret =
      fuzz::FixedSecret("link secret", sync::kLinkSecretBytes);
  static const LinkKeys link = DeriveLinkKeys(secret);
  static const std::string code = sync::EncodeLinkCode(
      sync::LinkCode{ephemeral.public_key(), secret.Clone()});
  static const crypto::SigningKey new_device =
      fuzz::FixedSigningKey("new device");
  static const crypto::BoxKeyPair new_holder =
      fuzz::FixedBoxKeyPair("new device holder");

  std::string plain(AsChars(bytes));
  pb::LinkRequest request;
  if ((mode & 2) && request.ParseFromString(plain)) {
    if (mode & 4) {
      request.set_link_id(std::string(AsChars(link.id)));
      request.set_ephemeral_key(
          std::string(AsChars(ephemeral.public_key().bytes())));
    }
    request.set_identity_key(
        std::string(AsChars(new_device.verify_key().bytes())));
    if (mode & 8) {
      request.set_holder_key(
          std::string(AsChars(new_holder.public_key().bytes())));
    }
    if (mode & 16) {
      request.set_created_unix_ms(UnixMs());
      request.set_expires_unix_ms(UnixMs() + 600000);
    }
    const crypto::Signature sig = new_device.Sign(RequestSignedBytes(request));
    request.set_signature(std::string(AsChars(sig)));
    plain = request.SerializeAsString();
  }
  const Bytes object =
      mode & 32
          ? Bytes(bytes.begin(), bytes.end())
          : backup::SealObject(link.key, 0, backup::ObjectType::kLinkRequest,
                               link.id, AsBytes(plain));
  FUZZ_CHECK(
      fixed.backend()
          ->Save(link.Name("request"), object, storage::SaveMode::kOverwrite)
          .ok());

  bool asked = false;
  sync::LinkOptions options;
  options.linker_name = "fuzz";
  options.confirm = [&](const std::string& sas) {
    FUZZ_CHECK(sas.size() == 7);
    asked = true;
    return false;
  };
  Result<sync::LinkResult> linked = sync::Link(*me.account, code, options);
  FUZZ_CHECK(!linked.ok());
  if (asked) {
    FUZZ_CHECK(linked.status().code() == StatusCode::kCancelled);
    FUZZ_CHECK(fixed.backend()->Stat(link.Name("request")).status().code() ==
               StatusCode::kNotFound);
    FUZZ_CHECK(fixed.backend()->Stat(link.Name("reply")).ok());
  }
}

void FuzzJoin(uint8_t mode, fuzz::Reader& in) {
  fuzz::FixedRepository& fixed = fuzz::FixedRepository::Get();
  fuzz::FixedAccount& me = fuzz::FixedAccount::Get();
  const ByteView hello = in.Part();
  const ByteView reply = in.Part();

  sync::JoinOptions options;
  options.name = "fuzz";
  options.valid_for = std::chrono::seconds(60);
  options.poll_interval = std::chrono::milliseconds(1);
  int polls = 0;
  options.cancelled = [&] { return ++polls > 4; };
  options.on_code = [&](const std::string& text) {
    Result<sync::LinkCode> code = sync::ParseLinkCode(text);
    FUZZ_CHECK(code.ok());
    const LinkKeys link = DeriveLinkKeys(code->secret);
    const Bytes hello_object = backup::SealObject(
        link.key, 0, backup::ObjectType::kLinkHello, link.id, hello);
    const Bytes reply_object =
        mode & 8
            ? Bytes(reply.begin(), reply.end())
            : backup::SealObject(link.key, 0, backup::ObjectType::kLinkReply,
                                 link.id, reply);
    FUZZ_CHECK(fixed.backend()
                   ->Save(link.Name("hello"), hello_object,
                          storage::SaveMode::kOverwrite)
                   .ok());
    FUZZ_CHECK(fixed.backend()
                   ->Save(link.Name("reply"), reply_object,
                          storage::SaveMode::kOverwrite)
                   .ok());
  };
  options.on_sas = [](const std::string& sas) { FUZZ_CHECK(sas.size() == 7); };
  Result<sync::JoinResult> joined = sync::Join(
      fixed.backend(), me.home.path() + "/joiner", *me.identity, options);
  FUZZ_CHECK(!joined.ok());
  size_t left = 0;
  FUZZ_CHECK(fixed.backend()
                 ->List(std::string(sync::kLinksDir) + "/",
                        [&](const storage::ObjectInfo&) {
                          ++left;
                          return Status::OK();
                        })
                 .ok());
  FUZZ_CHECK(left == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FixedRepository& fixed = fuzz::FixedRepository::Get();
  fuzz::FixedAccount::Get();
  fixed.Reset();
  fuzz::Reader in(data, size);
  const uint8_t mode = in.U8();
  if (mode & 1) {
    FuzzJoin(mode, in);
  } else {
    FuzzLink(mode, in.Rest());
  }
  fixed.Reset();
  return 0;
}
