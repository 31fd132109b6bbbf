#include "sync/link.h"

#include <qrencode.h>

#include <algorithm>
#include <memory>

#include "backup/object_codec.h"
#include "crypto/aead.h"
#include "crypto/blake2b.h"
#include "crypto/kdf.h"
#include "crypto/random.h"

namespace chatvault::sync {
namespace {

using backup::ObjectType;

constexpr uint8_t kLinkCodeVersion = 1;
constexpr size_t kChecksumBytes = 4;
constexpr size_t kCodeBytes =
    1 + crypto::kBoxPublicKeyBytes + kLinkSecretBytes + kChecksumBytes;
constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

uint64_t WallMs(Clock* clock) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          clock->WallNow().time_since_epoch())
          .count());
}

Bytes Checksum(ByteView body) {
  Bytes msg = ToBytes("chatvault/v1/link-code");
  msg.push_back(std::byte{0});
  msg.insert(msg.end(), body.begin(), body.end());
  Bytes sum = *crypto::Blake2b(msg, 32);
  sum.resize(kChecksumBytes);
  return sum;
}

// The objects of one link, and the key sealing them.
struct LinkKeys {
  Bytes id;  // 32 bytes
  std::string id_hex;
  crypto::AeadKey key;

  std::string Name(std::string_view what) const {
    return std::string(kLinksDir) + "/" + id_hex + "/" + std::string(what);
  }
};

Result<LinkKeys> DeriveLinkKeys(const crypto::SecretBytes& secret) {
  ASSIGN_OR_RETURN(crypto::SecretBytes id,
                   crypto::DeriveSubkey(secret, crypto::kKdfLinkId, 32));
  ASSIGN_OR_RETURN(crypto::SecretBytes key,
                   crypto::DeriveSubkey(secret, crypto::kKdfLinkKey, 32));
  ASSIGN_OR_RETURN(crypto::AeadKey aead,
                   crypto::AeadKey::FromSecret(std::move(key)));
  Bytes id_bytes(id.view().begin(), id.view().end());
  std::string hex = HexEncode(id_bytes);
  return LinkKeys{std::move(id_bytes), std::move(hex), std::move(aead)};
}

Status SaveSealed(storage::Backend* backend, const LinkKeys& link,
                  ObjectType type, std::string_view what,
                  const std::string& plain, storage::SaveMode mode) {
  Bytes sealed = backup::SealObject(link.key, 0, type, link.id, AsBytes(plain));
  return backend->Save(link.Name(what), sealed, mode);
}

// The plaintext of a link object; Corruption if it does not open with the
// link's key (it was not written by someone who knows the code).
Result<Bytes> OpenSealed(const LinkKeys& link, ObjectType type,
                         ByteView object) {
  ASSIGN_OR_RETURN(backup::SealedObjectHeader header,
                   backup::PeekObjectHeader(object));
  if (header.epoch != 0) {
    return Status::Corruption("a link object names a key epoch");
  }
  return backup::OpenObject(link.key, type, link.id, object);
}

Bytes RequestSignedBytes(const pb::LinkRequest& request) {
  pb::LinkRequest unsigned_request = request;
  unsigned_request.clear_signature();
  Bytes out = ToBytes("chatvault/v1/link-request");
  out.push_back(std::byte{0});
  std::string body = unsigned_request.SerializeAsString();
  out.insert(out.end(), AsBytes(body).begin(), AsBytes(body).end());
  return out;
}

// Parses a link message strictly: its encoding must be exactly what this
// message encodes to, with no unknown, repeated or reordered fields, so
// that no two parties can read different messages from the same bytes.
bool ParseStrict(google::protobuf::Message* message, ByteView bytes) {
  if (!message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
      !message->GetReflection()->GetUnknownFields(*message).empty()) {
    return false;
  }
  return message->SerializeAsString() == AsChars(bytes);
}

