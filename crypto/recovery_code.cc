#include "crypto/recovery_code.h"

#include <sodium.h>

#include <array>
#include <cstdint>
#include <string>

#include "crypto/sodium.h"

namespace chatvault::crypto {
namespace {

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr size_t kDataChars = 52;  // ceil(256 / 5)
constexpr size_t kHashChars = 6;   // 30 bits
constexpr size_t kCheckChars = 6;  // bech32 BCH
constexpr size_t kBodyChars = kDataChars + kHashChars;
static_assert(kBodyChars + kCheckChars == kRecoveryCodeChars);

// Mixed into the checksum like a bech32 human-readable part, so that a code
// from another format cannot pass for ours.
constexpr std::string_view kChecksumDomain = "chatvault-recovery-v1";
constexpr std::string_view kHashDomain = "chatvault/v1/recovery-code/hash";

// BIP 173's generator; guarantees detection of up to 4 errors for strings of
// up to 89 characters.
uint32_t Polymod(const uint8_t* values, size_t n, uint32_t chk) {
  static constexpr uint32_t kGen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa,
                                       0x3d4233dd, 0x2a1462b3};
  for (size_t i = 0; i < n; ++i) {
    uint32_t top = chk >> 25;
    chk = (chk & 0x1ffffff) << 5 ^ values[i];
    for (int j = 0; j < 5; ++j) {
      if ((top >> j) & 1) chk ^= kGen[j];
    }
  }
  return chk;
}

uint32_t DomainPolymod() {
  std::string expanded;
  for (char c : kChecksumDomain) expanded.push_back(static_cast<char>(c >> 5));
  expanded.push_back(0);
  for (char c : kChecksumDomain) expanded.push_back(static_cast<char>(c & 31));
  return Polymod(reinterpret_cast<const uint8_t*>(expanded.data()),
                 expanded.size(), 1);
}

// Computes the 6 check values for `body` (kBodyChars 5-bit values).
void ComputeCheck(const uint8_t* body, uint8_t* check) {
  const uint8_t zeros[kCheckChars] = {};
  uint32_t chk = Polymod(body, kBodyChars, DomainPolymod());
  chk = Polymod(zeros, kCheckChars, chk) ^ 1;
  for (size_t i = 0; i < kCheckChars; ++i) {
    check[i] = (chk >> (5 * (kCheckChars - 1 - i))) & 31;
  }
}

// The 30-bit hash of the seed as 6 five-bit values.
void ComputeHash(const SecretBytes& seed, uint8_t* out) {
  EnsureSodium();
  unsigned char digest[32];
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, sizeof(digest));
  crypto_generichash_update(
      &st, reinterpret_cast<const unsigned char*>(kHashDomain.data()),
      kHashDomain.size());
  crypto_generichash_update(
      &st, reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  crypto_generichash_final(&st, digest, sizeof(digest));
  uint32_t bits = uint32_t{digest[0]} << 22 | uint32_t{digest[1]} << 14 |
                  uint32_t{digest[2]} << 6 | uint32_t{digest[3]} >> 2;
  for (size_t i = 0; i < kHashChars; ++i) {
    out[i] = (bits >> (5 * (kHashChars - 1 - i))) & 31;
  }
  sodium_memzero(digest, sizeof(digest));
  sodium_memzero(&st, sizeof(st));
}

// 5-bit value of a character (either case; O read as 0, I and L as 1), or
// -1. A table rather than a search, so that the time taken does not depend
// on which character of the code is being read.
constexpr std::array<int8_t, 256> kValues = [] {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    auto c = static_cast<unsigned char>(kAlphabet[i]);
    t[c] = static_cast<int8_t>(i);
    if (c >= 'A' && c <= 'Z') t[c - 'A' + 'a'] = static_cast<int8_t>(i);
  }
  t['O'] = t['o'] = 0;
  t['I'] = t['i'] = t['L'] = t['l'] = 1;
  return t;
}();

int ValueOf(char c) { return kValues[static_cast<unsigned char>(c)]; }

Status ChecksumMismatch() {
  return Status::InvalidArgument(
      "the recovery code's checksum does not match: a character is mistyped "
      "or two characters are swapped; compare it with your copy character by "
      "character");
}

}  // namespace

