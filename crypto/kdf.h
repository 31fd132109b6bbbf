// Subkey derivation: independent keys from one master secret, separated by
// versioned context strings.
//
//   subkey = BLAKE2b(key = master, out = length,
//                    message = "chatvault-kdf" || 0x00 ||
//                              u8(len(context)) || context || info)
//
// Every context used anywhere in chatvault is declared below, so that the
// full list is reviewed in one place and tested for uniqueness; the format is
// specified in docs/design.md ("Subkey derivation"). A context names the
// format version it belongs to ("v1"): a format change that alters what a
// subkey is used for takes a new context rather than reusing an old one.
//
// Thread-safety: thread-safe.
#ifndef CHATVAULT_CRYPTO_KDF_H_
#define CHATVAULT_CRYPTO_KDF_H_

#include <array>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace chatvault::crypto {

struct KdfContext {
  std::string_view name;
};

// Passphrase holder: Argon2id output -> seed of the holder's X25519 key pair.
inline constexpr KdfContext kKdfPassphraseHolderBox{
    "chatvault/v1/holder/passphrase/x25519"};
// Recovery-code holder: recovery seed -> seed of its X25519 key pair.
inline constexpr KdfContext kKdfRecoveryHolderBox{
    "chatvault/v1/holder/recovery/x25519"};
// Id key -> the key of the keyed BLAKE2b-256 that names blobs. The id key
// itself is only ever a KDF master: were it also the blob-ID key, a blob
// whose plaintext equals a KDF message would get an ID equal to a subkey.
inline constexpr KdfContext kKdfBlobId{"chatvault/v1/blob-id"};
// Id key -> the key that seeds the chunker's gear table.
inline constexpr KdfContext kKdfChunkerGear{"chatvault/v1/chunker/gear"};

// Link code secret -> the ID of the link's objects ("links/<id>/...").
inline constexpr KdfContext kKdfLinkId{"chatvault/v1/link/id"};
// Link code secret -> the key sealing the link's objects.
inline constexpr KdfContext kKdfLinkKey{"chatvault/v1/link/key"};
// X25519 shared secret of the two ephemeral link keys -> the short
// authentication string (with the transcript hash as info).
inline constexpr KdfContext kKdfLinkSas{"chatvault/v1/link/sas"};

// Every context above; tests check that they are distinct.
inline constexpr std::array kAllKdfContexts = {
    kKdfPassphraseHolderBox,
    kKdfRecoveryHolderBox,
    kKdfBlobId,
    kKdfChunkerGear,
    kKdfLinkId,
    kKdfLinkKey,
    kKdfLinkSas,
};

// Derives `out_len` (16..64) bytes from `master` (16..64 bytes) for
// `context`, with optional non-secret `info` (for example an epoch number)
// to derive several keys within one context. InvalidArgument on lengths out
// of range.
Result<SecretBytes> DeriveSubkey(const SecretBytes& master,
                                 const KdfContext& context, size_t out_len,
                                 ByteView info = {});

}  // namespace chatvault::crypto

#endif  // CHATVAULT_CRYPTO_KDF_H_
