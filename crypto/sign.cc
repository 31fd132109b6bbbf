#include "crypto/sign.h"

#include <sodium.h>

#include <cstring>

#include "crypto/sodium.h"

namespace chatvault::crypto {
namespace {

static_assert(kVerifyKeyBytes == crypto_sign_PUBLICKEYBYTES);
static_assert(kSigningSeedBytes == crypto_sign_SEEDBYTES);
static_assert(kSignatureBytes == crypto_sign_BYTES);

}  // namespace

Result<VerifyKey> VerifyKey::FromBytes(ByteView bytes) {
  if (bytes.size() != kVerifyKeyBytes) {
    return Status::InvalidArgument("an Ed25519 public key must be 32 bytes");
  }
  VerifyKey vk;
  std::memcpy(vk.key_.data(), bytes.data(), kVerifyKeyBytes);
  return vk;
}

SigningKey SigningKey::Generate() {
  EnsureSodium();
  VerifyKey vk;
  SecretBytes sk(crypto_sign_SECRETKEYBYTES);
  crypto_sign_keypair(U8(vk.key_.data()), U8(sk.data()));
  return SigningKey(vk, std::move(sk));
}

Result<SigningKey> SigningKey::FromSeed(const SecretBytes& seed) {
  if (seed.size() != kSigningSeedBytes) {
    return Status::InvalidArgument("an Ed25519 seed must be 32 bytes");
  }
  EnsureSodium();
  VerifyKey vk;
  SecretBytes sk(crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair(U8(vk.key_.data()), U8(sk.data()), U8(seed.data()));
  return SigningKey(vk, std::move(sk));
}

SecretBytes SigningKey::Seed() const {
  SecretBytes seed(kSigningSeedBytes);
  crypto_sign_ed25519_sk_to_seed(
      U8(seed.data()), KeyBytes(secret_key_, crypto_sign_SECRETKEYBYTES));
  return seed;
}

Signature SigningKey::Sign(ByteView message) const {
  Signature sig;
  crypto_sign_detached(U8(sig.data()), nullptr, U8(message.data()),
                       message.size(),
                       KeyBytes(secret_key_, crypto_sign_SECRETKEYBYTES));
  return sig;
}

Status Verify(const VerifyKey& key, ByteView message, ByteView signature) {
  EnsureSodium();
  if (signature.size() != kSignatureBytes ||
      crypto_sign_verify_detached(U8(signature.data()), U8(message.data()),
                                  message.size(),
                                  U8(key.bytes().data())) != 0) {
    return Status::Corruption("signature verification failed");
  }
  return Status::OK();
}

}  // namespace chatvault::crypto
