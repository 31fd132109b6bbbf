#include "crypto/box.h"

#include <sodium.h>

#include <cstring>

#include "crypto/sodium.h"

namespace chatvault::crypto {
namespace {

static_assert(kBoxPublicKeyBytes == crypto_box_PUBLICKEYBYTES);
static_assert(kBoxSecretKeyBytes == crypto_box_SECRETKEYBYTES);
static_assert(kBoxSeedBytes == crypto_box_SEEDBYTES);
static_assert(kSealedBoxOverheadBytes == crypto_box_SEALBYTES);
static_assert(crypto_scalarmult_BYTES == 32 &&
              crypto_scalarmult_SCALARBYTES == 32);

}  // namespace

Result<BoxPublicKey> BoxPublicKey::FromBytes(ByteView bytes) {
  if (bytes.size() != kBoxPublicKeyBytes) {
    return Status::InvalidArgument("an X25519 public key must be 32 bytes");
  }
  BoxPublicKey pk;
  std::memcpy(pk.key_.data(), bytes.data(), kBoxPublicKeyBytes);
  return pk;
}

BoxKeyPair BoxKeyPair::Generate() {
  EnsureSodium();
  BoxPublicKey pk;
  SecretBytes sk(kBoxSecretKeyBytes);
  crypto_box_keypair(U8(pk.key_.data()), U8(sk.data()));
  return BoxKeyPair(pk, std::move(sk));
}

Result<BoxKeyPair> BoxKeyPair::FromSeed(const SecretBytes& seed) {
  if (seed.size() != kBoxSeedBytes) {
    return Status::InvalidArgument("an X25519 seed must be 32 bytes");
  }
  EnsureSodium();
  BoxPublicKey pk;
  SecretBytes sk(kBoxSecretKeyBytes);
  crypto_box_seed_keypair(U8(pk.key_.data()), U8(sk.data()), U8(seed.data()));
  return BoxKeyPair(pk, std::move(sk));
}

Result<BoxKeyPair> BoxKeyPair::FromSecretKey(SecretBytes secret_key) {
  if (secret_key.size() != kBoxSecretKeyBytes) {
    return Status::InvalidArgument("an X25519 secret key must be 32 bytes");
  }
  EnsureSodium();
  BoxPublicKey pk;
  crypto_scalarmult_base(U8(pk.key_.data()),
                         KeyBytes(secret_key, kBoxSecretKeyBytes));
  return BoxKeyPair(pk, std::move(secret_key));
}

Result<Bytes> SealedBoxSeal(const BoxPublicKey& recipient, ByteView plaintext) {
  EnsureSodium();
  Bytes out(kSealedBoxOverheadBytes + plaintext.size());
  if (crypto_box_seal(U8(out.data()), U8(plaintext.data()), plaintext.size(),
                      U8(recipient.bytes().data())) != 0) {
    return Status::InvalidArgument(
        "cannot seal to this X25519 public key: it is a low-order point");
  }
  return out;
}

Result<SecretBytes> SealedBoxOpen(const BoxKeyPair& recipient,
                                  ByteView sealed) {
  if (sealed.size() < kSealedBoxOverheadBytes) {
    return Status::Corruption("sealed box is truncated");
  }
  EnsureSodium();
  SecretBytes out(sealed.size() - kSealedBoxOverheadBytes);
  if (crypto_box_seal_open(
          U8(out.data()), U8(sealed.data()), sealed.size(),
          U8(recipient.public_key().bytes().data()),
          KeyBytes(recipient.secret_key(), kBoxSecretKeyBytes)) != 0) {
    return Status::Corruption(
        "cannot open sealed box: it is addressed to another key or was "
        "damaged");
  }
  return out;
}

Result<SecretBytes> X25519(const SecretBytes& secret_key,
                           const BoxPublicKey& peer) {
  if (secret_key.size() != kBoxSecretKeyBytes) {
    return Status::InvalidArgument("an X25519 secret key must be 32 bytes");
  }
  EnsureSodium();
  SecretBytes shared(crypto_scalarmult_BYTES);
  if (crypto_scalarmult(U8(shared.data()),
                        KeyBytes(secret_key, kBoxSecretKeyBytes),
                        U8(peer.bytes().data())) != 0) {
    return Status::InvalidArgument(
        "X25519 peer key is a low-order point; refusing it");
  }
  return shared;
}

}  // namespace chatvault::crypto
