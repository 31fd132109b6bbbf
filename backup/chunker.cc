#include "backup/chunker.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <cmath>
#include <cstring>
#include <string>

namespace chatvault::backup {
namespace {

// MASKS[k] has exactly k one-bits, spread over the upper bytes as in
// destor's g_condition_mask and fastcdc-rs (indices 0-4 unused).
constexpr uint64_t kMasks[26] = {
    0,
    0,
    0,
    0,
    0,
    0x0000000001804110,
    0x0000000001803110,
    0x0000000018035100,
    0x0000001800035300,
    0x0000019000353000,
    0x0000590003530000,
    0x0000d90003530000,
    0x0000d90103530000,
    0x0000d90303530000,
    0x0000d90313530000,
    0x0000d90f03530000,
    0x0000d90303537000,
    0x0000d90703537000,
    0x0000d90707537000,
    0x0000d91707537000,
    0x0000d91747537000,
    0x0000d91767537000,
    0x0000d93767537000,
    0x0000d93777537000,
    0x0000d93777577000,
    0x0000db3777577000,
};

GearTable MakeStandard() {
  // Computed rather than pasted: 256 constants copied by hand are easy to
  // get wrong; the vector test compares against the published table.
  GearTable t = GearTable::Seeded(0);
  return t;
}

}  // namespace

void GearTable::FillShifted() {
  for (size_t i = 0; i < 256; ++i) gear_ls_[i] = gear_[i] << 1;
}

GearTable GearTable::Seeded(uint64_t seed) {
  GearTable t;
  for (int i = 0; i < 256; ++i) {
    unsigned char input[64];
    std::memset(input, i, sizeof(input));
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(input, sizeof(input), digest, &len, EVP_md5(), nullptr);
    uint64_t v = 0;
    for (int b = 0; b < 8; ++b) v = v << 8 | digest[b];
    t.gear_[i] = v;
  }
  // fastcdc-rs seeds both tables: GEAR ^= seed, GEAR_LS ^= seed << 1, which
  // keeps GEAR_LS == GEAR << 1.
  for (uint64_t& g : t.gear_) g ^= seed;
  t.FillShifted();
  return t;
}

const GearTable& GearTable::Standard() {
  static const GearTable table = MakeStandard();
  return table;
}

Result<GearTable> GearTable::FromKey(const crypto::SecretBytes& key) {
  if (key.size() != crypto_stream_chacha20_ietf_KEYBYTES) {
    return Status::InvalidArgument("a gear-table key must be 32 bytes");
  }
  GearTable t;
  unsigned char nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
  unsigned char stream[256 * 8];
  crypto_stream_chacha20_ietf(
      stream, sizeof(stream), nonce,
      reinterpret_cast<const unsigned char*>(key.data()));
  for (size_t i = 0; i < 256; ++i) {
    uint64_t v = 0;
    for (int b = 7; b >= 0; --b)
      v = v << 8 | stream[8 * i + static_cast<size_t>(b)];
    t.gear_[i] = v;
  }
  sodium_memzero(stream, sizeof(stream));
  t.FillShifted();
  return t;
}

Result<Chunker> Chunker::Create(const ChunkerParams& p, const GearTable& gear) {
  if (p.min_size < 64 || p.min_size > p.avg_size || p.avg_size > p.max_size ||
      p.max_size > (1u << 30)) {
    return Status::InvalidArgument(
        "chunk sizes must satisfy 64 <= min <= avg <= max <= 1 GiB; got " +
        std::to_string(p.min_size) + "/" + std::to_string(p.avg_size) + "/" +
        std::to_string(p.max_size));
  }
  // fastcdc-rs 4.0.1: bits = round(log2(avg)).
  const int bits = static_cast<int>(std::lround(std::log2(p.avg_size)));
  const int s = bits + p.normalization;
  const int l = bits - p.normalization;
  if (p.normalization < 0 || p.normalization > 3 || l < 5 || s > 25) {
    return Status::InvalidArgument(
        "chunker normalisation level must be 0..3 and fit the average size");
  }
  return Chunker(p, gear, kMasks[s], kMasks[l]);
}

// fastcdc-rs v2020 cut_gear_arr: bytes [0, min) are skipped, then two bytes
// per step, the first through the pre-shifted table.
Chunker::Cut Chunker::FindCut(ByteView data) const {
  size_t remaining = data.size();
  if (remaining <= params_.min_size) return {remaining, 0};
  size_t center = params_.avg_size;
  if (remaining > params_.max_size) {
    remaining = params_.max_size;
  } else if (remaining < center) {
    center = remaining;
  }
  const auto* src = reinterpret_cast<const uint8_t*>(data.data());
  const uint64_t mask_s_ls = mask_s_ << 1;
  const uint64_t mask_l_ls = mask_l_ << 1;
  size_t i = params_.min_size / 2;
  const size_t limit1 = center / 2;
  const size_t limit2 = remaining / 2;
  uint64_t hash = 0;
  for (; i < limit1; ++i) {
    const size_t a = 2 * i;
    hash = (hash << 2) + gear_->gear_ls(src[a]);
    if ((hash & mask_s_ls) == 0) return {a, hash};
    hash += gear_->gear(src[a + 1]);
    if ((hash & mask_s_) == 0) return {a + 1, hash};
  }
  for (; i < limit2; ++i) {
    const size_t a = 2 * i;
    hash = (hash << 2) + gear_->gear_ls(src[a]);
    if ((hash & mask_l_ls) == 0) return {a, hash};
    hash += gear_->gear(src[a + 1]);
    if ((hash & mask_l_) == 0) return {a + 1, hash};
  }
  return {remaining, hash};
}

void Chunker::ForEachChunk(
    ByteView data, const std::function<void(size_t, ByteView)>& fn) const {
  size_t offset = 0;
  while (offset < data.size()) {
    Cut cut = FindCut(data.subspan(offset));
    fn(offset, data.subspan(offset, cut.length));
    offset += cut.length;
  }
}

}  // namespace chatvault::backup
