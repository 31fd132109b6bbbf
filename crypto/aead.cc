#include "crypto/aead.h"

#include <sodium.h>

#include <cstring>

#include "crypto/aead_internal.h"
#include "crypto/sodium.h"

namespace chatvault::crypto {
namespace {

static_assert(kAeadKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kAeadNonceBytes == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kAeadTagBytes == crypto_aead_xchacha20poly1305_ietf_ABYTES);

Status OpenFailed() {
  return Status::Corruption(
      "authentication failed: the data was damaged or tampered with, or it "
      "was sealed under another key");
}

// Decrypts into `out`, which must hold sealed.size() - kAeadOverheadBytes
// bytes. Returns false on forgery.
bool OpenInto(const AeadKey& key, ByteView sealed, ByteView ad,
              MutableByteView out) {
  const std::byte* nonce = sealed.data();
  const std::byte* ct = sealed.data() + kAeadNonceBytes;
  size_t ct_len = sealed.size() - kAeadNonceBytes;
  unsigned long long out_len = 0;
  int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
      U8(out.data()), &out_len, nullptr, U8(ct), ct_len, U8(ad.data()),
      ad.size(), U8(nonce), KeyBytes(key.secret(), kAeadKeyBytes));
  return rc == 0 && out_len == out.size();
}

}  // namespace

AeadKey AeadKey::Generate() {
  return AeadKey(SecretBytes::Random(kAeadKeyBytes));
}

Result<AeadKey> AeadKey::FromSecret(SecretBytes bytes) {
  if (bytes.size() != kAeadKeyBytes) {
    return Status::InvalidArgument("an AEAD key must be 32 bytes, got " +
                                   std::to_string(bytes.size()));
  }
  return AeadKey(std::move(bytes));
}

namespace internal {

Bytes AeadSealWithNonce(const AeadKey& key, ByteView nonce, ByteView plaintext,
                        ByteView associated_data) {
  Check(nonce.size() == kAeadNonceBytes, "AEAD nonce must be 24 bytes");
  EnsureSodium();
  Bytes out(kAeadOverheadBytes + plaintext.size());
  std::memcpy(out.data(), nonce.data(), kAeadNonceBytes);
  unsigned long long ct_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      U8(out.data() + kAeadNonceBytes), &ct_len, U8(plaintext.data()),
      plaintext.size(), U8(associated_data.data()), associated_data.size(),
      nullptr, U8(out.data()), KeyBytes(key.secret(), kAeadKeyBytes));
  Check(ct_len == plaintext.size() + kAeadTagBytes, "AEAD output length");
  return out;
}

}  // namespace internal

Bytes AeadSeal(const AeadKey& key, ByteView plaintext,
               ByteView associated_data) {
  EnsureSodium();
  std::byte nonce[kAeadNonceBytes];
  randombytes_buf(nonce, sizeof(nonce));
  return internal::AeadSealWithNonce(key, nonce, plaintext, associated_data);
}

Result<Bytes> AeadOpen(const AeadKey& key, ByteView sealed,
                       ByteView associated_data) {
  if (sealed.size() < kAeadOverheadBytes) return OpenFailed();
  EnsureSodium();
  Bytes out(sealed.size() - kAeadOverheadBytes);
  if (!OpenInto(key, sealed, associated_data, out)) {
    SecureZero(out);
    return OpenFailed();
  }
  return out;
}

Result<SecretBytes> AeadOpenSecret(const AeadKey& key, ByteView sealed,
                                   ByteView associated_data) {
  if (sealed.size() < kAeadOverheadBytes) return OpenFailed();
  EnsureSodium();
  SecretBytes out(sealed.size() - kAeadOverheadBytes);
  if (!OpenInto(key, sealed, associated_data, out.mutable_view())) {
    return OpenFailed();
  }
  return out;
}

}  // namespace chatvault::crypto