void RemoveLinkObjects(storage::Backend* backend, const LinkKeys& link) {
  std::vector<std::string> names = {link.Name("request"), link.Name("hello"),
                                    link.Name("reply")};
  backend->RemoveMany(names).IgnoreError();
}

}  // namespace

std::string EncodeLinkCode(const LinkCode& code) {
  Bytes body;
  body.push_back(std::byte{kLinkCodeVersion});
  ByteView pk = code.ephemeral_key.bytes();
  body.insert(body.end(), pk.begin(), pk.end());
  body.insert(body.end(), code.secret.view().begin(), code.secret.view().end());
  Bytes sum = Checksum(body);
  body.insert(body.end(), sum.begin(), sum.end());
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  size_t chars = 0;
  auto put = [&](uint32_t v) {
    if (chars > 0 && chars % 5 == 0) out.push_back('-');
    out.push_back(kAlphabet[v & 31]);
    ++chars;
  };
  for (std::byte b : body) {
    buffer = (buffer << 8) | static_cast<uint8_t>(b);
    bits += 8;
    while (bits >= 5) {
      put(buffer >> (bits - 5));
      bits -= 5;
    }
  }
  if (bits > 0) put(buffer << (5 - bits));
  crypto::SecureZero(MutableByteView(body));
  return out;
}

