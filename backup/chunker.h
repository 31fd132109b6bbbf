// Content-defined chunking: FastCDC 2020 (Xia et al., "The Design of Fast
// Content-Defined Chunking for Data Deduplication Based Storage Systems",
// IEEE TPDS 2020) with normalised chunking and two-bytes-per-step rolling.
//
// Boundaries depend only on content, so an insertion shifts boundaries only
// near it and the rest of a file deduplicates against earlier versions.
// Repositories chunk with a gear table derived from their id key
// (GearTable::FromKey), so that chunk sizes reveal nothing about content to
// anyone without the key. The unkeyed table reproduces fastcdc-rs and the
// Bazel Remote Execution API vectors exactly (tests/fastcdc_vectors_test.cc),
// which pins the algorithm.
//
// Thread-safety: GearTable and Chunker are immutable after construction and
// may be shared across threads.
#ifndef CHATVAULT_BACKUP_CHUNKER_H_
#define CHATVAULT_BACKUP_CHUNKER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace chatvault::backup {

class GearTable {
 public:
  // The published FastCDC table: GEAR[i] = the first 8 bytes, big-endian,
  // of MD5 of 64 bytes each equal to i.
  static const GearTable& Standard();
  // The standard table with fastcdc-rs's seed applied (GEAR[i] ^= seed),
  // for its and Bazel's seeded vectors.
  static GearTable Seeded(uint64_t seed);
  // A secret table: the ChaCha20 keystream of `key` (32 bytes; for
  // repositories, DeriveSubkey(id key, kKdfChunkerGear)) as 256
  // little-endian u64. InvalidArgument on another key size.
  static Result<GearTable> FromKey(const crypto::SecretBytes& key);

  uint64_t gear(uint8_t b) const { return gear_[b]; }
  uint64_t gear_ls(uint8_t b) const { return gear_ls_[b]; }

 private:
  GearTable() = default;
  void FillShifted();
  std::array<uint64_t, 256> gear_{};
  std::array<uint64_t, 256> gear_ls_{};  // gear << 1
};

struct ChunkerParams {
  uint32_t min_size = 0;
  uint32_t avg_size = 0;  // need not be a power of two; rounded in log2
  uint32_t max_size = 0;
  // Normalised chunking level 0..3: how strongly sizes are pulled towards
  // the average (harder cut condition before it, easier after it).
  int normalization = 1;
};

class Chunker {
 public:
  // InvalidArgument unless 64 <= min <= avg <= max <= 1 GiB and the
  // normalisation level fits the average's mask range.
  static Result<Chunker> Create(const ChunkerParams& params,
                                const GearTable& gear);

  struct Cut {
    size_t length;  // the next chunk's length
    uint64_t hash;  // the gear hash at the cut (for tests and diagnostics)
  };

  // The next chunk at the start of `data`, which holds the rest of the
  // stream (or at least max_size bytes of it). Returns all of `data` when
  // it is no longer than min_size. Otherwise min_size <= length <=
  // min(max_size, data.size()).
  Cut FindCut(ByteView data) const;

  // Calls `fn(offset, chunk)` for every chunk of `data`, in order.
  void ForEachChunk(ByteView data,
                    const std::function<void(size_t, ByteView)>& fn) const;

  const ChunkerParams& params() const { return params_; }

 private:
  Chunker(const ChunkerParams& params, const GearTable& gear, uint64_t mask_s,
          uint64_t mask_l)
      : params_(params), gear_(&gear), mask_s_(mask_s), mask_l_(mask_l) {}

  ChunkerParams params_;
  const GearTable* gear_;
  uint64_t mask_s_;  // before the average: more one-bits, rarer cuts
  uint64_t mask_l_;  // after the average: fewer one-bits, likelier cuts
};

}  // namespace chatvault::backup

#endif  // CHATVAULT_BACKUP_CHUNKER_H_
