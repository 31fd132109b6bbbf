// Linking a new device to the account without typing the passphrase on it
// (docs/sync-protocol.md section 5).
//
// The new device (Join) writes a link request into the repository, sealed
// under a key derived from a one-time secret, and shows a link code (and a
// QR code) carrying that secret and an ephemeral X25519 key. A device of
// the account (Link) reads the code, finds and checks the request, answers
// with its own ephemeral key; both sides then show a short authentication
// string (SAS) derived from the two ephemeral keys and the transcript, and
// the person compares them. On confirmation the linking device seals the
// repository keys to the new device's holder key, adds it to the signed
// device list and writes the reply. Codes are single-use and expire.
//
// Thread-safety: one call at a time per Backend and home.
#ifndef CHATVAULT_SYNC_LINK_H_
#define CHATVAULT_SYNC_LINK_H_

#include <chrono>
#include <functional>
#include <string>

#include "base/clock.h"
#include "crypto/box.h"
#include "crypto/secret_bytes.h"
#include "storage/backend.h"
#include "sync/account.h"
#include "sync/home.h"

namespace chatvault::sync {

inline constexpr std::string_view kLinksDir = "links";
inline constexpr size_t kLinkSecretBytes = 16;
// The longest a link code may be valid; requests asking for more are
// refused.
inline constexpr std::chrono::hours kMaxLinkValidity{24};

struct LinkCode {
  crypto::BoxPublicKey ephemeral_key;
  crypto::SecretBytes secret;  // kLinkSecretBytes
};

// 85 characters of Crockford base32 in groups of five: a version byte, the
// ephemeral key, the secret and a 4-byte checksum.
std::string EncodeLinkCode(const LinkCode& code);
// Ignores case, spaces and dashes, reads O as 0 and I, L as 1.
// InvalidArgument saying what is wrong (never repeating the code).
Result<LinkCode> ParseLinkCode(std::string_view text);

// `text` as a QR code drawn with Unicode half blocks, dark on light, for a
// terminal; InvalidArgument if it does not fit in a QR code.
Result<std::string> RenderQrCode(std::string_view text);

struct JoinOptions {
  std::string name;  // shown in the device list
  pb::DeviceKind kind = pb::DEVICE_KIND_DESKTOP;
  std::chrono::seconds valid_for{600};
  std::chrono::milliseconds poll_interval{250};
  // Shown the code once the request is stored; then the SAS once the
  // linking device has answered.
  std::function<void(const std::string& code)> on_code;
  std::function<void(const std::string& sas)> on_sas;
  // Polled while waiting; true stops with Cancelled (the request removed).
  std::function<bool()> cancelled;
  Clock* clock = Clock::Real();
};

struct JoinResult {
  Bytes repository_id;
  uint64_t device_list_version = 0;
  std::string sas;
};

// Runs the new device's side of a link against the repository in
// `backend`, with this device's `identity`; returns when linked, having
// pinned the account verify key in `home`. Expired if no device linked it
// in time; PermissionDenied if the other device refused.
Result<JoinResult> Join(storage::Backend* backend, const std::string& home,
                        const DeviceIdentity& identity,
                        const JoinOptions& options);

struct LinkOptions {
  // Shown the SAS; returns whether the person confirmed that the new
  // device shows the same. Declining stops with Cancelled.
  std::function<bool(const std::string& sas)> confirm;
  std::string linker_name;
};

struct LinkResult {
  pb::Device device;
  std::string sas;
  uint64_t device_list_version = 0;
};

// Runs the account device's side: `account` must be able to sign.
// Expired if the code expired or was used already; Corruption if the
// request does not match the code.
Result<LinkResult> Link(Account& account, std::string_view code,
                        const LinkOptions& options);

// The SAS both sides show: six digits from the X25519 secret of the two
// ephemeral keys and a hash of the request and the hello.
Result<std::string> ComputeSas(const crypto::BoxKeyPair& mine,
                               const crypto::BoxPublicKey& theirs,
                               ByteView request, ByteView hello);

// Revokes `device`: a new key epoch sealed to every other holder, its key
// object removed, then the device list marks it revoked and its head goes.
// Returns the new epoch. `account` must be able to sign; this device
// cannot revoke itself.
Result<uint32_t> Revoke(Account& account, const pb::Device& device);

}  // namespace chatvault::sync

#endif  // CHATVAULT_SYNC_LINK_H_