RecoveryCode RecoveryCode::Generate() {
  return RecoveryCode(SecretBytes::Random(kRecoverySeedBytes));
}

Result<RecoveryCode> RecoveryCode::FromSeed(SecretBytes seed) {
  if (seed.size() != kRecoverySeedBytes) {
    return Status::InvalidArgument("a recovery seed must be 32 bytes");
  }
  return RecoveryCode(std::move(seed));
}

SecretBytes RecoveryCode::Format() const {
  // Scratch space for the 5-bit values; it holds the seed, so it is secret.
  SecretBytes scratch(kRecoveryCodeChars);
  auto* v = reinterpret_cast<uint8_t*>(scratch.data());
  const auto* seed = reinterpret_cast<const uint8_t*>(seed_.data());
  for (size_t i = 0; i < kDataChars; ++i) {
    uint32_t value = 0;
    for (size_t b = 0; b < 5; ++b) {
      size_t bit = i * 5 + b;
      uint32_t set = bit < 256 ? (seed[bit / 8] >> (7 - bit % 8)) & 1 : 0;
      value = value << 1 | set;
    }
    v[i] = static_cast<uint8_t>(value);
  }
  ComputeHash(seed_, v + kDataChars);
  ComputeCheck(v, v + kBodyChars);

  constexpr size_t kGroups = kRecoveryCodeChars / 4;
  SecretBytes out(kRecoveryCodeChars + kGroups - 1);
  auto* o = reinterpret_cast<char*>(out.data());
  size_t k = 0;
  for (size_t i = 0; i < kRecoveryCodeChars; ++i) {
    if (i > 0 && i % 4 == 0) o[k++] = '-';
    o[k++] = kAlphabet[v[i]];
  }
  return out;
}

Result<RecoveryCode> RecoveryCode::Parse(std::string_view text) {
  SecretBytes scratch(kRecoveryCodeChars);
  auto* v = reinterpret_cast<uint8_t*>(scratch.data());
  size_t n = 0;
  for (size_t pos = 0; pos < text.size(); ++pos) {
    char c = text[pos];
    if (c == ' ' || c == '-' || c == '\t' || c == '\n' || c == '\r') continue;
    int value = ValueOf(c);
    if (value < 0) {
      return Status::InvalidArgument(
          "the recovery code has a character that recovery codes never "
          "contain at character " +
          std::to_string(n + 1) +
          " (codes use 0-9 and A-Z except I, L, O and U)");
    }
    if (n == kRecoveryCodeChars) {
      n++;
      break;
    }
    v[n++] = static_cast<uint8_t>(value);
  }
  if (n != kRecoveryCodeChars) {
    return Status::InvalidArgument(
        "a recovery code has 64 characters (16 groups of 4); this one has " +
        (n > kRecoveryCodeChars ? std::string("more than 64")
                                : std::to_string(n)));
  }
  uint8_t check[kCheckChars];
  ComputeCheck(v, check);
  const bool check_ok = sodium_memcmp(check, v + kBodyChars, kCheckChars) == 0;
  sodium_memzero(check, sizeof(check));
  if (!check_ok) return ChecksumMismatch();
  // Padding bits of the last data character carry no data and must be zero.
  if ((v[kDataChars - 1] & 0x0f) != 0) return ChecksumMismatch();

  SecretBytes seed(kRecoverySeedBytes);
  auto* s = reinterpret_cast<uint8_t*>(seed.data());
  for (size_t bit = 0; bit < 256; ++bit) {
    uint8_t value = v[bit / 5];
    if ((value >> (4 - bit % 5)) & 1) s[bit / 8] |= 1 << (7 - bit % 8);
  }
  uint8_t hash[kHashChars];
  ComputeHash(seed, hash);
  const bool hash_ok = sodium_memcmp(hash, v + kDataChars, kHashChars) == 0;
  sodium_memzero(hash, sizeof(hash));
  if (!hash_ok) return ChecksumMismatch();
  return RecoveryCode(std::move(seed));
}

}  // namespace chatvault::crypto
