#include "crypto/blake2b.h"

#include <string>

#include "crypto/sodium.h"

namespace chatvault::crypto {
namespace {

static_assert(kHashKeyBytes == crypto_generichash_KEYBYTES);
static_assert(kDigest256Bytes == crypto_generichash_BYTES);

}  // namespace

HashKey HashKey::Generate() {
  return HashKey(SecretBytes::Random(kHashKeyBytes));
}

Result<HashKey> HashKey::FromSecret(SecretBytes bytes) {
  if (bytes.size() != kHashKeyBytes) {
    return Status::InvalidArgument("a hash key must be 32 bytes, got " +
                                   std::to_string(bytes.size()));
  }
  return HashKey(std::move(bytes));
}

Digest256 Blake2b256(const HashKey& key, ByteView data) {
  EnsureSodium();
  Digest256 out;
  crypto_generichash(U8(out.data()), out.size(), U8(data.data()), data.size(),
                     KeyBytes(key.secret(), kHashKeyBytes), kHashKeyBytes);
  return out;
}

Blake2b256Hasher::Blake2b256Hasher(const HashKey& key) {
  EnsureSodium();
  crypto_generichash_init(&state_, KeyBytes(key.secret(), kHashKeyBytes),
                          kHashKeyBytes, kDigest256Bytes);
}

Blake2b256Hasher::~Blake2b256Hasher() {
  sodium_memzero(&state_, sizeof(state_));
}

void Blake2b256Hasher::Update(ByteView data) {
  Check(!finished_, "Blake2b256Hasher::Update after Finish");
  crypto_generichash_update(&state_, U8(data.data()), data.size());
}

Digest256 Blake2b256Hasher::Finish() {
  Check(!finished_, "Blake2b256Hasher::Finish called twice");
  finished_ = true;
  Digest256 out;
  Check(crypto_generichash_final(&state_, U8(out.data()), out.size()) == 0,
        "BLAKE2b final");
  sodium_memzero(&state_, sizeof(state_));
  return out;
}

Result<Bytes> Blake2b(ByteView data, size_t out_len, ByteView key) {
  if (out_len < crypto_generichash_BYTES_MIN ||
      out_len > crypto_generichash_BYTES_MAX) {
    return Status::InvalidArgument("BLAKE2b output length must be 16..64");
  }
  if (!key.empty() && (key.size() < crypto_generichash_KEYBYTES_MIN ||
                       key.size() > crypto_generichash_KEYBYTES_MAX)) {
    return Status::InvalidArgument("BLAKE2b key length must be 16..64");
  }
  EnsureSodium();
  Bytes out(out_len);
  crypto_generichash(U8(out.data()), out.size(), U8(data.data()), data.size(),
                     key.empty() ? nullptr : U8(key.data()), key.size());
  return out;
}

}  // namespace chatvault::crypto