Result<LinkCode> ParseLinkCode(std::string_view text) {
  std::vector<uint8_t> values;
  values.reserve(text.size());
  // The code's 5-bit groups are the secret too.
  struct Wipe {
    std::vector<uint8_t>& v;
    ~Wipe() {
      crypto::SecureZero(MutableByteView(reinterpret_cast<std::byte*>(v.data()),
                                         v.capacity()));
    }
  } wipe{values};
  for (char c : text) {
    if (c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (u == 'O') u = '0';
    if (u == 'I' || u == 'L') u = '1';
    const char* at = std::strchr(kAlphabet, u);
    if (u == '\0' || at == nullptr) {
      return Status::InvalidArgument(
          "the link code has a character outside its alphabet at position " +
          std::to_string(values.size() + 1) + "; copy it again");
    }
    values.push_back(static_cast<uint8_t>(at - kAlphabet));
  }
  const size_t want = (kCodeBytes * 8 + 4) / 5;
  if (values.size() != want) {
    return Status::InvalidArgument("a link code has " + std::to_string(want) +
                                   " characters; this has " +
                                   std::to_string(values.size()));
  }
  Bytes body;
  uint32_t buffer = 0;
  int bits = 0;
  for (uint8_t v : values) {
    buffer = (buffer << 5) | v;
    bits += 5;
    if (bits >= 8) {
      body.push_back(static_cast<std::byte>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  body.resize(kCodeBytes);
  if (bits > 0 && (buffer & ((1u << bits) - 1)) != 0) {
    crypto::SecureZero(MutableByteView(body));
    return Status::InvalidArgument(
        "the link code's last character is not one a code ends with: a "
        "character is wrong");
  }
  ByteView payload = ByteView(body).first(kCodeBytes - kChecksumBytes);
  if (!crypto::ConstantTimeEquals(Checksum(payload),
                                  ByteView(body).last(kChecksumBytes))) {
    crypto::SecureZero(MutableByteView(body));
    return Status::InvalidArgument(
        "the link code's checksum does not match: a character is wrong");
  }
  if (static_cast<uint8_t>(body[0]) != kLinkCodeVersion) {
    crypto::SecureZero(MutableByteView(body));
    return Status::InvalidArgument(
        "the link code is of a newer version; update chatvault on this "
        "device");
  }
  Result<crypto::BoxPublicKey> pk = crypto::BoxPublicKey::FromBytes(
      ByteView(body).subspan(1, crypto::kBoxPublicKeyBytes));
  LinkCode code{*pk, crypto::SecretBytes::CopyFrom(ByteView(body).subspan(
                         1 + crypto::kBoxPublicKeyBytes, kLinkSecretBytes))};
  crypto::SecureZero(MutableByteView(body));
  return code;
}

Result<std::string> RenderQrCode(std::string_view text) {
  std::string s(text);
  std::unique_ptr<QRcode, void (*)(QRcode*)> qr(
      QRcode_encodeString(s.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1),
      QRcode_free);
  if (!qr) return Status::InvalidArgument("the text does not fit a QR code");
  const int n = qr->width;
  constexpr int kQuiet = 2;
  auto dark = [&](int x, int y) {
    if (x < 0 || y < 0 || x >= n || y >= n) return false;
    return (qr->data[y * n + x] & 1) != 0;
  };
  // Two module rows per line of text. Light modules are drawn (full, upper
  // or lower half blocks) and dark ones left as the terminal's background,
  // as `qrencode -t UTF8` does: on the usual dark terminal the code reads
  // dark on light, as scanners expect.
  std::string out;
  for (int y = -kQuiet; y < n + kQuiet; y += 2) {
    for (int x = -kQuiet; x < n + kQuiet; ++x) {
      bool top = dark(x, y), bottom = dark(x, y + 1);
      if (top && bottom) {
        out += " ";
      } else if (top) {
        out += "\u2584";  // lower half light
      } else if (bottom) {
        out += "\u2580";  // upper half light
      } else {
        out += "\u2588";
      }
    }
    out += "\n";
  }
  return out;
}

Result<std::string> ComputeSas(const crypto::BoxKeyPair& mine,
                               const crypto::BoxPublicKey& theirs,
                               ByteView request, ByteView hello) {
  ASSIGN_OR_RETURN(crypto::SecretBytes shared,
                   crypto::X25519(mine.secret_key(), theirs));
  // Length-prefixed and domain-separated: no split of the bytes between
  // the two messages reads the same.
  Bytes transcript = ToBytes("chatvault/v1/link-transcript");
  transcript.push_back(std::byte{0});
  for (ByteView part : {request, hello}) {
    AppendU32Le(transcript, static_cast<uint32_t>(part.size()));
    transcript.insert(transcript.end(), part.begin(), part.end());
  }
  ASSIGN_OR_RETURN(Bytes digest, crypto::Blake2b(transcript, 32));
  ASSIGN_OR_RETURN(
      crypto::SecretBytes sas,
      crypto::DeriveSubkey(shared, crypto::kKdfLinkSas, 16, digest));
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v = (v << 8) | static_cast<uint8_t>(sas.data()[i]);
  std::string digits = std::to_string(v % 1000000);
  digits.insert(0, 6 - digits.size(), '0');
  return digits.substr(0, 3) + " " + digits.substr(3);
}

Result<JoinResult> Join(storage::Backend* backend, const std::string& home,
                        const DeviceIdentity& identity,
                        const JoinOptions& options) {
  if (options.valid_for.count() <= 0 || options.valid_for > kMaxLinkValidity) {
    return Status::InvalidArgument(
        "a link code is valid for 1 second to 24 hours");
  }
  crypto::BoxKeyPair ephemeral = crypto::BoxKeyPair::Generate();
  LinkCode code{ephemeral.public_key(),
                crypto::SecretBytes::Random(kLinkSecretBytes)};
  ASSIGN_OR_RETURN(LinkKeys link, DeriveLinkKeys(code.secret));

  const uint64_t now = WallMs(options.clock);
  const uint64_t expires =
      now + static_cast<uint64_t>(options.valid_for.count()) * 1000;
  pb::LinkRequest request;
  request.set_link_id(std::string(AsChars(link.id)));
  request.set_ephemeral_key(
      std::string(AsChars(ephemeral.public_key().bytes())));
  request.set_name(options.name);
  request.set_kind(options.kind);
  request.set_identity_key(
      std::string(AsChars(identity.identity().verify_key().bytes())));
  request.set_holder_key(
      std::string(AsChars(identity.holder().public_key().bytes())));
  request.set_created_unix_ms(now);
  request.set_expires_unix_ms(expires);
  crypto::Signature sig = identity.identity().Sign(RequestSignedBytes(request));
  request.set_signature(std::string(AsChars(sig)));
  const std::string request_plain = request.SerializeAsString();
  RETURN_IF_ERROR(SaveSealed(backend, link, ObjectType::kLinkRequest, "request",
                             request_plain,
                             storage::SaveMode::kCreateIfAbsent));
  // Whatever happens from here, the link's objects do not stay behind.
  struct Cleanup {
    storage::Backend* backend;
    const LinkKeys* link;
    ~Cleanup() { RemoveLinkObjects(backend, *link); }
  } cleanup{backend, &link};

  if (options.on_code) options.on_code(EncodeLinkCode(code));

  // Waits for `what` until `deadline`, polling.
  auto wait_for = [&](std::string_view what,
                      uint64_t deadline) -> Result<Bytes> {
    Status last;
    while (true) {
      if (options.cancelled && options.cancelled()) {
        return Status::Cancelled("stopped waiting for the link");
      }
      Result<Bytes> data = backend->Load(link.Name(what), 0, storage::kToEnd);
      if (data.ok()) return data;
      if (data.status().code() != StatusCode::kNotFound &&
          data.status().code() != StatusCode::kUnavailable) {
        return data.status();
      }
      last = data.status().code() == StatusCode::kUnavailable ? data.status()
                                                              : Status::OK();
      if (WallMs(options.clock) >= deadline) {
        // The storage failing at the end is not the code's fault.
        if (!last.ok()) return last;
        return Status::Expired(
            "the link code expired before a device of the account used it; "
            "run `chatvault device join` again for a new code");
      }
      options.clock->SleepFor(options.poll_interval);
    }
  };

  ASSIGN_OR_RETURN(Bytes hello_sealed, wait_for("hello", expires));
  ASSIGN_OR_RETURN(Bytes hello_plain,
                   OpenSealed(link, ObjectType::kLinkHello, hello_sealed));
  pb::LinkHello hello;
  if (!ParseStrict(&hello, hello_plain)) {
    return Status::Corruption("the link answer does not parse");
  }
  ASSIGN_OR_RETURN(
      crypto::BoxPublicKey their_ephemeral,
      crypto::BoxPublicKey::FromBytes(AsBytes(hello.ephemeral_key())));
  ASSIGN_OR_RETURN(std::string sas,
                   ComputeSas(ephemeral, their_ephemeral,
                              AsBytes(request_plain), hello_plain));
  if (options.on_sas) options.on_sas(sas);

  // The linking device may wait for a person to compare the strings: give
  // it the code's validity again, at least two minutes.
  const uint64_t reply_deadline =
      WallMs(options.clock) +
      std::max<uint64_t>(
          static_cast<uint64_t>(options.valid_for.count()) * 1000, 120000);
  ASSIGN_OR_RETURN(Bytes reply_sealed, wait_for("reply", reply_deadline));
  ASSIGN_OR_RETURN(Bytes reply_plain,
                   OpenSealed(link, ObjectType::kLinkReply, reply_sealed));
  pb::LinkReply reply;
  if (!ParseStrict(&reply, reply_plain)) {
    return Status::Corruption("the link reply does not parse");
  }
  if (!reply.accepted()) {
    return Status::PermissionDenied("the other device refused the link: " +
                                    reply.reason());
  }
  if (reply.repository_id().size() != 32 ||
      reply.account_verify_key().size() != crypto::kVerifyKeyBytes) {
    return Status::Corruption("the link reply is malformed");
  }
  // Whoever saw the code could have written that reply: believe it only
  // once the repository agrees. The key object sealed to this device must
  // open and name the same repository and account key.
  Result<std::unique_ptr<backup::Repository>> repo =
      backup::Repository::OpenWithDevice(backend, identity.holder());
  const auto& verify = repo.ok() ? (*repo)->keys().account_verify_key()
                                 : std::optional<crypto::VerifyKey>();
  if (!repo.ok() && repo.status().code() == StatusCode::kUnavailable) {
    return repo.status();
  }
  if (!repo.ok() ||
      AsChars((*repo)->keys().repository_id()) != reply.repository_id() ||
      !verify.has_value() ||
      !crypto::ConstantTimeEquals(verify->bytes(),
                                  AsBytes(reply.account_verify_key()))) {
    return Status::Corruption(
        "the answer to the link code does not match the repository's keys: "
        "someone else who saw the code answered; run `chatvault device "
        "join` again" +
        (repo.ok() ? std::string() : " (" + repo.status().ToString() + ")"));
  }
  RETURN_IF_ERROR(UpdateRepositoryState(
      home, AsBytes(reply.repository_id()),
      [&](pb::RepositoryState& state) -> Status {
        if (!state.account_verify_key().empty() &&
            state.account_verify_key() != reply.account_verify_key()) {
          return Status::Corruption(
              "this device already knows this repository with another "
              "account key");
        }
        state.set_account_verify_key(reply.account_verify_key());
        state.set_location(backend->Properties().location);
        state.set_device_list_version(
            std::max(state.device_list_version(), reply.device_list_version()));
        return Status::OK();
      }));
  // And the signed device list must hold this device, linked with this
  // code.
  ASSIGN_OR_RETURN(Account account,
                   Account::Open(repo->get(), home, &identity));
  ASSIGN_OR_RETURN(pb::DeviceList list, account.LoadDevices());
  const bool listed = std::any_of(
      list.devices().begin(), list.devices().end(), [&](const pb::Device& d) {
        return d.device_id() == AsChars(identity.device_id()) &&
               d.status() == pb::DEVICE_STATUS_ACTIVE &&
               d.link_id() == AsChars(link.id);
      });
  if (!listed) {
    return Status::Corruption(
        "the account's device list does not show this device as linked; run "
        "`chatvault device join` again");
  }
  return JoinResult{ToBytes(reply.repository_id()), list.version(),
                    std::move(sas)};
}

Result<LinkResult> Link(Account& account, std::string_view code_text,
                        const LinkOptions& options) {
  if (!account.can_sign()) {
    return Status::PermissionDenied(
        "linking a device needs the account key: run `chatvault device "
        "link` with the passphrase (or the recovery code)");
  }
  ASSIGN_OR_RETURN(LinkCode code, ParseLinkCode(code_text));
  ASSIGN_OR_RETURN(LinkKeys link, DeriveLinkKeys(code.secret));
  storage::Backend* backend = account.repo()->backend();

  Result<Bytes> request_sealed =
      backend->Load(link.Name("request"), 0, storage::kToEnd);
  if (request_sealed.status().code() == StatusCode::kNotFound) {
    return Status::Expired(
        "no device is waiting with this link code in the repository at " +
        account.repo()->location() +
        ": it was used already, it expired, or it was made for another "
        "repository; run `chatvault device join` again on the new device");
  }
  RETURN_IF_ERROR(request_sealed.status());
  Result<Bytes> request_plain =
      OpenSealed(link, ObjectType::kLinkRequest, *request_sealed);
  if (!request_plain.ok()) {
    return Status::Corruption(
        "the link request in the repository does not match the code: it "
        "was tampered with");
  }
  pb::LinkRequest request;
  if (!ParseStrict(&request, *request_plain)) {
    return Status::Corruption("the link request does not parse");
  }
  if (!crypto::ConstantTimeEquals(AsBytes(request.ephemeral_key()),
                                  code.ephemeral_key.bytes()) ||
      request.link_id() != AsChars(link.id)) {
    return Status::Corruption(
        "the link request does not carry the code's key: it was tampered "
        "with");
  }
  ASSIGN_OR_RETURN(
      crypto::VerifyKey identity_key,
      crypto::VerifyKey::FromBytes(AsBytes(request.identity_key())));
  RETURN_IF_ERROR(
      crypto::BoxPublicKey::FromBytes(AsBytes(request.holder_key())).status());
  if (!crypto::Verify(identity_key, RequestSignedBytes(request),
                      AsBytes(request.signature()))
           .ok()) {
    return Status::Corruption(
        "the link request is not signed by the device it names");
  }
  const uint64_t now = WallMs(Clock::Real());
  if (request.expires_unix_ms() <= now) {
    return Status::Expired("the link code expired at " +
                           LocalTimeString(request.expires_unix_ms()) +
                           "; run `chatvault device join` again on the new "
                           "device");
  }
  if (request.created_unix_ms() > now + 5 * 60 * 1000) {
    return Status::InvalidArgument(
        "the link request was made more than 5 minutes in the future: set "
        "the new device's clock right");
  }
  if (request.expires_unix_ms() - request.created_unix_ms() >
      static_cast<uint64_t>(
          std::chrono::milliseconds(kMaxLinkValidity).count())) {
    return Status::InvalidArgument(
        "the link request asks to stay valid for more than 24 hours");
  }
  ASSIGN_OR_RETURN(pb::DeviceList list, account.LoadDevices());
  const Bytes new_id = DeviceIdFor(identity_key);
  for (const pb::Device& d : list.devices()) {
    if (d.link_id() == AsChars(link.id)) {
      return Status::Expired("this link code was used already");
    }
    if (d.device_id() == AsChars(new_id) &&
        d.status() == pb::DEVICE_STATUS_ACTIVE) {
      return Status::AlreadyExists("device " + d.name() +
                                   " is already linked to the account");
    }
  }
  if (request.kind() != pb::DEVICE_KIND_DESKTOP &&
      request.kind() != pb::DEVICE_KIND_WEB) {
    return Status::InvalidArgument(
        "a device is linked as a desktop or web device");
  }

  crypto::BoxKeyPair ephemeral = crypto::BoxKeyPair::Generate();
  pb::LinkHello hello;
  hello.set_ephemeral_key(std::string(AsChars(ephemeral.public_key().bytes())));
  hello.set_linker_name(options.linker_name);
  const std::string hello_plain = hello.SerializeAsString();
  // Create-if-absent: of two devices given the same code, one links.
  Status said = SaveSealed(backend, link, ObjectType::kLinkHello, "hello",
                           hello_plain, storage::SaveMode::kCreateIfAbsent);
  if (said.code() == StatusCode::kAlreadyExists) {
    return Status::Expired("this link code is being used by another device");
  }
  RETURN_IF_ERROR(said);
  ASSIGN_OR_RETURN(std::string sas,
                   ComputeSas(ephemeral, code.ephemeral_key, *request_plain,
                              AsBytes(hello_plain)));

  auto refuse = [&](const std::string& reason) {
    pb::LinkReply reply;
    reply.set_accepted(false);
    reply.set_reason(reason);
    SaveSealed(backend, link, ObjectType::kLinkReply, "reply",
               reply.SerializeAsString(), storage::SaveMode::kCreateIfAbsent)
        .IgnoreError();
    backend->Remove(link.Name("request")).IgnoreError();
  };
  if (options.confirm && !options.confirm(sas)) {
    refuse("the codes were not confirmed on " + options.linker_name);
    return Status::Cancelled(
        "not linked: the codes were not confirmed as equal");
  }

  // Keys first, then the list that names the device, then the reply: a
  // device listed can always open the repository.
  ASSIGN_OR_RETURN(
      crypto::BoxPublicKey holder,
      crypto::BoxPublicKey::FromBytes(AsBytes(request.holder_key())));
  // The person may have taken minutes to compare: read the list again, so
  // that nothing changed meanwhile (a revocation) is undone.
  ASSIGN_OR_RETURN(list, account.LoadDevices());
  for (const pb::Device& d : list.devices()) {
    if (d.link_id() == AsChars(link.id)) {
      return Status::Expired("this link code was used already");
    }
  }
  ASSIGN_OR_RETURN(std::string holder_name,
                   account.repo()->AddDeviceHolder(holder));
  pb::Device device;
  device.set_device_id(std::string(AsChars(new_id)));
  device.set_name(request.name());
  device.set_kind(request.kind());
  device.set_identity_key(request.identity_key());
  device.set_holder_key(request.holder_key());
  device.set_status(pb::DEVICE_STATUS_ACTIVE);
  device.set_added_unix_ms(now);
  device.set_link_id(std::string(AsChars(link.id)));
  // A device linked again after a revocation gets a fresh entry.
  auto* devices = list.mutable_devices();
  devices->erase(std::remove_if(devices->begin(), devices->end(),
                                [&](const pb::Device& d) {
                                  return d.device_id() == device.device_id();
                                }),
                 devices->end());
  *list.add_devices() = device;
  if (Status saved = account.SaveDevices(list); !saved.ok()) {
    // Not listed, it could not be revoked: it must not keep the keys.
    account.repo()->RemoveDeviceHolder(holder_name).IgnoreError();
    return saved;
  }

  pb::LinkReply reply;
  reply.set_accepted(true);
  reply.set_repository_id(
      std::string(AsChars(account.repo()->keys().repository_id())));
  reply.set_account_verify_key(std::string(
      AsChars(account.repo()->keys().account_verify_key()->bytes())));
  reply.set_device_list_version(list.version());
  RETURN_IF_ERROR(SaveSealed(backend, link, ObjectType::kLinkReply, "reply",
                             reply.SerializeAsString(),
                             storage::SaveMode::kCreateIfAbsent));
  backend->Remove(link.Name("request")).IgnoreError();
  return LinkResult{std::move(device), std::move(sas), list.version()};
}

Result<uint32_t> Revoke(Account& account, const pb::Device& device) {
  if (!account.can_sign()) {
    return Status::PermissionDenied(
        "revoking a device needs the account key: run `chatvault device "
        "revoke` with the passphrase (or the recovery code)");
  }
  if (device.device_id() == AsChars(account.identity().device_id())) {
    return Status::InvalidArgument("a device cannot revoke itself");
  }
  ASSIGN_OR_RETURN(pb::DeviceList list, account.LoadDevices());
  pb::Device* entry = nullptr;
  for (pb::Device& d : *list.mutable_devices()) {
    if (d.device_id() == device.device_id()) entry = &d;
  }
  if (entry == nullptr) return Status::NotFound("no such device in the list");
  if (entry->status() == pb::DEVICE_STATUS_REVOKED) {
    return Status::AlreadyExists("device " + entry->name() +
                                 " is revoked already");
  }
  backup::Repository* repo = account.repo();
  uint32_t epoch = 0;
  if (!entry->holder_key().empty()) {
    ASSIGN_OR_RETURN(
        crypto::BoxPublicKey holder,
        crypto::BoxPublicKey::FromBytes(AsBytes(entry->holder_key())));
    ASSIGN_OR_RETURN(epoch,
                     repo->RevokeHolder("keys/" + backup::HolderId(holder)));
  } else {
    // A device that opens with the passphrase has no key object; the new
    // epoch still keeps it from what is written next unless it learns the
    // passphrase again (change it with `chatvault key passwd`).
    ASSIGN_OR_RETURN(epoch, repo->RotateKeys());
  }
  entry->set_status(pb::DEVICE_STATUS_REVOKED);
  entry->set_revoked_unix_ms(WallMs(Clock::Real()));
  RETURN_IF_ERROR(account.SaveDevices(list));
  repo->backend()
      ->Remove(std::string(kHeadsDir) + "/" +
               HexEncode(AsBytes(device.device_id())))
      .IgnoreError();
  return epoch;
}

}  // namespace chatvault::sync
