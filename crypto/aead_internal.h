// Internal to crypto/ and its tests: sealing with a caller-chosen nonce, for
// known-answer tests. Production code must use AeadSeal, which draws a random
// nonce; reusing a nonce under one key breaks confidentiality.
#ifndef CHATVAULT_CRYPTO_AEAD_INTERNAL_H_
#define CHATVAULT_CRYPTO_AEAD_INTERNAL_H_

#include "crypto/aead.h"

namespace chatvault::crypto::internal {

// REQUIRES: nonce.size() == kAeadNonceBytes.
Bytes AeadSealWithNonce(const AeadKey& key, ByteView nonce, ByteView plaintext,
                        ByteView associated_data);

}  // namespace chatvault::crypto::internal

#endif  // CHATVAULT_CRYPTO_AEAD_INTERNAL_H_
